#include "kv.h"

#include <stdlib.h>

#include "../core/status.h"
#include "../tensor/quant.h"

st_status st_kv_init(st_kv *kv, st_type type, int n_seq, int n_layer, int n_head_kv, int n_ctx, int head_dim) {
    *kv = (st_kv){0};
    if (n_seq < 1 || n_layer < 1 || n_head_kv < 1 || n_ctx < 1 || head_dim < 1)
        return st_errorf(ST_E_ARG, "KV cache shape invalid: %d seq, %d layers, %d kv heads, %d ctx, head dim %d",
                         n_seq, n_layer, n_head_kv, n_ctx, head_dim);
    if (type != ST_TYPE_F16 && type != ST_TYPE_Q8_0) {
        const char *name = st_type_name((int)type);
        return st_errorf(ST_E_ARG, "KV cache type %s (%d) not supported: F16 or Q8_0", name ? name : "unknown", (int)type);
    }
    if (type == ST_TYPE_Q8_0 && head_dim % 32)
        return st_errorf(ST_E_ARG, "a Q8_0 KV cache needs a head dim that is a multiple of 32; this model's is %d", head_dim);
    const size_t row = st_row_size(type, head_dim);
    size_t n = (size_t)n_seq * n_layer * n_head_kv * n_ctx;
    /* calloc: pages are only touched (made resident) as positions fill up */
    kv->k = calloc(n, row);
    kv->v = calloc(n, row);
    kv->len = calloc((size_t)n_seq, sizeof(int));
    if (!kv->k || !kv->v || !kv->len) {
        st_kv_free(kv);
        return st_errorf(ST_E_NOMEM, "KV cache of %.1f MiB could not be allocated", 2.0 * n * row / 1048576.0);
    }
    kv->n_seq = n_seq;
    kv->n_layer = n_layer;
    kv->n_head_kv = n_head_kv;
    kv->n_ctx = n_ctx;
    kv->head_dim = head_dim;
    kv->type = type;
    kv->row = row;
    return ST_OK;
}

void st_kv_free(st_kv *kv) {
    free(kv->k);
    free(kv->v);
    free(kv->len);
    *kv = (st_kv){0};
}
