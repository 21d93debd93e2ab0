/* A persistent thread pool: workers are created once and wait (spin, then
 * sleep) for work, so dispatching a kernel costs microseconds, not a spawn. */
#ifndef ST_THREADS_POOL_H
#define ST_THREADS_POOL_H
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
#endif
