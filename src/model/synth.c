/* Synthetic models: real shapes, seeded Gaussian weights, quantized by our own
 * quantizers. Speed does not depend on weight values, so these stand in for
 * models that cannot be downloaded here. Quantization mixes follow llama.cpp's
 * Q4_K_M / Q5_K_M rules so file sizes and type mixes match published GGUFs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/status.h"
#include "../gguf/gguf.h"
#include "../tensor/quant.h"
#include "../threads/pool.h"

typedef struct shape {
    const char *name, *arch;
    int n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_ctx;
    float rope_base, eps;
    int tied;
} shape;

static const shape shapes[] = {
    {"qwen2.5-0.5b", "qwen2", 151936, 896, 24, 14, 2, 64, 4864, 32768, 1e6f, 1e-6f, 1},
    {"qwen3-0.6b", "qwen3", 151936, 1024, 28, 16, 8, 128, 3072, 40960, 1e6f, 1e-6f, 1},
    {"llama-3.2-1b", "llama", 128256, 2048, 16, 32, 8, 64, 8192, 131072, 5e5f, 1e-5f, 1},
    {"gpt2-124m", "gpt2", 50257, 768, 12, 12, 12, 64, 3072, 1024, 0, 1e-5f, 0},
    {"tiny", "llama", 512, 256, 2, 4, 2, 64, 512, 256, 1e4f, 1e-5f, 0},
};
static const char *const shape_names[] = {"qwen2.5-0.5b", "qwen3-0.6b", "llama-3.2-1b", "gpt2-124m", "tiny", NULL};
const char *const *st_synth_shapes(void) { return shape_names; }

/* ------------------------------------------------------------ quant mixes */

typedef struct mix { const char *name; st_type base; int k_mix; st_type file_type_id; } mix;
static const mix mixes[] = {
    {"f32", ST_TYPE_F32, 0, 0},    {"f16", ST_TYPE_F16, 0, 1},     {"bf16", ST_TYPE_BF16, 0, 32},
    {"q8_0", ST_TYPE_Q8_0, 0, 7},  {"q4_0", ST_TYPE_Q4_0, 0, 2},   {"q4_1", ST_TYPE_Q4_1, 0, 3},
    {"q5_0", ST_TYPE_Q5_0, 0, 8},  {"q5_1", ST_TYPE_Q5_1, 0, 9},   {"q4_k", ST_TYPE_Q4_K, 0, 14},
    {"q5_k", ST_TYPE_Q5_K, 0, 16}, {"q6_k", ST_TYPE_Q6_K, 0, 18},  {"q4_k_m", ST_TYPE_Q4_K, 1, 15},
    {"q5_k_m", ST_TYPE_Q5_K, 1, 17},
};

/* llama.cpp gives a few layers more bits: the first and last eighth, and every third in between. */
static int use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

/* Row length not a multiple of the block: fall back as llama.cpp does. */
static st_type fit_type(st_type t, int64_t cols) {
    const st_type_traits *tr = st_type_traits_get(t);
    if (cols % tr->blck_size == 0) return t;
    switch (t) {
    case ST_TYPE_Q4_K: t = ST_TYPE_Q5_0; break;
    case ST_TYPE_Q5_K: t = ST_TYPE_Q5_1; break;
    case ST_TYPE_Q6_K: t = ST_TYPE_Q8_0; break;
    default: t = ST_TYPE_F16; break;
    }
    return cols % st_type_traits_get(t)->blck_size == 0 ? t : ST_TYPE_F16;
}

static st_type pick_type(const mix *mx, const char *name, int layer, int n_layer, int is_output) {
    if (!mx->k_mix) return mx->base;
    if (is_output) return ST_TYPE_Q6_K;
    if ((strstr(name, "attn_v.") || strstr(name, "ffn_down.")) && use_more_bits(layer, n_layer)) return ST_TYPE_Q6_K;
    return mx->base;
}

/* ------------------------------------------------------------ tensor generation */

typedef struct gen_job {
    float std;
    uint64_t seed;
    st_type type;
    int64_t rows, cols;
    uint8_t *out;
    size_t row_bytes;
    int failed;      /* a thread could not get its row buffer */
} gen_job;

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Each row has its own RNG stream, so the file does not depend on the thread count. */
static void gen_task(void *arg, int ith, int nth) {
    gen_job *j = arg;
    float *row = malloc((size_t)j->cols * sizeof(float));
    if (!row) { j->failed = 1; return; }
    int64_t lo, hi;
    st_split(j->rows, ith, nth, &lo, &hi);
    for (int64_t r = lo; r < hi; r++) {
        uint64_t st = mix64(j->seed ^ mix64((uint64_t)r + 1));
        for (int64_t c = 0; c < j->cols; c += 2) {
            st = mix64(st + 0x9e3779b97f4a7c15ull);
            double u1 = ((st >> 11) + 1) * (1.0 / 9007199254740993.0);
            st = mix64(st + 0x9e3779b97f4a7c15ull);
            double u2 = (st >> 11) * (1.0 / 9007199254740992.0);
            double rr = sqrt(-2.0 * log(u1));
            row[c] = (float)(j->std * rr * cos(6.283185307179586 * u2));
            if (c + 1 < j->cols) row[c + 1] = (float)(j->std * rr * sin(6.283185307179586 * u2));
        }
        st_quantize_row(j->type, row, j->out + (size_t)r * j->row_bytes, j->cols);
    }
    free(row);
}

typedef struct synth {
    st_gguf_writer *w;
    st_pool *pool;
    const mix *mx;
    uint64_t seed;
    int n_layer;
    void **bufs;
    int n_bufs;
} synth;

static st_status add_tensor(synth *s, const char *name, int64_t cols, int64_t rows, st_type type, float std, float fill) {
    if (rows > 1) type = fit_type(type, cols);
    else type = ST_TYPE_F32; /* vectors (norms, biases) stay f32, as converters write them */
    size_t row_bytes = st_row_size(type, cols);
    uint8_t *data = malloc(row_bytes * (size_t)rows);
    if (!data) return st_errorf(ST_E_NOMEM, "synth: out of memory for tensor '%s'", name);
    void **nb = realloc(s->bufs, (size_t)(s->n_bufs + 1) * sizeof *nb);
    if (!nb) { free(data); return st_errorf(ST_E_NOMEM, "synth: out of memory"); }
    s->bufs = nb;
    s->bufs[s->n_bufs++] = data;
    if (std > 0) {
        uint64_t h = s->seed;
        for (const char *p = name; *p; p++) h = mix64(h ^ (uint64_t)(unsigned char)*p);
        gen_job j = {.std = std, .seed = h, .type = type, .rows = rows, .cols = cols, .out = data, .row_bytes = row_bytes};
        st_pool_run(s->pool, gen_task, &j);
        if (j.failed) return st_errorf(ST_E_NOMEM, "synth: out of memory generating '%s'", name);
    } else {
        float *f = (float *)data;
        for (int64_t i = 0; i < cols * rows; i++) f[i] = fill;
    }
    int64_t ne[2] = {cols, rows};
    return st_gguf_writer_add_tensor(s->w, name, type, rows > 1 ? 2 : 1, ne, data, row_bytes * (size_t)rows);
}

static st_status write_metadata(synth *s, const shape *sh, const char *arch, const char *vocab_path) {
    st_gguf_writer *w = s->w;
    char k[128];
#define KEY(suffix) (snprintf(k, sizeof k, "%s.%s", arch, suffix), k)
    ST_TRY(st_gguf_writer_set_str(w, "general.architecture", arch));
    char name[96];
    snprintf(name, sizeof name, "synth-%s-%s", sh->name, s->mx->name);
    ST_TRY(st_gguf_writer_set_str(w, "general.name", name));
    ST_TRY(st_gguf_writer_set_u32(w, "general.file_type", (uint32_t)s->mx->file_type_id));
    ST_TRY(st_gguf_writer_set_u32(w, "general.quantization_version", 2));
    ST_TRY(st_gguf_writer_set_u32(w, KEY("context_length"), (uint32_t)sh->n_ctx));
    ST_TRY(st_gguf_writer_set_u32(w, KEY("embedding_length"), (uint32_t)sh->n_embd));
    ST_TRY(st_gguf_writer_set_u32(w, KEY("block_count"), (uint32_t)s->n_layer));
    ST_TRY(st_gguf_writer_set_u32(w, KEY("feed_forward_length"), (uint32_t)sh->n_ff));
    ST_TRY(st_gguf_writer_set_u32(w, KEY("attention.head_count"), (uint32_t)sh->n_head));
    /* gpt2 has no grouped-query attention */
    int n_kv = strcmp(arch, "gpt2") ? sh->n_head_kv : sh->n_head;
    ST_TRY(st_gguf_writer_set_u32(w, KEY("attention.head_count_kv"), (uint32_t)n_kv));
    if (strcmp(arch, "gpt2") == 0) {
        ST_TRY(st_gguf_writer_set_f32(w, KEY("attention.layer_norm_epsilon"), sh->eps));
    } else {
        ST_TRY(st_gguf_writer_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), sh->eps));
        ST_TRY(st_gguf_writer_set_f32(w, KEY("rope.freq_base"), sh->rope_base > 0 ? sh->rope_base : 1e4f));
        ST_TRY(st_gguf_writer_set_u32(w, KEY("attention.key_length"), (uint32_t)sh->head_dim));
        ST_TRY(st_gguf_writer_set_u32(w, KEY("attention.value_length"), (uint32_t)sh->head_dim));
        ST_TRY(st_gguf_writer_set_u32(w, KEY("rope.dimension_count"), (uint32_t)sh->head_dim));
    }
#undef KEY
    if (!vocab_path) return st_gguf_writer_set_str(w, "tokenizer.ggml.model", "no_vocab");
    st_gguf *v;
    ST_TRY(st_gguf_open(vocab_path, &v));
    st_status st = ST_OK;
    uint64_t n_tok = st_gguf_arr_len(v, "tokenizer.ggml.tokens");
    if (n_tok != (uint64_t)sh->n_vocab)
        st = st_errorf(ST_E_ARG, "synth: vocabulary %s has %llu tokens, shape %s needs %d", vocab_path,
                       (unsigned long long)n_tok, sh->name, sh->n_vocab);
    for (int64_t i = 0; st == ST_OK && i < st_gguf_n_kv(v); i++) {
        const st_gguf_kv *kv = st_gguf_kv_at(v, i);
        if (strncmp(kv->key, "tokenizer.", 10) == 0) st = st_gguf_writer_set_kv(w, kv);
    }
    st_gguf_close(v);
    return st;
}

static st_status build(synth *s, const shape *sh, const char *arch) {
    int d = sh->n_embd, hd = arch[0] == 'g' ? d / sh->n_head : sh->head_dim;
    int qd = sh->n_head * hd, kvd = sh->n_head_kv * hd, L = s->n_layer;
    int gpt2 = !strcmp(arch, "gpt2"), qwen2 = !strcmp(arch, "qwen2"), qwen3 = !strcmp(arch, "qwen3");
    float std = 0.02f;
    const mix *mx = s->mx;
    /* the output projection decides the embedding's type when tied (llama.cpp does the same) */
    ST_TRY(add_tensor(s, "token_embd.weight", d, sh->n_vocab, pick_type(mx, "token_embd", 0, L, sh->tied), std, 0));
    if (gpt2) ST_TRY(add_tensor(s, "position_embd.weight", d, sh->n_ctx, mx->base, std, 0));
    char n[96];
    for (int l = 0; l < L; l++) {
#define NM(x) (snprintf(n, sizeof n, "blk.%d.%s", l, x), n)
#define W(x, cols, rows) ST_TRY(add_tensor(s, NM(x), cols, rows, pick_type(mx, NM(x), l, L, 0), std, 0))
#define V(x, len, fill) ST_TRY(add_tensor(s, NM(x), len, 1, ST_TYPE_F32, 0, fill))
        V("attn_norm.weight", d, 1.0f);
        if (gpt2) {
            V("attn_norm.bias", d, 0.0f);
            W("attn_qkv.weight", d, 3 * d);
            V("attn_qkv.bias", 3 * d, 0.0f);
            W("attn_output.weight", d, d);
            V("attn_output.bias", d, 0.0f);
            V("ffn_norm.weight", d, 1.0f);
            V("ffn_norm.bias", d, 0.0f);
            W("ffn_up.weight", d, sh->n_ff);
            V("ffn_up.bias", sh->n_ff, 0.0f);
            W("ffn_down.weight", sh->n_ff, d);
            V("ffn_down.bias", d, 0.0f);
            continue;
        }
        W("attn_q.weight", d, qd);
        W("attn_k.weight", d, kvd);
        W("attn_v.weight", d, kvd);
        if (qwen2) {
            V("attn_q.bias", qd, 0.0f);
            V("attn_k.bias", kvd, 0.0f);
            V("attn_v.bias", kvd, 0.0f);
        }
        if (qwen3) {
            V("attn_q_norm.weight", hd, 1.0f);
            V("attn_k_norm.weight", hd, 1.0f);
        }
        W("attn_output.weight", qd, d);
        V("ffn_norm.weight", d, 1.0f);
        W("ffn_gate.weight", d, sh->n_ff);
        W("ffn_up.weight", d, sh->n_ff);
        W("ffn_down.weight", sh->n_ff, d);
#undef W
#undef V
#undef NM
    }
    ST_TRY(add_tensor(s, "output_norm.weight", d, 1, ST_TYPE_F32, 0, 1.0f));
    if (gpt2) ST_TRY(add_tensor(s, "output_norm.bias", d, 1, ST_TYPE_F32, 0, 0.0f));
    if (!sh->tied) ST_TRY(add_tensor(s, "output.weight", d, sh->n_vocab, pick_type(mx, "output", 0, L, 1), std, 0));
    return ST_OK;
}

st_status st_synth_write(const st_synth_params *p, const char *out_path) {
    const shape *sh = NULL;
    const char *like = p->like ? p->like : "tiny";
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        if (!strcmp(like, shapes[i].name)) sh = &shapes[i];
    if (!sh) return st_errorf(ST_E_ARG, "synth: unknown shape '%s' (known: qwen2.5-0.5b, qwen3-0.6b, llama-3.2-1b, gpt2-124m, tiny)", like);
    const char *arch = p->arch ? p->arch : sh->arch;
    if (strcmp(arch, "llama") && strcmp(arch, "qwen2") && strcmp(arch, "qwen3") && strcmp(arch, "gpt2"))
        return st_errorf(ST_E_ARG, "synth: unknown architecture '%s' (llama, qwen2, qwen3, gpt2)", arch);
    if (!strcmp(arch, "gpt2") && sh->n_embd % sh->n_head)
        return st_errorf(ST_E_ARG, "synth: gpt2 needs n_embd divisible by n_head");
    const mix *mx = NULL;
    const char *type = p->type ? p->type : "f32";
    for (size_t i = 0; i < sizeof mixes / sizeof *mixes; i++)
        if (!strcmp(type, mixes[i].name)) mx = &mixes[i];
    if (!mx) return st_errorf(ST_E_ARG, "synth: unknown type '%s' (f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q4_k q5_k q6_k q4_k_m q5_k_m)", type);
    if (p->n_layer < 0 || p->n_layer > 1000) return st_errorf(ST_E_ARG, "synth: n_layer %d out of range", p->n_layer);

    synth s = {.mx = mx, .seed = p->seed, .n_layer = p->n_layer > 0 ? p->n_layer : sh->n_layer};
    ST_TRY(st_pool_init(p->n_threads > 0 ? p->n_threads : st_physical_cores(), &s.pool));
    st_status st = st_gguf_writer_init(&s.w);
    if (st == ST_OK) st = write_metadata(&s, sh, arch, p->vocab);
    if (st == ST_OK) st = build(&s, sh, arch);
    if (st == ST_OK) st = st_gguf_writer_write(s.w, out_path);
    st_gguf_writer_free(s.w);
    for (int i = 0; i < s.n_bufs; i++) free(s.bufs[i]);
    free(s.bufs);
    st_pool_free(s.pool);
    return st;
}
