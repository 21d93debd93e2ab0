/* Vocabulary: token table, text -> id hash, special tokens, loaders (GGUF, llama2.c). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/status.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

uint64_t st_tok_hash(const void *p, size_t n) {
    const unsigned char *s = p;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xC2B2AE3D27D4EB4Full);
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, s, 8);
        h = (h ^ v) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 32;
        s += 8;
        n -= 8;
    }
    uint64_t v = 0;
    memcpy(&v, s, n);
    h = (h ^ v) * 0xC4CEB9FE1A85EC53ull;
    h ^= h >> 29;
    h *= 0x94D049BB133111EBull;
    h ^= h >> 32;
    return h;
}

st_token st_tok_lookup(const st_tokenizer *t, const char *s, size_t n) {
    uint32_t i = (uint32_t)st_tok_hash(s, n) & t->hash_mask;
    for (;;) {
        uint32_t v = t->hash[i];
        if (!v) return -1;
        const st_tok_entry *e = &t->tok[v - 1];
        if (e->len == n && memcmp(t->text_pool + e->off, s, n) == 0) return (st_token)(v - 1);
        i = (i + 1) & t->hash_mask;
    }
}

void st_tok_spec_init(st_tok_spec *s) {
    memset(s, 0, sizeof *s);
    s->bos = s->eos = s->eot = s->eom = s->unk = s->pad = s->sep = -2;
    s->add_bos = s->add_eos = s->add_space_prefix = -1;
}

/* Pre-tokenizers whose llama.cpp vocab does not clean up spaces on decode. */
static int pre_keeps_spaces(const char *pre) {
    static const char *const names[] = {
        "deepseek-llm", "deepseek-coder", "deepseek-v3", "command-r", "qwen2", "deepseek-r1-qwen",
        "poro-chat", "viking", "tekken", "smollm", "chameleon", "gpt-4o", "llama4", "superbpe",
        "trillion", "bailingmoe", "seed-coder", "hunyuan", "kimi-k2", "grok-2", NULL};
    for (int i = 0; names[i]; i++)
        if (!strcmp(pre, names[i])) return 1;
    return 0;
}

static int pre_adds_bos(const char *pre) {
    static const char *const names[] = {"llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral",
                                        "tekken", "chameleon", NULL};
    for (int i = 0; names[i]; i++)
        if (!strcmp(pre, names[i])) return 1;
    return 0;
}

static st_token find_first(const st_tokenizer *t, const char *const *names) {
    for (int i = 0; names[i]; i++) {
        st_token id = st_tok_lookup(t, names[i], strlen(names[i]));
        if (id >= 0) return id;
    }
    return -1;
}

/* A token recognised by its text as end-of-turn or FIM marker is a control
 * token whatever its stored type (llama.cpp adds the control attribute). */
static void force_control(st_tokenizer *t, st_token id) {
    if (id >= 0) t->tok[id].type = ST_TOKEN_CONTROL;
}

static st_token pick_id(st_token given, st_token dflt, int n_vocab) {
    if (given >= 0 && given < n_vocab) return given;
    if (given == -1) return -1;
    /* -2 (absent) or out of range: llama.cpp keeps the model's default */
    return dflt >= 0 && dflt < n_vocab ? dflt : -1;
}

static char *dup_or_null(const char *s) {
    if (!s) return NULL;
    return strdup(s);
}

static int cmp_special(const void *a, const void *b, void *ctx) {
    const st_tokenizer *t = ctx;
    st_token x = *(const st_token *)a, y = *(const st_token *)b;
    if (t->tok[x].len != t->tok[y].len) return t->tok[x].len > t->tok[y].len ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* qsort_r is not in C11; a small insertion+merge sort keeps this portable. */
static void sort_specials(st_tokenizer *t) {
    st_token *v = t->specials;
    int n = t->n_specials;
    st_token *tmp = malloc(sizeof *tmp * (size_t)(n ? n : 1));
    if (!tmp) { /* fall back to insertion sort */
        for (int i = 1; i < n; i++)
            for (int j = i; j > 0 && cmp_special(&v[j - 1], &v[j], t) > 0; j--) {
                st_token x = v[j]; v[j] = v[j - 1]; v[j - 1] = x;
            }
        return;
    }
    for (int w = 1; w < n; w *= 2) {
        for (int lo = 0; lo < n; lo += 2 * w) {
            int mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            int i = lo, j = mid, k = lo;
            while (i < mid && j < hi) tmp[k++] = cmp_special(&v[j], &v[i], t) < 0 ? v[j++] : v[i++];
            while (i < mid) tmp[k++] = v[i++];
            while (j < hi) tmp[k++] = v[j++];
        }
        memcpy(v, tmp, sizeof *v * (size_t)n);
    }
    free(tmp);
}

st_status st_tok_build(const st_tok_spec *s, st_tokenizer **out) {
    *out = NULL;
    st_vocab_kind kind;
    if (!s->model) return st_errorf(ST_E_FORMAT, "tokenizer: missing tokenizer.ggml.model");
    if (!strcmp(s->model, "gpt2")) kind = ST_VOCAB_BPE;
    else if (!strcmp(s->model, "llama")) kind = ST_VOCAB_SPM;
    else return st_errorf(ST_E_UNSUPPORTED, "tokenizer: model '%s' is not supported (gpt2 and llama are)", s->model);
    if (s->n_vocab <= 0 || s->n_vocab > (1 << 24))
        return st_errorf(ST_E_FORMAT, "tokenizer: bad vocabulary size %d", s->n_vocab);

    st_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return st_errorf(ST_E_NOMEM, "tokenizer: out of memory");
    t->kind = kind;
    t->n_vocab = s->n_vocab;
    st_status st = ST_OK;
    int n = s->n_vocab;

    /* token texts, empty ones renamed as llama.cpp does so that lookups stay unique */
    size_t pool = 0;
    for (int i = 0; i < n; i++) {
        size_t l = s->lens ? (size_t)s->lens[i] : (s->texts[i] ? strlen(s->texts[i]) : 0);
        if (l > (1u << 20)) { st = st_errorf(ST_E_FORMAT, "tokenizer: token %d is %zu bytes long", i, l); goto fail; }
        pool += (l ? l : 24) + 1;
    }
    t->tok = calloc((size_t)n, sizeof *t->tok);
    t->text_pool = malloc(pool ? pool : 1);
    if (!t->tok || !t->text_pool) goto nomem;
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        size_t l = s->lens ? (size_t)s->lens[i] : (s->texts[i] ? strlen(s->texts[i]) : 0);
        st_tok_entry *e = &t->tok[i];
        e->off = (uint32_t)off;
        if (l) memcpy(t->text_pool + off, s->texts[i], l);
        else l = (size_t)snprintf(t->text_pool + off, 24, "[EMPTY_%d]", i);
        e->len = (uint32_t)l;
        t->text_pool[off + l] = 0;
        off += l + 1;
        e->score = s->scores ? s->scores[i] : 0.0f;
        int ty = s->types ? s->types[i] : ST_TOKEN_NORMAL;
        e->type = (uint8_t)(ty >= ST_TOKEN_NORMAL && ty <= ST_TOKEN_BYTE ? ty : 0);
        e->flags = s->flags ? s->flags[i] : 0;
        if ((int)l > t->max_token_len) t->max_token_len = (int)l;
    }
    t->text_pool_len = off;

    /* hash: first id wins for duplicate texts */
    uint32_t cap = 1;
    while (cap < (uint32_t)n * 2u) cap <<= 1;
    t->hash = calloc(cap, sizeof *t->hash);
    if (!t->hash) goto nomem;
    t->hash_mask = cap - 1;
    for (int i = 0; i < n; i++) {
        const char *txt = t->text_pool + t->tok[i].off;
        if (st_tok_lookup(t, txt, t->tok[i].len) >= 0) continue;
        uint32_t h = (uint32_t)st_tok_hash(txt, t->tok[i].len) & t->hash_mask;
        while (t->hash[h]) h = (h + 1) & t->hash_mask;
        t->hash[h] = (uint32_t)i + 1;
    }

    /* per-kind options, defaults as in llama.cpp */
    const char *pre = s->pre && *s->pre ? s->pre : "default";
    if (kind == ST_VOCAB_BPE) {
        snprintf(t->pre_name, sizeof t->pre_name, "%s", pre);
        st = st_pretok_create(pre, &t->pre, &t->ignore_merges);
        if (st) goto fail;
        st = st_bpe_build_merges(t, s->merges, s->merge_lens, s->n_merges);
        if (st) goto fail;
        for (int b = 0; b < 256; b++) {
            char u[4];
            int l = st_utf8_encode(st_bpe_byte_cp(b), u);
            t->byte_tok[b] = st_tok_lookup(t, u, (size_t)l);
        }
        t->add_bos = pre_adds_bos(pre);
        t->add_space_prefix = 0;
        t->clean_spaces = !pre_keeps_spaces(pre);
        t->bos = pick_id(s->bos, 11, n);
        t->eos = pick_id(s->eos, 11, n);
        t->unk = pick_id(s->unk, -1, n);
    } else {
        snprintf(t->pre_name, sizeof t->pre_name, "default");
        for (int b = 0; b < 256; b++) {
            char hex[8];
            snprintf(hex, sizeof hex, "<0x%02X>", b);
            st_token id = st_tok_lookup(t, hex, 6);
            if (id < 0) {
                char c = (char)b;
                id = st_tok_lookup(t, &c, 1);
            }
            t->byte_tok[b] = id;
        }
        t->add_bos = 1;
        t->add_space_prefix = 1;
        t->clean_spaces = 0;
        /* If no entry has U+2581 right after another character, no merge can
         * cross the point before a word's U+2581 and words can be merged one
         * at a time, which keeps the merge heap small. */
        t->spm_split = 1;
        for (int i = 0; i < n && t->spm_split; i++) {
            const char *x = t->text_pool + t->tok[i].off;
            size_t l = t->tok[i].len;
            for (size_t p = 1; p + 3 <= l; p++)
                if (!memcmp(x + p, "\xE2\x96\x81", 3) && !(p >= 3 && !memcmp(x + p - 3, "\xE2\x96\x81", 3))) {
                    t->spm_split = 0;
                    break;
                }
        }
        t->bos = pick_id(s->bos, 1, n);
        t->eos = pick_id(s->eos, 2, n);
        t->unk = pick_id(s->unk, 0, n);
    }
    t->pad = pick_id(s->pad, -1, n);
    t->eot = pick_id(s->eot, -1, n);
    t->eom = pick_id(s->eom, -1, n);
    if (s->add_bos >= 0) t->add_bos = s->add_bos;
    if (s->add_eos >= 0) t->add_eos = s->add_eos;
    if (s->add_space_prefix >= 0) t->add_space_prefix = s->add_space_prefix;
    if (t->add_bos && t->bos < 0) t->add_bos = 0;
    if (t->add_eos && t->eos < 0) t->add_eos = 0;

    /* end-of-turn tokens recognised by their text, as llama.cpp does */
    static const char *const eot_names[] = {
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
        "<EOT>", "_<EOT>", "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
        "<end_of_utterance>", NULL};
    static const char *const eog_names[] = {
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "</s>",
        "<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>",
        "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>", NULL};
    static const char *const eom_names[] = {"<|eom_id|>", NULL};
    static const char *const fim_pad[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", NULL};
    static const char *const fim_rep[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>", NULL};
    static const char *const fim_sep[] = {"<|file_sep|>", NULL};
    if (t->eot < 0) { t->eot = find_first(t, eot_names); force_control(t, t->eot); }
    if (t->eom < 0) { t->eom = find_first(t, eom_names); force_control(t, t->eom); }
    t->fim_pad = find_first(t, fim_pad);
    t->fim_rep = find_first(t, fim_rep);
    t->fim_sep = find_first(t, fim_sep);
    force_control(t, t->fim_pad);
    force_control(t, t->fim_rep);
    force_control(t, t->fim_sep);

    t->eog = calloc((size_t)n, 1);
    if (!t->eog) goto nomem;
    for (int i = 0; eog_names[i]; i++) {
        st_token id = st_tok_lookup(t, eog_names[i], strlen(eog_names[i]));
        if (id >= 0) { t->eog[id] = 1; force_control(t, id); }
    }
    st_token always[] = {t->eos, t->eot, t->eom, t->fim_pad, t->fim_rep, t->fim_sep};
    for (size_t i = 0; i < sizeof always / sizeof always[0]; i++)
        if (always[i] >= 0) t->eog[always[i]] = 1;

    /* special tokens: matched before the text is split */
    int ns = 0;
    for (int i = 0; i < n; i++) {
        int ty = t->tok[i].type;
        ns += ty == ST_TOKEN_CONTROL || ty == ST_TOKEN_USER_DEFINED || ty == ST_TOKEN_UNKNOWN;
    }
    t->specials = malloc(sizeof *t->specials * (size_t)(ns ? ns : 1));
    if (!t->specials) goto nomem;
    for (int i = 0; i < n; i++) {
        int ty = t->tok[i].type;
        if (ty == ST_TOKEN_CONTROL || ty == ST_TOKEN_USER_DEFINED || ty == ST_TOKEN_UNKNOWN) {
            t->specials[t->n_specials++] = i;
        }
    }
    sort_specials(t);
    st = st_tok_build_special_index(t);
    if (st) goto fail;

    /* Phi-3's converted vocab needs its special tokens to swallow following
     * whitespace (llama.cpp keys this on the model name). */
    if (s->name) {
        char low[128];
        size_t l = strlen(s->name);
        if (l >= sizeof low) l = sizeof low - 1;
        for (size_t i = 0; i < l; i++) low[i] = (char)tolower((unsigned char)s->name[i]);
        low[l] = 0;
        if (strstr(low, "phi-3") || strstr(low, "phi3")) {
            for (int i = 0; i < t->n_specials; i++) t->tok[t->specials[i]].flags |= ST_TF_RSTRIP;
            st_token id = st_tok_lookup(t, "</s>", 4);
            if (id >= 0) t->tok[id].flags |= ST_TF_RSTRIP;
            static const char *const keep[] = {"<unk>", "<s>", "<|endoftext|>", NULL};
            for (int i = 0; keep[i]; i++) {
                id = st_tok_lookup(t, keep[i], strlen(keep[i]));
                if (id >= 0) t->tok[id].flags &= (uint8_t)~ST_TF_RSTRIP;
            }
        }
    }

    t->arch = dup_or_null(s->arch);
    t->model_name = dup_or_null(s->name);
    t->chat_template = dup_or_null(s->chat_template);
    if ((s->arch && !t->arch) || (s->name && !t->model_name) || (s->chat_template && !t->chat_template))
        goto nomem;

    st = st_tok_build_pieces(t);
    if (st) goto fail;
    *out = t;
    return ST_OK;
nomem:
    st = st_errorf(ST_E_NOMEM, "tokenizer: out of memory");
fail:
    st_tokenizer_free(t);
    return st;
}

void st_tokenizer_free(st_tokenizer *t) {
    if (!t) return;
    free(t->tok);
    free(t->text_pool);
    free(t->hash);
    free(t->merges);
    st_pretok_free(t->pre);
    free(t->eog);
    free(t->specials);
    free(t->level_len);
    free(t->level_first);
    free(t->spec_hash);
    free(t->piece_pool);
    free(t->piece_off);
    free(t->arch);
    free(t->model_name);
    free(t->chat_template);
    free(t);
}

/* ---------------------------------------------------------------- GGUF */

static st_token gguf_id(const st_gguf *g, const char *key) {
    if (!st_gguf_find(g, key)) return -2;
    uint32_t v;
    if (st_gguf_get_u32(g, key, &v) != ST_OK) { st_error_clear(); return -2; }
    return v > (1u << 30) ? -2 : (st_token)v;
}

static int gguf_flag(const st_gguf *g, const char *key) {
    if (!st_gguf_find(g, key)) return -1;
    int v;
    if (st_gguf_get_bool(g, key, &v) != ST_OK) { st_error_clear(); return -1; }
    return v != 0;
}

static const char *gguf_str(const st_gguf *g, const char *key) {
    if (!st_gguf_find(g, key)) return NULL;
    const char *v;
    if (st_gguf_get_str(g, key, &v) != ST_OK) { st_error_clear(); return NULL; }
    return v;
}

st_status st_tokenizer_load_gguf(const st_gguf *g, st_tokenizer **out) {
    *out = NULL;
    st_tok_spec s;
    st_tok_spec_init(&s);
    s.model = gguf_str(g, "tokenizer.ggml.model");
    if (!s.model) return st_errorf(ST_E_FORMAT, "tokenizer: GGUF has no tokenizer.ggml.model");
    s.pre = gguf_str(g, "tokenizer.ggml.pre");

    const char *const *texts;
    const uint64_t *lens;
    uint64_t n;
    ST_TRY(st_gguf_get_arr_str(g, "tokenizer.ggml.tokens", &texts, &lens, &n));
    if (n == 0 || n > (1u << 24)) return st_errorf(ST_E_FORMAT, "tokenizer: bad token count %llu", (unsigned long long)n);
    s.n_vocab = (int)n;
    s.texts = texts;
    s.lens = lens;

    float *scores = NULL;
    int32_t *types = NULL;
    st_status st = ST_OK;
    if (st_gguf_find(g, "tokenizer.ggml.scores")) {
        uint64_t m = st_gguf_arr_len(g, "tokenizer.ggml.scores");
        if (m < n) return st_errorf(ST_E_FORMAT, "tokenizer: %llu scores for %llu tokens", (unsigned long long)m, (unsigned long long)n);
        scores = malloc(sizeof *scores * m);
        if (!scores) return st_errorf(ST_E_NOMEM, "tokenizer: out of memory");
        st = st_gguf_get_arr_f32(g, "tokenizer.ggml.scores", scores, m, &m);
        if (st) goto done;
        s.scores = scores;
    }
    if (st_gguf_find(g, "tokenizer.ggml.token_type")) {
        uint64_t m = st_gguf_arr_len(g, "tokenizer.ggml.token_type");
        if (m < n) { st = st_errorf(ST_E_FORMAT, "tokenizer: %llu token types for %llu tokens", (unsigned long long)m, (unsigned long long)n); goto done; }
        types = malloc(sizeof *types * m);
        if (!types) { st = st_errorf(ST_E_NOMEM, "tokenizer: out of memory"); goto done; }
        st = st_gguf_get_arr_i32(g, "tokenizer.ggml.token_type", types, m, &m);
        if (st) goto done;
        s.types = types;
    }
    if (!strcmp(s.model, "gpt2")) {
        if (!st_gguf_find(g, "tokenizer.ggml.merges")) { st = st_errorf(ST_E_FORMAT, "tokenizer: BPE vocabulary without tokenizer.ggml.merges"); goto done; }
        const char *const *mt;
        const uint64_t *ml;
        uint64_t nm;
        st = st_gguf_get_arr_str(g, "tokenizer.ggml.merges", &mt, &ml, &nm);
        if (st) goto done;
        if (nm > (1u << 26)) { st = st_errorf(ST_E_FORMAT, "tokenizer: %llu merges", (unsigned long long)nm); goto done; }
        s.merges = mt;
        s.merge_lens = ml;
        s.n_merges = (int)nm;
    }
    s.bos = gguf_id(g, "tokenizer.ggml.bos_token_id");
    s.eos = gguf_id(g, "tokenizer.ggml.eos_token_id");
    s.eot = gguf_id(g, "tokenizer.ggml.eot_token_id");
    s.eom = gguf_id(g, "tokenizer.ggml.eom_token_id");
    s.unk = gguf_id(g, "tokenizer.ggml.unknown_token_id");
    s.pad = gguf_id(g, "tokenizer.ggml.padding_token_id");
    s.sep = gguf_id(g, "tokenizer.ggml.seperator_token_id");
    s.add_bos = gguf_flag(g, "tokenizer.ggml.add_bos_token");
    s.add_eos = gguf_flag(g, "tokenizer.ggml.add_eos_token");
    s.add_space_prefix = gguf_flag(g, "tokenizer.ggml.add_space_prefix");
    s.arch = gguf_str(g, "general.architecture");
    s.name = gguf_str(g, "general.name");
    s.chat_template = gguf_str(g, "tokenizer.chat_template");
    st = st_tok_build(&s, out);
done:
    free(scores);
    free(types);
    return st;
}

/* ---------------------------------------------------------------- llama2.c tokenizer.bin
 * int32 max_token_length, then per token: float32 score, int32 length, bytes. */
st_status st_tokenizer_load_llama2c(const char *path, st_tokenizer **out) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return st_errorf(ST_E_IO, "tokenizer: cannot open '%s'", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (size < 4 || size > (1L << 30)) { fclose(f); return st_errorf(ST_E_FORMAT, "tokenizer: '%s' is not a llama2.c tokenizer", path); }
    unsigned char *buf = malloc((size_t)size);
    if (!buf) { fclose(f); return st_errorf(ST_E_NOMEM, "tokenizer: out of memory"); }
    size_t got = fread(buf, 1, (size_t)size, f);
    fclose(f);
    if (got != (size_t)size) { free(buf); return st_errorf(ST_E_IO, "tokenizer: cannot read '%s'", path); }

    /* two passes: count, then fill */
    int count = 0;
    size_t p = 4;
    while (p < (size_t)size) {
        int32_t len;
        if ((size_t)size - p < 8) goto bad;
        memcpy(&len, buf + p + 4, 4);
        if (len < 0 || (size_t)len > (size_t)size - p - 8) goto bad;
        p += 8 + (size_t)len;
        count++;
    }
    if (count == 0) goto bad;
    const char **texts = malloc(sizeof *texts * (size_t)count);
    uint64_t *lens = malloc(sizeof *lens * (size_t)count);
    float *scores = malloc(sizeof *scores * (size_t)count);
    int32_t *types = malloc(sizeof *types * (size_t)count);
    char **owned = malloc(sizeof *owned * (size_t)count);
    int n_owned = 0;
    st_status st;
    if (!texts || !lens || !scores || !types || !owned) { st = st_errorf(ST_E_NOMEM, "tokenizer: out of memory"); goto done; }
    p = 4;
    for (int i = 0; i < count; i++) {
        int32_t len;
        memcpy(&scores[i], buf + p, 4);
        memcpy(&len, buf + p + 4, 4);
        texts[i] = (const char *)buf + p + 8;
        lens[i] = (uint64_t)len;
        p += 8 + (size_t)len;
        /* llama2.c stores BOS/EOS as "\n<s>\n" / "\n</s>\n" for its printing; GGUF has the bare names */
        if ((len == 5 && !memcmp(texts[i], "\n<s>\n", 5)) || (len == 6 && !memcmp(texts[i], "\n</s>\n", 6))) {
            texts[i]++;
            len -= 2;
            lens[i] = (uint64_t)len;
        }
        /* ... and spaces as ' ' where SentencePiece (and GGUF) has U+2581 */
        if (memchr(texts[i], ' ', (size_t)len)) {
            char *w = malloc((size_t)len * 3 + 1);
            if (!w) { st = st_errorf(ST_E_NOMEM, "tokenizer: out of memory"); goto done; }
            size_t k = 0;
            for (int32_t j = 0; j < len; j++) {
                if (texts[i][j] == ' ') { memcpy(w + k, "\xE2\x96\x81", 3); k += 3; }
                else w[k++] = texts[i][j];
            }
            texts[i] = owned[n_owned++] = w;
            lens[i] = k;
        }
        /* llama2.c has no types: derive them the way its GGUF conversion does */
        const char *s = texts[i];
        if (len == 5 && !memcmp(s, "<unk>", 5)) types[i] = ST_TOKEN_UNKNOWN;
        else if ((len == 3 && !memcmp(s, "<s>", 3)) || (len == 4 && !memcmp(s, "</s>", 4))) types[i] = ST_TOKEN_CONTROL;
        else if (len == 6 && s[0] == '<' && s[1] == '0' && s[2] == 'x' && isxdigit((unsigned char)s[3]) &&
                 isxdigit((unsigned char)s[4]) && s[5] == '>') types[i] = ST_TOKEN_BYTE;
        else types[i] = ST_TOKEN_NORMAL;
    }
    st_tok_spec s;
    st_tok_spec_init(&s);
    s.model = "llama";
    s.n_vocab = count;
    s.texts = texts;
    s.lens = lens;
    s.scores = scores;
    s.types = types;
    s.arch = "llama";
    st = st_tok_build(&s, out);
done:
    for (int i = 0; i < n_owned; i++) free(owned[i]);
    free(owned);
    free(texts);
    free(lens);
    free(scores);
    free(types);
    free(buf);
    return st;
bad:
    free(buf);
    return st_errorf(ST_E_FORMAT, "tokenizer: '%s' is not a valid llama2.c tokenizer", path);
}

st_status st_tokenizer_load_file(const char *path, st_tokenizer **out) {
    if (!path || !out) return st_errorf(ST_E_ARG, "tokenizer: NULL argument");
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0) return st_errorf(ST_E_IO, "tokenizer: cannot open '%s'", path);
    if (S_ISDIR(sb.st_mode)) return st_tokenizer_load_hf_dir(path, out);
    size_t pl = strlen(path);
    if (pl >= 14 && !strcmp(path + pl - 14, "tokenizer.json")) {
        /* a tokenizer.json names its directory */
        char *dir = strdup(path);
        if (!dir) return st_errorf(ST_E_NOMEM, "tokenizer: out of memory");
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0;
        else strcpy(dir, ".");
        st_status st = st_tokenizer_load_hf_dir(dir, out);
        free(dir);
        return st;
    }
    FILE *f = fopen(path, "rb");
    if (!f) return st_errorf(ST_E_IO, "tokenizer: cannot open '%s'", path);
    char magic[4] = {0};
    size_t got = fread(magic, 1, 4, f);
    fclose(f);
    if (got == 4 && !memcmp(magic, "GGUF", 4)) {
        st_gguf *g;
        ST_TRY(st_gguf_open(path, &g));
        st_status st = st_tokenizer_load_gguf(g, out);
        st_gguf_close(g);
        return st;
    }
    return st_tokenizer_load_llama2c(path, out);
}

/* ---------------------------------------------------------------- accessors */

int st_tokenizer_n_vocab(const st_tokenizer *t) { return t ? t->n_vocab : 0; }
st_vocab_kind st_tokenizer_kind(const st_tokenizer *t) { return t->kind; }
const char *st_tokenizer_pre(const st_tokenizer *t) { return t->pre_name; }
st_token st_tokenizer_bos(const st_tokenizer *t) { return t->bos; }
st_token st_tokenizer_eos(const st_tokenizer *t) { return t->eos; }
st_token st_tokenizer_eot(const st_tokenizer *t) { return t->eot; }
int st_tokenizer_adds_bos(const st_tokenizer *t) { return t->add_bos; }

int st_tokenizer_is_eog(const st_tokenizer *t, st_token id) {
    return t && id >= 0 && id < t->n_vocab && t->eog[id];
}

st_token_type st_tokenizer_token_type(const st_tokenizer *t, st_token id) {
    if (!t || id < 0 || id >= t->n_vocab) return (st_token_type)0;
    return (st_token_type)t->tok[id].type;
}

const char *st_tokenizer_token_text(const st_tokenizer *t, st_token id) {
    if (!t || id < 0 || id >= t->n_vocab) return NULL;
    return t->text_pool + t->tok[id].off;
}

st_token st_tokenizer_find(const st_tokenizer *t, const char *text) {
    if (!t || !text) return -1;
    return st_tok_lookup(t, text, strlen(text));
}
