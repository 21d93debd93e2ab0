#include "pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../core/status.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

/* Workers wait this many rounds before sleeping: a forward pass dispatches
 * hundreds of tasks back to back, and waking a sleeping thread costs tens of
 * microseconds, but an idle pool must not burn a core. After the first few
 * thousand rounds each one yields the core (wait_step): on a busy machine a
 * spinning worker would otherwise take the time slice of the very thread
 * that is about to hand it work (measured: a 1.4 M-parameter model decoded
 * 15 tokens/s with two threads beside a two-thread job, 13,000 with one). */
#define SPIN_ROUNDS 50000

/* Waiting for other threads: spin briefly, then yield the core, because when
 * the machine is oversubscribed the thread we wait for may need it to run. */
static inline void wait_step(int spins) {
    if (spins < 4096) cpu_relax();
    else sched_yield();
}

typedef struct worker {
    st_pool *pool;
    int ith;
    pthread_t thread;
} worker;

struct st_pool {
    int n;                     /* threads including the caller */
    worker *workers;           /* [n] (index 0 unused: the caller) */
    st_task_fn fn;
    void *arg;
    atomic_uint generation;    /* bumped once per st_pool_run */
    atomic_int n_done;         /* workers finished with the current generation */
    atomic_int stop;
    atomic_int n_sleeping;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* sense-reversing barrier */
    atomic_int bar_count;
    atomic_uint bar_phase;
};

static void *worker_main(void *p) {
    worker *w = p;
    st_pool *pool = w->pool;
    unsigned seen = 0;
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&pool->generation, memory_order_acquire)) == seen &&
               !atomic_load_explicit(&pool->stop, memory_order_acquire)) {
            if (++spins < SPIN_ROUNDS) { wait_step(spins); continue; }
            pthread_mutex_lock(&pool->mu);
            atomic_fetch_add(&pool->n_sleeping, 1);
            while (atomic_load(&pool->generation) == seen && !atomic_load(&pool->stop))
                pthread_cond_wait(&pool->cv, &pool->mu);
            atomic_fetch_sub(&pool->n_sleeping, 1);
            pthread_mutex_unlock(&pool->mu);
            spins = 0;
        }
        if (atomic_load(&pool->stop)) return NULL;
        seen = g;
        pool->fn(pool->arg, w->ith, pool->n);
        atomic_fetch_add_explicit(&pool->n_done, 1, memory_order_acq_rel);
    }
}

st_status st_pool_init(int n_threads, st_pool **out) {
    *out = NULL;
    if (n_threads < 1 || n_threads > 1024) return st_errorf(ST_E_ARG, "thread count %d out of range 1..1024", n_threads);
    st_pool *pool = calloc(1, sizeof *pool);
    if (!pool) return st_errorf(ST_E_NOMEM, "thread pool allocation failed");
    pool->n = n_threads;
    pool->workers = calloc((size_t)n_threads, sizeof *pool->workers);
    if (!pool->workers) { free(pool); return st_errorf(ST_E_NOMEM, "thread pool allocation failed"); }
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->cv, NULL);
    /* kernels keep their tiles on the stack (the panel GEMM ~90 KiB): do not
     * depend on the platform's default thread stack size */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, (size_t)4 << 20);
    for (int i = 1; i < n_threads; i++) {
        pool->workers[i].pool = pool;
        pool->workers[i].ith = i;
        if (pthread_create(&pool->workers[i].thread, &attr, worker_main, &pool->workers[i]) != 0) {
            pthread_attr_destroy(&attr);
            pool->n = i; /* only join what was started */
            st_pool_free(pool);
            return st_errorf(ST_E_INTERNAL, "cannot start thread %d of %d", i, n_threads);
        }
    }
    pthread_attr_destroy(&attr);
    *out = pool;
    return ST_OK;
}

void st_pool_free(st_pool *pool) {
    if (!pool) return;
    pthread_mutex_lock(&pool->mu);
    atomic_store(&pool->stop, 1);
    pthread_cond_broadcast(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
    for (int i = 1; i < pool->n; i++) pthread_join(pool->workers[i].thread, NULL);
    pthread_mutex_destroy(&pool->mu);
    pthread_cond_destroy(&pool->cv);
    free(pool->workers);
    free(pool);
}

int st_pool_size(const st_pool *pool) { return pool ? pool->n : 1; }

void st_pool_run(st_pool *pool, st_task_fn fn, void *arg) {
    if (!pool || pool->n == 1) { fn(arg, 0, 1); return; }
    pool->fn = fn;
    pool->arg = arg;
    atomic_store_explicit(&pool->n_done, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
    if (atomic_load(&pool->n_sleeping) > 0) {
        pthread_mutex_lock(&pool->mu);
        pthread_cond_broadcast(&pool->cv);
        pthread_mutex_unlock(&pool->mu);
    }
    fn(arg, 0, pool->n);
    for (int spins = 0; atomic_load_explicit(&pool->n_done, memory_order_acquire) < pool->n - 1; spins++)
        wait_step(spins);
}

void st_pool_barrier(st_pool *pool) {
    if (!pool || pool->n == 1) return;
    unsigned phase = atomic_load_explicit(&pool->bar_phase, memory_order_acquire);
    if (atomic_fetch_add_explicit(&pool->bar_count, 1, memory_order_acq_rel) == pool->n - 1) {
        atomic_store_explicit(&pool->bar_count, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&pool->bar_phase, 1, memory_order_release);
    } else {
        for (int spins = 0; atomic_load_explicit(&pool->bar_phase, memory_order_acquire) == phase; spins++)
            wait_step(spins);
    }
}

/* Physical cores: distinct (physical id, core id) pairs in /proc/cpuinfo;
 * hyper-threads share a core's execution units, so they do not speed up
 * bandwidth-bound decoding. */
int st_physical_cores(void) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    int n = 0;
    if (f) {
        char line[256];
        int phys = 0, seen[4096][2], ns = 0;
        while (fgets(line, sizeof line, f)) {
            int v;
            if (sscanf(line, "physical id : %d", &v) == 1) phys = v;
            else if (sscanf(line, "core id : %d", &v) == 1) {
                int dup = 0;
                for (int i = 0; i < ns; i++) dup |= seen[i][0] == phys && seen[i][1] == v;
                if (!dup && ns < 4096) { seen[ns][0] = phys; seen[ns][1] = v; ns++; }
            }
        }
        fclose(f);
        n = ns;
    }
    if (n <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (int)c : 1;
    }
    return n;
}
