/* CPU-specific kernels of librecur (AVX2 + FMA), selected at run time by rk_kernels_avx2().
 * The portable fallbacks are the SIMD8 Swift kernels in Sources/RecurCore/Kernels; the tests
 * check both against a scalar double-precision oracle (Tests/RecurCoreTests/KernelTests.swift).
 *
 * Summation order is part of the contract: each dot product keeps one 8-lane accumulator,
 * walks the columns in order with fused multiply-adds, and is reduced by hsum() below; the
 * batched and row-blocked variants do exactly the same per output, so batching never changes
 * a bit. */
#include "recur_kernels.h"

/* No contraction of a*b + c into fma behind our back: the int8 kernel's final expression
 * must round exactly like the portable Swift kernel (explicit _mm256_fmadd_ps stay fused). */
#pragma STDC FP_CONTRACT OFF

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

/* int8 rows. The activations are quantised per call to int16 with one scale per column
 * segment (x[0:split] and x[split:cols]; |error| <= max|x_seg| / 65534 per element), then
 * vpmaddwd forms exact int32 sums of int8 x int16 products, flushed into float every 512
 * columns (so no int32 overflow for any width), and
 *   out[r] = (sa[r]*xs_a) * sum_a + (sb[r]*xs_b) * sum_b + bias[r].
 * Per 16 weights this is one load, one sign extension, one multiply-add and one add, about
 * twice the rate of converting int8 to float and using FMA. */
AVX2 static float quantise16(const float *x, size_t n, int16_t *xq) {
    __m256 m = _mm256_setzero_ps();
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    for (size_t k = 0; k < n; k += 8) m = _mm256_max_ps(m, _mm256_and_ps(_mm256_load_ps(x + k), absmask));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
    float mx = _mm_cvtss_f32(h);
    if (!(mx > 0.0f)) {
        for (size_t k = 0; k < n; k++) xq[k] = 0;
        return 0.0f;
    }
    float scale = mx / 32767.0f;
    __m256 inv = _mm256_set1_ps(32767.0f / mx), lim = _mm256_set1_ps(32767.0f);
    for (size_t k = 0; k < n; k += 8) {
        __m256 v = _mm256_mul_ps(_mm256_load_ps(x + k), inv);
        v = _mm256_min_ps(_mm256_max_ps(v, _mm256_sub_ps(_mm256_setzero_ps(), lim)), lim);
        __m256i i = _mm256_cvtps_epi32(v); /* round to nearest even */
        __m128i p = _mm_packs_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256(i, 1));
        _mm_storeu_si128((__m128i *)(xq + k), p);
    }
    return scale;
}

AVX2 static inline int32_t hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
    return _mm_cvtsi128_si32(s);
}

/* Sum over columns [lo, hi) (multiples of 8) of 4 rows, in float (int32 blocks of 512 columns: |sum| <= 512*127*32767 < 2^31). */
AVX2 static inline void seg4(const int8_t *p0, size_t stride, const int16_t *xq, size_t lo, size_t hi, float *res) {
    const int8_t *p1 = p0 + stride, *p2 = p1 + stride, *p3 = p2 + stride;
    float f0 = 0, f1 = 0, f2 = 0, f3 = 0;
    for (size_t b = lo; b < hi; b += 512) {
        size_t e = b + 512 < hi ? b + 512 : hi;
        __m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256(), a2 = _mm256_setzero_si256(),
                a3 = _mm256_setzero_si256();
        size_t k = b;
        for (; k + 16 <= e; k += 16) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(xq + k));
            a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(p0 + k))), v));
            a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(p1 + k))), v));
            a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(p2 + k))), v));
            a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(p3 + k))), v));
        }
        if (k < e) { /* 8 columns left */
            __m128i v = _mm_loadu_si128((const __m128i *)(xq + k));
            a0 = _mm256_add_epi32(a0, _mm256_castsi128_si256(_mm_madd_epi16(_mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(p0 + k))), v)));
            a1 = _mm256_add_epi32(a1, _mm256_castsi128_si256(_mm_madd_epi16(_mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(p1 + k))), v)));
            a2 = _mm256_add_epi32(a2, _mm256_castsi128_si256(_mm_madd_epi16(_mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(p2 + k))), v)));
            a3 = _mm256_add_epi32(a3, _mm256_castsi128_si256(_mm_madd_epi16(_mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(p3 + k))), v)));
        }
        f0 += (float)hsum_i32(a0);
        f1 += (float)hsum_i32(a1);
        f2 += (float)hsum_i32(a2);
        f3 += (float)hsum_i32(a3);
    }
    res[0] = f0;
    res[1] = f1;
    res[2] = f2;
    res[3] = f3;
}

AVX2 static void matvec_i8_avx2(size_t rows, size_t cols, size_t split, const int8_t *q, size_t stride,
                                const float *sa, const float *sb, const float *x, const float *bias, float *out,
                                int16_t *xq) {
    float xa = quantise16(x, split, xq);
    float xb = split < cols ? quantise16(x + split, cols - split, xq + split) : 0.0f;
    float ra[4], rb[4] = {0, 0, 0, 0};
    size_t r = 0;
    for (; r + 4 <= rows; r += 4) {
        seg4(q + r * stride, stride, xq, 0, split, ra);
        if (split < cols) seg4(q + r * stride, stride, xq, split, cols, rb);
        for (int i = 0; i < 4; i++) out[r + i] = ((sa[r + i] * xa) * ra[i] + (sb[r + i] * xb) * rb[i]) + bias[r + i];
    }
    for (; r < rows; r++) {
        /* one row: run the 4-row code on rows r, r, r, r (reads only row r) */
        seg4(q + r * stride, 0, xq, 0, split, ra);
        rb[0] = 0;
        if (split < cols) seg4(q + r * stride, 0, xq, split, cols, rb);
        out[r] = ((sa[r] * xa) * ra[0] + (sb[r] * xb) * rb[0]) + bias[r];
    }
}

/* Gradient of a linear head: g[o][0:width] += sum_k d[k*outputs + o] * f[k*width : +width] for
 * o < outputs, k < rows, each element receiving its terms in row order as g + d*f (a multiply
 * and an add, no FMA), so the bits equal a loop of per-row axpys (and the portable kernel);
 * up to 8 gradient rows stay in registers while the rows of f stream past. */
AVX2 static void outer_avx2(size_t outputs, size_t width, float *g, const float *f, size_t rows, const float *d) {
    for (size_t o0 = 0; o0 < outputs; o0 += 8) {
        size_t no = outputs - o0 < 8 ? outputs - o0 : 8;
        for (size_t j = 0; j < width; j += 8) {
            __m256 acc[8];
            for (size_t i = 0; i < no; i++) acc[i] = _mm256_load_ps(g + (o0 + i) * width + j);
            if (no == 8) {
                for (size_t k = 0; k < rows; k++) {
                    __m256 fv = _mm256_load_ps(f + k * width + j);
                    const float *dk = d + k * outputs + o0;
                    for (size_t i = 0; i < 8; i++)
                        acc[i] = _mm256_add_ps(acc[i], _mm256_mul_ps(_mm256_broadcast_ss(dk + i), fv));
                }
            } else {
                for (size_t k = 0; k < rows; k++) {
                    __m256 fv = _mm256_load_ps(f + k * width + j);
                    const float *dk = d + k * outputs + o0;
                    for (size_t i = 0; i < no; i++)
                        acc[i] = _mm256_add_ps(acc[i], _mm256_mul_ps(_mm256_broadcast_ss(dk + i), fv));
                }
            }
            for (size_t i = 0; i < no; i++) _mm256_store_ps(g + (o0 + i) * width + j, acc[i]);
        }
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
    rk_kernels k = {0, 0, 0, 0, 0};
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        k.matvec = matvec_avx2;
        k.gemm = gemm_avx2;
        k.matvec_i8 = matvec_i8_avx2;
        k.gram = gram_avx2;
        k.outer = outer_avx2;
    }
    return k;
}
#else
rk_kernels rk_kernels_avx2(void) {
    rk_kernels k = {0, 0, 0, 0, 0};
    return k;
}
#endif
