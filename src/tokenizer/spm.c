/* SentencePiece-style BPE over scores: start from UTF-8 characters, repeatedly
 * merge the adjacent pair whose concatenation is the highest-scoring vocabulary
 * entry (leftmost on ties), and spell what is left over with byte tokens
 * <0xNN>. The caller has already turned spaces into U+2581. */
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "tokenizer/tokenizer.h"

typedef struct sym {
    uint32_t off, n;
    int32_t prev, next;
} sym;

/* Candidate merge: key = (inverted score << 32 | left), so the smallest key is
 * the highest score, leftmost on ties; size tells a stale entry. */
typedef struct big {
    uint64_t key;
    uint32_t size;
} big;

typedef struct spm_ctx {
    const st_tokenizer *t;
    const char *text;
    sym *s;
    size_t scap;
    big *heap;
    size_t hn, hcap;
} spm_ctx;

static inline uint32_t score_order(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u); /* ascending with f */
    return ~u;                                      /* higher score first */
}

static int push(spm_ctx *c, big v) {
    if (c->hn == c->hcap) {
        size_t nc = c->hcap ? c->hcap * 2 : 64;
        big *nh = realloc(c->heap, nc * sizeof *nh);
        if (!nh) return -1;
        c->heap = nh;
        c->hcap = nc;
    }
    size_t i = c->hn++;
    while (i > 0) {
        size_t p = (i - 1) / 4;
        if (c->heap[p].key <= v.key) break;
        c->heap[i] = c->heap[p];
        i = p;
    }
    c->heap[i] = v;
    return 0;
}

static big pop(spm_ctx *c) {
    big top = c->heap[0], v = c->heap[--c->hn];
    size_t n = c->hn, i = 0;
    if (!n) return top;
    for (;;) {
        size_t ch = 4 * i + 1, m = ch;
        if (ch >= n) break;
        size_t e = ch + 4 < n ? ch + 4 : n;
        for (size_t k = ch + 1; k < e; k++)
            if (c->heap[k].key < c->heap[m].key) m = k;
        if (c->heap[m].key >= v.key) break;
        c->heap[i] = c->heap[m];
        i = m;
    }
    c->heap[i] = v;
    return top;
}

static int try_pair(spm_ctx *c, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return 0;
    uint32_t size = c->s[l].n + c->s[r].n;
    st_token id = st_tok_lookup(c->t, c->text + c->s[l].off, size);
    if (id < 0) return 0;
    big v = {(uint64_t)score_order(c->t->tok[id].score) << 32 | (uint32_t)l, size};
    return push(c, v);
}

/* Merge one segment; c->s and c->heap are reused between segments. */
static st_status encode_segment(spm_ctx *c, const char *text, size_t n, st_tokvec *out) {
    const st_tokenizer *t = c->t;
    c->text = text;
    c->hn = 0;
    if (n > c->scap) {
        sym *ns = realloc(c->s, n * sizeof *ns);
        if (!ns) return st_errorf(ST_E_NOMEM, "tokenizer: out of memory");
        c->s = ns;
        c->scap = n;
    }
    int32_t ns = 0;
    for (size_t i = 0; i < n;) {
        static const unsigned char lens[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
        size_t l = lens[(unsigned char)text[i] >> 4];
        if (l > n - i) l = n - i;
        c->s[ns].off = (uint32_t)i;
        c->s[ns].n = (uint32_t)l;
        c->s[ns].prev = ns - 1;
        c->s[ns].next = i + l < n ? ns + 1 : -1;
        ns++;
        i += l;
    }
    for (int32_t i = 1; i < ns; i++)
        if (try_pair(c, i - 1, i)) goto nomem;
    while (c->hn) {
        big b = pop(c);
        int32_t left = (int32_t)(uint32_t)b.key;
        sym *L = &c->s[left];
        if (L->n == 0 || L->next < 0) continue;
        sym *R = &c->s[L->next];
        if (R->n == 0 || L->n + R->n != b.size) continue;
        L->n += R->n;
        R->n = 0;
        L->next = R->next;
        if (R->next >= 0) c->s[R->next].prev = left;
        if (try_pair(c, L->prev, left) || try_pair(c, left, L->next)) goto nomem;
    }
    for (int32_t i = 0; ns && i >= 0; i = c->s[i].next) {
        const sym *y = &c->s[i];
        st_token id = st_tok_lookup(t, text + y->off, y->n);
        if (id >= 0) {
            ST_TRY(st_tokvec_push(out, id));
            continue;
        }
        for (uint32_t k = 0; k < y->n; k++) {
            st_token b = t->byte_tok[(unsigned char)text[y->off + k]];
            if (b < 0) b = t->unk;
            if (b >= 0) ST_TRY(st_tokvec_push(out, b));
        }
    }
    return ST_OK;
nomem:
    return st_errorf(ST_E_NOMEM, "tokenizer: out of memory");
}

static int is_sp(const char *p) { return !memcmp(p, "\xE2\x96\x81", 3); }

st_status st_spm_encode(const st_tokenizer *t, const char *text, size_t n, st_tokvec *out) {
    if (n == 0) return ST_OK;
    spm_ctx c = {0};
    c.t = t;
    st_status st = ST_OK;
    if (!t->spm_split) {
        st = encode_segment(&c, text, n, out);
    } else {
        /* cut before every U+2581 that follows another character */
        size_t seg = 0;
        for (size_t p = 1; p + 3 <= n && !st; p++) {
            if (text[p] != '\xE2' || !is_sp(text + p)) continue;
            if (p >= 3 && is_sp(text + p - 3)) continue;
            st = encode_segment(&c, text + seg, p - seg, out);
            seg = p;
            p += 2;
        }
        if (!st) st = encode_segment(&c, text + seg, n - seg, out);
    }
    free(c.s);
    free(c.heap);
    return st;
}
