#include "cli.h"

int cmd_info(int argc, char **argv) {
    const char *model = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "-m", &model) || cli_opt(argc, argv, &i, "--model", &model)) continue;
        if (cli_flag(argv, i, "--no-repack")) { cli_repack = 0; continue; }
        if (cli_flag(argv, i, "--help")) { printf("usage: softthink info -m MODEL.gguf [--no-repack]\n"); return 0; }
        return cli_fail("info", "unknown option '%s'", argv[i]);
    }
    if (!model) return cli_fail("info", "no model given (-m MODEL.gguf)");
    st_model *m;
    st_model_params mp = st_model_default_params();
    mp.repack = cli_repack;
    st_status s = st_model_load(model, &mp, &m);
    if (s != ST_OK) return cli_fail_status("info", s);
    const st_model_info *in = st_model_get_info(m);
    printf("file:          %s\n", model);
    printf("name:          %s\n", in->name);
    printf("architecture:  %s\n", in->arch_name);
    printf("vocabulary:    %d\n", in->n_vocab);
    printf("d_model:       %d\n", in->n_embd);
    printf("layers:        %d\n", in->n_layer);
    printf("heads:         %d (kv %d, head dim %d)\n", in->n_head, in->n_head_kv, in->head_dim);
    printf("feed-forward:  %d\n", in->n_ff);
    printf("context:       %d (training)\n", in->n_ctx_train);
    printf("output:        %s\n", in->tied_output ? "tied to token embedding" : "separate matrix");
    printf("parameters:    %.2f M\n", in->n_params / 1e6);
    printf("size:          %.2f MiB file, %.2f MiB tensor data (%.2f bits/weight)\n", in->file_size / 1048576.0,
           in->weight_bytes / 1048576.0, in->n_params ? 8.0 * in->weight_bytes / in->n_params : 0.0);
    if (in->panel_bytes)
        printf("panels:        %.2f MiB of matrices repacked into 16-row panels at load (--no-repack: none)\n",
               in->panel_bytes / 1048576.0);
    printf("tensor types: ");
    for (int t = 0; t < ST_TYPE_COUNT; t++)
        if (in->type_counts[t]) printf(" %s×%d", st_type_name(t), in->type_counts[t]);
    printf("\n");
    st_model_free(m);
    return 0;
}
