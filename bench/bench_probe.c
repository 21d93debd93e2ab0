/* What the machine gives right now, to read beside a benchmark on a shared
 * VM: DRAM latency (a random pointer chase over 256 MiB), streaming read
 * bandwidth (each thread sums its own 256 MiB), and integer-dot throughput
 * (independent vpdpbusd chains on every thread, the batched decode's
 * bottleneck). Decode of one sequence follows the bandwidth; eight sequences
 * follow the dot throughput, which drops when another tenant shares our
 * cores.
 *
 *   make bench-tools && build/bench_probe [threads]
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <immintrin.h>

#define MAX_THREADS 64
#define STREAM_BYTES ((size_t)256 << 20)

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t rnd(uint64_t *s) {
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

static double latency_ns(void) {
    const size_t n = STREAM_BYTES / 64;
    size_t *a = aligned_alloc(64, n * 64), *perm = malloc(n * sizeof *perm);
    if (!a || !perm) return -1;
    uint64_t s = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) perm[i] = i;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)(rnd(&s) % (i + 1)), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    for (size_t i = 0; i < n; i++) a[perm[i] * 8] = perm[(i + 1) % n] * 8; /* one line per hop */
    const long hops = 2000000;
    size_t p = 0;
    double t0 = now();
    for (long i = 0; i < hops; i++) p = a[p];
    double dt = now() - t0;
    volatile size_t sink = p;
    (void)sink;
    free(a), free(perm);
    return dt / (double)hops * 1e9;
}

typedef struct job { const uint8_t *buf; uint64_t sum; } job;

static void *stream(void *arg) {
    job *j = arg;
    uint64_t s = 0;
    for (size_t i = 0; i < STREAM_BYTES; i += 64) {
        const uint64_t *q = (const uint64_t *)(j->buf + i);
        s += q[0] ^ q[7];
    }
    j->sum = s;
    return NULL;
}

__attribute__((target("avx512f,avx512vnni"))) static void *dots(void *arg) {
    __m512i c[16];
    for (int k = 0; k < 16; k++) c[k] = _mm512_set1_epi32(k);
    __m512i w = _mm512_set1_epi8(3), x = _mm512_set1_epi8(5);
    for (long i = 0; i < 20000000; i++) {
#pragma GCC unroll 16
        for (int k = 0; k < 16; k++) c[k] = _mm512_dpbusd_epi32(c[k], w, x);
        __asm__("" : "+v"(w));
    }
    __m512i s = c[0];
    for (int k = 1; k < 16; k++) s = _mm512_add_epi32(s, c[k]);
    *(int *)arg = _mm_cvtsi128_si32(_mm512_castsi512_si128(s));
    return NULL;
}

int main(int argc, char **argv) {
    int nth = argc > 1 ? atoi(argv[1]) : 2;
    if (nth < 1 || nth > MAX_THREADS) {
        fprintf(stderr, "bench_probe: threads must be 1..%d, got %s\n", MAX_THREADS, argv[1]);
        return 1;
    }
    printf("DRAM latency %.0f ns", latency_ns());

    static job jobs[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    for (int i = 0; i < nth; i++) {
        uint8_t *b = aligned_alloc(64, STREAM_BYTES);
        if (!b) return fprintf(stderr, "bench_probe: out of memory\n"), 1;
        memset(b, i + 1, STREAM_BYTES);
        jobs[i].buf = b;
    }
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
        for (int i = 0; i < nth; i++) pthread_create(&th[i], NULL, stream, &jobs[i]);
        for (int i = 0; i < nth; i++) pthread_join(th[i], NULL);
        double gbs = (double)STREAM_BYTES * nth / (now() - t0) / 1e9;
        best = gbs > best ? gbs : best;
    }
    printf(" | %d-thread read %.1f GB/s", nth, best);
    for (int i = 0; i < nth; i++) free((void *)jobs[i].buf);

    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512vnni")) {
        static int out[MAX_THREADS];
        double t0 = now();
        for (int i = 0; i < nth; i++) pthread_create(&th[i], NULL, dots, &out[i]);
        for (int i = 0; i < nth; i++) pthread_join(th[i], NULL);
        double dt = now() - t0;
        printf(" | vpdpbusd %.2f G/s per thread", 16 * 20000000.0 / dt / 1e9);
    }
    printf("\n");
    return 0;
}
