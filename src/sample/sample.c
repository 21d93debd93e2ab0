/* Sampler chain: temperature, top-k, top-p, min-p over a large vocabulary
 * without sorting it: a bounded heap selects the candidates that can matter. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/status.h"
#include "softthink.h"
#include "softmax.h"

struct st_sampler {
    st_sampler_params p;
    int n_vocab;
    uint64_t rng[4];      /* xoshiro256** state */
    float *e;             /* [n_vocab] exp((l - max) / temp) */
    st_token *ids;        /* [n_vocab] candidate scratch */
    float *probs;         /* [n_vocab] */
    uint32_t *keys;       /* [2][n_vocab] radix-sort keys (nucleus without top-k) */
    st_token *ids2;       /* [n_vocab] radix-sort scratch */
    double nuc_mass[1 << 12]; /* mass and count per value bucket (see nucleus_candidates) */
    int nuc_cnt[1 << 12];
    st_candidates cand;
};

st_sampler_params st_sampler_default_params(void) {
    return (st_sampler_params){.temp = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f, .seed = 0};
}

static uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static uint64_t next_u64(st_sampler *s) {
    uint64_t *r = s->rng, res = rotl(r[1] * 5, 7) * 9, t = r[1] << 17;
    r[2] ^= r[0]; r[3] ^= r[1]; r[1] ^= r[2]; r[0] ^= r[3]; r[2] ^= t; r[3] = rotl(r[3], 45);
    return res;
}
double st_sampler_uniform(st_sampler *s) { return (double)(next_u64(s) >> 11) * (1.0 / 9007199254740992.0); }

st_status st_sampler_init(const st_sampler_params *p, int n_vocab, st_sampler **out) {
    *out = NULL;
    st_sampler_params q = p ? *p : st_sampler_default_params();
    if (n_vocab < 1) return st_errorf(ST_E_ARG, "sampler: vocabulary size %d", n_vocab);
    if (!(q.top_p > 0.0f && q.top_p <= 1.0f)) return st_errorf(ST_E_ARG, "sampler: top_p %g outside (0, 1]", q.top_p);
    if (!(q.min_p >= 0.0f && q.min_p < 1.0f)) return st_errorf(ST_E_ARG, "sampler: min_p %g outside [0, 1)", q.min_p);
    if (q.top_k < 0) return st_errorf(ST_E_ARG, "sampler: top_k %d is negative", q.top_k);
    if (!isfinite(q.temp)) return st_errorf(ST_E_ARG, "sampler: temperature is not finite");
    st_sampler *s = calloc(1, sizeof *s);
    if (!s) return st_errorf(ST_E_NOMEM, "out of memory");
    s->p = q;
    s->n_vocab = n_vocab;
    s->e = malloc((size_t)n_vocab * sizeof(float));
    s->ids = malloc((size_t)n_vocab * sizeof(st_token));
    s->probs = malloc((size_t)n_vocab * sizeof(float));
    s->keys = malloc((size_t)n_vocab * 2 * sizeof(uint32_t));
    s->ids2 = malloc((size_t)n_vocab * sizeof(st_token));
    if (!s->e || !s->ids || !s->probs || !s->keys || !s->ids2) { st_sampler_free(s); return st_errorf(ST_E_NOMEM, "out of memory"); }
    uint64_t x = q.seed;
    for (int i = 0; i < 4; i++) s->rng[i] = splitmix(&x);
    *out = s;
    return ST_OK;
}

void st_sampler_free(st_sampler *s) {
    if (!s) return;
    free(s->e); free(s->ids); free(s->probs); free(s->keys); free(s->ids2);
    free(s);
}

/* Min-heap on e[] of at most k ids: keeps the k largest seen. */
static void heap_sift_down(st_token *h, int n, int i, const float *e) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && e[h[l]] < e[h[m]]) m = l;
        if (r < n && e[h[r]] < e[h[m]]) m = r;
        if (m == i) return;
        st_token t = h[i]; h[i] = h[m]; h[m] = t;
        i = m;
    }
}

static int cmp_desc(const void *a, const void *b, void *arg) {
    const float *e = arg;
    float x = e[*(const st_token *)a], y = e[*(const st_token *)b];
    if (x != y) return x < y ? 1 : -1;
    return *(const st_token *)a - *(const st_token *)b; /* ties: lower id first, deterministic */
}

/* The k largest of e[0..n) into ids[0..k), sorted descending. O(n log k).
 * Once the heap is full, most of the vocabulary is below its smallest, so
 * blocks with nothing above it are skipped by a vectorised test. */
static int select_top(const float *e, int n, int k, st_token *ids) {
    enum { BLK = 64 };
    if (k > n) k = n;
    int m = 0;
    for (int b = 0; b < n; b += BLK) {
        const int end = b + BLK < n ? b + BLK : n;
        if (m == k && !st_any_greater(e + b, end - b, e[ids[0]])) continue;
        for (int i = b; i < end; i++) {
            if (m < k) {
                ids[m++] = i;
                if (m == k)
                    for (int j = k / 2 - 1; j >= 0; j--) heap_sift_down(ids, k, j, e);
            } else if (e[i] > e[ids[0]]) {
                ids[0] = i;
                heap_sift_down(ids, k, 0, e);
            }
        }
    }
    qsort_r(ids, (size_t)m, sizeof *ids, cmp_desc, (void *)e);
    return m;
}

/* Top-p over the whole vocabulary (no top-k). Positive floats order like
 * their bit patterns, so the high bits bucket e[] by value: one pass gives the
 * mass of each bucket, the buckets from the top down to the one that reaches
 * the target hold every token the nucleus can need, and only those are
 * sorted. A flat distribution makes that most of the vocabulary: a stable LSD
 * radix sort on the bits (ties keep the lower id first, as cmp_desc) keeps it
 * O(n) instead of growing a heap to the whole vocabulary. */
#define NUC_SHIFT 19
#define NUC_BUCKETS (1 << (31 - NUC_SHIFT))
_Static_assert(sizeof(((st_sampler *)0)->nuc_cnt) == NUC_BUCKETS * sizeof(int), "bucket arrays match NUC_SHIFT");
static int nucleus_candidates(st_sampler *s, double target) {
    const int n = s->n_vocab;
    const float *e = s->e;
    double *mass = s->nuc_mass;
    int *cnt = s->nuc_cnt;
    memset(mass, 0, sizeof s->nuc_mass);
    memset(cnt, 0, sizeof s->nuc_cnt);
    for (int i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, &e[i], 4);
        mass[b >> NUC_SHIFT] += e[i];
        cnt[b >> NUC_SHIFT]++;
    }
    int lo = NUC_BUCKETS - 1, m = 0;
    double cum = 0;
    for (; lo > 0; lo--) {
        cum += mass[lo];
        m += cnt[lo];
        if (cum >= target) break;
    }
    if (lo == 0) m += cnt[0];
    uint32_t *k0 = s->keys, *k1 = s->keys + n;
    st_token *id0 = s->ids, *id1 = s->ids2;
    int j = 0;
    for (int i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, &e[i], 4);
        if ((int)(b >> NUC_SHIFT) >= lo) { k0[j] = 0x7fffffffu - b; id0[j++] = i; }
    }
    if (m <= 2048) {
        qsort_r(id0, (size_t)m, sizeof *id0, cmp_desc, (void *)e);
        return m;
    }
    for (int pass = 0; pass < 4; pass++) {
        int shift = 8 * pass, c[257] = {0};
        for (int i = 0; i < m; i++) c[((k0[i] >> shift) & 255) + 1]++;
        for (int d = 0; d < 256; d++) c[d + 1] += c[d];
        for (int i = 0; i < m; i++) {
            int d = c[(k0[i] >> shift) & 255]++;
            k1[d] = k0[i];
            id1[d] = id0[i];
        }
        uint32_t *tk = k0; k0 = k1; k1 = tk;
        st_token *ti = id0; id0 = id1; id1 = ti;
    }
    /* four passes: the sorted ids are back in s->ids */
    return m;
}

st_status st_sampler_filter(st_sampler *s, const float *logits, int max_keep, const st_candidates **out) {
    int n = s->n_vocab;
    float *e = s->e;
    st_candidates *c = &s->cand;
    c->ids = s->ids;
    c->probs = s->probs;
    const float mx = st_max_f32(logits, n);
    if (!isfinite(mx)) return st_errorf(ST_E_ARG, "sampler: logits contain no finite maximum (%g)", mx);
    if (s->p.temp <= 0.0f) { /* greedy: the first maximum */
        int amax = 0;
        while (logits[amax] != mx) amax++;
        c->n = 1;
        c->ids[0] = amax;
        c->probs[0] = 1.0f;
        c->entropy = 0.0f;
        *out = c;
        return ST_OK;
    }
    float it = 1.0f / s->p.temp;
    double z = 0, zx = 0;
    st_softmax_pass(logits, n, mx, it, e, &z, &zx);
    c->entropy = (float)(log(z) - zx / z); /* H = log Z - E[a] */

    /* top-k (bounded by max_keep), then grow the sorted prefix until top-p is covered */
    int k = s->p.top_k > 0 && s->p.top_k < n ? s->p.top_k : n;
    double zk = z;
    int m = k;
    if (k == n && s->p.top_p < 1.0f) {
        m = nucleus_candidates(s, s->p.top_p * z);
    } else if (k < n || s->p.top_p < 1.0f || max_keep > 0 || s->p.min_p > 0.0f) {
        m = k < 256 ? k : 256;
        if (max_keep > 0 && s->p.top_p >= 1.0f && s->p.min_p <= 0.0f && max_keep < m) m = max_keep;
        for (;;) {
            m = select_top(e, n, m, c->ids);
            if (k < n && m == k) {
                zk = 0;
                for (int i = 0; i < m; i++) zk += e[c->ids[i]];
            }
            double cum = 0;
            for (int i = 0; i < m; i++) cum += e[c->ids[i]];
            if (m == k || (s->p.top_p < 1.0f && cum >= s->p.top_p * zk) ||
                (s->p.top_p >= 1.0f && (max_keep > 0 && m >= max_keep)) ||
                (s->p.top_p >= 1.0f && s->p.min_p > 0.0f && e[c->ids[m - 1]] < s->p.min_p))
                break;
            m = m * 8 < k ? m * 8 : k;
        }
    } else {
        for (int i = 0; i < n; i++) c->ids[i] = i;
    }
    /* top-p on the top-k renormalised distribution: smallest prefix with mass >= top_p */
    if (s->p.top_p < 1.0f) {
        double cum = 0;
        int cut = m;
        for (int i = 0; i < m; i++) {
            cum += e[c->ids[i]];
            if (cum >= s->p.top_p * zk) { cut = i + 1; break; }
        }
        m = cut;
    }
    /* min-p: drop p_i < min_p * max p (e of the top candidate is 1 when sorted) */
    if (s->p.min_p > 0.0f && m > 1) {
        int cut = 1;
        while (cut < m && e[c->ids[cut]] >= s->p.min_p) cut++;
        m = cut;
    }
    if (max_keep > 0 && m > max_keep) m = max_keep;
    double zs = 0;
    for (int i = 0; i < m; i++) zs += e[c->ids[i]];
    for (int i = 0; i < m; i++) c->probs[i] = (float)(e[c->ids[i]] / zs);
    c->n = m;
    *out = c;
    return ST_OK;
}

st_status st_sampler_sample(st_sampler *s, const float *logits, st_token *tok, float *entropy) {
    const st_candidates *c;
    ST_TRY(st_sampler_filter(s, logits, 0, &c));
    if (entropy) *entropy = c->entropy;
    double r = st_sampler_uniform(s), cum = 0;
    for (int i = 0; i < c->n; i++) {
        cum += c->probs[i];
        if (r < cum) { *tok = c->ids[i]; return ST_OK; }
    }
    *tok = c->ids[c->n - 1];
    return ST_OK;
}
