/* Multi-step integer arithmetic word problems with worked solutions.
 *
 * A problem is a start value and 1..n operations (+ or -) applied in order,
 * told as a short story ("Ann has 23 apples. She buys 17 more, loses 9, then
 * finds 5 more. How many apples does she have?"). The worked solution has one
 * line per step, with every number written least-significant digit first and
 * zero-padded to a fixed width W (3 for the default 2-digit problems), then
 * the step done column by column: for each column, ones first, the digit of
 * a, the digit of b, the carry (or borrow) into the column, the result digit.
 * 91 - 69 = 22 is "190-960:1902,9612,0000=220". Every digit the model writes
 * is then either a copy from a fixed distance or a function of the two to
 * four tokens just before it. (Without the column chunks, "190-960=220", a
 * 3.4 M-parameter model learned the tens and hundreds but never the ones
 * digit of the result in 4000 steps: it needs two far digits combined.)
 * The final answer after </think> is written normally. Everything is a pure function of
 * (params, seed, split, index). The split of a problem is decided by a hash
 * of its canonical arithmetic form ("23+17-9+5"), so train and test never
 * share a computation, whatever the names and objects around it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "task/arith.h"

static const char *const names[] = {"Ann", "Ben", "Cara", "Dan", "Eve", "Finn", "Gus", "Ivy", "Jack", "Kim",
                                    "Leo", "Mia", "Ned", "Olga", "Pam", "Sam", "Tom", "Zoe"};
static const int name_female[] = {1, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 1, 0, 1, 1, 0, 0, 1};
static const char *const items[] = {"apples", "books", "cards", "coins", "eggs", "marbles", "pens", "shells",
                                    "stamps", "stickers", "cookies", "toys"};
/* phrase before/after the number */
static const char *const add_verbs[] = {"buys", "finds", "gets", "wins", "picks up"};
static const char *const sub_verbs[] = {"gives away", "loses", "sells", "uses", "drops"};

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

const char *const *st_arith_words(int *n) {
    /* every word the templates use (for the tokenizer's vocabulary) */
    static const char *const w[] = {
        "Ann", "Ben", "Cara", "Dan", "Eve", "Finn", "Gus", "Ivy", "Jack", "Kim", "Leo", "Mia", "Ned", "Olga",
        "Pam", "Sam", "Tom", "Zoe", "apples", "books", "cards", "coins", "eggs", "marbles", "pens", "shells",
        "stamps", "stickers", "cookies", "toys", "buys", "finds", "gets", "wins", "picks", "up", "gives", "away",
        "loses", "sells", "uses", "drops", "has", "more", "then", "How", "many", "does", "she", "he", "have",
        "She", "He", "Answer", "and", "now", "left"};
    *n = N_OF(w);
    return w;
}

st_arith_params st_arith_default_params(void) {
    st_arith_params p = {2, 3, 2};
    return p;
}

const char *st_arith_answer_prefix(void) { return "Answer: "; }

static uint64_t mix64(uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct rng { uint64_t s; } rng;
static uint64_t next(rng *r) { return mix64(r->s += 0x9e3779b97f4a7c15ull); }
static int uni(rng *r, int lo, int hi) { return lo + (int)(next(r) % (uint64_t)(hi - lo + 1)); }

static uint64_t fnv(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return mix64(h);
}

int st_arith_split_of(const char *canon) { return (fnv(canon) % 10) < 2 ? 1 : 0; }

static int pow10i(int d) { int v = 1; while (d-- > 0) v *= 10; return v; }

int st_arith_width(const st_arith_params *p) {
    long long mx = (long long)(pow10i(p->max_digits) - 1) * (p->max_steps + 1);
    int w = 1;
    while (mx >= 10) { mx /= 10; w++; }
    return w;
}

/* v reversed and zero-padded to w digits: 82, 3 -> "280" */
static int put_rev(char *out, size_t cap, long long v, int w) {
    if ((size_t)w + 1 > cap) return 0;
    for (int i = 0; i < w; i++) { out[i] = (char)('0' + v % 10); v /= 10; }
    out[w] = 0;
    return w;
}

static long long get_rev(const char *s, int *len) {
    long long v = 0, m = 1;
    int n = 0;
    while (s[n] >= '0' && s[n] <= '9' && n < 18) { v += (s[n] - '0') * m; m *= 10; n++; }
    *len = n;
    return v;
}

/* "a op b:" then one chunk per column, ones first: the column's digits of a
 * and b, the carry (or borrow) into it, its result digit; then "=c". */
static int put_step(char *out, size_t cap, long long a, char op, long long b, long long c, int w) {
    char ra[24], rb[24], rc[24];
    if (w > 20) return -1;
    put_rev(ra, sizeof ra, a, w);
    put_rev(rb, sizeof rb, b, w);
    put_rev(rc, sizeof rc, c, w);
    size_t n = 0;
    int k = 0;
    int m = snprintf(out, cap, "%s%c%s:", ra, op, rb);
    if (m < 0 || (size_t)m >= cap) return -1;
    n = (size_t)m;
    for (int i = 0; i < w; i++) {
        int da = ra[i] - '0', db = rb[i] - '0', t = op == '+' ? da + db + k : da - db - k;
        m = snprintf(out + n, cap - n, "%s%c%c%d%c", i ? "," : "", ra[i], rb[i], k, rc[i]);
        if (m < 0 || (size_t)m >= cap - n) return -1;
        n += (size_t)m;
        k = op == '+' ? t >= 10 : t < 0;
    }
    m = snprintf(out + n, cap - n, "=%s", rc);
    if (m < 0 || (size_t)m >= cap - n) return -1;
    return (int)n + m;
}

int st_arith_parse_step(const char *line, long long *a, char *op, long long *b, long long *c) {
    int n, w;
    const char *s = line;
    *a = get_rev(s, &w);
    if (!w) return -1;
    const char *ra = s;
    s += w;
    if (s[0] != '+' && s[0] != '-') return -1;
    *op = s[0];
    s += 1;
    const char *rb = s;
    *b = get_rev(s, &n);
    if (n != w) return -1;
    s += n;
    if (*s++ != ':') return -1;
    /* the column chunks must restate a and b and carry correctly */
    int k = 0;
    for (int i = 0; i < w; i++) {
        if (i && *s++ != ',') return -1;
        if (s[0] != ra[i] || s[1] != rb[i] || s[2] != '0' + k || s[3] < '0' || s[3] > '9') return -1;
        int t = *op == '+' ? ra[i] - '0' + rb[i] - '0' + k : ra[i] - '0' - (rb[i] - '0') - k;
        if (s[3] - '0' != ((t % 10) + 10) % 10) return -1;
        k = *op == '+' ? t >= 10 : t < 0;
        s += 4;
    }
    if (*s != '=') return -1;
    const char *rc = s + 1;
    s += 1;
    *c = get_rev(s, &n);
    if (n != w || (s[n] && s[n] != '\n')) return -1;
    for (int i = 0; i < w; i++)
        if (rc[i] != line[w + 1 + w + 1 + 5 * i + 3]) return -1;
    return 0;
}

st_status st_arith_generate(const st_arith_params *pp, uint64_t seed, int split, uint64_t index, st_arith_problem *out) {
    st_arith_params p = pp ? *pp : st_arith_default_params();
    if (!out) return st_errorf(ST_E_ARG, "arith: NULL output");
    if (split != 0 && split != 1) return st_errorf(ST_E_ARG, "arith: split %d (0 train, 1 test)", split);
    if (p.min_steps < 1 || p.max_steps < p.min_steps || p.max_steps > 8)
        return st_errorf(ST_E_ARG, "arith: steps %d..%d (need 1 <= min <= max <= 8)", p.min_steps, p.max_steps);
    if (p.max_digits < 1 || p.max_digits > 4) return st_errorf(ST_E_ARG, "arith: max_digits %d (1..4)", p.max_digits);
    int maxv = pow10i(p.max_digits) - 1, w = st_arith_width(&p);
    for (uint64_t attempt = 0; attempt < 10000; attempt++) {
        rng r = {mix64(seed ^ mix64(index * 4 + (uint64_t)split) ^ mix64(attempt + 0x51ed))};
        int steps = uni(&r, p.min_steps, p.max_steps);
        int ni = uni(&r, 0, N_OF(names) - 1), ii = uni(&r, 0, N_OF(items) - 1);
        long long v = uni(&r, p.max_digits > 1 ? 2 : 1, maxv);
        char canon[128];
        int cn = snprintf(canon, sizeof canon, "%lld", v);
        char q[512], sol[1024];
        int qn = snprintf(q, sizeof q, "%s has %lld %s. %s ", names[ni], v, items[ii], name_female[ni] ? "She" : "He");
        int sn = 0;
        for (int s = 0; s < steps; s++) {
            int sub = v >= 2 && (next(&r) & 1);
            long long x = sub ? uni(&r, 1, (int)(v < maxv ? v : maxv)) : uni(&r, 1, maxv);
            long long nv = sub ? v - x : v + x;
            const char *verb = sub ? sub_verbs[uni(&r, 0, N_OF(sub_verbs) - 1)] : add_verbs[uni(&r, 0, N_OF(add_verbs) - 1)];
            const char *sep = s == 0 ? "" : (s == steps - 1 ? ", then " : ", ");
            if (!strcmp(verb, "gives away"))
                qn += snprintf(q + qn, sizeof q - qn, "%sgives %lld away", sep, x);
            else
                qn += snprintf(q + qn, sizeof q - qn, "%s%s %lld%s", sep, verb, x, sub ? "" : " more");
            if (s) sn += snprintf(sol + sn, sizeof sol - sn, "\n");
            int m = sn < (int)sizeof sol ? put_step(sol + sn, sizeof sol - (size_t)sn, v, sub ? '-' : '+', x, nv, w) : -1;
            if (m < 0) return st_errorf(ST_E_INTERNAL, "arith: problem text too long");
            sn += m;
            cn += snprintf(canon + cn, sizeof canon - cn, "%c%lld", sub ? '-' : '+', x);
            v = nv;
        }
        qn += snprintf(q + qn, sizeof q - qn, ". How many %s does %s have?", items[ii], name_female[ni] ? "she" : "he");
        if (qn >= (int)sizeof q || sn >= (int)sizeof sol) return st_errorf(ST_E_INTERNAL, "arith: problem text too long");
        if (st_arith_split_of(canon) != split) continue;
        memset(out, 0, sizeof *out);
        memcpy(out->question, q, (size_t)qn + 1);
        memcpy(out->solution, sol, (size_t)sn + 1);
        out->answer = v;
        return ST_OK;
    }
    return st_errorf(ST_E_INTERNAL, "arith: no problem found for this split");
}

int st_arith_canonical(const st_arith_problem *pr, char *out, size_t cap) {
    /* rebuild "23+17-9" from the solution lines */
    const char *s = pr->solution;
    size_t n = 0;
    int first = 1;
    while (*s) {
        long long a, b, c;
        char op;
        if (st_arith_parse_step(s, &a, &op, &b, &c)) return -1;
        int w = first ? snprintf(out + n, cap - n, "%lld%c%lld", a, op, b) : snprintf(out + n, cap - n, "%c%lld", op, b);
        if (w < 0 || (size_t)w >= cap - n) return -1;
        n += (size_t)w;
        first = 0;
        const char *nl = strchr(s, '\n');
        if (!nl) break;
        s = nl + 1;
    }
    return 0;
}

int st_arith_format(const st_arith_problem *pr, int think, char *out, size_t cap) {
    int n = think ? snprintf(out, cap, "%s\n<think>\n%s\n</think>\n%s%lld", pr->question, pr->solution,
                             st_arith_answer_prefix(), pr->answer)
                  : snprintf(out, cap, "%s\n<think>\n</think>\n%s%lld", pr->question, st_arith_answer_prefix(), pr->answer);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

int st_arith_parse_answer(const char *text, long long *out) {
    if (!text) return -1;
    const char *p = text, *q;
    while ((q = strstr(p, "</think>"))) p = q + 8;
    if (p == text && !strstr(text, st_arith_answer_prefix())) return -1;
    const char *a = strstr(p, st_arith_answer_prefix());
    if (a) p = a + strlen(st_arith_answer_prefix());
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') p++;
    int neg = 0;
    if (*p == '-') { neg = 1; p++; }
    if (*p < '0' || *p > '9') return -1;
    long long v = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > 100000000000000000ll) return -1;
        v = v * 10 + (*p - '0');
    }
    *out = neg ? -v : v;
    return 0;
}
