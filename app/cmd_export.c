/* thaw export CKPT --out MODEL.safetensors
 * Writes the model of a training checkpoint (backbone + head, PyTorch names,
 * loadable by load_state_dict(strict=True)) without the optimizer state.
 * The model is rebuilt from the run file stored in the checkpoint's
 * metadata, loaded strictly (every parameter and buffer present with its
 * shape; no key outside the model but opt.*), and written atomically with
 * arch, head and classes in __metadata__. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_error.h"
#include "commands.h"
#include "engine/io/safetensors.h"
#include "engine/models/model.h"
#include "engine/run/run_config.h"

#define EXPORT_USAGE "thaw export CKPT.safetensors --out MODEL.safetensors"
#define EXPORT_FORMAT "thaw-checkpoint-1"

static int usage_error(const char *msg, const char *what)
{
    char line[1024];
    snprintf(line, sizeof line, "%s%s%s%s (usage: " EXPORT_USAGE ")", msg,
             what ? " '" : "", what ? what : "", what ? "'" : "");
    cli_error_line("export", line);
    return 2;
}

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

/* Strict: every model entry with its shape; the only other keys allowed are
 * the optimizer state (opt.*). */
static int load_model(Model *m, const SafeTensors *st, ThawError *err)
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

static int run(const char *ckpt, const char *out, ThawError *err)
{
    SafeTensors *st = NULL;
    int rc = st_open(&st, ckpt, err);
    if (rc != 0) {
        return rc;
    }
    const char *fmt = st_metadata(st, "format");
    const char *run_json = st_metadata(st, "run");
    if (!fmt || strcmp(fmt, EXPORT_FORMAT) != 0 || !run_json) {
        st_close(st);
        return thaw_fail(err, THAW_ERR_FORMAT,
                         "%s: not a thaw checkpoint (no metadata 'format' = %s "
                         "with the run file)", ckpt, EXPORT_FORMAT);
    }
    char label[RUN_PATH_MAX + 32];
    snprintf(label, sizeof label, "%s (metadata 'run')", ckpt);
    RunConfig cfg;
    run_config_defaults(&cfg);
    rc = run_config_parse(&cfg, label, run_json, err);
    const ArchInfo *arch = rc == 0 ? model_find_arch(cfg.arch) : NULL;
    if (rc == 0 && !arch) {
        rc = thaw_fail(err, THAW_ERR_FORMAT, "%s: unknown model.arch '%s'", label, cfg.arch);
    }
    int classes = 0;
    if (rc == 0) {
        rc = checkpoint_classes(st, arch, cfg.head_hidden, &classes, err);
    }
    if (rc == 0) {
        Model model;
        rc = model_create_with_head(&model, cfg.arch, classes, cfg.head_hidden, 0, err);
        if (rc == 0) {
            rc = load_model(&model, st, err);
            if (rc == 0) {
                char nclass[32];
                snprintf(nclass, sizeof nclass, "%d", classes);
                const char *epoch = st_metadata(st, "epoch");
                StMeta meta[] = {
                    {"format", "thaw-model-1"},
                    {"arch", cfg.arch},
                    {"head", cfg.head_hidden > 0 ? "mlp" : "linear"},
                    {"classes", nclass},
                    {"epoch", epoch ? epoch : ""},
                };
                int n_meta = (int)(sizeof meta / sizeof meta[0]) - (epoch ? 0 : 1);
                rc = model_save_safetensors(&model, out, meta, n_meta, err);
            }
            model_free(&model);
        }
    }
    run_config_free(&cfg);
    st_close(st);
    return rc;
}

int cmd_export(int argc, char **argv)
{
    static const struct option options[] = {
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL;
    char shortopt[3];
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'h':
            printf("usage: " EXPORT_USAGE "\n");
            return 0;
        case ':':
            return usage_error("option needs a value", argv[optind - 1]);
        default:
            if (optind > 1 && strncmp(argv[optind - 1], "--", 2) == 0) {
                return usage_error("unknown option", argv[optind - 1]);
            }
            snprintf(shortopt, sizeof shortopt, "-%c", optopt ? optopt : '?');
            return usage_error("unknown option", shortopt);
        }
    }
    if (optind >= argc) {
        return usage_error("a checkpoint is required", NULL);
    }
    if (optind + 1 < argc) {
        return usage_error("unexpected argument", argv[optind + 1]);
    }
    if (!out) {
        return usage_error("--out is required", NULL);
    }
    ThawError err = {0};
    int rc = run(argv[optind], out, &err);
    if (rc != 0) {
        cli_error_line("export", err.msg);
        return rc == THAW_ERR_NOMEM ? 1 : 2;
    }
    return 0;
}
