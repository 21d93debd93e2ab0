#include "cli.h"

#include "../src/gguf/gguf.h"

static void usage(void) {
    printf("usage: softthink generate -m MODEL.gguf --ids \"1 2 3\" [options]\n"
           "  -n N              tokens to generate (default 64)\n"
           "  --temp T          temperature (default 0.8; 0 = greedy)\n"
           "  --top-k K         keep the K most likely tokens (default 40; 0 = off)\n"
           "  --top-p P         nucleus mass (default 0.95; 1 = off)\n"
           "  --min-p P         drop tokens below P x max probability (default 0.05; 0 = off)\n"
           "  --seed S          sampler seed (default 0)\n"
           "  --print-ids       print the generated ids on one line, space-separated\n"
           "  --ignore-eos      do not stop at the end-of-sequence token\n"
           "  -c N              context size (default: prompt + N)\n"
           "  -t N              threads (default: physical cores)\n");
}

/* The end-of-sequence id from GGUF metadata, or -1. */
static st_token eos_of(const st_model *m) {
    uint32_t v;
    const struct st_gguf *g = st_model_gguf(m);
    if (st_gguf_find(g, "tokenizer.ggml.eos_token_id") && st_gguf_get_u32(g, "tokenizer.ggml.eos_token_id", &v) == ST_OK)
        return (st_token)v;
    return -1;
}

int cmd_generate(int argc, char **argv) {
    const char *C = "generate", *model = NULL, *ids_s = NULL, *v;
    long long n_gen = 64, threads = 0, n_ctx = 0, seed = 0, top_k = 40;
    double temp = 0.8, top_p = 0.95, min_p = 0.05;
    int print_ids = 0, ignore_eos = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "-m", &model) || cli_opt(argc, argv, &i, "--model", &model)) continue;
        if (cli_opt(argc, argv, &i, "--ids", &ids_s)) continue;
        if (cli_opt(argc, argv, &i, "-n", &v)) { if (cli_int(C, "-n", v, &n_gen)) return 1; continue; }
        if (cli_opt(argc, argv, &i, "-t", &v)) { if (cli_int(C, "-t", v, &threads)) return 1; continue; }
        if (cli_opt(argc, argv, &i, "-c", &v)) { if (cli_int(C, "-c", v, &n_ctx)) return 1; continue; }
        if (cli_opt(argc, argv, &i, "--seed", &v)) { if (cli_int(C, "--seed", v, &seed)) return 1; continue; }
        if (cli_opt(argc, argv, &i, "--top-k", &v)) { if (cli_int(C, "--top-k", v, &top_k)) return 1; continue; }
        if (cli_opt(argc, argv, &i, "--temp", &v)) { if (cli_float(C, "--temp", v, &temp)) return 1; continue; }
        if (cli_opt(argc, argv, &i, "--top-p", &v)) { if (cli_float(C, "--top-p", v, &top_p)) return 1; continue; }
        if (cli_opt(argc, argv, &i, "--min-p", &v)) { if (cli_float(C, "--min-p", v, &min_p)) return 1; continue; }
        if (cli_flag(argv, i, "--print-ids")) { print_ids = 1; continue; }
        if (cli_flag(argv, i, "--ignore-eos")) { ignore_eos = 1; continue; }
        if (cli_flag(argv, i, "--help")) { usage(); return 0; }
        return cli_fail(C, "unknown option '%s'", argv[i]);
    }
    if (n_gen < 0 || n_gen > 1000000) return cli_fail(C, "-n %lld out of range 0..1000000", n_gen);
    if (top_k < 0) return cli_fail(C, "--top-k %lld is negative", top_k);
    st_token *ids;
    int n;
    if (cli_parse_ids(C, ids_s, &ids, &n)) return 1;

    st_context_params cp = st_context_default_params();
    cp.n_ctx = n_ctx > 0 ? (int)n_ctx : n + (int)n_gen;
    cp.n_batch = n < 512 ? n : 512;
    cp.n_threads = (int)threads;
    st_model *m;
    st_context *c;
    if (cli_open(C, model, &cp, &m, &c)) { free(ids); return 1; }
    int nv = st_model_get_info(m)->n_vocab;
    st_sampler_params sp = {.temp = (float)temp, .top_k = (int)top_k, .top_p = (float)top_p, .min_p = (float)min_p,
                            .seed = (uint64_t)seed};
    st_sampler *smp = NULL;
    st_batch b = {0};
    int rc = 0;
    st_status s = st_sampler_init(&sp, nv, &smp);
    if (s == ST_OK) s = st_batch_init(&b, cp.n_batch, 0);
    st_token eos = ignore_eos ? -1 : eos_of(m);
    double t0 = cli_now(), t1 = t0;
    int pos = 0, produced = 0;
    /* prefill in chunks of n_batch; logits only at the last prompt position */
    for (int i = 0; s == ST_OK && i < n; i += cp.n_batch) {
        st_batch_clear(&b);
        int end = i + cp.n_batch < n ? i + cp.n_batch : n;
        for (int j = i; s == ST_OK && j < end; j++) s = st_batch_add(&b, ids[j], NULL, pos++, 0, j == n - 1);
        if (s == ST_OK) s = st_decode(c, &b);
    }
    t1 = cli_now();
    const float *logits = s == ST_OK ? st_get_logits(c, b.n_tokens - 1) : NULL;
    while (s == ST_OK && produced < n_gen) {
        st_token tok;
        s = st_sampler_sample(smp, logits, &tok, NULL);
        if (s != ST_OK) break;
        produced++;
        if (print_ids) printf(produced > 1 ? " %d" : "%d", tok);
        else printf("%d\n", tok);
        fflush(stdout);
        if (tok == eos || produced == n_gen) break;
        st_batch_clear(&b);
        s = st_batch_add(&b, tok, NULL, pos++, 0, 1);
        if (s == ST_OK) s = st_decode(c, &b);
        if (s == ST_OK) logits = st_get_logits(c, 0);
    }
    if (print_ids) printf("\n");
    if (s != ST_OK) rc = cli_fail_status(C, s);
    double t2 = cli_now();
    fprintf(stderr, "prompt: %d tokens in %.3f s (%.1f tok/s); generated: %d tokens in %.3f s (%.1f tok/s)\n", n, t1 - t0,
            n / (t1 - t0 + 1e-12), produced, t2 - t1, produced > 1 ? (produced - 1) / (t2 - t1 + 1e-12) : 0.0);
    st_batch_free(&b);
    st_sampler_free(smp);
    st_context_free(c);
    st_model_free(m);
    free(ids);
    return rc;
}
