/* Loading the model catalog (cJSON, strict: unknown keys, wrong types and
 * missing keys are errors naming the key path). */
#include "app/catalog.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/models/model.h"
#include "engine/run/text_job.h"

#ifndef THAW_ASSETS_DIR
#define THAW_ASSETS_DIR "assets"
#endif

#define CATALOG_FORMAT "thaw-catalog-1"
#define CATALOG_MAX_BYTES (1 << 20)

static char *read_text(const char *path, ThawError *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        thaw_fail(err, THAW_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(CATALOG_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, CATALOG_MAX_BYTES + 1, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (!buf) {
        thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    if (bad || n > CATALOG_MAX_BYTES) {
        free(buf);
        thaw_fail(err, bad ? THAW_ERR_IO : THAW_ERR_FORMAT, "%s: %s", path,
                  bad ? "read error" : "larger than 1 MB");
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* Copies a string member; required strings must be non-empty, nullable ones
 * accept null as "". */
static int get_string(const char *path, const cJSON *obj, const char *key, const char *where,
                      int nullable, char *out, size_t cap, ThawError *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) {
        return thaw_fail(err, THAW_ERR_FORMAT, "%s: key '%s.%s' is missing", path, where, key);
    }
    if (nullable && cJSON_IsNull(v)) {
        out[0] = '\0';
        return 0;
    }
    if (!cJSON_IsString(v) || !v->valuestring[0]) {
        return thaw_fail(err, THAW_ERR_FORMAT, "%s: key '%s.%s' must be a non-empty string%s",
                         path, where, key, nullable ? " or null" : "");
    }
    if (strlen(v->valuestring) >= cap) {
        return thaw_fail(err, THAW_ERR_FORMAT, "%s: key '%s.%s' is longer than %zu characters",
                         path, where, key, cap - 1);
    }
    snprintf(out, cap, "%s", v->valuestring);
    return 0;
}

static int file_exists(const char *dir, const char *name)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

/* A text encoder's weights (text_job.h): a folder in the cache with
 * config.json, vocab.txt and model.safetensors or pytorch_model.bin. */
static int text_weights_exist(const char *dir, const char *folder)
{
    static const char *const files[] = {"config.json", "vocab.txt", "model.safetensors",
                                        "pytorch_model.bin"};
    int have[4];
    char path[256];   /* a row's folder name is under 64 characters */
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", folder, files[i]);
        have[i] = file_exists(dir, path);
    }
    return have[0] && have[1] && (have[2] || have[3]);
}

static const char *const row_keys[] = {"task", "name", "arch", "params", "input", "weights", "note"};

static int parse_row(const char *path, const cJSON *item, int i, const char *weights_dir,
                     CatalogRow *row, ThawError *err)
{
    char where[32];
    snprintf(where, sizeof where, "models[%d]", i);
    if (!cJSON_IsObject(item)) {
        return thaw_fail(err, THAW_ERR_FORMAT, "%s: key '%s' must be an object", path, where);
    }
    for (const cJSON *m = item->child; m; m = m->next) {
        int known = 0;
        for (size_t k = 0; k < sizeof row_keys / sizeof row_keys[0]; k++) {
            known |= strcmp(m->string, row_keys[k]) == 0;
        }
        if (!known) {
            return thaw_fail(err, THAW_ERR_FORMAT, "%s: unknown key '%s.%s'", path, where,
                             m->string);
        }
    }
    memset(row, 0, sizeof *row);
    if (get_string(path, item, "task", where, 0, row->task, sizeof row->task, err) ||
        get_string(path, item, "name", where, 0, row->name, sizeof row->name, err) ||
        get_string(path, item, "arch", where, 1, row->arch, sizeof row->arch, err) ||
        get_string(path, item, "input", where, 0, row->input, sizeof row->input, err) ||
        get_string(path, item, "weights", where, 1, row->weights, sizeof row->weights, err) ||
        get_string(path, item, "note", where, 0, row->note, sizeof row->note, err)) {
        return err ? err->code : THAW_ERR_FORMAT;
    }
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(item, "params");
    if (!p) {
        return thaw_fail(err, THAW_ERR_FORMAT, "%s: key '%s.params' is missing", path, where);
    }
    if (!cJSON_IsNumber(p) || p->valuedouble < 0 || p->valuedouble > 1e13 ||
        p->valuedouble != floor(p->valuedouble)) {
        return thaw_fail(err, THAW_ERR_FORMAT,
                         "%s: key '%s.params' must be a whole number >= 0 (0: unknown)", path,
                         where);
    }
    row->params = (int64_t)p->valuedouble;
    int text = text_arch(row->arch);
    if (row->arch[0] && !text && !model_find_arch(row->arch)) {
        return thaw_fail(err, THAW_ERR_FORMAT, "%s: key '%s.arch': unknown architecture '%s' "
                         "(%s, minilm, bert)", path, where, row->arch, model_arch_list());
    }
    if (row->arch[0] && !row->weights[0]) {
        return thaw_fail(err, THAW_ERR_FORMAT,
                         "%s: key '%s.weights' must name the weights file for arch '%s'", path,
                         where, row->arch);
    }
    if (strchr(row->weights, '/')) {
        return thaw_fail(err, THAW_ERR_FORMAT,
                         "%s: key '%s.weights' must be a file name in the weights cache, not a path",
                         path, where);
    }
    row->supported = row->arch[0] != '\0';
    row->weights_required = text;
    row->weights_local = row->weights[0] && weights_dir &&
                         (text ? text_weights_exist(weights_dir, row->weights)
                               : file_exists(weights_dir, row->weights));
    return 0;
}

int catalog_load(const char *path, const char *weights_dir, CatalogRow *rows, int cap,
                 int *n_out, ThawError *err)
{
    *n_out = 0;
    char *text = read_text(path, err);
    if (!text) {
        return err ? err->code : THAW_ERR_IO;
    }
    cJSON *root = cJSON_Parse(text);
    free(text);
    int rc = 0;
    if (!root) {
        rc = thaw_fail(err, THAW_ERR_FORMAT, "%s: not valid JSON", path);
        goto done;
    }
    if (!cJSON_IsObject(root)) {
        rc = thaw_fail(err, THAW_ERR_FORMAT, "%s: the top level must be an object", path);
        goto done;
    }
    for (const cJSON *m = root->child; m; m = m->next) {
        if (strcmp(m->string, "format") != 0 && strcmp(m->string, "models") != 0) {
            rc = thaw_fail(err, THAW_ERR_FORMAT, "%s: unknown key '%s'", path, m->string);
            goto done;
        }
    }
    const cJSON *format = cJSON_GetObjectItemCaseSensitive(root, "format");
    if (!cJSON_IsString(format) || strcmp(format->valuestring, CATALOG_FORMAT) != 0) {
        rc = thaw_fail(err, THAW_ERR_FORMAT, "%s: key 'format' must be \"%s\"", path,
                       CATALOG_FORMAT);
        goto done;
    }
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(root, "models");
    if (!cJSON_IsArray(models)) {
        rc = thaw_fail(err, THAW_ERR_FORMAT, "%s: key 'models' must be an array", path);
        goto done;
    }
    int n = cJSON_GetArraySize(models);
    if (n > cap) {
        rc = thaw_fail(err, THAW_ERR_FORMAT, "%s: key 'models' has %d rows, at most %d", path, n,
                       cap);
        goto done;
    }
    int i = 0;
    for (const cJSON *item = models->child; item; item = item->next, i++) {
        rc = parse_row(path, item, i, weights_dir, &rows[i], err);
        if (rc != 0) {
            goto done;
        }
    }
    *n_out = n;
done:
    cJSON_Delete(root);
    return rc;
}

void catalog_default_path(char *buf, size_t cap)
{
    const char *assets = getenv("THAW_ASSETS");
    snprintf(buf, cap, "%s/model_catalog.json", assets && *assets ? assets : THAW_ASSETS_DIR);
}

void catalog_weights_dir(char *buf, size_t cap)
{
    const char *cache = getenv("THAW_CACHE");
    const char *home = getenv("HOME");
    if (cache && *cache) {
        snprintf(buf, cap, "%s/weights", cache);
    } else {
        snprintf(buf, cap, "%s/.cache/thaw/weights", home && *home ? home : ".");
    }
}

int catalog_load_state(WbState *s, ThawError *err)
{
    char path[1024], dir[1024];
    catalog_default_path(path, sizeof path);
    catalog_weights_dir(dir, sizeof dir);
    int n = 0;
    int rc = catalog_load(path, dir, s->catalog, WB_MAX_CATALOG, &n, err);
    s->n_catalog = rc == 0 ? n : 0;
    wb_clamp(s);
    return rc;
}

const char *strategy_hint(int examples_per_class, int domain_close)
{
    if (examples_per_class <= 0) {
        return "Strategy: <500 examples/class, close domain: feature extraction; moderate data "
               "or some shift: fine-tune the last blocks; lots of data or big shift: full "
               "fine-tuning.";
    }
    if (examples_per_class < 500 && domain_close) {
        return "Feature extraction: few examples per class and a close domain, so freeze the "
               "backbone and train only the new head.";
    }
    if (examples_per_class >= 5000 || (!domain_close && examples_per_class >= 1000)) {
        return "Full fine-tuning: enough data to move every layer; use a small lr throughout "
               "(highest potential accuracy, most compute).";
    }
    return "Fine-tune the last blocks (e.g. layer4) and the head, with a smaller lr for the "
           "pretrained groups (layer4 1e-4, head 1e-3).";
}
