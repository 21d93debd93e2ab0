/* Tokenizer module internals, shared by the files of src/tokenizer/.
 *
 * The public API (st_tokenizer_*, st_tokenize, st_detokenize, st_detok_stream_*,
 * st_chat_*) is declared in include/softthink.h. Behaviour follows llama.cpp's
 * tokenizer wherever the two could differ, because GGUF files are produced for
 * llama.cpp and its test pairs are the reference. */
#ifndef ST_TOKENIZER_INTERNAL_H
#define ST_TOKENIZER_INTERNAL_H
#include <stddef.h>
#include <stdint.h>

#include "softthink.h"

/* Per-token flags beyond the GGUF type. */
enum {
    ST_TF_LSTRIP = 1, /* special-token match eats whitespace on its left */
    ST_TF_RSTRIP = 2, /* ... and on its right */
};

typedef struct st_tok_entry {
    uint32_t off, len;   /* text in t->text_pool */
    float score;
    uint8_t type;        /* st_token_type */
    uint8_t flags;       /* ST_TF_* */
} st_tok_entry;

/* A merge (a, b) -> r with priority rank; open addressing, key 0 = empty. */
typedef struct st_merge_slot {
    uint64_t key;        /* ((a + 1) << 32) | (b + 1) */
    int32_t rank;
    int32_t result;
} st_merge_slot;

#define ST_PRETOK_MAX_RE 8
struct st_pretok; /* compiled regexes, pretok.c */

struct st_tokenizer {
    st_vocab_kind kind;
    int n_vocab;
    st_tok_entry *tok;
    char *text_pool;
    size_t text_pool_len;

    /* token text -> id; slots hold id + 1, 0 = empty */
    uint32_t *hash;
    uint32_t hash_mask;

    /* BPE */
    st_merge_slot *merges;
    uint32_t merge_mask;
    int n_merges;
    int ignore_merges;           /* llama3: a whole pre-token found in the vocab is used as is */
    int spm_split;               /* SPM: merging may proceed word by word (see vocab.c) */
    struct st_pretok *pre;
    char pre_name[48];

    /* BPE: id of the GPT-2 byte->char mapping of each byte; SPM: id of <0xNN> */
    int32_t byte_tok[256];

    /* options */
    int add_bos, add_eos, add_space_prefix, clean_spaces;
    st_token bos, eos, eot, eom, unk, pad;
    st_token fim_pad, fim_rep, fim_sep;
    uint8_t *eog;                /* [n_vocab] 1 = ends generation */

    /* special (control / user-defined / unknown) tokens, longest text first */
    st_token *specials;
    int n_specials;
    /* Index for finding special tokens in text (tokenize.c): their distinct
     * lengths, longest first; per length, the bytes they start with; the
     * (first byte, last byte) pairs of all of them; and a text -> id hash
     * small enough to stay in cache (slots hold id + 1). */
    int n_levels;
    uint32_t *level_len;
    uint8_t (*level_first)[32];
    uint8_t spec_pair[8192];
    uint32_t *spec_hash;
    uint32_t spec_hash_mask;
    int max_token_len;

    /* decoded bytes of every token (special tokens rendered as their text) */
    char *piece_pool;
    uint32_t *piece_off;         /* [n_vocab + 1] */
    uint32_t max_piece;

    /* metadata used by chat-template detection */
    char *arch;
    char *model_name;
    char *chat_template;
};

/* ---- vocab.c: building a tokenizer from parts (used by every loader) */

/* Everything a loader gathers; strings are borrowed until st_tok_build returns. */
typedef struct st_tok_spec {
    const char *model;           /* "gpt2" or "llama" */
    const char *pre;             /* pre-tokenizer name or NULL */
    int n_vocab;
    const char *const *texts;    /* [n_vocab] */
    const uint64_t *lens;        /* [n_vocab] or NULL: strlen */
    const float *scores;         /* [n_vocab] or NULL */
    const int32_t *types;        /* [n_vocab] or NULL: all normal */
    const uint8_t *flags;        /* [n_vocab] ST_TF_* or NULL */
    int n_merges;
    const char *const *merges;   /* "a b" */
    const uint64_t *merge_lens;  /* or NULL */
    /* special ids, -2 = use the model's default, -1 = none */
    st_token bos, eos, eot, eom, unk, pad, sep;
    int add_bos, add_eos, add_space_prefix; /* -1 = model default */
    const char *arch, *name, *chat_template;
} st_tok_spec;

void st_tok_spec_init(st_tok_spec *s);
st_status st_tok_build(const st_tok_spec *s, st_tokenizer **out);

/* Exact-text lookup, -1 if absent. */
st_token st_tok_lookup(const st_tokenizer *t, const char *s, size_t n);
uint64_t st_tok_hash(const void *p, size_t n);

static inline const char *st_tok_text(const st_tokenizer *t, st_token id, size_t *len) {
    *len = t->tok[id].len;
    return t->text_pool + t->tok[id].off;
}

/* ---- utf8.c */

/* Length of the well-formed UTF-8 sequence at s (1..4), 0 if s[0..n) does not
 * start with one (bad lead, bad continuation, overlong, surrogate, > U+10FFFF),
 * -1 if it is a valid but truncated prefix of one. */
int st_utf8_seq(const unsigned char *s, size_t n);
/* Decode one well-formed sequence of length len. */
uint32_t st_utf8_decode(const unsigned char *s, int len);
int st_utf8_encode(uint32_t cp, char *out);
/* Copy src replacing every byte that is not part of a well-formed sequence
 * with U+FFFD; *dst malloc'd (NULL-terminated). Returns ST_E_NOMEM or ST_OK. */
st_status st_utf8_sanitize(const char *src, size_t n, char **dst, size_t *dn);
/* The GPT-2 byte -> code point map used by byte-level BPE. */
uint32_t st_bpe_byte_cp(int byte);
/* Inverse map; -1 for a code point that is not the image of a byte. */
int st_bpe_cp_byte(uint32_t cp);

/* ---- pretok.c */
st_status st_pretok_create(const char *name, struct st_pretok **out, int *ignore_merges);
void st_pretok_free(struct st_pretok *p);
/* Split text[0..n) (valid UTF-8) into pre-tokens; calls fn(start, len) in order. */
typedef st_status (*st_pretok_fn)(void *ctx, const char *s, size_t n);
typedef struct st_pretok_scratch st_pretok_scratch; /* per-call PCRE2 state */
st_pretok_scratch *st_pretok_scratch_new(void);
void st_pretok_scratch_free(st_pretok_scratch *s);
st_status st_pretok_split(const struct st_pretok *p, st_pretok_scratch *scr, const char *text, size_t n,
                          st_pretok_fn fn, void *ctx);

/* ---- bpe.c / spm.c: encode one raw-text fragment, appending to a vector */
typedef struct st_tokvec {
    st_token *v;
    size_t n, cap;
} st_tokvec;
st_status st_tokvec_push(st_tokvec *v, st_token id);

st_status st_bpe_build_merges(st_tokenizer *t, const char *const *merges, const uint64_t *lens, int n);
/* Scratch reused across the fragments of one st_tokenize call. */
typedef struct st_bpe_session st_bpe_session;
st_status st_bpe_session_new(const st_tokenizer *t, st_bpe_session **out);
void st_bpe_session_free(st_bpe_session *s);
st_status st_bpe_encode(st_bpe_session *s, const char *text, size_t n, st_tokvec *out);
st_status st_spm_encode(const st_tokenizer *t, const char *text, size_t n, st_tokvec *out);

/* ---- tokenize.c */
st_status st_tok_build_special_index(st_tokenizer *t);

/* ---- detok.c */
st_status st_tok_build_pieces(st_tokenizer *t);

/* ---- hf_import.c */
st_status st_tokenizer_load_hf_dir(const char *dir, st_tokenizer **out);
/* ---- vocab.c */
st_status st_tokenizer_load_llama2c(const char *path, st_tokenizer **out);

#endif
