/* Model internals: hyper-parameters read from GGUF metadata, weights as views
 * into the read-only mapping, and the decoder forward pass shared by every
 * architecture family (each family's file only says how to read its metadata
 * and which tensors it has). */
#ifndef ST_MODEL_H
#define ST_MODEL_H
#include <stdint.h>

#include "softthink.h"
#include "../gguf/gguf.h"
#include "../kernels/kernels.h"
#include "../kv/kv.h"
#include "../tensor/quant.h"

typedef enum { ST_NORM_RMS, ST_NORM_LAYER } st_norm_kind;
typedef enum { ST_POS_ROPE_NORM, ST_POS_ROPE_NEOX, ST_POS_LEARNED } st_pos_kind;
typedef enum { ST_FFN_SWIGLU, ST_FFN_GELU } st_ffn_kind;

typedef struct st_hparams {
    int n_vocab;
    int n_embd;         /* d_model */
    int n_layer;
    int n_head;
    int n_head_kv;
    int head_dim;       /* key_length; may differ from n_embd / n_head (qwen3) */
    int n_ff;
    int n_ctx_train;
    int n_rot;          /* rotary dimensions (<= head_dim) */
    float norm_eps;
    float rope_base;
    st_norm_kind norm;
    st_pos_kind pos;
    st_ffn_kind ffn;
} st_hparams;

/* A weight matrix: ne[1] rows of ne[0] elements, in the mapping, or (packed)
 * as ceil(ne[1] / 16) panels of st_panel_bytes each (quant.h) in m->panels. */
typedef struct st_weight {
    const void *data;
    st_type type;
    int64_t ne[2];       /* [cols, rows] as GGUF stores them */
    const char *name;
    int packed;
} st_weight;

typedef struct st_layer {
    float *attn_norm, *attn_norm_b; /* [n_embd] (bias: layernorm only, else NULL) */
    st_weight wq, wk, wv;           /* [n_head*head_dim | n_head_kv*head_dim rows, n_embd cols] */
    st_weight wqkv;                 /* fused (gpt2): [(n_head + 2 n_head_kv) * head_dim rows] */
    float *bq, *bk, *bv;            /* [rows] or NULL */
    float *bqkv;                    /* [fused rows] or NULL */
    float *q_norm, *k_norm;         /* [head_dim] (qwen3) or NULL */
    st_weight wo;                   /* [n_embd rows, n_head*head_dim cols] */
    float *bo;                      /* [n_embd] or NULL */
    float *ffn_norm, *ffn_norm_b;   /* [n_embd] */
    st_weight ffn_gate;             /* [n_ff rows, n_embd cols] (swiglu only) */
    st_weight ffn_up;               /* [n_ff rows, n_embd cols] */
    st_weight ffn_down;             /* [n_embd rows, n_ff cols] */
    float *ffn_up_b, *ffn_down_b;   /* [n_ff], [n_embd] or NULL */
} st_layer;

struct st_model {
    st_gguf *gguf;
    st_model_info info;
    st_hparams hp;
    st_weight tok_embd;             /* [n_vocab rows, n_embd cols] */
    st_weight pos_embd;             /* [n_ctx_train rows, n_embd cols] (learned positions) */
    float *rope_freqs;              /* [n_rot/2] frequency divisors (llama 3) or NULL */
    float *output_norm, *output_norm_b; /* [n_embd] */
    st_weight output;               /* [n_vocab rows, n_embd cols]; tok_embd when tied */
    float *output_b;                /* [n_vocab] or NULL */
    st_layer *layers;               /* [n_layer] */
    void *panels;                   /* the packed weights' panels, one allocation (info.panel_bytes) */
    float **owned;                  /* small f32 vectors converted at load */
    int n_owned, cap_owned;
};

/* Architecture loaders: fill hp and bind tensors (src/model/<family>.c). */
st_status st_arch_llama_load(st_model *m, st_arch arch);
st_status st_arch_gpt2_load(st_model *m);

/* Shared loading helpers (model.c). */
/* The keys every family has: embedding_length, block_count, feed_forward_length,
 * head counts, context_length (required, or dflt_ctx when absent); checks they are positive. */
st_status st_model_read_shape(st_model *m, int ctx_required, int dflt_ctx);
/* n_vocab from the rows of token_embd.weight. */
st_status st_model_read_vocab(st_model *m);
st_status st_model_u32(const st_model *m, const char *suffix, int *out, int required, int dflt);
st_status st_model_f32(const st_model *m, const char *suffix, float *out, int required, float dflt);
/* Bind a matrix [rows, cols]; required=0 leaves w->data NULL when absent. */
st_status st_model_weight(st_model *m, st_weight *w, const char *name, int64_t cols, int64_t rows, int required);
/* Token tok's embedding row as f32 (n_embd), from the file's rows or, for a
 * tied embedding, from the output matrix's panels (so that lookups do not
 * fault the file's pages back in). tok must be in range. */
void st_model_embd_row(const st_model *m, st_token tok, float *out);
/* Load a 1-D tensor of n elements as owned f32; NULL when absent and not required. */
st_status st_model_vector(st_model *m, float **out, const char *name, int64_t n, int required);

#endif
