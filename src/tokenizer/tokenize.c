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

st_status st_tok_build_special_index(st_tokenizer *t) {
    /* specials are sorted longest first, so per-byte lists come out longest first */
    uint32_t count[256] = {0};
    for (int i = 0; i < t->n_specials; i++) count[(unsigned char)t->text_pool[t->tok[t->specials[i]].off]]++;
    t->spec_len_off[0] = 0;
    for (int b = 0; b < 256; b++) t->spec_len_off[b + 1] = t->spec_len_off[b] + count[b];
    t->spec_lens = malloc(sizeof *t->spec_lens * (t->n_specials ? (size_t)t->n_specials : 1));
    if (!t->spec_lens) return st_errorf(ST_E_NOMEM, "tokenizer: out of memory");
    uint32_t fill[256] = {0};
    for (int i = 0; i < t->n_specials; i++) {
        const st_tok_entry *e = &t->tok[t->specials[i]];
        int b = (unsigned char)t->text_pool[e->off];
        uint32_t *v = t->spec_lens + t->spec_len_off[b];
        if (fill[b] && v[fill[b] - 1] == e->len) continue; /* keep lengths distinct */
        v[fill[b]++] = e->len;
    }
    /* compact: drop the unused tail of each byte's slot range */
    uint32_t k = 0;
    for (int b = 0; b < 256; b++) {
        uint32_t start = t->spec_len_off[b];
        t->spec_len_off[b] = k;
        memmove(t->spec_lens + k, t->spec_lens + start, fill[b] * sizeof *t->spec_lens);
        k += fill[b];
    }
    t->spec_len_off[256] = k;
    return ST_OK;
}

typedef struct occ {
    uint32_t pos, len;
    st_token id;
} occ;

typedef struct frag {
    size_t off, len;
    st_token id; /* -1: raw text */
} frag;

static int occ_by_priority(const void *a, const void *b) {
    const occ *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
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

/* Split text into raw fragments and special tokens; *frags malloc'd. */
static st_status partition(const st_tokenizer *t, const char *text, size_t n, int parse_special,
                           frag **frags, size_t *nfrags) {
    occ *oc = NULL;
    size_t no = 0, co = 0;
    st_status st = ST_OK;
    unsigned char *mask = NULL;
    frag *f = NULL;
    size_t nf = 0;

    for (size_t p = 0; p < n; p++) {
        int b = (unsigned char)text[p];
        for (uint32_t k = t->spec_len_off[b]; k < t->spec_len_off[b + 1]; k++) {
            uint32_t L = t->spec_lens[k];
            if (L > n - p) continue;
            st_token id = st_tok_lookup(t, text + p, L);
            if (id < 0 || !allowed_special(t, id, parse_special)) continue;
            int ty = t->tok[id].type;
            if (ty != ST_TOKEN_CONTROL && ty != ST_TOKEN_USER_DEFINED && ty != ST_TOKEN_UNKNOWN) continue;
            if (no == co) {
                co = co ? co * 2 : 16;
                occ *nv = realloc(oc, co * sizeof *nv);
                if (!nv) goto nomem;
                oc = nv;
            }
            oc[no].pos = (uint32_t)p;
            oc[no].len = L;
            oc[no].id = id;
            no++;
        }
    }

    if (no) {
        qsort(oc, no, sizeof *oc, occ_by_priority);
        /* 0 raw, 1 taken by a token, 2 whitespace eaten by lstrip/rstrip */
        mask = calloc(n, 1);
        if (!mask) goto nomem;
        size_t acc = 0;
        for (size_t i = 0; i < no;) {
            st_token id = oc[i].id;
            size_t last_end = 0;
            for (; i < no && oc[i].id == id; i++) {
                size_t p = oc[i].pos, L = oc[i].len;
                if (p < last_end) continue;
                size_t k = 0;
                while (k < L && !mask[p + k]) k++;
                if (k < L) continue;
                memset(mask + p, 1, L);
                size_t end = p + L;
                if (t->tok[id].flags & ST_TF_LSTRIP)
                    for (size_t q = p; q > 0 && !mask[q - 1] && isspace((unsigned char)text[q - 1]); q--) mask[q - 1] = 2;
                if (t->tok[id].flags & ST_TF_RSTRIP)
                    while (end < n && !mask[end] && isspace((unsigned char)text[end])) mask[end++] = 2;
                last_end = end;
                oc[acc++] = oc[i];
            }
        }
        no = acc;
        qsort(oc, no, sizeof *oc, occ_by_pos);
    }

    f = malloc(sizeof *f * (2 * no + 1));
    if (!f) goto nomem;
    size_t p = 0;
    for (size_t i = 0; i <= no; i++) {
        size_t stop = i < no ? oc[i].pos : n;
        /* raw text up to the next token, minus stripped whitespace at its ends */
        size_t a = p, z = stop;
        while (a < z && mask && mask[a] == 2) a++;
        while (z > a && mask && mask[z - 1] == 2) z--;
        if (z > a) f[nf++] = (frag){a, z - a, -1};
        if (i < no) {
            f[nf++] = (frag){oc[i].pos, oc[i].len, oc[i].id};
            p = oc[i].pos + oc[i].len;
        }
    }
    *frags = f;
    *nfrags = nf;
    free(oc);
    free(mask);
    return st;
nomem:
    free(oc);
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
    char *s = NULL;
    size_t sn = 0;
    st_tokvec v = {0};
    frag *f = NULL;
    size_t nf = 0;
    st_status st = st_utf8_sanitize(text ? text : "", len, &s, &sn);
    if (st) return st;
    st = partition(t, s, sn, parse_special, &f, &nf);
    if (st) goto done;

    if (add_special && t->add_bos && t->bos >= 0 && (st = st_tokvec_push(&v, t->bos))) goto done;
    int prev_special = 1; /* SPM puts a space before the text and after each special token */
    for (size_t i = 0; i < nf; i++) {
        if (f[i].id >= 0) {
            st = st_tokvec_push(&v, f[i].id);
            prev_special = 1;
        } else if (t->kind == ST_VOCAB_BPE) {
            st = st_bpe_encode(t, s + f[i].off, f[i].len, &v);
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
    free(s);
    free(f);
    free(v.v);
    return st;
}
