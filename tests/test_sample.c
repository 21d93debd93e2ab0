/* Sampler chain against a brute-force reference (full sort of the tempered
 * distribution, then top-k, top-p, min-p) on a 151,936-token vocabulary:
 * flat, peaked and tied distributions, every filter alone and combined.
 * Also times the worst case for top-p without top-k (flat logits). */
#include <time.h>

#include "softthink.h"
#include "test.h"

#define NV 151936

static float g_e[NV];

static int cmp_ref(const void *a, const void *b) {
    const int x = *(const int *)a, y = *(const int *)b;
    if (g_e[x] != g_e[y]) return g_e[x] < g_e[y] ? 1 : -1;
    return x - y;
}

/* The chain as the API documents it, computed the slow way. */
static int reference(const float *logits, const st_sampler_params *p, int max_keep, int *ids) {
    double mx = -INFINITY, z = 0;
    for (int i = 0; i < NV; i++) mx = fmax(mx, logits[i]);
    for (int i = 0; i < NV; i++) {
        g_e[i] = expf((float)((logits[i] - mx) / p->temp));
        z += g_e[i];
        ids[i] = i;
    }
    qsort(ids, NV, sizeof *ids, cmp_ref);
    int m = p->top_k > 0 && p->top_k < NV ? p->top_k : NV;
    double zk = 0;
    for (int i = 0; i < m; i++) zk += g_e[ids[i]];
    if (p->top_p < 1.0f) {
        double cum = 0;
        for (int i = 0; i < m; i++) {
            cum += g_e[ids[i]];
            if (cum >= p->top_p * zk) { m = i + 1; break; }
        }
    }
    if (p->min_p > 0.0f) {
        int cut = 1;
        while (cut < m && g_e[ids[cut]] >= p->min_p * g_e[ids[0]]) cut++;
        m = cut;
    }
    if (max_keep > 0 && m > max_keep) m = max_keep;
    return m;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static uint64_t g_rng = 88172645463325252ull;
static double urand(void) {
    g_rng ^= g_rng << 13; g_rng ^= g_rng >> 7; g_rng ^= g_rng << 17;
    return (g_rng >> 11) * (1.0 / 9007199254740992.0);
}

int main(void) {
    float *logits = malloc(sizeof(float) * NV);
    int *ref = malloc(sizeof(int) * NV);
    const char *shapes[] = {"flat", "peaked", "ties", "zipf"};
    const struct { int k; float p, minp; int keep; } cfg[] = {
        {0, 0.95f, 0, 0}, {0, 0.5f, 0, 0}, {0, 0.999f, 0, 0}, {30, 0.95f, 0.001f, 0}, {0, 1.0f, 0.05f, 0},
        {0, 0.9f, 0.01f, 0}, {50, 1.0f, 0, 0}, {0, 0.95f, 0, 10}, {1, 0.95f, 0, 0},
    };
    for (int sh = 0; sh < 4; sh++) {
        for (int i = 0; i < NV; i++) {
            double u = urand();
            logits[i] = sh == 0 ? (float)(u * 0.01)                      /* nearly uniform */
                      : sh == 1 ? (float)(u * 4 + (i % 1000 == 7 ? 12 : 0)) /* a few hundred strong tokens */
                      : sh == 2 ? (float)((int)(u * 4))                  /* four values, many exact ties */
                                : (float)(-1.1 * log(1 + i) + u * 0.5);    /* long tail */
        }
        for (size_t ci = 0; ci < sizeof cfg / sizeof *cfg; ci++) {
            st_sampler_params p = st_sampler_default_params();
            p.temp = 0.8f;
            p.top_k = cfg[ci].k;
            p.top_p = cfg[ci].p;
            p.min_p = cfg[ci].minp;
            st_sampler *s;
            CHECK_OK(st_sampler_init(&p, NV, &s));
            const st_candidates *c;
            CHECK_OK(st_sampler_filter(s, logits, cfg[ci].keep, &c));
            int m = reference(logits, &p, cfg[ci].keep, ref);
            /* exp and sums are rounded differently here (libm, one double
             * sum) than in the library (vector exp, blocked float sums): near-
             * equal values may swap and a cut on a sum may move by a token or
             * two in a long flat tail. Anything more is a bug. */
            int n = c->n, lo = n < m ? n : m, hi = n < m ? m : n;
            double zall = 0, dm = 0;
            for (int i = 0; i < NV; i++) zall += g_e[i];
            for (int i = lo; i < hi && i < NV; i++) dm += g_e[ref[i]];
            /* the cut may differ by a sliver of mass: 1e-5 of the total, or two tokens */
            int ok = n >= 1 && (hi - lo <= 2 || dm <= 1e-5 * zall);
            char *in = calloc(NV, 1);
            int why = ok ? 0 : 1;
            for (int i = 0; ok && i < n; i++) {
                why = 2;
                ok = c->ids[i] >= 0 && c->ids[i] < NV && !in[c->ids[i]];
                if (ok) in[c->ids[i]] = 1;
                if (ok && i) ok = g_e[c->ids[i]] <= g_e[c->ids[i - 1]] * (1 + 1e-5f);
                if (!ok && i) fprintf(stderr, "  at %d: ids %d %d e %.9g %.9g logits %.9g %.9g\n", i, c->ids[i - 1], c->ids[i], g_e[c->ids[i - 1]], g_e[c->ids[i]], logits[c->ids[i - 1]], logits[c->ids[i]]);
            }
            /* a prefix: nothing left out is clearly more likely than the last kept */
            if (ok) why = 3;
            for (int i = 0; ok && i < NV; i++) ok = in[i] || g_e[i] <= g_e[c->ids[n - 1]] * (1 + 1e-5f);
            /* away from ties the very same list */
            if (ok) why = 4;
            for (int i = 0; ok && i < lo; i++)
                ok = c->ids[i] == ref[i] || fabsf(g_e[c->ids[i]] - g_e[ref[i]]) <= 1e-5f * g_e[ref[i]];
            free(in);
            if (!ok) fprintf(stderr, "  (check %d; mass between the cuts %.3g of the total)\n", why, dm / zall);
            double sum = 0;
            for (int i = 0; i < c->n; i++) sum += c->probs[i];
            CHECKF(ok, "%s logits, top_k %d top_p %g min_p %g keep %d: %d candidates, reference %d (or order differs)",
                   shapes[sh], p.top_k, p.top_p, p.min_p, cfg[ci].keep, c->n, m);
            CHECKF(fabs(sum - 1) < 1e-4, "%s: probabilities sum to %g", shapes[sh], sum);
            st_sampler_free(s);
        }
    }
    /* worst case of the nucleus alone: flat logits keep ~95% of the vocabulary */
    for (int i = 0; i < NV; i++) logits[i] = (float)(urand() * 0.01);
    st_sampler_params p = st_sampler_default_params();
    p.top_p = 0.95f;
    st_sampler *s;
    CHECK_OK(st_sampler_init(&p, NV, &s));
    const st_candidates *c;
    double best = 1e9;
    for (int r = 0; r < 5; r++) {
        double t0 = now();
        CHECK_OK(st_sampler_filter(s, logits, 0, &c));
        best = fmin(best, now() - t0);
    }
    fprintf(stderr, "top-p 0.95 alone on flat logits: %d candidates in %.2f ms\n", c->n, best * 1e3);
    /* generous: a heap grown to the vocabulary took tens of ms; this is a few */
    CHECKF(best < 0.025, "nucleus on flat logits took %.1f ms", best * 1e3);
    st_sampler_free(s);
    free(logits);
    free(ref);
    fprintf(stderr, "test_sample: %d passed, %d failed\n", t_pass, t_fail);
    return t_fail != 0;
}
