/* A persistent thread pool: workers are created once and wait (spin, then
 * sleep) for work, so dispatching a kernel costs microseconds, not a spawn. */
#ifndef ST_THREADS_POOL_H
#define ST_THREADS_POOL_H
#include <stdatomic.h>
#include <stdint.h>

#include "softthink.h"

typedef struct st_pool st_pool;
/* Runs on every thread of the pool: ith in [0, nth). The caller is thread 0. */
typedef void (*st_task_fn)(void *arg, int ith, int nth);

st_status st_pool_init(int n_threads, st_pool **out);
void st_pool_free(st_pool *pool);
int st_pool_size(const st_pool *pool);
/* Run fn on all threads and return when every thread has finished. */
void st_pool_run(st_pool *pool, st_task_fn fn, void *arg);
/* Inside a task: wait until all nth threads reach this point. */
void st_pool_barrier(st_pool *pool);
/* Split [0, n) into nth near-equal chunks: thread ith gets [*lo, *hi). */
static inline void st_split(int64_t n, int ith, int nth, int64_t *lo, int64_t *hi) {
    int64_t per = (n + nth - 1) / nth;
    *lo = per * ith < n ? per * ith : n;
    *hi = *lo + per < n ? *lo + per : n;
}
int st_physical_cores(void);

/* A thread's run of work items [front, back), packed front | back << 32, for
 * work stealing: the owner takes from the front, so it works through its run
 * in order (and can prefetch what comes next), while a thread that is done
 * takes single items from the back of the others' runs. */
typedef struct st_range {
    _Alignas(64) atomic_ullong fb;
} st_range;

static inline void st_range_set(st_range *r, int64_t lo, int64_t hi) {
    atomic_store_explicit(&r->fb, (unsigned long long)hi << 32 | (unsigned long long)lo, memory_order_relaxed);
}

/* The next item (from the back: the last one), or -1 when the run is empty. */
static inline int64_t st_range_take(st_range *r, int from_back) {
    unsigned long long v = atomic_load_explicit(&r->fb, memory_order_relaxed);
    for (;;) {
        const unsigned long long f = v & 0xffffffffu, b = v >> 32;
        if (f >= b) return -1;
        const unsigned long long nv = from_back ? (b - 1) << 32 | f : b << 32 | (f + 1);
        if (atomic_compare_exchange_weak_explicit(&r->fb, &v, nv, memory_order_relaxed, memory_order_relaxed))
            return (int64_t)(from_back ? b - 1 : f);
    }
}
#endif
