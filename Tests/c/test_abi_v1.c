/* A program built against the recur 0.1.0 header (ABI version 1, frozen in Tests/c/abi_v1/)
 * and run on today's library: the by-value defaults, their struct_size, the old names of the
 * size queries, training with a progress callback and evaluation all keep working. */
#include <recur.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static int calls = 0;
static int32_t on_progress(const recur_progress *p, void *user) {
    (void)user;
    if (p->epoch >= 1 && p->epoch <= p->epochs && p->end_of_epoch == 1 && isfinite(p->loss)) calls++;
    return 0;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "models/vowels-5speakers.recur";
    CHECK(recur_abi_version() == RECUR_ABI_VERSION);

    recur_load_options lo = recur_load_default_options();
    CHECK(lo.struct_size == sizeof lo);
    recur_model *m = NULL;
    CHECK(recur_model_load(path, &lo, &m) == RECUR_OK);
    size_t in = 0, out = 0, floats = 0;
    CHECK(recur_model_input_size(m, &in) == RECUR_OK && recur_model_output_size(m, &out) == RECUR_OK);
    CHECK(recur_model_state_size(m, &floats) == RECUR_OK && floats > 0);

    recur_session *s = NULL;
    CHECK(recur_session_create(m, &s) == RECUR_OK);
    float *x = calloc(in, sizeof(float)), *y = calloc(out, sizeof(float));
    for (size_t i = 0; i < in; i++) x[i] = 0.1f * (float)i;
    CHECK(recur_session_step(s, x, in, y, out) == RECUR_OK);
    size_t bytes = 0;
    CHECK(recur_session_state_size(s, &bytes) == RECUR_OK && bytes == 32 + 4 * floats + 4);
    void *snap = malloc(bytes);
    CHECK(recur_session_get_state(s, snap, bytes) == RECUR_OK && recur_session_set_state(s, snap, bytes) == RECUR_OK);

    recur_save_options so = recur_save_default_options();
    so.weight_dtype = RECUR_DTYPE_F16;
    size_t len = 0;
    CHECK(recur_model_save_memory(m, &so, NULL, 0, &len) == RECUR_E_BUFFER_TOO_SMALL && len > 0);

    /* A new head trained on two made-up sequences, through the by-value trainer config. */
    recur_model *h = NULL;
    CHECK(recur_model_with_new_head(m, 2, NULL, RECUR_OUTPUT_SOFTMAX, 7, &h) == RECUR_OK);
    float *inputs = calloc(6 * in, sizeof(float));
    for (size_t i = 0; i < 6 * in; i++) inputs[i] = (i < 3 * in ? 0.5f : -0.5f) * (float)(i % 5);
    size_t lengths[2] = {3, 3};
    int32_t classes[2] = {0, 1};
    recur_dataset d = recur_dataset_default();
    CHECK(d.struct_size == sizeof d);
    d.target_kind = RECUR_TARGET_SEQUENCE_CLASSES;
    d.inputs = inputs;
    d.inputs_len = 6 * in;
    d.lengths = lengths;
    d.num_sequences = 2;
    d.classes = classes;
    d.classes_len = 2;
    recur_trainer_config tc = recur_trainer_default_config();
    CHECK(tc.struct_size == sizeof tc && tc.epochs == 10);
    tc.loss = RECUR_LOSS_CROSS_ENTROPY;
    tc.learning_rate = 0.05;
    tc.epochs = 5;
    recur_trainer *t = NULL;
    CHECK(recur_trainer_create(h, &tc, &t) == RECUR_OK);
    recur_model *tuned = NULL;
    CHECK(recur_trainer_fit(t, &d, on_progress, NULL, &tuned) == RECUR_OK && tuned != NULL);
    CHECK(calls == 5);
    recur_evaluation e;
    CHECK(recur_model_evaluate(tuned, &d, RECUR_LOSS_CROSS_ENTROPY, &e) == RECUR_OK && e.count == 2 && e.accuracy >= 0);

    /* A model created through the by-value config. */
    recur_model_config mc = recur_model_default_config();
    CHECK(mc.struct_size == sizeof mc);
    uint32_t sizes[1] = {2};
    mc.input_size = 1;
    mc.num_layers = 1;
    mc.layer_sizes = sizes;
    mc.output_size = 1;
    size_t np = 0;
    CHECK(recur_model_config_num_params(&mc, &np) == RECUR_OK && np == 2 + 4 + 2 + 2 + 1);
    float params[11] = {0};
    recur_model *c = NULL;
    CHECK(recur_model_create(&mc, params, np, &c) == RECUR_OK);

    printf("ABI v1 client on recur %s: %d passed, %d failed (trained %d epochs, accuracy %.2f)\n",
           recur_version_string(), passed, failed, calls, e.accuracy);
    recur_model_free(c);
    recur_model_free(tuned);
    recur_trainer_free(t);
    recur_model_free(h);
    recur_session_free(s);
    recur_model_free(m);
    free(snap);
    free(x);
    free(y);
    free(inputs);
    return failed == 0 ? 0 : 1;
}
