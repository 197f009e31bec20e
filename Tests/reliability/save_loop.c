/* Helper for the kill-during-save test: saves model A and model B alternately over the same
 * path, forever, until killed. Prints "ready" once both are built. */
#include <recur.h>
#include <stdio.h>
#include <stdlib.h>

static recur_model *make(float scale) {
    uint32_t sizes[1] = {256};
    recur_model_config c;
    recur_model_config_init(&c, sizeof c);
    c.input_size = 64; c.num_layers = 1; c.layer_sizes = sizes; c.output_size = 10;
    size_t n = 0;
    recur_model_config_num_params(&c, &n);
    float *p = malloc(n * sizeof(float));
    uint64_t s = (uint64_t)(scale * 1000);
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        p[i] = scale * ((float)((s >> 40) & 0xFFFFFF) / 16777216.0f - 0.5f);
    }
    recur_model *m = NULL;
    if (recur_model_create(&c, p, n, &m)) { fprintf(stderr, "%s\n", recur_last_error_message()); exit(1); }
    free(p);
    return m;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    recur_model *a = make(0.1f), *b = make(0.2f);
    printf("ready\n");
    fflush(stdout);
    for (unsigned long i = 0;; i++) {
        recur_status st = recur_model_save(i % 2 ? b : a, argv[1], NULL);
        if (st) { fprintf(stderr, "save failed: %s\n", recur_last_error_message()); return 1; }
    }
}
