#include "gen.h"

#include <jansson.h>
#include <math.h>
#include <string.h>
#include <yaml.h>

#include "cli.h"
#include "../src/gguf/gguf.h"

void gen_opts_default(gen_opts *o) {
    memset(o, 0, sizeof *o);
    o->n_predict = 256;
    o->cache_type = ST_TYPE_F16;
    o->think = st_think_default_params();
    o->think_mode = -1;
}

void gen_opts_help(FILE *f) {
    fprintf(f,
            "model and run:\n"
            "  -m MODEL.gguf  -t N threads (physical cores)  -c N context (prompt + n)  -n N tokens to generate (256)\n"
            "  --seed S (0)  --ignore-eos  --print-ids  --trace FILE.jsonl  --config FILE.yaml (soft_thinking: section; flags win)\n"
            "  --cache-type f16|q8_0 (KV cache entries; q8_0: about half the memory and attention reads, head dim %% 32 == 0)\n"
            "prompt:\n"
            "  --chat-template NAME (detected; qwen3 qwen2.5 chatml deepseek-r1 llama3 plain)  --system TEXT\n"
            "  --think / --no-think (open the assistant turn with <think>; default on for reasoning templates)\n"
            "  --think-from-start (think from the first generated token)  --think-end-str S (the end marker)\n"
            "sampling (thinking phase; also after thinking unless --after-thinking-* is given):\n"
            "  --temp T (0.6; 0 = greedy)  --top-k K (30)  --top-p P (0.95)  --min-p P (0.001)\n"
            "  --after-thinking-temp T (0.6)  --after-thinking-top-k K (30)  --after-thinking-top-p P (0.95)  --after-thinking-min-p P (0)\n"
            "soft thinking (Zhang et al. 2025):\n"
            "  --soft-thinking  --max-topk K (10)  --cold-stop-entropy H (0.01 nats; 0 = off)  --cold-stop-length L (256)\n"
            "  --max-thinking-tokens N (0 = no budget)  --dirichlet-alpha A (off)  --gumbel-tau T (off)\n"
            "  (the reference's spellings work too: --max_topk, --early_stopping_entropy_threshold, --after_thinking_top_p, ...)\n");
}

/* "--max_topk" -> "--max-topk", and the reference implementation's names -> ours. */
static const char *canonical(const char *a, char *buf, size_t cap) {
    snprintf(buf, cap, "%s", a);
    char *eq = strchr(buf, '=');
    size_t n = eq ? (size_t)(eq - buf) : strlen(buf);
    for (size_t i = 2; i < n; i++)
        if (buf[i] == '_') buf[i] = '-';
    static const char *alias[][2] = {
        {"--temperature", "--temp"},
        {"--enable-soft-thinking", "--soft-thinking"},
        {"--early-stopping-entropy-threshold", "--cold-stop-entropy"},
        {"--early-stopping-length-threshold", "--cold-stop-length"},
        {"--after-thinking-temperature", "--after-thinking-temp"},
        {"--max-new-tokens", "-n"},
        {"--max-generated-tokens", "-n"},
    };
    for (size_t k = 0; k < sizeof alias / sizeof *alias; k++) {
        size_t l = strlen(alias[k][0]);
        if (n == l && !strncmp(buf, alias[k][0], l)) {
            char rest[256];
            snprintf(rest, sizeof rest, "%s", buf + n);
            snprintf(buf, cap, "%s%s", alias[k][1], rest);
            break;
        }
    }
    return buf;
}

static int set_int(const char *cmd, const char *opt, const char *v, long long lo, long long hi, int *dst) {
    long long x;
    if (cli_int(cmd, opt, v, &x)) return -1;
    if (x < lo || x > hi) return cli_fail(cmd, "%s %lld out of range %lld..%lld", opt, x, lo, hi), -1;
    *dst = (int)x;
    return 1;
}
static int set_float(const char *cmd, const char *opt, const char *v, double lo, double hi, float *dst) {
    double x;
    if (cli_float(cmd, opt, v, &x)) return -1;
    if (x < lo || x > hi) return cli_fail(cmd, "%s %g out of range %g..%g", opt, x, lo, hi), -1;
    *dst = (float)x;
    return 1;
}

/* Apply one named setting (shared by flags and the YAML config). 1 ok, 0 unknown, -1 error. */
static int apply(const char *cmd, gen_opts *o, const char *name, const char *v) {
    st_think_params *p = &o->think;
    if (!strcmp(name, "--temp")) {
        int r = set_float(cmd, name, v, 0, 100, &p->think.temp);
        if (!(o->temp_set & 1)) p->after.temp = p->think.temp;
        return r;
    }
    if (!strcmp(name, "--top-k")) {
        int r = set_int(cmd, name, v, 0, 1 << 24, &p->think.top_k);
        if (!(o->temp_set & 2)) p->after.top_k = p->think.top_k;
        return r;
    }
    if (!strcmp(name, "--top-p")) {
        int r = set_float(cmd, name, v, 1e-6, 1, &p->think.top_p);
        if (!(o->temp_set & 4)) p->after.top_p = p->think.top_p;
        return r;
    }
    if (!strcmp(name, "--min-p")) return set_float(cmd, name, v, 0, 0.999999, &p->think.min_p);
    if (!strcmp(name, "--after-thinking-temp")) { o->temp_set |= 1; return set_float(cmd, name, v, 0, 100, &p->after.temp); }
    if (!strcmp(name, "--after-thinking-top-k")) { o->temp_set |= 2; return set_int(cmd, name, v, 0, 1 << 24, &p->after.top_k); }
    if (!strcmp(name, "--after-thinking-top-p")) { o->temp_set |= 4; return set_float(cmd, name, v, 1e-6, 1, &p->after.top_p); }
    if (!strcmp(name, "--after-thinking-min-p")) return set_float(cmd, name, v, 0, 0.999999, &p->after.min_p);
    if (!strcmp(name, "--max-topk")) return set_int(cmd, name, v, 1, 1 << 20, &p->max_topk);
    if (!strcmp(name, "--cold-stop-entropy")) return set_float(cmd, name, v, 0, 1e6, &p->cold_stop_entropy);
    if (!strcmp(name, "--cold-stop-length")) return set_int(cmd, name, v, 1, 1 << 30, &p->cold_stop_length);
    if (!strcmp(name, "--max-thinking-tokens")) return set_int(cmd, name, v, 0, 1 << 30, &p->max_thinking_tokens);
    if (!strcmp(name, "--dirichlet-alpha")) return set_float(cmd, name, v, 0, 1e6, &p->dirichlet_alpha);
    if (!strcmp(name, "--gumbel-tau")) return set_float(cmd, name, v, 0, 1e6, &p->gumbel_tau);
    if (!strcmp(name, "--seed")) {
        long long x;
        if (cli_int(cmd, name, v, &x)) return -1;
        p->seed = (uint64_t)x;
        return 1;
    }
    if (!strcmp(name, "-n")) return set_int(cmd, name, v, 0, 1 << 24, &o->n_predict);
    return 0;
}

int gen_opts_parse(const char *cmd, gen_opts *o, int argc, char **argv, int *i) {
    char buf[256];
    const char *a = canonical(argv[*i], buf, sizeof buf), *v = NULL;
    /* flags without a value */
    static const char *flags[] = {"--soft-thinking", "--think", "--no-think", "--think-from-start", "--ignore-eos",
                                  "--print-ids", "--raw", "--quiet", "--no-repack"};
    for (size_t k = 0; k < sizeof flags / sizeof *flags; k++)
        if (!strcmp(a, flags[k])) {
            switch (k) {
            case 0: o->think.soft = 1; break;
            case 1: o->think_mode = 1; break;
            case 2: o->think_mode = 0; break;
            case 3: o->think_from_start = 1; break;
            case 4: o->ignore_eos = 1; break;
            case 5: o->print_ids = 1; break;
            case 6: o->raw = 1; break;
            case 7: o->quiet = 1; break;
            case 8: cli_repack = 0; break;
            }
            return 1;
        }
    /* options with a value: "--name value" or "--name=value" */
    char name[128];
    const char *eq = strchr(a, '=');
    if (eq) {
        snprintf(name, sizeof name, "%.*s", (int)(eq - a), a);
        v = eq + 1;
    } else {
        snprintf(name, sizeof name, "%s", a);
    }
    static const char *with_value[] = {"-m", "--model", "-t", "--threads", "-c", "--ctx-size", "--cache-type", "--think-end-str",
                                       "--chat-template", "--system", "--trace", "--config", "--temp", "--top-k",
                                       "--top-p", "--min-p", "--after-thinking-temp", "--after-thinking-top-k",
                                       "--after-thinking-top-p", "--after-thinking-min-p", "--max-topk",
                                       "--cold-stop-entropy", "--cold-stop-length", "--max-thinking-tokens",
                                       "--dirichlet-alpha", "--gumbel-tau", "--seed", "-n"};
    int known = 0;
    for (size_t k = 0; k < sizeof with_value / sizeof *with_value; k++) known |= !strcmp(name, with_value[k]);
    if (!known) return 0;
    if (!eq) {
        if (*i + 1 >= argc) return cli_fail(cmd, "%s needs a value", name), -1;
        v = argv[++*i];
    }
    if (!strcmp(name, "-m") || !strcmp(name, "--model")) { o->model = v; return 1; }
    if (!strcmp(name, "-t") || !strcmp(name, "--threads")) return set_int(cmd, name, v, 0, 1024, &o->n_threads);
    if (!strcmp(name, "-c") || !strcmp(name, "--ctx-size")) return set_int(cmd, name, v, 0, 1 << 20, &o->n_ctx);
    if (!strcmp(name, "--cache-type")) return cli_cache_type(cmd, v, &o->cache_type) ? -1 : 1;
    if (!strcmp(name, "--think-end-str")) { o->think_end_str = v; return 1; }
    if (!strcmp(name, "--chat-template")) { o->chat_template = v; return 1; }
    if (!strcmp(name, "--system")) { o->system = v; return 1; }
    if (!strcmp(name, "--trace")) { o->trace_path = v; return 1; }
    if (!strcmp(name, "--config")) { o->config_path = v; return 1; }
    return apply(cmd, o, name, v);
}

/* ------------------------------------------------------------ YAML config */

/* The soft_thinking: section of the research configs. Keys map onto flags. */
static const char *config_key(const char *k) {
    static const char *map[][2] = {
        {"max_topk", "--max-topk"},
        {"thinking_temperature", "--temp"},           {"temperature", "--temp"},
        {"thinking_top_k", "--top-k"},                {"thinking_top_p", "--top-p"},
        {"thinking_min_p", "--min-p"},
        {"after_thinking_temperature", "--after-thinking-temp"},
        {"after_thinking_top_k", "--after-thinking-top-k"},
        {"after_thinking_top_p", "--after-thinking-top-p"},
        {"after_thinking_min_p", "--after-thinking-min-p"},
        {"entropy_threshold", "--cold-stop-entropy"}, {"cold_stop_entropy", "--cold-stop-entropy"},
        {"entropy_length", "--cold-stop-length"},     {"cold_stop_length", "--cold-stop-length"},
        {"max_thinking_steps", "--max-thinking-tokens"}, {"max_thinking_tokens", "--max-thinking-tokens"},
        {"dirichlet_alpha", "--dirichlet-alpha"},     {"gumbel_tau", "--gumbel-tau"},
        {"seed", "--seed"},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (!strcmp(k, map[i][0])) return map[i][1];
    return NULL;
}

static int truthy(const char *v, int *out) {
    if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "yes") || !strcmp(v, "1")) { *out = 1; return 0; }
    if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "no") || !strcmp(v, "0")) { *out = 0; return 0; }
    return -1;
}

int gen_opts_load_config(const char *cmd, gen_opts *o, const char *const *unused, int n_unused) {
    (void)unused;
    (void)n_unused;
    const char *path = o->config_path;
    FILE *f = fopen(path, "rb");
    if (!f) return cli_fail(cmd, "cannot open config '%s'", path), -1;
    yaml_parser_t ps;
    yaml_document_t doc;
    yaml_parser_initialize(&ps);
    yaml_parser_set_input_file(&ps, f);
    int rc = -1;
    if (!yaml_parser_load(&ps, &doc)) {
        cli_fail(cmd, "%s:%zu: YAML error: %s", path, ps.problem_mark.line + 1, ps.problem ? ps.problem : "?");
        yaml_parser_delete(&ps);
        fclose(f);
        return -1;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root || root->type != YAML_MAPPING_NODE) {
        cli_fail(cmd, "%s: expected a mapping with a 'soft_thinking:' section", path);
        goto done;
    }
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(&doc, pr->key), *v = yaml_document_get_node(&doc, pr->value);
        const char *key = k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "?";
        if (strcmp(key, "soft_thinking") != 0) {
            cli_fail(cmd, "%s:%zu: unknown top-level key '%s' (expected 'soft_thinking')", path, k->start_mark.line + 1, key);
            goto done;
        }
        if (v->type != YAML_MAPPING_NODE) {
            cli_fail(cmd, "%s:%zu: 'soft_thinking' must be a mapping", path, v->start_mark.line + 1);
            goto done;
        }
        for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
            yaml_node_t *kk = yaml_document_get_node(&doc, q->key), *vv = yaml_document_get_node(&doc, q->value);
            if (kk->type != YAML_SCALAR_NODE || vv->type != YAML_SCALAR_NODE) {
                cli_fail(cmd, "%s:%zu: soft_thinking entries must be 'key: value'", path, kk->start_mark.line + 1);
                goto done;
            }
            const char *name = (const char *)kk->data.scalar.value, *val = (const char *)vv->data.scalar.value;
            if (!strcmp(name, "enabled")) {
                int b;
                if (truthy(val, &b)) {
                    cli_fail(cmd, "%s:%zu: soft_thinking.enabled: '%s' is not a boolean", path, vv->start_mark.line + 1, val);
                    goto done;
                }
                o->think.soft = b;
                continue;
            }
            const char *flag = config_key(name);
            if (!flag) {
                cli_fail(cmd, "%s:%zu: unknown key 'soft_thinking.%s'", path, kk->start_mark.line + 1, name);
                goto done;
            }
            char label[160];
            snprintf(label, sizeof label, "%s:%zu: soft_thinking.%s", path, kk->start_mark.line + 1, name);
            int r = apply(cmd, o, flag, val);
            if (r < 0) goto done;
            (void)label;
        }
    }
    rc = 0;
done:
    yaml_document_delete(&doc);
    yaml_parser_delete(&ps);
    fclose(f);
    return rc;
}

/* ------------------------------------------------------------ session */

int gen_session_open(const char *cmd, gen_session *s, const gen_opts *o, int n_seq) {
    memset(s, 0, sizeof *s);
    s->o = *o;
    if (!o->model) return cli_fail(cmd, "no model given (-m MODEL.gguf)"), -1;
    st_model_params mp = st_model_default_params();
    mp.repack = cli_repack;
    st_status st = st_model_load(o->model, &mp, &s->model);
    if (st != ST_OK) return cli_fail_status(cmd, st), -1;
    /* a model without a vocabulary (synth's no_vocab) still runs on --ids */
    if (st_tokenizer_load_gguf(st_model_gguf(s->model), &s->tok) != ST_OK) s->tok = NULL;
    if (s->tok) {
        if (o->chat_template) {
            st = st_chat_template_by_name(o->chat_template, &s->tmpl);
            if (st != ST_OK) { gen_session_close(s); return cli_fail_status(cmd, st), -1; }
        } else {
            s->tmpl = st_chat_template_detect(s->tok);
        }
        s->markers = st_chat_think_markers(&s->tmpl, s->tok);
    }
    st_context_params cp = st_context_default_params();
    cp.n_ctx = o->n_ctx;
    cp.n_seq = n_seq;
    cp.n_threads = o->n_threads;
    cp.cache_type = o->cache_type;
    st = st_context_init(s->model, &cp, &s->ctx);
    if (st != ST_OK) { gen_session_close(s); return cli_fail_status(cmd, st), -1; }
    return 0;
}

void gen_session_close(gen_session *s) {
    st_context_free(s->ctx);
    st_tokenizer_free(s->tok);
    st_model_free(s->model);
    memset(s, 0, sizeof *s);
}

void gen_result_free(gen_result *r) {
    free(r->text);
    free(r->ids);
    memset(r, 0, sizeof *r);
}

static int tokenize_alloc(const char *cmd, const st_tokenizer *t, const char *text, int add_special, st_token **ids, int *n) {
    int cap = (int)strlen(text) + 8, need = 0;
    *ids = malloc((size_t)cap * sizeof **ids);
    if (!*ids) return cli_fail(cmd, "out of memory"), -1;
    st_status st = st_tokenize(t, text, strlen(text), add_special, 1, *ids, cap, &need);
    if (st == ST_E_FULL) {
        st_token *p = realloc(*ids, (size_t)need * sizeof **ids);
        if (!p) return cli_fail(cmd, "out of memory"), -1;
        *ids = p;
        st = st_tokenize(t, text, strlen(text), add_special, 1, *ids, need, &need);
    }
    if (st != ST_OK) { free(*ids); *ids = NULL; return cli_fail_status(cmd, st), -1; }
    *n = need;
    return 0;
}

/* Does the text leave a think block open (last start marker with no end after it)? */
static int opens_think(const char *text, const st_think_markers *mk) {
    if (!mk->start || !mk->end) return 0;
    const char *last = NULL;
    for (const char *p = strstr(text, mk->start); p; p = strstr(p + 1, mk->start)) last = p;
    return last && !strstr(last, mk->end);
}

int gen_prompt(const char *cmd, gen_session *s, const st_chat_msg *msgs, int n_msgs, const char *raw_text,
               st_token **ids, int *n, int *thinking) {
    if (!s->tok) return cli_fail(cmd, "%s has no tokenizer: give the prompt as --ids", s->o.model), -1;
    char *text = NULL;
    if (raw_text) {
        text = strdup(raw_text);
    } else {
        int think = s->o.think_mode < 0 ? 1 : s->o.think_mode;
        st_status st = st_chat_format(&s->tmpl, msgs, n_msgs, 1, think, &text);
        if (st != ST_OK) return cli_fail_status(cmd, st), -1;
    }
    if (!text) return cli_fail(cmd, "out of memory"), -1;
    *thinking = s->o.think_from_start || opens_think(text, &s->markers);
    int rc = tokenize_alloc(cmd, s->tok, text, 1, ids, n);
    free(text);
    return rc;
}

/* ------------------------------------------------------------ run */

static const char *phase_name(st_step_phase p) {
    return p == ST_STEP_SOFT ? "soft" : p == ST_STEP_INJECTED ? "injected" : "discrete";
}

static char *piece_text(const st_tokenizer *t, st_token id) {
    size_t len = 0;
    const char *p = t ? st_token_piece(t, id, &len) : NULL;
    char *s = malloc(len + 1);
    if (!s) return NULL;
    if (p) memcpy(s, p, len);
    s[len] = 0;
    return s;
}

static void trace_line(FILE *f, const st_tokenizer *t, int step, const char *phase, st_token tok, double entropy,
                       int k, const st_token *ids, const float *probs) {
    json_t *o = json_object(), *ti = json_array(), *tp = json_array();
    json_object_set_new(o, "step", json_integer(step));
    json_object_set_new(o, "phase", json_string(phase));
    json_object_set_new(o, "token", json_integer(tok));
    char *txt = piece_text(t, tok);
    json_object_set_new(o, "text", txt ? json_stringn_nocheck(txt, strlen(txt)) : json_null());
    free(txt);
    json_object_set_new(o, "entropy", isnan(entropy) ? json_null() : json_real(entropy));
    for (int i = 0; i < k; i++) {
        json_array_append_new(ti, json_integer(ids[i]));
        json_array_append_new(tp, json_real(probs[i]));
    }
    json_object_set_new(o, "topk_ids", ti);
    json_object_set_new(o, "topk_probs", tp);
    char *line = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (line) fprintf(f, "%s\n", line);
    free(line);
    json_decref(o);
}

static st_token eos_id(const gen_session *s) {
    uint32_t v;
    const struct st_gguf *g = st_model_gguf(s->model);
    if (st_gguf_find(g, "tokenizer.ggml.eos_token_id") && st_gguf_get_u32(g, "tokenizer.ggml.eos_token_id", &v) == ST_OK)
        return (st_token)v;
    return -1;
}

static int is_eog(const gen_session *s, st_token id) {
    if (s->o.ignore_eos) return 0;
    if (s->tok) return st_tokenizer_is_eog(s->tok, id);
    return id == eos_id(s);
}

/* Append to a growing buffer. */
typedef struct sbuf { char *p; size_t n, cap; } sbuf;
static void sb_add(sbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 256) + n;
        char *p = realloc(b->p, cap);
        if (!p) return;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

int gen_run(const char *cmd, gen_session *s, const st_token *prompt, int n_prompt, int thinking, FILE *out,
            gen_result *res) {
    memset(res, 0, sizeof *res);
    res->n_prompt = n_prompt;
    const st_think_params *tp = &s->o.think;
    /* the end marker: --think-end-str, else the template's */
    st_token *marker = NULL;
    int n_marker = 0;
    const char *end_str = s->o.think_end_str ? s->o.think_end_str : s->markers.end;
    if (thinking) {
        if (!end_str || !s->tok)
            return cli_fail(cmd, "thinking needs an end marker: give --think-end-str (the model's template has none)"), -1;
        /* a marker that is one vocabulary entry is that token (tokenizing the bare
         * string could add SentencePiece's leading space) */
        st_token single = st_tokenizer_find(s->tok, end_str);
        if (single >= 0) {
            marker = malloc(sizeof *marker);
            if (!marker) return cli_fail(cmd, "out of memory"), -1;
            marker[0] = single;
            n_marker = 1;
        } else if (tokenize_alloc(cmd, s->tok, end_str, 0, &marker, &n_marker)) {
            return -1;
        }
        if (n_marker == 0) { free(marker); return cli_fail(cmd, "--think-end-str '%s' tokenizes to nothing", end_str), -1; }
    }
    int n_ctx = st_context_n_ctx(s->ctx);
    if (n_prompt >= n_ctx) {
        free(marker);
        return cli_fail(cmd, "prompt of %d tokens does not fit the context of %d (-c)", n_prompt, n_ctx), -1;
    }
    st_thinker *th = NULL;
    st_runner *r = NULL;
    FILE *trace = NULL;
    int rc = 0;
    st_status st = st_thinker_init(tp, s->model, marker, n_marker, thinking, &th);
    if (st == ST_OK) st = st_runner_init(s->ctx, &r);
    if (st == ST_OK) st = st_runner_start(r, 0, prompt, n_prompt, th);
    if (st != ST_OK) { rc = cli_fail_status(cmd, st); goto done; }
    if (s->o.trace_path && !(trace = fopen(s->o.trace_path, "w"))) {
        rc = cli_fail(cmd, "cannot open trace file '%s'", s->o.trace_path);
        goto done;
    }
    st_detok_stream ds;
    char *chunk = NULL;
    if (s->tok) {
        st_detok_stream_init(&ds, s->tok, ST_DETOK_SPECIAL);
        chunk = malloc(st_detok_stream_max_out(s->tok) + 1);
    }
    sbuf text = {0};
    int cap_ids = 256, produced = 0;
    res->ids = malloc((size_t)cap_ids * sizeof *res->ids);
    double t0 = cli_now(), t_first = 0;
    st_think_step step;
    int stepped;
    while (produced < s->o.n_predict) {
        st = st_runner_step(r, &step, &stepped);
        if (st == ST_E_FULL) break; /* context full: stop like llama.cpp does */
        if (st != ST_OK) { rc = cli_fail_status(cmd, st); break; }
        if (!stepped) break;
        if (t_first == 0) { t_first = cli_now(); res->prompt_s = t_first - t0; }
        int n_out = step.phase == ST_STEP_INJECTED ? step.n_inject : 1;
        for (int j = 0; j < n_out; j++) {
            st_token tok = step.phase == ST_STEP_INJECTED ? step.inject[j] : step.token;
            if (trace) {
                if (j == 0) trace_line(trace, s->tok, produced, phase_name(step.phase), tok, step.entropy, step.k, step.ids, step.probs);
                else trace_line(trace, s->tok, produced, "injected", tok, NAN, 0, NULL, NULL);
            }
            if (produced == cap_ids) {
                cap_ids *= 2;
                st_token *p = realloc(res->ids, (size_t)cap_ids * sizeof *p);
                if (!p) break;
                res->ids = p;
            }
            res->ids[produced++] = tok;
            if (s->tok && chunk) {
                size_t len = 0;
                if (st_detok_stream_push(&ds, tok, chunk, st_detok_stream_max_out(s->tok) + 1, &len) == ST_OK && len) {
                    sb_add(&text, chunk, len);
                    if (out && !s->o.quiet && !s->o.print_ids) { fwrite(chunk, 1, len, out); fflush(out); }
                }
            }
            if (s->o.print_ids && out) { fprintf(out, produced > 1 ? " %d" : "%d", tok); fflush(out); }
        }
        if (step.phase != ST_STEP_INJECTED && is_eog(s, step.token)) break;
    }
    double t1 = cli_now();
    if (s->tok && chunk) {
        size_t len = 0;
        if (st_detok_stream_flush(&ds, chunk, st_detok_stream_max_out(s->tok) + 1, &len) == ST_OK && len) {
            sb_add(&text, chunk, len);
            if (out && !s->o.quiet && !s->o.print_ids) fwrite(chunk, 1, len, out);
        }
    }
    if (out && (s->o.print_ids || !s->o.quiet)) { fputc('\n', out); fflush(out); }
    free(chunk);
    res->text = text.p ? text.p : strdup("");
    res->n_ids = produced;
    int n_disc_think;
    st_thinker_counts(th, &res->n_soft, &n_disc_think, &res->n_answer, &res->n_injected);
    res->n_thinking = res->n_soft + n_disc_think + res->n_injected;
    res->end_reason = st_thinker_end_reason(th);
    res->gen_s = t_first > 0 ? t1 - t_first : 0;
    if (trace) {
        json_t *o = json_object();
        json_object_set_new(o, "summary", json_true());
        json_object_set_new(o, "prompt_tokens", json_integer(n_prompt));
        json_object_set_new(o, "soft_steps", json_integer(res->n_soft));
        json_object_set_new(o, "discrete_thinking_steps", json_integer(n_disc_think));
        json_object_set_new(o, "injected_tokens", json_integer(res->n_injected));
        json_object_set_new(o, "answer_steps", json_integer(res->n_answer));
        json_object_set_new(o, "thinking_ended", json_string(st_think_end_name(res->end_reason)));
        json_object_set_new(o, "prompt_seconds", json_real(res->prompt_s));
        json_object_set_new(o, "generate_seconds", json_real(res->gen_s));
        json_object_set_new(o, "tokens_per_s", json_real(res->gen_s > 0 && produced > 1 ? (produced - 1) / res->gen_s : 0));
        char *line = json_dumps(o, JSON_COMPACT);
        if (line) fprintf(trace, "%s\n", line);
        free(line);
        json_decref(o);
    }
done:
    if (trace) fclose(trace);
    st_runner_free(r);
    st_thinker_free(th);
    free(marker);
    return rc ? -1 : 0;
}
