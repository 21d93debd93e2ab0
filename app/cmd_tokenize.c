/* softthink tokenize / detokenize: text <-> token ids with a model's (or a
 * tokenizer directory's) vocabulary. Output formats follow llama.cpp's
 * llama-tokenize so the two can be compared directly. */
#include "cli.h"

/* All of stdin, NUL-terminated; NULL (message printed) on failure. */
static char *read_stdin(const char *cmd, size_t *n) {
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    if (!buf) return cli_fail(cmd, "out of memory"), NULL;
    for (;;) {
        if (len + 1 >= cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) { free(buf); return cli_fail(cmd, "out of memory"), NULL; }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len - 1, stdin);
        len += got;
        if (got == 0) break;
    }
    if (ferror(stdin)) { free(buf); return cli_fail(cmd, "cannot read standard input"), NULL; }
    buf[len] = 0;
    *n = len;
    return buf;
}

static char *read_file(const char *cmd, const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return cli_fail(cmd, "cannot open '%s'", path), NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = sz >= 0 ? malloc((size_t)sz + 1) : NULL;
    if (!buf || fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
        fclose(f);
        free(buf);
        return cli_fail(cmd, "cannot read '%s'", path), NULL;
    }
    fclose(f);
    *n = (size_t)sz;
    return buf;
}

/* Print a piece the way llama-tokenize does, escaping what a terminal would mangle. */
static void print_piece(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\n') fputs("\\n", stdout);
        else if (c == '\t') fputs("\\t", stdout);
        else if (c == '\r') fputs("\\r", stdout);
        else if (c == '\'') fputs("\\'", stdout);
        else if (c < 0x20 || c == 0x7F) printf("\\x%02x", c);
        else putchar(c);
    }
}

static const char tokenize_usage[] =
    "usage: softthink tokenize -m MODEL_OR_VOCAB [--prompt TEXT | -f FILE] [options]\n"
    "  -m, --model PATH    .gguf model or vocabulary, Hugging Face tokenizer directory, or llama2.c .bin\n"
    "  -p, --prompt TEXT   text to tokenize (default: all of standard input, newlines included)\n"
    "  -f, --file FILE     read the text from FILE\n"
    "  --ids               print only the ids, space-separated on one line\n"
    "  --no-bos            do not add BOS/EOS even where the vocabulary asks for them\n"
    "  --parse-special     turn control-token text (<|im_start|>) into its id\n"
    "  --show-count        print the number of tokens last\n";

int cmd_tokenize(int argc, char **argv) {
    const char *cmd = "tokenize", *model = NULL, *prompt = NULL, *file = NULL;
    int ids_only = 0, no_bos = 0, parse_special = 0, show_count = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "-m", &model) || cli_opt(argc, argv, &i, "--model", &model)) {
            if (!model) return cli_fail(cmd, "-m needs a path");
            continue;
        }
        if (cli_opt(argc, argv, &i, "-p", &prompt) || cli_opt(argc, argv, &i, "--prompt", &prompt)) {
            if (!prompt) return cli_fail(cmd, "--prompt needs a value");
            continue;
        }
        if (cli_opt(argc, argv, &i, "-f", &file) || cli_opt(argc, argv, &i, "--file", &file)) {
            if (!file) return cli_fail(cmd, "--file needs a path");
            continue;
        }
        if (cli_flag(argv, i, "--ids")) { ids_only = 1; continue; }
        if (cli_flag(argv, i, "--no-bos")) { no_bos = 1; continue; }
        if (cli_flag(argv, i, "--parse-special")) { parse_special = 1; continue; }
        if (cli_flag(argv, i, "--show-count")) { show_count = 1; continue; }
        if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) { fputs(tokenize_usage, stdout); return 0; }
        return cli_fail(cmd, "unknown option '%s' (see --help)", argv[i]);
    }
    if (!model) return cli_fail(cmd, "no model given (-m MODEL_OR_VOCAB)");
    if (prompt && file) return cli_fail(cmd, "give --prompt or --file, not both");

    size_t len = 0;
    char *owned = NULL;
    const char *text = prompt;
    if (prompt) len = strlen(prompt);
    else if (!(owned = file ? read_file(cmd, file, &len) : read_stdin(cmd, &len))) return 1;
    if (owned) text = owned;

    st_tokenizer *t;
    st_status s = st_tokenizer_load_file(model, &t);
    if (s != ST_OK) { free(owned); return cli_fail_status(cmd, s); }
    int n = 0;
    s = st_tokenize(t, text, len, !no_bos, parse_special, NULL, 0, &n);
    st_token *ids = NULL;
    if (s == ST_OK || s == ST_E_FULL) {
        ids = malloc(sizeof *ids * (size_t)(n ? n : 1));
        s = ids ? st_tokenize(t, text, len, !no_bos, parse_special, ids, n, &n) : ST_E_NOMEM;
    }
    if (s != ST_OK) {
        free(ids);
        free(owned);
        st_tokenizer_free(t);
        return s == ST_E_NOMEM ? cli_fail(cmd, "out of memory") : cli_fail_status(cmd, s);
    }
    if (ids_only) {
        for (int i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
        putchar('\n');
    } else {
        for (int i = 0; i < n; i++) {
            size_t pl;
            const char *p = st_token_piece(t, ids[i], &pl);
            printf("%6d -> '", ids[i]);
            print_piece(p, pl);
            printf("'\n");
        }
    }
    if (show_count) printf("Total number of tokens: %d\n", n);
    free(ids);
    free(owned);
    st_tokenizer_free(t);
    return 0;
}

static const char detokenize_usage[] =
    "usage: softthink detokenize -m MODEL_OR_VOCAB [--ids \"1 2 3\"] [options]\n"
    "  -m, --model PATH    .gguf model or vocabulary, Hugging Face tokenizer directory, or llama2.c .bin\n"
    "  --ids LIST          token ids, separated by spaces or commas (default: read from standard input)\n"
    "  --special           show control tokens (<|im_end|>, <s>) as their text\n"
    "  --keep-space        SentencePiece: keep the space the tokenizer put before the text\n"
    "  --no-newline        do not end the output with a newline\n";

int cmd_detokenize(int argc, char **argv) {
    const char *cmd = "detokenize", *model = NULL, *ids_arg = NULL;
    unsigned flags = 0;
    int newline = 1;
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "-m", &model) || cli_opt(argc, argv, &i, "--model", &model)) {
            if (!model) return cli_fail(cmd, "-m needs a path");
            continue;
        }
        if (cli_opt(argc, argv, &i, "--ids", &ids_arg)) {
            if (!ids_arg) return cli_fail(cmd, "--ids needs a value");
            continue;
        }
        if (cli_flag(argv, i, "--special")) { flags |= ST_DETOK_SPECIAL; continue; }
        if (cli_flag(argv, i, "--keep-space")) { flags |= ST_DETOK_KEEP_SPACE; continue; }
        if (cli_flag(argv, i, "--no-newline")) { newline = 0; continue; }
        if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) { fputs(detokenize_usage, stdout); return 0; }
        return cli_fail(cmd, "unknown option '%s' (see --help)", argv[i]);
    }
    if (!model) return cli_fail(cmd, "no model given (-m MODEL_OR_VOCAB)");
    char *owned = NULL;
    if (!ids_arg) {
        size_t n;
        if (!(owned = read_stdin(cmd, &n))) return 1;
        /* llama-tokenize prints "[1, 2, 3]": accept the brackets too */
        for (char *p = owned; *p; p++)
            if (*p == '[' || *p == ']' || *p == '\r') *p = ' ';
        ids_arg = owned;
    }
    st_token *ids;
    int n;
    if (cli_parse_ids(cmd, ids_arg, &ids, &n)) { free(owned); return 1; }
    st_tokenizer *t;
    st_status s = st_tokenizer_load_file(model, &t);
    if (s != ST_OK) { free(ids); free(owned); return cli_fail_status(cmd, s); }
    size_t need = 0;
    s = st_detokenize(t, ids, n, flags, NULL, 0, &need);
    char *text = NULL;
    if (s == ST_OK || s == ST_E_FULL) {
        text = malloc(need + 1);
        s = text ? st_detokenize(t, ids, n, flags, text, need + 1, &need) : ST_E_NOMEM;
    }
    int rc = 0;
    if (s != ST_OK) rc = s == ST_E_NOMEM ? cli_fail(cmd, "out of memory") : cli_fail_status(cmd, s);
    else {
        fwrite(text, 1, need, stdout);
        if (newline) putchar('\n');
    }
    free(text);
    free(ids);
    free(owned);
    st_tokenizer_free(t);
    return rc;
}
