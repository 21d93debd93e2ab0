#include "cli.h"

int cmd_synth(int argc, char **argv) {
    const char *C = "synth", *out = NULL, *v;
    st_synth_params p = {.like = NULL, .type = "q8_0"};
    long long seed = 42, layers = 0, threads = 0;
    for (int i = 1; i < argc; i++) {
#define STR_OPT(name, dst)                                                         \
        if (cli_opt(argc, argv, &i, name, &v)) {                                   \
            if (!v) return cli_fail(C, "%s needs a value", name);                  \
            dst = v;                                                               \
            continue;                                                              \
        }
        STR_OPT("--arch", p.arch)
        STR_OPT("--like", p.like)
        STR_OPT("--type", p.type)
        STR_OPT("--vocab", p.vocab)
        STR_OPT("-o", out)
#undef STR_OPT
        if (cli_opt(argc, argv, &i, "--seed", &v)) { if (cli_int(C, "--seed", v, &seed)) return 1; continue; }
        if (cli_opt(argc, argv, &i, "--layers", &v)) { if (cli_int(C, "--layers", v, &layers)) return 1; continue; }
        if (cli_opt(argc, argv, &i, "-t", &v)) { if (cli_int(C, "-t", v, &threads)) return 1; continue; }
        if (cli_flag(argv, i, "--help")) {
            printf("usage: softthink synth --like SHAPE [--arch ARCH] --type TYPE -o OUT.gguf [--seed S] [--layers N] [--vocab VOCAB.gguf]\n"
                   "  SHAPE: ");
            for (const char *const *s = st_synth_shapes(); *s; s++) printf("%s ", *s);
            printf("\n  ARCH:  llama qwen2 qwen3 gpt2 (default: the shape's own)\n"
                   "  TYPE:  f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q4_k q5_k q6_k q4_k_m q5_k_m\n"
                   "  --vocab copies tokenizer.* metadata from a GGUF with the same vocabulary size\n");
            return 0;
        }
        return cli_fail(C, "unknown option '%s'", argv[i]);
    }
    if (!p.like) return cli_fail(C, "no shape given (--like SHAPE; see --help)");
    if (!out) return cli_fail(C, "no output file given (-o OUT.gguf)");
    p.seed = (uint64_t)seed;
    p.n_layer = (int)layers;
    p.n_threads = (int)threads;
    double t0 = cli_now();
    st_status s = st_synth_write(&p, out);
    if (s != ST_OK) return cli_fail_status(C, s);
    fprintf(stderr, "synth: wrote %s (%s, %s) in %.1f s\n", out, p.like, p.type, cli_now() - t0);
    return 0;
}
