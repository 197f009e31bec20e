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

/* Packed panels (batches of streams, GEMM order): rk_pack16_fn copies rows into panels of 16
 * rows, column-major inside a panel (dst[16p*cols + k*16 + i] = w[(16p+i)*ws + k]; rows past
 * `rows` zero; dst holds ceil(rows/16)*16*cols floats, 32-byte aligned). rk_gemm_packed_fn:
 * out[b*os + r] = (fma chain over k of pk(r,k) * x[b*xs + k]) + bias[r] for r < rows, b < n:
 * each output is one fused multiply-add chain in column order, so any blocking or split by
 * panels or streams gives the same bits (but not the bits of the matvec kernel). */
typedef void (*rk_pack16_fn)(size_t rows, size_t cols, const float *w, size_t ws, float *dst);
typedef void (*rk_gemm_packed_fn)(size_t rows, size_t cols, const float *pk, const float *x, size_t xs, size_t n,
                                  const float *bias, float *out, size_t os);

/* tanh / sigmoid in place over count floats (a multiple of 8): the polynomials of the portable
 * SIMD8 functions (Kernels.swift: tanh8, sigmoid8) with fused multiply-adds; same accuracy
 * bound and special values (NaN stays NaN), not the same bits. */
typedef void (*rk_activation_fn)(float *v, size_t count);

typedef struct {
    rk_matvec_fn matvec;
    rk_gemm_fn gemm;
    rk_matvec_i8_fn matvec_i8;
    rk_gram_fn gram;
    rk_outer_fn outer;
    rk_pack16_fn pack16;
    rk_gemm_packed_fn gemm_packed;
    rk_activation_fn tanh;
    rk_activation_fn sigmoid;
    /* Adler-32 continuing from `adler` (1 for a new stream), as zlib's adler32(). */
    uint32_t (*adler32)(uint32_t adler, const uint8_t *p, size_t len);
} rk_kernels;

/* A pointer published once and then shared read-only by threads: rk_slot_load returns *slot
 * (acquire); rk_slot_publish stores `fresh` if *slot is still NULL and returns it, else returns
 * the pointer another thread published first (the caller then frees `fresh`). */
void *rk_slot_load(void *const *slot);
void *rk_slot_publish(void **slot, void *fresh);
/* Checkpoint decoding: n byte-shuffled little-endian float32 values at s (byte k of value i at
 * s[k*n + i]) into d. Any CPU (SSE2 on x86-64). */
void rk_unshuffle_f32(const uint8_t *s, size_t n, float *d);

/* Atomic 64-bit load (acquire) and store (release), for values computed once and cached. */
uint64_t rk_u64_load(const uint64_t *p);
void rk_u64_store(uint64_t *p, uint64_t v);

/* The AVX2+FMA kernels, or all NULL when the CPU does not support them. */
rk_kernels rk_kernels_avx2(void);

/* Fork-join pool (pool.c): `helpers` threads (1..31) besides the caller. rk_pool_run calls
 * fn(ctx, part, parts, worker) once for every part 0 <= part < parts (1..32), each on some
 * worker (0 = the calling thread, 1..helpers), and returns when all are done; results must
 * not depend on the worker (the worker index only picks per-thread scratch) nor on how the job
 * is cut: when its helpers would not pay off (see pool.c) the pool runs fn(ctx, 0, 1, 0). One
 * rk_pool_run at a time per pool. NULL on failure. */
typedef void (*rk_task_fn)(void *ctx, int part, int parts, int worker);
typedef struct rk_pool rk_pool;
rk_pool *rk_pool_create(int helpers);
void rk_pool_run(rk_pool *pool, rk_task_fn fn, void *ctx, int parts);
/* Workers (helpers + 1), and the parts a job should be cut into (2 per worker). */
int rk_pool_size(const rk_pool *pool);
int rk_pool_parts(const rk_pool *pool);
/* Runs so far, runs done alone (solo), and parts the helpers ran (tests, benchmarks). */
void rk_pool_stats(const rk_pool *pool, uint64_t *runs, uint64_t *solo_runs, uint64_t *helper_parts);
/* Tests: RK_POOL_ADAPTIVE (the default), RK_POOL_ALWAYS (every job split across the workers)
 * or RK_POOL_NEVER (every job on the caller, as one part). */
enum { RK_POOL_ADAPTIVE = 0, RK_POOL_ALWAYS = 1, RK_POOL_NEVER = 2 };
void rk_pool_set_mode(rk_pool *pool, int mode);
void rk_pool_free(rk_pool *pool);
#endif
