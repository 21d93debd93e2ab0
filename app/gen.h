/* Generation shared by `generate`, `chat` and `eval`: options (flags and a
 * YAML config), prompt formatting, the thinking controller, streaming text and
 * the JSONL trace. */
#ifndef ST_APP_GEN_H
#define ST_APP_GEN_H
#include <stdio.h>

#include "softthink.h"

typedef struct gen_opts {
    const char *model;
    int n_threads, n_ctx, n_predict;
    st_type cache_type;           /* --cache-type: KV cache entries */
    st_think_params think;        /* soft-thinking and sampling parameters */
    int temp_set;                 /* --temp etc. given: they set both phases unless after_* given */
    int think_mode;               /* -1: from the template/prompt, 0: --no-think, 1: --think */
    int think_from_start;
    const char *think_end_str;    /* overrides the template's end marker */
    const char *chat_template;    /* name, NULL: detect */
    const char *system;
    int raw;                      /* --raw: prompt text is used as is (no chat template) */
    int ignore_eos;
    int print_ids;
    int quiet;                    /* no streaming text (ids or nothing) */
    const char *trace_path;
    const char *config_path;
} gen_opts;

void gen_opts_default(gen_opts *o);
/* Parse one generation option at argv[*i]; 1: taken, 0: not a generation option, -1: error (printed). */
int gen_opts_parse(const char *cmd, gen_opts *o, int argc, char **argv, int *i);
/* Apply --config FILE.yaml (flags given on the command line win); 0 ok, -1 error (printed). */
int gen_opts_load_config(const char *cmd, gen_opts *o, const char *const *cli_keys, int n_cli_keys);
void gen_opts_help(FILE *f);

typedef struct gen_result {
    int n_prompt, n_thinking, n_soft, n_answer, n_injected;
    st_think_end end_reason;
    double prompt_s, gen_s;
    char *text;                   /* generated text (malloc'd) */
    st_token *ids;                /* generated (reported) ids */
    int n_ids;
} gen_result;
void gen_result_free(gen_result *r);

typedef struct gen_session {
    gen_opts o;
    st_model *model;
    st_context *ctx;
    st_tokenizer *tok;
    st_chat_template tmpl;
    st_think_markers markers;
} gen_session;

int gen_session_open(const char *cmd, gen_session *s, const gen_opts *o, int n_seq);
void gen_session_close(gen_session *s);
/* Prompt ids for a conversation or raw text (BOS as the vocabulary says); *thinking
 * tells whether the prompt leaves a think block open. Returns 0 or -1 (printed). */
int gen_prompt(const char *cmd, gen_session *s, const st_chat_msg *msgs, int n_msgs, const char *raw_text,
               st_token **ids, int *n, int *thinking);
/* Generate from prompt ids; streams text to `out` (may be NULL). 0 ok, -1 error (printed). */
int gen_run(const char *cmd, gen_session *s, const st_token *prompt, int n_prompt, int thinking, FILE *out,
            gen_result *res);
#endif
