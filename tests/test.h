/* Minimal test harness: every CHECK counts as one assertion; a test binary
 * prints one line per failed check and ends with "<name>: N passed, N failed".
 * tests/run.sh adds up all binaries. */
#ifndef ST_TEST_H
#define ST_TEST_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_pass, t_fail;

#define CHECK(cond) CHECKF(cond, "%s", #cond)
#define CHECKF(cond, ...)                                              \
    do {                                                               \
        if (cond) t_pass++;                                            \
        else {                                                         \
            t_fail++;                                                  \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);       \
            fprintf(stderr, __VA_ARGS__);                              \
            fprintf(stderr, "\n");                                     \
        }                                                              \
    } while (0)
#define CHECK_OK(expr)                                                                  \
    do {                                                                                \
        st_status s_ = (expr);                                                          \
        CHECKF(s_ == ST_OK, "%s -> %s: %s", #expr, st_status_name(s_), st_last_error()); \
    } while (0)

/* Path of a file in the shared fixtures: $SOFTTHINK_SHARED or ../shared. */
static inline const char *t_shared(const char *rel) {
    static char buf[8][1024];
    static int k;
    const char *root = getenv("SOFTTHINK_SHARED");
    if (!root || !*root) root = "../shared";
    char *b = buf[k++ & 7];
    snprintf(b, sizeof buf[0], "%s/%s", root, rel);
    return b;
}

/* Read a whole file; NULL if missing. */
static inline void *t_read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *p = malloc(n > 0 ? (size_t)n + 1 : 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) { free(p); p = NULL; }
    if (p) ((char *)p)[n] = 0;
    fclose(f);
    if (size) *size = (size_t)n;
    return p;
}

static inline double t_rel_l2(const float *a, const float *ref, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static inline int t_done(const char *name) {
    printf("%s: %d passed, %d failed\n", name, t_pass, t_fail);
    return t_fail ? 1 : 0;
}
#endif
