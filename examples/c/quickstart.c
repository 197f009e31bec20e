/* recur quick start (C): load the model shipped in models/, stream a sequence through it one step
 * at a time, snapshot and resume the stream, save a copy atomically and check that the copy
 * reloads to identical outputs. Uses only include/recur.h.
 *
 *   quickstart OUT.recur       run it (writes the copy to OUT.recur)
 *   quickstart --create PATH   (re)create models/feedbacknet-10-20-5.recur deterministically
 */
#include <recur.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHIPPED "models/feedbacknet-10-20-5.recur"

#define TRY(call)                                                                          \
    do {                                                                                   \
        recur_status st_ = (call);                                                         \
        if (st_ != RECUR_OK) {                                                             \
            fprintf(stderr, "%s failed: %s\n  %s\n", #call, recur_status_string(st_),       \
                    recur_last_error_message());                                           \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

/* The design document's FeedbackNet(10, 20, 5), weights from a fixed-seed generator in
 * PyTorch's nn.Linear range U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
static int create(const char *path) {
    uint32_t sizes[1] = {20};
    const char *labels[5] = {"class-0", "class-1", "class-2", "class-3", "class-4"};
    const char *keys[2] = {"description", "created_by"};
    const char *values[2] = {"FeedbackNet(10, 20, 5) from the design document, seeded untrained weights",
                             "examples/c/quickstart.c --create"};
    recur_model_config cfg;
    TRY(recur_model_config_init(&cfg, sizeof cfg));
    cfg.input_size = 10;
    cfg.num_layers = 1;
    cfg.layer_sizes = sizes;
    cfg.output_size = 5;
    cfg.output_transform = RECUR_OUTPUT_SOFTMAX;
    cfg.labels = labels;
    cfg.num_metadata = 2;
    cfg.metadata_keys = keys;
    cfg.metadata_values = values;
    size_t n = 0;
    TRY(recur_model_config_num_params(&cfg, &n));
    float *p = (float *)malloc(n * sizeof(float));
    uint64_t s = 20261129;
    size_t k = 0;
    /* hidden: fan_in I+H = 30 (the FeedbackNet Linear on [x; h]); output: fan_in 20 */
    for (; k < n; k++) {
        double fan = k < 20 * 10 + 20 * 20 + 20 ? 30.0 : 20.0;
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        double u = (double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0;
        p[k] = (float)(u / sqrt(fan)) * 1.5f;
    }
    recur_model *m = NULL;
    TRY(recur_model_create(&cfg, p, n, &m));
    TRY(recur_model_save(m, path, NULL));
    printf("created %s (%zu parameters)\n", path, n);
    recur_model_free(m);
    free(p);
    return 0;
}

static void input_at(int t, float *x) {
    for (int i = 0; i < 10; i++) x[i] = (float)sin(0.3 * t + 0.7 * i) * (i % 2 ? 1.0f : 0.5f);
}

static int argmax(const float *y, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (y[i] > y[b]) b = i;
    return b;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--create") == 0) return create(argv[2]);
    const char *copy = argc > 1 ? argv[1] : "demo-copy.recur";

    printf("recur %s (ABI %u)\n\n", recur_version_string(), recur_abi_version());
    recur_model *model = NULL;
    TRY(recur_model_load(SHIPPED, NULL, &model));
    size_t in = 0, out = 0, layers = 0, params = 0, h = 0;
    int32_t act = 0, dtype = 0;
    TRY(recur_model_input_size(model, &in));
    TRY(recur_model_output_size(model, &out));
    TRY(recur_model_num_layers(model, &layers));
    TRY(recur_model_num_params(model, &params));
    TRY(recur_model_layer(model, 0, &h, &act));
    TRY(recur_model_weight_dtype(model, &dtype));
    const char *desc = "";
    recur_model_metadata(model, "description", &desc);
    printf("model     %s\n          %s\n", SHIPPED, desc);
    printf("shape     input %zu -> %zu feedback layer(s) of %zu (tanh) -> %zu outputs (softmax)\n", in, layers, h,
           out);
    printf("weights   %zu parameters, stored as %s\n\n", params, dtype == RECUR_DTYPE_F16 ? "float16" : "float32");

    /* Stream 12 steps, one call per step; the session keeps the recurrent state. */
    recur_session *s = NULL;
    TRY(recur_session_create(model, &s));
    float x[10], y[5];
    printf("step  top label   p      outputs\n");
    for (int t = 0; t < 12; t++) {
        input_at(t, x);
        TRY(recur_session_step(s, x, 10, y, 5));
        const char *label = "?";
        int b = argmax(y, 5);
        recur_model_label(model, (size_t)b, &label);
        printf("%4d  %-10s %.3f   [%.3f %.3f %.3f %.3f %.3f]\n", t, label, y[b], y[0], y[1], y[2], y[3], y[4]);
    }

    /* Snapshot the stream, run on, restore and run the same steps again: identical. */
    size_t ss = 0;
    TRY(recur_session_state_bytes(s, &ss));
    void *snap = malloc(ss);
    TRY(recur_session_get_state(s, snap, ss));
    float xs[8 * 10], ya[8 * 5], yb[8 * 5];
    for (int t = 0; t < 8; t++) input_at(12 + t, xs + 10 * t);
    TRY(recur_session_run(s, xs, 80, 8, ya, 40));
    TRY(recur_session_set_state(s, snap, ss));
    TRY(recur_session_run(s, xs, 80, 8, yb, 40));
    printf("\nsnapshot  %zu bytes; resumed stream identical: %s\n", ss, memcmp(ya, yb, sizeof ya) == 0 ? "yes" : "NO");

    /* Save a copy atomically, reload it, compare outputs on a fresh stream. */
    TRY(recur_model_save(model, copy, NULL));
    recur_model *again = NULL;
    TRY(recur_model_load(copy, NULL, &again));
    recur_session *s1 = NULL, *s2 = NULL;
    TRY(recur_session_create(model, &s1));
    TRY(recur_session_create(again, &s2));
    float y1[40], y2[40];
    TRY(recur_session_run(s1, xs, 80, 8, y1, 40));
    TRY(recur_session_run(s2, xs, 80, 8, y2, 40));
    int same = memcmp(y1, y2, sizeof y1) == 0;
    printf("saved     %s; reloaded model gives identical outputs: %s\n", copy, same ? "yes" : "NO");

    /* A bad input is refused with a status and a message, and the state is untouched. */
    x[0] = NAN;
    recur_status st = recur_session_step(s, x, 10, y, 5);
    printf("NaN input %s\n          %s\n", recur_status_string(st), recur_last_error_message());

    free(snap);
    recur_session_free(s1);
    recur_session_free(s2);
    recur_session_free(s);
    recur_model_free(again);
    recur_model_free(model);
    return same && memcmp(ya, yb, sizeof ya) == 0 && st == RECUR_E_NONFINITE_INPUT ? 0 : 1;
}
