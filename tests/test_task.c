/* Arithmetic task: determinism, answers that check out, disjoint splits,
 * answer parsing; the model's tokenizer (round trip, <think> as one token)
 * and the "arith" chat template. */
#include <stdint.h>

#include "softthink.h"
#include "test.h"
#include "task/arith.h"
#include "train/train.h"

static long long eval_solution(const char *sol, int *ok) {
    /* check every line "a op b = c" and the chaining of c into the next a */
    long long prev = 0, a, b, c;
    char op;
    int first = 1;
    *ok = 1;
    const char *s = sol;
    while (*s) {
        if (st_arith_parse_step(s, &a, &op, &b, &c)) { *ok = 0; return 0; }
        if ((op == '+' ? a + b : a - b) != c || c < 0 || (!first && a != prev)) *ok = 0;
        prev = c;
        first = 0;
        const char *nl = strchr(s, '\n');
        if (!nl) break;
        s = nl + 1;
    }
    return prev;
}

static void test_generate(void) {
    st_arith_params p = st_arith_default_params();
    CHECK(p.min_steps >= 1 && p.max_steps >= p.min_steps && p.max_digits >= 1);
    st_arith_problem a, b;
    int bad = 0, steps_seen[9] = {0};
    for (int i = 0; i < 300; i++) {
        CHECK_OK(st_arith_generate(&p, 7, i % 2, (uint64_t)i, &a));
        CHECK_OK(st_arith_generate(&p, 7, i % 2, (uint64_t)i, &b));
        bad += memcmp(&a, &b, sizeof a) != 0;
        int ok;
        long long v = eval_solution(a.solution, &ok);
        bad += !ok || v != a.answer;
        int lines = 1;
        for (const char *c = a.solution; *c; c++) lines += *c == '\n';
        if (lines <= 8) steps_seen[lines]++;
        char canon[128];
        CHECK(st_arith_canonical(&a, canon, sizeof canon) == 0);
        bad += st_arith_split_of(canon) != i % 2;
    }
    CHECKF(bad == 0, "%d problems not deterministic / wrong / in the wrong split", bad);
    for (int s = p.min_steps; s <= p.max_steps; s++) CHECKF(steps_seen[s] > 0, "no problem with %d steps", s);
    /* seeds and indices matter */
    CHECK_OK(st_arith_generate(&p, 7, 0, 1, &a));
    CHECK_OK(st_arith_generate(&p, 8, 0, 1, &b));
    CHECK(strcmp(a.question, b.question) != 0);
    /* knobs */
    st_arith_params q = {4, 4, 3};
    CHECK_OK(st_arith_generate(&q, 1, 1, 5, &a));
    int lines = 1;
    for (const char *c = a.solution; *c; c++) lines += *c == '\n';
    CHECK(lines == 4);
    st_arith_params badp = {3, 2, 2};
    CHECK(st_arith_generate(&badp, 1, 0, 0, &a) == ST_E_ARG);
    CHECK(st_arith_generate(&p, 1, 2, 0, &a) == ST_E_ARG);
}

/* No canonical form of the first train problems appears among the test problems. */
static int cmp_str(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }
static void test_disjoint(void) {
    enum { N = 4000 };
    static char tr[N][64], te[N][64];
    st_arith_params p = st_arith_default_params();
    st_arith_problem pr;
    for (int i = 0; i < N; i++) {
        st_arith_generate(&p, 1, 0, (uint64_t)i, &pr);
        st_arith_canonical(&pr, tr[i], 64);
        st_arith_generate(&p, 1, 1, (uint64_t)i, &pr);
        st_arith_canonical(&pr, te[i], 64);
    }
    qsort(tr, N, 64, cmp_str);
    int shared = 0;
    for (int i = 0; i < N; i++) shared += bsearch(te[i], tr, N, 64, cmp_str) != NULL;
    CHECKF(shared == 0, "%d test problems also in train", shared);
}

static void test_parse(void) {
    long long v;
    CHECK(st_arith_parse_answer("1 + 2 = 3\n</think>\nAnswer: 31", &v) == 0 && v == 31);
    CHECK(st_arith_parse_answer("x\n</think>\nAnswer: 7<|endoftext|>", &v) == 0 && v == 7);
    CHECK(st_arith_parse_answer("</think>\n  42\n", &v) == 0 && v == 42);
    CHECK(st_arith_parse_answer("Answer: 5", &v) == 0 && v == 5);
    CHECK(st_arith_parse_answer("1 + 2 = 3\n", &v) == -1);
    CHECK(st_arith_parse_answer("</think>\nAnswer: ", &v) == -1);
    CHECK(strcmp(st_arith_answer_prefix(), "Answer: ") == 0);
    st_arith_problem pr;
    st_arith_generate(NULL, 3, 1, 2, &pr);
    char buf[2048];
    CHECK(st_arith_format(&pr, 1, buf, sizeof buf) > 0);
    CHECK(st_arith_parse_answer(buf, &v) == 0 && v == pr.answer);
    CHECK(st_arith_format(&pr, 0, buf, sizeof buf) > 0);
    CHECK(strstr(buf, "\n<think>\n</think>\nAnswer: ") != NULL);
    CHECK(st_arith_format(&pr, 1, buf, 10) == -1);
    /* a step line: 91 - 69 = 22, columns ones first as a-digit, b-digit, borrow in, result digit */
    long long a, b, c;
    char op;
    CHECK(st_arith_parse_step("190-960:1902,9612,0000=220", &a, &op, &b, &c) == 0 && a == 91 && op == '-' && b == 69 && c == 22);
    CHECK(st_arith_parse_step("190-960:1902,9612,0000=220\nnext", &a, &op, &b, &c) == 0);
    CHECK(st_arith_parse_step("190-960:1902,9602,0000=220", &a, &op, &b, &c) == -1);   /* borrow missing */
    CHECK(st_arith_parse_step("190-960:1903,9612,0000=220", &a, &op, &b, &c) == -1);   /* wrong digit */
    CHECK(st_arith_parse_step("190-960:1902,9612,0000=230", &a, &op, &b, &c) == -1);   /* result != columns */
    CHECK(st_arith_parse_step("190-960:1902,9612=220", &a, &op, &b, &c) == -1);        /* a column short */
    CHECK(st_arith_parse_step("190-96:1902,9612,0000=220", &a, &op, &b, &c) == -1);    /* widths differ */
    CHECK(st_arith_parse_step("280+350:2305,8503,0011=531", &a, &op, &b, &c) == 0 && a + b == c && c == 135);
    /* the examples in softthink.h and arith.h */
    CHECK(st_arith_parse_step("320+710:3700,2114,0000=040", &a, &op, &b, &c) == 0 && a == 23 && b == 17 && c == 40);
    CHECK(st_arith_parse_step("040-900:0901,4013,0000=130", &a, &op, &b, &c) == 0 && a == 40 && b == 9 && c == 31);
}

static void test_tokenizer(void) {
    st_train_vocab v;
    CHECK_OK(st_train_vocab_build(&v));
    CHECKF(v.n >= 300 && v.n <= 1000, "vocabulary of %d tokens", v.n);
    st_tokenizer *t = NULL;
    CHECK_OK(st_train_vocab_tokenizer(&v, &t));
    if (!t) return;
    CHECK(st_tokenizer_find(t, "<think>") == v.think && st_tokenizer_find(t, "</think>") == v.think_end);
    CHECK(st_tokenizer_eos(t) == v.eos && st_tokenizer_bos(t) == v.bos && st_tokenizer_is_eog(t, v.eos));
    st_arith_problem pr;
    int bad = 0, max_len = 0;
    st_token ids[1024];
    char text[2048], back[4096];
    for (int i = 0; i < 200; i++) {
        st_arith_params p = {1, 5, 3};
        st_arith_generate(&p, 11, i % 2, (uint64_t)i, &pr);
        int n = st_arith_format(&pr, i % 3 != 0, text, sizeof text), ni;
        CHECK_OK(st_tokenize(t, text, (size_t)n, 0, 0, ids, 1024, &ni));
        size_t len;
        CHECK_OK(st_detokenize(t, ids, ni, 0, back, sizeof back, &len));
        bad += len != (size_t)n || memcmp(back, text, (size_t)n);
        int nthink = 0;
        for (int k = 0; k < ni; k++) nthink += ids[k] == v.think || ids[k] == v.think_end;
        bad += nthink != 2;
        for (int k = 0; k < ni; k++) bad += st_tokenizer_token_type(t, ids[k]) == ST_TOKEN_BYTE && ids[k] != v.think + 2 + 0x0A;
        if (ni > max_len) max_len = ni;
    }
    CHECKF(bad == 0, "%d texts do not round-trip / lack single think tokens / use unexpected byte tokens", bad);
    CHECKF(max_len + 2 <= 256, "longest text is %d tokens (+ BOS, EOS must fit the context 256)", max_len);
    /* digits stay single tokens; words are whole tokens */
    int ni;
    CHECK_OK(st_tokenize(t, "Ann has 123 apples.", 19, 0, 0, ids, 64, &ni));
    CHECKF(ni == 8, "'Ann has 123 apples.' -> %d tokens", ni);
    /* arbitrary text still round-trips (byte fallback) */
    const char *odd = "Zürich 😀 ~{}\t";
    size_t len;
    CHECK_OK(st_tokenize(t, odd, strlen(odd), 0, 0, ids, 64, &ni));
    CHECK_OK(st_detokenize(t, ids, ni, 0, back, sizeof back, &len));
    CHECK(len == strlen(odd) && !memcmp(back, odd, len));
    /* chat template */
    st_chat_template ct = st_chat_template_detect(t);
    CHECKF(ct.family == ST_CHAT_ARITH && !strcmp(ct.name, "arith"), "detected template %s", ct.name);
    st_chat_template byname;
    CHECK_OK(st_chat_template_by_name("arith", &byname));
    CHECK(byname.family == ST_CHAT_ARITH);
    st_chat_msg msg = {"user", pr.question};
    char *out = NULL;
    CHECK_OK(st_chat_format(&ct, &msg, 1, 1, 1, &out));
    char want[1024];
    snprintf(want, sizeof want, "%s\n<think>\n", pr.question);
    CHECK(out && !strcmp(out, want));
    free(out);
    CHECK_OK(st_chat_format(&ct, &msg, 1, 1, 0, &out));
    snprintf(want, sizeof want, "%s\n<think>\n</think>\n", pr.question);
    CHECK(out && !strcmp(out, want));
    free(out);
    st_think_markers mk = st_chat_think_markers(&ct, t);
    CHECK(mk.start_id == v.think && mk.end_id == v.think_end);
    st_tokenizer_free(t);
    st_train_vocab_free(&v);
}

int main(void) {
    test_generate();
    test_disjoint();
    test_parse();
    test_tokenizer();
    printf("test_task: %d passed, %d failed\n", t_pass, t_fail);
    return t_fail != 0;
}
