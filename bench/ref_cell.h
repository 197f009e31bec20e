#ifndef REF_CELL_H
#define REF_CELL_H
/* Plain-C GRU and LSTM steps (one layer + linear head) over PyTorch-ordered stacked gate
 * matrices: Wih (G*H x I), Whh (G*H x H), bih, bhh (G*H), Wo (O x H), bo (O); G = 3 (r,z,n) or
 * 4 (i,f,g,o). `tmp` holds 2*G*H floats. */
typedef struct {
    int lstm, I, H, O;
    const float *Wih, *Whh, *bih, *bhh, *Wo, *bo;
    float *h, *c, *tmp;
} ref_cell;
void ref_cell_step(ref_cell *m, const float *x, float *y);
#endif
