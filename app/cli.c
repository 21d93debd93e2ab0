#include "cli.h"

#include <errno.h>
#include <strings.h>
#include <math.h>
#include <stdarg.h>

int cli_fail(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "softthink %s: error: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int cli_fail_status(const char *cmd, st_status s) {
    return cli_fail(cmd, "%s (%s)", st_last_error(), st_status_name(s));
}

int cli_opt(int argc, char **argv, int *i, const char *name, const char **val) {
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) return 0;
    if (a[n] == '=') { *val = a + n + 1; return 1; }
    if (a[n] != 0) return 0;
    if (*i + 1 >= argc) { *val = NULL; return 1; }
    *val = argv[++*i];
    return 1;
}

int cli_flag(char **argv, int i, const char *name) { return strcmp(argv[i], name) == 0; }

int cli_int(const char *cmd, const char *opt, const char *s, long long *out) {
    if (!s) return cli_fail(cmd, "%s needs a value", opt), -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) return cli_fail(cmd, "%s: '%s' is not an integer", opt, s), -1;
    *out = v;
    return 0;
}

int cli_cache_type(const char *cmd, const char *s, st_type *out) {
    if (!s) return cli_fail(cmd, "--cache-type needs a value (f16 or q8_0)"), -1;
    if (!strcasecmp(s, "f16")) *out = ST_TYPE_F16;
    else if (!strcasecmp(s, "q8_0")) *out = ST_TYPE_Q8_0;
    else return cli_fail(cmd, "--cache-type: '%s' is not a KV cache type (f16 or q8_0)", s), -1;
    return 0;
}

int cli_float(const char *cmd, const char *opt, const char *s, double *out) {
    if (!s) return cli_fail(cmd, "%s needs a value", opt), -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) return cli_fail(cmd, "%s: '%s' is not a number", opt, s), -1;
    *out = v;
    return 0;
}

int cli_parse_ids(const char *cmd, const char *s, st_token **ids, int *n) {
    *ids = NULL;
    *n = 0;
    if (!s) return cli_fail(cmd, "--ids needs a value"), -1;
    int cap = 16;
    st_token *v = malloc((size_t)cap * sizeof *v);
    if (!v) return cli_fail(cmd, "out of memory"), -1;
    const char *p = s;
    for (;;) {
        while (*p == ' ' || *p == ',' || *p == '\t' || *p == '\n') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long long x = strtoll(p, &end, 10);
        if (end == p || errno || x < 0 || x > INT32_MAX) {
            free(v);
            return cli_fail(cmd, "--ids: '%.20s' is not a token id", p), -1;
        }
        if (*n == cap) {
            cap *= 2;
            st_token *w = realloc(v, (size_t)cap * sizeof *v);
            if (!w) { free(v); return cli_fail(cmd, "out of memory"), -1; }
            v = w;
        }
        v[(*n)++] = (st_token)x;
        p = end;
    }
    if (*n == 0) { free(v); return cli_fail(cmd, "--ids: no token ids given"), -1; }
    *ids = v;
    return 0;
}

int cli_repack = 1;

int cli_open(const char *cmd, const char *model_path, const st_context_params *cp, st_model **m, st_context **c) {
    *m = NULL;
    *c = NULL;
    if (!model_path) return cli_fail(cmd, "no model given (-m MODEL.gguf)");
    st_model_params mp = st_model_default_params();
    mp.repack = cli_repack;
    st_status s = st_model_load(model_path, &mp, m);
    if (s != ST_OK) return cli_fail_status(cmd, s);
    s = st_context_init(*m, cp, c);
    if (s != ST_OK) {
        st_model_free(*m);
        *m = NULL;
        return cli_fail_status(cmd, s);
    }
    return 0;
}

#include <time.h>
double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}
