/* A small fork-join pool for splitting one step across cores (opt-in per session), built to
 * stay no slower than one thread when the machine has other work.
 *
 * A job is `parts` independent parts (at most 32), and a part's results must not depend on how
 * the job is cut: alone, the caller runs the whole job as one part. Every worker (the caller is worker 0) first
 * claims the parts of its own block, then steals unclaimed parts of the others, so on an idle
 * machine each core keeps working on the same rows step after step, while a helper that the
 * scheduler has not run yet simply finds its parts done by the caller. Which worker runs a part
 * never changes its result.
 *
 * A helper that the scheduler preempts in the middle of a part holds the whole step up for a
 * time slice (milliseconds), so with other work on the machine a second thread costs more than
 * it gives. The caller therefore runs jobs alone ("solo", waking nobody) when:
 *   - the machine is busy: every 2 ms it reads the number of runnable threads from
 *     /proc/loadavg, and when the others' plus this pool's workers exceed the CPUs this process
 *     may use, it stays solo until the next check;
 *   - the helpers do not pay off: a run that a helper held up far longer than a part takes (it
 *     was preempted), or pooled runs taking longer in sum than the caller's own estimate of the
 *     same runs alone (helpers late or slow; the sums weigh each run by its size), starts a solo
 *     period that doubles each time it happens again within 50 ms (16 ... 16384 runs), halves
 *     after each healthy stretch, and starts again from 16 after a quiet 50 ms.
 * Near the end of a solo period the helpers are woken, so the pooled runs that follow are
 * judged with helpers that are awake. The caller waits for a part a helper is still running by
 * spinning briefly, then with sched_yield(). Helpers spin for a while after each job (a stream
 * is usually stepped again within microseconds), less and less while they keep arriving too
 * late, and then sleep on a condition variable, so a session running solo or idle costs no CPU. */
#define _GNU_SOURCE
#include "recur_kernels.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

enum {
    SPIN_MAX = 1 << 16,   /* pause loops before an idle helper sleeps (about a millisecond) */
    SPIN_MIN = 1 << 9,    /* ... after it keeps arriving late */
    WAIT_SPIN = 1 << 10,  /* pause loops the caller spins for a running part before yielding */
    IDLE_RUNS = 8,        /* pooled runs before their running mean is trusted */
    SOLO_MIN = 16,
    SOLO_MAX = 16384,
    MAX_PARTS = 32,
    PREWAKE = 4,                  /* solo runs left when the helpers are woken */
};
#define LOAD_CHECK_NS 2000000ull      /* how often the machine's load is read */
#define BACKOFF_MEMORY_NS 50000000ull /* solo periods closer than this double */

struct rk_pool {
    int helpers;
    pthread_t *threads;
    /* The job word: the job's id (high 32 bits: a 27-bit generation and parts - 1) and the
     * claimed-parts mask (low 32; bits past `parts` start set). One CAS claims a part of the
     * current job only. */
    _Atomic uint64_t job;
    _Atomic int done;  /* parts finished in the current generation */
    _Atomic int stop;
    _Atomic int sleepers;
    _Atomic uint32_t wake; /* bumped to wake sleeping helpers without a job */
    rk_task_fn fn;  /* fn, ctx, parts: written before the job word is published */
    void *ctx;
    int parts;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* Caller-side state (only the thread calling rk_pool_run touches it). */
    uint32_t gen;
    uint32_t solo_left;
    uint32_t solo_next;
    uint32_t pooled_runs; /* since the last solo period */
    double wall, solo;    /* decayed sums over pooled runs: their time, and the caller's estimate of
                             the same runs alone; wall / solo > 1 means the helpers do not pay */
    int cpus;             /* CPUs this process may run on */
    int busy;             /* the last load check found the machine busy */
    int mode;             /* RK_POOL_ADAPTIVE, RK_POOL_ALWAYS or RK_POOL_NEVER (tests) */
    uint64_t next_check;  /* time of the next load check */
    uint64_t last_backoff; /* time of the last solo period the helpers caused */
    uint64_t runs, solo_runs, helper_parts, busy_checks;
};

typedef struct {
    rk_pool *pool;
    int index;
} helper_arg;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* First part of worker w's block [w*parts/workers, (w+1)*parts/workers). */
static int block_start(int w, int parts, int workers) { return w * parts / workers; }

/* Claims an unclaimed part of job `id`, own block first (from its start), then the others'
 * (from their ends). Returns the part, or -1 when none is left or the job is over. */
static int claim(rk_pool *p, uint32_t id, int w) {
    int workers = p->helpers + 1;
    int parts = (int)(id & 31u) + 1;
    int b0 = block_start(w, parts, workers), b1 = block_start(w + 1, parts, workers);
    for (;;) {
        uint64_t v = atomic_load_explicit(&p->job, memory_order_acquire);
        if ((uint32_t)(v >> 32) != id) return -1;
        uint32_t mask = (uint32_t)v;
        if (mask == 0xFFFFFFFFu) return -1;
        int k = -1;
        for (int i = b0; i < b1; i++)
            if (!(mask & (1u << i))) {
                k = i;
                break;
            }
        if (k < 0)
            for (int i = parts - 1; i >= 0; i--)
                if (!(mask & (1u << i))) {
                    k = i;
                    break;
                }
        if (k < 0) return -1;
        if (atomic_compare_exchange_weak_explicit(&p->job, &v, v | (1ull << k), memory_order_acq_rel,
                                                  memory_order_acquire))
            return k;
    }
}

static void *helper_main(void *arg) {
    helper_arg a = *(helper_arg *)arg;
    free(arg);
    rk_pool *pool = a.pool;
    uint32_t seen = 0;
    int budget = SPIN_MAX;
    for (;;) {
        uint32_t g;
        int spins = 0;
        while ((g = (uint32_t)(atomic_load_explicit(&pool->job, memory_order_acquire) >> 32)) == seen) {
            if (atomic_load(&pool->stop)) return NULL;
            if (++spins < budget) {
                cpu_relax();
                continue;
            }
            pthread_mutex_lock(&pool->mu);
            uint32_t w = atomic_load(&pool->wake);
            atomic_fetch_add(&pool->sleepers, 1);
            while ((uint32_t)(atomic_load(&pool->job) >> 32) == seen && atomic_load(&pool->wake) == w &&
                   !atomic_load(&pool->stop))
                pthread_cond_wait(&pool->cv, &pool->mu);
            atomic_fetch_sub(&pool->sleepers, 1);
            pthread_mutex_unlock(&pool->mu);
            spins = 0;
            budget = SPIN_MAX; /* woken for a job, or ahead of one */
        }
        seen = g;
        int ran = 0, k;
        /* fn/ctx/parts are read only after a successful claim: the caller cannot finish (and
         * move on to another job) while a part of this generation is still unfinished. */
        while ((k = claim(pool, g, a.index)) >= 0) {
            pool->fn(pool->ctx, k, pool->parts, a.index);
            atomic_fetch_add_explicit(&pool->done, 1, memory_order_release);
            ran++;
        }
        budget = ran ? SPIN_MAX : (budget / 4 > SPIN_MIN ? budget / 4 : SPIN_MIN);
    }
}

rk_pool *rk_pool_create(int helpers) {
    if (helpers < 1 || helpers > 31) return NULL;
    rk_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->threads = calloc((size_t)helpers, sizeof(pthread_t));
    p->solo_next = SOLO_MIN;
    p->cpus = 0;
#ifdef CPU_COUNT
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) p->cpus = CPU_COUNT(&set);
#endif
    if (p->cpus < 1) p->cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (p->cpus < 1) p->cpus = 1;
    atomic_store(&p->job, 0xFFFFFFFFull); /* job 0, nothing to claim */
    if (!p->threads || pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p->threads);
        free(p);
        return NULL;
    }
    if (pthread_cond_init(&p->cv, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        free(p->threads);
        free(p);
        return NULL;
    }
    for (int i = 0; i < helpers; i++) {
        helper_arg *a = malloc(sizeof *a);
        if (a) {
            a->pool = p;
            a->index = i + 1;
        }
        if (!a || pthread_create(&p->threads[i], NULL, helper_main, a) != 0) {
            free(a);
            p->helpers = i; /* the ones started so far */
            rk_pool_free(p);
            return NULL;
        }
        p->helpers = i + 1;
    }
    return p;
}

int rk_pool_size(const rk_pool *p) { return p ? p->helpers + 1 : 1; }

int rk_pool_parts(const rk_pool *p) {
    int w = rk_pool_size(p);
    return 2 * w > MAX_PARTS ? MAX_PARTS : 2 * w;
}

/* Runnable threads on the machine other than this pool's awake workers, from the 4th field of
 * /proc/loadavg ("running/total"); -1 when it cannot be read (the other rules still apply). */
static int others_running(rk_pool *p) {
    int fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char buf[128];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    const char *c = buf;
    for (int field = 0; field < 3; field++) {
        while (*c && *c != ' ') c++;
        while (*c == ' ') c++;
    }
    if (*c < '0' || *c > '9') return -1;
    long running = 0;
    while (*c >= '0' && *c <= '9' && running < 1000000) running = running * 10 + (*c++ - '0');
    if (*c != '/') return -1;
    int ours = 1 + p->helpers - atomic_load(&p->sleepers);
    return (int)running - ours;
}

static void go_solo(rk_pool *p, uint32_t runs) {
    p->solo_left = runs;
    p->pooled_runs = 0;
}

/* A stall or a poor running mean: a solo period, twice as long as the last one when that was
 * recent (helpers failing again and again: sustained load), else the shortest (a rare stall on
 * a machine that is otherwise idle costs about a millisecond). */
static void back_off(rk_pool *p, uint64_t t) {
    if (t - p->last_backoff > BACKOFF_MEMORY_NS) p->solo_next = SOLO_MIN;
    p->last_backoff = t;
    go_solo(p, p->solo_next);
    p->solo_next = p->solo_next * 2 > SOLO_MAX ? SOLO_MAX : p->solo_next * 2;
}

/* The periodic load check: solo while the machine has more runnable threads than CPUs. */
static void check_load(rk_pool *p, uint64_t t) {
    if (t < p->next_check) return;
    p->next_check = t + LOAD_CHECK_NS;
    int others = others_running(p);
    p->busy = others >= 0 && others + p->helpers + 1 > p->cpus;
    if (p->busy) {
        p->busy_checks++;
        go_solo(p, 0xFFFFFFFFu); /* until the next check */
    } else if (p->solo_left == 0xFFFFFFFFu) {
        p->solo_left = PREWAKE; /* the load went: wake the helpers, then pool again */
    }
}

void rk_pool_run(rk_pool *p, rk_task_fn fn, void *ctx, int parts) {
    if (parts < 1) parts = 1;
    if (parts > MAX_PARTS) parts = MAX_PARTS;
    p->runs++;
    if (parts == 1 || p->mode == RK_POOL_NEVER) {
        if (parts > 1) p->solo_runs++;
        fn(ctx, 0, 1, 0);
        return;
    }
    if (p->mode == RK_POOL_ALWAYS) p->solo_left = 0;
    else check_load(p, now_ns());
    if (p->solo_left > 0) {
        if (p->solo_left != 0xFFFFFFFFu) p->solo_left--;
        p->solo_runs++;
        if (p->solo_left <= PREWAKE && atomic_load(&p->sleepers) > 0) {
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->wake, 1);
            pthread_cond_broadcast(&p->cv);
            pthread_mutex_unlock(&p->mu);
        }
        fn(ctx, 0, 1, 0); /* the whole job as one part: the same results, one kernel call */
        if (p->solo_left == 0) p->wall = p->solo = 0;
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->parts = parts;
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    p->gen = (p->gen + 1) & ((1u << 27) - 1);
    if (p->gen == 0) p->gen = 1; /* id 0 is the initial "no job" */
    uint32_t id = (p->gen << 5) | (uint32_t)(parts - 1);
    uint32_t unused = parts >= 32 ? 0 : ~((1u << parts) - 1);
    atomic_store_explicit(&p->job, ((uint64_t)id << 32) | unused, memory_order_release);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    uint64_t t0 = now_ns();
    int mine = 0, k;
    while ((k = claim(p, id, 0)) >= 0) {
        fn(ctx, k, parts, 0);
        atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
        mine++;
    }
    uint64_t t1 = now_ns();
    int spins = 0;
    while (atomic_load_explicit(&p->done, memory_order_acquire) < parts) {
        if (++spins < WAIT_SPIN) {
            cpu_relax();
        } else {
            sched_yield();
        }
    }
    uint64_t t2 = spins ? now_ns() : t1;
    p->helper_parts += (uint64_t)(parts - mine);
    p->pooled_runs++;
    if (mine == 0) return; /* nothing to compare with */
    /* The caller's parts tell what a solo run would have cost. */
    double per_part = (double)(t1 - t0) / mine;
    p->wall = 0.95 * p->wall + (double)(t2 - t0);
    p->solo = 0.95 * p->solo + per_part * parts;
    if (p->mode == RK_POOL_ALWAYS) return;
    double ratio = p->wall / (p->solo > 1 ? p->solo : 1);
    if ((double)(t2 - t1) > 4 * per_part + 20000) { /* a helper was preempted inside a part */
        back_off(p, t2);
    } else if (p->pooled_runs >= IDLE_RUNS && ratio > 1.0) { /* helpers late or slow */
        back_off(p, t2);
    } else if (p->pooled_runs % 256 == 0 && ratio < 0.9 && p->solo_next > SOLO_MIN) {
        p->solo_next /= 2; /* a healthy stretch */
    }
}

void rk_pool_set_mode(rk_pool *p, int mode) {
    if (p) p->mode = mode;
}

void rk_pool_stats(const rk_pool *p, uint64_t *runs, uint64_t *solo_runs, uint64_t *helper_parts) {
    /* (busy_checks: load checks that found the machine busy; kept for debugging) */
    if (runs) *runs = p ? p->runs : 0;
    if (solo_runs) *solo_runs = p ? p->solo_runs : 0;
    if (helper_parts) *helper_parts = p ? p->helper_parts : 0;
}

void rk_pool_free(rk_pool *p) {
    if (!p) return;
    atomic_store(&p->stop, 1);
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->helpers; i++) pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}

void *rk_slot_load(void *const *slot) { return __atomic_load_n(slot, __ATOMIC_ACQUIRE); }

void *rk_slot_publish(void **slot, void *fresh) {
    void *expected = NULL;
    if (__atomic_compare_exchange_n(slot, &expected, fresh, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) return fresh;
    return expected;
}

uint64_t rk_u64_load(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }

void rk_u64_store(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
