#include "recur_kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

__attribute__((target("avx2,fma")))
static float hsum(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    __m128 s = _mm_add_ps(lo, hi);
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma")))
static void matvec_avx2(size_t rows, size_t cols, const float *w, size_t stride, const float *x, const float *bias,
                        float *out) {
    size_t r = 0;
    for (; r + 4 <= rows; r += 4) {
        const float *p0 = w + r * stride, *p1 = p0 + stride, *p2 = p1 + stride, *p3 = p2 + stride;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        for (size_t k = 0; k < cols; k += 8) {
            __m256 v = _mm256_load_ps(x + k);
            a0 = _mm256_fmadd_ps(_mm256_load_ps(p0 + k), v, a0);
            a1 = _mm256_fmadd_ps(_mm256_load_ps(p1 + k), v, a1);
            a2 = _mm256_fmadd_ps(_mm256_load_ps(p2 + k), v, a2);
            a3 = _mm256_fmadd_ps(_mm256_load_ps(p3 + k), v, a3);
        }
        out[r] = hsum(a0) + bias[r];
        out[r + 1] = hsum(a1) + bias[r + 1];
        out[r + 2] = hsum(a2) + bias[r + 2];
        out[r + 3] = hsum(a3) + bias[r + 3];
    }
    for (; r < rows; r++) {
        const float *p0 = w + r * stride;
        __m256 a0 = _mm256_setzero_ps();
        for (size_t k = 0; k < cols; k += 8) a0 = _mm256_fmadd_ps(_mm256_load_ps(p0 + k), _mm256_load_ps(x + k), a0);
        out[r] = hsum(a0) + bias[r];
    }
}

rk_matvec_fn rk_matvec_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? matvec_avx2 : (rk_matvec_fn)0;
}
#else
rk_matvec_fn rk_matvec_avx2(void) { return (rk_matvec_fn)0; }
#endif
