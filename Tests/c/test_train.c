/* C-side fine-tuning tests: trainer lifecycle, progress/cancel, evaluation, heads,
 * adapters, and misuse through the C ABI. Prints "N passed, M failed". */
#define _POSIX_C_SOURCE 200809L
#include <recur.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

static uint64_t rs = 7;
static float frand(void) {
    rs = rs * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((rs >> 40) & 0xFFFFFF) / 8388608.0f - 1.0f;
}

typedef struct { int calls; int cancel_at; double first, last; } progress_log;

static int32_t on_progress(const recur_progress *p, void *user) {
    progress_log *log = (progress_log *)user;
    log->calls++;
    if (log->calls == 1) log->first = p->loss;
    log->last = p->loss;
    return log->cancel_at > 0 && log->calls >= log->cancel_at;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    /* A 4-16-3 model and 60 sequences whose class is the sign pattern of the mean input. */
    uint32_t sizes[1] = {16};
    recur_model_config cfg;
    recur_model_config_init(&cfg, sizeof cfg);
    cfg.input_size = 4;
    cfg.num_layers = 1;
    cfg.layer_sizes = sizes;
    cfg.output_size = 3;
    cfg.output_transform = RECUR_OUTPUT_SOFTMAX;
    size_t np = 0;
    recur_model_config_num_params(&cfg, &np);
    float *p = malloc(np * sizeof(float));
    for (size_t i = 0; i < np; i++) p[i] = 0.5f * frand();
    recur_model *base = NULL;
    CHECK(recur_model_create(&cfg, p, np, &base) == RECUR_OK);

    enum { N = 60, T = 5 };
    float inputs[N * T * 4];
    size_t lengths[N];
    int32_t classes[N];
    for (int s = 0; s < N; s++) {
        lengths[s] = T;
        classes[s] = s % 3;
        for (int t = 0; t < T; t++)
            for (int i = 0; i < 4; i++) inputs[(s * T + t) * 4 + i] = 0.3f * frand() + (i == classes[s] ? 0.8f : 0.0f);
    }
    recur_dataset data;
    recur_dataset_init(&data, sizeof data);
    data.target_kind = RECUR_TARGET_SEQUENCE_CLASSES;
    data.inputs = inputs;
    data.inputs_len = N * T * 4;
    data.lengths = lengths;
    data.num_sequences = N;
    data.classes = classes;
    data.classes_len = N;

    recur_trainer_config tc;
    recur_trainer_config_init(&tc, sizeof tc);
    tc.loss = RECUR_LOSS_CROSS_ENTROPY;
    tc.learning_rate = 0.05;
    tc.epochs = 20;
    tc.batch_size = 10;
    recur_trainer *tr = NULL;
    CHECK(recur_trainer_create(base, &tc, &tr) == RECUR_OK);
    recur_evaluation before, after;
    CHECK(recur_model_evaluate(base, &data, RECUR_LOSS_CROSS_ENTROPY, &before) == RECUR_OK);
    progress_log log = {0, 0, 0, 0};
    recur_model *tuned = NULL;
    CHECK(recur_trainer_fit(tr, &data, on_progress, &log, &tuned) == RECUR_OK && tuned != NULL);
    CHECK(log.calls == 20 && log.last < log.first);
    CHECK(recur_model_evaluate(tuned, &data, RECUR_LOSS_CROSS_ENTROPY, &after) == RECUR_OK);
    printf("head fine-tuning: loss %.3f -> %.3f, accuracy %.2f -> %.2f\n", before.loss, after.loss, before.accuracy, after.accuracy);
    CHECK(after.loss < before.loss && after.accuracy > 0.9 && after.rmse == -1 && after.count == N);

    /* The base is unchanged; the body is bit-identical in the tuned model. */
    float *p2 = malloc(np * sizeof(float)), *p3 = malloc(np * sizeof(float));
    CHECK(recur_model_get_params(base, p2, np) == RECUR_OK && memcmp(p, p2, np * sizeof(float)) == 0);
    CHECK(recur_model_get_params(tuned, p3, np) == RECUR_OK);
    size_t body = 16 * 4 + 16 * 16 + 16;
    CHECK(memcmp(p3, p, body * sizeof(float)) == 0 && memcmp(p3 + body, p + body, (np - body) * sizeof(float)) != 0);
    uint64_t fb1 = 0, fb2 = 0, ff1 = 0, ff2 = 0;
    CHECK(recur_model_fingerprint(base, &fb1, &ff1) == RECUR_OK && recur_model_fingerprint(tuned, &fb2, &ff2) == RECUR_OK);
    CHECK(fb1 == fb2 && ff1 != ff2);

    /* Cancel from the callback: an error, nothing produced; last good is available. */
    progress_log cancel = {0, 3, 0, 0};
    recur_model *none = NULL;
    CHECK(recur_trainer_fit(tr, &data, on_progress, &cancel, &none) == RECUR_E_CANCELLED && none == NULL);
    CHECK(cancel.calls == 3);
    recur_model *good = NULL;
    CHECK(recur_trainer_last_good(tr, &good) == RECUR_OK && good != NULL);
    recur_model_free(good);

    /* Divergence: an absurd learning rate. */
    recur_trainer_config bad = tc;
    bad.optimizer = RECUR_OPT_SGD;
    bad.learning_rate = 1e30;
    recur_trainer *trb = NULL;
    CHECK(recur_trainer_create(base, &bad, &trb) == RECUR_OK);
    CHECK(recur_trainer_fit(trb, &data, NULL, NULL, &none) == RECUR_E_DIVERGED && none == NULL);
    recur_trainer_free(trb);

    /* Adapters: save the tuned head, apply to the base: bit-identical; another base refused. */
    char path[512];
    snprintf(path, sizeof path, "%s/user.adapter", dir);
    CHECK(recur_model_save_adapter(tuned, path) == RECUR_OK);
    recur_model *applied = NULL;
    CHECK(recur_model_apply_adapter(base, path, NULL, &applied) == RECUR_OK);
    float *p4 = malloc(np * sizeof(float));
    CHECK(recur_model_get_params(applied, p4, np) == RECUR_OK && memcmp(p4, p3, np * sizeof(float)) == 0);
    for (size_t i = 0; i < np; i++) p2[i] = p[i] + 0.001f;
    recur_model *other = NULL;
    CHECK(recur_model_create(&cfg, p2, np, &other) == RECUR_OK);
    recur_model *wrong = NULL;
    CHECK(recur_model_apply_adapter(other, path, NULL, &wrong) == RECUR_E_ADAPTER_MISMATCH && wrong == NULL);
    size_t need = 0;
    CHECK(recur_model_save_adapter_memory(tuned, NULL, 0, &need) == RECUR_E_BUFFER_TOO_SMALL && need > 0);
    unsigned char *abuf = malloc(need);
    CHECK(recur_model_save_adapter_memory(tuned, abuf, need, &need) == RECUR_OK);
    recur_model *applied2 = NULL;
    CHECK(recur_model_apply_adapter_memory(base, abuf, need, NULL, &applied2) == RECUR_OK);
    CHECK(recur_model_apply_adapter_memory(base, abuf, need - 1, NULL, &wrong) == RECUR_E_TRUNCATED);
    CHECK(recur_model_apply_adapter(base, "/nonexistent.adapter", NULL, &wrong) == RECUR_E_IO);
    printf("adapter: %zu bytes (model %zu parameters)\n", need, np);
    free(abuf);
    unlink(path);

    /* New and extended heads. */
    const char *labels[2] = {"yes", "no"};
    recur_model *nh = NULL;
    CHECK(recur_model_with_new_head(base, 2, labels, RECUR_OUTPUT_SIGMOID, 1, &nh) == RECUR_OK);
    size_t o = 0;
    int32_t tr_kind = 0;
    CHECK(recur_model_output_size(nh, &o) == RECUR_OK && o == 2);
    CHECK(recur_model_output_transform(nh, &tr_kind) == RECUR_OK && tr_kind == RECUR_OUTPUT_SIGMOID);
    recur_model *ext = NULL;
    CHECK(recur_model_extend_head(nh, 1, (const char *const[]){"maybe"}, 2, &ext) == RECUR_OK);
    const char *l = NULL;
    CHECK(recur_model_label(ext, 2, &l) == RECUR_OK && strcmp(l, "maybe") == 0);
    CHECK(recur_model_with_new_head(base, 0, NULL, -1, 1, &wrong) == RECUR_E_BAD_CONFIG);
    CHECK(recur_model_with_new_head(base, 2, NULL, 9, 1, &wrong) == RECUR_E_INVALID_ARGUMENT);
    CHECK(recur_model_extend_head(nh, 1, NULL, 2, &wrong) == RECUR_E_BAD_LABEL);

    /* Misuse: bad config values, empty data, mismatched lengths, bad classes, wrong handles. */
    recur_trainer_config c2;
    recur_trainer_config_init(&c2, sizeof c2);
    c2.learning_rate = -1;
    CHECK(recur_trainer_create(base, &c2, &trb) == RECUR_E_INVALID_ARGUMENT && trb == NULL);
    recur_trainer_config_init(&c2, sizeof c2);
    c2.scope_layers = 2;
    CHECK(recur_trainer_create(base, &c2, &trb) == RECUR_E_INVALID_ARGUMENT);
    recur_trainer_config_init(&c2, sizeof c2);
    c2.optimizer = 17;
    CHECK(recur_trainer_create(base, &c2, &trb) == RECUR_E_INVALID_ARGUMENT);
    recur_trainer_config_init(&c2, sizeof c2);
    c2.struct_size = 1;
    CHECK(recur_trainer_create(base, &c2, &trb) == RECUR_E_INVALID_ARGUMENT);
    CHECK(recur_trainer_create((recur_model *)(void *)tr, NULL, &trb) == RECUR_E_BAD_HANDLE);
    recur_dataset d2 = data;
    d2.num_sequences = 0;
    CHECK(recur_trainer_fit(tr, &d2, NULL, NULL, &none) == RECUR_E_INVALID_ARGUMENT);
    d2 = data;
    d2.inputs_len -= 1;
    CHECK(recur_trainer_fit(tr, &d2, NULL, NULL, &none) == RECUR_E_LENGTH_MISMATCH);
    d2 = data;
    d2.classes_len = N - 1;
    CHECK(recur_trainer_fit(tr, &d2, NULL, NULL, &none) == RECUR_E_LENGTH_MISMATCH);
    classes[5] = 3;
    CHECK(recur_trainer_fit(tr, &data, NULL, NULL, &none) == RECUR_E_INVALID_ARGUMENT);
    classes[5] = 2;
    d2 = data;
    d2.lengths = NULL;
    CHECK(recur_trainer_fit(tr, &d2, NULL, NULL, &none) == RECUR_E_NULL_POINTER);
    d2 = data;
    d2.target_kind = 42;
    CHECK(recur_trainer_fit(tr, &d2, NULL, NULL, &none) == RECUR_E_INVALID_ARGUMENT);
    inputs[7] = NAN;
    CHECK(recur_trainer_fit(tr, &data, NULL, NULL, &none) == RECUR_E_NONFINITE_INPUT);
    CHECK(recur_trainer_fit(tr, NULL, NULL, NULL, &none) == RECUR_E_NULL_POINTER);
    CHECK(recur_trainer_fit(NULL, &data, NULL, NULL, &none) == RECUR_E_NULL_POINTER);
    CHECK(recur_model_evaluate(base, &data, 9, &after) == RECUR_E_INVALID_ARGUMENT);
    recur_trainer_free(NULL);
    recur_trainer_free((recur_trainer *)(void *)base); /* wrong kind: ignored */

    /* The trainer keeps its base alive. */
    recur_model_free(base);
    inputs[7] = 0.1f;
    CHECK(recur_trainer_fit(tr, &data, NULL, NULL, &none) == RECUR_OK);
    recur_model_free(none);
    recur_trainer_free(tr);
    recur_model_free(tuned);
    recur_model_free(applied);
    recur_model_free(applied2);
    recur_model_free(other);
    recur_model_free(nh);
    recur_model_free(ext);
    free(p);
    free(p2);
    free(p3);
    free(p4);
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
