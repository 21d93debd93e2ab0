/* Detokenization: per-token byte pieces (computed once at load), whole-sequence
 * decode, and a streaming decoder that only ever emits whole UTF-8 characters. */
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "tokenizer/tokenizer.h"

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Write the piece of token id into o (room for 3 * len bytes); returns its length. */
static size_t render(const st_tokenizer *t, st_token id, char *o) {
    size_t len;
    const char *s = st_tok_text(t, id, &len);
    switch (t->tok[id].type) {
    case ST_TOKEN_CONTROL:
    case ST_TOKEN_UNKNOWN:
    case ST_TOKEN_USER_DEFINED:
        memcpy(o, s, len);
        return len;
    case ST_TOKEN_BYTE:
        if (len == 6 && s[0] == '<' && s[1] == '0' && s[2] == 'x' && s[5] == '>' && hexval(s[3]) >= 0 &&
            hexval(s[4]) >= 0) {
            o[0] = (char)(hexval(s[3]) * 16 + hexval(s[4]));
            return 1;
        }
        memcpy(o, s, len);
        return len;
    case ST_TOKEN_NORMAL: break;
    default: return 0; /* unused / undefined tokens decode to nothing, as in llama.cpp */
    }
    size_t k = 0;
    if (t->kind == ST_VOCAB_SPM) {
        for (size_t i = 0; i < len;) {
            if (i + 3 <= len && !memcmp(s + i, "\xE2\x96\x81", 3)) { o[k++] = ' '; i += 3; }
            else o[k++] = s[i++];
        }
        return k;
    }
    /* byte-level: each character stands for one byte */
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        int l = st_utf8_seq(u + i, len - i);
        if (l <= 0) { o[k++] = s[i++]; continue; }
        int b = st_bpe_cp_byte(st_utf8_decode(u + i, l));
        if (b >= 0) o[k++] = (char)b;
        else { memcpy(o + k, s + i, (size_t)l); k += (size_t)l; } /* not a byte character: keep it */
        i += (size_t)l;
    }
    return k;
}

st_status st_tok_build_pieces(st_tokenizer *t) {
    t->piece_off = malloc(sizeof *t->piece_off * ((size_t)t->n_vocab + 1));
    /* a piece is never longer than its text */
    t->piece_pool = malloc(t->text_pool_len + 1);  /* pool entries are len + 1 bytes too */
    if (!t->piece_off || !t->piece_pool) return st_errorf(ST_E_NOMEM, "tokenizer: out of memory");
    size_t k = 0;
    for (int i = 0; i < t->n_vocab; i++) {
        t->piece_off[i] = (uint32_t)k;
        size_t l = render(t, i, t->piece_pool + k);
        if (l > t->max_piece) t->max_piece = (uint32_t)l;
        t->piece_pool[k + l] = 0; /* callers may print a piece with %s */
        k += l + 1;
    }
    t->piece_off[t->n_vocab] = (uint32_t)k;
    return ST_OK;
}

const char *st_token_piece(const st_tokenizer *t, st_token id, size_t *len) {
    if (!t || id < 0 || id >= t->n_vocab) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = t->piece_off[id + 1] - t->piece_off[id] - 1;
    return t->piece_pool + t->piece_off[id];
}

/* Piece as decoding shows it: control/unknown tokens vanish unless SPECIAL. */
static const char *visible_piece(const st_tokenizer *t, st_token id, unsigned flags, size_t *len) {
    int ty = t->tok[id].type;
    if (!(flags & ST_DETOK_SPECIAL) && (ty == ST_TOKEN_CONTROL || ty == ST_TOKEN_UNKNOWN)) {
        *len = 0;
        return "";
    }
    return st_token_piece(t, id, len);
}

/* llama.cpp's decode clean-up for vocabularies converted with clean_up_tokenization_spaces */
static size_t clean_spaces(char *text, size_t total) {
    size_t n1 = total, k = total ? 1 : 0;
    for (size_t i = 1; i < n1; i++) {
        char x = text[i];
        if (text[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) k--;
        text[k++] = x;
    }
    size_t n2 = k;
    k = n2 ? 1 : 0;
    for (size_t i = 1; i < n2; i++) {
        char x = text[i];
        if (x == '\'' && i + 1 < n2 && text[i - 1] == ' ' && text[i + 1] == ' ') {
            k--;
            text[++i] = 0;
        }
        text[k++] = x;
    }
    size_t n3 = k;
    k = n3 ? 1 : 0;
    for (size_t i = 1; i < n3; i++) {
        char x = text[i];
        if (text[i - 1] == ' ' && x == '\'' && i + 1 < n3) {
            char x1 = text[i + 1];
            if (x1 == 's' || x1 == 'm') k--;
            else if (i + 2 < n3 && ((x1 == 'r' && text[i + 2] == 'e') || (x1 == 'v' && text[i + 2] == 'e'))) k--;
        }
        text[k++] = x;
    }
    return k;
}

st_status st_detokenize(const st_tokenizer *t, const st_token *ids, int n, unsigned flags, char *out,
                        size_t cap, size_t *len) {
    if (len) *len = 0;
    if (!t || !len || n < 0 || (n && !ids) || (cap && !out)) return st_errorf(ST_E_ARG, "detokenize: invalid argument");
    int strip = t->kind == ST_VOCAB_SPM && t->add_space_prefix && !(flags & ST_DETOK_KEEP_SPACE);
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->n_vocab)
            return st_errorf(ST_E_ARG, "detokenize: token id %d out of range [0, %d)", ids[i], t->n_vocab);
        size_t l;
        visible_piece(t, ids[i], flags, &l);
        total += l;
    }
    char *buf = malloc(total + 1);
    if (!buf) return st_errorf(ST_E_NOMEM, "detokenize: out of memory");
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        size_t l;
        const char *p = visible_piece(t, ids[i], flags, &l);
        if (!l) continue; /* tokens that show nothing (BOS) do not use up the space rule */
        if (strip) {
            if (p[0] == ' ') { p++; l--; }
            strip = 0;
        }
        memcpy(buf + k, p, l);
        k += l;
    }
    if ((flags & ST_DETOK_CLEAN) && t->clean_spaces) k = clean_spaces(buf, k);
    *len = k;
    st_status st = ST_OK;
    if (k <= cap) {
        if (k) memcpy(out, buf, k);
        if (k < cap) out[k] = 0;
    } else {
        st = st_errorf(ST_E_FULL, "detokenize: %zu bytes do not fit in %zu", k, cap);
    }
    free(buf);
    return st;
}

/* ---------------------------------------------------------------- streaming */

void st_detok_stream_init(st_detok_stream *s, const st_tokenizer *t, unsigned flags) {
    memset(s, 0, sizeof *s);
    s->tok = t;
    s->flags = flags;
}

size_t st_detok_stream_max_out(const st_tokenizer *t) {
    return 3 * ((size_t)t->max_piece + 4) + 1;
}

/* Emit the complete characters of in[0..n); an incomplete tail goes to *keep. */
static size_t emit_utf8(const unsigned char *in, size_t n, char *out, int final, unsigned char *keep, int *nkeep) {
    size_t k = 0;
    *nkeep = 0;
    for (size_t i = 0; i < n;) {
        int l = st_utf8_seq(in + i, n - i);
        if (l > 0) {
            if (out) memcpy(out + k, in + i, (size_t)l);
            k += (size_t)l;
            i += (size_t)l;
        } else if (l < 0 && !final) {
            /* a character cut at the end of the input: wait for its other bytes */
            *nkeep = (int)(n - i);
            if (keep) memcpy(keep, in + i, n - i);
            break;
        } else {
            if (out) memcpy(out + k, "\xEF\xBF\xBD", 3);
            k += 3;
            i++;
        }
    }
    return k;
}

static st_status stream_emit(st_detok_stream *s, const char *p, size_t l, int final, char *out, size_t cap,
                             size_t *len) {
    unsigned char tmp[64], *in = tmp;
    size_t n = (size_t)s->n_pend + l;
    if (n > sizeof tmp && !(in = malloc(n))) return st_errorf(ST_E_NOMEM, "detokenize: out of memory");
    memcpy(in, s->pend, (size_t)s->n_pend);
    if (l) memcpy(in + s->n_pend, p, l);
    int nkeep;
    size_t need = emit_utf8(in, n, NULL, final, NULL, &nkeep);
    *len = need;
    st_status st = ST_OK;
    if (need > cap) {
        st = st_errorf(ST_E_FULL, "detokenize: %zu bytes do not fit in %zu", need, cap);
    } else {
        unsigned char keep[4];
        emit_utf8(in, n, out, final, keep, &nkeep);
        memcpy(s->pend, keep, (size_t)nkeep);
        s->n_pend = nkeep;
        if (need < cap) out[need] = 0;
    }
    if (in != tmp) free(in);
    return st;
}

st_status st_detok_stream_push(st_detok_stream *s, st_token id, char *out, size_t cap, size_t *len) {
    if (len) *len = 0;
    if (!s || !s->tok || !len || (cap && !out)) return st_errorf(ST_E_ARG, "detokenize: invalid argument");
    const st_tokenizer *t = s->tok;
    if (id < 0 || id >= t->n_vocab) return st_errorf(ST_E_ARG, "detokenize: token id %d out of range [0, %d)", id, t->n_vocab);
    size_t l;
    const char *p = visible_piece(t, id, s->flags, &l);
    int strip = 0;
    if (l && !s->started) {
        strip = t->kind == ST_VOCAB_SPM && t->add_space_prefix && !(s->flags & ST_DETOK_KEEP_SPACE) && p[0] == ' ';
        if (strip) { p++; l--; }
    }
    st_status st = stream_emit(s, p, l, 0, out, cap, len);
    if (!st && (l || strip)) s->started = 1;
    return st;
}

st_status st_detok_stream_flush(st_detok_stream *s, char *out, size_t cap, size_t *len) {
    if (len) *len = 0;
    if (!s || !len || (cap && !out)) return st_errorf(ST_E_ARG, "detokenize: invalid argument");
    return stream_emit(s, NULL, 0, 1, out, cap, len);
}
