/* GGUF v3 writer.
 *
 * Metadata is deep-copied when set (so a reader can be closed before the
 * write); tensor data is only referenced and streamed to the file with
 * fwrite, so writing a multi-GB model needs no second copy in memory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/status.h"
#include "gguf.h"
#include "tensor/quant.h"

#define MAX_DEPTH 8
#define DEFAULT_ALIGNMENT 32

typedef unsigned long long ull;

typedef struct wtensor {
    char *name;
    st_type type;
    int n_dims;
    int64_t ne[4];
    const void *data;
    uint64_t nbytes;
} wtensor;

struct st_gguf_writer {
    st_gguf_kv *kvs;
    int64_t n_kv, cap_kv;
    wtensor *tensors;
    int64_t n_tensors, cap_tensors;
    uint32_t alignment;
};

static const uint8_t k_fixed_size[ST_GGUF_VTYPE_COUNT] = {
    [ST_GGUF_U8] = 1, [ST_GGUF_I8] = 1, [ST_GGUF_U16] = 2, [ST_GGUF_I16] = 2,
    [ST_GGUF_U32] = 4, [ST_GGUF_I32] = 4, [ST_GGUF_F32] = 4, [ST_GGUF_BOOL] = 1,
    [ST_GGUF_U64] = 8, [ST_GGUF_I64] = 8, [ST_GGUF_F64] = 8,
};

static st_status nomem(void) { return st_errorf(ST_E_NOMEM, "out of memory"); }

static char *copy_str(const char *s) {
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p) memcpy(p, s, n + 1);
    return p;
}

static int host_is_le(void) {
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

/* Array data is kept in file order (little-endian) so copies from a reader,
 * which are raw file bytes, need no conversion. */
static void host_to_le(void *data, uint64_t n, size_t sz) {
    if (host_is_le()) return;
    uint8_t *p = data;
    for (uint64_t i = 0; i < n; i++, p += sz)
        for (size_t a = 0, b = sz - 1; a < b; a++, b--) {
            uint8_t t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

/* ------------------------------------------------------------ owned values */

static void value_free(st_gguf_value *v);

static void array_free(st_gguf_value *v) {
    if (v->v.arr.type == ST_GGUF_ARRAY && v->v.arr.items)
        for (uint64_t i = 0; i < v->v.arr.n; i++) value_free(&v->v.arr.items[i]);
    free((void *)v->v.arr.data);
    free((void *)v->v.arr.strs); /* one block holding pointers, lengths and bytes */
    free(v->v.arr.items);
}

static void value_free(st_gguf_value *v) {
    if (v->type == ST_GGUF_STRING) free((void *)v->v.str.s);
    if (v->type == ST_GGUF_ARRAY) array_free(v);
    memset(v, 0, sizeof *v);
}

static st_status value_copy(st_gguf_value *dst, const st_gguf_value *src, int depth);

static st_status copy_fixed_elems(st_gguf_value *dst, const st_gguf_value *src) {
    size_t sz = k_fixed_size[src->v.arr.type];
    uint64_t n = src->v.arr.n;
    if (!src->v.arr.data) return st_errorf(ST_E_ARG, "array of %llu elements has no data", (ull)n);
    if (n > SIZE_MAX / sz) return nomem();
    void *p = malloc((size_t)(n * sz));
    if (!p) return nomem();
    memcpy(p, src->v.arr.data, (size_t)(n * sz));
    dst->v.arr.data = p;
    return ST_OK;
}

/* One block: [n pointers][n lengths][bytes with NULs], freed through strs. */
static st_status copy_string_elems(st_gguf_value *dst, const st_gguf_value *src) {
    uint64_t n = src->v.arr.n;
    const char *const *s = src->v.arr.strs;
    const uint64_t *lens = src->v.arr.str_lens;
    if (!s) return st_errorf(ST_E_ARG, "string array of %llu elements has no strings", (ull)n);
    if (n > SIZE_MAX / 32) return nomem();
    size_t total = (size_t)n * (sizeof(char *) + sizeof(uint64_t));
    for (uint64_t i = 0; i < n; i++) {
        if (!s[i]) return st_errorf(ST_E_ARG, "string array element %llu is NULL", (ull)i);
        uint64_t len = lens ? lens[i] : strlen(s[i]);
        if (len >= SIZE_MAX - total) return nomem();
        total += (size_t)len + 1;
    }
    char *block = malloc(total ? total : 1);
    if (!block) return nomem();
    const char **strs = (const char **)block;
    uint64_t *out_lens = (uint64_t *)(block + n * sizeof(char *));
    char *bytes = (char *)(out_lens + n);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len = lens ? lens[i] : strlen(s[i]);
        memcpy(bytes, s[i], (size_t)len);
        bytes[len] = 0;
        strs[i] = bytes;
        out_lens[i] = len;
        bytes += len + 1;
    }
    dst->v.arr.strs = strs;
    dst->v.arr.str_lens = out_lens;
    return ST_OK;
}

static st_status copy_array_elems(st_gguf_value *dst, const st_gguf_value *src, int depth) {
    uint64_t n = src->v.arr.n;
    if (!src->v.arr.items) return st_errorf(ST_E_ARG, "array of %llu arrays has no items", (ull)n);
    if (n > SIZE_MAX / sizeof(st_gguf_value)) return nomem();
    st_gguf_value *items = calloc((size_t)n, sizeof *items);
    if (!items) return nomem();
    dst->v.arr.items = items; /* freed by the caller on error, with what was copied */
    for (uint64_t i = 0; i < n; i++) {
        if (src->v.arr.items[i].type != ST_GGUF_ARRAY)
            return st_errorf(ST_E_ARG, "element %llu of an array of arrays has type %s", (ull)i,
                             st_gguf_vtype_name(src->v.arr.items[i].type));
        ST_TRY(value_copy(&items[i], &src->v.arr.items[i], depth));
    }
    return ST_OK;
}

/* depth is the level of the array being copied (1 for a top-level array). */
static st_status array_copy(st_gguf_value *dst, const st_gguf_value *src, int depth) {
    st_gguf_vtype et = src->v.arr.type;
    memset(&dst->v.arr, 0, sizeof dst->v.arr);
    if ((unsigned)et >= ST_GGUF_VTYPE_COUNT) return st_errorf(ST_E_ARG, "unknown array element type %d", (int)et);
    if (et == ST_GGUF_ARRAY && depth >= MAX_DEPTH)
        return st_errorf(ST_E_ARG, "arrays nested deeper than %d levels", MAX_DEPTH);
    dst->v.arr.type = et;
    dst->v.arr.n = src->v.arr.n;
    if (src->v.arr.n == 0) return ST_OK;
    if (et == ST_GGUF_STRING) return copy_string_elems(dst, src);
    if (et == ST_GGUF_ARRAY) return copy_array_elems(dst, src, depth);
    return copy_fixed_elems(dst, src);
}

/* Deep copy; on error dst holds nothing that needs freeing. */
static st_status value_copy(st_gguf_value *dst, const st_gguf_value *src, int depth) {
    memset(dst, 0, sizeof *dst);
    if ((unsigned)src->type >= ST_GGUF_VTYPE_COUNT)
        return st_errorf(ST_E_ARG, "unknown value type %d", (int)src->type);
    dst->type = src->type;
    if (src->type == ST_GGUF_ARRAY) {
        st_status s = array_copy(dst, src, depth + 1);
        if (s) value_free(dst);
        return s;
    }
    if (src->type != ST_GGUF_STRING) {
        dst->v = src->v;
        return ST_OK;
    }
    uint64_t len = src->v.str.len;
    if (!src->v.str.s) return st_errorf(ST_E_ARG, "string value is NULL");
    if (len >= SIZE_MAX) return nomem();
    char *p = malloc((size_t)len + 1);
    if (!p) return nomem();
    memcpy(p, src->v.str.s, (size_t)len);
    p[len] = 0;
    dst->v.str.s = p;
    dst->v.str.len = len;
    return ST_OK;
}

/* ------------------------------------------------------------ key/values */

static st_status check_alignment(const st_gguf_value *v) {
    if (v->type != ST_GGUF_U32)
        return st_errorf(ST_E_ARG, "general.alignment must be u32, not %s", st_gguf_vtype_name(v->type));
    if (v->v.u == 0 || (v->v.u & (v->v.u - 1)))
        return st_errorf(ST_E_ARG, "general.alignment %llu is not a nonzero power of two", (ull)v->v.u);
    return ST_OK;
}

static int64_t find_kv(const st_gguf_writer *w, const char *key) {
    for (int64_t i = 0; i < w->n_kv; i++)
        if (!strcmp(w->kvs[i].key, key)) return i;
    return -1;
}

/* Stores an owned value under key, replacing an earlier one; frees v on error. */
static st_status put(st_gguf_writer *w, const char *key, st_gguf_value *v) {
    st_status s = ST_OK;
    if (!key || !*key) s = st_errorf(ST_E_ARG, "gguf writer: empty key");
    if (!s && !strcmp(key, "general.alignment")) s = check_alignment(v);
    if (s) {
        value_free(v);
        return s;
    }
    if (!strcmp(key, "general.alignment")) w->alignment = (uint32_t)v->v.u;
    int64_t i = find_kv(w, key);
    if (i >= 0) {
        value_free(&w->kvs[i].value);
        w->kvs[i].value = *v;
        return ST_OK;
    }
    if (w->n_kv == w->cap_kv) {
        int64_t cap = w->cap_kv ? 2 * w->cap_kv : 16;
        st_gguf_kv *kvs = realloc(w->kvs, (size_t)cap * sizeof *kvs);
        if (!kvs) {
            value_free(v);
            return nomem();
        }
        w->kvs = kvs;
        w->cap_kv = cap;
    }
    char *k = copy_str(key);
    if (!k) {
        value_free(v);
        return nomem();
    }
    w->kvs[w->n_kv].key = k;
    w->kvs[w->n_kv++].value = *v;
    return ST_OK;
}

/* Copies src and stores the copy; prefixes errors with the key. */
static st_status put_copy(st_gguf_writer *w, const char *key, const st_gguf_value *src) {
    if (!w || !key) return st_errorf(ST_E_ARG, "gguf writer: NULL argument");
    st_gguf_value v;
    st_status s = value_copy(&v, src, 0);
    if (s) return st_error_prefix(s, "gguf writer: key '%s'", key);
    return put(w, key, &v);
}

static st_status put_scalar(st_gguf_writer *w, const char *key, st_gguf_value v) { return put_copy(w, key, &v); }

st_status st_gguf_writer_set_u32(st_gguf_writer *w, const char *key, uint32_t v) {
    return put_scalar(w, key, (st_gguf_value){.type = ST_GGUF_U32, .v.u = v});
}

st_status st_gguf_writer_set_i32(st_gguf_writer *w, const char *key, int32_t v) {
    return put_scalar(w, key, (st_gguf_value){.type = ST_GGUF_I32, .v.i = v});
}

st_status st_gguf_writer_set_f32(st_gguf_writer *w, const char *key, float v) {
    return put_scalar(w, key, (st_gguf_value){.type = ST_GGUF_F32, .v.f = v});
}

st_status st_gguf_writer_set_bool(st_gguf_writer *w, const char *key, int v) {
    return put_scalar(w, key, (st_gguf_value){.type = ST_GGUF_BOOL, .v.u = v != 0});
}

st_status st_gguf_writer_set_str(st_gguf_writer *w, const char *key, const char *v) {
    if (!v) return st_errorf(ST_E_ARG, "gguf writer: key '%s': NULL string", key ? key : "");
    st_gguf_value s = {.type = ST_GGUF_STRING};
    s.v.str.s = v;
    s.v.str.len = strlen(v);
    return put_copy(w, key, &s);
}

st_status st_gguf_writer_set_arr_str(st_gguf_writer *w, const char *key, const char *const *v, uint64_t n) {
    st_gguf_value a = {.type = ST_GGUF_ARRAY};
    a.v.arr.type = ST_GGUF_STRING;
    a.v.arr.n = n;
    a.v.arr.strs = (const char **)v;
    return put_copy(w, key, &a);
}

/* Host-order numbers in, little-endian array data stored. */
static st_status set_num_array(st_gguf_writer *w, const char *key, st_gguf_vtype t, const void *v, uint64_t n) {
    st_gguf_value a = {.type = ST_GGUF_ARRAY};
    a.v.arr.type = t;
    a.v.arr.n = n;
    a.v.arr.data = v;
    ST_TRY(put_copy(w, key, &a));
    const st_gguf_kv *kv = &w->kvs[find_kv(w, key)];
    host_to_le((void *)kv->value.v.arr.data, n, k_fixed_size[t]);
    return ST_OK;
}

st_status st_gguf_writer_set_arr_f32(st_gguf_writer *w, const char *key, const float *v, uint64_t n) {
    return set_num_array(w, key, ST_GGUF_F32, v, n);
}

st_status st_gguf_writer_set_arr_i32(st_gguf_writer *w, const char *key, const int32_t *v, uint64_t n) {
    return set_num_array(w, key, ST_GGUF_I32, v, n);
}

st_status st_gguf_writer_set_kv(st_gguf_writer *w, const st_gguf_kv *kv) {
    if (!kv) return st_errorf(ST_E_ARG, "gguf writer: NULL kv");
    return put_copy(w, kv->key, &kv->value);
}

/* ------------------------------------------------------------ tensors */

static int mul_overflows(uint64_t a, uint64_t b, uint64_t *r) {
    if (b && a > UINT64_MAX / b) return 1;
    *r = a * b;
    return 0;
}

static st_status check_shape(st_type type, int n_dims, const int64_t *ne, uint64_t nbytes) {
    const st_type_traits *tr = (unsigned)type < ST_TYPE_COUNT ? st_type_traits_get((int)type) : NULL;
    if (!tr || tr->blck_size <= 0) return st_errorf(ST_E_ARG, "unknown type id %d", (int)type);
    if (n_dims < 0 || n_dims > 4 || (n_dims && !ne)) return st_errorf(ST_E_ARG, "n_dims %d not in 0..4", n_dims);
    uint64_t bytes = 1;
    for (int d = 0; d < n_dims; d++)
        if (ne[d] < 0) return st_errorf(ST_E_ARG, "ne[%d] = %lld is negative", d, (long long)ne[d]);
    int64_t ne0 = n_dims ? ne[0] : 1;
    if (ne0 % tr->blck_size)
        return st_errorf(ST_E_ARG, "ne[0] = %lld is not a multiple of the %s block size %d", (long long)ne0,
                         tr->name, tr->blck_size);
    int over = mul_overflows((uint64_t)(ne0 / tr->blck_size), tr->type_size, &bytes);
    for (int d = 1; d < n_dims && !over; d++) over = mul_overflows(bytes, (uint64_t)ne[d], &bytes);
    if (over) return st_errorf(ST_E_ARG, "byte size overflows");
    if (bytes != nbytes)
        return st_errorf(ST_E_ARG, "nbytes %llu, but a %s tensor of this shape has %llu", (ull)nbytes, tr->name,
                         (ull)bytes);
    return ST_OK;
}

st_status st_gguf_writer_add_tensor(st_gguf_writer *w, const char *name, st_type type, int n_dims,
                                    const int64_t *ne, const void *data, uint64_t nbytes) {
    if (!w || !name || !*name) return st_errorf(ST_E_ARG, "gguf writer: tensor needs a name");
    st_status s = check_shape(type, n_dims, ne, nbytes);
    if (s) return st_error_prefix(s, "gguf writer: tensor '%s'", name);
    if (!data && nbytes) return st_errorf(ST_E_ARG, "gguf writer: tensor '%s': data is NULL", name);
    for (int64_t i = 0; i < w->n_tensors; i++)
        if (!strcmp(w->tensors[i].name, name))
            return st_errorf(ST_E_ARG, "gguf writer: duplicate tensor name '%s'", name);
    if (w->n_tensors == w->cap_tensors) {
        int64_t cap = w->cap_tensors ? 2 * w->cap_tensors : 16;
        wtensor *t = realloc(w->tensors, (size_t)cap * sizeof *t);
        if (!t) return nomem();
        w->tensors = t;
        w->cap_tensors = cap;
    }
    wtensor *t = &w->tensors[w->n_tensors];
    memset(t, 0, sizeof *t);
    if (!(t->name = copy_str(name))) return nomem();
    t->type = type;
    t->n_dims = n_dims;
    for (int d = 0; d < 4; d++) t->ne[d] = d < n_dims ? ne[d] : 1;
    t->data = data;
    t->nbytes = nbytes;
    w->n_tensors++;
    return ST_OK;
}

/* ------------------------------------------------------------ init, free */

st_status st_gguf_writer_init(st_gguf_writer **out) {
    if (!out) return st_errorf(ST_E_ARG, "st_gguf_writer_init: out is NULL");
    *out = NULL;
    st_gguf_writer *w = calloc(1, sizeof *w);
    if (!w) return nomem();
    w->alignment = DEFAULT_ALIGNMENT;
    /* written explicitly so that readers need not know GGUF's default */
    st_status s = st_gguf_writer_set_u32(w, "general.alignment", DEFAULT_ALIGNMENT);
    if (s) {
        st_gguf_writer_free(w);
        return s;
    }
    *out = w;
    return ST_OK;
}

void st_gguf_writer_free(st_gguf_writer *w) {
    if (!w) return;
    for (int64_t i = 0; i < w->n_kv; i++) {
        free((void *)w->kvs[i].key);
        value_free(&w->kvs[i].value);
    }
    for (int64_t i = 0; i < w->n_tensors; i++) free(w->tensors[i].name);
    free(w->kvs);
    free(w->tensors);
    free(w);
}

/* ------------------------------------------------------------ output */

/* Remembers the first failure so callers can write unconditionally. */
typedef struct out {
    FILE *f;
    uint64_t pos; /* bytes written, for padding (ftell fails on pipes) */
    int err;      /* errno of the first failure, or 0 */
} out;

static void put_bytes(out *o, const void *p, uint64_t n) {
    if (o->err || !n) return;
    if (fwrite(p, 1, (size_t)n, o->f) != n) o->err = errno ? errno : EIO;
    o->pos += n;
}

static void put_le(out *o, uint64_t v, int n) {
    uint8_t b[8];
    for (int i = 0; i < n; i++) b[i] = (uint8_t)(v >> (8 * i));
    put_bytes(o, b, (uint64_t)n);
}

static void put_str(out *o, const char *s, uint64_t len) {
    put_le(o, len, 8);
    put_bytes(o, s, len);
}

static void put_zeros(out *o, uint64_t n) {
    static const uint8_t z[64];
    while (n) {
        uint64_t k = n < sizeof z ? n : sizeof z;
        put_bytes(o, z, k);
        n -= k;
    }
}

static void put_value(out *o, const st_gguf_value *v) {
    uint64_t bits = 0;
    switch (v->type) {
    case ST_GGUF_I8: case ST_GGUF_I16: case ST_GGUF_I32: case ST_GGUF_I64:
        put_le(o, (uint64_t)v->v.i, k_fixed_size[v->type]);
        break;
    case ST_GGUF_F32:
        put_le(o, st_f32_bits((float)v->v.f), 4);
        break;
    case ST_GGUF_F64:
        memcpy(&bits, &v->v.f, sizeof bits);
        put_le(o, bits, 8);
        break;
    case ST_GGUF_STRING:
        put_str(o, v->v.str.s, v->v.str.len);
        break;
    case ST_GGUF_ARRAY:
        put_le(o, (uint64_t)v->v.arr.type, 4);
        put_le(o, v->v.arr.n, 8);
        for (uint64_t i = 0; i < v->v.arr.n && v->v.arr.type == ST_GGUF_STRING; i++)
            put_str(o, v->v.arr.strs[i], v->v.arr.str_lens[i]);
        for (uint64_t i = 0; i < v->v.arr.n && v->v.arr.type == ST_GGUF_ARRAY; i++)
            put_value(o, &v->v.arr.items[i]);
        if (k_fixed_size[v->v.arr.type]) put_bytes(o, v->v.arr.data, v->v.arr.n * k_fixed_size[v->v.arr.type]);
        break;
    default: /* unsigned and bool */
        put_le(o, v->v.u, k_fixed_size[v->type]);
        break;
    }
}

static uint64_t pad_to(uint64_t off, uint64_t a) { return (a - off % a) % a; }

/* Offsets of each tensor in the data section; fails if the total overflows. */
static st_status layout(const st_gguf_writer *w, uint64_t *offsets) {
    uint64_t off = 0;
    for (int64_t i = 0; i < w->n_tensors; i++) {
        offsets[i] = off;
        uint64_t nb = w->tensors[i].nbytes;
        if (nb > UINT64_MAX - off - w->alignment) return st_errorf(ST_E_ARG, "gguf writer: tensor data too large");
        off += nb + pad_to(off + nb, w->alignment);
    }
    return ST_OK;
}

static void put_file(out *o, const st_gguf_writer *w, const uint64_t *offsets) {
    put_bytes(o, "GGUF", 4);
    put_le(o, 3, 4);
    put_le(o, (uint64_t)w->n_tensors, 8);
    put_le(o, (uint64_t)w->n_kv, 8);
    for (int64_t i = 0; i < w->n_kv; i++) {
        put_str(o, w->kvs[i].key, strlen(w->kvs[i].key));
        put_le(o, (uint64_t)w->kvs[i].value.type, 4);
        put_value(o, &w->kvs[i].value);
    }
    for (int64_t i = 0; i < w->n_tensors; i++) {
        const wtensor *t = &w->tensors[i];
        put_str(o, t->name, strlen(t->name));
        put_le(o, (uint64_t)t->n_dims, 4);
        for (int d = 0; d < t->n_dims; d++) put_le(o, (uint64_t)t->ne[d], 8);
        put_le(o, (uint64_t)t->type, 4);
        put_le(o, offsets[i], 8);
    }
    put_zeros(o, pad_to(o->pos, w->alignment));
    for (int64_t i = 0; i < w->n_tensors; i++) {
        const wtensor *t = &w->tensors[i];
        put_bytes(o, t->data, t->nbytes);
        put_zeros(o, pad_to(offsets[i] + t->nbytes, w->alignment));
    }
}

st_status st_gguf_writer_write(st_gguf_writer *w, const char *path) {
    if (!w || !path) return st_errorf(ST_E_ARG, "st_gguf_writer_write: NULL argument");
    uint64_t *offsets = malloc((size_t)(w->n_tensors ? w->n_tensors : 1) * sizeof *offsets);
    if (!offsets) return nomem();
    st_status s = layout(w, offsets);
    if (s) {
        free(offsets);
        return s;
    }
    out o = {fopen(path, "wb"), 0, 0};
    if (!o.f) {
        free(offsets);
        return st_errorf(ST_E_IO, "%s: cannot create: %s", path, strerror(errno));
    }
    struct stat sb;
    int regular = fstat(fileno(o.f), &sb) == 0 && S_ISREG(sb.st_mode);
    errno = 0;
    put_file(&o, w, offsets);
    free(offsets);
    if (fflush(o.f) && !o.err) o.err = errno ? errno : EIO;
    if (fclose(o.f) && !o.err) o.err = errno ? errno : EIO;
    if (!o.err) return ST_OK;
    /* a partial file would look like a truncated model later; never unlink a
     * device or pipe the caller pointed us at */
    if (regular) remove(path);
    return st_errorf(ST_E_IO, "%s: write failed: %s", path, strerror(o.err));
}
