#include "text_export.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/io/safetensors.h"

/* Whole file into a malloc'd buffer. */
static int read_all(const char *path, char **data, size_t *len, ThawError *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return thaw_fail(err, THAW_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    }
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
            }
            buf = bigger;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        return thaw_fail(err, bad ? THAW_ERR_IO : THAW_ERR_NOMEM, "%s: cannot read", path);
    }
    *data = buf;
    *len = n;
    return 0;
}

/* path.tmp.<pid>, fsync, rename: a reader never sees half a file. */
static int write_atomic(const char *path, const char *data, size_t len, ThawError *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        return thaw_fail(err, THAW_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    }
    int bad = fwrite(data, 1, len, f) != len;
    bad |= fflush(f) != 0;
    bad |= fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return thaw_fail(err, THAW_ERR_IO, "%s: cannot write: %s", path, strerror(e));
    }
    return 0;
}

/* The encoder's config.json plus the label maps and the head. */
static int write_config(const TextCheckpoint *tc, const char *path, ThawError *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = read_all(tc->config_path, &text, &len, err);
    if (rc != 0) {
        return rc;
    }
    cJSON *cfg = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsObject(cfg)) {
        cJSON_Delete(cfg);
        return thaw_fail(err, THAW_ERR_FORMAT, "%s: not a JSON object", tc->config_path);
    }
    cJSON *id2label = cJSON_CreateObject(), *label2id = cJSON_CreateObject();
    for (int k = 0; id2label && label2id && k < tc->classes; k++) {
        char key[24];
        snprintf(key, sizeof key, "%d", k);
        cJSON_AddStringToObject(id2label, key, tc->class_names[k]);
        cJSON_AddNumberToObject(label2id, tc->class_names[k], k);
    }
    cJSON_DeleteItemFromObjectCaseSensitive(cfg, "id2label");
    cJSON_DeleteItemFromObjectCaseSensitive(cfg, "label2id");
    cJSON_DeleteItemFromObjectCaseSensitive(cfg, "thaw_head");
    cJSON_AddItemToObject(cfg, "id2label", id2label);
    cJSON_AddItemToObject(cfg, "label2id", label2id);
    cJSON_AddStringToObject(cfg, "thaw_head", tc->cfg.head_cls ? "cls" : "mean");
    char *out = cJSON_Print(cfg);
    cJSON_Delete(cfg);
    if (!out) {
        return thaw_fail(err, THAW_ERR_NOMEM, "out of memory writing %s", path);
    }
    size_t n = strlen(out);
    char *nl = realloc(out, n + 2);
    if (nl) {
        out = nl;
        out[n++] = '\n';
    }
    rc = write_atomic(path, out, n, err);
    free(out);
    return rc;
}

static int copy_file(const char *from, const char *to, ThawError *err)
{
    char *data = NULL;
    size_t len = 0;
    int rc = read_all(from, &data, &len, err);
    rc = rc ? rc : write_atomic(to, data, len, err);
    free(data);
    return rc;
}

static int write_model(const TextCheckpoint *tc, const char *out, ThawError *err)
{
    const ParamTable *t = &tc->model.params;
    StWriteTensor *ts = calloc((size_t)t->count + 1, sizeof *ts);
    cJSON *list = cJSON_CreateArray();
    for (int k = 0; list && k < tc->classes; k++) {
        cJSON_AddItemToArray(list, cJSON_CreateString(tc->class_names[k]));
    }
    char *classes = list ? cJSON_PrintUnformatted(list) : NULL;
    cJSON_Delete(list);
    int rc = 0;
    if (!ts || !classes) {
        rc = thaw_fail(err, THAW_ERR_NOMEM, "out of memory writing %s", out);
    }
    for (int i = 0; rc == 0 && i < t->count; i++) {
        const ParamInfo *p = &t->items[i];
        ts[i] = (StWriteTensor){.name = p->name, .dtype = ST_F32, .ndim = p->ndim,
                                .data = params_data(t, i)};
        memcpy(ts[i].shape, p->shape, sizeof p->shape);
    }
    StMeta meta[] = {
        {"format", "thaw-model-1"}, {"task", TEXT_TASK}, {"arch", tc->cfg.arch},
        {"head", tc->cfg.head_cls ? "cls" : "mean"}, {"classes", classes},
        {"epoch", tc->epoch},
    };
    int n_meta = (int)(sizeof meta / sizeof meta[0]) - (tc->epoch[0] ? 0 : 1);
    rc = rc ? rc : st_write(out, ts, t->count, meta, n_meta, err);
    free(ts);
    free(classes);
    return rc;
}

int text_export(const TextCheckpoint *tc, const char *out, ThawError *err)
{
    char dir[4096];
    const char *slash = strrchr(out, '/');
    if (slash) {
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - out + 1), out);
    } else {
        dir[0] = '\0';
    }
    char config[4200], vocab[4200];
    snprintf(config, sizeof config, "%sconfig.json", dir);
    snprintf(vocab, sizeof vocab, "%svocab.txt", dir);
    if (strcmp(out, config) == 0 || strcmp(out, vocab) == 0) {
        return thaw_fail(err, THAW_ERR_ARG, "%s: --out would be overwritten by the export's "
                         "own config.json or vocab.txt", out);
    }
    /* the model last: once it is there, its folder is complete */
    int rc = write_config(tc, config, err);
    rc = rc ? rc : copy_file(tc->vocab_path, vocab, err);
    return rc ? rc : write_model(tc, out, err);
}
