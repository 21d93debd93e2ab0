/* softthink eval --task arith: accuracy of no-think, discrete thinking and soft
 * thinking on held-out problems, many sequences decoding together. */
#include <math.h>

#include "cli.h"
#include "gen.h"

#ifndef ST_DEFAULT_MODEL
#define ST_DEFAULT_MODEL "models/arith-gpt2.gguf"
#endif

typedef enum { MODE_NO_THINK, MODE_THINK, MODE_SOFT } eval_mode;
static const char *mode_name[3] = {"no-think", "think", "soft"};

typedef struct mode_stats {
    eval_mode mode;
    int n, correct;
    double think_tokens, answer_tokens, tokens, seconds;
    int ended[5];              /* by st_think_end */
    /* thinking steps (soft or discrete, not injected): how sure the model was
     * and, for concept tokens, how much of the mixture the top token held */
    double think_steps, think_entropy, soft_steps, soft_top1, soft_width;
} mode_stats;

/* Wilson score interval: well-behaved at accuracies near 0 and 1. */
static void wilson(int k, int n, double *lo, double *hi) {
    if (n == 0) { *lo = *hi = 0; return; }
    double z = 1.959963984540054, p = (double)k / n, z2 = z * z;
    double c = (p + z2 / (2 * n)) / (1 + z2 / n), h = z * sqrt(p * (1 - p) / n + z2 / (4.0 * n * n)) / (1 + z2 / n);
    *lo = c - h;
    *hi = c + h;
}

typedef struct slot {
    int busy, problem;
    st_thinker *th;
    st_detok_stream ds;
    char *text;
    size_t len, cap;
    int n_gen;
} slot;

static void slot_add(slot *s, const char *p, size_t n) {
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap * 2 + n + 64;
        char *q = realloc(s->text, cap);
        if (!q) return;
        s->text = q;
        s->cap = cap;
    }
    memcpy(s->text + s->len, p, n);
    s->len += n;
    s->text[s->len] = 0;
}

/* Run one mode over problems [0, n) with n_par sequences in flight. */
static int run_mode(const char *C, gen_session *s, eval_mode mode, const st_arith_params *ap, uint64_t seed, int n,
                    int n_par, int verbose, mode_stats *ms) {
    memset(ms, 0, sizeof *ms);
    ms->mode = mode;
    st_think_params tp = s->o.think;
    tp.soft = mode == MODE_SOFT;
    int think = mode != MODE_NO_THINK;
    st_runner *r = NULL;
    st_status st = st_runner_init(s->ctx, &r);
    if (st != ST_OK) return cli_fail_status(C, st), -1;
    slot *sl = calloc((size_t)n_par, sizeof *sl);
    st_think_step *steps = calloc((size_t)n_par, sizeof *steps);
    int *stepped = calloc((size_t)n_par, sizeof *stepped);
    size_t piece_cap = st_detok_stream_max_out(s->tok) + 1;
    char *piece = malloc(piece_cap);
    st_token marker = s->markers.end_id;
    int next = 0, done = 0, rc = 0;
    double t0 = cli_now();
    gen_session local = *s;
    local.o.think_mode = think;
    while (done < n && !rc) {
        /* fill free slots with the next problems */
        for (int i = 0; i < n_par && next < n && !rc; i++) {
            if (sl[i].busy) continue;
            st_arith_problem pr;
            st = st_arith_generate(ap, seed, 1, (uint64_t)next, &pr);
            if (st != ST_OK) { rc = cli_fail_status(C, st); break; }
            st_chat_msg msg = {"user", pr.question};
            st_token *ids;
            int nid, thinking;
            if (gen_prompt(C, &local, &msg, 1, NULL, &ids, &nid, &thinking)) { rc = -1; break; }
            tp.seed = seed * 1000003u + (uint64_t)next;
            st = st_thinker_init(&tp, s->model, &marker, marker >= 0 ? 1 : 0, thinking, &sl[i].th);
            if (st == ST_OK) st = st_runner_start(r, i, ids, nid, sl[i].th);
            free(ids);
            if (st != ST_OK) { rc = cli_fail_status(C, st); break; }
            st_detok_stream_init(&sl[i].ds, s->tok, 0);
            sl[i].busy = 1;
            sl[i].problem = next++;
            sl[i].len = 0;
            sl[i].n_gen = 0;
            if (sl[i].text) sl[i].text[0] = 0;
            if (!think) slot_add(&sl[i], "</think>\n", 9); /* the prompt closed the think block */
        }
        if (rc) break;
        st = st_runner_step(r, steps, stepped);
        if (st != ST_OK && st != ST_E_FULL) { rc = cli_fail_status(C, st); break; }
        for (int i = 0; i < n_par; i++) {
            if (!sl[i].busy) continue;
            int finished = !st_runner_is_running(r, i); /* the runner stopped it: context full */
            if (stepped[i]) {
                const st_think_step *x = &steps[i];
                if (x->phase == ST_STEP_SOFT || (x->phase == ST_STEP_DISCRETE && (x->thinking || x->ended))) {
                    ms->think_steps++;
                    ms->think_entropy += x->entropy;
                }
                if (x->phase == ST_STEP_SOFT && x->k > 0) {
                    ms->soft_steps++;
                    ms->soft_top1 += x->probs[0];
                    ms->soft_width += x->k;
                }
                int n_out = x->phase == ST_STEP_INJECTED ? x->n_inject : 1;
                for (int j = 0; j < n_out; j++) {
                    st_token tok = x->phase == ST_STEP_INJECTED ? x->inject[j] : x->token;
                    size_t len = 0;
                    if (st_detok_stream_push(&sl[i].ds, tok, piece, piece_cap, &len) == ST_OK) slot_add(&sl[i], piece, len);
                    sl[i].n_gen++;
                }
                if ((x->phase != ST_STEP_INJECTED && st_tokenizer_is_eog(s->tok, x->token)) || sl[i].n_gen >= s->o.n_predict)
                    finished = 1;
            }
            if (!finished) continue;
            st_runner_stop(r, i);
            st_arith_problem pr;
            st_arith_generate(ap, seed, 1, (uint64_t)sl[i].problem, &pr);
            long long got;
            int ok = st_arith_parse_answer(sl[i].text ? sl[i].text : "", &got) == 0 && got == pr.answer;
            int soft, disc, after, inj;
            st_thinker_counts(sl[i].th, &soft, &disc, &after, &inj);
            ms->n++;
            ms->correct += ok;
            ms->think_tokens += soft + disc + inj;
            ms->answer_tokens += after;
            ms->tokens += sl[i].n_gen;
            ms->ended[st_thinker_end_reason(sl[i].th)]++;
            if (verbose)
                fprintf(stderr, "[%s] #%d %s expected %lld | %s\n", mode_name[mode], sl[i].problem, ok ? "OK  " : "FAIL",
                        pr.answer, sl[i].text ? sl[i].text : "");
            st_thinker_free(sl[i].th);
            sl[i].th = NULL;
            sl[i].busy = 0;
            done++;
        }
    }
    ms->seconds = cli_now() - t0;
    for (int i = 0; i < n_par; i++) { st_thinker_free(sl[i].th); free(sl[i].text); }
    free(sl);
    free(steps);
    free(stepped);
    free(piece);
    st_runner_free(r);
    return rc ? -1 : 0;
}

static void print_table(mode_stats *ms, int k) {
    printf("| mode | n | accuracy | 95%% CI | mean thinking tokens | mean answer tokens | tokens/s |\n"
           "| --- | --- | --- | --- | --- | --- | --- |\n");
    for (int i = 0; i < k; i++) {
        double lo, hi;
        wilson(ms[i].correct, ms[i].n, &lo, &hi);
        printf("| %s | %d | %.1f%% | %.1f–%.1f%% | %.1f | %.1f | %.1f |\n", mode_name[ms[i].mode], ms[i].n,
               100.0 * ms[i].correct / (ms[i].n ? ms[i].n : 1), 100 * lo, 100 * hi, ms[i].think_tokens / (ms[i].n ? ms[i].n : 1),
               ms[i].answer_tokens / (ms[i].n ? ms[i].n : 1), ms[i].tokens / (ms[i].seconds > 0 ? ms[i].seconds : 1));
    }
}

static void print_json(mode_stats *m, const gen_opts *o) {
    double lo, hi;
    wilson(m->correct, m->n, &lo, &hi);
    printf("{\"mode\": \"%s\", \"n\": %d, \"correct\": %d, \"accuracy\": %.6f, \"ci95_low\": %.6f, \"ci95_high\": %.6f, "
           "\"mean_thinking_tokens\": %.3f, \"mean_answer_tokens\": %.3f, \"tokens_per_s\": %.2f, \"seconds\": %.2f, "
           "\"thinking_ended\": {\"marker\": %d, \"cold_stop\": %d, \"budget\": %d, \"not_ended\": %d}",
           mode_name[m->mode], m->n, m->correct, m->n ? (double)m->correct / m->n : 0, lo, hi,
           m->think_tokens / (m->n ? m->n : 1), m->answer_tokens / (m->n ? m->n : 1), m->tokens / (m->seconds > 0 ? m->seconds : 1),
           m->seconds, m->ended[ST_THINK_END_MARKER], m->ended[ST_THINK_END_COLD_STOP], m->ended[ST_THINK_END_BUDGET],
           m->ended[ST_THINK_NOT_ENDED]);
    if (m->think_steps > 0) printf(", \"mean_thinking_entropy\": %.5f", m->think_entropy / m->think_steps);
    if (m->soft_steps > 0)
        printf(", \"mean_concept_top1_weight\": %.5f, \"mean_concept_width\": %.3f", m->soft_top1 / m->soft_steps,
               m->soft_width / m->soft_steps);
    if (m->mode == MODE_SOFT)
        printf(", \"max_topk\": %d, \"cold_stop_entropy\": %g, \"cold_stop_length\": %d, \"dirichlet_alpha\": %g, \"gumbel_tau\": %g",
               o->think.max_topk, o->think.cold_stop_entropy, o->think.cold_stop_length, o->think.dirichlet_alpha,
               o->think.gumbel_tau);
    printf("}\n");
}

/* Bar chart of accuracy (with 95% intervals) and mean thinking tokens per mode. */
static int write_svg(const char *path, mode_stats *ms, int k) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    int W = 560, H = 300, top = 40, base = 240, bw = 60;
    double max_think = 1;
    for (int i = 0; i < k; i++) max_think = fmax(max_think, ms[i].think_tokens / (ms[i].n ? ms[i].n : 1));
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
               "<text x=\"10\" y=\"20\" font-size=\"14\">softthink eval: accuracy (left, 95%% CI) and mean thinking tokens (right)</text>\n"
               "<line x1=\"40\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n", W, H, base, W - 20, base);
    const char *col[3] = {"#9aa0a6", "#2f6fd0", "#ff9f1c"};
    for (int i = 0; i < k; i++) {
        double acc = (double)ms[i].correct / (ms[i].n ? ms[i].n : 1), lo, hi;
        wilson(ms[i].correct, ms[i].n, &lo, &hi);
        int x = 60 + i * (bw + 20);
        double h = (base - top) * acc;
        fprintf(f, "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"%s\"/>\n", x, base - h, bw, h, col[ms[i].mode]);
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#000\"/>\n", x + bw / 2, base - (base - top) * lo,
                x + bw / 2, base - (base - top) * hi);
        fprintf(f, "<text x=\"%d\" y=\"%.1f\">%.1f%%</text><text x=\"%d\" y=\"%d\">%s</text>\n", x + 8, base - h - 6, 100 * acc, x,
                base + 16, mode_name[ms[i].mode]);
        double tk = ms[i].think_tokens / (ms[i].n ? ms[i].n : 1), th = (base - top) * tk / max_think;
        int x2 = 60 + (k + i) * (bw + 20) + 20;
        fprintf(f, "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"%s\" opacity=\"0.6\"/>\n", x2, base - th, bw, th,
                col[ms[i].mode]);
        fprintf(f, "<text x=\"%d\" y=\"%.1f\">%.1f</text><text x=\"%d\" y=\"%d\">%s</text>\n", x2 + 8, base - th - 6, tk, x2, base + 16,
                mode_name[ms[i].mode]);
    }
    fprintf(f, "</svg>\n");
    return fclose(f) ? -1 : 0;
}

static void usage(void) {
    printf("usage: softthink eval --task arith [-m MODEL.gguf] [--n N] [--seed S] [mode] [options]\n"
           "  mode: --no-think | (default) discrete thinking | soft thinking (--soft-thinking or any soft flag)\n"
           "  --compare           run no-think, think and soft on the same problems; print them side by side\n"
           "  --svg FILE          with --compare: write a bar chart (default eval.svg)\n"
           "  --json              one JSON object per mode (mode, n, accuracy, ci95, mean_thinking_tokens, ...)\n"
           "  --n N (200)  --seed S (1)  -b N sequences decoding together (8)  --verbose (each problem)\n"
           "  --min-steps A --max-steps B --digits D   problem difficulty (defaults of the task)\n"
           "  default model: " ST_DEFAULT_MODEL "; default sampling here: greedy (--temp 0)\n");
    gen_opts_help(stdout);
}

int cmd_eval(int argc, char **argv) {
    const char *C = "eval", *task = NULL, *svg = NULL, *v;
    long long n = 200, seed = 1, par = 8, min_steps = -1, max_steps = -1, digits = -1;
    int compare = 0, json = 0, verbose = 0, soft_flag = 0, no_think = 0;
    gen_opts o;
    gen_opts_default(&o);
    o.think.think.temp = 0; /* greedy unless asked: accuracy is a property of the model, not of luck */
    o.think.after.temp = 0;
    o.n_predict = 200;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--config")) o.config_path = argv[i + 1];
    if (o.config_path && gen_opts_load_config(C, &o, NULL, 0)) return 1;
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--task", &task)) continue;
        if (cli_opt(argc, argv, &i, "--svg", &svg)) continue;
        if (cli_opt(argc, argv, &i, "--n", &v)) { if (cli_int(C, "--n", v, &n)) return 1; continue; }
        if (cli_opt(argc, argv, &i, "-b", &v)) { if (cli_int(C, "-b", v, &par)) return 1; continue; }
        if (cli_opt(argc, argv, &i, "--min-steps", &v)) { if (cli_int(C, "--min-steps", v, &min_steps)) return 1; continue; }
        if (cli_opt(argc, argv, &i, "--max-steps", &v)) { if (cli_int(C, "--max-steps", v, &max_steps)) return 1; continue; }
        if (cli_opt(argc, argv, &i, "--digits", &v)) { if (cli_int(C, "--digits", v, &digits)) return 1; continue; }
        if (cli_flag(argv, i, "--compare")) { compare = 1; continue; }
        if (cli_flag(argv, i, "--json")) { json = 1; continue; }
        if (cli_flag(argv, i, "--verbose")) { verbose = 1; continue; }
        if (cli_flag(argv, i, "--no-think")) { no_think = 1; continue; }
        if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) { usage(); return 0; }
        if (!strncmp(argv[i], "--seed", 6)) { /* the problem seed, also the sampling seed */
            if (cli_opt(argc, argv, &i, "--seed", &v) && cli_int(C, "--seed", v, &seed)) return 1;
            continue;
        }
        /* any soft-thinking flag selects soft mode */
        static const char *soft_opts[] = {"--soft-thinking", "--soft_thinking", "--max-topk", "--max_topk",
                                          "--cold-stop-entropy", "--cold-stop-length", "--dirichlet-alpha",
                                          "--gumbel-tau", "--early_stopping_entropy_threshold"};
        for (size_t k = 0; k < sizeof soft_opts / sizeof *soft_opts; k++)
            if (!strncmp(argv[i], soft_opts[k], strlen(soft_opts[k]))) soft_flag = 1;
        int r = gen_opts_parse(C, &o, argc, argv, &i);
        if (r < 0) return 1;
        if (r == 0) return cli_fail(C, "unknown option '%s' (see --help)", argv[i]);
    }
    if (!task) return cli_fail(C, "no task given (--task arith)");
    if (strcmp(task, "arith")) return cli_fail(C, "unknown task '%s' (known: arith)", task);
    if (n < 1 || n > 1000000) return cli_fail(C, "--n %lld out of range 1..1000000", n);
    if (par < 1 || par > 64) return cli_fail(C, "-b %lld out of range 1..64", par);
    if (soft_flag && no_think) return cli_fail(C, "--no-think and soft-thinking flags exclude each other");
    if (!o.model) o.model = ST_DEFAULT_MODEL;
    st_arith_params ap = st_arith_default_params();
    if (min_steps >= 0) ap.min_steps = (int)min_steps;
    if (max_steps >= 0) ap.max_steps = (int)max_steps;
    if (digits >= 0) ap.max_digits = (int)digits;
    if (ap.max_steps < ap.min_steps) ap.max_steps = ap.min_steps;
    gen_session s;
    if (gen_session_open(C, &s, &o, (int)par)) return 1;
    if (!s.tok) { gen_session_close(&s); return cli_fail(C, "%s has no tokenizer", o.model); }
    eval_mode modes[3];
    int k = 0;
    if (compare) { modes[0] = MODE_NO_THINK; modes[1] = MODE_THINK; modes[2] = MODE_SOFT; k = 3; }
    else modes[k++] = no_think ? MODE_NO_THINK : soft_flag || o.think.soft ? MODE_SOFT : MODE_THINK;
    mode_stats ms[3];
    int rc = 0;
    for (int i = 0; i < k && !rc; i++) {
        if (run_mode(C, &s, modes[i], &ap, (uint64_t)seed, (int)n, (int)par, verbose, &ms[i])) rc = 1;
        else if (json) print_json(&ms[i], &s.o);
    }
    if (!rc && !json) {
        printf("task arith (steps %d..%d, up to %d digits), %lld held-out problems, seed %lld, model %s\n", ap.min_steps,
               ap.max_steps, ap.max_digits, n, seed, o.model);
        print_table(ms, k);
    }
    if (!rc && compare) {
        const char *path = svg ? svg : "eval.svg";
        if (write_svg(path, ms, k)) rc = cli_fail(C, "cannot write '%s'", path);
        else if (!json) printf("chart: %s\n", path);
    }
    gen_session_close(&s);
    return rc;
}
