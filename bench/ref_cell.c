/* Plain-C reference step of one GRU or LSTM layer and a linear head, compiled separately with
 * -O3 -march=native -ffast-math: one fused pass over the stacked gate matrices (a row dot
 * product per gate row, input and recurrent halves), then the elementwise cell in separate
 * loops (with -ffast-math gcc vectorises expf/tanhf through glibc's libmvec). */
#include <math.h>
#include <stddef.h>
#include "ref_cell.h"

static float dot(const float *a, const float *b, int n) {
    float s = 0.0f;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static float sigm(float v) { return 1.0f / (1.0f + expf(-v)); }

void ref_cell_step(ref_cell *m, const float *x, float *y) {
    const int I = m->I, H = m->H, G = m->lstm ? 4 : 3;
    float *gi = m->tmp, *gh = m->tmp + G * H, *h = m->h;
    for (int r = 0; r < G * H; r++) {
        gi[r] = m->bih[r] + dot(m->Wih + (size_t)r * I, x, I);
        gh[r] = m->bhh[r] + dot(m->Whh + (size_t)r * H, h, H);
    }
    if (m->lstm) {
        float *c = m->c;
        for (int r = 0; r < 4 * H; r++) gi[r] += gh[r];
        for (int u = 0; u < H; u++) gi[u] = sigm(gi[u]);                  /* i */
        for (int u = H; u < 2 * H; u++) gi[u] = sigm(gi[u]);              /* f */
        for (int u = 2 * H; u < 3 * H; u++) gi[u] = tanhf(gi[u]);         /* g */
        for (int u = 3 * H; u < 4 * H; u++) gi[u] = sigm(gi[u]);          /* o */
        for (int u = 0; u < H; u++) c[u] = gi[H + u] * c[u] + gi[u] * gi[2 * H + u];
        for (int u = 0; u < H; u++) gh[u] = tanhf(c[u]);
        for (int u = 0; u < H; u++) h[u] = gi[3 * H + u] * gh[u];
    } else {
        for (int u = 0; u < 2 * H; u++) gi[u] = sigm(gi[u] + gh[u]);     /* r, z */
        for (int u = 0; u < H; u++) gi[2 * H + u] = tanhf(gi[2 * H + u] + gi[u] * gh[2 * H + u]); /* n */
        for (int u = 0; u < H; u++) h[u] = (1.0f - gi[H + u]) * gi[2 * H + u] + gi[H + u] * h[u];
    }
    for (int o = 0; o < m->O; o++) y[o] = m->bo[o] + dot(m->Wo + (size_t)o * H, h, H);
}
