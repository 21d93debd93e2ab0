/* End-to-end checks of the softthink CLI: the exact command forms external
 * checks use, and clear errors (exit 1, a message naming the problem) on bad input. */
#include <sys/wait.h>

#include "softthink.h"
#include "test.h"

#define CLI "build/softthink"

/* Run a shell command; capture stdout+stderr (truncated to cap); return the exit status. */
static int run(const char *cmd, char *out, size_t cap) {
    char full[4096];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *trim(char *s) {
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' ')) s[--n] = 0;
    return s;
}

static void test_golden_commands(void) {
    char cmd[2048], out[1 << 16];
    char *ids = t_read_file(t_shared("golden/synthetic/prompt.ids"), NULL);
    CHECK(ids != NULL);
    if (!ids) return;
    trim(ids);
    const char *models[] = {"syn-llama", "syn-qwen2", "syn-qwen3", "syn-gpt2"};
    for (int i = 0; i < 4; i++) {
        /* generate --temp 0 --print-ids: one line, the 32 reference greedy ids */
        snprintf(cmd, sizeof cmd, CLI " generate -m %s --ids \"%s\" -n 32 --temp 0 --print-ids 2>/dev/null",
                 t_shared("golden/synthetic/"), ids);
        snprintf(cmd, sizeof cmd, CLI " generate -m %sgolden/synthetic/%s.f32.gguf --ids \"%s\" -n 32 --temp 0 --print-ids 2>/dev/null",
                 t_shared(""), models[i], ids);
        FILE *p = popen(cmd, "r");
        size_t n = p ? fread(out, 1, sizeof out - 1, p) : 0;
        out[n] = 0;
        int st = p ? pclose(p) : -1;
        char ref_path[256];
        snprintf(ref_path, sizeof ref_path, "golden/synthetic/%s.ref.greedy", models[i]);
        char *ref = t_read_file(t_shared(ref_path), NULL);
        CHECKF(st == 0 && ref && !strcmp(trim(out), trim(ref)), "%s: generate --print-ids gave '%.200s'", models[i], out);
        free(ref);
        /* logits -o: float32 [24][512] close to the reference */
        snprintf(cmd, sizeof cmd, CLI " logits -m %sgolden/synthetic/%s.f32.gguf --ids \"%s\" -o build/tests/tmp-logits.f32",
                 t_shared(""), models[i], ids);
        CHECKF(run(cmd, out, sizeof out) == 0, "logits failed: %s", out);
        size_t sz = 0, rsz = 0;
        float *lg = t_read_file("build/tests/tmp-logits.f32", &sz);
        snprintf(ref_path, sizeof ref_path, "golden/synthetic/%s.ref.logits", models[i]);
        float *rl = t_read_file(t_shared(ref_path), &rsz);
        CHECKF(lg && rl && sz == 24 * 512 * 4 && sz == rsz && t_rel_l2(lg, rl, 24 * 512) < 1e-3, "%s: logits file wrong (%zu bytes)",
               models[i], sz);
        free(lg);
        free(rl);
    }
    remove("build/tests/tmp-logits.f32");
    /* info */
    snprintf(cmd, sizeof cmd, CLI " info -m %s", t_shared("golden/synthetic/syn-qwen3.q8_0.gguf"));
    if (run(cmd, out, sizeof out) == 0) CHECK(0); /* there is no q8_0 qwen3 file: must fail */
    CHECK(strstr(out, "syn-qwen3.q8_0.gguf") != NULL);
    snprintf(cmd, sizeof cmd, CLI " info -m %s", t_shared("golden/synthetic/syn-qwen2.q4_k_m.gguf"));
    CHECK(run(cmd, out, sizeof out) == 0 && strstr(out, "qwen2") && strstr(out, "Q4_K") && strstr(out, "Q6_K"));
    free(ids);
}

static void test_errors(void) {
    char out[8192];
    /* a truncated model: exit 1 and a message naming the file, never a crash */
    size_t sz = 0;
    char *m = t_read_file(t_shared("golden/synthetic/syn-llama.q8_0.gguf"), &sz);
    CHECK(m != NULL);
    if (m) {
        FILE *f = fopen("build/tests/tmp-trunc.gguf", "wb");
        fwrite(m, 1, sz / 2, f);
        fclose(f);
        free(m);
        CHECK(run(CLI " info -m build/tests/tmp-trunc.gguf", out, sizeof out) == 1);
        CHECKF(strstr(out, "tmp-trunc.gguf") && strstr(out, "error"), "truncated: %s", out);
        CHECK(run(CLI " generate -m build/tests/tmp-trunc.gguf --ids 1 -n 2", out, sizeof out) == 1);
        remove("build/tests/tmp-trunc.gguf");
    }
    CHECK(run(CLI " generate -m nope.gguf --ids 1", out, sizeof out) == 1 && strstr(out, "nope.gguf"));
    char cmd[1024];
    snprintf(cmd, sizeof cmd, CLI " generate -m %s --ids \"1 x 3\"", t_shared("models/stories260K.gguf"));
    CHECK(run(cmd, out, sizeof out) == 1 && strstr(out, "x 3"));
    snprintf(cmd, sizeof cmd, CLI " generate -m %s --ids \"1 99999\" -n 1", t_shared("models/stories260K.gguf"));
    CHECKF(run(cmd, out, sizeof out) == 1 && strstr(out, "99999"), "bad id: %s", out);
    snprintf(cmd, sizeof cmd, CLI " generate -m %s --ids 1 --top-p 1.5", t_shared("models/stories260K.gguf"));
    CHECK(run(cmd, out, sizeof out) == 1 && strstr(out, "--top-p"));
    CHECK(run(CLI " generate --bogus", out, sizeof out) == 1 && strstr(out, "--bogus"));
    CHECK(run(CLI " frobnicate", out, sizeof out) == 1 && strstr(out, "frobnicate"));
    CHECK(run(CLI " synth --like qwen9 --type q8_0 -o build/tests/x.gguf", out, sizeof out) == 1 && strstr(out, "qwen9"));
    /* config: unknown keys are errors naming the key and line */
    FILE *f = fopen("build/tests/tmp-cfg.yaml", "w");
    fprintf(f, "soft_thinking:\n  enabled: true\n  max_topk: 5\n  bogus_key: 3\n");
    fclose(f);
    snprintf(cmd, sizeof cmd, CLI " generate -m %s --ids 1 --config build/tests/tmp-cfg.yaml", t_shared("models/stories260K.gguf"));
    CHECKF(run(cmd, out, sizeof out) == 1 && strstr(out, "bogus_key") && strstr(out, ":4"), "config: %s", out);
    remove("build/tests/tmp-cfg.yaml");
}

/* Soft thinking from the CLI: --max-topk 1 is greedy; the config file and flag
 * spellings work; the trace has one line per position plus a summary; cold stop
 * injects the marker; trace-view renders it. */
static void test_soft_cli(void) {
    char cmd[2048], a[8192], b[8192];
    const char *m = t_shared("models/stories260K.gguf");
    snprintf(cmd, sizeof cmd, CLI " generate -m %s --ids \"1 403 407 261 378\" -n 40 --temp 0 --print-ids 2>/dev/null", m);
    CHECK(run(cmd, a, sizeof a) == 0);
    snprintf(cmd, sizeof cmd,
             CLI " generate -m %s --ids \"1 403 407 261 378\" -n 40 --soft-thinking --max_topk 1 --think-from-start "
                 "--think-end-str '<unk>' --after-thinking-temp 0 --print-ids 2>/dev/null", m);
    CHECK(run(cmd, b, sizeof b) == 0);
    /* compare the id lines (the timing summary on stderr differs) */
    *strchr(a, '\n') = 0;
    *strchr(b, '\n') = 0;
    CHECKF(!strcmp(a, b) && strlen(a) > 40, "--max_topk 1 soft thinking differs from greedy:\n%s\n%s", a, b);

    FILE *f = fopen("build/tests/tmp-cfg.yaml", "w");
    fprintf(f, "soft_thinking:\n  enabled: true\n  max_topk: 1\n  after_thinking_temperature: 0\n  entropy_threshold: 1000\n"
               "  entropy_length: 6\n");
    fclose(f);
    snprintf(cmd, sizeof cmd,
             CLI " generate -m %s --prompt 'Once upon a time' -n 20 --config build/tests/tmp-cfg.yaml --think-from-start "
                 "--think-end-str '.' --trace build/tests/tmp-trace.jsonl",
             m);
    CHECKF(run(cmd, a, sizeof a) == 0, "config run: %s", a);
    char *tr = t_read_file("build/tests/tmp-trace.jsonl", NULL);
    CHECK(tr != NULL);
    if (tr) {
        int lines = 0, soft = 0, inj = 0, inj_at = -1;
        for (char *p = tr; (p = strchr(p, '\n')); p++) lines++;
        for (char *p = tr; (p = strstr(p, "\"phase\":\"soft\"")); p++) soft++;
        char *q = strstr(tr, "\"phase\":\"injected\"");
        if (q) {
            inj++;
            char *st = q;
            while (st > tr && st[-1] != '\n') st--;
            sscanf(st, "{\"step\":%d", &inj_at);
        }
        CHECKF(lines == 21, "trace has %d lines, expected 20 steps + summary", lines);
        CHECKF(soft == 5 && inj == 1 && inj_at == 5, "cold stop: %d soft steps, injected at step %d", soft, inj_at);
        CHECK(strstr(tr, "\"thinking_ended\":\"cold_stop\"") != NULL);
        CHECK(strstr(tr, "\"topk_ids\":[") && strstr(tr, "\"entropy\":"));
        free(tr);
    }
    CHECK(run(CLI " trace-view build/tests/tmp-trace.jsonl -o build/tests/tmp-trace.html", a, sizeof a) == 0);
    char *html = t_read_file("build/tests/tmp-trace.html", NULL);
    CHECK(html && strstr(html, "<svg") && strstr(html, "polyline") && strstr(html, "cold_stop"));
    free(html);
    f = fopen("build/tests/tmp-bad.jsonl", "w");
    fprintf(f, "{\"step\":0}\nnot json\n");
    fclose(f);
    CHECK(run(CLI " trace-view build/tests/tmp-bad.jsonl -o build/tests/tmp-x.html", a, sizeof a) == 1 && strstr(a, ":1"));
    remove("build/tests/tmp-cfg.yaml");
    remove("build/tests/tmp-trace.jsonl");
    remove("build/tests/tmp-trace.html");
    remove("build/tests/tmp-bad.jsonl");
}

/* The trace's entropy equals an independent computation from `softthink logits`. */
static void test_trace_entropy(void) {
    char cmd[2048], out[8192];
    const char *m = t_shared("models/stories260K.gguf");
    snprintf(cmd, sizeof cmd, CLI " logits -m %s --ids \"1 403 407 261 378\" -o build/tests/tmp-l.f32", m);
    CHECK(run(cmd, out, sizeof out) == 0);
    snprintf(cmd, sizeof cmd,
             CLI " generate -m %s --ids \"1 403 407 261 378\" -n 1 --soft-thinking --temp 0.7 --think-from-start "
                 "--think-end-str '<unk>' --trace build/tests/tmp-e.jsonl",
             m);
    CHECK(run(cmd, out, sizeof out) == 0);
    size_t sz = 0;
    float *l = t_read_file("build/tests/tmp-l.f32", &sz);
    char *tr = t_read_file("build/tests/tmp-e.jsonl", NULL);
    CHECK(l && tr && sz == 5 * 512 * 4);
    if (l && tr && sz == 5 * 512 * 4) {
        const float *last = l + 4 * 512;
        double mx = -1e30, z = 0, h = 0;
        for (int i = 0; i < 512; i++) mx = fmax(mx, last[i] / 0.7);
        for (int i = 0; i < 512; i++) z += exp(last[i] / 0.7 - mx);
        for (int i = 0; i < 512; i++) {
            double p = exp(last[i] / 0.7 - mx) / z;
            if (p > 0) h -= p * log(p);
        }
        const char *e = strstr(tr, "\"entropy\":");
        double got = e ? atof(e + 10) : -1;
        CHECKF(fabs(got - h) < 1e-5 * fmax(1, h), "trace entropy %.8f vs from logits %.8f", got, h);
    }
    free(l);
    free(tr);
    remove("build/tests/tmp-l.f32");
    remove("build/tests/tmp-e.jsonl");
}

static void test_synth_bench(void) {
    char out[8192];
    CHECK(run(CLI " synth --like tiny --type q4_k_m -o build/tests/tmp-tiny.gguf", out, sizeof out) == 0);
    CHECK(run(CLI " info -m build/tests/tmp-tiny.gguf", out, sizeof out) == 0 && strstr(out, "Q6_K") && strstr(out, "Q4_K"));
    CHECK(run(CLI " bench -m build/tests/tmp-tiny.gguf -p 16 -n 4 -b 1,2 -r 1 --json", out, sizeof out) == 0);
    CHECKF(strstr(out, "\"test\": \"pp16\"") && strstr(out, "\"test\": \"tg4 x2\"") && strstr(out, "tps_median"), "bench: %s", out);
    /* memory: the mapped weights are resident once; a copy would double them */
    const char *pr = strstr(out, "\"peak_rss_bytes\": "), *pk = strstr(out, "\"kv_bytes\": "), *pf = strstr(out, "\"file_bytes\": ");
    CHECK(pr && pk && pf);
    if (pr && pk && pf) {
        double rss = atof(pr + 18), kv = atof(pk + 12), file = atof(pf + 14);
        CHECKF(kv > 0 && rss > 0.5 * file && rss < file + kv + 48.0 * 1048576, "peak RSS %.0f, file %.0f, KV %.0f", rss, file, kv);
    }
    /* -d: the same tests after a filled context; a depth the context cannot take fails cleanly */
    CHECK(run(CLI " bench -m build/tests/tmp-tiny.gguf -p 8 -n 4 -b 2 -d 0,40 -r 1 --json", out, sizeof out) == 0);
    CHECKF(strstr(out, "\"test\": \"pp8 @ d40\"") && strstr(out, "\"test\": \"tg4 x2 @ d40\"") &&
               strstr(out, "\"test\": \"tg4 x2\"") && strstr(out, "\"depth\": 40"),
           "bench -d: %s", out);
    CHECK(run(CLI " bench -m build/tests/tmp-tiny.gguf -n 4 -d x -r 1", out, sizeof out) != 0 && strstr(out, "-d: bad list"));
    /* --interleave: rounds over the tests; the speed-up line is the ratio of the reported medians */
    CHECK(run(CLI " bench -m build/tests/tmp-tiny.gguf -p 0 -n 4 -b 1,2 -r 3 --interleave", out, sizeof out) == 0);
    {
        const char *a = strstr(out, "| tg4 | "), *b2 = strstr(out, "| tg4 x2 | "), *su = strstr(out, "speed-up: tg4 x2 = ");
        CHECKF(a && b2 && su && strstr(out, "per round: median "), "bench --interleave: %s", out);
        if (a && b2 && su) {
            double m1 = atof(a + 8), m2 = atof(b2 + 11), ratio = atof(su + 19);
            CHECKF(m1 > 0 && m2 > 0 && fabs(ratio - m2 / m1) < 0.01 * ratio + 0.006, "speed-up %.3f vs medians %.2f / %.2f", ratio, m2, m1);
        }
    }
    CHECK(run(CLI " bench -m build/tests/tmp-tiny.gguf -p 4 -n 0 -r 1 --interleave --json", out, sizeof out) == 0 &&
          strstr(out, "\"interleaved\": true") && !strstr(out, "speed-up"));
    remove("build/tests/tmp-tiny.gguf");
}

/* The embedded model really reasons: held-out problems, greedy, thinking
 * against answering at once (README: 500 problems; 150 here to stay fast). */
static double json_num(const char *s, const char *key) {
    const char *p = strstr(s, key);
    return p ? atof(p + strlen(key)) : -1;
}

static void test_embedded_model(void) {
    static char out[8192];
    CHECK(run(CLI " eval --task arith --n 150 --seed 3 --json", out, sizeof out) == 0);
    double think = json_num(out, "\"accuracy\": ");
    CHECK(run(CLI " eval --task arith --n 150 --seed 3 --no-think --json", out, sizeof out) == 0);
    double direct = json_num(out, "\"accuracy\": ");
    CHECKF(think >= 0.85, "arith model, thinking: accuracy %.3f on 150 held-out problems (README: >= 0.9 on 500)", think);
    CHECKF(direct >= 0 && direct < think - 0.3, "arith model: no-think accuracy %.3f is not clearly below thinking %.3f", direct, think);
    /* README: with a hot unfiltered thinking distribution concept tokens really
     * mix (top-1 weight well below 1) and soft thinking stays accurate */
    CHECK(run(CLI " eval --task arith --n 40 --seed 3 --soft-thinking --temp 3 --top-k 0 --top-p 1 --min-p 0"
                  " --max-topk 5 --cold-stop-entropy 0 --after-thinking-temp 0 --json", out, sizeof out) == 0);
    double soft = json_num(out, "\"accuracy\": "), top1 = json_num(out, "\"mean_concept_top1_weight\": ");
    double width = json_num(out, "\"mean_concept_width\": "), ent = json_num(out, "\"mean_thinking_entropy\": ");
    CHECKF(soft >= 0.85, "arith model, soft thinking at temperature 3: accuracy %.3f", soft);
    CHECKF(top1 > 0.5 && top1 < 0.995, "concept top-1 weight %.4f", top1);
    CHECKF(width > 1 && width <= 5, "concept width %.3f (max_topk 5)", width);
    CHECKF(ent > 0.5, "thinking entropy %.4f at temperature 3", ent);
    /* a Q8_0 KV cache: the same problems, about as accurate */
    CHECK(run(CLI " eval --task arith --n 150 --seed 3 --cache-type q8_0 --json", out, sizeof out) == 0);
    double q8 = json_num(out, "\"accuracy\": ");
    CHECKF(q8 >= think - 0.03, "arith model with a Q8_0 KV cache: accuracy %.3f against %.3f with f16", q8, think);
}

/* --cache-type: q8_0 runs and is counted in the memory report; bad values and
 * head dims that do not split into blocks of 32 are refused by name. */
static void test_cache_type(void) {
    char out[8192];
    CHECK(run(CLI " synth --like tiny --type q8_0 -o build/tests/tmp-kv.gguf", out, sizeof out) == 0);
    CHECK(run(CLI " bench -m build/tests/tmp-kv.gguf -p 8 -n 4 -b 2 -r 1 --cache-type q8_0 --json", out, sizeof out) == 0);
    CHECKF(strstr(out, "\"cache_type\": \"q8_0\"") && strstr(out, "\"test\": \"tg4 x2\""), "bench --cache-type: %s", out);
    const double kv_q8 = json_num(out, "\"kv_bytes\": ");
    CHECK(run(CLI " bench -m build/tests/tmp-kv.gguf -p 8 -n 4 -b 2 -r 1 --json", out, sizeof out) == 0);
    const double kv_f16 = json_num(out, "\"kv_bytes\": ");
    CHECKF(kv_f16 > 0 && fabs(kv_q8 / kv_f16 - 34.0 / 64.0) < 1e-9, "KV bytes q8_0 %.0f, f16 %.0f", kv_q8, kv_f16);
    CHECK(run(CLI " bench -m build/tests/tmp-kv.gguf -n 4 -r 1 --cache-type q4_0", out, sizeof out) != 0 &&
          strstr(out, "'q4_0' is not a KV cache type"));
    char cmd[1024];
    snprintf(cmd, sizeof cmd, CLI " generate -m %s --ids \"1 2\" -n 2 --cache-type q8_0", t_shared("models/stories260K.gguf"));
    CHECK(run(cmd, out, sizeof out) != 0 && strstr(out, "multiple of 32") && strstr(out, "is 8"));
    CHECK(run(CLI " generate -m build/tests/tmp-kv.gguf --ids \"1 2 3\" -n 3 --cache-type q8_0 --temp 0 --print-ids", out, sizeof out) == 0);
    remove("build/tests/tmp-kv.gguf");
}

int main(void) {
    test_golden_commands();
    test_errors();
    test_soft_cli();
    test_trace_entropy();
    test_synth_bench();
    test_cache_type();
    test_embedded_model();
    return t_done("test_cli");
}
