/* The gpt2-family model in training form: parameters in one f32 array, the
 * forward pass with every activation kept, and the backward pass written out
 * by hand (LayerNorm, fused-qkv causal attention, GELU tanh, tied output).
 * Work is split over the thread pool by rows, columns or (sequence, head);
 * every reduction has a fixed order, so a step gives the same numbers for the
 * same thread count (and in fact for any). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fp16.h"
#include "gguf/gguf.h"
#include "train/train.h"

/* The element-wise and attention loops are written so that GCC vectorizes
 * them; on x86-64 they are compiled twice (AVX-512 and baseline) and picked at
 * load time. Results do not depend on the variant: no reduction is reordered. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define HOT __attribute__((target_clones("avx512f", "default")))
#else
#define HOT
#endif

/* exp for the vectorized loops (Cephes polynomial, ~1 ulp), no branches */
static inline float fexp(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    float n = floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500E-4f;
    p = p * r + 1.3981999507E-3f;
    p = p * r + 8.3334519073E-3f;
    p = p * r + 4.1665795894E-2f;
    p = p * r + 1.6666665459E-1f;
    p = p * r + 5.0000001201E-1f;
    float y = p * r * r + r + 1.0f;
    int32_t e = ((int32_t)n + 127) << 23;
    float sc;
    memcpy(&sc, &e, 4);
    return y * sc;
}

static inline float ftanh(float x) { return 1.0f - 2.0f / (fexp(2.0f * x) + 1.0f); }

/* ------------------------------------------------------------ parameters */

static uint64_t mix64(uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float gauss(uint64_t seed, uint64_t i) {
    uint64_t a = mix64(seed ^ mix64(2 * i)), b = mix64(seed ^ mix64(2 * i + 1));
    double u1 = ((a >> 11) + 1.0) / 9007199254740993.0, u2 = (b >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

st_status st_tmodel_init(st_tmodel *m, const st_tcfg *cfg, uint64_t seed) {
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    const st_tcfg *c = cfg;
    if (c->n_vocab < 2 || c->n_ctx < 2 || c->d < 1 || c->n_layer < 1 || c->n_head < 1 || c->n_ff < 1 || c->d % c->n_head)
        return st_errorf(ST_E_ARG, "train: invalid shape (vocab %d, ctx %d, d %d, layers %d, heads %d, ff %d)", c->n_vocab,
                         c->n_ctx, c->d, c->n_layer, c->n_head, c->n_ff);
    size_t d = (size_t)c->d, ff = (size_t)c->n_ff, n = 0;
    m->L = calloc((size_t)c->n_layer, sizeof *m->L);
    if (!m->L) return st_errorf(ST_E_NOMEM, "train: out of memory");
    m->wte = n; n += (size_t)c->n_vocab * d;
    m->wpe = n; n += (size_t)c->n_ctx * d;
    for (int l = 0; l < c->n_layer; l++) {
        st_tlayer *L = &m->L[l];
        L->ln1_g = n; n += d;
        L->ln1_b = n; n += d;
        L->wqkv = n; n += 3 * d * d;
        L->bqkv = n; n += 3 * d;
        L->wo = n; n += d * d;
        L->bo = n; n += d;
        L->ln2_g = n; n += d;
        L->ln2_b = n; n += d;
        L->wup = n; n += ff * d;
        L->bup = n; n += ff;
        L->wdown = n; n += d * ff;
        L->bdown = n; n += d;
    }
    m->lnf_g = n; n += d;
    m->lnf_b = n; n += d;
    m->n_params = n;
    m->P = calloc(n, sizeof(float));
    m->G = calloc(n, sizeof(float));
    m->decay = calloc(n, 1);
    if (!m->P || !m->G || !m->decay) { st_tmodel_free(m); return st_errorf(ST_E_NOMEM, "train: out of memory (%zu parameters)", n); }
    float sp = 0.02f / sqrtf(2.0f * (float)c->n_layer);
#define FILL(off, cnt, std)                                                   \
    do {                                                                      \
        for (size_t i_ = 0; i_ < (cnt); i_++) {                               \
            m->P[(off) + i_] = (std) * gauss(seed, (off) + i_);               \
            m->decay[(off) + i_] = 1;                                         \
        }                                                                     \
    } while (0)
    FILL(m->wte, (size_t)c->n_vocab * d, 0.02f);
    FILL(m->wpe, (size_t)c->n_ctx * d, 0.01f);
    for (int l = 0; l < c->n_layer; l++) {
        st_tlayer *L = &m->L[l];
        for (size_t i = 0; i < d; i++) m->P[L->ln1_g + i] = m->P[L->ln2_g + i] = 1;
        FILL(L->wqkv, 3 * d * d, 0.02f);
        FILL(L->wo, d * d, sp);
        FILL(L->wup, ff * d, 0.02f);
        FILL(L->wdown, d * ff, sp);
    }
    for (size_t i = 0; i < d; i++) m->P[m->lnf_g + i] = 1;
#undef FILL
    return ST_OK;
}

void st_tmodel_free(st_tmodel *m) {
    free(m->P); free(m->G); free(m->decay); free(m->L);
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------ batches */

void st_tbatch_clear(st_tbatch *b) { b->n_seq = b->n_tok = 0; }

st_status st_tbatch_add(st_tbatch *b, const int *tok, int n, int n_prompt) {
    if (n < 1) return st_errorf(ST_E_ARG, "train: empty sequence");
    if (b->n_tok + n > b->cap_tok) {
        int nc = (b->n_tok + n) * 2;
        int *t = realloc(b->tok, sizeof *t * (size_t)nc);
        if (!t) return st_errorf(ST_E_NOMEM, "train: out of memory");
        b->tok = t;
        b->cap_tok = nc;
    }
    if (b->n_seq + 2 > b->cap_seq) {
        int nc = (b->n_seq + 2) * 2;
        int *o = realloc(b->off, sizeof *o * (size_t)nc);
        if (!o) return st_errorf(ST_E_NOMEM, "train: out of memory");
        b->off = o;
        int *p = realloc(b->prompt, sizeof *p * (size_t)nc);
        if (!p) return st_errorf(ST_E_NOMEM, "train: out of memory");
        b->prompt = p;
        b->cap_seq = nc;
    }
    if (b->n_seq == 0) b->off[0] = 0;
    memcpy(b->tok + b->n_tok, tok, sizeof *tok * (size_t)n);
    b->prompt[b->n_seq] = n_prompt;
    b->n_tok += n;
    b->off[++b->n_seq] = b->n_tok;
    return ST_OK;
}

void st_tbatch_free(st_tbatch *b) {
    free(b->tok); free(b->off); free(b->prompt);
    memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------ workspace */

struct st_tws {
    st_pool *pool;
    st_gemm_ws gw;
    st_tcfg cfg;
    int cap_tok;
    size_t cap_att;
    float *x, *h1, *mu1, *rs1, *qkv, *o, *xm, *h2, *mu2, *rs2, *u, *g, *th, *xf, *muf, *rsf, *logits, *att;
    float *dx, *dh, *dqkv, *dg, *dO, *rowloss;
    int *tgt, *pos, *seq_of, *correct;
    size_t *attoff;
    int cap_seq;
};

st_status st_tws_init(st_tws **out, const st_tcfg *cfg, int n_threads) {
    st_tws *w = calloc(1, sizeof *w);
    if (!w) return st_errorf(ST_E_NOMEM, "train: out of memory");
    w->cfg = *cfg;
    st_status s = st_pool_init(n_threads > 0 ? n_threads : st_physical_cores(), &w->pool);
    if (s) { free(w); return s; }
    *out = w;
    return ST_OK;
}

static void free_bufs(st_tws *w) {
    float **f[] = {&w->x, &w->h1, &w->mu1, &w->rs1, &w->qkv, &w->o, &w->xm, &w->h2, &w->mu2, &w->rs2, &w->u, &w->g, &w->th,
                   &w->xf, &w->muf, &w->rsf, &w->logits, &w->dx, &w->dh, &w->dqkv, &w->dg, &w->dO, &w->rowloss};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) { free(*f[i]); *f[i] = NULL; }
    free(w->tgt); free(w->pos); free(w->seq_of); free(w->correct);
    w->tgt = w->pos = w->seq_of = w->correct = NULL;
    w->cap_tok = 0;
}

void st_tws_free(st_tws *w) {
    if (!w) return;
    free_bufs(w);
    free(w->att); free(w->attoff);
    st_gemm_ws_free(&w->gw);
    st_pool_free(w->pool);
    free(w);
}

st_pool *st_tws_pool(st_tws *w) { return w->pool; }

static st_status reserve(st_tws *w, int n_tok, int n_seq, size_t att) {
    const st_tcfg *c = &w->cfg;
    if (n_tok > w->cap_tok) {
        free_bufs(w);
        size_t N = (size_t)n_tok, d = (size_t)c->d, L = (size_t)c->n_layer, ff = (size_t)c->n_ff, V = (size_t)c->n_vocab;
        int ok = 1;
#define A(p, cnt) ok &= ((p) = malloc(sizeof(float) * (cnt))) != NULL
        A(w->x, (L + 1) * N * d); A(w->h1, L * N * d); A(w->mu1, L * N); A(w->rs1, L * N);
        A(w->qkv, L * N * 3 * d); A(w->o, L * N * d); A(w->xm, L * N * d); A(w->h2, L * N * d);
        A(w->mu2, L * N); A(w->rs2, L * N); A(w->u, L * N * ff); A(w->g, L * N * ff); A(w->th, L * N * ff);
        A(w->xf, N * d); A(w->muf, N); A(w->rsf, N); A(w->logits, N * V);
        A(w->dx, N * d); A(w->dh, N * d); A(w->dqkv, N * 3 * d); A(w->dg, N * ff); A(w->dO, N * d); A(w->rowloss, N);
#undef A
        ok &= (w->tgt = malloc(sizeof(int) * N)) != NULL;
        ok &= (w->pos = malloc(sizeof(int) * N)) != NULL;
        ok &= (w->seq_of = malloc(sizeof(int) * N)) != NULL;
        ok &= (w->correct = malloc(sizeof(int) * N)) != NULL;
        if (!ok) { free_bufs(w); return st_errorf(ST_E_NOMEM, "train: out of memory (%d tokens)", n_tok); }
        w->cap_tok = n_tok;
    }
    if (n_seq + 1 > w->cap_seq) {
        free(w->attoff);
        w->attoff = malloc(sizeof(size_t) * (size_t)(n_seq + 1));
        if (!w->attoff) { w->cap_seq = 0; return st_errorf(ST_E_NOMEM, "train: out of memory"); }
        w->cap_seq = n_seq + 1;
    }
    if (att > w->cap_att) {
        free(w->att);
        w->att = malloc(sizeof(float) * att);
        if (!w->att) { w->cap_att = 0; return st_errorf(ST_E_NOMEM, "train: out of memory (attention)"); }
        w->cap_att = att;
    }
    return ST_OK;
}

/* ------------------------------------------------------------ parallel pieces */

typedef struct op {
    st_tws *w;
    const st_tmodel *m;
    st_tmodel *mg;
    const st_tbatch *b;
    int N, l, backward;
    void (*fn)(struct op *, int64_t lo, int64_t hi);
    int64_t n;
    /* operands */
    const float *in, *gam, *bet, *bias, *res;
    float *out, *mu, *rs, *dgam, *dbet, *dbias;
    int cols;
    float n_tgt;
} op;

static void op_task(void *arg, int ith, int nth) {
    op *o = arg;
    int64_t lo, hi;
    st_split(o->n, ith, nth, &lo, &hi);
    if (lo < hi) o->fn(o, lo, hi);
}

static void run(op *o, void (*fn)(op *, int64_t, int64_t), int64_t n) {
    o->fn = fn;
    o->n = n;
    st_pool_run(o->w->pool, op_task, o);
}

/* LayerNorm rows: out = (in - mu) * rs * gam + bet */
HOT static void ln_fwd(op *o, int64_t lo, int64_t hi) {
    int d = o->cols;
    float eps = o->m->cfg.eps;
    for (int64_t r = lo; r < hi; r++) {
        const float *x = o->in + r * d;
        float *y = o->out + r * d;
        double s = 0;
        for (int j = 0; j < d; j++) s += x[j];
        float mu = (float)(s / d);
        double v = 0;
        for (int j = 0; j < d; j++) v += (double)(x[j] - mu) * (x[j] - mu);
        float rs = 1.0f / sqrtf((float)(v / d) + eps);
        for (int j = 0; j < d; j++) y[j] = (x[j] - mu) * rs * o->gam[j] + o->bet[j];
        o->mu[r] = mu;
        o->rs[r] = rs;
    }
}

/* LayerNorm backward rows: out (dx) += ..., from dy = o->res, x = o->in */
HOT static void ln_bwd_rows(op *o, int64_t lo, int64_t hi) {
    int d = o->cols;
    for (int64_t r = lo; r < hi; r++) {
        const float *x = o->in + r * d, *dy = o->res + r * d;
        float *dx = o->out + r * d, mu = o->mu[r], rs = o->rs[r];
        double a = 0, bsum = 0;
        for (int j = 0; j < d; j++) {
            float xh = (x[j] - mu) * rs, dxh = dy[j] * o->gam[j];
            a += dxh;
            bsum += dxh * xh;
        }
        float ma = (float)(a / d), mb = (float)(bsum / d);
        for (int j = 0; j < d; j++) {
            float xh = (x[j] - mu) * rs, dxh = dy[j] * o->gam[j];
            dx[j] += rs * (dxh - ma - xh * mb);
        }
    }
}

/* LayerNorm parameter gradients, columns [lo, hi) */
HOT static void ln_bwd_cols(op *o, int64_t lo, int64_t hi) {
    int d = o->cols;
    for (int64_t j = lo; j < hi; j++) o->dgam[j] = o->dbet[j] = 0;
    for (int r = 0; r < o->N; r++) {
        const float *x = o->in + (size_t)r * d, *dy = o->res + (size_t)r * d;
        float mu = o->mu[r], rs = o->rs[r];
        for (int64_t j = lo; j < hi; j++) {
            o->dgam[j] += dy[j] * (x[j] - mu) * rs;
            o->dbet[j] += dy[j];
        }
    }
}

/* out[r] += bias (+ res[r]) */
HOT static void add_rows(op *o, int64_t lo, int64_t hi) {
    int c = o->cols;
    for (int64_t r = lo; r < hi; r++) {
        float *y = o->out + r * c;
        if (o->bias)
            for (int j = 0; j < c; j++) y[j] += o->bias[j];
        if (o->res) {
            const float *x = o->res + r * c;
            for (int j = 0; j < c; j++) y[j] += x[j];
        }
    }
}

/* dbias[j] = sum_r in[r][j] */
HOT static void colsum(op *o, int64_t lo, int64_t hi) {
    int c = o->cols;
    for (int64_t j = lo; j < hi; j++) o->dbias[j] = 0;
    for (int r = 0; r < o->N; r++) {
        const float *x = o->in + (size_t)r * c;
        for (int64_t j = lo; j < hi; j++) o->dbias[j] += x[j];
    }
}

#define GELU_C 0.7978845608028654f
HOT static void gelu_fwd(op *o, int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) {
        float x = o->in[i], t = ftanh(GELU_C * (x + 0.044715f * x * x * x));
        o->out[i] = 0.5f * x * (1.0f + t);
        o->mu[i] = t;
    }
}

/* out (dg) *= gelu'(in) */
HOT static void gelu_bwd(op *o, int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) {
        float x = o->in[i], t = o->rs[i];
        float dd = 0.5f * (1 + t) + 0.5f * x * (1 - t * t) * GELU_C * (1 + 3 * 0.044715f * x * x);
        o->out[i] *= dd;
    }
}

HOT static void embed_fwd(op *o, int64_t lo, int64_t hi) {
    const st_tmodel *m = o->m;
    int d = m->cfg.d;
    for (int64_t t = lo; t < hi; t++) {
        const float *e = m->P + m->wte + (size_t)o->b->tok[t] * d, *p = m->P + m->wpe + (size_t)o->w->pos[t] * d;
        float *x = o->w->x + t * d;
        for (int j = 0; j < d; j++) x[j] = e[j] + p[j];
    }
}

/* embedding gradients, columns [lo, hi): every token adds its dx */
HOT static void embed_bwd(op *o, int64_t lo, int64_t hi) {
    st_tmodel *m = o->mg;
    int d = m->cfg.d;
    for (int t = 0; t < o->N; t++) {
        const float *dx = o->w->dx + (size_t)t * d;
        float *ge = m->G + m->wte + (size_t)o->b->tok[t] * d, *gp = m->G + m->wpe + (size_t)o->w->pos[t] * d;
        for (int64_t j = lo; j < hi; j++) {
            ge[j] += dx[j];
            gp[j] += dx[j];
        }
    }
}

/* attention forward per (sequence, head) */
static inline float dot(const float *a, const float *b, int n) {
    float acc[16] = {0};
    int e = 0;
    for (; e + 16 <= n; e += 16)
        for (int l = 0; l < 16; l++) acc[l] += a[e + l] * b[e + l];
    float s = 0;
    for (int l = 0; l < 16; l++) s += acc[l];
    for (; e < n; e++) s += a[e] * b[e];
    return s;
}

HOT static void att_fwd(op *o, int64_t lo, int64_t hi) {
    st_tws *w = o->w;
    const st_tcfg *c = &o->m->cfg;
    int d = c->d, H = c->n_head, hd = d / H, l = o->l;
    float scale = 1.0f / sqrtf((float)hd);
    const float *qkv = w->qkv + (size_t)l * o->N * 3 * d;
    float *out = w->o + (size_t)l * o->N * d;
    size_t att_l = (size_t)l * w->attoff[o->b->n_seq] * H;
    for (int64_t u = lo; u < hi; u++) {
        int s = (int)(u / H), h = (int)(u % H), s0 = o->b->off[s], T = o->b->off[s + 1] - s0;
        float *P = w->att + att_l + w->attoff[s] * H + (size_t)h * T * T;
        for (int i = 0; i < T; i++) {
            const float *q = qkv + (size_t)(s0 + i) * 3 * d + h * hd;
            float *pr = P + (size_t)i * T, mx = -INFINITY;
            for (int j = 0; j <= i; j++) {
                pr[j] = dot(q, qkv + (size_t)(s0 + j) * 3 * d + d + h * hd, hd) * scale;
                mx = pr[j] > mx ? pr[j] : mx;
            }
            for (int j = 0; j <= i; j++) pr[j] = fexp(pr[j] - mx);
            float sum = 0;
            for (int j = 0; j <= i; j++) sum += pr[j];
            float inv = 1.0f / sum;
            float *y = out + (size_t)(s0 + i) * d + h * hd;
            for (int e = 0; e < hd; e++) y[e] = 0;
            for (int j = 0; j <= i; j++) {
                float pj = pr[j] * inv;
                pr[j] = pj;
                const float *v = qkv + (size_t)(s0 + j) * 3 * d + 2 * d + h * hd;
                for (int e = 0; e < hd; e++) y[e] += pj * v[e];
            }
        }
    }
}

HOT static void att_bwd(op *o, int64_t lo, int64_t hi) {
    st_tws *w = o->w;
    const st_tcfg *c = &o->m->cfg;
    int d = c->d, H = c->n_head, hd = d / H, l = o->l;
    float scale = 1.0f / sqrtf((float)hd);
    const float *qkv = w->qkv + (size_t)l * o->N * 3 * d;
    size_t att_l = (size_t)l * w->attoff[o->b->n_seq] * H;
    float dp[1024];
    for (int64_t u = lo; u < hi; u++) {
        int s = (int)(u / H), h = (int)(u % H), s0 = o->b->off[s], T = o->b->off[s + 1] - s0;
        const float *P = w->att + att_l + w->attoff[s] * H + (size_t)h * T * T;
        for (int i = 0; i < T; i++) {
            float *r = w->dqkv + (size_t)(s0 + i) * 3 * d + h * hd;
            for (int e = 0; e < hd; e++) r[e] = r[d + e] = r[2 * d + e] = 0;
        }
        for (int i = 0; i < T; i++) {
            const float *pr = P + (size_t)i * T, *dy = w->dO + (size_t)(s0 + i) * d + h * hd;
            const float *q = qkv + (size_t)(s0 + i) * 3 * d + h * hd;
            float *dq = w->dqkv + (size_t)(s0 + i) * 3 * d + h * hd;
            float sum = 0;
            for (int j = 0; j <= i; j++) {
                const float *v = qkv + (size_t)(s0 + j) * 3 * d + 2 * d + h * hd;
                float *dv = w->dqkv + (size_t)(s0 + j) * 3 * d + 2 * d + h * hd;
                float pj = pr[j];
                for (int e = 0; e < hd; e++) dv[e] += pj * dy[e];
                dp[j] = dot(dy, v, hd);
                sum += pj * dp[j];
            }
            for (int j = 0; j <= i; j++) {
                float ds = pr[j] * (dp[j] - sum) * scale;
                const float *k = qkv + (size_t)(s0 + j) * 3 * d + d + h * hd;
                float *dk = w->dqkv + (size_t)(s0 + j) * 3 * d + d + h * hd;
                for (int e = 0; e < hd; e++) dq[e] += ds * k[e];
                for (int e = 0; e < hd; e++) dk[e] += ds * q[e];
            }
        }
    }
}

/* cross-entropy rows; backward turns logits into dlogits in place */
HOT static void xent(op *o, int64_t lo, int64_t hi) {
    st_tws *w = o->w;
    int V = o->m->cfg.n_vocab;
    for (int64_t t = lo; t < hi; t++) {
        float *z = w->logits + t * V;
        int y = w->tgt[t];
        if (y < 0) {
            w->rowloss[t] = 0;
            w->correct[t] = 0;
            if (o->backward) memset(z, 0, sizeof(float) * (size_t)V);
            continue;
        }
        float mx = z[0];
        int am = 0;
        for (int j = 1; j < V; j++) if (z[j] > mx) { mx = z[j]; am = j; }
        float s = 0;
        for (int j = 0; j < V; j++) s += fexp(z[j] - mx);
        float lse = mx + logf(s);
        w->rowloss[t] = lse - z[y];
        w->correct[t] = am == y;
        if (o->backward) {
            float inv = 1.0f / o->n_tgt;
            for (int j = 0; j < V; j++) z[j] = fexp(z[j] - lse) * inv;
            z[y] -= inv;
        }
    }
}

/* ------------------------------------------------------------ step */

#define TRY(x) do { st_status s_ = (x); if (s_) return s_; } while (0)

st_status st_tmodel_step(st_tmodel *m, st_tws *w, const st_tbatch *b, int backward, float *loss, float *acc) {
    const st_tcfg *c = &m->cfg;
    int N = b->n_tok, d = c->d, ff = c->n_ff, V = c->n_vocab, H = c->n_head, NL = c->n_layer;
    size_t att = 0;
    for (int s = 0; s < b->n_seq; s++) {
        int T = b->off[s + 1] - b->off[s];
        if (T > c->n_ctx) return st_errorf(ST_E_FULL, "train: sequence of %d tokens exceeds the context %d", T, c->n_ctx);
        if (T > 1024) return st_errorf(ST_E_ARG, "train: sequence longer than 1024");
        att += (size_t)T * T;
    }
    TRY(reserve(w, N, b->n_seq, att * H * NL));
    size_t ao = 0;
    int n_tgt = 0;
    for (int s = 0; s < b->n_seq; s++) {
        int s0 = b->off[s], T = b->off[s + 1] - s0;
        w->attoff[s] = ao;
        ao += (size_t)T * T;
        for (int i = 0; i < T; i++) {
            w->pos[s0 + i] = i;
            w->seq_of[s0 + i] = s;
            int y = i + 1 < T && i + 1 >= b->prompt[s] ? b->tok[s0 + i + 1] : -1;
            if (y >= V || b->tok[s0 + i] < 0 || b->tok[s0 + i] >= V) return st_errorf(ST_E_ARG, "train: token id out of range");
            w->tgt[s0 + i] = y;
            n_tgt += y >= 0;
        }
    }
    w->attoff[b->n_seq] = ao;
    op o = {.w = w, .m = m, .mg = m, .b = b, .N = N, .backward = backward, .n_tgt = (float)(n_tgt ? n_tgt : 1)};
    st_pool *pool = w->pool;
    const float *P = m->P;
    size_t Nd = (size_t)N * d;

    run(&o, embed_fwd, N);
    for (int l = 0; l < NL; l++) {
        const st_tlayer *L = &m->L[l];
        float *x = w->x + l * Nd, *h1 = w->h1 + l * Nd, *qkv = w->qkv + l * Nd * 3, *ob = w->o + l * Nd;
        float *xm = w->xm + l * Nd, *h2 = w->h2 + l * Nd, *u = w->u + (size_t)l * N * ff, *g = w->g + (size_t)l * N * ff;
        float *xn = w->x + (l + 1) * Nd;
        o.l = l;
        o.cols = d; o.in = x; o.out = h1; o.gam = P + L->ln1_g; o.bet = P + L->ln1_b; o.mu = w->mu1 + (size_t)l * N; o.rs = w->rs1 + (size_t)l * N;
        run(&o, ln_fwd, N);
        TRY(st_gemm(&w->gw, pool, N, 3 * d, d, h1, d, 1, P + L->wqkv, 1, d, qkv, 3 * d, 0));
        o.cols = 3 * d; o.out = qkv; o.bias = P + L->bqkv; o.res = NULL;
        run(&o, add_rows, N);
        run(&o, att_fwd, (int64_t)b->n_seq * H);
        TRY(st_gemm(&w->gw, pool, N, d, d, ob, d, 1, P + L->wo, 1, d, xm, d, 0));
        o.cols = d; o.out = xm; o.bias = P + L->bo; o.res = x;
        run(&o, add_rows, N);
        o.in = xm; o.out = h2; o.gam = P + L->ln2_g; o.bet = P + L->ln2_b; o.mu = w->mu2 + (size_t)l * N; o.rs = w->rs2 + (size_t)l * N;
        run(&o, ln_fwd, N);
        TRY(st_gemm(&w->gw, pool, N, ff, d, h2, d, 1, P + L->wup, 1, d, u, ff, 0));
        o.cols = ff; o.out = u; o.bias = P + L->bup; o.res = NULL;
        run(&o, add_rows, N);
        o.in = u; o.out = g; o.mu = w->th + (size_t)l * N * ff;
        run(&o, gelu_fwd, (int64_t)N * ff);
        TRY(st_gemm(&w->gw, pool, N, d, ff, g, ff, 1, P + L->wdown, 1, ff, xn, d, 0));
        o.cols = d; o.out = xn; o.bias = P + L->bdown; o.res = xm;
        run(&o, add_rows, N);
    }
    float *xl = w->x + NL * Nd;
    o.cols = d; o.in = xl; o.out = w->xf; o.gam = P + m->lnf_g; o.bet = P + m->lnf_b; o.mu = w->muf; o.rs = w->rsf;
    run(&o, ln_fwd, N);
    TRY(st_gemm(&w->gw, pool, N, V, d, w->xf, d, 1, P + m->wte, 1, d, w->logits, V, 0));
    run(&o, xent, N);
    double ls = 0;
    int nc = 0;
    for (int t = 0; t < N; t++) { ls += w->rowloss[t]; nc += w->correct[t]; }
    if (loss) *loss = n_tgt ? (float)(ls / n_tgt) : 0;
    if (acc) *acc = n_tgt ? (float)nc / n_tgt : 0;
    if (!backward) return ST_OK;

    float *G = m->G;
    memset(G, 0, sizeof(float) * m->n_params);
    /* output (tied): G_wte = dlog^T xf ; dxf = dlog wte */
    TRY(st_gemm(&w->gw, pool, V, d, N, w->logits, 1, V, w->xf, d, 1, G + m->wte, d, 0));
    TRY(st_gemm(&w->gw, pool, N, d, V, w->logits, V, 1, P + m->wte, d, 1, w->dh, d, 0));
    memset(w->dx, 0, sizeof(float) * Nd);
    o.cols = d; o.in = xl; o.res = w->dh; o.out = w->dx; o.gam = P + m->lnf_g; o.mu = w->muf; o.rs = w->rsf;
    o.dgam = G + m->lnf_g; o.dbet = G + m->lnf_b;
    run(&o, ln_bwd_rows, N);
    run(&o, ln_bwd_cols, d);
    for (int l = NL - 1; l >= 0; l--) {
        const st_tlayer *L = &m->L[l];
        float *x = w->x + l * Nd, *h1 = w->h1 + l * Nd, *ob = w->o + l * Nd;
        float *xm = w->xm + l * Nd, *h2 = w->h2 + l * Nd, *u = w->u + (size_t)l * N * ff, *g = w->g + (size_t)l * N * ff;
        o.l = l;
        /* ffn down */
        o.cols = d; o.in = w->dx; o.dbias = G + L->bdown;
        run(&o, colsum, d);
        TRY(st_gemm(&w->gw, pool, d, ff, N, w->dx, 1, d, g, ff, 1, G + L->wdown, ff, 0));
        TRY(st_gemm(&w->gw, pool, N, ff, d, w->dx, d, 1, P + L->wdown, ff, 1, w->dg, ff, 0));
        o.in = u; o.out = w->dg; o.rs = w->th + (size_t)l * N * ff;
        run(&o, gelu_bwd, (int64_t)N * ff);
        o.cols = ff; o.in = w->dg; o.dbias = G + L->bup;
        run(&o, colsum, ff);
        TRY(st_gemm(&w->gw, pool, ff, d, N, w->dg, 1, ff, h2, d, 1, G + L->wup, d, 0));
        TRY(st_gemm(&w->gw, pool, N, d, ff, w->dg, ff, 1, P + L->wup, d, 1, w->dh, d, 0));
        o.cols = d; o.in = xm; o.res = w->dh; o.out = w->dx; o.gam = P + L->ln2_g; o.mu = w->mu2 + (size_t)l * N; o.rs = w->rs2 + (size_t)l * N;
        o.dgam = G + L->ln2_g; o.dbet = G + L->ln2_b;
        run(&o, ln_bwd_rows, N);
        run(&o, ln_bwd_cols, d);
        /* attention output */
        o.in = w->dx; o.dbias = G + L->bo;
        run(&o, colsum, d);
        TRY(st_gemm(&w->gw, pool, d, d, N, w->dx, 1, d, ob, d, 1, G + L->wo, d, 0));
        TRY(st_gemm(&w->gw, pool, N, d, d, w->dx, d, 1, P + L->wo, d, 1, w->dO, d, 0));
        run(&o, att_bwd, (int64_t)b->n_seq * H);
        o.cols = 3 * d; o.in = w->dqkv; o.dbias = G + L->bqkv;
        run(&o, colsum, 3 * d);
        TRY(st_gemm(&w->gw, pool, 3 * d, d, N, w->dqkv, 1, 3 * d, h1, d, 1, G + L->wqkv, d, 0));
        TRY(st_gemm(&w->gw, pool, N, d, 3 * d, w->dqkv, 3 * d, 1, P + L->wqkv, d, 1, w->dh, d, 0));
        o.cols = d; o.in = x; o.res = w->dh; o.out = w->dx; o.gam = P + L->ln1_g; o.mu = w->mu1 + (size_t)l * N; o.rs = w->rs1 + (size_t)l * N;
        o.dgam = G + L->ln1_g; o.dbet = G + L->ln1_b;
        run(&o, ln_bwd_rows, N);
        run(&o, ln_bwd_cols, d);
    }
    run(&o, embed_bwd, d);
    return ST_OK;
}

/* ------------------------------------------------------------ export */

st_status st_tmodel_write_gguf(const st_tmodel *m, const st_train_vocab *v, const char *name, int f16, const char *path) {
    const st_tcfg *c = &m->cfg;
    if (v->n != c->n_vocab) return st_errorf(ST_E_ARG, "train: vocabulary has %d tokens, model %d", v->n, c->n_vocab);
    st_gguf_writer *w;
    ST_TRY(st_gguf_writer_init(&w));
    st_status s = ST_OK;
    st_f16 *half = NULL;
    if (f16 && !(half = malloc(sizeof(st_f16) * m->n_params))) { st_gguf_writer_free(w); return st_errorf(ST_E_NOMEM, "train: out of memory"); }
#define S(x) do { if (!s) s = (x); } while (0)
    S(st_gguf_writer_set_str(w, "general.architecture", "gpt2"));
    S(st_gguf_writer_set_str(w, "general.name", name ? name : "softthink-arith"));
    S(st_gguf_writer_set_u32(w, "general.file_type", f16 ? 1 : 0));
    S(st_gguf_writer_set_u32(w, "gpt2.context_length", (uint32_t)c->n_ctx));
    S(st_gguf_writer_set_u32(w, "gpt2.embedding_length", (uint32_t)c->d));
    S(st_gguf_writer_set_u32(w, "gpt2.block_count", (uint32_t)c->n_layer));
    S(st_gguf_writer_set_u32(w, "gpt2.feed_forward_length", (uint32_t)c->n_ff));
    S(st_gguf_writer_set_u32(w, "gpt2.attention.head_count", (uint32_t)c->n_head));
    S(st_gguf_writer_set_f32(w, "gpt2.attention.layer_norm_epsilon", c->eps));
    S(st_gguf_writer_set_str(w, "tokenizer.ggml.model", "llama"));
    S(st_gguf_writer_set_str(w, "tokenizer.ggml.pre", "default"));
    S(st_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)v->texts, (uint64_t)v->n));
    S(st_gguf_writer_set_arr_f32(w, "tokenizer.ggml.scores", v->scores, (uint64_t)v->n));
    S(st_gguf_writer_set_arr_i32(w, "tokenizer.ggml.token_type", v->types, (uint64_t)v->n));
    S(st_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)v->bos));
    S(st_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)v->eos));
    S(st_gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", (uint32_t)v->unk));
    S(st_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", 1));
    S(st_gguf_writer_set_bool(w, "tokenizer.ggml.add_eos_token", 0));
    S(st_gguf_writer_set_bool(w, "tokenizer.ggml.add_space_prefix", 0));
    S(st_gguf_writer_set_str(w, "tokenizer.chat_template", st_arith_chat_template));
    char nm[96];
    int d = c->d;
    /* matrices may be f16; vectors stay f32 */
#define T2(tname, off, cols, rows)                                                                        \
    do {                                                                                                  \
        int64_t ne_[2] = {(cols), (rows)};                                                                \
        size_t cnt_ = (size_t)(cols) * (size_t)(rows);                                                    \
        if (half) {                                                                                       \
            for (size_t i_ = 0; i_ < cnt_; i_++) half[(off) + i_] = st_f32_to_f16(m->P[(off) + i_]);      \
            S(st_gguf_writer_add_tensor(w, tname, ST_TYPE_F16, 2, ne_, half + (off), cnt_ * 2));          \
        } else                                                                                            \
            S(st_gguf_writer_add_tensor(w, tname, ST_TYPE_F32, 2, ne_, m->P + (off), cnt_ * 4));          \
    } while (0)
#define T1(tname, off, n)                                                                                 \
    do {                                                                                                  \
        int64_t ne_[1] = {(n)};                                                                           \
        S(st_gguf_writer_add_tensor(w, tname, ST_TYPE_F32, 1, ne_, m->P + (off), (size_t)(n) * 4));        \
    } while (0)
    T2("token_embd.weight", m->wte, d, c->n_vocab);
    T2("position_embd.weight", m->wpe, d, c->n_ctx);
    for (int l = 0; l < c->n_layer && !s; l++) {
        const st_tlayer *L = &m->L[l];
#define NM(x) (snprintf(nm, sizeof nm, "blk.%d.%s", l, x), nm)
        T1(NM("attn_norm.weight"), L->ln1_g, d);
        T1(NM("attn_norm.bias"), L->ln1_b, d);
        T2(NM("attn_qkv.weight"), L->wqkv, d, 3 * d);
        T1(NM("attn_qkv.bias"), L->bqkv, 3 * d);
        T2(NM("attn_output.weight"), L->wo, d, d);
        T1(NM("attn_output.bias"), L->bo, d);
        T1(NM("ffn_norm.weight"), L->ln2_g, d);
        T1(NM("ffn_norm.bias"), L->ln2_b, d);
        T2(NM("ffn_up.weight"), L->wup, d, c->n_ff);
        T1(NM("ffn_up.bias"), L->bup, c->n_ff);
        T2(NM("ffn_down.weight"), L->wdown, c->n_ff, d);
        T1(NM("ffn_down.bias"), L->bdown, d);
#undef NM
    }
    T1("output_norm.weight", m->lnf_g, d);
    T1("output_norm.bias", m->lnf_b, d);
#undef T1
#undef T2
#undef S
    if (!s) s = st_gguf_writer_write(w, path);
    st_gguf_writer_free(w);
    free(half);
    return s;
}

/* Logits of the last st_tmodel_step (forward only; backward overwrites them). */
const float *st_tws_logits(const st_tws *w) { return w->logits; }
