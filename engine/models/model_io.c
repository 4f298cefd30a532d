/* State-dict I/O for models: strict loading (like load_state_dict with
 * strict=True) and saving with PyTorch names and dtypes. */
#include "model.h"

#include "../io/weights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int model_classes_in_file(const SafeTensors *st, const ArchInfo *arch,
                          int *num_classes, ThawError *err)
{
    char key[PARAM_NAME_MAX];
    snprintf(key, sizeof key, "%s.weight", arch->head);
    const StTensorInfo *info = st_find(st, key);
    if (!info) {
        return thaw_fail(err, THAW_ERR_MISMATCH,
                         "%s: missing key '%s' (needed for the number of classes of %s)",
                         st_path(st), key, arch->name);
    }
    if (info->ndim != 2 || info->shape[0] < 1) {
        char shape[64];
        st_shape_str(shape, sizeof shape, info->ndim, info->shape);
        return thaw_fail(err, THAW_ERR_MISMATCH,
                         "%s: key '%s' has shape %s, expected [classes, features]",
                         st_path(st), key, shape);
    }
    *num_classes = (int)info->shape[0];
    return 0;
}

static int load_counter(const SafeTensors *st, const ParamInfo *p,
                        int64_t *dst, ThawError *err)
{
    const StTensorInfo *info = st_find(st, p->name);
    if (!info) {
        return thaw_fail(err, THAW_ERR_MISMATCH, "%s: missing key '%s'",
                         st_path(st), p->name);
    }
    if (info->numel != 1) {
        return thaw_fail(err, THAW_ERR_MISMATCH,
                         "%s: key '%s' should hold one integer, has %lld values",
                         st_path(st), p->name, (long long)info->numel);
    }
    const void *raw = st_data(st, info);
    if (info->dtype == ST_I64) {
        memcpy(dst, raw, sizeof *dst);
    } else if (info->dtype == ST_I32) {
        int32_t v;
        memcpy(&v, raw, sizeof v);
        *dst = v;
    } else {
        float v;
        if (st_read_f32(st, info, &v, 1, err) != 0) {
            return err ? err->code : THAW_ERR_FORMAT;
        }
        *dst = (int64_t)v;
    }
    return 0;
}

int model_load_safetensors(Model *m, const char *path, ThawError *err)
{
    SafeTensors *st = NULL;
    int rc = weights_open(&st, path, err);
    if (rc != 0) {
        return rc;
    }
    const ParamTable *t = &m->params;
    for (int i = 0; i < t->count && rc == 0; i++) {
        const ParamInfo *p = &t->items[i];
        if (p->kind == PARAM_COUNTER) {
            rc = load_counter(st, p, params_counter(t, i), err);
        } else {
            rc = st_load_f32(st, p->name, p->ndim, p->shape, params_data(t, i), err);
        }
    }
    for (int i = 0; i < st_count(st) && rc == 0; i++) {
        const char *name = st_info(st, i)->name;
        if (params_find(t, name) < 0) {
            rc = thaw_fail(err, THAW_ERR_MISMATCH,
                           "%s: unexpected key '%s' (not a parameter of %s)",
                           path, name, m->arch->name);
        }
    }
    st_close(st);
    return rc;
}

int model_save_safetensors(const Model *m, const char *path, const StMeta *meta,
                           int n_meta, ThawError *err)
{
    const ParamTable *t = &m->params;
    StWriteTensor *out = calloc((size_t)t->count + 1, sizeof *out);
    if (!out) {
        return thaw_fail(err, THAW_ERR_NOMEM, "out of memory saving %s", path);
    }
    for (int i = 0; i < t->count; i++) {
        const ParamInfo *p = &t->items[i];
        out[i].name = p->name;
        out[i].ndim = p->ndim;
        memcpy(out[i].shape, p->shape, sizeof p->shape);
        if (p->kind == PARAM_COUNTER) {
            out[i].dtype = ST_I64;
            out[i].data = params_counter(t, i);
        } else {
            out[i].dtype = ST_F32;
            out[i].data = params_data(t, i);
        }
    }
    int rc = st_write(path, out, t->count, meta, n_meta, err);
    free(out);
    return rc;
}

int model_load_backbone(Model *m, const char *path, int *n_ignored,
                        char *ignored, size_t cap, ThawError *err)
{
    SafeTensors *st = NULL;
    int rc = weights_open(&st, path, err);
    if (rc != 0) {
        return rc;
    }
    const ParamTable *t = &m->params;
    int head = params_find_group(t, "head");
    for (int i = 0; i < t->count && rc == 0; i++) {
        const ParamInfo *p = &t->items[i];
        if (p->group == head) {
            continue;
        }
        if (p->kind == PARAM_COUNTER) {
            rc = load_counter(st, p, params_counter(t, i), err);
        } else {
            rc = st_load_f32(st, p->name, p->ndim, p->shape, params_data(t, i), err);
        }
    }
    size_t prefix = strlen(m->arch->head);
    int count = 0;
    size_t used = 0;
    if (ignored && cap) {
        ignored[0] = '\0';
    }
    for (int i = 0; i < st_count(st) && rc == 0; i++) {
        const char *name = st_info(st, i)->name;
        int idx = params_find(t, name);
        if (idx >= 0 && t->items[idx].group != head) {
            continue;
        }
        if (strncmp(name, m->arch->head, prefix) == 0 && name[prefix] == '.') {
            count++;
            if (ignored && cap && used + strlen(name) + 3 < cap) {
                used += (size_t)snprintf(ignored + used, cap - used, "%s%s",
                                         used ? ", " : "", name);
            }
            continue;
        }
        rc = thaw_fail(err, THAW_ERR_MISMATCH,
                       "%s: unexpected key '%s' (not a parameter of %s)",
                       path, name, m->arch->name);
    }
    if (n_ignored) {
        *n_ignored = count;
    }
    st_close(st);
    return rc;
}
