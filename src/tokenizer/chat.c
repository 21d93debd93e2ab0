/* Chat prompt formats of the reasoning model families, written out in C rather
 * than by evaluating the Jinja templates: the families are few and fixed, and
 * the template text is only used to recognise which one a model uses. */
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "tokenizer/tokenizer.h"

#define FW_BAR "\xEF\xBD\x9C" /* U+FF5C, DeepSeek's fullwidth bar */
#define SPM_SP "\xE2\x96\x81" /* U+2581 */
#define DS_USER "<" FW_BAR "User" FW_BAR ">"
#define DS_ASSISTANT "<" FW_BAR "Assistant" FW_BAR ">"
#define DS_EOS "<" FW_BAR "end" SPM_SP "of" SPM_SP "sentence" FW_BAR ">"

static const char QWEN25_SYSTEM[] = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";
static const char QWEN2_SYSTEM[] = "You are a helpful assistant.";

typedef struct named {
    const char *name;
    st_chat_template tmpl;
} named;

static const named templates[] = {
    {"qwen3", {ST_CHAT_QWEN3, "qwen3", NULL}},
    {"qwen", {ST_CHAT_QWEN3, "qwen3", NULL}},
    {"qwq", {ST_CHAT_QWEN3, "qwen3", NULL}},
    {"qwen2.5", {ST_CHAT_CHATML, "qwen2.5", QWEN25_SYSTEM}},
    {"qwen2", {ST_CHAT_CHATML, "qwen2", QWEN2_SYSTEM}},
    {"chatml", {ST_CHAT_CHATML, "chatml", NULL}},
    {"deepseek-r1", {ST_CHAT_DEEPSEEK_R1, "deepseek-r1", NULL}},
    {"deepseek", {ST_CHAT_DEEPSEEK_R1, "deepseek-r1", NULL}},
    {"llama3", {ST_CHAT_LLAMA3, "llama3", NULL}},
    {"llama-3", {ST_CHAT_LLAMA3, "llama3", NULL}},
    {"plain", {ST_CHAT_PLAIN, "plain", NULL}},
    {"arith", {ST_CHAT_ARITH, "arith", NULL}},
};

const char *const *st_chat_template_names(void) {
    static const char *const names[] = {"qwen3", "qwen", "qwq", "qwen2.5", "qwen2", "chatml", "deepseek-r1",
                                        "deepseek", "llama3", "llama-3", "plain", "arith", NULL};
    return names;
}

st_status st_chat_template_by_name(const char *name, st_chat_template *out) {
    if (!name || !out) return st_errorf(ST_E_ARG, "chat: NULL argument");
    for (size_t i = 0; i < sizeof templates / sizeof templates[0]; i++)
        if (!strcmp(templates[i].name, name)) {
            *out = templates[i].tmpl;
            return ST_OK;
        }
    return st_errorf(ST_E_ARG, "chat: unknown template '%s' (qwen3, qwen2.5, chatml, deepseek-r1, llama3, plain, arith)", name);
}

static st_chat_template by_name(const char *name) {
    st_chat_template t;
    st_chat_template_by_name(name, &t);
    return t;
}

static int has_token(const st_tokenizer *t, const char *s) {
    return st_tok_lookup(t, s, strlen(s)) >= 0;
}

st_chat_template st_chat_template_detect(const st_tokenizer *t) {
    if (!t) return by_name("plain");
    const char *ct = t->chat_template;
    if (ct) {
        if (strstr(ct, "softthink-arith")) return by_name("arith"); /* our own model (src/train) */
        if (strstr(ct, DS_ASSISTANT) || strstr(ct, DS_USER)) return by_name("deepseek-r1");
        if (strstr(ct, "<|start_header_id|>")) return by_name("llama3");
        if (strstr(ct, "<|im_start|>")) {
            if (strstr(ct, "<think>") || strstr(ct, "enable_thinking")) return by_name("qwen3");
            if (strstr(ct, QWEN25_SYSTEM)) return by_name("qwen2.5");
            if (strstr(ct, QWEN2_SYSTEM)) return by_name("qwen2");
            return by_name("chatml");
        }
    }
    if (has_token(t, DS_ASSISTANT)) return by_name("deepseek-r1");
    if (has_token(t, "<|start_header_id|>")) return by_name("llama3");
    if (has_token(t, "<|im_start|>")) {
        int qwen3_arch = t->arch && !strncmp(t->arch, "qwen3", 5);
        if (qwen3_arch || has_token(t, "<think>")) return by_name("qwen3");
        return by_name("chatml");
    }
    return by_name("plain");
}

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = (b->n + n + 1) * 2;
        char *np = realloc(b->p, nc);
        if (!np) { b->oom = 1; return; }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void puts_(sbuf *b, const char *s) { put(b, s, strlen(s)); }

/* An earlier assistant turn keeps only its answer: text after the last </think>, leading newlines dropped. */
static const char *answer_part(const char *c) {
    const char *p = c, *q;
    while ((q = strstr(p, "</think>"))) p = q + 8;
    if (p != c)
        while (*p == '\n') p++;
    return p;
}

static void put_trimmed(sbuf *b, const char *s) {
    const char *e = s + strlen(s);
    while (s < e && (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')) s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\n' || e[-1] == '\t' || e[-1] == '\r')) e--;
    put(b, s, (size_t)(e - s));
}

st_status st_chat_format(const st_chat_template *tmpl, const st_chat_msg *msgs, int n, int add_assistant, int think,
                         char **out) {
    if (!out) return st_errorf(ST_E_ARG, "chat: NULL argument");
    *out = NULL;
    if (!tmpl || n < 0 || (n && !msgs)) return st_errorf(ST_E_ARG, "chat: invalid argument");
    for (int i = 0; i < n; i++)
        if (!msgs[i].role || !msgs[i].content) return st_errorf(ST_E_ARG, "chat: message %d has no role or content", i);
    sbuf b = {0};
    put(&b, "", 0);
    int first = 0;
    const char *sys = tmpl->default_system;
    if (n > 0 && !strcmp(msgs[0].role, "system")) {
        sys = msgs[0].content;
        first = 1;
    }
    int last_user = -1;
    for (int i = 0; i < n; i++)
        if (!strcmp(msgs[i].role, "user")) last_user = i;

    switch (tmpl->family) {
    case ST_CHAT_CHATML:
    case ST_CHAT_QWEN3:
        if (sys) { puts_(&b, "<|im_start|>system\n"); puts_(&b, sys); puts_(&b, "<|im_end|>\n"); }
        for (int i = first; i < n; i++) {
            const char *c = msgs[i].content;
            if (!strcmp(msgs[i].role, "assistant") && (tmpl->family == ST_CHAT_CHATML || i < last_user))
                c = answer_part(c);
            puts_(&b, "<|im_start|>");
            puts_(&b, msgs[i].role);
            puts_(&b, "\n");
            puts_(&b, c);
            puts_(&b, "<|im_end|>\n");
        }
        if (add_assistant) {
            puts_(&b, "<|im_start|>assistant\n");
            puts_(&b, think ? "<think>\n" : "<think>\n\n</think>\n\n");
        }
        break;
    case ST_CHAT_DEEPSEEK_R1:
        if (sys) puts_(&b, sys);
        for (int i = first; i < n; i++) {
            if (!strcmp(msgs[i].role, "assistant")) {
                puts_(&b, DS_ASSISTANT);
                puts_(&b, answer_part(msgs[i].content));
                puts_(&b, DS_EOS);
            } else if (!strcmp(msgs[i].role, "system")) {
                puts_(&b, msgs[i].content);
            } else {
                puts_(&b, DS_USER);
                puts_(&b, msgs[i].content);
            }
        }
        if (add_assistant) {
            puts_(&b, DS_ASSISTANT);
            puts_(&b, think ? "<think>\n" : "<think>\n\n</think>\n\n");
        }
        break;
    case ST_CHAT_LLAMA3:
        if (sys && !first) {
            puts_(&b, "<|start_header_id|>system<|end_header_id|>\n\n");
            put_trimmed(&b, sys);
            puts_(&b, "<|eot_id|>");
        }
        for (int i = 0; i < n; i++) {
            puts_(&b, "<|start_header_id|>");
            puts_(&b, msgs[i].role);
            puts_(&b, "<|end_header_id|>\n\n");
            put_trimmed(&b, msgs[i].content);
            puts_(&b, "<|eot_id|>");
        }
        if (add_assistant) {
            puts_(&b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
            if (think) puts_(&b, "<think>\n");
        }
        break;
    case ST_CHAT_ARITH: /* question, then the think block the model was trained with */
        for (int i = first; i < n; i++) {
            if (!strcmp(msgs[i].role, "assistant")) { puts_(&b, "\n<think>\n</think>\n"); puts_(&b, answer_part(msgs[i].content)); puts_(&b, "\n"); }
            else if (!strcmp(msgs[i].role, "user")) puts_(&b, msgs[i].content);
        }
        if (add_assistant) puts_(&b, think ? "\n<think>\n" : "\n<think>\n</think>\n");
        break;
    case ST_CHAT_PLAIN:
    default:
        if (sys) { puts_(&b, sys); puts_(&b, "\n\n"); }
        for (int i = first; i < n; i++) {
            const char *r = msgs[i].role;
            if (!strcmp(r, "user")) puts_(&b, "User: ");
            else if (!strcmp(r, "assistant")) puts_(&b, "Assistant: ");
            else if (!strcmp(r, "system")) puts_(&b, "System: ");
            else { puts_(&b, r); puts_(&b, ": "); }
            puts_(&b, msgs[i].content);
            puts_(&b, "\n\n");
        }
        if (add_assistant) puts_(&b, think ? "Assistant: <think>\n" : "Assistant:");
        break;
    }
    if (b.oom) {
        free(b.p);
        return st_errorf(ST_E_NOMEM, "chat: out of memory");
    }
    *out = b.p;
    return ST_OK;
}

st_think_markers st_chat_think_markers(const st_chat_template *tmpl, const st_tokenizer *t) {
    (void)tmpl; /* every supported family marks reasoning with <think> ... </think> */
    st_think_markers m = {"<think>", "</think>", -1, -1};
    if (t) {
        m.start_id = st_tok_lookup(t, m.start, strlen(m.start));
        m.end_id = st_tok_lookup(t, m.end, strlen(m.end));
    }
    return m;
}
