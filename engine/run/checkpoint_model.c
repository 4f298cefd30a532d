#include "checkpoint_model.h"

#include <stdio.h>
#include <string.h>

#include "engine/io/safetensors.h"

/* Classes from the classifier's last Linear: <head>.weight or <head>.3.weight. */
static int checkpoint_classes(const SafeTensors *st, const ArchInfo *arch,
                              int head_hidden, int *classes, ThawError *err)
{
    char key[PARAM_NAME_MAX];
    snprintf(key, sizeof key, head_hidden > 0 ? "%s.3.weight" : "%s.weight", arch->head);
    const StTensorInfo *info = st_find(st, key);
    if (!info) {
        return thaw_fail(err, THAW_ERR_MISMATCH,
                         "%s: missing key '%s' (the run's %s head)", st_path(st), key,
                         head_hidden > 0 ? "mlp" : "linear");
    }
    if (info->ndim != 2 || info->shape[0] < 1 || info->shape[0] > 1000000) {
        char shape[64];
        return thaw_fail(err, THAW_ERR_MISMATCH,
                         "%s: key '%s' has shape %s, expected [classes, features]",
                         st_path(st), key,
                         st_shape_str(shape, sizeof shape, info->ndim, info->shape));
    }
    *classes = (int)info->shape[0];
    return 0;
}

static int load_counter(const SafeTensors *st, const ParamInfo *p, int64_t *dst,
                        ThawError *err)
{
    const StTensorInfo *info = st_find(st, p->name);
    if (!info) {
        return thaw_fail(err, THAW_ERR_MISMATCH, "%s: missing key '%s'", st_path(st),
                         p->name);
    }
    if (info->dtype != ST_I64 || info->numel != 1) {
        return thaw_fail(err, THAW_ERR_MISMATCH,
                         "%s: key '%s' should hold one I64, has %lld %s values",
                         st_path(st), p->name, (long long)info->numel,
                         st_dtype_name(info->dtype));
    }
    memcpy(dst, st_data(st, info), sizeof *dst);
    return 0;
}

/* Strict: every model entry with its shape; besides them only opt.* keys. */
static int load_entries(Model *m, const SafeTensors *st, ThawError *err)
{
    const ParamTable *t = &m->params;
    int rc = 0;
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
        if (strncmp(name, "opt.", 4) != 0 && params_find(t, name) < 0) {
            rc = thaw_fail(err, THAW_ERR_MISMATCH,
                           "%s: unexpected key '%s' (not a parameter of %s)",
                           st_path(st), name, m->arch->name);
        }
    }
    return rc;
}

int checkpoint_open_model(const char *path, Model *m, RunConfig *cfg,
                          CheckpointModelInfo *info, ThawError *err)
{
    memset(m, 0, sizeof *m);
    memset(info, 0, sizeof *info);
    run_config_defaults(cfg);
    SafeTensors *st = NULL;
    int rc = st_open(&st, path, err);
    if (rc != 0) {
        return rc;
    }
    const char *fmt = st_metadata(st, "format");
    const char *run_json = st_metadata(st, "run");
    if (!fmt || strcmp(fmt, CHECKPOINT_FORMAT) != 0 || !run_json) {
        st_close(st);
        return thaw_fail(err, THAW_ERR_FORMAT,
                         "%s: not a thaw checkpoint (no metadata 'format' = %s "
                         "with the run file)", path, CHECKPOINT_FORMAT);
    }
    char label[RUN_PATH_MAX + 32];
    snprintf(label, sizeof label, "%s (metadata 'run')", path);
    rc = run_config_parse(cfg, label, run_json, err);
    const ArchInfo *arch = rc == 0 ? model_find_arch(cfg->arch) : NULL;
    if (rc == 0 && !arch) {
        rc = thaw_fail(err, THAW_ERR_FORMAT, "%s: unknown model.arch '%s'", label, cfg->arch);
    }
    if (rc == 0) {
        rc = checkpoint_classes(st, arch, cfg->head_hidden, &info->classes, err);
    }
    int created = 0;
    if (rc == 0) {
        rc = model_create_with_head(m, cfg->arch, info->classes, cfg->head_hidden, 0, err);
        created = rc == 0;
    }
    rc = rc ? rc : load_entries(m, st, err);
    if (rc == 0) {
        const char *epoch = st_metadata(st, "epoch");
        snprintf(info->epoch, sizeof info->epoch, "%s", epoch ? epoch : "");
    } else {
        if (created) {
            model_free(m);
        }
        run_config_free(cfg);
        memset(m, 0, sizeof *m);
    }
    st_close(st);
    return rc;
}
