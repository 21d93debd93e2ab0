/* softthink chat: an interactive conversation with history, streamed replies,
 * thinking on or off, and every soft-thinking option of `generate`. */
#include <unistd.h>

#include "cli.h"
#include "gen.h"

static void usage(void) {
    printf("usage: softthink chat -m MODEL.gguf [--system TEXT] [--think | --no-think] [options]\n"
           "  type a message and press enter; commands: /reset (forget the conversation), /think, /no-think, /exit\n");
    gen_opts_help(stdout);
}

typedef struct history { st_chat_msg *m; char **own; int n, cap; } history;

static int push(history *h, const char *role, const char *content) {
    if (h->n == h->cap) {
        int cap = h->cap ? 2 * h->cap : 16;
        st_chat_msg *m = realloc(h->m, (size_t)cap * sizeof *m);
        char **o = realloc(h->own, (size_t)cap * sizeof *o);
        if (!m || !o) { free(m ? m : NULL); return -1; }
        h->m = m;
        h->own = o;
        h->cap = cap;
    }
    h->own[h->n] = strdup(content);
    if (!h->own[h->n]) return -1;
    h->m[h->n] = (st_chat_msg){role, h->own[h->n]};
    h->n++;
    return 0;
}

static void clear(history *h, int keep) {
    for (int i = keep; i < h->n; i++) free(h->own[i]);
    h->n = keep;
}

int cmd_chat(int argc, char **argv) {
    const char *C = "chat";
    gen_opts o;
    gen_opts_default(&o);
    o.n_predict = 1024;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--config")) o.config_path = argv[i + 1];
    if (o.config_path && gen_opts_load_config(C, &o, NULL, 0)) return 1;
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) { usage(); return 0; }
        int r = gen_opts_parse(C, &o, argc, argv, &i);
        if (r < 0) return 1;
        if (r == 0) return cli_fail(C, "unknown option '%s' (see --help)", argv[i]);
    }
    gen_session s;
    if (gen_session_open(C, &s, &o, 1)) return 1;
    if (!s.tok) { gen_session_close(&s); return cli_fail(C, "%s has no tokenizer", o.model); }
    int tty = isatty(0);
    history h = {0};
    int keep = 0, rc = 0;
    if (o.system) { push(&h, "system", o.system); keep = 1; }
    if (tty) fprintf(stderr, "softthink chat (%s template, thinking %s%s). /exit to quit.\n", s.tmpl.name,
                     s.o.think_mode == 0 ? "off" : "on", s.o.think.soft ? ", soft" : "");
    char *line = NULL;
    size_t cap = 0;
    for (;;) {
        if (tty) fprintf(stderr, "\n> ");
        ssize_t len = getline(&line, &cap, stdin);
        if (len < 0) break;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (len == 0) continue;
        if (!strcmp(line, "/exit") || !strcmp(line, "/quit")) break;
        if (!strcmp(line, "/reset")) { clear(&h, keep); fprintf(stderr, "(conversation cleared)\n"); continue; }
        if (!strcmp(line, "/think")) { s.o.think_mode = 1; continue; }
        if (!strcmp(line, "/no-think")) { s.o.think_mode = 0; continue; }
        if (push(&h, "user", line)) { rc = cli_fail(C, "out of memory"); break; }
        st_token *ids = NULL;
        int n = 0, thinking = 0;
        if (gen_prompt(C, &s, h.m, h.n, NULL, &ids, &n, &thinking)) { rc = 1; break; }
        gen_result res;
        int r = gen_run(C, &s, ids, n, thinking, stdout, &res);
        free(ids);
        if (r) { rc = 1; break; }
        if (tty)
            fprintf(stderr, "[%d tokens (thinking %d, soft %d), %.1f tok/s, thinking ended: %s]\n", res.n_ids, res.n_thinking,
                    res.n_soft, res.gen_s > 0 && res.n_ids > 1 ? (res.n_ids - 1) / res.gen_s : 0.0,
                    st_think_end_name(res.end_reason));
        push(&h, "assistant", res.text);
        gen_result_free(&res);
    }
    free(line);
    clear(&h, 0);
    free(h.m);
    free(h.own);
    gen_session_close(&s);
    return rc;
}
