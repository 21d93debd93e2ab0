/* Hot kernels. One function table per ISA (scalar, avx2, avx512); the best one
 * the CPU supports is chosen at run time by CPUID. The scalar table is the
 * specification: every SIMD entry is tested against it. */
#ifndef ST_KERNELS_H
#define ST_KERNELS_H
#include <stdint.h>

#include "softthink.h"
#include "../tensor/quant.h"

struct st_pool;

/* s = dot(w, x) over n elements; w is a weight row of the table slot's type,
 * x an activation row already converted to that type's vec_dot_type. */
typedef void (*st_vec_dot_fn)(int64_t n, float *s, const void *w, const void *x);
/* Convert an f32 activation row to an activation format (F32 copy, F16, BF16, Q8_0, Q8_1, Q8_K). */
typedef void (*st_quantize_row_fn)(const float *x, void *y, int64_t n);

typedef struct st_kernels {
    const char *isa;                               /* "scalar", "avx2", "avx512" */
    st_vec_dot_fn vec_dot[ST_TYPE_COUNT];          /* indexed by weight type */
    st_quantize_row_fn quantize_row[ST_TYPE_COUNT];/* indexed by activation type */
    float (*dot_f32)(int64_t n, const float *a, const float *b);
    void (*axpy_f32)(int64_t n, float a, const float *x, float *y); /* y += a*x */
} st_kernels;

/* Best table for this CPU; ST_ISA=scalar|avx2|avx512 in the environment forces one. */
const st_kernels *st_kernels_best(void);
/* A named table if the CPU can run it, else NULL. */
const st_kernels *st_kernels_by_name(const char *isa);
/* NULL-terminated list of ISA names this CPU can run, best last. */
const char *const *st_kernels_available(void);

/* y[t*rows + r] = sum_c W[r, c] * x[t*cols + c] for r < rows, t < n_tok.
 * W is row-major with rows of st_row_size(wtype, cols) bytes. Activations are
 * converted once to wtype's vec_dot_type (in `scratch`, see st_matmul_scratch_size),
 * then rows are split among the pool's threads. */
void st_matmul(struct st_pool *pool, const st_kernels *k, const void *W, st_type wtype,
               int64_t rows, int64_t cols, const float *x, int64_t n_tok, float *y, void *scratch);
size_t st_matmul_scratch_size(st_type wtype, int64_t cols, int64_t n_tok);

#endif
