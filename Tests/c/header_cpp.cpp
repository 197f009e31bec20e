// The header must compile cleanly as C++ (and link: recur_* are extern "C").
#include <recur.h>
#include <cstdio>

int main() {
    recur_load_options o;
    recur_load_options_init(&o, sizeof o);
    recur_model *m = nullptr;
    recur_status st = recur_model_load_memory("x", 1, &o, &m);
    std::printf("C++ client: %s -> %s\n", recur_version_string(), recur_status_string(st));
    return st == RECUR_E_TRUNCATED && m == nullptr ? 0 : 1;
}
