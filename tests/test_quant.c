/* Tensor element types: traits, bit-exact dequantization against the reference
 * reader's goldens, quantizers against llama.cpp's files and on synthetic data,
 * activation quantizer invariants, and half/bfloat16 conversions. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <stdint.h>

#include "test.h"
#include "gguf/gguf.h"
#include "tensor/quant.h"

#define GOLDEN_DIR "golden/synthetic"

/* ---------------------------------------------------------------- helpers */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng_next(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double rng_uniform(void) { return ((rng_next() >> 11) + 0.5) * (1.0 / 9007199254740992.0); }
static float rng_gauss(void) {
    return (float)(sqrt(-2 * log(rng_uniform())) * cos(6.283185307179586 * rng_uniform()));
}

static double nmse(const float *y, const float *x, int64_t n) {
    double e = 0, s = 0;
    for (int64_t i = 0; i < n; i++) {
        e += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
        s += (double)x[i] * x[i];
    }
    return s > 0 ? e / s : e;
}

static int all_finite(const float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(y[i])) return 0;
    return 1;
}

/* quantize then dequantize n values (a multiple of the block size) */
static void round_trip(st_type t, const float *x, float *y, int64_t n) {
    void *q = malloc(st_row_size(t, n));
    st_quantize_row(t, x, q, n);
    st_dequantize_row(t, q, y, n);
    free(q);
}

static int64_t n_elements(const st_gguf_tensor *t) { return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]; }

/* ---------------------------------------------------------------- (a) traits */

static const struct {
    st_type id;
    const char *name;
    int blck;
    size_t size;
    int compute;
    st_type vd;
} k_types[] = {
    {ST_TYPE_F32, "F32", 1, 4, 1, ST_TYPE_F32},         {ST_TYPE_F16, "F16", 1, 2, 1, ST_TYPE_F16},
    {ST_TYPE_Q4_0, "Q4_0", 32, 18, 1, ST_TYPE_Q8_0},    {ST_TYPE_Q4_1, "Q4_1", 32, 20, 1, ST_TYPE_Q8_1},
    {ST_TYPE_Q5_0, "Q5_0", 32, 22, 1, ST_TYPE_Q8_0},    {ST_TYPE_Q5_1, "Q5_1", 32, 24, 1, ST_TYPE_Q8_1},
    {ST_TYPE_Q8_0, "Q8_0", 32, 34, 1, ST_TYPE_Q8_0},    {ST_TYPE_Q8_1, "Q8_1", 32, 36, 0, ST_TYPE_Q8_1},
    {ST_TYPE_Q2_K, "Q2_K", 256, 84, 0, ST_TYPE_Q8_K},   {ST_TYPE_Q3_K, "Q3_K", 256, 110, 0, ST_TYPE_Q8_K},
    {ST_TYPE_Q4_K, "Q4_K", 256, 144, 1, ST_TYPE_Q8_K},  {ST_TYPE_Q5_K, "Q5_K", 256, 176, 1, ST_TYPE_Q8_K},
    {ST_TYPE_Q6_K, "Q6_K", 256, 210, 1, ST_TYPE_Q8_K},  {ST_TYPE_Q8_K, "Q8_K", 256, 292, 0, ST_TYPE_Q8_K},
    {ST_TYPE_BF16, "BF16", 1, 2, 1, ST_TYPE_BF16},
};
#define N_TYPES ((int)(sizeof k_types / sizeof k_types[0]))

static void test_traits(void) {
    int known = 0;
    for (int id = -2; id < ST_TYPE_COUNT + 3; id++) known += st_type_traits_get(id) != NULL;
    CHECKF(known == N_TYPES, "%d known type ids", known);
    const int unknown[] = {-1, 4, 5, 16, 29, 31, 39, ST_TYPE_COUNT, 1000};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        CHECKF(!st_type_traits_get(unknown[i]) && !st_type_name(unknown[i]), "id %d is unknown", unknown[i]);
        CHECK(st_row_size((st_type)unknown[i], 256) == 0);
    }
    for (int i = 0; i < N_TYPES; i++) {
        const st_type_traits *t = st_type_traits_get(k_types[i].id);
        if (!t) { CHECKF(0, "no traits for %s", k_types[i].name); continue; }
        CHECKF(!strcmp(t->name, k_types[i].name) && !strcmp(st_type_name(k_types[i].id), k_types[i].name),
               "name %s", k_types[i].name);
        CHECKF(t->blck_size == k_types[i].blck && t->type_size == k_types[i].size, "%s: block %d size %zu",
               t->name, t->blck_size, t->type_size);
        CHECKF(t->is_quantized == (k_types[i].blck > 1), "%s is_quantized", t->name);
        CHECKF(t->compute == k_types[i].compute, "%s compute", t->name);
        CHECKF(t->vec_dot_type == k_types[i].vd, "%s vec_dot_type", t->name);
        CHECKF(t->to_float != NULL, "%s to_float", t->name);
        /* every weight type can be produced (synth) and its activation format quantized */
        if (t->compute) {
            CHECKF(t->from_float != NULL, "%s from_float", t->name);
            const st_type_traits *vd = st_type_traits_get(t->vec_dot_type);
            CHECKF(vd && vd->from_float && vd->blck_size == t->blck_size, "%s activation type", t->name);
        }
        CHECK(st_row_size(k_types[i].id, 4096) == (size_t)(4096 / k_types[i].blck) * k_types[i].size);
    }
}

/* ---------------------------------------------------------------- layouts without goldens
 * Decode a block with a single non-zero quant and check which output it lands on. */

static int only_nonzero(const float *y, int n, int at, float want) {
    for (int i = 0; i < n; i++)
        if (y[i] != (i == at ? want : 0.0f)) return 0;
    return 1;
}

static void test_layouts(void) {
    float y[256];
    const st_f16 one = st_f32_to_f16(1.0f), two = st_f32_to_f16(2.0f);
    for (int j = 0; j < 32; j++) {
        block_q4_1 b4 = {.d = two, .m = 0};
        b4.qs[j % 16] = (uint8_t)(j < 16 ? 0x03 : 0x30);
        st_dequantize_row(ST_TYPE_Q4_1, &b4, y, 32);
        CHECKF(only_nonzero(y, 32, j, 6.0f), "q4_1 element %d", j);

        /* q5_0 with every quant at -16 except element j at +16 + 3 via its qh bit */
        block_q5_0 b5 = {.d = one};
        b5.qs[j % 16] = (uint8_t)(j < 16 ? 0x03 : 0x30);
        uint32_t qh = 1u << j;
        memcpy(b5.qh, &qh, 4);
        st_dequantize_row(ST_TYPE_Q5_0, &b5, y, 32);
        int ok = 1;
        for (int i = 0; i < 32; i++) ok &= y[i] == (i == j ? 3.0f : -16.0f);
        CHECKF(ok, "q5_0 element %d", j);

        block_q5_1 b51 = {.d = one, .m = st_f32_to_f16(-1.0f)};
        memcpy(b51.qh, &qh, 4);
        st_dequantize_row(ST_TYPE_Q5_1, &b51, y, 32);
        ok = 1;
        for (int i = 0; i < 32; i++) ok &= y[i] == (i == j ? 15.0f : -1.0f);
        CHECKF(ok, "q5_1 element %d", j);
    }
    /* Q2_K: byte b of qs, bit pair p -> element (b/32)*128 + p*32 + b%32, scale index = element/16 */
    for (int b = 0; b < 64; b++)
        for (int p = 0; p < 4; p++) {
            block_q2_K k2 = {.d = one, .dmin = 0};
            const int e = (b / 32) * 128 + p * 32 + b % 32;
            k2.scales[e / 16] = 5;
            k2.qs[b] = (uint8_t)(3 << (2 * p));
            st_dequantize_row(ST_TYPE_Q2_K, &k2, y, 256);
            CHECKF(only_nonzero(y, 256, e, 15.0f), "q2_K byte %d pair %d", b, p);
        }
    /* Q3_K: same 2-bit layout; hmask bit (element%32 byte, element/32 bit) set means +0,
     * clear means -4; 6-bit scales biased by 32 */
    for (int e = 0; e < 256; e += 7) {
        block_q3_K k3 = {.d = one};
        memset(k3.hmask, 0xff, sizeof k3.hmask);
        for (int j = 0; j < 16; j++) { /* all scales 32 (i.e. 0) except element e's = 32 + 3 */
            const int l = j == e / 16 ? 35 : 32;
            if (j < 8) k3.scales[j] |= (uint8_t)(l & 15);
            else k3.scales[j - 8] |= (uint8_t)((l & 15) << 4);
            k3.scales[8 + j % 4] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
        }
        k3.hmask[e % 32] &= (uint8_t)~(1u << (e / 32));
        st_dequantize_row(ST_TYPE_Q3_K, &k3, y, 256);
        CHECKF(only_nonzero(y, 256, e, -12.0f), "q3_K element %d", e);
    }
}

/* ---------------------------------------------------------------- (b) goldens */

static void test_golden_dequant(void) {
    const char *dir = t_shared(GOLDEN_DIR);
    DIR *d = opendir(dir);
    CHECKF(d != NULL, "open %s", dir);
    if (!d) return;
    int n_files = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *fn = de->d_name;
        size_t len = strlen(fn);
        const char *suffix = ".dequant.f32";
        if (len < strlen(suffix) || strcmp(fn + len - strlen(suffix), suffix)) continue;
        /* MODEL.QUANT.TENSOR.TYPE.dequant.f32: TENSOR may contain dots */
        char base[256], gguf_path[1024], golden_path[1024], tname[256];
        snprintf(base, sizeof base, "%.*s", (int)(len - strlen(suffix)), fn);
        char *type_dot = strrchr(base, '.');
        char *quant_dot = strchr(strchr(base, '.') + 1, '.');
        *type_dot = 0;
        *quant_dot = 0;
        const char *type = type_dot + 1, *tensor = quant_dot + 1;
        snprintf(tname, sizeof tname, "%s.weight", tensor);
        snprintf(gguf_path, sizeof gguf_path, "%s/%s.gguf", dir, base);
        snprintf(golden_path, sizeof golden_path, "%s/%s", dir, fn);
        n_files++;

        st_gguf *g = NULL;
        CHECK_OK(st_gguf_open(gguf_path, &g));
        if (!g) continue;
        const st_gguf_tensor *t = st_gguf_find_tensor(g, tname);
        if (!t) t = st_gguf_find_tensor(g, tensor); /* a name without ".weight" */
        CHECKF(t != NULL, "%s: tensor %s", gguf_path, tname);
        size_t gsize = 0;
        float *golden = t_read_file(golden_path, &gsize);
        if (t && golden) {
            const int64_t n = n_elements(t), ne0 = t->ne[0];
            const size_t rs = st_row_size(t->type, ne0);
            CHECKF(st_type_name(t->type) && !strcmp(st_type_name(t->type), type), "%s: type %s", fn,
                   st_type_name(t->type));
            CHECKF(gsize == (size_t)n * 4 && t->nbytes == rs * (size_t)(n / ne0), "%s: sizes", fn);
            float *y = malloc((size_t)n * sizeof(float));
            for (int64_t r = 0; r < n / ne0; r++)
                st_dequantize_row(t->type, (const char *)t->data + r * rs, y + r * ne0, ne0);
            int64_t bad = 0;
            for (int64_t i = 0; i < n && gsize == (size_t)n * 4; i++) bad += memcmp(&y[i], &golden[i], 4) != 0;
            CHECKF(gsize == (size_t)n * 4 && bad == 0, "%s: %lld of %lld values differ", fn, (long long)bad,
                   (long long)n);
            free(y);
        }
        free(golden);
        st_gguf_close(g);
    }
    closedir(d);
    CHECKF(n_files >= 7, "found %d dequant goldens", n_files);
}

/* Our quantizers follow llama.cpp's reference ones closely enough to reproduce
 * its files (made without an importance matrix) byte for byte, except for rare
 * blocks where two candidate scales tie to within float rounding and llama.cpp's
 * build (which may contract into FMAs) picks the other one. */
static void test_quantizers_match_llamacpp(void) {
    static const char *models[] = {"syn-llama", "syn-qwen2", "syn-gpt2"};
    static const char *quants[] = {"f16", "bf16", "q8_0", "q4_0", "q4_k_m", "q5_k_m", "q6_k"};
    int64_t blocks[ST_TYPE_COUNT] = {0}, differ[ST_TYPE_COUNT] = {0};
    for (size_t m = 0; m < sizeof models / sizeof *models; m++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s.f32.gguf", t_shared(GOLDEN_DIR), models[m]);
        st_gguf *f32 = NULL;
        CHECK_OK(st_gguf_open(path, &f32));
        if (!f32) continue;
        for (size_t qi = 0; qi < sizeof quants / sizeof *quants; qi++) {
            snprintf(path, sizeof path, "%s/%s.%s.gguf", t_shared(GOLDEN_DIR), models[m], quants[qi]);
            FILE *probe = fopen(path, "rb");
            if (!probe) continue; /* not every model has every quantization */
            fclose(probe);
            st_gguf *q = NULL;
            CHECK_OK(st_gguf_open(path, &q));
            for (int64_t i = 0; q && i < st_gguf_n_tensors(q); i++) {
                const st_gguf_tensor *tq = st_gguf_tensor_at(q, i);
                const st_gguf_tensor *tf = st_gguf_find_tensor(f32, tq->name);
                const st_type_traits *tr = st_type_traits_get(tq->type);
                if (!tf || tf->type != ST_TYPE_F32 || tq->type == ST_TYPE_F32 || !tr || !tr->from_float) continue;
                const int64_t n = n_elements(tq), ne0 = tq->ne[0], nb = n / tr->blck_size;
                const size_t rs = st_row_size(tq->type, ne0);
                char *mine = malloc(tq->nbytes);
                for (int64_t r = 0; r < n / ne0; r++)
                    st_quantize_row(tq->type, (const float *)tf->data + r * ne0, mine + r * rs, ne0);
                int64_t bad = 0;
                for (int64_t b = 0; b < nb; b++)
                    bad += memcmp(mine + b * tr->type_size, (const char *)tq->data + b * tr->type_size,
                                  tr->type_size) != 0;
                /* float conversions have no ties to break: exact */
                CHECKF(tr->is_quantized ? bad * 1000 <= nb : bad == 0, "%s %s (%s): %lld of %lld blocks differ",
                       path, tq->name, tr->name, (long long)bad, (long long)nb);
                free(mine);
                blocks[tq->type] += nb;
                differ[tq->type] += bad;
            }
            st_gguf_close(q);
        }
        st_gguf_close(f32);
    }
    const st_type want[] = {ST_TYPE_F16, ST_TYPE_BF16, ST_TYPE_Q8_0, ST_TYPE_Q4_0, ST_TYPE_Q4_K, ST_TYPE_Q5_K,
                            ST_TYPE_Q6_K};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        CHECKF(blocks[want[i]] > 0, "no %s tensor compared", st_type_name(want[i]));
        printf("  %-5s vs llama.cpp: %lld of %lld blocks differ\n", st_type_name(want[i]),
               (long long)differ[want[i]], (long long)blocks[want[i]]);
    }
}

/* ---------------------------------------------------------------- (c) round trips */

static const struct {
    st_type t;
    double gauss; /* NMSE bound on N(0,1) data, ~10% above the measured value */
} k_nmse[] = {
    {ST_TYPE_F32, 0},       {ST_TYPE_F16, 5e-8},    {ST_TYPE_BF16, 3.1e-6}, {ST_TYPE_Q8_0, 3.2e-5},
    {ST_TYPE_Q8_1, 3.2e-5}, {ST_TYPE_Q8_K, 5.5e-5}, {ST_TYPE_Q6_K, 3.5e-4}, {ST_TYPE_Q5_0, 2.0e-3},
    {ST_TYPE_Q5_1, 1.6e-3}, {ST_TYPE_Q5_K, 1.45e-3}, {ST_TYPE_Q4_0, 8.1e-3}, {ST_TYPE_Q4_1, 6.7e-3},
    {ST_TYPE_Q4_K, 5.6e-3},
};

static void test_round_trip(void) {
    enum { N = 65536 };
    float *x = malloc(N * sizeof(float)), *y = malloc(N * sizeof(float));
    rng_state = 12345;
    for (int i = 0; i < N; i++) x[i] = rng_gauss();
    for (size_t k = 0; k < sizeof k_nmse / sizeof *k_nmse; k++) {
        const st_type t = k_nmse[k].t;
        const char *nm = st_type_name(t);
        round_trip(t, x, y, N);
        const double e = nmse(y, x, N);
        printf("  %-5s gaussian NMSE %.3e (bound %.2e)\n", nm, e, k_nmse[k].gauss);
        CHECKF(all_finite(y, N) && e <= k_nmse[k].gauss, "%s: gaussian NMSE %.3e > %.1e", nm, e, k_nmse[k].gauss);

        /* a scaled copy must quantize as well: the formats are scale invariant up to f16 range */
        float *xs = malloc(N * sizeof(float));
        for (int i = 0; i < N; i++) xs[i] = x[i] * 3e-3f;
        round_trip(t, xs, y, N);
        CHECKF(nmse(y, xs, N) <= k_nmse[k].gauss * 1.05 + 1e-12, "%s: scaled NMSE %.3e", nm, nmse(y, xs, N));
        free(xs);

        float e1[512], d1[512];
        /* zeros decode to exact zeros */
        memset(e1, 0, sizeof e1);
        round_trip(t, e1, d1, 512);
        int zero = 1;
        for (int i = 0; i < 512; i++) zero &= d1[i] == 0.0f;
        CHECKF(zero, "%s: zeros", nm);
        /* constant rows, either sign */
        for (int s = -1; s <= 1; s += 2) {
            for (int i = 0; i < 512; i++) e1[i] = 0.37f * s;
            round_trip(t, e1, d1, 512);
            CHECKF(all_finite(d1, 512) && nmse(d1, e1, 512) < 1e-5, "%s: constant %g NMSE %.3e", nm, 0.37 * s,
                   nmse(d1, e1, 512));
        }
        /* one huge outlier: no overflow, the outlier itself survives */
        for (int i = 0; i < 512; i++) e1[i] = x[i];
        e1[77] = 3000.0f;
        round_trip(t, e1, d1, 512);
        CHECKF(all_finite(d1, 512) && fabsf(d1[77] - 3000.0f) < 3000.0f * 0.02f, "%s: outlier -> %g", nm, d1[77]);
        /* tiny values (scales underflow f16 for block formats): finite, and no bigger than the input */
        for (int i = 0; i < 512; i++) e1[i] = x[i] * 1e-9f;
        round_trip(t, e1, d1, 512);
        CHECKF(all_finite(d1, 512) && nmse(d1, e1, 512) <= 1.0 + 1e-6, "%s: tiny NMSE %.3e", nm, nmse(d1, e1, 512));
        /* values at the top of the f16 range */
        for (int i = 0; i < 512; i++) e1[i] = x[i] * 1e4f;
        round_trip(t, e1, d1, 512);
        CHECKF(all_finite(d1, 512) && nmse(d1, e1, 512) <= k_nmse[k].gauss * 2.5 + 1e-12, "%s: large NMSE %.3e",
               nm, nmse(d1, e1, 512));
    }
    free(x);
    free(y);
}

/* ---------------------------------------------------------------- (d) activation quantizers */

static void test_activations(void) {
    enum { N = 4096 };
    float x[N];
    rng_state = 777;
    for (int i = 0; i < N; i++) x[i] = rng_gauss() * (i % 300 == 0 ? 8.0f : 1.0f);

    block_q8_0 q0[N / QK8_0];
    st_quantize_row(ST_TYPE_Q8_0, x, q0, N);
    int ok_max = 1, ok_err = 1;
    for (int b = 0; b < N / QK8_0; b++) {
        float amax = 0;
        int qmax = 0;
        for (int j = 0; j < QK8_0; j++) {
            amax = fmaxf(amax, fabsf(x[b * QK8_0 + j]));
            qmax = abs(q0[b].qs[j]) > qmax ? abs(q0[b].qs[j]) : qmax;
        }
        const float d = amax / 127;
        ok_max &= qmax == 127 && q0[b].d == st_f32_to_f16(d);
        for (int j = 0; j < QK8_0; j++) ok_err &= fabsf(x[b * QK8_0 + j] - q0[b].qs[j] * d) <= d * 0.5001f;
    }
    CHECKF(ok_max, "q8_0: max |q| == 127 and d == amax/127");
    CHECKF(ok_err, "q8_0: rounding to nearest");

    block_q8_1 q1[N / QK8_1];
    st_quantize_row(ST_TYPE_Q8_1, x, q1, N);
    int ok_s = 1, ok_same = 1;
    for (int b = 0; b < N / QK8_1; b++) {
        float amax = 0;
        int sum = 0;
        for (int j = 0; j < QK8_1; j++) {
            amax = fmaxf(amax, fabsf(x[b * QK8_1 + j]));
            sum += q1[b].qs[j];
        }
        /* s is computed from the unrounded f32 d, as llama.cpp does */
        ok_s &= q1[b].s == st_f32_to_f16((float)sum * (amax / 127));
        ok_same &= q1[b].d == q0[b].d && !memcmp(q1[b].qs, q0[b].qs, QK8_1);
    }
    CHECKF(ok_s, "q8_1: s == d * sum(qs)");
    CHECKF(ok_same, "q8_1: d and qs as q8_0");

    block_q8_K qk[N / QK_K];
    st_quantize_row(ST_TYPE_Q8_K, x, qk, N);
    int ok_bsum = 1, ok_ext = 1;
    for (int b = 0; b < N / QK_K; b++) {
        float amax = 0, max = 0;
        int at = 0;
        for (int j = 0; j < QK_K; j++)
            if (fabsf(x[b * QK_K + j]) > amax) { amax = fabsf(x[b * QK_K + j]); max = x[b * QK_K + j]; at = j; }
        ok_ext &= qk[b].qs[at] == -127 && qk[b].d == 1 / (-127.f / max);
        for (int g = 0; g < QK_K / 16; g++) {
            int s = 0;
            for (int l = 0; l < 16; l++) s += qk[b].qs[16 * g + l];
            ok_bsum &= qk[b].bsums[g] == s;
        }
    }
    CHECKF(ok_ext, "q8_K: signed extreme -> -127, d = max/-127");
    CHECKF(ok_bsum, "q8_K: bsums");

    /* ties: q8_0 rounds halves away from zero (roundf), q8_K to even (nearest_int) */
    float t[QK_K] = {0};
    t[0] = 127; /* amax 127 -> d = 1 */
    t[1] = 0.5f; t[2] = 1.5f; t[3] = 2.5f; t[4] = -0.5f; t[5] = -2.5f;
    st_quantize_row(ST_TYPE_Q8_0, t, q0, QK8_0);
    CHECKF(q0[0].qs[1] == 1 && q0[0].qs[2] == 2 && q0[0].qs[3] == 3 && q0[0].qs[4] == -1 && q0[0].qs[5] == -3,
           "q8_0 ties away from zero");
    t[0] = -127; /* max -127 -> scale factor exactly 1 */
    st_quantize_row(ST_TYPE_Q8_K, t, qk, QK_K);
    CHECKF(qk[0].qs[0] == -127 && qk[0].qs[1] == 0 && qk[0].qs[2] == 2 && qk[0].qs[3] == 2 && qk[0].qs[4] == 0 &&
               qk[0].qs[5] == -2 && qk[0].d == 1.0f,
           "q8_K ties to even");
    /* all-zero block: d = 0, nothing uninitialised */
    memset(t, 0, sizeof t);
    memset(qk, 0x55, sizeof qk[0]);
    st_quantize_row(ST_TYPE_Q8_K, t, qk, QK_K);
    int z = qk[0].d == 0;
    for (int j = 0; j < QK_K; j++) z &= qk[0].qs[j] == 0;
    for (int g = 0; g < QK_K / 16; g++) z &= qk[0].bsums[g] == 0;
    CHECKF(z, "q8_K zero block");
}

/* ---------------------------------------------------------------- (e) half / bfloat16 */

static float f16_value(uint16_t h) { return st_f16_to_f32(h); }

static void test_fp16(void) {
    int rt_bad = 0, nan_bad = 0, order_bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        const float f = st_f16_to_f32((st_f16)h);
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) { nan_bad += !isnan(f) || !isnan(st_f16_to_f32(st_f32_to_f16(f))); continue; }
        rt_bad += st_f32_to_f16(f) != h;
        /* decoding is monotonic over the positive codes */
        if (h > 0 && h <= 0x7c00) order_bad += !(f > st_f16_to_f32((st_f16)(h - 1)));
    }
    CHECKF(rt_bad == 0, "f16 round trip: %d codes differ", rt_bad);
    CHECKF(nan_bad == 0, "f16 NaN: %d", nan_bad);
    CHECKF(order_bad == 0, "f16 order: %d", order_bad);
    CHECK(st_f16_to_f32(0x3c00) == 1.0f && st_f16_to_f32(0x0001) == 5.9604644775390625e-8f &&
          st_f16_to_f32(0x7bff) == 65504.0f && isinf(st_f16_to_f32(0x7c00)) && st_f16_to_f32(0xc000) == -2.0f);

    /* rounding: exact midpoints go to the even code, anything off the midpoint to the nearer one */
    int tie_bad = 0;
    for (uint32_t h = 0; h < 0x7bff; h++) {
        const float a = f16_value((st_f16)h), b = f16_value((st_f16)(h + 1));
        const float mid = (a + b) / 2; /* exact: halves have 11 significant bits */
        const st_f16 even = (st_f16)((h & 1) ? h + 1 : h);
        for (int s = 0; s < 2; s++) {
            const uint16_t sg = s ? 0x8000 : 0;
            const float m = s ? -mid : mid;
            tie_bad += st_f32_to_f16(m) != (even | sg);
            tie_bad += st_f32_to_f16(nextafterf(m, 0)) != (h | sg);
            tie_bad += st_f32_to_f16(nextafterf(m, s ? -INFINITY : INFINITY)) != ((h + 1) | sg);
        }
    }
    CHECKF(tie_bad == 0, "f16 rounding: %d cases wrong", tie_bad);
    /* overflow: 65520 is the midpoint between 65504 and 2^16 (inf), ties to even = inf */
    CHECK(st_f32_to_f16(65520.0f) == 0x7c00 && st_f32_to_f16(nextafterf(65520.0f, 0)) == 0x7bff);
    CHECK(st_f32_to_f16(-1e10f) == 0xfc00 && st_f32_to_f16(INFINITY) == 0x7c00);
    /* underflow: half the smallest subnormal ties to 0, just above rounds up */
    CHECK(st_f32_to_f16(2.9802322387695312e-8f) == 0 && st_f32_to_f16(nextafterf(2.9802322387695312e-8f, 1)) == 1);
    CHECK(st_f32_to_f16(-0.0f) == 0x8000 && st_f32_to_f16(1e-30f) == 0);
    CHECK((st_f32_to_f16(NAN) & 0x7c00) == 0x7c00 && (st_f32_to_f16(NAN) & 0x3ff) != 0);

    /* bfloat16 */
    int brt_bad = 0, btie_bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        const float f = st_bf16_to_f32((st_bf16)h);
        if (isnan(f)) { brt_bad += !isnan(st_bf16_to_f32(st_f32_to_bf16(f))); continue; }
        brt_bad += st_f32_to_bf16(f) != h;
        if ((h & 0x7fff) >= 0x7f80) continue; /* inf: no next code */
        /* f32 bits halfway to the next code */
        const uint32_t mid = (h << 16) | 0x8000;
        const uint16_t even = (uint16_t)((h & 1) ? h + 1 : h);
        btie_bad += st_f32_to_bf16(st_f32_from_bits(mid)) != even;
        btie_bad += st_f32_to_bf16(st_f32_from_bits(mid - 1)) != h;
        btie_bad += st_f32_to_bf16(st_f32_from_bits(mid + 1)) != (uint16_t)(h + 1);
    }
    CHECKF(brt_bad == 0, "bf16 round trip: %d", brt_bad);
    CHECKF(btie_bad == 0, "bf16 rounding: %d", btie_bad);
    CHECK(st_f32_to_bf16(1.0f) == 0x3f80 && isnan(st_bf16_to_f32(st_f32_to_bf16(NAN))));
}

/* ---------------------------------------------------------------- panels */

/* Weight panels (st_panel_pack): the layout quant.h defines, byte by byte for
 * Q8_0 and Q6_K (dword k of row r at 64 k + 4 r; Q8_0 quants + 128; the
 * scales apart), zero rows past nr, and every row of every type back intact
 * through st_panel_unpack_row. */
static void test_panels(void) {
    const st_type types[] = {ST_TYPE_Q8_0, ST_TYPE_Q4_0, ST_TYPE_Q5_0, ST_TYPE_Q4_K, ST_TYPE_Q5_K, ST_TYPE_Q6_K};
    CHECK(st_panel_bytes(ST_TYPE_F32, 256) == 0 && st_panel_bytes(ST_TYPE_Q4_1, 256) == 0 &&
          st_panel_bytes(ST_TYPE_Q8_0, 48) == 0 && st_panel_bytes(ST_TYPE_Q4_K, 512 + 32) == 0);
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const st_type t = types[ti];
        const st_type_traits *tr = st_type_traits_get(t);
        const int64_t nbs[] = {1, 3, 28};
        for (size_t ni = 0; ni < 3; ni++) {
            const int64_t n = nbs[ni] * tr->blck_size;
            const size_t rb = st_row_size(t, n), pb = st_panel_bytes(t, n);
            CHECKF(pb >= 16 * rb && pb < 16 * rb + 64 && pb % 64 == 0, "%s n=%lld: panel of %zu bytes for rows of %zu",
                   tr->name, (long long)n, pb, rb);
            float *f = malloc((size_t)n * sizeof(float));
            uint8_t *rows = malloc(16 * rb), *panel = malloc(pb), *back = malloc(rb);
            for (int r = 0; r < 16; r++) {
                for (int64_t i = 0; i < n; i++) f[i] = rng_gauss() * (1.0f + (float)r);
                st_quantize_row(t, f, rows + (size_t)r * rb, n);
            }
            const int64_t nrs[] = {16, 5, 1};
            for (size_t ri = 0; ri < 3; ri++) {
                const int64_t nr = nrs[ri];
                memset(panel, 0xAB, pb);
                st_panel_pack(t, n, rows, rb, nr, panel);
                int same = 1, zero = 1, layout = 1;
                for (int r = 0; r < nr; r++) {
                    st_panel_unpack_row(t, n, panel, r, back);
                    same &= !memcmp(back, rows + (size_t)r * rb, rb);
                }
                /* every byte of a lane past nr, and the padding, is zero */
                const int64_t nb = n / tr->blck_size;
                const int has_b = t == ST_TYPE_Q8_0 || t == ST_TYPE_Q4_0 || t == ST_TYPE_Q5_0 || t == ST_TYPE_Q6_K;
                const size_t part_a = (size_t)nb * (16 * tr->type_size - (has_b ? 32 : 0)), part_b = has_b ? 32 * (size_t)nb : 0;
                for (size_t i = 0; i < pb; i++) {
                    const size_t lane = i < part_a ? i % 64 / 4 : i < part_a + part_b ? (i - part_a) % 32 / 2 : 16;
                    zero &= (int64_t)lane < nr || panel[i] == 0;
                }
                for (int64_t b = 0; b < nb && (t == ST_TYPE_Q8_0 || t == ST_TYPE_Q6_K); b++)
                    for (int r = 0; r < nr; r++) {
                        const uint8_t *blk = rows + (size_t)r * rb + (size_t)b * tr->type_size;
                        if (t == ST_TYPE_Q8_0) {
                            const uint8_t *a = panel + (size_t)b * 512;
                            for (int j = 0; j < 32; j++) layout &= a[64 * (j / 4) + 4 * r + j % 4] == (uint8_t)(blk[2 + j] ^ 0x80);
                            layout &= !memcmp(panel + (size_t)nb * 512 + 32 * (size_t)b + 2 * (size_t)r, blk, 2);
                        } else {
                            const uint8_t *a = panel + (size_t)b * 3328;
                            for (int j = 0; j < 208; j++) layout &= a[64 * (j / 4) + 4 * r + j % 4] == blk[j];
                            layout &= !memcmp(panel + (size_t)nb * 3328 + 32 * (size_t)b + 2 * (size_t)r, blk + 208, 2);
                        }
                    }
                /* a run of blocks from the middle of a row (embedding lookups) */
                int part = 1;
                if (nb >= 3) {
                    st_panel_unpack_blocks(t, n, panel, nr - 1, 1, nb - 2, back);
                    part = !memcmp(back, rows + (size_t)(nr - 1) * rb + tr->type_size, (size_t)(nb - 2) * tr->type_size);
                }
                CHECKF(same && zero && layout && part,
                       "%s n=%lld nr=%lld: panel rows unpack intact %d, zero past them %d, layout %d, block runs %d", tr->name,
                       (long long)n, (long long)nr, same, zero, layout, part);
            }
            free(f); free(rows); free(panel); free(back);
        }
    }
}

int main(void) {
    test_traits();
    test_panels();
    test_layouts();
    test_fp16();
    test_activations();
    test_round_trip();
    test_golden_dequant();
    test_quantizers_match_llamacpp();
    return t_done("test_quant");
}
