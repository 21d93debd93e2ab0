/* The full-vocabulary passes of every sampling step, vectorised: e_i = exp((l_i - max) / T)
 * with the sums needed for normalisation and entropy. This file is compiled
 * with -ffast-math (see the Makefile) so that expf is vectorised through
 * glibc's libmvec; inputs are finite here (the caller checked the maximum). */
#include "softmax.h"

#include <math.h>

/* One copy per vector width, picked by the loader for the running CPU
 * (ifunc): the AVX-512 one calls glibc's 16-wide expf and is ~3x faster than
 * the baseline SSE copy over attention rows and the vocabulary. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ST_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ST_CLONES
#endif

ST_CLONES
void st_softmax_pass(const float *logits, int n, float mx, float inv_temp, float *e, double *z, double *zx) {
    float sz = 0.0f, szx = 0.0f;
    /* float partial sums in blocks keep the loop vectorisable; blocks are
     * folded into doubles so 150k-term sums stay accurate */
    double dz = 0, dzx = 0;
    for (int b = 0; b < n; b += 4096) {
        int end = b + 4096 < n ? b + 4096 : n;
        sz = 0.0f;
        szx = 0.0f;
        for (int i = b; i < end; i++) {
            float a = (logits[i] - mx) * inv_temp;
            float v = expf(a);
            e[i] = v;
            sz += v;
            szx += v * a;
        }
        dz += sz;
        dzx += szx;
    }
    *z = dz;
    *zx = dzx;
}

ST_CLONES
float st_max_f32(const float *x, int n) {
    float m = x[0];
    for (int i = 1; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

int st_any_greater(const float *x, int n, float t) {
    int any = 0;
    for (int i = 0; i < n; i++) any |= x[i] > t;
    return any;
}
