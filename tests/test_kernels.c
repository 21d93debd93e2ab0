/* Kernel tables: every ISA this CPU runs, every weight type, against the
 * scalar table and against float64 arithmetic on the dequantized data. */
#include "test.h"

#include <stdint.h>

#include "kernels/kernels.h"
#include "tensor/quant.h"
#include "threads/pool.h"

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd_u32(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 16);
}
static float rnd_unit(void) { return (float)(rnd_u32() & 0xffffff) / 16777216.0f * 2.0f - 1.0f; }
/* Mostly uniform with a few larger values, like real activations with outliers;
 * `scale` varies per row so a mixed-up scale factor cannot cancel out. */
static void rnd_row(float *x, int64_t n, float scale) {
    for (int64_t i = 0; i < n; i++) {
        float v = rnd_unit();
        if ((rnd_u32() & 63) == 0) v *= 6.0f;
        x[i] = v * scale;
    }
}

static const st_type k_wtypes[] = {ST_TYPE_F32, ST_TYPE_F16, ST_TYPE_BF16, ST_TYPE_Q8_0, ST_TYPE_Q4_0, ST_TYPE_Q4_1,
                                   ST_TYPE_Q5_0, ST_TYPE_Q5_1, ST_TYPE_Q4_K, ST_TYPE_Q5_K, ST_TYPE_Q6_K};
#define N_WTYPES (int)(sizeof k_wtypes / sizeof k_wtypes[0])

/* NMSE bounds, per weight type:
 * - simd: SIMD vec_dot vs the scalar table (same integers, float order only);
 * - deq: vec_dot vs float64 dot of the dequantized weight and activation rows
 *   (see ref_dot_deq); only float rounding separates them;
 * - orig: vec_dot vs float64 dot of the original float rows, error normalised
 *   by the sum of squared terms: the quantization noise of both operands, about
 *   2x what this data gives with the reference quantizers. */
typedef struct { double simd, deq, orig; } bounds;
static bounds type_bounds(st_type t) {
    switch (t) {
    case ST_TYPE_F32: return (bounds){1e-11, 1e-11, 1e-11};
    case ST_TYPE_F16: return (bounds){1e-11, 1e-11, 2e-7};
    case ST_TYPE_BF16: return (bounds){1e-11, 1e-11, 1.5e-5};
    case ST_TYPE_Q8_0: return (bounds){1e-11, 1e-11, 3e-4};
    case ST_TYPE_Q4_0: return (bounds){1e-11, 1e-11, 2.5e-2};
    case ST_TYPE_Q4_1: return (bounds){1e-11, 1e-11, 2e-2};
    case ST_TYPE_Q5_0: return (bounds){1e-11, 1e-11, 1.2e-2};
    case ST_TYPE_Q5_1: return (bounds){1e-11, 1e-11, 4e-3};
    case ST_TYPE_Q4_K: return (bounds){1e-11, 1e-11, 2.5e-2};
    case ST_TYPE_Q5_K: return (bounds){1e-11, 1e-11, 4e-3};
    case ST_TYPE_Q6_K: return (bounds){1e-11, 1e-11, 2e-3};
    default: return (bounds){0, 0, 0};
    }
}

typedef struct { double err2, ref2; } acc_nmse;
static void nmse_add(acc_nmse *a, double got, double ref) {
    a->err2 += (got - ref) * (got - ref);
    a->ref2 += ref * ref;
}
static double nmse(const acc_nmse *a) { return a->ref2 > 0 ? a->err2 / a->ref2 : a->err2; }

static double dot64(const float *a, const float *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* float64 dot of the dequantized rows, as the kernels define it: for Q4_1/Q5_1
 * the min term is m * s with the activation's stored (f16) s = d*sum(q), not
 * m * sum(dequantized x). */
static double ref_dot_deq(st_type wt, const void *wq, const float *wd, const void *xq, const float *xd, int64_t n) {
    if (wt != ST_TYPE_Q4_1 && wt != ST_TYPE_Q5_1) return dot64(wd, xd, n);
    const block_q8_1 *y = xq;
    double s = 0;
    for (int64_t b = 0; b < n / 32; b++) {
        const float m = st_f16_to_f32(wt == ST_TYPE_Q4_1 ? ((const block_q4_1 *)wq)[b].m : ((const block_q5_1 *)wq)[b].m);
        for (int j = 0; j < 32; j++) s += ((double)wd[32 * b + j] - m) * xd[32 * b + j];
        s += (double)m * st_f16_to_f32(y[b].s);
    }
    return s;
}

/* Sum of squared terms: the natural size of a dot product's rounding and
 * quantization noise, unlike the dot itself, which may cancel to near zero. */
static double terms2(const float *a, const float *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += ((double)a[i] * b[i]) * ((double)a[i] * b[i]);
    return s;
}

/* ---------------------------------------------------------------- vec_dot */

/* silu_mul against the scalar reference: a few ulp over the range where the
 * gate matters, exact limits past it, inf/NaN as the reference gives them. */
static void test_silu_mul(const st_kernels *k) {
    CHECKF(k->silu_mul != NULL, "%s: no silu_mul", k->isa);
    if (!k->silu_mul) return;
    enum { N = 1000 + 13 };
    static float g[N], a[N], want[N], got[N];
    uint32_t s = 7;
    for (int i = 0; i < N; i++) {
        s = s * 1664525u + 1013904223u;
        g[i] = ((float)(s >> 8) / 16777216.0f * 2 - 1) * (i < 600 ? 12.0f : 120.0f);
        a[i] = 0.5f + (float)(i % 7);
    }
    const float special[] = {0.0f, -0.0f, 88.0f, -88.0f, 89.5f, -89.5f, 200.0f, -200.0f, INFINITY, -INFINITY, NAN, 1e-30f, -1e-30f};
    for (int i = 0; i < 13; i++) g[1000 + i] = special[i];
    memcpy(want, a, sizeof a);
    memcpy(got, a, sizeof a);
    st_silu_mul_scalar(N, want, g);
    /* odd lengths and offsets reach the masked tails */
    k->silu_mul(N - 5, got, g);
    k->silu_mul(5, got + N - 5, g + N - 5);
    int bad = 0;
    for (int i = 0; i < N && bad < 5; i++) {
        const int ok = isnan(want[i]) ? isnan(got[i]) : (isinf(want[i]) ? got[i] == want[i] : fabsf(got[i] - want[i]) <= 4e-7f * fabsf(want[i]) + 1e-37f);
        if (!ok) {
            fprintf(stderr, "  %s silu_mul g=%g: got %.9g want %.9g\n", k->isa, (double)g[i], (double)got[i], (double)want[i]);
            bad++;
        }
    }
    CHECKF(bad == 0, "%s: silu_mul within 4e-7 relative of the scalar reference", k->isa);
}

static void test_vec_dot(const st_kernels *k) {
    const st_kernels *ref = st_kernels_by_name("scalar");
    for (int ti = 0; ti < N_WTYPES; ti++) {
        const st_type wt = k_wtypes[ti];
        const st_type_traits *tw = st_type_traits_get(wt);
        const st_type vt = tw->vec_dot_type;
        const bounds bd = type_bounds(wt);
        CHECKF(k->vec_dot[wt] != NULL, "%s: no vec_dot for %s", k->isa, tw->name);
        if (!k->vec_dot[wt]) continue;
        const int bs = tw->blck_size;
        /* one block, a few, an odd count and many; float types also get ragged lengths */
        const int64_t nblk_q[] = {1, 2, 3, 7, 8, 19};
        const int64_t len_f[] = {1, 7, 15, 16, 17, 31, 33, 64, 100, 255, 1000, 4097};
        const int n_len = bs == 1 ? (int)(sizeof len_f / sizeof len_f[0]) : (int)(sizeof nblk_q / sizeof nblk_q[0]);
        acc_nmse e_simd = {0, 0}, e_deq = {0, 0}, e_orig = {0, 0};
        for (int li = 0; li < n_len; li++) {
            const int64_t n = bs == 1 ? len_f[li] : nblk_q[li] * bs;
            float *w = malloc(n * sizeof(float)), *x = malloc(n * sizeof(float));
            float *wd = malloc(n * sizeof(float)), *xd = malloc(n * sizeof(float));
            void *wq = malloc(st_row_size(wt, n)), *xq = malloc(st_row_size(vt, n));
            for (int rep = 0; rep < 16; rep++) {
                rnd_row(w, n, 0.05f + (float)rep);
                rnd_row(x, n, 1.0f / (1 + rep));
                st_quantize_row(wt, w, wq, n);
                st_quantize_row(vt, x, xq, n);
                st_dequantize_row(wt, wq, wd, n);
                st_dequantize_row(vt, xq, xd, n);
                float got, want;
                k->vec_dot[wt](n, &got, wq, xq);
                ref->vec_dot[wt](n, &want, wq, xq);
                nmse_add(&e_simd, got, want);
                nmse_add(&e_deq, got, ref_dot_deq(wt, wq, wd, xq, xd, n));
                const double o = dot64(w, x, n);
                e_orig.err2 += (got - o) * (got - o);
                e_orig.ref2 += terms2(w, x, n);
            }
            free(w); free(x); free(wd); free(xd); free(wq); free(xq);
        }
        const double a = nmse(&e_simd), b = nmse(&e_deq), c = nmse(&e_orig);
        printf("  %-6s %-5s nmse vs scalar %.2e  vs f64(dequant) %.2e  vs f64(orig, per-term) %.2e\n", k->isa, tw->name, a, b, c);
        CHECKF(a <= bd.simd, "%s %s: NMSE vs scalar %.3e > %.1e", k->isa, tw->name, a, bd.simd);
        CHECKF(b <= bd.deq, "%s %s: NMSE vs dequantized f64 %.3e > %.1e", k->isa, tw->name, b, bd.deq);
        CHECKF(c <= bd.orig, "%s %s: NMSE vs original f64 %.3e > %.1e", k->isa, tw->name, c, bd.orig);
    }
}

/* A mis-scaled or skipped block must show: scale one block of the weights and
 * check the result moves by that block's contribution (catches kernels that
 * read block scales from the wrong place or skip a tail block). */
static void test_block_sensitivity(const st_kernels *k) {
    const st_type types[] = {ST_TYPE_Q8_0, ST_TYPE_Q4_0, ST_TYPE_Q4_1, ST_TYPE_Q5_0, ST_TYPE_Q5_1,
                             ST_TYPE_Q4_K, ST_TYPE_Q5_K, ST_TYPE_Q6_K};
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const st_type wt = types[ti];
        const st_type_traits *tw = st_type_traits_get(wt);
        const st_type vt = tw->vec_dot_type;
        const int bs = tw->blck_size;
        const int64_t nb = 5, n = nb * bs;
        float *w = malloc(n * sizeof(float)), *x = malloc(n * sizeof(float)), *wd = malloc(n * sizeof(float)), *xd = malloc(n * sizeof(float));
        void *wq = malloc(st_row_size(wt, n)), *xq = malloc(st_row_size(vt, n));
        int ok = 1;
        for (int64_t blk = 0; blk < nb; blk++) {
            rnd_row(w, n, 1.0f);
            rnd_row(x, n, 1.0f);
            for (int64_t i = blk * bs; i < (blk + 1) * bs; i++) w[i] *= 50.0f; /* this block dominates */
            st_quantize_row(wt, w, wq, n);
            st_quantize_row(vt, x, xq, n);
            st_dequantize_row(wt, wq, wd, n);
            st_dequantize_row(vt, xq, xd, n);
            float got;
            k->vec_dot[wt](n, &got, wq, xq);
            const double want = ref_dot_deq(wt, wq, wd, xq, xd, n);
            double mag = 0;
            for (int64_t i = 0; i < n; i++) mag += fabs((double)wd[i] * xd[i]);
            if (fabs(got - want) > 1e-4 * mag) {
                ok = 0;
                fprintf(stderr, "  %s %s block %lld of %lld: got %g want %g\n", k->isa, tw->name, (long long)blk, (long long)nb, got, want);
            }
        }
        CHECKF(ok, "%s %s: block-position sensitivity", k->isa, tw->name);
        free(w); free(x); free(wd); free(xd); free(wq); free(xq);
    }
}

/* vec_dot_rows must give exactly what vec_dot gives row by row, for any row
 * count (pairs and a lone row) and any block count (full and partial groups). */
static void test_vec_dot_rows(const st_kernels *k) {
    for (int ti = 0; ti < N_WTYPES; ti++) {
        const st_type wt = k_wtypes[ti];
        if (!k->vec_dot_rows[wt]) continue;
        const st_type_traits *tw = st_type_traits_get(wt);
        const st_type vt = tw->vec_dot_type;
        const int bs = tw->blck_size;
        int ok = 1;
        /* block counts for quantized types; plain lengths (head_dim-like included) for float types */
        const int64_t nblk[] = {1, 2, 3, 4, 6, 8, 9, 10, 12, 15, 16, 28, 33};
        const int64_t nflt[] = {1, 7, 15, 16, 17, 31, 32, 33, 47, 64, 100, 128, 257};
        const size_t n_len = bs == 1 ? sizeof nflt / sizeof nflt[0] : sizeof nblk / sizeof nblk[0];
        for (size_t li = 0; li < n_len; li++) {
            const int64_t n = bs == 1 ? nflt[li] : nblk[li] * bs, nr = 7;
            const size_t rs = st_row_size(wt, n) + 8; /* a stride beyond the row (keeping f32 aligned) */
            float *w = malloc(n * sizeof(float)), *x = malloc(n * sizeof(float));
            uint8_t *wq = calloc(nr, rs);
            void *xq = malloc(st_row_size(vt, n));
            rnd_row(x, n, 1.0f);
            st_quantize_row(vt, x, xq, n);
            for (int64_t r = 0; r < nr; r++) {
                rnd_row(w, n, 1.0f + r);
                st_quantize_row(wt, w, wq + r * rs, n);
            }
            for (int64_t m = 1; m <= nr; m++) {
                float got[8], want[8];
                k->vec_dot_rows[wt](n, got, wq, rs, m, xq);
                for (int64_t r = 0; r < m; r++) k->vec_dot[wt](n, &want[r], wq + r * rs, xq);
                if (memcmp(got, want, m * sizeof(float)) != 0) {
                    ok = 0;
                    fprintf(stderr, "  %s %s vec_dot_rows n=%lld nr=%lld differs from vec_dot\n", k->isa, tw->name, (long long)n, (long long)m);
                }
            }
            free(w); free(x); free(wq); free(xq);
        }
        CHECKF(ok, "%s %s: vec_dot_rows == vec_dot per row", k->isa, tw->name);
    }
}

/* vec_dot_toks, where a table has it, must give exactly what vec_dot gives
 * token by token (batch invariance), for batches that are and are not
 * multiples of its internal group. */
static void test_vec_dot_toks(const st_kernels *k) {
    for (int ti = 0; ti < N_WTYPES; ti++) {
        const st_type wt = k_wtypes[ti];
        if (!k->vec_dot_toks[wt]) continue;
        const st_type_traits *tw = st_type_traits_get(wt);
        const st_type vt = tw->vec_dot_type;
        const int bs = tw->blck_size;
        int ok = 1;
        const int64_t nblk[] = {1, 2, 3, 19};
        for (size_t li = 0; li < sizeof nblk / sizeof nblk[0]; li++) {
            const int64_t n = nblk[li] * bs, nt = 9;
            const size_t xs = st_row_size(vt, n) + 16; /* a stride beyond the row (keeping f32 aligned) */
            float *w = malloc(n * sizeof(float)), *x = malloc(n * sizeof(float));
            void *wq = malloc(st_row_size(wt, n));
            uint8_t *xq = calloc(nt, xs);
            rnd_row(w, n, 1.0f);
            st_quantize_row(wt, w, wq, n);
            for (int64_t t = 0; t < nt; t++) {
                rnd_row(x, n, 1.0f + t);
                st_quantize_row(vt, x, xq + t * xs, n);
            }
            for (int64_t m = 1; m <= nt; m++) {
                float got[3 * 9], want;
                for (int i = 0; i < 3 * 9; i++) got[i] = NAN;
                k->vec_dot_toks[wt](n, got, 3, wq, xq, xs, m);
                for (int64_t t = 0; t < m; t++) {
                    k->vec_dot[wt](n, &want, wq, xq + t * xs);
                    if (memcmp(&got[3 * t], &want, sizeof want) != 0) {
                        ok = 0;
                        fprintf(stderr, "  %s %s vec_dot_toks n=%lld nt=%lld token %lld differs from vec_dot\n", k->isa, tw->name,
                                (long long)n, (long long)m, (long long)t);
                    }
                }
            }
            free(w); free(x); free(wq); free(xq);
        }
        CHECKF(ok, "%s %s: vec_dot_toks == vec_dot per token", k->isa, tw->name);
    }
}

/* quantize_pack_q8_0, where a table has it: the same bytes as quantize_row
 * then pack_row, on rows with all-zero and single-outlier blocks. */
static void test_quantize_pack(const st_kernels *k) {
    if (!k->quantize_pack_q8_0) return;
    CHECKF(k->pack_row[ST_TYPE_Q8_0] != NULL, "%s: quantize_pack_q8_0 without pack_row", k->isa);
    if (!k->pack_row[ST_TYPE_Q8_0]) return;
    int ok = 1;
    for (int64_t nb = 1; nb <= 160; nb += 53) {
        const int64_t n = nb * 32;
        const size_t ps = st_packed_row_size(n);
        float *f = malloc(n * sizeof(float));
        uint8_t *xq = malloc(st_row_size(ST_TYPE_Q8_0, n)), *want = calloc(1, ps), *got = calloc(1, ps);
        rnd_row(f, n, 3.0f);
        for (int i = 0; i < 32; i++) f[i] = 0.0f;               /* block 0: all zero */
        if (nb > 1) f[40] = 1e4f;                                 /* block 1: one outlier */
        if (nb > 2) for (int i = 64; i < 96; i++) f[i] = -1e-3f * (float)(i - 63);
        k->quantize_row[ST_TYPE_Q8_0](f, xq, n);
        k->pack_row[ST_TYPE_Q8_0](xq, want, n);
        memset(got, 0x5a, ps);
        k->quantize_pack_q8_0(f, got, n);
        /* the packed row's used bytes: quants, f32 scales, int32 offsets */
        const size_t used = (size_t)n + (size_t)nb * 8;
        if (memcmp(got, want, used) != 0) {
            fprintf(stderr, "  %s quantize_pack_q8_0 n=%lld differs from quantize_row + pack_row\n", k->isa, (long long)n);
            ok = 0;
        }
        free(f); free(xq); free(want); free(got);
    }
    CHECKF(ok, "%s: quantize_pack_q8_0 == quantize_row + pack_row, bit for bit", k->isa);
}

/* gemm_panel, where a table has it: a panel of weight rows against the
 * activations (packed by pack_row where the table has one, else the
 * vec_dot_type rows as they are) gives exactly vec_dot for every (row, token):
 * rows 1..16, token counts across its token groups, rows across its repacking
 * chunks and with partial last groups of 8 blocks. So does gemm_packed on the
 * same rows packed into a weight panel (st_panel_pack), one token included.
 * Neither writes rows past nr or tokens past nt. */
static void test_gemm_panel(const st_kernels *k) {
    for (int ti = 0; ti < N_WTYPES; ti++) {
        const st_type wt = k_wtypes[ti];
        if (!k->gemm_panel[wt]) continue;
        const st_type_traits *tw = st_type_traits_get(wt);
        const st_type vt = tw->vec_dot_type;
        int ok[2] = {1, 1}, cases[2] = {0, 0};
        const int64_t nblk[] = {1, 2, 3, 7, 8, 9, 19, 28, 160, 161, 170};
        const int64_t nrs[] = {1, 2, 5, 16};
        const int64_t nts[] = {1, 2, 9, 33};
        for (size_t li = 0; li < sizeof nblk / sizeof nblk[0]; li++) {
            const int64_t n = nblk[li] * tw->blck_size, ntmax = 33, nrmax = 16;
            const int packed = k->pack_row[wt] != NULL;
            const size_t ws = st_row_size(wt, n) + 6, xs = st_row_size(vt, n), ys = 17;
            const size_t ps = packed ? st_packed_row_size(n) : (xs + 63) & ~(size_t)63;
            float *f = malloc(n * sizeof(float));
            uint8_t *wq = calloc(nrmax, ws), *xq = calloc(ntmax, xs), *xp = aligned_alloc(64, ntmax * ps);
            const size_t pb = k->gemm_packed[wt] ? st_panel_bytes(wt, n) : 0;
            uint8_t *panel = pb ? aligned_alloc(64, pb) : NULL;
            float *y = malloc(ntmax * ys * sizeof(float));
            for (int64_t r = 0; r < nrmax; r++) {
                rnd_row(f, n, 1.0f + r);
                st_quantize_row(wt, f, wq + r * ws, n);
            }
            for (int64_t t = 0; t < ntmax; t++) {
                rnd_row(f, n, 0.5f + t);
                st_quantize_row(vt, f, xq + t * xs, n);
                if (packed) k->pack_row[wt](xq + t * xs, xp + t * ps, n);
                else memcpy(xp + t * ps, xq + t * xs, xs);
            }
            for (size_t ri = 0; ri < sizeof nrs / sizeof nrs[0]; ri++) {
                const int64_t nr = nrs[ri];
                if (panel) st_panel_pack(wt, n, wq, ws, nr, panel);
                for (size_t ki = 0; ki < sizeof nts / sizeof nts[0]; ki++)
                    for (int kern = 0; kern < (panel ? 2 : 1); kern++) { /* gemm_panel, gemm_packed */
                        const int64_t nt = nts[ki];
                        for (int64_t i = 0; i < ntmax * (int64_t)ys; i++) y[i] = NAN;
                        if (kern == 0) k->gemm_panel[wt](n, y, ys, wq, ws, nr, xp, ps, nt);
                        else k->gemm_packed[wt](n, y, ys, panel, pb / ST_PANEL_ROWS, nr, xp, ps, nt);
                        cases[kern]++;
                        for (int64_t t = 0; t < ntmax; t++)
                            for (int64_t r = 0; r < (int64_t)ys; r++) {
                                float want = NAN;
                                if (r < nr && t < nt) k->vec_dot[wt](n, &want, wq + r * ws, xq + t * xs);
                                if (memcmp(&y[t * ys + r], &want, sizeof want) != 0) {
                                    if (ok[kern])
                                        fprintf(stderr, "  %s %s %s n=%lld nr=%lld nt=%lld (row %lld, token %lld): %g, vec_dot %g\n",
                                                k->isa, tw->name, kern ? "gemm_packed" : "gemm_panel", (long long)n, (long long)nr,
                                                (long long)nt, (long long)r, (long long)t, y[t * ys + r], want);
                                    ok[kern] = 0;
                                }
                            }
                    }
            }
            free(f); free(wq); free(xq); free(xp); free(panel); free(y);
        }
        CHECKF(ok[0], "%s %s: gemm_panel == vec_dot for every row and token (%d cases)", k->isa, tw->name, cases[0]);
        if (k->gemm_packed[wt])
            CHECKF(ok[1] && cases[1] == cases[0], "%s %s: gemm_packed on a weight panel == vec_dot on its rows (%d cases)",
                   k->isa, tw->name, cases[1]);
    }
}

/* ---------------------------------------------------------------- quantize_row */

static void test_quantize_row(const st_kernels *k) {
    const st_type types[] = {ST_TYPE_F32, ST_TYPE_F16, ST_TYPE_BF16, ST_TYPE_Q8_0, ST_TYPE_Q8_1, ST_TYPE_Q8_K};
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const st_type t = types[ti];
        const st_type_traits *tt = st_type_traits_get(t);
        CHECKF(k->quantize_row[t] != NULL, "%s: no quantize_row for %s", k->isa, tt->name);
        if (!k->quantize_row[t]) continue;
        const int bs = tt->blck_size;
        const int64_t lens_f[] = {1, 7, 16, 33, 100, 1023};
        const int64_t nblk[] = {1, 2, 3, 9};
        const int n_len = bs == 1 ? 6 : 4;
        int exact = 1;
        for (int li = 0; li < n_len; li++) {
            const int64_t n = bs == 1 ? lens_f[li] : nblk[li] * bs;
            float *x = malloc(n * sizeof(float));
            const size_t sz = st_row_size(t, n);
            uint8_t *got = malloc(sz), *want = malloc(sz);
            for (int rep = 0; rep < 6; rep++) {
                rnd_row(x, n, rep == 0 ? 1e-3f : (float)rep * 3);
                if (rep == 1) /* an all-zero block: d = 0 and zero quants */
                    for (int64_t i = 0; i < (bs == 1 ? n : bs); i++) x[i] = 0;
                if (rep == 2 && bs > 1) {
                    /* exact halves after scaling: ties must round like the reference
                     * (away from zero for Q8_0/Q8_1, to even for Q8_K) */
                    for (int64_t i = 0; i < n; i++) x[i] = (float)((int)(rnd_u32() % 253) - 126) + 0.5f;
                    for (int64_t b = 0; b < n / bs; b++) x[b * bs + 3] = t == ST_TYPE_Q8_K ? -127.0f : 127.0f;
                }
                if (rep == 3 && bs > 1)
                    /* equal magnitudes of both signs: the first one sets the sign of d */
                    for (int64_t b = 0; b < n / bs; b++) { x[b * bs + 5] = 1000.0f; x[b * bs + 2] = -1000.0f; }
                if (rep == 4 && bs == 1)
                    /* f16/bf16 corner cases: subnormals, overflow to inf, ties */
                    for (int64_t i = 0; i < n; i++) {
                        const float sp[] = {1e-8f, -3e-41f, 70000.0f, -1e30f, 1.0009765625f, 1.00048828125f, 0.0f, -0.0f};
                        x[i] = sp[(i + rnd_u32()) % 8];
                    }
                memset(got, 0xa5, sz);
                memset(want, 0x5a, sz);
                k->quantize_row[t](x, got, n);
                st_quantize_row(t, x, want, n);
                if (memcmp(got, want, sz) != 0) {
                    if (exact) {
                        size_t at = 0;
                        while (got[at] == want[at]) at++;
                        fprintf(stderr, "  %s %s n=%lld rep %d: first differing byte %zu (%02x vs %02x)\n", k->isa, tt->name,
                                (long long)n, rep, at, got[at], want[at]);
                    }
                    exact = 0;
                }
            }
            free(x); free(got); free(want);
        }
        CHECKF(exact, "%s quantize_row %s not bit-exact with the reference", k->isa, tt->name);
    }
}

/* ---------------------------------------------------------------- dot_f32 / axpy_f32 */

static void test_f32_helpers(const st_kernels *k) {
    const int64_t lens[] = {0, 1, 3, 8, 15, 16, 17, 31, 64, 65, 100, 1023, 4100};
    int ok_dot = 1, ok_axpy = 1;
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        const int64_t n = lens[li];
        float *a = malloc((n + 1) * sizeof(float)), *b = malloc((n + 1) * sizeof(float)), *y = malloc((n + 1) * sizeof(float));
        double *yr = malloc((n + 1) * sizeof(double));
        rnd_row(a, n + 1, 1.0f);
        rnd_row(b, n + 1, 2.0f);
        rnd_row(y, n + 1, 1.0f);
        double mag = 0;
        for (int64_t i = 0; i < n; i++) mag += fabs((double)a[i] * b[i]);
        const double want = dot64(a, b, n);
        const float got = k->dot_f32(n, a, b);
        if (fabs(got - want) > 1e-6 * mag + 1e-30) {
            ok_dot = 0;
            fprintf(stderr, "  %s dot_f32 n=%lld: %g vs %g\n", k->isa, (long long)n, got, want);
        }
        for (int64_t i = 0; i <= n; i++) yr[i] = y[i];
        const float alpha = -0.75f;
        for (int64_t i = 0; i < n; i++) yr[i] += (double)alpha * a[i];
        k->axpy_f32(n, alpha, a, y);
        for (int64_t i = 0; i <= n; i++) /* the element past the end must be untouched */
            if (fabs(y[i] - yr[i]) > 1e-6 * (fabs(yr[i]) + 1)) {
                ok_axpy = 0;
                fprintf(stderr, "  %s axpy_f32 n=%lld at %lld: %g vs %g\n", k->isa, (long long)n, (long long)i, y[i], yr[i]);
                break;
            }
        free(a); free(b); free(y); free(yr);
    }
    CHECKF(ok_dot, "%s dot_f32", k->isa);
    CHECKF(ok_axpy, "%s axpy_f32", k->isa);
}

/* ---------------------------------------------------------------- matmul */

/* st_matmul_multi == one st_matmul per matrix, bit for bit: matrices of
 * types that share the activation conversion (Q8_0, Q5_0), one that does not
 * (Q4_K), odd row counts, one token and several, one thread and two. */
static void test_matmul_multi(const st_kernels *k, st_pool *pool2) {
    const int64_t cols = 512;
    const st_type types[3] = {ST_TYPE_Q8_0, ST_TYPE_Q4_K, ST_TYPE_Q5_0};
    const int64_t rows[3] = {100, 37, 64};
    uint8_t *wq[3];
    for (int i = 0; i < 3; i++) {
        float *w = malloc(rows[i] * cols * sizeof(float));
        rnd_row(w, rows[i] * cols, 1.0f);
        wq[i] = malloc(st_row_size(types[i], cols) * rows[i]);
        for (int64_t r = 0; r < rows[i]; r++)
            st_quantize_row(types[i], w + r * cols, wq[i] + r * st_row_size(types[i], cols), cols);
        free(w);
    }
    const int64_t ntoks[] = {1, 9};
    int ok = 1;
    for (int ni = 0; ni < 2; ni++)
        for (int th = 1; th <= 2; th++) {
            const int64_t nt = ntoks[ni];
            st_pool *pool = th == 1 ? NULL : pool2;
            float *x = malloc(nt * cols * sizeof(float));
            rnd_row(x, nt * cols, 1.0f);
            size_t ss = 0;
            for (int i = 0; i < 3; i++) {
                const size_t z = st_matmul_scratch_size(types[i], cols, nt);
                if (z > ss) ss = z;
            }
            void *scratch = malloc(ss + 64);
            float *want[3], *got[3];
            st_matmul_part parts[3];
            for (int i = 0; i < 3; i++) {
                want[i] = malloc(nt * rows[i] * sizeof(float));
                got[i] = malloc(nt * rows[i] * sizeof(float));
                st_matmul(pool, k, wq[i], types[i], rows[i], cols, x, nt, want[i], scratch);
                parts[i] = (st_matmul_part){wq[i], types[i], rows[i], got[i], 0};
            }
            st_matmul_multi(pool, k, parts, 3, cols, x, nt, scratch);
            for (int i = 0; i < 3; i++) {
                if (memcmp(want[i], got[i], nt * rows[i] * sizeof(float)) != 0) {
                    fprintf(stderr, "  %s st_matmul_multi %s nt=%lld threads=%d differs\n", k->isa, st_type_name(types[i]),
                            (long long)nt, th);
                    ok = 0;
                }
                free(want[i]);
                free(got[i]);
            }
            free(x);
            free(scratch);
        }
    for (int i = 0; i < 3; i++) free(wq[i]);
    CHECKF(ok, "%s: st_matmul_multi == st_matmul per matrix", k->isa);
}

static void test_matmul(const st_kernels *k, st_pool *pool2) {
    const int64_t cols = 512;
    const int64_t rows_list[] = {37, 300};
    const int64_t ntok_list[] = {1, 3, 17};
    for (int ti = 0; ti < N_WTYPES; ti++) {
        const st_type wt = k_wtypes[ti];
        const st_type_traits *tw = st_type_traits_get(wt);
        const st_type vt = tw->vec_dot_type;
        const double bound = type_bounds(wt).deq;
        int ok = 1, packed_runs = 0;
        for (size_t ri = 0; ri < 2; ri++) {
            const int64_t rows = rows_list[ri];
            float *w = malloc(rows * cols * sizeof(float)), *wd = malloc(rows * cols * sizeof(float));
            uint8_t *wq = malloc(st_row_size(wt, cols) * rows);
            for (int64_t r = 0; r < rows; r++) {
                rnd_row(w + r * cols, cols, 0.5f + (float)(r % 5));
                st_quantize_row(wt, w + r * cols, wq + r * st_row_size(wt, cols), cols);
                st_dequantize_row(wt, wq + r * st_row_size(wt, cols), wd + r * cols, cols);
            }
            uint8_t *wp = NULL; /* the rows as panels, where this table reads them */
            const size_t pb = st_panel_bytes(wt, cols);
            if (k->gemm_packed[wt] && pb) {
                wp = aligned_alloc(64, pb * (size_t)((rows + 15) / 16));
                for (int64_t r = 0; r < rows; r += 16)
                    st_panel_pack(wt, cols, wq + r * st_row_size(wt, cols), st_row_size(wt, cols), rows - r < 16 ? rows - r : 16,
                                  wp + (size_t)(r / 16) * pb);
            }
            for (size_t ni = 0; ni < 3; ni++) {
                const int64_t nt = ntok_list[ni];
                float *x = malloc(nt * cols * sizeof(float)), *xd = malloc(nt * cols * sizeof(float));
                uint8_t *xq_all = malloc(st_row_size(vt, cols) * nt);
                rnd_row(x, nt * cols, 1.0f);
                for (int64_t t = 0; t < nt; t++) {
                    uint8_t *xq = xq_all + t * st_row_size(vt, cols);
                    st_quantize_row(vt, x + t * cols, xq, cols);
                    st_dequantize_row(vt, xq, xd + t * cols, cols);
                }
                const size_t ss = st_matmul_scratch_size(wt, cols, nt);
                CHECK(ss == (vt == ST_TYPE_F32 ? 0
                                               : (size_t)nt * st_row_size(vt, cols) +
                                                     (vt == ST_TYPE_Q8_0 ? (size_t)nt * st_packed_row_size(cols) + 64 : 0)));
                void *scratch = ss ? malloc(ss) : NULL;
                float *y = malloc(nt * rows * sizeof(float)), *y1 = malloc(nt * rows * sizeof(float));
                for (int th = 1; th <= 2; th++) {
                    for (int64_t i = 0; i < nt * rows; i++) y[i] = NAN;
                    st_matmul(th == 1 ? NULL : pool2, k, wq, wt, rows, cols, x, nt, y, scratch);
                    acc_nmse e = {0, 0};
                    int nan = 0;
                    for (int64_t t = 0; t < nt; t++)
                        for (int64_t r = 0; r < rows; r++) {
                            const float v = y[t * rows + r];
                            nan |= v != v;
                            nmse_add(&e, v, ref_dot_deq(wt, wq + r * st_row_size(wt, cols), wd + r * cols, xq_all + t * st_row_size(vt, cols), xd + t * cols, cols));
                        }
                    if (nan || nmse(&e) > bound) {
                        ok = 0;
                        fprintf(stderr, "  %s matmul %s rows=%lld n_tok=%lld threads=%d: nmse %.3e%s\n", k->isa, tw->name,
                                (long long)rows, (long long)nt, th, nmse(&e), nan ? " (unwritten outputs)" : "");
                    }
                    /* the same bits whatever the thread count */
                    if (th == 1) memcpy(y1, y, nt * rows * sizeof(float));
                    else if (memcmp(y, y1, nt * rows * sizeof(float)) != 0) {
                        ok = 0;
                        fprintf(stderr, "  %s matmul %s rows=%lld n_tok=%lld: 1 and 2 threads differ\n", k->isa, tw->name,
                                (long long)rows, (long long)nt);
                    }
                }
                /* ... the same bits from the rows packed into panels (the last
                 * one partial), where the table reads panels */
                if (wp)
                    for (int th = 1; th <= 2; th++) {
                        for (int64_t i = 0; i < nt * rows; i++) y[i] = NAN;
                        const st_matmul_part part = {wp, wt, rows, y, 1};
                        st_matmul_multi(th == 1 ? NULL : pool2, k, &part, 1, cols, x, nt, scratch);
                        if (memcmp(y, y1, nt * rows * sizeof(float)) != 0) {
                            ok = 0;
                            fprintf(stderr, "  %s matmul %s rows=%lld n_tok=%lld threads=%d: panels differ from rows\n", k->isa,
                                    tw->name, (long long)rows, (long long)nt, th);
                        }
                        packed_runs++;
                    }
                /* ... equal to vec_dot on each row and token */
                for (int64_t t = 0; t < nt; t++)
                    for (int64_t r = 0; r < rows; r++) {
                        float want;
                        k->vec_dot[wt](cols, &want, wq + r * st_row_size(wt, cols), xq_all + t * st_row_size(vt, cols));
                        if (memcmp(&want, &y1[t * rows + r], sizeof want) != 0) {
                            ok = 0;
                            fprintf(stderr, "  %s matmul %s rows=%lld n_tok=%lld: y[%lld,%lld] differs from vec_dot\n", k->isa,
                                    tw->name, (long long)rows, (long long)nt, (long long)t, (long long)r);
                            t = nt;
                            break;
                        }
                    }
                /* ... and whatever the batch: each token alone gives its row of the batch */
                for (int64_t t = 0; t < nt && nt > 1; t++) {
                    float *yt = malloc(rows * sizeof(float));
                    st_matmul(pool2, k, wq, wt, rows, cols, x + t * cols, 1, yt, scratch);
                    if (memcmp(yt, y1 + t * rows, rows * sizeof(float)) != 0) {
                        ok = 0;
                        fprintf(stderr, "  %s matmul %s rows=%lld: token %lld of %lld differs from the token alone\n", k->isa,
                                tw->name, (long long)rows, (long long)t, (long long)nt);
                    }
                    free(yt);
                }
                free(x); free(xd); free(xq_all); free(scratch); free(y); free(y1);
            }
            free(w); free(wd); free(wq); free(wp);
        }
        CHECKF(ok, "%s st_matmul %s (%d runs on panels)", k->isa, tw->name, packed_runs);
    }
}

/* ---------------------------------------------------------------- selection */

static void test_selection(void) {
    const char *const *av = st_kernels_available();
    CHECK(av && av[0] && strcmp(av[0], "scalar") == 0);
    int n = 0;
    while (av[n]) n++;
    CHECK(n >= 1 && n <= 3);
    const st_kernels *best = st_kernels_best();
    CHECK(best != NULL);
    const char *env = getenv("ST_ISA");
    const st_kernels *forced = env ? st_kernels_by_name(env) : NULL;
    if (forced) CHECKF(best == forced, "ST_ISA=%s but best is %s", env, best->isa);
    else CHECKF(strcmp(best->isa, av[n - 1]) == 0, "best %s, expected %s", best->isa, av[n - 1]);
    CHECK(st_kernels_by_name("no-such-isa") == NULL);
    CHECK(st_kernels_by_name(NULL) == NULL);
    for (int i = 0; i < n; i++) {
        const st_kernels *k = st_kernels_by_name(av[i]);
        CHECKF(k && strcmp(k->isa, av[i]) == 0, "by_name(%s)", av[i]);
    }
    printf("  available:");
    for (int i = 0; i < n; i++) printf(" %s", av[i]);
    printf("; best %s\n", best->isa);
}

/* axpy over a half-precision row equals the scalar reference exactly (one FMA
 * or multiply-add per element in both) up to rounding of a*x + y. */
static void test_axpy_f16(const st_kernels *k) {
    CHECKF(k->axpy_f16 != NULL, "%s: axpy_f16 missing", k->isa);
    if (!k->axpy_f16) return;
    for (int n = 1; n <= 70; n += (n < 20 ? 1 : 7)) {
        uint16_t x[80];
        float y0[81], y1[81], a = 0.37f;
        for (int i = 0; i < n; i++) {
            x[i] = st_f32_to_f16((float)(i % 13) * 0.25f - 1.5f);
            y0[i] = y1[i] = (float)(i % 7) - 3.0f;
        }
        y0[n] = y1[n] = 123.0f; /* must stay untouched */
        st_axpy_f16_scalar(n, a, x, y0);
        k->axpy_f16(n, a, x, y1);
        double err = 0;
        for (int i = 0; i < n; i++) err = fmax(err, fabs(y0[i] - y1[i]));
        CHECKF(err <= 1e-6 && y1[n] == 123.0f, "%s axpy_f16 n=%d: max diff %g", k->isa, n, err);
    }
}

/* The fused attention output equals axpy_f16 row by row on the same table,
 * for each weight set (bit for bit: same FMA, same order) and the scalar
 * reference to rounding; y past n stays untouched. */
static void test_axpy_rows_f16(const st_kernels *k) {
    CHECKF(k->axpy_rows_f16 != NULL, "%s: axpy_rows_f16 missing", k->isa);
    if (!k->axpy_rows_f16) return;
    enum { MAXN = 200, MAXR = 40, XS = 208, MAXG = 9, YS = MAXN + 3 };
    static uint16_t x[MAXR * XS], a[MAXG * MAXR];
    static float y0[MAXG * YS], y1[MAXG * YS], y2[MAXG * YS];
    for (int i = 0; i < MAXR * XS; i++) x[i] = st_f32_to_f16(rnd_unit());
    for (int i = 0; i < MAXG * MAXR; i++) a[i] = st_f32_to_f16(rnd_unit() * 0.1f);
    const int ns[] = {1, 15, 16, 17, 33, 64, 100, 128, 200}, nrs[] = {0, 1, 3, 33, 40}, gs[] = {1, 3, 7, 9};
    for (size_t gi = 0; gi < sizeof gs / sizeof gs[0]; gi++)
        for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++)
            for (size_t ri = 0; ri < sizeof nrs / sizeof nrs[0]; ri++) {
                const int n = ns[ni], nr = nrs[ri], g = gs[gi];
                for (int i = 0; i < MAXG * YS; i++) y0[i] = y1[i] = y2[i] = i % YS < n ? rnd_unit() : 123.0f;
                for (int j = 0; j < g; j++)
                    for (int r = 0; r < nr; r++) {
                        st_axpy_f16_scalar(n, st_f16_to_f32(a[j * MAXR + r]), x + r * XS, y0 + j * YS);
                        k->axpy_f16(n, st_f16_to_f32(a[j * MAXR + r]), x + r * XS, y1 + j * YS);
                    }
                k->axpy_rows_f16(n, g, a, MAXR, x, XS * sizeof(uint16_t), nr, y2, YS);
                double err = 0;
                int same = 1;
                for (int i = 0; i < MAXG * YS; i++) {
                    err = fmax(err, fabs(y0[i] - y2[i]));
                    same &= y1[i] == y2[i];
                }
                CHECKF(same && err <= 1e-5, "%s axpy_rows_f16 n=%d rows=%d sets=%d: identical to axpy_f16 %d, max diff %g",
                       k->isa, n, nr, g, same, err);
            }
}

/* The attention output over a Q8_0 cache: every table bit-identical to the
 * scalar definition (rows in order, one FMA each), and close to the same
 * sum in double over the dequantized rows. */
static void test_axpy_rows_q8_0(const st_kernels *k, const st_kernels *ref) {
    CHECKF(k->axpy_rows_q8_0 != NULL, "%s: axpy_rows_q8_0 missing", k->isa);
    if (!k->axpy_rows_q8_0 || !ref->axpy_rows_q8_0) return;
    enum { MAXN = 256, MAXR = 37, MAXG = 10, YS = MAXN + 5, AS = MAXR + 3 };
    const size_t xs = st_row_size(ST_TYPE_Q8_0, MAXN) + 6; /* rows not adjacent */
    static uint8_t x[MAXR * (MAXN / 32 * 34 + 6)] __attribute__((aligned(64)));
    static float a[MAXG * AS], y0[MAXG * YS], y1[MAXG * YS], row[MAXN], deq[MAXR][MAXN];
    for (int r = 0; r < MAXR; r++) {
        for (int i = 0; i < MAXN; i++) row[i] = rnd_unit() * (r % 5 + 1);
        st_quantize_row(ST_TYPE_Q8_0, row, x + r * xs, MAXN);
        st_dequantize_row(ST_TYPE_Q8_0, x + r * xs, deq[r], MAXN);
    }
    for (int i = 0; i < MAXG * AS; i++) a[i] = rnd_unit() * 0.1f;
    const int ns[] = {32, 64, 96, 128, 256}, nrs[] = {0, 1, 5, 37}, gs[] = {1, 2, 7, 8, 10};
    for (size_t gi = 0; gi < sizeof gs / sizeof gs[0]; gi++)
        for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++)
            for (size_t ri = 0; ri < sizeof nrs / sizeof nrs[0]; ri++) {
                const int n = ns[ni], nr = nrs[ri], g = gs[gi];
                for (int i = 0; i < MAXG * YS; i++) y0[i] = y1[i] = i % YS < n ? rnd_unit() : 123.0f;
                double err = 0;
                static float yd[MAXG * YS]; /* the same sums in double */
                for (int j = 0; j < MAXG; j++)
                    for (int i = 0; i < YS; i++) {
                        double e = y0[j * YS + i];
                        if (j < g && i < n)
                            for (int r = 0; r < nr; r++) e += (double)a[j * AS + r] * deq[r][i];
                        yd[j * YS + i] = (float)e;
                    }
                ref->axpy_rows_q8_0(n, g, a, AS, x, xs, nr, y0, YS);
                k->axpy_rows_q8_0(n, g, a, AS, x, xs, nr, y1, YS);
                int same = 1;
                for (int i = 0; i < MAXG * YS; i++) {
                    same &= y0[i] == y1[i];
                    err = fmax(err, fabs((double)y1[i] - yd[i]));
                }
                CHECKF(same && err <= 1e-5, "%s axpy_rows_q8_0 n=%d rows=%d sets=%d: identical to scalar %d, max diff to double %g",
                       k->isa, n, nr, g, same, err);
            }
}

/* Grouped attention scores equal the table's vec_dot_rows for F16 query by
 * query, bit for bit (also past the fast path's limits: n > 256, g > 16),
 * and the scalar reference to rounding. */
static void test_dot_rows_group_f16(const st_kernels *k) {
    CHECKF(k->dot_rows_group_f16 != NULL, "%s: dot_rows_group_f16 missing", k->isa);
    if (!k->dot_rows_group_f16) return;
    enum { MAXN = 300, MAXR = 33, MAXG = 17, SS = 40 };
    static uint16_t kk[MAXR * MAXN], q[MAXG * MAXN];
    static float s0[MAXG * SS], s1[MAXG * SS], s2[MAXG * SS];
    for (int i = 0; i < MAXR * MAXN; i++) kk[i] = st_f32_to_f16(rnd_unit());
    for (int i = 0; i < MAXG * MAXN; i++) q[i] = st_f32_to_f16(rnd_unit());
    const st_kernels *ref = st_kernels_by_name("scalar");
    const int ns[] = {1, 15, 16, 17, 33, 64, 100, 128, 256, 300}, nrs[] = {0, 1, 3, 5, 33}, gs[] = {1, 3, 7, 17};
    for (size_t gi = 0; gi < sizeof gs / sizeof gs[0]; gi++)
        for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++)
            for (size_t ri = 0; ri < sizeof nrs / sizeof nrs[0]; ri++) {
                const int n = ns[ni], nr = nrs[ri], g = gs[gi];
                for (int i = 0; i < MAXG * SS; i++) s0[i] = s1[i] = s2[i] = 123.0f;
                for (int jq = 0; jq < g; jq++) {
                    ref->vec_dot_rows[ST_TYPE_F16](n, s0 + jq * SS, kk, (size_t)n * 2, nr, q + jq * n);
                    k->vec_dot_rows[ST_TYPE_F16](n, s1 + jq * SS, kk, (size_t)n * 2, nr, q + jq * n);
                }
                k->dot_rows_group_f16(n, g, q, kk, (size_t)n * 2, nr, s2, SS);
                double err = 0;
                int same = 1;
                for (int i = 0; i < MAXG * SS; i++) {
                    err = fmax(err, fabs(s0[i] - s2[i]) / (1.0 + fabs(s0[i])));
                    same &= s1[i] == s2[i];
                }
                CHECKF(same && err <= 1e-5, "%s dot_rows_group_f16 n=%d rows=%d queries=%d: identical to vec_dot_rows %d, max rel diff %g",
                       k->isa, n, nr, g, same, err);
            }
}

int main(void) {
    test_selection();
    st_pool *pool2 = NULL;
    CHECK_OK(st_pool_init(2, &pool2));
    for (const char *const *av = st_kernels_available(); *av; av++) {
        const st_kernels *k = st_kernels_by_name(*av);
        g_rng = 0x9e3779b97f4a7c15ull; /* same data for every ISA */
        test_vec_dot(k);
        test_block_sensitivity(k);
        test_vec_dot_rows(k);
        test_vec_dot_toks(k);
        test_silu_mul(k);
        test_gemm_panel(k);
        test_quantize_pack(k);
        test_quantize_row(k);
        test_f32_helpers(k);
        test_axpy_f16(k);
        test_axpy_rows_f16(k);
        test_dot_rows_group_f16(k);
        test_axpy_rows_q8_0(k, st_kernels_by_name("scalar"));
        if (pool2) test_matmul(k, pool2);
        if (pool2) test_matmul_multi(k, pool2);
    }
    st_pool_free(pool2);
    return t_done("test_kernels");
}
