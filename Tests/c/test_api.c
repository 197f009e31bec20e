/* C-side tests of librecur, compiled against the *installed* header and library.
 * Uses only include/recur.h (plus libc/libm/pthreads). Prints "N passed, M failed". */
#define _POSIX_C_SOURCE 200809L
#include <recur.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int passed = 0, failed = 0;

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (cond) {                                                                       \
            passed++;                                                                     \
        } else {                                                                          \
            failed++;                                                                     \
            fprintf(stderr, "FAIL %s:%d: %s (last error: %s)\n", __FILE__, __LINE__, #cond, \
                    recur_last_error_message());                                          \
        }                                                                                 \
    } while (0)

static uint64_t rng_state = 12345;
static float frand(float scale) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return scale * ((float)((rng_state >> 40) & 0xFFFFFF) / 8388608.0f - 1.0f);
}

/* Double-precision reference of the design document's FeedbackNet, 1 layer, tanh. */
typedef struct {
    int I, H, O;
    const float *p;
    double h[64];
} ref_net;

static void ref_step(ref_net *r, const float *x, double *y) {
    const float *W = r->p, *U = W + r->H * r->I, *b = U + r->H * r->H, *Wo = b + r->H, *bo = Wo + r->O * r->H;
    double nh[64];
    for (int i = 0; i < r->H; i++) {
        double s = b[i];
        for (int j = 0; j < r->I; j++) s += (double)W[i * r->I + j] * x[j];
        for (int j = 0; j < r->H; j++) s += (double)U[i * r->H + j] * r->h[j];
        nh[i] = tanh(s);
    }
    memcpy(r->h, nh, sizeof(double) * (size_t)r->H);
    for (int o = 0; o < r->O; o++) {
        double s = bo[o];
        for (int j = 0; j < r->H; j++) s += (double)Wo[o * r->H + j] * r->h[j];
        y[o] = s;
    }
}

static recur_model *make_model(float *params, size_t *n_params) {
    uint32_t sizes[1] = {20};
    const char *labels[5] = {"zero", "one", "two", "three", "four"};
    const char *keys[1] = {"source"};
    const char *values[1] = {"test_api.c"};
    recur_model_config cfg;
    recur_model_config_init(&cfg, sizeof cfg);
    cfg.input_size = 10;
    cfg.num_layers = 1;
    cfg.output_size = 5;
    cfg.layer_sizes = sizes;
    cfg.labels = labels;
    cfg.num_metadata = 1;
    cfg.metadata_keys = keys;
    cfg.metadata_values = values;
    size_t n = 0;
    CHECK(recur_model_config_num_params(&cfg, &n) == RECUR_OK);
    CHECK(n == 10 * 20 + 20 * 20 + 20 + 5 * 20 + 5);
    for (size_t i = 0; i < n; i++) params[i] = frand(0.3f);
    *n_params = n;
    recur_model *m = NULL;
    CHECK(recur_model_create(&cfg, params, n, &m) == RECUR_OK);
    return m;
}

/* --- threads: one shared model, a session per thread, results equal single-threaded --- */
typedef struct {
    recur_model *model;
    const float *xs;
    int steps;
    float out[5];
    int status;
} worker_arg;

static void *worker(void *p) {
    worker_arg *a = (worker_arg *)p;
    recur_session *s = NULL;
    a->status = recur_session_create(a->model, &s);
    for (int t = 0; t < a->steps && a->status == RECUR_OK; t++)
        a->status = recur_session_step(s, a->xs + (size_t)t * 10, 10, a->out, 5);
    recur_session_free(s);
    return NULL;
}

/* The last-error message is per thread: a failure on another thread leaves this thread's
 * message as it was (this fails if the buffer is a plain global). */
static void *fail_elsewhere(void *p) {
    recur_model *m = NULL;
    (void)recur_model_load("/nonexistent/from-the-other-thread.recur", NULL, &m);
    snprintf((char *)p, 256, "%s", recur_last_error_message());
    return NULL;
}

static void test_last_error_is_per_thread(void) {
    recur_model *m = NULL;
    CHECK(recur_model_load("/nonexistent/from-main.recur", NULL, &m) == RECUR_E_IO);
    CHECK(strstr(recur_last_error_message(), "from-main") != NULL);
    char theirs[256] = {0};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, fail_elsewhere, theirs) == 0);
    pthread_join(t, NULL);
    CHECK(strstr(theirs, "from-the-other-thread") != NULL);
    CHECK(strstr(recur_last_error_message(), "from-main") != NULL);
    CHECK(strstr(recur_last_error_message(), "other-thread") == NULL);
}

/* The append-only struct rule (include/recur.h, "ABI evolution"). */
static void test_kernels_name(void) {
    const char *k = recur_kernels();
    CHECK(k != NULL && (strcmp(k, "avx2+fma") == 0 || strcmp(k, "portable") == 0));
    const char *forced = getenv("RECUR_KERNELS");
    if (forced && strcmp(forced, "portable") == 0) CHECK(strcmp(k, "portable") == 0);
}

static void test_struct_sizes(void) {
    /* init: NULL, too small, too large. */
    recur_load_options o;
    CHECK(recur_load_options_init(NULL, sizeof o) == RECUR_E_NULL_POINTER);
    CHECK(recur_load_options_init(&o, RECUR_LOAD_OPTIONS_SIZE_V1 - 1) == RECUR_E_INVALID_ARGUMENT);
    CHECK(recur_load_options_init(&o, RECUR_STRUCT_SIZE_MAX + 1) == RECUR_E_INVALID_ARGUMENT);
    CHECK(recur_load_options_init(&o, sizeof o) == RECUR_OK);
    CHECK(o.struct_size == sizeof o && o.max_file_size == 64u << 20 && o.max_tensors == 1024 && o.flags == 0);
    CHECK(RECUR_LOAD_OPTIONS_SIZE_V1 <= sizeof(recur_load_options) && RECUR_MODEL_CONFIG_SIZE_V1 <= sizeof(recur_model_config) &&
          RECUR_SAVE_OPTIONS_SIZE_V1 <= sizeof(recur_save_options) && RECUR_TRAINER_CONFIG_SIZE_V1 <= sizeof(recur_trainer_config) &&
          RECUR_DATASET_SIZE_V1 <= sizeof(recur_dataset));

    /* A program built against a newer header: a larger struct whose extra bytes are zero works. */
    union {
        recur_load_options o;
        unsigned char bytes[sizeof(recur_load_options) + 32];
    } big;
    memset(&big, 0xAB, sizeof big);
    CHECK(recur_load_options_init(&big.o, sizeof big) == RECUR_OK);
    CHECK(big.o.struct_size == sizeof big && big.o.max_file_size == 64u << 20);
    int tail_zero = 1;
    for (size_t i = sizeof(recur_load_options); i < sizeof big; i++) tail_zero &= big.bytes[i] == 0;
    CHECK(tail_zero);
    unsigned char tiny[4096];
    size_t tiny_len = 0;
    {
        recur_model *m = NULL;
        float p[4 * 3 + 4 * 4 + 4 + 2 * 4 + 2];
        for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) p[i] = 0.01f * (float)i;
        uint32_t sizes[1] = {4};
        union {
            recur_model_config c;
            unsigned char bytes[sizeof(recur_model_config) + 16];
        } cfg;
        CHECK(recur_model_config_init(&cfg.c, sizeof cfg) == RECUR_OK);
        cfg.c.input_size = 3;
        cfg.c.num_layers = 1;
        cfg.c.layer_sizes = sizes;
        cfg.c.output_size = 2;
        CHECK(recur_model_create(&cfg.c, p, sizeof p / sizeof p[0], &m) == RECUR_OK && m != NULL);
        cfg.bytes[sizeof(recur_model_config) + 3] = 1; /* a newer field this library cannot honour */
        recur_model *m2 = NULL;
        CHECK(recur_model_create(&cfg.c, p, sizeof p / sizeof p[0], &m2) == RECUR_E_INVALID_ARGUMENT && m2 == NULL);
        CHECK(strstr(recur_last_error_message(), "newer field") != NULL);
        /* The version-1 size exactly (what a program built today passes) is accepted. */
        cfg.bytes[sizeof(recur_model_config) + 3] = 0;
        cfg.c.struct_size = (uint32_t)RECUR_MODEL_CONFIG_SIZE_V1;
        CHECK(recur_model_create(&cfg.c, p, sizeof p / sizeof p[0], &m2) == RECUR_OK);
        recur_model_free(m2);
        cfg.c.struct_size = (uint32_t)RECUR_MODEL_CONFIG_SIZE_V1 - 4;
        CHECK(recur_model_create(&cfg.c, p, sizeof p / sizeof p[0], &m2) == RECUR_E_INVALID_ARGUMENT);
        CHECK(strstr(recur_last_error_message(), "recur_model_config_init") != NULL);
        cfg.c.struct_size = 0xFFFFFFFFu; /* garbage: refused without reading past the struct */
        CHECK(recur_model_create(&cfg.c, p, sizeof p / sizeof p[0], &m2) == RECUR_E_INVALID_ARGUMENT);

        union {
            recur_save_options s;
            unsigned char bytes[sizeof(recur_save_options) + 8];
        } so;
        CHECK(recur_save_options_init(&so.s, sizeof so) == RECUR_OK);
        CHECK(so.s.weight_dtype == RECUR_DTYPE_MODEL && so.s.compression_level == 6);
        CHECK(recur_model_save_memory(m, &so.s, tiny, sizeof tiny, &tiny_len) == RECUR_OK && tiny_len > 0);
        so.bytes[sizeof(recur_save_options)] = 7;
        size_t len2 = 0;
        CHECK(recur_model_save_memory(m, &so.s, tiny, sizeof tiny, &len2) == RECUR_E_INVALID_ARGUMENT);

        union {
            recur_trainer_config t;
            unsigned char bytes[sizeof(recur_trainer_config) + 8];
        } tc;
        CHECK(recur_trainer_config_init(&tc.t, sizeof tc) == RECUR_OK);
        CHECK(tc.t.optimizer == RECUR_OPT_ADAM && tc.t.epochs == 10 && tc.t.batch_size == 32 && tc.t.learning_rate == 1e-3);
        recur_trainer *tr = NULL;
        CHECK(recur_trainer_create(m, &tc.t, &tr) == RECUR_OK);
        recur_trainer_free(tr);
        tc.bytes[sizeof(recur_trainer_config) + 7] = 1;
        CHECK(recur_trainer_create(m, &tc.t, &tr) == RECUR_E_INVALID_ARGUMENT && tr == NULL);

        recur_dataset d;
        CHECK(recur_dataset_init(&d, sizeof d) == RECUR_OK);
        CHECK(d.struct_size == sizeof d && d.inputs == NULL && d.num_sequences == 0 && d.target_kind == RECUR_TARGET_SEQUENCE_CLASSES);
        CHECK(recur_dataset_init(&d, 3) == RECUR_E_INVALID_ARGUMENT);

        size_t floats = 0, bytes = 0;
        recur_session *s = NULL;
        CHECK(recur_session_create(m, &s) == RECUR_OK);
        CHECK(recur_model_state_floats(m, &floats) == RECUR_OK && floats == 4);
        CHECK(recur_session_state_bytes(s, &bytes) == RECUR_OK && bytes == 32 + 4 * floats + 4);
        recur_session_free(s);
        recur_model_free(m);
    }
    /* Load options through the loader: a zero-tailed larger struct works, a set byte does not. */
    {
        recur_model *m = NULL;
        CHECK(recur_model_load_memory(tiny, tiny_len, &big.o, &m) == RECUR_OK);
        recur_model_free(m);
        big.bytes[sizeof(recur_load_options) + 31] = 0x80;
        CHECK(recur_model_load_memory(tiny, tiny_len, &big.o, &m) == RECUR_E_INVALID_ARGUMENT && m == NULL);
    }
}

/* Gated layers through the C API: a GRU (PyTorch's) over an LSTM with a 3-unit projection,
 * created from one float array in the documented order and checked against this file's own
 * double reference of the two cells (written from the equations in recur.h). */
enum { GI = 5, GH = 6, LH = 5, LP = 3, GO = 4 };
static double sig(double v) { return 1.0 / (1.0 + exp(-v)); }

typedef struct {
    const float *p;
    double h1[GH], h2[LP], c2[LH];
} gated_ref;

static void gated_ref_step(gated_ref *r, const float *x, double *y) {
    const float *Wi = r->p, *Wh = Wi + 3 * GH * GI, *bi = Wh + 3 * GH * GH, *bh = bi + 3 * GH;
    double g1[GH];
    for (int u = 0; u < GH; u++) {
        double a[3], b[3];
        for (int k = 0; k < 3; k++) {
            int row = k * GH + u;
            a[k] = bi[row];
            b[k] = bh[row];
            for (int j = 0; j < GI; j++) a[k] += (double)Wi[row * GI + j] * x[j];
            for (int j = 0; j < GH; j++) b[k] += (double)Wh[row * GH + j] * r->h1[j];
        }
        double rr = sig(a[0] + b[0]), z = sig(a[1] + b[1]), n = tanh(a[2] + rr * b[2]);
        g1[u] = (1 - z) * n + z * r->h1[u];
    }
    memcpy(r->h1, g1, sizeof g1);
    const float *Li = bh + 3 * GH, *Lh = Li + 4 * LH * GH, *lbi = Lh + 4 * LH * LP, *lbh = lbi + 4 * LH, *Pr = lbh + 4 * LH;
    double m[LH];
    for (int u = 0; u < LH; u++) {
        double a[4];
        for (int k = 0; k < 4; k++) {
            int row = k * LH + u;
            a[k] = (double)lbi[row] + lbh[row];
            for (int j = 0; j < GH; j++) a[k] += (double)Li[row * GH + j] * r->h1[j];
            for (int j = 0; j < LP; j++) a[k] += (double)Lh[row * LP + j] * r->h2[j];
        }
        r->c2[u] = sig(a[1]) * r->c2[u] + sig(a[0]) * tanh(a[2]);
        m[u] = sig(a[3]) * tanh(r->c2[u]);
    }
    for (int q = 0; q < LP; q++) {
        double s = 0;
        for (int u = 0; u < LH; u++) s += (double)Pr[q * LH + u] * m[u];
        r->h2[q] = s;
    }
    const float *Wo = Pr + LP * LH, *bo = Wo + GO * LP;
    for (int o = 0; o < GO; o++) {
        double s = bo[o];
        for (int j = 0; j < LP; j++) s += (double)Wo[o * LP + j] * r->h2[j];
        y[o] = s;
    }
}

static void gated_config(recur_model_config *c, uint32_t *sizes, int32_t *kinds, uint32_t *proj) {
    recur_model_config_init(c, sizeof *c);
    sizes[0] = GH, sizes[1] = LH;
    kinds[0] = RECUR_LAYER_GRU, kinds[1] = RECUR_LAYER_LSTM;
    proj[0] = 0, proj[1] = LP;
    c->input_size = GI;
    c->num_layers = 2;
    c->layer_sizes = sizes;
    c->output_size = GO;
    c->layer_kinds = kinds;
    c->proj_sizes = proj;
}

static void test_gated(const char *dir) {
    recur_model_config c;
    uint32_t sizes[2], proj[2];
    int32_t kinds[2];
    gated_config(&c, sizes, kinds, proj);
    size_t n = 0;
    const size_t expect = (3 * GH * GI + 3 * GH * GH + 6 * GH) + (4 * LH * GH + 4 * LH * LP + 8 * LH + LP * LH) + GO * LP + GO;
    CHECK(recur_model_config_num_params(&c, &n) == RECUR_OK && n == expect);
    static float p[2048];
    for (size_t i = 0; i < n; i++) p[i] = frand(0.45f);
    recur_model *m = NULL;
    CHECK(recur_model_create(&c, p, n, &m) == RECUR_OK);
    if (!m) return;

    /* Introspection and parameters back in the same order. */
    int32_t kind = -1, act = -1;
    size_t size = 0, ps = 99, floats = 0, layers = 0;
    CHECK(recur_model_num_layers(m, &layers) == RECUR_OK && layers == 2);
    CHECK(recur_model_layer_kind(m, 0, &kind, &ps) == RECUR_OK && kind == RECUR_LAYER_GRU && ps == 0);
    CHECK(recur_model_layer_kind(m, 1, &kind, &ps) == RECUR_OK && kind == RECUR_LAYER_LSTM && ps == LP);
    CHECK(recur_model_layer_kind(m, 1, NULL, NULL) == RECUR_OK);
    CHECK(recur_model_layer_kind(m, 2, &kind, &ps) == RECUR_E_INDEX_OUT_OF_RANGE);
    CHECK(recur_model_layer_kind(NULL, 0, &kind, &ps) == RECUR_E_NULL_POINTER);
    CHECK(recur_model_layer(m, 1, &size, &act) == RECUR_OK && size == LH && act == RECUR_ACT_TANH);
    CHECK(recur_model_state_floats(m, &floats) == RECUR_OK && floats == GH + LP + LH);
    static float back[2048];
    CHECK(recur_model_get_params(m, back, n) == RECUR_OK && memcmp(back, p, n * sizeof(float)) == 0);

    /* Steps against the double reference, from a nonzero state set through set_hidden
     * (layout: GRU h, then LSTM h (P floats), then its c). */
    recur_session *s = NULL;
    CHECK(recur_session_create(m, &s) == RECUR_OK);
    gated_ref r;
    memset(&r, 0, sizeof r);
    r.p = p;
    float h0[GH + LP + LH];
    for (int i = 0; i < GH + LP + LH; i++) h0[i] = frand(0.8f);
    for (int i = 0; i < GH; i++) r.h1[i] = h0[i];
    for (int i = 0; i < LP; i++) r.h2[i] = h0[GH + i];
    for (int i = 0; i < LH; i++) r.c2[i] = h0[GH + LP + i];
    CHECK(recur_session_set_hidden(s, h0, GH + LP + LH) == RECUR_OK);
    float got[GH + LP + LH];
    CHECK(recur_session_get_hidden(s, got, GH + LP + LH) == RECUR_OK && memcmp(got, h0, sizeof got) == 0);
    double worst = 0, scale = 0;
    float xs[200 * GI], ys[200 * GO];
    for (int i = 0; i < 200 * GI; i++) xs[i] = frand(1.5f);
    for (int t = 0; t < 200; t++) {
        float y[GO];
        double yr[GO];
        CHECK(recur_session_step(s, xs + t * GI, GI, y, GO) == RECUR_OK);
        gated_ref_step(&r, xs + t * GI, yr);
        for (int o = 0; o < GO; o++) {
            ys[t * GO + o] = y[o];
            worst = fmax(worst, fabs(y[o] - yr[o]));
            scale = fmax(scale, fabs(yr[o]));
        }
    }
    CHECK(worst <= 1e-5 * scale);
    CHECK(recur_session_get_hidden(s, got, GH + LP + LH) == RECUR_OK);
    double cerr = 0;
    for (int i = 0; i < LH; i++) cerr = fmax(cerr, fabs(got[GH + LP + i] - r.c2[i]));
    CHECK(cerr <= 1e-5);
    printf("gated C reference (gru-6 over lstm-5 proj 3, 200 steps): max |y - ref| %.2e of max |ref| %.2e, cell %.2e\n",
           worst, scale, cerr);

    /* Save, load: the same outputs bit for bit; run == the steps; a batch of 5 == 5 sessions. */
    char path[512];
    snprintf(path, sizeof path, "%s/gated.recur", dir);
    CHECK(recur_model_save(m, path, NULL) == RECUR_OK);
    recur_model *m2 = NULL;
    CHECK(recur_model_load(path, NULL, &m2) == RECUR_OK);
    recur_session *s2 = NULL, *b = NULL;
    CHECK(m2 && recur_session_create(m2, &s2) == RECUR_OK && recur_session_set_hidden(s2, h0, GH + LP + LH) == RECUR_OK);
    static float ys2[200 * GO];
    CHECK(recur_session_run(s2, xs, 200 * GI, 200, ys2, 200 * GO) == RECUR_OK);
    CHECK(memcmp(ys, ys2, sizeof ys) == 0);
    CHECK(recur_session_create_batch(m2, 5, &b) == RECUR_OK);
    recur_session *one[5];
    for (int k = 0; k < 5; k++) CHECK(recur_session_create(m2, &one[k]) == RECUR_OK);
    float bworst = 0;
    for (int t = 0; t < 30; t++) {
        float bx[5 * GI], by[5 * GO], sy[GO];
        for (int i = 0; i < 5 * GI; i++) bx[i] = xs[(t * 5 * GI + i) % (200 * GI)];
        if (t == 12) CHECK(recur_session_reset_stream(b, 2) == RECUR_OK && recur_session_reset(one[2]) == RECUR_OK);
        CHECK(recur_session_step(b, bx, 5 * GI, by, 5 * GO) == RECUR_OK);
        for (int k = 0; k < 5; k++) {
            CHECK(recur_session_step(one[k], bx + k * GI, GI, sy, GO) == RECUR_OK);
            for (int o = 0; o < GO; o++) bworst = fmaxf(bworst, fabsf(sy[o] - by[k * GO + o]));
        }
    }
    for (int k = 0; k < 5; k++) recur_session_free(one[k]);
    int same = bworst <= 1e-5f * (float)(scale + 1);
    CHECK(same);
    /* int8 weights: the same kinds, close to float32. */
    recur_model_config cq;
    uint32_t qs[2], qp[2];
    int32_t qk[2];
    gated_config(&cq, qs, qk, qp);
    cq.weight_dtype = RECUR_DTYPE_I8;
    recur_model *mq = NULL;
    recur_session *sq = NULL;
    CHECK(recur_model_create(&cq, p, n, &mq) == RECUR_OK && recur_session_create(mq, &sq) == RECUR_OK);
    /* Its kernels against the reference on its own (dequantised) weights; the int8 rows stay
     * within half a step of the float32 weights. */
    static float pq[2048];
    CHECK(mq && recur_model_get_params(mq, pq, n) == RECUR_OK);
    double werr = 0, qerr = 0, qscale = 0;
    for (size_t i = 0; i < n; i++) werr = fmax(werr, fabs(pq[i] - p[i]));
    CHECK(werr > 0 && werr <= 0.45 / 127 * 0.5 * 1.001);
    if (sq) {
        gated_ref rq;
        memset(&rq, 0, sizeof rq);
        rq.p = pq;
        for (int i = 0; i < GH; i++) rq.h1[i] = h0[i];
        for (int i = 0; i < LP; i++) rq.h2[i] = h0[GH + i];
        for (int i = 0; i < LH; i++) rq.c2[i] = h0[GH + LP + i];
        CHECK(recur_session_set_hidden(sq, h0, GH + LP + LH) == RECUR_OK);
        for (int t = 0; t < 200; t++) {
            float y[GO];
            double yr[GO];
            CHECK(recur_session_step(sq, xs + t * GI, GI, y, GO) == RECUR_OK);
            gated_ref_step(&rq, xs + t * GI, yr);
            for (int o = 0; o < GO; o++) qerr = fmax(qerr, fabs(y[o] - yr[o])), qscale = fmax(qscale, fabs(yr[o]));
        }
    }
    printf("gated int8: weights within %.2e of float32; outputs within %.2e of the reference on those weights\n", werr, qerr);
    CHECK(qerr <= 1e-5 * qscale);

    /* Bad configs: each a BAD_CONFIG with a message, nothing created. */
    recur_model *bad = NULL;
    int32_t acts[2] = {RECUR_ACT_RELU, RECUR_ACT_TANH};
    c.activations = acts;
    CHECK(recur_model_create(&c, p, n, &bad) == RECUR_E_BAD_CONFIG && bad == NULL);
    c.activations = NULL;
    proj[1] = LH;
    CHECK(recur_model_config_num_params(&c, &n) == RECUR_E_BAD_CONFIG);
    proj[1] = 0, proj[0] = 2;
    CHECK(recur_model_config_num_params(&c, &n) == RECUR_E_BAD_CONFIG);
    proj[0] = 0, kinds[1] = 9;
    CHECK(recur_model_config_num_params(&c, &n) == RECUR_E_BAD_CONFIG && strstr(recur_last_error_message(), "kind") != NULL);

    recur_session_free(sq);
    recur_model_free(mq);
    recur_session_free(b);
    recur_session_free(s2);
    recur_model_free(m2);
    recur_session_free(s);
    recur_model_free(m);
}

/* recur_model_init: a model from a config alone, PyTorch's default ranges from a seed; the
 * same seed gives the same parameters, another seed others; errors leave *out NULL. */
static void test_init(void) {
    uint32_t sizes[2] = {16, 8};
    int32_t kinds[2] = {RECUR_LAYER_GRU, RECUR_LAYER_LSTM};
    uint32_t projs[2] = {0, 3};
    recur_model_config c;
    CHECK(recur_model_config_init(&c, sizeof c) == RECUR_OK);
    c.input_size = 5;
    c.num_layers = 2;
    c.layer_sizes = sizes;
    c.layer_kinds = kinds;
    c.proj_sizes = projs;
    c.output_size = 4;
    recur_model *a = NULL, *b = NULL, *d = NULL;
    CHECK(recur_model_init(&c, 42, &a) == RECUR_OK && a);
    CHECK(recur_model_init(&c, 42, &b) == RECUR_OK && b);
    CHECK(recur_model_init(&c, 43, &d) == RECUR_OK && d);
    size_t n = 0;
    CHECK(recur_model_num_params(a, &n) == RECUR_OK);
    float *pa = malloc(n * sizeof(float)), *pb = malloc(n * sizeof(float)), *pd = malloc(n * sizeof(float));
    CHECK(pa && pb && pd);
    if (pa && pb && pd) {
        CHECK(recur_model_get_params(a, pa, n) == RECUR_OK && recur_model_get_params(b, pb, n) == RECUR_OK &&
              recur_model_get_params(d, pd, n) == RECUR_OK);
        CHECK(memcmp(pa, pb, n * sizeof(float)) == 0);
        size_t same = 0;
        float worst = 0;
        for (size_t i = 0; i < n; i++) {
            same += pa[i] == pd[i];
            worst = fabsf(pa[i]) > worst ? fabsf(pa[i]) : worst;
        }
        CHECK(same < n / 100);
        /* the first layer's parameters lie in +-1/sqrt(16) = 0.25, and reach close to it */
        float l0 = 0;
        for (size_t i = 0; i < 3 * 16 * (5 + 16) + 6 * 16; i++) l0 = fabsf(pa[i]) > l0 ? fabsf(pa[i]) : l0;
        CHECK(l0 <= 0.25f && l0 > 0.24f);
        CHECK(worst <= 1.0f / sqrtf(3.0f));
    }
    free(pa), free(pb), free(pd);
    recur_model_free(a), recur_model_free(b), recur_model_free(d);
    recur_model *bad = (recur_model *)&c;
    CHECK(recur_model_init(NULL, 1, &bad) == RECUR_E_NULL_POINTER && bad == NULL);
    CHECK(recur_model_init(&c, 1, NULL) == RECUR_E_NULL_POINTER);
    projs[1] = 8; /* a projection as large as the layer */
    bad = (recur_model *)&c;
    CHECK(recur_model_init(&c, 1, &bad) == RECUR_E_BAD_CONFIG && bad == NULL);
}

/* recur_sampler_*: greedy, determinism by seed, reset, the struct_size rule and bad input. */
static void test_sampler(void) {
    const float logits[6] = {0.5f, 2.0f, -1.0f, 2.0f, 1.0f, 0.0f};
    recur_sampler_params p;
    CHECK(recur_sampler_params_init(&p, sizeof p) == RECUR_OK);
    CHECK(p.struct_size == sizeof p && p.temperature == 1.0f && p.top_k == 0 && p.top_p == 1.0f &&
          p.repetition_penalty == 1.0f && p.repetition_last_n == 64);
    p.temperature = 0;
    recur_sampler *g = NULL, *a = NULL, *b = NULL;
    CHECK(recur_sampler_create(&p, &g) == RECUR_OK && g);
    int32_t t = -1;
    CHECK(recur_sampler_sample(g, logits, 6, &t) == RECUR_OK && t == 1);
    p.temperature = 0.9f;
    p.top_p = 0.95f;
    p.seed = 123;
    CHECK(recur_sampler_create(&p, &a) == RECUR_OK && recur_sampler_create(&p, &b) == RECUR_OK);
    int32_t ta[64], tb[64], again[64];
    int ok = 1, inrange = 1;
    for (int i = 0; i < 64; i++) {
        ok &= recur_sampler_sample(a, logits, 6, &ta[i]) == RECUR_OK && recur_sampler_sample(b, logits, 6, &tb[i]) == RECUR_OK;
        inrange &= ta[i] >= 0 && ta[i] < 6;
    }
    CHECK(ok && inrange && memcmp(ta, tb, sizeof ta) == 0);
    CHECK(recur_sampler_reset(a) == RECUR_OK);
    for (int i = 0; i < 64; i++) ok &= recur_sampler_sample(a, logits, 6, &again[i]) == RECUR_OK;
    CHECK(ok && memcmp(ta, again, sizeof ta) == 0);
    /* bad input: nothing written, specific codes */
    const float nan_logits[2] = {0.0f, NAN};
    t = 77;
    CHECK(recur_sampler_sample(a, nan_logits, 2, &t) == RECUR_E_NONFINITE_INPUT && t == 77);
    CHECK(recur_sampler_sample(a, logits, 0, &t) == RECUR_E_INVALID_ARGUMENT);
    CHECK(recur_sampler_sample(a, NULL, 6, &t) == RECUR_E_NULL_POINTER);
    CHECK(recur_sampler_sample(a, logits, 6, NULL) == RECUR_E_NULL_POINTER);
    CHECK(recur_sampler_sample(NULL, logits, 6, &t) == RECUR_E_NULL_POINTER);
    CHECK(recur_sampler_accept(a, -3) == RECUR_E_INVALID_ARGUMENT);
    p.top_p = 0.0f;
    recur_sampler *bad = (recur_sampler *)&p;
    CHECK(recur_sampler_create(&p, &bad) == RECUR_E_INVALID_ARGUMENT && bad == NULL);
    p.top_p = 1.0f;
    p.struct_size = 4; /* below the first version's size */
    CHECK(recur_sampler_create(&p, &bad) == RECUR_E_INVALID_ARGUMENT && bad == NULL);
    CHECK(recur_sampler_create(NULL, &bad) == RECUR_OK && bad); /* NULL params: the defaults */
    recur_sampler_free(bad);
    recur_model_config mc;
    recur_model_config_init(&mc, sizeof mc);
    CHECK(recur_sampler_sample((recur_sampler *)&mc, logits, 6, &t) == RECUR_E_BAD_HANDLE);
    recur_sampler_free(g), recur_sampler_free(a), recur_sampler_free(b);
    recur_sampler_free(NULL);
}

int main(int argc, char **argv) {
    test_last_error_is_per_thread();
    test_kernels_name();
    test_struct_sizes();
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    test_gated(dir);
    test_init();
    test_sampler();
    float params[1000];
    size_t n = 0;

    /* Versions */
    CHECK(strcmp(recur_version_string(), RECUR_VERSION_STRING) == 0);
    CHECK(recur_version_number() == RECUR_VERSION_NUMBER);
    CHECK(recur_abi_version() == RECUR_ABI_VERSION);
    CHECK(strstr(recur_status_string(RECUR_E_BAD_MAGIC), "RECUR_E_BAD_MAGIC") != NULL);

    recur_model *m = make_model(params, &n);
    size_t v = 0;
    CHECK(recur_model_input_size(m, &v) == RECUR_OK && v == 10);
    CHECK(recur_model_output_size(m, &v) == RECUR_OK && v == 5);
    const char *label = NULL;
    CHECK(recur_model_label(m, 3, &label) == RECUR_OK && strcmp(label, "three") == 0);
    const char *meta = NULL;
    CHECK(recur_model_metadata(m, "source", &meta) == RECUR_OK && strcmp(meta, "test_api.c") == 0);

    /* Outputs match the double reference, step by step. */
    recur_session *s = NULL;
    CHECK(recur_session_create(m, &s) == RECUR_OK);
    ref_net ref = {10, 20, 5, params, {0}};
    float x[10], y[5];
    double yr[5];
    double worst = 0;
    for (int t = 0; t < 50; t++) {
        for (int i = 0; i < 10; i++) x[i] = frand(1.5f);
        CHECK(recur_session_step(s, x, 10, y, 5) == RECUR_OK);
        ref_step(&ref, x, yr);
        for (int o = 0; o < 5; o++) {
            /* |y - ref| <= 1e-5 |ref| + 1e-6 (relative, with an absolute floor near 0) */
            double err = fabs(y[o] - yr[o]) / (1e-5 * fabs(yr[o]) + 1e-6);
            if (err > worst) worst = err;
        }
    }
    CHECK(worst <= 1.0);
    printf("reference check: worst error %.3f of the 1e-5 relative tolerance\n", worst);

    /* Save to a file, load, same outputs bit for bit. */
    char path[512];
    snprintf(path, sizeof path, "%s/c_test.recur", dir);
    CHECK(recur_model_save(m, path, NULL) == RECUR_OK);
    recur_model *m2 = NULL;
    CHECK(recur_model_load(path, NULL, &m2) == RECUR_OK);
    float p2[1000];
    CHECK(recur_model_get_params(m2, p2, n) == RECUR_OK);
    CHECK(memcmp(params, p2, n * sizeof(float)) == 0);

    /* Save to memory: size query then write; the bytes equal the file. */
    size_t need = 0;
    CHECK(recur_model_save_memory(m, NULL, NULL, 0, &need) == RECUR_E_BUFFER_TOO_SMALL && need > 0);
    unsigned char *buf = (unsigned char *)malloc(need);
    size_t got = 0;
    CHECK(recur_model_save_memory(m, NULL, buf, need, &got) == RECUR_OK && got == need);
    FILE *f = fopen(path, "rb");
    unsigned char *fb = (unsigned char *)malloc(need + 1);
    size_t fn = f ? fread(fb, 1, need + 1, f) : 0;
    if (f) fclose(f);
    CHECK(fn == need && memcmp(buf, fb, need) == 0);

    /* Hostile bytes: every truncation and a bit flip are errors, never crashes. */
    int all_rejected = 1;
    for (size_t cut = 0; cut < need; cut++) {
        recur_model *bad = NULL;
        if (recur_model_load_memory(buf, cut, NULL, &bad) != RECUR_E_TRUNCATED || bad != NULL) all_rejected = 0;
    }
    CHECK(all_rejected);
    buf[need / 2] ^= 0x10;
    recur_model *bad = NULL;
    CHECK(recur_model_load_memory(buf, need, NULL, &bad) < 0 && bad == NULL);
    CHECK(strlen(recur_last_error_message()) > 0);
    free(buf);
    free(fb);

    /* Misuse */
    CHECK(recur_session_step(NULL, x, 10, y, 5) == RECUR_E_NULL_POINTER);
    CHECK(recur_session_step(s, x, 11, y, 5) == RECUR_E_LENGTH_MISMATCH);
    CHECK(recur_session_step(s, x, 10, y, 6) == RECUR_E_LENGTH_MISMATCH);
    CHECK(recur_session_step(s, x, 10, NULL, 5) == RECUR_E_NULL_POINTER);
    CHECK(recur_session_step((recur_session *)(void *)m, x, 10, y, 5) == RECUR_E_BAD_HANDLE);
    CHECK(recur_model_input_size((recur_model *)(void *)s, &v) == RECUR_E_BAD_HANDLE);
    x[4] = NAN;
    CHECK(recur_session_step(s, x, 10, y, 5) == RECUR_E_NONFINITE_INPUT);
    x[4] = INFINITY;
    CHECK(recur_session_step(s, x, 10, y, 5) == RECUR_E_NONFINITE_INPUT);
    x[4] = 0.5f;
    CHECK(recur_model_load("/nonexistent/file.recur", NULL, &bad) == RECUR_E_IO && bad == NULL);
    CHECK(strstr(recur_last_error_message(), "/nonexistent/file.recur") != NULL);
    recur_model_free(NULL);
    recur_session_free(NULL);

    /* Snapshot continuity: 10 steps, snapshot, 10 more; restore, the same 10 again. */
    float xs[10 * 20], ya[50], yb[50];
    for (int i = 0; i < 200; i++) xs[i] = frand(1.0f);
    CHECK(recur_session_run(s, xs, 100, 10, NULL, 0) == RECUR_OK);
    size_t ss = 0;
    CHECK(recur_session_state_bytes(s, &ss) == RECUR_OK);
    void *snap = malloc(ss);
    CHECK(recur_session_get_state(s, snap, ss) == RECUR_OK);
    CHECK(recur_session_run(s, xs + 100, 100, 10, ya, 50) == RECUR_OK);
    CHECK(recur_session_set_state(s, snap, ss) == RECUR_OK);
    CHECK(recur_session_run(s, xs + 100, 100, 10, yb, 50) == RECUR_OK);
    CHECK(memcmp(ya, yb, sizeof ya) == 0);
    free(snap);

    /* Batches == single sessions: bit for bit for 3 streams; for 4 or more (the packed GEMM
     * kernel on AVX2 machines) to float rounding, and two batch sessions agree bit for bit. */
    for (int nb = 3; nb <= 4; nb++) {
        recur_session *bs = NULL, *bs2 = NULL, *single[4];
        CHECK(recur_session_create_batch(m, (size_t)nb, &bs) == RECUR_OK);
        CHECK(recur_session_create_batch(m, (size_t)nb, &bs2) == RECUR_OK);
        for (int b = 0; b < nb; b++) CHECK(recur_session_create(m, &single[b]) == RECUR_OK);
        int same = 1, repeat = 1;
        float worst = 0;
        for (int t = 0; t < 8; t++) {
            float bx[40], by[20], by2[20], sy[5];
            for (int i = 0; i < 10 * nb; i++) bx[i] = frand(1.0f);
            CHECK(recur_session_step(bs, bx, (size_t)(10 * nb), by, (size_t)(5 * nb)) == RECUR_OK);
            CHECK(recur_session_step(bs2, bx, (size_t)(10 * nb), by2, (size_t)(5 * nb)) == RECUR_OK);
            if (memcmp(by, by2, sizeof(float) * 5 * (size_t)nb) != 0) repeat = 0;
            for (int b = 0; b < nb; b++) {
                recur_session_step(single[b], bx + 10 * b, 10, sy, 5);
                if (memcmp(sy, by + 5 * b, sizeof sy) != 0) same = 0;
                for (int i = 0; i < 5; i++) {
                    float d = fabsf(sy[i] - by[5 * b + i]);
                    if (d > worst) worst = d;
                }
            }
        }
        if (nb == 3) CHECK(same);
        CHECK(repeat);
        CHECK(worst <= 2e-6f);
        for (int b = 0; b < nb; b++) recur_session_free(single[b]);
        recur_session_free(bs);
        recur_session_free(bs2);
    }

    /* Threads: 4 threads share m2, each with its own session; equal to a single-threaded run. */
    enum { STEPS = 2000 };
    float *txs = (float *)malloc(sizeof(float) * 10 * STEPS);
    for (int i = 0; i < 10 * STEPS; i++) txs[i] = frand(1.0f);
    worker_arg base = {m2, txs, STEPS, {0}, 0};
    worker(&base);
    CHECK(base.status == RECUR_OK);
    pthread_t th[4];
    worker_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = base;
        pthread_create(&th[i], NULL, worker, &args[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK(args[i].status == RECUR_OK && memcmp(args[i].out, base.out, sizeof base.out) == 0);
    }
    free(txs);

    /* Thread setting of a session: checked, bit-identical, freed with the session. */
    {
        uint32_t big[2] = {300, 200}, nthr = 0;
        recur_model_config bc;
        recur_model_config_init(&bc, sizeof bc);
        bc.input_size = 24;
        bc.num_layers = 2;
        bc.layer_sizes = big;
        bc.output_size = 6;
        size_t bn = 0;
        CHECK(recur_model_config_num_params(&bc, &bn) == RECUR_OK);
        float *bp = (float *)malloc(sizeof(float) * bn);
        for (size_t i = 0; i < bn; i++) bp[i] = frand(0.08f);
        recur_model *bm = NULL;
        recur_session *s1 = NULL, *s3 = NULL;
        CHECK(recur_model_create(&bc, bp, bn, &bm) == RECUR_OK);
        CHECK(recur_session_create(bm, &s1) == RECUR_OK && recur_session_create(bm, &s3) == RECUR_OK);
        CHECK(recur_session_threads(s3, &nthr) == RECUR_OK && nthr == 1);
        CHECK(recur_session_set_threads(s3, 0) == RECUR_E_INVALID_ARGUMENT);
        CHECK(recur_session_set_threads(s3, 17) == RECUR_E_INVALID_ARGUMENT);
        CHECK(recur_session_set_threads(NULL, 2) == RECUR_E_NULL_POINTER);
        CHECK(recur_session_threads(s3, NULL) == RECUR_E_NULL_POINTER);
        CHECK(recur_session_set_threads((recur_session *)(void *)m, 2) == RECUR_E_BAD_HANDLE);
        CHECK(recur_session_set_threads(s3, 3) == RECUR_OK);
        CHECK(recur_session_threads(s3, &nthr) == RECUR_OK && nthr == 3);
        int same3 = 1;
        for (int t = 0; t < 50; t++) {
            float bx[24], y1[6], y3[6];
            for (int i = 0; i < 24; i++) bx[i] = frand(1.0f);
            CHECK(recur_session_step(s1, bx, 24, y1, 6) == RECUR_OK);
            CHECK(recur_session_step(s3, bx, 24, y3, 6) == RECUR_OK);
            if (memcmp(y1, y3, sizeof y1) != 0) same3 = 0;
        }
        CHECK(same3);
        recur_session_free(s1);
        recur_session_free(s3); /* joins its helpers */
        recur_model_free(bm);
        free(bp);
    }

    /* Lifetimes: free the model first; the session still works. */
    recur_model_free(m);
    CHECK(recur_session_step(s, x, 10, y, 5) == RECUR_OK);
    recur_session_free(s);
    recur_model_free(m2);
    unlink(path);

    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
