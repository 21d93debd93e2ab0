/* Hot kernels. One function table per ISA (scalar, avx2, avx512); the best one
 * the CPU supports is chosen at run time by CPUID. The scalar table is the
 * specification: every SIMD entry is tested against it. */
#ifndef ST_KERNELS_H
#define ST_KERNELS_H
#include <stdint.h>
#include <string.h>

#include "softthink.h"
#include "../tensor/quant.h"

struct st_pool;

/* s = dot(w, x) over n elements; w is a weight row of the table slot's type,
 * x an activation row already converted to that type's vec_dot_type. */
typedef void (*st_vec_dot_fn)(int64_t n, float *s, const void *w, const void *x);
/* Convert an f32 activation row to an activation format (F32 copy, F16, BF16, Q8_0, Q8_1, Q8_K). */
typedef void (*st_quantize_row_fn)(const float *x, void *y, int64_t n);
/* s[r] = dot(w + r*w_stride bytes, x) for r < nr: a run of weight rows against
 * one activation row, sharing the activation-side work (loads, scale
 * conversions, offset sums) and per-call setup between rows. */
typedef void (*st_vec_dot_rows_fn)(int64_t n, float *s, const void *w, size_t w_stride, int64_t nr, const void *x);
/* s[t*s_stride] = dot(w, x + t*x_stride bytes) for t < nt: one weight row
 * against several activation rows, unpacking the weights once. */
typedef void (*st_vec_dot_toks_fn)(int64_t n, float *s, size_t s_stride, const void *w, const void *x, size_t x_stride,
                                   int64_t nt);

/* y[t*y_stride + r] = dot(w + r*w_stride bytes, x + t*x_stride bytes) for r < nr
 * (nr <= ST_PANEL_ROWS) and t < nt, x packed by the table's pack_row. */
/* While it runs, a panel prefetches the ST_PANEL_ROWS rows that start this
 * many rows past its own first row: the panel after next half-way, so that
 * the next panel's last rows, which its first blocks need at once, are asked
 * for half a panel earlier than when the prefetch covered exactly the next
 * panel (eight sequences: Qwen2.5 Q8_0 +6-14%, Q4_K_M 0-8%, Qwen3 Q4_K_M
 * even; a whole panel further measured no better). */
#define ST_PANEL_PF_LEAD 24
typedef void (*st_gemm_panel_fn)(int64_t n, float *y, size_t y_stride, const void *w, size_t w_stride, int64_t nr,
                                 const void *x, size_t x_stride, int64_t nt);

typedef struct st_kernels {
    const char *isa;                               /* "scalar", "avx2", "avx512" */
    st_vec_dot_fn vec_dot[ST_TYPE_COUNT];          /* indexed by weight type */
    st_quantize_row_fn quantize_row[ST_TYPE_COUNT];/* indexed by activation type */
    float (*dot_f32)(int64_t n, const float *a, const float *b);
    void (*axpy_f32)(int64_t n, float a, const float *x, float *y); /* y += a*x */
    /* a[i] *= silu(g[i]) = g[i] / (1 + exp(-g[i])): the SwiGLU gate. SIMD
     * tables use their own exp (within a few ulp of the scalar reference). */
    void (*silu_mul)(int64_t n, float *a, const float *g);
    /* Filled wherever vec_dot is; bit-identical to vec_dot row by row, so results
     * do not depend on how callers group rows (e.g. per thread). Attention over
     * a cache should call it once for all positions: with rows of head_dim
     * elements, per-call overhead otherwise dominates. */
    st_vec_dot_rows_fn vec_dot_rows[ST_TYPE_COUNT];
    /* One weight row against several tokens, loading and unpacking the row once
     * (prompts, batched decode); NULL where a table has none (then rows are
     * run per token). Bit-identical to vec_dot, so a token's result does not
     * depend on the batch. */
    st_vec_dot_toks_fn vec_dot_toks[ST_TYPE_COUNT];
    /* Faster still for many tokens, where a table has it (else NULL): gemm_panel
     * multiplies a panel of up to ST_PANEL_ROWS consecutive weight rows with
     * any number of activation rows. Where pack_row is set (Q8_0 activations),
     * the rows are first repacked by it into rows of st_packed_row_size
     * bytes; otherwise the panel reads the vec_dot_type rows as they are.
     * Also bit-identical to vec_dot. While it runs, a panel prefetches the
     * ST_PANEL_ROWS rows from ST_PANEL_PF_LEAD on (st_matmul relies on it). */
    void (*pack_row[ST_TYPE_COUNT])(const void *xq, void *xp, int64_t n); /* indexed by weight type */
    /* f32 straight to packed rows: the same bytes as quantize_row[Q8_0] then
     * pack_row[Q8_0] (NULL: those two) */
    void (*quantize_pack_q8_0)(const float *x, void *xp, int64_t n);
    st_gemm_panel_fn gemm_panel[ST_TYPE_COUNT];
    /* Nonzero where gemm_panel also beats vec_dot_rows for a single token
     * (decode), i.e. where the weights cost more to unpack than to stream and
     * the panel unpacks them for 16 rows at once. */
    unsigned char gemm_panel_decode[ST_TYPE_COUNT];
    /* gemm_panel on weights already in panels (st_panel_pack, quant.h): w is
     * one panel and w_stride its st_panel_bytes / ST_PANEL_ROWS; activations
     * packed as for gemm_panel. For any token count, one included: with the
     * rows' transposes and scale copies gone it is the fastest kernel for a
     * single token too. Bit-identical to vec_dot on the unpacked rows; NULL
     * where a table has none (st_model_load then leaves the rows as they are). */
    st_gemm_panel_fn gemm_packed[ST_TYPE_COUNT];
    /* y += a*x for a half-precision x (attention over the f16 KV cache) */
    void (*axpy_f16)(int64_t n, float a, const uint16_t *x, float *y);
    /* For each of g weight sets j: y_j += a_j[r] * x_r over rows r < nr of
     * half-precision x (xs bytes apart), with a_j = a + j * as (half precision)
     * and y_j = y + j * ys, in row order: the attention output of the g query
     * heads that share a KV head, over all positions in one call (each V row
     * is converted once for the g heads, and per-position calls of axpy_f16
     * cost more than their arithmetic at head_dim 64). Bit-identical to
     * axpy_f16 row by row for each j. */
    void (*axpy_rows_f16)(int64_t n, int64_t g, const uint16_t *a, size_t as, const uint16_t *x, size_t xs, int64_t nr,
                          float *y, size_t ys);
    /* For each of g half-precision queries q_j = q + j * n: s_j[r] = q_j . k_r
     * over rows r < nr of half-precision k (ks bytes apart), s_j = s + j * ss:
     * the attention scores of the query heads that share a KV head (each K row
     * converted once for all of them). Bit-identical to vec_dot_rows[F16] of
     * the same table, query by query. */
    void (*dot_rows_group_f16)(int64_t n, int64_t g, const uint16_t *q, const uint16_t *k, size_t ks, int64_t nr,
                               float *s, size_t ss);
    /* The attention output over a Q8_0 cache: for each of g weight sets j,
     * y_j[i] += a_j[r] * (d * q_r[i]) over rows r < nr of Q8_0 blocks (xs
     * bytes apart; n a multiple of 32), a_j = a + j * as, y_j = y + j * ys:
     * the dequantized value is exact, then one fused multiply-add per row,
     * rows in order (the scalar table's is the definition). Bit-identical in
     * every table. */
    void (*axpy_rows_q8_0)(int64_t n, int64_t g, const float *a, size_t as, const void *x, size_t xs, int64_t nr,
                           float *y, size_t ys);
} st_kernels;

/* For the kernel files: an axpy_rows_f16 entry that is the table's axpy_f16
 * row after row, weight set after weight set. */
#define ST_AXPY_ROWS_LOOP(name, axpy)                                                                              \
    static void name(int64_t n, int64_t g, const uint16_t *a, size_t as, const uint16_t *x, size_t xs, int64_t nr, \
                     float *y, size_t ys) {                                                                         \
        for (int64_t j = 0; j < g; j++)                                                                            \
            for (int64_t r = 0; r < nr; r++)                                                                       \
                axpy(n, st_f16_to_f32(a[j * as + r]), (const uint16_t *)((const uint8_t *)x + (size_t)r * xs),     \
                     y + j * ys);                                                                                  \
    }

/* For the kernel files: a dot_rows_group_f16 entry that is the table's
 * vec_dot_rows for F16, query after query. */
#define ST_DOT_ROWS_GROUP_LOOP(name, rows)                                                                 \
    static void name(int64_t n, int64_t g, const uint16_t *q, const uint16_t *k, size_t ks, int64_t nr,    \
                     float *s, size_t ss) {                                                                \
        for (int64_t j = 0; j < g; j++) rows(n, s + j * ss, k, ks, nr, q + j * n);                         \
    }

/* For the kernel files: a vec_dot_rows entry for a type without a multi-row
 * kernel — the same vec_dot, row after row (so it is bit-identical by construction). */
#define ST_ROWS_LOOP(name, dot)                                                                    \
    static void name(int64_t n, float *s, const void *w, size_t ws, int64_t nr, const void *x) {  \
        for (int64_t r = 0; r < nr; r++) dot(n, s + r, (const uint8_t *)w + r * ws, x);          \
    }

/* Packed activation row for gemm_panel (Q8_0 weights): the n quants as they
 * are, the n/32 block scales as f32, then per block -128 * (sum of its quants)
 * as int32; rows padded to 64 bytes. */
static inline size_t st_packed_row_size(int64_t n) { return ((size_t)n + (size_t)n / 32 * 8 + 63) & ~(size_t)63; }

/* Best table for this CPU; ST_ISA=scalar|avx2|avx512 in the environment forces one. */
const st_kernels *st_kernels_best(void);
/* A named table if the CPU can run it, else NULL. */
const st_kernels *st_kernels_by_name(const char *isa);
/* NULL-terminated list of ISA names this CPU can run, best last. */
const char *const *st_kernels_available(void);

/* y[t*rows + r] = sum_c W[r, c] * x[t*cols + c] for r < rows, t < n_tok.
 * W is row-major with rows of st_row_size(wtype, cols) bytes (or, for an
 * st_matmul_multi part with .packed, panels for k->gemm_packed); cols must be a
 * multiple of the block size. Activations are converted once to wtype's
 * vec_dot_type (in `scratch`, see st_matmul_scratch_size; 0 bytes, NULL allowed,
 * for F32 weights), then rows are split among the pool's threads (pool may be
 * NULL). Every y element is bit-identical to k->vec_dot on that row and token,
 * whatever the thread count and whether the token came alone or in a batch.
 * A weight type without a kernel in k gives NaN outputs. */
void st_matmul(struct st_pool *pool, const st_kernels *k, const void *W, st_type wtype,
               int64_t rows, int64_t cols, const float *x, int64_t n_tok, float *y, void *scratch);
size_t st_matmul_scratch_size(st_type wtype, int64_t cols, int64_t n_tok);

/* Several matrices against the same activations (q, k, v; gate, up): those
 * whose activations convert alike share one conversion and one pool run, the
 * others run after. Same results as one st_matmul per matrix. */
typedef struct st_matmul_part {
    const void *W;
    st_type wtype;
    int64_t rows;
    float *y; /* [n_tok, rows] */
    int packed; /* W is ceil(rows / 16) panels (st_panel_pack) for k->gemm_packed */
} st_matmul_part;
void st_matmul_multi(struct st_pool *pool, const st_kernels *k, const st_matmul_part *parts, int n_parts, int64_t cols,
                     const float *x, int64_t n_tok, void *scratch);

/* ---------------------------------------------------------------- internal
 * Shared by the files of src/kernels only. Each ISA file defines one table;
 * a SIMD table points at the scalar entries below for anything it does not
 * vectorise, so every slot of every table is filled. */
extern const st_kernels st_kernels_scalar_table;
extern const st_kernels st_kernels_avx2_table;
extern const st_kernels st_kernels_avx512_table;

void st_vec_dot_f32_scalar(int64_t n, float *s, const void *w, const void *x);
void st_vec_dot_f16_scalar(int64_t n, float *s, const void *w, const void *x);
void st_vec_dot_bf16_scalar(int64_t n, float *s, const void *w, const void *x);
void st_vec_dot_q4_0_scalar(int64_t n, float *s, const void *w, const void *x);
void st_vec_dot_q4_1_scalar(int64_t n, float *s, const void *w, const void *x);
void st_vec_dot_q5_0_scalar(int64_t n, float *s, const void *w, const void *x);
void st_vec_dot_q5_1_scalar(int64_t n, float *s, const void *w, const void *x);
void st_vec_dot_q8_0_scalar(int64_t n, float *s, const void *w, const void *x);
void st_vec_dot_q4_K_scalar(int64_t n, float *s, const void *w, const void *x);
void st_vec_dot_q5_K_scalar(int64_t n, float *s, const void *w, const void *x);
void st_vec_dot_q6_K_scalar(int64_t n, float *s, const void *w, const void *x);
void st_quantize_row_f32_scalar(const float *x, void *y, int64_t n);
void st_quantize_row_f16_scalar(const float *x, void *y, int64_t n);
void st_quantize_row_bf16_scalar(const float *x, void *y, int64_t n);
void st_quantize_row_q8_0_scalar(const float *x, void *y, int64_t n);
void st_quantize_row_q8_1_scalar(const float *x, void *y, int64_t n);
void st_quantize_row_q8_K_scalar(const float *x, void *y, int64_t n);
float st_dot_f32_scalar(int64_t n, const float *a, const float *b);
void st_axpy_f32_scalar(int64_t n, float a, const float *x, float *y);
void st_silu_mul_scalar(int64_t n, float *a, const float *g);
void st_axpy_f16_scalar(int64_t n, float a, const uint16_t *x, float *y);

/* The eight 6-bit scales and eight mins of a Q4_K/Q5_K super-block, four per
 * 32-bit word (sc[0..3], sc[4..7], m[0..3], m[4..7]): the SIMD kernels load
 * them as vectors, so they are produced word-wise rather than byte by byte. */
static inline void st_unpack_k4_scales(const uint8_t s12[12], uint32_t out[4]) {
    uint32_t u0, u1, u2;
    memcpy(&u0, s12, 4);
    memcpy(&u1, s12 + 4, 4);
    memcpy(&u2, s12 + 8, 4);
    out[0] = u0 & 0x3f3f3f3fu;
    out[1] = (u2 & 0x0f0f0f0fu) | ((u0 >> 6) & 0x03030303u) << 4;
    out[2] = u1 & 0x3f3f3f3fu;
    out[3] = ((u2 >> 4) & 0x0f0f0f0fu) | ((u1 >> 6) & 0x03030303u) << 4;
}

#endif
