/* y = W x for a batch of activation rows, on the thread pool.
 *
 * Phase 1 converts the activations to the weight type's vec_dot_type once
 * (threads split the blocks), phase 2 splits weight rows among threads. With
 * one token (decode) this is a matrix-vector product bound by memory
 * bandwidth: each thread streams a contiguous run of rows exactly once. With
 * several tokens, a small tile of weight rows is kept in cache while it meets
 * every activation row, so weights are read from memory once per call rather
 * than once per token. Runs of rows go to the table's vec_dot_rows; where a
 * table has vec_dot_toks (unpacking weights costs more than the products), a
 * weight row meets several activation rows per call instead; where it has
 * gemm_panel, the activations are repacked once and panels of 16 weight rows
 * meet all of them (the fastest path for prompts and batches). Weights that
 * the model repacked into panels at load (st_matmul_part.packed) take
 * gemm_packed for every token count, decode included. */
#include <string.h>

#include "kernels.h"
#include "threads/pool.h"

/* st_pool_init's limit */
#define MM_MAX_THREADS 1024
/* Task slots of st_matmul_multi: up to three matrices in the shared run (q,
 * k, v), one slot for a matrix that runs on its own */
#define MM_MAX_PARTS 4

typedef struct mm_task {
    st_pool *pool;
    st_vec_dot_fn dot;
    st_vec_dot_rows_fn dot_rows; /* may be NULL */
    st_vec_dot_toks_fn dot_toks; /* may be NULL */
    st_gemm_panel_fn gemm;       /* with packed activations; may be NULL */
    const uint8_t *W;
    size_t w_row;           /* bytes per weight row */
    int64_t rows, cols, n_tok;
    float *y;
    /* activations in vec_dot_type */
    const uint8_t *xq;
    size_t x_row;
    /* phase 1 (absent when the weights pair with plain f32 activations) */
    void (*pack)(const void *xq, void *xp, int64_t n); /* then repacked (NULL: not) */
    void (*quant_pack)(const float *x, void *xp, int64_t n); /* both at once (NULL: quant, pack) */
    const uint8_t *xq_plain; /* converted rows before packing */
    size_t xq_plain_row;
    st_quantize_row_fn quant;
    const float *x;
    uint8_t *scratch;
    int64_t q_blocks, q_blck;
    size_t q_bsize;
    /* phase 2: rows in chunks; each thread owns a contiguous run of chunks
     * (st_range) and, when done, takes chunks from the back of other runs */
    int64_t chunk_rows, first_chunk; /* this matrix's chunks in the run's numbering */
} mm_task;

/* Chunks go to threads as st_ranges: the owner takes from the front, so its
 * weights stream in order (the kernels' prefetch of the rows that follow is
 * never wasted) and every thread reads one contiguous range; a thread slowed
 * by the OS loses chunks from its back to the others. Measured against
 * handing out chunks in turn from one counter: 8-sequence decode ~10% faster,
 * single-sequence decode ~8% faster. */
typedef struct mm_run_all {
    mm_task *t; /* [n]: the matrices; t[0] converts the activations for all */
    int n;
    st_range *ranges;
} mm_run_all;

/* Bytes of weight rows in one tile: it stays in L2 while every activation row
 * (each in L1 for the length of the tile) passes over it. */
#define ROW_TILE_BYTES (64 * 1024)
/* Activation rows per vec_dot_toks call: the kernels' largest group; eight rows
 * of a few KiB stay in L1 while the weight tile passes. */
#define TOK_TILE 8
/* Up to this many tokens a call streams the weights like a decode step: their
 * activations (a few KiB each) stay in L1/L2 while the rows pass once. */
#define STREAM_MAX_TOK 16

/* Rows [r0, r1) against activation row k. */
static inline void mm_dot_rows(const mm_task *t, int64_t r0, int64_t r1, int64_t k) {
    const uint8_t *w = t->W + (size_t)r0 * t->w_row;
    const uint8_t *xq = t->xq + (size_t)k * t->x_row;
    float *y = t->y + k * t->rows;
    if (t->dot_rows) {
        t->dot_rows(t->cols, &y[r0], w, t->w_row, r1 - r0, xq);
        return;
    }
    for (int64_t r = r0; r < r1; r++, w += t->w_row) t->dot(t->cols, &y[r], w, xq);
}

/* Bytes a decode matvec prefetches ahead of the rows it is reading. */
#ifndef PF_AHEAD
#define PF_AHEAD 8192
#endif

/* Rows [r0, r1) against every activation row: one row at a time meets a
 * group of tokens (the rows stay in L1 between groups). */
static inline void mm_toks_rows(const mm_task *t, int64_t r0, int64_t r1) {
    for (int64_t tb = 0; tb < t->n_tok; tb += TOK_TILE) {
        const int64_t nt = tb + TOK_TILE < t->n_tok ? TOK_TILE : t->n_tok - tb;
        for (int64_t r = r0; r < r1; r++)
            t->dot_toks(t->cols, &t->y[tb * t->rows + r], (size_t)t->rows, t->W + (size_t)r * t->w_row,
                        t->xq + (size_t)tb * t->x_row, t->x_row, nt);
    }
}

/* Rows [r0, r1) by panels of ST_PANEL_ROWS against every token (packed
 * activations): the weights stream once per call, whatever the token count. */
static void mm_gemm_rows(const mm_task *t, int64_t r0, int64_t r1, int warm) {
    /* the rows before the first panel's own prefetch now, unless the previous
     * call's panels asked for them (a burst of some 360 prefetches that wait
     * on the ones in flight: ~1% of a batched decode step); each panel asks
     * for rows further on while it repacks (ST_PANEL_PF_LEAD) */
    const uint8_t *p = t->W + (size_t)r0 * t->w_row, *end = t->W + (size_t)r1 * t->w_row;
    for (const uint8_t *q = p; !warm && q < p + (size_t)ST_PANEL_PF_LEAD * t->w_row && q < end; q += 64) __builtin_prefetch(q, 0, 0);
    for (int64_t r = r0; r < r1; r += ST_PANEL_ROWS) {
        const int64_t re = r + ST_PANEL_ROWS < r1 ? r + ST_PANEL_ROWS : r1;
        t->gemm(t->cols, t->y + r, (size_t)t->rows, t->W + (size_t)r * t->w_row, t->w_row, re - r, t->xq, t->x_row, t->n_tok);
    }
}

/* warm: the rows at r0 follow the ones this thread did last */
static void mm_rows(const mm_task *t, int64_t r0, int64_t r1, int warm) {
    if (t->gemm) {
        mm_gemm_rows(t, r0, r1, warm);
        return;
    }
    /* Decode, alone or a few sequences together: the weights come from DRAM
     * once per call, so the call is a stream; with a few tokens each row is
     * used for all of them while it is in L1. */
    if (t->n_tok == 1 || (t->dot_toks && t->n_tok <= STREAM_MAX_TOK)) {
        /* One pass over weights that do not fit any cache: the hardware prefetcher
         * alone leaves the core waiting on DRAM, so ask for the lines a few KiB
         * ahead while the current rows are multiplied. */
        /* sub-runs of ~4 KiB, an even number of rows: kernels pair rows */
        int64_t step = (int64_t)(4096 / (t->w_row ? t->w_row : 1));
        step = step < 2 ? 2 : (step + 1) & ~(int64_t)1;
        const uint8_t *end = t->W + (size_t)r1 * t->w_row;
        for (int64_t r = r0; r < r1; r += step) {
            const int64_t re = r + step < r1 ? r + step : r1;
            const uint8_t *p = t->W + (size_t)re * t->w_row + PF_AHEAD - (size_t)(re - r) * t->w_row;
            for (const uint8_t *q = p; q < p + (size_t)(re - r) * t->w_row && q < end + PF_AHEAD; q += 64)
                __builtin_prefetch(q, 0, 0);
            if (t->n_tok == 1) mm_dot_rows(t, r, re, 0);
            else mm_toks_rows(t, r, re);
        }
        return;
    }
    int64_t row_tile = (int64_t)(ROW_TILE_BYTES / (t->w_row ? t->w_row : 1));
    if (row_tile < 1) row_tile = 1;
    for (int64_t rb = r0; rb < r1; rb += row_tile) {
        const int64_t re = rb + row_tile < r1 ? rb + row_tile : r1;
        if (!t->dot_toks) {
            for (int64_t k = 0; k < t->n_tok; k++) mm_dot_rows(t, rb, re, k);
            continue;
        }
        /* a few activation rows stay in L1 while the weight tile streams from L2;
         * each weight row is unpacked once per group */
        mm_toks_rows(t, rb, re);
    }
}

static void mm_chunk(const mm_run_all *a, int64_t c, int64_t prev) {
    int i = 0;
    while (i + 1 < a->n && c >= a->t[i + 1].first_chunk) i++;
    const mm_task *t = &a->t[i];
    const int64_t r0 = (c - t->first_chunk) * t->chunk_rows;
    mm_rows(t, r0, r0 + t->chunk_rows < t->rows ? r0 + t->chunk_rows : t->rows, c == prev + 1 && c != t->first_chunk);
}

static void mm_run(void *arg, int ith, int nth) {
    const mm_run_all *a = arg;
    const mm_task *t = &a->t[0];
    if (t->quant) {
        int64_t lo, hi;
        if (t->pack) {
            /* whole tokens per thread: each packs what it quantized, one barrier */
            st_split(t->n_tok, ith, nth, &lo, &hi);
            if (t->quant_pack)
                for (int64_t k = lo; k < hi; k++) t->quant_pack(t->x + k * t->cols, (uint8_t *)t->xq + (size_t)k * t->x_row, t->cols);
            else {
                if (hi > lo)
                    t->quant(t->x + lo * t->cols, (uint8_t *)t->xq_plain + (size_t)lo * t->xq_plain_row, (hi - lo) * t->cols);
                for (int64_t k = lo; k < hi; k++)
                    t->pack(t->xq_plain + (size_t)k * t->xq_plain_row, (uint8_t *)t->xq + (size_t)k * t->x_row, t->cols);
            }
        } else {
            st_split(t->q_blocks, ith, nth, &lo, &hi);
            if (hi > lo) t->quant(t->x + lo * t->q_blck, t->scratch + (size_t)lo * t->q_bsize, (hi - lo) * t->q_blck);
        }
        /* rows are independent of each other but every row needs all activations */
        if (nth > 1) st_pool_barrier(t->pool);
    }
    int64_t prev = -2;
    for (int64_t c; (c = st_range_take(&a->ranges[ith], 0)) >= 0; prev = c) mm_chunk(a, c, prev);
    for (int v = 1; v < nth; v++)
        for (int64_t c; (c = st_range_take(&a->ranges[(ith + v) % nth], 1)) >= 0;) mm_chunk(a, c, -2);
}

size_t st_matmul_scratch_size(st_type wtype, int64_t cols, int64_t n_tok) {
    const st_type_traits *tw = st_type_traits_get(wtype);
    if (!tw || tw->vec_dot_type == ST_TYPE_F32) return 0;
    size_t sz = (size_t)n_tok * st_row_size(tw->vec_dot_type, cols);
    /* room for packed rows, for tables that have them (a single token too:
     * weight panels take packed activations) */
    if (tw->vec_dot_type == ST_TYPE_Q8_0) sz += (size_t)n_tok * st_packed_row_size(cols) + 64;
    return sz;
}

/* The task of one weight matrix; 0 when it has no kernel (y poisoned). */
static int mm_setup(mm_task *t, const st_kernels *k, const void *W, st_type wtype, int packed, int64_t rows, int64_t cols,
                    const float *x, int64_t n_tok, float *y, void *scratch) {
    const st_type_traits *tw = st_type_traits_get(wtype);
    const st_vec_dot_fn dot = tw ? k->vec_dot[wtype] : NULL;
    memset(t, 0, sizeof *t);
    if (!dot || (packed && (!k->gemm_packed[wtype] || !st_panel_bytes(wtype, cols)))) {
        /* No kernel for this weight type (loaders check traits->compute first):
         * poison the output rather than leave stale numbers that look valid. */
        for (int64_t i = 0; i < rows * n_tok; i++) y[i] = __builtin_nanf("");
        return 0;
    }
    t->dot = dot;
    t->dot_rows = k->vec_dot_rows[wtype];
    t->dot_toks = k->vec_dot_toks[wtype];
    t->W = W;
    t->w_row = st_row_size(wtype, cols);
    t->rows = rows;
    t->cols = cols;
    t->n_tok = n_tok;
    t->y = y;
    const st_type vdt = tw->vec_dot_type;
    if (vdt == ST_TYPE_F32) {
        t->xq = (const uint8_t *)x;
        t->x_row = (size_t)cols * sizeof(float);
    } else {
        const st_type_traits *tv = st_type_traits_get(vdt);
        t->quant = k->quantize_row[vdt];
        t->x = x;
        t->scratch = scratch;
        t->xq = scratch;
        t->x_row = st_row_size(vdt, cols);
        /* rows of whole blocks lie back to back in x and in the scratch, so the
         * n_tok rows convert as one long row split on any block boundary */
        t->q_blck = tv->blck_size;
        t->q_bsize = tv->type_size;
        t->q_blocks = cols / tv->blck_size * n_tok;
        if (packed && vdt != ST_TYPE_Q8_0) /* K-quants: Q8_K rows as they are */
            t->gemm = k->gemm_packed[wtype];
        else if ((n_tok > 1 || packed) && k->gemm_panel[wtype] && k->pack_row[wtype] && vdt == ST_TYPE_Q8_0) {
            t->pack = k->pack_row[wtype];
            if (t->pack == k->pack_row[ST_TYPE_Q8_0]) t->quant_pack = k->quantize_pack_q8_0;
            t->xq_plain = scratch;
            t->xq_plain_row = t->x_row;
            uintptr_t p = (uintptr_t)((uint8_t *)scratch + (size_t)n_tok * t->x_row);
            t->xq = (const uint8_t *)((p + 63) & ~(uintptr_t)63);
            t->x_row = st_packed_row_size(cols);
            t->gemm = packed ? k->gemm_packed[wtype] : k->gemm_panel[wtype];
        } else if (k->gemm_panel[wtype] && !k->pack_row[wtype] && (n_tok > 1 || k->gemm_panel_decode[wtype])) {
            t->gemm = k->gemm_panel[wtype]; /* on the converted rows as they are */
        }
    }
    /* a panel starts at W + r * w_row for r a multiple of 16 */
    if (packed) t->w_row = st_panel_bytes(wtype, cols) / ST_PANEL_ROWS;
    return 1;
}

/* Matrices that read the activations the same way (same conversion and
 * packing) share one conversion and one pool run. */
static int mm_same_input(const mm_task *a, const mm_task *b) {
    return a->quant == b->quant && a->pack == b->pack && a->xq == b->xq && a->x_row == b->x_row;
}

/* One pool run over matrices t[0..n) that share t[0]'s activation conversion. */
static void mm_launch(st_pool *pool, mm_task *t, int n) {
    const int nth = pool ? st_pool_size(pool) : 1;
    int64_t total = 0;
    for (int i = 0; i < n; i++) total += t[i].rows;
    /* Enough chunks for balancing (8 per thread), few enough that the
     * counters stay cold; a multiple of 16 rows (one cache line of y) keeps two
     * threads from writing the same line. One chunk size for all the
     * matrices, so that threads get near-equal shares of rows. */
    int64_t chunk = total / ((int64_t)nth * 8);
    chunk = (chunk + 15) & ~(int64_t)15;
    if (chunk < 16) chunk = 16;
    int64_t n_chunks = 0;
    for (int i = 0; i < n; i++) {
        t[i].pool = pool;
        t[i].chunk_rows = chunk;
        t[i].first_chunk = n_chunks;
        n_chunks += (t[i].rows + chunk - 1) / chunk;
    }
    st_range ranges[MM_MAX_THREADS];
    for (int i = 0; i < nth; i++) {
        int64_t lo, hi;
        st_split(n_chunks, i, nth, &lo, &hi);
        st_range_set(&ranges[i], lo, hi);
    }
    mm_run_all all = {t, n, ranges};
    if (nth > 1) st_pool_run(pool, mm_run, &all);
    else mm_run(&all, 0, 1);
}

void st_matmul_multi(struct st_pool *pool, const st_kernels *k, const st_matmul_part *parts, int n_parts, int64_t cols,
                     const float *x, int64_t n_tok, void *scratch) {
    if (n_tok <= 0) return;
    mm_task t[MM_MAX_PARTS];
    int n = 0;
    for (int i = 0; i < n_parts; i++) {
        if (parts[i].rows <= 0 ||
            !mm_setup(&t[n], k, parts[i].W, parts[i].wtype, parts[i].packed, parts[i].rows, cols, x, n_tok, parts[i].y, scratch))
            continue;
        if (n > 0 && (n == MM_MAX_PARTS - 1 || !mm_same_input(&t[0], &t[n])))
            mm_launch(pool, &t[n], 1); /* a run of its own, before the shared one converts again */
        else
            n++;
    }
    if (n > 0) mm_launch(pool, t, n);
}

void st_matmul(struct st_pool *pool, const st_kernels *k, const void *W, st_type wtype,
               int64_t rows, int64_t cols, const float *x, int64_t n_tok, float *y, void *scratch) {
    const st_matmul_part part = {W, wtype, rows, y, 0};
    st_matmul_multi(pool, k, &part, 1, cols, x, n_tok, scratch);
}
