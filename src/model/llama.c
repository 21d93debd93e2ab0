/* The llama family: llama, qwen2, qwen3. Pre-norm decoder blocks with RMSNorm,
 * rotary positions, grouped-query attention and a SwiGLU feed-forward.
 *   llama: RoPE on adjacent pairs (GGUF permutes q/k for it), optional tied output
 *   qwen2: q/k/v biases, NEOX RoPE (first half / second half), tied output
 *   qwen3: per-head RMSNorm on q and k before RoPE, head_dim from key_length */
#include <stdio.h>
#include <stdlib.h>

#include "../core/status.h"
#include "model.h"

static st_status read_hparams(st_model *m, st_arch arch) {
    st_hparams *hp = &m->hp;
    ST_TRY(st_model_read_shape(m, 0, 2048));
    if (hp->n_head % hp->n_head_kv)
        return st_errorf(ST_E_FORMAT, "%s: head_count %d is not a multiple of head_count_kv %d", st_gguf_path(m->gguf),
                         hp->n_head, hp->n_head_kv);
    int dflt_hd = hp->n_embd / hp->n_head;
    ST_TRY(st_model_u32(m, "attention.key_length", &hp->head_dim, 0, dflt_hd));
    int vlen;
    ST_TRY(st_model_u32(m, "attention.value_length", &vlen, 0, hp->head_dim));
    if (vlen != hp->head_dim)
        return st_errorf(ST_E_UNSUPPORTED, "%s: value_length %d differs from key_length %d", st_gguf_path(m->gguf), vlen,
                         hp->head_dim);
    ST_TRY(st_model_u32(m, "rope.dimension_count", &hp->n_rot, 0, hp->head_dim));
    if (hp->head_dim < 2 || hp->head_dim % 2 || hp->n_rot > hp->head_dim || hp->n_rot % 2)
        return st_errorf(ST_E_FORMAT, "%s: head_dim %d / rope.dimension_count %d invalid", st_gguf_path(m->gguf),
                         hp->head_dim, hp->n_rot);
    ST_TRY(st_model_f32(m, "attention.layer_norm_rms_epsilon", &hp->norm_eps, 0, 1e-5f));
    ST_TRY(st_model_f32(m, "rope.freq_base", &hp->rope_base, 0, 10000.0f));
    hp->norm = ST_NORM_RMS;
    hp->pos = arch == ST_ARCH_LLAMA ? ST_POS_ROPE_NORM : ST_POS_ROPE_NEOX;
    hp->ffn = ST_FFN_SWIGLU;
    return ST_OK;
}

st_status st_arch_llama_load(st_model *m, st_arch arch) {
    ST_TRY(read_hparams(m, arch));
    st_hparams *hp = &m->hp;
    ST_TRY(st_model_read_vocab(m));
    int d = hp->n_embd, qd = hp->n_head * hp->head_dim, kvd = hp->n_head_kv * hp->head_dim;

    ST_TRY(st_model_weight(m, &m->tok_embd, "token_embd.weight", d, hp->n_vocab, 1));
    ST_TRY(st_model_vector(m, &m->output_norm, "output_norm.weight", d, 1));
    ST_TRY(st_model_weight(m, &m->output, "output.weight", d, hp->n_vocab, 0));
    if (!m->output.data) m->output = m->tok_embd; /* tied embeddings */
    ST_TRY(st_model_vector(m, &m->rope_freqs, "rope_freqs.weight", hp->n_rot / 2, 0));

    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) return st_errorf(ST_E_NOMEM, "out of memory");
    for (int l = 0; l < hp->n_layer; l++) {
        st_layer *L = &m->layers[l];
        char n[96];
#define NAME(s) (snprintf(n, sizeof n, "blk.%d.%s", l, s), n)
        ST_TRY(st_model_vector(m, &L->attn_norm, NAME("attn_norm.weight"), d, 1));
        ST_TRY(st_model_weight(m, &L->wq, NAME("attn_q.weight"), d, qd, 1));
        ST_TRY(st_model_weight(m, &L->wk, NAME("attn_k.weight"), d, kvd, 1));
        ST_TRY(st_model_weight(m, &L->wv, NAME("attn_v.weight"), d, kvd, 1));
        int need_bias = arch == ST_ARCH_QWEN2;
        ST_TRY(st_model_vector(m, &L->bq, NAME("attn_q.bias"), qd, need_bias));
        ST_TRY(st_model_vector(m, &L->bk, NAME("attn_k.bias"), kvd, need_bias));
        ST_TRY(st_model_vector(m, &L->bv, NAME("attn_v.bias"), kvd, need_bias));
        if (arch == ST_ARCH_QWEN3) {
            ST_TRY(st_model_vector(m, &L->q_norm, NAME("attn_q_norm.weight"), hp->head_dim, 1));
            ST_TRY(st_model_vector(m, &L->k_norm, NAME("attn_k_norm.weight"), hp->head_dim, 1));
        }
        ST_TRY(st_model_weight(m, &L->wo, NAME("attn_output.weight"), qd, d, 1));
        ST_TRY(st_model_vector(m, &L->bo, NAME("attn_output.bias"), d, 0));
        ST_TRY(st_model_vector(m, &L->ffn_norm, NAME("ffn_norm.weight"), d, 1));
        ST_TRY(st_model_weight(m, &L->ffn_gate, NAME("ffn_gate.weight"), d, hp->n_ff, 1));
        ST_TRY(st_model_weight(m, &L->ffn_up, NAME("ffn_up.weight"), d, hp->n_ff, 1));
        ST_TRY(st_model_weight(m, &L->ffn_down, NAME("ffn_down.weight"), hp->n_ff, d, 1));
#undef NAME
    }
    return ST_OK;
}
