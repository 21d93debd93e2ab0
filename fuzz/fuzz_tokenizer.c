/* libFuzzer harness for the tokenizer.
 *
 * Text mode (any input not starting with "GGUF"): byte 0 picks a vocabulary
 * and the flags, the rest is the text. Checked on every input, whatever its
 * bytes: tokenizing succeeds, every id is in range, decoding gives back the
 * text with malformed UTF-8 replaced by U+FFFD (for byte-level vocabularies
 * that can spell every byte, without special parsing), and the streaming
 * decoder emits only valid UTF-8 that adds up to the whole decode.
 *
 * GGUF mode (input starts with "GGUF"): the input is a GGUF image; building a
 * tokenizer from its metadata must fail cleanly or give a working tokenizer.
 *
 * Build and run (from the repository root; vocabularies from ../shared or $SOFTTHINK_SHARED):
 *   clang -O1 -g -std=c11 -D_GNU_SOURCE -Iinclude -Isrc -fsanitize=fuzzer,address,undefined \
 *     -fno-sanitize-recover=all fuzz/fuzz_tokenizer.c src/tokenizer/\*.c src/gguf/gguf.c \
 *     src/tensor/quant.c src/core/status.c -o build-fuzz/fuzz_tokenizer -lpcre2-8 -ljansson -lm
 *   build-fuzz/fuzz_tokenizer -max_total_time=60 -max_len=4096 build-fuzz/corpus-tok fuzz/seeds/tokenizer
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"
#include "softthink.h"
#include "tokenizer/tokenizer.h"

#define N_VOCABS 6
static const char *const vocab_files[N_VOCABS] = {
    "tokenizers/qwen3-vocab.gguf",                     /* qwen2 regex, control + user-defined tokens */
    "tokenizers/llamacpp/ggml-vocab-llama-spm.gguf",   /* SentencePiece, byte fallback */
    "tokenizers/llamacpp/ggml-vocab-deepseek-llm.gguf", /* six regexes, 2398 user-defined tokens */
    "tokenizers/llamacpp/ggml-vocab-mpt.gguf",         /* space-run added tokens */
    "tokenizers/llamacpp/ggml-vocab-phi-3.gguf",       /* rstrip special tokens */
    "tokenizers/llamacpp/ggml-vocab-falcon.gguf",      /* bytes missing from the vocabulary */
};
static st_tokenizer *vocabs[N_VOCABS];

static void die(const char *what) {
    fprintf(stderr, "fuzz_tokenizer: %s (%s)\n", what, st_last_error());
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *root = getenv("SOFTTHINK_SHARED");
    if (!root || !*root) root = "../shared";
    for (int i = 0; i < N_VOCABS; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", root, vocab_files[i]);
        if (st_tokenizer_load_file(path, &vocabs[i]) != ST_OK) die(path);
    }
    return 0;
}

static int valid_utf8(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        int l = st_utf8_seq((const unsigned char *)s + i, n - i);
        if (l <= 0) return 0;
        i += (size_t)l;
    }
    return 1;
}

static int spells_every_byte(const st_tokenizer *t) {
    for (int b = 0; b < 256; b++)
        if (t->byte_tok[b] < 0) return 0;
    return 1;
}

static void check_text(const st_tokenizer *t, const char *text, size_t n, unsigned sel) {
    int add = sel & 1, special = (sel >> 1) & 1;
    unsigned flags = (sel >> 2) & 3; /* ST_DETOK_SPECIAL, ST_DETOK_KEEP_SPACE */
    int need = 0;
    st_status s = st_tokenize(t, text, n, add, special, NULL, 0, &need);
    if (s != ST_OK && s != ST_E_FULL) die("tokenize (count) failed");
    st_token *ids = malloc(sizeof *ids * (size_t)(need + 1));
    int got = -1;
    if (st_tokenize(t, text, n, add, special, ids, need, &got) != ST_OK || got != need) die("tokenize failed");
    for (int i = 0; i < got; i++)
        if (ids[i] < 0 || ids[i] >= st_tokenizer_n_vocab(t)) die("id out of range");

    size_t dl = 0;
    st_detokenize(t, ids, got, flags, NULL, 0, &dl);
    char *dec = malloc(dl + 1);
    size_t dl2;
    if (st_detokenize(t, ids, got, flags, dec, dl + 1, &dl2) != ST_OK || dl2 != dl) die("detokenize failed");

    if (t->kind == ST_VOCAB_BPE && !special && !(flags & ST_DETOK_SPECIAL) && spells_every_byte(t)) {
        char *clean;
        size_t cl;
        if (st_utf8_sanitize(text, n, &clean, &cl) != ST_OK) die("sanitize");
        if (cl != dl || memcmp(clean, dec, cl)) die("decode(encode(s)) != s");
        free(clean);
    }

    /* stream: valid UTF-8 chunks adding up to the decode (when the decode is valid UTF-8) */
    st_detok_stream ds;
    st_detok_stream_init(&ds, t, flags);
    size_t cap = st_detok_stream_max_out(t);
    char *chunk = malloc(cap), *all = malloc(3 * dl + 16);
    size_t total = 0;
    for (int i = 0; i <= got; i++) {
        size_t l;
        s = i < got ? st_detok_stream_push(&ds, ids[i], chunk, cap, &l) : st_detok_stream_flush(&ds, chunk, cap, &l);
        if (s != ST_OK) die("stream failed");
        if (!valid_utf8(chunk, l)) die("stream emitted invalid UTF-8");
        if (total + l > 3 * dl + 16) die("stream emitted too much");
        memcpy(all + total, chunk, l);
        total += l;
    }
    if (valid_utf8(dec, dl) && (total != dl || memcmp(all, dec, dl))) die("stream != detokenize");
    free(all);
    free(chunk);
    free(dec);
    free(ids);
}

static void check_gguf(const uint8_t *data, size_t size) {
    st_gguf *g;
    if (st_gguf_open_memory(data, size, "fuzz", &g) != ST_OK) return;
    st_tokenizer *t;
    if (st_tokenizer_load_gguf(g, &t) == ST_OK) {
        static const char sample[] = "Hello <|im_start|> w\xC3\xB6rld 123 \xF0\x9F\xA6\x99\n\xFF";
        check_text(t, sample, sizeof sample - 1, 0);
        check_text(t, sample, sizeof sample - 1, 3);
        st_chat_template ct = st_chat_template_detect(t);
        (void)st_chat_think_markers(&ct, t);
        st_tokenizer_free(t);
    }
    st_gguf_close(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size >= 4 && !memcmp(data, "GGUF", 4)) {
        check_gguf(data, size);
        return 0;
    }
    if (size < 1) return 0;
    unsigned sel = data[0];
    const st_tokenizer *t = vocabs[(sel >> 4) % N_VOCABS];
    check_text(t, (const char *)data + 1, size - 1, sel & 15);
    return 0;
}
