/* thaw eval CKPT [--split test|val|all] [--data PATH] [--batch N] [--json]
 *               [--logits OUT.safetensors]
 * Accuracy of a training checkpoint on a dataset, in eval mode: the model
 * and its input size come from the run file stored in the checkpoint.
 * Image and text checkpoints alike (text: the run's encoder files, the
 * run's own texts or a CSV/TSV/JSONL --data; no test set of its own, so
 * test means all of --data; --logits writes the token ids and logits).
 *   test: Fashion-MNIST's 10,000-image t10k files (fashion_mnist runs;
 *         others need --data, a folder or CSV of the run's dataset type);
 *   val:  the run's own validation split, recreated from its seed;
 *   all:  every item of the run's dataset (or of --data).
 * Prints loss, accuracy, per-class accuracy and the confusion matrix, or
 * one JSON object with --json. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_error.h"
#include "commands.h"
#include "report_print.h"
#include "engine/data/dataset.h"
#include "engine/run/checkpoint_model.h"
#include "engine/run/evaluate.h"
#include "engine/run/text_checkpoint_model.h"
#include "engine/run/text_evaluate.h"

#define EVAL_USAGE "thaw eval CKPT [--split test|val|all] [--data PATH] [--batch N] [--json] " \
                   "[--logits OUT.safetensors]"

typedef enum { SPLIT_DEFAULT, SPLIT_TEST, SPLIT_VAL, SPLIT_ALL } EvalSplit;

static int usage_error(const char *msg, const char *what)
{
    return cli_usage_error("eval", EVAL_USAGE, msg, what);
}

static int open_source(const RunConfig *cfg, const char *path, int train, ThawDataset **out,
                       ThawError *err)
{
    switch (cfg->data_kind) {
    case DATA_FASHION_MNIST:
        return thaw_dataset_open_fashion_mnist(path, train, out, err);
    case DATA_IMAGE_FOLDER:
        return thaw_dataset_open_folder(path, THAW_VERIFY_HEADER, out, err);
    default:
        return thaw_dataset_open_csv(path, cfg->num_classes, THAW_VERIFY_HEADER, out, err);
    }
}

/* The items to evaluate; *keep holds every dataset to free (source first). */
static int open_split(const RunConfig *cfg, EvalSplit split, const char *data,
                      ThawDataset *keep[4], const ThawDataset **items, ThawError *err)
{
    const char *path = data ? data : cfg->data_path;
    int rc;
    if (split == SPLIT_TEST) {
        if (cfg->data_kind != DATA_FASHION_MNIST && !data) {
            return thaw_fail(err, THAW_ERR_ARG,
                             "--split test needs --data PATH for a %s run (its test set)",
                             run_data_kind_name(cfg->data_kind));
        }
        rc = open_source(cfg, path, cfg->data_kind != DATA_FASHION_MNIST, &keep[0], err);
        *items = keep[0];
        return rc;
    }
    rc = open_source(cfg, path, 1, &keep[0], err);
    if (rc != 0 || split == SPLIT_ALL) {
        *items = keep[0];
        return rc;
    }
    /* the run's validation split, exactly as train_job.c makes it */
    const ThawDataset *base = keep[0];
    if (cfg->subset_per_class > 0) {
        rc = thaw_dataset_subset_per_class(base, cfg->subset_per_class, cfg->data_seed,
                                           &keep[1], err);
        if (rc != 0) {
            return rc;
        }
        base = keep[1];
    }
    rc = thaw_dataset_split(base, cfg->val_fraction, cfg->data_seed, &keep[2], &keep[3], err);
    if (rc == 0 && thaw_dataset_count(keep[3]) == 0) {
        rc = thaw_fail(err, THAW_ERR_ARG, "the run has no validation split (val_fraction %g)",
                       cfg->val_fraction);
    }
    *items = keep[3];
    return rc;
}

static const char *split_name(EvalSplit s)
{
    return s == SPLIT_TEST ? "test" : s == SPLIT_VAL ? "val" : "all";
}

static void print_result(const char *ckpt, EvalSplit split, const ThawDataset *ds,
                         const EvalResult *r, int json)
{
    const char *names[1024];
    int k = r->classes;
    for (int c = 0; c < k && c < 1024; c++) {
        names[c] = thaw_dataset_class_name(ds, c);
    }
    print_eval_report(ckpt, split_name(split), "images", k <= 1024 ? names : NULL, r, json);
}

static int run_text(const char *ckpt, EvalSplit split, const char *data, int batch,
                    const char *logits_path, int json, ThawError *err)
{
    TextCheckpoint tc;
    int rc = text_checkpoint_open(&tc, ckpt, err);
    if (rc != 0) {
        return rc;
    }
    if (split == SPLIT_DEFAULT) {
        split = data ? SPLIT_ALL : SPLIT_VAL;
    }
    if (split == SPLIT_TEST && !data) {
        rc = thaw_fail(err, THAW_ERR_ARG, "--split test needs --data PATH for a %s run (its "
                       "test set)", run_data_kind_name(tc.cfg.data_kind));
    }
    TextEvalSet set = {0};
    rc = rc ? rc : text_eval_open_set(&tc, split == SPLIT_VAL, data, &set, err);
    if (rc == 0 && set.skipped_empty > 0) {
        fprintf(stderr, "thaw eval: skipped %lld empty text(s)\n", (long long)set.skipped_empty);
    }
    if (rc == 0 && set.invalid_utf8 > 0) {
        fprintf(stderr, "thaw eval: warning: %lld text(s) are not valid UTF-8: their invalid "
                "bytes are dropped\n", (long long)set.invalid_utf8);
    }
    float *logits = NULL;
    if (rc == 0 && logits_path) {
        logits = malloc((size_t)set.tok.n * (size_t)tc.classes * sizeof *logits);
        rc = logits ? 0 : thaw_fail(err, THAW_ERR_NOMEM, "out of memory");
    }
    EvalResult r = {0};
    rc = rc ? rc : text_eval_run(&tc, &set.tok, batch > 0 ? batch : tc.cfg.batch, logits, &r,
                                 err);
    if (rc == 0 && logits_path) {
        rc = text_eval_write_logits(logits_path, &set.tok, thaw_wordpiece_special_ids(tc.wp).pad,
                                    logits, tc.classes, err);
    }
    if (rc == 0) {
        print_eval_report(ckpt, split_name(split), "texts", (const char *const *)tc.class_names,
                          &r, json);
    }
    eval_result_free(&r);
    free(logits);
    text_eval_set_free(&set);
    text_checkpoint_free(&tc);
    return rc;
}

static int run(const char *ckpt, EvalSplit split, const char *data, int batch,
               const char *logits_path, int json, ThawError *err)
{
    if (checkpoint_task(ckpt) == CHECKPOINT_TEXT) {
        return run_text(ckpt, split, data, batch, logits_path, json, err);
    }
    if (logits_path) {
        return thaw_fail(err, THAW_ERR_ARG, "%s: --logits is for text checkpoints", ckpt);
    }
    Model model;
    RunConfig cfg;
    CheckpointModelInfo info;
    int rc = checkpoint_open_model(ckpt, &model, &cfg, &info, err);
    if (rc != 0) {
        return rc;
    }
    if (split == SPLIT_DEFAULT) {
        split = data ? SPLIT_ALL : cfg.data_kind == DATA_FASHION_MNIST ? SPLIT_TEST : SPLIT_VAL;
    }
    ThawDataset *keep[4] = {0};
    const ThawDataset *items = NULL;
    rc = open_split(&cfg, split, data, keep, &items, err);
    if (rc == 0) {
        for (int i = 0; i < thaw_dataset_num_warnings(items); i++) {
            fprintf(stderr, "thaw eval: warning: %s\n", thaw_dataset_warning(items, i));
        }
        EvalOptions eo = {.batch = batch > 0 ? batch : cfg.batch,
                          .workers = cfg.workers,
                          .image_size = cfg.image_size,
                          .resize_short = cfg.data_kind == DATA_FASHION_MNIST
                                              ? 0 : cfg.image_size * 256 / 224};
        EvalResult r;
        rc = eval_model(&model, items, &eo, &r, err);
        if (rc != 0 && err->msg[0] && !strstr(err->msg, ckpt)) {
            char msg[sizeof err->msg + 400];
            snprintf(msg, sizeof msg, "%.160s on %.160s: %s", ckpt,
                     data ? data : cfg.data_path, err->msg);
            snprintf(err->msg, sizeof err->msg, "%.*s", (int)sizeof err->msg - 1, msg);
        }
        if (rc == 0) {
            print_result(ckpt, split, items, &r, json);
            eval_result_free(&r);
        }
    }
    for (int i = 3; i >= 0; i--) {
        thaw_dataset_free(keep[i]);
    }
    model_free(&model);
    run_config_free(&cfg);
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    static const struct option options[] = {
        {"split", required_argument, NULL, 's'},
        {"data", required_argument, NULL, 'd'},
        {"batch", required_argument, NULL, 'b'},
        {"json", no_argument, NULL, 'j'},
        {"logits", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    EvalSplit split = SPLIT_DEFAULT;
    const char *data = NULL, *logits_path = NULL;
    int batch = 0, json = 0;
    char *end;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        switch (c) {
        case 's':
            if (strcmp(optarg, "test") == 0) {
                split = SPLIT_TEST;
            } else if (strcmp(optarg, "val") == 0) {
                split = SPLIT_VAL;
            } else if (strcmp(optarg, "all") == 0) {
                split = SPLIT_ALL;
            } else {
                return usage_error("--split must be test, val or all, not", optarg);
            }
            break;
        case 'd': data = optarg; break;
        case 'b': {
            long v = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || v < 1 || v > 4096) {
                return usage_error("--batch must be an integer in 1..4096, not", optarg);
            }
            batch = (int)v;
            break;
        }
        case 'j': json = 1; break;
        case 'l': logits_path = optarg; break;
        case 'h':
            printf("usage: " EVAL_USAGE "\n");
            return 0;
        default:
            return cli_option_error("eval", EVAL_USAGE, c, argv);
        }
    }
    if (cli_one_operand("eval", EVAL_USAGE, "a checkpoint is required", argc, argv)) {
        return 2;
    }
    ThawError err = {0};
    int rc = run(argv[optind], split, data, batch, logits_path, json, &err);
    if (rc != 0) {
        cli_error_line("eval", err.msg);
        return rc == THAW_ERR_NOMEM ? 1 : 2;
    }
    return 0;
}
