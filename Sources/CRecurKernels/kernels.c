/* CPU-specific kernels of librecur (AVX2 + FMA), selected at run time by rk_kernels_avx2().
 * The portable fallbacks are the SIMD8 Swift kernels in Sources/RecurCore/Kernels; the tests
 * check both against a scalar double-precision oracle (Tests/RecurCoreTests/KernelTests.swift).
 *
 * Summation order is part of the contract: each dot product keeps one 8-lane accumulator,
 * walks the columns in order with fused multiply-adds, and is reduced by hsum() below; the
 * batched and row-blocked variants do exactly the same per output, so batching never changes
 * a bit. */
#include "recur_kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static inline float hsum(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    __m128 s = _mm_add_ps(lo, hi);
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

AVX2 static inline float dot1(const float *p, const float *x, size_t cols) {
    __m256 a = _mm256_setzero_ps();
    for (size_t k = 0; k < cols; k += 8) a = _mm256_fmadd_ps(_mm256_load_ps(p + k), _mm256_load_ps(x + k), a);
    return hsum(a);
}

/* Four rows against one vector. */
AVX2 static inline void dot4(const float *p0, size_t stride, const float *x, size_t cols, const float *bias,
                             float *out) {
    const float *p1 = p0 + stride, *p2 = p1 + stride, *p3 = p2 + stride;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    for (size_t k = 0; k < cols; k += 8) {
        __m256 v = _mm256_load_ps(x + k);
        a0 = _mm256_fmadd_ps(_mm256_load_ps(p0 + k), v, a0);
        a1 = _mm256_fmadd_ps(_mm256_load_ps(p1 + k), v, a1);
        a2 = _mm256_fmadd_ps(_mm256_load_ps(p2 + k), v, a2);
        a3 = _mm256_fmadd_ps(_mm256_load_ps(p3 + k), v, a3);
    }
    out[0] = hsum(a0) + bias[0];
    out[1] = hsum(a1) + bias[1];
    out[2] = hsum(a2) + bias[2];
    out[3] = hsum(a3) + bias[3];
}

AVX2 static void matvec_avx2(size_t rows, size_t cols, const float *w, size_t stride, const float *x,
                             const float *bias, float *out) {
    size_t r = 0;
    for (; r + 4 <= rows; r += 4) dot4(w + r * stride, stride, x, cols, bias + r, out + r);
    for (; r < rows; r++) out[r] = dot1(w + r * stride, x, cols) + bias[r];
}

/* Register block: 4 rows x 2 streams (8 accumulators); streams in blocks of 16 so their
 * vectors stay in L1 while the rows stream past. */
AVX2 static void gemm_avx2(size_t rows, size_t cols, const float *w, size_t ws, const float *x, size_t xs,
                           size_t n, const float *bias, float *out, size_t os) {
    enum { SB = 16 };
    for (size_t b0 = 0; b0 < n; b0 += SB) {
        size_t b1 = b0 + SB < n ? b0 + SB : n;
        size_t r = 0;
        for (; r + 4 <= rows; r += 4) {
            const float *p0 = w + r * ws, *p1 = p0 + ws, *p2 = p1 + ws, *p3 = p2 + ws;
            size_t b = b0;
            for (; b + 2 <= b1; b += 2) {
                const float *xa = x + b * xs, *xb = xa + xs;
                __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(),
                       a3 = _mm256_setzero_ps();
                __m256 c0 = _mm256_setzero_ps(), c1 = _mm256_setzero_ps(), c2 = _mm256_setzero_ps(),
                       c3 = _mm256_setzero_ps();
                for (size_t k = 0; k < cols; k += 8) {
                    __m256 va = _mm256_load_ps(xa + k), vb = _mm256_load_ps(xb + k);
                    __m256 w0 = _mm256_load_ps(p0 + k), w1 = _mm256_load_ps(p1 + k);
                    a0 = _mm256_fmadd_ps(w0, va, a0);
                    c0 = _mm256_fmadd_ps(w0, vb, c0);
                    a1 = _mm256_fmadd_ps(w1, va, a1);
                    c1 = _mm256_fmadd_ps(w1, vb, c1);
                    __m256 w2 = _mm256_load_ps(p2 + k), w3 = _mm256_load_ps(p3 + k);
                    a2 = _mm256_fmadd_ps(w2, va, a2);
                    c2 = _mm256_fmadd_ps(w2, vb, c2);
                    a3 = _mm256_fmadd_ps(w3, va, a3);
                    c3 = _mm256_fmadd_ps(w3, vb, c3);
                }
                float *oa = out + b * os + r, *ob = oa + os;
                oa[0] = hsum(a0) + bias[r];
                oa[1] = hsum(a1) + bias[r + 1];
                oa[2] = hsum(a2) + bias[r + 2];
                oa[3] = hsum(a3) + bias[r + 3];
                ob[0] = hsum(c0) + bias[r];
                ob[1] = hsum(c1) + bias[r + 1];
                ob[2] = hsum(c2) + bias[r + 2];
                ob[3] = hsum(c3) + bias[r + 3];
            }
            if (b < b1) dot4(p0, ws, x + b * xs, cols, bias + r, out + b * os + r);
        }
        for (; r < rows; r++)
            for (size_t b = b0; b < b1; b++) out[b * os + r] = dot1(w + r * ws, x + b * xs, cols) + bias[r];
    }
}

/* int8 rows: 8 int8 -> 8 int32 -> 8 float, FMA with x; two column segments with their own
 * per-row scales ([0, split) and [split, cols)). */
AVX2 static inline __m256 ld8(const int8_t *q) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)q)));
}

AVX2 static void matvec_i8_avx2(size_t rows, size_t cols, size_t split, const int8_t *q, size_t stride,
                                const float *sa, const float *sb, const float *x, const float *bias, float *out) {
    size_t r = 0;
    for (; r + 4 <= rows; r += 4) {
        const int8_t *p0 = q + r * stride, *p1 = p0 + stride, *p2 = p1 + stride, *p3 = p2 + stride;
        float res[2][4];
        size_t lo = 0;
        for (int seg = 0; seg < 2; seg++) {
            size_t hi = seg ? cols : split;
            __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(),
                   a3 = _mm256_setzero_ps();
            for (size_t k = lo; k < hi; k += 8) {
                __m256 v = _mm256_load_ps(x + k);
                a0 = _mm256_fmadd_ps(ld8(p0 + k), v, a0);
                a1 = _mm256_fmadd_ps(ld8(p1 + k), v, a1);
                a2 = _mm256_fmadd_ps(ld8(p2 + k), v, a2);
                a3 = _mm256_fmadd_ps(ld8(p3 + k), v, a3);
            }
            res[seg][0] = hsum(a0);
            res[seg][1] = hsum(a1);
            res[seg][2] = hsum(a2);
            res[seg][3] = hsum(a3);
            lo = hi;
        }
        for (int i = 0; i < 4; i++) out[r + i] = (sa[r + i] * res[0][i] + sb[r + i] * res[1][i]) + bias[r + i];
    }
    for (; r < rows; r++) {
        const int8_t *p = q + r * stride;
        __m256 a = _mm256_setzero_ps(), c = _mm256_setzero_ps();
        for (size_t k = 0; k < split; k += 8) a = _mm256_fmadd_ps(ld8(p + k), _mm256_load_ps(x + k), a);
        for (size_t k = split; k < cols; k += 8) c = _mm256_fmadd_ps(ld8(p + k), _mm256_load_ps(x + k), c);
        out[r] = (sa[r] * hsum(a) + sb[r] * hsum(c)) + bias[r];
    }
}

/* Gram update, register block 4 rows of G x 16 columns (8 accumulators). */
AVX2 static void gram_avx2(const float *f, size_t rows, size_t n, size_t stride, double *g, size_t ld) {
    for (size_t j0 = 0; j0 < n; j0 += 16) {
        size_t iend = j0 + 16 < n ? j0 + 16 : n;
        for (size_t i0 = 0; i0 < iend; i0 += 4) {
            size_t ni = iend - i0 < 4 ? iend - i0 : 4;
            __m256 acc[4][2];
            for (int i = 0; i < 4; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
            if (ni == 4) {
                for (size_t r = 0; r < rows; r++) {
                    const float *row = f + r * stride;
                    __m256 v0 = _mm256_load_ps(row + j0);
                    __m256 v1 = j0 + 8 < stride ? _mm256_load_ps(row + j0 + 8) : _mm256_setzero_ps();
                    for (int i = 0; i < 4; i++) {
                        __m256 s = _mm256_broadcast_ss(row + i0 + i);
                        acc[i][0] = _mm256_fmadd_ps(s, v0, acc[i][0]);
                        acc[i][1] = _mm256_fmadd_ps(s, v1, acc[i][1]);
                    }
                }
            } else {
                for (size_t r = 0; r < rows; r++) {
                    const float *row = f + r * stride;
                    __m256 v0 = _mm256_load_ps(row + j0);
                    __m256 v1 = j0 + 8 < stride ? _mm256_load_ps(row + j0 + 8) : _mm256_setzero_ps();
                    for (size_t i = 0; i < ni; i++) {
                        __m256 s = _mm256_broadcast_ss(row + i0 + i);
                        acc[i][0] = _mm256_fmadd_ps(s, v0, acc[i][0]);
                        acc[i][1] = _mm256_fmadd_ps(s, v1, acc[i][1]);
                    }
                }
            }
            size_t nj = n - j0 < 16 ? n - j0 : 16;
            for (size_t i = 0; i < ni; i++) {
                float tmp[16];
                _mm256_storeu_ps(tmp, acc[i][0]);
                _mm256_storeu_ps(tmp + 8, acc[i][1]);
                double *gi = g + (i0 + i) * ld + j0;
                for (size_t j = 0; j < nj; j++) gi[j] += (double)tmp[j];
            }
        }
    }
}

rk_kernels rk_kernels_avx2(void) {
    rk_kernels k = {0, 0, 0, 0};
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        k.matvec = matvec_avx2;
        k.gemm = gemm_avx2;
        k.matvec_i8 = matvec_i8_avx2;
        k.gram = gram_avx2;
    }
    return k;
}
#else
rk_kernels rk_kernels_avx2(void) {
    rk_kernels k = {0, 0, 0, 0};
    return k;
}
#endif
