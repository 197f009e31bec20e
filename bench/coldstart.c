/* Cold-start child of misc_bench: load a 64-256-10 model, one step on x = 0.5, print y[0]
 * and the CLOCK_MONOTONIC time of that output. Built twice: with -DPLAIN it reads raw float32
 * parameters and steps with the plain-C reference (no librecur linked); otherwise it uses
 * recur_model_load + recur_session_step. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

#ifdef PLAIN
#include "ref_step.h"
int main(int argc, char **argv) {
    if (argc < 2) return 2;
    FILE *f = fopen(argv[1], "rb");
    if (!f) return 1;
    size_t n = 64 * 256 + 256 * 256 + 256 + 10 * 256 + 10;
    float *p = malloc(n * sizeof(float));
    if (!p || fread(p, sizeof(float), n, f) != n) return 1;
    fclose(f);
    ref_model r = {64, 256, 10, 1, {p}, {p + 64 * 256}, {p + 64 * 256 + 256 * 256}, {0}, 0, 0, 0};
    r.h[0] = calloc(256, sizeof(float));
    r.tmp = calloc(256, sizeof(float));
    r.Wo = p + 64 * 256 + 256 * 256 + 256;
    r.bo = r.Wo + 10 * 256;
    float x[64], y[10];
    for (int i = 0; i < 64; i++) x[i] = 0.5f;
    ref_step(&r, x, y);
    printf("%.9f %.9f\n", (double)y[0], now());
    return 0;
}
#else
#include <recur.h>
int main(int argc, char **argv) {
    if (argc < 2) return 2;
    recur_model *m = NULL;
    recur_session *s = NULL;
    if (recur_model_load(argv[1], NULL, &m) || recur_session_create(m, &s)) {
        fprintf(stderr, "%s\n", recur_last_error_message());
        return 1;
    }
    float x[64], y[10];
    for (int i = 0; i < 64; i++) x[i] = 0.5f;
    if (recur_session_step(s, x, 64, y, 10)) return 1;
    printf("%.9f %.9f\n", (double)y[0], now());
    return 0;
}
#endif
