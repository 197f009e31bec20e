/* Benchmark: microseconds per recur_session_step called from C, beside a plain-C reference
 * loop (-O3 -march=native -ffast-math) in the same run; batch-64 throughput.
 * Medians of repeats; the two are run alternately so machine noise hits both.
 *   step_bench [--quick] [--json PATH] */
#define _POSIX_C_SOURCE 200809L
#include <recur.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ref_step.h"

#include "bench_util.h"

typedef struct { int I, H, O, L; } shape;

int main(int argc, char **argv) {
    int quick = 0;
    const char *json = NULL;
    bench_args(argc, argv, &quick, &json);
    const shape shapes[4] = {{10, 20, 5, 1}, {64, 256, 10, 1}, {128, 512, 10, 2}, {256, 1024, 32, 1}};
    const int repeats = quick ? 5 : 15;
    const double target = quick ? 0.01 : 0.03; /* seconds per timed repeat */
    FILE *js = json ? fopen(json, "w") : NULL;
    if (js) fprintf(js, "{\"recur_version\": \"%s\", \"kernels\": \"%s\", \"results\": [\n", recur_version_string(), recur_kernels());

    printf("recur %s step benchmark (%s kernels): median of %d repeats, one thread\n\n", recur_version_string(),
           recur_kernels(), repeats);
    printf("%-16s %9s %9s %6s %9s %6s %9s %6s %9s %9s | %11s %11s %11s %6s\n", "shape (I,H,O,L)", "recur us", "C us",
           "ratio", "2thr us", "2t/C", "int8 us", "i8/f32", "i8 maxrel", "i8 mean", "B64 st/s", "B64 2thr", "C B64", "C/rec");
    for (int si = 0; si < 4; si++) {
        shape sh = shapes[si];
        uint32_t sizes[4];
        for (int l = 0; l < sh.L; l++) sizes[l] = (uint32_t)sh.H;
        recur_model_config cfg;
        recur_model_config_init(&cfg, sizeof cfg);
        cfg.input_size = (uint32_t)sh.I;
        cfg.num_layers = (uint32_t)sh.L;
        cfg.layer_sizes = sizes;
        cfg.output_size = (uint32_t)sh.O;
        size_t n = 0;
        CHECK(recur_model_config_num_params(&cfg, &n));
        float *p = malloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++) p[i] = frand(0.06f);
        recur_model *m = NULL, *mq = NULL;
        CHECK(recur_model_create(&cfg, p, n, &m));
        cfg.weight_dtype = RECUR_DTYPE_I8;
        CHECK(recur_model_create(&cfg, p, n, &mq));

        /* Same weights for the reference. */
        ref_model r = {sh.I, sh.H, sh.O, sh.L, {0}, {0}, {0}, {0}, 0, 0, 0};
        float *q = p;
        for (int l = 0; l < sh.L; l++) {
            int in = l ? sh.H : sh.I;
            r.W[l] = q; q += (size_t)sh.H * in;
            r.U[l] = q; q += (size_t)sh.H * sh.H;
            r.b[l] = q; q += sh.H;
            r.h[l] = calloc((size_t)sh.H, sizeof(float));
        }
        r.Wo = q; q += (size_t)sh.O * sh.H;
        r.bo = q;
        r.tmp = calloc((size_t)sh.H, sizeof(float));

        enum { NX = 64 };
        float *xs = malloc(sizeof(float) * NX * 64 * sh.I);
        for (int i = 0; i < NX * 64 * sh.I; i++) xs[i] = frand(1.0f);
        float *y = malloc(sizeof(float) * 64 * sh.O);
        recur_session *s = NULL, *sq = NULL;
        CHECK(recur_session_create(m, &s));
        CHECK(recur_session_create(mq, &sq));
        /* int8 output error vs float32 over 200 steps of the same stream (relative to the
         * largest |y| of the step, so near-zero outputs do not blow the ratio up). */
        double maxrel = 0, sumrel = 0;
        int nrel = 0;
        {
            float *yf = malloc(sizeof(float) * sh.O), *yq = malloc(sizeof(float) * sh.O);
            for (int k = 0; k < 200; k++) {
                CHECK(recur_session_step(s, xs + (k % NX) * sh.I, (size_t)sh.I, yf, (size_t)sh.O));
                CHECK(recur_session_step(sq, xs + (k % NX) * sh.I, (size_t)sh.I, yq, (size_t)sh.O));
                double scale = 1e-30;
                for (int o = 0; o < sh.O; o++) scale = fabs(yf[o]) > scale ? fabs(yf[o]) : scale;
                for (int o = 0; o < sh.O; o++) {
                    double e = fabs((double)yq[o] - yf[o]) / scale;
                    maxrel = e > maxrel ? e : maxrel;
                    sumrel += e;
                    nrel++;
                }
            }
            free(yf);
            free(yq);
        }

        /* Calibrate steps per repeat on the reference. */
        int steps = 16;
        for (;;) {
            double t0 = now();
            for (int k = 0; k < steps; k++) ref_step(&r, xs + (k % NX) * sh.I, y);
            if (now() - t0 > target / 4 || steps > (1 << 24)) break;
            steps *= 2;
        }
        steps *= 4;
        /* Two threads on one stream (the large shapes only: elsewhere the split costs more
         * than it saves, and recur only splits products of >= 16384 multiply-adds). */
        recur_session *s2 = NULL;
        int two = si >= 2;
        if (two) {
            CHECK(recur_session_create(m, &s2));
            CHECK(recur_session_set_threads(s2, 2));
        }
        double tr[32], tc[32], tq[32], t2t[32];
        for (int rep = -1; rep < repeats; rep++) {
            double t0 = now();
            for (int k = 0; k < steps; k++) recur_session_step(s, xs + (k % NX) * sh.I, (size_t)sh.I, y, (size_t)sh.O);
            double t1 = now();
            for (int k = 0; k < steps; k++) ref_step(&r, xs + (k % NX) * sh.I, y);
            double t2 = now();
            for (int k = 0; k < steps; k++) recur_session_step(sq, xs + (k % NX) * sh.I, (size_t)sh.I, y, (size_t)sh.O);
            double t3 = now();
            if (two)
                for (int k = 0; k < steps; k++) recur_session_step(s2, xs + (k % NX) * sh.I, (size_t)sh.I, y, (size_t)sh.O);
            double t4 = now();
            if (rep >= 0) {
                tr[rep] = (t1 - t0) / steps * 1e6;
                tc[rep] = (t2 - t1) / steps * 1e6;
                tq[rep] = (t3 - t2) / steps * 1e6;
                t2t[rep] = (t4 - t3) / steps * 1e6;
            }
        }
        double mr = median(tr, repeats), mc = median(tc, repeats), mq8 = median(tq, repeats);
        double m2t = two ? median(t2t, repeats) : 0;
        recur_session_free(s2);
        double meanrel = sumrel / nrel;

        /* Batch 64 (64 streams stepped together) for the shapes the peers were measured on. */
        double br = 0, bc = 0, b2 = 0;
        if (si == 1 || si == 3) {
            recur_session *b = NULL, *bt = NULL;
            CHECK(recur_session_create_batch(m, 64, &b));
            CHECK(recur_session_create_batch(m, 64, &bt));
            CHECK(recur_session_set_threads(bt, 2));
            int bsteps = steps / 64 + 1;
            double vr[32], vc[32], v2[32];
            for (int rep = -1; rep < repeats; rep++) {
                double t0 = now();
                for (int k = 0; k < bsteps; k++) recur_session_step(b, xs, (size_t)(64 * sh.I), y, (size_t)(64 * sh.O));
                double t1 = now();
                for (int k = 0; k < bsteps; k++)
                    for (int st = 0; st < 64; st++) ref_step(&r, xs + st * sh.I, y);
                double t2 = now();
                for (int k = 0; k < bsteps; k++) recur_session_step(bt, xs, (size_t)(64 * sh.I), y, (size_t)(64 * sh.O));
                double t3 = now();
                if (rep >= 0) {
                    vr[rep] = 64.0 * bsteps / (t1 - t0);
                    vc[rep] = 64.0 * bsteps / (t2 - t1);
                    v2[rep] = 64.0 * bsteps / (t3 - t2);
                }
            }
            br = median(vr, repeats);
            bc = median(vc, repeats);
            b2 = median(v2, repeats);
            recur_session_free(b);
            recur_session_free(bt);
        }
        char name[32];
        snprintf(name, sizeof name, "%d,%d,%d,%d", sh.I, sh.H, sh.O, sh.L);
        printf("%-16s %9.3f %9.3f %6.2f ", name, mr, mc, mr / mc);
        if (two) printf("%9.3f %6.2f ", m2t, m2t / mc);
        else printf("%9s %6s ", "-", "-");
        printf("%9.3f %6.2f %9.1e %9.1e | ", mq8, mq8 / mr, maxrel, meanrel);
        if (br > 0) printf("%11.0f %11.0f %11.0f %6.2f\n", br, b2, bc, bc / br);
        else printf("%11s %11s %11s %6s\n", "-", "-", "-", "-");
        if (js)
            fprintf(js, "  {\"shape\": [%d, %d, %d, %d], \"recur_us\": %.4f, \"plain_c_us\": %.4f, \"recur_2threads_us\": %.4f, \"recur_int8_us\": %.4f, \"int8_max_rel_err\": %.3e, \"int8_mean_rel_err\": %.3e, \"batch64_recur_per_s\": %.0f, \"batch64_recur_2threads_per_s\": %.0f, \"batch64_plain_c_per_s\": %.0f}%s\n",
                    sh.I, sh.H, sh.O, sh.L, mr, mc, m2t, mq8, maxrel, meanrel, br, b2, bc, si < 3 ? "," : "");
        recur_session_free(s);
        recur_session_free(sq);
        recur_model_free(m);
        recur_model_free(mq);
        for (int l = 0; l < sh.L; l++) free(r.h[l]);
        free(r.tmp);
        free(xs);
        free(y);
        free(p);
    }
    if (js) {
        fprintf(js, "]}\n");
        fclose(js);
    }
    printf("\nratio = recur / plain C (latency; lower is better); 2thr = recur_session_set_threads(s, 2);\n"
           "i8/f32 = int8-weight step / float32 step; int8 error = |y_i8 - y_f32| / max|y_f32| per step;\n"
           "B64 = stream-steps per second with 64 streams stepped together; C/rec = plain C / recur.\n");
    return 0;
}
