/* libFuzzer harness for the GGUF reader: parse, then use everything the way a
 * model loader would, so that any pointer or length the parser let through
 * unchecked shows up under ASan. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"

static volatile unsigned g_sink;

static void touch(const void *p, uint64_t n) {
    if (n) g_sink += ((const uint8_t *)p)[0] + ((const uint8_t *)p)[n - 1];
}

static int elem_size(st_gguf_vtype t) {
    static const int sz[ST_GGUF_VTYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return (unsigned)t < ST_GGUF_VTYPE_COUNT ? sz[t] : 0;
}

static void walk_value(const st_gguf_value *v) {
    if (v->type == ST_GGUF_STRING) {
        touch(v->v.str.s, v->v.str.len + 1); /* the NUL terminator too */
        return;
    }
    if (v->type != ST_GGUF_ARRAY) return;
    uint64_t n = v->v.arr.n;
    if (v->v.arr.type == ST_GGUF_STRING) {
        for (uint64_t i = 0; i < n; i++) touch(v->v.arr.strs[i], v->v.arr.str_lens[i] + 1);
    } else if (v->v.arr.type == ST_GGUF_ARRAY) {
        for (uint64_t i = 0; i < n; i++) walk_value(&v->v.arr.items[i]);
    } else {
        touch(v->v.arr.data, n * (uint64_t)elem_size(v->v.arr.type));
    }
}

static void try_getters(const st_gguf *g, const char *key) {
    uint32_t u;
    int64_t i;
    float f;
    int b;
    const char *s;
    const char *const *strs;
    const uint64_t *lens;
    uint64_t n;
    st_gguf_get_u32(g, key, &u);
    st_gguf_get_i64(g, key, &i);
    st_gguf_get_f32(g, key, &f);
    st_gguf_get_bool(g, key, &b);
    if (st_gguf_get_str(g, key, &s) == ST_OK) g_sink += (unsigned)strlen(s);
    if (st_gguf_get_arr_str(g, key, &strs, &lens, &n) == ST_OK && n) touch(strs[n - 1], lens[n - 1] + 1);
    uint64_t len = st_gguf_arr_len(g, key);
    if (len > (1u << 20)) return;
    void *buf = malloc(len ? len * 4 : 1);
    if (!buf) return;
    st_gguf_get_arr_f32(g, key, buf, len, &n);
    st_gguf_get_arr_i32(g, key, buf, len, &n);
    if (len) st_gguf_get_arr_f32(g, key, buf, len - 1, &n); /* one short: must refuse */
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    st_gguf *g = NULL;
    if (st_gguf_open_memory(data, size, "fuzz.gguf", &g) != ST_OK) return 0;
    g_sink += st_gguf_version(g) + st_gguf_alignment(g);
    for (int64_t i = 0; i < st_gguf_n_kv(g); i++) {
        const st_gguf_kv *kv = st_gguf_kv_at(g, i);
        if (st_gguf_find(g, kv->key) != kv) abort();
        walk_value(&kv->value);
        try_getters(g, kv->key);
    }
    try_getters(g, "general.architecture");
    for (int64_t i = 0; i < st_gguf_n_tensors(g); i++) {
        const st_gguf_tensor *t = st_gguf_tensor_at(g, i);
        if (st_gguf_find_tensor(g, t->name) != t) abort();
        if (st_gguf_data_offset(g) + t->offset + t->nbytes > size) abort();
        touch(t->data, t->nbytes);
        g_sink += (unsigned)strlen(t->name);
    }
    st_gguf_close(g);
    return 0;
}
