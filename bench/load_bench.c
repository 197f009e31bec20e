/* Threads under load: microseconds per step of one session on 1 and on 2 threads
 * (recur_session_set_threads), on an idle machine and while other processes keep cores busy
 * (busy-loop children at normal priority: "1 busy" = one, "2 busy" = one per core of a 2-core
 * machine, like a build). Each repeat times a block of the 1-thread session, one of the
 * 2-thread session and the 1-thread session again, so the same load hits both; the table shows
 * medians, 2t/1t against the mean of the two 1-thread blocks around it, and (as the noise
 * floor) the ratio of the two 1-thread blocks. A device always has other work: the threaded
 * step should never be slower than the single-threaded one.
 *   load_bench [--quick] [--json PATH] */
#define _POSIX_C_SOURCE 200809L
#include <recur.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

typedef struct { int I, H, O, L; } shape;

static pid_t spinner(void) {
    pid_t p = fork();
    if (p == 0) {
        volatile unsigned long x = 0;
        for (;;) x++;
    }
    return p;
}

int main(int argc, char **argv) {
    int quick = 0;
    const char *json = NULL;
    bench_args(argc, argv, &quick, &json);
    const shape shapes[2] = {{128, 512, 10, 2}, {256, 1024, 32, 1}};
    const int blocks = quick ? 15 : 41;
    const double block_s = quick ? 0.01 : 0.02;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    FILE *js = json ? fopen(json, "w") : NULL;
    if (js) fprintf(js, "{\"recur_version\": \"%s\", \"kernels\": \"%s\", \"cpus\": %ld, \"results\": [\n", recur_version_string(), recur_kernels(), ncpu);
    printf("recur %s threads under load (%ld CPUs, %s kernels): us per step, median of %d repeats\n\n",
           recur_version_string(), ncpu, recur_kernels(), blocks);
    printf("%-16s %-8s %10s %10s %8s %9s\n", "shape (I,H,O,L)", "load", "1 thread", "2 threads", "2t/1t", "1t noise");
    int first = 1;
    for (int si = 0; si < 2; si++) {
        shape sh = shapes[si];
        uint32_t sizes[4];
        for (int l = 0; l < sh.L; l++) sizes[l] = (uint32_t)sh.H;
        recur_model_config cfg;
        CHECK(recur_model_config_init(&cfg, sizeof cfg));
        cfg.input_size = (uint32_t)sh.I;
        cfg.num_layers = (uint32_t)sh.L;
        cfg.layer_sizes = sizes;
        cfg.output_size = (uint32_t)sh.O;
        size_t n = 0;
        CHECK(recur_model_config_num_params(&cfg, &n));
        float *p = malloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++) p[i] = frand(0.06f);
        recur_model *m = NULL;
        CHECK(recur_model_create(&cfg, p, n, &m));
        recur_session *s1 = NULL, *s2 = NULL;
        CHECK(recur_session_create(m, &s1));
        CHECK(recur_session_create(m, &s2));
        CHECK(recur_session_set_threads(s2, 2));
        float *x = malloc(sizeof(float) * (size_t)sh.I), *y = malloc(sizeof(float) * (size_t)sh.O);
        for (int i = 0; i < sh.I; i++) x[i] = frand(1.0f);
        /* steps per block from an idle calibration */
        int steps = 8;
        for (;;) {
            double t0 = now();
            for (int k = 0; k < steps; k++) CHECK(recur_session_step(s1, x, (size_t)sh.I, y, (size_t)sh.O));
            if (now() - t0 > block_s || steps > (1 << 20)) break;
            steps *= 2;
        }
        const char *names[3] = {"idle", "1 busy", "2 busy"};
        for (int load = 0; load < 3; load++) {
            pid_t kids[2] = {0, 0};
            for (int k = 0; k < load; k++) kids[k] = spinner();
            if (load) nanosleep(&(struct timespec){0, 50000000}, NULL);
            double a[64], b[64], rr[64], nn[64];
            for (int r = -2; r < blocks; r++) {
                double t0 = now();
                for (int k = 0; k < steps; k++) recur_session_step(s1, x, (size_t)sh.I, y, (size_t)sh.O);
                double t1 = now();
                for (int k = 0; k < steps; k++) recur_session_step(s2, x, (size_t)sh.I, y, (size_t)sh.O);
                double t2 = now();
                for (int k = 0; k < steps; k++) recur_session_step(s1, x, (size_t)sh.I, y, (size_t)sh.O);
                double t3 = now();
                if (r >= 0) {
                    a[r] = (t1 - t0 + t3 - t2) / 2 / steps * 1e6;
                    b[r] = (t2 - t1) / steps * 1e6;
                    rr[r] = 2 * (t2 - t1) / (t1 - t0 + t3 - t2);
                    nn[r] = (t3 - t2) / (t1 - t0);
                }
            }
            for (int k = 0; k < load; k++) {
                kill(kids[k], SIGKILL);
                waitpid(kids[k], NULL, 0);
            }
            double ma = median(a, blocks), mb = median(b, blocks), mr = median(rr, blocks), mn = median(nn, blocks);
            char nm[32];
            snprintf(nm, sizeof nm, "%d,%d,%d,%d", sh.I, sh.H, sh.O, sh.L);
            printf("%-16s %-8s %10.2f %10.2f %8.2f %9.2f\n", nm, names[load], ma, mb, mr, mn);
            if (js)
                fprintf(js, "%s  {\"shape\": [%d, %d, %d, %d], \"load\": \"%s\", \"one_thread_us\": %.3f, \"two_threads_us\": %.3f, \"ratio\": %.3f, \"noise\": %.3f}",
                        first ? "" : ",\n", sh.I, sh.H, sh.O, sh.L, names[load], ma, mb, mr, mn);
            first = 0;
            fflush(stdout);
        }
        recur_session_free(s1);
        recur_session_free(s2);
        recur_model_free(m);
        free(p);
        free(x);
        free(y);
    }
    if (js) {
        fprintf(js, "\n]}\n");
        fclose(js);
    }
    printf("\nload = busy-loop processes at normal priority while the sessions step; 2t/1t = median over repeats of\n"
           "the 2-thread block / the mean of the 1-thread blocks around it (below 1: the second thread pays off;\n"
           "above 1: it costs); 1t noise = median of second / first 1-thread block.\n");
    return 0;
}
