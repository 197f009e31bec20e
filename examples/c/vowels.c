/* The recur demo, from C (only include/recur.h): a voice device enrolls new speakers.
 *
 * A feedback network shipped in models/ (trained by recur itself on JapaneseVowels speakers
 * 1-5: body pretrained on next-frame prediction, 5-way speaker head) is loaded, streams real
 * utterances frame by frame, then learns speakers 6-9 on the device from k utterances each
 * by fine-tuning only its head, beside a "random body + same head" control; the personalised
 * model is saved atomically, reloaded, and checked to give identical outputs.
 *
 *   vowels [--k N] [--out PATH] [--check] [--data DIR] [--model PATH]
 *
 * --check exits non-zero unless new-speaker accuracy after enrollment reaches the level
 * stated in the README (CI runs it).
 */
#define _POSIX_C_SOURCE 200809L
#include <recur.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CH 12
#define MAXSEQ 700
#define NEW_SPEAKER_TARGET 0.70 /* --check: new-speaker accuracy must reach this (README) */

typedef struct {
    int n;
    float *x[MAXSEQ]; /* T x 12, row-major */
    size_t len[MAXSEQ];
    int label[MAXSEQ]; /* speaker 1..9 */
} corpus;

static void die(const char *what, recur_status st) {
    fprintf(stderr, "%s failed: %s\n  %s\n", what, recur_status_string(st), recur_last_error_message());
    exit(1);
}
#define TRY(call) do { recur_status st_ = (call); if (st_ != RECUR_OK) die(#call, st_); } while (0)

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* sktime/aeon .ts reader: after @data, one case per line: 12 channels separated by ':',
 * frames by ',', the label last. */
static void load_ts(const char *path, corpus *c) {
    FILE *f = fopen(path, "r");
    if (!f) { perror(path); exit(1); }
    static char line[1 << 16];
    int data = 0;
    c->n = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        if (!data) { if (!strncmp(line, "@data", 5)) data = 1; continue; }
        if (c->n >= MAXSEQ) break;
        char *chan[CH + 1];
        int nc = 0;
        for (char *p = line; nc <= CH;) {
            chan[nc++] = p;
            char *q = strchr(p, ':');
            if (!q) break;
            *q = 0;
            p = q + 1;
        }
        if (nc != CH + 1) { fprintf(stderr, "%s: a case without %d channels\n", path, CH); exit(1); }
        size_t T = 1;
        for (char *p = chan[0]; *p; p++) T += *p == ',';
        float *x = malloc(sizeof(float) * T * CH);
        for (int ch = 0; ch < CH; ch++) {
            char *p = chan[ch];
            for (size_t t = 0; t < T; t++) {
                x[t * CH + ch] = strtof(p, &p);
                if (*p == ',') p++;
            }
        }
        c->x[c->n] = x;
        c->len[c->n] = T;
        c->label[c->n] = atoi(chan[CH]);
        c->n++;
    }
    fclose(f);
}

static int predict(recur_session *s, const float *x, size_t T, size_t out_n, float *y) {
    TRY(recur_session_reset(s));
    TRY(recur_session_run(s, x, T * CH, T, y, out_n));
    int best = 0;
    for (size_t k = 1; k < out_n; k++) if (y[k] > y[best]) best = (int)k;
    return best;
}

/* Accuracy of `m` on test cases whose speaker is in [lo, hi] (predicted class + 1 = speaker). */
static double accuracy(const recur_model *m, const corpus *te, int lo, int hi) {
    size_t out_n = 0;
    TRY(recur_model_output_size(m, &out_n));
    recur_session *s = NULL;
    TRY(recur_session_create(m, &s));
    float y[16];
    int hit = 0, n = 0;
    for (int i = 0; i < te->n; i++) {
        if (te->label[i] < lo || te->label[i] > hi) continue;
        n++;
        hit += predict(s, te->x[i], te->len[i], out_n, y) + 1 == te->label[i];
    }
    recur_session_free(s);
    return n ? (double)hit / n : 0;
}

/* Concatenated dataset of the selected training cases (classes = speaker - 1). */
typedef struct { float *x; size_t *len; int32_t *cls; size_t n, steps; } dataset_buf;

static void add_case(dataset_buf *d, const corpus *c, int i) {
    d->x = realloc(d->x, sizeof(float) * (d->steps + c->len[i]) * CH);
    memcpy(d->x + d->steps * CH, c->x[i], sizeof(float) * c->len[i] * CH);
    d->len = realloc(d->len, sizeof(size_t) * (d->n + 1));
    d->cls = realloc(d->cls, sizeof(int32_t) * (d->n + 1));
    d->len[d->n] = c->len[i];
    d->cls[d->n] = c->label[i] - 1;
    d->n++;
    d->steps += c->len[i];
}

static recur_dataset as_dataset(const dataset_buf *d) {
    recur_dataset r;
    TRY(recur_dataset_init(&r, sizeof r));
    r.target_kind = RECUR_TARGET_SEQUENCE_CLASSES;
    r.inputs = d->x;
    r.inputs_len = d->steps * CH;
    r.lengths = d->len;
    r.num_sequences = d->n;
    r.classes = d->cls;
    r.classes_len = d->n;
    return r;
}

static int tty;
static int32_t bar(const recur_progress *p, void *user) {
    const char *name = (const char *)user;
    if (!p->end_of_epoch) return 0;
    FILE *o = tty ? stderr : stdout;
    if (tty) {
        int w = 30, done = (int)(w * p->epoch / p->epochs);
        fprintf(stderr, "\r  %-18s [%.*s%*s] %3u/%u  loss %.4f  acc %.3f", name, done,
                "##############################", w - done, "", p->epoch, p->epochs, p->loss, p->metric);
        if (p->epoch == p->epochs) fputc('\n', stderr);
    } else if (p->epoch % 25 == 0 || p->epoch == p->epochs) {
        fprintf(o, "  %-18s epoch %3u/%u  loss %.4f  acc %.3f\n", name, p->epoch, p->epochs, p->loss, p->metric);
        fflush(o);
    }
    return 0;
}

static recur_model *train_head(recur_model *m, const dataset_buf *d, uint32_t epochs, const char *name) {
    recur_trainer_config cfg;
    TRY(recur_trainer_config_init(&cfg, sizeof cfg));
    cfg.loss = RECUR_LOSS_CROSS_ENTROPY;
    cfg.learning_rate = 0.02;
    cfg.epochs = epochs;
    cfg.batch_size = 30;
    cfg.seed = 7;
    recur_trainer *t = NULL;
    TRY(recur_trainer_create(m, &cfg, &t));
    recur_dataset data = as_dataset(d);
    recur_model *out = NULL;
    TRY(recur_trainer_fit(t, &data, bar, (void *)name, &out));
    recur_trainer_free(t);
    return out;
}

/* Enroll speakers 6-9 with k training utterances each: extend the head by 4 classes and fit
 * it on the base speakers' utterances plus the new ones (repeated to balance the classes). */
static recur_model *enroll(const recur_model *m, const corpus *tr, int k, const char *name) {
    const char *labels[4] = {"speaker 6", "speaker 7", "speaker 8", "speaker 9"};
    recur_model *ext = NULL;
    TRY(recur_model_extend_head(m, 4, labels, 11, &ext));
    dataset_buf d = {0};
    int taken[10] = {0};
    for (int i = 0; i < tr->n; i++) if (tr->label[i] <= 5) add_case(&d, tr, i);
    int reps = 30 / k > 0 ? 30 / k : 1;
    for (int i = 0; i < tr->n; i++) {
        int s = tr->label[i];
        if (s >= 6 && taken[s] < k) {
            taken[s]++;
            for (int r = 0; r < reps; r++) add_case(&d, tr, i);
        }
    }
    recur_model *out = train_head(ext, &d, 100, name);
    recur_model_free(ext);
    free(d.x); free(d.len); free(d.cls);
    return out;
}

/* The control: the same architecture with an untrained, seeded body (PyTorch nn.RNN init),
 * inputs standardised the same way, and a 5-way head trained like the shipped one. */
static recur_model *control_model(const corpus *tr) {
    uint32_t sizes[1] = {64};
    recur_model_config cfg;
    TRY(recur_model_config_init(&cfg, sizeof cfg));
    cfg.input_size = CH; cfg.num_layers = 1; cfg.layer_sizes = sizes; cfg.output_size = 5;
    cfg.output_transform = RECUR_OUTPUT_SOFTMAX;
    const char *labels[5] = {"speaker 1", "speaker 2", "speaker 3", "speaker 4", "speaker 5"};
    cfg.labels = labels;
    size_t np = 0;
    TRY(recur_model_config_num_params(&cfg, &np));
    float *p = malloc(sizeof(float) * np);
    uint64_t s = 20261129;
    for (size_t i = 0; i < np; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        p[i] = (float)(((double)(s >> 11) / 9007199254740992.0 * 2 - 1) / 8.0); /* U(-1/sqrt(64), ..) */
    }
    /* standardisation of speakers 1-5's frames, folded into W and b */
    double mean[CH] = {0}, var[CH] = {0};
    size_t nf = 0;
    for (int i = 0; i < tr->n; i++) {
        if (tr->label[i] > 5) continue;
        for (size_t t = 0; t < tr->len[i]; t++, nf++)
            for (int c = 0; c < CH; c++) mean[c] += tr->x[i][t * CH + c];
    }
    for (int c = 0; c < CH; c++) mean[c] /= nf;
    for (int i = 0; i < tr->n; i++) {
        if (tr->label[i] > 5) continue;
        for (size_t t = 0; t < tr->len[i]; t++)
            for (int c = 0; c < CH; c++) var[c] += pow(tr->x[i][t * CH + c] - mean[c], 2);
    }
    float *W = p, *b = p + 64 * CH + 64 * 64;
    for (int h = 0; h < 64; h++)
        for (int c = 0; c < CH; c++) {
            double sd = sqrt(var[c] / nf);
            b[h] -= (float)(W[h * CH + c] * mean[c] / sd);
            W[h * CH + c] = (float)(W[h * CH + c] / sd);
        }
    recur_model *m = NULL;
    TRY(recur_model_create(&cfg, p, np, &m));
    free(p);
    dataset_buf d = {0};
    for (int i = 0; i < tr->n; i++) if (tr->label[i] <= 5) add_case(&d, tr, i);
    recur_model *fitted = train_head(m, &d, 150, "control head");
    recur_model_free(m);
    free(d.x); free(d.len); free(d.cls);
    return fitted;
}

int main(int argc, char **argv) {
    int k = 5, check = 0;
    const char *out = ".build/recur-c/vowels-personalised.recur";
    const char *data = "examples/data/japanese-vowels";
    const char *model_path = "models/vowels-5speakers.recur";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--k") && i + 1 < argc) k = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--data") && i + 1 < argc) data = argv[++i];
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) model_path = argv[++i];
        else if (!strcmp(argv[i], "--check")) check = 1;
        else { fprintf(stderr, "usage: %s [--k N] [--out PATH] [--check] [--data DIR] [--model PATH]\n", argv[0]); return 2; }
    }
    if (k < 1 || k > 30) { fprintf(stderr, "--k must be in 1..30\n"); return 2; }
    tty = isatty(2);
    double t0 = now();
    char path[1024];
    static corpus tr, te;
    snprintf(path, sizeof path, "%s/JapaneseVowels_TRAIN.ts", data);
    load_ts(path, &tr);
    snprintf(path, sizeof path, "%s/JapaneseVowels_TEST.ts", data);
    load_ts(path, &te);

    recur_model *model = NULL;
    TRY(recur_model_load(model_path, NULL, &model));
    size_t params = 0, out_n = 0, h = 0;
    TRY(recur_model_num_params(model, &params));
    TRY(recur_model_output_size(model, &out_n));
    TRY(recur_model_layer(model, 0, &h, NULL));
    printf("recur %s -- speaker enrollment demo (JapaneseVowels: %d train, %d test utterances, 12 LPC coefficients per frame)\n\n",
           recur_version_string(), tr.n, te.n);
    printf("model      %s: 12 -> %zu tanh (feedback) -> %zu speakers, %zu parameters, trained by recur on speakers 1-5\n\n",
           model_path, h, out_n, params);

    /* 1. Stream test utterances frame by frame; the prediction sharpens as frames arrive. */
    recur_session *s = NULL;
    TRY(recur_session_create(model, &s));
    int shown[3] = {-1, -1, -1}, want[3] = {1, 3, 4};
    for (int i = 0; i < te.n; i++)
        for (int j = 0; j < 3; j++) if (shown[j] < 0 && te.label[i] == want[j]) { shown[j] = i; break; }
    for (int j = 0; j < 3; j++) {
        int i = shown[j];
        TRY(recur_session_reset(s));
        printf("streaming a test utterance of speaker %d (%zu frames):\n  frame:", te.label[i], te.len[i]);
        float y[16];
        char preds[64][24];
        for (size_t t = 0; t < te.len[i]; t++) {
            TRY(recur_session_step(s, te.x[i] + t * CH, CH, y, out_n));
            int b = 0;
            for (size_t c = 1; c < out_n; c++) if (y[c] > y[b]) b = (int)c;
            snprintf(preds[t % 64], sizeof preds[0], "%d(%.2f)", b + 1, y[b]);
            if (t % 3 == 0 || t + 1 == te.len[i]) printf(" %zu:%s", t + 1, preds[t % 64]);
        }
        printf("\n");
    }

    /* 2. Accuracy before enrollment. */
    double old_before = accuracy(model, &te, 1, 5), all_before = accuracy(model, &te, 1, 9);
    double new_before = accuracy(model, &te, 6, 9);
    printf("\nbefore enrollment (test split)   speakers 1-5: %.3f   all 9: %.3f   speakers 6-9: %.3f (unknown to the model)\n",
           old_before, all_before, new_before);

    /* 3. Enroll speakers 6-9 on the device: head fine-tuning only. */
    printf("\nenrolling speakers 6-9 with k = %d utterances each (head only; the body stays frozen):\n", k);
    fflush(stdout);
    double te0 = now();
    recur_model *personal = enroll(model, &tr, k, "pretrained body");
    double enroll_s = now() - te0;
    recur_model *ctrl5 = control_model(&tr);
    recur_model *ctrl = enroll(ctrl5, &tr, k, "random body");

    double a_all = accuracy(personal, &te, 1, 9), a_new = accuracy(personal, &te, 6, 9), a_old = accuracy(personal, &te, 1, 5);
    double c_all = accuracy(ctrl, &te, 1, 9), c_new = accuracy(ctrl, &te, 6, 9), c_old = accuracy(ctrl, &te, 1, 5);
    printf("\n                                  all 9    speakers 6-9   speakers 1-5\n");
    printf("after, pretrained body            %.3f        %.3f          %.3f\n", a_all, a_new, a_old);
    printf("after, random body + same head    %.3f        %.3f          %.3f   (control)\n", c_all, c_new, c_old);
    printf("speakers 6-9 scored %.3f before enrollment (chance for 9 speakers: %.3f); enrollment took %.2f s\n",
           new_before, 1.0 / 9, enroll_s);

    /* 4. Keep it: save atomically, reload, identical outputs on every test utterance. */
    TRY(recur_model_save(personal, out, NULL));
    recur_model *again = NULL;
    TRY(recur_model_load(out, NULL, &again));
    recur_session *s1 = NULL, *s2 = NULL;
    TRY(recur_session_create(personal, &s1));
    TRY(recur_session_create(again, &s2));
    int same = 1;
    for (int i = 0; i < te.n; i++) {
        float y1[16], y2[16];
        predict(s1, te.x[i], te.len[i], 9, y1);
        predict(s2, te.x[i], te.len[i], 9, y2);
        same &= memcmp(y1, y2, sizeof(float) * 9) == 0;
    }
    long size = 0;
    FILE *f = fopen(out, "rb");
    if (f) { fseek(f, 0, SEEK_END); size = ftell(f); fclose(f); }
    printf("\nsaved      %s (%ld bytes, atomic); reloaded model gives identical outputs on all %d test utterances: %s\n",
           out, size, te.n, same ? "yes" : "NO");
    printf("total %.1f s\n", now() - t0);

    recur_session_free(s); recur_session_free(s1); recur_session_free(s2);
    recur_model_free(model); recur_model_free(personal); recur_model_free(ctrl5); recur_model_free(ctrl);
    recur_model_free(again);
    for (int i = 0; i < tr.n; i++) free(tr.x[i]);
    for (int i = 0; i < te.n; i++) free(te.x[i]);
    if (!same) return 1;
    if (check && a_new < NEW_SPEAKER_TARGET) {
        fprintf(stderr, "check failed: new-speaker accuracy %.3f < %.2f\n", a_new, NEW_SPEAKER_TARGET);
        return 1;
    }
    return 0;
}
