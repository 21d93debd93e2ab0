/* Engine-core goldens: logits and greedy ids of every architecture against the
 * float64 reference and llama.cpp, plus batching / KV / embedding-input invariants. */
#include <sys/stat.h>
#include <unistd.h>

#include "softthink.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"
#include "test.h"

static int read_ids(const char *path, st_token *ids, int max) {
    char *s = t_read_file(path, NULL);
    if (!s) return -1;
    int n = 0;
    for (char *p = s, *end; n < max; p = end) {
        long v = strtol(p, &end, 10);
        if (end == p) break;
        ids[n++] = (st_token)v;
    }
    free(s);
    return n;
}

/* KV cache entries of the contexts below */
static st_type g_cache = ST_TYPE_F16;

/* All-position logits of ids through one batched forward pass -> malloc'd [n][n_vocab]. */
static float *forward_all(st_model *m, const st_token *ids, int n, int n_threads) {
    st_context_params cp = st_context_default_params();
    cp.cache_type = g_cache;
    cp.n_ctx = n + 40;
    cp.n_batch = n;
    cp.n_threads = n_threads;
    st_context *c;
    if (st_context_init(m, &cp, &c) != ST_OK) return NULL;
    int nv = st_model_get_info(m)->n_vocab;
    float *out = malloc((size_t)n * nv * sizeof(float));
    st_batch b;
    st_batch_init(&b, n, 0);
    for (int i = 0; i < n; i++) st_batch_add(&b, ids[i], NULL, i, 0, 1);
    st_status s = st_decode(c, &b);
    CHECK_OK(s);
    for (int i = 0; s == ST_OK && i < n; i++) memcpy(out + (size_t)i * nv, st_get_logits(c, i), (size_t)nv * sizeof(float));
    st_batch_free(&b);
    st_context_free(c);
    return out;
}

static int argmax(const float *x, int n) {
    int a = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[a]) a = i;
    return a;
}

/* Greedy continuation: prefill, then one token per step. */
static int greedy(st_model *m, const st_token *ids, int n, int n_gen, st_token *out) {
    st_context_params cp = st_context_default_params();
    cp.n_ctx = n + n_gen;
    cp.n_batch = n;
    cp.n_threads = 2;
    st_context *c;
    if (st_context_init(m, &cp, &c) != ST_OK) return -1;
    int nv = st_model_get_info(m)->n_vocab;
    st_batch b;
    st_batch_init(&b, n, 0);
    for (int i = 0; i < n; i++) st_batch_add(&b, ids[i], NULL, i, 0, i == n - 1);
    int got = 0;
    if (st_decode(c, &b) == ST_OK) {
        const float *lg = st_get_logits(c, n - 1);
        for (; got < n_gen; got++) {
            out[got] = argmax(lg, nv);
            st_batch_clear(&b);
            st_batch_add(&b, out[got], NULL, n + got, 0, 1);
            if (st_decode(c, &b) != ST_OK) break;
            lg = st_get_logits(c, 0);
        }
    }
    st_batch_free(&b);
    st_context_free(c);
    return got;
}

static void test_reference(const char *model, int check_greedy) {
    char path[512];
    snprintf(path, sizeof path, "golden/synthetic/%s.f32.gguf", model);
    st_model *m;
    st_status s = st_model_load(t_shared(path), NULL, &m);
    CHECKF(s == ST_OK, "load %s: %s", path, st_last_error());
    if (s != ST_OK) return;
    st_token ids[64], ref_ids[64], got[64];
    int n = read_ids(t_shared("golden/synthetic/prompt.ids"), ids, 64);
    CHECK(n == 24);
    int nv = st_model_get_info(m)->n_vocab;
    snprintf(path, sizeof path, "golden/synthetic/%s.ref.logits", model);
    size_t sz = 0;
    float *ref = t_read_file(t_shared(path), &sz);
    CHECKF(ref && sz == (size_t)n * nv * 4, "%s: size %zu", path, sz);
    float *lg = forward_all(m, ids, n, 2);
    if (ref && lg && sz == (size_t)n * nv * 4) {
        double e = t_rel_l2(lg, ref, (size_t)n * nv);
        CHECKF(e <= 1e-3, "%s f32 vs float64 reference: rel L2 %.3g > 1e-3", model, e);
        printf("  %-10s f32  vs ref   rel L2 %.2e\n", model, e);
    }
    if (check_greedy) {
        snprintf(path, sizeof path, "golden/synthetic/%s.ref.greedy", model);
        int nr = read_ids(t_shared(path), ref_ids, 64);
        CHECK(nr == 32);
        int ng = greedy(m, ids, n, 32, got);
        CHECK(ng == 32);
        CHECKF(nr == 32 && ng == 32 && !memcmp(got, ref_ids, 32 * sizeof(st_token)), "%s: greedy ids differ from reference", model);
    }
    free(ref);
    free(lg);
    st_model_free(m);
}

static void test_quantized(const char *model, const char *quant) {
    char path[512];
    snprintf(path, sizeof path, "golden/synthetic/%s.%s.gguf", model, quant);
    if (access(t_shared(path), R_OK) != 0) return;
    st_model *m;
    st_status s = st_model_load(t_shared(path), NULL, &m);
    CHECKF(s == ST_OK, "load %s: %s", path, st_last_error());
    if (s != ST_OK) return;
    st_token ids[64];
    int n = read_ids(t_shared("golden/synthetic/prompt.ids"), ids, 64);
    int nv = st_model_get_info(m)->n_vocab;
    snprintf(path, sizeof path, "golden/synthetic/%s.%s.lcpp.logits", model, quant);
    size_t sz = 0;
    float *ref = t_read_file(t_shared(path), &sz);
    float *lg = forward_all(m, ids, n, 2);
    CHECKF(ref && sz == (size_t)n * nv * 4, "%s missing or wrong size", path);
    if (ref && lg && sz == (size_t)n * nv * 4) {
        double e = t_rel_l2(lg, ref, (size_t)n * nv);
        CHECKF(e <= 2e-2, "%s.%s vs llama.cpp: rel L2 %.3g > 2e-2", model, quant, e);
        printf("  %-10s %-6s vs lcpp rel L2 %.2e\n", model, quant, e);
    }
    free(ref);
    free(lg);
    st_model_free(m);
}

static void test_stories(void) {
    st_model *m;
    st_status s = st_model_load(t_shared("models/stories260K.gguf"), NULL, &m);
    CHECKF(s == ST_OK, "load stories260K: %s", st_last_error());
    if (s != ST_OK) return;
    st_token ids[16], ref[80], got[80];
    int n = read_ids(t_shared("golden/stories260K/prompt.ids"), ids, 16);
    int nr = read_ids(t_shared("golden/stories260K/lcpp.greedy"), ref, 80);
    CHECK(n == 5 && nr == 64);
    int ng = greedy(m, ids, n, 64, got);
    CHECKF(ng == 64 && !memcmp(got, ref, 64 * sizeof(st_token)), "stories260K greedy ids differ from llama.cpp");
    size_t sz = 0;
    float *lref = t_read_file(t_shared("golden/stories260K/lcpp.logits"), &sz);
    float *lg = forward_all(m, ids, n, 1);
    if (lref && lg && sz == (size_t)n * 512 * 4) {
        double e = t_rel_l2(lg, lref, (size_t)n * 512);
        CHECKF(e <= 1e-3, "stories260K logits vs llama.cpp: rel L2 %.3g", e);
        printf("  stories260K f32 vs lcpp rel L2 %.2e\n", e);
    } else CHECKF(0, "stories260K logits golden missing");
    free(lref);
    free(lg);
    st_model_free(m);
}

/* Two sequences in one batch, token-by-token decode, truncation and embedding
 * inputs must all reproduce the plain single-sequence prefill. */
static void test_invariants(const char *file) {
    st_model *m;
    st_status s = st_model_load(t_shared(file), NULL, &m);
    CHECKF(s == ST_OK, "load %s: %s", file, st_last_error());
    if (s != ST_OK) return;
    const st_model_info *in = st_model_get_info(m);
    int nv = in->n_vocab, d = in->n_embd;
    st_token a[12] = {1, 5, 77, 300, 12, 9, 401, 33, 2, 100, 250, 7}, bq[7] = {1, 400, 3, 3, 90, 91, 92};
    float *ra = forward_all(m, a, 12, 2), *rb = forward_all(m, bq, 7, 1);
    st_context_params cp = st_context_default_params();
    cp.cache_type = g_cache;
    cp.n_ctx = 32;
    cp.n_seq = 3;
    cp.n_batch = 32;
    cp.n_threads = 2;
    st_context *c;
    CHECK_OK(st_context_init(m, &cp, &c));
    st_batch b;
    CHECK_OK(st_batch_init(&b, 32, d));
    /* interleaved sequences 0 and 2 in one batch */
    for (int i = 0; i < 12; i++) {
        st_batch_add(&b, a[i], NULL, i, 0, 1);
        if (i < 7) st_batch_add(&b, bq[i], NULL, i, 2, 1);
    }
    CHECK_OK(st_decode(c, &b));
    double ea = 0, eb = 0;
    for (int i = 0, k = 0; i < 12; i++) {
        ea = fmax(ea, t_rel_l2(st_get_logits(c, k++), ra + (size_t)i * nv, nv));
        if (i < 7) eb = fmax(eb, t_rel_l2(st_get_logits(c, k++), rb + (size_t)i * nv, nv));
    }
    CHECKF(ea < 1e-5 && eb < 1e-5, "%s: mixed batch differs from separate runs (%.3g, %.3g)", file, ea, eb);
    CHECK(st_kv_seq_len(c, 0) == 12 && st_kv_seq_len(c, 2) == 7 && st_kv_seq_len(c, 1) == 0);

    /* truncate seq 0 to 5 and continue token by token, via embedding inputs */
    CHECK_OK(st_kv_seq_truncate(c, 0, 5));
    CHECK(st_kv_seq_truncate(c, 0, 9) == ST_E_ARG);
    float *e = malloc((size_t)d * sizeof(float));
    double et = 0;
    for (int i = 5; i < 12; i++) {
        st_batch_clear(&b);
        if (i % 2) {
            CHECK_OK(st_model_embed_token(m, a[i], e));
            st_batch_add(&b, 0, e, i, 0, 1);
        } else {
            st_batch_add(&b, a[i], NULL, i, 0, 1);
        }
        CHECK_OK(st_decode(c, &b));
        et = fmax(et, t_rel_l2(st_get_logits(c, 0), ra + (size_t)i * nv, nv));
    }
    CHECKF(et < 1e-5, "%s: truncate + step-by-step (+embedding inputs) differs: %.3g", file, et);
    /* a mixture with one weight of 1 is the token itself */
    float w1 = 1.0f, *e2 = malloc((size_t)d * sizeof(float));
    st_token t1 = 77;
    CHECK_OK(st_model_embed_mixture(m, 1, &t1, &w1, e2));
    CHECK_OK(st_model_embed_token(m, 77, e));
    CHECK(!memcmp(e, e2, (size_t)d * sizeof(float)));

    /* bad batches are refused with a message */
    st_batch_clear(&b);
    st_batch_add(&b, 5, NULL, 3, 1, 1); /* seq 1 is empty: position must be 0 */
    CHECK(st_decode(c, &b) == ST_E_ARG && strstr(st_last_error(), "position 3"));
    st_batch_clear(&b);
    st_batch_add(&b, nv + 5, NULL, 0, 1, 1);
    CHECK(st_decode(c, &b) == ST_E_ARG && strstr(st_last_error(), "token id"));
    st_batch_clear(&b);
    st_batch_add(&b, 5, NULL, 0, 7, 1);
    CHECK(st_decode(c, &b) == ST_E_ARG && strstr(st_last_error(), "sequence 7"));
    free(e);
    free(e2);
    st_batch_free(&b);
    st_context_free(c);
    free(ra);
    free(rb);
    st_model_free(m);
}

/* A Q8_0 KV cache: logits close to the f16 cache's (what llama.cpp's -ctk/-ctv
 * q8_0 trades), the same invariants as f16 (batching, truncation, embedding
 * inputs), and a clear error where the head dim does not split into blocks. */
static void test_cache_q8_0(void) {
    const char *files[] = {"golden/synthetic/syn-qwen3.f32.gguf", "golden/synthetic/syn-qwen2.f32.gguf",
                           "golden/synthetic/syn-llama.q4_k_m.gguf", "golden/synthetic/syn-gpt2.f32.gguf", "golden/synthetic/syn-llama.f32.gguf"};
    st_token ids[40];
    for (int i = 0; i < 40; i++) ids[i] = (st_token)((i * 37 + 11) % 500);
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        st_model *m;
        st_status s = st_model_load(t_shared(files[f]), NULL, &m);
        CHECKF(s == ST_OK, "load %s: %s", files[f], st_last_error());
        if (s != ST_OK) continue;
        const int nv = st_model_get_info(m)->n_vocab;
        g_cache = ST_TYPE_F16;
        float *ref = forward_all(m, ids, 40, 2);
        g_cache = ST_TYPE_Q8_0;
        float *q = forward_all(m, ids, 40, 2);
        CHECK(ref && q);
        if (ref && q) {
            double e = t_rel_l2(q, ref, (size_t)40 * nv);
            int agree = 0;
            for (int i = 0; i < 40; i++) agree += argmax(q + (size_t)i * nv, nv) == argmax(ref + (size_t)i * nv, nv);
            printf("  %-40s Q8_0 cache vs f16 cache: rel L2 %.2e, argmax agrees at %d/40 positions\n", files[f], e, agree);
            /* measured: rel L2 0.003-0.007 (syn-llama q4_k_m, whose V rows quantize worse: 0.022 from
             * position 0 on, where attention is V itself), argmax the same at 38-40 of 40 */
            CHECKF(e > 0 && e < 0.035 && agree >= 36, "%s: Q8_0 cache vs f16: rel L2 %.3g, argmax agree %d/40", files[f], e, agree);
        }
        free(ref);
        free(q);
        st_model_free(m);
    }
    g_cache = ST_TYPE_Q8_0;
    test_invariants("golden/synthetic/syn-qwen3.f32.gguf");
    test_invariants("golden/synthetic/syn-llama.q4_k_m.gguf");
    g_cache = ST_TYPE_F16;
    /* stories260K: head dim 8; an unknown type */
    st_model *m;
    if (st_model_load(t_shared("models/stories260K.gguf"), NULL, &m) == ST_OK) {
        st_context_params cp = st_context_default_params();
        cp.cache_type = ST_TYPE_Q8_0;
        st_context *c = NULL;
        CHECK(st_context_init(m, &cp, &c) == ST_E_ARG && !c && strstr(st_last_error(), "multiple of 32") &&
              strstr(st_last_error(), "is 8"));
        cp.cache_type = ST_TYPE_Q4_K;
        CHECK(st_context_init(m, &cp, &c) == ST_E_ARG && !c && strstr(st_last_error(), "Q4_K"));
        st_model_free(m);
    } else
        CHECKF(0, "load stories260K: %s", st_last_error());
}

/* Load errors name the problem: copy a model without one tensor / with another arch. */
static void test_load_errors(void) {
    st_gguf *g;
    st_status s = st_gguf_open(t_shared("golden/synthetic/syn-llama.f32.gguf"), &g);
    CHECK_OK(s);
    if (s != ST_OK) return;
    const char *tmp1 = "build/tests/tmp-missing.gguf", *tmp2 = "build/tests/tmp-arch.gguf";
    for (int variant = 0; variant < 2; variant++) {
        st_gguf_writer *w;
        CHECK_OK(st_gguf_writer_init(&w));
        for (int64_t i = 0; i < st_gguf_n_kv(g); i++) {
            const st_gguf_kv *kv = st_gguf_kv_at(g, i);
            if (variant == 1 && !strcmp(kv->key, "general.architecture")) st_gguf_writer_set_str(w, kv->key, "mamba");
            else if (strcmp(kv->key, "general.alignment")) st_gguf_writer_set_kv(w, kv);
        }
        for (int64_t i = 0; i < st_gguf_n_tensors(g); i++) {
            const st_gguf_tensor *t = st_gguf_tensor_at(g, i);
            if (variant == 0 && !strcmp(t->name, "blk.1.ffn_up.weight")) continue;
            st_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, t->nbytes);
        }
        CHECK_OK(st_gguf_writer_write(w, variant ? tmp2 : tmp1));
        st_gguf_writer_free(w);
    }
    st_gguf_close(g);
    st_model *m = NULL;
    s = st_model_load(tmp1, NULL, &m);
    CHECKF(s == ST_E_FORMAT && strstr(st_last_error(), "blk.1.ffn_up.weight"), "missing tensor: %s", st_last_error());
    s = st_model_load(tmp2, NULL, &m);
    CHECKF(s == ST_E_UNSUPPORTED && strstr(st_last_error(), "mamba"), "bad arch: %s", st_last_error());
    s = st_model_load("build/tests/does-not-exist.gguf", NULL, &m);
    CHECKF(s == ST_E_IO && strstr(st_last_error(), "does-not-exist"), "missing file: %s", st_last_error());
    CHECK(m == NULL);
    remove(tmp1);
    remove(tmp2);
}

/* synth: every type loads and runs; quantized logits stay near the f32 model's. */
static void test_synth(void) {
    const char *types[] = {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k", "q5_k", "q6_k", "q4_k_m", "q5_k_m"};
    const char *archs[] = {"llama", "qwen2", "qwen3", "gpt2"};
    st_token ids[6] = {1, 17, 300, 4, 99, 256};
    for (int a = 0; a < 4; a++) {
        float *ref = NULL;
        for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
            if (a > 0 && t > 0 && strcmp(types[t], "q8_0") && strcmp(types[t], "q4_k_m")) continue;
            char path[128];
            snprintf(path, sizeof path, "build/tests/tmp-synth-%s-%s.gguf", archs[a], types[t]);
            st_synth_params p = {.arch = archs[a], .like = "tiny", .type = types[t], .seed = 7, .n_threads = 2};
            st_status s = st_synth_write(&p, path);
            CHECKF(s == ST_OK, "synth %s %s: %s", archs[a], types[t], st_last_error());
            st_model *m;
            if (s != ST_OK || st_model_load(path, NULL, &m) != ST_OK) {
                CHECKF(0, "load synth %s: %s", path, st_last_error());
                continue;
            }
            CHECK(!strcmp(st_model_get_info(m)->arch_name, archs[a]));
            float *lg = forward_all(m, ids, 6, 2);
            if (!ref) ref = lg;
            else {
                double e = t_rel_l2(lg, ref, 6 * 512);
                /* measured on this tiny random model: q4 ~0.22, q5 ~0.11, q6_k ~0.05, q8_0 ~0.01 */
                double lim = strstr(types[t], "4") ? 0.3 : strstr(types[t], "5") ? 0.15 : strstr(types[t], "6") ? 0.07 : 0.03;
                CHECKF(e < lim, "synth %s %s vs f32: rel L2 %.3g >= %.2g", archs[a], types[t], e, lim);
                free(lg);
            }
            st_model_free(m);
            remove(path);
        }
        free(ref);
    }
    st_synth_params bad = {.like = "qwen9", .type = "q8_0"};
    CHECK(st_synth_write(&bad, "build/tests/x.gguf") == ST_E_ARG && strstr(st_last_error(), "qwen9"));
    bad.like = "tiny";
    bad.type = "q3_x";
    CHECK(st_synth_write(&bad, "build/tests/x.gguf") == ST_E_ARG && strstr(st_last_error(), "q3_x"));
}

/* Weights repacked into panels at load (st_model_params.repack, the
 * default) give the same bits as the rows in the file: logits of a prompt
 * (the batched kernels) and of greedy decoding token by token (one token),
 * and the same embedding rows (a tied output keeps token_embd's rows). The
 * packed bytes are reported where the CPU's kernels read panels. */
static void test_repack(void) {
    const char *files[] = {"syn-llama.q8_0", "syn-llama.q4_0", "syn-llama.q4_k_m", "syn-llama.q5_k_m", "syn-llama.q6_k",
                           "syn-qwen2.q8_0", "syn-qwen2.q4_k_m", "syn-gpt2.q8_0", "syn-gpt2.q4_k_m"};
    const st_kernels *k = st_kernels_best();
    st_token ids[24];
    for (int i = 0; i < 24; i++) ids[i] = (st_token)((i * 53 + 7) % 480);
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        char path[256];
        snprintf(path, sizeof path, "golden/synthetic/%s.gguf", files[f]);
        st_model *m[2] = {NULL, NULL};
        float *lg[2] = {NULL, NULL}, *e[2] = {NULL, NULL};
        st_token gr[2][8];
        int ng[2] = {0, 0};
        for (int v = 0; v < 2; v++) {
            st_model_params mp = st_model_default_params();
            mp.repack = v == 0;
            CHECK_OK(st_model_load(t_shared(path), &mp, &m[v]));
            if (!m[v]) break;
            lg[v] = forward_all(m[v], ids, 24, 2);
            ng[v] = greedy(m[v], ids, 5, 8, gr[v]);
            const int d = st_model_get_info(m[v])->n_embd;
            e[v] = malloc((size_t)d * sizeof(float));
            CHECK_OK(st_model_embed_token(m[v], 123, e[v]));
        }
        if (m[0] && m[1]) {
            const st_model_info *in = st_model_get_info(m[0]);
            int readable = 0; /* a quantized matrix type the best table reads as panels */
            for (int t = 0; t < ST_TYPE_COUNT; t++)
                if (in->type_counts[t] && k->gemm_packed[t]) readable = 1;
            CHECKF(readable ? in->panel_bytes > 0 : in->panel_bytes == 0, "%s: %llu bytes of panels (%s kernels)", files[f],
                   (unsigned long long)in->panel_bytes, k->isa);
            CHECK(st_model_get_info(m[1])->panel_bytes == 0);
            const size_t nl = (size_t)24 * (size_t)in->n_vocab * sizeof(float);
            CHECKF(lg[0] && lg[1] && !memcmp(lg[0], lg[1], nl), "%s: prompt logits with panels == without", files[f]);
            CHECKF(ng[0] == 8 && ng[1] == 8 && !memcmp(gr[0], gr[1], sizeof gr[0]), "%s: greedy decode with panels == without",
                   files[f]);
            CHECKF(!memcmp(e[0], e[1], (size_t)in->n_embd * sizeof(float)), "%s: embedding rows unchanged by packing", files[f]);
        }
        for (int v = 0; v < 2; v++) {
            free(lg[v]);
            free(e[v]);
            st_model_free(m[v]);
        }
    }
}

int main(void) {
    /* scratch files go to build/tests, which a sanitizer build (build-asan/) does not create */
    mkdir("build", 0755);
    mkdir("build/tests", 0755);
    const char *models[] = {"syn-llama", "syn-qwen2", "syn-qwen3", "syn-gpt2"};
    const char *quants[] = {"f16", "bf16", "q8_0", "q4_0", "q4_k_m", "q5_k_m", "q6_k"};
    for (int i = 0; i < 4; i++) {
        test_reference(models[i], 1);
        for (size_t q = 0; q < sizeof quants / sizeof *quants; q++) test_quantized(models[i], quants[q]);
    }
    test_stories();
    test_invariants("golden/synthetic/syn-qwen3.f32.gguf");
    test_invariants("golden/synthetic/syn-gpt2.f32.gguf");
    test_invariants("golden/synthetic/syn-llama.q4_k_m.gguf");
    test_load_errors();
    test_repack();
    test_cache_q8_0();
    test_synth();
    return t_done("test_model");
}
