/* softthink — a fast CPU inference engine for reasoning language models.
 *
 * Public API. Everything here is prefixed st_. The library never prints and
 * never exits: every fallible call returns an st_status, and the message that
 * explains a failure is available from st_last_error() on the same thread.
 */
#ifndef SOFTTHINK_H
#define SOFTTHINK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- errors */

typedef enum st_status {
    ST_OK = 0,
    ST_E_IO,          /* file cannot be opened / read / mapped */
    ST_E_FORMAT,      /* file is corrupt, truncated or inconsistent */
    ST_E_UNSUPPORTED, /* valid but not supported (type, architecture, version) */
    ST_E_ARG,         /* caller passed an invalid argument */
    ST_E_NOMEM,       /* allocation failed */
    ST_E_FULL,        /* a capacity (context, batch, sequences) is exhausted */
    ST_E_INTERNAL,
} st_status;

/* Message describing the last failure on this thread ("" if none). */
const char *st_last_error(void);
/* Short name of a status code ("format error", ...). */
const char *st_status_name(st_status s);

/* ---------------------------------------------------------------- tensor types
 * Numbering follows ggml/GGUF so that type ids read from files are used as is. */
typedef enum st_type {
    ST_TYPE_F32 = 0,
    ST_TYPE_F16 = 1,
    ST_TYPE_Q4_0 = 2,
    ST_TYPE_Q4_1 = 3,
    ST_TYPE_Q5_0 = 6,
    ST_TYPE_Q5_1 = 7,
    ST_TYPE_Q8_0 = 8,
    ST_TYPE_Q8_1 = 9,
    ST_TYPE_Q2_K = 10,
    ST_TYPE_Q3_K = 11,
    ST_TYPE_Q4_K = 12,
    ST_TYPE_Q5_K = 13,
    ST_TYPE_Q6_K = 14,
    ST_TYPE_Q8_K = 15,
    ST_TYPE_BF16 = 30,
    ST_TYPE_COUNT = 40,
} st_type;

/* "Q4_K", "F32", ... or NULL for an id that is not a known type. */
const char *st_type_name(int type);

/* ---------------------------------------------------------------- tokens */
typedef int32_t st_token;
/* In a batch, this token id means "use the embedding vector given instead". */
#define ST_TOKEN_EMBD ((st_token)-1)

/* ---------------------------------------------------------------- model */

typedef struct st_model st_model;

typedef enum st_arch {
    ST_ARCH_LLAMA = 0,
    ST_ARCH_QWEN2,
    ST_ARCH_QWEN3,
    ST_ARCH_GPT2,
    ST_ARCH_COUNT,
} st_arch;

typedef struct st_model_info {
    st_arch arch;
    const char *arch_name;     /* "llama", "qwen2", ... */
    const char *name;          /* general.name or "" */
    int n_vocab;
    int n_embd;                /* d_model */
    int n_layer;
    int n_head;
    int n_head_kv;
    int head_dim;
    int n_ff;
    int n_ctx_train;
    int tied_output;           /* output projection shares token_embd */
    uint64_t n_params;
    uint64_t file_size;
    uint64_t weight_bytes;     /* bytes of tensor data */
    int type_counts[ST_TYPE_COUNT]; /* number of tensors of each type */
} st_model_info;

typedef struct st_model_params {
    int use_mmap;     /* 1 (default): weights are read from the mapping, not copied */
} st_model_params;

st_model_params st_model_default_params(void);
st_status st_model_load(const char *path, const st_model_params *params, st_model **out);
void st_model_free(st_model *model);
const st_model_info *st_model_get_info(const st_model *model);
/* The GGUF file behind a model (for the tokenizer and metadata queries). */
struct st_gguf;
const struct st_gguf *st_model_gguf(const st_model *model);

/* Input embedding of token `tok` (before any position embedding) -> out[n_embd]. */
st_status st_model_embed_token(const st_model *model, st_token tok, float *out);
/* Weighted mixture sum_k w[k] * E[ids[k]] -> out[n_embd] (soft-thinking concept token). */
st_status st_model_embed_mixture(const st_model *model, int k, const st_token *ids,
                                 const float *w, float *out);

/* ---------------------------------------------------------------- context
 * A context owns the KV cache of up to n_seq sequences and the scratch buffers
 * for one forward pass of up to n_batch tokens. Several contexts (one per
 * model) can live side by side. */

typedef struct st_context st_context;

typedef struct st_context_params {
    int n_ctx;       /* positions per sequence (0: model's training context, capped at 4096) */
    int n_seq;       /* sequences with their own KV cache (default 1) */
    int n_batch;     /* max tokens in one st_decode call (default 512) */
    int n_threads;   /* 0: number of physical cores */
} st_context_params;

st_context_params st_context_default_params(void);
st_status st_context_init(st_model *model, const st_context_params *params, st_context **out);
void st_context_free(st_context *ctx);
int st_context_n_ctx(const st_context *ctx);
int st_context_n_seq(const st_context *ctx);
int st_context_n_threads(const st_context *ctx);

/* A batch: n_tokens inputs, each belonging to a sequence at a position.
 * Within a sequence, positions must continue that sequence's cache
 * (pos == st_kv_seq_len before the call, then +1 per token).
 * A token equal to ST_TOKEN_EMBD takes its input from embd[i*n_embd ...]. */
typedef struct st_batch {
    int n_tokens;
    st_token *token;   /* [n_tokens] */
    float *embd;       /* [n_tokens][n_embd], may be NULL if no ST_TOKEN_EMBD */
    int32_t *pos;      /* [n_tokens] */
    int32_t *seq;      /* [n_tokens] */
    int8_t *logits;    /* [n_tokens] 1: compute logits at this position */
    int capacity;      /* allocated tokens (owned by st_batch_init) */
    int n_embd;
} st_batch;

st_status st_batch_init(st_batch *b, int capacity, int n_embd);
void st_batch_free(st_batch *b);
void st_batch_clear(st_batch *b);
/* Append one input; embd may be NULL for a token input. */
st_status st_batch_add(st_batch *b, st_token tok, const float *embd, int32_t pos, int32_t seq,
                       int want_logits);

/* Run the model on a batch; appends to the KV caches. */
st_status st_decode(st_context *ctx, const st_batch *batch);
/* Logits [n_vocab] of the i-th batch entry of the last st_decode (NULL if it had none). */
const float *st_get_logits(const st_context *ctx, int i);

/* KV cache. */
int st_kv_seq_len(const st_context *ctx, int seq);
/* Keep positions [0, p) of a sequence (drop rejected draft tokens, rewind). */
st_status st_kv_seq_truncate(st_context *ctx, int seq, int p);
void st_kv_clear(st_context *ctx);

/* ---------------------------------------------------------------- sampling
 * Per-sequence sampler state. Filtering follows the Soft Thinking paper's
 * order: softmax(logits / temp) -> top-k -> top-p -> min-p, renormalising
 * after each; temp <= 0 means greedy (argmax). Selection never sorts the whole
 * vocabulary. */
typedef struct st_sampler_params {
    float temp;      /* default 1.0; <= 0: greedy */
    int top_k;       /* 0: off */
    float top_p;     /* 1.0: off */
    float min_p;     /* 0.0: off */
    uint64_t seed;
} st_sampler_params;

/* Filtered distribution: ids sorted by descending probability, probs renormalised. */
typedef struct st_candidates {
    int n;
    st_token *ids;   /* [n] */
    float *probs;    /* [n] */
    float entropy;   /* of the full tempered distribution, in nats */
} st_candidates;

typedef struct st_sampler st_sampler;
st_sampler_params st_sampler_default_params(void);
st_status st_sampler_init(const st_sampler_params *p, int n_vocab, st_sampler **out);
void st_sampler_free(st_sampler *s);
/* Filter logits [n_vocab] into the sampler's candidate buffer (valid until the next call).
 * max_keep > 0 additionally keeps only the max_keep most likely (renormalised). */
st_status st_sampler_filter(st_sampler *s, const float *logits, int max_keep, const st_candidates **out);
/* Draw one token from logits; *entropy (may be NULL) gets the tempered entropy. */
st_status st_sampler_sample(st_sampler *s, const float *logits, st_token *tok, float *entropy);
/* Uniform double in [0, 1) from the sampler's own RNG. */
double st_sampler_uniform(st_sampler *s);

/* ---------------------------------------------------------------- synthetic models
 * Write a GGUF with random weights in the shape of a known model, for benchmarks. */
typedef struct st_synth_params {
    const char *arch;     /* "llama", "qwen2", "qwen3", "gpt2" (NULL: from `like`) */
    const char *like;     /* "qwen2.5-0.5b", "qwen3-0.6b", "llama-3.2-1b", "gpt2-124m", "tiny" */
    const char *type;     /* "f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1",
                             "q4_k", "q5_k", "q6_k", "q4_k_m", "q5_k_m" */
    uint64_t seed;
    int n_layer;          /* 0: as `like` */
    int n_threads;        /* 0: physical cores */
    const char *vocab;    /* GGUF whose tokenizer.* metadata is copied (NULL: "no_vocab") */
} st_synth_params;

st_status st_synth_write(const st_synth_params *p, const char *out_path);
/* Names of the shapes synth knows, NULL-terminated. */
const char *const *st_synth_shapes(void);

#ifdef __cplusplus
}
#endif
#endif
