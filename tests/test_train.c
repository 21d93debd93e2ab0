/* Trainer: GEMM against a naive product, gradients against finite differences
 * at a tiny size, bit-for-bit determinism, resume from a checkpoint, the GGUF
 * the trainer writes loading in the engine with matching logits. */
#include <stdint.h>

#include "softthink.h"
#include "test.h"
#include "train/train.h"
#include "task/arith.h"

static void test_gemm(void) {
    st_pool *pool;
    CHECK_OK(st_pool_init(2, &pool));
    st_gemm_ws ws = {0};
    int M = 13, N = 45, K = 300;
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N), *C = malloc(sizeof(float) * M * N);
    for (int i = 0; i < M * K; i++) A[i] = (float)((i * 37 % 101) - 50) / 50;
    for (int i = 0; i < K * N; i++) B[i] = (float)((i * 53 % 97) - 48) / 48;
    /* A^T stored [K][M] used as A with strides (1, M); B^T stored [N][K] used with (1, K) */
    float *At = malloc(sizeof(float) * M * K), *Bt = malloc(sizeof(float) * K * N);
    for (int i = 0; i < M; i++) for (int k = 0; k < K; k++) At[k * M + i] = A[i * K + k];
    for (int k = 0; k < K; k++) for (int j = 0; j < N; j++) Bt[j * K + k] = B[k * N + j];
    for (int v = 0; v < 2; v++) {
        if (v == 0) CHECK_OK(st_gemm(&ws, pool, M, N, K, A, K, 1, B, N, 1, C, N, 0));
        else CHECK_OK(st_gemm(&ws, pool, M, N, K, At, 1, M, Bt, 1, K, C, N, 0));
        double err = 0;
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double r = 0;
                for (int k = 0; k < K; k++) r += (double)A[i * K + k] * B[k * N + j];
                err = fmax(err, fabs(r - C[i * N + j]));
            }
        CHECKF(err < 1e-3, "gemm variant %d max err %g", v, err);
    }
    free(A); free(B); free(C); free(At); free(Bt);
    st_gemm_ws_free(&ws);
    st_pool_free(pool);
}

static void tiny_batch(st_tbatch *b, int V) {
    int s1[] = {1, 5, 9, 3, 7, 2, 8}, s2[] = {1, 4, 4, 6, 10, 11};
    for (int i = 0; i < 7; i++) s1[i] %= V;
    for (int i = 0; i < 6; i++) s2[i] %= V;
    st_tbatch_add(b, s1, 7, 2);
    st_tbatch_add(b, s2, 6, 1);
}

static void test_gradcheck(void) {
    st_tcfg cfg = {13, 8, 8, 2, 2, 12, 1e-5f};
    st_tmodel m;
    CHECK_OK(st_tmodel_init(&m, &cfg, 7));
    /* non-trivial norms and biases */
    for (size_t i = 0; i < m.n_params; i++)
        if (!m.decay[i]) m.P[i] += 0.1f * (float)((int)(((i * 2654435761u) >> 7) % 200) - 100) / 100;
    for (size_t i = 0; i < m.n_params; i++)
        if (m.decay[i]) m.P[i] *= 10; /* std 0.2: gradients well above float noise */
    st_tws *w;
    CHECK_OK(st_tws_init(&w, &cfg, 1));
    st_tbatch b = {0};
    tiny_batch(&b, cfg.n_vocab);
    float loss, acc;
    CHECK_OK(st_tmodel_step(&m, w, &b, 1, &loss, &acc));
    float *g = malloc(sizeof(float) * m.n_params);
    memcpy(g, m.G, sizeof(float) * m.n_params);
    double max_rel = 0, num = 0, den = 0;
    int checked = 0;
    for (size_t i = 0; i < m.n_params; i += 3) {
        float p0 = m.P[i], h = 1e-2f * fmaxf(1.0f, fabsf(p0));
        float lp, lm;
        m.P[i] = p0 + h;
        st_tmodel_step(&m, w, &b, 0, &lp, &acc);
        m.P[i] = p0 - h;
        st_tmodel_step(&m, w, &b, 0, &lm, &acc);
        m.P[i] = p0;
        double fd = ((double)lp - lm) / (2.0 * h);
        num += (fd - g[i]) * (fd - g[i]);
        den += fd * fd;
        if (fabs(fd) > 1e-3) max_rel = fmax(max_rel, fabs(fd - g[i]) / fabs(fd));
        checked++;
    }
    double rel = sqrt(num / (den > 0 ? den : 1));
    if (getenv("ST_TEST_VERBOSE")) printf("gradcheck: relative L2 %g, max rel %g over %d params\n", rel, max_rel, checked);
    CHECKF(rel < 2e-2, "gradient vs finite differences: relative L2 %g over %d params (max rel %g)", rel, checked, max_rel);
    CHECK(checked > 100);
    free(g);
    st_tbatch_free(&b);
    st_tws_free(w);
    st_tmodel_free(&m);
}

typedef struct rec { float loss[256]; int n; } rec;
static void on_progress(const st_train_progress *p, void *u) {
    rec *r = u;
    if (!p->is_eval && r->n < 256) r->loss[r->n++] = p->loss;
}

static st_train_params tiny_params(rec *r) {
    st_train_params p = st_train_default_params();
    p.n_embd = 16; p.n_layer = 2; p.n_head = 2; p.n_ff = 32; p.n_ctx = 192;
    p.batch = 4; p.steps = 100; p.warmup = 10; p.lr = 3e-3f; p.n_threads = 2; p.log_every = 1; p.seed = 5;
    p.progress = on_progress;
    p.user = r;
    return p;
}

static void test_determinism_resume(void) {
    static rec a, b, c, d;
    st_train_params p = tiny_params(&a);
    CHECK_OK(st_train_run(&p, NULL));
    p = tiny_params(&b);
    CHECK_OK(st_train_run(&p, NULL));
    CHECK(a.n == 100 && b.n == 100);
    float md = 0;
    for (int i = 0; i < a.n && i < b.n; i++) md = fmaxf(md, fabsf(a.loss[i] - b.loss[i]));
    CHECKF(md <= 1e-4f, "same seed and threads: loss curves differ by %g", md);
    /* the thread count changes nothing either: every sum has a fixed order */
    static rec a1;
    p = tiny_params(&a1);
    p.n_threads = 1;
    p.stop_after = 20;
    CHECK_OK(st_train_run(&p, NULL));
    float mt = 0;
    for (int i = 0; i < 20; i++) mt = fmaxf(mt, fabsf(a.loss[i] - a1.loss[i]));
    CHECKF(a1.n == 20 && mt == 0, "1 thread vs 2 threads: losses differ by %g", mt);
    CHECKF(a.loss[99] < a.loss[0] - 0.5f, "loss does not fall: %g -> %g", a.loss[0], a.loss[99]);
    /* interrupted at step 6, resumed: the same next losses */
    const char *ck = "/tmp/st_test_train.ckpt";
    remove(ck);
    p = tiny_params(&c);
    p.steps = 10; p.ckpt_path = ck; p.stop_after = 6;
    CHECK_OK(st_train_run(&p, NULL));
    CHECK(c.n == 6);
    p = tiny_params(&d);
    p.steps = 10; p.ckpt_path = ck; p.resume = 1;
    CHECK_OK(st_train_run(&p, NULL));
    CHECK(d.n == 4);
    static rec e;
    p = tiny_params(&e);
    p.steps = 10;
    CHECK_OK(st_train_run(&p, NULL));
    float mr = 0;
    for (int i = 0; i < 4 && d.n == 4; i++) mr = fmaxf(mr, fabsf(d.loss[i] - e.loss[6 + i]));
    CHECKF(d.n == 4 && mr == 0, "resumed losses differ from the uninterrupted run by %g", mr);
    remove(ck);
}

/* The written GGUF loads in the engine and gives the trainer's logits. */
static void test_gguf_export(void) {
    st_train_vocab v;
    CHECK_OK(st_train_vocab_build(&v));
    st_tcfg cfg = {v.n, 32, 32, 2, 2, 64, 1e-5f};
    st_tmodel m;
    CHECK_OK(st_tmodel_init(&m, &cfg, 3));
    for (size_t i = 0; i < m.n_params; i++)
        if (!m.decay[i]) m.P[i] += 0.05f * (float)((int)(((i * 2654435761u) >> 9) % 200) - 100) / 100;
    const char *path = "/tmp/st_test_train.gguf";
    CHECK_OK(st_tmodel_write_gguf(&m, &v, "t", 0, path));
    st_tws *w;
    CHECK_OK(st_tws_init(&w, &cfg, 1));
    st_tbatch b = {0};
    int toks[6] = {1, 300, 301, 3, 310, 4};
    st_tbatch_add(&b, toks, 6, 6);
    float loss, acc;
    CHECK_OK(st_tmodel_step(&m, w, &b, 0, &loss, &acc));
    st_model *em = NULL;
    st_context *ec = NULL;
    CHECK_OK(st_model_load(path, NULL, &em));
    if (em) {
        st_context_params cp = st_context_default_params();
        cp.n_threads = 1;
        CHECK_OK(st_context_init(em, &cp, &ec));
        st_batch eb;
        st_batch_init(&eb, 8, cfg.d);
        for (int i = 0; i < 6; i++) st_batch_add(&eb, toks[i], NULL, i, 0, 1);
        CHECK_OK(st_decode(ec, &eb));
        const float *ref = st_tws_logits(w);
        double worst = 0;
        for (int i = 0; i < 6; i++) worst = fmax(worst, t_rel_l2(st_get_logits(ec, i), ref + (size_t)i * v.n, (size_t)v.n));
        CHECKF(worst < 1e-2, "engine logits vs trainer logits: relative L2 %g", worst);
        st_batch_free(&eb);
        st_context_free(ec);
        st_model_free(em);
    }
    remove(path);
    st_tbatch_free(&b);
    st_tws_free(w);
    st_tmodel_free(&m);
    st_train_vocab_free(&v);
}

int main(void) {
    test_gemm();
    test_gradcheck();
    test_gguf_export();
    test_determinism_resume();
    printf("test_train: %d passed, %d failed\n", t_pass, t_fail);
    return t_fail != 0;
}
