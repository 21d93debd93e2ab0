/* Weight panels (quant.h): the layout that gemm_packed kernels read. This
 * file is its definition; the kernels are tested against st_panel_pack's
 * output, and st_panel_unpack_row inverts it. */
#include <string.h>

#include "quant.h"

/* Where a block's dwords and its separate scale are. */
typedef struct panel_form {
    int nd;     /* dwords per block in part A */
    int dw_off; /* their first byte in the block */
    int d_off;  /* the two-byte scale of part B; -1: none */
    int bias;   /* Q8_0: quants stored as q + 128 */
} panel_form;

static int panel_form_of(st_type type, panel_form *f) {
    switch (type) {
    case ST_TYPE_Q8_0: *f = (panel_form){8, 2, 0, 1}; return 1;
    case ST_TYPE_Q4_0: *f = (panel_form){4, 2, 0, 0}; return 1;
    case ST_TYPE_Q5_0: *f = (panel_form){5, 2, 0, 0}; return 1; /* qh, then the nibbles */
    case ST_TYPE_Q4_K: *f = (panel_form){36, 0, -1, 0}; return 1;
    case ST_TYPE_Q5_K: *f = (panel_form){44, 0, -1, 0}; return 1;
    case ST_TYPE_Q6_K: *f = (panel_form){52, 0, 208, 0}; return 1; /* ql, qh, scales; d apart */
    default: return 0;
    }
}

size_t st_panel_bytes(st_type type, int64_t n) {
    panel_form f;
    const st_type_traits *tr = st_type_traits_get(type);
    if (!tr || !panel_form_of(type, &f) || n <= 0 || n % tr->blck_size) return 0;
    const size_t nb = (size_t)(n / tr->blck_size);
    return (nb * (64 * (size_t)f.nd + (f.d_off >= 0 ? 32 : 0)) + 63) & ~(size_t)63;
}

void st_panel_pack(st_type type, int64_t n, const void *rows, size_t row_bytes, int64_t nr, void *panel) {
    panel_form f;
    const st_type_traits *tr = st_type_traits_get(type);
    const size_t bytes = st_panel_bytes(type, n);
    if (!bytes) return;
    panel_form_of(type, &f);
    const int64_t nb = n / tr->blck_size;
    uint8_t *a = panel, *d = a + (size_t)nb * 64 * (size_t)f.nd;
    memset(panel, 0, bytes);
    for (int64_t r = 0; r < nr && r < ST_PANEL_ROWS; r++) {
        const uint8_t *row = (const uint8_t *)rows + (size_t)r * row_bytes;
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *blk = row + (size_t)b * tr->type_size;
            uint8_t *ab = a + (size_t)b * 64 * (size_t)f.nd + 4 * (size_t)r;
            const uint32_t flip = f.bias ? 0x80808080u : 0;
            for (int k = 0; k < f.nd; k++) {
                uint32_t v;
                memcpy(&v, blk + f.dw_off + 4 * k, 4);
                v ^= flip;
                memcpy(ab + 64 * k, &v, 4);
            }
            if (f.d_off >= 0) memcpy(d + 32 * (size_t)b + 2 * (size_t)r, blk + f.d_off, 2);
        }
    }
}

void st_panel_unpack_row(st_type type, int64_t n, const void *panel, int64_t r, void *row) {
    const st_type_traits *tr = st_type_traits_get(type);
    if (tr && tr->blck_size > 0) st_panel_unpack_blocks(type, n, panel, r, 0, n / tr->blck_size, row);
}

void st_panel_unpack_blocks(st_type type, int64_t n, const void *panel, int64_t r, int64_t b0, int64_t nbk, void *out) {
    panel_form f;
    const st_type_traits *tr = st_type_traits_get(type);
    if (!st_panel_bytes(type, n) || r < 0 || r >= ST_PANEL_ROWS) return;
    panel_form_of(type, &f);
    const int64_t nb = n / tr->blck_size;
    const uint8_t *a = panel, *d = a + (size_t)nb * 64 * (size_t)f.nd;
    for (int64_t b = b0 < 0 ? 0 : b0; b < b0 + nbk && b < nb; b++) {
        uint8_t *blk = (uint8_t *)out + (size_t)(b - b0) * tr->type_size;
        const uint8_t *ab = a + (size_t)b * 64 * (size_t)f.nd + 4 * (size_t)r;
        for (int k = 0; k < f.nd; k++)
            for (int i = 0; i < 4; i++) blk[f.dw_off + 4 * k + i] = (uint8_t)(ab[64 * k + i] ^ (f.bias ? 0x80 : 0));
        if (f.d_off >= 0) memcpy(blk + f.d_off, d + 32 * (size_t)b + 2 * (size_t)r, 2);
    }
}
