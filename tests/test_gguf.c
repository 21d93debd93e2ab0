/* GGUF reader and writer: real files from the shared fixtures, a writer round
 * trip over every value type, and a battery of corrupted images that must be
 * rejected with a message naming the offending field. */
#include <glob.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include "core/fp16.h"
#include "core/status.h"
#include "gguf/gguf.h"
#include "softthink.h"
#include "test.h"

/* ------------------------------------------------------------ helpers */

static const char *tmp_path(const char *tag) {
    static char buf[4][512];
    static int k;
    const char *dir = getenv("TMPDIR");
    char *b = buf[k++ & 3];
    snprintf(b, sizeof buf[0], "%s/softthink_test_gguf_%d_%s.gguf", dir && *dir ? dir : "/tmp", (int)getpid(),
             tag);
    return b;
}

static int has(const char *needle) { return strstr(st_last_error(), needle) != NULL; }

static int fixed_size(st_gguf_vtype t) {
    static const int sz[ST_GGUF_VTYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return sz[t];
}

/* Deep comparison of two values (numeric array data compared as file bytes). */
static int value_eq(const st_gguf_value *a, const st_gguf_value *b) {
    if (a->type != b->type) return 0;
    switch (a->type) {
    case ST_GGUF_I8: case ST_GGUF_I16: case ST_GGUF_I32: case ST_GGUF_I64: return a->v.i == b->v.i;
    case ST_GGUF_F32: case ST_GGUF_F64: return memcmp(&a->v.f, &b->v.f, sizeof a->v.f) == 0;
    case ST_GGUF_STRING:
        return a->v.str.len == b->v.str.len && !memcmp(a->v.str.s, b->v.str.s, a->v.str.len) &&
               a->v.str.s[a->v.str.len] == 0 && b->v.str.s[b->v.str.len] == 0;
    case ST_GGUF_ARRAY: break;
    default: return a->v.u == b->v.u;
    }
    st_gguf_vtype et = a->v.arr.type;
    uint64_t n = a->v.arr.n;
    if (et != b->v.arr.type || n != b->v.arr.n) return 0;
    if (et == ST_GGUF_STRING) {
        for (uint64_t i = 0; i < n; i++) {
            uint64_t la = a->v.arr.str_lens ? a->v.arr.str_lens[i] : strlen(a->v.arr.strs[i]);
            uint64_t lb = b->v.arr.str_lens ? b->v.arr.str_lens[i] : strlen(b->v.arr.strs[i]);
            if (la != lb || memcmp(a->v.arr.strs[i], b->v.arr.strs[i], la)) return 0;
        }
        return 1;
    }
    if (et == ST_GGUF_ARRAY) {
        for (uint64_t i = 0; i < n; i++)
            if (!value_eq(&a->v.arr.items[i], &b->v.arr.items[i])) return 0;
        return 1;
    }
    return n == 0 || !memcmp(a->v.arr.data, b->v.arr.data, n * (uint64_t)fixed_size(et));
}

/* Same metadata and tensors; `skip` names a key one side may lack. */
static int gguf_eq(const st_gguf *a, const st_gguf *b, const char *skip) {
    int64_t na = 0, nb = 0;
    for (int64_t i = 0; i < st_gguf_n_kv(a); i++) {
        const st_gguf_kv *ka = st_gguf_kv_at(a, i);
        if (skip && !strcmp(ka->key, skip)) continue;
        const st_gguf_kv *kb = st_gguf_find(b, ka->key);
        if (!kb || !value_eq(&ka->value, &kb->value)) {
            fprintf(stderr, "  kv '%s' differs\n", ka->key);
            return 0;
        }
        na++;
    }
    for (int64_t i = 0; i < st_gguf_n_kv(b); i++) nb += !(skip && !strcmp(st_gguf_kv_at(b, i)->key, skip));
    if (na != nb || st_gguf_n_tensors(a) != st_gguf_n_tensors(b)) return 0;
    for (int64_t i = 0; i < st_gguf_n_tensors(a); i++) {
        const st_gguf_tensor *ta = st_gguf_tensor_at(a, i), *tb = st_gguf_find_tensor(b, ta->name);
        if (!tb || ta->type != tb->type || ta->n_dims != tb->n_dims || memcmp(ta->ne, tb->ne, sizeof ta->ne) ||
            ta->nbytes != tb->nbytes || memcmp(ta->data, tb->data, ta->nbytes)) {
            fprintf(stderr, "  tensor '%s' differs\n", ta->name);
            return 0;
        }
    }
    return 1;
}

/* Copies every kv and tensor of g into a new file at path. */
static st_status copy_gguf(const st_gguf *g, const char *path) {
    st_gguf_writer *w;
    ST_TRY(st_gguf_writer_init(&w));
    st_status s = ST_OK;
    for (int64_t i = 0; i < st_gguf_n_kv(g) && !s; i++) s = st_gguf_writer_set_kv(w, st_gguf_kv_at(g, i));
    for (int64_t i = 0; i < st_gguf_n_tensors(g) && !s; i++) {
        const st_gguf_tensor *t = st_gguf_tensor_at(g, i);
        s = st_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, t->nbytes);
    }
    if (!s) s = st_gguf_writer_write(w, path);
    st_gguf_writer_free(w);
    return s;
}

/* Reads every byte a consumer may read; returns a checksum so it is not optimized out. */
static unsigned touch_all(const st_gguf *g) {
    unsigned sum = 0;
    for (int64_t i = 0; i < st_gguf_n_tensors(g); i++) {
        const st_gguf_tensor *t = st_gguf_tensor_at(g, i);
        if (t->nbytes) sum += ((const uint8_t *)t->data)[0] + ((const uint8_t *)t->data)[t->nbytes - 1];
    }
    for (int64_t i = 0; i < st_gguf_n_kv(g); i++) sum += (unsigned)strlen(st_gguf_kv_at(g, i)->key);
    return sum;
}

/* ------------------------------------------------------------ shared fixtures */

static void check_tensors_sane(const st_gguf *g, const char *file) {
    int bad = 0;
    for (int64_t i = 0; i < st_gguf_n_tensors(g); i++) {
        const st_gguf_tensor *t = st_gguf_tensor_at(g, i);
        bad += st_gguf_find_tensor(g, t->name) != t;
        bad += t->offset % st_gguf_alignment(g) != 0;
        bad += st_gguf_data_offset(g) + t->offset + t->nbytes > st_gguf_file_size(g);
    }
    CHECKF(bad == 0, "%s: %d tensor inconsistencies", file, bad);
}

static void test_synthetic_models(void) {
    glob_t gl;
    char pattern[1100];
    snprintf(pattern, sizeof pattern, "%s", t_shared("golden/synthetic/*.gguf"));
    int rc = glob(pattern, 0, NULL, &gl);
    CHECKF(rc == 0 && gl.gl_pathc >= 10, "expected synthetic models at %s", pattern);
    if (rc) return;
    for (size_t i = 0; i < gl.gl_pathc; i++) {
        const char *path = gl.gl_pathv[i];
        st_gguf *g = NULL;
        st_status s = st_gguf_open(path, &g);
        CHECKF(s == ST_OK, "%s: %s", path, st_last_error());
        if (s) continue;
        const char *arch = NULL, *base = strrchr(path, '/') + 1;
        CHECK_OK(st_gguf_get_str(g, "general.architecture", &arch));
        CHECKF(arch && !strncmp(base + 4, arch, strlen(arch)), "%s: architecture %s", base, arch ? arch : "?");
        CHECK(st_gguf_version(g) == 3);
        CHECK(st_gguf_n_tensors(g) > 0);
        CHECK(st_gguf_arr_len(g, "tokenizer.ggml.tokens") == 512);
        const st_gguf_tensor *te = st_gguf_find_tensor(g, "token_embd.weight");
        CHECKF(te && te->n_dims == 2 && te->ne[0] == 256 && te->ne[1] == 512, "%s: token_embd.weight shape", base);
        check_tensors_sane(g, base);
        st_gguf_close(g);
    }
    globfree(&gl);
}

static void test_syn_llama_f32(void) {
    st_gguf *g = NULL;
    CHECK_OK(st_gguf_open(t_shared("golden/synthetic/syn-llama.f32.gguf"), &g));
    if (!g) return;
    const char *arch = NULL;
    CHECK_OK(st_gguf_get_str(g, "general.architecture", &arch));
    CHECK(arch && !strcmp(arch, "llama"));
    uint32_t n_embd = 0, n_layer = 0;
    CHECK_OK(st_gguf_get_u32(g, "llama.embedding_length", &n_embd));
    CHECK_OK(st_gguf_get_u32(g, "llama.block_count", &n_layer));
    CHECK(n_embd == 256 && n_layer == 2);
    float freq = 0;
    CHECK_OK(st_gguf_get_f32(g, "llama.rope.freq_base", &freq));
    CHECK(freq == 10000.0f);
    CHECK(st_gguf_n_tensors(g) == 21);
    const st_gguf_tensor *te = st_gguf_find_tensor(g, "token_embd.weight");
    CHECK(te && te->type == ST_TYPE_F32 && te->nbytes == 256 * 512 * 4 && te->ne[2] == 1 && te->ne[3] == 1);
    const char *const *toks = NULL;
    const uint64_t *lens = NULL;
    uint64_t n = 0;
    CHECK_OK(st_gguf_get_arr_str(g, "tokenizer.ggml.tokens", &toks, &lens, &n));
    CHECK(n == 512 && !strcmp(toks[1], "<s>") && lens[1] == 3);
    float scores[512];
    CHECK_OK(st_gguf_get_arr_f32(g, "tokenizer.ggml.scores", scores, 512, &n));
    int32_t types[512];
    CHECK_OK(st_gguf_get_arr_i32(g, "tokenizer.ggml.token_type", types, 512, &n));
    CHECK(n == 512 && types[0] == 2 && types[1] == 3);
    CHECK(st_gguf_find(g, "no.such.key") == NULL && st_gguf_find_tensor(g, "no.such.tensor") == NULL);
    CHECK(st_gguf_kv_at(g, -1) == NULL && st_gguf_kv_at(g, st_gguf_n_kv(g)) == NULL);
    CHECK(st_gguf_tensor_at(g, st_gguf_n_tensors(g)) == NULL);
    st_gguf_close(g);
}

/* Tensor bytes must match the reference reader's dequantization bit for bit. */
static void check_half_tensor(const char *model, const char *tensor, const char *ref, int bf16) {
    st_gguf *g = NULL;
    CHECK_OK(st_gguf_open(t_shared(model), &g));
    size_t ref_size = 0;
    float *want = t_read_file(t_shared(ref), &ref_size);
    CHECKF(want != NULL, "missing %s", ref);
    const st_gguf_tensor *t = g ? st_gguf_find_tensor(g, tensor) : NULL;
    CHECKF(t && t->type == (bf16 ? ST_TYPE_BF16 : ST_TYPE_F16), "%s: %s type", model, tensor);
    if (g && want && t) {
        size_t n = ref_size / 4, bad = 0;
        CHECK(t->nbytes == n * 2);
        for (size_t i = 0; i < n && t->nbytes == n * 2; i++) {
            uint16_t h;
            memcpy(&h, (const uint8_t *)t->data + 2 * i, 2);
            float f = bf16 ? st_bf16_to_f32(h) : st_f16_to_f32(h);
            bad += memcmp(&f, &want[i], 4) != 0;
        }
        CHECKF(bad == 0, "%s %s: %zu values differ from %s", model, tensor, bad, ref);
    }
    free(want);
    st_gguf_close(g);
}

static void test_quantized_types(void) {
    check_half_tensor("golden/synthetic/syn-llama.f16.gguf", "blk.0.attn_q.weight",
                      "golden/synthetic/syn-llama.f16.blk.0.attn_q.F16.dequant.f32", 0);
    check_half_tensor("golden/synthetic/syn-llama.bf16.gguf", "blk.1.ffn_down.weight",
                      "golden/synthetic/syn-llama.bf16.blk.1.ffn_down.BF16.dequant.f32", 1);
    st_gguf *g = NULL;
    CHECK_OK(st_gguf_open(t_shared("golden/synthetic/syn-llama.q4_0.gguf"), &g));
    if (!g) return;
    const st_gguf_tensor *q = st_gguf_find_tensor(g, "blk.0.attn_q.weight");
    const st_gguf_tensor *o = st_gguf_find_tensor(g, "output.weight");
    CHECK(q && q->type == ST_TYPE_Q4_0 && q->nbytes == 256 / 32 * 18 * 256);
    CHECK(o && o->type == ST_TYPE_Q6_K && o->nbytes == 256 / 256 * 210 * 512);
    st_gguf_close(g);
}

static void test_stories(void) {
    st_gguf *g = NULL;
    CHECK_OK(st_gguf_open(t_shared("models/stories260K.gguf"), &g));
    if (!g) return;
    uint32_t v = 0;
    CHECK_OK(st_gguf_get_u32(g, "llama.embedding_length", &v));
    CHECK(v == 64);
    CHECK_OK(st_gguf_get_u32(g, "llama.block_count", &v));
    CHECK(v == 5);
    CHECK_OK(st_gguf_get_u32(g, "tokenizer.ggml.seperator_token_id", &v));
    CHECK(v == UINT32_MAX);
    CHECK(st_gguf_arr_len(g, "tokenizer.ggml.tokens") == 512);
    CHECK(st_gguf_n_tensors(g) == 48);
    const st_gguf_tensor *te = st_gguf_find_tensor(g, "token_embd.weight");
    CHECK(te && te->ne[0] == 64 && te->ne[1] == 512);
    check_tensors_sane(g, "stories260K.gguf");
    st_gguf_close(g);
}

static void test_qwen_vocab(void) {
    st_gguf *g = NULL;
    CHECK_OK(st_gguf_open(t_shared("tokenizers/qwen3-vocab.gguf"), &g));
    if (!g) return;
    const char *const *toks = NULL;
    const uint64_t *lens = NULL;
    uint64_t n = 0;
    CHECK_OK(st_gguf_get_arr_str(g, "tokenizer.ggml.tokens", &toks, &lens, &n));
    CHECK(n == 151936);
    if (n == 151936) {
        CHECK(!strcmp(toks[151643], "<|endoftext|>") && !strcmp(toks[151667], "<think>"));
        CHECK(lens[151668] == 8 && !strcmp(toks[151668], "</think>"));
    }
    CHECK(st_gguf_arr_len(g, "tokenizer.ggml.merges") == 151387);
    const char *pre = NULL;
    CHECK_OK(st_gguf_get_str(g, "tokenizer.ggml.pre", &pre));
    CHECK(pre && !strcmp(pre, "qwen2"));
    int add_bos = -1;
    CHECK_OK(st_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &add_bos));
    CHECK(add_bos == 0);
    CHECK(st_gguf_n_tensors(g) == 0);
    /* a 150k-string vocabulary survives a copy through the writer */
    const char *path = tmp_path("qwen");
    CHECK_OK(copy_gguf(g, path));
    st_gguf *c = NULL;
    CHECK_OK(st_gguf_open(path, &c));
    CHECK(c && gguf_eq(g, c, "general.alignment"));
    st_gguf_close(c);
    remove(path);
    st_gguf_close(g);
}

/* Vocabulary-only files from llama.cpp have no tensors and no data padding. */
static void test_llamacpp_vocabs(void) {
    glob_t gl;
    char pattern[1100];
    snprintf(pattern, sizeof pattern, "%s", t_shared("tokenizers/llamacpp/*.gguf"));
    int rc = glob(pattern, 0, NULL, &gl);
    CHECKF(rc == 0 && gl.gl_pathc > 0, "expected vocab files at %s", pattern);
    if (rc) return;
    int bad = 0;
    for (size_t i = 0; i < gl.gl_pathc; i++) {
        st_gguf *g = NULL;
        if (st_gguf_open(gl.gl_pathv[i], &g)) {
            fprintf(stderr, "  %s\n", st_last_error());
            bad++;
            continue;
        }
        bad += st_gguf_arr_len(g, "tokenizer.ggml.tokens") == 0;
        st_gguf_close(g);
    }
    CHECKF(bad == 0, "%d of %zu vocab files failed", bad, gl.gl_pathc);
    globfree(&gl);
}

/* Copying a real quantized model through the writer changes nothing. */
static void test_copy_real_model(void) {
    st_gguf *g = NULL, *c = NULL;
    CHECK_OK(st_gguf_open(t_shared("golden/synthetic/syn-llama.q4_k_m.gguf"), &g));
    if (!g) return;
    const char *path = tmp_path("copy");
    CHECK_OK(copy_gguf(g, path));
    CHECK_OK(st_gguf_open(path, &c));
    CHECK(c && gguf_eq(g, c, "general.alignment"));
    if (c) check_tensors_sane(c, path);
    st_gguf_close(c);
    st_gguf_close(g);
    remove(path);
}

static void test_open_errors(void) {
    st_gguf *g = (st_gguf *)1;
    CHECK(st_gguf_open("/nonexistent/dir/model.gguf", &g) == ST_E_IO && has("/nonexistent/dir/model.gguf"));
    CHECK(g == NULL);
    CHECK(st_gguf_open("/tmp", &g) == ST_E_IO && has("not a regular file"));
    const char *empty = tmp_path("empty");
    FILE *f = fopen(empty, "wb");
    if (f) fclose(f);
    CHECK(st_gguf_open(empty, &g) == ST_E_FORMAT && has(empty) && has("magic"));
    remove(empty);
    CHECK(st_gguf_open_memory(NULL, 0, "nothing.gguf", &g) == ST_E_FORMAT && has("nothing.gguf: magic"));
}

/* ------------------------------------------------------------ writer round trip */

enum { N_T = 6 };
static const struct {
    const char *name;
    st_type type;
    int n_dims;
    int64_t ne[4];
    uint64_t nbytes;
} k_tensors[N_T] = {
    {"w.f32", ST_TYPE_F32, 2, {8, 3, 1, 1}, 8 * 3 * 4},
    {"w.f16", ST_TYPE_F16, 1, {17, 1, 1, 1}, 34},
    {"w.q8_0", ST_TYPE_Q8_0, 2, {64, 2, 1, 1}, 2 * 2 * 34},
    {"w.q4_k", ST_TYPE_Q4_K, 2, {256, 1, 1, 1}, 144},
    {"w.bf16", ST_TYPE_BF16, 3, {4, 2, 3, 1}, 48},
    {"w.q6_k", ST_TYPE_Q6_K, 4, {256, 2, 1, 2}, 4 * 210},
};

static st_gguf_value arr_of(st_gguf_vtype et, uint64_t n, const void *data) {
    st_gguf_value v = {.type = ST_GGUF_ARRAY};
    v.v.arr.type = et;
    v.v.arr.n = n;
    v.v.arr.data = data;
    return v;
}

/* Values set with st_gguf_writer_set_kv, compared after reading back. */
typedef struct kvset {
    st_gguf_kv kv[16];
    int n;
    /* storage the values point into */
    st_gguf_value inner[4], innermost[1];
    uint16_t u16s[3];
    uint8_t bools[2], u8s[3];
    int8_t i8s[2];
    uint64_t u64s[2];
    double f64s[2];
    const char *strs[3];
    uint64_t lens[3];
} kvset;

static void kv_add(kvset *s, const char *key, st_gguf_value v) {
    s->kv[s->n].key = key;
    s->kv[s->n++].value = v;
}

static void make_kvset(kvset *s) {
    memset(s, 0, sizeof *s);
    kv_add(s, "t.u8", (st_gguf_value){.type = ST_GGUF_U8, .v.u = 200});
    kv_add(s, "t.i8", (st_gguf_value){.type = ST_GGUF_I8, .v.i = -100});
    kv_add(s, "t.u16", (st_gguf_value){.type = ST_GGUF_U16, .v.u = 65535});
    kv_add(s, "t.i16", (st_gguf_value){.type = ST_GGUF_I16, .v.i = -32768});
    kv_add(s, "t.u64", (st_gguf_value){.type = ST_GGUF_U64, .v.u = UINT64_MAX});
    kv_add(s, "t.i64", (st_gguf_value){.type = ST_GGUF_I64, .v.i = INT64_MIN});
    kv_add(s, "t.f64", (st_gguf_value){.type = ST_GGUF_F64, .v.f = 1.0 / 3.0});
    st_gguf_value str = {.type = ST_GGUF_STRING};
    str.v.str.s = "ab\0cd"; /* lengths, not NULs, delimit strings */
    str.v.str.len = 5;
    kv_add(s, "t.str_nul", str);
    s->strs[0] = "";
    s->strs[1] = "x\0y";
    s->strs[2] = "<think>";
    s->lens[0] = 0;
    s->lens[1] = 3;
    s->lens[2] = 7;
    st_gguf_value sa = arr_of(ST_GGUF_STRING, 3, NULL);
    sa.v.arr.strs = s->strs;
    sa.v.arr.str_lens = s->lens;
    kv_add(s, "t.arr_str_nul", sa);
    memcpy(s->u8s, (uint8_t[]){0, 1, 255}, 3);
    memcpy(s->i8s, (int8_t[]){-128, 127}, 2);
    memcpy(s->bools, (uint8_t[]){1, 0}, 2);
    s->u64s[0] = 1;
    s->u64s[1] = (uint64_t)1 << 40;
    s->f64s[0] = -0.0;
    s->f64s[1] = 1e300;
    kv_add(s, "t.arr_u8", arr_of(ST_GGUF_U8, 3, s->u8s));
    kv_add(s, "t.arr_i8", arr_of(ST_GGUF_I8, 2, s->i8s));
    kv_add(s, "t.arr_bool", arr_of(ST_GGUF_BOOL, 2, s->bools));
    kv_add(s, "t.arr_u64", arr_of(ST_GGUF_U64, 2, s->u64s));
    kv_add(s, "t.arr_f64", arr_of(ST_GGUF_F64, 2, s->f64s));
    kv_add(s, "t.arr_empty", arr_of(ST_GGUF_I16, 0, NULL));
    /* [[1,2,3] (u16), ["x\0y", ...] (string), [] (i64), [[1,0]] (array of bool)] */
    memcpy(s->u16s, (uint16_t[]){1, 2, 0xffff}, sizeof s->u16s);
    s->inner[0] = arr_of(ST_GGUF_U16, 3, s->u16s);
    s->inner[1] = sa;
    s->inner[2] = arr_of(ST_GGUF_I64, 0, NULL);
    s->innermost[0] = arr_of(ST_GGUF_BOOL, 2, s->bools);
    s->inner[3] = arr_of(ST_GGUF_ARRAY, 1, NULL);
    s->inner[3].v.arr.items = s->innermost;
    st_gguf_value nested = arr_of(ST_GGUF_ARRAY, 4, NULL);
    nested.v.arr.items = s->inner;
    kv_add(s, "t.nested", nested);
}

static void fill_tensor_data(uint8_t *buf, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)((i * 131u + seed * 17u) ^ (i >> 3));
}

static st_status write_roundtrip_file(const char *path, const kvset *s, uint8_t data[N_T][1024]) {
    st_gguf_writer *w;
    ST_TRY(st_gguf_writer_init(&w));
    static const char *const strs[] = {"", "a", "quoted \"x\"", "h\xc3\xa9llo"};
    static const float f32s[] = {1.0f, -2.5f, 3e-8f};
    static const int32_t i32s[] = {INT32_MIN, 0, INT32_MAX};
    st_status r = ST_OK;
    if (!r) r = st_gguf_writer_set_u32(w, "t.u32", 0xdeadbeefu);
    if (!r) r = st_gguf_writer_set_i32(w, "t.i32", -123456);
    if (!r) r = st_gguf_writer_set_f32(w, "t.f32", 1.5f);
    if (!r) r = st_gguf_writer_set_bool(w, "t.bool", 7);
    if (!r) r = st_gguf_writer_set_str(w, "t.str", "replaced later");
    if (!r) r = st_gguf_writer_set_str(w, "t.str", "h\xc3\xa9llo");
    if (!r) r = st_gguf_writer_set_arr_str(w, "t.arr_str", strs, 4);
    if (!r) r = st_gguf_writer_set_arr_f32(w, "t.arr_f32", f32s, 3);
    if (!r) r = st_gguf_writer_set_arr_i32(w, "t.arr_i32", i32s, 3);
    for (int i = 0; i < s->n && !r; i++) r = st_gguf_writer_set_kv(w, &s->kv[i]);
    for (int i = 0; i < N_T && !r; i++) {
        fill_tensor_data(data[i], k_tensors[i].nbytes, (unsigned)i);
        r = st_gguf_writer_add_tensor(w, k_tensors[i].name, k_tensors[i].type, k_tensors[i].n_dims, k_tensors[i].ne,
                                      data[i], k_tensors[i].nbytes);
    }
    if (!r) r = st_gguf_writer_write(w, path);
    st_gguf_writer_free(w);
    return r;
}

static void check_roundtrip_scalars(const st_gguf *g) {
    uint32_t u = 0;
    int64_t i = 0;
    float f = 0;
    int b = 0;
    const char *s = NULL;
    CHECK_OK(st_gguf_get_u32(g, "t.u32", &u));
    CHECK(u == 0xdeadbeefu);
    CHECK_OK(st_gguf_get_i64(g, "t.i32", &i));
    CHECK(i == -123456);
    CHECK_OK(st_gguf_get_f32(g, "t.f32", &f));
    CHECK(f == 1.5f);
    CHECK_OK(st_gguf_get_bool(g, "t.bool", &b));
    CHECK(b == 1);
    CHECK_OK(st_gguf_get_str(g, "t.str", &s));
    CHECK(s && !strcmp(s, "h\xc3\xa9llo"));
    const char *const *strs = NULL;
    const uint64_t *lens = NULL;
    uint64_t n = 0;
    CHECK_OK(st_gguf_get_arr_str(g, "t.arr_str", &strs, &lens, &n));
    CHECK(n == 4 && !strcmp(strs[0], "") && !strcmp(strs[2], "quoted \"x\"") && lens[3] == 6);
    float fa[3] = {0};
    CHECK_OK(st_gguf_get_arr_f32(g, "t.arr_f32", fa, 3, &n));
    CHECK(n == 3 && fa[0] == 1.0f && fa[1] == -2.5f && fa[2] == 3e-8f);
    int32_t ia[3] = {0};
    CHECK_OK(st_gguf_get_arr_i32(g, "t.arr_i32", ia, 3, &n));
    CHECK(n == 3 && ia[0] == INT32_MIN && ia[2] == INT32_MAX);
}

static void test_writer_roundtrip(void) {
    static kvset s;
    static uint8_t data[N_T][1024];
    make_kvset(&s);
    const char *path = tmp_path("rt"), *path2 = tmp_path("rt2");
    CHECK_OK(write_roundtrip_file(path, &s, data));
    st_gguf *g = NULL;
    CHECK_OK(st_gguf_open(path, &g));
    if (!g) return;
    CHECK(st_gguf_version(g) == 3 && st_gguf_alignment(g) == 32 && st_gguf_data_offset(g) % 32 == 0);
    const st_gguf_kv *al = st_gguf_find(g, "general.alignment");
    CHECK(al && al->value.type == ST_GGUF_U32 && al->value.v.u == 32);
    CHECK(st_gguf_n_kv(g) == 1 + 8 + s.n); /* alignment, 8 setters (one key set twice), set_kv */
    check_roundtrip_scalars(g);
    for (int i = 0; i < s.n; i++) {
        const st_gguf_kv *kv = st_gguf_find(g, s.kv[i].key);
        CHECKF(kv && value_eq(&kv->value, &s.kv[i].value), "kv '%s' round trip", s.kv[i].key);
    }
    CHECK(st_gguf_n_tensors(g) == N_T);
    for (int i = 0; i < N_T; i++) {
        const st_gguf_tensor *t = st_gguf_find_tensor(g, k_tensors[i].name);
        CHECKF(t && t == st_gguf_tensor_at(g, i) && t->type == k_tensors[i].type && t->n_dims == k_tensors[i].n_dims &&
                   !memcmp(t->ne, k_tensors[i].ne, sizeof t->ne) && t->nbytes == k_tensors[i].nbytes &&
                   t->offset % 32 == 0 && !memcmp(t->data, data[i], t->nbytes),
               "tensor '%s' round trip", k_tensors[i].name);
    }
    /* a second generation, through set_kv from the reader, is byte-identical */
    CHECK_OK(copy_gguf(g, path2));
    size_t n1 = 0, n2 = 0;
    void *b1 = t_read_file(path, &n1), *b2 = t_read_file(path2, &n2);
    CHECK(b1 && b2 && n1 == n2 && !memcmp(b1, b2, n1));
    CHECK(n1 % 32 == 0); /* every tensor, the last included, is padded */
    free(b1);
    free(b2);
    st_gguf_close(g);
    remove(path);
    remove(path2);
}

static void test_writer_alignment(void) {
    st_gguf_writer *w = NULL;
    CHECK_OK(st_gguf_writer_init(&w));
    if (!w) return;
    static const float x[24] = {1};
    int64_t ne[2] = {3, 1}, ne2[1] = {24};
    CHECK(st_gguf_writer_set_u32(w, "general.alignment", 0) == ST_E_ARG && has("general.alignment"));
    CHECK(st_gguf_writer_set_u32(w, "general.alignment", 48) == ST_E_ARG && has("power of two"));
    CHECK(st_gguf_writer_set_i32(w, "general.alignment", 64) == ST_E_ARG && has("u32"));
    CHECK_OK(st_gguf_writer_set_u32(w, "general.alignment", 256));
    CHECK_OK(st_gguf_writer_add_tensor(w, "a", ST_TYPE_F32, 2, ne, x, 12));
    CHECK_OK(st_gguf_writer_add_tensor(w, "b", ST_TYPE_F32, 1, ne2, x, 96));
    const char *path = tmp_path("align");
    CHECK_OK(st_gguf_writer_write(w, path));
    st_gguf_writer_free(w);
    st_gguf *g = NULL;
    CHECK_OK(st_gguf_open(path, &g));
    if (g) {
        CHECK(st_gguf_alignment(g) == 256 && st_gguf_data_offset(g) == 256 && st_gguf_n_kv(g) == 1);
        const st_gguf_tensor *b = st_gguf_find_tensor(g, "b");
        CHECK(b && b->offset == 256 && b->nbytes == 96);
    }
    st_gguf_close(g);
    remove(path);
}

static void test_writer_errors(void) {
    st_gguf_writer *w = NULL;
    CHECK_OK(st_gguf_writer_init(&w));
    if (!w) return;
    static const uint8_t q[2 * 34];
    int64_t ne[2] = {64, 1}, bad_ne[1] = {33}, neg[1] = {-32};
    CHECK(st_gguf_writer_add_tensor(w, "q", ST_TYPE_Q8_0, 2, ne, q, 34) == ST_E_ARG && has("nbytes 34"));
    CHECK_OK(st_gguf_writer_add_tensor(w, "q", ST_TYPE_Q8_0, 2, ne, q, 68));
    CHECK(st_gguf_writer_add_tensor(w, "q", ST_TYPE_Q8_0, 2, ne, q, 68) == ST_E_ARG && has("duplicate"));
    CHECK(st_gguf_writer_add_tensor(w, "r", ST_TYPE_Q8_0, 1, bad_ne, q, 34) == ST_E_ARG && has("block size"));
    CHECK(st_gguf_writer_add_tensor(w, "r", ST_TYPE_Q8_0, 1, neg, q, 34) == ST_E_ARG && has("negative"));
    CHECK(st_gguf_writer_add_tensor(w, "r", (st_type)42, 1, ne, q, 34) == ST_E_ARG && has("type id 42"));
    CHECK(st_gguf_writer_add_tensor(w, "r", ST_TYPE_F32, 5, ne, q, 34) == ST_E_ARG && has("n_dims 5"));
    CHECK(st_gguf_writer_set_str(w, "s", NULL) == ST_E_ARG);
    const char *strs[2] = {"a", NULL};
    CHECK(st_gguf_writer_set_arr_str(w, "s", strs, 2) == ST_E_ARG && has("'s'") && has("element 1"));
    /* nesting: 8 levels are fine, 9 are not */
    st_gguf_value lv[10];
    static const uint8_t one = 1;
    lv[0] = arr_of(ST_GGUF_U8, 1, &one);
    for (int i = 1; i < 10; i++) {
        lv[i] = arr_of(ST_GGUF_ARRAY, 1, NULL);
        lv[i].v.arr.items = &lv[i - 1];
    }
    st_gguf_kv deep8 = {"deep8", lv[7]}, deep9 = {"deep9", lv[8]};
    CHECK_OK(st_gguf_writer_set_kv(w, &deep8));
    CHECK(st_gguf_writer_set_kv(w, &deep9) == ST_E_ARG && has("deep9") && has("nested"));
    CHECK(st_gguf_writer_write(w, "/nonexistent/dir/out.gguf") == ST_E_IO && has("/nonexistent/dir/out.gguf"));
    if (access("/dev/full", W_OK) == 0) {
        static uint8_t big[1 << 16];
        CHECK_OK(st_gguf_writer_add_tensor(w, "big", ST_TYPE_F32, 1, (int64_t[]){sizeof big / 4}, big, sizeof big));
        CHECK(st_gguf_writer_write(w, "/dev/full") == ST_E_IO && has("/dev/full") && has("write failed"));
        CHECK(access("/dev/full", F_OK) == 0); /* failure cleanup must not unlink a device */
    }
    st_gguf_writer_free(w);
    /* a deep array written at the limit reads back */
    CHECK_OK(st_gguf_writer_init(&w));
    CHECK_OK(st_gguf_writer_set_kv(w, &deep8));
    const char *path = tmp_path("deep");
    CHECK_OK(st_gguf_writer_write(w, path));
    st_gguf_writer_free(w);
    st_gguf *g = NULL;
    CHECK_OK(st_gguf_open(path, &g));
    const st_gguf_kv *d8 = g ? st_gguf_find(g, "deep8") : NULL;
    CHECK(d8 && value_eq(&d8->value, &lv[7]));
    st_gguf_close(g);
    remove(path);
}

/* ------------------------------------------------------------ getters */

static void test_getters(void) {
    st_gguf_writer *w = NULL;
    CHECK_OK(st_gguf_writer_init(&w));
    if (!w) return;
    static const uint8_t u8s[] = {1, 2, 250};
    static const uint64_t big[] = {5, (uint64_t)1 << 40};
    static const float f[] = {0.5f, 2.0f};
    static const int32_t neg[] = {-7};
    st_gguf_kv kvs[] = {
        {"k.u8", {.type = ST_GGUF_U8, .v.u = 9}},
        {"k.neg", {.type = ST_GGUF_I32, .v.i = -1}},
        {"k.big", {.type = ST_GGUF_U64, .v.u = (uint64_t)1 << 40}},
        {"k.huge", {.type = ST_GGUF_U64, .v.u = UINT64_MAX}},
        {"k.f64", {.type = ST_GGUF_F64, .v.f = 0.25}},
        {"k.arr_u8", arr_of(ST_GGUF_U8, 3, u8s)},
        {"k.arr_big", arr_of(ST_GGUF_U64, 2, big)},
    };
    for (size_t i = 0; i < sizeof kvs / sizeof kvs[0]; i++) CHECK_OK(st_gguf_writer_set_kv(w, &kvs[i]));
    CHECK_OK(st_gguf_writer_set_str(w, "k.str", "s"));
    CHECK_OK(st_gguf_writer_set_arr_f32(w, "k.arr_f32", f, 2));
    CHECK_OK(st_gguf_writer_set_arr_i32(w, "k.arr_i32", neg, 1));
    CHECK_OK(st_gguf_writer_set_bool(w, "k.bool", 0));
    const char *path = tmp_path("get");
    CHECK_OK(st_gguf_writer_write(w, path));
    st_gguf_writer_free(w);
    st_gguf *g = NULL;
    CHECK_OK(st_gguf_open(path, &g));
    remove(path);
    if (!g) return;
    uint32_t u = 0;
    int64_t i64 = 0;
    float x = 0;
    int b = -1;
    const char *s = NULL;
    CHECK_OK(st_gguf_get_u32(g, "k.u8", &u));
    CHECK(u == 9);
    CHECK(st_gguf_get_u32(g, "k.neg", &u) == ST_E_FORMAT && has("'k.neg'") && has("-1") && has("u32"));
    CHECK(st_gguf_get_u32(g, "k.big", &u) == ST_E_FORMAT && has("1099511627776"));
    CHECK_OK(st_gguf_get_i64(g, "k.big", &i64));
    CHECK(i64 == (int64_t)1 << 40);
    CHECK_OK(st_gguf_get_i64(g, "k.neg", &i64));
    CHECK(i64 == -1);
    CHECK(st_gguf_get_i64(g, "k.huge", &i64) == ST_E_FORMAT && has("i64"));
    CHECK(st_gguf_get_u32(g, "k.str", &u) == ST_E_FORMAT && has("'k.str'") && has("type string") && has("expected"));
    CHECK(st_gguf_get_u32(g, "k.missing", &u) == ST_E_FORMAT && has("missing key 'k.missing'"));
    CHECK_OK(st_gguf_get_f32(g, "k.f64", &x));
    CHECK(x == 0.25f);
    CHECK(st_gguf_get_f32(g, "k.u8", &x) == ST_E_FORMAT && has("type u8") && has("f32"));
    CHECK_OK(st_gguf_get_bool(g, "k.bool", &b));
    CHECK(b == 0);
    CHECK(st_gguf_get_bool(g, "k.u8", &b) == ST_E_FORMAT && has("bool"));
    CHECK_OK(st_gguf_get_str(g, "k.str", &s));
    CHECK(st_gguf_get_str(g, "k.arr_u8", &s) == ST_E_FORMAT && has("array of u8") && has("string"));
    CHECK(st_gguf_get_arr_str(g, "k.arr_f32", NULL, NULL, NULL) == ST_E_FORMAT && has("array of f32"));
    float fa[2];
    int32_t ia[3];
    uint64_t n = 0;
    CHECK(st_gguf_get_arr_f32(g, "k.arr_f32", fa, 1, &n) == ST_E_FORMAT && has("room for 1"));
    CHECK(st_gguf_get_arr_f32(g, "k.arr_i32", fa, 2, &n) == ST_E_FORMAT && has("array of i32"));
    CHECK(st_gguf_get_arr_f32(g, "k.u8", fa, 2, &n) == ST_E_FORMAT && has("type u8"));
    CHECK_OK(st_gguf_get_arr_i32(g, "k.arr_u8", ia, 3, &n));
    CHECK(n == 3 && ia[2] == 250);
    CHECK_OK(st_gguf_get_arr_i32(g, "k.arr_i32", ia, 3, &n));
    CHECK(n == 1 && ia[0] == -7);
    CHECK(st_gguf_get_arr_i32(g, "k.arr_big", ia, 3, &n) == ST_E_FORMAT && has("element 1") && has("i32"));
    CHECK(st_gguf_get_arr_i32(g, "k.arr_f32", ia, 3, &n) == ST_E_FORMAT && has("array of f32"));
    CHECK(st_gguf_arr_len(g, "k.arr_u8") == 3 && st_gguf_arr_len(g, "k.u8") == 0 && st_gguf_arr_len(g, "nope") == 0);
    st_gguf_close(g);
}

/* ------------------------------------------------------------ corrupted images */

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static void b_put(buf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void b_le(buf *b, uint64_t v, int n) {
    for (int i = 0; i < n; i++) b_put(b, &(uint8_t){(uint8_t)(v >> 8 * i)}, 1);
}
static void b_str(buf *b, const char *s) {
    b_le(b, strlen(s), 8);
    b_put(b, s, strlen(s));
}
static void b_patch64(buf *b, size_t at, uint64_t v) {
    for (int i = 0; i < 8; i++) b->p[at + i] = (uint8_t)(v >> 8 * i);
}

/* Knobs for a small hand-built file; zeroed fields mean "valid default". */
typedef struct spec {
    const char *magic;
    uint32_t version;
    int align_type; /* value type of general.alignment; -1: no key */
    uint32_t align;
    int dup_key, dup_tensor, nest;
    uint32_t t1_ndims, t1_type;
    int64_t t1_ne0, t1_ne1;
    uint64_t t1_offset;
    /* where fields landed, for patching */
    size_t at_n_tensors, at_n_kv, at_key_len, at_vtype, at_str_len, at_arr_len;
} spec;

static void spec_default(spec *s) {
    memset(s, 0, sizeof *s);
    s->magic = "GGUF";
    s->version = 3;
    s->align_type = ST_GGUF_U32;
    s->align = 32;
    s->t1_ndims = 1;
    s->t1_type = ST_TYPE_Q8_0;
    s->t1_ne0 = 32;
    s->t1_ne1 = 1;
    s->t1_offset = 64;
}

static void b_nested(buf *b, int depth) {
    if (depth == 1) {
        b_le(b, ST_GGUF_U8, 4);
        b_le(b, 2, 8);
        b_le(b, 0x0201, 2);
        return;
    }
    b_le(b, ST_GGUF_ARRAY, 4);
    b_le(b, 1, 8);
    b_nested(b, depth - 1);
}

/* kvs: arch (string), alignment, tokens (string array), [nested], [dup];
 * tensors: t0 f32 [8,2] at 0 and t1 (Q8_0 [32] at 64); the file ends with t1. */
static buf build(spec *s) {
    buf b = {0};
    int n_kv = 2 + (s->align_type >= 0) + (s->nest > 0) + s->dup_key;
    b_put(&b, s->magic, 4);
    b_le(&b, s->version, 4);
    s->at_n_tensors = b.n;
    b_le(&b, 2, 8);
    s->at_n_kv = b.n;
    b_le(&b, (uint64_t)n_kv, 8);
    s->at_key_len = b.n;
    b_str(&b, "general.architecture");
    s->at_vtype = b.n;
    b_le(&b, ST_GGUF_STRING, 4);
    s->at_str_len = b.n;
    b_str(&b, "llama");
    if (s->align_type >= 0) {
        b_str(&b, "general.alignment");
        b_le(&b, (uint64_t)s->align_type, 4);
        b_le(&b, s->align, s->align_type == ST_GGUF_U64 ? 8 : 4);
    }
    b_str(&b, "tok.tokens");
    b_le(&b, ST_GGUF_ARRAY, 4);
    b_le(&b, ST_GGUF_STRING, 4);
    s->at_arr_len = b.n;
    b_le(&b, 3, 8);
    b_str(&b, "a");
    b_str(&b, "bc");
    b_str(&b, "def");
    if (s->nest) {
        b_str(&b, "test.nested");
        b_le(&b, ST_GGUF_ARRAY, 4);
        b_nested(&b, s->nest);
    }
    if (s->dup_key) {
        b_str(&b, "general.architecture");
        b_le(&b, ST_GGUF_STRING, 4);
        b_str(&b, "x");
    }
    b_str(&b, "t0");
    b_le(&b, 2, 4);
    b_le(&b, 8, 8);
    b_le(&b, 2, 8);
    b_le(&b, ST_TYPE_F32, 4);
    b_le(&b, 0, 8);
    b_str(&b, s->dup_tensor ? "t0" : "t1");
    b_le(&b, s->t1_ndims, 4);
    for (uint32_t d = 0; d < s->t1_ndims; d++) b_le(&b, (uint64_t)(d == 0 ? s->t1_ne0 : d == 1 ? s->t1_ne1 : 1), 8);
    b_le(&b, s->t1_type, 4);
    b_le(&b, s->t1_offset, 8);
    uint32_t a = s->align && !(s->align & (s->align - 1)) ? s->align : 32;
    while (b.n % a) b_le(&b, 0, 1);
    for (int i = 0; i < 64 + 34; i++) b_le(&b, (uint64_t)i, 1);
    return b;
}

volatile unsigned t_sink; /* keeps touch_all's reads */

/* Opens the image from an exact-size copy, so ASan sees any read past the end. */
static st_status open_copy(const uint8_t *p, size_t n, st_gguf **g) {
    uint8_t *copy = malloc(n ? n : 1);
    memcpy(copy, p, n);
    st_status s = st_gguf_open_memory(copy, n, "bad.gguf", g);
    if (!s) {
        t_sink += touch_all(*g);
        st_gguf_close(*g);
    }
    free(copy);
    return s;
}

static st_status open_spec(spec *s) {
    buf b = build(s);
    st_gguf *g = NULL;
    st_status st = open_copy(b.p, b.n, &g);
    free(b.p);
    return st;
}

/* field: offsetof(spec, at_...), known once the file is built */
static st_status open_patched(spec *s, size_t field, uint64_t value) {
    buf b = build(s);
    b_patch64(&b, *(const size_t *)((const char *)s + field), value);
    st_gguf *g = NULL;
    st_status st = open_copy(b.p, b.n, &g);
    free(b.p);
    return st;
}

static void test_valid_small(void) {
    spec s;
    spec_default(&s);
    buf b = build(&s);
    st_gguf *g = NULL;
    CHECK_OK(st_gguf_open_memory(b.p, b.n, "small.gguf", &g));
    if (g) {
        const st_gguf_tensor *t0 = st_gguf_find_tensor(g, "t0"), *t1 = st_gguf_find_tensor(g, "t1");
        CHECK(t0 && t1 && t0->nbytes == 64 && t1->nbytes == 34 && t1->type == ST_TYPE_Q8_0);
        CHECK(t1 && (const uint8_t *)t1->data == b.p + b.n - 34 && ((const uint8_t *)t1->data)[0] == 64);
        CHECK(st_gguf_arr_len(g, "tok.tokens") == 3 && !strcmp(st_gguf_path(g), "small.gguf"));
        CHECK(st_gguf_file_size(g) == b.n && st_gguf_data_offset(g) == b.n - 98);
    }
    st_gguf_close(g);
    free(b.p);
    /* v2 has the same layout; an absent general.alignment means 32 */
    spec_default(&s);
    s.version = 2;
    s.align_type = -1;
    CHECK_OK(open_spec(&s));
    spec_default(&s);
    s.nest = 8;
    CHECK_OK(open_spec(&s));
    spec_default(&s);
    s.t1_ndims = 0; /* a scalar-shaped tensor: one element, not a multiple of 32 */
    CHECK(open_spec(&s) == ST_E_FORMAT && has("block size"));
}

static void test_bad_header(void) {
    spec s;
    spec_default(&s);
    s.magic = "GGUX";
    CHECK(open_spec(&s) == ST_E_FORMAT && has("bad.gguf: bad magic"));
    spec_default(&s);
    s.version = 1;
    CHECK(open_spec(&s) == ST_E_UNSUPPORTED && has("version 1"));
    s.version = 99;
    CHECK(open_spec(&s) == ST_E_UNSUPPORTED && has("version 99"));
    s.version = 0x03000000;
    CHECK(open_spec(&s) == ST_E_UNSUPPORTED && has("big-endian"));
    spec_default(&s);
    CHECK(open_patched(&s, offsetof(spec, at_n_kv), (uint64_t)1 << 63) == ST_E_FORMAT &&
          has("n_kv 9223372036854775808"));
    CHECK(open_patched(&s, offsetof(spec, at_n_kv), 1000) == ST_E_FORMAT && has("n_kv 1000"));
    CHECK(open_patched(&s, offsetof(spec, at_n_tensors), UINT64_MAX) == ST_E_FORMAT && has("n_tensors"));
    /* a count that fits the file but not what follows: runs into the tensors */
    CHECK(open_patched(&s, offsetof(spec, at_n_kv), 4) == ST_E_FORMAT && has("bad.gguf: "));
}

static void test_bad_kvs(void) {
    spec s;
    spec_default(&s);
    CHECK(open_patched(&s, offsetof(spec, at_key_len), UINT64_MAX - 3) == ST_E_FORMAT && has("kv #0") && has("key") &&
          has("string length 18446744073709551612 exceeds remaining"));
    CHECK(open_patched(&s, offsetof(spec, at_str_len), (uint64_t)1 << 62) == ST_E_FORMAT &&
          has("'general.architecture'") && has("string length"));
    CHECK(open_patched(&s, offsetof(spec, at_arr_len), 99999999) == ST_E_FORMAT && has("kv #2 'tok.tokens'") &&
          has("array length 99999999 exceeds remaining"));
    CHECK(open_patched(&s, offsetof(spec, at_arr_len), UINT64_MAX) == ST_E_FORMAT && has("array length"));
    buf b = build(&s);
    b.p[s.at_vtype] = 13; /* build() has just set at_vtype */
    st_gguf *g;
    CHECK(open_copy(b.p, b.n, &g) == ST_E_FORMAT && has("unknown value type 13"));
    b.p[s.at_vtype] = ST_GGUF_ARRAY; /* then "llama"'s length reads as element type 5, length ~ "llama" */
    CHECK(open_copy(b.p, b.n, &g) == ST_E_FORMAT && has("'general.architecture'"));
    free(b.p);
    spec_default(&s);
    s.dup_key = 1;
    CHECK(open_spec(&s) == ST_E_FORMAT && has("duplicate key 'general.architecture'"));
    spec_default(&s);
    s.nest = 9;
    CHECK(open_spec(&s) == ST_E_FORMAT && has("'test.nested'") && has("nested deeper than 8"));
    spec_default(&s);
    s.align = 0;
    CHECK(open_spec(&s) == ST_E_FORMAT && has("general.alignment 0"));
    s.align = 3;
    CHECK(open_spec(&s) == ST_E_FORMAT && has("general.alignment 3"));
    s.align = 64;
    s.align_type = ST_GGUF_I32;
    CHECK(open_spec(&s) == ST_E_FORMAT && has("general.alignment has type i32"));
}

static void test_bad_tensors(void) {
    spec s;
    spec_default(&s);
    s.t1_offset = 65;
    CHECK(open_spec(&s) == ST_E_FORMAT && has("tensor 't1'") && has("offset 65") && has("alignment"));
    s.t1_offset = 96;
    CHECK(open_spec(&s) == ST_E_FORMAT && has("tensor 't1'") && has("extends past end of file"));
    s.t1_offset = UINT64_MAX - 31;
    CHECK(open_spec(&s) == ST_E_FORMAT && has("extends past end of file"));
    spec_default(&s);
    s.t1_ndims = 5;
    CHECK(open_spec(&s) == ST_E_FORMAT && has("tensor 't1'") && has("n_dims 5"));
    spec_default(&s);
    s.t1_type = 42;
    CHECK(open_spec(&s) == ST_E_UNSUPPORTED && has("tensor 't1' has unsupported type id 42"));
    s.t1_type = 0xffffffffu;
    CHECK(open_spec(&s) == ST_E_UNSUPPORTED && has("type id 4294967295"));
    spec_default(&s);
    s.dup_tensor = 1;
    CHECK(open_spec(&s) == ST_E_FORMAT && has("duplicate tensor name 't0'"));
    spec_default(&s);
    s.t1_ne0 = -32;
    CHECK(open_spec(&s) == ST_E_FORMAT && has("ne[0]") && has("negative"));
    s.t1_ne0 = 33;
    CHECK(open_spec(&s) == ST_E_FORMAT && has("ne[0] = 33") && has("block size 32"));
    s.t1_ne0 = 32;
    s.t1_ndims = 2;
    s.t1_ne1 = (int64_t)1 << 62;
    CHECK(open_spec(&s) == ST_E_FORMAT && has("tensor 't1'") && has("overflows"));
    s.t1_ne1 = (int64_t)1 << 55; /* element count fits, bytes do not fit the file */
    CHECK(open_spec(&s) == ST_E_FORMAT && has("extends past end of file"));
}

/* Every proper prefix of a valid file is an error, never a crash or a success. */
static void check_truncations(const uint8_t *p, size_t end, const char *what) {
    size_t bad = 0, first_bad = 0;
    for (size_t len = 0; len < end; len++) {
        st_gguf *g = NULL;
        st_error_clear();
        st_status s = open_copy(p, len, &g);
        if (s == ST_OK || !st_last_error()[0]) {
            if (!bad++) first_bad = len;
        }
    }
    CHECKF(bad == 0, "%s: %zu truncations accepted (first at %zu of %zu)", what, bad, first_bad, end);
}

static void test_truncation(void) {
    spec s;
    spec_default(&s);
    s.nest = 3;
    buf b = build(&s);
    check_truncations(b.p, b.n, "small file");
    free(b.p);
    /* the writer's round-trip file, up to the end of its last tensor's data */
    static kvset ks;
    static uint8_t data[N_T][1024];
    make_kvset(&ks);
    const char *path = tmp_path("trunc");
    CHECK_OK(write_roundtrip_file(path, &ks, data));
    size_t n = 0;
    uint8_t *p = t_read_file(path, &n);
    st_gguf *g = NULL;
    if (p && st_gguf_open_memory(p, n, "rt", &g) == ST_OK) {
        const st_gguf_tensor *last = st_gguf_tensor_at(g, st_gguf_n_tensors(g) - 1);
        size_t end = (size_t)(st_gguf_data_offset(g) + last->offset + last->nbytes);
        st_gguf_close(g);
        check_truncations(p, end, "round-trip file");
    } else {
        CHECKF(0, "cannot reopen %s", path);
    }
    free(p);
    remove(path);
}

/* Random byte corruptions of a valid file: results vary, crashes must not. */
static void test_mutations(void) {
    static kvset ks;
    static uint8_t data[N_T][1024];
    make_kvset(&ks);
    const char *path = tmp_path("mut");
    CHECK_OK(write_roundtrip_file(path, &ks, data));
    size_t n = 0;
    uint8_t *p = t_read_file(path, &n);
    remove(path);
    if (!p) return;
    uint8_t *m = malloc(n);
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    int ok = 0, err = 0;
    for (int it = 0; it < 20000; it++) {
        memcpy(m, p, n);
        int flips = 1 + it % 4;
        for (int k = 0; k < flips; k++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            size_t at = (size_t)(rng >> 33) % n;
            m[at] = (it & 1) ? (uint8_t)(rng >> 20) : (uint8_t)(m[at] ^ (1u << (rng >> 60 & 7)));
        }
        st_gguf *g = NULL;
        if (open_copy(m, n, &g) == ST_OK) ok++;
        else err++;
    }
    CHECKF(ok > 0 && err > 0, "mutations: %d opened, %d rejected", ok, err);
    free(m);
    free(p);
}

int main(void) {
    test_synthetic_models();
    test_syn_llama_f32();
    test_quantized_types();
    test_stories();
    test_qwen_vocab();
    test_llamacpp_vocabs();
    test_copy_real_model();
    test_open_errors();
    test_writer_roundtrip();
    test_writer_alignment();
    test_writer_errors();
    test_getters();
    test_valid_small();
    test_bad_header();
    test_bad_kvs();
    test_bad_tensors();
    test_truncation();
    test_mutations();
    return t_done("test_gguf");
}
