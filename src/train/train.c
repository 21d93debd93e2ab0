/* st_train_run: the training loop. Data are arithmetic problems generated on
 * the fly (problem i of the train split for example i of the run, so a
 * resumed run sees exactly the data it would have seen), tokenized with the
 * model's own tokenizer; AdamW with warm-up + cosine decay and global-norm
 * clipping; checkpoints hold parameters, Adam moments and the step. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "task/arith.h"
#include "train/train.h"

st_train_params st_train_default_params(void) {
    st_train_params p;
    memset(&p, 0, sizeof p);
    p.n_embd = 256; p.n_layer = 4; p.n_head = 8; p.n_ff = 1024; p.n_ctx = 256;
    p.batch = 32; p.steps = 5000;
    p.lr = 2e-3f; p.min_lr = 1e-4f; p.warmup = 200;
    p.weight_decay = 0.1f; p.beta1 = 0.9f; p.beta2 = 0.98f; p.clip = 1.0f;
    p.no_think_frac = 0.15f;
    p.task = st_arith_default_params();
    p.seed = 1;
    p.log_every = 10;
    p.name = "softthink-arith";
    return p;
}

static uint64_t mix64(uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Append one problem to the batch: BOS + text + EOS, prompt = up to the opened/closed think block. */
static st_status add_example(st_tbatch *b, const st_tokenizer *tok, const st_train_vocab *v, const st_arith_problem *pr,
                             int think, int n_ctx) {
    char text[2048];
    int n = st_arith_format(pr, think, text, sizeof text);
    if (n < 0) return st_errorf(ST_E_INTERNAL, "train: problem text too long");
    const char *mark = think ? "<think>\n" : "</think>\n";
    const char *pe = strstr(text, mark);
    if (!pe) return st_errorf(ST_E_INTERNAL, "train: no think marker in the training text");
    size_t plen = (size_t)(pe - text) + strlen(mark);
    int ids[1024], pids[1024], ni, np;
    ids[0] = v->bos;
    ST_TRY(st_tokenize(tok, text, (size_t)n, 0, 1, ids + 1, 1000, &ni));
    ST_TRY(st_tokenize(tok, text, plen, 0, 1, pids, 1000, &np));
    if (np > ni || memcmp(ids + 1, pids, sizeof(int) * (size_t)np))
        return st_errorf(ST_E_INTERNAL, "train: prompt tokens are not a prefix of the text's tokens");
    ids[ni + 1] = v->eos;
    if (ni + 2 > n_ctx) return st_errorf(ST_E_FULL, "train: example of %d tokens exceeds the context %d", ni + 2, n_ctx);
    return st_tbatch_add(b, ids, ni + 2, np + 1);
}

static int is_think(uint64_t seed, uint64_t idx, float no_think_frac) {
    double u = (mix64(seed * 0x2545F4914F6CDD1Dull ^ mix64(idx ^ 0xabcdef)) >> 11) / 9007199254740992.0;
    return u >= no_think_frac;
}

typedef struct adam_job {
    st_tmodel *m;
    float *mom, *vel;
    float lr, b1, b2, wd, eps, c1, c2, gscale;
    double *part;       /* per block sums of squares */
    int64_t n_blocks;
    int phase;          /* 0: norm, 1: update */
} adam_job;

#define BLK 16384

static void adam_task(void *arg, int ith, int nth) {
    adam_job *j = arg;
    int64_t lo, hi;
    st_split(j->n_blocks, ith, nth, &lo, &hi);
    size_t n = j->m->n_params;
    for (int64_t bk = lo; bk < hi; bk++) {
        size_t a = (size_t)bk * BLK, e = a + BLK < n ? a + BLK : n;
        const float *g = j->m->G;
        if (j->phase == 0) {
            double s = 0;
            for (size_t i = a; i < e; i++) s += (double)g[i] * g[i];
            j->part[bk] = s;
        } else {
            float *p = j->m->P;
            const uint8_t *dec = j->m->decay;
            for (size_t i = a; i < e; i++) {
                float gi = g[i] * j->gscale;
                j->mom[i] = j->b1 * j->mom[i] + (1 - j->b1) * gi;
                j->vel[i] = j->b2 * j->vel[i] + (1 - j->b2) * gi * gi;
                float upd = (j->mom[i] / j->c1) / (sqrtf(j->vel[i] / j->c2) + j->eps);
                p[i] -= j->lr * (upd + (dec[i] ? j->wd * p[i] : 0));
            }
        }
    }
}

static const char CK_MAGIC[8] = {'S', 'T', 'T', 'R', 'C', 'K', '0', '1'};

static st_status save_ckpt(const char *path, const st_tmodel *m, const float *mom, const float *vel, int64_t step) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return st_errorf(ST_E_IO, "%s: cannot write checkpoint", tmp);
    uint64_t np = m->n_params;
    int ok = fwrite(CK_MAGIC, 8, 1, f) == 1 && fwrite(&m->cfg, sizeof m->cfg, 1, f) == 1 && fwrite(&np, 8, 1, f) == 1 &&
             fwrite(&step, 8, 1, f) == 1 && fwrite(m->P, 4, np, f) == np && fwrite(mom, 4, np, f) == np &&
             fwrite(vel, 4, np, f) == np;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path)) { remove(tmp); return st_errorf(ST_E_IO, "%s: cannot write checkpoint", path); }
    return ST_OK;
}

static st_status load_ckpt(const char *path, st_tmodel *m, float *mom, float *vel, int64_t *step) {
    FILE *f = fopen(path, "rb");
    if (!f) return st_errorf(ST_E_IO, "%s: cannot open checkpoint", path);
    char mg[8];
    st_tcfg c;
    uint64_t np;
    int ok = fread(mg, 8, 1, f) == 1 && !memcmp(mg, CK_MAGIC, 8) && fread(&c, sizeof c, 1, f) == 1 && fread(&np, 8, 1, f) == 1 &&
             fread(step, 8, 1, f) == 1;
    if (ok && (memcmp(&c, &m->cfg, sizeof c) || np != m->n_params)) {
        fclose(f);
        return st_errorf(ST_E_FORMAT, "%s: checkpoint is for another model shape", path);
    }
    ok = ok && fread(m->P, 4, np, f) == np && fread(mom, 4, np, f) == np && fread(vel, 4, np, f) == np;
    fclose(f);
    if (!ok) return st_errorf(ST_E_FORMAT, "%s: not a softthink checkpoint or truncated", path);
    return ST_OK;
}

st_status st_train_run(const st_train_params *pp, float *final_loss) {
    if (!pp) return st_errorf(ST_E_ARG, "train: NULL params");
    st_train_params p = *pp;
    if (p.batch < 1 || p.steps < 1 || p.lr <= 0 || p.warmup < 0 || p.log_every < 1)
        return st_errorf(ST_E_ARG, "train: batch %d, steps %d, lr %g, warmup %d, log_every %d", p.batch, p.steps, p.lr,
                         p.warmup, p.log_every);
    if (p.resume && !p.ckpt_path) return st_errorf(ST_E_ARG, "train: resume needs a checkpoint path");
    st_train_vocab v;
    ST_TRY(st_train_vocab_build(&v));
    st_tokenizer *tok = NULL;
    st_tmodel m;
    memset(&m, 0, sizeof m);
    st_tws *ws = NULL;
    st_tbatch b, eb;
    memset(&b, 0, sizeof b);
    memset(&eb, 0, sizeof eb);
    float *mom = NULL, *vel = NULL;
    double *part = NULL;
    st_status s = st_train_vocab_tokenizer(&v, &tok);
    st_tcfg cfg = {v.n, p.n_ctx, p.n_embd, p.n_layer, p.n_head, p.n_ff, 1e-5f};
    if (!s) s = st_tmodel_init(&m, &cfg, p.seed);
    if (!s) s = st_tws_init(&ws, &cfg, p.n_threads);
    if (s) goto done;
    mom = calloc(m.n_params, sizeof *mom);
    vel = calloc(m.n_params, sizeof *vel);
    int64_t n_blocks = (int64_t)((m.n_params + BLK - 1) / BLK);
    part = calloc((size_t)n_blocks, sizeof *part);
    if (!mom || !vel || !part) { s = st_errorf(ST_E_NOMEM, "train: out of memory"); goto done; }
    int64_t step = 0;
    if (p.resume) {
        FILE *f = fopen(p.ckpt_path, "rb");
        if (f) {
            fclose(f);
            if ((s = load_ckpt(p.ckpt_path, &m, mom, vel, &step))) goto done;
        }
    }
    if (p.eval_every > 0) {
        for (int i = 0; i < p.batch && !s; i++) {
            st_arith_problem pr;
            s = st_arith_generate(&p.task, p.seed, 1, (uint64_t)i, &pr);
            if (!s) s = add_example(&eb, tok, &v, &pr, 1, p.n_ctx);
        }
        if (s) goto done;
    }
    double t0 = now_s(), sum_loss = 0, sum_acc = 0;
    int64_t tokens = 0, step0 = step, n_log = 0;
    float last_loss = 0;
    while (step < p.steps) {
        st_tbatch_clear(&b);
        for (int i = 0; i < p.batch && !s; i++) {
            uint64_t idx = (uint64_t)step * (uint64_t)p.batch + (uint64_t)i;
            st_arith_problem pr;
            s = st_arith_generate(&p.task, p.seed, 0, idx, &pr);
            if (!s) s = add_example(&b, tok, &v, &pr, is_think(p.seed, idx, p.no_think_frac), p.n_ctx);
        }
        if (s) goto done;
        float loss, acc;
        if ((s = st_tmodel_step(&m, ws, &b, 1, &loss, &acc))) goto done;
        if (!isfinite(loss)) { s = st_errorf(ST_E_INTERNAL, "train: loss is %g at step %lld", loss, (long long)step); goto done; }
        tokens += b.n_tok;
        /* clip + AdamW */
        adam_job j = {&m, mom, vel, 0, p.beta1, p.beta2, p.weight_decay, 1e-8f, 0, 0, 1, part, n_blocks, 0};
        st_pool_run(st_tws_pool(ws), adam_task, &j);
        double ss = 0;
        for (int64_t i = 0; i < n_blocks; i++) ss += part[i];
        float gn = (float)sqrt(ss);
        j.gscale = p.clip > 0 && gn > p.clip ? p.clip / gn : 1.0f;
        double lr;
        if (step < p.warmup) lr = p.lr * (double)(step + 1) / p.warmup;
        else {
            double t = p.steps > p.warmup ? (double)(step - p.warmup) / (p.steps - p.warmup) : 1.0;
            lr = p.min_lr + 0.5 * (p.lr - p.min_lr) * (1 + cos(3.141592653589793 * t));
        }
        j.lr = (float)lr;
        j.c1 = 1 - powf(p.beta1, (float)(step + 1));
        j.c2 = 1 - powf(p.beta2, (float)(step + 1));
        j.phase = 1;
        st_pool_run(st_tws_pool(ws), adam_task, &j);
        step++;
        sum_loss += loss;
        sum_acc += acc;
        n_log++;
        if (step % p.log_every == 0 || step == p.steps) {
            double el = now_s() - t0;
            last_loss = (float)(sum_loss / n_log);
            st_train_progress pr = {(int)step, p.steps, last_loss, (float)(sum_acc / n_log), (float)lr, gn,
                                    el > 0 ? tokens / el : 0, el, step > step0 ? el / (step - step0) * (p.steps - step) : 0, 0};
            if (p.progress) p.progress(&pr, p.user);
            sum_loss = sum_acc = 0;
            n_log = 0;
        }
        if (p.eval_every > 0 && (step % p.eval_every == 0 || step == p.steps)) {
            float el, ea;
            if ((s = st_tmodel_step(&m, ws, &eb, 0, &el, &ea))) goto done;
            double e = now_s() - t0;
            st_train_progress pr = {(int)step, p.steps, el, ea, (float)lr, gn, e > 0 ? tokens / e : 0, e,
                                    step > step0 ? e / (step - step0) * (p.steps - step) : 0, 1};
            if (p.progress) p.progress(&pr, p.user);
        }
        int stop = p.stop_after > 0 && step >= p.stop_after && step < p.steps;
        if (p.ckpt_path && ((p.ckpt_every > 0 && step % p.ckpt_every == 0) || step == p.steps || stop))
            if ((s = save_ckpt(p.ckpt_path, &m, mom, vel, step))) goto done;
        if (stop) goto done;
    }
    if (p.out_path) s = st_tmodel_write_gguf(&m, &v, p.name, 0, p.out_path);
    if (final_loss) *final_loss = last_loss;
done:
    free(mom); free(vel); free(part);
    st_tbatch_free(&b);
    st_tbatch_free(&eb);
    st_tws_free(ws);
    st_tmodel_free(&m);
    st_tokenizer_free(tok);
    st_train_vocab_free(&v);
    return s;
}
