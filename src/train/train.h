/* Trainer internals (src/train/): the gpt2-family model in training form,
 * its forward/backward pass, the f32 GEMM, and the task vocabulary. Exposed
 * for tests (gradient check, determinism, resume). */
#ifndef ST_TRAIN_H
#define ST_TRAIN_H
#include <stddef.h>
#include <stdint.h>

#include "softthink.h"
#include "core/status.h"
#include "threads/pool.h"

/* ---- gemm.c */
typedef struct st_gemm_ws { float *ap, *bp; size_t cap_a, cap_b; } st_gemm_ws;
/* C[i*ldc + j] (acc ? += : =) sum_k A[i*rsA + k*csA] * B[k*rsB + j*csB]. */
st_status st_gemm(st_gemm_ws *ws, st_pool *pool, int M, int N, int K, const float *A, int64_t rsA, int64_t csA,
                  const float *B, int64_t rsB, int64_t csB, float *C, int64_t ldc, int acc);
void st_gemm_ws_free(st_gemm_ws *ws);

/* ---- vocab.c: the arithmetic tokenizer (SentencePiece-style "llama" vocabulary) */
typedef struct st_train_vocab {
    int n;
    char **texts;
    float *scores;
    int32_t *types;
    int bos, eos, unk, think, think_end;
} st_train_vocab;
st_status st_train_vocab_build(st_train_vocab *v);
void st_train_vocab_free(st_train_vocab *v);
/* In-memory tokenizer for the vocabulary (as a GGUF with it would load). */
st_status st_train_vocab_tokenizer(const st_train_vocab *v, st_tokenizer **out);
/* The chat-template string written into the GGUF (recognised as "arith"). */
extern const char st_arith_chat_template[];

/* ---- model.c */
typedef struct st_tcfg { int n_vocab, n_ctx, d, n_layer, n_head, n_ff; float eps; } st_tcfg;

typedef struct st_tlayer {
    size_t ln1_g, ln1_b, wqkv, bqkv, wo, bo, ln2_g, ln2_b, wup, bup, wdown, bdown;
} st_tlayer;

typedef struct st_tmodel {
    st_tcfg cfg;
    size_t n_params;
    float *P, *G;            /* parameters and gradients, one layout */
    size_t wte, wpe, lnf_g, lnf_b;
    st_tlayer *L;
    uint8_t *decay;          /* [n_params] 1 = weight decay applies (matrices) */
} st_tmodel;

st_status st_tmodel_init(st_tmodel *m, const st_tcfg *cfg, uint64_t seed);
void st_tmodel_free(st_tmodel *m);

/* A batch of sequences laid end to end. Position t of sequence s predicts
 * tok[t+1] when t + 1 >= prompt[s] (loss mask). */
typedef struct st_tbatch {
    int n_seq, n_tok;
    int *tok;                /* [n_tok] */
    int *off;                /* [n_seq + 1] start of each sequence */
    int *prompt;             /* [n_seq] prompt tokens (no loss on predicting them) */
    int cap_tok, cap_seq;
} st_tbatch;
void st_tbatch_clear(st_tbatch *b);
st_status st_tbatch_add(st_tbatch *b, const int *tok, int n, int n_prompt);
void st_tbatch_free(st_tbatch *b);

typedef struct st_tws st_tws;   /* activations and scratch */
st_status st_tws_init(st_tws **out, const st_tcfg *cfg, int n_threads);
void st_tws_free(st_tws *w);
st_pool *st_tws_pool(st_tws *w);
/* Logits [n_tok][n_vocab] of the last forward-only st_tmodel_step. */
const float *st_tws_logits(const st_tws *w);

/* Mean cross-entropy over the masked targets; backward=1 also sets m->G
 * (overwritten, not accumulated). *acc: fraction of targets that are the argmax. */
st_status st_tmodel_step(st_tmodel *m, st_tws *w, const st_tbatch *b, int backward, float *loss, float *acc);
/* Write the model as a gpt2 GGUF with the vocabulary as its tokenizer. f16: matrices as F16. */
st_status st_tmodel_write_gguf(const st_tmodel *m, const st_train_vocab *v, const char *name, int f16, const char *path);

#endif
