/* IEEE half and bfloat16 conversions (scalar, exact; the spec for SIMD versions). */
#ifndef ST_CORE_FP16_H
#define ST_CORE_FP16_H
#include <stdint.h>
#include <string.h>

typedef uint16_t st_f16;  /* IEEE 754 binary16 bits */
typedef uint16_t st_bf16; /* bfloat16 bits */

static inline float st_f32_from_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline uint32_t st_f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

static inline float st_f16_to_f32(st_f16 h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    if (exp == 0) {
        if (man == 0) return st_f32_from_bits(sign);
        /* subnormal: value = man * 2^-24 */
        float v = (float)man * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    if (exp == 31) return st_f32_from_bits(sign | 0x7f800000u | (man << 13));
    return st_f32_from_bits(sign | ((exp + 112) << 23) | (man << 13));
}

/* Round to nearest even, as the hardware conversion does. */
static inline st_f16 st_f32_to_f16(float f) {
    uint32_t x = st_f32_bits(f);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return (st_f16)(sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0));
    if (ax >= 0x477ff000u) return (st_f16)(sign | 0x7c00); /* overflow -> inf */
    if (ax < 0x38800000u) { /* subnormal or zero in half */
        float a = st_f32_from_bits(ax);
        /* a * 2^24 rounded to nearest even */
        float s = a * 16777216.0f;
        uint32_t m = (uint32_t)s;
        float frac = s - (float)m;
        if (frac > 0.5f || (frac == 0.5f && (m & 1))) m++;
        return (st_f16)(sign | m);
    }
    uint32_t e = (ax >> 23) - 112;
    uint32_t m = ax & 0x7fffff;
    uint32_t h = (e << 10) | (m >> 13);
    uint32_t rest = m & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;
    return (st_f16)(sign | h);
}

static inline float st_bf16_to_f32(st_bf16 b) { return st_f32_from_bits((uint32_t)b << 16); }

static inline st_bf16 st_f32_to_bf16(float f) {
    uint32_t x = st_f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (st_bf16)((x >> 16) | 64); /* quiet NaN */
    return (st_bf16)((x + (0x7fff + ((x >> 16) & 1))) >> 16);
}
#endif
