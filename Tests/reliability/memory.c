/* Memory checks through the C API.
 *   memory cycles N     N load/create/step/free cycles; resident memory must stay flat
 *   memory figures      live heap bytes of a loaded model (float32 and int8 weights) and of a
 *                       session, per shape (make bench prints this table too)
 * malloc & co. are interposed to count live heap bytes (malloc_usable_size). */
#define _GNU_SOURCE
#include <recur.h>

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static long live = 0, peak = 0;
static void *track(void *p) {
    if (p) { live += (long)malloc_usable_size(p); if (live > peak) peak = live; }
    return p;
}
void *malloc(size_t n) { return track(__libc_malloc(n)); }
void *calloc(size_t a, size_t b) { return track(__libc_calloc(a, b)); }
void *realloc(void *p, size_t n) {
    if (p) live -= (long)malloc_usable_size(p);
    return track(__libc_realloc(p, n));
}
void *aligned_alloc(size_t al, size_t n) { return track(__libc_memalign(al, n)); }
void *memalign(size_t al, size_t n) { return track(__libc_memalign(al, n)); }
int posix_memalign(void **out, size_t al, size_t n) { *out = track(__libc_memalign(al, n)); return *out ? 0 : 12; }
void free(void *p) { if (p) live -= (long)malloc_usable_size(p); __libc_free(p); }

static long rss_kb(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) { if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0; fclose(f); }
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static recur_model *make_dtype(uint32_t I, uint32_t H, uint32_t O, uint32_t L, int32_t dtype, size_t *np) {
    uint32_t sizes[4] = {H, H, H, H};
    recur_model_config c;
    recur_model_config_init(&c, sizeof c);
    c.input_size = I; c.num_layers = L; c.layer_sizes = sizes; c.output_size = O;
    c.weight_dtype = dtype;
    recur_model_config_num_params(&c, np);
    float *p = __libc_calloc(*np, sizeof(float));
    uint64_t st = 12345;
    for (size_t i = 0; i < *np; i++) {
        st = st * 6364136223846793005ULL + 1442695040888963407ULL;
        p[i] = (float)((st >> 40) & 0xFFFFFF) / 167772160.0f - 0.05f; /* uniform in [-0.05, 0.05) */
    }
    recur_model *m = NULL;
    if (recur_model_create(&c, p, *np, &m)) { fprintf(stderr, "%s\n", recur_last_error_message()); exit(1); }
    __libc_free(p);
    return m;
}

static recur_model *make(uint32_t I, uint32_t H, uint32_t O, uint32_t L, size_t *np) {
    return make_dtype(I, H, O, L, RECUR_DTYPE_F32, np);
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "cycles")) {
        long n = atol(argv[2]);
        size_t np = 0;
        recur_model *seed = make(12, 64, 9, 1, &np);
        size_t len = 0;
        recur_model_save_memory(seed, NULL, NULL, 0, &len);
        unsigned char *bytes = __libc_malloc(len);
        recur_model_save_memory(seed, NULL, bytes, len, &len);
        float x[12] = {0.5f}, y[9];
        long rss_warm = 0, live_warm = 0;
        for (long i = 0; i < n; i++) {
            recur_model *m = NULL, *c = NULL;
            recur_session *s = NULL, *b = NULL;
            if (recur_model_load_memory(bytes, len, NULL, &m) || recur_session_create(m, &s) ||
                recur_session_create_batch(m, 4, &b) || recur_session_step(s, x, 12, y, 9)) {
                fprintf(stderr, "cycle %ld: %s\n", i, recur_last_error_message());
                return 1;
            }
            size_t np2 = 0;
            c = make(12, 16, 3, 1, &np2);
            recur_model *bad = NULL;
            recur_model_load_memory(bytes, len / 2, NULL, &bad); /* an error path too */
            recur_session_free(s);
            recur_session_free(b);
            recur_model_free(m);
            recur_model_free(c);
            if (i + 1 == n / 10) { rss_warm = rss_kb(); live_warm = live; }
        }
        long rss_end = rss_kb();
        printf("%ld load/create/step/free cycles: RSS %ld KB after %ld cycles, %ld KB at the end (%+ld KB); "
               "live heap %ld -> %ld bytes\n", n, rss_warm, n / 10, rss_end, rss_end - rss_warm, live_warm, live);
        recur_model_free(seed);
        __libc_free(bytes);
        int ok = rss_end - rss_warm < 1024 && live - live_warm <= 0;
        printf("%d passed, %d failed\n", ok, !ok);
        return !ok;
    }
    if (argc >= 2 && !strcmp(argv[1], "figures")) {
        const uint32_t shapes[4][4] = {{10, 20, 5, 1}, {64, 256, 10, 1}, {128, 512, 10, 2}, {256, 1024, 32, 1}};
        printf("| shape (I,H,O,L) | parameters | model heap bytes | bytes / parameter | peak during load (from memory) | session heap bytes | batch-64 session bytes | packed weights (first batch of >= 4 streams, AVX2) | int8 model bytes / parameter |\n");
        printf("|---|---|---|---|---|---|---|---|---|\n");
        for (int k = 0; k < 4; k++) {
            size_t np = 0;
            long l0 = live;
            recur_model *m = make(shapes[k][0], shapes[k][1], shapes[k][2], shapes[k][3], &np);
            long lm = live - l0;
            size_t len = 0;
            recur_model_save_memory(m, NULL, NULL, 0, &len);
            unsigned char *bytes = __libc_malloc(len);
            recur_model_save_memory(m, NULL, bytes, len, &len);
            recur_model *again = NULL;
            long base = live;
            peak = live;
            if (recur_model_load_memory(bytes, len, NULL, &again)) {
                fprintf(stderr, "load: %s\n", recur_last_error_message());
                return 1;
            }
            long lpeak = peak - base;
            recur_model_free(again);
            __libc_free(bytes);
            recur_session *s = NULL, *b = NULL, *b2 = NULL;
            long l1 = live;
            recur_session_create(m, &s);
            long ls = live - l1;
            /* The first batched session makes the model pack its layer weights once (AVX2
             * kernels); the second shows the session alone. */
            l1 = live;
            recur_session_create_batch(m, 64, &b);
            long lbfirst = live - l1;
            l1 = live;
            recur_session_create_batch(m, 64, &b2);
            long lb = live - l1;
            size_t np8 = 0;
            long l8 = live;
            recur_model *m8 = make_dtype(shapes[k][0], shapes[k][1], shapes[k][2], shapes[k][3], RECUR_DTYPE_I8, &np8);
            long lm8 = live - l8;
            recur_model_free(m8);
            printf("| %u,%u,%u,%u | %zu | %ld | %.2f | %ld (%.1f B/param) | %ld | %ld | %ld | %.2f |\n", shapes[k][0],
                   shapes[k][1], shapes[k][2], shapes[k][3], np, lm, (double)lm / np, lpeak, (double)lpeak / np, ls, lb,
                   lbfirst - lb, (double)lm8 / np8);
            recur_session_free(s);
            recur_session_free(b);
            recur_session_free(b2);
            recur_model_free(m);
        }
        return 0;
    }
    fprintf(stderr, "usage: memory cycles N | memory figures\n");
    return 2;
}
