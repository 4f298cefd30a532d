/* What the folder and CSV openers share: a growing (path, label) list,
 * the image check that skips corrupt files with a warning, and handing
 * the list over to the source. */
#include "dataset_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    if (!(w[s->nwarn] = dataset_dupstr(line)))
        return -1;
    s->nwarn++;
    return 0;
}

int dataset_list_push(FileList *l, char *path, int32_t label)
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

void dataset_list_free(FileList *l)
{
    for (int64_t i = 0; i < l->n; i++)
        free(l->paths[i]);
    free(l->paths);
    free(l->labels);
    memset(l, 0, sizeof *l);
}

/* Checks an image file; 0 = usable, 1 = corrupt (warning added),
 * <0 = hard error (err filled). */
int dataset_check_image(Source *s, const char *path, int verify,
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

int dataset_finish_files(Source *s, FileList *l, ThawDataset **out,
                         ThawError *err)
{
    s->count = l->n;
    s->paths = l->paths;
    s->labels = l->labels;
    memset(l, 0, sizeof *l);
    return dataset_wrap_source(s, out, err);
}
