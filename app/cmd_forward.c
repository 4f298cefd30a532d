/* thaw forward --arch A --weights W.safetensors --input X.safetensors
 *              --out Y.safetensors
 * Eval-mode forward pass for external checks: reads tensor "input"
 * [N, 3, H, W], writes tensor "logits" [N, C] (C from the head's weight). */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_error.h"
#include "commands.h"
#include "engine/io/weights.h"
#include "engine/models/model.h"

#define FORWARD_USAGE "thaw forward --arch {%s} --weights W.safetensors|W.pth " \
                      "--input X.safetensors --out Y.safetensors"

/* One line whatever the message holds: a key or path read from a file may
 * contain control characters (a newline would make two lines). */
static void print_error_line(const char *msg)
{
    cli_error_line("forward", msg);
}

/* Bad command lines are bad input too: one line on stderr, exit 2. */
static const char *forward_usage(void)
{
    static char usage[512];
    snprintf(usage, sizeof usage, FORWARD_USAGE, model_arch_list());
    return usage;
}

static int usage_error(const char *msg, const char *what)
{
    return cli_usage_error("forward", forward_usage(), msg, what);
}

static int read_input(const char *path, const ArchInfo *arch, float **data,
                      int64_t shape[4], ThawError *err)
{
    SafeTensors *st = NULL;
    int rc = st_open(&st, path, err);
    if (rc != 0) {
        return rc;
    }
    const StTensorInfo *info = st_find(st, "input");
    char buf[96];
    if (!info) {
        rc = thaw_fail(err, THAW_ERR_MISMATCH, "%s: missing key 'input'", path);
    } else if (info->ndim != 4 || info->shape[1] != 3) {
        rc = thaw_fail(err, THAW_ERR_MISMATCH,
                       "%s: key 'input' has shape %s, expected [N, 3, H, W]",
                       path, st_shape_str(buf, sizeof buf, info->ndim, info->shape));
    } else if (info->shape[0] < 1 || info->shape[0] > INT_MAX ||
               info->shape[2] < arch->min_input || info->shape[2] > INT_MAX ||
               info->shape[3] < arch->min_input || info->shape[3] > INT_MAX) {
        rc = thaw_fail(err, THAW_ERR_MISMATCH,
                       "%s: key 'input' has shape %s; %s needs N >= 1 and "
                       "H, W >= %d", path,
                       st_shape_str(buf, sizeof buf, info->ndim, info->shape),
                       arch->name, arch->min_input);
    } else {
        memcpy(shape, info->shape, 4 * sizeof(int64_t));
        *data = malloc((size_t)info->numel * sizeof(float) + 1);
        rc = *data ? st_read_f32(st, info, *data, info->numel, err)
                   : thaw_fail(err, THAW_ERR_NOMEM, "out of memory reading %s", path);
    }
    st_close(st);
    return rc;
}

/* The classifier from the file's keys: one Linear (<head>.weight) or the
 * transfer head thaw train writes (<head>.0 = Linear(features, hidden),
 * <head>.3 = Linear(hidden, classes)). */
static int head_in_file(const SafeTensors *st, const ArchInfo *arch, int *classes,
                        int *head_hidden, ThawError *err)
{
    char key[PARAM_NAME_MAX];
    snprintf(key, sizeof key, "%s.weight", arch->head);
    *head_hidden = 0;
    if (st_find(st, key)) {
        return model_classes_in_file(st, arch, classes, err);
    }
    snprintf(key, sizeof key, "%s.0.weight", arch->head);
    const StTensorInfo *hidden = st_find(st, key);
    snprintf(key, sizeof key, "%s.3.weight", arch->head);
    const StTensorInfo *last = st_find(st, key);
    if (!hidden || !last) {
        return model_classes_in_file(st, arch, classes, err);  /* names fc.weight */
    }
    if (hidden->ndim != 2 || last->ndim != 2 || hidden->shape[0] < 1 ||
        hidden->shape[0] > 1000000 || last->shape[0] < 1 || last->shape[0] > 1000000) {
        char a[64], b[64];
        return thaw_fail(err, THAW_ERR_MISMATCH,
                         "%s: keys '%s.0.weight' %s and '%s' %s are not a "
                         "Linear, ReLU, Dropout, Linear head", st_path(st), arch->head,
                         st_shape_str(a, sizeof a, hidden->ndim, hidden->shape), key,
                         st_shape_str(b, sizeof b, last->ndim, last->shape));
    }
    *head_hidden = (int)hidden->shape[0];
    *classes = (int)last->shape[0];
    return 0;
}

static int run(const char *arch_name, const char *weights, const char *input,
               const char *out, ThawError *err)
{
    const ArchInfo *arch = model_find_arch(arch_name);
    if (!arch) {
        return thaw_fail(err, THAW_ERR_ARG, "unknown --arch '%s' (known: %s)",
                         arch_name, model_arch_list());
    }
    int classes = 0, head_hidden = 0;
    SafeTensors *st = NULL;
    int rc = weights_open(&st, weights, err);
    if (rc == 0) {
        rc = head_in_file(st, arch, &classes, &head_hidden, err);
        st_close(st);
    }
    if (rc != 0) {
        return rc;
    }
    float *x = NULL;
    int64_t shape[4];
    Model model;
    rc = read_input(input, arch, &x, shape, err);
    if (rc == 0) {
        rc = model_create_with_head(&model, arch_name, classes, head_hidden, 0, err);
        if (rc == 0) {
            rc = model_load_safetensors(&model, weights, err);
        }
        GraphMode mode = {0};
        if (rc == 0) {
            rc = model_plan(&model, (int)shape[0], (int)shape[2], (int)shape[3],
                            &mode, err);
        }
        if (rc == 0) {
            model_forward(&model, x);
            StWriteTensor t = {.name = "logits", .dtype = ST_F32, .ndim = 2,
                               .shape = {shape[0], classes},
                               .data = model_logits(&model)};
            StMeta meta = {"arch", arch_name};
            rc = st_write(out, &t, 1, &meta, 1, err);
        }
        model_free(&model);
    }
    free(x);
    return rc;
}

int cmd_forward(int argc, char **argv)
{
    static const struct option options[] = {
        {"arch", required_argument, NULL, 'a'},
        {"weights", required_argument, NULL, 'w'},
        {"input", required_argument, NULL, 'i'},
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *arch = NULL, *weights = NULL, *input = NULL, *out = NULL;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        switch (c) {
        case 'a': arch = optarg; break;
        case 'w': weights = optarg; break;
        case 'i': input = optarg; break;
        case 'o': out = optarg; break;
        case 'h':
            printf("usage: " FORWARD_USAGE "\n", model_arch_list());
            return 0;
        default:
            return cli_option_error("forward", forward_usage(), c, argv);
        }
    }
    if (optind < argc) {
        return usage_error("unexpected argument", argv[optind]);
    }
    if (!arch || !weights || !input || !out) {
        return usage_error("--arch, --weights, --input and --out are required",
                           NULL);
    }
    ThawError err = {0};
    int rc = run(arch, weights, input, out, &err);
    if (rc != 0) {
        print_error_line(err.msg);
        return rc == THAW_ERR_NOMEM ? 1 : 2;
    }
    return 0;
}
