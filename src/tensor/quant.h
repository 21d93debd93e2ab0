/* Tensor element types: block layouts (bit-exact with GGUF/ggml) and a traits
 * table indexed by st_type. The scalar functions here are the specification;
 * SIMD kernels in src/kernels/ are tested against them. */
#ifndef ST_TENSOR_QUANT_H
#define ST_TENSOR_QUANT_H
#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "softthink.h"
#include "../core/fp16.h"

#define QK4_0 32
#define QK4_1 32
#define QK5_0 32
#define QK5_1 32
#define QK8_0 32
#define QK8_1 32
#define QK_K 256
#define K_SCALE_SIZE 12

typedef struct { st_f16 d; uint8_t qs[QK4_0 / 2]; } block_q4_0;          /* x = (q - 8) * d */
typedef struct { st_f16 d, m; uint8_t qs[QK4_1 / 2]; } block_q4_1;       /* x = q * d + m */
typedef struct { st_f16 d; uint8_t qh[4]; uint8_t qs[QK5_0 / 2]; } block_q5_0;  /* x = (q - 16) * d */
typedef struct { st_f16 d, m; uint8_t qh[4]; uint8_t qs[QK5_1 / 2]; } block_q5_1; /* x = q * d + m */
typedef struct { st_f16 d; int8_t qs[QK8_0]; } block_q8_0;               /* x = q * d */
typedef struct { st_f16 d, s; int8_t qs[QK8_1]; } block_q8_1;            /* s = d * sum(qs) */

/* K-quants: super-blocks of 256 */
typedef struct { uint8_t scales[QK_K / 16]; uint8_t qs[QK_K / 4]; st_f16 d, dmin; } block_q2_K;
typedef struct { uint8_t hmask[QK_K / 8]; uint8_t qs[QK_K / 4]; uint8_t scales[12]; st_f16 d; } block_q3_K;
typedef struct { st_f16 d, dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qs[QK_K / 2]; } block_q4_K;
typedef struct { st_f16 d, dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qh[QK_K / 8]; uint8_t qs[QK_K / 2]; } block_q5_K;
typedef struct { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; st_f16 d; } block_q6_K;
/* activations for K-quant dot products */
typedef struct { float d; int8_t qs[QK_K]; int16_t bsums[QK_K / 16]; } block_q8_K;

static_assert(sizeof(block_q4_0) == 18, "q4_0 block size");
static_assert(sizeof(block_q4_1) == 20, "q4_1 block size");
static_assert(sizeof(block_q5_0) == 22, "q5_0 block size");
static_assert(sizeof(block_q5_1) == 24, "q5_1 block size");
static_assert(sizeof(block_q8_0) == 34, "q8_0 block size");
static_assert(sizeof(block_q8_1) == 36, "q8_1 block size");
static_assert(sizeof(block_q2_K) == 84, "q2_K block size");
static_assert(sizeof(block_q3_K) == 110, "q3_K block size");
static_assert(sizeof(block_q4_K) == 144, "q4_K block size");
static_assert(sizeof(block_q5_K) == 176, "q5_K block size");
static_assert(sizeof(block_q6_K) == 210, "q6_K block size");
static_assert(sizeof(block_q8_K) == 292, "q8_K block size");

typedef void (*st_to_float_fn)(const void *src, float *dst, int64_t n);
typedef void (*st_from_float_fn)(const float *src, void *dst, int64_t n);

typedef struct st_type_traits {
    const char *name;         /* "Q4_K" — NULL marks an unused id */
    int blck_size;            /* elements per block */
    size_t type_size;         /* bytes per block */
    int is_quantized;
    int compute;              /* 1 if models may use it as a weight type (we have dot products) */
    st_to_float_fn to_float;  /* n must be a multiple of blck_size; NULL if unsupported */
    st_from_float_fn from_float; /* reference quantizer; NULL if none */
    st_type vec_dot_type;     /* activation format paired with this weight type */
} st_type_traits;

/* Traits of a type id, or NULL if the id is not a known ggml type. */
const st_type_traits *st_type_traits_get(int type);
/* Bytes of a row of n elements (n must be a multiple of the block size). */
size_t st_row_size(st_type type, int64_t n);

/* Scalar reference (de)quantizers, also reachable through the traits table. */
void st_dequantize_row(st_type type, const void *src, float *dst, int64_t n);
void st_quantize_row(st_type type, const float *src, void *dst, int64_t n);

/* Weight panels: ST_PANEL_ROWS consecutive rows of a matrix interleaved block
 * by block, so that a SIMD kernel loads 4 bytes of each of 16 rows with one
 * 64-byte load instead of transposing 16 row streams (the transposes and
 * per-row scale copies were a third of a batched step's panel time). A
 * panel of a matrix with nb blocks per row (rows past the matrix: zero bytes):
 *   part A, block b at b * 64 nd: the block's nd dwords from byte dw_off of
 *     each row, dword k of row r at 64 k + 4 r (Q8_0 quants as q + 128);
 *   part B (types whose scale sits outside the dwords: Q8_0, Q4_0, Q5_0,
 *     Q6_K), after part A: block b's 16 two-byte scales at 32 b + 2 r;
 *   zero padding to a multiple of 64 bytes.
 * Same bytes as the 16 rows, up to that padding. */
#define ST_PANEL_ROWS 16
/* Bytes of one panel of rows of n elements; 0 where the type has no panel layout. */
size_t st_panel_bytes(st_type type, int64_t n);
/* nr <= ST_PANEL_ROWS rows of n elements (row_bytes apart) into one panel. */
void st_panel_pack(st_type type, int64_t n, const void *rows, size_t row_bytes, int64_t nr, void *panel);
/* Row r of a panel back in the type's own row format (st_row_size bytes). */
void st_panel_unpack_row(st_type type, int64_t n, const void *panel, int64_t r, void *row);
/* Blocks [b0, b0 + nbk) of that row only (nbk blocks in the row format). */
void st_panel_unpack_blocks(st_type type, int64_t n, const void *panel, int64_t r, int64_t b0, int64_t nbk, void *out);

#endif
