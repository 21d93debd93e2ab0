/* KV cache: one contiguous region per sequence so that truncation (rejected
 * draft tokens, rewinding a branch) is just a length change, and attention
 * reads each head's keys as one contiguous [pos][row] run. Entries are IEEE
 * half precision by default, as in llama.cpp's default cache: half the memory
 * traffic of f32, and the same rounding, so our logits track llama.cpp's; or
 * Q8_0 (34 bytes per 32 values), which halves that again for long contexts. */
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
    st_type type;    /* ST_TYPE_F16 or ST_TYPE_Q8_0 */
    size_t row;      /* bytes of one head's entry at one position */
    uint8_t *k;      /* [n_seq][n_layer][n_head_kv][n_ctx][row] */
    uint8_t *v;      /* [n_seq][n_layer][n_head_kv][n_ctx][row] */
    int *len;        /* [n_seq] positions filled */
} st_kv;

st_status st_kv_init(st_kv *kv, st_type type, int n_seq, int n_layer, int n_head_kv, int n_ctx, int head_dim);
void st_kv_free(st_kv *kv);

/* Start of head h's keys (values) of sequence s in layer l: [n_ctx][row]. */
static inline uint8_t *st_kv_k(const st_kv *kv, int s, int l, int h) {
    return kv->k + ((((size_t)s * kv->n_layer + l) * kv->n_head_kv + h) * kv->n_ctx) * kv->row;
}
static inline uint8_t *st_kv_v(const st_kv *kv, int s, int l, int h) {
    return kv->v + ((((size_t)s * kv->n_layer + l) * kv->n_head_kv + h) * kv->n_ctx) * kv->row;
}
#endif
