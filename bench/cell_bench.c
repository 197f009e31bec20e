/* Benchmark: GRU and LSTM steps (input 16, one layer of 16, 64 or 256 units, 10 outputs) called
 * from C, beside a plain-C fused-gate reference (bench/ref_cell.c, -O3 -march=native
 * -ffast-math) in the same run and on the same weights (outputs cross-checked first); int8
 * beside float32 with its output error; 64 streams stepped together beside the plain-C loop.
 * Medians of repeats, the contenders run alternately so machine noise hits all of them.
 *   cell_bench [--quick] [--json PATH] */
#define _POSIX_C_SOURCE 200809L
#include <recur.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "ref_cell.h"

enum { I = 16, O = 10, NX = 64, B = 64 };

int main(int argc, char **argv) {
    int quick = 0;
    const char *json = NULL;
    bench_args(argc, argv, &quick, &json);
    const int repeats = quick ? 5 : 15;
    const double target = quick ? 0.01 : 0.03;
    FILE *js = json ? fopen(json, "w") : NULL;
    if (js) fprintf(js, "{\"recur_version\": \"%s\", \"kernels\": \"%s\", \"results\": [\n", recur_version_string(), recur_kernels());
    printf("recur %s gated-cell step benchmark (%s kernels): input %d, one layer, %d outputs; median of %d repeats, one thread\n\n",
           recur_version_string(), recur_kernels(), I, O, repeats);
    printf("%-9s %9s %9s %6s %9s %6s %9s %9s | %11s %11s %6s %9s\n", "cell", "recur us", "C us", "ratio", "int8 us",
           "i8/f32", "i8 maxrel", "i8 mean", "B64 st/s", "C B64", "C/rec", "check");
    const int hs[3] = {16, 64, 256};
    int first = 1;
    for (int kind = 0; kind < 2; kind++) {
        for (int hi = 0; hi < 3; hi++) {
            const int H = hs[hi], G = kind ? 4 : 3;
            uint32_t size = (uint32_t)H;
            int32_t lk = kind ? RECUR_LAYER_LSTM : RECUR_LAYER_GRU;
            recur_model_config cfg;
            recur_model_config_init(&cfg, sizeof cfg);
            cfg.input_size = I;
            cfg.num_layers = 1;
            cfg.layer_sizes = &size;
            cfg.layer_kinds = &lk;
            cfg.output_size = O;
            size_t n = 0;
            CHECK(recur_model_config_num_params(&cfg, &n));
            float *p = malloc(n * sizeof(float));
            for (size_t i = 0; i < n; i++) p[i] = frand(1.0f / sqrtf((float)H)); /* PyTorch's init range */
            recur_model *m = NULL, *mq = NULL;
            CHECK(recur_model_create(&cfg, p, n, &m));
            cfg.weight_dtype = RECUR_DTYPE_I8;
            CHECK(recur_model_create(&cfg, p, n, &mq));

            ref_cell r;
            r.lstm = kind, r.I = I, r.H = H, r.O = O;
            r.Wih = p;
            r.Whh = r.Wih + (size_t)G * H * I;
            r.bih = r.Whh + (size_t)G * H * H;
            r.bhh = r.bih + G * H;
            r.Wo = r.bhh + G * H;
            r.bo = r.Wo + (size_t)O * H;
            r.h = calloc((size_t)H, sizeof(float));
            r.c = calloc((size_t)H, sizeof(float));
            r.tmp = calloc((size_t)(2 * G * H), sizeof(float));

            float *xs = malloc(sizeof(float) * NX * B * I);
            for (int i = 0; i < NX * B * I; i++) xs[i] = frand(1.0f);
            float *y = malloc(sizeof(float) * B * O), *yc = malloc(sizeof(float) * O), *yq = malloc(sizeof(float) * O);
            recur_session *s = NULL, *sq = NULL;
            CHECK(recur_session_create(m, &s));
            CHECK(recur_session_create(mq, &sq));
            /* Cross-check recur against the reference (200 steps, same stream), and the int8
             * error against float32 (relative to the step's largest |y|). */
            double check = 0, maxrel = 0, sumrel = 0;
            for (int k = 0; k < 200; k++) {
                const float *x = xs + (k % NX) * I;
                CHECK(recur_session_step(s, x, I, y, O));
                CHECK(recur_session_step(sq, x, I, yq, O));
                ref_cell_step(&r, x, yc);
                double scale = 1e-30;
                for (int o = 0; o < O; o++) scale = fabs(y[o]) > scale ? fabs(y[o]) : scale;
                for (int o = 0; o < O; o++) {
                    double e = fabs((double)y[o] - yc[o]) / scale, q = fabs((double)yq[o] - y[o]) / scale;
                    check = e > check ? e : check;
                    maxrel = q > maxrel ? q : maxrel;
                    sumrel += q;
                }
            }
            if (check > 1e-3) {
                fprintf(stderr, "recur and the plain-C reference disagree (%.2e) at %s-%d\n", check, kind ? "lstm" : "gru", H);
                return 1;
            }
            int steps = 16;
            for (;;) {
                double t0 = now();
                for (int k = 0; k < steps; k++) ref_cell_step(&r, xs + (k % NX) * I, yc);
                if (now() - t0 > target / 4 || steps > (1 << 24)) break;
                steps *= 2;
            }
            steps *= 4;
            double tr[32], tc[32], tq[32];
            for (int rep = -1; rep < repeats; rep++) {
                double t0 = now();
                for (int k = 0; k < steps; k++) recur_session_step(s, xs + (k % NX) * I, I, y, O);
                double t1 = now();
                for (int k = 0; k < steps; k++) ref_cell_step(&r, xs + (k % NX) * I, yc);
                double t2 = now();
                for (int k = 0; k < steps; k++) recur_session_step(sq, xs + (k % NX) * I, I, yq, O);
                double t3 = now();
                if (rep >= 0) {
                    tr[rep] = (t1 - t0) / steps * 1e6;
                    tc[rep] = (t2 - t1) / steps * 1e6;
                    tq[rep] = (t3 - t2) / steps * 1e6;
                }
            }
            double mr = median(tr, repeats), mc = median(tc, repeats), mq8 = median(tq, repeats);

            /* 64 streams together (recur batch session, one thread) beside 64 plain-C steps. */
            recur_session *b = NULL;
            CHECK(recur_session_create_batch(m, B, &b));
            int bsteps = steps / B + 1;
            double vr[32], vc[32];
            for (int rep = -1; rep < repeats; rep++) {
                double t0 = now();
                for (int k = 0; k < bsteps; k++) recur_session_step(b, xs + (k % NX) * I, B * I, y, B * O);
                double t1 = now();
                for (int k = 0; k < bsteps; k++)
                    for (int st = 0; st < B; st++) ref_cell_step(&r, xs + ((k + st) % NX) * I, yc);
                double t2 = now();
                if (rep >= 0) {
                    vr[rep] = (double)B * bsteps / (t1 - t0);
                    vc[rep] = (double)B * bsteps / (t2 - t1);
                }
            }
            double br = median(vr, repeats), bc = median(vc, repeats);
            char name[16];
            snprintf(name, sizeof name, "%s-%d", kind ? "lstm" : "gru", H);
            printf("%-9s %9.3f %9.3f %6.2f %9.3f %6.2f %9.1e %9.1e | %11.0f %11.0f %6.2f %9.1e\n", name, mr, mc, mr / mc, mq8,
                   mq8 / mr, maxrel, sumrel / (200.0 * O), br, bc, bc / br, check);
            if (js)
                fprintf(js, "%s  {\"cell\": \"%s\", \"input\": %d, \"hidden\": %d, \"output\": %d, \"recur_us\": %.4f, \"plain_c_us\": %.4f, \"recur_int8_us\": %.4f, \"int8_max_rel_err\": %.3e, \"int8_mean_rel_err\": %.3e, \"batch64_recur_per_s\": %.0f, \"batch64_plain_c_per_s\": %.0f, \"max_rel_diff_vs_plain_c\": %.3e}",
                        first ? "" : ",\n", kind ? "lstm" : "gru", I, H, O, mr, mc, mq8, maxrel, sumrel / (200.0 * O), br, bc, check);
            first = 0;
            recur_session_free(b);
            recur_session_free(s);
            recur_session_free(sq);
            recur_model_free(m);
            recur_model_free(mq);
            free(r.h), free(r.c), free(r.tmp), free(xs), free(y), free(yc), free(yq), free(p);
        }
    }
    if (js) {
        fprintf(js, "\n]}\n");
        fclose(js);
    }
    printf("\nratio = recur / plain C (latency; lower is better); i8/f32 = int8-weight step / float32 step;\n"
           "int8 error = |y_i8 - y_f32| / max|y_f32| per step over 200 steps; B64 = stream-steps per second with 64\n"
           "streams stepped together (one thread); C/rec = plain C / recur; check = max |y_recur - y_C| / max|y| (200 steps).\n");
    return 0;
}
