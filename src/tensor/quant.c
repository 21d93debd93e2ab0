/* Tensor element types: scalar (de)quantizers and the traits table.
 *
 * Dequantizers reproduce ggml's arithmetic operation for operation (same
 * products in the same order, no fused multiply-add) so that they are
 * bit-exact with the reference reader. The activation quantizers (Q8_0, Q8_1,
 * Q8_K) reproduce ggml's reference rounding, because our quantized dot
 * products must see the same integers llama.cpp does. The weight quantizers
 * use the same weighted least-squares searches as llama.cpp's reference
 * quantizers, closely enough that they reproduce llama-quantize's output (no
 * importance matrix) byte for byte but for rare float-rounding near-ties, so
 * models we synthesize are the ones llama.cpp would make. */
#include "tensor/quant.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* Bit-exactness needs a*b - c rounded twice, never fused: GCC in ISO mode
 * (-std=c11) does not contract; clang does by default when FMA is enabled. */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#define MAXI(a, b) ((a) > (b) ? (a) : (b))
#define MINI(a, b) ((a) < (b) ? (a) : (b))
#define CLAMPI(v, lo, hi) MINI(MAXI((v), (lo)), (hi))

/* Round half to even under the default rounding mode, like ggml's nearest_int
 * (its magic-number trick); roundf would round halves away from zero. */
static inline int nearest(float x) { return (int)lrintf(x); }

static inline float h2f(st_f16 h) { return st_f16_to_f32(h); }
static inline st_f16 f2h(float f) { return st_f32_to_f16(f); }

/* ================================================================ float types */

static void deq_f32(const void *src, float *y, int64_t n) { memcpy(y, src, (size_t)n * sizeof(float)); }
static void quant_f32(const float *x, void *dst, int64_t n) { memcpy(dst, x, (size_t)n * sizeof(float)); }

static void deq_f16(const void *src, float *y, int64_t n) {
    const st_f16 *h = src;
    for (int64_t i = 0; i < n; i++) y[i] = st_f16_to_f32(h[i]);
}
static void quant_f16(const float *x, void *dst, int64_t n) {
    st_f16 *h = dst;
    for (int64_t i = 0; i < n; i++) h[i] = st_f32_to_f16(x[i]);
}

static void deq_bf16(const void *src, float *y, int64_t n) {
    const st_bf16 *h = src;
    for (int64_t i = 0; i < n; i++) y[i] = st_bf16_to_f32(h[i]);
}
static void quant_bf16(const float *x, void *dst, int64_t n) {
    st_bf16 *h = dst;
    for (int64_t i = 0; i < n; i++) h[i] = st_f32_to_bf16(x[i]);
}

/* ================================================================ 32-element blocks
 * Nibble layout shared by Q4_x/Q5_x: byte j holds element j (low) and j+16 (high);
 * Q5_x keep the fifth bit of element j in bit j of qh (little-endian u32). */

/* The signed value of largest magnitude: the 0-type formats map it onto the
 * extra negative level (-8 / -16), gaining one level of precision. */
static float signed_absmax(const float *x, int n) {
    float amax = 0, max = 0;
    for (int j = 0; j < n; j++)
        if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); max = x[j]; }
    return max;
}

static void min_max(const float *x, int n, float *lo, float *hi) {
    *lo = FLT_MAX; *hi = -FLT_MAX;
    for (int j = 0; j < n; j++) {
        if (x[j] < *lo) *lo = x[j];
        if (x[j] > *hi) *hi = x[j];
    }
}

static void deq_q4_0(const void *src, float *y, int64_t n) {
    const block_q4_0 *b = src;
    for (int64_t i = 0; i < n / QK4_0; i++, y += QK4_0) {
        const float d = h2f(b[i].d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            y[j] = ((b[i].qs[j] & 15) - 8) * d;
            y[j + QK4_0 / 2] = ((b[i].qs[j] >> 4) - 8) * d;
        }
    }
}

static void quant_q4_0(const float *x, void *dst, int64_t n) {
    block_q4_0 *b = dst;
    for (int64_t i = 0; i < n / QK4_0; i++, x += QK4_0) {
        const float d = signed_absmax(x, QK4_0) / -8, id = d ? 1.0f / d : 0.0f;
        b[i].d = f2h(d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            /* +8.5 then truncation: round half up into [0, 16]; 16 only for the max itself */
            int q0 = MINI(15, (int)(x[j] * id + 8.5f));
            int q1 = MINI(15, (int)(x[j + QK4_0 / 2] * id + 8.5f));
            b[i].qs[j] = (uint8_t)(q0 | q1 << 4);
        }
    }
}

static void deq_q4_1(const void *src, float *y, int64_t n) {
    const block_q4_1 *b = src;
    for (int64_t i = 0; i < n / QK4_1; i++, y += QK4_1) {
        const float d = h2f(b[i].d), m = h2f(b[i].m);
        for (int j = 0; j < QK4_1 / 2; j++) {
            y[j] = (b[i].qs[j] & 15) * d + m;
            y[j + QK4_1 / 2] = (b[i].qs[j] >> 4) * d + m;
        }
    }
}

static void quant_q4_1(const float *x, void *dst, int64_t n) {
    block_q4_1 *b = dst;
    for (int64_t i = 0; i < n / QK4_1; i++, x += QK4_1) {
        float lo, hi;
        min_max(x, QK4_1, &lo, &hi);
        const float d = (hi - lo) / 15, id = d ? 1.0f / d : 0.0f;
        b[i].d = f2h(d);
        b[i].m = f2h(lo);
        for (int j = 0; j < QK4_1 / 2; j++) {
            int q0 = MINI(15, (int)((x[j] - lo) * id + 0.5f));
            int q1 = MINI(15, (int)((x[j + QK4_1 / 2] - lo) * id + 0.5f));
            b[i].qs[j] = (uint8_t)(q0 | q1 << 4);
        }
    }
}

/* 5-bit values of a Q5_x block, unpacked. */
static void unpack_q5(const uint8_t qs[16], const uint8_t qh4[4], int q[32]) {
    uint32_t qh;
    memcpy(&qh, qh4, 4);
    for (int j = 0; j < 16; j++) {
        q[j] = (qs[j] & 15) | (int)((qh >> j) & 1) << 4;
        q[j + 16] = (qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
    }
}

static void pack_q5(const int q[32], uint8_t qs[16], uint8_t qh4[4]) {
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((q[j] & 15) | (q[j + 16] & 15) << 4);
        qh |= (uint32_t)(q[j] >> 4) << j | (uint32_t)(q[j + 16] >> 4) << (j + 16);
    }
    memcpy(qh4, &qh, 4);
}

static void deq_q5_0(const void *src, float *y, int64_t n) {
    const block_q5_0 *b = src;
    int q[32];
    for (int64_t i = 0; i < n / QK5_0; i++, y += QK5_0) {
        const float d = h2f(b[i].d);
        unpack_q5(b[i].qs, b[i].qh, q);
        for (int j = 0; j < QK5_0; j++) y[j] = (q[j] - 16) * d;
    }
}

static void quant_q5_0(const float *x, void *dst, int64_t n) {
    block_q5_0 *b = dst;
    int q[32];
    for (int64_t i = 0; i < n / QK5_0; i++, x += QK5_0) {
        const float d = signed_absmax(x, QK5_0) / -16, id = d ? 1.0f / d : 0.0f;
        b[i].d = f2h(d);
        for (int j = 0; j < QK5_0; j++) q[j] = MINI(31, (int)(x[j] * id + 16.5f));
        pack_q5(q, b[i].qs, b[i].qh);
    }
}

static void deq_q5_1(const void *src, float *y, int64_t n) {
    const block_q5_1 *b = src;
    int q[32];
    for (int64_t i = 0; i < n / QK5_1; i++, y += QK5_1) {
        const float d = h2f(b[i].d), m = h2f(b[i].m);
        unpack_q5(b[i].qs, b[i].qh, q);
        for (int j = 0; j < QK5_1; j++) y[j] = q[j] * d + m;
    }
}

static void quant_q5_1(const float *x, void *dst, int64_t n) {
    block_q5_1 *b = dst;
    int q[32];
    for (int64_t i = 0; i < n / QK5_1; i++, x += QK5_1) {
        float lo, hi;
        min_max(x, QK5_1, &lo, &hi);
        const float d = (hi - lo) / 31, id = d ? 1.0f / d : 0.0f;
        b[i].d = f2h(d);
        b[i].m = f2h(lo);
        for (int j = 0; j < QK5_1; j++) q[j] = MINI(31, (int)((x[j] - lo) * id + 0.5f));
        pack_q5(q, b[i].qs, b[i].qh);
    }
}

static void deq_q8_0(const void *src, float *y, int64_t n) {
    const block_q8_0 *b = src;
    for (int64_t i = 0; i < n / QK8_0; i++, y += QK8_0) {
        const float d = h2f(b[i].d);
        for (int j = 0; j < QK8_0; j++) y[j] = b[i].qs[j] * d;
    }
}

/* Q8_0/Q8_1 as ggml's reference: d = amax/127 kept in f32 while quantizing
 * (only the stored copy is f16), roundf (halves away from zero). */
static float quant_8bit(const float *x, int8_t *qs, int n) {
    float amax = 0;
    for (int j = 0; j < n; j++) amax = fmaxf(amax, fabsf(x[j]));
    const float d = amax / 127, id = d ? 1.0f / d : 0.0f;
    for (int j = 0; j < n; j++) qs[j] = (int8_t)roundf(x[j] * id);
    return d;
}

static void quant_q8_0(const float *x, void *dst, int64_t n) {
    block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / QK8_0; i++, x += QK8_0) b[i].d = f2h(quant_8bit(x, b[i].qs, QK8_0));
}

static void deq_q8_1(const void *src, float *y, int64_t n) {
    const block_q8_1 *b = src;
    for (int64_t i = 0; i < n / QK8_1; i++, y += QK8_1) {
        const float d = h2f(b[i].d);
        for (int j = 0; j < QK8_1; j++) y[j] = b[i].qs[j] * d;
    }
}

/* s carries the block's contribution of a Q4_1/Q5_1 min: m * sum(x) ~= m * s. */
static void quant_q8_1(const float *x, void *dst, int64_t n) {
    block_q8_1 *b = dst;
    for (int64_t i = 0; i < n / QK8_1; i++, x += QK8_1) {
        const float d = quant_8bit(x, b[i].qs, QK8_1);
        int sum = 0;
        for (int j = 0; j < QK8_1; j++) sum += b[i].qs[j];
        b[i].d = f2h(d);
        b[i].s = f2h((float)sum * d);
    }
}

/* ================================================================ K-quants: helpers */

/* Scale s minimising sum w (x - s*l)^2 with integer l in [-nmax, nmax-1]. The
 * first trial puts the largest |x| on the lone extra level -nmax; nearby step
 * sizes are tried too, each refined by least squares, and the best kept.
 * L gets l + nmax. */
static float fit_symmetric(int n, int nmax, const float *x, const float *w, uint8_t *L) {
    const float max = signed_absmax(x, n);
    if (fabsf(max) < 1e-15f) {
        memset(L, 0, (size_t)n); /* any level decodes to 0 with a zero scale */
        return 0;
    }
    /* error = sum w x^2 - slx^2/sll, so the best trial maximises slx^2/sll */
    float best_s = 0, best = 0, best_is = 0;
    for (int k = 0; k <= 19; k++) {
        const int step = k == 0 ? 0 : k <= 9 ? k - 10 : k - 9; /* 0, then -9..-1, 1..9 */
        const float is = -(nmax + 0.1f * step) / max;
        float slx = 0, sll = 0;
        for (int i = 0; i < n; i++) {
            int l = CLAMPI(nearest(is * x[i]), -nmax, nmax - 1);
            slx += w[i] * x[i] * l;
            sll += w[i] * l * l;
        }
        if (k == 0 || (sll > 0 && slx * slx > best * sll)) {
            best_s = sll > 0 ? slx / sll : 0;
            best = best_s * slx;
            best_is = is;
        }
    }
    for (int i = 0; i < n; i++) L[i] = (uint8_t)(CLAMPI(nearest(best_is * x[i]), -nmax, nmax - 1) + nmax);
    return best_s;
}

/* x ~= s*l - m with l in [0, nmax], s > 0, m >= 0 (the K formats store the min
 * as an offset that is subtracted). Trial step sizes span [offset, hi]; each is
 * refined by weighted least squares for both s and m, and later trials start
 * from the best offset so far, which makes the search an iterative refinement
 * (as llama.cpp's make_qkx2_quants does). *m_out gets m. */
static float fit_affine(int n, int nmax, const float *x, const float *w, uint8_t *L, float *m_out,
                        float rmin, float rdelta, int nstep) {
    float lo = x[0], hi = x[0], sw = 0, sx = 0;
    for (int i = 0; i < n; i++) {
        lo = fminf(lo, x[i]);
        hi = fmaxf(hi, x[i]);
        sw += w[i];
        sx += w[i] * x[i];
    }
    if (lo > 0) lo = 0; /* a positive offset cannot be represented */
    if (hi == lo) {
        memset(L, 0, (size_t)n);
        *m_out = -lo;
        return 0;
    }
    float s = (hi - lo) / nmax, best = 0;
    for (int i = 0; i < n; i++) {
        L[i] = (uint8_t)CLAMPI(nearest((x[i] - lo) / s), 0, nmax);
        float e = s * L[i] + lo - x[i];
        best += w[i] * e * e;
    }
    uint8_t T[32];
    for (int k = 0; k <= nstep && hi > lo; k++) {
        const float is = (nmax + rmin + rdelta * k) / (hi - lo);
        float sl = 0, sll = 0, sxl = 0;
        for (int i = 0; i < n; i++) {
            int l = CLAMPI(nearest(is * (x[i] - lo)), 0, nmax);
            T[i] = (uint8_t)l;
            sl += w[i] * l;
            sll += w[i] * l * l;
            sxl += w[i] * l * x[i];
        }
        const float D = sw * sll - sl * sl;
        if (D <= 0) continue;
        float ts = (sw * sxl - sx * sl) / D, tm = (sll * sx - sl * sxl) / D;
        if (tm > 0) { tm = 0; ts = sxl / sll; }
        if (!(ts > 0)) continue;
        float err = 0;
        for (int i = 0; i < n; i++) {
            float e = ts * T[i] + tm - x[i];
            err += w[i] * e * e;
        }
        if (err < best) {
            best = err; s = ts; lo = tm;
            memcpy(L, T, (size_t)n);
        }
    }
    *m_out = -lo;
    return s;
}

/* Q4_K/Q5_K: eight 6-bit (scale, min) pairs in 12 bytes. Pairs 0-3 sit in the
 * low 6 bits of bytes 0-3 (scale) and 4-7 (min); pairs 4-7 keep their low
 * nibbles in bytes 8-11 and their top 2 bits in the spare bits 6-7 of bytes 0-7. */
static inline void get_scale_min_k4(int j, const uint8_t *q, int *sc, int *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 15) | (q[j - 4] >> 6) << 4;
        *m = (q[j + 4] >> 4) | (q[j] >> 6) << 4;
    }
}

static void set_scale_min_k4(int j, uint8_t *q, int sc, int m) {
    if (j < 4) {
        q[j] = (uint8_t)sc;
        q[j + 4] = (uint8_t)m;
    } else {
        q[j + 4] = (uint8_t)((sc & 15) | (m & 15) << 4);
        q[j - 4] |= (uint8_t)((sc >> 4) << 6);
        q[j] |= (uint8_t)((m >> 4) << 6);
    }
}

/* Shared Q4_K/Q5_K quantization of one super-block into levels L[256] in
 * [0, nmax] plus d, dmin, scales. Sub-block scales and mins are themselves
 * quantized to 6 bits against the super-block maxima; the levels are then
 * recomputed with the scales as stored so rounding of the scales is absorbed. */
static void quant_k_affine(const float *x, int nmax, float rmin, float rdelta, int nstep, uint8_t L[QK_K],
                           st_f16 *d_out, st_f16 *dmin_out, uint8_t scales[K_SCALE_SIZE]) {
    float sc[QK_K / 32], mn[QK_K / 32], w[32], max_sc = 0, max_mn = 0;
    for (int j = 0; j < QK_K / 32; j++) {
        const float *xb = x + 32 * j;
        float s2 = 0;
        for (int l = 0; l < 32; l++) s2 += xb[l] * xb[l];
        /* weight large values more, but keep small ones from being ignored */
        const float av = sqrtf(s2 / 32);
        for (int l = 0; l < 32; l++) w[l] = av + fabsf(xb[l]);
        sc[j] = fit_affine(32, nmax, xb, w, L + 32 * j, &mn[j], rmin, rdelta, nstep);
        max_sc = fmaxf(max_sc, sc[j]);
        max_mn = fmaxf(max_mn, mn[j]);
    }
    const float isc = max_sc > 0 ? 63 / max_sc : 0, imn = max_mn > 0 ? 63 / max_mn : 0;
    memset(scales, 0, K_SCALE_SIZE);
    for (int j = 0; j < QK_K / 32; j++)
        set_scale_min_k4(j, scales, MINI(63, nearest(isc * sc[j])), MINI(63, nearest(imn * mn[j])));
    *d_out = f2h(max_sc / 63);
    *dmin_out = f2h(max_mn / 63);
    const float d = h2f(*d_out), dmin = h2f(*dmin_out);
    for (int j = 0; j < QK_K / 32; j++) {
        int ls, lm;
        get_scale_min_k4(j, scales, &ls, &lm);
        const float dl = d * ls, ml = dmin * lm;
        if (!dl) continue; /* keep the fitted levels; they all decode to -ml anyway */
        for (int l = 0; l < 32; l++) L[32 * j + l] = (uint8_t)CLAMPI(nearest((x[32 * j + l] + ml) / dl), 0, nmax);
    }
}

/* ================================================================ Q2_K, Q3_K (decode only) */

static void deq_q2_K(const void *src, float *y, int64_t n) {
    const block_q2_K *b = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = h2f(b[i].d), dmin = h2f(b[i].dmin);
        const uint8_t *q = b[i].qs;
        int is = 0;
        /* 2-bit fields: each 128 outputs take one 32-byte run, shift 0,2,4,6 in turn */
        for (int h = 0; h < QK_K; h += 128, q += 32)
            for (int shift = 0; shift < 8; shift += 2)
                for (int half = 0; half < 32; half += 16) {
                    const uint8_t s = b[i].scales[is++];
                    const float dl = d * (s & 15), ml = dmin * (s >> 4);
                    for (int l = 0; l < 16; l++) *y++ = dl * ((q[half + l] >> shift) & 3) - ml;
                }
    }
}

/* Sixteen 6-bit signed scales (bias 32): low nibbles in bytes 0-7, top 2 bits in bytes 8-11. */
static int q3_K_scale(const uint8_t s[12], int j) {
    int lo = j < 8 ? s[j] & 15 : s[j - 8] >> 4;
    int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (lo | hi << 4) - 32;
}

static void deq_q3_K(const void *src, float *y, int64_t n) {
    const block_q3_K *b = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = h2f(b[i].d);
        const uint8_t *q = b[i].qs, *hm = b[i].hmask;
        int is = 0;
        uint8_t m = 1;
        for (int h = 0; h < QK_K; h += 128, q += 32)
            for (int shift = 0; shift < 8; shift += 2, m <<= 1)
                for (int half = 0; half < 32; half += 16) {
                    const float dl = d * q3_K_scale(b[i].scales, is++);
                    /* a clear hmask bit means the value is 4 lower */
                    for (int l = 0; l < 16; l++)
                        *y++ = dl * (((q[half + l] >> shift) & 3) - ((hm[half + l] & m) ? 0 : 4));
                }
    }
}

/* ================================================================ Q4_K */

static void deq_q4_K(const void *src, float *y, int64_t n) {
    const block_q4_K *b = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = h2f(b[i].d), dmin = h2f(b[i].dmin);
        const uint8_t *q = b[i].qs;
        for (int j = 0; j < QK_K / 32; j += 2, q += 32) {
            int sc, m;
            get_scale_min_k4(j, b[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = dmin * m;
            get_scale_min_k4(j + 1, b[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++) *y++ = d1 * (q[l] & 15) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (q[l] >> 4) - m2;
        }
    }
}

static void quant_q4_K(const float *x, void *dst, int64_t n) {
    block_q4_K *b = dst;
    uint8_t L[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        quant_k_affine(x, 15, -1.0f, 0.1f, 20, L, &b[i].d, &b[i].dmin, b[i].scales);
        /* 64 values per 32 bytes: low nibbles the first 32, high nibbles the next 32 */
        for (int j = 0; j < QK_K; j += 64)
            for (int l = 0; l < 32; l++) b[i].qs[j / 2 + l] = (uint8_t)(L[j + l] | L[j + l + 32] << 4);
    }
}

/* ================================================================ Q5_K */

static void deq_q5_K(const void *src, float *y, int64_t n) {
    const block_q5_K *b = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = h2f(b[i].d), dmin = h2f(b[i].dmin);
        const uint8_t *ql = b[i].qs, *qh = b[i].qh;
        uint8_t u1 = 1, u2 = 2;
        for (int j = 0; j < QK_K / 32; j += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
            int sc, m;
            get_scale_min_k4(j, b[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = dmin * m;
            get_scale_min_k4(j + 1, b[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++) *y++ = d1 * ((ql[l] & 15) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
        }
    }
}

static void quant_q5_K(const float *x, void *dst, int64_t n) {
    block_q5_K *b = dst;
    uint8_t L[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        quant_k_affine(x, 31, -0.5f, 0.1f, 15, L, &b[i].d, &b[i].dmin, b[i].scales);
        /* as Q4_K for the low nibbles; fifth bits of chunk c go to qh bits 2c and 2c+1 */
        memset(b[i].qh, 0, sizeof b[i].qh);
        for (int j = 0, c = 0; j < QK_K; j += 64, c++)
            for (int l = 0; l < 32; l++) {
                const int l1 = L[j + l], l2 = L[j + l + 32];
                b[i].qs[j / 2 + l] = (uint8_t)((l1 & 15) | (l2 & 15) << 4);
                b[i].qh[l] |= (uint8_t)((l1 >> 4) << (2 * c) | (l2 >> 4) << (2 * c + 1));
            }
    }
}

/* ================================================================ Q6_K */

static void deq_q6_K(const void *src, float *y, int64_t n) {
    const block_q6_K *b = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = h2f(b[i].d);
        const uint8_t *ql = b[i].ql, *qh = b[i].qh;
        const int8_t *sc = b[i].scales;
        /* per 128 outputs: 64 bytes of low nibbles, 32 bytes holding four 2-bit high parts */
        for (int h = 0; h < QK_K; h += 128, y += 128, ql += 64, qh += 32, sc += 8)
            for (int l = 0; l < 32; l++) {
                const int is = l / 16;
                const int q1 = ((ql[l] & 15) | ((qh[l] >> 0) & 3) << 4) - 32;
                const int q2 = ((ql[l + 32] & 15) | ((qh[l] >> 2) & 3) << 4) - 32;
                const int q3 = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
                const int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
                y[l] = d * sc[is] * q1;
                y[l + 32] = d * sc[is + 2] * q2;
                y[l + 64] = d * sc[is + 4] * q3;
                y[l + 96] = d * sc[is + 6] * q4;
            }
    }
}

static void quant_q6_K(const float *x, void *dst, int64_t n) {
    block_q6_K *b = dst;
    uint8_t L[QK_K];
    float sc[QK_K / 16], w[16];
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float max_sc = 0, amax_sc = 0;
        for (int j = 0; j < QK_K / 16; j++) {
            /* weight by x^2: the error on large weights matters most */
            for (int l = 0; l < 16; l++) w[l] = x[16 * j + l] * x[16 * j + l];
            sc[j] = fit_symmetric(16, 32, x + 16 * j, w, L + 16 * j);
            if (fabsf(sc[j]) > amax_sc) { amax_sc = fabsf(sc[j]); max_sc = sc[j]; }
        }
        memset(&b[i], 0, sizeof b[i]);
        if (amax_sc < 1e-15f) continue; /* all zero: d = 0 */
        /* int8 scales: the largest goes to -128 (its sign folded into d) for one extra level */
        const float isc = -128 / max_sc;
        b[i].d = f2h(1 / isc);
        const float d = h2f(b[i].d);
        for (int j = 0; j < QK_K / 16; j++) {
            b[i].scales[j] = (int8_t)MINI(127, nearest(isc * sc[j]));
            const float dl = d * b[i].scales[j];
            if (!dl) continue;
            for (int l = 0; l < 16; l++)
                L[16 * j + l] = (uint8_t)(CLAMPI(nearest(x[16 * j + l] / dl), -32, 31) + 32);
        }
        uint8_t *ql = b[i].ql, *qh = b[i].qh;
        for (int j = 0; j < QK_K; j += 128, ql += 64, qh += 32)
            for (int l = 0; l < 32; l++) {
                const uint8_t *q = L + j + l;
                ql[l] = (uint8_t)((q[0] & 15) | (q[64] & 15) << 4);
                ql[l + 32] = (uint8_t)((q[32] & 15) | (q[96] & 15) << 4);
                qh[l] = (uint8_t)(q[0] >> 4 | (q[32] >> 4) << 2 | (q[64] >> 4) << 4 | (q[96] >> 4) << 6);
            }
    }
}

/* ================================================================ Q8_K (activations) */

static void deq_q8_K(const void *src, float *y, int64_t n) {
    const block_q8_K *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, y += QK_K)
        for (int j = 0; j < QK_K; j++) y[j] = b[i].d * b[i].qs[j];
}

/* As ggml's reference: the signed extreme maps to -127 exactly (d = 1/(-127/max),
 * computed that way round), halves to even, and bsums over groups of 16 so
 * K-quant dot products can apply the mins without touching the quants. */
static void quant_q8_K(const float *x, void *dst, int64_t n) {
    block_q8_K *b = dst;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        const float max = signed_absmax(x, QK_K);
        if (max == 0) {
            memset(&b[i], 0, sizeof b[i]);
            continue;
        }
        const float is = -127.f / max;
        for (int j = 0; j < QK_K; j++) b[i].qs[j] = (int8_t)MINI(127, nearest(is * x[j]));
        for (int g = 0; g < QK_K / 16; g++) {
            int sum = 0;
            for (int l = 0; l < 16; l++) sum += b[i].qs[16 * g + l];
            b[i].bsums[g] = (int16_t)sum;
        }
        b[i].d = 1 / is;
    }
}

/* ================================================================ traits */

#define T(id, nm, bs, sz, q, c, tf, ff, vd) [id] = {nm, bs, sz, q, c, tf, ff, vd}
static const st_type_traits g_traits[ST_TYPE_COUNT] = {
    T(ST_TYPE_F32, "F32", 1, 4, 0, 1, deq_f32, quant_f32, ST_TYPE_F32),
    T(ST_TYPE_F16, "F16", 1, 2, 0, 1, deq_f16, quant_f16, ST_TYPE_F16),
    T(ST_TYPE_BF16, "BF16", 1, 2, 0, 1, deq_bf16, quant_bf16, ST_TYPE_BF16),
    T(ST_TYPE_Q4_0, "Q4_0", QK4_0, sizeof(block_q4_0), 1, 1, deq_q4_0, quant_q4_0, ST_TYPE_Q8_0),
    T(ST_TYPE_Q4_1, "Q4_1", QK4_1, sizeof(block_q4_1), 1, 1, deq_q4_1, quant_q4_1, ST_TYPE_Q8_1),
    T(ST_TYPE_Q5_0, "Q5_0", QK5_0, sizeof(block_q5_0), 1, 1, deq_q5_0, quant_q5_0, ST_TYPE_Q8_0),
    T(ST_TYPE_Q5_1, "Q5_1", QK5_1, sizeof(block_q5_1), 1, 1, deq_q5_1, quant_q5_1, ST_TYPE_Q8_1),
    T(ST_TYPE_Q8_0, "Q8_0", QK8_0, sizeof(block_q8_0), 1, 1, deq_q8_0, quant_q8_0, ST_TYPE_Q8_0),
    T(ST_TYPE_Q8_1, "Q8_1", QK8_1, sizeof(block_q8_1), 1, 0, deq_q8_1, quant_q8_1, ST_TYPE_Q8_1),
    T(ST_TYPE_Q2_K, "Q2_K", QK_K, sizeof(block_q2_K), 1, 0, deq_q2_K, NULL, ST_TYPE_Q8_K),
    T(ST_TYPE_Q3_K, "Q3_K", QK_K, sizeof(block_q3_K), 1, 0, deq_q3_K, NULL, ST_TYPE_Q8_K),
    T(ST_TYPE_Q4_K, "Q4_K", QK_K, sizeof(block_q4_K), 1, 1, deq_q4_K, quant_q4_K, ST_TYPE_Q8_K),
    T(ST_TYPE_Q5_K, "Q5_K", QK_K, sizeof(block_q5_K), 1, 1, deq_q5_K, quant_q5_K, ST_TYPE_Q8_K),
    T(ST_TYPE_Q6_K, "Q6_K", QK_K, sizeof(block_q6_K), 1, 1, deq_q6_K, quant_q6_K, ST_TYPE_Q8_K),
    T(ST_TYPE_Q8_K, "Q8_K", QK_K, sizeof(block_q8_K), 1, 0, deq_q8_K, quant_q8_K, ST_TYPE_Q8_K),
};
#undef T

const st_type_traits *st_type_traits_get(int type) {
    if (type < 0 || type >= ST_TYPE_COUNT || !g_traits[type].name) return NULL;
    return &g_traits[type];
}

const char *st_type_name(int type) {
    const st_type_traits *t = st_type_traits_get(type);
    return t ? t->name : NULL;
}

size_t st_row_size(st_type type, int64_t n) {
    const st_type_traits *t = st_type_traits_get(type);
    return t ? (size_t)(n / t->blck_size) * t->type_size : 0;
}

/* Unsupported types leave dst untouched: callers check the traits first. */
void st_dequantize_row(st_type type, const void *src, float *dst, int64_t n) {
    const st_type_traits *t = st_type_traits_get(type);
    if (t && t->to_float) t->to_float(src, dst, n);
}

void st_quantize_row(st_type type, const float *src, void *dst, int64_t n) {
    const st_type_traits *t = st_type_traits_get(type);
    if (t && t->from_float) t->from_float(src, dst, n);
}
