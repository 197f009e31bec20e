#ifndef REF_STEP_H
#define REF_STEP_H
typedef struct {
    int input, hidden, output, layers;
    float *W[4], *U[4], *b[4], *h[4];
    float *Wo, *bo, *tmp;
} ref_model;
void ref_step(ref_model *m, const float *x, float *y);
#endif
