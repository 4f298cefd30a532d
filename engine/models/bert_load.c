/* Loading Hugging Face BERT checkpoints into a BertModel: the layouts
 * found in model folders (BertModel, BertForPreTraining with its "bert."
 * prefix and old LayerNorm gamma/beta names, BertForSequenceClassification)
 * in any format weights_open reads (safetensors, torch zip, legacy pickle). */
#include "engine/models/bert.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/io/weights.h"
#include "engine/models/bert_internal.h"

#define BERT_PREFIX "bert."

/* Appends a "; "-separated clause to info->note. */
static void note(BertLoadInfo *info, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void note(BertLoadInfo *info, const char *fmt, ...)
{
    size_t used = strlen(info->note);
    if (used > 0 && used + 2 < sizeof info->note) {
        memcpy(info->note + used, "; ", 3);
        used += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(info->note + used, sizeof info->note - used, fmt, ap);
    va_end(ap);
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* What a checkpoint key is to us. */
typedef enum { KEY_PARAM, KEY_CLASSIFIER, KEY_HEAD, KEY_BUFFER, KEY_UNKNOWN } KeyKind;

/* BertModel's name for a file key in *name (cap PARAM_NAME_MAX): without
 * "bert.", with LayerNorm.gamma/.beta as .weight/.bias (the names of
 * checkpoints saved before transformers renamed them). */
static KeyKind classify_key(const char *key, char *name)
{
    /* pre-training heads (BertForPreTraining, BertForMaskedLM) */
    if (starts_with(key, "cls.")) {
        return KEY_HEAD;
    }
    const char *k = starts_with(key, BERT_PREFIX) ? key + strlen(BERT_PREFIX) : key;
    size_t n = strlen(k);
    if (n >= PARAM_NAME_MAX) {
        return KEY_UNKNOWN;
    }
    memcpy(name, k, n + 1);
    if (ends_with(name, "LayerNorm.gamma")) {
        strcpy(name + n - strlen("gamma"), "weight");
    } else if (ends_with(name, "LayerNorm.beta")) {
        strcpy(name + n - strlen("beta"), "bias");
    }
    /* registered buffers: the position ramp and the all-zero token types */
    if (strcmp(name, "embeddings.position_ids") == 0 ||
        strcmp(name, "embeddings.token_type_ids") == 0) {
        return KEY_BUFFER;
    }
    if (k == key && (strcmp(name, "classifier.weight") == 0 ||
                     strcmp(name, "classifier.bias") == 0)) {
        return KEY_CLASSIFIER;
    }
    return KEY_PARAM;
}

/* A file's classifier: loaded when its shapes fit the model's head; a head
 * for another number of classes is left out (the model keeps its new one)
 * and said in the note; any other shape is an error. */
static int load_classifier(BertModel *m, SafeTensors *st, const char *path,
                           int wi, int bi, BertLoadInfo *info, ThawError *err)
{
    const StTensorInfo *w = st_info(st, wi), *b = st_info(st, bi);
    const int64_t hidden = m->cfg.hidden_size;
    int head_like = w->ndim == 2 && w->shape[1] == hidden && b->ndim == 1 &&
                    b->shape[0] == w->shape[0];
    if (!head_like) {
        char ws[64], bs[64];
        return thaw_fail(err, THAW_ERR_MISMATCH,
                         "%s: key '%s' %s / '%s' %s is not a classifier on "
                         "hidden size %lld", path, w->name,
                         st_shape_str(ws, sizeof ws, w->ndim, w->shape), b->name,
                         st_shape_str(bs, sizeof bs, b->ndim, b->shape),
                         (long long)hidden);
    }
    long long file_classes = (long long)w->shape[0];
    if (m->head == BERT_HEAD_NONE) {
        note(info, "the file's classifier (%lld classes) ignored: no head", file_classes);
        return THAW_OK;
    }
    if (file_classes != m->num_classes) {
        note(info, "new classifier (%d classes; the file's has %lld, not loaded)",
             m->num_classes, file_classes);
        return THAW_OK;
    }
    const ParamTable *t = &m->params;
    int c = bert_classifier_param(m);
    int rc = st_load_f32(st, w->name, t->items[c].ndim, t->items[c].shape,
                         params_data(t, c), err);
    if (rc == THAW_OK) {
        rc = st_load_f32(st, b->name, t->items[c + 1].ndim, t->items[c + 1].shape,
                         params_data(t, c + 1), err);
    }
    if (rc == THAW_OK) {
        info->classifier = 1;
        note(info, "classifier from the file (%d classes)", m->num_classes);
    }
    return rc;
}

/* Every encoder parameter was found; the pooler may be absent as a pair
 * (BertForMaskedLM has none: it keeps its init, as transformers does). */
static int check_complete(BertModel *m, const char *path, const unsigned char *seen,
                          int prefixed, BertLoadInfo *info, ThawError *err)
{
    const ParamTable *t = &m->params;
    int pool = bert_pooler_param(m);
    if (!seen[pool] && !seen[pool + 1]) {
        note(info, "new pooler (none in the file)");
    }
    for (int i = 0; i < bert_classifier_param(m); i++) {
        if (!seen[i] && !((i == pool || i == pool + 1) && !seen[pool] && !seen[pool + 1])) {
            return thaw_fail(err, THAW_ERR_MISMATCH,
                             "%s: missing key '%s%s' (the checkpoint does not "
                             "hold this %d-layer BERT's weights)", path,
                             prefixed ? BERT_PREFIX : "", t->items[i].name,
                             m->cfg.num_layers);
        }
    }
    return THAW_OK;
}

/* One pass over the file's keys: parameters are loaded as met (shape
 * checked by st_load_f32), each at most once. */
static int load_keys(BertModel *m, SafeTensors *st, const char *path, unsigned char *seen,
                     BertLoadInfo *info, ThawError *err)
{
    const ParamTable *t = &m->params;
    int cls_w = -1, cls_b = -1, prefixed = 0, heads = 0, rc = THAW_OK;
    for (int i = 0; i < st_count(st) && rc == THAW_OK; i++) {
        const char *key = st_info(st, i)->name;
        char name[PARAM_NAME_MAX];
        KeyKind kind = classify_key(key, name);
        int p = kind == KEY_PARAM ? params_find(t, name) : -1;
        if (kind == KEY_HEAD || kind == KEY_BUFFER) {
            info->ignored++;
            heads += kind == KEY_HEAD;
        } else if (kind == KEY_CLASSIFIER) {
            *(ends_with(name, ".weight") ? &cls_w : &cls_b) = i;
        } else if (p < 0 || p >= bert_classifier_param(m)) {
            rc = thaw_fail(err, THAW_ERR_MISMATCH,
                           "%s: unexpected key '%s' (not a BERT encoder parameter, "
                           "pre-training head or buffer)", path, key);
        } else if (seen[p]) {
            rc = thaw_fail(err, THAW_ERR_MISMATCH,
                           "%s: key '%s' loads '%s' a second time", path, key, name);
        } else {
            seen[p] = 1;
            prefixed |= starts_with(key, BERT_PREFIX);
            rc = st_load_f32(st, key, t->items[p].ndim, t->items[p].shape,
                             params_data(t, p), err);
        }
    }
    if (rc == THAW_OK && (cls_w >= 0) != (cls_b >= 0)) {
        rc = thaw_fail(err, THAW_ERR_MISMATCH, "%s: missing key '%s' (the file has '%s')",
                       path, cls_w >= 0 ? "classifier.bias" : "classifier.weight",
                       cls_w >= 0 ? "classifier.weight" : "classifier.bias");
    }
    if (rc == THAW_OK) {
        rc = check_complete(m, path, seen, prefixed, info, err);
    }
    if (rc == THAW_OK && cls_w >= 0) {
        rc = load_classifier(m, st, path, cls_w, cls_b, info, err);
    } else if (rc == THAW_OK && m->head != BERT_HEAD_NONE) {
        note(info, "new classifier (%d classes)", m->num_classes);
    }
    if (rc == THAW_OK && heads > 0) {
        note(info, "%d pre-training head keys ignored (cls.*)", heads);
    }
    return rc;
}

int bert_load_weights(BertModel *m, const char *path, BertLoadInfo *info,
                      ThawError *err)
{
    BertLoadInfo scratch;
    info = info ? info : &scratch;
    memset(info, 0, sizeof *info);
    SafeTensors *st = NULL;
    int rc = weights_open(&st, path, err);
    if (rc) {
        return rc;
    }
    unsigned char *seen = calloc((size_t)m->params.count, 1);
    if (!seen) {
        st_close(st);
        return thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", path);
    }
    rc = load_keys(m, st, path, seen, info, err);
    free(seen);
    st_close(st);
    return rc;
}

int bert_load_safetensors(BertModel *m, const char *path, ThawError *err)
{
    return bert_load_weights(m, path, NULL, err);
}

static int is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

int bert_weights_file(const char *folder, char *path, size_t cap, ThawError *err)
{
    static const char *const names[] = {"model.safetensors", "pytorch_model.bin"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int n = snprintf(path, cap, "%s/%s", folder, names[i]);
        if (n < 0 || (size_t)n >= cap) {
            return thaw_fail(err, THAW_ERR_ARG, "%s: folder name too long", folder);
        }
        if (is_file(path)) {
            return THAW_OK;
        }
    }
    struct stat sb;
    if (stat(folder, &sb) != 0) {
        return thaw_fail(err, THAW_ERR_IO, "%s: cannot open the weights folder: %s",
                         folder, strerror(errno));
    }
    if (!S_ISDIR(sb.st_mode)) {
        return thaw_fail(err, THAW_ERR_IO, "%s: not a folder (want one with "
                         "model.safetensors or pytorch_model.bin)", folder);
    }
    return thaw_fail(err, THAW_ERR_IO, "%s: no model.safetensors or pytorch_model.bin "
                     "in this folder", folder);
}
