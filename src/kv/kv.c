#include "kv.h"

#include <stdlib.h>

#include "../core/status.h"

st_status st_kv_init(st_kv *kv, int n_seq, int n_layer, int n_head_kv, int n_ctx, int head_dim) {
    *kv = (st_kv){0};
    if (n_seq < 1 || n_layer < 1 || n_head_kv < 1 || n_ctx < 1 || head_dim < 1)
        return st_errorf(ST_E_ARG, "KV cache shape invalid: %d seq, %d layers, %d kv heads, %d ctx, head dim %d",
                         n_seq, n_layer, n_head_kv, n_ctx, head_dim);
    size_t n = (size_t)n_seq * n_layer * n_head_kv * n_ctx * head_dim;
    /* calloc: pages are only touched (made resident) as positions fill up */
    kv->k = calloc(n, sizeof(st_f16));
    kv->v = calloc(n, sizeof(st_f16));
    kv->len = calloc((size_t)n_seq, sizeof(int));
    if (!kv->k || !kv->v || !kv->len) {
        st_kv_free(kv);
        return st_errorf(ST_E_NOMEM, "KV cache of %.1f MiB could not be allocated", 2.0 * n * sizeof(st_f16) / 1048576.0);
    }
    kv->n_seq = n_seq;
    kv->n_layer = n_layer;
    kv->n_head_kv = n_head_kv;
    kv->n_ctx = n_ctx;
    kv->head_dim = head_dim;
    return ST_OK;
}

void st_kv_free(st_kv *kv) {
    free(kv->k);
    free(kv->v);
    free(kv->len);
    *kv = (st_kv){0};
}
