/* Benchmark: cold start (process start -> first step output) beside a plain-C program doing
 * the same from raw float32 weights, and checkpoint size and load time per MB for f32/f16/i8
 * storage. (Resident bytes per parameter and per session: Tests/reliability/memory.c figures,
 * which bench/run.sh runs too.)
 *   misc_bench [--quick] [--json PATH] [--dir DIR]
 * The cold-start children are bench/coldstart.c built twice: coldstart_recur (linked to
 * librecur) and coldstart_plain (plain C, not linked to it). */
#define _GNU_SOURCE
#include <recur.h>

#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ref_step.h"

extern char **environ;

#define BENCH_SEED 7
#include "bench_util.h"

/* Spawn `prog path`, return ms from just before the spawn to the child's output. */
static double spawn_ms(const char *prog, const char *path, double *y0) {
    int fds[2];
    if (pipe(fds)) return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    char *argv[] = {(char *)prog, (char *)path, NULL};
    pid_t pid;
    double t0 = now();
    if (posix_spawn(&pid, prog, &fa, NULL, argv, environ)) return -1;
    close(fds[1]);
    char buf[128] = {0};
    ssize_t got = 0, k;
    while (got < (ssize_t)sizeof buf - 1 && (k = read(fds[0], buf + got, sizeof buf - 1 - (size_t)got)) > 0) got += k;
    close(fds[0]);
    int st;
    waitpid(pid, &st, 0);
    posix_spawn_file_actions_destroy(&fa);
    double t1 = 0;
    if (sscanf(buf, "%lf %lf", y0, &t1) != 2) return -1;
    return (t1 - t0) * 1e3;
}

int main(int argc, char **argv) {
    int quick = 0;
    const char *json = NULL, *dir = "/tmp";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--json") && i + 1 < argc) json = argv[++i];
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
    }
    char self[4096], prog_recur[4200], prog_plain[4200];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0) return 1;
    self[sl] = 0;
    char *slash = strrchr(self, '/');
    if (slash) *slash = 0;
    snprintf(prog_recur, sizeof prog_recur, "%s/coldstart_recur", self);
    snprintf(prog_plain, sizeof prog_plain, "%s/coldstart_plain", self);
    FILE *js = json ? fopen(json, "w") : NULL;
    if (js) fprintf(js, "{\"recur_version\": \"%s\", \"kernels\": \"%s\",\n", recur_version_string(), recur_kernels());
    printf("recur %s (%s kernels)\n\n", recur_version_string(), recur_kernels());

    /* 1. Checkpoint size and load time, two shapes x three storage types. */
    printf("checkpoint size (%% of raw float32 bytes) and load time (recur_model_load_memory, median)\n");
    printf("%-16s %6s %10s %8s %10s %10s\n", "shape", "dtype", "bytes", "% raw", "load ms", "ms per MB");
    if (js) fprintf(js, "\"checkpoints\": [\n");
    const int shapes[2][3] = {{64, 256, 10}, {256, 1024, 32}};
    const char *dn[3] = {"f32", "f16", "i8"};
    const int dt[3] = {RECUR_DTYPE_F32, RECUR_DTYPE_F16, RECUR_DTYPE_I8};
    char path64[4096] = "", raw64[4096] = "";
    for (int si = 0; si < 2; si++) {
        uint32_t H = (uint32_t)shapes[si][1];
        recur_model_config cfg;
        recur_model_config_init(&cfg, sizeof cfg);
        cfg.input_size = (uint32_t)shapes[si][0];
        cfg.num_layers = 1;
        cfg.layer_sizes = &H;
        cfg.output_size = (uint32_t)shapes[si][2];
        size_t n = 0;
        CHECK(recur_model_config_num_params(&cfg, &n));
        float *p = malloc(n * sizeof(float));
        /* PyTorch's default init: uniform in +-1/sqrt(fan_in) */
        for (size_t i = 0; i < n; i++) p[i] = frand(1.0f / sqrtf((float)(shapes[si][0] + H)));
        recur_model *m = NULL;
        CHECK(recur_model_create(&cfg, p, n, &m));
        for (int d = 0; d < 3; d++) {
            recur_save_options so;
            recur_save_options_init(&so, sizeof so);
            so.weight_dtype = dt[d];
            size_t size = 0;
            recur_status qs = recur_model_save_memory(m, &so, NULL, 0, &size);
            if (qs != RECUR_OK && qs != RECUR_E_BUFFER_TOO_SMALL) CHECK(qs);
            unsigned char *buf = malloc(size);
            CHECK(recur_model_save_memory(m, &so, buf, size, &size));
            int reps = quick ? 5 : 21;
            double t[32];
            for (int r = 0; r < reps; r++) {
                recur_model *b = NULL;
                double t0 = now();
                CHECK(recur_model_load_memory(buf, size, NULL, &b));
                t[r] = (now() - t0) * 1e3;
                recur_model_free(b);
            }
            double ms = median(t, reps), pct = 100.0 * (double)size / (4.0 * (double)n);
            char name[32];
            snprintf(name, sizeof name, "%d,%d,%d", shapes[si][0], shapes[si][1], shapes[si][2]);
            printf("%-16s %6s %10zu %7.1f%% %10.3f %10.2f\n", name, dn[d], size, pct, ms, ms / (size / 1048576.0));
            if (js)
                fprintf(js, "  {\"shape\": [%d, %d, %d], \"dtype\": \"%s\", \"bytes\": %zu, \"percent_of_raw_f32\": %.2f, \"load_ms\": %.4f, \"load_ms_per_mb\": %.3f},\n",
                        shapes[si][0], shapes[si][1], shapes[si][2], dn[d], size, pct, ms, ms / (size / 1048576.0));
            if (si == 0 && d == 0) {
                snprintf(path64, sizeof path64, "%s/coldstart-64-256-10.recur", dir);
                FILE *f = fopen(path64, "wb");
                fwrite(buf, 1, size, f);
                fclose(f);
                snprintf(raw64, sizeof raw64, "%s/coldstart-64-256-10.f32", dir);
                f = fopen(raw64, "wb");
                fwrite(p, sizeof(float), n, f);
                fclose(f);
            }
            free(buf);
        }
        recur_model_free(m);
        free(p);
    }
    if (js) fprintf(js, "  {}\n],\n");

    /* 2. Cold start, recur and plain C alternately. (Resident bytes: Tests/reliability/memory.c
     * figures, which bench/run.sh runs after this.) */
    int reps = quick ? 7 : 31;
    double tr[64], tc[64], y0r = 0, y0c = 0;
    for (int r = -2; r < reps; r++) {
        double a = spawn_ms(prog_recur, path64, &y0r);
        double b = spawn_ms(prog_plain, raw64, &y0c);
        if (a < 0 || b < 0) {
            fprintf(stderr, "cold start child failed\n");
            return 1;
        }
        if (r >= 0) {
            tr[r] = a;
            tc[r] = b;
        }
    }
    double cr = median(tr, reps), cc = median(tc, reps);
    printf("\ncold start, process start -> first step output (64-256-10, median of %d): recur %.2f ms, plain C %.2f ms (%.2fx); outputs %.6f / %.6f\n",
           reps, cr, cc, cr / cc, y0r, y0c);
    if (js) {
        fprintf(js, "\"cold_start_ms\": {\"recur\": %.4f, \"plain_c\": %.4f}\n}\n", cr, cc);
        fclose(js);
    }
    return 0;
}
