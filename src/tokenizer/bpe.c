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

/* A candidate merge is the key (rank << 32 | left position): the smallest key
 * is the lowest rank, leftmost on ties, and compares as one integer. */
typedef uint64_t cand;

typedef struct bpe_ctx {
    const st_tokenizer *t;
    st_pretok_scratch *pre;
    st_tokvec *out;
    st_token *id;
    int32_t *prev, *next;
    cand *heap;
    size_t cap, hcap, hn;
    char *scratch;
    size_t scap;
} bpe_ctx;

/* 4-ary min-heap: shallower than binary, and the 4 children share a cache line */
static void sift_down(cand *h, size_t n, size_t i) {
    cand v = h[i];
    for (;;) {
        size_t c = 4 * i + 1, m = c;
        if (c >= n) break;
        size_t e = c + 4 < n ? c + 4 : n;
        for (size_t k = c + 1; k < e; k++)
            if (h[k] < h[m]) m = k;
        if (h[m] >= v) break;
        h[i] = h[m];
        i = m;
    }
    h[i] = v;
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
        size_t p = (i - 1) / 4;
        if (c->heap[p] <= v) break;
        c->heap[i] = c->heap[p];
        i = p;
    }
    c->heap[i] = v;
    return 0;
}

static cand heap_pop(bpe_ctx *c) {
    cand top = c->heap[0];
    c->heap[0] = c->heap[--c->hn];
    if (c->hn) sift_down(c->heap, c->hn, 0);
    return top;
}

static inline cand make_cand(const st_merge_slot *m, int32_t left) {
    return (uint64_t)(uint32_t)m->rank << 32 | (uint32_t)left;
}

static int add_pair(bpe_ctx *c, int32_t left, int32_t right) {
    if (left < 0 || right < 0) return 0;
    st_token a = c->id[left], b = c->id[right];
    if (a < 0 || b < 0) return 0;
    const st_merge_slot *m = merge_find(c->t, a, b);
    return m ? heap_push(c, make_cand(m, left)) : 0;
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
    /* the initial pairs, heapified in O(n) */
    if (c->hcap < n) {
        cand *nh = realloc(c->heap, n * sizeof *nh);
        if (!nh) goto nomem;
        c->heap = nh;
        c->hcap = n;
    }
    c->hn = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (c->id[i] < 0 || c->id[i + 1] < 0) continue;
        const st_merge_slot *m = merge_find(t, c->id[i], c->id[i + 1]);
        if (m) c->heap[c->hn++] = make_cand(m, (int32_t)i);
    }
    for (size_t i = c->hn / 4 + 1; i-- > 0;)
        if (i < c->hn) sift_down(c->heap, c->hn, i);
    while (c->hn) {
        cand v = heap_pop(c);
        int32_t l = (int32_t)(uint32_t)v, r = c->next[l];
        if (r < 0 || c->id[l] < 0 || c->id[r] < 0) continue;
        /* a rank names one pair, so the pair is still there iff its rank is */
        const st_merge_slot *m = merge_find(t, c->id[l], c->id[r]);
        if (!m || (uint32_t)m->rank != (uint32_t)(v >> 32)) continue;
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

struct st_bpe_session {
    bpe_ctx c;
};

st_status st_bpe_session_new(const st_tokenizer *t, st_bpe_session **out) {
    *out = NULL;
    st_bpe_session *s = calloc(1, sizeof *s);
    if (!s || !(s->c.pre = st_pretok_scratch_new())) {
        free(s);
        return st_errorf(ST_E_NOMEM, "tokenizer: out of memory");
    }
    s->c.t = t;
    *out = s;
    return ST_OK;
}

void st_bpe_session_free(st_bpe_session *s) {
    if (!s) return;
    st_pretok_scratch_free(s->c.pre);
    free(s->c.id);
    free(s->c.prev);
    free(s->c.next);
    free(s->c.heap);
    free(s->c.scratch);
    free(s);
}

st_status st_bpe_encode(st_bpe_session *s, const char *text, size_t n, st_tokvec *out) {
    s->c.out = out;
    return st_pretok_split(s->c.t->pre, s->c.pre, text, n, encode_word, &s->c);
}
