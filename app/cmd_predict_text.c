#include "cmd_predict_text.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_error.h"
#include "report_print.h"
#include "engine/run/text_checkpoint_model.h"
#include "engine/run/text_evaluate.h"

typedef struct {
    char **items;          /* texts; owned[i] says whether items[i] is malloc'd */
    unsigned char *owned;
    int n, cap;
} TextList;

static int list_add(TextList *l, char *text, int owned)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 64;
        char **items = realloc(l->items, (size_t)cap * sizeof *items);
        unsigned char *own = items ? realloc(l->owned, (size_t)cap) : NULL;
        if (items) {
            l->items = items;
        }
        if (!own) {
            return -1;
        }
        l->owned = own;
        l->cap = cap;
    }
    l->items[l->n] = text;
    l->owned[l->n++] = (unsigned char)owned;
    return 0;
}

static void list_free(TextList *l)
{
    for (int i = 0; i < l->n; i++) {
        if (l->owned[i]) {
            free(l->items[i]);
        }
    }
    free(l->items);
    free(l->owned);
}

/* Non-blank lines of path ("-": stdin), "\r\n" or "\n" ends. */
static int read_lines(const char *path, TextList *l, ThawError *err)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        return thaw_fail(err, THAW_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = 0;
    while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
            line[--len] = '\0';
        }
        if (strspn(line, " \t") == (size_t)len) {
            continue;
        }
        char *copy = strdup(line);
        if (!copy || list_add(l, copy, 1) != 0) {
            free(copy);
            rc = thaw_fail(err, THAW_ERR_NOMEM, "out of memory reading %s", path);
        }
    }
    if (rc == 0 && ferror(f)) {
        rc = thaw_fail(err, THAW_ERR_IO, "%s: read error", path);
    }
    free(line);
    if (f != stdin) {
        fclose(f);
    }
    return rc;
}

/* The first 60 characters of text (UTF-8 aware), "..." when cut. */
static void print_short(const char *text)
{
    int chars = 0;
    const char *p = text;
    while (*p && chars < 60) {
        p++;
        while ((*p & 0xC0) == 0x80) {
            p++;
        }
        chars++;
    }
    printf("%.*s%s\n", (int)(p - text), text, *p ? "..." : "");
}

/* The top K of one row: highest probability first, lower index on ties. */
static void print_top(const TextCheckpoint *tc, const char *text, const float *z, int top,
                      int json, unsigned char *used)
{
    int k = tc->classes;
    double mx = z[0], sum = 0;
    for (int c = 1; c < k; c++) {
        mx = z[c] > mx ? z[c] : mx;
    }
    for (int c = 0; c < k; c++) {
        sum += exp(z[c] - mx);
        used[c] = 0;
    }
    if (json) {
        printf("{\"text\":");
        print_json_string(text);
        printf(",\"predictions\":[");
    } else {
        print_short(text);
    }
    for (int j = 0; j < top; j++) {
        int best = -1;
        for (int c = 0; c < k; c++) {
            best = !used[c] && (best < 0 || z[c] > z[best]) ? c : best;
        }
        used[best] = 1;
        double prob = exp(z[best] - mx) / sum;
        if (json) {
            printf("%s{\"label\":", j ? "," : "");
            print_json_string(tc->class_names[best]);
            printf(",\"score\":%.6f}", prob);
        } else {
            printf("  %.4f  %s\n", prob, tc->class_names[best]);
        }
    }
    printf(json ? "]}\n" : "");
}

static int run(const char *ckpt, const TextList *l, int top, int json, ThawError *err)
{
    TextCheckpoint tc;
    int rc = text_checkpoint_open(&tc, ckpt, err);
    if (rc != 0) {
        return rc;
    }
    TextTokens tok = {0};
    rc = text_tokens_from_strings(tc.wp, (const char *const *)l->items, l->n,
                                  tc.cfg.max_length, &tok, NULL, err);
    float *logits = malloc((size_t)l->n * (size_t)tc.classes * sizeof *logits);
    unsigned char *used = malloc((size_t)tc.classes);
    if (rc == 0 && (!logits || !used)) {
        rc = thaw_fail(err, THAW_ERR_NOMEM, "out of memory");
    }
    rc = rc ? rc : text_eval_run(&tc, &tok, tc.cfg.batch, logits, NULL, err);
    for (int i = 0; rc == 0 && i < l->n; i++) {
        print_top(&tc, l->items[i], logits + (size_t)i * tc.classes,
                  top < tc.classes ? top : tc.classes, json, used);
    }
    free(used);
    free(logits);
    text_tokens_free(&tok);
    text_checkpoint_free(&tc);
    return rc;
}

int predict_text(const char *ckpt, char **texts, int n_texts, const char *file, int top,
                 int json)
{
    TextList l = {0};
    ThawError err = {0};
    int rc = 0;
    for (int i = 0; i < n_texts && rc == 0; i++) {
        rc = list_add(&l, texts[i], 0) == 0 ? 0 : thaw_fail(&err, THAW_ERR_NOMEM, "out of memory");
    }
    if (rc == 0 && file) {
        rc = read_lines(file, &l, &err);
    }
    if (rc == 0 && l.n == 0) {
        rc = thaw_fail(&err, THAW_ERR_ARG, "no text to classify (%s has no non-blank line)",
                       file ? file : "--text");
    }
    rc = rc ? rc : run(ckpt, &l, top, json, &err);
    list_free(&l);
    if (rc != 0) {
        cli_error_line("predict", err.msg);
        return rc == THAW_ERR_NOMEM ? 1 : 2;
    }
    return 0;
}
