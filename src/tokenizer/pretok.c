/* Pre-tokenizers of byte-level BPE vocabularies: the text is cut into words by
 * a list of regexes applied in turn, each one to every piece the previous left
 * (matches and the gaps between them both become pieces), as llama.cpp does.
 * PCRE2 supplies the Unicode classes (\p{L}, \p{N}, \p{P}) so that no
 * hand-made tables are needed. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "tokenizer/tokenizer.h"

struct st_pretok {
    int n;
    pcre2_code *re[ST_PRETOK_MAX_RE];
};

/* The regexes as llama.cpp writes them (llama-vocab.cpp), with its non-ASCII
 * literals spelled as \x{...}. */
#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define RE_LLAMA3                                                                                  \
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"    \
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_QWEN2                                                                                   \
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"    \
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_CJK "[\\x{4E00}-\\x{9FA5}\\x{0800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+"
/* DeepSeek LLM's cased-letter class */
#define RE_DS_LETTERS                                                                              \
    "[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}\\x{1C4}-" \
    "\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}\\x{37F}" \
    "\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}" \
    "\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-" \
    "\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}" \
    "\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}\\x{1F48}-" \
    "\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}\\x{1F80}-" \
    "\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}\\x{1FD0}-" \
    "\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}" \
    "\\x{2102}\\x{2107}\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}" \
    "\\x{2128}\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-" \
    "\\x{2149}\\x{214E}\\x{2183}\\x{2184}\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-" \
    "\\x{2CEE}\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}" \
    "\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}\\x{FB13}-" \
    "\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}\\x{104B0}-" \
    "\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-" \
    "\\x{118DF}\\x{1E900}-\\x{1E943}]"

typedef struct pre_def {
    const char *const *names;
    const char *re[ST_PRETOK_MAX_RE];
    int ignore_merges;
} pre_def;

static const char *const n_llama3[] = {"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1",
                                       "pixtral", "midm-2.0", "lfm2", NULL};
static const char *const n_llama3_re[] = {"dbrx", "smaug-bpe", "chatglm-bpe", "glm4", NULL};
static const char *const n_qwen2[] = {"qwen2", "deepseek-r1-qwen", "stablelm2", "megrez", "hunyuan",
                                      "kormo", NULL};
static const char *const n_gpt2[] = {"gpt-2", "mpt", "phi-2", "olmo", "jais", "jina-es", "jina-de",
                                     "gigachat", "jina-v2-es", "jina-v2-de", "jina-v1-en",
                                     "jina-v2-code", "roberta-bpe", "exaone4", "a.x-4.0", "mellum",
                                     "modern-bert", NULL};
static const char *const n_starcoder[] = {"starcoder", "refact", "command-r", "smollm", "codeshell",
                                          "exaone", "minerva-7b", NULL};
static const char *const n_falcon[] = {"falcon", NULL};
static const char *const n_ds_coder[] = {"deepseek-coder", NULL};
static const char *const n_ds_llm[] = {"deepseek-llm", NULL};
static const char *const n_default[] = {"default", NULL};

static const pre_def defs[] = {
    {n_llama3, {RE_LLAMA3}, 1},
    {n_llama3_re, {RE_LLAMA3}, 0},
    {n_qwen2, {RE_QWEN2}, 0},
    {n_gpt2, {RE_GPT2}, 0},
    {n_starcoder, {"\\p{N}", RE_GPT2}, 0},
    {n_falcon, {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]"}, 0},
    {n_ds_coder, {"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RE_CJK, "\\p{N}"}, 0},
    {n_ds_llm,
     {"[\r\n]", "\\s?" RE_DS_LETTERS "+",
      "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+",
      "\\s+$", RE_CJK, "\\p{N}+"},
     0},
    {n_default, {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"}, 0},
};

/* llama.cpp's \s is Unicode White_Space, which includes U+0085; PCRE2's \s
 * (with UCP) is \p{Z} plus \t-\r and leaves U+0085 out. Rewrite \s and \S. */
static char *fix_whitespace(const char *re) {
    size_t n = strlen(re);
    char *o = malloc(n * 12 + 1);
    if (!o) return NULL;
    size_t k = 0;
    int in_class = 0;
    for (size_t i = 0; i < n; i++) {
        char c = re[i];
        if (c == '\\' && i + 1 < n) {
            char d = re[i + 1];
            i++;
            if (d == 's') {
                const char *r = in_class ? "\\s\\x{85}" : "[\\s\\x{85}]";
                memcpy(o + k, r, strlen(r)); k += strlen(r);
            } else if (d == 'S' && !in_class) {
                memcpy(o + k, "[^\\s\\x{85}]", 11); k += 11;
            } else {
                o[k++] = c;
                o[k++] = d;
            }
            continue;
        }
        if (c == '[' && !in_class) {
            in_class = 1;
            o[k++] = c;
            if (i + 1 < n && re[i + 1] == '^') o[k++] = re[++i];
            continue;
        }
        if (c == ']' && in_class) in_class = 0;
        o[k++] = c;
    }
    o[k] = 0;
    return o;
}

void st_pretok_free(struct st_pretok *p) {
    if (!p) return;
    for (int i = 0; i < p->n; i++) pcre2_code_free(p->re[i]);
    free(p);
}

st_status st_pretok_create(const char *name, struct st_pretok **out, int *ignore_merges) {
    *out = NULL;
    const pre_def *d = NULL;
    for (size_t i = 0; i < sizeof defs / sizeof defs[0] && !d; i++)
        for (int j = 0; defs[i].names[j]; j++)
            if (!strcmp(defs[i].names[j], name)) { d = &defs[i]; break; }
    if (!d) return st_errorf(ST_E_UNSUPPORTED, "tokenizer: unknown pre-tokenizer '%s'", name);
    struct st_pretok *p = calloc(1, sizeof *p);
    if (!p) return st_errorf(ST_E_NOMEM, "tokenizer: out of memory");
    for (int i = 0; i < ST_PRETOK_MAX_RE && d->re[i]; i++) {
        char *src = fix_whitespace(d->re[i]);
        if (!src) { st_pretok_free(p); return st_errorf(ST_E_NOMEM, "tokenizer: out of memory"); }
        int err;
        PCRE2_SIZE erroff;
        /* DOLLAR_ENDONLY: "\s+$" must only match at the end of the piece, as in ECMAScript */
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED,
                                       PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &err, &erroff, NULL);
        free(src);
        if (!re) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(err, msg, sizeof msg);
            st_pretok_free(p);
            return st_errorf(ST_E_INTERNAL, "tokenizer: pre-tokenizer '%s' regex %d: %s at %zu", name, i,
                             (const char *)msg, (size_t)erroff);
        }
        /* JIT is a speed-up only; the interpreter gives the same matches */
        pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
        p->re[p->n++] = re;
    }
    *ignore_merges = d->ignore_merges;
    *out = p;
    return ST_OK;
}

typedef struct piece {
    size_t off, len;
} piece;

typedef struct pvec {
    piece *v;
    size_t n, cap;
} pvec;

static int pvec_push(pvec *p, size_t off, size_t len) {
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 256;
        piece *nv = realloc(p->v, nc * sizeof *nv);
        if (!nv) return -1;
        p->v = nv;
        p->cap = nc;
    }
    p->v[p->n].off = off;
    p->v[p->n].len = len;
    p->n++;
    return 0;
}

struct st_pretok_scratch {
    pcre2_match_data *md;
    pcre2_match_context *mc;
    pcre2_jit_stack *js;
    pvec a, b;
};

st_pretok_scratch *st_pretok_scratch_new(void) {
    st_pretok_scratch *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->md = pcre2_match_data_create(1, NULL);
    if (!s->md) { free(s); return NULL; }
    return s;
}

void st_pretok_scratch_free(st_pretok_scratch *s) {
    if (!s) return;
    pcre2_match_data_free(s->md);
    pcre2_match_context_free(s->mc);
    if (s->js) pcre2_jit_stack_free(s->js);
    free(s->a.v);
    free(s->b.v);
    free(s);
}

/* The default JIT stack (32 KiB) suffices for ordinary text; a piece that
 * needs more gets a private larger one, created on first need. */
static int grow_jit_stack(st_pretok_scratch *s) {
    if (s->js) return 0;
    if (!s->mc && !(s->mc = pcre2_match_context_create(NULL))) return 0;
    if (!(s->js = pcre2_jit_stack_create(64 * 1024, 64 * 1024 * 1024, NULL))) return 0;
    pcre2_jit_stack_assign(s->mc, NULL, s->js);
    return 1;
}

/* Split one piece with one regex, appending matches and gaps to out. */
static st_status split_piece(const pcre2_code *re, const char *text, size_t off, size_t len, st_pretok_scratch *s,
                             pvec *out) {
    const PCRE2_SPTR subj = (PCRE2_SPTR)(text + off);
    size_t pos = 0, last = 0;
    while (pos < len) {
        int rc = pcre2_match(re, subj, len, pos, PCRE2_NO_UTF_CHECK, s->md, s->mc);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT && grow_jit_stack(s)) continue;
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return st_errorf(ST_E_INTERNAL, "tokenizer: regex match failed: %s", (const char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
        size_t ms = ov[0], me = ov[1];
        if (me == ms) {
            /* none of the patterns can match empty; step over a character if one ever does */
            pos = ms + 1;
            while (pos < len && (subj[pos] & 0xC0) == 0x80) pos++;
            continue;
        }
        if (ms > last && pvec_push(out, off + last, ms - last)) goto nomem;
        if (pvec_push(out, off + ms, me - ms)) goto nomem;
        last = pos = me;
    }
    if (last < len && pvec_push(out, off + last, len - last)) goto nomem;
    return ST_OK;
nomem:
    return st_errorf(ST_E_NOMEM, "tokenizer: out of memory");
}

st_status st_pretok_split(const struct st_pretok *p, st_pretok_scratch *s, const char *text, size_t n,
                          st_pretok_fn fn, void *ctx) {
    if (n == 0) return ST_OK;
    pvec *a = &s->a, *b = &s->b;
    a->n = 0;
    if (pvec_push(a, 0, n)) return st_errorf(ST_E_NOMEM, "tokenizer: out of memory");
    for (int r = 0; r < p->n; r++) {
        b->n = 0;
        for (size_t i = 0; i < a->n; i++) ST_TRY(split_piece(p->re[r], text, a->v[i].off, a->v[i].len, s, b));
        pvec *t = a;
        a = b;
        b = t;
    }
    for (size_t i = 0; i < a->n; i++) ST_TRY(fn(ctx, text + a->v[i].off, a->v[i].len));
    return ST_OK;
}
