/* Datasets from an image folder: root/<class>/<image>, classes and files
 * sorted by name like torchvision's ImageFolder. */
#include "dataset_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

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
        char *full = dataset_join_path(dir, e->d_name);
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
        if (!((*names)[*n] = dataset_dupstr(e->d_name))) {
            rc = thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", dir);
            break;
        }
        (*n)++;
    }
    closedir(d);
    if (rc == THAW_OK && *n > 1)
        qsort(*names, (size_t)*n, sizeof **names, dataset_cmp_str);
    return rc;
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
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
        char *cdir = dataset_join_path(root, classes[k]);
        char **files = NULL;
        int nf = 0;
        if (!cdir) {
            rc = thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", root);
            break;
        }
        rc = list_dir(cdir, 0, &files, &nf, err);
        int64_t kept = 0;
        for (int f = 0; f < nf && rc == THAW_OK; f++) {
            char *p = dataset_join_path(cdir, files[f]);
            if (!p) {
                rc = thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", root);
                break;
            }
            int c = dataset_check_image(s, p, verify, NULL, err);
            if (c < 0) {
                rc = err ? err->code : THAW_ERR_IO;
                free(p);
            } else if (c > 0) {
                free(p);
            } else if (dataset_list_push(&l, p, k) != 0) {
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
        dataset_list_free(&l);
        dataset_source_release(s);
        return rc;
    }
    return dataset_finish_files(s, &l, out, err);
}
