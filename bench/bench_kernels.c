/* Matrix-vector throughput per weight type and ISA, to guide kernel work.
 *
 *   make bench-tools
 *   build/bench_kernels [rows cols] [n_tok]
 *
 * "dram" cycles through enough copies of the matrix (~256 MiB) that weights
 * come from memory, as in decoding a real model; "cache" reuses one copy and
 * shows the kernel's own speed. GB/s counts weight bytes only, once per token
 * when n_tok > 1.
 * An optional 4th argument restricts the run to one ISA.
 * `bench_kernels kern [isa|all] [cols]` times vec_dot alone on rows resident in cache;
 * `bench_kernels attn` times short rows as attention over a cache uses them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/kernels.h"
#include "tensor/quant.h"
#include "threads/pool.h"
#include "bench.h"

/* Each trial is one st_matmul on the next copy of the matrix. The machine
 * may be shared, so report the best trial (what the kernel can do) and the
 * median (what a run sees). */
static void run(st_pool *pool, const st_kernels *k, st_type wt, uint8_t *const *mats, int n_mats, int64_t rows,
                int64_t cols, const float *x, int64_t n_tok, float *y, void *scratch, double *best, double *median) {
    enum { TRIALS = 301 };
    static double tt[TRIALS];
    /* with a batch, count the weight bytes once per token: the rate a token sees */
    const size_t bytes = st_row_size(wt, cols) * rows * n_tok;
    for (int i = 0; i < TRIALS; i++) {
        const double t0 = bench_now();
        st_matmul(pool, k, mats[i % n_mats], wt, rows, cols, x, n_tok, y, scratch);
        tt[i] = bench_now() - t0;
    }
    qsort(tt, TRIALS, sizeof tt[0], bench_cmp_d);
    *best = (double)bytes / tt[0] / 1e9;
    *median = (double)bytes / tt[TRIALS / 2] / 1e9;
}

/* Kernel-only speed: vec_dot over 8 rows that stay in L1/L2, best of many
 * repetitions (robust on a shared machine). */
static void kern_only(const char *only, int64_t cols) {
    const st_type types[] = {ST_TYPE_F32, ST_TYPE_F16, ST_TYPE_BF16, ST_TYPE_Q8_0, ST_TYPE_Q4_0, ST_TYPE_Q4_1,
                             ST_TYPE_Q5_0, ST_TYPE_Q5_1, ST_TYPE_Q4_K, ST_TYPE_Q5_K, ST_TYPE_Q6_K};
    const int64_t rows = 8;
    float *src = malloc(rows * cols * sizeof(float)), *x = malloc(cols * sizeof(float));
    for (int64_t i = 0; i < rows * cols; i++) src[i] = (float)rand() / RAND_MAX * 2 - 1;
    for (int64_t i = 0; i < cols; i++) x[i] = (float)rand() / RAND_MAX * 2 - 1;
    printf("vec_dot in cache, %lld columns: GB/s of weights (best of 2000)\n", (long long)cols);
    for (const char *const *av = st_kernels_available(); *av; av++) {
        if (only && strcmp(only, *av) != 0) continue;
        const st_kernels *k = st_kernels_by_name(*av);
        printf("%-6s", k->isa);
        for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
            const st_type wt = types[ti], vt = st_type_traits_get(wt)->vec_dot_type;
            if (cols % st_type_traits_get(wt)->blck_size) continue;
            const size_t rs = st_row_size(wt, cols);
            uint8_t *w = malloc(rs * rows), *xq = malloc(st_row_size(vt, cols));
            for (int64_t r = 0; r < rows; r++) st_quantize_row(wt, src + r * cols, w + r * rs, cols);
            st_quantize_row(vt, x, xq, cols);
            double best = 1e9;
            float out[8];
            for (int rep = 0; rep < 2000; rep++) {
                const double t0 = bench_now();
                if (k->vec_dot_rows[wt]) k->vec_dot_rows[wt](cols, out, w, rs, rows, xq);
                else for (int64_t r = 0; r < rows; r++) k->vec_dot[wt](cols, &out[r], w + r * rs, xq);
                const double t = bench_now() - t0;
                if (t < best) best = t;
            }
            printf(" %s %.1f", st_type_name(wt), (double)rs * rows / best / 1e9);
            free(w); free(xq);
        }
        printf("\n");
    }
    free(src); free(x);
}

/* Attention-like use: one query against 1024 cached rows of head_dim
 * elements, as vec_dot per row and as one vec_dot_rows call: ns per row. */
static void attn(void) {
    const st_type types[] = {ST_TYPE_F32, ST_TYPE_F16, ST_TYPE_BF16};
    const int64_t npos = 1024, dims[] = {64, 128};
    printf("one row against %lld cached rows, ns per row: vec_dot loop / vec_dot_rows\n", (long long)npos);
    for (const char *const *av = st_kernels_available(); *av; av++) {
        const st_kernels *k = st_kernels_by_name(*av);
        printf("%-6s", k->isa);
        for (size_t di = 0; di < 2; di++) {
            const int64_t hd = dims[di];
            float *src = malloc(npos * hd * sizeof(float)), *out = malloc(npos * sizeof(float));
            for (int64_t i = 0; i < npos * hd; i++) src[i] = (float)rand() / RAND_MAX * 2 - 1;
            for (size_t ti = 0; ti < 3; ti++) {
                const st_type t = types[ti];
                const size_t rs = st_row_size(t, hd);
                uint8_t *kc = malloc(rs * npos), *q = malloc(rs);
                for (int64_t p = 0; p < npos; p++) st_quantize_row(t, src + p * hd, kc + p * rs, hd);
                st_quantize_row(t, src, q, hd);
                double b1 = 1e9, b2 = 1e9;
                for (int rep = 0; rep < 300; rep++) {
                    double t0 = bench_now();
                    for (int64_t p = 0; p < npos; p++) k->vec_dot[t](hd, &out[p], kc + p * rs, q);
                    double t1 = bench_now();
                    k->vec_dot_rows[t](hd, out, kc, rs, npos, q);
                    double t2 = bench_now();
                    if (t1 - t0 < b1) b1 = t1 - t0;
                    if (t2 - t1 < b2) b2 = t2 - t1;
                }
                printf("  %s/%lld %.2f/%.2f", st_type_name(t), (long long)hd, b1 / npos * 1e9, b2 / npos * 1e9);
                free(kc); free(q);
            }
            free(src); free(out);
        }
        printf("\n");
    }
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "attn") == 0) {
        attn();
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "kern") == 0) {
        kern_only(argc >= 3 && strcmp(argv[2], "all") ? argv[2] : NULL, argc >= 4 ? atoll(argv[3]) : 4864);
        return 0;
    }
    int64_t rows = 896, cols = 4864, n_tok = 1;
    if (argc >= 3) { rows = atoll(argv[1]); cols = atoll(argv[2]); }
    if (argc >= 4) n_tok = atoll(argv[3]);
    const st_type types[] = {ST_TYPE_F32, ST_TYPE_F16, ST_TYPE_BF16, ST_TYPE_Q8_0, ST_TYPE_Q4_0, ST_TYPE_Q4_1,
                             ST_TYPE_Q5_0, ST_TYPE_Q5_1, ST_TYPE_Q4_K, ST_TYPE_Q5_K, ST_TYPE_Q6_K};
    st_pool *pool2 = NULL;
    if (st_pool_init(2, &pool2) != ST_OK) return 1;
    float *src = malloc(rows * cols * sizeof(float)), *x = malloc(n_tok * cols * sizeof(float)), *y = malloc(n_tok * rows * sizeof(float));
    srand(1);
    for (int64_t i = 0; i < rows * cols; i++) src[i] = (float)rand() / RAND_MAX * 2 - 1;
    for (int64_t i = 0; i < n_tok * cols; i++) x[i] = (float)rand() / RAND_MAX * 2 - 1;
    printf("matvec %lldx%lld n_tok=%lld, GB/s of weights per token (best/median of 301):\n"
           "                  dram 1t      dram 2t     cache 1t     cache 2t\n", (long long)rows, (long long)cols, (long long)n_tok);
    for (const char *const *av = st_kernels_available(); *av; av++) {
        if (argc >= 5 && strcmp(argv[4], *av) != 0) continue;
        const st_kernels *k = st_kernels_by_name(*av);
        for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
            const st_type wt = types[ti];
            if (cols % st_type_traits_get(wt)->blck_size) continue;
            const size_t bytes = st_row_size(wt, cols) * rows;
            int n_mats = (int)((256u << 20) / bytes);
            if (n_mats < 2) n_mats = 2;
            uint8_t **mats = malloc(n_mats * sizeof *mats);
            for (int m = 0; m < n_mats; m++) {
                mats[m] = malloc(bytes);
                if (m == 0) for (int64_t r = 0; r < rows; r++) st_quantize_row(wt, src + r * cols, mats[0] + r * st_row_size(wt, cols), cols);
                else memcpy(mats[m], mats[0], bytes);
            }
            void *scratch = malloc(st_matmul_scratch_size(wt, cols, n_tok) + 1);
            double r[4][2];
            run(NULL, k, wt, mats, n_mats, rows, cols, x, n_tok, y, scratch, &r[0][0], &r[0][1]);
            run(pool2, k, wt, mats, n_mats, rows, cols, x, n_tok, y, scratch, &r[1][0], &r[1][1]);
            run(NULL, k, wt, mats, 1, rows, cols, x, n_tok, y, scratch, &r[2][0], &r[2][1]);
            run(pool2, k, wt, mats, 1, rows, cols, x, n_tok, y, scratch, &r[3][0], &r[3][1]);
            printf("%-6s %-5s", k->isa, st_type_name(wt));
            for (int c = 0; c < 4; c++) printf("  %5.1f/%5.1f", r[c][0], r[c][1]);
            printf("\n");
            fflush(stdout);
            for (int m = 0; m < n_mats; m++) free(mats[m]);
            free(mats);
            free(scratch);
        }
    }
    st_pool_free(pool2);
    free(src); free(x); free(y);
    return 0;
}
