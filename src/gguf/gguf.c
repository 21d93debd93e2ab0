/* GGUF reader (v2, v3, little-endian).
 *
 * The parser never trusts a count: each one is checked against the bytes left
 * in the file, using the smallest possible encoding of one item, before any
 * allocation or read. That bounds memory by a small multiple of the file size
 * whatever the header claims. Strings go into an arena so that a 150k-token
 * vocabulary costs a handful of mallocs, not 150k. */
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/status.h"
#include "tensor/quant.h"

#define MAX_DEPTH 8          /* array nesting levels accepted */
#define DEFAULT_ALIGNMENT 32 /* GGUF's default when general.alignment is absent */
#define MIN_KV_BYTES 13      /* key length (8) + value type (4) + a 1-byte value */
#define MIN_TENSOR_BYTES 24  /* name length (8) + n_dims (4) + type (4) + offset (8) */
#define MIN_ARRAY_BYTES 12   /* element type (4) + length (8) */
#define MIN_STRING_BYTES 8   /* length (8) */

/* Names from a hostile file are cut short in messages, so that the message
 * keeps its tail (the part that says what is wrong). */
#define NAME "'%.200s'"

typedef unsigned long long ull;

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    max_align_t data[];
} chunk;

typedef struct hslot {
    const char *name;
    int64_t idx;
} hslot;

typedef struct htab {
    hslot *slots;
    uint64_t mask;
} htab;

struct st_gguf {
    char *name;
    const uint8_t *base;
    uint64_t size;
    void *map; /* our own mapping, NULL for st_gguf_open_memory */
    size_t map_size;
    uint32_t version, alignment;
    uint64_t data_offset;
    int64_t n_kv, n_tensors;
    st_gguf_kv *kvs;
    st_gguf_tensor *tensors;
    htab kv_tab, tensor_tab;
    chunk *chunks;
};

/* ------------------------------------------------------------ value types */

static const uint8_t k_fixed_size[ST_GGUF_VTYPE_COUNT] = {
    [ST_GGUF_U8] = 1, [ST_GGUF_I8] = 1, [ST_GGUF_U16] = 2, [ST_GGUF_I16] = 2,
    [ST_GGUF_U32] = 4, [ST_GGUF_I32] = 4, [ST_GGUF_F32] = 4, [ST_GGUF_BOOL] = 1,
    [ST_GGUF_U64] = 8, [ST_GGUF_I64] = 8, [ST_GGUF_F64] = 8,
};

const char *st_gguf_vtype_name(int t) {
    static const char *const names[ST_GGUF_VTYPE_COUNT] = {
        "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64",
    };
    return t >= 0 && t < ST_GGUF_VTYPE_COUNT ? names[t] : "unknown";
}

static uint64_t min_elem_size(st_gguf_vtype t) {
    if (t == ST_GGUF_STRING) return MIN_STRING_BYTES;
    if (t == ST_GGUF_ARRAY) return MIN_ARRAY_BYTES;
    return k_fixed_size[t];
}

static int is_int_type(st_gguf_vtype t) {
    return t <= ST_GGUF_I32 || t == ST_GGUF_U64 || t == ST_GGUF_I64;
}

static int is_signed_type(st_gguf_vtype t) {
    return t == ST_GGUF_I8 || t == ST_GGUF_I16 || t == ST_GGUF_I32 || t == ST_GGUF_I64;
}

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p) { return (uint32_t)le16(p) | (uint32_t)le16(p + 2) << 16; }
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

/* Decodes one fixed-size little-endian element (file bytes or array data). */
static void decode_fixed(st_gguf_vtype t, const uint8_t *p, st_gguf_value *v) {
    v->type = t;
    switch (t) {
    case ST_GGUF_U8: v->v.u = p[0]; break;
    case ST_GGUF_I8: v->v.i = (int8_t)p[0]; break;
    case ST_GGUF_U16: v->v.u = le16(p); break;
    case ST_GGUF_I16: v->v.i = (int16_t)le16(p); break;
    case ST_GGUF_U32: v->v.u = le32(p); break;
    case ST_GGUF_I32: v->v.i = (int32_t)le32(p); break;
    case ST_GGUF_F32: v->v.f = st_f32_from_bits(le32(p)); break;
    case ST_GGUF_BOOL: v->v.u = p[0] != 0; break;
    case ST_GGUF_U64: v->v.u = le64(p); break;
    case ST_GGUF_I64: v->v.i = (int64_t)le64(p); break;
    case ST_GGUF_F64: {
        uint64_t u = le64(p);
        memcpy(&v->v.f, &u, sizeof u);
        break;
    }
    default: break;
    }
}

/* ------------------------------------------------------------ arena, hash */

static void *arena_alloc(st_gguf *g, uint64_t n) {
    if (n > SIZE_MAX - sizeof(chunk) - 16) return NULL;
    size_t need = ((size_t)n + 7) & ~(size_t)7; /* keeps pointers and u64 aligned */
    chunk *c = g->chunks;
    if (!c || c->cap - c->used < need) {
        size_t cap = c ? c->cap * 2 : 4096;
        if (cap > ((size_t)1 << 20)) cap = (size_t)1 << 20;
        if (cap < need) cap = need;
        c = malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->next = g->chunks;
        c->used = 0;
        c->cap = cap;
        g->chunks = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += need;
    return p;
}

static st_status nomem(void) { return st_errorf(ST_E_NOMEM, "out of memory"); }

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static st_status htab_init(htab *h, uint64_t n) {
    uint64_t cap = 8;
    while (cap < 2 * n) cap <<= 1;
    h->slots = calloc((size_t)cap, sizeof *h->slots);
    h->mask = cap - 1;
    return h->slots ? ST_OK : nomem();
}

static int64_t htab_get(const htab *h, const char *name) {
    if (!h->slots) return -1;
    for (uint64_t i = hash_str(name) & h->mask;; i = (i + 1) & h->mask) {
        if (!h->slots[i].name) return -1;
        if (!strcmp(h->slots[i].name, name)) return h->slots[i].idx;
    }
}

/* Adds name -> idx; if the name is already there, returns its index instead. */
static int64_t htab_put(htab *h, const char *name, int64_t idx) {
    uint64_t i = hash_str(name) & h->mask;
    for (; h->slots[i].name; i = (i + 1) & h->mask)
        if (!strcmp(h->slots[i].name, name)) return h->slots[i].idx;
    h->slots[i].name = name;
    h->slots[i].idx = idx;
    return -1;
}

/* ------------------------------------------------------------ byte reader */

typedef struct rd {
    st_gguf *g;
    uint64_t off;
} rd;

static uint64_t left(const rd *r) { return r->g->size - r->off; }
static const uint8_t *cur(const rd *r) { return r->g->base + r->off; }

static st_status need(const rd *r, uint64_t n, const char *what) {
    if (n <= left(r)) return ST_OK;
    return st_errorf(ST_E_FORMAT, "%s: truncated (need %llu bytes at offset %llu, file size %llu)", what,
                     (ull)n, (ull)r->off, (ull)r->g->size);
}

static st_status rd_u32(rd *r, const char *what, uint32_t *v) {
    ST_TRY(need(r, 4, what));
    *v = le32(cur(r));
    r->off += 4;
    return ST_OK;
}

static st_status rd_u64(rd *r, const char *what, uint64_t *v) {
    ST_TRY(need(r, 8, what));
    *v = le64(cur(r));
    r->off += 8;
    return ST_OK;
}

/* A length-prefixed string, copied NUL-terminated into the arena. */
static st_status rd_str(rd *r, const char *what, const char **s, uint64_t *len) {
    uint64_t n;
    ST_TRY(rd_u64(r, what, &n));
    if (n > left(r))
        return st_errorf(ST_E_FORMAT, "%s: string length %llu exceeds remaining %llu bytes", what, (ull)n,
                         (ull)left(r));
    char *p = arena_alloc(r->g, n + 1);
    if (!p) return nomem();
    memcpy(p, cur(r), (size_t)n);
    p[n] = 0;
    r->off += n;
    *s = p;
    *len = n;
    return ST_OK;
}

/* Keys and tensor names are looked up as C strings: an embedded NUL would
 * make two distinct names compare equal. */
static st_status rd_name(rd *r, const char *what, const char **s) {
    uint64_t len;
    ST_TRY(rd_str(r, what, s, &len));
    if (memchr(*s, 0, (size_t)len)) return st_errorf(ST_E_FORMAT, "%s " NAME " contains a NUL byte", what, *s);
    return ST_OK;
}

/* ------------------------------------------------------------ values */

static st_status parse_array(rd *r, st_gguf_value *v, int depth);

static st_status parse_value(rd *r, st_gguf_vtype t, st_gguf_value *v, int depth) {
    v->type = t;
    if (t == ST_GGUF_STRING) return rd_str(r, "string", &v->v.str.s, &v->v.str.len);
    if (t == ST_GGUF_ARRAY) return parse_array(r, v, depth + 1);
    ST_TRY(need(r, k_fixed_size[t], st_gguf_vtype_name(t)));
    decode_fixed(t, cur(r), v);
    r->off += k_fixed_size[t];
    return ST_OK;
}

static st_status parse_string_elems(rd *r, st_gguf_value *v) {
    uint64_t n = v->v.arr.n;
    const char **strs = arena_alloc(r->g, n * sizeof *strs);
    uint64_t *lens = arena_alloc(r->g, n * sizeof *lens);
    if (!strs || !lens) return nomem();
    for (uint64_t i = 0; i < n; i++) {
        st_status s = rd_str(r, "string", &strs[i], &lens[i]);
        if (s) return st_error_prefix(s, "element %llu", (ull)i);
    }
    v->v.arr.strs = strs;
    v->v.arr.str_lens = lens;
    return ST_OK;
}

static st_status parse_array_elems(rd *r, st_gguf_value *v, int depth) {
    uint64_t n = v->v.arr.n;
    st_gguf_value *items = arena_alloc(r->g, n * sizeof *items);
    if (!items) return nomem();
    memset(items, 0, (size_t)n * sizeof *items);
    v->v.arr.items = items;
    for (uint64_t i = 0; i < n; i++) {
        st_status s = parse_value(r, ST_GGUF_ARRAY, &items[i], depth);
        if (s) return st_error_prefix(s, "element %llu", (ull)i);
    }
    return ST_OK;
}

/* Array header (element type, length) and elements; depth is this array's level. */
static st_status parse_array(rd *r, st_gguf_value *v, int depth) {
    uint32_t et;
    uint64_t n;
    ST_TRY(rd_u32(r, "array element type", &et));
    if (et >= ST_GGUF_VTYPE_COUNT) return st_errorf(ST_E_FORMAT, "array element type %u is unknown", et);
    if (et == ST_GGUF_ARRAY && depth >= MAX_DEPTH)
        return st_errorf(ST_E_FORMAT, "arrays nested deeper than %d levels", MAX_DEPTH);
    ST_TRY(rd_u64(r, "array length", &n));
    uint64_t min = min_elem_size(et);
    if (n > left(r) / min)
        return st_errorf(ST_E_FORMAT, "array length %llu exceeds remaining %llu bytes (%s elements take %s%llu bytes)",
                         (ull)n, (ull)left(r), st_gguf_vtype_name((int)et), k_fixed_size[et] ? "" : "at least ",
                         (ull)min);
    v->v.arr.type = et;
    v->v.arr.n = n;
    if (et == ST_GGUF_STRING) return parse_string_elems(r, v);
    if (et == ST_GGUF_ARRAY) return parse_array_elems(r, v, depth);
    v->v.arr.data = cur(r);
    r->off += n * min;
    return ST_OK;
}

static st_status parse_kv(rd *r, st_gguf *g, int64_t i) {
    st_gguf_kv *kv = &g->kvs[i];
    memset(kv, 0, sizeof *kv);
    st_status s = rd_name(r, "key", &kv->key);
    if (s) return st_error_prefix(s, "kv #%lld", (long long)i);
    uint32_t t;
    s = rd_u32(r, "value type", &t);
    if (!s && t >= ST_GGUF_VTYPE_COUNT) s = st_errorf(ST_E_FORMAT, "unknown value type %u", t);
    if (!s) s = parse_value(r, (st_gguf_vtype)t, &kv->value, 0);
    if (s) return st_error_prefix(s, "kv #%lld " NAME, (long long)i, kv->key);
    return ST_OK;
}

/* ------------------------------------------------------------ header, alignment */

static st_status parse_header(rd *r, uint64_t *n_tensors, uint64_t *n_kv) {
    ST_TRY(need(r, 4, "magic"));
    const uint8_t *m = cur(r);
    if (memcmp(m, "GGUF", 4))
        return st_errorf(ST_E_FORMAT, "bad magic %02x %02x %02x %02x (expected \"GGUF\")", m[0], m[1], m[2], m[3]);
    r->off += 4;
    uint32_t ver;
    ST_TRY(rd_u32(r, "version", &ver));
    if (ver == 0x02000000u || ver == 0x03000000u)
        return st_errorf(ST_E_UNSUPPORTED, "version field 0x%08x: big-endian GGUF is not supported", ver);
    if (ver != 2 && ver != 3)
        return st_errorf(ST_E_UNSUPPORTED, "GGUF version %u is not supported (only versions 2 and 3)", ver);
    r->g->version = ver;
    ST_TRY(rd_u64(r, "n_tensors", n_tensors));
    ST_TRY(rd_u64(r, "n_kv", n_kv));
    if (*n_kv > left(r) / MIN_KV_BYTES)
        return st_errorf(ST_E_FORMAT, "n_kv %llu exceeds what the remaining %llu bytes can hold", (ull)*n_kv,
                         (ull)left(r));
    if (*n_tensors > left(r) / MIN_TENSOR_BYTES)
        return st_errorf(ST_E_FORMAT, "n_tensors %llu exceeds what the remaining %llu bytes can hold",
                         (ull)*n_tensors, (ull)left(r));
    return ST_OK;
}

static st_status read_alignment(st_gguf *g) {
    g->alignment = DEFAULT_ALIGNMENT;
    int64_t i = htab_get(&g->kv_tab, "general.alignment");
    if (i < 0) return ST_OK;
    const st_gguf_value *v = &g->kvs[i].value;
    if (v->type != ST_GGUF_U32)
        return st_errorf(ST_E_FORMAT, "general.alignment has type %s, expected u32", st_gguf_vtype_name(v->type));
    if (v->v.u == 0 || (v->v.u & (v->v.u - 1)))
        return st_errorf(ST_E_FORMAT, "general.alignment %llu is not a nonzero power of two", (ull)v->v.u);
    g->alignment = (uint32_t)v->v.u;
    return ST_OK;
}

/* ------------------------------------------------------------ tensors */

static int mul_overflows(uint64_t a, uint64_t b, uint64_t *r) {
    if (b && a > UINT64_MAX / b) return 1;
    *r = a * b;
    return 0;
}

/* Byte size from type and shape; fails on a partial block or an overflow. */
static st_status tensor_size(st_gguf_tensor *t, const st_type_traits *tr) {
    uint64_t nel = 1;
    for (int d = 0; d < 4; d++)
        if (mul_overflows(nel, (uint64_t)t->ne[d], &nel) || nel > INT64_MAX)
            return st_errorf(ST_E_FORMAT, "tensor " NAME ": element count overflows", t->name);
    if (t->ne[0] % tr->blck_size)
        return st_errorf(ST_E_FORMAT, "tensor " NAME ": ne[0] = %lld is not a multiple of the %s block size %d",
                         t->name, (long long)t->ne[0], tr->name, tr->blck_size);
    uint64_t bytes = (uint64_t)(t->ne[0] / tr->blck_size);
    int over = mul_overflows(bytes, tr->type_size, &bytes);
    for (int d = 1; d < 4 && !over; d++) over = mul_overflows(bytes, (uint64_t)t->ne[d], &bytes);
    if (over) return st_errorf(ST_E_FORMAT, "tensor " NAME ": byte size overflows", t->name);
    t->nbytes = bytes;
    return ST_OK;
}

/* Raw fields after the name; messages here get the tensor's name as a prefix. */
static st_status read_tensor_fields(rd *r, st_gguf_tensor *t, uint32_t *type) {
    uint32_t nd;
    ST_TRY(rd_u32(r, "n_dims", &nd));
    if (nd > 4) return st_errorf(ST_E_FORMAT, "n_dims %u exceeds 4", nd);
    t->n_dims = (int)nd;
    for (int d = 0; d < 4; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < nd; d++) {
        uint64_t x;
        ST_TRY(rd_u64(r, "ne", &x));
        if (x > INT64_MAX) return st_errorf(ST_E_FORMAT, "ne[%u] = %lld is negative", d, (long long)x);
        t->ne[d] = (int64_t)x;
    }
    ST_TRY(rd_u32(r, "type", type));
    return rd_u64(r, "offset", &t->offset);
}

static st_status parse_tensor_info(rd *r, st_gguf *g, int64_t i) {
    st_gguf_tensor *t = &g->tensors[i];
    memset(t, 0, sizeof *t);
    st_status s = rd_name(r, "name", &t->name);
    if (s) return st_error_prefix(s, "tensor #%lld", (long long)i);
    uint32_t type;
    s = read_tensor_fields(r, t, &type);
    if (s) return st_error_prefix(s, "tensor " NAME, t->name);
    const st_type_traits *tr = type < ST_TYPE_COUNT ? st_type_traits_get((int)type) : NULL;
    if (!tr || tr->blck_size <= 0 || tr->type_size == 0)
        return st_errorf(ST_E_UNSUPPORTED, "tensor " NAME " has unsupported type id %u", t->name, type);
    t->type = (st_type)type;
    return tensor_size(t, tr);
}

/* The data section starts at the first aligned offset after the infos. */
static st_status place_tensors(st_gguf *g, uint64_t info_end) {
    uint64_t a = g->alignment;
    uint64_t pad = (a - info_end % a) % a;
    if (g->n_tensors == 0) {
        /* vocab-only files written by llama.cpp end right after the infos */
        g->data_offset = pad <= g->size - info_end ? info_end + pad : g->size;
        return ST_OK;
    }
    if (pad > g->size - info_end)
        return st_errorf(ST_E_FORMAT, "data section at offset %llu (aligned to %llu) is past end of file (size %llu)",
                         (ull)(info_end + pad), (ull)a, (ull)g->size);
    g->data_offset = info_end + pad;
    uint64_t avail = g->size - g->data_offset;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        st_gguf_tensor *t = &g->tensors[i];
        if (t->offset % a)
            return st_errorf(ST_E_FORMAT, "tensor " NAME ": offset %llu is not a multiple of the alignment %llu",
                             t->name, (ull)t->offset, (ull)a);
        if (t->offset > avail || t->nbytes > avail - t->offset)
            return st_errorf(ST_E_FORMAT,
                             "tensor " NAME ": data [offset %llu in data section at %llu, %llu bytes] extends past "
                             "end of file (size %llu)",
                             t->name, (ull)t->offset, (ull)g->data_offset, (ull)t->nbytes, (ull)g->size);
        t->data = g->base + g->data_offset + t->offset;
    }
    return ST_OK;
}

/* ------------------------------------------------------------ open, close */

/* Room for item i of at most n. Growing as items are parsed keeps memory in
 * line with what the file contains, not with what its header claims. */
static st_status reserve(void **arr, uint64_t *cap, uint64_t i, uint64_t n, size_t elem) {
    if (i < *cap) return ST_OK;
    uint64_t c = *cap ? *cap * 2 : 64;
    if (c > n) c = n;
    void *p = realloc(*arr, (size_t)c * elem);
    if (!p) return nomem();
    *arr = p;
    *cap = c;
    return ST_OK;
}

static st_status parse_kvs(rd *r, st_gguf *g, uint64_t n) {
    uint64_t cap = 0;
    for (uint64_t i = 0; i < n; i++) {
        void *p = g->kvs;
        st_status s = reserve(&p, &cap, i, n, sizeof *g->kvs);
        g->kvs = p;
        ST_TRY(s);
        ST_TRY(parse_kv(r, g, (int64_t)i));
        g->n_kv = (int64_t)i + 1;
    }
    ST_TRY(htab_init(&g->kv_tab, n));
    for (int64_t i = 0; i < g->n_kv; i++) {
        int64_t prev = htab_put(&g->kv_tab, g->kvs[i].key, i);
        if (prev >= 0)
            return st_errorf(ST_E_FORMAT, "kv #%lld: duplicate key " NAME " (also kv #%lld)", (long long)i,
                             g->kvs[i].key, (long long)prev);
    }
    return ST_OK;
}

static st_status parse_tensor_infos(rd *r, st_gguf *g, uint64_t n) {
    uint64_t cap = 0;
    for (uint64_t i = 0; i < n; i++) {
        void *p = g->tensors;
        st_status s = reserve(&p, &cap, i, n, sizeof *g->tensors);
        g->tensors = p;
        ST_TRY(s);
        ST_TRY(parse_tensor_info(r, g, (int64_t)i));
        g->n_tensors = (int64_t)i + 1;
    }
    ST_TRY(htab_init(&g->tensor_tab, n));
    for (int64_t i = 0; i < g->n_tensors; i++) {
        int64_t prev = htab_put(&g->tensor_tab, g->tensors[i].name, i);
        if (prev >= 0)
            return st_errorf(ST_E_FORMAT, "tensor #%lld: duplicate tensor name " NAME " (also tensor #%lld)",
                             (long long)i, g->tensors[i].name, (long long)prev);
    }
    return ST_OK;
}

static st_status parse(st_gguf *g) {
    rd r = {g, 0};
    uint64_t n_tensors, n_kv;
    ST_TRY(parse_header(&r, &n_tensors, &n_kv));
    ST_TRY(parse_kvs(&r, g, n_kv));
    ST_TRY(read_alignment(g));
    ST_TRY(parse_tensor_infos(&r, g, n_tensors));
    return place_tensors(g, r.off);
}

static st_status gguf_new(const char *name, st_gguf **out) {
    st_gguf *g = calloc(1, sizeof *g);
    size_t n = strlen(name);
    char *copy = malloc(n + 1);
    if (!g || !copy) {
        free(g);
        free(copy);
        return nomem();
    }
    memcpy(copy, name, n + 1);
    g->name = copy;
    *out = g;
    return ST_OK;
}

static st_status finish_open(st_gguf *g, st_gguf **out) {
    st_status s = parse(g);
    if (s) {
        st_error_prefix(s, "%s", g->name);
        st_gguf_close(g);
        return s;
    }
    *out = g;
    return ST_OK;
}

st_status st_gguf_open_memory(const void *data, size_t size, const char *name, st_gguf **out) {
    if (!out) return st_errorf(ST_E_ARG, "st_gguf_open_memory: out is NULL");
    *out = NULL;
    if (!data && size) return st_errorf(ST_E_ARG, "st_gguf_open_memory: data is NULL");
    st_gguf *g;
    ST_TRY(gguf_new(name ? name : "<memory>", &g));
    g->base = data ? data : (const uint8_t *)"";
    g->size = size;
    return finish_open(g, out);
}

st_status st_gguf_open(const char *path, st_gguf **out) {
    if (!out || !path) return st_errorf(ST_E_ARG, "st_gguf_open: NULL argument");
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return st_errorf(ST_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    const char *why = NULL;
    if (fstat(fd, &sb)) why = strerror(errno);
    else if (!S_ISREG(sb.st_mode)) why = "not a regular file";
    else if ((uint64_t)sb.st_size > SIZE_MAX) why = "too large to map";
    if (why) {
        close(fd);
        return st_errorf(ST_E_IO, "%s: %s", path, why);
    }
    size_t size = (size_t)sb.st_size;
    void *map = NULL;
    if (size) {
        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int e = errno;
            close(fd);
            return st_errorf(ST_E_IO, "%s: mmap of %zu bytes failed: %s", path, size, strerror(e));
        }
    }
    close(fd); /* the mapping keeps the file alive */
    st_gguf *g;
    st_status s = gguf_new(path, &g);
    if (s) {
        if (map) munmap(map, size);
        return s;
    }
    g->map = map;
    g->map_size = size;
    g->base = map ? map : (const uint8_t *)"";
    g->size = size;
    return finish_open(g, out);
}

void st_gguf_close(st_gguf *g) {
    if (!g) return;
    if (g->map) munmap(g->map, g->map_size);
    for (chunk *c = g->chunks, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(g->kv_tab.slots);
    free(g->tensor_tab.slots);
    free(g->kvs);
    free(g->tensors);
    free(g->name);
    free(g);
}

/* ------------------------------------------------------------ accessors */

uint32_t st_gguf_version(const st_gguf *g) { return g->version; }
uint32_t st_gguf_alignment(const st_gguf *g) { return g->alignment; }
uint64_t st_gguf_file_size(const st_gguf *g) { return g->size; }
const char *st_gguf_path(const st_gguf *g) { return g->name; }
uint64_t st_gguf_data_offset(const st_gguf *g) { return g->data_offset; }
int64_t st_gguf_n_kv(const st_gguf *g) { return g->n_kv; }
int64_t st_gguf_n_tensors(const st_gguf *g) { return g->n_tensors; }

const st_gguf_kv *st_gguf_kv_at(const st_gguf *g, int64_t i) {
    return i >= 0 && i < g->n_kv ? &g->kvs[i] : NULL;
}

const st_gguf_kv *st_gguf_find(const st_gguf *g, const char *key) {
    int64_t i = key ? htab_get(&g->kv_tab, key) : -1;
    return i >= 0 ? &g->kvs[i] : NULL;
}

const st_gguf_tensor *st_gguf_tensor_at(const st_gguf *g, int64_t i) {
    return i >= 0 && i < g->n_tensors ? &g->tensors[i] : NULL;
}

const st_gguf_tensor *st_gguf_find_tensor(const st_gguf *g, const char *name) {
    int64_t i = name ? htab_get(&g->tensor_tab, name) : -1;
    return i >= 0 ? &g->tensors[i] : NULL;
}

/* ------------------------------------------------------------ typed getters */

static void type_desc(const st_gguf_value *v, char *buf, size_t n) {
    if (v->type == ST_GGUF_ARRAY)
        snprintf(buf, n, "array of %s", st_gguf_vtype_name(v->v.arr.type));
    else
        snprintf(buf, n, "%s", st_gguf_vtype_name(v->type));
}

static st_status lookup(const st_gguf *g, const char *key, const st_gguf_value **v) {
    if (!g || !key) return st_errorf(ST_E_ARG, "gguf getter: NULL argument");
    const st_gguf_kv *kv = st_gguf_find(g, key);
    if (!kv) return st_errorf(ST_E_FORMAT, "%s: missing key '%s'", g->name, key);
    *v = &kv->value;
    return ST_OK;
}

static st_status wrong_type(const st_gguf *g, const char *key, const st_gguf_value *v, const char *expected) {
    char got[64];
    type_desc(v, got, sizeof got);
    return st_errorf(ST_E_FORMAT, "%s: key '%s' has type %s, expected %s", g->name, key, got, expected);
}

/* Whether integer value v lies in [lo, hi] (lo <= 0 <= hi). */
static int int_in_range(const st_gguf_value *v, int64_t lo, uint64_t hi) {
    if (is_signed_type(v->type)) return v->v.i < 0 ? v->v.i >= lo : (uint64_t)v->v.i <= hi;
    return v->v.u <= hi;
}

static void int_str(const st_gguf_value *v, char *buf, size_t n) {
    if (is_signed_type(v->type))
        snprintf(buf, n, "%lld", (long long)v->v.i);
    else
        snprintf(buf, n, "%llu", (ull)v->v.u);
}

static st_status out_of_range(const st_gguf *g, const char *key, const st_gguf_value *v, const char *what) {
    char num[32];
    int_str(v, num, sizeof num);
    return st_errorf(ST_E_FORMAT, "%s: key '%s': %s value %s does not fit in %s", g->name, key,
                     st_gguf_vtype_name(v->type), num, what);
}

st_status st_gguf_get_u32(const st_gguf *g, const char *key, uint32_t *out) {
    const st_gguf_value *v = NULL;
    ST_TRY(lookup(g, key, &v));
    if (!is_int_type(v->type)) return wrong_type(g, key, v, "an integer (u32)");
    if (!int_in_range(v, 0, UINT32_MAX)) return out_of_range(g, key, v, "u32");
    *out = (uint32_t)(is_signed_type(v->type) ? (uint64_t)v->v.i : v->v.u);
    return ST_OK;
}

st_status st_gguf_get_i64(const st_gguf *g, const char *key, int64_t *out) {
    const st_gguf_value *v = NULL;
    ST_TRY(lookup(g, key, &v));
    if (!is_int_type(v->type)) return wrong_type(g, key, v, "an integer (i64)");
    if (!int_in_range(v, INT64_MIN, INT64_MAX)) return out_of_range(g, key, v, "i64");
    *out = is_signed_type(v->type) ? v->v.i : (int64_t)v->v.u;
    return ST_OK;
}

st_status st_gguf_get_f32(const st_gguf *g, const char *key, float *out) {
    const st_gguf_value *v = NULL;
    ST_TRY(lookup(g, key, &v));
    if (v->type != ST_GGUF_F32 && v->type != ST_GGUF_F64) return wrong_type(g, key, v, "f32 or f64");
    *out = (float)v->v.f;
    return ST_OK;
}

st_status st_gguf_get_bool(const st_gguf *g, const char *key, int *out) {
    const st_gguf_value *v = NULL;
    ST_TRY(lookup(g, key, &v));
    if (v->type != ST_GGUF_BOOL) return wrong_type(g, key, v, "bool");
    *out = v->v.u != 0;
    return ST_OK;
}

st_status st_gguf_get_str(const st_gguf *g, const char *key, const char **out) {
    const st_gguf_value *v = NULL;
    ST_TRY(lookup(g, key, &v));
    if (v->type != ST_GGUF_STRING) return wrong_type(g, key, v, "string");
    *out = v->v.str.s;
    return ST_OK;
}

st_status st_gguf_get_arr_str(const st_gguf *g, const char *key, const char *const **strs, const uint64_t **lens,
                              uint64_t *n) {
    const st_gguf_value *v = NULL;
    ST_TRY(lookup(g, key, &v));
    if (v->type != ST_GGUF_ARRAY || v->v.arr.type != ST_GGUF_STRING)
        return wrong_type(g, key, v, "array of string");
    if (strs) *strs = v->v.arr.strs;
    if (lens) *lens = v->v.arr.str_lens;
    if (n) *n = v->v.arr.n;
    return ST_OK;
}

/* Finds a numeric array that fits in out[max_n]; elements are converted by the caller. */
static st_status numeric_array(const st_gguf *g, const char *key, const void *out, uint64_t max_n, int want_int,
                               const st_gguf_value **v) {
    ST_TRY(lookup(g, key, v));
    const st_gguf_value *a = *v;
    if (a->type != ST_GGUF_ARRAY) return wrong_type(g, key, a, want_int ? "array of integers" : "array of f32");
    st_gguf_vtype et = a->v.arr.type;
    if (want_int ? !is_int_type(et) : et != ST_GGUF_F32 && et != ST_GGUF_F64)
        return wrong_type(g, key, a, want_int ? "array of integers" : "array of f32 or f64");
    if (a->v.arr.n > max_n)
        return st_errorf(ST_E_FORMAT, "%s: key '%s': array has %llu elements, room for %llu", g->name, key,
                         (ull)a->v.arr.n, (ull)max_n);
    if (!out && a->v.arr.n) return st_errorf(ST_E_ARG, "key '%s': output buffer is NULL", key);
    return ST_OK;
}

st_status st_gguf_get_arr_f32(const st_gguf *g, const char *key, float *out, uint64_t max_n, uint64_t *n) {
    const st_gguf_value *a = NULL;
    ST_TRY(numeric_array(g, key, out, max_n, 0, &a));
    size_t sz = k_fixed_size[a->v.arr.type];
    for (uint64_t i = 0; i < a->v.arr.n; i++) {
        st_gguf_value e;
        decode_fixed(a->v.arr.type, (const uint8_t *)a->v.arr.data + i * sz, &e);
        out[i] = (float)e.v.f;
    }
    if (n) *n = a->v.arr.n;
    return ST_OK;
}

st_status st_gguf_get_arr_i32(const st_gguf *g, const char *key, int32_t *out, uint64_t max_n, uint64_t *n) {
    const st_gguf_value *a = NULL;
    ST_TRY(numeric_array(g, key, out, max_n, 1, &a));
    size_t sz = k_fixed_size[a->v.arr.type];
    for (uint64_t i = 0; i < a->v.arr.n; i++) {
        st_gguf_value e;
        decode_fixed(a->v.arr.type, (const uint8_t *)a->v.arr.data + i * sz, &e);
        if (!int_in_range(&e, INT32_MIN, INT32_MAX)) {
            char num[32];
            int_str(&e, num, sizeof num);
            return st_errorf(ST_E_FORMAT, "%s: key '%s': element %llu = %s does not fit in i32", g->name, key,
                             (ull)i, num);
        }
        out[i] = (int32_t)(is_signed_type(e.type) ? e.v.i : (int64_t)e.v.u);
    }
    if (n) *n = a->v.arr.n;
    return ST_OK;
}

uint64_t st_gguf_arr_len(const st_gguf *g, const char *key) {
    const st_gguf_kv *kv = st_gguf_find(g, key);
    return kv && kv->value.type == ST_GGUF_ARRAY ? kv->value.v.arr.n : 0;
}
