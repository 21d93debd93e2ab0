/* Byte-level BPE. Merges are keyed by token-id pairs in an open-addressing
 * table; each pre-token word is merged with a binary heap of candidate pairs
 * ordered by (rank, position), which reproduces the lowest-rank-first,
 * leftmost-first order of the reference implementations. */
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "tokenizer/tokenizer.h"

static inline uint64_t merge_key(st_token a, st_token b) {
    return ((uint64_t)(uint32_t)(a + 1) << 32) | (uint32_t)(b + 1);
}

static inline uint32_t merge_hash(uint64_t k) {
    k ^= k >> 31;
    k *= 0x9E3779B97F4A7C15ull;
    k ^= k >> 29;
    return (uint32_t)k;
}

static const st_merge_slot *merge_find(const st_tokenizer *t, st_token a, st_token b) {
    if (!t->merges) return NULL;
    uint64_t k = merge_key(a, b);
    uint32_t i = merge_hash(k) & t->merge_mask;
    for (;;) {
        const st_merge_slot *s = &t->merges[i];
        if (s->key == k) return s;
        if (!s->key) return NULL;
        i = (i + 1) & t->merge_mask;
    }
}

st_status st_bpe_build_merges(st_tokenizer *t, const char *const *merges, const uint64_t *lens, int n) {
    uint32_t cap = 16;
    while (cap < (uint32_t)n * 2u) cap <<= 1;
    t->merges = calloc(cap, sizeof *t->merges);
    if (!t->merges) return st_errorf(ST_E_NOMEM, "tokenizer: out of memory");
    t->merge_mask = cap - 1;
    char *buf = NULL;
    size_t bufcap = 0;
    for (int r = 0; r < n; r++) {
        const char *m = merges[r];
        size_t l = lens ? (size_t)lens[r] : strlen(m);
        /* split at the first space after the first byte: a merge of " " needs it */
        const char *sp = l > 1 ? memchr(m + 1, ' ', l - 1) : NULL;
        if (!sp) continue;
        size_t la = (size_t)(sp - m), lb = l - la - 1;
        st_token a = st_tok_lookup(t, m, la), b = st_tok_lookup(t, sp + 1, lb);
        if (a < 0 || b < 0) continue;
        if (la + lb > bufcap) {
            bufcap = (la + lb) * 2;
            char *nb = realloc(buf, bufcap);
            if (!nb) { free(buf); return st_errorf(ST_E_NOMEM, "tokenizer: out of memory"); }
            buf = nb;
        }
        memcpy(buf, m, la);
        memcpy(buf + la, sp + 1, lb);
        st_token c = st_tok_lookup(t, buf, la + lb);
        /* a merge whose result is not a token can never be emitted; well-formed vocabularies have none */
        if (c < 0) continue;
        uint64_t k = merge_key(a, b);
        uint32_t i = merge_hash(k) & t->merge_mask;
        while (t->merges[i].key && t->merges[i].key != k) i = (i + 1) & t->merge_mask;
        if (t->merges[i].key) continue; /* duplicate: the first rank wins */
        t->merges[i].key = k;
        t->merges[i].rank = r;
        t->merges[i].result = c;
        t->n_merges++;
    }
    free(buf);
    return ST_OK;
}

st_status st_tokvec_push(st_tokvec *v, st_token id) {
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 64;
        st_token *nv = realloc(v->v, nc * sizeof *nv);
        if (!nv) return st_errorf(ST_E_NOMEM, "tokenizer: out of memory");
        v->v = nv;
        v->cap = nc;
    }
    v->v[v->n++] = id;
    return ST_OK;
}

typedef struct cand {
    int32_t rank, left;
    st_token a, b;
} cand;

typedef struct bpe_ctx {
    const st_tokenizer *t;
    st_tokvec *out;
    st_token *id;
    int32_t *prev, *next;
    cand *heap;
    size_t cap, hcap, hn;
    char *scratch;
    size_t scap;
} bpe_ctx;

static inline int cand_less(const cand *x, const cand *y) {
    return x->rank < y->rank || (x->rank == y->rank && x->left < y->left);
}

static int heap_push(bpe_ctx *c, cand v) {
    if (c->hn == c->hcap) {
        size_t nc = c->hcap ? c->hcap * 2 : 64;
        cand *nh = realloc(c->heap, nc * sizeof *nh);
        if (!nh) return -1;
        c->heap = nh;
        c->hcap = nc;
    }
    size_t i = c->hn++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!cand_less(&v, &c->heap[p])) break;
        c->heap[i] = c->heap[p];
        i = p;
    }
    c->heap[i] = v;
    return 0;
}

static cand heap_pop(bpe_ctx *c) {
    cand top = c->heap[0], last = c->heap[--c->hn];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const cand *best = &last;
        if (l < c->hn && cand_less(&c->heap[l], best)) { m = l; best = &c->heap[l]; }
        if (r < c->hn && cand_less(&c->heap[r], best)) { m = r; }
        if (m == i) break;
        c->heap[i] = c->heap[m];
        i = m;
    }
    if (c->hn) c->heap[i] = last;
    return top;
}

static int add_pair(bpe_ctx *c, int32_t left, int32_t right) {
    if (left < 0 || right < 0) return 0;
    st_token a = c->id[left], b = c->id[right];
    if (a < 0 || b < 0) return 0;
    const st_merge_slot *m = merge_find(c->t, a, b);
    if (!m) return 0;
    cand v = {m->rank, left, a, b};
    return heap_push(c, v);
}

static st_status encode_word(void *ctx, const char *w, size_t n) {
    bpe_ctx *c = ctx;
    const st_tokenizer *t = c->t;
    const unsigned char *s = (const unsigned char *)w;
    if (n == 1) {
        st_token id = t->byte_tok[s[0]];
        return id >= 0 ? st_tokvec_push(c->out, id) : ST_OK;
    }
    if (t->ignore_merges) {
        /* the word in the byte-level alphabet, looked up whole */
        if (c->scap < n * 2) {
            char *ns = realloc(c->scratch, n * 2);
            if (!ns) goto nomem;
            c->scratch = ns;
            c->scap = n * 2;
        }
        size_t k = 0;
        for (size_t i = 0; i < n; i++) k += (size_t)st_utf8_encode(st_bpe_byte_cp(s[i]), c->scratch + k);
        st_token id = st_tok_lookup(t, c->scratch, k);
        if (id >= 0) return st_tokvec_push(c->out, id);
    }
    if (c->cap < n) {
        size_t nc = n * 2;
        st_token *ni = realloc(c->id, nc * sizeof *ni);
        if (ni) c->id = ni;
        int32_t *np = realloc(c->prev, nc * sizeof *np);
        if (np) c->prev = np;
        int32_t *nn = realloc(c->next, nc * sizeof *nn);
        if (nn) c->next = nn;
        if (!ni || !np || !nn) goto nomem;
        c->cap = nc;
    }
    for (size_t i = 0; i < n; i++) {
        c->id[i] = t->byte_tok[s[i]];
        c->prev[i] = (int32_t)i - 1;
        c->next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    c->hn = 0;
    for (size_t i = 0; i + 1 < n; i++)
        if (add_pair(c, (int32_t)i, (int32_t)i + 1)) goto nomem;
    while (c->hn) {
        cand v = heap_pop(c);
        int32_t l = v.left, r = c->next[l];
        /* stale: either side has changed since the pair was queued */
        if (r < 0 || c->id[l] != v.a || c->id[r] != v.b) continue;
        const st_merge_slot *m = merge_find(t, v.a, v.b);
        c->id[l] = m->result;
        c->id[r] = -2; /* dead */
        c->next[l] = c->next[r];
        if (c->next[r] >= 0) c->prev[c->next[r]] = l;
        if (add_pair(c, c->prev[l], l) || add_pair(c, l, c->next[l])) goto nomem;
    }
    for (int32_t i = 0; i >= 0; i = c->next[i]) {
        /* a byte whose character is missing from the vocabulary is dropped, as in llama.cpp */
        if (c->id[i] >= 0) ST_TRY(st_tokvec_push(c->out, c->id[i]));
    }
    return ST_OK;
nomem:
    return st_errorf(ST_E_NOMEM, "tokenizer: out of memory");
}

st_status st_bpe_encode(const st_tokenizer *t, const char *text, size_t n, st_tokvec *out) {
    bpe_ctx c = {0};
    c.t = t;
    c.out = out;
    st_status st = st_pretok_split(t->pre, text, n, encode_word, &c);
    free(c.id);
    free(c.prev);
    free(c.next);
    free(c.heap);
    free(c.scratch);
    return st;
}
