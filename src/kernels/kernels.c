/* Run-time choice of the kernel table. Compiled for baseline x86-64: it only
 * asks the CPU what it can do and never executes SIMD code itself. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

/* XCR0 via inline asm: the _xgetbv intrinsic would need -mxsave on this file. */
static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t)hi << 32 | lo;
}

/* A feature bit in CPUID is not enough: the OS must also save the wider
 * registers on context switch (XCR0), or their upper halves get corrupted. */
static void detect(int *avx2, int *avx512) {
    unsigned a, b, c, d;
    *avx2 = *avx512 = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    const int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1, f16c = (c >> 29) & 1;
    if (!osxsave || !avx) return;
    const uint64_t xcr0 = xgetbv0();
    const int ymm_os = (xcr0 & 0x6) == 0x6;    /* SSE + AVX state */
    const int zmm_os = (xcr0 & 0xe6) == 0xe6;  /* + opmask, ZMM_Hi256, Hi16_ZMM */
    if (__get_cpuid_max(0, NULL) < 7) return;
    __cpuid_count(7, 0, a, b, c, d);
    const int has_avx2 = (b >> 5) & 1;
    const int f = (b >> 16) & 1, dq = (b >> 17) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1;
    const int vnni = (c >> 11) & 1;
    unsigned a1, b1, c1, d1;
    __cpuid_count(7, 1, a1, b1, c1, d1);
    const int bf16 = (a1 >> 5) & 1;
    *avx2 = ymm_os && has_avx2 && fma && f16c;
    *avx512 = *avx2 && zmm_os && f && dq && bw && vl && vnni && bf16;
}
#else
static void detect(int *avx2, int *avx512) { *avx2 = *avx512 = 0; }
#endif

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static const st_kernels *g_tables[4]; /* runnable tables, best last, NULL-terminated */
static const char *g_names[4];
static const st_kernels *g_best;

static void init(void) {
    int avx2, avx512, n = 0;
    detect(&avx2, &avx512);
    g_tables[n++] = &st_kernels_scalar_table;
    if (avx2) g_tables[n++] = &st_kernels_avx2_table;
    if (avx512) g_tables[n++] = &st_kernels_avx512_table;
    for (int i = 0; i < n; i++) g_names[i] = g_tables[i]->isa;
    g_best = g_tables[n - 1];
    /* An unknown or unsupported ST_ISA silently keeps the best table: the
     * library never prints, and a wrong override must not break a run. */
    const char *env = getenv("ST_ISA");
    if (env && *env)
        for (int i = 0; i < n; i++)
            if (strcmp(env, g_tables[i]->isa) == 0) g_best = g_tables[i];
}

const st_kernels *st_kernels_best(void) {
    pthread_once(&g_once, init);
    return g_best;
}

const st_kernels *st_kernels_by_name(const char *isa) {
    pthread_once(&g_once, init);
    if (!isa) return NULL;
    for (int i = 0; g_tables[i]; i++)
        if (strcmp(isa, g_tables[i]->isa) == 0) return g_tables[i];
    return NULL;
}

const char *const *st_kernels_available(void) {
    pthread_once(&g_once, init);
    return g_names;
}
