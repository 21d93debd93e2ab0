/* The runner: batches every running sequence's next input into one forward pass. */
#include <stdlib.h>
#include <string.h>

#include "../core/status.h"
#include "softthink.h"

typedef struct run_seq {
    int running;
    st_thinker *th;
    const st_token *prompt;   /* caller's prompt, consumed in chunks */
    st_token *prompt_copy;
    int n_prompt, prompt_done;
    /* the input decided by the last step */
    int pending;              /* 0: none, 1: token, 2: embedding, 3: injected tokens */
    st_token tok;
    float *embd;              /* [n_embd] */
    st_token *inject;         /* [cap_inject] */
    int n_inject, cap_inject;
    int logit_index;          /* batch index of this sequence's last input, -1 if none */
} run_seq;

struct st_runner {
    st_context *ctx;
    int n_seq, n_embd, n_batch;
    run_seq *s;               /* [n_seq] */
    st_batch batch;
};

st_status st_runner_init(st_context *ctx, st_runner **out) {
    *out = NULL;
    st_runner *r = calloc(1, sizeof *r);
    if (!r) return st_errorf(ST_E_NOMEM, "out of memory");
    r->ctx = ctx;
    r->n_seq = st_context_n_seq(ctx);
    r->n_embd = st_model_get_info(st_context_model(ctx))->n_embd;
    r->n_batch = st_context_n_batch(ctx);
    r->s = calloc((size_t)r->n_seq, sizeof *r->s);
    st_status st = r->s ? st_batch_init(&r->batch, r->n_batch, r->n_embd) : st_errorf(ST_E_NOMEM, "out of memory");
    for (int i = 0; st == ST_OK && i < r->n_seq; i++)
        if (!(r->s[i].embd = malloc((size_t)r->n_embd * sizeof(float)))) st = st_errorf(ST_E_NOMEM, "out of memory");
    if (st != ST_OK) { st_runner_free(r); return st; }
    *out = r;
    return ST_OK;
}

void st_runner_free(st_runner *r) {
    if (!r) return;
    for (int i = 0; r->s && i < r->n_seq; i++) {
        free(r->s[i].embd);
        free(r->s[i].inject);
        free(r->s[i].prompt_copy);
    }
    free(r->s);
    st_batch_free(&r->batch);
    free(r);
}

st_status st_runner_start(st_runner *r, int seq, const st_token *prompt, int n_prompt, st_thinker *th) {
    if (seq < 0 || seq >= r->n_seq) return st_errorf(ST_E_ARG, "runner: sequence %d out of range [0, %d)", seq, r->n_seq);
    if (n_prompt < 1) return st_errorf(ST_E_ARG, "runner: sequence %d has an empty prompt", seq);
    if (!th) return st_errorf(ST_E_ARG, "runner: sequence %d has no thinker", seq);
    if (n_prompt >= st_context_n_ctx(r->ctx))
        return st_errorf(ST_E_FULL, "runner: prompt of %d tokens does not fit the context of %d", n_prompt,
                         st_context_n_ctx(r->ctx));
    run_seq *q = &r->s[seq];
    st_token *copy = malloc((size_t)n_prompt * sizeof *copy);
    if (!copy) return st_errorf(ST_E_NOMEM, "out of memory");
    memcpy(copy, prompt, (size_t)n_prompt * sizeof *copy);
    free(q->prompt_copy);
    q->prompt_copy = copy;
    q->prompt = copy;
    q->n_prompt = n_prompt;
    q->prompt_done = 0;
    q->th = th;
    q->pending = 0;
    q->running = 1;
    return st_kv_seq_truncate(r->ctx, seq, 0);
}

void st_runner_stop(st_runner *r, int seq) {
    if (seq >= 0 && seq < r->n_seq) { r->s[seq].running = 0; r->s[seq].pending = 0; }
}

int st_runner_is_running(const st_runner *r, int seq) {
    return seq >= 0 && seq < r->n_seq && r->s[seq].running;
}

int st_runner_active(const st_runner *r) {
    int n = 0;
    for (int i = 0; i < r->n_seq; i++) n += r->s[i].running;
    return n;
}

/* Remember the decision of a step as the sequence's next input. */
static st_status keep_pending(st_runner *r, run_seq *q, const st_think_step *st) {
    switch (st->phase) {
    case ST_STEP_SOFT:
        q->pending = 2;
        memcpy(q->embd, st->embd, (size_t)r->n_embd * sizeof(float));
        return ST_OK;
    case ST_STEP_DISCRETE:
        q->pending = 1;
        q->tok = st->token;
        return ST_OK;
    case ST_STEP_INJECTED:
        if (st->n_inject > q->cap_inject) {
            st_token *p = realloc(q->inject, (size_t)st->n_inject * sizeof *p);
            if (!p) return st_errorf(ST_E_NOMEM, "out of memory");
            q->inject = p;
            q->cap_inject = st->n_inject;
        }
        memcpy(q->inject, st->inject, (size_t)st->n_inject * sizeof *q->inject);
        q->n_inject = st->n_inject;
        q->pending = 3;
        return ST_OK;
    }
    return st_errorf(ST_E_INTERNAL, "runner: unknown step phase %d", st->phase);
}

st_status st_runner_step(st_runner *r, st_think_step *steps, int *stepped) {
    st_batch *b = &r->batch;
    st_batch_clear(b);
    memset(stepped, 0, (size_t)r->n_seq * sizeof *stepped);
    int n_ctx = st_context_n_ctx(r->ctx), any_full = -1;
    for (int i = 0; i < r->n_seq; i++) {
        run_seq *q = &r->s[i];
        q->logit_index = -1;
        if (!q->running) continue;
        int pos = st_kv_seq_len(r->ctx, i);
        int room = r->n_batch - b->n_tokens;
        int need = q->prompt_done < q->n_prompt ? 1 : q->pending == 3 ? q->n_inject : 1;
        if (pos + need > n_ctx) { q->running = 0; any_full = i; continue; }
        if (room < need || room == 0) continue; /* waits for the next pass */
        if (q->prompt_done < q->n_prompt) {
            int take = q->n_prompt - q->prompt_done;
            if (take > room) take = room;
            for (int j = 0; j < take; j++) {
                int last = q->prompt_done + j == q->n_prompt - 1;
                ST_TRY(st_batch_add(b, q->prompt[q->prompt_done + j], NULL, pos + j, i, last));
            }
            q->prompt_done += take;
            if (q->prompt_done == q->n_prompt) q->logit_index = b->n_tokens - 1;
        } else if (q->pending == 1) {
            ST_TRY(st_batch_add(b, q->tok, NULL, pos, i, 1));
            q->logit_index = b->n_tokens - 1;
        } else if (q->pending == 2) {
            ST_TRY(st_batch_add(b, 0, q->embd, pos, i, 1));
            q->logit_index = b->n_tokens - 1;
        } else if (q->pending == 3) {
            for (int j = 0; j < q->n_inject; j++)
                ST_TRY(st_batch_add(b, q->inject[j], NULL, pos + j, i, j == q->n_inject - 1));
            q->logit_index = b->n_tokens - 1;
        }
        q->pending = 0;
    }
    if (b->n_tokens == 0) {
        if (any_full >= 0)
            return st_errorf(ST_E_FULL, "runner: sequence %d reached the end of the context (%d)", any_full, n_ctx);
        return ST_OK;
    }
    ST_TRY(st_decode(r->ctx, b));
    for (int i = 0; i < r->n_seq; i++) {
        run_seq *q = &r->s[i];
        if (q->logit_index < 0) continue;
        ST_TRY(st_thinker_step(q->th, st_get_logits(r->ctx, q->logit_index), &steps[i]));
        ST_TRY(keep_pending(r, q, &steps[i]));
        stepped[i] = 1;
    }
    return ST_OK;
}
