/* The thinking phase of one sequence: soft thinking (concept tokens), discrete
 * thinking, cold stop, thinking budget, and discrete sampling afterwards. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/status.h"
#include "softthink.h"

#define TRACE_K 10 /* candidates reported for a discrete step */

struct st_thinker {
    st_think_params p;
    const st_model *model;
    int n_embd;
    st_sampler *think, *after;
    st_token *marker;         /* [n_marker] think-end tokens */
    int n_marker;
    int match;                /* marker prefix matched by the latest reported tokens */
    int thinking;
    int low_run;              /* consecutive soft steps with entropy below the threshold */
    int n_soft, n_think_disc, n_after, n_inject;
    st_think_end ended;
    st_token *ids;            /* [n_vocab] working candidates */
    float *w;                 /* [n_vocab] their weights */
    float *embd;              /* [n_embd] concept token */
};

st_think_params st_think_default_params(void) {
    st_think_params p = {0};
    p.soft = 0;
    p.max_topk = 10;
    p.think = (st_sampler_params){.temp = 0.6f, .top_k = 30, .top_p = 0.95f, .min_p = 0.001f};
    p.after = (st_sampler_params){.temp = 0.6f, .top_k = 30, .top_p = 0.95f, .min_p = 0.0f};
    p.cold_stop_entropy = 0.01f; /* the published settings */
    p.cold_stop_length = 256;
    return p;
}

const char *st_think_end_name(st_think_end e) {
    switch (e) {
    case ST_THINK_NOT_ENDED: return "not ended";
    case ST_THINK_END_MARKER: return "marker";
    case ST_THINK_END_COLD_STOP: return "cold_stop";
    case ST_THINK_END_BUDGET: return "budget";
    case ST_THINK_NEVER: return "no_thinking";
    }
    return "?";
}

void st_thinker_free(st_thinker *t) {
    if (!t) return;
    st_sampler_free(t->think);
    st_sampler_free(t->after);
    free(t->marker); free(t->ids); free(t->w); free(t->embd);
    free(t);
}

st_status st_thinker_init(const st_think_params *params, const st_model *model, const st_token *end_marker,
                          int n_end_marker, int thinking, st_thinker **out) {
    *out = NULL;
    st_think_params p = params ? *params : st_think_default_params();
    const st_model_info *in = st_model_get_info(model);
    if (p.max_topk < 1 || p.max_topk > in->n_vocab)
        return st_errorf(ST_E_ARG, "max_topk %d out of range 1..%d", p.max_topk, in->n_vocab);
    if (p.cold_stop_entropy < 0 || (p.cold_stop_entropy > 0 && p.cold_stop_length < 1))
        return st_errorf(ST_E_ARG, "cold stop: entropy %g / length %d invalid", p.cold_stop_entropy, p.cold_stop_length);
    if (p.max_thinking_tokens < 0) return st_errorf(ST_E_ARG, "max_thinking_tokens %d is negative", p.max_thinking_tokens);
    if (p.dirichlet_alpha < 0 || p.gumbel_tau < 0 || !isfinite(p.dirichlet_alpha) || !isfinite(p.gumbel_tau))
        return st_errorf(ST_E_ARG, "noise: dirichlet_alpha %g / gumbel_tau %g must be >= 0", p.dirichlet_alpha, p.gumbel_tau);
    if (p.dirichlet_alpha > 0 && p.gumbel_tau > 0)
        return st_errorf(ST_E_ARG, "choose one noise: dirichlet_alpha or gumbel_tau, not both");
    if (thinking && n_end_marker < 1)
        return st_errorf(ST_E_ARG, "a thinking sequence needs the think-end marker's token ids");
    for (int i = 0; i < n_end_marker; i++)
        if (end_marker[i] < 0 || end_marker[i] >= in->n_vocab)
            return st_errorf(ST_E_ARG, "think-end marker token %d out of range [0, %d)", end_marker[i], in->n_vocab);
    st_thinker *t = calloc(1, sizeof *t);
    if (!t) return st_errorf(ST_E_NOMEM, "out of memory");
    t->p = p;
    t->model = model;
    t->n_embd = in->n_embd;
    t->thinking = thinking;
    t->ended = thinking ? ST_THINK_NOT_ENDED : ST_THINK_NEVER;
    /* distinct streams for the two phases, both derived from the one seed */
    st_sampler_params tp = p.think, ap = p.after;
    tp.seed = p.seed;
    ap.seed = p.seed ^ 0x5bd1e995a5a5a5a5ull;
    st_status s = st_sampler_init(&tp, in->n_vocab, &t->think);
    if (s == ST_OK) s = st_sampler_init(&ap, in->n_vocab, &t->after);
    if (s != ST_OK) { st_thinker_free(t); return st_error_prefix(s, "thinking sampler"); }
    t->marker = malloc((size_t)(n_end_marker > 0 ? n_end_marker : 1) * sizeof(st_token));
    t->ids = malloc((size_t)in->n_vocab * sizeof(st_token));
    t->w = malloc((size_t)in->n_vocab * sizeof(float));
    t->embd = malloc((size_t)in->n_embd * sizeof(float));
    if (!t->marker || !t->ids || !t->w || !t->embd) { st_thinker_free(t); return st_errorf(ST_E_NOMEM, "out of memory"); }
    if (n_end_marker > 0) memcpy(t->marker, end_marker, (size_t)n_end_marker * sizeof(st_token));
    t->n_marker = n_end_marker;
    *out = t;
    return ST_OK;
}

int st_thinker_is_thinking(const st_thinker *t) { return t->thinking; }
st_think_end st_thinker_end_reason(const st_thinker *t) { return t->ended; }
void st_thinker_counts(const st_thinker *t, int *soft, int *think_discrete, int *after, int *injected) {
    if (soft) *soft = t->n_soft;
    if (think_discrete) *think_discrete = t->n_think_disc;
    if (after) *after = t->n_after;
    if (injected) *injected = t->n_inject;
}

/* ------------------------------------------------------------ noise */

static double normal(st_sampler *r) {
    double u1 = st_sampler_uniform(r), u2 = st_sampler_uniform(r);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
}

/* Gamma(a, 1) by Marsaglia-Tsang; shapes below 1 via Gamma(a+1) * U^(1/a). */
static double gamma_sample(st_sampler *r, double a) {
    double boost = 1.0;
    if (a < 1.0) {
        boost = pow(1.0 - st_sampler_uniform(r), 1.0 / a);
        a += 1.0;
    }
    double d = a - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = normal(r), v = 1.0 + c * x;
        if (v <= 0) continue;
        v = v * v * v;
        double u = st_sampler_uniform(r);
        if (log(1.0 - u) < 0.5 * x * x + d - d * v + d * log(v)) return boost * d * v;
    }
}

/* Sort candidates by descending weight (insertion sort: lists are short, and
 * ties keep their order, so results do not depend on a sort's stability). */
static void sort_desc(st_token *ids, float *w, int n) {
    for (int i = 1; i < n; i++) {
        st_token id = ids[i];
        float x = w[i];
        int j = i - 1;
        while (j >= 0 && w[j] < x) { ids[j + 1] = ids[j]; w[j + 1] = w[j]; j--; }
        ids[j + 1] = id;
        w[j + 1] = x;
    }
}

static void normalise(float *w, int n) {
    double z = 0;
    for (int i = 0; i < n; i++) z += w[i];
    if (z > 0)
        for (int i = 0; i < n; i++) w[i] = (float)(w[i] / z);
}

/* Dirichlet(alpha * p) or Gumbel-Softmax((log p + g) / tau) on the candidates, re-sorted. */
static void add_noise(st_thinker *t, int n) {
    st_sampler *r = t->think;
    if (t->p.dirichlet_alpha > 0) {
        double z = 0;
        float *g = t->w;
        float *orig = malloc((size_t)n * sizeof(float));
        if (!orig) return; /* noise is optional: on allocation failure keep the clean weights */
        memcpy(orig, g, (size_t)n * sizeof(float));
        for (int i = 0; i < n; i++) z += g[i] = (float)gamma_sample(r, t->p.dirichlet_alpha * orig[i]);
        if (!(z > 0)) memcpy(g, orig, (size_t)n * sizeof(float)); /* every draw underflowed */
        free(orig);
    } else if (t->p.gumbel_tau > 0) {
        double mx = -INFINITY;
        for (int i = 0; i < n; i++) {
            double u = st_sampler_uniform(r);
            double gum = -log(-log(u + 1e-20) + 1e-20);
            t->w[i] = (float)((log(t->w[i] > 0 ? t->w[i] : 1e-30) + gum) / t->p.gumbel_tau);
            if (t->w[i] > mx) mx = t->w[i];
        }
        for (int i = 0; i < n; i++) t->w[i] = expf((float)(t->w[i] - mx));
    } else {
        return;
    }
    normalise(t->w, n);
    sort_desc(t->ids, t->w, n);
}

/* ------------------------------------------------------------ steps */

/* Follow the marker through the reported tokens; 1 when it is complete. */
static int marker_done(st_thinker *t, st_token tok) {
    if (t->n_marker == 0) return 0;
    if (tok == t->marker[t->match]) t->match++;
    else t->match = tok == t->marker[0] ? 1 : 0;
    if (t->match == t->n_marker) { t->match = 0; return 1; }
    return 0;
}

static void inject(st_thinker *t, st_think_step *out, st_think_end why) {
    out->phase = ST_STEP_INJECTED;
    out->token = t->marker[0];
    out->n_inject = t->n_marker;
    out->inject = t->marker;
    t->n_inject += t->n_marker;
    t->thinking = 0;
    t->ended = why;
}

static st_status draw(st_sampler *s, const st_candidates *c, st_token *tok) {
    double r = st_sampler_uniform(s), cum = 0;
    for (int i = 0; i < c->n; i++) {
        cum += c->probs[i];
        if (r < cum) { *tok = c->ids[i]; return ST_OK; }
    }
    *tok = c->ids[c->n - 1];
    return ST_OK;
}

st_status st_thinker_step(st_thinker *t, const float *logits, st_think_step *out) {
    memset(out, 0, sizeof *out);
    const st_candidates *c;
    if (!t->thinking) {
        ST_TRY(st_sampler_filter(t->after, logits, 0, &c));
        ST_TRY(draw(t->after, c, &out->token));
        out->phase = ST_STEP_DISCRETE;
        out->entropy = c->entropy;
        out->k = c->n < TRACE_K ? c->n : TRACE_K;
        out->ids = c->ids;
        out->probs = c->probs;
        t->n_after++;
        return ST_OK;
    }
    out->thinking = 1;
    if (t->p.max_thinking_tokens > 0 && t->n_soft + t->n_think_disc >= t->p.max_thinking_tokens) {
        inject(t, out, ST_THINK_END_BUDGET);
        out->thinking = 0;
        out->ended = t->ended;
        return ST_OK;
    }
    int noisy = t->p.soft && (t->p.dirichlet_alpha > 0 || t->p.gumbel_tau > 0);
    ST_TRY(st_sampler_filter(t->think, logits, t->p.soft && !noisy ? t->p.max_topk : 0, &c));
    out->entropy = c->entropy;
    if (!t->p.soft) {
        ST_TRY(draw(t->think, c, &out->token));
        out->phase = ST_STEP_DISCRETE;
        out->k = c->n < TRACE_K ? c->n : TRACE_K;
        out->ids = c->ids;
        out->probs = c->probs;
        t->n_think_disc++;
    } else {
        int n = c->n;
        memcpy(t->ids, c->ids, (size_t)n * sizeof(st_token));
        memcpy(t->w, c->probs, (size_t)n * sizeof(float));
        add_noise(t, n);
        if (n > t->p.max_topk) n = t->p.max_topk;
        normalise(t->w, n);
        out->k = n;
        out->ids = t->ids;
        out->probs = t->w;
        out->token = t->ids[0];
        if (t->p.cold_stop_entropy > 0) {
            t->low_run = c->entropy < t->p.cold_stop_entropy ? t->low_run + 1 : 0;
            if (t->low_run >= t->p.cold_stop_length) {
                inject(t, out, ST_THINK_END_COLD_STOP);
                out->thinking = 0;
                out->ended = t->ended;
                return ST_OK;
            }
        }
        if (t->match + 1 == t->n_marker && out->token == t->marker[t->match]) {
            out->phase = ST_STEP_DISCRETE; /* the marker itself is committed as a plain token */
            t->n_think_disc++;
        } else {
            ST_TRY(st_model_embed_mixture(t->model, n, t->ids, t->w, t->embd));
            out->phase = ST_STEP_SOFT;
            out->embd = t->embd;
            t->n_soft++;
        }
    }
    if (marker_done(t, out->token)) {
        t->thinking = 0;
        t->ended = ST_THINK_END_MARKER;
        out->thinking = 0;
        out->ended = ST_THINK_END_MARKER;
    }
    return ST_OK;
}
