/* Checks that stepping allocates nothing: malloc & co. are interposed by this executable
 * (librecur's calls resolve to these definitions) and counted while sessions step. */
#define _GNU_SOURCE
#include <recur.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static volatile long allocations = 0;
void *malloc(size_t n) { allocations++; return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { allocations++; return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { allocations++; return __libc_realloc(p, n); }
void *aligned_alloc(size_t al, size_t n) { allocations++; return __libc_memalign(al, n); }
void *memalign(size_t al, size_t n) { allocations++; return __libc_memalign(al, n); }
int posix_memalign(void **out, size_t al, size_t n) {
    allocations++;
    *out = __libc_memalign(al, n);
    return *out ? 0 : 12;
}
void free(void *p) { __libc_free(p); }

/* A gated stack (GRU 64 over an LSTM of 32 units projected to 16, or one GRU of `big` units)
 * from deterministic weights, float32 or int8. */
static recur_model *gated(int32_t dtype, uint32_t big) {
    uint32_t sizes[2] = {64, 32}, proj[2] = {0, 16};
    int32_t kinds[2] = {RECUR_LAYER_GRU, RECUR_LAYER_LSTM};
    recur_model_config c;
    recur_model_config_init(&c, sizeof c);
    c.input_size = 12;
    c.num_layers = big ? 1 : 2;
    if (big) sizes[0] = big;
    c.layer_sizes = sizes;
    c.layer_kinds = kinds;
    c.proj_sizes = proj;
    c.output_size = 7;
    c.weight_dtype = dtype;
    size_t n = 0;
    if (recur_model_config_num_params(&c, &n)) return NULL;
    float *p = (float *)__libc_calloc(n, sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = (float)((i * 37) % 101) / 1000.0f - 0.05f;
    recur_model *m = NULL;
    if (recur_model_create(&c, p, n, &m)) m = NULL;
    __libc_free(p);
    return m;
}

int main(void) {
    uint32_t sizes[3] = {64, 32, 16};
    int32_t acts[3] = {RECUR_ACT_TANH, RECUR_ACT_RELU, RECUR_ACT_SIGMOID};
    recur_model_config c;
    recur_model_config_init(&c, sizeof c);
    c.input_size = 12;
    c.num_layers = 3;
    c.layer_sizes = sizes;
    c.activations = acts;
    c.output_size = 7;
    c.output_transform = RECUR_OUTPUT_SOFTMAX;
    size_t n = 0;
    recur_model_config_num_params(&c, &n);
    float *p = (float *)__libc_calloc(n, sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = (float)((i * 37) % 101) / 500.0f - 0.1f;
    recur_model *m = NULL, *mq = NULL;
    recur_session *s = NULL, *b = NULL, *sq = NULL, *bq = NULL, *st = NULL, *bt = NULL;
    if (recur_model_create(&c, p, n, &m) || recur_session_create(m, &s) || recur_session_create_batch(m, 8, &b)) {
        fprintf(stderr, "setup failed: %s\n", recur_last_error_message());
        return 1;
    }
    /* the same network with int8 weights; a 12-512-7 network (large enough for the thread
     * pool to split its products) stepped by a session on 2 threads */
    c.weight_dtype = RECUR_DTYPE_I8;
    uint32_t big = 512;
    recur_model_config cb;
    recur_model_config_init(&cb, sizeof cb);
    cb.input_size = 12;
    cb.num_layers = 1;
    cb.layer_sizes = &big;
    cb.output_size = 7;
    size_t nb = 0;
    recur_model_config_num_params(&cb, &nb);
    float *pb = (float *)__libc_calloc(nb, sizeof(float));
    for (size_t i = 0; i < nb; i++) pb[i] = (float)((i * 37) % 101) / 2000.0f - 0.025f;
    recur_model *mb = NULL;
    if (recur_model_create(&c, p, n, &mq) || recur_session_create(mq, &sq) || recur_session_create_batch(mq, 8, &bq) ||
        recur_model_create(&cb, pb, nb, &mb) || recur_session_create(mb, &st) || recur_session_set_threads(st, 2) ||
        recur_session_create_batch(mb, 64, &bt) || recur_session_set_threads(bt, 2)) {
        fprintf(stderr, "setup failed: %s\n", recur_last_error_message());
        return 1;
    }
    /* The same for gated layers: f32 and int8, one stream and a batch of 8 (the packed kernel),
     * and a GRU-256 (products past the pool's threshold) on 2 threads, alone and batched. */
    recur_model *mg = gated(RECUR_DTYPE_F32, 0), *mg8 = gated(RECUR_DTYPE_I8, 0), *mgb = gated(RECUR_DTYPE_F32, 256);
    recur_session *g = NULL, *gb = NULL, *g8 = NULL, *gb8 = NULL, *gt = NULL, *gbt = NULL;
    if (!mg || !mg8 || !mgb || recur_session_create(mg, &g) || recur_session_create_batch(mg, 8, &gb) ||
        recur_session_create(mg8, &g8) || recur_session_create_batch(mg8, 8, &gb8) || recur_session_create(mgb, &gt) ||
        recur_session_set_threads(gt, 2) || recur_session_create_batch(mgb, 16, &gbt) || recur_session_set_threads(gbt, 2)) {
        fprintf(stderr, "gated setup failed: %s\n", recur_last_error_message());
        return 1;
    }
    static float x[64 * 12 * 4], y[64 * 7 * 4];
    for (int i = 0; i < 64 * 12 * 4; i++) x[i] = (float)(i % 13) / 13.0f;
    /* warm up (lazy runtime initialisation may allocate once) */
    recur_session_step(s, x, 12, y, 7);
    recur_session_step(b, x, 96, y, 56);
    recur_session_step(sq, x, 12, y, 7);
    recur_session_step(bq, x, 96, y, 56);
    recur_session_step(st, x, 12, y, 7);
    recur_session_step(bt, x, 64 * 12, y, 64 * 7);
    recur_session_step(g, x, 12, y, 7);
    recur_session_step(gb, x, 96, y, 56);
    recur_session_step(g8, x, 12, y, 7);
    recur_session_step(gb8, x, 96, y, 56);
    recur_session_step(gt, x, 12, y, 7);
    recur_session_step(gbt, x, 16 * 12, y, 16 * 7);
    long before = allocations;
    int bad = 0;
    for (int t = 0; t < 10000; t++) {
        bad |= recur_session_step(s, x, 12, y, 7);
        bad |= recur_session_step(s, x, 12, NULL, 0);
        bad |= recur_session_step(b, x, 96, y, 56);
        bad |= recur_session_run(s, x, 48, 4, y, 28);
        bad |= recur_session_run(b, x, 384, 4, y, 56);
        bad |= recur_session_reset_stream(b, 3);
        bad |= recur_session_step(sq, x, 12, y, 7);
        bad |= recur_session_step(bq, x, 96, y, 56);
        bad |= recur_session_run(sq, x, 48, 4, y, 28);
        bad |= recur_session_step(st, x, 12, y, 7);
        if (t % 10 == 0) bad |= recur_session_step(bt, x, 64 * 12, y, 64 * 7);
        bad |= recur_session_step(g, x, 12, y, 7);
        bad |= recur_session_run(g, x, 48, 4, y, 28);
        bad |= recur_session_step(gb, x, 96, y, 56);
        bad |= recur_session_reset_stream(gb, 5);
        bad |= recur_session_step(g8, x, 12, y, 7);
        bad |= recur_session_step(gb8, x, 96, y, 56);
        if (t % 10 == 0) {
            bad |= recur_session_step(gt, x, 12, y, 7);
            bad |= recur_session_step(gbt, x, 16 * 12, y, 16 * 7);
        }
    }
    long during = allocations - before;
    printf("allocations during 163000 step/run calls (elman and gru/lstm stacks: f32, int8, batch, 2 threads, batch on 2 threads): %ld (status %d)\n", during, bad);
    /* The counter must see the library's allocations, or the check above proves nothing. */
    long c0 = allocations;
    recur_session *extra = NULL;
    recur_session_clone(s, &extra);
    recur_session_free(extra);
    long seen = allocations - c0;
    printf("allocations seen during one recur_session_clone: %ld (must be > 0)\n", seen);
    if (seen == 0) during = -1;
    recur_session_free(s);
    recur_session_free(b);
    recur_session_free(sq);
    recur_session_free(bq);
    recur_session_free(st);
    recur_session_free(bt);
    recur_model_free(m);
    recur_model_free(mq);
    recur_model_free(mb);
    recur_session_free(g);
    recur_session_free(gb);
    recur_session_free(g8);
    recur_session_free(gb8);
    recur_session_free(gt);
    recur_session_free(gbt);
    recur_model_free(mg);
    recur_model_free(mg8);
    recur_model_free(mgb);
    printf("%d passed, %d failed\n", during == 0 && bad == 0, !(during == 0 && bad == 0));
    return during == 0 && bad == 0 ? 0 : 1;
}
