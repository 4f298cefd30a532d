/* Readers of labelled texts: CSV/TSV with a header, JSON lines, and the
 * Debian fortunes package's topic files. Each fills a TextBuilder. */
#include "text_dataset_internal.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- CSV / TSV ---- */

typedef struct {
    char **fields;             /* unescaped copies */
    size_t *lens;
    int n, cap;
} Record;

static void record_clear(Record *r)
{
    for (int i = 0; i < r->n; i++) {
        free(r->fields[i]);
    }
    r->n = 0;
}

static void record_free(Record *r)
{
    record_clear(r);
    free(r->fields);
    free(r->lens);
}

static int record_push(Record *r, const char *s, size_t n)
{
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 8;
        char **f = realloc(r->fields, (size_t)cap * sizeof *f);
        r->fields = f ? f : r->fields;
        size_t *l = f ? realloc(r->lens, (size_t)cap * sizeof *l) : NULL;
        r->lens = l ? l : r->lens;
        if (!l) {
            return -1;
        }
        r->cap = cap;
    }
    char *d = malloc(n + 1);
    if (!d) {
        return -1;
    }
    /* "" inside a quoted field is one quote */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        d[k++] = s[i];
        i += s[i] == '"' && i + 1 < n && s[i + 1] == '"';
    }
    d[k] = '\0';
    r->fields[r->n] = d;
    r->lens[r->n] = k;
    r->n++;
    return 0;
}

/* Reads one record at *pos (advanced past its line end); *line counts lines.
 * Returns 1 with a record, 0 at the end, <0 with err set. */
static int read_record(const char *path, const char *data, size_t len, size_t *pos,
                       char sep, int64_t *line, Record *r, ThawError *err)
{
    record_clear(r);
    size_t p = *pos;
    if (p >= len) {
        return 0;
    }
    int64_t start_line = *line;
    for (;;) {
        const char *field;
        size_t flen;
        if (p < len && data[p] == '"') {
            size_t q = ++p;
            while (p < len && !(data[p] == '"' && (p + 1 >= len || data[p + 1] != '"'))) {
                *line += data[p] == '\n';
                p += data[p] == '"' ? 2 : 1;
            }
            if (p >= len) {
                thaw_fail(err, THAW_ERR_FORMAT, "%s:%lld: quoted field never closed", path,
                          (long long)start_line);
                return -1;
            }
            field = data + q;
            flen = p - q;
            p++;   /* closing quote */
            if (p < len && data[p] != sep && data[p] != '\n' && data[p] != '\r') {
                thaw_fail(err, THAW_ERR_FORMAT, "%s:%lld: text after a closing quote", path,
                          (long long)*line);
                return -1;
            }
        } else {
            size_t q = p;
            while (p < len && data[p] != sep && data[p] != '\n' && data[p] != '\r') {
                p++;
            }
            field = data + q;
            flen = p - q;
        }
        if (record_push(r, field, flen) != 0) {
            thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", path);
            return -1;
        }
        if (p < len && data[p] == sep) {
            p++;
            continue;
        }
        p += p < len && data[p] == '\r';
        p += p < len && data[p] == '\n';
        (*line)++;
        *pos = p;
        return 1;
    }
}

static int find_column(const Record *h, const char *name)
{
    for (int i = 0; i < h->n; i++) {
        if (strcmp(h->fields[i], name) == 0) {
            return i;
        }
    }
    return -1;
}

static int missing_column(const char *path, const Record *h, const char *name, ThawError *err)
{
    char list[256] = "";
    size_t used = 0;
    for (int i = 0; i < h->n && used < sizeof list; i++) {
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "",
                                 h->fields[i]);
    }
    return thaw_fail(err, THAW_ERR_FORMAT, "%s:1: no '%s' column in the header (columns: %s)",
                     path, name, list);
}

int thaw_text_open_csv(const char *path, char sep, const char *text_column,
                       const char *label_column, int num_classes,
                       ThawTextDataset **out, ThawError *err)
{
    *out = NULL;
    const char *tc = text_column ? text_column : "text";
    const char *lc = label_column ? label_column : "label";
    if (!sep) {
        size_t n = strlen(path);
        sep = n > 4 && strcmp(path + n - 4, ".tsv") == 0 ? '\t' : ',';
    }
    char *data;
    size_t len;
    int rc = text_read_file(path, &data, &len, err);
    if (rc != 0) {
        return rc;
    }
    size_t pos = len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;   /* BOM */
    int64_t line = 1;
    Record head = {0}, r = {0};
    TextBuilder b = {.path = path};
    int got = read_record(path, data, len, &pos, sep, &line, &head, err);
    int ti = -1, li = -1;
    if (got == 0) {
        rc = thaw_fail(err, THAW_ERR_FORMAT, "%s: empty file (a header row with '%s' and '%s' "
                       "columns is needed)", path, tc, lc);
    } else if (got < 0) {
        rc = err->code;
    } else if ((ti = find_column(&head, tc)) < 0) {
        rc = missing_column(path, &head, tc, err);
    } else if ((li = find_column(&head, lc)) < 0) {
        rc = missing_column(path, &head, lc, err);
    }
    while (rc == 0) {
        int64_t at = line;
        got = read_record(path, data, len, &pos, sep, &line, &r, err);
        if (got <= 0) {
            rc = got < 0 ? err->code : 0;
            break;
        }
        if (r.n == 1 && r.lens[0] == 0) {
            continue;   /* blank line */
        }
        if (r.n != head.n) {
            rc = thaw_fail(err, THAW_ERR_FORMAT, "%s:%lld: %d fields, the header has %d", path,
                           (long long)at, r.n, head.n);
        } else if (r.lens[li] == 0) {
            rc = thaw_fail(err, THAW_ERR_FORMAT, "%s:%lld: empty label", path, (long long)at);
        } else {
            rc = text_builder_add(&b, r.fields[ti], r.lens[ti], r.fields[li], r.lens[li], at,
                                  err);
        }
    }
    record_free(&head);
    record_free(&r);
    free(data);
    if (rc != 0) {
        text_builder_free(&b);
        return rc;
    }
    return text_builder_finish(&b, num_classes, NULL, 0, out, err);
}

/* ---- JSON lines ---- */

static int jsonl_item(TextBuilder *b, const char *s, size_t n, int64_t line,
                      const char *tk, const char *lk, ThawError *err)
{
    cJSON *o = cJSON_ParseWithLength(s, n);
    int rc = 0;
    const cJSON *t = o ? cJSON_GetObjectItemCaseSensitive(o, tk) : NULL;
    const cJSON *l = o ? cJSON_GetObjectItemCaseSensitive(o, lk) : NULL;
    char num[32];
    if (!cJSON_IsObject(o)) {
        rc = thaw_fail(err, THAW_ERR_FORMAT, "%s:%lld: not a JSON object", b->path,
                       (long long)line);
    } else if (!cJSON_IsString(t)) {
        rc = thaw_fail(err, THAW_ERR_FORMAT, "%s:%lld: no string \"%s\"", b->path,
                       (long long)line, tk);
    } else if (!l) {
        rc = thaw_fail(err, THAW_ERR_FORMAT, "%s:%lld: no \"%s\"", b->path, (long long)line, lk);
    } else if (cJSON_IsNumber(l)) {
        double v = l->valuedouble;
        if (v != (double)(long long)v) {
            rc = thaw_fail(err, THAW_ERR_FORMAT, "%s:%lld: label %g is not an integer",
                           b->path, (long long)line, v);
        } else {
            snprintf(num, sizeof num, "%lld", (long long)v);
            rc = text_builder_add(b, t->valuestring, strlen(t->valuestring), num, strlen(num),
                                  line, err);
        }
    } else if (cJSON_IsString(l) && l->valuestring[0]) {
        rc = text_builder_add(b, t->valuestring, strlen(t->valuestring), l->valuestring,
                              strlen(l->valuestring), line, err);
    } else {
        rc = thaw_fail(err, THAW_ERR_FORMAT, "%s:%lld: \"%s\" must be a non-empty string or "
                       "an integer", b->path, (long long)line, lk);
    }
    cJSON_Delete(o);
    return rc;
}

int thaw_text_open_jsonl(const char *path, const char *text_key, const char *label_key,
                         int num_classes, ThawTextDataset **out, ThawError *err)
{
    *out = NULL;
    char *data;
    size_t len;
    int rc = text_read_file(path, &data, &len, err);
    if (rc != 0) {
        return rc;
    }
    TextBuilder b = {.path = path};
    int64_t line = 0;
    for (size_t p = 0; p < len && rc == 0;) {
        const char *nl = memchr(data + p, '\n', len - p);
        size_t end = nl ? (size_t)(nl - data) : len;
        line++;
        size_t q = p;
        while (q < end && (data[q] == ' ' || data[q] == '\t' || data[q] == '\r')) {
            q++;
        }
        if (q < end) {
            rc = jsonl_item(&b, data + p, end - p, line, text_key ? text_key : "text",
                            label_key ? label_key : "label", err);
        }
        p = end + 1;
    }
    free(data);
    if (rc != 0) {
        text_builder_free(&b);
        return rc;
    }
    return text_builder_finish(&b, num_classes, NULL, 0, out, err);
}

/* ---- fortunes ---- */

/* Entries of one topic file: the text between lines holding only "%". */
static int read_topic(TextBuilder *b, const char *file, const char *topic, ThawError *err)
{
    char *data;
    size_t len;
    int rc = text_read_file(file, &data, &len, err);
    if (rc != 0) {
        return rc;
    }
    int64_t before = b->n, line = 1, entry_line = 1;
    size_t entry = 0;
    for (size_t p = 0; p <= len && rc == 0;) {
        const char *nl = p < len ? memchr(data + p, '\n', len - p) : NULL;
        size_t end = nl ? (size_t)(nl - data) : len;
        int sep = end - p == 1 && data[p] == '%';
        /* the text after the last "%" (usually nothing) is an entry only
         * when it holds something */
        int tail = !sep && end >= len && entry < len &&
                   strspn(data + entry, " \t\r\n") < len - entry;
        if (sep || tail) {
            size_t stop = sep ? p : len;
            rc = text_builder_add(b, data + entry, stop - entry, topic, strlen(topic),
                                  entry_line, err);
        }
        if (sep) {
            entry = end + 1;
            entry_line = line + 1;
        }
        if (end >= len) {
            break;
        }
        p = end + 1;
        line++;
    }
    free(data);
    if (rc == 0 && b->n == before) {
        rc = thaw_fail(err, THAW_ERR_FORMAT, "%s: no fortunes in this file", file);
    }
    return rc;
}

int thaw_text_open_fortunes(const char *dir, const char *const *topics, int n_topics,
                            ThawTextDataset **out, ThawError *err)
{
    *out = NULL;
    const char *root = dir ? dir : THAW_FORTUNES_DIR;
    if (n_topics < 2) {
        return thaw_fail(err, THAW_ERR_ARG, "fortunes: at least 2 topics are needed, got %d",
                         n_topics);
    }
    TextBuilder b = {.path = root};
    int rc = 0;
    char file[1200];
    for (int k = 0; k < n_topics && rc == 0; k++) {
        for (int i = 0; i < k && rc == 0; i++) {
            if (strcmp(topics[i], topics[k]) == 0) {
                rc = thaw_fail(err, THAW_ERR_ARG, "fortunes: topic '%s' listed twice", topics[k]);
            }
        }
        if (rc == 0 && (!topics[k][0] || strchr(topics[k], '/') || topics[k][0] == '.')) {
            rc = thaw_fail(err, THAW_ERR_ARG, "fortunes: '%s' is not a topic name", topics[k]);
        }
        if (rc == 0) {
            snprintf(file, sizeof file, "%s/%s", root, topics[k]);
            rc = read_topic(&b, file, topics[k], err);
            if (rc == THAW_ERR_IO) {
                rc = thaw_fail(err, THAW_ERR_IO, "%s: no such fortunes topic (install the "
                               "Debian package fortunes, or pick a file in %s)", file, root);
            }
        }
    }
    if (rc != 0) {
        text_builder_free(&b);
        return rc;
    }
    return text_builder_finish(&b, 0, topics, n_topics, out, err);
}
