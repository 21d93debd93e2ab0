/* softthink bench: prompt processing (pp) and decode (tg) speed, like llama-bench. */
#include "cli.h"
#include <sys/resource.h>

typedef struct result { char test[48]; int n_tok, depth; double med, lo, hi; } result;

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* of n sorted values */
static double median(const double *v, int n) { return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]); }

/* Parse "1,4,8" into up to 16 positive ints. */
static int parse_list(const char *C, const char *opt, const char *s, int *v, int *n) {
    *n = 0;
    if (!s) return cli_fail(C, "%s needs a value", opt), -1;
    for (const char *p = s; *p;) {
        char *end;
        long x = strtol(p, &end, 10);
        if (end == p || x < 0 || x > 1 << 20 || *n == 16) return cli_fail(C, "%s: bad list '%s'", opt, s), -1;
        v[(*n)++] = (int)x;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return cli_fail(C, "%s: bad list '%s'", opt, s), -1;
    }
    return 0;
}

/* Each of the first n_seq sequences gets `depth` random tokens of context
 * (not timed), in batches of up to `chunk`. */
static int fill_depth(st_context *c, st_batch *b, int n_vocab, int depth, int n_seq, int chunk, unsigned *rng) {
    for (int q = 0; q < n_seq; q++)
        for (int p0 = 0; p0 < depth; p0 += chunk) {
            st_batch_clear(b);
            for (int i = p0; i < depth && i < p0 + chunk; i++) {
                *rng = *rng * 1103515245u + 12345u;
                st_batch_add(b, (st_token)((*rng >> 8) % (unsigned)n_vocab), NULL, i, q, 0);
            }
            st_status s = st_decode(c, b);
            if (s != ST_OK) return cli_fail_status("bench", s), -1;
        }
    return 0;
}

/* One timed run after `depth` tokens of context per sequence; returns
 * tokens/s or a negative value on failure (message printed). */
static double run_once(st_context *c, st_batch *b, int n_vocab, int depth, int chunk, int pp, int tg, int n_seq,
                       unsigned *rng) {
    st_kv_clear(c);
    if (depth > 0 && fill_depth(c, b, n_vocab, depth, pp > 0 ? 1 : n_seq, chunk, rng)) return -1.0;
    double t0 = cli_now();
    if (pp > 0) {
        st_batch_clear(b);
        for (int i = 0; i < pp; i++) {
            *rng = *rng * 1103515245u + 12345u;
            st_batch_add(b, (st_token)((*rng >> 8) % (unsigned)n_vocab), NULL, depth + i, 0, i == pp - 1);
        }
        st_status s = st_decode(c, b);
        if (s != ST_OK) return cli_fail_status("bench", s), -1.0;
        return pp / (cli_now() - t0);
    }
    for (int step = 0; step < tg; step++) {
        st_batch_clear(b);
        for (int q = 0; q < n_seq; q++) {
            *rng = *rng * 1103515245u + 12345u;
            st_batch_add(b, (st_token)((*rng >> 8) % (unsigned)n_vocab), NULL, depth + step, q, 1);
        }
        st_status s = st_decode(c, b);
        if (s != ST_OK) return cli_fail_status("bench", s), -1.0;
    }
    return (double)tg * n_seq / (cli_now() - t0);
}

/* Decode through the runner with one thinker per sequence: discrete thinking
 * (sampling) or soft thinking (concept tokens), to measure soft thinking's overhead. */
static double run_think(st_context *c, const st_model *m, int tg, int n_seq, int soft, int max_topk, unsigned *rng) {
    int nv = st_model_get_info(m)->n_vocab;
    st_think_params p = st_think_default_params();
    p.soft = soft;
    p.max_topk = max_topk;
    p.cold_stop_entropy = 0; /* never inject: every step is a thinking step */
    st_token marker = nv - 1;
    st_runner *r = NULL;
    st_thinker *th[64] = {0};
    st_think_step *steps = calloc((size_t)n_seq, sizeof *steps);
    int *stepped = calloc((size_t)n_seq, sizeof *stepped);
    double t = -1;
    st_status s = st_runner_init(c, &r);
    for (int i = 0; s == ST_OK && i < n_seq && i < 64; i++) {
        *rng = *rng * 1103515245u + 12345u;
        st_token first = (st_token)((*rng >> 8) % (unsigned)nv);
        p.seed = *rng;
        s = st_thinker_init(&p, m, &marker, 1, 1, &th[i]);
        if (s == ST_OK) s = st_runner_start(r, i, &first, 1, th[i]);
    }
    if (s == ST_OK) s = st_runner_step(r, steps, stepped); /* the 1-token prompts */
    double t0 = cli_now();
    for (int k = 1; s == ST_OK && k < tg; k++) s = st_runner_step(r, steps, stepped);
    if (s == ST_OK) t = (double)(tg - 1) * n_seq / (cli_now() - t0);
    else cli_fail_status("bench", s);
    for (int i = 0; i < 64; i++) st_thinker_free(th[i]);
    st_runner_free(r);
    free(steps);
    free(stepped);
    return t;
}

int cmd_bench(int argc, char **argv) {
    const char *C = "bench", *model = NULL, *v;
    int pps[16] = {128}, n_pp = 1, tgs[16] = {64}, n_tg = 1, bs[16] = {1}, n_b = 1, ds[16] = {0}, n_d = 1;
    long long threads = 0, reps = 3, max_topk = 10;
    int json = 0, soft = 0, interleave = 0;
    st_type cache_type = ST_TYPE_F16;
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "-m", &model) || cli_opt(argc, argv, &i, "--model", &model)) continue;
        if (cli_opt(argc, argv, &i, "-p", &v)) { if (parse_list(C, "-p", v, pps, &n_pp)) return 1; continue; }
        if (cli_opt(argc, argv, &i, "-n", &v)) { if (parse_list(C, "-n", v, tgs, &n_tg)) return 1; continue; }
        if (cli_opt(argc, argv, &i, "-b", &v)) { if (parse_list(C, "-b", v, bs, &n_b)) return 1; continue; }
        if (cli_opt(argc, argv, &i, "-d", &v)) { if (parse_list(C, "-d", v, ds, &n_d)) return 1; continue; }
        if (cli_opt(argc, argv, &i, "-t", &v)) { if (cli_int(C, "-t", v, &threads)) return 1; continue; }
        if (cli_opt(argc, argv, &i, "-r", &v)) { if (cli_int(C, "-r", v, &reps)) return 1; continue; }
        if (cli_flag(argv, i, "--json")) { json = 1; continue; }
        if (cli_flag(argv, i, "--interleave")) { interleave = 1; continue; }
        if (cli_flag(argv, i, "--no-repack")) { cli_repack = 0; continue; }
        if (cli_opt(argc, argv, &i, "--cache-type", &v)) { if (cli_cache_type(C, v, &cache_type)) return 1; continue; }
        if (cli_flag(argv, i, "--soft-thinking")) { soft = 1; continue; }
        if (cli_opt(argc, argv, &i, "--max-topk", &v)) { if (cli_int(C, "--max-topk", v, &max_topk)) return 1; continue; }
        if (cli_flag(argv, i, "--help")) {
            printf("usage: softthink bench -m MODEL.gguf [-p 128] [-n 64] [-b 1,4,8] [-d 0] [-t N] [-r 3] [--interleave] [--cache-type f16|q8_0] [--no-repack] [--json]\n"
                   "  -p  prompt lengths (pp); -n decode lengths (tg); -b sequences decoding together in tg\n"
                   "  -d  context depths: each test runs after that many tokens already in every sequence's\n"
                   "      cache (filled before the clock starts), e.g. -d 0,2048 for decode deep in a trace\n"
                   "  reports the median tokens/s over -r runs (after one warm-up run) and the min..max spread,\n"
                   "  and each batched tg against one sequence (speed-up)\n"
                   "  --interleave  run the repetitions in rounds, each round every test once (on a shared or\n"
                   "                throttling machine, all tests then see the same slow and fast spells; the\n"
                   "                speed-up also gets the median of the per-round ratios)\n"
                   "  --cache-type  KV cache entries: f16 (default) or q8_0 (with -d: decode deep in a trace)\n"
                   "  --soft-thinking  also decode through the thinking controller: discrete thinking (sampling)\n"
                   "                   vs soft thinking (--max-topk K concept tokens, default 10)\n"
                   "  --no-repack   keep the weights as the file has them (default: 16-row panels where the\n"
                   "                CPU's kernels read those faster)\n");
            return 0;
        }
        return cli_fail(C, "unknown option '%s'", argv[i]);
    }
    if (reps < 1 || reps > 1000) return cli_fail(C, "-r %lld out of range 1..1000", reps);
    int max_pp = 1, max_tg = 1, max_b = 1, max_d = 0;
    for (int i = 0; i < n_d; i++) max_d = ds[i] > max_d ? ds[i] : max_d;
    for (int i = 0; i < n_pp; i++) max_pp = pps[i] > max_pp ? pps[i] : max_pp;
    for (int i = 0; i < n_tg; i++) max_tg = tgs[i] > max_tg ? tgs[i] : max_tg;
    for (int i = 0; i < n_b; i++) {
        if (bs[i] < 1) return cli_fail(C, "-b: batch size must be >= 1");
        max_b = bs[i] > max_b ? bs[i] : max_b;
    }
    /* checked before anything is opened or allocated */
    if (max_b > 64) return cli_fail(C, "-b: at most 64 sequences");
    if (soft && max_d > 0) return cli_fail(C, "-d with --soft-thinking is not supported (the thinking runs start from empty sequences)");
    st_context_params cp = st_context_default_params();
    cp.n_ctx = max_d + (max_pp > max_tg ? max_pp : max_tg) + 1;
    cp.n_batch = max_pp > max_b ? max_pp : max_b;
    /* the context is filled in batches of up to 512 tokens */
    const int fill_chunk = max_d < 512 ? (max_d > 0 ? max_d : 1) : 512;
    if (cp.n_batch < fill_chunk) cp.n_batch = fill_chunk;
    cp.n_seq = max_b;
    cp.n_threads = (int)threads;
    cp.cache_type = cache_type;
    st_model *m;
    st_context *c;
    if (cli_open(C, model, &cp, &m, &c)) return 1;
    const st_model_info *in = st_model_get_info(m);
    st_batch b;
    if (st_batch_init(&b, cp.n_batch, 0) != ST_OK) {
        st_context_free(c);
        st_model_free(m);
        return cli_fail_status(C, ST_E_NOMEM);
    }
    unsigned rng = 1234;
    /* the tests, in the order they are reported */
    typedef struct spec { int kind, pp, tg, nb, depth; } spec;
    spec sp[64];
    int n_sp = 0;
    for (int kind = 0; kind < (soft ? 4 : 2); kind++) {
        int nk = (kind == 0 ? n_pp : n_tg * n_b) * n_d;
        for (int jd = 0; jd < nk && n_sp < 64; jd++) {
            const int depth = ds[jd % n_d], j = jd / n_d;
            spec x = {kind, kind == 0 ? pps[j] : 0, kind == 0 ? 0 : tgs[j / n_b], kind == 0 ? 1 : bs[j % n_b], depth};
            if (x.pp || x.tg) sp[n_sp++] = x;
        }
    }
    result res[64];
    int n_res = 0, rc = 0;
    /* t: [n_sp][reps] tokens/s in run order; tmp: one test's, sorted */
    double *t = malloc((size_t)reps * (size_t)(n_sp + 1) * sizeof(double)), *tmp = t ? t + (size_t)n_sp * reps : NULL;
    if (!t) {
        st_batch_free(&b);
        st_context_free(c);
        st_model_free(m);
        return cli_fail_status(C, ST_E_NOMEM);
    }
#define RUN(x)                                                                                            \
    ((x).kind < 2 ? run_once(c, &b, in->n_vocab, (x).depth, fill_chunk, (x).pp, (x).tg, (x).nb, &rng) \
                  : run_think(c, m, (x).tg, (x).nb, (x).kind == 3, (int)max_topk, &rng))
    /* Interleaved: every test warms up, then each round runs every test once,
     * so that a shared machine's slow and fast spells fall on all tests alike
     * (their ratios are then measured under the same conditions). */
    if (interleave) {
        for (int i = 0; i < n_sp && !rc; i++)
            if (RUN(sp[i]) < 0) rc = 1;
        for (int r = 0; r < reps && !rc; r++)
            for (int i = 0; i < n_sp && !rc; i++)
                if ((t[(size_t)i * reps + r] = RUN(sp[i])) < 0) rc = 1;
    }
    for (int i = 0; i < n_sp && !rc; i++) {
        const spec x = sp[i];
        double *ti = t + (size_t)i * reps;
        if (!interleave) {
            if (RUN(x) < 0) { rc = 1; break; } /* warm-up */
            for (int r = 0; r < reps && !rc; r++)
                if ((ti[r] = RUN(x)) < 0) rc = 1;
            if (rc) break;
        }
        memcpy(tmp, ti, (size_t)reps * sizeof(double));
        qsort(tmp, (size_t)reps, sizeof *tmp, cmp_d);
        result *e = &res[n_res++];
        const char *mode = x.kind == 2 ? " think" : x.kind == 3 ? " soft" : "";
        char at[24] = "";
        if (x.depth) snprintf(at, sizeof at, " @ d%d", x.depth);
        if (x.pp) snprintf(e->test, sizeof e->test, "pp%d%s", x.pp, at);
        else if (x.nb == 1) snprintf(e->test, sizeof e->test, "tg%d%s%s", x.tg, mode, at);
        else snprintf(e->test, sizeof e->test, "tg%d x%d%s%s", x.tg, x.nb, mode, at);
        e->depth = x.depth;
        e->n_tok = x.pp ? x.pp : x.tg * x.nb;
        e->med = median(tmp, (int)reps);
        e->lo = tmp[0];
        e->hi = tmp[reps - 1];
        if (!json) {
            if (n_res == 1)
                printf("| model | arch | size | params | threads | test | t/s (median) | spread |\n"
                       "| --- | --- | --- | --- | --- | --- | --- | --- |\n");
            printf("| %s | %s | %.1f MiB | %.1f M | %d | %s | %.2f | %.2f .. %.2f |\n", in->name, in->arch_name,
                   in->file_size / 1048576.0, in->n_params / 1e6, st_context_n_threads(c), e->test, e->med, e->lo, e->hi);
            fflush(stdout);
        }
    }
#undef RUN
    /* Batched decode against one sequence (same length, depth and mode): the
     * ratio of the medians and, when interleaved, the median and range of
     * the per-round ratios. */
    for (int i = 0; i < n_res && !rc && !json; i++) {
        if (sp[i].pp || sp[i].nb == 1) continue;
        for (int k = 0; k < n_res; k++) {
            if (sp[k].pp || sp[k].nb != 1 || sp[k].tg != sp[i].tg || sp[k].depth != sp[i].depth || sp[k].kind != sp[i].kind)
                continue;
            fprintf(stderr, "speed-up: %s = %.2f x %s (ratio of medians)", res[i].test, res[i].med / res[k].med, res[k].test);
            if (interleave) {
                for (int r = 0; r < reps; r++) tmp[r] = t[(size_t)i * reps + r] / t[(size_t)k * reps + r];
                qsort(tmp, (size_t)reps, sizeof *tmp, cmp_d);
                fprintf(stderr, "; per round: median %.2f, %.2f .. %.2f", median(tmp, (int)reps), tmp[0], tmp[reps - 1]);
            }
            fprintf(stderr, "\n");
            break;
        }
    }
    /* Weights are mapped, not copied: what stays resident should be the file,
     * the KV cache (f16 K and V) and buffers of a few MiB. */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const double rss = (double)ru.ru_maxrss * 1024.0;
    /* K and V: f16 entries, or Q8_0 blocks of 32 values in 34 bytes */
    const double entry = cache_type == ST_TYPE_Q8_0 ? in->head_dim / 32 * 34.0 : in->head_dim * 2.0;
    const double kv = 2.0 * entry * in->n_layer * (double)cp.n_seq * cp.n_ctx * in->n_head_kv;
    if (!rc && !json)
        fprintf(stderr, "memory: peak RSS %.1f MiB = %.3f x (file %.1f MiB + KV cache %.1f MiB)\n", rss / 1048576.0,
                rss / ((double)in->file_size + kv), in->file_size / 1048576.0, kv / 1048576.0);
    if (json && !rc) {
        printf("[");
        for (int i = 0; i < n_res; i++) {
            printf("%s\n  {\"model\": \"%s\", \"arch\": \"%s\", \"file_bytes\": %llu, \"params\": %llu, \"threads\": %d, "
                   "\"test\": \"%s\", \"n_tokens\": %d, \"depth\": %d, \"tps_median\": %.3f, \"tps_min\": %.3f, \"tps_max\": %.3f, \"reps\": %lld, \"interleaved\": %s, \"cache_type\": \"%s\", "
                   "\"peak_rss_bytes\": %.0f, \"kv_bytes\": %.0f, \"tps_runs\": [",
                   i ? "," : "", in->name, in->arch_name, (unsigned long long)in->file_size, (unsigned long long)in->n_params,
                   st_context_n_threads(c), res[i].test, res[i].n_tok, res[i].depth, res[i].med, res[i].lo, res[i].hi, reps, interleave ? "true" : "false", cache_type == ST_TYPE_Q8_0 ? "q8_0" : "f16", rss, kv);
            /* in run order: with --interleave, run r of every test is round r */
            for (int r = 0; r < reps; r++) printf("%s%.3f", r ? ", " : "", t[(size_t)i * reps + r]);
            printf("]}");
        }
        printf("\n]\n");
    }
    free(t);
    st_batch_free(&b);
    st_context_free(c);
    st_model_free(m);
    return rc;
}
