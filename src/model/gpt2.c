/* The gpt2 family (also the shape of small research models): learned absolute
 * position embeddings, LayerNorm with bias, one fused qkv projection with bias,
 * GELU (tanh form) feed-forward, biases everywhere. */
#include <stdio.h>
#include <stdlib.h>

#include "../core/status.h"
#include "model.h"

st_status st_arch_gpt2_load(st_model *m) {
    st_hparams *hp = &m->hp;
    ST_TRY(st_model_read_shape(m, 1, 0));
    ST_TRY(st_model_f32(m, "attention.layer_norm_epsilon", &hp->norm_eps, 0, 1e-5f));
    if (hp->n_embd % hp->n_head || hp->n_head_kv != hp->n_head)
        return st_errorf(ST_E_FORMAT, "%s: invalid gpt2 shape: n_embd %d not divisible by n_head %d, or n_head_kv %d != n_head",
                         st_gguf_path(m->gguf), hp->n_embd, hp->n_head, hp->n_head_kv);
    hp->head_dim = hp->n_embd / hp->n_head;
    hp->n_rot = 0;
    hp->norm = ST_NORM_LAYER;
    hp->pos = ST_POS_LEARNED;
    hp->ffn = ST_FFN_GELU;

    ST_TRY(st_model_read_vocab(m));
    int d = hp->n_embd;
    ST_TRY(st_model_weight(m, &m->tok_embd, "token_embd.weight", d, hp->n_vocab, 1));
    ST_TRY(st_model_weight(m, &m->pos_embd, "position_embd.weight", d, hp->n_ctx_train, 1));
    ST_TRY(st_model_vector(m, &m->output_norm, "output_norm.weight", d, 1));
    ST_TRY(st_model_vector(m, &m->output_norm_b, "output_norm.bias", d, 1));
    ST_TRY(st_model_weight(m, &m->output, "output.weight", d, hp->n_vocab, 0));
    if (!m->output.data) m->output = m->tok_embd;
    ST_TRY(st_model_vector(m, &m->output_b, "output.bias", hp->n_vocab, 0));

    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) return st_errorf(ST_E_NOMEM, "out of memory");
    for (int l = 0; l < hp->n_layer; l++) {
        st_layer *L = &m->layers[l];
        char n[96];
#define NAME(s) (snprintf(n, sizeof n, "blk.%d.%s", l, s), n)
        ST_TRY(st_model_vector(m, &L->attn_norm, NAME("attn_norm.weight"), d, 1));
        ST_TRY(st_model_vector(m, &L->attn_norm_b, NAME("attn_norm.bias"), d, 1));
        ST_TRY(st_model_weight(m, &L->wqkv, NAME("attn_qkv.weight"), d, 3 * d, 1));
        ST_TRY(st_model_vector(m, &L->bqkv, NAME("attn_qkv.bias"), 3 * d, 0));
        ST_TRY(st_model_weight(m, &L->wo, NAME("attn_output.weight"), d, d, 1));
        ST_TRY(st_model_vector(m, &L->bo, NAME("attn_output.bias"), d, 0));
        ST_TRY(st_model_vector(m, &L->ffn_norm, NAME("ffn_norm.weight"), d, 1));
        ST_TRY(st_model_vector(m, &L->ffn_norm_b, NAME("ffn_norm.bias"), d, 1));
        ST_TRY(st_model_weight(m, &L->ffn_up, NAME("ffn_up.weight"), d, hp->n_ff, 1));
        ST_TRY(st_model_vector(m, &L->ffn_up_b, NAME("ffn_up.bias"), hp->n_ff, 0));
        ST_TRY(st_model_weight(m, &L->ffn_down, NAME("ffn_down.weight"), hp->n_ff, d, 1));
        ST_TRY(st_model_vector(m, &L->ffn_down_b, NAME("ffn_down.bias"), d, 0));
#undef NAME
    }
    return ST_OK;
}
