/* Timing helpers shared by the micro-benchmarks in bench/. */
#ifndef ST_BENCH_H
#define ST_BENCH_H
#include <time.h>

static inline double bench_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* qsort comparator for doubles, ascending (best and median of trials). */
static inline int bench_cmp_d(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
#endif
