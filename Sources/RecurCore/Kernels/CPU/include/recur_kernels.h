#ifndef RECUR_KERNELS_H
#define RECUR_KERNELS_H
#include <stddef.h>
#include <stdint.h>
/* CPU-specific kernels of librecur, selected at run time (internal; not exported).
 * Layout contract: cols and strides are multiples of 8 floats; w and x rows 32-byte aligned. */

/* out[r] = dot(w + r*stride, x, cols) + bias[r] for r < rows. */
typedef void (*rk_matvec_fn)(size_t rows, size_t cols, const float *w, size_t stride, const float *x,
                             const float *bias, float *out);

/* Batched: out[b*ostride + r] = dot(w + r*wstride, x + b*xstride, cols) + bias[r] for r < rows,
 * b < n. Every dot product is summed in exactly the order of the matvec kernel, so a batch of
 * n streams gives the bits of n separate matrix-vector products. */
typedef void (*rk_gemm_fn)(size_t rows, size_t cols, const float *w, size_t wstride, const float *x,
                           size_t xstride, size_t n, const float *bias, float *out, size_t ostride);

/* int8 rows with two column segments, each with its own per-row scales:
 * out[r] ~= (scale_a[r] * dot(q_r[0:split], x[0:split]) + scale_b[r] * dot(q_r[split:cols], x[split:cols])) + bias[r]
 * (split a multiple of 8, 0 < split <= cols; q rows padded with zero codes to cols; x 32-byte
 * aligned). The AVX2 kernel quantises x to int16 per segment into `scratch` (cols int16) and
 * sums exactly in int32 (see kernels.c for the error bound). */
typedef void (*rk_matvec_i8_fn)(size_t rows, size_t cols, size_t split, const int8_t *q, size_t stride,
                                const float *scale_a, const float *scale_b,
                                const float *x, const float *bias, float *out, int16_t *scratch);

/* Rank-k update of the upper triangle of a Gram matrix:
 * g[i*ld + j] += sum_r f[r*stride + i] * f[r*stride + j] for i <= j < n (j rounded up to
 * whole 16-column blocks), float accumulation over the rows given, added into double g. Entries
 * below the diagonal inside the diagonal blocks are written too: callers mirror the upper
 * triangle. */
typedef void (*rk_gram_fn)(const float *f, size_t rows, size_t n, size_t stride, double *g, size_t ld);

/* g[o][0:width] += sum_k d[k*outputs + o] * f[k][0:width] (g and f rows `width` apart, width a
 * multiple of 8, 32-byte aligned), each element summed in row order as g + d*f without FMA. */
typedef void (*rk_outer_fn)(size_t outputs, size_t width, float *g, const float *f, size_t rows, const float *d);

typedef struct {
    rk_matvec_fn matvec;
    rk_gemm_fn gemm;
    rk_matvec_i8_fn matvec_i8;
    rk_gram_fn gram;
    rk_outer_fn outer;
} rk_kernels;

/* The AVX2+FMA kernels, or all NULL when the CPU does not support them. */
rk_kernels rk_kernels_avx2(void);

/* Fork-join pool (pool.c): `helpers` threads besides the caller. rk_pool_run calls
 * fn(ctx, part, parts) for part 0 on the caller and 1..helpers on the helpers, and returns
 * when all are done. One rk_pool_run at a time per pool. NULL on failure. */
typedef void (*rk_task_fn)(void *ctx, int part, int parts);
typedef struct rk_pool rk_pool;
rk_pool *rk_pool_create(int helpers);
void rk_pool_run(rk_pool *pool, rk_task_fn fn, void *ctx);
int rk_pool_size(const rk_pool *pool);
void rk_pool_free(rk_pool *pool);
#endif
