/* Shared helpers of the C benchmarks: monotonic clock, a seeded LCG, medians, status check.
 * Define BENCH_SEED before including to change the generator's seed (default 42). */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef BENCH_SEED
#define BENCH_SEED 42
#endif

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rs = BENCH_SEED;
static float frand(float k) {
    rs = rs * 6364136223846793005ULL + 1442695040888963407ULL;
    return k * ((float)((rs >> 40) & 0xFFFFFF) / 8388608.0f - 1.0f);
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof(double), cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The common options: --quick (fewer repeats) and --json PATH (machine-readable results). */
static inline void bench_args(int argc, char **argv, int *quick, const char **json) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) *quick = 1;
        else if (!strcmp(argv[i], "--json") && i + 1 < argc) *json = argv[++i];
    }
}

#define CHECK(c)                                                                              \
    do {                                                                                      \
        recur_status s_ = (c);                                                                \
        if (s_) { fprintf(stderr, "%s: %s\n", #c, recur_last_error_message()); exit(1); }     \
    } while (0)
#endif
