/* UTF-8 validation and the GPT-2 byte <-> character map. */
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "tokenizer/tokenizer.h"

int st_utf8_seq(const unsigned char *s, size_t n) {
    if (n == 0) return 0;
    unsigned c = s[0];
    if (c < 0x80) return 1;
    int len;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;      /* overlong */
        else if (c == 0xED) hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;      /* overlong */
        else if (c == 0xF4) hi = 0x8F; /* > U+10FFFF */
    } else return 0;
    for (int i = 1; i < len; i++) {
        if ((size_t)i >= n) return -1;
        unsigned b = s[i];
        if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return 0;
    }
    return len;
}

uint32_t st_utf8_decode(const unsigned char *s, int len) {
    switch (len) {
    case 1: return s[0];
    case 2: return ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
    case 3: return ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
    default:
        return ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
               ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
    }
}

int st_utf8_encode(uint32_t cp, char *o) {
    unsigned char *u = (unsigned char *)o;
    if (cp < 0x80) { u[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) { u[0] = 0xC0 | (cp >> 6); u[1] = 0x80 | (cp & 0x3F); return 2; }
    if (cp < 0x10000) {
        u[0] = 0xE0 | (cp >> 12); u[1] = 0x80 | ((cp >> 6) & 0x3F); u[2] = 0x80 | (cp & 0x3F);
        return 3;
    }
    u[0] = 0xF0 | (cp >> 18); u[1] = 0x80 | ((cp >> 12) & 0x3F);
    u[2] = 0x80 | ((cp >> 6) & 0x3F); u[3] = 0x80 | (cp & 0x3F);
    return 4;
}

st_status st_utf8_sanitize(const char *src, size_t n, char **dst, size_t *dn) {
    const unsigned char *s = (const unsigned char *)src;
    size_t bad = 0;
    for (size_t i = 0; i < n;) {
        int l = st_utf8_seq(s + i, n - i);
        if (l > 0) i += (size_t)l;
        else { bad++; i++; }
    }
    /* each bad byte grows by 2 (1 byte -> EF BF BD) */
    char *o = malloc(n + 2 * bad + 1);
    if (!o) return st_errorf(ST_E_NOMEM, "tokenize: out of memory");
    size_t k = 0;
    if (!bad) {
        memcpy(o, src, n);
        k = n;
    } else {
        for (size_t i = 0; i < n;) {
            int l = st_utf8_seq(s + i, n - i);
            if (l > 0) { memcpy(o + k, s + i, (size_t)l); k += (size_t)l; i += (size_t)l; }
            else { memcpy(o + k, "\xEF\xBF\xBD", 3); k += 3; i++; }
        }
    }
    o[k] = 0;
    *dst = o;
    *dn = k;
    return ST_OK;
}

/* GPT-2 maps the 188 printable Latin-1 bytes to themselves and the other 68
 * bytes to U+0100.. in byte order, so that every byte is a visible character. */
static int printable_byte(int b) {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

uint32_t st_bpe_byte_cp(int byte) {
    if (printable_byte(byte)) return (uint32_t)byte;
    int n = 0;
    for (int b = 0; b < byte; b++) n += !printable_byte(b);
    return 256u + (uint32_t)n;
}

int st_bpe_cp_byte(uint32_t cp) {
    if (cp < 256) return printable_byte((int)cp) ? (int)cp : -1;
    if (cp >= 256 + 68) return -1;
    int n = (int)(cp - 256);
    for (int b = 0; b < 256; b++)
        if (!printable_byte(b) && n-- == 0) return b;
    return -1;
}
