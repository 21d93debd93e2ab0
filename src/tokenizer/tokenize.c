/* st_tokenize: UTF-8 clean-up, special-token partition, BOS/EOS, dispatch to BPE or SPM.
 *
 * The partition follows llama.cpp: special tokens are taken longest first, each
 * one splitting every raw-text fragment at its leftmost non-overlapping
 * occurrences; the raw fragments left over are then tokenized separately. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "tokenizer/tokenizer.h"

static inline int bit(const uint8_t *set, unsigned i) { return set[i >> 3] >> (i & 7) & 1; }

st_status st_tok_build_special_index(st_tokenizer *t) {
    int ns = t->n_specials;
    /* specials are sorted longest first, so the levels come out longest first */
    t->level_len = malloc(sizeof *t->level_len * (size_t)(ns ? ns : 1));
    t->level_first = calloc((size_t)(ns ? ns : 1), sizeof *t->level_first);
    uint32_t cap = 16;
    while (cap < (uint32_t)ns * 2u) cap <<= 1;
    t->spec_hash = calloc(cap, sizeof *t->spec_hash);
    if (!t->level_len || !t->level_first || !t->spec_hash) return st_errorf(ST_E_NOMEM, "tokenizer: out of memory");
    t->spec_hash_mask = cap - 1;
    for (int i = 0; i < ns; i++) {
        const st_tok_entry *e = &t->tok[t->specials[i]];
        const unsigned char *x = (const unsigned char *)t->text_pool + e->off;
        if (!t->n_levels || t->level_len[t->n_levels - 1] != e->len) t->level_len[t->n_levels++] = e->len;
        t->level_first[t->n_levels - 1][x[0] >> 3] |= (uint8_t)(1u << (x[0] & 7));
        unsigned k = (unsigned)x[0] << 8 | x[e->len - 1];
        t->spec_pair[k >> 3] |= (uint8_t)(1u << (k & 7));
        uint32_t h = (uint32_t)st_tok_hash(x, e->len) & t->spec_hash_mask;
        while (t->spec_hash[h]) h = (h + 1) & t->spec_hash_mask;
        t->spec_hash[h] = (uint32_t)t->specials[i] + 1;
    }
    return ST_OK;
}

static st_token spec_lookup(const st_tokenizer *t, const char *s, size_t n) {
    uint32_t i = (uint32_t)st_tok_hash(s, n) & t->spec_hash_mask;
    for (;;) {
        uint32_t v = t->spec_hash[i];
        if (!v) return -1;
        const st_tok_entry *e = &t->tok[v - 1];
        if (e->len == n && !memcmp(t->text_pool + e->off, s, n)) return (st_token)(v - 1);
        i = (i + 1) & t->spec_hash_mask;
    }
}

typedef struct occ {
    size_t pos, len;
    st_token id;
} occ;

typedef struct frag {
    size_t off, len;
    st_token id; /* -1: raw text */
} frag;

static int occ_by_id(const void *a, const void *b) {
    const occ *x = a, *y = b;
    if (x->id != y->id) return x->id < y->id ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int occ_by_pos(const void *a, const void *b) {
    const occ *x = a, *y = b;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int allowed_special(const st_tokenizer *t, st_token id, int parse_special) {
    int ty = t->tok[id].type;
    if (ty == ST_TOKEN_USER_DEFINED) return 1;
    return parse_special && (ty == ST_TOKEN_CONTROL || ty == ST_TOKEN_UNKNOWN);
}

static int occ_push(occ **v, size_t *n, size_t *cap, occ o) {
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        occ *nv = realloc(*v, nc * sizeof *nv);
        if (!nv) return -1;
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = o;
    return 0;
}

/* Split text into raw fragments and special tokens; *frags malloc'd.
 * Lengths are taken longest first; at each length every occurrence in still
 * raw text is found, then each token (by id) takes its leftmost
 * non-overlapping occurrences. Bytes are scanned once per length, and a
 * special token's bytes are never scanned again. */
static st_status partition(const st_tokenizer *t, const char *text, size_t n, int parse_special, frag **frags,
                           size_t *nfrags) {
    occ *acc = NULL, *lv = NULL;
    size_t nacc = 0, cacc = 0, nlv = 0, clv = 0;
    unsigned char *mask = NULL; /* 0 raw, 1 special token, 2 whitespace eaten by lstrip/rstrip */
    frag *f = NULL;
    size_t nf = 0;
    const unsigned char *u = (const unsigned char *)text;

    for (int li = 0; li < t->n_levels; li++) {
        size_t L = t->level_len[li];
        if (L > n) continue;
        const uint8_t *first = t->level_first[li];
        nlv = 0;
        for (size_t p = 0; p + L <= n; p++) {
            if (!bit(first, u[p]) || !bit(t->spec_pair, (unsigned)u[p] << 8 | u[p + L - 1])) continue;
            if (mask && (mask[p] || mask[p + L - 1])) continue;
            st_token id = spec_lookup(t, text + p, L);
            if (id < 0 || !allowed_special(t, id, parse_special)) continue;
            if (occ_push(&lv, &nlv, &clv, (occ){p, L, id})) goto nomem;
        }
        if (!nlv) continue;
        if (!mask && !(mask = calloc(n, 1))) goto nomem;
        /* found in position order; only several ids at one length need sorting */
        size_t same = 1;
        while (same < nlv && lv[same].id == lv[0].id) same++;
        if (same < nlv) qsort(lv, nlv, sizeof *lv, occ_by_id);
        for (size_t i = 0; i < nlv;) {
            st_token id = lv[i].id;
            size_t last_end = 0;
            for (; i < nlv && lv[i].id == id; i++) {
                size_t p = lv[i].pos, k = 0;
                if (p < last_end) continue;
                while (k < L && !mask[p + k]) k++;
                if (k < L) continue;
                memset(mask + p, 1, L);
                size_t end = p + L;
                if (t->tok[id].flags & ST_TF_LSTRIP)
                    for (size_t q = p; q > 0 && !mask[q - 1] && isspace(u[q - 1]); q--) mask[q - 1] = 2;
                if (t->tok[id].flags & ST_TF_RSTRIP)
                    while (end < n && !mask[end] && isspace(u[end])) mask[end++] = 2;
                last_end = end;
                if (occ_push(&acc, &nacc, &cacc, lv[i])) goto nomem;
            }
        }
    }
    if (nacc > 1) qsort(acc, nacc, sizeof *acc, occ_by_pos);

    f = malloc(sizeof *f * (2 * nacc + 1));
    if (!f) goto nomem;
    size_t p = 0;
    for (size_t i = 0; i <= nacc; i++) {
        size_t stop = i < nacc ? acc[i].pos : n;
        /* raw text up to the next token, minus stripped whitespace at its ends */
        size_t a = p, z = stop;
        while (a < z && mask && mask[a] == 2) a++;
        while (z > a && mask && mask[z - 1] == 2) z--;
        if (z > a) f[nf++] = (frag){a, z - a, -1};
        if (i < nacc) {
            f[nf++] = (frag){acc[i].pos, acc[i].len, acc[i].id};
            p = acc[i].pos + acc[i].len;
        }
    }
    *frags = f;
    *nfrags = nf;
    free(acc);
    free(lv);
    free(mask);
    return ST_OK;
nomem:
    free(acc);
    free(lv);
    free(mask);
    free(f);
    return st_errorf(ST_E_NOMEM, "tokenizer: out of memory");
}

/* SPM fragment: optional leading space, spaces spelled U+2581 */
static st_status spm_fragment(const st_tokenizer *t, const char *s, size_t n, int prefix, st_tokvec *out) {
    size_t spaces = prefix;
    for (size_t i = 0; i < n; i++) spaces += s[i] == ' ';
    char *buf = malloc(n + 2 * spaces + 4);
    if (!buf) return st_errorf(ST_E_NOMEM, "tokenizer: out of memory");
    size_t k = 0;
    if (prefix) { memcpy(buf, "\xE2\x96\x81", 3); k = 3; }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ') { memcpy(buf + k, "\xE2\x96\x81", 3); k += 3; }
        else buf[k++] = s[i];
    }
    st_status st = st_spm_encode(t, buf, k, out);
    free(buf);
    return st;
}

st_status st_tokenize(const st_tokenizer *t, const char *text, size_t len, int add_special,
                      int parse_special, st_token *out, int max, int *n) {
    if (n) *n = 0;
    if (!t || !n || (!text && len) || max < 0 || (!out && max > 0))
        return st_errorf(ST_E_ARG, "tokenize: invalid argument");
    if (len > (size_t)1 << 30) return st_errorf(ST_E_ARG, "tokenize: text of %zu bytes is too long (1 GiB at most)", len);
    char *s = NULL;
    size_t sn = 0;
    st_tokvec v = {0};
    frag *f = NULL;
    size_t nf = 0;
    st_bpe_session *bpe = NULL;
    st_status st = st_utf8_sanitize(text ? text : "", len, &s, &sn);
    if (st) return st;
    st = partition(t, s, sn, parse_special, &f, &nf);
    if (st) goto done;

    if (t->kind == ST_VOCAB_BPE && (st = st_bpe_session_new(t, &bpe))) goto done;
    if (add_special && t->add_bos && t->bos >= 0 && (st = st_tokvec_push(&v, t->bos))) goto done;
    int prev_special = 1; /* SPM puts a space before the text and after each special token */
    for (size_t i = 0; i < nf; i++) {
        if (f[i].id >= 0) {
            st = st_tokvec_push(&v, f[i].id);
            prev_special = 1;
        } else if (t->kind == ST_VOCAB_BPE) {
            st = st_bpe_encode(bpe, s + f[i].off, f[i].len, &v);
        } else {
            st = spm_fragment(t, s + f[i].off, f[i].len, t->add_space_prefix && prev_special, &v);
            prev_special = 0;
        }
        if (st) goto done;
    }
    if (add_special && t->add_eos && t->eos >= 0 && (st = st_tokvec_push(&v, t->eos))) goto done;

    if (v.n > (size_t)INT32_MAX) { st = st_errorf(ST_E_FULL, "tokenize: too many tokens"); goto done; }
    *n = (int)v.n;
    if (v.n > (size_t)max) {
        if (max) memcpy(out, v.v, (size_t)max * sizeof *out);
        st = st_errorf(ST_E_FULL, "tokenize: %zu tokens do not fit in %d", v.n, max);
        goto done;
    }
    if (v.n) memcpy(out, v.v, v.n * sizeof *out);
done:
    st_bpe_session_free(bpe);
    free(s);
    free(f);
    free(v.v);
    return st;
}
