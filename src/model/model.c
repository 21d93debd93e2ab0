#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../core/status.h"
#include "../kernels/kernels.h"

static const char *const arch_names[ST_ARCH_COUNT] = {"llama", "qwen2", "qwen3", "gpt2"};

st_model_params st_model_default_params(void) { return (st_model_params){.use_mmap = 1, .repack = 1}; }

static const char *arch_of(const st_model *m) { return arch_names[m->info.arch]; }

st_status st_model_u32(const st_model *m, const char *suffix, int *out, int required, int dflt) {
    char key[256];
    snprintf(key, sizeof key, "%s.%s", arch_of(m), suffix);
    if (!st_gguf_find(m->gguf, key)) {
        if (required) return st_errorf(ST_E_FORMAT, "%s: missing metadata key '%s'", st_gguf_path(m->gguf), key);
        *out = dflt;
        return ST_OK;
    }
    uint32_t v;
    ST_TRY(st_gguf_get_u32(m->gguf, key, &v));
    if (v > (1u << 30)) return st_errorf(ST_E_FORMAT, "%s: metadata '%s' = %u is out of range", st_gguf_path(m->gguf), key, v);
    *out = (int)v;
    return ST_OK;
}

st_status st_model_f32(const st_model *m, const char *suffix, float *out, int required, float dflt) {
    char key[256];
    snprintf(key, sizeof key, "%s.%s", arch_of(m), suffix);
    if (!st_gguf_find(m->gguf, key)) {
        if (required) return st_errorf(ST_E_FORMAT, "%s: missing metadata key '%s'", st_gguf_path(m->gguf), key);
        *out = dflt;
        return ST_OK;
    }
    return st_gguf_get_f32(m->gguf, key, out);
}

st_status st_model_read_shape(st_model *m, int ctx_required, int dflt_ctx) {
    st_hparams *hp = &m->hp;
    ST_TRY(st_model_u32(m, "embedding_length", &hp->n_embd, 1, 0));
    ST_TRY(st_model_u32(m, "block_count", &hp->n_layer, 1, 0));
    ST_TRY(st_model_u32(m, "feed_forward_length", &hp->n_ff, 1, 0));
    ST_TRY(st_model_u32(m, "attention.head_count", &hp->n_head, 1, 0));
    ST_TRY(st_model_u32(m, "attention.head_count_kv", &hp->n_head_kv, 0, hp->n_head));
    ST_TRY(st_model_u32(m, "context_length", &hp->n_ctx_train, ctx_required, dflt_ctx));
    if (hp->n_embd < 1 || hp->n_layer < 1 || hp->n_head < 1 || hp->n_head_kv < 1 || hp->n_ff < 1 || hp->n_ctx_train < 1)
        return st_errorf(ST_E_FORMAT, "%s: invalid shape: n_embd %d, n_layer %d, n_head %d, n_head_kv %d, n_ff %d, context %d",
                         st_gguf_path(m->gguf), hp->n_embd, hp->n_layer, hp->n_head, hp->n_head_kv, hp->n_ff,
                         hp->n_ctx_train);
    return ST_OK;
}

st_status st_model_read_vocab(st_model *m) {
    const st_gguf_tensor *te = st_gguf_find_tensor(m->gguf, "token_embd.weight");
    if (!te) return st_errorf(ST_E_FORMAT, "%s: missing tensor 'token_embd.weight'", st_gguf_path(m->gguf));
    if (te->ne[1] < 1 || te->ne[1] > (1 << 24))
        return st_errorf(ST_E_FORMAT, "%s: token_embd.weight vocabulary size %lld invalid", st_gguf_path(m->gguf),
                         (long long)te->ne[1]);
    m->hp.n_vocab = (int)te->ne[1];
    return ST_OK;
}

static st_status own(st_model *m, float *p) {
    if (m->n_owned == m->cap_owned) {
        int cap = m->cap_owned ? 2 * m->cap_owned : 64;
        float **q = realloc(m->owned, (size_t)cap * sizeof *q);
        if (!q) { free(p); return st_errorf(ST_E_NOMEM, "out of memory"); }
        m->owned = q;
        m->cap_owned = cap;
    }
    m->owned[m->n_owned++] = p;
    return ST_OK;
}

st_status st_model_weight(st_model *m, st_weight *w, const char *name, int64_t cols, int64_t rows, int required) {
    const char *path = st_gguf_path(m->gguf);
    const st_gguf_tensor *t = st_gguf_find_tensor(m->gguf, name);
    *w = (st_weight){0};
    if (!t) {
        if (required) return st_errorf(ST_E_FORMAT, "%s: missing tensor '%s' (architecture %s)", path, name, arch_of(m));
        return ST_OK;
    }
    if (t->n_dims != 2 || t->ne[0] != cols || t->ne[1] != rows)
        return st_errorf(ST_E_FORMAT, "%s: tensor '%s' has shape [%lld, %lld] (%d dims), expected [%lld, %lld]", path, name,
                         (long long)t->ne[0], (long long)t->ne[1], t->n_dims, (long long)cols, (long long)rows);
    const st_type_traits *tr = st_type_traits_get(t->type);
    if (!tr || !tr->compute)
        return st_errorf(ST_E_UNSUPPORTED, "%s: tensor '%s' has type %s, which softthink cannot compute with", path, name,
                         tr ? tr->name : "unknown");
    *w = (st_weight){.data = t->data, .type = t->type, .ne = {cols, rows}, .name = t->name};
    return ST_OK;
}

st_status st_model_vector(st_model *m, float **out, const char *name, int64_t n, int required) {
    const char *path = st_gguf_path(m->gguf);
    const st_gguf_tensor *t = st_gguf_find_tensor(m->gguf, name);
    *out = NULL;
    if (!t) {
        if (required) return st_errorf(ST_E_FORMAT, "%s: missing tensor '%s' (architecture %s)", path, name, arch_of(m));
        return ST_OK;
    }
    if (t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3] != n || t->ne[0] != n)
        return st_errorf(ST_E_FORMAT, "%s: tensor '%s' has %lld elements, expected a vector of %lld", path, name,
                         (long long)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]), (long long)n);
    const st_type_traits *tr = st_type_traits_get(t->type);
    if (!tr || !tr->to_float || n % tr->blck_size)
        return st_errorf(ST_E_UNSUPPORTED, "%s: tensor '%s' has type %s, which cannot be converted to f32", path, name,
                         tr ? tr->name : "unknown");
    float *v = malloc((size_t)n * sizeof(float));
    if (!v) return st_errorf(ST_E_NOMEM, "out of memory loading '%s'", name);
    tr->to_float(t->data, v, n);
    ST_TRY(own(m, v));
    *out = v;
    return ST_OK;
}

static st_status fill_info(st_model *m) {
    st_model_info *in = &m->info;
    const st_hparams *hp = &m->hp;
    in->arch_name = arch_of(m);
    const st_gguf_kv *kv = st_gguf_find(m->gguf, "general.name");
    in->name = kv && kv->value.type == ST_GGUF_STRING ? kv->value.v.str.s : "";
    in->n_vocab = hp->n_vocab;
    in->n_embd = hp->n_embd;
    in->n_layer = hp->n_layer;
    in->n_head = hp->n_head;
    in->n_head_kv = hp->n_head_kv;
    in->head_dim = hp->head_dim;
    in->n_ff = hp->n_ff;
    in->n_ctx_train = hp->n_ctx_train;
    in->tied_output = m->output.data == m->tok_embd.data;
    in->file_size = st_gguf_file_size(m->gguf);
    for (int64_t i = 0; i < st_gguf_n_tensors(m->gguf); i++) {
        const st_gguf_tensor *t = st_gguf_tensor_at(m->gguf, i);
        in->n_params += (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
        in->weight_bytes += t->nbytes;
        if ((int)t->type >= 0 && t->type < ST_TYPE_COUNT) in->type_counts[t->type]++;
    }
    return ST_OK;
}

/* The matrices every forward pass multiplies by (not token_embd, whose rows
 * are looked up: a tied output gets a packed copy of its own). */
static int model_matrices(st_model *m, st_weight **w, int cap) {
    int n = 0;
    for (int l = 0; l < m->hp.n_layer; l++) {
        st_layer *L = &m->layers[l];
        st_weight *ws[] = {&L->wq, &L->wk, &L->wv, &L->wqkv, &L->wo, &L->ffn_gate, &L->ffn_up, &L->ffn_down};
        for (size_t i = 0; i < sizeof ws / sizeof *ws; i++)
            if (ws[i]->data && n < cap) w[n++] = ws[i];
    }
    if (m->output.data && n < cap) w[n++] = &m->output;
    return n;
}

/* Packing threads: each packs its share of every matrix's panels and hands
 * back the file pages inside that share as it passes them. */
#define PACK_MAX_THREADS 4
typedef struct pack_share {
    st_weight *const *w; /* [n] the matrices to pack (rows still in the mapping) */
    uint8_t *const *dst; /* [n] where each one's panels go */
    int n, ith, nth;
} pack_share;

static void *pack_run(void *arg) {
    const pack_share *sh = arg;
    const size_t page = (size_t)sysconf(_SC_PAGESIZE), step = (size_t)4 << 20;
    for (int i = 0; i < sh->n; i++) {
        const st_weight *x = sh->w[i];
        const size_t pb = st_panel_bytes(x->type, x->ne[0]), rb = st_row_size(x->type, x->ne[0]);
        const int64_t np = (x->ne[1] + ST_PANEL_ROWS - 1) / ST_PANEL_ROWS;
        const int64_t lo = np * sh->ith / sh->nth, hi = np * (sh->ith + 1) / sh->nth;
        const uint8_t *src = x->data;
        /* whole pages inside this share's rows, released every few MiB (so
         * that the peak is not file + panels); a page shared with the next
         * share stays */
        uintptr_t done = ((uintptr_t)src + (size_t)lo * ST_PANEL_ROWS * rb + page - 1) & ~(uintptr_t)(page - 1);
        for (int64_t p = lo; p < hi; p++) {
            const int64_t r = p * ST_PANEL_ROWS, re = r + ST_PANEL_ROWS < x->ne[1] ? r + ST_PANEL_ROWS : x->ne[1];
            st_panel_pack(x->type, x->ne[0], src + (size_t)r * rb, rb, re - r, sh->dst[i] + (size_t)p * pb);
            const uintptr_t upto = ((uintptr_t)src + rb * (size_t)re) & ~(uintptr_t)(page - 1);
            if (upto > done && (upto >= done + step || p + 1 == hi)) {
                madvise((void *)done, upto - done, MADV_DONTNEED);
                done = upto;
            }
        }
    }
    return NULL;
}

/* Copy the matrices the best kernel table reads faster as panels into one
 * allocation of panels (quant.h), a few threads at once (Qwen2.5-0.5B Q8_0:
 * 0.65 s on one), handing the file's pages of those matrices back to the
 * kernel as packing passes them (they were read once, to pack), so that
 * memory stays near the file's size. An untied token_embd stays in the
 * mapping, its rows faulted in as they are looked up. */
static st_status pack_weights(st_model *m) {
    const st_kernels *k = st_kernels_best();
    const int cap = 8 * m->hp.n_layer + 1;
    st_weight **all = malloc((size_t)cap * sizeof *all), **w = malloc((size_t)cap * sizeof *w);
    uint8_t **dst = malloc((size_t)cap * sizeof *dst);
    if (!all || !w || !dst) {
        free(all); free(w); free(dst);
        return st_errorf(ST_E_NOMEM, "out of memory");
    }
    const int n_all = model_matrices(m, all, cap);
    int n = 0;
    size_t total = 0;
    for (int i = 0; i < n_all; i++) {
        const size_t pb = st_panel_bytes(all[i]->type, all[i]->ne[0]);
        if (!pb || !k->gemm_packed[all[i]->type]) continue;
        w[n] = all[i];
        dst[n++] = (uint8_t *)(uintptr_t)total; /* an offset until the buffer exists */
        total += pb * (size_t)((all[i]->ne[1] + ST_PANEL_ROWS - 1) / ST_PANEL_ROWS);
    }
    free(all);
    if (!total) goto done;
    /* 2 MiB aligned, so that the weights can sit on huge pages */
    const size_t huge = (size_t)2 << 20;
    void *buf = NULL;
    /* no room for a second copy while packing: run on the file's rows
     * (slower batches, the same results) rather than fail the load */
    if (posix_memalign(&buf, huge, (total + huge - 1) & ~(huge - 1))) goto done;
#ifdef MADV_HUGEPAGE
    madvise(buf, (total + huge - 1) & ~(huge - 1), MADV_HUGEPAGE);
#endif
    m->panels = buf;
    m->info.panel_bytes = total;
    for (int i = 0; i < n; i++) dst[i] = (uint8_t *)buf + (uintptr_t)dst[i];
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int nth = cpus < 1 ? 1 : cpus > PACK_MAX_THREADS ? PACK_MAX_THREADS : (int)cpus;
    if (total < ((size_t)256 << 10)) nth = 1; /* tiny models: not worth a thread (the test models use them) */
    pack_share sh[PACK_MAX_THREADS];
    pthread_t tid[PACK_MAX_THREADS];
    int started[PACK_MAX_THREADS] = {0};
    for (int t = 0; t < nth; t++) sh[t] = (pack_share){w, dst, n, t, nth};
    for (int t = 1; t < nth; t++) started[t] = pthread_create(&tid[t], NULL, pack_run, &sh[t]) == 0;
    pack_run(&sh[0]);
    for (int t = 1; t < nth; t++) {
        if (started[t]) pthread_join(tid[t], NULL);
        else pack_run(&sh[t]); /* no thread: its share here */
    }
    for (int i = 0; i < n; i++) {
        w[i]->data = dst[i];
        w[i]->packed = 1;
    }
    /* a tied embedding looks its rows up in the output's panels: the file's
     * pages stay released (each lookup would fault in 64 KiB around its row) */
    if (m->info.tied_output && m->output.packed) {
        m->tok_embd.data = m->output.data;
        m->tok_embd.packed = 1;
    }
done:
    free(w);
    free(dst);
    return ST_OK;
}

st_status st_model_load(const char *path, const st_model_params *params, st_model **out) {
    *out = NULL;
    if (!path) return st_errorf(ST_E_ARG, "model path is NULL");
    st_model *m = calloc(1, sizeof *m);
    if (!m) return st_errorf(ST_E_NOMEM, "out of memory");
    st_status s = st_gguf_open(path, &m->gguf);
    if (s != ST_OK) { free(m); return s; }

    const char *arch = NULL;
    s = st_gguf_get_str(m->gguf, "general.architecture", &arch);
    if (s != ST_OK) goto fail;
    int a = -1;
    for (int i = 0; i < ST_ARCH_COUNT; i++)
        if (!strcmp(arch, arch_names[i])) a = i;
    if (a < 0) {
        s = st_errorf(ST_E_UNSUPPORTED, "%s: architecture '%s' is not supported (supported: llama, qwen2, qwen3, gpt2)", path, arch);
        goto fail;
    }
    m->info.arch = (st_arch)a;
    s = a == ST_ARCH_GPT2 ? st_arch_gpt2_load(m) : st_arch_llama_load(m, (st_arch)a);
    if (s != ST_OK) goto fail;
    fill_info(m);
    if (!params || params->repack) {
        s = pack_weights(m);
        if (s != ST_OK) goto fail;
    }
    *out = m;
    return ST_OK;
fail:
    st_model_free(m);
    return s;
}

void st_model_free(st_model *m) {
    if (!m) return;
    for (int i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    free(m->layers);
    free(m->panels);
    st_gguf_close(m->gguf);
    free(m);
}

const st_model_info *st_model_get_info(const st_model *m) { return &m->info; }
const struct st_gguf *st_model_gguf(const st_model *m) { return m->gguf; }

/* Elements [c, c + len) of token tok's embedding (c a multiple of 256, len
 * <= 256: whole blocks of every type). */
static void embd_chunk(const st_model *m, st_token tok, int64_t c, int64_t len, float *out) {
    const st_weight *e = &m->tok_embd;
    const st_type_traits *tr = st_type_traits_get(e->type);
    if (!e->packed) {
        const char *row = (const char *)e->data + (size_t)tok * st_row_size(e->type, e->ne[0]);
        tr->to_float(row + (size_t)(c / tr->blck_size) * tr->type_size, out, len);
        return;
    }
    uint8_t blocks[512]; /* 256 elements of any panel type: at most 8 x 34 bytes */
    const uint8_t *panel = (const uint8_t *)e->data + (size_t)(tok / ST_PANEL_ROWS) * st_panel_bytes(e->type, e->ne[0]);
    st_panel_unpack_blocks(e->type, e->ne[0], panel, tok % ST_PANEL_ROWS, c / tr->blck_size, len / tr->blck_size, blocks);
    tr->to_float(blocks, out, len);
}

void st_model_embd_row(const st_model *m, st_token tok, float *out) {
    const int64_t d = m->tok_embd.ne[0];
    for (int64_t c = 0; c < d; c += 256) embd_chunk(m, tok, c, d - c < 256 ? d - c : 256, out + c);
}


st_status st_model_embed_token(const st_model *m, st_token tok, float *out) {
    if (tok < 0 || tok >= m->hp.n_vocab)
        return st_errorf(ST_E_ARG, "token id %d out of range [0, %d)", tok, m->hp.n_vocab);
    st_model_embd_row(m, tok, out);
    return ST_OK;
}

st_status st_model_embed_mixture(const st_model *m, int k, const st_token *ids, const float *w, float *out) {
    int d = m->hp.n_embd;
    if (k < 1) return st_errorf(ST_E_ARG, "mixture of %d embeddings", k);
    for (int j = 0; j < k; j++)
        if (ids[j] < 0 || ids[j] >= m->hp.n_vocab)
            return st_errorf(ST_E_ARG, "mixture token id %d out of range [0, %d)", ids[j], m->hp.n_vocab);
    /* dequantize in chunks of 256 (a multiple of every block size) so a soft
     * step needs no allocation */
    float tmp[256];
    memset(out, 0, (size_t)d * sizeof(float));
    for (int j = 0; j < k; j++)
        for (int c = 0; c < d; c += 256) {
            int len = d - c < 256 ? d - c : 256;
            embd_chunk(m, ids[j], c, len, tmp);
            for (int i = 0; i < len; i++) out[c + i] += w[j] * tmp[i];
        }
    return ST_OK;
}
