/* KV cache: one contiguous region per sequence so that truncation (rejected
 * draft tokens, rewinding a branch) is just a length change, and attention
 * reads each head's keys as one contiguous [pos][head_dim] run. Entries are
 * IEEE half precision, as in llama.cpp's default cache: half the memory
 * traffic of f32, and the same rounding, so our logits track llama.cpp's. */
#ifndef ST_KV_H
#define ST_KV_H
#include <stddef.h>
#include <stdint.h>

#include "softthink.h"
#include "../core/fp16.h"

typedef struct st_kv {
    int n_seq;       /* sequences */
    int n_layer;
    int n_head_kv;
    int n_ctx;       /* positions per sequence */
    int head_dim;
    st_f16 *k;       /* [n_seq][n_layer][n_head_kv][n_ctx][head_dim] */
    st_f16 *v;       /* [n_seq][n_layer][n_head_kv][n_ctx][head_dim] */
    int *len;        /* [n_seq] positions filled */
} st_kv;

st_status st_kv_init(st_kv *kv, int n_seq, int n_layer, int n_head_kv, int n_ctx, int head_dim);
void st_kv_free(st_kv *kv);

/* Start of head h's keys (values) of sequence s in layer l: [n_ctx][head_dim]. */
static inline st_f16 *st_kv_k(const st_kv *kv, int s, int l, int h) {
    return kv->k + ((((size_t)s * kv->n_layer + l) * kv->n_head_kv + h) * kv->n_ctx) * kv->head_dim;
}
static inline st_f16 *st_kv_v(const st_kv *kv, int s, int l, int h) {
    return kv->v + ((((size_t)s * kv->n_layer + l) * kv->n_head_kv + h) * kv->n_ctx) * kv->head_dim;
}
#endif
