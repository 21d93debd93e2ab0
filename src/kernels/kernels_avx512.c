/* AVX-512 (F, BW, VL, DQ, VNNI, BF16) kernels.
 *
 * 32-element block formats are processed two blocks per 512-bit register:
 * vpdpbusd leaves block i's partial sums in int32 lanes 0-7 and block i+1's
 * in lanes 8-15, so one float FMA against [s_i x8, s_i+1 x8] applies both
 * scales, and the f16 scales of 8 blocks are gathered with one vpermt2w.
 * vpdpbusd wants an unsigned first operand, so weights are kept unsigned and
 * their offset's share (a multiple of sum(y)) seeds the accumulator.
 * K-quants take 64 elements per register and apply their 16-bit sub-block
 * scales with vpdpwssd on the vpmaddubsw pair sums.
 * With several tokens (and Q4_K even with one), panels of 16 weight rows are
 * transposed into the lanes and meet every token at once (gemm_panel); each
 * type's kernels add a row's products in one order, so panels and vec_dot
 * agree bit for bit. Models are normally repacked at load into that lane
 * order (st_panel_pack), and gemm_packed, the same kernels with loads in
 * place of the transposes and head copies, serves every token count.
 *
 * Decode is a matrix-vector product on at most a few cores, so the aim is to
 * keep each core's kernel faster than its share of memory bandwidth; the
 * multi-row and multi-token entries share whichever side's work dominates. */
#include <immintrin.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "kernels.h"

static inline float h2f(st_f16 h) { return _cvtsh_ss(h); }

static inline float hsum256(__m256 v) {
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

/* [s0 x8, s1 x8] */
static inline __m512 scale2(float s0, float s1) {
    return _mm512_insertf32x8(_mm512_set1_ps(s0), _mm256_set1_ps(s1), 1);
}

/* 32 bytes of block p0 and 32 of block p1 in one register. */
static inline __m512i load2x32(const void *p0, const void *p1) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)p0)),
                              _mm256_loadu_si256((const __m256i *)p1), 1);
}

/* Nibbles of two 32-blocks (16 packed bytes each) in element order:
 * [lo(q0), hi(q0), lo(q1), hi(q1)] per 128-bit lane, matching two activation blocks. */
static inline __m512i nibbles2x32(const uint8_t *q0, const uint8_t *q1) {
    /* [q0, q0, q1, q1] from two broadcast loads, which need no shuffle port */
    const __m512i z = _mm512_mask_broadcast_i32x4(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)q0)), 0xff00,
                                                  _mm_loadu_si128((const __m128i *)q1));
    const __m512i sh = _mm512_setr_epi64(0, 0, 0x0004000400040004ll, 0x0004000400040004ll, 0, 0,
                                         0x0004000400040004ll, 0x0004000400040004ll);
    return _mm512_and_si512(_mm512_srlv_epi16(z, sh), _mm512_set1_epi8(15));
}

/* ---------------------------------------------------------------- f32 / f16 / bf16 */

static float dot_f32(int64_t n, const float *a, const float *b) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
        acc2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), acc2);
        acc3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), acc3);
    }
    for (; i + 16 <= n; i += 16) acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));
}

static void axpy_f16(int64_t n, float a, const uint16_t *x, float *y) {
    const __m512 va = _mm512_set1_ps(a);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 xv = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i)));
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, xv, _mm512_loadu_ps(y + i)));
    }
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        __m512 xv = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, x + i));
        _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(va, xv, _mm512_maskz_loadu_ps(m, y + i)));
    }
}

/* n half-precision values to f32 (exact) */
static inline void f16_row_to_f32(const uint16_t *h, float *f, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(f + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(h + i))));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(f + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, h + i)));
    }
}

/* 32 elements of y for up to 8 weight sets stay in registers while every row
 * is converted once and added into all of them (per element and set the
 * same FMA in the same row order as axpy_f16). The weights are converted to
 * f32 256 rows at a time, so that each FMA takes its weight as a broadcast
 * memory operand. */
static void axpy_rows_f16(int64_t n, int64_t g, const uint16_t *a, size_t as, const uint16_t *x, size_t xs, int64_t nr,
                          float *y, size_t ys) {
    enum { G = 8, RB = 256 };
    float af[G][RB] __attribute__((aligned(64)));
    for (int64_t j0 = 0; j0 < g; j0 += G) {
        const int gj = g - j0 < G ? (int)(g - j0) : G;
        for (int64_t r0 = 0; r0 < nr; r0 += RB) {
            const int64_t rn = nr - r0 < RB ? nr - r0 : RB;
            for (int j = 0; j < gj; j++) f16_row_to_f32(a + (j0 + j) * as + r0, af[j], rn);
            for (int64_t i0 = 0; i0 < n; i0 += 32) {
                const int64_t left = n - i0;
                const __mmask16 m0 = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
                const __mmask16 m1 = left >= 32 ? (__mmask16)0xffff : left > 16 ? (__mmask16)((1u << (left - 16)) - 1) : 0;
                __m512 acc[G][2];
#pragma GCC unroll 8
                for (int j = 0; j < G; j++) {
                    acc[j][0] = acc[j][1] = _mm512_setzero_ps();
                    if (j < gj) {
                        acc[j][0] = _mm512_maskz_loadu_ps(m0, y + (j0 + j) * ys + i0);
                        acc[j][1] = _mm512_maskz_loadu_ps(m1, y + (j0 + j) * ys + i0 + 16);
                    }
                }
                const uint8_t *xr = (const uint8_t *)(x + i0) + (size_t)r0 * xs;
                for (int64_t r = 0; r < rn; r++, xr += xs) {
                    const __m512 x0 = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m0, xr));
                    const __m512 x1 = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m1, xr + 32));
#pragma GCC unroll 8
                    for (int j = 0; j < G; j++)
                        if (j < gj) {
                            const __m512 va = _mm512_set1_ps(af[j][r]);
                            acc[j][0] = _mm512_fmadd_ps(va, x0, acc[j][0]);
                            acc[j][1] = _mm512_fmadd_ps(va, x1, acc[j][1]);
                        }
                }
#pragma GCC unroll 8
                for (int j = 0; j < G; j++)
                    if (j < gj) {
                        _mm512_mask_storeu_ps(y + (j0 + j) * ys + i0, m0, acc[j][0]);
                        _mm512_mask_storeu_ps(y + (j0 + j) * ys + i0 + 16, m1, acc[j][1]);
                    }
            }
        }
    }
}

/* axpy_rows_q8_0 (kernels.h): one Q8_0 block (32 elements) of y for up to 8
 * weight sets stays in registers while every row's block is converted once
 * and added into all of them. */
static void axpy_rows_q8_0(int64_t n, int64_t g, const float *a, size_t as, const void *x, size_t xs, int64_t nr,
                           float *y, size_t ys) {
    enum { G = 8 };
    for (int64_t j0 = 0; j0 < g; j0 += G) {
        const int gj = g - j0 < G ? (int)(g - j0) : G;
        for (int64_t b = 0; b < n / QK8_0; b++) {
            __m512 acc[G][2];
#pragma GCC unroll 8
            for (int j = 0; j < G; j++) {
                acc[j][0] = acc[j][1] = _mm512_setzero_ps();
                if (j < gj) {
                    acc[j][0] = _mm512_loadu_ps(y + (j0 + j) * ys + b * QK8_0);
                    acc[j][1] = _mm512_loadu_ps(y + (j0 + j) * ys + b * QK8_0 + 16);
                }
            }
            const uint8_t *xr = (const uint8_t *)x + b * sizeof(block_q8_0);
            for (int64_t r = 0; r < nr; r++, xr += xs) {
                const block_q8_0 *blk = (const block_q8_0 *)xr;
                const __m512 d = _mm512_set1_ps(h2f(blk->d));
                const __m512 x0 = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)blk->qs))));
                const __m512 x1 = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(blk->qs + 16)))));
#pragma GCC unroll 8
                for (int j = 0; j < G; j++)
                    if (j < gj) {
                        const __m512 va = _mm512_set1_ps(a[(j0 + j) * as + r]);
                        acc[j][0] = _mm512_fmadd_ps(va, x0, acc[j][0]);
                        acc[j][1] = _mm512_fmadd_ps(va, x1, acc[j][1]);
                    }
            }
#pragma GCC unroll 8
            for (int j = 0; j < G; j++)
                if (j < gj) {
                    _mm512_storeu_ps(y + (j0 + j) * ys + b * QK8_0, acc[j][0]);
                    _mm512_storeu_ps(y + (j0 + j) * ys + b * QK8_0 + 16, acc[j][1]);
                }
        }
    }
}

/* exp(x): x = n ln2 + r, |r| <= ln2/2, e^r by its Taylor series to r^7
 * (next term < 6e-9 relative), times 2^n by vscalefps (which gives inf and 0
 * past the range). x is clamped first so that +-inf do not become inf - inf;
 * the operand order keeps NaN. */
static inline __m512 exp_ps(__m512 x) {
    x = _mm512_max_ps(_mm512_set1_ps(-104.0f), _mm512_min_ps(_mm512_set1_ps(89.0f), x));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145752f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.42860677e-6f), r);
    __m512 p = _mm512_set1_ps(1.0f / 5040);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

static void silu_mul(int64_t n, float *a, const float *g) {
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        const __m512 x = _mm512_maskz_loadu_ps(m, g + i);
        const __m512 s = _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), x))));
        _mm512_mask_storeu_ps(a + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, a + i), s));
    }
}

static void axpy_f32(int64_t n, float a, const float *x, float *y) {
    const __m512 va = _mm512_set1_ps(a);
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
        _mm512_storeu_ps(y + i + 16, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16)));
    }
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
    }
}

/* ---- F32 / F16 / BF16 weight rows, up to four at a time against one
 * activation row: short rows (attention over a cache, head_dim 64-128) are
 * dominated by per-call work, which four rows share: the activation loads and
 * conversions and one transposed reduction. Each row keeps its own two
 * accumulators and the reduction treats each lane alike, so a row gets the
 * same bits whether it is computed alone or with others. */
enum { F_F32, F_F16, F_BF16 };

/* Elements per step: 16 f32 lanes, or 32 bf16 pairs folded by vdpbf16ps. */
#define F_STEP(kind) ((kind) == F_BF16 ? 32 : 16)

/* Activation chunk in the form the step wants (f32 vector, or raw bf16 pairs). */
static inline __attribute__((always_inline)) __m512i f_load(const int kind, const void *p, int64_t i, int64_t left) {
    if (kind == F_F32) {
        const float *f = (const float *)p + i;
        return _mm512_castps_si512(left >= 16 ? _mm512_loadu_ps(f) : _mm512_maskz_loadu_ps((__mmask16)((1u << left) - 1), f));
    }
    if (kind == F_F16) {
        const st_f16 *h = (const st_f16 *)p + i;
        const __m256i v = left >= 16 ? _mm256_loadu_si256((const __m256i *)h) : _mm256_maskz_loadu_epi16((__mmask16)((1u << left) - 1), h);
        return _mm512_castps_si512(_mm512_cvtph_ps(v));
    }
    const st_bf16 *h = (const st_bf16 *)p + i;
    return left >= 32 ? _mm512_loadu_si512(h) : _mm512_maskz_loadu_epi16((__mmask32)((1ull << left) - 1), h);
}

static inline __attribute__((always_inline)) __m512 f_fma(const int kind, __m512 acc, __m512i w, __m512i x) {
    if (kind == F_BF16) return _mm512_dpbf16_ps(acc, (__m512bh)w, (__m512bh)x);
    return _mm512_fmadd_ps(_mm512_castsi512_ps(w), _mm512_castsi512_ps(x), acc);
}

/* [sum(a), sum(b), sum(c), sum(d)]; each lane's additions are the same whatever the other inputs. */
static inline __m128 reduce4(__m512 a, __m512 b, __m512 c, __m512 d) {
    const __m256 a8 = _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
    const __m256 b8 = _mm256_add_ps(_mm512_castps512_ps256(b), _mm512_extractf32x8_ps(b, 1));
    const __m256 c8 = _mm256_add_ps(_mm512_castps512_ps256(c), _mm512_extractf32x8_ps(c, 1));
    const __m256 d8 = _mm256_add_ps(_mm512_castps512_ps256(d), _mm512_extractf32x8_ps(d, 1));
    const __m256 abcd = _mm256_hadd_ps(_mm256_hadd_ps(a8, b8), _mm256_hadd_ps(c8, d8));
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

static inline __attribute__((always_inline)) void rowsf(const int kind, int64_t n, float *s, const uint8_t *w, size_t ws,
                                                         const int R, const void *x) {
    const int E = F_STEP(kind);
    __m512 acc[4][2];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 2 * E <= n; i += 2 * E) {
        const __m512i x0 = f_load(kind, x, i, E), x1 = f_load(kind, x, i + E, E);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            acc[r][0] = f_fma(kind, acc[r][0], f_load(kind, w + r * ws, i, E), x0);
            acc[r][1] = f_fma(kind, acc[r][1], f_load(kind, w + r * ws, i + E, E), x1);
        }
    }
    /* fewer than 2*E left: at most two more steps, the last one masked */
    if (i < n) {
        const __m512i xv = f_load(kind, x, i, n - i);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) acc[r][0] = f_fma(kind, acc[r][0], f_load(kind, w + r * ws, i, n - i), xv);
        i += E;
    }
    if (i < n) {
        const __m512i xv = f_load(kind, x, i, n - i);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) acc[r][1] = f_fma(kind, acc[r][1], f_load(kind, w + r * ws, i, n - i), xv);
    }
    __m512 v[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) v[r] = _mm512_add_ps(acc[r][0], acc[r][1]);
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

/* One weight row against T <= 4 activation rows: the weights are loaded (and
 * for f16 converted) once for all T. Per token, the same steps as rowsf with
 * R = 1, so the same bits. */
static inline __attribute__((always_inline)) void toksf(const int kind, const int T, int64_t n, float *s, size_t ss,
                                                         const void *w, const uint8_t *x, size_t xs) {
    const int E = F_STEP(kind);
    __m512 acc[4][2];
#pragma GCC unroll 4
    for (int t = 0; t < T; t++) acc[t][0] = acc[t][1] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 2 * E <= n; i += 2 * E) {
        const __m512i w0 = f_load(kind, w, i, E), w1 = f_load(kind, w, i + E, E);
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) {
            acc[t][0] = f_fma(kind, acc[t][0], w0, f_load(kind, x + (size_t)t * xs, i, E));
            acc[t][1] = f_fma(kind, acc[t][1], w1, f_load(kind, x + (size_t)t * xs, i + E, E));
        }
    }
    if (i < n) {
        const __m512i wv = f_load(kind, w, i, n - i);
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) acc[t][0] = f_fma(kind, acc[t][0], wv, f_load(kind, x + (size_t)t * xs, i, n - i));
        i += E;
    }
    if (i < n) {
        const __m512i wv = f_load(kind, w, i, n - i);
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) acc[t][1] = f_fma(kind, acc[t][1], wv, f_load(kind, x + (size_t)t * xs, i, n - i));
    }
    __m512 v[4];
#pragma GCC unroll 4
    for (int t = 0; t < T; t++) v[t] = _mm512_add_ps(acc[t][0], acc[t][1]);
    const __m128 sums = reduce4(v[0], T > 1 ? v[1] : v[0], T > 2 ? v[2] : v[0], T > 3 ? v[3] : v[0]);
    float u[4];
    _mm_storeu_ps(u, sums);
#pragma GCC unroll 4
    for (int t = 0; t < T; t++) s[t * ss] = u[t];
}

#define TOKSF(name, kind)                                                                                                \
    static void name(int64_t n, float *s, size_t ss, const void *w, const void *x, size_t xs, int64_t nt) {          \
        const uint8_t *xp = x;                                                                                        \
        int64_t t = 0;                                                                                                \
        for (; t + 4 <= nt; t += 4) toksf(kind, 4, n, s + t * ss, ss, w, xp + t * xs, xs);                            \
        switch (nt - t) {                                                                                             \
        case 3: toksf(kind, 3, n, s + t * ss, ss, w, xp + t * xs, xs); break;                                         \
        case 2: toksf(kind, 2, n, s + t * ss, ss, w, xp + t * xs, xs); break;                                         \
        case 1: toksf(kind, 1, n, s + t * ss, ss, w, xp + t * xs, xs); break;                                         \
        default: break;                                                                                               \
        }                                                                                                             \
    }
TOKSF(vec_dot_toks_f32, F_F32)
TOKSF(vec_dot_toks_f16, F_F16)
TOKSF(vec_dot_toks_bf16, F_BF16)

static void vec_dot_f32(int64_t n, float *s, const void *w, const void *x) { rowsf(F_F32, n, s, w, 0, 1, x); }
static void vec_dot_f16(int64_t n, float *s, const void *w, const void *x) { rowsf(F_F16, n, s, w, 0, 1, x); }
static void vec_dot_bf16(int64_t n, float *s, const void *w, const void *x) { rowsf(F_BF16, n, s, w, 0, 1, x); }
static void vec_dot_rows_f32(int64_t n, float *s, const void *w, size_t ws, int64_t nr, const void *x) { rowsf_all(F_F32, n, s, w, ws, nr, x); }
static void vec_dot_rows_f16(int64_t n, float *s, const void *w, size_t ws, int64_t nr, const void *x) { rowsf_all(F_F16, n, s, w, ws, nr, x); }
static void vec_dot_rows_bf16(int64_t n, float *s, const void *w, size_t ws, int64_t nr, const void *x) { rowsf_all(F_BF16, n, s, w, ws, nr, x); }

/* The F16 rows converted to f32 once (exact) and run as F32 rows against each
 * query, also converted once: the same products in the same order as
 * vec_dot_rows_f16, so the same bits. */
enum { GROUP_MAX_N = 256, GROUP_MAX_G = 16 };
static void dot_rows_group_f16(int64_t n, int64_t g, const uint16_t *q, const uint16_t *k, size_t ks, int64_t nr,
                               float *s, size_t ss) {
    if (n > GROUP_MAX_N || g > GROUP_MAX_G) {
        for (int64_t j = 0; j < g; j++) vec_dot_rows_f16(n, s + j * ss, k, ks, nr, q + j * n);
        return;
    }
    float qf[GROUP_MAX_G][GROUP_MAX_N] __attribute__((aligned(64)));
    float kf[4][GROUP_MAX_N] __attribute__((aligned(64)));
    for (int64_t j = 0; j < g; j++) f16_row_to_f32(q + j * n, qf[j], n);
    int64_t r = 0;
    for (; r + 4 <= nr; r += 4) {
        for (int i = 0; i < 4; i++) f16_row_to_f32((const uint16_t *)((const uint8_t *)k + (size_t)(r + i) * ks), kf[i], n);
        for (int64_t j = 0; j < g; j++) rowsf(F_F32, n, s + j * ss + r, (const uint8_t *)kf, sizeof kf[0], 4, qf[j]);
    }
    for (; r < nr; r++) {
        f16_row_to_f32((const uint16_t *)((const uint8_t *)k + (size_t)r * ks), kf[0], n);
        for (int64_t j = 0; j < g; j++) rowsf(F_F32, n, s + j * ss + r, (const uint8_t *)kf, sizeof kf[0], 1, qf[j]);
    }
}

/* ---------------------------------------------------------------- 32-element blocks */

/* The f16 field at byte `off` of 8 consecutive blocks of S bytes, gathered
 * with vpermt2w from 64-byte loads instead of 8 scalar loads and conversions:
 * per-block scale handling otherwise costs more than the block's dot product.
 * Loads stay inside the 8 blocks (8*S >= 128), so nothing past a row is read. */
typedef struct { __m512i idx_a, idx_b; int off2, two; } f16_gather;

/* Index tables are compile-time constants (one per block size and field) so a
 * short row does not pay for building them on every call. Blocks 0-3 come from
 * the 128 bytes at the group start; when block 7's field lies beyond them,
 * blocks 4-7 come from a second 128-byte window at off2 (4*S, or 8*S-128 for
 * S < 32, so that the window ends within the group). */
#define G_TWO(S, off) ((7 * (S) + (off)) / 2 >= 64)
#define G_OFF2(S) ((S) >= 32 ? 4 * (S) : 8 * (S) - 128)
#define G_A(S, off, k) (short)((G_TWO(S, off) && (k) >= 4) ? 0 : ((k) * (S) + (off)) / 2)
#define G_B(S, off, k) (short)((G_TWO(S, off) && (k) >= 4) ? ((k) * (S) + (off) - G_OFF2(S)) / 2 : 0)
#define G_ROW(G, S, off) {G(S, off, 0), G(S, off, 1), G(S, off, 2), G(S, off, 3), G(S, off, 4), G(S, off, 5), G(S, off, 6), G(S, off, 7)}
typedef struct { _Alignas(64) short a[32]; _Alignas(64) short b[32]; } f16_gather_tab;
#define F16_GATHER_TAB(name, S, off) static const f16_gather_tab name = {G_ROW(G_A, S, off), G_ROW(G_B, S, off)}

F16_GATHER_TAB(g_q8_0_d, sizeof(block_q8_0), 0);
F16_GATHER_TAB(g_q8_1_d, sizeof(block_q8_1), 0);
F16_GATHER_TAB(g_q8_1_s, sizeof(block_q8_1), 2);
F16_GATHER_TAB(g_q4_0_d, sizeof(block_q4_0), 0);
F16_GATHER_TAB(g_q4_1_d, sizeof(block_q4_1), 0);
F16_GATHER_TAB(g_q4_1_m, sizeof(block_q4_1), 2);
F16_GATHER_TAB(g_q5_0_d, sizeof(block_q5_0), 0);
F16_GATHER_TAB(g_q5_1_d, sizeof(block_q5_1), 0);
F16_GATHER_TAB(g_q5_1_m, sizeof(block_q5_1), 2);

static inline f16_gather f16_gather_plan(const f16_gather_tab *t, int S, int off) {
    f16_gather g;
    g.two = G_TWO(S, off);
    g.off2 = G_OFF2(S);
    g.idx_a = _mm512_load_si512(t->a);
    g.idx_b = _mm512_load_si512(t->b);
    return g;
}

static inline __m256 f16_gather8(const f16_gather *g, const void *blocks) {
    const uint8_t *p = blocks;
    __m512i r = _mm512_permutex2var_epi16(_mm512_loadu_si512(p), g->idx_a, _mm512_loadu_si512(p + 64));
    if (g->two) {
        const __m512i h = _mm512_permutex2var_epi16(_mm512_loadu_si512(p + g->off2), g->idx_b, _mm512_loadu_si512(p + g->off2 + 64));
        r = _mm512_mask_blend_epi16(0xf0, r, h);
    }
    return _mm256_cvtph_ps(_mm512_castsi512_si128(r));
}

/* vpermps indices spreading the 8 scales of a group over its 4 block pairs:
 * pair k gets [s_2k x8, s_2k+1 x8]. Built once per call, outside the loops. */
typedef struct { __m512i v[4]; } pair_idx;
static const int32_t g_pair_idx[4][16] __attribute__((aligned(64))) = {
    {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1}, {2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3},
    {4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5}, {6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7}};
static inline pair_idx pair_idx_make(void) {
    pair_idx p;
    for (int k = 0; k < 4; k++) p.v[k] = _mm512_load_si512(g_pair_idx[k]);
    return p;
}
#define pair_scale(pi, s8, j) _mm512_permutexvar_ps((pi).v[j], (s8))

static inline __m512i dot_q4_1_pair(const block_q4_1 *a, const block_q8_1 *b) {
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), nibbles2x32(a[0].qs, a[1].qs), load2x32(b[0].qs, b[1].qs));
}

/* x = q*d + m: d*dy*(q . qy) per block plus m*s, s = dy*sum(qy) from the activation. */
static void vec_dot_q4_1(int64_t n, float *s, const void *w, const void *x) {
    const block_q4_1 *a = w;
    const block_q8_1 *b = x;
    const int64_t nb = n / QK4_1;
    const f16_gather gd = f16_gather_plan(&g_q4_1_d, sizeof(block_q4_1), 0), gm = f16_gather_plan(&g_q4_1_m, sizeof(block_q4_1), 2);
    const f16_gather yd = f16_gather_plan(&g_q8_1_d, sizeof(block_q8_1), 0), ys = f16_gather_plan(&g_q8_1_s, sizeof(block_q8_1), 2);
    const pair_idx pi = pair_idx_make();
    __m512 acc = _mm512_setzero_ps(), acc2 = acc;
    __m256 accm = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= nb; i += 8) {
        const __m512 sc = _mm512_castps256_ps512(_mm256_mul_ps(f16_gather8(&gd, &a[i]), f16_gather8(&yd, &b[i])));
        accm = _mm256_fmadd_ps(f16_gather8(&gm, &a[i]), f16_gather8(&ys, &b[i]), accm);
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot_q4_1_pair(&a[i], &b[i])), pair_scale(pi, sc, 0), acc);
        acc2 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot_q4_1_pair(&a[i + 2], &b[i + 2])), pair_scale(pi, sc, 1), acc2);
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot_q4_1_pair(&a[i + 4], &b[i + 4])), pair_scale(pi, sc, 2), acc);
        acc2 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot_q4_1_pair(&a[i + 6], &b[i + 6])), pair_scale(pi, sc, 3), acc2);
    }
    float summ = 0;
    for (; i + 2 <= nb; i += 2) {
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot_q4_1_pair(&a[i], &b[i])),
                              scale2(h2f(a[i].d) * h2f(b[i].d), h2f(a[i + 1].d) * h2f(b[i + 1].d)), acc);
        summ += h2f(a[i].m) * h2f(b[i].s) + h2f(a[i + 1].m) * h2f(b[i + 1].s);
    }
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(acc, acc2)) + hsum256(accm) + summ;
    if (i < nb) {
        float t;
        st_vec_dot_q4_1_scalar(QK4_1, &t, &a[i], &b[i]);
        sum += t;
    }
    *s = sum;
}

/* 5-bit values of two Q5 blocks (0..31): nibbles plus 16 where the qh bit is set. */
static inline __m512i q5_pair(const uint8_t *qs0, const uint8_t *qh0, const uint8_t *qs1, const uint8_t *qh1) {
    uint32_t h0, h1;
    memcpy(&h0, qh0, 4);
    memcpy(&h1, qh1, 4);
    const __m512i q = nibbles2x32(qs0, qs1);
    return _mm512_mask_add_epi8(q, (__mmask64)((uint64_t)h1 << 32 | h0), q, _mm512_set1_epi8(16));
}

/* Loads of a final partial group are masked to the bytes that exist (masked-off
 * bytes never fault), so a row's last blocks take the same vector path. */
static inline __m512i load_avail(const uint8_t *p, int64_t avail) {
    if (avail >= 64) return _mm512_loadu_si512(p);
    return _mm512_maskz_loadu_epi8(avail <= 0 ? 0 : (__mmask64)(~0ull >> (64 - avail)), p);
}

static inline __m256 f16_gather8_avail(const f16_gather *g, const void *blocks, int64_t avail) {
    const uint8_t *p = blocks;
    __m512i r = _mm512_permutex2var_epi16(load_avail(p, avail), g->idx_a, load_avail(p + 64, avail - 64));
    if (g->two) {
        const __m512i h = _mm512_permutex2var_epi16(load_avail(p + g->off2, avail - g->off2), g->idx_b,
                                                    load_avail(p + g->off2 + 64, avail - g->off2 - 64));
        r = _mm512_mask_blend_epi16(0xf0, r, h);
    }
    return _mm256_cvtph_ps(_mm512_castsi512_si128(r));
}

/* ---- Q8_0, Q4_0 and Q5_0 weights: one order of operations for every path.
 * A row's value is
 *   a_j = sum over blocks b = j (mod 8), in block order, of fma((float)dot_b, fl(d_w * d_x)),
 *   y = ((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7)),
 * where dot_b is the block's exact integer dot. Matrix-vector rows (decode)
 * compute it with the blocks of a row along the vector lanes; the panel GEMM
 * (prompts, batches) with sixteen weight rows along the lanes and the
 * activation broadcast, which needs one vpdpbusd per 4 x 16 products instead
 * of per-token conversions and scale shuffles for every block pair. The
 * results are bit-identical, so a token's logits do not depend on the batch.
 * vpdpbusd multiplies unsigned by signed bytes: weights enter as w + off
 * (Q8_0: q ^ 0x80 = q + 128; Q4_0, Q5_0: the stored q = w + 8, w + 16) and
 * the offset's share, off * sum(x), is taken back exactly. Prompts and batches
 * take gemm_panel; the table has no vec_dot_toks for these types. */
enum { K_Q8_0, K_Q4_0, K_Q5_0 };

static inline int q0_size(const int kind) {
    return kind == K_Q8_0 ? (int)sizeof(block_q8_0) : kind == K_Q4_0 ? (int)sizeof(block_q4_0) : (int)sizeof(block_q5_0);
}
static inline const f16_gather_tab *q0_dtab(const int kind) {
    return kind == K_Q8_0 ? &g_q8_0_d : kind == K_Q4_0 ? &g_q4_0_d : &g_q5_0_d;
}

/* Weights of block p0 then block p1 (any rows) as unsigned bytes, w + off. */
static inline __attribute__((always_inline)) __m512i q0_pair(const int kind, const uint8_t *p0, const uint8_t *p1) {
    if (kind == K_Q8_0)
        return _mm512_xor_si512(load2x32(((const block_q8_0 *)p0)->qs, ((const block_q8_0 *)p1)->qs), _mm512_set1_epi8((char)0x80));
    if (kind == K_Q4_0) return nibbles2x32(((const block_q4_0 *)p0)->qs, ((const block_q4_0 *)p1)->qs);
    const block_q5_0 *a = (const block_q5_0 *)p0, *b = (const block_q5_0 *)p1;
    return q5_pair(a->qs, a->qh, b->qs, b->qh);
}
static inline int q0_off(const int kind) { return kind == K_Q8_0 ? 128 : kind == K_Q4_0 ? 8 : 16; }

/* Sums of the 4-dword quarters of p0..p3: per 128-bit lane L, [P0_L, P1_L, P2_L, P3_L]. */
static inline __m512i q0_quarters(__m512i p0, __m512i p1, __m512i p2, __m512i p3) {
    const __m512i t01 = _mm512_add_epi32(_mm512_unpacklo_epi32(p0, p1), _mm512_unpackhi_epi32(p0, p1));
    const __m512i t23 = _mm512_add_epi32(_mm512_unpacklo_epi32(p2, p3), _mm512_unpackhi_epi32(p2, p3));
    return _mm512_add_epi32(_mm512_unpacklo_epi64(t01, t23), _mm512_unpackhi_epi64(t01, t23));
}

static inline __m256i load32_if(const void *p, int ok) {
    return ok ? _mm256_loadu_si256((const __m256i *)p) : _mm256_setzero_si256();
}

/* Up to M blocks [i, i+m) (M = 8, or 4 for a row's last 4) of R rows (R = 1,
 * 2, 4). acc[h] lanes: row 2h even residues (0,2,4,6), row 2h odd
 * (1,3,5,7), row 2h+1 even, row 2h+1 odd. Blocks past m have zero activations
 * and scales (an exact no-op on the accumulators); their weights are read from
 * block i, which exists. Rows share the activation side (loads, offset sums,
 * scales): four rows per call cost less per row than two. */
static inline __attribute__((always_inline)) void q0_group(const int kind, const int R, const int M, const int full, int64_t m,
                                                            const uint8_t *w, size_t ws, const block_q8_0 *b, int64_t i,
                                                            const f16_gather *gw, const f16_gather *gy, __m512 *acc) {
    const int S = q0_size(kind);
    const __m512i zero = _mm512_setzero_si512(), off = _mm512_set1_epi8((char)q0_off(kind));
    /* all 8 scales readable with plain loads only for a full group of 8 */
    const int plain = full && M == 8;
    const int64_t have = full ? M : m;
    __m512i p[4][4];
    __m256 sc[4];
    const __m256 yd = plain ? f16_gather8(gy, b + i) : f16_gather8_avail(gy, b + i, have * (int64_t)sizeof(block_q8_0));
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        sc[r] = _mm256_mul_ps(yd, plain ? f16_gather8(gw, w + r * ws + i * S) : f16_gather8_avail(gw, w + r * ws + i * S, have * S));
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        if (2 * k >= M) {
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) p[r][k] = zero;
            continue;
        }
        const int a0 = full || 2 * k < m, a1 = full || 2 * k + 1 < m;
        const __m512i y = _mm512_inserti64x4(_mm512_castsi256_si512(load32_if(b[i + 2 * k].qs, a0)),
                                             load32_if(b[i + 2 * k + 1].qs, a1), 1);
        const __m512i nycorr = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, off, y));
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const uint8_t *row = w + r * ws + i * S;
            p[r][k] = _mm512_dpbusd_epi32(nycorr, q0_pair(kind, row + (a0 ? 2 * k : 0) * S, row + (a1 ? 2 * k + 1 : 0) * S), y);
        }
    }
    const __m512i perm = _mm512_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15);
#pragma GCC unroll 2
    for (int h = 0; 2 * h < R; h++) {
        const int two = 2 * h + 1 < R;
        const __m512i u0 = q0_quarters(p[2 * h][0], p[2 * h][1], p[2 * h][2], p[2 * h][3]);
        const __m512i u1 = two ? q0_quarters(p[2 * h + 1][0], p[2 * h + 1][1], p[2 * h + 1][2], p[2 * h + 1][3]) : u0;
        /* block 2k's dot is P_k over lanes L0 + L1, block 2k+1's over L2 + L3 */
        const __m512i v = _mm512_add_epi32(_mm512_shuffle_i32x4(u0, u1, _MM_SHUFFLE(2, 0, 2, 0)),
                                           _mm512_shuffle_i32x4(u0, u1, _MM_SHUFFLE(3, 1, 3, 1)));
        const __m512 sv = _mm512_permutexvar_ps(perm, two ? _mm512_insertf32x8(_mm512_castps256_ps512(sc[2 * h]), sc[2 * h + 1], 1)
                                                          : _mm512_zextps256_ps512(sc[2 * h]));
        acc[h] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(v), sv, acc[h]);
    }
}

static inline float q0_tree_lanes(const float *l) { return ((l[0] + l[2]) + (l[1] + l[3])) + ((l[4] + l[6]) + (l[5] + l[7])); }

static inline __attribute__((always_inline)) void q0_rows(const int kind, int64_t n, float *s, const uint8_t *w, size_t ws,
                                                           const int R, const block_q8_0 *b) {
    const f16_gather gw = f16_gather_plan(q0_dtab(kind), q0_size(kind), 0), gy = f16_gather_plan(&g_q8_0_d, sizeof(block_q8_0), 0);
    const int64_t nb = n / QK8_0;
    __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
    int64_t i = 0;
    for (; i + 8 <= nb; i += 8) q0_group(kind, R, 8, 1, 8, w, ws, b, i, &gw, &gy, acc);
    /* a last 4 (rows of 896 = 28 blocks) without the work of 8 */
    if (nb - i == 4) q0_group(kind, R, 4, 1, 4, w, ws, b, i, &gw, &gy, acc);
    else if (nb - i > 4) q0_group(kind, R, 8, 0, nb - i, w, ws, b, i, &gw, &gy, acc);
    else if (i < nb) q0_group(kind, R, 4, 0, nb - i, w, ws, b, i, &gw, &gy, acc);
#pragma GCC unroll 4
    for (int r = 0; r < R; r += 2) {
        float l[16];
        _mm512_storeu_ps(l, acc[r / 2]);
        s[r] = q0_tree_lanes(l);
        if (r + 1 < R) s[r + 1] = q0_tree_lanes(l + 8);
    }
}

#define Q0_ROWS(sfx, kind)                                                                                              \
    static void vec_dot_##sfx(int64_t n, float *s, const void *w, const void *x) { q0_rows(kind, n, s, w, 0, 1, x); } \
    static void vec_dot_rows_##sfx(int64_t n, float *s, const void *w, size_t ws, int64_t nr, const void *x) {        \
        const uint8_t *wp = w;                                                                                      \
        int64_t r = 0;                                                                                              \
        for (; r + 4 <= nr; r += 4) q0_rows(kind, n, s + r, wp + r * ws, ws, 4, x);                                 \
        if (r + 2 <= nr) {                                                                                          \
            q0_rows(kind, n, s + r, wp + r * ws, ws, 2, x);                                                         \
            r += 2;                                                                                                 \
        }                                                                                                           \
        if (r < nr) q0_rows(kind, n, s + r, wp + r * ws, ws, 1, x);                                                 \
    }
Q0_ROWS(q8_0, K_Q8_0)
Q0_ROWS(q4_0, K_Q4_0)
Q0_ROWS(q5_0, K_Q5_0)

/* Packed activations: quants as they are, f32 scales, -128 * sum(quants) per block. */
static void pack_row_q8_0(const void *xq, void *xp, int64_t n) {
    const block_q8_0 *b = xq;
    const int64_t nb = n / QK8_0;
    uint8_t *q = xp;
    float *d = (float *)(q + n);
    int32_t *c = (int32_t *)(d + nb);
    for (int64_t i = 0; i < nb; i++) {
        memcpy(q + i * QK8_0, b[i].qs, QK8_0);
        d[i] = h2f(b[i].d);
        int sum = 0;
        for (int j = 0; j < QK8_0; j++) sum += b[i].qs[j];
        c[i] = -128 * sum;
    }
}

/* Tokens that meet each repacked block while it is in registers: their
 * accumulators (8 residues each, 16 KiB) stay in L1. (16 and 64 measured
 * slower at 128 tokens.) */
#define Q0_GROUP 32
/* Blocks ahead whose scales are copied (a ring of Q0_AHEAD + 1). */
#define Q0_AHEAD 3

/* Row pairs for t16x8_dwords: z[p] holds row T16_ROW(p, 0) in lanes 0-1 and
 * T16_ROW(p, 1) in lanes 2-3. */
#define T16_ROW(p, half) (((p) < 4 ? (p) : (p) + 4) + 4 * (half))

/* z[p] holding 32 bytes of rows T16_ROW(p, 0), T16_ROW(p, 1) -> o[g] lane r =
 * dword g of row r: a 4 x 4 dword transpose inside each 128-bit lane
 * (unpacks), then one two-source 128-bit lane shuffle per output (vshufi64x2
 * runs beside the products; a qword permute would take their ports). */
static inline __attribute__((always_inline)) void t16x8_dwords(const __m512i z[8], __m512i o[8]) {
    __m512i u[2][4];
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) { /* rows 8h..8h+7: u[h][d] lanes L0, L1 = dwords d, d + 4 of rows 8h..8h+3; L2, L3 of rows 8h+4.. */
        const __m512i t0 = _mm512_unpacklo_epi32(z[4 * h], z[4 * h + 1]), t1 = _mm512_unpackhi_epi32(z[4 * h], z[4 * h + 1]);
        const __m512i t2 = _mm512_unpacklo_epi32(z[4 * h + 2], z[4 * h + 3]), t3 = _mm512_unpackhi_epi32(z[4 * h + 2], z[4 * h + 3]);
        u[h][0] = _mm512_unpacklo_epi64(t0, t2);
        u[h][1] = _mm512_unpackhi_epi64(t0, t2);
        u[h][2] = _mm512_unpacklo_epi64(t1, t3);
        u[h][3] = _mm512_unpackhi_epi64(t1, t3);
    }
#pragma GCC unroll 4
    for (int d = 0; d < 4; d++) {
        o[d] = _mm512_shuffle_i64x2(u[0][d], u[1][d], 0x88);     /* L0, L2 of each */
        o[d + 4] = _mm512_shuffle_i64x2(u[0][d], u[1][d], 0xDD); /* L1, L3 of each */
    }
}

/* 16 bytes at off in each of the rows as r[k] lane r = dword k of row r
 * (rows past nr read row 0). */
static inline __attribute__((always_inline)) void kq_t16x4(const int full, const uint8_t *base, size_t ws, int64_t nr, __m512i r[4]) {
    __m512i x[4];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) { /* x[i] lane L = row 4L + i */
        __m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(base + (size_t)(full || i < nr ? i : 0) * ws)));
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(base + (size_t)(full || i + 4 < nr ? i + 4 : 0) * ws)), 1);
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(base + (size_t)(full || i + 8 < nr ? i + 8 : 0) * ws)), 2);
        x[i] = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(base + (size_t)(full || i + 12 < nr ? i + 12 : 0) * ws)), 3);
    }
    const __m512i t0 = _mm512_unpacklo_epi32(x[0], x[1]), t1 = _mm512_unpackhi_epi32(x[0], x[1]);
    const __m512i t2 = _mm512_unpacklo_epi32(x[2], x[3]), t3 = _mm512_unpackhi_epi32(x[2], x[3]);
    r[0] = _mm512_unpacklo_epi64(t0, t2);
    r[1] = _mm512_unpackhi_epi64(t0, t2);
    r[2] = _mm512_unpacklo_epi64(t1, t3);
    r[3] = _mm512_unpackhi_epi64(t1, t3);
}

/* vpshufb control: byte j of every dword takes byte bj of the same dword (bj
 * < 0: zero) */
static inline __m512i kq_ctl(int b0, int b1, int b2, int b3) {
    const int bj[4] = {b0, b1, b2, b3};
    int e[4];
    for (int p = 0; p < 4; p++) {
        uint32_t v = 0;
        for (int j = 0; j < 4; j++) v |= (uint32_t)(bj[j] < 0 ? 0x80 : 4 * p + bj[j]) << 8 * j;
        e[p] = (int)v;
    }
    return _mm512_set4_epi32(e[3], e[2], e[1], e[0]);
}

/* vpermt2w indices over 16 rows' 8-byte heads (rows 0-7 in the first
 * register, 8-15 in the second): word 0 of each (the scale), words 1-2 (qh). */
#define HEADW(r, k) (4 * (r) + (k))
static const uint16_t g_head_d[32] __attribute__((aligned(64))) = {
    HEADW(0, 0), HEADW(1, 0), HEADW(2, 0), HEADW(3, 0), HEADW(4, 0), HEADW(5, 0), HEADW(6, 0), HEADW(7, 0),
    HEADW(8, 0), HEADW(9, 0), HEADW(10, 0), HEADW(11, 0), HEADW(12, 0), HEADW(13, 0), HEADW(14, 0), HEADW(15, 0)};
static const uint16_t g_head_qh[32] __attribute__((aligned(64))) = {
    HEADW(0, 1), HEADW(0, 2), HEADW(1, 1), HEADW(1, 2), HEADW(2, 1), HEADW(2, 2), HEADW(3, 1), HEADW(3, 2),
    HEADW(4, 1), HEADW(4, 2), HEADW(5, 1), HEADW(5, 2), HEADW(6, 1), HEADW(6, 2), HEADW(7, 1), HEADW(7, 2),
    HEADW(8, 1), HEADW(8, 2), HEADW(9, 1), HEADW(9, 2), HEADW(10, 1), HEADW(10, 2), HEADW(11, 1), HEADW(11, 2),
    HEADW(12, 1), HEADW(12, 2), HEADW(13, 1), HEADW(13, 2), HEADW(14, 1), HEADW(14, 2), HEADW(15, 1), HEADW(15, 2)};
#undef HEADW

/* vpshufb controls: every byte of each dword takes byte k of that dword */
#define BYTESEL(k) k, k, k, k, 4 + k, 4 + k, 4 + k, 4 + k, 8 + k, 8 + k, 8 + k, 8 + k, 12 + k, 12 + k, 12 + k, 12 + k
#define BYTESEL4(k) BYTESEL(k), BYTESEL(k), BYTESEL(k), BYTESEL(k)
static const uint8_t g_bytesel[4][64] __attribute__((aligned(64))) = {{BYTESEL4(0)}, {BYTESEL4(1)}, {BYTESEL4(2)}, {BYTESEL4(3)}};
#undef BYTESEL4
#undef BYTESEL

/* Q4_0/Q5_0 block weights from their 16 nibble bytes in lane order (t[g]
 * lane r = dword g of row r's nibbles) as o[g] = elements 4g..4g+3, w + off:
 * nibble and offset in one op; Q5_0's fifth bits from h (lane r = row r's
 * qh) by a byte test and a masked add per register. */
static inline __attribute__((always_inline)) void q0_nibbles(const int kind, const __m512i t[4], __m512i h, __m512i *o) {
    const __m512i m4 = _mm512_set1_epi8(15);
#pragma GCC unroll 4
    for (int g = 0; g < 4; g++) {
        if (kind == K_Q4_0) { /* q + 120 */
            const __m512i k = _mm512_set1_epi8(120);
            o[g] = _mm512_add_epi8(_mm512_and_si512(t[g], m4), k);
            o[g + 4] = _mm512_add_epi8(_mm512_and_si512(_mm512_srli_epi16(t[g], 4), m4), k);
        } else { /* q + 112 = q | 0x70 for a nibble; + 16 more where the fifth bit is set */
            const __m512i k = _mm512_set1_epi8(0x70);
            o[g] = _mm512_ternarylogic_epi32(t[g], m4, k, 0xEA);
            o[g + 4] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(t[g], 4), m4, k, 0xEA);
        }
    }
    if (kind != K_Q5_0) return;
    const __m512i sixteen = _mm512_set1_epi8(16);
#pragma GCC unroll 8
    for (int g = 0; g < 8; g++) { /* elements 4g..4g+3: bits 4(g & 1).. of qh byte g/2 */
        const __m512i hb = _mm512_shuffle_epi8(h, _mm512_load_si512(g_bytesel[g / 2]));
        const __mmask64 m = _mm512_test_epi8_mask(hb, _mm512_set1_epi32(g & 1 ? (int)0x80402010 : 0x08040201));
        o[g] = _mm512_mask_add_epi8(o[g], m, o[g], sixteen);
    }
}

/* Dwords per block in a weight panel's part A (st_panel_pack). */
static inline int q0_panel_nd(const int kind) { return kind == K_Q8_0 ? 8 : kind == K_Q4_0 ? 4 : 5; }

/* q0_repack's o[] from a weight panel: Q8_0's quants are stored + 128 and
 * need only loads; Q4_0/Q5_0 unpack like q0_repack, from nibbles (and qh)
 * already in lane order. pd: part B, the blocks' scales. */
static inline __attribute__((always_inline)) void q0_panel_load(const int kind, const uint8_t *pw, const uint8_t *pd,
                                                                int64_t b, __m512i *o) {
    const uint8_t *a = pw + (size_t)b * 64 * (size_t)q0_panel_nd(kind);
    if (kind == K_Q8_0) {
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) o[g] = _mm512_load_si512(a + 64 * g);
    } else {
        const int q0 = kind == K_Q5_0; /* Q5_0: dword 0 is qh */
        __m512i t[4];
#pragma GCC unroll 4
        for (int g = 0; g < 4; g++) t[g] = _mm512_load_si512(a + 64 * (q0 + g));
        q0_nibbles(kind, t, kind == K_Q5_0 ? _mm512_load_si512(a) : _mm512_setzero_si512(), o);
    }
    o[8] = _mm512_castps_si512(_mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(pd + 32 * (size_t)b))));
}

/* Block b of rows [0, nr) (nr <= 16) as o[g] lane r = row r's weights 4g..4g+3
 * as w + 128, and o[8] = the rows' scales as f32 (rows past nr read row 0).
 * Q8_0 transposes its bytes; Q4_0/Q5_0 transpose the 16 packed bytes first
 * (half the data) and unpack in the transposed order: nibbles with the offset
 * in one vpternlog, the fifth bits (qh) by a byte test and a masked add per
 * register. Scales (and Q5_0's qh) come from the heads copied ahead, except
 * for Q5_0 past block 0, whose whole block is transposed with its nibbles
 * (8x8 cycles a block less at 8 tokens in cache, 6 at 1). */
static inline __attribute__((always_inline)) void q0_repack(const int kind, const int full, const uint8_t *w, size_t ws,
                                                            int64_t nr, int64_t b, const uint64_t *head, __m512i *o) {
    const uint8_t *base = w + b * q0_size(kind);
    __m512i qh = _mm512_setzero_si512(), d32 = _mm512_setzero_si512(); /* Q5_0 past block 0: lane r = row r's */
    if (kind == K_Q8_0) {
        __m512i z[8];
#pragma GCC unroll 8
        for (int p = 0; p < 8; p++) {
            const int a = T16_ROW(p, 0), c = T16_ROW(p, 1);
            const uint8_t *r0 = base + (full || a < nr ? a : 0) * ws, *r1 = base + (full || c < nr ? c : 0) * ws;
            z[p] = q0_pair(kind, r0, r1);
        }
        t16x8_dwords(z, o);
    } else {
        __m512i t[4];
        if (kind == K_Q5_0 && b > 0) {
            /* the 32 bytes that end with the block, transposed like Q8_0's
             * quants: dword 2 = scale << 16, 3 = qh, 4-7 = the nibbles. One
             * vector load per row instead of a 16-byte one plus a head copy;
             * the 10 bytes before the block are the previous block's. */
            __m512i z[8], u[8];
            const uint8_t *tail = base + sizeof(block_q5_0) - 32;
#pragma GCC unroll 8
            for (int p = 0; p < 8; p++)
                z[p] = load2x32(tail + (size_t)(full || T16_ROW(p, 0) < nr ? T16_ROW(p, 0) : 0) * ws,
                                tail + (size_t)(full || T16_ROW(p, 1) < nr ? T16_ROW(p, 1) : 0) * ws);
            t16x8_dwords(z, u);
            d32 = _mm512_srli_epi32(u[2], 16);
            qh = u[3];
#pragma GCC unroll 4
            for (int g = 0; g < 4; g++) t[g] = u[4 + g];
        } else
            kq_t16x4(full, base + (kind == K_Q4_0 ? offsetof(block_q4_0, qs) : offsetof(block_q5_0, qs)), ws, nr, t);
        /* Q5_0: words 1, 2 of each row's head (its qh), past block 0 the transposed dword */
        const __m512i h = kind != K_Q5_0 || b > 0 ? qh
                                                  : _mm512_permutex2var_epi16(_mm512_load_si512(head), _mm512_load_si512(g_head_qh),
                                                                              _mm512_load_si512(head + 8));
        q0_nibbles(kind, t, h, o);
    }
    if (kind == K_Q5_0 && b > 0) {
        o[8] = _mm512_castps_si512(_mm512_cvtph_ps(_mm512_cvtepi32_epi16(d32)));
        return;
    }
    /* word 0 of each row's head: its scale */
    const __m512i d16 = _mm512_permutex2var_epi16(_mm512_load_si512(head), _mm512_load_si512(g_head_d), _mm512_load_si512(head + 8));
    o[8] = _mm512_castps_si512(_mm512_cvtph_ps(_mm512_castsi512_si256(d16)));
}

/* The first 8 bytes of block b of each row (scale, and Q5_0's qh) into
 * head[r] (rows past nr: row 0's). One 8-byte copy per row, a few blocks
 * ahead inside the block loop: they run on the scalar ports while the vector
 * ports do the products (a gather is slower; 2- and 4-byte copies cost ~10%
 * of the panel more). */
static inline __attribute__((always_inline)) void q0_heads(const int kind, const int full, const uint8_t *w, size_t ws,
                                                            int64_t nr, int64_t b, uint64_t *head) {
    const uint8_t *p = w + b * q0_size(kind);
#pragma GCC unroll 16
    for (int r = 0; r < ST_PANEL_ROWS; r++) memcpy(&head[r], p + (size_t)(full || r < nr ? r : 0) * ws, 8);
}

/* acc += o . broadcast(4 activation bytes at p): vpdpbusd with an embedded
 * {1to16} broadcast operand, which gcc does not form from the intrinsics (it
 * spends a separate vpbroadcastd per product). */
static inline __m512i dpbusd_bcast(__m512i acc, __m512i o, const uint8_t *p) {
    __asm__("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(o), "m"(*(const int32_t(*)[1])p));
    return acc;
}

/* acc += one token's product with a block repacked into o (q0_repack). */
static inline __attribute__((always_inline)) __m512 q0_panel_block(const __m512i *o, const uint8_t *x, float xd, int32_t xc,
                                                                    __m512 acc) {
    /* one chain: the other tokens' blocks are in flight meanwhile (two
     * chains measured no faster) */
#if Q0_CHAINS == 2
    __m512i i = dpbusd_bcast(_mm512_set1_epi32(xc), o[0], x);
    __m512i i1 = dpbusd_bcast(_mm512_setzero_si512(), o[1], x + 4);
    i = dpbusd_bcast(i, o[2], x + 8);
    i1 = dpbusd_bcast(i1, o[3], x + 12);
    i = dpbusd_bcast(i, o[4], x + 16);
    i1 = dpbusd_bcast(i1, o[5], x + 20);
    i = dpbusd_bcast(i, o[6], x + 24);
    i1 = dpbusd_bcast(i1, o[7], x + 28);
    i = _mm512_add_epi32(i, i1);
#elif Q0_CHAINS == 4
    __m512i i = dpbusd_bcast(_mm512_set1_epi32(xc), o[0], x);
    __m512i i1 = dpbusd_bcast(_mm512_setzero_si512(), o[1], x + 4);
    __m512i i2 = dpbusd_bcast(_mm512_setzero_si512(), o[2], x + 8);
    __m512i i3 = dpbusd_bcast(_mm512_setzero_si512(), o[3], x + 12);
    i = dpbusd_bcast(i, o[4], x + 16);
    i1 = dpbusd_bcast(i1, o[5], x + 20);
    i2 = dpbusd_bcast(i2, o[6], x + 24);
    i3 = dpbusd_bcast(i3, o[7], x + 28);
    i = _mm512_add_epi32(_mm512_add_epi32(i, i1), _mm512_add_epi32(i2, i3));
#else
    __m512i i = dpbusd_bcast(_mm512_set1_epi32(xc), o[0], x);
    i = dpbusd_bcast(i, o[1], x + 4);
    i = dpbusd_bcast(i, o[2], x + 8);
    i = dpbusd_bcast(i, o[3], x + 12);
    i = dpbusd_bcast(i, o[4], x + 16);
    i = dpbusd_bcast(i, o[5], x + 20);
    i = dpbusd_bcast(i, o[6], x + 24);
    i = dpbusd_bcast(i, o[7], x + 28);
#endif
    const __m512 sc = _mm512_mul_ps(_mm512_castsi512_ps(o[8]), _mm512_set1_ps(xd));
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(i), sc, acc);
}

/* Prefetch of the 16 rows ST_PANEL_PF_LEAD rows on (callers stream panels in
 * order) as one range, in nb slices: without it a panel runs 3x slower from
 * DRAM, the 16 row streams defeating the hardware prefetchers (NTA/T1 hints
 * and two panels ahead measured no better; every other line, -30%). The K-quant panels take
 * a slice per sub-block step, not per super-block: a super-block's slice at
 * once (36-52 lines) overflows L1's miss buffers (Q6_K from DRAM at 8 tokens
 * +13-20%). A packed panel (ws = its bytes / 16) asks for the same span 1.5
 * panels on, now one contiguous range (a fixed 4-16 KiB lead instead measured
 * up to 40% slower for one Q8_0 sequence). */
typedef struct panel_pf {
    const uint8_t *next;
    size_t span, step, pf, upto;
} panel_pf;

static inline panel_pf panel_pf_init(const uint8_t *w, size_t ws, int64_t slices) {
    const size_t span = (size_t)ST_PANEL_ROWS * ws;
    return (panel_pf){w + (size_t)ST_PANEL_PF_LEAD * ws, span, (span + (size_t)slices - 1) / (size_t)slices, 0, 0};
}

/* the next slice (a step, not a division per slice) */
static inline __attribute__((always_inline)) void panel_pf_slice(panel_pf *p) {
    p->upto = p->upto + p->step < p->span ? p->upto + p->step : p->span;
    for (; p->pf < p->upto; p->pf += 64) _mm_prefetch((const char *)(p->next + p->pf), _MM_HINT_T0);
}

/* The lines of y that the panel after next will write, one per token, asked
 * for with intent to write: an output too large for the caches (the tied
 * output matrix, 151,936 floats per token) otherwise makes every panel's
 * stores wait for their lines from DRAM, and the stores queued behind them
 * (accumulators, head copies) with them. Q8_0 151,936 x 896 at 8 tokens from
 * DRAM: +7-12% (one panel ahead +3%, four +5%). */
static inline __attribute__((always_inline)) void panel_out_pf(const float *y, size_t ys, int64_t nt) {
    for (int64_t t = 0; t < nt; t++) __builtin_prefetch(y + (size_t)t * ys + 2 * ST_PANEL_ROWS, 1, 3);
}

/* The row stride as the compiler cannot see it: it then addresses the sixteen
 * rows as base + {1,3,5,7} x stride x {1,2,4}, rather than keeping sixteen row
 * offsets that do not fit the registers. */
static inline __attribute__((always_inline)) size_t panel_stride(size_t ws) {
    __asm__("" : "+r"(ws));
    return ws;
}

/* A panel against up to Q0_GROUP tokens. Block by block, the 16 rows are
 * transposed into registers (q0_repack) and every token meets them at once:
 * the transposes of one block overlap the products of the previous one and
 * nothing is stored or reloaded. acc[t][j] sums token t's blocks = j (mod 8)
 * in block order, the order vec_dot uses. The next panel streams in
 * meanwhile (panel_pf). */
static inline __attribute__((always_inline)) void q0_gemm_group(const int kind, const int pk, const int full, int64_t n, float *y,
                                                                 size_t ys, const uint8_t *w, size_t ws, int64_t nr,
                                                                 const uint8_t *x, size_t xs, int64_t nt) {
    const int64_t nb = n / QK8_0;
    /* pk: w is a weight panel (ws = its bytes / 16), whose part B follows nb blocks of part A */
    const uint8_t *pd = w + (size_t)nb * 64 * (size_t)q0_panel_nd(kind);
    /* each accumulator starts at its first block (a memset costs more than
     * the products of a short row) */
    __m512 acc[Q0_GROUP][8];
    uint64_t head[Q0_AHEAD + 1][ST_PANEL_ROWS] __attribute__((aligned(64)));
    /* Q5_0 reads the heads of block 0 only (q0_repack) */
    for (int64_t b = 0; !pk && b < (kind == K_Q5_0 ? 1 : Q0_AHEAD) && b < nb; b++) q0_heads(kind, full, w, ws, nr, b, head[b]);
    panel_pf pf = panel_pf_init(w, ws, nb);
    panel_out_pf(y, ys, nt);
    __m512i on[9];
    if (pk) q0_panel_load(kind, w, pd, 0, on);
    else q0_repack(kind, full, w, ws, nr, 0, head[0], on);
    for (int64_t b = 0; b < nb; b++) {
        panel_pf_slice(&pf);
        const size_t wsb = panel_stride(ws);
        if (!pk && kind != K_Q5_0 && b + Q0_AHEAD < nb) /* Q5_0 needs block 0's only */
            q0_heads(kind, full, w, wsb, nr, b + Q0_AHEAD, head[(b + Q0_AHEAD) % (Q0_AHEAD + 1)]);
        __m512i o[9];
#pragma GCC unroll 9
        for (int g = 0; g < 9; g++) o[g] = on[g];
        /* the next block's transposes ahead of this block's products */
        if (b + 1 < nb) {
            if (pk) q0_panel_load(kind, w, pd, b + 1, on);
            else q0_repack(kind, full, w, wsb, nr, b + 1, head[(b + 1) % (Q0_AHEAD + 1)], on);
        }
        const int j = (int)(b & 7);
        /* two copies of the token loop, so that neither tests b < 8 per token */
        if (b < 8)
            for (int64_t t = 0; t < nt; t++) {
                const uint8_t *xr = x + (size_t)t * xs;
                const float *xd = (const float *)(xr + n);
                const int32_t *xc = (const int32_t *)(xd + nb);
                acc[t][j] = q0_panel_block(o, xr + b * QK8_0, xd[b], xc[b], _mm512_setzero_ps());
            }
        else
            for (int64_t t = 0; t < nt; t++) {
                const uint8_t *xr = x + (size_t)t * xs;
                const float *xd = (const float *)(xr + n);
                const int32_t *xc = (const int32_t *)(xd + nb);
                acc[t][j] = q0_panel_block(o, xr + b * QK8_0, xd[b], xc[b], acc[t][j]);
            }
    }
    for (int64_t t = 0; t < nt; t++) {
        __m512 a[8];
        for (int j = 0; j < 8; j++) a[j] = j < nb ? acc[t][j] : _mm512_setzero_ps();
        const __m512 tot = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a[0], a[4]), _mm512_add_ps(a[2], a[6])),
                                         _mm512_add_ps(_mm512_add_ps(a[1], a[5]), _mm512_add_ps(a[3], a[7])));
        _mm512_mask_storeu_ps(y + t * ys, (__mmask16)((1u << nr) - 1), tot);
    }
}

/* gemm_panel entries: groups of G tokens (the group's accumulators stay in
 * L1), with a variant for full panels of 16 rows. */
#define PANEL_GEMM(sfx, group, kind, G)                                                                              \
    static void gemm_panel_##sfx(int64_t n, float *y, size_t ys, const void *w, size_t ws, int64_t nr, const void *x, \
                                 size_t xs, int64_t nt) {                                                        \
        for (int64_t t0 = 0; t0 < nt; t0 += (G)) {                                                               \
            const int64_t tn = nt - t0 < (G) ? nt - t0 : (G);                                                    \
            const uint8_t *xt = (const uint8_t *)x + (size_t)t0 * xs;                                           \
            if (nr == ST_PANEL_ROWS) group(kind, 0, 1, n, y + t0 * ys, ys, w, ws, nr, xt, xs, tn);               \
            else group(kind, 0, 0, n, y + t0 * ys, ys, w, ws, nr, xt, xs, tn);                                   \
        }                                                                                                        \
    }                                                                                                            \
    static void gemm_packed_##sfx(int64_t n, float *y, size_t ys, const void *w, size_t ws, int64_t nr, const void *x, \
                                  size_t xs, int64_t nt) {                                                       \
        for (int64_t t0 = 0; t0 < nt; t0 += (G))                                                                 \
            group(kind, 1, 1, n, y + t0 * ys, ys, w, ws, nr, (const uint8_t *)x + (size_t)t0 * xs, xs,           \
                  nt - t0 < (G) ? nt - t0 : (G));                                                                \
    }
PANEL_GEMM(q8_0, q0_gemm_group, K_Q8_0, Q0_GROUP)
PANEL_GEMM(q4_0, q0_gemm_group, K_Q4_0, Q0_GROUP)
PANEL_GEMM(q5_0, q0_gemm_group, K_Q5_0, Q0_GROUP)


static inline __m512i dot_q5_1_pair(const block_q5_1 *a, const block_q8_1 *b) {
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), q5_pair(a[0].qs, a[0].qh, a[1].qs, a[1].qh), load2x32(b[0].qs, b[1].qs));
}

static void vec_dot_q5_1(int64_t n, float *s, const void *w, const void *x) {
    const block_q5_1 *a = w;
    const block_q8_1 *b = x;
    const int64_t nb = n / QK5_1;
    const f16_gather gd = f16_gather_plan(&g_q5_1_d, sizeof(block_q5_1), 0), gm = f16_gather_plan(&g_q5_1_m, sizeof(block_q5_1), 2);
    const f16_gather yd = f16_gather_plan(&g_q8_1_d, sizeof(block_q8_1), 0), ys = f16_gather_plan(&g_q8_1_s, sizeof(block_q8_1), 2);
    const pair_idx pi = pair_idx_make();
    __m512 acc = _mm512_setzero_ps(), acc2 = acc;
    __m256 accm = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= nb; i += 8) {
        const __m512 sc = _mm512_castps256_ps512(_mm256_mul_ps(f16_gather8(&gd, &a[i]), f16_gather8(&yd, &b[i])));
        accm = _mm256_fmadd_ps(f16_gather8(&gm, &a[i]), f16_gather8(&ys, &b[i]), accm);
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot_q5_1_pair(&a[i], &b[i])), pair_scale(pi, sc, 0), acc);
        acc2 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot_q5_1_pair(&a[i + 2], &b[i + 2])), pair_scale(pi, sc, 1), acc2);
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot_q5_1_pair(&a[i + 4], &b[i + 4])), pair_scale(pi, sc, 2), acc);
        acc2 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot_q5_1_pair(&a[i + 6], &b[i + 6])), pair_scale(pi, sc, 3), acc2);
    }
    float summ = 0;
    for (; i + 2 <= nb; i += 2) {
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot_q5_1_pair(&a[i], &b[i])),
                              scale2(h2f(a[i].d) * h2f(b[i].d), h2f(a[i + 1].d) * h2f(b[i + 1].d)), acc);
        summ += h2f(a[i].m) * h2f(b[i].s) + h2f(a[i + 1].m) * h2f(b[i + 1].s);
    }
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(acc, acc2)) + hsum256(accm) + summ;
    if (i < nb) {
        float t;
        st_vec_dot_q5_1_scalar(QK5_1, &t, &a[i], &b[i]);
        sum += t;
    }
    *s = sum;
}

/* ---------------------------------------------------------------- K-quants */

/* 32 bytes of packed nibbles -> 64 values: low nibbles (elements 0..31) in the
 * low half, high nibbles (32..63) in the high half. */
static inline __m512i nibbles64(const uint8_t *q) {
    const __m256i t = _mm256_loadu_si256((const __m256i *)q);
    const __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(t), _mm256_srli_epi16(t, 4), 1);
    return _mm512_and_si512(z, _mm512_set1_epi8(15));
}

/* int16 lane pattern [k x16, k+1 x16] for vpermw: sub-blocks k, k+1 of 32 elements. */
static inline __m512i idx_pair(int k) {
    return _mm512_inserti64x4(_mm512_set1_epi16((short)k), _mm256_set1_epi16((short)(k + 1)), 1);
}

/* The 8 scales and 8 mins of a Q4_K/Q5_K super-block as 16 int16 [sc0..7, m0..7],
 * unpacked in vector registers (the word-wise recipe of st_unpack_k4_scales).
 * The 16-byte load covers the 12 scale bytes and the first 4 quant bytes of
 * the same block, so it never leaves the block. */
static inline __m256i k4_scales16(const uint8_t *scales) {
    const __m128i v = _mm_loadu_si128((const __m128i *)scales);          /* u0 u1 u2 . */
    const __m128i lo = _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 0, 1, 0));    /* u0 u1 u0 u1 */
    const __m128i t1 = _mm_and_si128(lo, _mm_set1_epi8(0x3f));           /* sc0-3, m0-3 */
    const __m128i t2 = _mm_and_si128(_mm_srli_epi32(lo, 2), _mm_set1_epi8(0x30)); /* top bits of sc4-7, m4-7 */
    const __m128i u2 = _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 2, 2, 2));
    const __m128i t3 = _mm_and_si128(_mm_srlv_epi32(u2, _mm_setr_epi32(0, 4, 0, 4)), _mm_set1_epi8(0x0f));
    const __m128i r = _mm_unpacklo_epi32(t1, _mm_or_si128(t2, t3));     /* sc0-3 sc4-7 m0-3 m4-7 */
    return _mm256_cvtepu8_epi16(r);
}

/* ---- K-quants: one weight row against up to eight activation rows. Most of
 * a super-block's work is on the weight side (nibbles, high bits, scale
 * unpacking and broadcasts); for a batch of tokens it is done once and reused.
 * vec_dot is the same body with one activation row, so results are
 * bit-identical whether tokens come alone or in batches. */
enum { KQ_Q4_K, KQ_Q5_K, KQ_Q6_K };

/* The order every AVX-512 K-quant kernel sums in, so that the matrix-vector
 * kernels and the panel GEMM below agree bit for bit: per super-block the
 * exact int32 sums isum = sum_j sc_j * dot_j and (Q4_K, Q5_K) msum =
 * sum_j m_j * sum(y of sub-block j), then, super-block after super-block,
 * acc = fma(isum, d*dy, acc) and acc = fnmadd(msum, dmin*dy, acc)
 * (Q6_K: isum with the -32 offset inside, and the first step only).
 * dd = [d*dy, dmin*dy]. */
static inline __m128 kq_accumulate(__m128 acc, int32_t isum, int32_t msum, __m128 dd) {
    acc = _mm_fmadd_ss(_mm_cvtsi32_ss(_mm_setzero_ps(), isum), dd, acc);
    return _mm_fnmadd_ss(_mm_cvtsi32_ss(_mm_setzero_ps(), msum), _mm_movehdup_ps(dd), acc);
}

static inline int32_t hsum4_epi32(__m128i v) {
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(v);
}

static inline __attribute__((always_inline)) void k45_toks(const int kind, const int T, int64_t n, float *s, size_t ss,
                                                            const void *w, const uint8_t *x, size_t xs) {
    const int64_t nb = n / QK_K;
    const size_t bsz = kind == KQ_Q4_K ? sizeof(block_q4_K) : sizeof(block_q5_K);
    const __m512i idx[4] = {idx_pair(0), idx_pair(2), idx_pair(4), idx_pair(6)};
    /* Q5_K: bit 2j of qh in the low half (first 32 elements of chunk j), bit 2j+1 in the high half */
    __m512i bit[4];
    #pragma GCC unroll 4
    for (int j = 0; j < 4; j++) bit[j] = _mm512_inserti64x4(_mm512_set1_epi8((char)(1 << 2 * j)), _mm256_set1_epi8((char)(1 << (2 * j + 1))), 1);
    __m128 acc[8];
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) acc[t] = _mm_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *blk = (const uint8_t *)w + i * bsz;
        const uint8_t *qs = kind == KQ_Q4_K ? ((const block_q4_K *)blk)->qs : ((const block_q5_K *)blk)->qs;
        uint32_t u;
        memcpy(&u, blk, 4); /* d, dmin: the first fields of both formats */
        const __m128 wdd = _mm_cvtph_ps(_mm_cvtsi32_si128((int)u));
        const __m256i sm16 = k4_scales16(((const block_q4_K *)blk)->scales);
        const __m128i mins = _mm256_extracti128_si256(sm16, 1);
        const __m512i sc = _mm512_castsi256_si512(sm16);
        __m512i q[4], scl[4];
        #pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            q[j] = nibbles64(qs + 32 * j);
            scl[j] = _mm512_permutexvar_epi16(idx[j], sc);
        }
        if (kind == KQ_Q5_K) {
            const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)((const block_q5_K *)blk)->qh));
            #pragma GCC unroll 4
            for (int j = 0; j < 4; j++) q[j] = _mm512_mask_add_epi8(q[j], _mm512_test_epi8_mask(qh, bit[j]), q[j], _mm512_set1_epi8(16));
        }
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
            const block_q8_K *b = (const block_q8_K *)(x + t * xs) + i;
            const __m128 dd = _mm_mul_ps(wdd, _mm_set1_ps(b->d)); /* [d, dmin] * dy */
            const __m128i b0 = _mm_loadu_si128((const __m128i *)b->bsums), b1 = _mm_loadu_si128((const __m128i *)(b->bsums + 8));
            const __m128i md = _mm_madd_epi16(mins, _mm_hadd_epi16(b0, b1)); /* m_j * sum(y of sub-block j) */
            /* vpmaddubsw pairs <= 2*31*127, times a 6-bit scale: int32 has ample room */
            __m512i s0 = _mm512_dpwssd_epi32(_mm512_setzero_si512(), _mm512_maddubs_epi16(q[0], _mm512_loadu_si512(b->qs)), scl[0]);
            __m512i s1 = _mm512_dpwssd_epi32(_mm512_setzero_si512(), _mm512_maddubs_epi16(q[1], _mm512_loadu_si512(b->qs + 64)), scl[1]);
            s0 = _mm512_dpwssd_epi32(s0, _mm512_maddubs_epi16(q[2], _mm512_loadu_si512(b->qs + 128)), scl[2]);
            s1 = _mm512_dpwssd_epi32(s1, _mm512_maddubs_epi16(q[3], _mm512_loadu_si512(b->qs + 192)), scl[3]);
            acc[t] = kq_accumulate(acc[t], _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1)), hsum4_epi32(md), dd);
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) s[t * ss] = _mm_cvtss_f32(acc[t]);
}

/* Q6_K values kept unsigned (0..63; vpmaddubsw pairs <= 2*63*127 fit int16);
 * the -32 offset is 32 * sum_g scale_g * bsums_g, subtracted once per super-block. */
static inline __attribute__((always_inline)) void q6k_toks(const int T, int64_t n, float *s, size_t ss, const block_q6_K *a,
                                                            const uint8_t *x, size_t xs) {
    const int64_t nb = n / QK_K;
    const __m512i m4 = _mm512_set1_epi8(15), m2 = _mm512_set1_epi8(0x30);
    /* per-half shift counts: elements 0..31 take qh bits 0-1, 32..63 bits 2-3,
     * 64..95 bits 4-5, 96..127 bits 6-7; all moved to bits 4-5 */
    const __m512i shl_a = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
    const __m512i shr_b = _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(2), 1);
    /* int16 lanes [g x8, g+1 x8, g+2 x8, g+3 x8] for four groups of 16 */
    __m512i idx[4];
    #pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        const __m256i lo = _mm256_inserti128_si256(_mm256_set1_epi16((short)(4 * k)), _mm_set1_epi16((short)(4 * k + 1)), 1);
        const __m256i hi = _mm256_inserti128_si256(_mm256_set1_epi16((short)(4 * k + 2)), _mm_set1_epi16((short)(4 * k + 3)), 1);
        idx[k] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
    }
    __m128 acc[8];
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) acc[t] = _mm_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const __m128 wd = _mm_set_ss(h2f(a[i].d));
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)a[i].scales));
        const __m512i sc = _mm512_castsi256_si512(sc16);
        __m512i q[4], scl[4];
        #pragma GCC unroll 4
        for (int h = 0; h < 2; h++) {
            const __m512i ql = _mm512_loadu_si512(a[i].ql + 64 * h);
            const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(a[i].qh + 32 * h)));
            q[2 * h] = _mm512_or_si512(_mm512_and_si512(ql, m4), _mm512_and_si512(_mm512_sllv_epi16(qh, shl_a), m2));
            q[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4), _mm512_and_si512(_mm512_srlv_epi16(qh, shr_b), m2));
            scl[2 * h] = _mm512_permutexvar_epi16(idx[2 * h], sc);
            scl[2 * h + 1] = _mm512_permutexvar_epi16(idx[2 * h + 1], sc);
        }
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
            const block_q8_K *b = (const block_q8_K *)(x + t * xs) + i;
            const __m256i corr = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)b->bsums), sc16);
            __m512i sumi = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_zextsi256_si512(_mm256_slli_epi32(corr, 5)));
            #pragma GCC unroll 4
            for (int k = 0; k < 4; k++)
                sumi = _mm512_dpwssd_epi32(sumi, _mm512_maddubs_epi16(q[k], _mm512_loadu_si512(b->qs + 64 * k)), scl[k]);
            acc[t] = _mm_fmadd_ss(_mm_cvtsi32_ss(_mm_setzero_ps(), _mm512_reduce_add_epi32(sumi)), _mm_mul_ss(wd, _mm_set_ss(b->d)), acc[t]);
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) s[t * ss] = _mm_cvtss_f32(acc[t]);
}

/* ---- K-quant panels (Q4_K, Q5_K, Q6_K): as the Q8_0-family panel, 16 weight rows sit in the
 * lanes (transposed a 32-byte run at a time) and every token of a group meets
 * them while they are in registers. The activations are the Q8_K rows as they
 * are: unsigned weights (Q4_K nibbles, Q6_K values + 32) meet signed quants in
 * vpdpbusd, each sub-block's exact sum is scaled with vpmulld, and the mins
 * (Q4_K) or the -32 offset (Q6_K) come from the activations' 16-element sums
 * with vpdpwssd. The summation order is kq_accumulate's, so the panel is
 * bit-identical to vec_dot. */

/* acc += o . broadcast(the int16 pair at p) */
static inline __m512i dpwssd_bcast(__m512i acc, __m512i o, const void *p) {
    __asm__("vpdpwssd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(o), "m"(*(const int32_t(*)[1])p));
    return acc;
}

/* 32 bytes at off in each row as o[g] lane r = dword g of row r. */
static inline __attribute__((always_inline)) void kq_t16x8(const int full, const uint8_t *base, size_t ws, int64_t nr, __m512i o[8]) {
    __m512i z[8];
#pragma GCC unroll 8
    for (int p = 0; p < 8; p++)
        z[p] = load2x32(base + (size_t)(full || T16_ROW(p, 0) < nr ? T16_ROW(p, 0) : 0) * ws,
                        base + (size_t)(full || T16_ROW(p, 1) < nr ? T16_ROW(p, 1) : 0) * ws);
    t16x8_dwords(z, o);
}

/* A K-quant block's bytes [off, off + 4 nd) (nd = 4 or 8) of the 16 rows as
 * kq_t16x4 / kq_t16x8 give them: transposed from the rows, or (pk) loaded from
 * a weight panel's block, whose dword k of row r is at 64 k + 4 r. */
static inline __attribute__((always_inline)) void kq_src(const int pk, const int nd, const int full, const uint8_t *base,
                                                         size_t off, size_t ws, int64_t nr, __m512i *o) {
    if (!pk) {
        if (nd == 4) kq_t16x4(full, base + off, ws, nr, o);
        else kq_t16x8(full, base + off, ws, nr, o);
        return;
    }
#pragma GCC unroll 8
    for (int g = 0; g < nd; g++) o[g] = _mm512_load_si512(base + 16 * off + 64 * g);
}

#define KQ_GROUP 32

/* Q4_K or Q5_K panel against up to KQ_GROUP tokens. Q5_K's fifth bits (qh:
 * bit j of byte l for element l of sub-block j) are transposed with the rest
 * and shifted down two bits per 64 elements. */
static inline __attribute__((always_inline)) void k45_gemm_group(const int kind, const int pk, const int full, int64_t n, float *y,
                                                                  size_t ys, const uint8_t *w, size_t ws, int64_t nr,
                                                                  const uint8_t *x, size_t xs, int64_t nt) {
    const size_t bsz = kind == KQ_Q4_K ? sizeof(block_q4_K) : sizeof(block_q5_K);
    const size_t qs_off = kind == KQ_Q4_K ? offsetof(block_q4_K, qs) : offsetof(block_q5_K, qs);
    const int64_t nb = n / QK_K;
    __m512 acc[KQ_GROUP];
    __m512i isum[KQ_GROUP];
    const __m512i m4 = _mm512_set1_epi8(15), m6 = _mm512_set1_epi8(0x3f), m30 = _mm512_set1_epi8(0x30), m10 = _mm512_set1_epi8(0x10);
    __m512i pick[4], pick2[4];
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        pick[k] = kq_ctl(k, -1, -1, -1);
        pick2[k] = kq_ctl(k, -1, k, -1);
    }
    panel_pf pf = panel_pf_init(w, ws, nb * 4); /* a slice per 64 elements */
    panel_out_pf(y, ys, nt);
    for (int64_t b = 0; b < nb; b++) {
        const size_t wsb = panel_stride(ws);
        const uint8_t *base = pk ? w + b * 16 * bsz : w + b * bsz; /* pk: the block in part A */
        /* d, dmin and the 12 scale bytes (st_unpack_k4_scales, 16 rows at once) */
        __m512i r[4];
        kq_src(pk, 4, full, base, 0, wsb, nr, r);
        const __m512 d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(r[0]));
        const __m512 dmin = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(r[0], 16)));
        const __m512i sc03 = _mm512_and_si512(r[1], m6), m03 = _mm512_and_si512(r[2], m6);
        const __m512i sc47 = _mm512_or_si512(_mm512_and_si512(r[3], m4), _mm512_and_si512(_mm512_srli_epi32(r[1], 2), m30));
        const __m512i m47 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(r[3], 4), m4), _mm512_and_si512(_mm512_srli_epi32(r[2], 2), m30));
        __m512i sc[8], mp[8];
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            sc[k] = _mm512_shuffle_epi8(sc03, pick[k]);
            sc[k + 4] = _mm512_shuffle_epi8(sc47, pick[k]);
            mp[k] = _mm512_shuffle_epi8(m03, pick2[k]);
            mp[k + 4] = _mm512_shuffle_epi8(m47, pick2[k]);
        }
        __m512i qh[8]; /* Q5_K: bits 2c, 2c + 1 of each byte in bits 0, 1 at chunk c */
        if (kind == KQ_Q5_K) kq_src(pk, 8, full, base, offsetof(block_q5_K, qh), wsb, nr, qh);
        /* unrolled: the first step's isum = v (rather than a select per
         * token) and the steps' transposes overlap (8 tokens -6%, 1 -13%) */
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) { /* 32 bytes of nibbles: sub-blocks 2c (low) and 2c + 1 (high) */
            panel_pf_slice(&pf);
            __m512i p[8], lo[8], hi[8];
            kq_src(pk, 8, full, base, qs_off + 32 * c, wsb, nr, p);
#pragma GCC unroll 8
            for (int g = 0; g < 8; g++) {
                lo[g] = _mm512_and_si512(p[g], m4);
                hi[g] = _mm512_and_si512(_mm512_srli_epi16(p[g], 4), m4);
                if (kind == KQ_Q5_K) { /* q | (bit << 4): vpternlog A | (B & C) */
                    lo[g] = _mm512_ternarylogic_epi32(lo[g], _mm512_slli_epi16(qh[g], 4), m10, 0xF8);
                    hi[g] = _mm512_ternarylogic_epi32(hi[g], _mm512_slli_epi16(qh[g], 3), m10, 0xF8);
                    qh[g] = _mm512_srli_epi16(qh[g], 2);
                }
            }
            const __m512i s0 = sc[2 * c], s1 = sc[2 * c + 1];
            for (int64_t t = 0; t < nt; t++) {
                const uint8_t *xq = x + (size_t)t * xs + b * sizeof(block_q8_K) + 4 + 64 * c;
                __m512i a0 = dpbusd_bcast(_mm512_setzero_si512(), lo[0], xq);
                __m512i a1 = dpbusd_bcast(_mm512_setzero_si512(), hi[0], xq + 32);
#pragma GCC unroll 7
                for (int g = 1; g < 8; g++) {
                    a0 = dpbusd_bcast(a0, lo[g], xq + 4 * g);
                    a1 = dpbusd_bcast(a1, hi[g], xq + 32 + 4 * g);
                }
                const __m512i v = _mm512_add_epi32(_mm512_mullo_epi32(a0, s0), _mm512_mullo_epi32(a1, s1));
                isum[t] = c == 0 ? v : _mm512_add_epi32(isum[t], v);
            }
        }
        for (int64_t t = 0; t < nt; t++) {
            const block_q8_K *xb = (const block_q8_K *)(x + (size_t)t * xs) + b;
            __m512i ms = dpwssd_bcast(_mm512_setzero_si512(), mp[0], &xb->bsums[0]);
#pragma GCC unroll 7
            for (int j = 1; j < 8; j++) ms = dpwssd_bcast(ms, mp[j], &xb->bsums[2 * j]);
            const __m512 dy = _mm512_set1_ps(xb->d);
            const __m512 a = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(d, dy), b == 0 ? _mm512_setzero_ps() : acc[t]);
            acc[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(ms), _mm512_mul_ps(dmin, dy), a);
        }
    }
    for (int64_t t = 0; t < nt; t++) _mm512_mask_storeu_ps(y + t * ys, (__mmask16)((1u << nr) - 1), acc[t]);
}

/* Q6_K panel against up to KQ_GROUP tokens. */
static inline __attribute__((always_inline)) void q6k_gemm_group(const int kind, const int pk, const int full, int64_t n, float *y,
                                                                  size_t ys, const uint8_t *w, size_t ws, int64_t nr,
                                                                  const uint8_t *x, size_t xs, int64_t nt) {
    (void)kind; /* KQ_Q6_K: the signature PANEL_GEMM calls */
    const int64_t nb = n / QK_K;
    __m512 acc[KQ_GROUP];
    __m512i isum[KQ_GROUP];
    const __m512i m4 = _mm512_set1_epi8(15), m33 = _mm512_set1_epi8(0x33), mcc = _mm512_set1_epi8((char)0xcc);
    __m512i top[4], pair[2];
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) top[k] = kq_ctl(-1, -1, -1, k); /* then >> 24: sign-extended */
#pragma GCC unroll 2
    for (int i = 0; i < 2; i++) pair[i] = kq_ctl(-1, 2 * i, -1, 2 * i + 1); /* then >> 8 per word */
    panel_pf pf = panel_pf_init(w, ws, nb * 8); /* a slice per 32 elements */
    panel_out_pf(y, ys, nt);
    for (int64_t b = 0; b < nb; b++) {
        const size_t wsb = panel_stride(ws);
        /* pk: the block in part A (its bytes before d, 52 dwords a row), its scales d in part B */
        const size_t pa = 16 * offsetof(block_q6_K, d);
        const uint8_t *base = pk ? w + b * pa : w + b * sizeof(block_q6_K);
        __m512 d;
        if (pk)
            d = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(w + (size_t)nb * pa + 32 * (size_t)b)));
        else {
            uint16_t d16[ST_PANEL_ROWS];
#pragma GCC unroll 16
            for (int r = 0; r < ST_PANEL_ROWS; r++) memcpy(&d16[r], base + (size_t)(full || r < nr ? r : 0) * wsb + offsetof(block_q6_K, d), 2);
            d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)d16));
        }
        /* the 16 int8 scales: sc[g] lane r = scale g of row r as int32; sp[i] = scales (2i, 2i+1) as int16 */
        __m512i r[4], sc[16], sp[8];
        kq_src(pk, 4, full, base, offsetof(block_q6_K, scales), wsb, nr, r);
#pragma GCC unroll 4
        for (int q = 0; q < 4; q++) {
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) sc[4 * q + k] = _mm512_srai_epi32(_mm512_shuffle_epi8(r[q], top[k]), 24);
            sp[2 * q] = _mm512_srai_epi16(_mm512_shuffle_epi8(r[q], pair[0]), 8);
            sp[2 * q + 1] = _mm512_srai_epi16(_mm512_shuffle_epi8(r[q], pair[1]), 8);
        }
#pragma GCC unroll 1
        for (int h = 0; h < 2; h++) { /* 128 elements: quarter k from ql[64h + 32(k & 1)] (k < 2 low nibbles) and bits 2k of qh[32h] */
            __m512i wb[4][8];
            {
                __m512i qa[8], qb[8], qh[8];
                kq_src(pk, 8, full, base, 64 * h, wsb, nr, qa);
                kq_src(pk, 8, full, base, 64 * h + 32, wsb, nr, qb);
                kq_src(pk, 8, full, base, 128 + 32 * h, wsb, nr, qh);
                /* low nibble from ql, bits 4-5 from qh (pre-masked so that the
                 * shifts bring only zeros into bits 6-7): one bit-select each */
#pragma GCC unroll 8
                for (int g = 0; g < 8; g++) {
                    const __m512i h2 = _mm512_and_si512(qh[g], m33), h3 = _mm512_and_si512(qh[g], mcc);
                    wb[0][g] = _mm512_ternarylogic_epi32(m4, qa[g], _mm512_slli_epi16(h2, 4), 0xCA);
                    wb[1][g] = _mm512_ternarylogic_epi32(m4, qb[g], _mm512_slli_epi16(h3, 2), 0xCA);
                    wb[2][g] = _mm512_ternarylogic_epi32(m4, _mm512_srli_epi16(qa[g], 4), h2, 0xCA);
                    wb[3][g] = _mm512_ternarylogic_epi32(m4, _mm512_srli_epi16(qb[g], 4), _mm512_srli_epi16(h3, 2), 0xCA);
                }
            }
            /* unrolled like the Q4_K steps (8 tokens -3%) */
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) {
                panel_pf_slice(&pf);
                __m512i o[8];
#pragma GCC unroll 8
                for (int g = 0; g < 8; g++) o[g] = wb[k][g];
                const __m512i s0 = sc[8 * h + 2 * k], s1 = sc[8 * h + 2 * k + 1];
                for (int64_t t = 0; t < nt; t++) {
                    const uint8_t *xq = x + (size_t)t * xs + b * sizeof(block_q8_K) + 4 + 128 * h + 32 * k;
                    __m512i a0 = dpbusd_bcast(_mm512_setzero_si512(), o[0], xq);
                    __m512i a1 = dpbusd_bcast(_mm512_setzero_si512(), o[4], xq + 16);
#pragma GCC unroll 3
                    for (int g = 1; g < 4; g++) {
                        a0 = dpbusd_bcast(a0, o[g], xq + 4 * g);
                        a1 = dpbusd_bcast(a1, o[g + 4], xq + 16 + 4 * g);
                    }
                    const __m512i v = _mm512_add_epi32(_mm512_mullo_epi32(a0, s0), _mm512_mullo_epi32(a1, s1));
                    isum[t] = h == 0 && k == 0 ? v : _mm512_add_epi32(isum[t], v);
                }
            }
        }
        for (int64_t t = 0; t < nt; t++) {
            const block_q8_K *xb = (const block_q8_K *)(x + (size_t)t * xs) + b;
            __m512i off = dpwssd_bcast(_mm512_setzero_si512(), sp[0], &xb->bsums[0]);
#pragma GCC unroll 7
            for (int i = 1; i < 8; i++) off = dpwssd_bcast(off, sp[i], &xb->bsums[2 * i]);
            const __m512i is = _mm512_sub_epi32(isum[t], _mm512_slli_epi32(off, 5));
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), _mm512_mul_ps(d, _mm512_set1_ps(xb->d)), b == 0 ? _mm512_setzero_ps() : acc[t]);
        }
    }
    for (int64_t t = 0; t < nt; t++) _mm512_mask_storeu_ps(y + t * ys, (__mmask16)((1u << nr) - 1), acc[t]);
}

PANEL_GEMM(q4_K, k45_gemm_group, KQ_Q4_K, KQ_GROUP)
PANEL_GEMM(q5_K, k45_gemm_group, KQ_Q5_K, KQ_GROUP)
PANEL_GEMM(q6_K, q6k_gemm_group, KQ_Q6_K, KQ_GROUP)

static void vec_dot_q4_K(int64_t n, float *s, const void *w, const void *x) { k45_toks(KQ_Q4_K, 1, n, s, 0, w, x, 0); }
static void vec_dot_q5_K(int64_t n, float *s, const void *w, const void *x) { k45_toks(KQ_Q5_K, 1, n, s, 0, w, x, 0); }
static void vec_dot_q6_K(int64_t n, float *s, const void *w, const void *x) { q6k_toks(1, n, s, 0, w, x, 0); }

static void vec_dot_toks_q4_K(int64_t n, float *s, size_t ss, const void *w, const void *x, size_t xs, int64_t nt) {
    int64_t t = 0;
    for (; t + 8 <= nt; t += 8) k45_toks(KQ_Q4_K, 8, n, s + t * ss, ss, w, (const uint8_t *)x + t * xs, xs);
    for (; t + 4 <= nt; t += 4) k45_toks(KQ_Q4_K, 4, n, s + t * ss, ss, w, (const uint8_t *)x + t * xs, xs);
    for (; t < nt; t++) k45_toks(KQ_Q4_K, 1, n, s + t * ss, ss, w, (const uint8_t *)x + t * xs, xs);
}
static void vec_dot_toks_q5_K(int64_t n, float *s, size_t ss, const void *w, const void *x, size_t xs, int64_t nt) {
    int64_t t = 0;
    for (; t + 8 <= nt; t += 8) k45_toks(KQ_Q5_K, 8, n, s + t * ss, ss, w, (const uint8_t *)x + t * xs, xs);
    for (; t + 4 <= nt; t += 4) k45_toks(KQ_Q5_K, 4, n, s + t * ss, ss, w, (const uint8_t *)x + t * xs, xs);
    for (; t < nt; t++) k45_toks(KQ_Q5_K, 1, n, s + t * ss, ss, w, (const uint8_t *)x + t * xs, xs);
}
static void vec_dot_toks_q6_K(int64_t n, float *s, size_t ss, const void *w, const void *x, size_t xs, int64_t nt) {
    int64_t t = 0;
    for (; t + 8 <= nt; t += 8) q6k_toks(8, n, s + t * ss, ss, w, (const uint8_t *)x + t * xs, xs);
    for (; t + 4 <= nt; t += 4) q6k_toks(4, n, s + t * ss, ss, w, (const uint8_t *)x + t * xs, xs);
    for (; t < nt; t++) q6k_toks(1, n, s + t * ss, ss, w, (const uint8_t *)x + t * xs, xs);
}

/* ---------------------------------------------------------------- activation quantizers */

static void quantize_row_f16(const float *x, void *y, int64_t n) {
    st_f16 *h = y;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(h + i), _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm256_mask_storeu_epi16(h + i, m, _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
}

/* Round to nearest even on the bits, as st_f32_to_bf16 (vcvtneps2bf16 would
 * flush subnormals, which the reference does not); NaNs stay quiet NaNs. */
static inline __m256i f32_to_bf16_16(__m512 v) {
    const __m512i u = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    const __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)), _mm512_set1_epi32(0x7f800000));
    const __m512i q = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(u, 16), _mm512_set1_epi32(64));
    return _mm512_cvtepi32_epi16(q);
}

static void quantize_row_bf16(const float *x, void *y, int64_t n) {
    st_bf16 *h = y;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm256_storeu_si256((__m256i *)(h + i), f32_to_bf16_16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm256_mask_storeu_epi16(h + i, m, f32_to_bf16_16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

/* roundf (halves away from zero), as the Q8_0/Q8_1 reference: truncate, then
 * step one away from zero where the dropped fraction is >= 0.5. */
static inline __m512i round_away_epi32(__m512 v) {
    const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m512 frac = _mm512_abs_ps(_mm512_sub_ps(v, t));
    const __mmask16 up = _mm512_cmp_ps_mask(frac, _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    const __m512 step = _mm512_or_ps(_mm512_and_ps(v, _mm512_set1_ps(-0.0f)), _mm512_set1_ps(1.0f));
    return _mm512_cvttps_epi32(_mm512_mask_add_ps(t, up, t, step));
}

/* One 32-block as ggml's reference: d = amax/127 in f32, id = 1/d, roundf(x*id). */
static inline float quant_block_8bit(const float *x, int8_t *qs, int *sum) {
    const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    const float d = amax / 127, id = d ? 1.0f / d : 0.0f;
    const __m512 vid = _mm512_set1_ps(id);
    const __m512i q0 = round_away_epi32(_mm512_mul_ps(v0, vid)), q1 = round_away_epi32(_mm512_mul_ps(v1, vid));
    _mm_storeu_si128((__m128i *)qs, _mm512_cvtepi32_epi8(q0));
    _mm_storeu_si128((__m128i *)(qs + 16), _mm512_cvtepi32_epi8(q1));
    if (sum) *sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
    return d;
}

static void quantize_row_q8_0(const float *x, void *vy, int64_t n) {
    block_q8_0 *y = vy;
    for (int64_t i = 0; i < n / QK8_0; i++, x += QK8_0)
        y[i].d = st_f32_to_f16(quant_block_8bit(x, y[i].qs, NULL));
}

/* quantize_row_q8_0 then pack_row_q8_0 in one pass: the quants go where the
 * packed row keeps them, the scale as the f32 value of its f16 rounding */
static void quantize_pack_q8_0(const float *x, void *xp, int64_t n) {
    const int64_t nb = n / QK8_0;
    uint8_t *q = xp;
    float *d = (float *)(q + n);
    int32_t *c = (int32_t *)(d + nb);
    for (int64_t i = 0; i < nb; i++, x += QK8_0) {
        int sum;
        d[i] = h2f(st_f32_to_f16(quant_block_8bit(x, (int8_t *)q + i * QK8_0, &sum)));
        c[i] = -128 * sum;
    }
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
 * exactly (iscale = -127/max), halves to even (vcvtps2dq under the default
 * MXCSR, like lrintf), and a saturating narrow is the MIN(127, v) clamp. */
static void quantize_row_q8_K(const float *x, void *vy, int64_t n) {
    block_q8_K *y = vy;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        __m512 m = _mm512_setzero_ps();
        for (int k = 0; k < QK_K; k += 16) m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(x + k)));
        const float amax = _mm512_reduce_max_ps(m);
        if (amax == 0) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        float max = 0;
        for (int k = 0; k < QK_K; k += 16) {
            const __mmask16 hit = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(x + k)), _mm512_set1_ps(amax), _CMP_EQ_OQ);
            if (hit) {
                max = x[k + __builtin_ctz(hit)];
                break;
            }
        }
        const float iscale = -127.f / max;
        const __m512 vs = _mm512_set1_ps(iscale);
        __m512i sums = _mm512_setzero_si512();
        for (int g = 0; g < QK_K / 16; g++) {
            const __m128i q = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(vs, _mm512_loadu_ps(x + 16 * g))));
            _mm_storeu_si128((__m128i *)(y[i].qs + 16 * g), q);
            /* sum of the 16 stored bytes via vpsadbw on biased bytes: sum(q + 128) - 16*128 */
            const __m128i sad = _mm_sad_epu8(_mm_xor_si128(q, _mm_set1_epi8((char)0x80)), _mm_setzero_si128());
            const int gs = _mm_cvtsi128_si32(sad) + _mm_extract_epi16(sad, 4) - 16 * 128;
            sums = _mm512_mask_set1_epi32(sums, (__mmask16)(1u << g), gs);
        }
        _mm256_storeu_si256((__m256i *)y[i].bsums, _mm512_cvtepi32_epi16(sums));
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

const st_kernels st_kernels_avx512_table = {
    .isa = "avx512",
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
    .silu_mul = silu_mul,
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
    .pack_row = {[ST_TYPE_Q8_0] = pack_row_q8_0, [ST_TYPE_Q4_0] = pack_row_q8_0, [ST_TYPE_Q5_0] = pack_row_q8_0},
    .quantize_pack_q8_0 = quantize_pack_q8_0,
    .gemm_panel = {[ST_TYPE_Q8_0] = gemm_panel_q8_0, [ST_TYPE_Q4_0] = gemm_panel_q4_0, [ST_TYPE_Q5_0] = gemm_panel_q5_0,
                   [ST_TYPE_Q4_K] = gemm_panel_q4_K, [ST_TYPE_Q5_K] = gemm_panel_q5_K, [ST_TYPE_Q6_K] = gemm_panel_q6_K},
    /* bench_kernels 896 4864 1, cache 1 thread: Q4_K panel 41 GB/s vs vec_dot 25,
     * Q5_K 41 vs 27; Q6_K panel 31 vs vec_dot 43 */
    .gemm_panel_decode = {[ST_TYPE_Q4_K] = 1, [ST_TYPE_Q5_K] = 1},
    .gemm_packed = {[ST_TYPE_Q8_0] = gemm_packed_q8_0, [ST_TYPE_Q4_0] = gemm_packed_q4_0, [ST_TYPE_Q5_0] = gemm_packed_q5_0,
                    [ST_TYPE_Q4_K] = gemm_packed_q4_K, [ST_TYPE_Q5_K] = gemm_packed_q5_K, [ST_TYPE_Q6_K] = gemm_packed_q6_K},
    .vec_dot_toks = {
        [ST_TYPE_F32] = vec_dot_toks_f32,
        [ST_TYPE_F16] = vec_dot_toks_f16,
        [ST_TYPE_BF16] = vec_dot_toks_bf16,
        [ST_TYPE_Q4_K] = vec_dot_toks_q4_K,
        [ST_TYPE_Q5_K] = vec_dot_toks_q5_K,
        [ST_TYPE_Q6_K] = vec_dot_toks_q6_K,
    },
};
