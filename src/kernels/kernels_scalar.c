/* Scalar reference kernels: the specification every SIMD table is tested
 * against. Written straight from the block layouts in tensor/quant.h, with
 * exact integer sums per block scaled as ggml's reference vec_dot does, so a
 * SIMD kernel may only differ from these by float summation order. Speed is
 * not a goal here. */
#include <math.h>
#include <string.h>

#include "kernels.h"

static inline float h2f(st_f16 h) { return st_f16_to_f32(h); }

/* ---------------------------------------------------------------- float types
 * Summed in double: these are the yardstick for float rounding in the SIMD versions. */

void st_vec_dot_f32_scalar(int64_t n, float *s, const void *w, const void *x) {
    const float *a = w, *b = x;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += (double)a[i] * b[i];
    *s = (float)sum;
}

void st_vec_dot_f16_scalar(int64_t n, float *s, const void *w, const void *x) {
    const st_f16 *a = w, *b = x;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += (double)h2f(a[i]) * h2f(b[i]);
    *s = (float)sum;
}

void st_vec_dot_bf16_scalar(int64_t n, float *s, const void *w, const void *x) {
    const st_bf16 *a = w, *b = x;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += (double)st_bf16_to_f32(a[i]) * st_bf16_to_f32(b[i]);
    *s = (float)sum;
}

/* ---------------------------------------------------------------- 32-element blocks
 * Byte j of qs holds element j (low nibble) and element j+16 (high nibble);
 * Q5 formats keep bit 4 of element j in bit j of the little-endian u32 qh. */

void st_vec_dot_q8_0_scalar(int64_t n, float *s, const void *w, const void *x) {
    const block_q8_0 *a = w;
    const block_q8_0 *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK8_0; i++) {
        int sumi = 0;
        for (int j = 0; j < QK8_0; j++) sumi += a[i].qs[j] * b[i].qs[j];
        sum += (float)sumi * (h2f(a[i].d) * h2f(b[i].d));
    }
    *s = sum;
}

void st_vec_dot_q4_0_scalar(int64_t n, float *s, const void *w, const void *x) {
    const block_q4_0 *a = w;
    const block_q8_0 *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK4_0; i++) {
        int sumi = 0;
        for (int j = 0; j < QK4_0 / 2; j++) {
            sumi += ((a[i].qs[j] & 15) - 8) * b[i].qs[j];
            sumi += ((a[i].qs[j] >> 4) - 8) * b[i].qs[j + 16];
        }
        sum += (float)sumi * (h2f(a[i].d) * h2f(b[i].d));
    }
    *s = sum;
}

/* x = q*d + m, so dot = d*dy*sum(q*qy) + m*(dy*sum(qy)); the activation's s
 * field already holds dy*sum(qy). */
void st_vec_dot_q4_1_scalar(int64_t n, float *s, const void *w, const void *x) {
    const block_q4_1 *a = w;
    const block_q8_1 *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK4_1; i++) {
        int sumi = 0;
        for (int j = 0; j < QK4_1 / 2; j++) {
            sumi += (a[i].qs[j] & 15) * b[i].qs[j];
            sumi += (a[i].qs[j] >> 4) * b[i].qs[j + 16];
        }
        sum += (float)sumi * (h2f(a[i].d) * h2f(b[i].d)) + h2f(a[i].m) * h2f(b[i].s);
    }
    *s = sum;
}

static inline int q5_value(const uint8_t *qs, uint32_t qh, int j) {
    const int nib = j < 16 ? qs[j] & 15 : qs[j - 16] >> 4;
    return nib | (int)((qh >> j) & 1) << 4;
}

void st_vec_dot_q5_0_scalar(int64_t n, float *s, const void *w, const void *x) {
    const block_q5_0 *a = w;
    const block_q8_0 *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK5_0; i++) {
        uint32_t qh;
        memcpy(&qh, a[i].qh, 4);
        int sumi = 0;
        for (int j = 0; j < QK5_0; j++) sumi += (q5_value(a[i].qs, qh, j) - 16) * b[i].qs[j];
        sum += (float)sumi * (h2f(a[i].d) * h2f(b[i].d));
    }
    *s = sum;
}

void st_vec_dot_q5_1_scalar(int64_t n, float *s, const void *w, const void *x) {
    const block_q5_1 *a = w;
    const block_q8_1 *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK5_1; i++) {
        uint32_t qh;
        memcpy(&qh, a[i].qh, 4);
        int sumi = 0;
        for (int j = 0; j < QK5_1; j++) sumi += q5_value(a[i].qs, qh, j) * b[i].qs[j];
        sum += (float)sumi * (h2f(a[i].d) * h2f(b[i].d)) + h2f(a[i].m) * h2f(b[i].s);
    }
    *s = sum;
}

/* ---------------------------------------------------------------- K-quants
 * Super-blocks of 256 against Q8_K (float d, int8 quants, bsums = sums of 16). */

/* Scale and min of 32-element sub-block j (0..7) of Q4_K/Q5_K, from the 12-byte
 * packing: pairs 0-3 in the low 6 bits of bytes 0-3 / 4-7, pairs 4-7 as low
 * nibbles in bytes 8-11 plus the top 2 bits of bytes 0-3 / 4-7. */
static void k4_scale_min(const uint8_t *s12, int j, int *sc, int *m) {
    if (j < 4) {
        *sc = s12[j] & 63;
        *m = s12[j + 4] & 63;
    } else {
        *sc = (s12[j + 4] & 15) | (s12[j - 4] >> 6) << 4;
        *m = (s12[j + 4] >> 4) | (s12[j] >> 6) << 4;
    }
}

/* Element e of a super-block: 64-element chunk c = e/64 is stored in qs[32c..32c+31],
 * its first 32 elements in the low nibbles, the next 32 in the high nibbles. */
static inline int k4_nibble(const uint8_t *qs, int e) {
    const int c = e / 64, l = e % 64;
    return l < 32 ? qs[32 * c + l] & 15 : qs[32 * c + l - 32] >> 4;
}

/* x = d*sc*q - dmin*m, so dot = dy*(d*sum_j sc_j*sum(q*qy) - dmin*sum_j m_j*sum(qy));
 * the per-sub-block sum(qy) comes from the activation's bsums. */
void st_vec_dot_q4_K_scalar(int64_t n, float *s, const void *w, const void *x) {
    const block_q4_K *a = w;
    const block_q8_K *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int sumi = 0, summ = 0;
        for (int j = 0; j < QK_K / 32; j++) {
            int sc, m, dot = 0;
            k4_scale_min(a[i].scales, j, &sc, &m);
            for (int l = 0; l < 32; l++) dot += k4_nibble(a[i].qs, 32 * j + l) * b[i].qs[32 * j + l];
            sumi += sc * dot;
            summ += m * (b[i].bsums[2 * j] + b[i].bsums[2 * j + 1]);
        }
        sum += b[i].d * h2f(a[i].d) * (float)sumi - b[i].d * h2f(a[i].dmin) * (float)summ;
    }
    *s = sum;
}

/* As Q4_K plus a fifth bit: chunk c's first 32 elements take bit 2c of qh[l],
 * the next 32 bit 2c+1. */
void st_vec_dot_q5_K_scalar(int64_t n, float *s, const void *w, const void *x) {
    const block_q5_K *a = w;
    const block_q8_K *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int sumi = 0, summ = 0;
        for (int j = 0; j < QK_K / 32; j++) {
            int sc, m, dot = 0;
            k4_scale_min(a[i].scales, j, &sc, &m);
            for (int l = 0; l < 32; l++) {
                const int q = k4_nibble(a[i].qs, 32 * j + l) | ((a[i].qh[l] >> j) & 1) << 4;
                dot += q * b[i].qs[32 * j + l];
            }
            sumi += sc * dot;
            summ += m * (b[i].bsums[2 * j] + b[i].bsums[2 * j + 1]);
        }
        sum += b[i].d * h2f(a[i].d) * (float)sumi - b[i].d * h2f(a[i].dmin) * (float)summ;
    }
    *s = sum;
}

/* Element e of a Q6_K super-block: half h = e/128 uses ql[64h..], qh[32h..];
 * within a half, quarter k = (e%128)/32 and l = e%32 give the low nibble of
 * ql[l + 32*(k&1)] (k < 2) or its high nibble (k >= 2), and bits 2k..2k+1 of qh[l].
 * The stored value is offset by 32; scales are per 16 elements. */
static inline int q6_value(const block_q6_K *blk, int e) {
    const int h = e / 128, k = (e % 128) / 32, l = e % 32;
    const uint8_t lo = blk->ql[64 * h + l + 32 * (k & 1)];
    const int nib = k < 2 ? lo & 15 : lo >> 4;
    const int hi = (blk->qh[32 * h + l] >> (2 * k)) & 3;
    return (nib | hi << 4) - 32;
}

void st_vec_dot_q6_K_scalar(int64_t n, float *s, const void *w, const void *x) {
    const block_q6_K *a = w;
    const block_q8_K *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int sumi = 0;
        for (int g = 0; g < QK_K / 16; g++) {
            int dot = 0;
            for (int l = 0; l < 16; l++) dot += q6_value(&a[i], 16 * g + l) * b[i].qs[16 * g + l];
            sumi += a[i].scales[g] * dot;
        }
        sum += b[i].d * h2f(a[i].d) * (float)sumi;
    }
    *s = sum;
}

/* ---------------------------------------------------------------- activations
 * The reference quantizers are the definition of the activation formats. */

void st_quantize_row_f32_scalar(const float *x, void *y, int64_t n) { memcpy(y, x, (size_t)n * sizeof(float)); }
void st_quantize_row_f16_scalar(const float *x, void *y, int64_t n) { st_quantize_row(ST_TYPE_F16, x, y, n); }
void st_quantize_row_bf16_scalar(const float *x, void *y, int64_t n) { st_quantize_row(ST_TYPE_BF16, x, y, n); }
void st_quantize_row_q8_0_scalar(const float *x, void *y, int64_t n) { st_quantize_row(ST_TYPE_Q8_0, x, y, n); }
void st_quantize_row_q8_1_scalar(const float *x, void *y, int64_t n) { st_quantize_row(ST_TYPE_Q8_1, x, y, n); }
void st_quantize_row_q8_K_scalar(const float *x, void *y, int64_t n) { st_quantize_row(ST_TYPE_Q8_K, x, y, n); }

/* ---------------------------------------------------------------- f32 helpers */

float st_dot_f32_scalar(int64_t n, const float *a, const float *b) {
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += (double)a[i] * b[i];
    return (float)sum;
}

void st_silu_mul_scalar(int64_t n, float *a, const float *g) {
    for (int64_t i = 0; i < n; i++) a[i] *= g[i] / (1.0f + expf(-g[i]));
}

void st_axpy_f32_scalar(int64_t n, float a, const float *x, float *y) {
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

void st_axpy_f16_scalar(int64_t n, float a, const uint16_t *x, float *y) {
    for (int64_t i = 0; i < n; i++) y[i] += a * st_f16_to_f32(x[i]);
}

ST_AXPY_ROWS_LOOP(st_axpy_rows_f16_scalar, st_axpy_f16_scalar)

/* The definition of axpy_rows_q8_0 (kernels.h). */
static void axpy_rows_q8_0(int64_t n, int64_t g, const float *a, size_t as, const void *x, size_t xs, int64_t nr,
                           float *y, size_t ys) {
    for (int64_t j = 0; j < g; j++)
        for (int64_t r = 0; r < nr; r++) {
            const block_q8_0 *blk = (const block_q8_0 *)((const uint8_t *)x + (size_t)r * xs);
            const float aj = a[j * as + r];
            float *yj = y + j * ys;
            for (int64_t b = 0; b < n / QK8_0; b++) {
                const float d = st_f16_to_f32(blk[b].d);
                for (int i = 0; i < QK8_0; i++) yj[b * QK8_0 + i] = fmaf(aj, d * (float)blk[b].qs[i], yj[b * QK8_0 + i]);
            }
        }
}

/* Row runs for types without a multi-row kernel. */
ST_ROWS_LOOP(rows_f32, st_vec_dot_f32_scalar)
ST_ROWS_LOOP(rows_f16, st_vec_dot_f16_scalar)
ST_DOT_ROWS_GROUP_LOOP(dot_rows_group_f16, rows_f16)
ST_ROWS_LOOP(rows_bf16, st_vec_dot_bf16_scalar)
ST_ROWS_LOOP(rows_q4_0, st_vec_dot_q4_0_scalar)
ST_ROWS_LOOP(rows_q4_1, st_vec_dot_q4_1_scalar)
ST_ROWS_LOOP(rows_q5_0, st_vec_dot_q5_0_scalar)
ST_ROWS_LOOP(rows_q5_1, st_vec_dot_q5_1_scalar)
ST_ROWS_LOOP(rows_q8_0, st_vec_dot_q8_0_scalar)
ST_ROWS_LOOP(rows_q4_K, st_vec_dot_q4_K_scalar)
ST_ROWS_LOOP(rows_q5_K, st_vec_dot_q5_K_scalar)
ST_ROWS_LOOP(rows_q6_K, st_vec_dot_q6_K_scalar)

const st_kernels st_kernels_scalar_table = {
    .isa = "scalar",
    .vec_dot = {
        [ST_TYPE_F32] = st_vec_dot_f32_scalar,
        [ST_TYPE_F16] = st_vec_dot_f16_scalar,
        [ST_TYPE_BF16] = st_vec_dot_bf16_scalar,
        [ST_TYPE_Q4_0] = st_vec_dot_q4_0_scalar,
        [ST_TYPE_Q4_1] = st_vec_dot_q4_1_scalar,
        [ST_TYPE_Q5_0] = st_vec_dot_q5_0_scalar,
        [ST_TYPE_Q5_1] = st_vec_dot_q5_1_scalar,
        [ST_TYPE_Q8_0] = st_vec_dot_q8_0_scalar,
        [ST_TYPE_Q4_K] = st_vec_dot_q4_K_scalar,
        [ST_TYPE_Q5_K] = st_vec_dot_q5_K_scalar,
        [ST_TYPE_Q6_K] = st_vec_dot_q6_K_scalar,
    },
    .quantize_row = {
        [ST_TYPE_F32] = st_quantize_row_f32_scalar,
        [ST_TYPE_F16] = st_quantize_row_f16_scalar,
        [ST_TYPE_BF16] = st_quantize_row_bf16_scalar,
        [ST_TYPE_Q8_0] = st_quantize_row_q8_0_scalar,
        [ST_TYPE_Q8_1] = st_quantize_row_q8_1_scalar,
        [ST_TYPE_Q8_K] = st_quantize_row_q8_K_scalar,
    },
    .dot_f32 = st_dot_f32_scalar,
    .axpy_f32 = st_axpy_f32_scalar,
    .silu_mul = st_silu_mul_scalar,
    .axpy_f16 = st_axpy_f16_scalar,
    .axpy_rows_f16 = st_axpy_rows_f16_scalar,
    .axpy_rows_q8_0 = axpy_rows_q8_0,
    .dot_rows_group_f16 = dot_rows_group_f16,
    .vec_dot_rows = {
        [ST_TYPE_F32] = rows_f32,
        [ST_TYPE_F16] = rows_f16,
        [ST_TYPE_BF16] = rows_bf16,
        [ST_TYPE_Q4_0] = rows_q4_0,
        [ST_TYPE_Q4_1] = rows_q4_1,
        [ST_TYPE_Q5_0] = rows_q5_0,
        [ST_TYPE_Q5_1] = rows_q5_1,
        [ST_TYPE_Q8_0] = rows_q8_0,
        [ST_TYPE_Q4_K] = rows_q4_K,
        [ST_TYPE_Q5_K] = rows_q5_K,
        [ST_TYPE_Q6_K] = rows_q6_K,
    },
};
