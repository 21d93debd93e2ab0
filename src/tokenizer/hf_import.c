/* Import of a Hugging Face byte-level BPE tokenizer directory:
 * tokenizer.json when present, else vocab.json + merges.txt (+ added_tokens.json);
 * tokenizer_config.json gives special-token flags, BOS/EOS and the chat
 * template; config.json the padded vocabulary size. The result is the same
 * vocabulary a GGUF conversion of the directory would hold. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "tokenizer/tokenizer.h"

typedef struct hf {
    const char *dir;
    json_t *tok_json, *vocab_json, *added_json, *cfg_json, *model_cfg;
    char *merges_txt;
    /* the vocabulary being built */
    int n;
    const char **texts;
    uint64_t *lens;
    int32_t *types;
    uint8_t *flags;
    char **owned;      /* strings allocated here (pads, merges) */
    size_t n_owned, cap_owned;
    const char **merges;
    int n_merges;
} hf;

static char *path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

static st_status read_text(const char *dir, const char *name, char **out, size_t *size, int required) {
    *out = NULL;
    char *p = path_join(dir, name);
    if (!p) return st_errorf(ST_E_NOMEM, "tokenizer: out of memory");
    FILE *f = fopen(p, "rb");
    if (!f) {
        st_status st = required ? st_errorf(ST_E_IO, "tokenizer: cannot open '%s'", p) : ST_OK;
        free(p);
        return st;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(buf);
        st_status st = st_errorf(ST_E_IO, "tokenizer: cannot read '%s'", p);
        free(p);
        return st;
    }
    fclose(f);
    free(p);
    buf[n] = 0;
    *out = buf;
    if (size) *size = (size_t)n;
    return ST_OK;
}

static st_status read_json(const char *dir, const char *name, json_t **out, int required) {
    *out = NULL;
    char *text;
    size_t n;
    ST_TRY(read_text(dir, name, &text, &n, required));
    if (!text) return ST_OK;
    json_error_t err;
    *out = json_loadb(text, n, JSON_ALLOW_NUL, &err);
    free(text);
    if (!*out) return st_errorf(ST_E_FORMAT, "tokenizer: %s/%s: line %d: %s", dir, name, err.line, err.text);
    return ST_OK;
}

static char *own(hf *h, char *s) {
    if (!s) return NULL;
    if (h->n_owned == h->cap_owned) {
        size_t nc = h->cap_owned ? h->cap_owned * 2 : 1024;
        char **no = realloc(h->owned, nc * sizeof *no);
        if (!no) { free(s); return NULL; }
        h->owned = no;
        h->cap_owned = nc;
    }
    h->owned[h->n_owned++] = s;
    return s;
}

static st_status grow_vocab(hf *h, int n) {
    if (n <= h->n) return ST_OK;
    if (n > (1 << 24)) return st_errorf(ST_E_FORMAT, "tokenizer: token id %d is too large", n - 1);
    const char **t = realloc(h->texts, sizeof *t * (size_t)n);
    if (t) h->texts = t;
    uint64_t *l = realloc(h->lens, sizeof *l * (size_t)n);
    if (l) h->lens = l;
    int32_t *ty = realloc(h->types, sizeof *ty * (size_t)n);
    if (ty) h->types = ty;
    uint8_t *fl = realloc(h->flags, (size_t)n);
    if (fl) h->flags = fl;
    if (!t || !l || !ty || !fl) return st_errorf(ST_E_NOMEM, "tokenizer: out of memory");
    for (int i = h->n; i < n; i++) {
        h->texts[i] = NULL;
        h->lens[i] = 0;
        h->types[i] = 0;
        h->flags[i] = 0;
    }
    h->n = n;
    return ST_OK;
}

static st_status set_token(hf *h, json_int_t id, const char *s, size_t len, int type, uint8_t flags) {
    if (id < 0 || id >= (1 << 24)) return st_errorf(ST_E_FORMAT, "tokenizer: bad token id %lld", (long long)id);
    ST_TRY(grow_vocab(h, (int)id + 1));
    h->texts[id] = s;
    h->lens[id] = len;
    h->types[id] = type;
    h->flags[id] = flags;
    return ST_OK;
}

/* An added-token description: {"content": ..., "special": ..., "lstrip": ...}. */
static st_status add_token_obj(hf *h, json_int_t id, json_t *o) {
    json_t *c = json_object_get(o, "content");
    if (!json_is_string(c)) return st_errorf(ST_E_FORMAT, "tokenizer: added token %lld has no content", (long long)id);
    int special = json_is_true(json_object_get(o, "special"));
    uint8_t fl = (json_is_true(json_object_get(o, "lstrip")) ? ST_TF_LSTRIP : 0) |
                 (json_is_true(json_object_get(o, "rstrip")) ? ST_TF_RSTRIP : 0);
    return set_token(h, id, json_string_value(c), json_string_length(c),
                     special ? ST_TOKEN_CONTROL : ST_TOKEN_USER_DEFINED, fl);
}

static st_status load_vocab_object(hf *h, json_t *vocab) {
    if (!json_is_object(vocab)) return st_errorf(ST_E_FORMAT, "tokenizer: %s: vocabulary is not a JSON object", h->dir);
    const char *key;
    json_t *v;
    /* size first, so that the arrays grow once */
    json_int_t maxid = -1;
    json_object_foreach(vocab, key, v) {
        if (!json_is_integer(v)) return st_errorf(ST_E_FORMAT, "tokenizer: vocabulary entry '%s' is not an id", key);
        if (json_integer_value(v) > maxid) maxid = json_integer_value(v);
    }
    if (maxid >= 0) ST_TRY(grow_vocab(h, (int)(maxid < (1 << 24) ? maxid + 1 : (1 << 24) + 1)));
    json_object_foreach(vocab, key, v) {
        ST_TRY(set_token(h, json_integer_value(v), key, strlen(key), ST_TOKEN_NORMAL, 0));
    }
    return ST_OK;
}

static st_status load_merges_txt(hf *h) {
    char *text = h->merges_txt;
    size_t cap = 0;
    for (char *p = text; *p; p++) cap += *p == '\n';
    h->merges = malloc(sizeof *h->merges * (cap + 1));
    if (!h->merges) return st_errorf(ST_E_NOMEM, "tokenizer: out of memory");
    char *p = text;
    int first = 1;
    while (*p) {
        char *e = strchr(p, '\n');
        char *next = e ? e + 1 : p + strlen(p);
        if (e) *e = 0;
        size_t l = strlen(p);
        if (l && p[l - 1] == '\r') p[--l] = 0; /* CRLF files */
        if (l && !(first && !strncmp(p, "#version", 8))) h->merges[h->n_merges++] = p;
        first = 0;
        p = next;
    }
    return ST_OK;
}

static st_status load_merges_json(hf *h, json_t *arr) {
    if (!json_is_array(arr)) return st_errorf(ST_E_FORMAT, "tokenizer: tokenizer.json model.merges is not an array");
    size_t n = json_array_size(arr);
    h->merges = malloc(sizeof *h->merges * (n + 1));
    if (!h->merges) return st_errorf(ST_E_NOMEM, "tokenizer: out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(arr, i);
        if (json_is_string(m)) {
            h->merges[h->n_merges++] = json_string_value(m);
        } else if (json_is_array(m) && json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) &&
                   json_is_string(json_array_get(m, 1))) {
            /* newer files store pairs; join them the way merges.txt spells them */
            const char *a = json_string_value(json_array_get(m, 0)), *b = json_string_value(json_array_get(m, 1));
            size_t la = strlen(a), lb = strlen(b);
            char *s = own(h, malloc(la + lb + 2));
            if (!s) return st_errorf(ST_E_NOMEM, "tokenizer: out of memory");
            memcpy(s, a, la);
            s[la] = ' ';
            memcpy(s + la + 1, b, lb + 1);
            h->merges[h->n_merges++] = s;
        } else {
            return st_errorf(ST_E_FORMAT, "tokenizer: tokenizer.json merge %zu is malformed", i);
        }
    }
    return ST_OK;
}

/* "x" or {"content": "x"} -> id, -2 when absent; added tokens sit at the end, so search backwards */
static st_token special_id(const hf *h, json_t *v) {
    if (json_is_object(v)) v = json_object_get(v, "content");
    if (!json_is_string(v)) return -2;
    const char *s = json_string_value(v);
    size_t l = json_string_length(v);
    for (int i = h->n - 1; i >= 0; i--)
        if (h->lens[i] == l && !memcmp(h->texts[i], s, l)) return i;
    return -2;
}

static int find_regex(json_t *pt, const char **out) {
    if (!json_is_object(pt)) return 0;
    const char *type = json_string_value(json_object_get(pt, "type"));
    if (type && !strcmp(type, "Split")) {
        json_t *re = json_object_get(json_object_get(pt, "pattern"), "Regex");
        if (json_is_string(re)) { *out = json_string_value(re); return 1; }
    }
    json_t *list = json_object_get(pt, "pretokenizers");
    for (size_t i = 0; json_is_array(list) && i < json_array_size(list); i++)
        if (find_regex(json_array_get(list, i), out)) return 1;
    return 0;
}

/* The pre-tokenizer name from the files' contents. */
static const char *detect_pre(const hf *h) {
    static const char qwen2_re[] =
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    static const char llama3_re[] =
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    if (h->tok_json) {
        const char *re = NULL;
        json_t *pt = json_object_get(h->tok_json, "pre_tokenizer");
        if (find_regex(pt, &re)) {
            if (!strcmp(re, qwen2_re)) return "qwen2";
            if (!strcmp(re, llama3_re)) return "llama-bpe";
        } else if (json_is_object(pt)) {
            const char *type = json_string_value(json_object_get(pt, "type"));
            if (type && !strcmp(type, "ByteLevel")) return "gpt-2";
        }
    }
    const char *cls = json_string_value(json_object_get(h->cfg_json, "tokenizer_class"));
    if (cls && (!strncmp(cls, "Qwen2Tokenizer", 14))) return "qwen2";
    const char *mt = json_string_value(json_object_get(h->model_cfg, "model_type"));
    if (mt && !strncmp(mt, "qwen", 4)) return "qwen2";
    if (cls && !strncmp(cls, "GPT2Tokenizer", 13)) return "gpt-2";
    return "gpt-2";
}

st_status st_tokenizer_load_hf_dir(const char *dir, st_tokenizer **out) {
    *out = NULL;
    hf h;
    memset(&h, 0, sizeof h);
    h.dir = dir;
    st_status st;
    if ((st = read_json(dir, "tokenizer.json", &h.tok_json, 0))) goto done;
    if ((st = read_json(dir, "tokenizer_config.json", &h.cfg_json, 0))) goto done;
    if ((st = read_json(dir, "config.json", &h.model_cfg, 0))) goto done;

    if (h.tok_json) {
        json_t *model = json_object_get(h.tok_json, "model");
        const char *type = json_string_value(json_object_get(model, "type"));
        if (!type || strcmp(type, "BPE")) {
            st = st_errorf(ST_E_UNSUPPORTED, "tokenizer: %s/tokenizer.json: model type '%s' is not supported (BPE is)",
                           dir, type ? type : "?");
            goto done;
        }
        if (json_is_true(json_object_get(model, "byte_fallback"))) {
            st = st_errorf(ST_E_UNSUPPORTED, "tokenizer: %s/tokenizer.json: SentencePiece-style BPE (byte_fallback) is not supported; use a GGUF", dir);
            goto done;
        }
        if ((st = load_vocab_object(&h, json_object_get(model, "vocab")))) goto done;
        if ((st = load_merges_json(&h, json_object_get(model, "merges")))) goto done;
        json_t *added = json_object_get(h.tok_json, "added_tokens");
        for (size_t i = 0; json_is_array(added) && i < json_array_size(added); i++) {
            json_t *o = json_array_get(added, i);
            json_t *id = json_object_get(o, "id");
            if (!json_is_integer(id)) { st = st_errorf(ST_E_FORMAT, "tokenizer: added token %zu has no id", i); goto done; }
            if ((st = add_token_obj(&h, json_integer_value(id), o))) goto done;
        }
    } else {
        if ((st = read_json(dir, "vocab.json", &h.vocab_json, 1))) goto done;
        if ((st = read_text(dir, "merges.txt", &h.merges_txt, NULL, 1))) goto done;
        if ((st = read_json(dir, "added_tokens.json", &h.added_json, 0))) goto done;
        if ((st = load_vocab_object(&h, h.vocab_json))) goto done;
        if ((st = load_merges_txt(&h))) goto done;
        const char *key;
        json_t *v;
        json_object_foreach(h.added_json, key, v) {
            if (!json_is_integer(v)) { st = st_errorf(ST_E_FORMAT, "tokenizer: added_tokens.json: '%s' is not an id", key); goto done; }
            if ((st = set_token(&h, json_integer_value(v), key, strlen(key), ST_TOKEN_USER_DEFINED, 0))) goto done;
        }
    }
    /* tokenizer_config.json knows which added tokens are special */
    json_t *dec = json_object_get(h.cfg_json, "added_tokens_decoder");
    if (json_is_object(dec)) {
        const char *key;
        json_t *v;
        json_object_foreach(dec, key, v) {
            char *end;
            long id = strtol(key, &end, 10);
            if (*end || !json_is_object(v)) { st = st_errorf(ST_E_FORMAT, "tokenizer: added_tokens_decoder key '%s'", key); goto done; }
            if ((st = add_token_obj(&h, id, v))) goto done;
        }
    }
    /* the model's embedding rows beyond the tokenizer's ids become unused pad tokens */
    json_t *vs = json_object_get(h.model_cfg, "vocab_size");
    if (json_is_integer(vs) && json_integer_value(vs) > h.n && json_integer_value(vs) <= (1 << 24))
        if ((st = grow_vocab(&h, (int)json_integer_value(vs)))) goto done;
    for (int i = 0; i < h.n; i++) {
        if (h.texts[i]) continue;
        char *s = own(&h, malloc(24));
        if (!s) { st = st_errorf(ST_E_NOMEM, "tokenizer: out of memory"); goto done; }
        h.lens[i] = (uint64_t)snprintf(s, 24, "[PAD%d]", i);
        h.texts[i] = s;
        h.types[i] = ST_TOKEN_UNUSED;
    }
    if (h.n == 0) { st = st_errorf(ST_E_FORMAT, "tokenizer: %s: empty vocabulary", dir); goto done; }

    st_tok_spec s;
    st_tok_spec_init(&s);
    s.model = "gpt2";
    s.pre = detect_pre(&h);
    s.n_vocab = h.n;
    s.texts = h.texts;
    s.lens = h.lens;
    s.types = h.types;
    s.flags = h.flags;
    s.merges = h.merges;
    s.n_merges = h.n_merges;
    json_t *ab = json_object_get(h.cfg_json, "add_bos_token");
    if (json_is_boolean(ab)) s.add_bos = json_is_true(ab);
    json_t *ae = json_object_get(h.cfg_json, "add_eos_token");
    if (json_is_boolean(ae)) s.add_eos = json_is_true(ae);
    const char *arch = json_string_value(json_object_get(h.model_cfg, "model_type"));
    s.arch = arch;
    s.name = json_string_value(json_object_get(h.model_cfg, "_name_or_path"));
    json_t *ct = json_object_get(h.cfg_json, "chat_template");
    if (json_is_string(ct)) s.chat_template = json_string_value(ct);
    s.bos = special_id(&h, json_object_get(h.cfg_json, "bos_token"));
    s.eos = special_id(&h, json_object_get(h.cfg_json, "eos_token"));
    s.pad = special_id(&h, json_object_get(h.cfg_json, "pad_token"));
    /* config.json's ids fill in what tokenizer_config.json leaves null (Qwen's BOS) */
    json_t *cb = json_object_get(h.model_cfg, "bos_token_id"), *ce = json_object_get(h.model_cfg, "eos_token_id");
    if (s.bos == -2 && json_is_integer(cb) && json_integer_value(cb) >= 0 && json_integer_value(cb) < h.n)
        s.bos = (st_token)json_integer_value(cb);
    if (s.eos == -2 && json_is_integer(ce) && json_integer_value(ce) >= 0 && json_integer_value(ce) < h.n)
        s.eos = (st_token)json_integer_value(ce);
    st = st_tok_build(&s, out);
done:
    for (size_t i = 0; i < h.n_owned; i++) free(h.owned[i]);
    free(h.owned);
    free(h.texts);
    free(h.lens);
    free(h.types);
    free(h.flags);
    free(h.merges);
    free(h.merges_txt);
    json_decref(h.tok_json);
    json_decref(h.vocab_json);
    json_decref(h.added_json);
    json_decref(h.cfg_json);
    json_decref(h.model_cfg);
    return st;
}
