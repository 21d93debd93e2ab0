/* softthink trace-view TRACE.jsonl -o PAGE.html: a self-contained page with the
 * entropy curve over steps, the soft / discrete / injected phase bands, the
 * top-k mixture of every step, and the text coloured by phase. */
#include <jansson.h>
#include <math.h>

#include "cli.h"

typedef struct step {
    int phase;              /* 0 soft, 1 discrete, 2 injected */
    double entropy;         /* NAN when absent */
    char *text;
    int k;
    int ids[16];
    double probs[16];
} step;

static void html_escape(FILE *f, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\n': fputs("\\n", f); break;
        default: fputc(*s, f);
        }
    }
}

static const char *phase_color[3] = {"#4f7cff", "#9aa0a6", "#ff9f1c"};
static const char *rank_color[10] = {"#1f4e9c", "#2f6fd0", "#4f8ff0", "#73a8f5", "#98c0f8",
                                     "#b6d2fa", "#cfe0fc", "#dde9fd", "#e9f0fe", "#f2f6ff"};

int cmd_trace_view(int argc, char **argv) {
    const char *C = "trace-view", *in = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "-o", &out)) continue;
        if (cli_flag(argv, i, "--help")) {
            printf("usage: softthink trace-view TRACE.jsonl -o PAGE.html\n");
            return 0;
        }
        if (argv[i][0] == '-') return cli_fail(C, "unknown option '%s'", argv[i]);
        if (in) return cli_fail(C, "one trace file at a time ('%s' and '%s')", in, argv[i]);
        in = argv[i];
    }
    if (!in || !out) return cli_fail(C, "usage: softthink trace-view TRACE.jsonl -o PAGE.html");
    FILE *f = fopen(in, "r");
    if (!f) return cli_fail(C, "cannot open '%s'", in);
    int n = 0, cap = 256, line_no = 0, rc = 0;
    step *st = malloc((size_t)cap * sizeof *st);
    json_t *summary = NULL;
    char *line = NULL;
    size_t lcap = 0;
    while (getline(&line, &lcap, f) > 0) {
        line_no++;
        json_error_t err;
        json_t *o = json_loads(line, 0, &err);
        if (!o || !json_is_object(o)) {
            rc = cli_fail(C, "%s:%d: not a JSON object (%s)", in, line_no, o ? "wrong type" : err.text);
            json_decref(o);
            break;
        }
        if (json_object_get(o, "summary")) {
            json_decref(summary);
            summary = o;
            continue;
        }
        const char *ph = json_string_value(json_object_get(o, "phase"));
        json_t *ids = json_object_get(o, "topk_ids"), *pr = json_object_get(o, "topk_probs");
        if (!ph || !json_is_array(ids) || !json_is_array(pr) || json_array_size(ids) != json_array_size(pr)) {
            rc = cli_fail(C, "%s:%d: a step needs 'phase', 'topk_ids' and 'topk_probs' of equal length", in, line_no);
            json_decref(o);
            break;
        }
        if (n == cap) {
            step *p = realloc(st, (size_t)(cap *= 2) * sizeof *st);
            if (!p) { rc = cli_fail(C, "out of memory"); json_decref(o); break; }
            st = p;
        }
        step *s = &st[n++];
        s->phase = !strcmp(ph, "soft") ? 0 : !strcmp(ph, "injected") ? 2 : 1;
        json_t *e = json_object_get(o, "entropy");
        s->entropy = json_is_number(e) ? json_number_value(e) : NAN;
        const char *tx = json_string_value(json_object_get(o, "text"));
        s->text = strdup(tx ? tx : "");
        s->k = (int)json_array_size(ids) < 16 ? (int)json_array_size(ids) : 16;
        for (int j = 0; j < s->k; j++) {
            s->ids[j] = (int)json_integer_value(json_array_get(ids, (size_t)j));
            s->probs[j] = json_number_value(json_array_get(pr, (size_t)j));
        }
        json_decref(o);
    }
    free(line);
    fclose(f);
    FILE *h = rc ? NULL : fopen(out, "w");
    if (!rc && !h) rc = cli_fail(C, "cannot write '%s'", out);
    if (h) {
        double emax = 1e-9;
        for (int i = 0; i < n; i++)
            if (!isnan(st[i].entropy) && st[i].entropy > emax) emax = st[i].entropy;
        int W = 1000, H = 220, M = 40;
        double dx = n > 0 ? (double)(W - 2 * M) / n : 1;
        fprintf(h, "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>softthink trace</title><style>"
                   "body{font-family:sans-serif;margin:24px;color:#222}h1{font-size:20px}h2{font-size:16px;margin-top:28px}"
                   ".tok{white-space:pre-wrap;border-radius:3px;padding:0 1px}.s0{background:#dfe7ff}.s1{background:#f1f3f4}"
                   ".s2{background:#ffe3c2}.legend span{display:inline-block;padding:2px 8px;margin-right:8px;border-radius:3px}"
                   "table{border-collapse:collapse}td{padding:2px 10px;border-bottom:1px solid #eee}</style></head><body>\n");
        fprintf(h, "<h1>softthink trace: ");
        html_escape(h, in);
        fprintf(h, "</h1>\n<div class=\"legend\"><span class=\"s0\">soft (concept token)</span><span class=\"s1\">discrete</span>"
                   "<span class=\"s2\">injected (cold stop / budget)</span></div>\n");
        if (summary) {
            fprintf(h, "<table>");
            const char *key;
            json_t *v;
            json_object_foreach(summary, key, v) {
                if (!strcmp(key, "summary")) continue;
                char *val = json_dumps(v, JSON_ENCODE_ANY);
                fprintf(h, "<tr><td>");
                html_escape(h, key);
                fprintf(h, "</td><td>");
                html_escape(h, val ? val : "");
                fprintf(h, "</td></tr>");
                free(val);
            }
            fprintf(h, "</table>\n");
        }
        /* entropy over steps on phase bands */
        fprintf(h, "<h2>Entropy of the tempered distribution (nats) over steps</h2>\n<svg width=\"%d\" height=\"%d\" "
                   "xmlns=\"http://www.w3.org/2000/svg\">\n", W, H + 30);
        for (int i = 0; i < n; i++)
            fprintf(h, "<rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" fill=\"%s\" opacity=\"0.25\"/>\n", M + i * dx, 10,
                    dx + 0.5, H - 10, phase_color[st[i].phase]);
        fprintf(h, "<polyline fill=\"none\" stroke=\"#c0392b\" stroke-width=\"1.5\" points=\"");
        for (int i = 0; i < n; i++)
            if (!isnan(st[i].entropy))
                fprintf(h, "%.2f,%.2f ", M + (i + 0.5) * dx, H - (H - 20) * st[i].entropy / emax);
        fprintf(h, "\"/>\n<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n", M, H, W - M, H);
        fprintf(h, "<text x=\"4\" y=\"20\" font-size=\"11\">%.2f</text><text x=\"4\" y=\"%d\" font-size=\"11\">0</text>", emax, H);
        fprintf(h, "<text x=\"%d\" y=\"%d\" font-size=\"11\">step 0</text><text x=\"%d\" y=\"%d\" font-size=\"11\">step %d</text>\n", M,
                H + 16, W - M - 50, H + 16, n > 0 ? n - 1 : 0);
        fprintf(h, "</svg>\n");
        /* top-k mixture per step */
        fprintf(h, "<h2>Top-k mixture of each step (bar segments = weights, darkest = most likely)</h2>\n<svg width=\"%d\" "
                   "height=\"%d\" xmlns=\"http://www.w3.org/2000/svg\">\n", W, H + 10);
        for (int i = 0; i < n; i++) {
            double y = H;
            for (int j = 0; j < st[i].k; j++) {
                double hh = (H - 10) * st[i].probs[j];
                y -= hh;
                fprintf(h, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"><title>step %d, rank %d: id %d, p=%.4f"
                           "</title></rect>\n", M + i * dx, y, dx > 1.5 ? dx - 0.5 : dx, hh, rank_color[j < 10 ? j : 9], i, j + 1,
                        st[i].ids[j], st[i].probs[j]);
            }
        }
        fprintf(h, "</svg>\n<h2>Text</h2>\n<div>");
        for (int i = 0; i < n; i++) {
            fprintf(h, "<span class=\"tok s%d\" title=\"step %d", st[i].phase, i);
            if (!isnan(st[i].entropy)) fprintf(h, ", H=%.4f", st[i].entropy);
            for (int j = 0; j < st[i].k && j < 5; j++) fprintf(h, "%s%d:%.3f", j ? " " : " | top: ", st[i].ids[j], st[i].probs[j]);
            fprintf(h, "\">");
            html_escape(h, st[i].text);
            fprintf(h, "</span>");
        }
        fprintf(h, "</div>\n</body></html>\n");
        if (fclose(h)) rc = cli_fail(C, "write to '%s' failed", out);
    }
    for (int i = 0; i < n; i++) free(st[i].text);
    free(st);
    json_decref(summary);
    return rc;
}
