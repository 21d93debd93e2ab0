/* Inference context: KV cache, scratch buffers and the decoder forward pass
 * shared by every architecture. One st_decode call runs a batch of tokens that
 * may belong to several sequences; each token attends to its own sequence's
 * cache, so prefill, single-token decode and batched decode are the same code. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/status.h"
#include "../threads/pool.h"
#include "model.h"
#include "../core/fp16.h"
#include "../sample/softmax.h"

struct st_context {
    st_model *model;
    st_context_params p;
    st_pool *pool;
    const st_kernels *k;
    st_kv kv;
    /* scratch, sized for n_batch tokens */
    float *x;        /* [n_batch][n_embd] residual stream */
    float *xn;       /* [n_batch][n_embd] normalized input of a sub-block */
    float *q;        /* [n_batch][n_head*head_dim] */
    float *kc;       /* [n_batch][n_head_kv*head_dim] */
    float *vc;       /* [n_batch][n_head_kv*head_dim] */
    float *qkv;      /* [n_batch][(n_head+2*n_head_kv)*head_dim] fused projection (gpt2) */
    float *att;      /* [n_batch][n_head*head_dim] attention output */
    float *ff_a;     /* [n_batch][n_ff] */
    float *ff_b;     /* [n_batch][n_ff] */
    float *scores;   /* [n_threads][n_head/n_head_kv][n_ctx] attention scores per thread */
    st_range *att_jobs; /* [n_threads] each thread's run of attention jobs */
    /* f16 cache */
    st_f16 *q16;     /* [n_threads][n_head/n_head_kv][head_dim] queries in the cache's precision */
    st_f16 *w16;     /* [n_threads][n_head/n_head_kv][n_ctx] softmax weights in the cache's precision */
    /* Q8_0 cache */
    uint8_t *q8;     /* [n_threads][n_head/n_head_kv][kv.row] queries as Q8_0 */
    uint8_t *q8p;    /* [n_threads][n_head/n_head_kv][packed row] the same packed for gemm_panel, 64-byte aligned */
    float *rope_cs;  /* [n_batch][2][n_rot/2] cos, then sin, per token */
    void *mm_scratch;/* activation conversion for st_matmul */
    int32_t *out_rows; /* [n_batch] batch indices that asked for logits */
    int *logit_row;  /* [n_batch] row in `logits` or -1 */
    float *logits;   /* [n_out][n_vocab] */
    int n_out;       /* rows in logits from the last decode */
    int cap_out;     /* rows allocated */
    /* batch being run (valid during st_decode) */
    const st_batch *b;
    int layer;
};

st_context_params st_context_default_params(void) {
    return (st_context_params){.n_ctx = 0, .n_seq = 1, .n_batch = 512, .n_threads = 0, .cache_type = ST_TYPE_F16};
}

int st_context_n_ctx(const st_context *c) { return c->p.n_ctx; }
int st_context_n_seq(const st_context *c) { return c->p.n_seq; }
int st_context_n_threads(const st_context *c) { return st_pool_size(c->pool); }
int st_context_n_batch(const st_context *c) { return c->p.n_batch; }
const st_model *st_context_model(const st_context *c) { return c->model; }

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

void st_context_free(st_context *c) {
    if (!c) return;
    st_pool_free(c->pool);
    st_kv_free(&c->kv);
    free(c->x); free(c->xn); free(c->q); free(c->kc); free(c->vc); free(c->qkv); free(c->att);
    free(c->ff_a); free(c->ff_b); free(c->scores); free(c->att_jobs); free(c->q16); free(c->w16); free(c->q8); free(c->q8p); free(c->rope_cs); free(c->mm_scratch); free(c->out_rows);
    free(c->logit_row); free(c->logits);
    free(c);
}

st_status st_context_init(st_model *m, const st_context_params *params, st_context **out) {
    *out = NULL;
    st_context_params p = params ? *params : st_context_default_params();
    const st_hparams *hp = &m->hp;
    if (p.n_ctx <= 0) p.n_ctx = hp->n_ctx_train < 4096 ? hp->n_ctx_train : 4096;
    if (hp->pos == ST_POS_LEARNED && p.n_ctx > hp->n_ctx_train)
        return st_errorf(ST_E_ARG, "context %d exceeds the model's %d learned positions", p.n_ctx, hp->n_ctx_train);
    if (p.n_seq < 1 || p.n_seq > 4096) return st_errorf(ST_E_ARG, "n_seq %d out of range 1..4096", p.n_seq);
    if (p.n_batch < 1 || p.n_batch > 65536) return st_errorf(ST_E_ARG, "n_batch %d out of range 1..65536", p.n_batch);
    if (p.n_ctx > (1 << 20)) return st_errorf(ST_E_ARG, "n_ctx %d too large", p.n_ctx);
    if (p.n_threads <= 0) p.n_threads = st_physical_cores();

    st_context *c = calloc(1, sizeof *c);
    if (!c) return st_errorf(ST_E_NOMEM, "out of memory");
    c->model = m;
    c->p = p;
    c->k = st_kernels_best();
    st_status s = st_pool_init(p.n_threads, &c->pool);
    if (s == ST_OK) s = st_kv_init(&c->kv, p.cache_type, p.n_seq, hp->n_layer, hp->n_head_kv, p.n_ctx, hp->head_dim);
    if (s != ST_OK) { st_context_free(c); return s; }

    size_t nb = (size_t)p.n_batch, d = (size_t)hp->n_embd;
    size_t qd = (size_t)hp->n_head * hp->head_dim, kvd = (size_t)hp->n_head_kv * hp->head_dim;
    c->x = malloc(nb * d * sizeof(float));
    c->xn = malloc(nb * d * sizeof(float));
    c->q = malloc(nb * qd * sizeof(float));
    c->kc = malloc(nb * kvd * sizeof(float));
    c->vc = malloc(nb * kvd * sizeof(float));
    if (hp->pos == ST_POS_LEARNED) c->qkv = malloc(nb * (qd + 2 * kvd) * sizeof(float));
    c->att = malloc(nb * qd * sizeof(float));
    c->ff_a = malloc(nb * (size_t)hp->n_ff * sizeof(float));
    c->ff_b = malloc(nb * (size_t)hp->n_ff * sizeof(float));
    const size_t group = (size_t)(hp->n_head / hp->n_head_kv);
    c->scores = malloc((size_t)p.n_threads * group * (size_t)p.n_ctx * sizeof(float));
    c->att_jobs = aligned_alloc(64, (size_t)p.n_threads * sizeof(st_range));
    const int q8 = c->kv.type == ST_TYPE_Q8_0;
    if (q8) {
        c->q8 = malloc((size_t)p.n_threads * group * c->kv.row);
        const size_t q8p = (size_t)p.n_threads * group * st_packed_row_size(hp->head_dim);
        c->q8p = aligned_alloc(64, (q8p + 63) & ~(size_t)63);
    } else {
        c->q16 = malloc((size_t)p.n_threads * group * (size_t)hp->head_dim * sizeof(st_f16));
        /* softmax weights of one KV head's group of query heads per thread */
        c->w16 = malloc((size_t)p.n_threads * group * (size_t)p.n_ctx * sizeof(st_f16));
    }
    c->rope_cs = malloc(nb * (size_t)(hp->n_rot > 0 ? hp->n_rot : 1) * sizeof(float));
    c->out_rows = malloc(nb * sizeof(int32_t));
    c->logit_row = malloc(nb * sizeof(int));
    /* the largest activation conversion any matmul of this model needs */
    size_t mm = 0;
    for (int l = 0; l < hp->n_layer; l++) {
        const st_layer *L = &m->layers[l];
        const st_weight *ws[] = {&L->wq, &L->wk, &L->wv, &L->wqkv, &L->wo, &L->ffn_gate, &L->ffn_up, &L->ffn_down};
        for (size_t i = 0; i < sizeof ws / sizeof *ws; i++)
            if (ws[i]->data) mm = max_sz(mm, st_matmul_scratch_size(ws[i]->type, ws[i]->ne[0], (int64_t)nb));
    }
    mm = max_sz(mm, st_matmul_scratch_size(m->output.type, m->output.ne[0], (int64_t)nb));
    c->mm_scratch = malloc(mm ? mm : 1);
    if (!c->x || !c->xn || !c->q || !c->kc || !c->vc || (hp->pos == ST_POS_LEARNED && !c->qkv) || !c->att ||
        !c->ff_a || !c->ff_b || !c->scores || !c->att_jobs || (q8 ? !c->q8 || !c->q8p : !c->q16 || !c->w16) || !c->rope_cs || !c->out_rows || !c->logit_row || !c->mm_scratch) {
        st_context_free(c);
        return st_errorf(ST_E_NOMEM, "out of memory allocating buffers for a batch of %d tokens", p.n_batch);
    }
    *out = c;
    return ST_OK;
}

int st_kv_seq_len(const st_context *c, int seq) {
    return seq >= 0 && seq < c->kv.n_seq ? c->kv.len[seq] : -1;
}

st_status st_kv_seq_truncate(st_context *c, int seq, int p) {
    if (seq < 0 || seq >= c->kv.n_seq) return st_errorf(ST_E_ARG, "sequence %d out of range [0, %d)", seq, c->kv.n_seq);
    if (p < 0 || p > c->kv.len[seq])
        return st_errorf(ST_E_ARG, "cannot truncate sequence %d of length %d to %d", seq, c->kv.len[seq], p);
    c->kv.len[seq] = p;
    return ST_OK;
}

void st_kv_clear(st_context *c) { memset(c->kv.len, 0, (size_t)c->kv.n_seq * sizeof(int)); }

const float *st_get_logits(const st_context *c, int i) {
    if (i < 0 || i >= c->p.n_batch || !c->b) return NULL;
    int r = c->logit_row[i];
    return r < 0 ? NULL : c->logits + (size_t)r * c->model->hp.n_vocab;
}

/* ---------------------------------------------------------------- batch */

st_status st_batch_init(st_batch *b, int capacity, int n_embd) {
    *b = (st_batch){0};
    if (capacity < 1 || n_embd < 0) return st_errorf(ST_E_ARG, "batch capacity %d / n_embd %d invalid", capacity, n_embd);
    b->token = malloc((size_t)capacity * sizeof *b->token);
    b->pos = malloc((size_t)capacity * sizeof *b->pos);
    b->seq = malloc((size_t)capacity * sizeof *b->seq);
    b->logits = malloc((size_t)capacity * sizeof *b->logits);
    if (n_embd > 0) b->embd = malloc((size_t)capacity * (size_t)n_embd * sizeof(float));
    if (!b->token || !b->pos || !b->seq || !b->logits || (n_embd > 0 && !b->embd)) {
        st_batch_free(b);
        return st_errorf(ST_E_NOMEM, "out of memory for a batch of %d", capacity);
    }
    b->capacity = capacity;
    b->n_embd = n_embd;
    return ST_OK;
}

void st_batch_free(st_batch *b) {
    free(b->token); free(b->pos); free(b->seq); free(b->logits); free(b->embd);
    *b = (st_batch){0};
}

void st_batch_clear(st_batch *b) { b->n_tokens = 0; }

st_status st_batch_add(st_batch *b, st_token tok, const float *embd, int32_t pos, int32_t seq, int want_logits) {
    if (b->n_tokens >= b->capacity) return st_errorf(ST_E_FULL, "batch is full (%d tokens)", b->capacity);
    int i = b->n_tokens;
    if (embd) {
        if (!b->embd) return st_errorf(ST_E_ARG, "batch was created without room for embedding inputs");
        memcpy(b->embd + (size_t)i * b->n_embd, embd, (size_t)b->n_embd * sizeof(float));
        tok = ST_TOKEN_EMBD;
    }
    b->token[i] = tok;
    b->pos[i] = pos;
    b->seq[i] = seq;
    b->logits[i] = want_logits ? 1 : 0;
    b->n_tokens++;
    return ST_OK;
}

/* ---------------------------------------------------------------- forward pieces */

/* f(x[i]) summed over i < n in double, as eight interleaved partial sums in
 * registers: one running sum is a chain of dependent adds (~4 cycles per
 * element, ~2% of a batched decode step on the main thread while the others
 * waited); double keeps the order from mattering to the float result. */
#define SUM8(f)                                                                                              \
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;                                   \
    int i = 0;                                                                                               \
    for (; i + 8 <= n; i += 8) {                                                                             \
        s0 += f(x[i]), s1 += f(x[i + 1]), s2 += f(x[i + 2]), s3 += f(x[i + 3]);                              \
        s4 += f(x[i + 4]), s5 += f(x[i + 5]), s6 += f(x[i + 6]), s7 += f(x[i + 7]);                          \
    }                                                                                                        \
    for (; i < n; i++) s0 += f(x[i]);                                                                        \
    return ((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7))

#define SQ(v) ((double)(v) * (v))
#define DEV_SQ(v) (((double)(v) - mean) * ((double)(v) - mean))
#define ID(v) ((double)(v))
static double sum_sq(const float *x, int n) { SUM8(SQ); }
static double sum_dev_sq(const float *x, int n, double mean) { SUM8(DEV_SQ); }
static double sum_f(const float *x, int n) { SUM8(ID); }
#undef SQ
#undef DEV_SQ
#undef ID
#undef SUM8

/* y[i] = x[i] * sc * w[i] (y may be x), eight at a time so that the
 * compiler packs them into vectors */
static void scale_mul(float *y, const float *x, float sc, const float *w, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        float v[8];
        for (int k = 0; k < 8; k++) v[k] = x[i + k] * sc * w[i + k];
        for (int k = 0; k < 8; k++) y[i + k] = v[k];
    }
    for (; i < n; i++) y[i] = x[i] * sc * w[i];
}

static void norm_rows(const st_hparams *hp, const float *x, float *y, int n, const float *w, const float *bias) {
    int d = hp->n_embd;
    for (int t = 0; t < n; t++) {
        const float *xr = x + (size_t)t * d;
        float *yr = y + (size_t)t * d;
        if (hp->norm == ST_NORM_RMS) {
            float sc = 1.0f / sqrtf((float)(sum_sq(xr, d) / d) + hp->norm_eps);
            scale_mul(yr, xr, sc, w, d);
        } else {
            double mean = sum_f(xr, d) / d;
            float sc = 1.0f / sqrtf((float)(sum_dev_sq(xr, d, mean) / d) + hp->norm_eps);
            for (int i = 0; i < d; i++) yr[i] = (float)(xr[i] - mean) * sc * w[i] + (bias ? bias[i] : 0.0f);
        }
    }
}

/* y[i] += x[i], eight at a time so that the compiler packs them into vectors */
static void add_row(float *restrict y, const float *restrict x, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) y[i + k] += x[i + k];
    for (; i < n; i++) y[i] += x[i];
}

static void add_bias(float *y, const float *b, int n, int dim) {
    if (!b) return;
    for (int t = 0; t < n; t++) add_row(y + (size_t)t * dim, b, dim);
}

/* Per-head RMSNorm (qwen3 q_norm / k_norm). */
static void head_norm(float *v, int n_heads, int hd, const float *w, float eps) {
    for (int h = 0; h < n_heads; h++) {
        float *r = v + (size_t)h * hd;
        float sc = 1.0f / sqrtf((float)(sum_sq(r, hd) / hd) + eps);
        scale_mul(r, r, sc, w, hd);
    }
}

/* cos and sin of every rotary pair at position pos -> cs[0, half) and
 * cs[half, 2 half); computed once per token and shared by all heads and
 * layers. */
static void rope_table(const st_model *m, int pos, float *cs) {
    const st_hparams *hp = &m->hp;
    const int half = hp->n_rot / 2;
    for (int i = 0; i < half; i++) {
        float freq = powf(hp->rope_base, -2.0f * (float)i / (float)hp->n_rot);
        if (m->rope_freqs) freq /= m->rope_freqs[i];
        float th = (float)pos * freq;
        cs[i] = cosf(th);
        cs[half + i] = sinf(th);
    }
}

/* Rotary embedding of one head vector. NORM rotates adjacent pairs
 * (x[2i], x[2i+1]); NEOX rotates (x[i], x[i + n_rot/2]), eight pairs at a
 * time so that the compiler packs them into vectors. */
static void rope(const st_hparams *hp, float *v, const float *cs) {
    const int half = hp->n_rot / 2;
    const float *cv = cs, *sv = cs + half;
    int i = 0;
    if (hp->pos == ST_POS_ROPE_NORM) {
        for (; i < half; i++) {
            float x0 = v[2 * i], x1 = v[2 * i + 1];
            v[2 * i] = x0 * cv[i] - x1 * sv[i];
            v[2 * i + 1] = x0 * sv[i] + x1 * cv[i];
        }
        return;
    }
    float *lo = v, *hi = v + half;
    for (; i + 8 <= half; i += 8) {
        float a[8], b[8];
        for (int k = 0; k < 8; k++) {
            a[k] = lo[i + k] * cv[i + k] - hi[i + k] * sv[i + k];
            b[k] = lo[i + k] * sv[i + k] + hi[i + k] * cv[i + k];
        }
        for (int k = 0; k < 8; k++) {
            lo[i + k] = a[k];
            hi[i + k] = b[k];
        }
    }
    for (; i < half; i++) {
        float x0 = lo[i], x1 = hi[i];
        lo[i] = x0 * cv[i] - x1 * sv[i];
        hi[i] = x0 * sv[i] + x1 * cv[i];
    }
}

static void matmul(st_context *c, const st_weight *w, const float *x, int n, float *y) {
    const st_matmul_part part = {w->data, w->type, w->ne[1], y, w->packed};
    st_matmul_multi(c->pool, c->k, &part, 1, w->ne[0], x, n, c->mm_scratch);
}

/* Two or three matrices over the same input (q, k, v; up, gate): one
 * activation conversion and one pool run where their types allow. */
static void matmul3(st_context *c, const st_weight *w0, float *y0, const st_weight *w1, float *y1, const st_weight *w2,
                    float *y2, const float *x, int n) {
    st_matmul_part parts[3] = {{w0->data, w0->type, w0->ne[1], y0, w0->packed}, {w1->data, w1->type, w1->ne[1], y1, w1->packed}};
    if (w2) parts[2] = (st_matmul_part){w2->data, w2->type, w2->ne[1], y2, w2->packed};
    st_matmul_multi(c->pool, c->k, parts, w2 ? 3 : 2, w0->ne[0], x, n, c->mm_scratch);
}

/* One token's q, k, v before attention: biases (separate q/k/v weights),
 * qwen3's per-head norms, rotary embedding, and k, v appended to its
 * sequence's cache at its position. */
static void qkv_token(st_context *c, int t) {
    const st_hparams *hp = &c->model->hp;
    const st_layer *L = &c->model->layers[c->layer];
    const st_batch *b = c->b;
    int hd = hp->head_dim, qd = hp->n_head * hd, kvd = hp->n_head_kv * hd;
    float *q = c->q + (size_t)t * qd, *k = c->kc + (size_t)t * kvd, *v = c->vc + (size_t)t * kvd;
    if (!L->wqkv.data) {
        add_bias(q, L->bq, 1, qd);
        add_bias(k, L->bk, 1, kvd);
        add_bias(v, L->bv, 1, kvd);
    }
    if (L->q_norm) head_norm(q, hp->n_head, hd, L->q_norm, hp->norm_eps);
    if (L->k_norm) head_norm(k, hp->n_head_kv, hd, L->k_norm, hp->norm_eps);
    if (hp->pos != ST_POS_LEARNED) {
        const float *cs = c->rope_cs + (size_t)t * hp->n_rot;
        for (int h = 0; h < hp->n_head; h++) rope(hp, q + (size_t)h * hd, cs);
        for (int h = 0; h < hp->n_head_kv; h++) rope(hp, k + (size_t)h * hd, cs);
    }
    const size_t at = (size_t)b->pos[t] * c->kv.row;
    for (int h = 0; h < hp->n_head_kv; h++) {
        c->k->quantize_row[c->kv.type](k + (size_t)h * hd, st_kv_k(&c->kv, b->seq[t], c->layer, h) + at, hd);
        c->k->quantize_row[c->kv.type](v + (size_t)h * hd, st_kv_v(&c->kv, b->seq[t], c->layer, h) + at, hd);
    }
}

/* The cache rows a thread's attention jobs read, in the order it reads them
 * (job j's keys, then its values, then job j + 1's keys...), prefetched a
 * fixed distance ahead of the rows being multiplied. Each job's rows are a
 * run of a few KiB (n_pos entries of one head) somewhere else in the cache:
 * left to the hardware prefetchers, every run starts with misses to DRAM,
 * and eight sequences' caches at a depth of a few dozen positions already
 * take a tenth of a batched decode step that way. */
#define ATT_PF_AHEAD 8192
/* rows per kernel call: the cursor moves on between calls */
#define ATT_CHUNK ST_PANEL_ROWS

/* A thread's scratch and the shape of the jobs, for attention_job */
typedef struct att_ctx {
    st_context *c;
    int per_job, jobs_per_tok;
    float *sc;              /* [per_job][n_ctx] scores, then weights */
    st_f16 *q16, *w16;      /* f16 cache: queries, weights */
    uint8_t *q8, *q8p;      /* Q8_0 cache: queries (packed for the panel) */
    st_gemm_panel_fn panel; /* Q8_0 cache with the panel GEMM */
} att_ctx;

/* Job j's token (its index in the batch) and first query head. */
static inline int att_job_head(const att_ctx *a, int64_t job, int *t) {
    *t = (int)(job / a->jobs_per_tok);
    return (int)(job % a->jobs_per_tok) * a->per_job;
}

typedef struct att_pf {
    const att_ctx *a;
    int64_t job, hi;      /* the cursor's job; jobs end at hi */
    int part;             /* 0: keys, 1: values */
    size_t off;           /* bytes into that run */
} att_pf;

static void att_pf_advance(att_pf *p, size_t bytes) {
    if (!p) return;
    const st_context *c = p->a->c;
    const st_kv *kv = &c->kv;
    while (bytes > 0 && p->job < p->hi) {
        const st_hparams *hp = &c->model->hp;
        int t;
        const int h = att_job_head(p->a, p->job, &t) / (hp->n_head / hp->n_head_kv);
        const uint8_t *run = p->part ? st_kv_v(kv, c->b->seq[t], c->layer, h) : st_kv_k(kv, c->b->seq[t], c->layer, h);
        /* whole lines, from the one the run starts in */
        const size_t head = (uintptr_t)run & 63, len = head + (size_t)(c->b->pos[t] + 1) * kv->row;
        /* the lines this call covers, counted once (the per-line tests were
         * as many instructions as the kernel's products at short contexts) */
        size_t lines = (len - p->off + 63) / 64;
        if (lines > (bytes + 63) / 64) lines = (bytes + 63) / 64;
        run -= head;
        for (size_t i = 0; i < lines; i++) __builtin_prefetch(run + p->off + 64 * i, 0, 3);
        p->off += 64 * lines;
        bytes = bytes > 64 * lines ? bytes - 64 * lines : 0;
        if (p->off >= len) {
            p->off = 0;
            p->job += p->part;
            p->part ^= 1;
        }
    }
}

/* Attention task: first each thread prepares a share of the tokens
 * (qkv_token; on the pool because one thread doing it while the others wait
 * was ~2% of a batched decode step), then, once every token's k and v are in
 * the cache, jobs of (token, heads) split among threads: all query heads that
 * share a KV head when there are enough such jobs to keep the threads busy
 * (each K and V row is then converted once for all of them), else one head
 * per job; the results are the same bits either way. Like
 * llama.cpp, the query and the softmax weights are rounded to half precision
 * before they meet a half-precision cache; a Q8_0 cache meets the query in
 * Q8_0 and f32 weights. */
/* One job: per_job query heads of one token that share a KV head. */
static void attention_job(const att_ctx *a, int64_t job, att_pf *pf) {
    st_context *c = a->c;
    const st_hparams *hp = &c->model->hp;
    const st_batch *b = c->b;
    const int hd = hp->head_dim, group = hp->n_head / hp->n_head_kv, qd = hp->n_head * hd, per_job = a->per_job;
    const size_t n_ctx = (size_t)c->p.n_ctx, row = c->kv.row, prow = st_packed_row_size(hd);
    const float scale = 1.0f / sqrtf((float)hd);
    float *sc = a->sc;
    st_f16 *q16 = a->q16, *w16 = a->w16;
    uint8_t *q8 = a->q8, *q8p = a->q8p;
    const st_gemm_panel_fn panel = a->panel;
    int t;
    const int h0 = att_job_head(a, job, &t), s = b->seq[t], n_pos = b->pos[t] + 1;
    const uint8_t *K = st_kv_k(&c->kv, s, c->layer, h0 / group);
    const uint8_t *V = st_kv_v(&c->kv, s, c->layer, h0 / group);
    /* the heads' queries are adjacent in q */
    const float *qt = c->q + (size_t)t * qd + (size_t)h0 * hd;
    if (q8) {
        /* the queries as Q8_0, like the activations of a Q8_0 matmul; with
         * the panel GEMM 16 cached keys at a time meet all the group's
         * queries (no reduction per key and query), with the same bits as
         * vec_dot_rows */
        for (int j = 0; j < per_job; j++) {
            if (panel && c->k->quantize_pack_q8_0) {
                c->k->quantize_pack_q8_0(qt + (size_t)j * hd, q8p + (size_t)j * prow, hd);
                continue;
            }
            c->k->quantize_row[ST_TYPE_Q8_0](qt + (size_t)j * hd, q8 + (size_t)j * row, hd);
            if (panel) c->k->pack_row[ST_TYPE_Q8_0](q8 + (size_t)j * row, q8p + (size_t)j * prow, hd);
        }
    } else
        c->k->quantize_row[ST_TYPE_F16](qt, q16, (int64_t)per_job * hd);
    for (int p0 = 0; p0 < n_pos; p0 += ATT_CHUNK) {
        const int nr = n_pos - p0 < ATT_CHUNK ? n_pos - p0 : ATT_CHUNK;
        const uint8_t *Kp = K + (size_t)p0 * row;
        att_pf_advance(pf, (size_t)nr * row);
        if (panel) panel(hd, sc + p0, n_ctx, Kp, row, nr, q8p, prow, per_job);
        else if (q8)
            for (int j = 0; j < per_job; j++)
                c->k->vec_dot_rows[ST_TYPE_Q8_0](hd, sc + (size_t)j * n_ctx + p0, Kp, row, nr, q8 + (size_t)j * row);
        else c->k->dot_rows_group_f16(hd, per_job, q16, (const st_f16 *)Kp, row, nr, sc + p0, n_ctx);
    }
    for (int j = 0; j < per_job; j++) {
        float *sj = sc + (size_t)j * n_ctx;
        /* softmax with the vectorised exp of the sampler (scale > 0, so the
         * largest raw score is the largest scaled one) */
        double z, zx;
        st_softmax_pass(sj, n_pos, st_max_f32(sj, n_pos), scale, sj, &z, &zx);
        float inv = (float)(1.0 / z);
        for (int p = 0; p < n_pos; p++) sj[p] *= inv;
        if (w16) c->k->quantize_row[ST_TYPE_F16](sj, w16 + (size_t)j * n_ctx, n_pos);
    }
    /* the heads' outputs are adjacent in att */
    float *o = c->att + (size_t)t * qd + (size_t)h0 * hd;
    memset(o, 0, (size_t)per_job * hd * sizeof(float));
    /* row by row in the same order whatever the chunks: the same bits */
    for (int p0 = 0; p0 < n_pos; p0 += ATT_CHUNK) {
        const int nr = n_pos - p0 < ATT_CHUNK ? n_pos - p0 : ATT_CHUNK;
        const uint8_t *Vp = V + (size_t)p0 * row;
        att_pf_advance(pf, (size_t)nr * row);
        if (q8) c->k->axpy_rows_q8_0(hd, per_job, sc + p0, n_ctx, Vp, row, nr, o, (size_t)hd);
        else c->k->axpy_rows_f16(hd, per_job, w16 + p0, n_ctx, (const st_f16 *)Vp, row, nr, o, (size_t)hd);
    }
}

static void attention_task(void *arg, int ith, int nth) {
    st_context *c = arg;
    const st_hparams *hp = &c->model->hp;
    const st_batch *b = c->b;
    const int hd = hp->head_dim, group = hp->n_head / hp->n_head_kv;
    const size_t n_ctx = (size_t)c->p.n_ctx, row = c->kv.row;
    att_ctx a = {c, 0, 0, c->scores + (size_t)ith * (size_t)group * n_ctx, NULL, NULL, NULL, NULL, NULL};
    /* the thread's scratch: f16 queries and weights, or Q8_0 queries (packed
     * where the table has the Q8_0 panel GEMM) */
    if (c->kv.type == ST_TYPE_Q8_0) {
        a.q8 = c->q8 + (size_t)ith * (size_t)group * row;
        a.q8p = c->q8p + (size_t)ith * (size_t)group * st_packed_row_size(hd);
        a.panel = c->k->pack_row[ST_TYPE_Q8_0] ? c->k->gemm_panel[ST_TYPE_Q8_0] : NULL;
    } else {
        a.q16 = c->q16 + (size_t)ith * (size_t)group * hd;
        a.w16 = c->w16 + (size_t)ith * (size_t)group * n_ctx;
    }
    int64_t lo, hi;
    st_split(b->n_tokens, ith, nth, &lo, &hi);
    for (int64_t t = lo; t < hi; t++) qkv_token(c, (int)t);
    a.per_job = (int64_t)b->n_tokens * hp->n_head_kv >= 2 * (int64_t)nth ? group : 1;
    a.jobs_per_tok = hp->n_head / a.per_job;
    st_split((int64_t)b->n_tokens * a.jobs_per_tok, ith, nth, &lo, &hi);
    st_range_set(&c->att_jobs[ith], lo, hi);
    /* a token attends to the cache entries other threads just wrote (and
     * the runs of jobs are set) */
    if (nth > 1) st_pool_barrier(c->pool);
    /* the thread's own jobs in order, their cache rows prefetched ahead; then
     * single jobs from the back of the others' runs (a batched decode step
     * otherwise ends each layer's attention with one thread waiting) */
    att_pf pf = {&a, lo, hi, 0, 0};
    att_pf_advance(&pf, ATT_PF_AHEAD);
    for (int64_t job; (job = st_range_take(&c->att_jobs[ith], 0)) >= 0;) attention_job(&a, job, &pf);
    for (int v = 1; v < nth; v++)
        for (int64_t job; (job = st_range_take(&c->att_jobs[(ith + v) % nth], 1)) >= 0;) attention_job(&a, job, NULL);
}

static inline float gelu_tanh(float x) {
    return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
}

/* The FFN activation on the pool: one expf or tanhf per element is ~5% of a
 * batched decode step when one thread does it while the others wait. */
typedef struct ffn_act_job {
    const st_kernels *k;
    float *a;       /* [n] in: up (or the only) projection; out: activation */
    const float *g; /* [n] gate projection, NULL for GELU */
    size_t n;
} ffn_act_job;

static void ffn_act_task(void *arg, int ith, int nth) {
    const ffn_act_job *j = arg;
    int64_t lo, hi;
    /* whole cache lines per thread */
    st_split((int64_t)(j->n + 15) / 16, ith, nth, &lo, &hi);
    const size_t e = (size_t)hi * 16 < j->n ? (size_t)hi * 16 : j->n;
    if (j->g) {
        if (e > (size_t)lo * 16) j->k->silu_mul((int64_t)(e - (size_t)lo * 16), j->a + (size_t)lo * 16, j->g + (size_t)lo * 16);
    } else
        for (size_t i = (size_t)lo * 16; i < e; i++) j->a[i] = gelu_tanh(j->a[i]);
}

static void layer_forward(st_context *c, int l) {
    const st_model *m = c->model;
    const st_hparams *hp = &m->hp;
    const st_layer *L = &m->layers[l];
    const st_batch *b = c->b;
    int n = b->n_tokens, d = hp->n_embd, hd = hp->head_dim;
    int qd = hp->n_head * hd, kvd = hp->n_head_kv * hd;
    c->layer = l;

    norm_rows(hp, c->x, c->xn, n, L->attn_norm, L->attn_norm_b);
    if (L->wqkv.data) {
        int fd = qd + 2 * kvd;
        matmul(c, &L->wqkv, c->xn, n, c->qkv);
        add_bias(c->qkv, L->bqkv, n, fd);
        for (int t = 0; t < n; t++) {
            const float *r = c->qkv + (size_t)t * fd;
            memcpy(c->q + (size_t)t * qd, r, (size_t)qd * sizeof(float));
            memcpy(c->kc + (size_t)t * kvd, r + qd, (size_t)kvd * sizeof(float));
            memcpy(c->vc + (size_t)t * kvd, r + qd + kvd, (size_t)kvd * sizeof(float));
        }
    } else {
        matmul3(c, &L->wq, c->q, &L->wk, c->kc, &L->wv, c->vc, c->xn, n); /* biases: attention_task */
    }
    st_pool_run(c->pool, attention_task, c);
    matmul(c, &L->wo, c->att, n, c->xn);
    add_bias(c->xn, L->bo, n, d);
    add_row(c->x, c->xn, n * d); /* residual */

    norm_rows(hp, c->x, c->xn, n, L->ffn_norm, L->ffn_norm_b);
    size_t nff = (size_t)n * hp->n_ff;
    if (hp->ffn == ST_FFN_SWIGLU) matmul3(c, &L->ffn_up, c->ff_a, &L->ffn_gate, c->ff_b, NULL, NULL, c->xn, n);
    else matmul(c, &L->ffn_up, c->xn, n, c->ff_a);
    add_bias(c->ff_a, L->ffn_up_b, n, hp->n_ff);
    ffn_act_job act = {c->k, c->ff_a, hp->ffn == ST_FFN_SWIGLU ? c->ff_b : NULL, nff};
    if (c->pool && st_pool_size(c->pool) > 1 && nff >= 4096) st_pool_run(c->pool, ffn_act_task, &act);
    else ffn_act_task(&act, 0, 1);
    matmul(c, &L->ffn_down, c->ff_a, n, c->xn);
    add_bias(c->xn, L->ffn_down_b, n, d);
    add_row(c->x, c->xn, n * d); /* residual */
}

static st_status check_batch(st_context *c, const st_batch *b) {
    const st_hparams *hp = &c->model->hp;
    if (b->n_tokens < 1) return st_errorf(ST_E_ARG, "empty batch");
    if (b->n_tokens > c->p.n_batch)
        return st_errorf(ST_E_FULL, "batch of %d tokens exceeds the context's n_batch %d", b->n_tokens, c->p.n_batch);
    int *next = malloc((size_t)c->kv.n_seq * sizeof(int));
    if (!next) return st_errorf(ST_E_NOMEM, "out of memory");
    memcpy(next, c->kv.len, (size_t)c->kv.n_seq * sizeof(int));
    st_status s = ST_OK;
    for (int i = 0; i < b->n_tokens && s == ST_OK; i++) {
        int sq = b->seq[i], tok = b->token[i];
        if (sq < 0 || sq >= c->kv.n_seq)
            s = st_errorf(ST_E_ARG, "batch[%d]: sequence %d out of range [0, %d)", i, sq, c->kv.n_seq);
        else if (b->pos[i] != next[sq])
            s = st_errorf(ST_E_ARG, "batch[%d]: position %d does not continue sequence %d (expected %d)", i, b->pos[i], sq,
                          next[sq]);
        else if (b->pos[i] >= c->p.n_ctx)
            s = st_errorf(ST_E_FULL, "batch[%d]: position %d is beyond the context size %d", i, b->pos[i], c->p.n_ctx);
        else if (tok == ST_TOKEN_EMBD ? !b->embd || b->n_embd != hp->n_embd : (tok < 0 || tok >= hp->n_vocab))
            s = tok == ST_TOKEN_EMBD
                    ? st_errorf(ST_E_ARG, "batch[%d]: embedding input without a %d-wide embedding buffer", i, hp->n_embd)
                    : st_errorf(ST_E_ARG, "batch[%d]: token id %d out of range [0, %d)", i, tok, hp->n_vocab);
        else
            next[sq]++;
    }
    free(next);
    return s;
}

static st_status ensure_logits(st_context *c, int rows) {
    if (rows <= c->cap_out) return ST_OK;
    float *p = realloc(c->logits, (size_t)rows * c->model->hp.n_vocab * sizeof(float));
    if (!p) return st_errorf(ST_E_NOMEM, "out of memory for %d rows of logits", rows);
    c->logits = p;
    c->cap_out = rows;
    return ST_OK;
}

st_status st_decode(st_context *c, const st_batch *b) {
    const st_model *m = c->model;
    const st_hparams *hp = &m->hp;
    int d = hp->n_embd;
    c->b = NULL;
    ST_TRY(check_batch(c, b));
    int n_out = 0;
    for (int i = 0; i < b->n_tokens; i++) {
        c->logit_row[i] = b->logits[i] ? n_out : -1;
        if (b->logits[i]) c->out_rows[n_out++] = i;
    }
    ST_TRY(ensure_logits(c, n_out));
    c->b = b;

    for (int t = 0; t < b->n_tokens; t++) {
        float *x = c->x + (size_t)t * d;
        if (b->token[t] == ST_TOKEN_EMBD) memcpy(x, b->embd + (size_t)t * d, (size_t)d * sizeof(float));
        else st_model_embd_row(m, b->token[t], x);
        if (hp->pos == ST_POS_LEARNED) {
            const st_type_traits *tp = st_type_traits_get(m->pos_embd.type);
            float *pe = c->xn; /* free until the first layer */
            tp->to_float((const char *)m->pos_embd.data + (size_t)b->pos[t] * st_row_size(m->pos_embd.type, d), pe, d);
            for (int i = 0; i < d; i++) x[i] += pe[i];
        }
    }
    if (hp->pos != ST_POS_LEARNED)
        for (int t = 0; t < b->n_tokens; t++) rope_table(m, b->pos[t], c->rope_cs + (size_t)t * hp->n_rot);
    for (int l = 0; l < hp->n_layer; l++) layer_forward(c, l);
    for (int t = 0; t < b->n_tokens; t++) c->kv.len[b->seq[t]] = b->pos[t] + 1;

    if (n_out > 0) {
        for (int r = 0; r < n_out; r++)
            norm_rows(hp, c->x + (size_t)c->out_rows[r] * d, c->xn + (size_t)r * d, 1, m->output_norm, m->output_norm_b);
        matmul(c, &m->output, c->xn, n_out, c->logits);
        if (m->output_b) add_bias(c->logits, m->output_b, n_out, hp->n_vocab);
    }
    c->n_out = n_out;
    return ST_OK;
}
