#ifndef RECUR_KERNELS_H
#define RECUR_KERNELS_H
#include <stddef.h>
/* CPU-specific kernels of librecur, selected at run time (internal; not exported). */

/* out[r] = dot(w + r*stride, x, cols) + bias[r] for r < rows; cols and stride multiples of 8,
 * w and x 32-byte aligned. Returns 0 if this CPU lacks AVX2+FMA (nothing written). */
typedef void (*rk_matvec_fn)(size_t rows, size_t cols, const float *w, size_t stride, const float *x,
                             const float *bias, float *out);

/* The AVX2+FMA matrix-vector kernel, or NULL when the CPU does not support it. */
rk_matvec_fn rk_matvec_avx2(void);
#endif
