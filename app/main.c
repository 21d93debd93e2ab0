/* softthink CLI entry: dispatch to app/cmd_<name>.c. */
#include "cli.h"

int cmd_info(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_trace_view(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_task(int argc, char **argv);

static const struct { const char *name; cli_cmd_fn fn; const char *help; } commands[] = {
    {"generate", cmd_generate, "generate tokens from a prompt"},
    {"chat", cmd_chat, "interactive chat (history, --system, --think/--no-think, soft thinking)"},
    {"eval", cmd_eval, "accuracy of no-think / thinking / soft thinking on a task with known answers"},
    {"tokenize", cmd_tokenize, "text -> token ids"},
    {"detokenize", cmd_detokenize, "token ids -> text"},
    {"logits", cmd_logits, "write the logits of every input position (float32)"},
    {"info", cmd_info, "print a model's architecture, shapes and tensor types"},
    {"bench", cmd_bench, "measure prompt processing and decode speed"},
    {"synth", cmd_synth, "write a model with random weights in a real model's shape"},
    {"train", cmd_train, "train our small reasoning model on the arithmetic task (writes a GGUF)"},
    {"task", cmd_task, "print arithmetic reasoning problems (train/test splits, JSONL or text)"},
    {"trace-view", cmd_trace_view, "render a --trace JSONL file as a self-contained HTML page"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: softthink <command> [options]   (softthink <command> --help for its options)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 1 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "softthink: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 1;
}
