/* softthink — a fast CPU inference engine for reasoning language models.
 *
 * Public API. Everything here is prefixed st_. The library never prints and
 * never exits: every fallible call returns an st_status, and the message that
 * explains a failure is available from st_last_error() on the same thread.
 */
#ifndef SOFTTHINK_H
#define SOFTTHINK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- errors */

typedef enum st_status {
    ST_OK = 0,
    ST_E_IO,          /* file cannot be opened / read / mapped */
    ST_E_FORMAT,      /* file is corrupt, truncated or inconsistent */
    ST_E_UNSUPPORTED, /* valid but not supported (type, architecture, version) */
    ST_E_ARG,         /* caller passed an invalid argument */
    ST_E_NOMEM,       /* allocation failed */
    ST_E_FULL,        /* a capacity (context, batch, sequences) is exhausted */
    ST_E_INTERNAL,
} st_status;

/* Message describing the last failure on this thread ("" if none). */
const char *st_last_error(void);
/* Short name of a status code ("format error", ...). */
const char *st_status_name(st_status s);

/* ---------------------------------------------------------------- tensor types
 * Numbering follows ggml/GGUF so that type ids read from files are used as is. */
typedef enum st_type {
    ST_TYPE_F32 = 0,
    ST_TYPE_F16 = 1,
    ST_TYPE_Q4_0 = 2,
    ST_TYPE_Q4_1 = 3,
    ST_TYPE_Q5_0 = 6,
    ST_TYPE_Q5_1 = 7,
    ST_TYPE_Q8_0 = 8,
    ST_TYPE_Q8_1 = 9,
    ST_TYPE_Q2_K = 10,
    ST_TYPE_Q3_K = 11,
    ST_TYPE_Q4_K = 12,
    ST_TYPE_Q5_K = 13,
    ST_TYPE_Q6_K = 14,
    ST_TYPE_Q8_K = 15,
    ST_TYPE_BF16 = 30,
    ST_TYPE_COUNT = 40,
} st_type;

/* "Q4_K", "F32", ... or NULL for an id that is not a known type. */
const char *st_type_name(int type);

/* ---------------------------------------------------------------- tokens */
typedef int32_t st_token;
/* In a batch, this token id means "use the embedding vector given instead". */
#define ST_TOKEN_EMBD ((st_token)-1)

/* ---------------------------------------------------------------- model */

typedef struct st_model st_model;

typedef enum st_arch {
    ST_ARCH_LLAMA = 0,
    ST_ARCH_QWEN2,
    ST_ARCH_QWEN3,
    ST_ARCH_GPT2,
    ST_ARCH_COUNT,
} st_arch;

typedef struct st_model_info {
    st_arch arch;
    const char *arch_name;     /* "llama", "qwen2", ... */
    const char *name;          /* general.name or "" */
    int n_vocab;
    int n_embd;                /* d_model */
    int n_layer;
    int n_head;
    int n_head_kv;
    int head_dim;
    int n_ff;
    int n_ctx_train;
    int tied_output;           /* output projection shares token_embd */
    uint64_t n_params;
    uint64_t file_size;
    uint64_t weight_bytes;     /* bytes of tensor data */
    uint64_t panel_bytes;      /* of which repacked into 16-row panels at load (st_model_params.repack) */
    int type_counts[ST_TYPE_COUNT]; /* number of tensors of each type */
} st_model_info;

typedef struct st_model_params {
    int use_mmap;     /* 1 (default): weights are read from the mapping, not copied */
    int repack;       /* 1 (default): matrices of a type the CPU's best kernels read
                         faster in 16-row panels are copied into that layout at load
                         (same bytes; their pages of the file are released; where the
                         copy cannot be allocated they stay as the file has them) */
} st_model_params;

st_model_params st_model_default_params(void);
st_status st_model_load(const char *path, const st_model_params *params, st_model **out);
void st_model_free(st_model *model);
const st_model_info *st_model_get_info(const st_model *model);
/* The GGUF file behind a model (for the tokenizer and metadata queries). */
struct st_gguf;
const struct st_gguf *st_model_gguf(const st_model *model);

/* Input embedding of token `tok` (before any position embedding) -> out[n_embd]. */
st_status st_model_embed_token(const st_model *model, st_token tok, float *out);
/* Weighted mixture sum_k w[k] * E[ids[k]] -> out[n_embd] (soft-thinking concept token). */
st_status st_model_embed_mixture(const st_model *model, int k, const st_token *ids,
                                 const float *w, float *out);

/* ---------------------------------------------------------------- context
 * A context owns the KV cache of up to n_seq sequences and the scratch buffers
 * for one forward pass of up to n_batch tokens. Several contexts (one per
 * model) can live side by side. */

typedef struct st_context st_context;

typedef struct st_context_params {
    int n_ctx;       /* positions per sequence (0: model's training context, capped at 4096) */
    int n_seq;       /* sequences with their own KV cache (default 1) */
    int n_batch;     /* max tokens in one st_decode call (default 512) */
    int n_threads;   /* 0: number of physical cores */
    st_type cache_type; /* K and V cache entries: ST_TYPE_F16 (default) or ST_TYPE_Q8_0 (about half the
                           memory and the attention's reads, like llama.cpp's -ctk/-ctv q8_0; needs a
                           head dim that is a multiple of 32) */
} st_context_params;

st_context_params st_context_default_params(void);
st_status st_context_init(st_model *model, const st_context_params *params, st_context **out);
void st_context_free(st_context *ctx);
int st_context_n_ctx(const st_context *ctx);
int st_context_n_seq(const st_context *ctx);
int st_context_n_threads(const st_context *ctx);
int st_context_n_batch(const st_context *ctx);
const st_model *st_context_model(const st_context *ctx);

/* A batch: n_tokens inputs, each belonging to a sequence at a position.
 * Within a sequence, positions must continue that sequence's cache
 * (pos == st_kv_seq_len before the call, then +1 per token).
 * A token equal to ST_TOKEN_EMBD takes its input from embd[i*n_embd ...]. */
typedef struct st_batch {
    int n_tokens;
    st_token *token;   /* [n_tokens] */
    float *embd;       /* [n_tokens][n_embd], may be NULL if no ST_TOKEN_EMBD */
    int32_t *pos;      /* [n_tokens] */
    int32_t *seq;      /* [n_tokens] */
    int8_t *logits;    /* [n_tokens] 1: compute logits at this position */
    int capacity;      /* allocated tokens (owned by st_batch_init) */
    int n_embd;
} st_batch;

st_status st_batch_init(st_batch *b, int capacity, int n_embd);
void st_batch_free(st_batch *b);
void st_batch_clear(st_batch *b);
/* Append one input; embd may be NULL for a token input. */
st_status st_batch_add(st_batch *b, st_token tok, const float *embd, int32_t pos, int32_t seq,
                       int want_logits);

/* Run the model on a batch; appends to the KV caches. */
st_status st_decode(st_context *ctx, const st_batch *batch);
/* Logits [n_vocab] of the i-th batch entry of the last st_decode (NULL if it had none). */
const float *st_get_logits(const st_context *ctx, int i);

/* KV cache. */
int st_kv_seq_len(const st_context *ctx, int seq);
/* Keep positions [0, p) of a sequence (drop rejected draft tokens, rewind). */
st_status st_kv_seq_truncate(st_context *ctx, int seq, int p);
void st_kv_clear(st_context *ctx);

/* ---------------------------------------------------------------- sampling
 * Per-sequence sampler state. Filtering follows the Soft Thinking paper's
 * order: softmax(logits / temp) -> top-k -> top-p -> min-p, renormalising
 * after each; temp <= 0 means greedy (argmax). Selection never sorts the whole
 * vocabulary. */
typedef struct st_sampler_params {
    float temp;      /* default 1.0; <= 0: greedy */
    int top_k;       /* 0: off */
    float top_p;     /* 1.0: off */
    float min_p;     /* 0.0: off */
    uint64_t seed;
} st_sampler_params;

/* Filtered distribution: ids sorted by descending probability, probs renormalised. */
typedef struct st_candidates {
    int n;
    st_token *ids;   /* [n] */
    float *probs;    /* [n] */
    float entropy;   /* of the full tempered distribution, in nats */
} st_candidates;

typedef struct st_sampler st_sampler;
st_sampler_params st_sampler_default_params(void);
st_status st_sampler_init(const st_sampler_params *p, int n_vocab, st_sampler **out);
void st_sampler_free(st_sampler *s);
/* Filter logits [n_vocab] into the sampler's candidate buffer (valid until the next call).
 * max_keep > 0 additionally keeps only the max_keep most likely (renormalised). */
st_status st_sampler_filter(st_sampler *s, const float *logits, int max_keep, const st_candidates **out);
/* Draw one token from logits; *entropy (may be NULL) gets the tempered entropy. */
st_status st_sampler_sample(st_sampler *s, const float *logits, st_token *tok, float *entropy);
/* Uniform double in [0, 1) from the sampler's own RNG. */
double st_sampler_uniform(st_sampler *s);

/* ---------------------------------------------------------------- tokenizer
 * Loaded from GGUF metadata (tokenizer.ggml.*), a Hugging Face tokenizer
 * directory, or a llama2.c tokenizer .bin. Byte-level BPE ("gpt2") with the
 * pre-tokenizer named by tokenizer.ggml.pre, and SentencePiece-style ("llama")
 * vocabularies. Ids match llama.cpp's tokenizer. A loaded tokenizer is
 * read-only: any number of threads may use it at once. */
typedef struct st_tokenizer st_tokenizer;

typedef enum st_vocab_kind { ST_VOCAB_SPM = 1, ST_VOCAB_BPE = 2 } st_vocab_kind;

/* Token types, numbered like GGUF's tokenizer.ggml.token_type. */
typedef enum st_token_type {
    ST_TOKEN_NORMAL = 1, ST_TOKEN_UNKNOWN = 2, ST_TOKEN_CONTROL = 3,
    ST_TOKEN_USER_DEFINED = 4, ST_TOKEN_UNUSED = 5, ST_TOKEN_BYTE = 6,
} st_token_type;

/* Tokenizer from an open GGUF (the handle may be closed afterwards). */
st_status st_tokenizer_load_gguf(const struct st_gguf *g, st_tokenizer **out);
/* Tokenizer from a .gguf file, a Hugging Face directory (tokenizer.json, or
 * vocab.json + merges.txt + added_tokens.json/tokenizer_config.json) or a llama2.c .bin. */
st_status st_tokenizer_load_file(const char *path, st_tokenizer **out);
void st_tokenizer_free(st_tokenizer *t);

int st_tokenizer_n_vocab(const st_tokenizer *t);
st_vocab_kind st_tokenizer_kind(const st_tokenizer *t);
/* Pre-tokenizer name ("qwen2", "gpt-2", ...; "default" for SPM). */
const char *st_tokenizer_pre(const st_tokenizer *t);
/* Special ids; -1 when the vocabulary has none. */
st_token st_tokenizer_bos(const st_tokenizer *t);
st_token st_tokenizer_eos(const st_tokenizer *t);
st_token st_tokenizer_eot(const st_tokenizer *t);
/* Whether st_tokenize(add_special=1) puts BOS first (as the metadata says). */
int st_tokenizer_adds_bos(const st_tokenizer *t);
/* 1 if generating `id` ends the turn (EOS, EOT, <|im_end|>, <|endoftext|>, ...). */
int st_tokenizer_is_eog(const st_tokenizer *t, st_token id);
/* Type of a token; 0 for an id out of range. */
st_token_type st_tokenizer_token_type(const st_tokenizer *t, st_token id);
/* The vocabulary entry's text as stored (byte-level or with U+2581); NULL if out of range. */
const char *st_tokenizer_token_text(const st_tokenizer *t, st_token id);
/* Id of the entry whose stored text is exactly `text`, -1 if none. */
st_token st_tokenizer_find(const st_tokenizer *t, const char *text);

/* Tokenize text[0..len). add_special: add BOS/EOS as the vocabulary's metadata
 * says. parse_special: control tokens written in the text (<|im_start|>) become
 * their ids; off, they are plain text. User-defined added tokens (<think>,
 * DeepSeek's byte-like tokens, MPT's space runs) are whole tokens either way,
 * as in llama.cpp and Hugging Face. Bytes that are not well-formed UTF-8 are
 * each replaced by U+FFFD. Writes up to max ids; *n gets the number the text
 * needs; ST_E_FULL (with *n set) when max is too small. */
st_status st_tokenize(const st_tokenizer *t, const char *text, size_t len, int add_special,
                      int parse_special, st_token *out, int max, int *n);

/* Detokenization flags. Without flags the result is the exact inverse of st_tokenize. */
#define ST_DETOK_SPECIAL    1u /* render control/unknown tokens as their text (default: nothing) */
#define ST_DETOK_KEEP_SPACE 2u /* SPM: keep the space the tokenizer put before the text */
#define ST_DETOK_CLEAN      4u /* llama.cpp's clean-up (" ," -> ",", " 's" -> "'s", ...) where the vocab asks for it */

/* Bytes of one token (special tokens as their text), NUL-terminated (a byte
 * token may itself be 0: use *len); NULL for an id out of range. */
const char *st_token_piece(const st_tokenizer *t, st_token id, size_t *len);
/* Concatenate the pieces of ids[0..n) into out (NUL-terminated when there is
 * room); *len gets the byte count needed; ST_E_FULL if cap is too small. */
st_status st_detokenize(const st_tokenizer *t, const st_token *ids, int n, unsigned flags,
                        char *out, size_t cap, size_t *len);

/* Streaming decode: each push emits only complete UTF-8 characters and holds
 * back an incomplete tail; bytes that can never form a character are emitted
 * as U+FFFD, so the concatenated output is always valid UTF-8. */
typedef struct st_detok_stream {
    const st_tokenizer *tok;
    unsigned flags;
    int started;               /* a text token has been seen (SPM space rule) */
    int n_pend;
    unsigned char pend[4];     /* incomplete UTF-8 tail */
} st_detok_stream;
void st_detok_stream_init(st_detok_stream *s, const st_tokenizer *t, unsigned flags);
/* Decode one token into out; *len gets the bytes written (or needed, with
 * ST_E_FULL, in which case the stream is unchanged). */
st_status st_detok_stream_push(st_detok_stream *s, st_token id, char *out, size_t cap, size_t *len);
/* Emit the held-back tail (as U+FFFD) and reset the UTF-8 state. */
st_status st_detok_stream_flush(st_detok_stream *s, char *out, size_t cap, size_t *len);
/* An out capacity that is always enough for one push or flush. */
size_t st_detok_stream_max_out(const st_tokenizer *t);

/* ---------------------------------------------------------------- chat templates
 * Prompt formats of the reasoning model families. The formatted string does not
 * contain BOS: tokenize it with add_special=1 and parse_special=1. */
typedef enum st_chat_family {
    ST_CHAT_PLAIN = 0,    /* "User: ...\n\nAssistant: " */
    ST_CHAT_CHATML,       /* Qwen2.5 / QwQ: <|im_start|>role\n...<|im_end|>\n */
    ST_CHAT_QWEN3,        /* ChatML; earlier assistant turns lose their <think> part */
    ST_CHAT_DEEPSEEK_R1,  /* DeepSeek-R1(-Distill): <｜User｜>...<｜Assistant｜> */
    ST_CHAT_LLAMA3,       /* <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|> */
    ST_CHAT_ARITH,        /* our arithmetic model: question "\n<think>\n" (think) or "\n<think>\n</think>\n" */
} st_chat_family;

typedef struct st_chat_template {
    st_chat_family family;
    const char *name;            /* "qwen3", "qwen2.5", "chatml", "deepseek-r1", "llama3", "plain" */
    const char *default_system;  /* used when there is no system message; NULL: none */
} st_chat_template;

typedef struct st_chat_msg {
    const char *role;            /* "system", "user", "assistant" */
    const char *content;
} st_chat_msg;

/* Template for a tokenizer's model: tokenizer.chat_template contents when the
 * file has one, else the architecture and vocabulary; PLAIN as the fallback. */
st_chat_template st_chat_template_detect(const st_tokenizer *t);
/* Template by name (see st_chat_template.name; also "qwen", "qwq", "deepseek", "llama-3"). */
st_status st_chat_template_by_name(const char *name, st_chat_template *out);
/* Names accepted by st_chat_template_by_name, NULL-terminated. */
const char *const *st_chat_template_names(void);
/* Format a conversation. add_assistant: open the assistant turn; think: 1 opens
 * it with "<think>\n", 0 with an empty "<think>\n\n</think>\n\n" (reasoning
 * families; LLAMA3 / PLAIN add nothing when 0). *out is malloc'd; free() it. */
st_status st_chat_format(const st_chat_template *tmpl, const st_chat_msg *msgs, int n,
                         int add_assistant, int think, char **out);

/* The strings that open and close a reasoning block and their single-token ids
 * in the tokenizer (-1 when absent or not one token; t may be NULL). */
typedef struct st_think_markers {
    const char *start, *end;
    st_token start_id, end_id;
} st_think_markers;
st_think_markers st_chat_think_markers(const st_chat_template *tmpl, const st_tokenizer *t);

/* ---------------------------------------------------------------- thinking & soft thinking
 * Per-sequence controller of the thinking phase (Soft Thinking, arXiv 2505.15778).
 * While a sequence thinks, each step's logits are filtered (temp, top-k, top-p,
 * min-p), optionally perturbed (Dirichlet or Gumbel-Softmax), cut to max_topk
 * and renormalised; in soft mode the next input is the concept token
 * sum_k p_k E[id_k], otherwise a token sampled from the same distribution.
 * Thinking ends when the think-end marker is produced (by the top-1 token in soft
 * mode), by cold stop (cold_stop_length consecutive soft steps with entropy below
 * cold_stop_entropy) or by the max_thinking_tokens budget: the last two inject
 * the marker's tokens. After thinking, tokens are sampled with the after_* filter. */
typedef struct st_think_params {
    int soft;                 /* 1: concept tokens while thinking (default 0: discrete thinking) */
    int max_topk;             /* concept-token width (10) */
    st_sampler_params think;  /* thinking filter (temp 0.6, top_k 30, top_p 0.95, min_p 0.001) */
    st_sampler_params after;  /* after thinking (temp 0.6, top_k 30, top_p 0.95, min_p 0) */
    float cold_stop_entropy;  /* nats; 0 = off (default 0.01, the published setting) */
    int cold_stop_length;     /* consecutive low-entropy soft steps (default 256) */
    int max_thinking_tokens;  /* 0 = no budget */
    float dirichlet_alpha;    /* > 0: Dirichlet noise on the soft weights (off) */
    float gumbel_tau;         /* > 0: Gumbel-Softmax noise with this temperature (off) */
    uint64_t seed;
} st_think_params;

typedef enum st_step_phase { ST_STEP_SOFT, ST_STEP_DISCRETE, ST_STEP_INJECTED } st_step_phase;
typedef enum st_think_end {
    ST_THINK_NOT_ENDED = 0, ST_THINK_END_MARKER, ST_THINK_END_COLD_STOP, ST_THINK_END_BUDGET,
    ST_THINK_NEVER,           /* the sequence did not think */
} st_think_end;

/* What one step decided. Pointers stay valid until the next st_thinker_step. */
typedef struct st_think_step {
    st_step_phase phase;      /* SOFT: feed `embd`; DISCRETE: feed `token`; INJECTED: feed `inject` */
    st_token token;           /* reported token (top-1 of the mixture when soft) */
    float entropy;            /* of the full tempered distribution (nats) */
    int k;                    /* mixture width (soft) or candidates kept (discrete) */
    const st_token *ids;      /* [k] descending weight */
    const float *probs;       /* [k] sums to 1 */
    const float *embd;        /* [n_embd] concept token (SOFT only; else NULL) */
    int n_inject;             /* INJECTED: marker tokens to feed, one position each */
    const st_token *inject;
    int thinking;             /* still thinking after this step */
    st_think_end ended;       /* set on the step that ended thinking */
} st_think_step;

typedef struct st_thinker st_thinker;
st_think_params st_think_default_params(void);
/* thinking: the sequence starts inside a think block (prompt opened it, or
 * --think-from-start). end_marker: the think-end string's token ids. */
st_status st_thinker_init(const st_think_params *p, const st_model *model, const st_token *end_marker,
                          int n_end_marker, int thinking, st_thinker **out);
void st_thinker_free(st_thinker *t);
st_status st_thinker_step(st_thinker *t, const float *logits, st_think_step *out);
int st_thinker_is_thinking(const st_thinker *t);
/* Counters: soft steps, discrete thinking steps, steps after thinking, injected tokens. */
void st_thinker_counts(const st_thinker *t, int *soft, int *think_discrete, int *after, int *injected);
st_think_end st_thinker_end_reason(const st_thinker *t);
const char *st_think_end_name(st_think_end e);

/* ---------------------------------------------------------------- runner
 * Drives many sequences through one context, one forward pass per step for
 * all of them: prompts (chunked by n_batch), then each sequence's thinker
 * decides its next input (token, concept embedding or injected marker), and
 * the runner feeds it on the next step. Sequences mix soft and discrete steps
 * freely within one batch. */
typedef struct st_runner st_runner;
st_status st_runner_init(st_context *ctx, st_runner **out);
void st_runner_free(st_runner *r);
/* Start sequence `seq` (its KV cache is cleared) on a prompt; the thinker is the caller's. */
st_status st_runner_start(st_runner *r, int seq, const st_token *prompt, int n_prompt, st_thinker *th);
/* Stop sequence `seq`: its pending input is dropped. */
void st_runner_stop(st_runner *r, int seq);
int st_runner_active(const st_runner *r); /* sequences still running */
int st_runner_is_running(const st_runner *r, int seq); /* 0 once stopped (by the caller or a full context) */
/* One forward pass. For each sequence that produced a step, stepped[seq] = 1
 * and steps[seq] holds it (arrays of n_seq entries). A sequence whose context
 * is full is stopped and reported with ST_E_FULL only if no other work remains. */
st_status st_runner_step(st_runner *r, st_think_step *steps, int *stepped);

/* ---------------------------------------------------------------- tasks and training
 * A reasoning task with known answers and a CPU trainer for small gpt2-family
 * models, so that a fresh clone has a reasoning model of its own.
 *
 * Arithmetic word problems: a start value and min_steps..max_steps additions or
 * subtractions (operands of up to max_digits digits, values never negative):
 *   question: "Ann has 23 apples. She buys 17 more, then gives 9 away. How many apples does she have?"
 *   solution: "320+710:3700,2114,0000=040\n040-900:0901,4013,0000=130"   (23 + 17 = 40, 40 - 9 = 31)
 * In the worked steps every number is written least-significant digit first and
 * zero-padded to a fixed width (3 for 2-digit problems); after "a op b:" comes
 * one chunk per column (digit of a, digit of b, carry or borrow in, result
 * digit), then "=" and the result. Each digit the model writes is a copy from
 * a fixed distance or a function of the few tokens just before it; the answer
 * after </think> is written normally.
 * Training text (st_arith_format), tokenized with BOS in front and EOS after:
 *   question "\n<think>\n" solution "\n</think>\n" "Answer: " answer
 * and for the no-think examples:  question "\n<think>\n</think>\n" "Answer: " answer.
 * The evaluation prompt is BOS + the text up to and including "<think>\n" (thinking)
 * or "</think>\n" (no thinking); the model continues from there. The "arith"
 * chat template (st_chat_template_by_name) writes exactly these prompts.
 * Train and test splits are disjoint by construction: a hash of the problem's
 * canonical arithmetic ("23+17-9") decides its split. */
typedef struct st_arith_params {
    int min_steps, max_steps;  /* operations per problem (default 2..3) */
    int max_digits;            /* digits of the start value and operands (default 2) */
} st_arith_params;

typedef struct st_arith_problem {
    char question[512];
    char solution[1024];       /* the worked steps, without the think tags */
    long long answer;
} st_arith_problem;

st_arith_params st_arith_default_params(void);
/* Problem `index` of a split (0 train, 1 test); deterministic in (params, seed, split, index).
 * p may be NULL (defaults). */
st_status st_arith_generate(const st_arith_params *p, uint64_t seed, int split, uint64_t index,
                            st_arith_problem *out);
/* "Answer: " — the text after "</think>\n" that precedes the number. */
const char *st_arith_answer_prefix(void);
/* Final answer in generated text: the number after the last </think> (after "Answer: " when
 * present). 0 ok, -1 none. */
int st_arith_parse_answer(const char *generated_text, long long *out);
/* Training text of a problem (no BOS/EOS), think = 0 gives the empty think block.
 * Returns its length, -1 if cap is too small. */
int st_arith_format(const st_arith_problem *pr, int think, char *out, size_t cap);

/* Trainer: gpt2 family (learned positions, LayerNorm, GELU tanh, tied output),
 * forward and backward in C on the thread pool; AdamW (decoupled weight decay
 * on matrices), linear warm-up then cosine decay to min_lr, global gradient-norm
 * clipping. Loss is the cross-entropy of the tokens after the prompt (the part
 * the model generates at evaluation). Same seed and thread count give the same
 * run bit for bit; checkpoints (params + Adam state + step) resume exactly. */
typedef struct st_train_progress {
    int step, n_steps;         /* steps done */
    float loss, acc;           /* mean over the last log interval (acc: next-token accuracy) */
    float lr, grad_norm;
    double tokens_per_s, elapsed_s, eta_s;
    int is_eval;               /* 1: loss/acc measured on held-out test problems */
} st_train_progress;

typedef struct st_train_params {
    int n_embd, n_layer, n_head, n_ff, n_ctx;   /* 256, 4, 8, 1024, 256 */
    int batch;                 /* sequences per step (32) */
    int steps;                 /* optimizer steps (5000) */
    float lr, min_lr;          /* peak and final learning rate (2e-3, 1e-4) */
    int warmup;                /* warm-up steps (200) */
    float weight_decay;        /* 0.1 */
    float beta1, beta2;        /* 0.9, 0.98 */
    float clip;                /* max global gradient norm (1.0; 0 off) */
    float no_think_frac;       /* fraction of examples with an empty think block (0.15) */
    st_arith_params task;
    uint64_t seed;             /* weights and data order (1) */
    int n_threads;             /* 0: physical cores */
    int log_every;             /* progress callback interval in steps (10) */
    int eval_every;            /* held-out loss every N steps (0 off) */
    const char *out_path;      /* GGUF written at the end (NULL: none) */
    const char *ckpt_path;     /* checkpoint file (NULL: none) */
    int ckpt_every;            /* steps between checkpoints (0: only at the end) */
    int resume;                /* 1: continue from ckpt_path when it exists */
    int stop_after;            /* stop (after checkpointing) once this many steps are done; 0 = run to the end */
    const char *name;          /* general.name ("softthink-arith") */
    void (*progress)(const st_train_progress *p, void *user);
    void *user;
} st_train_params;

st_train_params st_train_default_params(void);
/* Train; *final_loss (may be NULL) gets the mean loss of the last log interval. */
st_status st_train_run(const st_train_params *p, float *final_loss);

/* ---------------------------------------------------------------- synthetic models
 * Write a GGUF with random weights in the shape of a known model, for benchmarks. */
typedef struct st_synth_params {
    const char *arch;     /* "llama", "qwen2", "qwen3", "gpt2" (NULL: from `like`) */
    const char *like;     /* "qwen2.5-0.5b", "qwen3-0.6b", "llama-3.2-1b", "gpt2-124m", "tiny" */
    const char *type;     /* "f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1",
                             "q4_k", "q5_k", "q6_k", "q4_k_m", "q5_k_m" */
    uint64_t seed;
    int n_layer;          /* 0: as `like` */
    int n_threads;        /* 0: physical cores */
    const char *vocab;    /* GGUF whose tokenizer.* metadata is copied (NULL: "no_vocab") */
} st_synth_params;

st_status st_synth_write(const st_synth_params *p, const char *out_path);
/* Names of the shapes synth knows, NULL-terminated. */
const char *const *st_synth_shapes(void);

#ifdef __cplusplus
}
#endif
#endif
