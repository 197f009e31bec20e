/* A small fork-join pool for splitting one step across cores (opt-in per session).
 * Helpers spin for a while after each job (a stream is usually stepped again within
 * microseconds) and then sleep on a condition variable, so an idle session costs no CPU. */
#define _GNU_SOURCE
#include "recur_kernels.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

enum { SPIN_LIMIT = 1 << 16 }; /* pause loops before a helper sleeps (about a millisecond) */

struct rk_pool {
    int helpers;
    pthread_t *threads;
    _Atomic uint64_t gen;
    _Atomic int pending;
    _Atomic int stop;
    _Atomic int sleepers;
    rk_task_fn fn;
    void *ctx;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

typedef struct {
    rk_pool *pool;
    int index;
} helper_arg;

static void *helper_main(void *p) {
    helper_arg a = *(helper_arg *)p;
    free(p);
    rk_pool *pool = a.pool;
    uint64_t seen = 0;
    for (;;) {
        uint64_t g;
        int spins = 0;
        while ((g = atomic_load(&pool->gen)) == seen) {
            if (atomic_load(&pool->stop)) return NULL;
            if (++spins < SPIN_LIMIT) {
                cpu_relax();
                continue;
            }
            pthread_mutex_lock(&pool->mu);
            atomic_fetch_add(&pool->sleepers, 1);
            while (atomic_load(&pool->gen) == seen && !atomic_load(&pool->stop)) pthread_cond_wait(&pool->cv, &pool->mu);
            atomic_fetch_sub(&pool->sleepers, 1);
            pthread_mutex_unlock(&pool->mu);
            spins = 0;
        }
        seen = g;
        pool->fn(pool->ctx, a.index, pool->helpers + 1);
        atomic_fetch_sub(&pool->pending, 1);
    }
}

rk_pool *rk_pool_create(int helpers) {
    if (helpers < 1 || helpers > 63) return NULL;
    rk_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->threads = calloc((size_t)helpers, sizeof(pthread_t));
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

void rk_pool_run(rk_pool *p, rk_task_fn fn, void *ctx) {
    p->fn = fn;
    p->ctx = ctx;
    atomic_store(&p->pending, p->helpers);
    atomic_fetch_add(&p->gen, 1); /* publishes fn/ctx (seq_cst) */
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    fn(ctx, 0, p->helpers + 1);
    while (atomic_load(&p->pending) > 0) cpu_relax();
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
