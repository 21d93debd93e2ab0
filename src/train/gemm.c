/* f32 matrix product for the trainer: C (=|+=) A * B with arbitrary strides
 * for A and B (so transposed operands cost only their packing), blocked for
 * cache and split over the thread pool by row panels of C. Every element of C
 * is summed by one thread in a fixed k order, so results do not depend on the
 * number of threads. */
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "train/train.h"

#define MR 8
#define NR 32
#define KC 256

typedef struct gemm_job {
    st_pool *pool;
    int M, N, K;
    const float *A; int64_t rsA, csA;
    const float *B; int64_t rsB, csB;
    float *C; int64_t ldc;
    int acc;
    float *Bp;           /* [n_panels][KC][NR] */
    float *Ap;           /* [nth][KC][MR] */
    int use512;
} gemm_job;

static void kernel_scalar(int kc, const float *Ap, const float *Bp, float *C, int64_t ldc, int mr, int nr, int acc) {
    float t[MR][NR];
    memset(t, 0, sizeof t);
    for (int k = 0; k < kc; k++) {
        const float *b = Bp + (size_t)k * NR, *a = Ap + (size_t)k * MR;
        for (int r = 0; r < MR; r++)
            for (int j = 0; j < NR; j++) t[r][j] += a[r] * b[j];
    }
    for (int r = 0; r < mr; r++)
        for (int j = 0; j < nr; j++) C[r * ldc + j] = acc ? C[r * ldc + j] + t[r][j] : t[r][j];
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f,fma")))
static void kernel_avx512(int kc, const float *Ap, const float *Bp, float *C, int64_t ldc, int mr, int nr, int acc) {
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    __m512 c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
    for (int k = 0; k < kc; k++) {
        __m512 b0 = _mm512_load_ps(Bp + (size_t)k * NR), b1 = _mm512_load_ps(Bp + (size_t)k * NR + 16);
        const float *a = Ap + (size_t)k * MR;
        __m512 a0 = _mm512_set1_ps(a[0]), a1 = _mm512_set1_ps(a[1]);
        c00 = _mm512_fmadd_ps(a0, b0, c00); c01 = _mm512_fmadd_ps(a0, b1, c01);
        c10 = _mm512_fmadd_ps(a1, b0, c10); c11 = _mm512_fmadd_ps(a1, b1, c11);
        a0 = _mm512_set1_ps(a[2]); a1 = _mm512_set1_ps(a[3]);
        c20 = _mm512_fmadd_ps(a0, b0, c20); c21 = _mm512_fmadd_ps(a0, b1, c21);
        c30 = _mm512_fmadd_ps(a1, b0, c30); c31 = _mm512_fmadd_ps(a1, b1, c31);
        a0 = _mm512_set1_ps(a[4]); a1 = _mm512_set1_ps(a[5]);
        c40 = _mm512_fmadd_ps(a0, b0, c40); c41 = _mm512_fmadd_ps(a0, b1, c41);
        c50 = _mm512_fmadd_ps(a1, b0, c50); c51 = _mm512_fmadd_ps(a1, b1, c51);
        a0 = _mm512_set1_ps(a[6]); a1 = _mm512_set1_ps(a[7]);
        c60 = _mm512_fmadd_ps(a0, b0, c60); c61 = _mm512_fmadd_ps(a0, b1, c61);
        c70 = _mm512_fmadd_ps(a1, b0, c70); c71 = _mm512_fmadd_ps(a1, b1, c71);
    }
    __m512 cs[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}, {c60, c61}, {c70, c71}};
    __mmask16 m0 = nr >= 16 ? 0xFFFF : (__mmask16)((1u << nr) - 1);
    __mmask16 m1 = nr >= 32 ? 0xFFFF : nr <= 16 ? 0 : (__mmask16)((1u << (nr - 16)) - 1);
    for (int r = 0; r < mr; r++) {
        float *c = C + r * ldc;
        __m512 v0 = cs[r][0], v1 = cs[r][1];
        if (acc) {
            v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, c));
            v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, c + 16));
        }
        _mm512_mask_storeu_ps(c, m0, v0);
        _mm512_mask_storeu_ps(c + 16, m1, v1);
    }
}
#endif

static void gemm_task(void *arg, int ith, int nth) {
    gemm_job *j = arg;
    int np = (j->N + NR - 1) / NR, mp = (j->M + MR - 1) / MR;
    float *Ap = j->Ap + (size_t)ith * KC * MR;
    for (int k0 = 0; k0 < j->K; k0 += KC) {
        int kc = j->K - k0 < KC ? j->K - k0 : KC;
        int64_t lo, hi;
        st_split(np, ith, nth, &lo, &hi);
        for (int64_t p = lo; p < hi; p++) {
            float *dst = j->Bp + (size_t)p * KC * NR;
            int n0 = (int)p * NR, nr = j->N - n0 < NR ? j->N - n0 : NR;
            for (int k = 0; k < kc; k++) {
                const float *src = j->B + (int64_t)(k0 + k) * j->rsB + (int64_t)n0 * j->csB;
                float *d = dst + (size_t)k * NR;
                if (j->csB == 1) {
                    memcpy(d, src, (size_t)nr * sizeof(float));
                } else {
                    for (int c = 0; c < nr; c++) d[c] = src[(int64_t)c * j->csB];
                }
                for (int c = nr; c < NR; c++) d[c] = 0;
            }
        }
        st_pool_barrier(j->pool);
        st_split(mp, ith, nth, &lo, &hi);
        for (int64_t q = lo; q < hi; q++) {
            int m0 = (int)q * MR, mr = j->M - m0 < MR ? j->M - m0 : MR;
            for (int r = 0; r < MR; r++) {
                if (r < mr) {
                    const float *src = j->A + (int64_t)(m0 + r) * j->rsA + (int64_t)k0 * j->csA;
                    for (int k = 0; k < kc; k++) Ap[k * MR + r] = src[(int64_t)k * j->csA];
                } else {
                    for (int k = 0; k < kc; k++) Ap[k * MR + r] = 0;
                }
            }
            for (int p = 0; p < np; p++) {
                int n0 = p * NR, nr = j->N - n0 < NR ? j->N - n0 : NR;
                float *C = j->C + (int64_t)m0 * j->ldc + n0;
                int acc = j->acc || k0 > 0;
#if defined(__x86_64__) && defined(__GNUC__)
                if (j->use512) { kernel_avx512(kc, Ap, j->Bp + (size_t)p * KC * NR, C, j->ldc, mr, nr, acc); continue; }
#endif
                kernel_scalar(kc, Ap, j->Bp + (size_t)p * KC * NR, C, j->ldc, mr, nr, acc);
            }
        }
        st_pool_barrier(j->pool);
    }
}

static int have_avx512(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    static int v = -1;
    if (v < 0) {
        const char *e = getenv("ST_ISA");
        v = __builtin_cpu_supports("avx512f") && !(e && strcmp(e, "avx512") && (!strcmp(e, "scalar") || !strcmp(e, "avx2")));
    }
    return v;
#else
    return 0;
#endif
}

st_status st_gemm(st_gemm_ws *ws, st_pool *pool, int M, int N, int K, const float *A, int64_t rsA, int64_t csA,
                  const float *B, int64_t rsB, int64_t csB, float *C, int64_t ldc, int acc) {
    if (M <= 0 || N <= 0) return ST_OK;
    if (K <= 0) {
        if (!acc)
            for (int i = 0; i < M; i++) memset(C + (int64_t)i * ldc, 0, (size_t)N * sizeof(float));
        return ST_OK;
    }
    int nth = st_pool_size(pool);
    size_t np = (size_t)(N + NR - 1) / NR;
    size_t need_b = np * KC * NR, need_a = (size_t)nth * KC * MR;
    if (need_b > ws->cap_b) {
        free(ws->bp);
        ws->bp = aligned_alloc(64, need_b * sizeof(float));
        ws->cap_b = ws->bp ? need_b : 0;
        if (!ws->bp) return st_errorf(ST_E_NOMEM, "train: out of memory (gemm)");
    }
    if (need_a > ws->cap_a) {
        free(ws->ap);
        ws->ap = aligned_alloc(64, need_a * sizeof(float));
        ws->cap_a = ws->ap ? need_a : 0;
        if (!ws->ap) return st_errorf(ST_E_NOMEM, "train: out of memory (gemm)");
    }
    gemm_job j = {pool, M, N, K, A, rsA, csA, B, rsB, csB, C, ldc, acc, ws->bp, ws->ap, have_avx512()};
    st_pool_run(pool, gemm_task, &j);
    return ST_OK;
}

void st_gemm_ws_free(st_gemm_ws *ws) {
    free(ws->ap);
    free(ws->bp);
    memset(ws, 0, sizeof *ws);
}
