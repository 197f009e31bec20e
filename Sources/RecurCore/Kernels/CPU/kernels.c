/* CPU-specific kernels of librecur (AVX2 + FMA), selected at run time by rk_kernels_avx2().
 * The portable fallbacks are the SIMD8 Swift kernels in Sources/RecurCore/Kernels; the tests
 * check both against a scalar double-precision oracle (Tests/RecurCoreTests/KernelTests.swift).
 *
 * Summation order is part of the contract: each dot product keeps one 8-lane accumulator,
 * walks the columns in order with fused multiply-adds, and is reduced by hsum() below; the
 * row-blocked batched variant (gemm_avx2) does exactly the same per output, so it gives the
 * bits of matvec. The packed GEMM kernel (batches of 4+ streams) has its own order - one fma
 * chain per output - and is not bit-identical to matvec. */
#include "recur_kernels.h"

/* No contraction of a*b + c into fma behind our back: the int8 kernel's final expression
 * must round exactly like the portable Swift kernel (explicit _mm256_fmadd_ps stay fused). */
#pragma STDC FP_CONTRACT OFF

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Checkpoint decoding (any CPU): d[i] = the little-endian float32 whose bytes are s[i], s[n+i],
 * s[2n+i], s[3n+i] (the byte-shuffled layout of a tensor). SSE2 (baseline x86-64) interleaves
 * 16 floats per iteration; elsewhere a plain loop. */
void rk_unshuffle_f32(const uint8_t *s, size_t n, float *d) {
    size_t i = 0;
#if defined(__SSE2__)
    for (; i + 16 <= n; i += 16) {
        __m128i b0 = _mm_loadu_si128((const __m128i *)(s + i)), b1 = _mm_loadu_si128((const __m128i *)(s + n + i)),
                b2 = _mm_loadu_si128((const __m128i *)(s + 2 * n + i)), b3 = _mm_loadu_si128((const __m128i *)(s + 3 * n + i));
        __m128i l01 = _mm_unpacklo_epi8(b0, b1), h01 = _mm_unpackhi_epi8(b0, b1);
        __m128i l23 = _mm_unpacklo_epi8(b2, b3), h23 = _mm_unpackhi_epi8(b2, b3);
        _mm_storeu_si128((__m128i *)(d + i), _mm_unpacklo_epi16(l01, l23));
        _mm_storeu_si128((__m128i *)(d + i + 4), _mm_unpackhi_epi16(l01, l23));
        _mm_storeu_si128((__m128i *)(d + i + 8), _mm_unpacklo_epi16(h01, h23));
        _mm_storeu_si128((__m128i *)(d + i + 12), _mm_unpackhi_epi16(h01, h23));
    }
#endif
    for (; i < n; i++) {
        uint32_t v = (uint32_t)s[i] | (uint32_t)s[n + i] << 8 | (uint32_t)s[2 * n + i] << 16 | (uint32_t)s[3 * n + i] << 24;
        memcpy(d + i, &v, 4);
    }
}

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

/* Packed panels for batches (GEMM order). rk_pack16 stores rows in panels of 16:
 * panel[k*16 + i] = w[(16p + i)*ws + k], rows past `rows` as zeros. gemm_packed_avx2 computes
 * every output as one fused multiply-add chain over the columns in order, then adds the bias:
 *   acc = 0; for k < cols: acc = fma(w[r][k], x[b][k], acc);  out = acc + bias[r]
 * whatever the blocking, so splitting rows (by panels) or streams never changes a bit. Register
 * block: 16 rows x up to 6 streams (12 accumulators; FMA latency x throughput needs >= 8). */
AVX2 static inline void tr8(const float *src, size_t ss, float *dst, size_t ds) {
    __m256 r0 = _mm256_load_ps(src), r1 = _mm256_load_ps(src + ss), r2 = _mm256_load_ps(src + 2 * ss),
           r3 = _mm256_load_ps(src + 3 * ss), r4 = _mm256_load_ps(src + 4 * ss), r5 = _mm256_load_ps(src + 5 * ss),
           r6 = _mm256_load_ps(src + 6 * ss), r7 = _mm256_load_ps(src + 7 * ss);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3),
           t3 = _mm256_unpackhi_ps(r2, r3), t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
           t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE),
           u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE),
           u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
           u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_store_ps(dst, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_store_ps(dst + ds, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_store_ps(dst + 2 * ds, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_store_ps(dst + 3 * ds, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_store_ps(dst + 4 * ds, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_store_ps(dst + 5 * ds, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_store_ps(dst + 6 * ds, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_store_ps(dst + 7 * ds, _mm256_permute2f128_ps(u3, u7, 0x31));
}

AVX2 static void pack16_avx2(size_t rows, size_t cols, const float *w, size_t ws, float *dst) {
    for (size_t r = 0; r < rows; r += 16) {
        float *panel = dst + r * cols;
        size_t m = rows - r < 16 ? rows - r : 16;
        for (size_t g = 0; g < 16; g += 8) {
            if (g + 8 <= m) {
                for (size_t k = 0; k < cols; k += 8) tr8(w + (r + g) * ws + k, ws, panel + k * 16 + g, 16);
            } else {
                for (size_t k = 0; k < cols; k++)
                    for (size_t i = g; i < g + 8; i++) panel[k * 16 + i] = i < m ? w[(r + i) * ws + k] : 0.0f;
            }
        }
    }
}

AVX2 static inline void store16(float *o, size_t m, __m256 lo, __m256 hi, const float *bias) {
    if (m == 16) {
        _mm256_storeu_ps(o, _mm256_add_ps(lo, _mm256_loadu_ps(bias)));
        _mm256_storeu_ps(o + 8, _mm256_add_ps(hi, _mm256_loadu_ps(bias + 8)));
        return;
    }
    float t[16] __attribute__((aligned(32)));
    _mm256_store_ps(t, lo);
    _mm256_store_ps(t + 8, hi);
    for (size_t i = 0; i < m; i++) o[i] = t[i] + bias[i];
}

/* One panel (m <= 16 valid rows) against nb <= 6 streams; nb is a constant at every call. */
AVX2 static inline __attribute__((always_inline)) void pblock(size_t nb, const float *panel, size_t cols,
                                                              const float *x, size_t xs, size_t m,
                                                              const float *bias, float *out, size_t os) {
    __m256 lo[6], hi[6];
#pragma GCC unroll 6
    for (size_t j = 0; j < nb; j++) lo[j] = hi[j] = _mm256_setzero_ps();
    const float *p = panel;
    for (size_t k = 0; k < cols; k++, p += 16) {
        __m256 wl = _mm256_load_ps(p), wh = _mm256_load_ps(p + 8);
#pragma GCC unroll 6
        for (size_t j = 0; j < nb; j++) {
            __m256 v = _mm256_broadcast_ss(x + j * xs + k);
            lo[j] = _mm256_fmadd_ps(wl, v, lo[j]);
            hi[j] = _mm256_fmadd_ps(wh, v, hi[j]);
        }
    }
#pragma GCC unroll 6
    for (size_t j = 0; j < nb; j++) store16(out + j * os, m, lo[j], hi[j], bias);
}

AVX2 static void gemm_packed_avx2(size_t rows, size_t cols, const float *pk, const float *x, size_t xs,
                                  size_t n, const float *bias, float *out, size_t os) {
    for (size_t r = 0; r < rows; r += 16) {
        size_t m = rows - r < 16 ? rows - r : 16;
        const float *panel = pk + r * cols;
        size_t b = 0;
        while (b < n) {
            /* blocks of 6 streams; the last 7..10 split into two blocks of >= 3 (4+3, 4+4, 5+4, 5+5) */
            size_t rem = n - b;
            size_t nb = rem >= 11 || rem == 6 ? 6 : rem <= 6 ? rem : rem <= 8 ? 4 : 5;
            const float *xb = x + b * xs;
            float *ob = out + b * os + r;
            switch (nb) {
            case 6: pblock(6, panel, cols, xb, xs, m, bias + r, ob, os); break;
            case 5: pblock(5, panel, cols, xb, xs, m, bias + r, ob, os); break;
            case 4: pblock(4, panel, cols, xb, xs, m, bias + r, ob, os); break;
            case 3: pblock(3, panel, cols, xb, xs, m, bias + r, ob, os); break;
            case 2: pblock(2, panel, cols, xb, xs, m, bias + r, ob, os); break;
            default: pblock(1, panel, cols, xb, xs, m, bias + r, ob, os); break;
            }
            b += nb;
        }
    }
}

/* tanh and sigmoid in place over `count` floats (a multiple of 8): the Cephes polynomials of
 * the portable SIMD8 functions in Kernels.swift, with fused multiply-adds (shorter dependency
 * chains: 1.6x faster than the unfused port here) and compare/blend lane selects. Not the
 * portable bits (the FMA matvec already differs); same accuracy bound (3e-7, KernelTests) and
 * the same special values: NaN stays NaN (so the step's overflow check still sees it),
 * +-Inf gives +-1, |x| >= 10 gives exactly +-1. */
AVX2 static inline __m256 exp8(__m256 xin) {
    const __m256 magic = _mm256_set1_ps(12582912.0f); /* 1.5 * 2^23: round to nearest */
    __m256 x = _mm256_min_ps(_mm256_max_ps(xin, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
    __m256 t = _mm256_fmadd_ps(x, _mm256_set1_ps(1.4426950408889634f), magic);
    __m256 n = _mm256_sub_ps(t, magic);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.1219444005469058e-4f), r);
    __m256 z = _mm256_mul_ps(r, r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    __m256 y = _mm256_add_ps(_mm256_fmadd_ps(p, z, r), _mm256_set1_ps(1.0f));
    __m256i ni = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_castps_si256(magic));
    __m256 pow2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(ni, _mm256_set1_epi32(127)), 23));
    return _mm256_mul_ps(y, pow2);
}
AVX2 static void tanh_avx2(float *v, size_t count) {
    const __m256 one = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f), signbit = _mm256_set1_ps(-0.0f);
    for (size_t k = 0; k < count; k += 8) {
        __m256 x = _mm256_loadu_ps(v + k);
        __m256 ax = _mm256_andnot_ps(signbit, x);
        __m256 s = _mm256_mul_ps(x, x);
        __m256 p = _mm256_set1_ps(-5.70498872745e-3f);
        p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(2.06390887954e-2f));
        p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(-5.37397155531e-2f));
        p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(1.33314422036e-1f));
        p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(-3.33332819422e-1f));
        __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, s), x, x);
        __m256 e = exp8(_mm256_mul_ps(_mm256_min_ps(ax, _mm256_set1_ps(10.0f)), two));
        __m256 big = _mm256_or_ps(_mm256_sub_ps(one, _mm256_div_ps(two, _mm256_add_ps(e, one))), _mm256_and_ps(x, signbit));
        /* small where |x| < 0.625 or x is NaN (unordered: NaN propagates through `small`) */
        __m256 use_small = _mm256_cmp_ps(ax, _mm256_set1_ps(0.625f), _CMP_NGE_UQ);
        _mm256_storeu_ps(v + k, _mm256_blendv_ps(big, small, use_small));
    }
}
AVX2 static void sigmoid_avx2(float *v, size_t count) {
    const __m256 one = _mm256_set1_ps(1.0f), signbit = _mm256_set1_ps(-0.0f);
    for (size_t k = 0; k < count; k += 8) {
        __m256 x = _mm256_loadu_ps(v + k);
        __m256 r = _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_xor_ps(x, signbit))));
        /* exp8 clamps, which would turn NaN into a number: keep NaN */
        _mm256_storeu_ps(v + k, _mm256_blendv_ps(r, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q)));
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

/* A 128-bit vector in the low half of a 256-bit one whose high half is zero (a plain
 * _mm256_castsi128_si256 leaves the high half undefined: whatever the register held). */
AVX2 static inline __m256i zext128(__m128i v) { return _mm256_inserti128_si256(_mm256_setzero_si256(), v, 0); }

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
            a0 = _mm256_add_epi32(a0, zext128(_mm_madd_epi16(_mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(p0 + k))), v)));
            a1 = _mm256_add_epi32(a1, zext128(_mm_madd_epi16(_mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(p1 + k))), v)));
            a2 = _mm256_add_epi32(a2, zext128(_mm_madd_epi16(_mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(p2 + k))), v)));
            a3 = _mm256_add_epi32(a3, zext128(_mm_madd_epi16(_mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(p3 + k))), v)));
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

/* Adler-32 (RFC 1950) with AVX2: per 32-byte block, byte sums (vpsadbw) and position-weighted
 * sums (vpmaddubsw by 32..1), combined in 64-bit and reduced mod 65521 every 5,536 bytes.
 * Equal to zlib's adler32() for any input (KernelTests). */
AVX2 static uint32_t hsum_u32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
    return (uint32_t)_mm_cvtsi128_si32(s);
}
AVX2 static uint32_t adler32_avx2(uint32_t adler, const uint8_t *p, size_t len) {
    const uint32_t MOD = 65521;
    uint64_t a = adler & 0xFFFF, b = adler >> 16;
    const __m256i wts = _mm256_setr_epi8(32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13,
                                         12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1);
    const __m256i ones = _mm256_set1_epi16(1), zero = _mm256_setzero_si256();
    while (len >= 32) {
        size_t n = (len < 5536 ? len : 5536) & ~(size_t)31;
        len -= n;
        __m256i vps = zero, vs1 = zero, vs2 = zero;
        for (size_t k = 0; k < n; k += 32) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(p + k));
            vps = _mm256_add_epi32(vps, vs1);
            vs1 = _mm256_add_epi32(vs1, _mm256_sad_epu8(v, zero));
            vs2 = _mm256_add_epi32(vs2, _mm256_madd_epi16(_mm256_maddubs_epi16(v, wts), ones));
        }
        p += n;
        b += a * n + 32 * (uint64_t)hsum_u32(vps) + hsum_u32(vs2);
        a += hsum_u32(vs1);
        a %= MOD;
        b %= MOD;
    }
    while (len--) {
        a += *p++;
        b += a;
    }
    return (uint32_t)((b % MOD) << 16 | (a % MOD));
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
    rk_kernels k = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        k.matvec = matvec_avx2;
        k.gemm = gemm_avx2;
        k.matvec_i8 = matvec_i8_avx2;
        k.gram = gram_avx2;
        k.outer = outer_avx2;
        k.pack16 = pack16_avx2;
        k.gemm_packed = gemm_packed_avx2;
        k.tanh = tanh_avx2;
        k.adler32 = adler32_avx2;
        k.sigmoid = sigmoid_avx2;
    }
    return k;
}
#else
rk_kernels rk_kernels_avx2(void) {
    rk_kernels k = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    return k;
}
#endif
