/* softthink task arith: print problems of the arithmetic reasoning task. */
#include "cli.h"

static void json_str(const char *s) {
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') printf("\\%c", *s);
        else if (*s == '\n') printf("\\n");
        else putchar(*s);
    }
    putchar('"');
}

int cmd_task(int argc, char **argv) {
    const char *C = "task", *v, *fmt = "text";
    st_arith_params ap = st_arith_default_params();
    long long n = 5, start = 0, seed = 1, x;
    int split = 0, think = 1;
    if (argc < 2 || strcmp(argv[1], "arith")) {
        if (argc >= 2 && !strcmp(argv[1], "--help")) {
            printf("usage: softthink task arith [--split train|test] [-n 5] [--start 0] [--seed 1]\n"
                   "                             [--min-steps 2] [--max-steps 3] [--digits 2] [--format text|jsonl|train] [--no-think] [--questions]\n"
                   "  text: question, solution and answer; jsonl: one object per line; train: the exact training text\n"
                   "  --questions: only the questions, one per line; splits are disjoint for any seeds (a hash of the arithmetic decides)\n");
            return 0;
        }
        return cli_fail(C, "unknown task (available: arith)");
    }
    for (int i = 2; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--split", &v)) {
            if (!v || (strcmp(v, "train") && strcmp(v, "test"))) return cli_fail(C, "--split train|test");
            split = !strcmp(v, "test");
            continue;
        }
        if (cli_opt(argc, argv, &i, "--format", &v)) {
            if (!v || (strcmp(v, "text") && strcmp(v, "jsonl") && strcmp(v, "train"))) return cli_fail(C, "--format text|jsonl|train");
            fmt = v;
            continue;
        }
#define INT_OPT(name, dst) \
        if (cli_opt(argc, argv, &i, name, &v)) { if (cli_int(C, name, v, &x)) return 1; dst = x; continue; }
        INT_OPT("-n", n)
        INT_OPT("--n", n)
        INT_OPT("--start", start)
        INT_OPT("--seed", seed)
        INT_OPT("--min-steps", ap.min_steps)
        INT_OPT("--max-steps", ap.max_steps)
        INT_OPT("--digits", ap.max_digits)
#undef INT_OPT
        if (cli_flag(argv, i, "--no-think")) { think = 0; continue; }
        if (cli_flag(argv, i, "--questions")) { fmt = "questions"; continue; }
        return cli_fail(C, "unknown option '%s'", argv[i]);
    }
    if (n < 0 || start < 0) return cli_fail(C, "-n and --start must be >= 0");
    for (long long i = start; i < start + n; i++) {
        st_arith_problem pr;
        st_status s = st_arith_generate(&ap, (uint64_t)seed, split, (uint64_t)i, &pr);
        if (s) return cli_fail_status(C, s);
        if (!strcmp(fmt, "jsonl")) {
            printf("{\"split\":\"%s\",\"index\":%lld,\"question\":", split ? "test" : "train", i);
            json_str(pr.question);
            printf(",\"solution\":");
            json_str(pr.solution);
            printf(",\"answer\":%lld}\n", pr.answer);
        } else if (!strcmp(fmt, "questions")) {
            printf("%s\n", pr.question);
        } else if (!strcmp(fmt, "train")) {
            char buf[2048];
            if (st_arith_format(&pr, think, buf, sizeof buf) < 0) return cli_fail(C, "problem too long");
            printf("%s\n\n", buf);
        } else {
            printf("[%s %lld] %s\n%s\n%s%lld\n\n", split ? "test" : "train", i, pr.question, pr.solution,
                   st_arith_answer_prefix(), pr.answer);
        }
    }
    return 0;
}
