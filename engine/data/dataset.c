#include "dataset.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/data/idx.h"

typedef struct Source {
    int refs;
    int num_classes;
    char **class_names;
    int64_t count;
    int32_t *labels;
    /* IDX items */
    uint8_t *pixels;
    int h, w;
    /* file items */
    char **paths;
    /* open-time warnings */
    int64_t skipped;
    int nwarn;
    char **warnings;
} Source;

struct ThawDataset {
    Source *src;
    int64_t count;
    int64_t *index; /* NULL: identity */
};

/* ---- small helpers ------------------------------------------------------ */

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static char *join_path(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *p = malloc(na + nb + 2);
    if (!p)
        return NULL;
    memcpy(p, a, na);
    size_t k = na;
    if (na > 0 && a[na - 1] != '/')
        p[k++] = '/';
    memcpy(p + k, b, nb + 1);
    return p;
}

static void source_release(Source *s)
{
    if (!s || --s->refs > 0)
        return;
    for (int k = 0; k < s->num_classes && s->class_names; k++)
        free(s->class_names[k]);
    free(s->class_names);
    if (s->paths)
        for (int64_t i = 0; i < s->count; i++)
            free(s->paths[i]);
    free(s->paths);
    free(s->labels);
    free(s->pixels);
    for (int k = 0; k < s->nwarn; k++)
        free(s->warnings[k]);
    free(s->warnings);
    free(s);
}

static int add_warning(Source *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int add_warning(Source *s, const char *fmt, ...)
{
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    char **w = realloc(s->warnings, (size_t)(s->nwarn + 1) * sizeof *w);
    if (!w)
        return -1;
    s->warnings = w;
    if (!(w[s->nwarn] = dupstr(line)))
        return -1;
    s->nwarn++;
    return 0;
}

static int wrap_source(Source *s, ThawDataset **out, ThawError *err)
{
    ThawDataset *ds = calloc(1, sizeof *ds);
    if (!ds) {
        source_release(s);
        return thaw_fail(err, THAW_ERR_NOMEM, "dataset: out of memory");
    }
    ds->src = s;
    ds->count = s->count;
    *out = ds;
    return THAW_OK;
}

static int set_numbered_classes(Source *s, int k)
{
    s->class_names = calloc((size_t)k, sizeof(char *));
    if (!s->class_names)
        return -1;
    s->num_classes = k;
    for (int i = 0; i < k; i++) {
        char b[24];
        snprintf(b, sizeof b, "%d", i);
        if (!(s->class_names[i] = dupstr(b)))
            return -1;
    }
    return 0;
}

/* ---- IDX ---------------------------------------------------------------- */

int thaw_dataset_open_idx(const char *images_path, const char *labels_path,
                          const char *const *class_names, int num_classes,
                          ThawDataset **out, ThawError *err)
{
    *out = NULL;
    ThawIdx im = {0}, lb = {0};
    int rc = thaw_idx_read(images_path, 3, &im, err);
    if (rc)
        return rc;
    rc = thaw_idx_read(labels_path, 1, &lb, err);
    if (rc) {
        thaw_idx_free(&im);
        return rc;
    }
    if (im.dims[0] != lb.dims[0]) {
        rc = thaw_fail(err, THAW_ERR_MISMATCH,
                       "%s: %lld labels, but %s has %lld images", labels_path,
                       (long long)lb.dims[0], images_path,
                       (long long)im.dims[0]);
        goto fail;
    }
    if (im.dims[1] > INT_MAX || im.dims[2] > INT_MAX) {
        rc = thaw_fail(err, THAW_ERR_FORMAT, "%s: image size too large",
                       images_path);
        goto fail;
    }
    int maxl = 0;
    for (int64_t i = 0; i < lb.dims[0]; i++)
        if (lb.data[i] > maxl)
            maxl = lb.data[i];
    if (num_classes > 0 && maxl >= num_classes) {
        int64_t bad = 0;
        while (lb.data[bad] < num_classes)
            bad++;
        rc = thaw_fail(err, THAW_ERR_FORMAT,
                       "%s: item %lld has label %d, outside 0..%d",
                       labels_path, (long long)bad, lb.data[bad],
                       num_classes - 1);
        goto fail;
    }
    Source *s = calloc(1, sizeof *s);
    if (!s)
        goto nomem;
    s->refs = 1;
    s->count = im.dims[0];
    s->h = (int)im.dims[1];
    s->w = (int)im.dims[2];
    s->pixels = im.data;
    im.data = NULL;
    s->labels = malloc((size_t)s->count * sizeof(int32_t));
    if (!s->labels) {
        source_release(s);
        goto nomem;
    }
    for (int64_t i = 0; i < s->count; i++)
        s->labels[i] = lb.data[i];
    int k = num_classes > 0 ? num_classes : maxl + 1;
    if (class_names) {
        s->class_names = calloc((size_t)k, sizeof(char *));
        if (!s->class_names) {
            source_release(s);
            goto nomem;
        }
        s->num_classes = k;
        for (int i = 0; i < k; i++)
            if (!(s->class_names[i] = dupstr(class_names[i]))) {
                source_release(s);
                goto nomem;
            }
    } else if (set_numbered_classes(s, k) != 0) {
        source_release(s);
        goto nomem;
    }
    thaw_idx_free(&im);
    thaw_idx_free(&lb);
    return wrap_source(s, out, err);
nomem:
    rc = thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", images_path);
fail:
    thaw_idx_free(&im);
    thaw_idx_free(&lb);
    return rc;
}

static const char *const FASHION_CLASSES[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

int thaw_dataset_open_fashion_mnist(const char *dir, int train,
                                    ThawDataset **out, ThawError *err)
{
    const char *pre = train ? "train" : "t10k";
    char a[64], b[64];
    snprintf(a, sizeof a, "%s-images-idx3-ubyte.gz", pre);
    snprintf(b, sizeof b, "%s-labels-idx1-ubyte.gz", pre);
    char *ip = join_path(dir, a), *lp = join_path(dir, b);
    int rc;
    if (!ip || !lp)
        rc = thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", dir);
    else
        rc = thaw_dataset_open_idx(ip, lp, FASHION_CLASSES, 10, out, err);
    free(ip);
    free(lp);
    return rc;
}

/* ---- file lists (folder and CSV) ---------------------------------------- */

typedef struct FileList {
    int64_t n, cap;
    char **paths;
    int32_t *labels;
} FileList;

static int list_push(FileList *l, char *path, int32_t label)
{
    if (l->n == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 64;
        char **p = realloc(l->paths, (size_t)cap * sizeof *p);
        if (!p)
            return -1;
        l->paths = p;
        int32_t *q = realloc(l->labels, (size_t)cap * sizeof *q);
        if (!q)
            return -1;
        l->labels = q;
        l->cap = cap;
    }
    l->paths[l->n] = path;
    l->labels[l->n] = label;
    l->n++;
    return 0;
}

static void list_free(FileList *l)
{
    for (int64_t i = 0; i < l->n; i++)
        free(l->paths[i]);
    free(l->paths);
    free(l->labels);
    memset(l, 0, sizeof *l);
}

/* Checks an image file; 0 = usable, 1 = corrupt (warning added),
 * <0 = hard error (err filled). */
static int check_image(Source *s, const char *path, int verify,
                       const char *where, ThawError *err)
{
    ThawError e = {0};
    int rc;
    if (verify == THAW_VERIFY_DECODE) {
        ThawImage img;
        rc = thaw_image_load(path, &img, &e);
        if (rc == THAW_OK)
            thaw_image_free(&img);
    } else {
        int h, w, c;
        rc = thaw_image_probe(path, &h, &w, &c, &e);
    }
    if (rc == THAW_OK)
        return 0;
    if (rc == THAW_ERR_FORMAT) {
        s->skipped++;
        if (add_warning(s, "skipped %s", e.msg) != 0) {
            thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", path);
            return -1;
        }
        return 1;
    }
    if (rc == THAW_ERR_IO) {
        if (where)
            thaw_fail(err, THAW_ERR_IO, "%s: image file %s cannot be opened",
                      where, path);
        else
            thaw_fail(err, rc, "%s", e.msg);
        return -1;
    }
    thaw_fail(err, rc, "%s", e.msg);
    return -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_image_ext(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return 0;
    static const char *const exts[] = {"jpg", "jpeg", "png", "bmp"};
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
        if (strcasecmp(dot + 1, exts[i]) == 0)
            return 1;
    return 0;
}

/* Sorted names in dir; want_dirs selects sub-folders or image files. */
static int list_dir(const char *dir, int want_dirs, char ***names, int *n,
                    ThawError *err)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return thaw_fail(err, THAW_ERR_IO, "%s: cannot open folder (%s)", dir,
                         strerror(errno));
    int cap = 0;
    struct dirent *e;
    int rc = THAW_OK;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *full = join_path(dir, e->d_name);
        if (!full) {
            rc = thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", dir);
            break;
        }
        struct stat st;
        int ok = stat(full, &st) == 0;
        free(full);
        if (!ok)
            continue;
        if (want_dirs ? !S_ISDIR(st.st_mode)
                      : !(S_ISREG(st.st_mode) && has_image_ext(e->d_name)))
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            char **p = realloc(*names, (size_t)cap * sizeof *p);
            if (!p) {
                rc = thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", dir);
                break;
            }
            *names = p;
        }
        if (!((*names)[*n] = dupstr(e->d_name))) {
            rc = thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", dir);
            break;
        }
        (*n)++;
    }
    closedir(d);
    if (rc == THAW_OK && *n > 1)
        qsort(*names, (size_t)*n, sizeof **names, cmp_str);
    return rc;
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static int finish_files(Source *s, FileList *l, ThawDataset **out,
                        ThawError *err)
{
    s->count = l->n;
    s->paths = l->paths;
    s->labels = l->labels;
    memset(l, 0, sizeof *l);
    return wrap_source(s, out, err);
}

int thaw_dataset_open_folder(const char *root, int verify, ThawDataset **out,
                             ThawError *err)
{
    *out = NULL;
    char **classes = NULL;
    int nclass = 0;
    int rc = list_dir(root, 1, &classes, &nclass, err);
    if (rc) {
        free_names(classes, nclass);
        return rc;
    }
    if (nclass == 0) {
        free_names(classes, nclass);
        return thaw_fail(err, THAW_ERR_FORMAT,
                         "%s: no class folders (expected root/<class>/<image>)",
                         root);
    }
    Source *s = calloc(1, sizeof *s);
    if (!s) {
        free_names(classes, nclass);
        return thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", root);
    }
    s->refs = 1;
    s->class_names = classes;
    s->num_classes = nclass;
    FileList l = {0};
    for (int k = 0; k < nclass && rc == THAW_OK; k++) {
        char *cdir = join_path(root, classes[k]);
        char **files = NULL;
        int nf = 0;
        if (!cdir) {
            rc = thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", root);
            break;
        }
        rc = list_dir(cdir, 0, &files, &nf, err);
        int64_t kept = 0;
        for (int f = 0; f < nf && rc == THAW_OK; f++) {
            char *p = join_path(cdir, files[f]);
            if (!p) {
                rc = thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", root);
                break;
            }
            int c = check_image(s, p, verify, NULL, err);
            if (c < 0) {
                rc = err ? err->code : THAW_ERR_IO;
                free(p);
            } else if (c > 0) {
                free(p);
            } else if (list_push(&l, p, k) != 0) {
                free(p);
                rc = thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", root);
            } else {
                kept++;
            }
        }
        if (rc == THAW_OK && kept == 0)
            rc = thaw_fail(err, THAW_ERR_FORMAT,
                           "%s: class folder has no readable .jpg/.png/.bmp "
                           "image",
                           cdir);
        free_names(files, nf);
        free(cdir);
    }
    if (rc) {
        list_free(&l);
        source_release(s);
        return rc;
    }
    return finish_files(s, &l, out, err);
}

/* ---- CSV ---------------------------------------------------------------- */

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
    char *base = dupstr(csv_path);
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
        rows[nrows].path = f[0][0] == '/' ? dupstr(f[0]) : join_path(base, f[0]);
        rows[nrows].label = dupstr(f[1]);
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
                set_numbered_classes(s, num_classes > 0 ? num_classes
                                                        : (int)maxv + 1) != 0)
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
                qsort(names, (size_t)nrows, sizeof *names, cmp_str);
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
                        if (!(s->class_names[i] = dupstr(names[i])))
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
        int c = check_image(s, rows[i].path, verify, where, err);
        if (c < 0) {
            rc = err ? err->code : THAW_ERR_IO;
        } else if (c == 0) {
            if (list_push(&l, rows[i].path, label) != 0)
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
        list_free(&l);
        source_release(s);
        return rc;
    }
    return finish_files(s, &l, out, err);
}

/* ---- access ------------------------------------------------------------- */

void thaw_dataset_free(ThawDataset *ds)
{
    if (!ds)
        return;
    source_release(ds->src);
    free(ds->index);
    free(ds);
}

int64_t thaw_dataset_count(const ThawDataset *ds) { return ds->count; }
int thaw_dataset_num_classes(const ThawDataset *ds)
{
    return ds->src->num_classes;
}
const char *thaw_dataset_class_name(const ThawDataset *ds, int k)
{
    if (k < 0 || k >= ds->src->num_classes)
        return NULL;
    return ds->src->class_names[k];
}
int64_t thaw_dataset_source_index(const ThawDataset *ds, int64_t i)
{
    return ds->index ? ds->index[i] : i;
}
int thaw_dataset_label(const ThawDataset *ds, int64_t i)
{
    return ds->src->labels[thaw_dataset_source_index(ds, i)];
}
const char *thaw_dataset_path(const ThawDataset *ds, int64_t i)
{
    return ds->src->paths ? ds->src->paths[thaw_dataset_source_index(ds, i)]
                          : NULL;
}
int64_t thaw_dataset_skipped(const ThawDataset *ds) { return ds->src->skipped; }
int thaw_dataset_num_warnings(const ThawDataset *ds) { return ds->src->nwarn; }
const char *thaw_dataset_warning(const ThawDataset *ds, int k)
{
    return k >= 0 && k < ds->src->nwarn ? ds->src->warnings[k] : NULL;
}

int thaw_dataset_load_image(const ThawDataset *ds, int64_t i, ThawImage *out,
                            ThawError *err)
{
    if (i < 0 || i >= ds->count)
        return thaw_fail(err, THAW_ERR_ARG, "dataset: item %lld of %lld",
                         (long long)i, (long long)ds->count);
    const Source *s = ds->src;
    int64_t j = thaw_dataset_source_index(ds, i);
    if (s->paths)
        return thaw_image_load(s->paths[j], out, err);
    int rc = thaw_image_alloc(out, s->h, s->w, 1, err);
    if (rc == THAW_OK)
        memcpy(out->px, s->pixels + (size_t)j * (size_t)s->h * (size_t)s->w,
               (size_t)s->h * (size_t)s->w);
    return rc;
}

int thaw_dataset_load(const ThawDataset *ds, int64_t i, const ThawTransform *t,
                      uint64_t seed, float *dst, ThawError *err)
{
    ThawImage img;
    int rc = thaw_dataset_load_image(ds, i, &img, err);
    if (rc)
        return rc;
    rc = thaw_transform_apply(t, &img, seed, dst, err);
    thaw_image_free(&img);
    return rc;
}

/* ---- views -------------------------------------------------------------- */

static int make_view(const ThawDataset *ds, const int64_t *pos, int64_t n,
                     ThawDataset **out, ThawError *err)
{
    ThawDataset *v = calloc(1, sizeof *v);
    int64_t *idx = malloc((size_t)(n > 0 ? n : 1) * sizeof *idx);
    if (!v || !idx) {
        free(v);
        free(idx);
        return thaw_fail(err, THAW_ERR_NOMEM, "dataset view: out of memory");
    }
    for (int64_t i = 0; i < n; i++)
        idx[i] = thaw_dataset_source_index(ds, pos[i]);
    v->src = ds->src;
    v->src->refs++;
    v->count = n;
    v->index = idx;
    *out = v;
    return THAW_OK;
}


/* Per class: positions of the class in parent order, Fisher-Yates shuffled
 * with a seed of (seed, class); take[k] of them are marked. mark[i] = 1 for
 * chosen items. */
static int choose_per_class(const ThawDataset *ds, uint64_t seed,
                            int64_t n_fixed, double frac, uint8_t *mark,
                            ThawError *err)
{
    int K = ds->src->num_classes;
    int64_t n = ds->count;
    int64_t *pos = malloc((size_t)(n > 0 ? n : 1) * sizeof *pos);
    int64_t *start = calloc((size_t)K + 1, sizeof *start);
    int64_t *fill = calloc((size_t)K + 1, sizeof *fill);
    if (!pos || !start || !fill) {
        free(pos);
        free(start);
        free(fill);
        return thaw_fail(err, THAW_ERR_NOMEM, "dataset: out of memory");
    }
    for (int64_t i = 0; i < n; i++)
        start[thaw_dataset_label(ds, i) + 1]++;
    for (int k = 0; k < K; k++)
        start[k + 1] += start[k];
    for (int64_t i = 0; i < n; i++) {
        int k = thaw_dataset_label(ds, i);
        pos[start[k] + fill[k]++] = i;
    }
    for (int k = 0; k < K; k++) {
        int64_t *p = pos + start[k];
        int64_t m = start[k + 1] - start[k];
        ThawRng rng;
        thaw_rng_seed(&rng, thaw_seed_mix(seed, (uint64_t)k));
        for (int64_t i = m - 1; i > 0; i--) {
            int64_t j = thaw_rng_below(&rng, i + 1);
            int64_t t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        int64_t take = n_fixed >= 0 ? (n_fixed < m ? n_fixed : m)
                                    : (int64_t)nearbyint(frac * (double)m);
        for (int64_t i = 0; i < take; i++)
            mark[p[i]] = 1;
    }
    free(pos);
    free(start);
    free(fill);
    return THAW_OK;
}

int thaw_dataset_subset_per_class(const ThawDataset *ds, int64_t n_per_class,
                                  uint64_t seed, ThawDataset **out,
                                  ThawError *err)
{
    *out = NULL;
    if (n_per_class < 0)
        return thaw_fail(err, THAW_ERR_ARG, "subset: %lld items per class",
                         (long long)n_per_class);
    int64_t n = ds->count;
    uint8_t *mark = calloc((size_t)(n > 0 ? n : 1), 1);
    int64_t *pos = malloc((size_t)(n > 0 ? n : 1) * sizeof *pos);
    int rc = THAW_OK;
    if (!mark || !pos)
        rc = thaw_fail(err, THAW_ERR_NOMEM, "subset: out of memory");
    if (rc == THAW_OK)
        rc = choose_per_class(ds, seed, n_per_class, 0.0, mark, err);
    if (rc == THAW_OK) {
        int64_t m = 0;
        for (int64_t i = 0; i < n; i++)
            if (mark[i])
                pos[m++] = i;
        rc = make_view(ds, pos, m, out, err);
    }
    free(mark);
    free(pos);
    return rc;
}

int thaw_dataset_split(const ThawDataset *ds, double val_fraction,
                       uint64_t seed, ThawDataset **train, ThawDataset **val,
                       ThawError *err)
{
    *train = *val = NULL;
    if (!(val_fraction >= 0.0 && val_fraction <= 1.0))
        return thaw_fail(err, THAW_ERR_ARG,
                         "split: validation fraction %g outside [0, 1]",
                         val_fraction);
    int64_t n = ds->count;
    uint8_t *mark = calloc((size_t)(n > 0 ? n : 1), 1);
    int64_t *pt = malloc((size_t)(n > 0 ? n : 1) * sizeof *pt);
    int64_t *pv = malloc((size_t)(n > 0 ? n : 1) * sizeof *pv);
    int rc = THAW_OK;
    if (!mark || !pt || !pv)
        rc = thaw_fail(err, THAW_ERR_NOMEM, "split: out of memory");
    if (rc == THAW_OK)
        rc = choose_per_class(ds, seed, -1, val_fraction, mark, err);
    if (rc == THAW_OK) {
        int64_t nt = 0, nv = 0;
        for (int64_t i = 0; i < n; i++) {
            if (mark[i])
                pv[nv++] = i;
            else
                pt[nt++] = i;
        }
        rc = make_view(ds, pt, nt, train, err);
        if (rc == THAW_OK) {
            rc = make_view(ds, pv, nv, val, err);
            if (rc) {
                thaw_dataset_free(*train);
                *train = NULL;
            }
        }
    }
    free(mark);
    free(pt);
    free(pv);
    return rc;
}
