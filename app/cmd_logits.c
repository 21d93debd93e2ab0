#include "cli.h"

/* softthink logits -m MODEL --ids "1 2 3" -o OUT: float32 [n_ids][n_vocab], little-endian. */
int cmd_logits(int argc, char **argv) {
    const char *model = NULL, *ids_s = NULL, *out = NULL, *v;
    long long threads = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "-m", &model) || cli_opt(argc, argv, &i, "--model", &model)) continue;
        if (cli_opt(argc, argv, &i, "--ids", &ids_s)) continue;
        if (cli_flag(argv, i, "--no-repack")) { cli_repack = 0; continue; }
        if (cli_opt(argc, argv, &i, "-o", &out) || cli_opt(argc, argv, &i, "--output", &out)) continue;
        if (cli_opt(argc, argv, &i, "-t", &v) || cli_opt(argc, argv, &i, "--threads", &v)) {
            if (cli_int("logits", "-t", v, &threads)) return 1;
            continue;
        }
        if (cli_flag(argv, i, "--help")) {
            printf("usage: softthink logits -m MODEL.gguf --ids \"1 2 3\" -o OUT.f32 [-t N] [--no-repack]\n"
                   "writes little-endian float32 logits for every input position, shape [n_ids][n_vocab]\n");
            return 0;
        }
        return cli_fail("logits", "unknown option '%s'", argv[i]);
    }
    if (!out) return cli_fail("logits", "no output file given (-o OUT)");
    st_token *ids;
    int n;
    if (cli_parse_ids("logits", ids_s, &ids, &n)) return 1;
    st_context_params cp = st_context_default_params();
    cp.n_batch = n;
    cp.n_ctx = n;
    cp.n_threads = (int)threads;
    st_model *m;
    st_context *c;
    if (cli_open("logits", model, &cp, &m, &c)) { free(ids); return 1; }
    int rc = 0;
    st_batch b;
    st_status s = st_batch_init(&b, n, 0);
    for (int i = 0; s == ST_OK && i < n; i++) s = st_batch_add(&b, ids[i], NULL, i, 0, 1);
    if (s == ST_OK) s = st_decode(c, &b);
    if (s != ST_OK) rc = cli_fail_status("logits", s);
    else {
        FILE *f = fopen(out, "wb");
        if (!f) rc = cli_fail("logits", "cannot open '%s' for writing", out);
        int nv = st_model_get_info(m)->n_vocab;
        for (int i = 0; !rc && i < n; i++)
            if (fwrite(st_get_logits(c, i), sizeof(float), (size_t)nv, f) != (size_t)nv)
                rc = cli_fail("logits", "write to '%s' failed", out);
        if (f && fclose(f) && !rc) rc = cli_fail("logits", "write to '%s' failed", out);
    }
    st_batch_free(&b);
    st_context_free(c);
    st_model_free(m);
    free(ids);
    return rc;
}
