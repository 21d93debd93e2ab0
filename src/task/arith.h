/* Arithmetic word problems (internals beyond the public API). */
#ifndef ST_TASK_ARITH_H
#define ST_TASK_ARITH_H
#include <stddef.h>
#include "softthink.h"

/* Every word the problem templates use (vocabulary building). */
const char *const *st_arith_words(int *n);
/* Split (0 train, 1 test) of a canonical form "23+17-9". */
int st_arith_split_of(const char *canon);
/* Canonical form of a generated problem; 0 ok, -1 on a malformed solution. */
int st_arith_canonical(const st_arith_problem *pr, char *out, size_t cap);
/* Digits of every number in the worked steps (fixed per params). */
int st_arith_width(const st_arith_params *p);
/* One solution line "320+710:3700,2114,0000=040" -> 23, '+', 17, 40; 0 ok, -1 malformed
 * (including column chunks that do not restate a and b or carry wrongly). */
int st_arith_parse_step(const char *line, long long *a, char *op, long long *b, long long *c);
#endif
