/* Plain-C reference step of a stacked feedback network (row dot products), compiled
 * separately with -O3 -march=native -ffast-math, as in shared/reference/performance.md. */
#include <math.h>
#include <stddef.h>
#include "ref_step.h"

static float dot(const float *a, const float *b, int n) {
    float s = 0.0f;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

void ref_step(ref_model *m, const float *x, float *y) {
    const float *in = x;
    int in_n = m->input;
    for (int l = 0; l < m->layers; l++) {
        int H = m->hidden;
        float *h = m->h[l], *nh = m->tmp;
        for (int i = 0; i < H; i++)
            nh[i] = m->b[l][i] + dot(m->W[l] + (size_t)i * in_n, in, in_n) + dot(m->U[l] + (size_t)i * H, h, H);
        /* separate loop: with -ffast-math gcc vectorises tanhf through glibc's libmvec */
        for (int i = 0; i < H; i++) h[i] = tanhf(nh[i]);
        in = h;
        in_n = H;
    }
    for (int o = 0; o < m->output; o++) y[o] = m->bo[o] + dot(m->Wo + (size_t)o * in_n, in, in_n);
}
