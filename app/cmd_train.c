/* softthink train: train our small gpt2-family reasoning model on the
 * arithmetic task and write it as a GGUF the engine loads as is. */
#include "cli.h"

static void progress(const st_train_progress *p, void *user) {
    (void)user;
    if (p->is_eval) {
        fprintf(stderr, "\n  step %6d  held-out loss %.4f  acc %.2f%%\n", p->step, p->loss, 100 * p->acc);
        return;
    }
    int w = 30, f = (int)((double)p->step / p->n_steps * w);
    char bar[64];
    for (int i = 0; i < w; i++) bar[i] = i < f ? '#' : '.';
    bar[w] = 0;
    int eta = (int)(p->eta_s + 0.5);
    fprintf(stderr, "\r[%s] %6d/%d  loss %.4f  acc %5.2f%%  lr %.2e  |g| %.3f  %6.0f tok/s  %5.0fs  ETA %d:%02d  ",
            bar, p->step, p->n_steps, p->loss, 100 * p->acc, p->lr, p->grad_norm, p->tokens_per_s, p->elapsed_s,
            eta / 60, eta % 60);
    if (p->step == p->n_steps) fputc('\n', stderr);
    fflush(stderr);
}

int cmd_train(int argc, char **argv) {
    const char *C = "train", *v;
    st_train_params p = st_train_default_params();
    for (int i = 1; i < argc; i++) {
        long long x;
        double f;
#define INT_OPT(name, dst)                                                      \
        if (cli_opt(argc, argv, &i, name, &v)) {                                \
            if (cli_int(C, name, v, &x)) return 1;                              \
            dst = x;                                                            \
            continue;                                                           \
        }
#define FLT_OPT(name, dst)                                                      \
        if (cli_opt(argc, argv, &i, name, &v)) {                                \
            if (cli_float(C, name, v, &f)) return 1;                            \
            dst = (float)f;                                                     \
            continue;                                                           \
        }
#define STR_OPT(name, dst)                                                      \
        if (cli_opt(argc, argv, &i, name, &v)) {                                \
            if (!v) return cli_fail(C, "%s needs a value", name);               \
            dst = v;                                                            \
            continue;                                                           \
        }
        STR_OPT("-o", p.out_path)
        STR_OPT("--ckpt", p.ckpt_path)
        STR_OPT("--name", p.name)
        INT_OPT("--d-model", p.n_embd)
        INT_OPT("--layers", p.n_layer)
        INT_OPT("--heads", p.n_head)
        INT_OPT("--ff", p.n_ff)
        INT_OPT("--ctx", p.n_ctx)
        INT_OPT("--batch", p.batch)
        INT_OPT("--steps", p.steps)
        INT_OPT("--warmup", p.warmup)
        INT_OPT("--seed", p.seed)
        INT_OPT("-t", p.n_threads)
        INT_OPT("--log-every", p.log_every)
        INT_OPT("--eval-every", p.eval_every)
        INT_OPT("--ckpt-every", p.ckpt_every)
        INT_OPT("--stop-after", p.stop_after)
        INT_OPT("--min-steps", p.task.min_steps)
        INT_OPT("--max-steps", p.task.max_steps)
        INT_OPT("--digits", p.task.max_digits)
        FLT_OPT("--lr", p.lr)
        FLT_OPT("--min-lr", p.min_lr)
        FLT_OPT("--wd", p.weight_decay)
        FLT_OPT("--clip", p.clip)
        FLT_OPT("--beta2", p.beta2)
        FLT_OPT("--no-think-frac", p.no_think_frac)
        if (cli_flag(argv, i, "--resume")) { p.resume = 1; continue; }
        if (cli_flag(argv, i, "--help")) {
            printf("usage: softthink train -o MODEL.gguf [options]\n"
                   "  model:  --d-model 256 --layers 4 --heads 8 --ff 1024 --ctx 256\n"
                   "  run:    --steps 5000 --batch 32 --lr 2e-3 --min-lr 1e-4 --warmup 200 --wd 0.1 --clip 1 --beta2 0.98\n"
                   "          --seed 1 -t THREADS --no-think-frac 0.15\n"
                   "  task:   --min-steps 2 --max-steps 3 --digits 2   (arithmetic problems, see softthink task)\n"
                   "  ckpt:   --ckpt FILE [--ckpt-every N] [--resume] [--stop-after N]\n"
                   "  log:    --log-every 10 --eval-every N (held-out loss)\n"
                   "Same seed and thread count give the same run; --resume continues from --ckpt exactly.\n");
            return 0;
        }
        return cli_fail(C, "unknown option '%s'", argv[i]);
#undef INT_OPT
#undef FLT_OPT
#undef STR_OPT
    }
    if (!p.out_path && !p.ckpt_path) return cli_fail(C, "no output given (-o MODEL.gguf and/or --ckpt FILE)");
    p.progress = progress;
    double t0 = cli_now();
    float loss = 0;
    st_status s = st_train_run(&p, &loss);
    if (s != ST_OK) return cli_fail_status(C, s);
    fprintf(stderr, "train: %d steps, final loss %.4f, %.1f s", p.steps, loss, cli_now() - t0);
    if (p.out_path) fprintf(stderr, ", wrote %s", p.out_path);
    fputc('\n', stderr);
    return 0;
}
