/* GGUF reader (v2, v3) and writer.
 *
 * Reader: the file is mapped read-only; every count, length and offset is
 * checked against the file size before it is used, so a truncated or hostile
 * file gives ST_E_FORMAT with a message naming the field, never a bad read.
 * Keys and string values are copied NUL-terminated; numeric array data and
 * tensor data point into the mapping. */
#ifndef ST_GGUF_H
#define ST_GGUF_H
#include <stddef.h>
#include <stdint.h>

#include "softthink.h"

typedef enum st_gguf_vtype {
    ST_GGUF_U8 = 0, ST_GGUF_I8 = 1, ST_GGUF_U16 = 2, ST_GGUF_I16 = 3,
    ST_GGUF_U32 = 4, ST_GGUF_I32 = 5, ST_GGUF_F32 = 6, ST_GGUF_BOOL = 7,
    ST_GGUF_STRING = 8, ST_GGUF_ARRAY = 9, ST_GGUF_U64 = 10, ST_GGUF_I64 = 11,
    ST_GGUF_F64 = 12, ST_GGUF_VTYPE_COUNT
} st_gguf_vtype;

const char *st_gguf_vtype_name(int t);

typedef struct st_gguf_value st_gguf_value;
struct st_gguf_value {
    st_gguf_vtype type;
    union {
        uint64_t u;           /* U8..U64, BOOL (0/1) */
        int64_t i;            /* I8..I64 */
        double f;             /* F32, F64 */
        struct { const char *s; uint64_t len; } str;     /* NUL-terminated copy */
        struct {
            st_gguf_vtype type;   /* element type */
            uint64_t n;           /* element count */
            const void *data;     /* numeric/bool elements: raw little-endian, in the mapping */
            const char **strs;    /* STRING elements: [n] NUL-terminated copies */
            uint64_t *str_lens;   /* STRING elements: [n] byte lengths (may contain NUL) */
            st_gguf_value *items; /* ARRAY elements (nested): [n] */
        } arr;
    } v;
};

typedef struct st_gguf_kv {
    const char *key;
    st_gguf_value value;
} st_gguf_kv;

typedef struct st_gguf_tensor {
    const char *name;
    int n_dims;
    int64_t ne[4];        /* ne[0] is the row length (innermost); unused dims are 1 */
    st_type type;
    uint64_t offset;      /* relative to the data section */
    uint64_t nbytes;
    const void *data;     /* in the mapping, aligned to the file's alignment */
} st_gguf_tensor;

typedef struct st_gguf st_gguf;

st_status st_gguf_open(const char *path, st_gguf **out);
/* Parse an in-memory image (not copied: must outlive the handle). For fuzzing and tests. */
st_status st_gguf_open_memory(const void *data, size_t size, const char *name, st_gguf **out);
void st_gguf_close(st_gguf *g);

uint32_t st_gguf_version(const st_gguf *g);
uint32_t st_gguf_alignment(const st_gguf *g);
uint64_t st_gguf_file_size(const st_gguf *g);
const char *st_gguf_path(const st_gguf *g);
uint64_t st_gguf_data_offset(const st_gguf *g);

int64_t st_gguf_n_kv(const st_gguf *g);
const st_gguf_kv *st_gguf_kv_at(const st_gguf *g, int64_t i);
const st_gguf_kv *st_gguf_find(const st_gguf *g, const char *key); /* NULL if absent */

/* Typed getters. Absent key: ST_E_FORMAT "missing key 'K'" (callers that have a
 * default check st_gguf_find first). Wrong type: ST_E_FORMAT naming key, expected
 * and actual type. Integer getters accept any integer type whose value fits. */
st_status st_gguf_get_u32(const st_gguf *g, const char *key, uint32_t *out);
st_status st_gguf_get_i64(const st_gguf *g, const char *key, int64_t *out);
st_status st_gguf_get_f32(const st_gguf *g, const char *key, float *out); /* F32 or F64 */
st_status st_gguf_get_bool(const st_gguf *g, const char *key, int *out);
st_status st_gguf_get_str(const st_gguf *g, const char *key, const char **out);
/* Arrays: element type must match (string / f32 / i32-or-u32 ...). */
st_status st_gguf_get_arr_str(const st_gguf *g, const char *key, const char *const **strs,
                              const uint64_t **lens, uint64_t *n);
/* Copies a numeric array, converting to the requested type; out has room for max_n. */
st_status st_gguf_get_arr_f32(const st_gguf *g, const char *key, float *out, uint64_t max_n, uint64_t *n);
st_status st_gguf_get_arr_i32(const st_gguf *g, const char *key, int32_t *out, uint64_t max_n, uint64_t *n);
uint64_t st_gguf_arr_len(const st_gguf *g, const char *key); /* 0 if absent or not an array */

int64_t st_gguf_n_tensors(const st_gguf *g);
const st_gguf_tensor *st_gguf_tensor_at(const st_gguf *g, int64_t i);
const st_gguf_tensor *st_gguf_find_tensor(const st_gguf *g, const char *name); /* NULL if absent */

/* ---------------------------------------------------------------- writer
 * Builds a GGUF v3 file. Tensor data is referenced, not copied: it must stay
 * valid until st_gguf_writer_write returns. */
typedef struct st_gguf_writer st_gguf_writer;

st_status st_gguf_writer_init(st_gguf_writer **out);
void st_gguf_writer_free(st_gguf_writer *w);
st_status st_gguf_writer_set_u32(st_gguf_writer *w, const char *key, uint32_t v);
st_status st_gguf_writer_set_i32(st_gguf_writer *w, const char *key, int32_t v);
st_status st_gguf_writer_set_f32(st_gguf_writer *w, const char *key, float v);
st_status st_gguf_writer_set_bool(st_gguf_writer *w, const char *key, int v);
st_status st_gguf_writer_set_str(st_gguf_writer *w, const char *key, const char *v);
st_status st_gguf_writer_set_arr_str(st_gguf_writer *w, const char *key, const char *const *v, uint64_t n);
st_status st_gguf_writer_set_arr_f32(st_gguf_writer *w, const char *key, const float *v, uint64_t n);
st_status st_gguf_writer_set_arr_i32(st_gguf_writer *w, const char *key, const int32_t *v, uint64_t n);
/* Copy a key/value (any type, nested arrays included) from a reader. */
st_status st_gguf_writer_set_kv(st_gguf_writer *w, const st_gguf_kv *kv);
st_status st_gguf_writer_add_tensor(st_gguf_writer *w, const char *name, st_type type, int n_dims,
                                    const int64_t *ne, const void *data, uint64_t nbytes);
st_status st_gguf_writer_write(st_gguf_writer *w, const char *path);

#endif
