/* softthink generate: one completion, from ids, raw text or a chat message. */
#include "cli.h"
#include "gen.h"

static void usage(void) {
    printf("usage: softthink generate -m MODEL.gguf (--ids \"1 2 3\" | --prompt TEXT | --prompt-file F) [--chat] [options]\n"
           "  --ids \"...\"      prompt token ids (no tokenizer needed)\n"
           "  --prompt TEXT    prompt text, used as is (add --chat to format it as a user turn)\n"
           "  --chat           format the prompt with the model's chat template (opens <think> for reasoning models)\n");
    gen_opts_help(stdout);
}

static char *read_all(FILE *f) {
    size_t n = 0, cap = 4096;
    char *s = malloc(cap);
    for (size_t r; s && (r = fread(s + n, 1, cap - n - 1, f)) > 0;) {
        n += r;
        if (n + 1 == cap) {
            char *p = realloc(s, cap *= 2);
            if (!p) { free(s); return NULL; }
            s = p;
        }
    }
    if (s) s[n] = 0;
    return s;
}

int cmd_generate(int argc, char **argv) {
    const char *C = "generate", *ids_s = NULL, *prompt = NULL, *prompt_file = NULL;
    int chat = 0;
    gen_opts o;
    gen_opts_default(&o);
    o.n_predict = 64;
    /* the config file first, so that flags override it */
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--config")) o.config_path = argv[i + 1];
    if (o.config_path && gen_opts_load_config(C, &o, NULL, 0)) return 1;
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--ids", &ids_s)) continue;
        if (cli_opt(argc, argv, &i, "--prompt", &prompt) || cli_opt(argc, argv, &i, "-p", &prompt)) {
            if (!prompt) return cli_fail(C, "--prompt needs a value");
            continue;
        }
        if (cli_opt(argc, argv, &i, "--prompt-file", &prompt_file)) continue;
        if (cli_flag(argv, i, "--chat")) { chat = 1; continue; }
        if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) { usage(); return 0; }
        int r = gen_opts_parse(C, &o, argc, argv, &i);
        if (r < 0) return 1;
        if (r == 0) return cli_fail(C, "unknown option '%s' (see --help)", argv[i]);
    }
    if (!!ids_s + !!prompt + !!prompt_file > 1) return cli_fail(C, "give one of --ids, --prompt, --prompt-file");
    char *text = NULL;
    if (prompt_file) {
        FILE *f = fopen(prompt_file, "rb");
        if (!f) return cli_fail(C, "cannot open prompt file '%s'", prompt_file);
        text = read_all(f);
        fclose(f);
    } else if (prompt) {
        text = strdup(prompt);
    } else if (!ids_s) {
        text = read_all(stdin);
    }
    gen_session s;
    if (gen_session_open(C, &s, &o, 1)) { free(text); return 1; }
    if (o.n_ctx == 0) { /* default: room for the prompt and the answer */ }
    st_token *ids = NULL;
    int n = 0, thinking = o.think_from_start, rc = 0;
    if (ids_s) {
        if (cli_parse_ids(C, ids_s, &ids, &n)) rc = 1;
    } else {
        st_chat_msg msgs[2];
        int nm = 0;
        if (o.system) msgs[nm++] = (st_chat_msg){"system", o.system};
        msgs[nm++] = (st_chat_msg){"user", text ? text : ""};
        if (gen_prompt(C, &s, msgs, nm, chat ? NULL : text, &ids, &n, &thinking)) rc = 1;
    }
    gen_result res = {0};
    if (!rc && gen_run(C, &s, ids, n, thinking, stdout, &res)) rc = 1;
    if (!rc)
        fprintf(stderr, "prompt: %d tokens in %.3f s (%.1f tok/s) | generated: %d (thinking %d: soft %d, injected %d; answer %d) "
                        "in %.3f s (%.1f tok/s) | thinking ended: %s\n",
                res.n_prompt, res.prompt_s, res.prompt_s > 0 ? res.n_prompt / res.prompt_s : 0.0, res.n_ids, res.n_thinking,
                res.n_soft, res.n_injected, res.n_answer, res.gen_s, res.gen_s > 0 && res.n_ids > 1 ? (res.n_ids - 1) / res.gen_s : 0.0,
                st_think_end_name(res.end_reason));
    gen_result_free(&res);
    free(ids);
    free(text);
    gen_session_close(&s);
    return rc;
}
