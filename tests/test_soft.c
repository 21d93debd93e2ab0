/* Soft thinking: concept-token math, entropy, reduction to greedy, cold stop,
 * budget, marker, noise reproducibility and mixed soft/discrete batches. */
#include "softthink.h"
#include "test.h"

static st_model *g_model;
static int g_nv;
static float g_logits[512]; /* logits after the prompt */
static const st_token g_prompt[5] = {1, 403, 407, 261, 378}; /* "<s> Once upon a time" */
static const st_token g_marker[2] = {400, 401};

static st_context *new_ctx(int n_seq) {
    st_context_params cp = st_context_default_params();
    cp.n_ctx = 128;
    cp.n_seq = n_seq;
    cp.n_batch = 32;
    cp.n_threads = 2;
    st_context *c = NULL;
    CHECK_OK(st_context_init(g_model, &cp, &c));
    return c;
}

/* Run one sequence for n steps; record reported tokens and phases. */
static int run_one(const st_think_params *p, int thinking, int n, st_token *toks, st_step_phase *ph, int *kv_after) {
    st_context *c = new_ctx(1);
    st_runner *r;
    st_thinker *th;
    CHECK_OK(st_runner_init(c, &r));
    CHECK_OK(st_thinker_init(p, g_model, g_marker, 2, thinking, &th));
    CHECK_OK(st_runner_start(r, 0, g_prompt, 5, th));
    st_think_step st[1];
    int stepped[1], got = 0;
    while (got < n) {
        if (st_runner_step(r, st, stepped) != ST_OK) break;
        if (!stepped[0]) break;
        toks[got] = st[0].token;
        if (ph) ph[got] = st[0].phase;
        got++;
        if (kv_after) kv_after[got - 1] = -1;
        if (kv_after && got > 1) kv_after[got - 2] = st_kv_seq_len(c, 0);
    }
    st_thinker_free(th);
    st_runner_free(r);
    st_context_free(c);
    return got;
}

static void greedy_ids(int n, st_token *out) {
    st_think_params p = st_think_default_params();
    p.after.temp = 0;
    CHECK(run_one(&p, 0, n, out, NULL, NULL) == n);
}

static double entropy_of(const float *logits, float temp) {
    double mx = -1e30, z = 0, h = 0;
    for (int i = 0; i < g_nv; i++) mx = fmax(mx, logits[i] / temp);
    for (int i = 0; i < g_nv; i++) z += exp(logits[i] / temp - mx);
    for (int i = 0; i < g_nv; i++) {
        double p = exp(logits[i] / temp - mx) / z;
        if (p > 0) h -= p * log(p);
    }
    return h;
}

static void test_math_and_entropy(void) {
    st_context *c = new_ctx(1);
    st_batch b;
    st_batch_init(&b, 8, 0);
    for (int i = 0; i < 5; i++) st_batch_add(&b, g_prompt[i], NULL, i, 0, 1);
    CHECK_OK(st_decode(c, &b));
    memcpy(g_logits, st_get_logits(c, 4), sizeof g_logits);
    float minps[3] = {0.0f, 0.05f, 0.3f};
    int topks[3] = {1, 5, 10};
    for (int pi = 0; pi < 5; pi++)
        for (int a = 0; a < 3; a++) {
            st_think_params p = st_think_default_params();
            p.soft = 1;
            p.max_topk = topks[a];
            p.think.min_p = minps[a];
            p.think.temp = a == 2 ? 1.3f : 0.6f;
            st_thinker *th;
            CHECK_OK(st_thinker_init(&p, g_model, g_marker, 2, 1, &th));
            st_think_step s;
            const float *lg = st_get_logits(c, pi);
            CHECK_OK(st_thinker_step(th, lg, &s));
            CHECK(s.phase == ST_STEP_SOFT && s.embd);
            CHECKF(s.k >= 1 && s.k <= p.max_topk, "k %d max_topk %d", s.k, p.max_topk);
            double sum = 0;
            for (int i = 0; i < s.k; i++) {
                sum += s.probs[i];
                if (i) CHECKF(s.probs[i] <= s.probs[i - 1], "weights not descending at %d", i);
                CHECKF(s.probs[i] >= p.think.min_p * s.probs[0] * (1 - 1e-5), "min-p violated: %g < %g * %g", s.probs[i],
                       p.think.min_p, s.probs[0]);
                for (int j = 0; j < i; j++) CHECK(s.ids[i] != s.ids[j]);
            }
            CHECKF(fabs(sum - 1) < 1e-5, "weights sum to %.8f", sum);
            CHECK(s.token == s.ids[0]);
            double h = entropy_of(lg, p.think.temp);
            CHECKF(fabs(h - s.entropy) <= 1e-4 * fmax(1, h), "entropy %.6f vs independent %.6f", s.entropy, h);
            /* the concept token is the weighted sum of the embeddings */
            int d = st_model_get_info(g_model)->n_embd;
            float *e = malloc((size_t)d * sizeof(float)), *row = malloc((size_t)d * sizeof(float));
            memset(e, 0, (size_t)d * sizeof(float));
            for (int i = 0; i < s.k; i++) {
                st_model_embed_token(g_model, s.ids[i], row);
                for (int j = 0; j < d; j++) e[j] += s.probs[i] * row[j];
            }
            double err = 0;
            for (int j = 0; j < d; j++) err = fmax(err, fabs(e[j] - s.embd[j]));
            CHECKF(err < 1e-6, "concept token differs from the mixture by %g", err);
            free(e);
            free(row);
            st_thinker_free(th);
        }
    st_batch_free(&b);
    st_context_free(c);
}

static void test_topk1_is_greedy(void) {
    enum { N = 48 };
    st_token g[N], s[N];
    st_step_phase ph[N];
    int kv[N];
    greedy_ids(N, g);
    st_think_params p = st_think_default_params();
    p.soft = 1;
    p.max_topk = 1;
    p.after.temp = 0;
    CHECK(run_one(&p, 1, N, s, ph, kv) == N);
    CHECKF(!memcmp(g, s, sizeof g), "--max-topk 1 soft thinking differs from greedy decoding");
    int all_soft = 1, kv_ok = 1;
    for (int i = 0; i < N; i++) all_soft &= ph[i] == ST_STEP_SOFT;
    for (int i = 0; i + 1 < N; i++) kv_ok &= kv[i] == 5 + i + 1; /* prompt + one position per soft step */
    CHECK(all_soft);
    CHECKF(kv_ok, "KV length does not advance by one per soft step");
}

static void test_cold_stop_and_budget(void) {
    enum { N = 12 };
    st_token t[N];
    st_step_phase ph[N];
    int kv[N];
    st_think_params p = st_think_default_params();
    p.soft = 1;
    p.cold_stop_entropy = 1e9f; /* every step is "low entropy": fires after exactly cold_stop_length */
    p.cold_stop_length = 5;
    p.after.temp = 0;
    CHECK(run_one(&p, 1, N, t, ph, kv) == N);
    for (int i = 0; i < 4; i++) CHECKF(ph[i] == ST_STEP_SOFT, "step %d phase %d", i, ph[i]);
    CHECKF(ph[4] == ST_STEP_INJECTED && t[4] == g_marker[0], "cold stop did not inject at step 5 (phase %d)", ph[4]);
    CHECKF(kv[4] == 5 + 4 + 2, "injected marker should add 2 positions (kv %d)", kv[4]);
    for (int i = 5; i < N; i++) CHECK(ph[i] == ST_STEP_DISCRETE);

    /* with a realistic threshold nothing fires on this model's high-entropy steps */
    p.cold_stop_entropy = 1e-6f;
    CHECK(run_one(&p, 1, N, t, ph, NULL) == N);
    int injected = 0;
    for (int i = 0; i < N; i++) injected += ph[i] == ST_STEP_INJECTED;
    CHECK(injected == 0);

    /* budget */
    st_think_params q = st_think_default_params();
    q.soft = 1;
    q.max_thinking_tokens = 3;
    q.after.temp = 0;
    CHECK(run_one(&q, 1, 6, t, ph, NULL) == 6);
    CHECK(ph[0] == ST_STEP_SOFT && ph[1] == ST_STEP_SOFT && ph[2] == ST_STEP_SOFT && ph[3] == ST_STEP_INJECTED);
    q.soft = 0; /* discrete thinking has the same budget */
    q.think.temp = 0;
    CHECK(run_one(&q, 1, 6, t, ph, NULL) == 6);
    CHECK(ph[0] == ST_STEP_DISCRETE && ph[2] == ST_STEP_DISCRETE && ph[3] == ST_STEP_INJECTED);
}

/* The model producing the marker ends thinking: use the greedy 4th token as a one-token marker. */
static void test_marker_ends_thinking(void) {
    st_token g[8];
    greedy_ids(8, g);
    st_context *c = new_ctx(1);
    st_runner *r;
    st_thinker *th;
    st_think_params p = st_think_default_params();
    p.soft = 1;
    p.max_topk = 1;
    p.after.temp = 0;
    CHECK_OK(st_runner_init(c, &r));
    CHECK_OK(st_thinker_init(&p, g_model, &g[3], 1, 1, &th));
    CHECK_OK(st_runner_start(r, 0, g_prompt, 5, th));
    st_think_step st[1];
    int stepped[1], ended_at = -1;
    for (int i = 0; i < 8 && ended_at < 0; i++) {
        CHECK_OK(st_runner_step(r, st, stepped));
        if (st[0].ended) ended_at = i;
    }
    int first = 0;
    while (g[first] != g[3]) first++; /* the marker may occur earlier in the greedy text */
    CHECKF(ended_at == first && st_thinker_end_reason(th) == ST_THINK_END_MARKER, "thinking ended at %d, expected %d", ended_at,
           first);
    CHECK(st[0].phase == ST_STEP_DISCRETE && !st_thinker_is_thinking(th));
    st_thinker_free(th);
    st_runner_free(r);
    st_context_free(c);
}

static void test_noise_reproducible(void) {
    enum { N = 10 };
    for (int kind = 0; kind < 2; kind++) {
        st_token a[N], b[N], d[N];
        st_think_params p = st_think_default_params();
        p.soft = 1;
        p.think.temp = 1.0f;
        p.think.min_p = 0;
        p.think.top_p = 1.0f; /* keep the tail: a peaked step may leave one candidate otherwise */
        p.think.top_k = 0;
        if (kind == 0) p.dirichlet_alpha = 1.0f;
        else p.gumbel_tau = 0.5f;
        p.seed = 7;
        CHECK(run_one(&p, 1, N, a, NULL, NULL) == N);
        CHECK(run_one(&p, 1, N, b, NULL, NULL) == N);
        p.seed = 8;
        CHECK(run_one(&p, 1, N, d, NULL, NULL) == N);
        CHECKF(!memcmp(a, b, sizeof a), "%s noise is not reproducible under one seed", kind ? "gumbel" : "dirichlet");
        (void)d;
        /* the weights themselves: same seed, same mixture; another seed, another mixture */
        float w[3][10];
        for (int r = 0; r < 3; r++) {
            p.seed = r < 2 ? 7 : 8;
            st_thinker *th;
            CHECK_OK(st_thinker_init(&p, g_model, g_marker, 2, 1, &th));
            st_think_step s;
            CHECK_OK(st_thinker_step(th, g_logits, &s));
            memset(w[r], 0, sizeof w[r]);
            for (int i = 0; i < s.k; i++) w[r][i] = s.probs[i];
            st_thinker_free(th);
        }
        CHECKF(!memcmp(w[0], w[1], sizeof w[0]), "%s weights not reproducible", kind ? "gumbel" : "dirichlet");
        CHECKF(memcmp(w[0], w[2], sizeof w[0]) != 0, "%s noise ignores the seed", kind ? "gumbel" : "dirichlet");
    }
}

/* Three sequences in one batch (soft, discrete sampled, soft + noise) reproduce their solo runs. */
static void test_mixed_batch(void) {
    enum { N = 16 };
    st_think_params ps[3];
    for (int i = 0; i < 3; i++) {
        ps[i] = st_think_default_params();
        ps[i].seed = 100 + i;
        ps[i].think.temp = 1.0f;
    }
    ps[0].soft = 1;
    ps[2].soft = 1;
    ps[2].dirichlet_alpha = 2.0f;
    st_token solo[3][N], both[3][N];
    for (int i = 0; i < 3; i++) CHECK(run_one(&ps[i], 1, N, solo[i], NULL, NULL) == N);
    st_context *c = new_ctx(3);
    st_runner *r;
    st_thinker *th[3];
    CHECK_OK(st_runner_init(c, &r));
    for (int i = 0; i < 3; i++) {
        CHECK_OK(st_thinker_init(&ps[i], g_model, g_marker, 2, 1, &th[i]));
        CHECK_OK(st_runner_start(r, i, g_prompt, 5, th[i]));
    }
    st_think_step st[3];
    int stepped[3], got[3] = {0};
    for (int it = 0; it < 3 * N && (got[0] < N || got[1] < N || got[2] < N); it++) {
        CHECK_OK(st_runner_step(r, st, stepped));
        for (int i = 0; i < 3; i++)
            if (stepped[i] && got[i] < N) {
                both[i][got[i]++] = st[i].token;
                if (got[i] == N) st_runner_stop(r, i);
            }
    }
    for (int i = 0; i < 3; i++) CHECKF(!memcmp(solo[i], both[i], sizeof solo[i]), "sequence %d differs in a mixed batch", i);
    for (int i = 0; i < 3; i++) st_thinker_free(th[i]);
    st_runner_free(r);
    st_context_free(c);
}

static void test_errors(void) {
    st_thinker *th;
    st_think_params p = st_think_default_params();
    CHECK(st_thinker_init(&p, g_model, NULL, 0, 1, &th) == ST_E_ARG && strstr(st_last_error(), "marker"));
    p.max_topk = 0;
    CHECK(st_thinker_init(&p, g_model, g_marker, 2, 1, &th) == ST_E_ARG && strstr(st_last_error(), "max_topk"));
    p = st_think_default_params();
    p.dirichlet_alpha = 1;
    p.gumbel_tau = 1;
    CHECK(st_thinker_init(&p, g_model, g_marker, 2, 1, &th) == ST_E_ARG);
    st_token bad = 100000;
    p = st_think_default_params();
    CHECK(st_thinker_init(&p, g_model, &bad, 1, 1, &th) == ST_E_ARG && strstr(st_last_error(), "100000"));
}

int main(void) {
    st_status s = st_model_load(t_shared("models/stories260K.gguf"), NULL, &g_model);
    CHECKF(s == ST_OK, "load stories260K: %s", st_last_error());
    if (s != ST_OK) return t_done("test_soft");
    g_nv = st_model_get_info(g_model)->n_vocab;
    test_math_and_entropy();
    test_topk1_is_greedy();
    test_cold_stop_and_budget();
    test_marker_ends_thinking();
    test_noise_reproducible();
    test_mixed_batch();
    test_errors();
    st_model_free(g_model);
    return t_done("test_soft");
}
