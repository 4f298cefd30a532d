/* Datasets from a CSV manifest: "path,label" lines (optional header,
 * quoted fields), integer or named labels. */
#include "dataset_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Splits one line into at most 3 fields (quotes honoured). Returns the field
 * count or -1 for an unterminated quote. Fields are written into buf. */
static int csv_fields(const char *line, char *buf, char **f, int maxf)
{
    int n = 0;
    const char *p = line;
    char *o = buf;
    for (;;) {
        if (n == maxf)
            return maxf + 1;
        f[n++] = o;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '"') {
            p++;
            for (;;) {
                if (!*p)
                    return -1;
                if (*p == '"' && p[1] == '"') {
                    *o++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    *o++ = *p++;
                }
            }
            while (*p == ' ' || *p == '\t')
                p++;
            *o++ = '\0';
        } else {
            char *start = o;
            while (*p && *p != ',')
                *o++ = *p++;
            while (o > start && (o[-1] == ' ' || o[-1] == '\t'))
                o--;
            *o++ = '\0';
        }
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p)
            return -1;
        return n;
    }
}

static int parse_int(const char *s, long *v)
{
    if (!*s)
        return 0;
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (*end || errno)
        return 0;
    *v = x;
    return 1;
}

typedef struct CsvRow {
    char *path;
    char *label;
    int64_t line;
} CsvRow;

int thaw_dataset_open_csv(const char *csv_path, int num_classes, int verify,
                          ThawDataset **out, ThawError *err)
{
    *out = NULL;
    FILE *fp = fopen(csv_path, "rb");
    if (!fp)
        return thaw_fail(err, THAW_ERR_IO, "%s: cannot open CSV manifest (%s)",
                         csv_path, strerror(errno));
    /* base folder */
    char *base = dataset_dupstr(csv_path);
    if (!base) {
        fclose(fp);
        return thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", csv_path);
    }
    char *slash = strrchr(base, '/');
    if (slash)
        slash[1] = '\0';
    else
        base[0] = '\0';

    CsvRow *rows = NULL;
    int64_t nrows = 0, caprows = 0, lineno = 0;
    int rc = THAW_OK;
    char *line = NULL;
    size_t linecap = 0;
    ssize_t len;
    int all_int = 1;
    while ((len = getline(&line, &linecap, fp)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (lineno == 1 && len >= 3 && (unsigned char)line[0] == 0xEF &&
            (unsigned char)line[1] == 0xBB && (unsigned char)line[2] == 0xBF)
            memmove(line, line + 3, (size_t)(len -= 3) + 1);
        const char *q = line;
        while (*q == ' ' || *q == '\t')
            q++;
        if (!*q)
            continue; /* blank line */
        char *buf = malloc((size_t)len + 4);
        if (!buf) {
            rc = thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", csv_path);
            break;
        }
        char *f[2];
        int nf = csv_fields(line, buf, f, 2);
        if (nf == 2 && nrows == 0 && all_int && strcasecmp(f[0], "path") == 0 &&
            lineno == 1) {
            free(buf);
            continue; /* header */
        }
        if (nf != 2 || !f[0][0] || !f[1][0]) {
            free(buf);
            rc = thaw_fail(err, THAW_ERR_FORMAT,
                           "%s:%lld: expected 'path,label', got '%.80s'",
                           csv_path, (long long)lineno, line);
            break;
        }
        if (nrows == caprows) {
            caprows = caprows ? 2 * caprows : 64;
            CsvRow *r = realloc(rows, (size_t)caprows * sizeof *r);
            if (!r) {
                free(buf);
                rc = thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory",
                               csv_path);
                break;
            }
            rows = r;
        }
        long v;
        if (!parse_int(f[1], &v))
            all_int = 0;
        rows[nrows].path = f[0][0] == '/' ? dataset_dupstr(f[0])
                                          : dataset_join_path(base, f[0]);
        rows[nrows].label = dataset_dupstr(f[1]);
        rows[nrows].line = lineno;
        free(buf);
        nrows++;
        if (!rows[nrows - 1].path || !rows[nrows - 1].label) {
            rc = thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", csv_path);
            break;
        }
    }
    free(line);
    fclose(fp);
    free(base);

    Source *s = NULL;
    FileList l = {0};
    if (rc == THAW_OK && nrows == 0)
        rc = thaw_fail(err, THAW_ERR_FORMAT, "%s: no items in CSV manifest",
                       csv_path);
    if (rc == THAW_OK && !(s = calloc(1, sizeof *s)))
        rc = thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", csv_path);
    if (rc == THAW_OK) {
        s->refs = 1;
        if (all_int) {
            long maxv = -1;
            for (int64_t i = 0; i < nrows && rc == THAW_OK; i++) {
                long v = 0;
                parse_int(rows[i].label, &v);
                if (v < 0 || (num_classes > 0 && v >= num_classes) ||
                    v >= 1000000)
                    rc = thaw_fail(err, THAW_ERR_FORMAT,
                                   "%s:%lld: label %ld out of range 0..%d",
                                   csv_path, (long long)rows[i].line, v,
                                   num_classes > 0 ? num_classes - 1 : 999999);
                if (v > maxv)
                    maxv = v;
            }
            if (rc == THAW_OK &&
                dataset_set_numbered_classes(
                    s, num_classes > 0 ? num_classes : (int)maxv + 1) != 0)
                rc = thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory",
                               csv_path);
        } else {
            /* Label names: the sorted distinct set. */
            char **names = malloc((size_t)nrows * sizeof *names);
            if (!names) {
                rc = thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory",
                               csv_path);
            } else {
                for (int64_t i = 0; i < nrows; i++)
                    names[i] = rows[i].label;
                qsort(names, (size_t)nrows, sizeof *names, dataset_cmp_str);
                int64_t k = 0;
                for (int64_t i = 0; i < nrows; i++)
                    if (k == 0 || strcmp(names[k - 1], names[i]) != 0)
                        names[k++] = names[i];
                if (num_classes > 0 && k > num_classes)
                    rc = thaw_fail(err, THAW_ERR_FORMAT,
                                   "%s: %lld distinct label names, more than "
                                   "the %d classes asked for",
                                   csv_path, (long long)k, num_classes);
                s->class_names = calloc((size_t)k, sizeof(char *));
                if (rc == THAW_OK && !s->class_names)
                    rc = thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory",
                                   csv_path);
                if (rc == THAW_OK) {
                    s->num_classes = (int)k;
                    for (int64_t i = 0; i < k; i++)
                        if (!(s->class_names[i] = dataset_dupstr(names[i])))
                            rc = thaw_fail(err, THAW_ERR_NOMEM,
                                           "%s: out of memory", csv_path);
                }
                free(names);
            }
        }
    }
    for (int64_t i = 0; i < nrows && rc == THAW_OK; i++) {
        int32_t label;
        if (all_int) {
            long v = 0;
            parse_int(rows[i].label, &v);
            label = (int32_t)v;
        } else {
            int lo = 0, hi = s->num_classes - 1;
            label = -1;
            while (lo <= hi) {
                int mid = (lo + hi) / 2;
                int c = strcmp(rows[i].label, s->class_names[mid]);
                if (c == 0) {
                    label = mid;
                    break;
                }
                if (c < 0)
                    hi = mid - 1;
                else
                    lo = mid + 1;
            }
        }
        char where[600];
        snprintf(where, sizeof where, "%s:%lld", csv_path,
                 (long long)rows[i].line);
        int c = dataset_check_image(s, rows[i].path, verify, where, err);
        if (c < 0) {
            rc = err ? err->code : THAW_ERR_IO;
        } else if (c == 0) {
            if (dataset_list_push(&l, rows[i].path, label) != 0)
                rc = thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory",
                               csv_path);
            else
                rows[i].path = NULL; /* owned by the list */
        }
    }
    if (rc == THAW_OK && l.n == 0)
        rc = thaw_fail(err, THAW_ERR_FORMAT, "%s: no readable image listed",
                       csv_path);
    for (int64_t i = 0; i < nrows; i++) {
        free(rows[i].path);
        free(rows[i].label);
    }
    free(rows);
    if (rc) {
        dataset_list_free(&l);
        dataset_source_release(s);
        return rc;
    }
    return dataset_finish_files(s, &l, out, err);
}
