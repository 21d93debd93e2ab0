/* Time of the sampler's full-vocabulary work per decode step (softmax with
 * temperature, entropy, top-k / top-p / min-p selection, the draw), to compare
 * with a decode step: the performance issue asks for < 3% of one.
 *
 *   make bench-tools && build/bench_sample [n_vocab]
 *
 * Logits are Gaussian with a given spread: sigma 4 gives a peaked distribution
 * like a trained model's, sigma 0.1 a nearly flat one (the hard case for top-p).
 * Reports the best and the median of 200 calls. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "softthink.h"
#include "bench.h"

static float gauss(unsigned *s) {
    double u1, u2;
    *s = *s * 1103515245u + 12345u;
    u1 = ((*s >> 8) + 1.0) / 16777217.0;
    *s = *s * 1103515245u + 12345u;
    u2 = (*s >> 8) / 16777216.0;
    return (float)(sqrt(-2 * log(u1)) * cos(2 * M_PI * u2));
}

static void run(const char *label, int nv, float sigma, float temp, int top_k, float top_p, float min_p) {
    enum { N = 200 };
    static double tt[N];
    float *logits = malloc((size_t)nv * sizeof *logits);
    unsigned seed = 1;
    for (int i = 0; i < nv; i++) logits[i] = sigma * gauss(&seed);
    st_sampler_params p = st_sampler_default_params();
    p.temp = temp;
    p.top_k = top_k;
    p.top_p = top_p;
    p.min_p = min_p;
    p.seed = 7;
    st_sampler *s = NULL;
    if (st_sampler_init(&p, nv, &s) != ST_OK) { fprintf(stderr, "sampler init failed\n"); exit(1); }
    st_token tok;
    float h;
    for (int i = 0; i < N; i++) {
        double t0 = bench_now();
        st_sampler_sample(s, logits, &tok, &h);
        tt[i] = bench_now() - t0;
    }
    qsort(tt, N, sizeof tt[0], bench_cmp_d);
    printf("| %s | %d | %.1f | %.2f | %d | %.2f | %g | %.3f | %.3f |\n", label, nv, sigma, temp, top_k, top_p, min_p,
           tt[0] * 1e3, tt[N / 2] * 1e3);
    st_sampler_free(s);
    free(logits);
}

int main(int argc, char **argv) {
    int nv = argc > 1 ? atoi(argv[1]) : 151936;
    if (nv < 2) { fprintf(stderr, "n_vocab must be >= 2\n"); return 1; }
    printf("| case | n_vocab | logit sigma | temp | top-k | top-p | min-p | best ms | median ms |\n");
    printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    run("paper's thinking filter, peaked", nv, 4.0f, 0.6f, 30, 0.95f, 0.001f);
    run("paper's thinking filter, flat", nv, 0.1f, 0.6f, 30, 0.95f, 0.001f);
    run("top-p only, peaked", nv, 4.0f, 0.6f, 0, 0.95f, 0);
    run("top-p only, flat", nv, 0.1f, 0.6f, 0, 0.95f, 0);
    run("greedy", nv, 4.0f, 0, 0, 1, 0);
    return 0;
}
