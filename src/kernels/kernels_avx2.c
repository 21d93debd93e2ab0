/* AVX2 + FMA + F16C kernels. Integer products use the vpmaddubsw idiom
 * (unsigned x signed bytes -> pairs of int16), so every entry keeps one
 * operand in 0..255 and the other in -127..127; the bounds that rule out int16
 * saturation are noted where they are not obvious. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kernels.h"

static inline float h2f(st_f16 h) { return _cvtsh_ss(h); }

static inline float hsum_ps(__m256 v) {
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

static inline float hsum_ps128(__m128 x) {
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

static inline int hsum_epi32_128(__m128i x) {
    x = _mm_add_epi32(x, _mm_shuffle_epi32(x, _MM_SHUFFLE(1, 0, 3, 2)));
    x = _mm_add_epi32(x, _mm_shuffle_epi32(x, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(x);
}

static inline int hsum_epi32(__m256i v) {
    return hsum_epi32_128(_mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)));
}

/* Sum of 32 int16 pair products as 8 int32 lanes. */
static inline __m256i sum_pairs(__m256i p16) { return _mm256_madd_epi16(p16, _mm256_set1_epi16(1)); }

/* Dot of two signed byte vectors in 8 int32 lanes: vpmaddubsw needs one unsigned
 * operand, so move x's sign onto y. |x| <= 128 and |y| <= 127 keep each pair
 * sum within int16. y = -128 would break it; activation quantizers never emit it. */
static inline __m256i dot_i8(__m256i x, __m256i y) {
    return sum_pairs(_mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x)));
}

/* 16 packed bytes -> 32 nibbles: low nibbles in the low lane (elements 0..15),
 * high nibbles in the high lane (elements 16..31), as the 32-blocks store them. */
static inline __m256i nibbles32(const uint8_t *qs) {
    const __m128i t = _mm_loadu_si128((const __m128i *)qs);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), _mm256_set1_epi8(15));
}

/* Bit j of qh -> byte j = 0xff or 0. */
static inline __m256i bits_to_bytes(const uint8_t *qh4) {
    uint32_t qh;
    memcpy(&qh, qh4, 4);
    const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                          2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    const __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh), shuf);
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
}

/* ---------------------------------------------------------------- f32 / f16 / bf16 */

static float dot_f32(int64_t n, const float *a, const float *b) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
        acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);
        acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);
    }
    for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    float s = hsum_ps(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

static void axpy_f16(int64_t n, float a, const uint16_t *x, float *y) {
    const __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 xv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i)));
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, xv, _mm256_loadu_ps(y + i)));
    }
    for (; i < n; i++) y[i] += a * _cvtsh_ss(x[i]);
}

ST_AXPY_ROWS_LOOP(axpy_rows_f16, axpy_f16)
/* axpy_rows_q8_0 (kernels.h): per Q8_0 block of y and up to 4 weight sets,
 * y in registers while each row's block is converted once (one FMA per
 * element and row, as the definition). */
static void axpy_rows_q8_0(int64_t n, int64_t g, const float *a, size_t as, const void *x, size_t xs, int64_t nr,
                           float *y, size_t ys) {
    enum { G = 4 };
    for (int64_t j0 = 0; j0 < g; j0 += G) {
        const int gj = g - j0 < G ? (int)(g - j0) : G;
        for (int64_t b = 0; b < n / QK8_0; b++) {
            __m256 acc[G][4];
            for (int j = 0; j < G; j++)
                for (int q = 0; q < 4; q++) acc[j][q] = j < gj ? _mm256_loadu_ps(y + (j0 + j) * ys + b * QK8_0 + 8 * q) : _mm256_setzero_ps();
            const uint8_t *xr = (const uint8_t *)x + b * sizeof(block_q8_0);
            for (int64_t r = 0; r < nr; r++, xr += xs) {
                const block_q8_0 *blk = (const block_q8_0 *)xr;
                const __m256 d = _mm256_set1_ps(h2f(blk->d));
                __m256 v[4];
                for (int q = 0; q < 4; q++)
                    v[q] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(blk->qs + 8 * q)))));
                for (int j = 0; j < gj; j++) {
                    const __m256 va = _mm256_set1_ps(a[(j0 + j) * as + r]);
                    for (int q = 0; q < 4; q++) acc[j][q] = _mm256_fmadd_ps(va, v[q], acc[j][q]);
                }
            }
            for (int j = 0; j < gj; j++)
                for (int q = 0; q < 4; q++) _mm256_storeu_ps(y + (j0 + j) * ys + b * QK8_0 + 8 * q, acc[j][q]);
        }
    }
}

static void axpy_f32(int64_t n, float a, const float *x, float *y) {
    const __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
        _mm256_storeu_ps(y + i + 8, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8)));
    }
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

/* bf16 is the top half of an f32: widening is a shift, exact. */
static inline __m256 load_bf16(const st_bf16 *p) {
    const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

/* ---- F32 / F16 / BF16 weight rows, up to four at a time against one
 * activation row: short rows (attention over a cache, head_dim 64-128) are
 * dominated by per-call work, which four rows share: the activation loads and
 * conversions and one transposed reduction. Each row keeps its own two
 * accumulators and the reduction treats each lane alike, so a row gets the
 * same bits whether it is computed alone or with others. */
enum { F_F32, F_F16, F_BF16 };

/* 8 elements from p + i as f32; a short tail (left < 8) is copied into a
 * zero-padded buffer first, since AVX2 has no masked 16-bit loads. */
static inline __attribute__((always_inline)) __m256 f_load(const int kind, const void *p, int64_t i, int64_t left) {
    const size_t es = kind == F_F32 ? 4 : 2;
    const uint8_t *src = (const uint8_t *)p + i * es;
    uint8_t tmp[32];
    if (left < 8) {
        memset(tmp, 0, sizeof tmp);
        memcpy(tmp, src, (size_t)left * es);
        src = tmp;
    }
    if (kind == F_F32) return _mm256_loadu_ps((const float *)src);
    if (kind == F_F16) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)src));
    return load_bf16((const st_bf16 *)src);
}

/* [sum(a), sum(b), sum(c), sum(d)]; each lane's additions are the same whatever the other inputs. */
static inline __m128 reduce4(__m256 a, __m256 b, __m256 c, __m256 d) {
    const __m256 abcd = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

static inline __attribute__((always_inline)) void rowsf(const int kind, int64_t n, float *s, const uint8_t *w, size_t ws,
                                                         const int R, const void *x) {
    __m256 acc[4][2];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256 x0 = f_load(kind, x, i, 8), x1 = f_load(kind, x, i + 8, 8);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            acc[r][0] = _mm256_fmadd_ps(f_load(kind, w + r * ws, i, 8), x0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(f_load(kind, w + r * ws, i + 8, 8), x1, acc[r][1]);
        }
    }
    /* fewer than 16 left: at most two more steps, the last one partial */
    if (i < n) {
        const __m256 xv = f_load(kind, x, i, n - i);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) acc[r][0] = _mm256_fmadd_ps(f_load(kind, w + r * ws, i, n - i), xv, acc[r][0]);
        i += 8;
    }
    if (i < n) {
        const __m256 xv = f_load(kind, x, i, n - i);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) acc[r][1] = _mm256_fmadd_ps(f_load(kind, w + r * ws, i, n - i), xv, acc[r][1]);
    }
    __m256 v[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) v[r] = _mm256_add_ps(acc[r][0], acc[r][1]);
    const __m128 sums = reduce4(v[0], R > 1 ? v[1] : v[0], R > 2 ? v[2] : v[0], R > 3 ? v[3] : v[0]);
    float t[4];
    _mm_storeu_ps(t, sums);
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) s[r] = t[r];
}

static inline __attribute__((always_inline)) void rowsf_all(const int kind, int64_t n, float *s, const void *w, size_t ws,
                                                             int64_t nr, const void *x) {
    const uint8_t *wp = w;
    int64_t r = 0;
    for (; r + 4 <= nr; r += 4) rowsf(kind, n, s + r, wp + r * ws, ws, 4, x);
    for (; r < nr; r++) rowsf(kind, n, s + r, wp + r * ws, ws, 1, x);
}

static void vec_dot_f32(int64_t n, float *s, const void *w, const void *x) { rowsf(F_F32, n, s, w, 0, 1, x); }
static void vec_dot_f16(int64_t n, float *s, const void *w, const void *x) { rowsf(F_F16, n, s, w, 0, 1, x); }
static void vec_dot_bf16(int64_t n, float *s, const void *w, const void *x) { rowsf(F_BF16, n, s, w, 0, 1, x); }
static void vec_dot_rows_f32(int64_t n, float *s, const void *w, size_t ws, int64_t nr, const void *x) { rowsf_all(F_F32, n, s, w, ws, nr, x); }
static void vec_dot_rows_f16(int64_t n, float *s, const void *w, size_t ws, int64_t nr, const void *x) { rowsf_all(F_F16, n, s, w, ws, nr, x); }
ST_DOT_ROWS_GROUP_LOOP(dot_rows_group_f16, vec_dot_rows_f16)
static void vec_dot_rows_bf16(int64_t n, float *s, const void *w, size_t ws, int64_t nr, const void *x) { rowsf_all(F_BF16, n, s, w, ws, nr, x); }

/* ---------------------------------------------------------------- 32-element blocks */

static void vec_dot_q4_1(int64_t n, float *s, const void *w, const void *x) {
    const block_q4_1 *a = w;
    const block_q8_1 *b = x;
    const int64_t nb = n / QK4_1;
    __m256 acc = _mm256_setzero_ps();
    float summ = 0;
    for (int64_t i = 0; i < nb; i++) {
        const __m256i q = nibbles32(a[i].qs);
        const __m256i p = sum_pairs(_mm256_maddubs_epi16(q, _mm256_loadu_si256((const __m256i *)b[i].qs)));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(a[i].d) * h2f(b[i].d)), _mm256_cvtepi32_ps(p), acc);
        summ += h2f(a[i].m) * h2f(b[i].s);
    }
    *s = hsum_ps(acc) + summ;
}

/* Unsigned 5-bit values: nibble | 16 where the qh bit is set (0..31, pairs
 * 2*31*127 fit int16). */
static inline __m256i q5_values(const uint8_t *qs, const uint8_t *qh) {
    return _mm256_or_si256(nibbles32(qs), _mm256_and_si256(bits_to_bytes(qh), _mm256_set1_epi8(16)));
}

static void vec_dot_q5_1(int64_t n, float *s, const void *w, const void *x) {
    const block_q5_1 *a = w;
    const block_q8_1 *b = x;
    const int64_t nb = n / QK5_1;
    __m256 acc = _mm256_setzero_ps();
    float summ = 0;
    for (int64_t i = 0; i < nb; i++) {
        const __m256i q = q5_values(a[i].qs, a[i].qh);
        const __m256i p = sum_pairs(_mm256_maddubs_epi16(q, _mm256_loadu_si256((const __m256i *)b[i].qs)));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(a[i].d) * h2f(b[i].d)), _mm256_cvtepi32_ps(p), acc);
        summ += h2f(a[i].m) * h2f(b[i].s);
    }
    *s = hsum_ps(acc) + summ;
}

/* ---- Q8_0, Q4_0, Q5_0 against Q8_0 activations, one or two weight rows at a
 * time: the activation block, its scale and its offset sum are loaded or
 * computed once for both rows. One body serves both, so a row's result is
 * bit-identical either way. Q4_0/Q5_0 keep q unsigned (0..15 / 0..31, pairs
 * within int16) and subtract off*sum(y), taken with one more vpmaddubsw. */
enum { K_Q8_0, K_Q4_0, K_Q5_0 };

static inline __attribute__((always_inline)) __m256i block_dot(const int kind, const uint8_t *wb, __m256i y, __m256i ycorr) {
    if (kind == K_Q8_0) return dot_i8(_mm256_loadu_si256((const __m256i *)((const block_q8_0 *)wb)->qs), y);
    const __m256i q = kind == K_Q4_0 ? nibbles32(((const block_q4_0 *)wb)->qs)
                                     : q5_values(((const block_q5_0 *)wb)->qs, ((const block_q5_0 *)wb)->qh);
    return sum_pairs(_mm256_sub_epi16(_mm256_maddubs_epi16(q, y), ycorr));
}

static inline __attribute__((always_inline)) void block_step(const int kind, const int R, const int S, const uint8_t *w, size_t ws,
                                                              const block_q8_0 *b, int64_t i, __m256 *acc) {
    const __m256i y = _mm256_loadu_si256((const __m256i *)b[i].qs);
    const __m256i ycorr = kind == K_Q8_0 ? _mm256_setzero_si256() : _mm256_maddubs_epi16(_mm256_set1_epi8(kind == K_Q4_0 ? 8 : 16), y);
    const float yd = h2f(b[i].d);
#pragma GCC unroll 2
    for (int r = 0; r < R; r++) {
        const uint8_t *wb = w + r * ws + i * S;
        st_f16 d;
        memcpy(&d, wb, sizeof d); /* d is the first field of all three block types */
        acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(h2f(d) * yd), _mm256_cvtepi32_ps(block_dot(kind, wb, y, ycorr)), acc[r]);
    }
}

static inline __attribute__((always_inline)) void rows32(const int kind, int64_t n, float *s, const uint8_t *w, size_t ws,
                                                          const int R, const block_q8_0 *b) {
    const int S = kind == K_Q8_0 ? (int)sizeof(block_q8_0) : kind == K_Q4_0 ? (int)sizeof(block_q4_0) : (int)sizeof(block_q5_0);
    const int64_t nb = n / QK8_0;
    /* two accumulators per row so consecutive FMAs do not wait on each other */
    __m256 acc0[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()}, acc1[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        block_step(kind, R, S, w, ws, b, i, acc0);
        block_step(kind, R, S, w, ws, b, i + 1, acc1);
    }
    if (i < nb) block_step(kind, R, S, w, ws, b, i, acc0);
#pragma GCC unroll 2
    for (int r = 0; r < R; r++) s[r] = hsum_ps(_mm256_add_ps(acc0[r], acc1[r]));
}

static inline __attribute__((always_inline)) void rows32_all(const int kind, int64_t n, float *s, const void *w, size_t ws,
                                                              int64_t nr, const void *x) {
    const uint8_t *wp = w;
    int64_t r = 0;
    for (; r + 2 <= nr; r += 2) rows32(kind, n, s + r, wp + r * ws, ws, 2, x);
    if (r < nr) rows32(kind, n, s + r, wp + r * ws, ws, 1, x);
}

static void vec_dot_q8_0(int64_t n, float *s, const void *w, const void *x) { rows32(K_Q8_0, n, s, w, 0, 1, x); }
static void vec_dot_q4_0(int64_t n, float *s, const void *w, const void *x) { rows32(K_Q4_0, n, s, w, 0, 1, x); }
static void vec_dot_q5_0(int64_t n, float *s, const void *w, const void *x) { rows32(K_Q5_0, n, s, w, 0, 1, x); }
static void vec_dot_rows_q8_0(int64_t n, float *s, const void *w, size_t ws, int64_t nr, const void *x) { rows32_all(K_Q8_0, n, s, w, ws, nr, x); }
static void vec_dot_rows_q4_0(int64_t n, float *s, const void *w, size_t ws, int64_t nr, const void *x) { rows32_all(K_Q4_0, n, s, w, ws, nr, x); }
static void vec_dot_rows_q5_0(int64_t n, float *s, const void *w, size_t ws, int64_t nr, const void *x) { rows32_all(K_Q5_0, n, s, w, ws, nr, x); }

/* ---------------------------------------------------------------- K-quants */

/* Mins term of Q4_K/Q5_K: sum_j m_j * (bsums[2j] + bsums[2j+1]) as 4 int32 lanes.
 * The scales are unpacked with scalar integer ops (st_unpack_k4_scales): this
 * kernel is bound by the vector ports, and the integer ALUs are otherwise idle. */
static inline __m128i k4_mins_dot(const uint32_t sm[4], const int16_t *bsums) {
    const __m128i mins = _mm_cvtepu8_epi16(_mm_set_epi32(0, 0, (int)sm[3], (int)sm[2]));
    const __m128i b0 = _mm_loadu_si128((const __m128i *)bsums), b1 = _mm_loadu_si128((const __m128i *)(bsums + 8));
    return _mm_madd_epi16(mins, _mm_hadd_epi16(b0, b1));
}

/* Broadcast int16 scale k of a vector holding 8 int16 scales in both lanes. */
static inline __m256i pick_scale(__m256i scales, int k) {
    return _mm256_shuffle_epi8(scales, _mm256_set1_epi16((short)((2 * k + 1) << 8 | 2 * k)));
}

static void vec_dot_q4_K(int64_t n, float *s, const void *w, const void *x) {
    const block_q4_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    const __m256i m4 = _mm256_set1_epi8(15);
    __m256 acc = _mm256_setzero_ps();
    __m128 accm = _mm_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const float d = b[i].d * h2f(a[i].d), dmin = -b[i].d * h2f(a[i].dmin);
        uint32_t sm[4];
        st_unpack_k4_scales(a[i].scales, sm);
        accm = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(k4_mins_dot(sm, b[i].bsums)), accm);
        const __m256i scales = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_set_epi32(0, 0, (int)sm[1], (int)sm[0])));
        const uint8_t *q4 = a[i].qs;
        const int8_t *q8 = b[i].qs;
        __m256i sumi = _mm256_setzero_si256();
        for (int j = 0; j < QK_K / 64; j++, q4 += 32, q8 += 64) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)q4);
            const __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            /* pairs <= 2*15*127; times a 6-bit scale stays far from int32 limits */
            const __m256i p0 = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)q8));
            const __m256i p1 = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(q8 + 32)));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p0, pick_scale(scales, 2 * j)));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p1, pick_scale(scales, 2 * j + 1)));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    *s = hsum_ps(acc) + hsum_ps128(accm);
}

static void vec_dot_q5_K(int64_t n, float *s, const void *w, const void *x) {
    const block_q5_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    const __m256i m4 = _mm256_set1_epi8(15), one = _mm256_set1_epi8(1);
    __m256 acc = _mm256_setzero_ps();
    __m128 accm = _mm_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const float d = b[i].d * h2f(a[i].d), dmin = -b[i].d * h2f(a[i].dmin);
        uint32_t sm[4];
        st_unpack_k4_scales(a[i].scales, sm);
        accm = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(k4_mins_dot(sm, b[i].bsums)), accm);
        const __m256i scales = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_set_epi32(0, 0, (int)sm[1], (int)sm[0])));
        const uint8_t *q4 = a[i].qs;
        const int8_t *q8 = b[i].qs;
        /* Sub-block j takes bit j of each qh byte; shifting the 16-bit lanes right
         * by one per sub-block brings it to bit 0 (at most 7 shifts, so bits never
         * cross from the neighbouring byte into bit 0). */
        __m256i hb = _mm256_loadu_si256((const __m256i *)a[i].qh);
        __m256i sumi = _mm256_setzero_si256();
        for (int j = 0; j < QK_K / 64; j++, q4 += 32, q8 += 64) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)q4);
            const __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(hb, one), 4);
            hb = _mm256_srli_epi16(hb, 1);
            const __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(hb, one), 4);
            hb = _mm256_srli_epi16(hb, 1);
            const __m256i lo = _mm256_or_si256(_mm256_and_si256(q, m4), h0);
            const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), h1);
            const __m256i p0 = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)q8));
            const __m256i p1 = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(q8 + 32)));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p0, pick_scale(scales, 2 * j)));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p1, pick_scale(scales, 2 * j + 1)));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    *s = hsum_ps(acc) + hsum_ps128(accm);
}

/* Q6_K values are kept unsigned (0..63, pairs <= 2*63*127 fit int16); the -32
 * offset is applied once per super-block as 32 * sum_g scale_g * bsums_g. */
static void vec_dot_q6_K(int64_t n, float *s, const void *w, const void *x) {
    const block_q6_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    const __m256i m4 = _mm256_set1_epi8(15), m2 = _mm256_set1_epi8(0x30);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const float d = b[i].d * h2f(a[i].d);
        const __m128i sc8 = _mm_loadu_si128((const __m128i *)a[i].scales);
        const __m256i corr = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)b[i].bsums), _mm256_cvtepi8_epi16(sc8));
        __m256i sumi = _mm256_slli_epi32(corr, 5);
        sumi = _mm256_sub_epi32(_mm256_setzero_si256(), sumi);
        const uint8_t *ql = a[i].ql, *qh = a[i].qh;
        const int8_t *q8 = b[i].qs;
        for (int h = 0; h < 2; h++, ql += 64, qh += 32) {
            const __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
            const __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            const __m256i hh = _mm256_loadu_si256((const __m256i *)qh);
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(hh, 4), m2));
            q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(hh, 2), m2));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(hh, m2));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_and_si256(_mm256_srli_epi16(hh, 2), m2));
            for (int k = 0; k < 4; k++, q8 += 32) {
                /* 32 elements = groups g, g+1; spread their int8 scales over the two lanes as int16 */
                const int g = 8 * h + 2 * k;
                const __m128i pick = _mm_set_epi64x((long long)(0x0101010101010101ull * (unsigned)(g + 1)),
                                                    (long long)(0x0101010101010101ull * (unsigned)g));
                const __m256i sc = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(sc8, pick));
                const __m256i p = _mm256_maddubs_epi16(q[k], _mm256_loadu_si256((const __m256i *)q8));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, sc));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    *s = hsum_ps(acc);
}

/* ---------------------------------------------------------------- activation quantizers */

static void quantize_row_f16(const float *x, void *y, int64_t n) {
    st_f16 *h = y;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(h + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    for (; i < n; i++) h[i] = st_f32_to_f16(x[i]);
}

/* Round to nearest even on the bits, as st_f32_to_bf16; NaNs stay quiet NaNs. */
static inline __m128i f32_to_bf16_8(__m256 v) {
    const __m256i u = _mm256_castps_si256(v);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))), 16);
    const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)), _mm256_set1_epi32(0x7f800000));
    const __m256i qnan = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(64));
    r = _mm256_blendv_epi8(r, qnan, nan);
    r = _mm256_packus_epi32(r, r); /* values are <= 0xffff: no saturation */
    return _mm256_castsi256_si128(_mm256_permute4x64_epi64(r, _MM_SHUFFLE(3, 1, 2, 0)));
}

static void quantize_row_bf16(const float *x, void *y, int64_t n) {
    st_bf16 *h = y;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm_storeu_si128((__m128i *)(h + i), f32_to_bf16_8(_mm256_loadu_ps(x + i)));
    for (; i < n; i++) h[i] = st_f32_to_bf16(x[i]);
}

static inline float hmax_ps(__m256 v) {
    __m128 x = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_max_ps(x, _mm_movehl_ps(x, x));
    x = _mm_max_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

/* roundf (halves away from zero), which the Q8_0/Q8_1 reference uses: truncate,
 * then step one away from zero where the dropped fraction is >= 0.5. */
static inline __m256 round_away(__m256 v) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 frac = _mm256_andnot_ps(sign, _mm256_sub_ps(v, t));
    const __m256 step = _mm256_or_ps(_mm256_and_ps(v, sign), _mm256_set1_ps(1.0f));
    return _mm256_add_ps(t, _mm256_and_ps(_mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ), step));
}

/* Four vectors of 8 int32 -> 32 int8 in element order (saturating, which the
 * callers' ranges never reach except where it is the intended clamp). */
static inline __m256i pack_i32x4(__m256i i0, __m256i i1, __m256i i2, __m256i i3) {
    const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* One 32-block as ggml's reference: d = amax/127 in f32, id = 1/d, roundf(x*id).
 * Returns d; *sum gets the sum of the quants (for Q8_1). */
static inline float quant_block_8bit(const float *x, int8_t *qs, int *sum) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 v[4];
    for (int k = 0; k < 4; k++) v[k] = _mm256_loadu_ps(x + 8 * k);
    const __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1])),
                                   _mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3])));
    const float amax = hmax_ps(m);
    const float d = amax / 127, id = d ? 1.0f / d : 0.0f;
    const __m256 vid = _mm256_set1_ps(id);
    __m256i q[4];
    for (int k = 0; k < 4; k++) q[k] = _mm256_cvttps_epi32(round_away(_mm256_mul_ps(v[k], vid)));
    _mm256_storeu_si256((__m256i *)qs, pack_i32x4(q[0], q[1], q[2], q[3]));
    if (sum) *sum = hsum_epi32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
    return d;
}

static void quantize_row_q8_0(const float *x, void *vy, int64_t n) {
    block_q8_0 *y = vy;
    for (int64_t i = 0; i < n / QK8_0; i++, x += QK8_0)
        y[i].d = st_f32_to_f16(quant_block_8bit(x, y[i].qs, NULL));
}

static void quantize_row_q8_1(const float *x, void *vy, int64_t n) {
    block_q8_1 *y = vy;
    for (int64_t i = 0; i < n / QK8_1; i++, x += QK8_1) {
        int sum;
        const float d = quant_block_8bit(x, y[i].qs, &sum);
        y[i].d = st_f32_to_f16(d);
        y[i].s = st_f32_to_f16((float)sum * d);
    }
}

/* As ggml's reference: the first element of largest magnitude maps to -127
 * exactly (iscale = -127/max), round half to even (vcvtps2dq under the default
 * MXCSR, like lrintf), clamp at 127 (the saturating pack). */
static void quantize_row_q8_K(const float *x, void *vy, int64_t n) {
    block_q8_K *y = vy;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        __m256 m = _mm256_setzero_ps();
        for (int k = 0; k < QK_K; k += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + k)));
        const float amax = hmax_ps(m);
        if (amax == 0) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        int j = 0;
        while (fabsf(x[j]) != amax) j++;
        const float iscale = -127.f / x[j];
        const __m256 vs = _mm256_set1_ps(iscale);
        __m128i gs[4];
        for (int c = 0; c < QK_K / 32; c++) {
            __m256i q[4];
            for (int k = 0; k < 4; k++) q[k] = _mm256_cvtps_epi32(_mm256_mul_ps(vs, _mm256_loadu_ps(x + 32 * c + 8 * k)));
            const __m256i b = pack_i32x4(q[0], q[1], q[2], q[3]);
            _mm256_storeu_si256((__m256i *)(y[i].qs + 32 * c), b);
            /* group sums from the clamped bytes; lane 0 holds group 2c, lane 1 group 2c+1 */
            const __m256i s32 = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), b), _mm256_set1_epi16(1));
            const __m128i t = _mm_hadd_epi32(_mm256_castsi256_si128(s32), _mm256_extracti128_si256(s32, 1));
            /* t = half sums [g2c, g2c, g2c+1, g2c+1]; a second hadd with the next chunk finishes four groups */
            gs[c / 2] = (c & 1) ? _mm_hadd_epi32(gs[c / 2], t) : t;
        }
        const __m128i lo = _mm_packs_epi32(gs[0], gs[1]), hi = _mm_packs_epi32(gs[2], gs[3]);
        _mm_storeu_si128((__m128i *)y[i].bsums, lo);
        _mm_storeu_si128((__m128i *)(y[i].bsums + 8), hi);
        y[i].d = 1 / iscale;
    }
}

static void quantize_row_f32(const float *x, void *y, int64_t n) { memcpy(y, x, (size_t)n * sizeof(float)); }

/* Row runs for types without a multi-row kernel. */
ST_ROWS_LOOP(vec_dot_rows_q4_1, vec_dot_q4_1)
ST_ROWS_LOOP(vec_dot_rows_q5_1, vec_dot_q5_1)
ST_ROWS_LOOP(vec_dot_rows_q4_K, vec_dot_q4_K)
ST_ROWS_LOOP(vec_dot_rows_q5_K, vec_dot_q5_K)
ST_ROWS_LOOP(vec_dot_rows_q6_K, vec_dot_q6_K)

const st_kernels st_kernels_avx2_table = {
    .isa = "avx2",
    .vec_dot = {
        [ST_TYPE_F32] = vec_dot_f32,
        [ST_TYPE_F16] = vec_dot_f16,
        [ST_TYPE_BF16] = vec_dot_bf16,
        [ST_TYPE_Q4_0] = vec_dot_q4_0,
        [ST_TYPE_Q4_1] = vec_dot_q4_1,
        [ST_TYPE_Q5_0] = vec_dot_q5_0,
        [ST_TYPE_Q5_1] = vec_dot_q5_1,
        [ST_TYPE_Q8_0] = vec_dot_q8_0,
        [ST_TYPE_Q4_K] = vec_dot_q4_K,
        [ST_TYPE_Q5_K] = vec_dot_q5_K,
        [ST_TYPE_Q6_K] = vec_dot_q6_K,
    },
    .quantize_row = {
        [ST_TYPE_F32] = quantize_row_f32,
        [ST_TYPE_F16] = quantize_row_f16,
        [ST_TYPE_BF16] = quantize_row_bf16,
        [ST_TYPE_Q8_0] = quantize_row_q8_0,
        [ST_TYPE_Q8_1] = quantize_row_q8_1,
        [ST_TYPE_Q8_K] = quantize_row_q8_K,
    },
    .dot_f32 = dot_f32,
    .axpy_f32 = axpy_f32,
    .silu_mul = st_silu_mul_scalar,
    .axpy_f16 = axpy_f16,
    .axpy_rows_f16 = axpy_rows_f16,
    .axpy_rows_q8_0 = axpy_rows_q8_0,
    .dot_rows_group_f16 = dot_rows_group_f16,
    .vec_dot_rows = {
        [ST_TYPE_F32] = vec_dot_rows_f32,
        [ST_TYPE_F16] = vec_dot_rows_f16,
        [ST_TYPE_BF16] = vec_dot_rows_bf16,
        [ST_TYPE_Q4_0] = vec_dot_rows_q4_0,
        [ST_TYPE_Q4_1] = vec_dot_rows_q4_1,
        [ST_TYPE_Q5_0] = vec_dot_rows_q5_0,
        [ST_TYPE_Q5_1] = vec_dot_rows_q5_1,
        [ST_TYPE_Q8_0] = vec_dot_rows_q8_0,
        [ST_TYPE_Q4_K] = vec_dot_rows_q4_K,
        [ST_TYPE_Q5_K] = vec_dot_rows_q5_K,
        [ST_TYPE_Q6_K] = vec_dot_rows_q6_K,
    },
};
