/* A program built against the recur 0.2.0 header (frozen in Tests/c/abi_v2/), run on today's
 * library. Its recur_model_config ends before the fields 0.3.0 appended (layer_kinds,
 * proj_sizes): the struct sits at the end of a buffer whose following bytes are 0xA5 garbage,
 * so a library that read past struct_size would see non-NULL pointers there and fail or crash.
 * It also loads a GRU/LSTM checkpoint written by today's library and steps it through the
 * 0.2.0 API (sizes, state floats, hidden state, snapshots).
 *   usage: test_abi_v2 MODEL.recur GATED.recur */
#include <recur.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: test_abi_v2 MODEL.recur GATED.recur\n");
        return 2;
    }
    CHECK(strcmp(RECUR_VERSION_STRING, "0.2.0") == 0); /* really the old header */
    CHECK(recur_abi_version() == RECUR_ABI_VERSION);

    /* 1. recur_model_config_init(&c, sizeof c) with the 0.2.0 size, garbage after it. */
    static unsigned char arena[sizeof(recur_model_config) + 64];
    memset(arena, 0xA5, sizeof arena);
    recur_model_config *c = (recur_model_config *)(void *)arena;
    CHECK(sizeof *c == RECUR_MODEL_CONFIG_SIZE_V1);
    CHECK(recur_model_config_init(c, sizeof *c) == RECUR_OK && c->struct_size == sizeof *c);
    int untouched = 1;
    for (size_t i = sizeof *c; i < sizeof arena; i++) untouched &= arena[i] == 0xA5;
    CHECK(untouched); /* init wrote only the caller's struct */
    uint32_t sizes[2] = {6, 4};
    int32_t acts[2] = {RECUR_ACT_TANH, RECUR_ACT_RELU};
    c->input_size = 3;
    c->num_layers = 2;
    c->layer_sizes = sizes;
    c->activations = acts;
    c->output_size = 2;
    size_t n = 0;
    CHECK(recur_model_config_num_params(c, &n) == RECUR_OK && n == (3 * 6 + 36 + 6) + (6 * 4 + 16 + 4) + 2 * 4 + 2);
    float params[128];
    for (size_t i = 0; i < n && i < 128; i++) params[i] = 0.05f * (float)((int)(i % 11) - 5);
    recur_model *m = NULL;
    CHECK(recur_model_create(c, params, n, &m) == RECUR_OK && m != NULL);
    size_t layers = 0, floats = 0, sz = 0;
    int32_t act = -1;
    CHECK(recur_model_num_layers(m, &layers) == RECUR_OK && layers == 2);
    CHECK(recur_model_layer(m, 1, &sz, &act) == RECUR_OK && sz == 4 && act == RECUR_ACT_RELU);
    CHECK(recur_model_state_floats(m, &floats) == RECUR_OK && floats == 10);
    recur_model_free(m);

    /* 2. An existing elman file loads and steps as before. */
    recur_model *v = NULL;
    CHECK(recur_model_load(argv[1], NULL, &v) == RECUR_OK);
    recur_model_free(v);

    /* 3. A gated file from today's library through the old API. */
    recur_model *g = NULL;
    CHECK(recur_model_load(argv[2], NULL, &g) == RECUR_OK && g != NULL);
    if (!g) return 1;
    size_t in = 0, out = 0;
    CHECK(recur_model_input_size(g, &in) == RECUR_OK && recur_model_output_size(g, &out) == RECUR_OK);
    CHECK(recur_model_state_floats(g, &floats) == RECUR_OK && floats > 0 && floats <= 64);
    CHECK(recur_model_layer(g, 0, &sz, &act) == RECUR_OK && act == RECUR_ACT_TANH);
    recur_session *s = NULL;
    CHECK(recur_session_create(g, &s) == RECUR_OK);
    float x[64] = {0}, y[64], y2[64], h[64];
    for (size_t i = 0; i < in && i < 64; i++) x[i] = 0.3f * (float)i - 0.5f;
    CHECK(in <= 64 && out <= 64);
    CHECK(recur_session_step(s, x, in, y, out) == RECUR_OK);
    int finite = 1;
    for (size_t o = 0; o < out; o++) finite &= isfinite(y[o]) != 0;
    CHECK(finite);
    CHECK(recur_session_get_hidden(s, h, floats) == RECUR_OK);
    size_t bytes = 0;
    CHECK(recur_session_state_bytes(s, &bytes) == RECUR_OK && bytes == 32 + 4 * floats + 4);
    void *snap = malloc(bytes);
    CHECK(snap && recur_session_get_state(s, snap, bytes) == RECUR_OK);
    CHECK(recur_session_step(s, x, in, y, out) == RECUR_OK);
    CHECK(snap && recur_session_set_state(s, snap, bytes) == RECUR_OK);
    CHECK(recur_session_step(s, x, in, y2, out) == RECUR_OK && memcmp(y, y2, out * sizeof(float)) == 0);

    printf("ABI 0.2.0 client on recur %s: %d passed, %d failed (config of %zu bytes, gated model %zu -> %zu, %zu state floats)\n",
           recur_version_string(), passed, failed, sizeof *c, in, out, floats);
    free(snap);
    recur_session_free(s);
    recur_model_free(g);
    return failed == 0 ? 0 : 1;
}
