/* The tokenizer of our arithmetic model: a SentencePiece-style ("llama")
 * vocabulary of a few hundred pieces — control tokens, <think> and </think>
 * as user-defined tokens, the 256 byte-fallback tokens (so any text
 * round-trips), every printable ASCII character, the operators with their
 * leading space, and every prefix of every word the problem
 * templates use (with and without the leading U+2581), scored by length so
 * that words merge into one piece. Numbers are one token per digit, and the
 * space before a number is a token of its own, so each digit has one token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task/arith.h"
#include "tokenizer/tokenizer.h"
#include "train/train.h"

#define SP "\xE2\x96\x81"

const char st_arith_chat_template[] =
    "{# softthink-arith #}{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}{{ m['content'] }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{% if enable_thinking is defined and not enable_thinking %}"
    "{{ '\\n<think>\\n</think>\\n' }}{% else %}{{ '\\n<think>\\n' }}{% endif %}{% endif %}";

static int add(st_train_vocab *v, int *cap, const char *s, float score, int type) {
    for (int i = 0; i < v->n; i++)
        if (!strcmp(v->texts[i], s)) return i;
    if (v->n == *cap) {
        int nc = *cap ? *cap * 2 : 512;
        char **t = realloc(v->texts, sizeof *t * (size_t)nc);
        if (!t) return -1;
        v->texts = t;
        float *sc = realloc(v->scores, sizeof *sc * (size_t)nc);
        if (!sc) return -1;
        v->scores = sc;
        int32_t *ty = realloc(v->types, sizeof *ty * (size_t)nc);
        if (!ty) return -1;
        v->types = ty;
        *cap = nc;
    }
    v->texts[v->n] = strdup(s);
    if (!v->texts[v->n]) return -1;
    v->scores[v->n] = score;
    v->types[v->n] = type;
    return v->n++;
}

st_status st_train_vocab_build(st_train_vocab *v) {
    memset(v, 0, sizeof *v);
    int cap = 0, ok = 1;
    ok &= (v->unk = add(v, &cap, "<unk>", 0, ST_TOKEN_UNKNOWN)) >= 0;
    ok &= (v->bos = add(v, &cap, "<s>", 0, ST_TOKEN_CONTROL)) >= 0;
    ok &= (v->eos = add(v, &cap, "<|endoftext|>", 0, ST_TOKEN_CONTROL)) >= 0;
    ok &= (v->think = add(v, &cap, "<think>", 0, ST_TOKEN_USER_DEFINED)) >= 0;
    ok &= (v->think_end = add(v, &cap, "</think>", 0, ST_TOKEN_USER_DEFINED)) >= 0;
    char b[64];
    for (int i = 0; i < 256 && ok; i++) {
        snprintf(b, sizeof b, "<0x%02X>", i);
        ok &= add(v, &cap, b, 0, ST_TOKEN_BYTE) >= 0;
    }
    ok &= add(v, &cap, SP, -1, ST_TOKEN_NORMAL) >= 0;
    for (int c = 0x21; c < 0x7F && ok; c++) {
        b[0] = (char)c;
        b[1] = 0;
        ok &= add(v, &cap, b, -1, ST_TOKEN_NORMAL) >= 0;
    }
    /* no " 0".." 9": a digit is always the same token, wherever it stands */
    static const char *const ops[] = {SP "+", SP "-", SP "="};
    for (size_t i = 0; i < sizeof ops / sizeof *ops && ok; i++) ok &= add(v, &cap, ops[i], 0, ST_TOKEN_NORMAL) >= 0;
    int nw;
    const char *const *w = st_arith_words(&nw);
    for (int i = 0; i < nw && ok; i++) {
        size_t l = strlen(w[i]);
        for (size_t k = 2; k <= l + 3 && ok; k++) { /* "▁" + prefix of k-3 chars, k counted in bytes */
            if (k >= 4) {
                snprintf(b, sizeof b, SP "%.*s", (int)(k - 3), w[i]);
                ok &= add(v, &cap, b, (float)(k - 3), ST_TOKEN_NORMAL) >= 0;
            }
            if (k <= l) {
                snprintf(b, sizeof b, "%.*s", (int)k, w[i]);
                ok &= add(v, &cap, b, (float)k - 0.5f, ST_TOKEN_NORMAL) >= 0;
            }
        }
    }
    if (!ok) {
        st_train_vocab_free(v);
        return st_errorf(ST_E_NOMEM, "train: out of memory (vocabulary)");
    }
    return ST_OK;
}

void st_train_vocab_free(st_train_vocab *v) {
    for (int i = 0; i < v->n; i++) free(v->texts[i]);
    free(v->texts);
    free(v->scores);
    free(v->types);
    memset(v, 0, sizeof *v);
}

st_status st_train_vocab_tokenizer(const st_train_vocab *v, st_tokenizer **out) {
    st_tok_spec s;
    st_tok_spec_init(&s);
    s.model = "llama";
    s.n_vocab = v->n;
    s.texts = (const char *const *)v->texts;
    s.scores = v->scores;
    s.types = v->types;
    s.bos = v->bos;
    s.eos = v->eos;
    s.unk = v->unk;
    s.add_bos = 1;
    s.add_eos = 0;
    s.add_space_prefix = 0;
    s.arch = "gpt2";
    s.name = "softthink-arith";
    s.chat_template = st_arith_chat_template;
    return st_tok_build(&s, out);
}
