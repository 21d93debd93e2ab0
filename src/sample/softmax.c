/* The full-vocabulary passes of every sampling step, vectorised: e_i = exp((l_i - max) / T)
 * with the sums needed for normalisation and entropy. This file is compiled
 * with -ffast-math (see the Makefile) so that expf is vectorised through
 * glibc's libmvec; inputs are finite here (the caller checked the maximum). */
#include "softmax.h"

#include <math.h>

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
