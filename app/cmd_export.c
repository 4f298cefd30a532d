/* thaw export CKPT --out MODEL.safetensors
 * Writes the model of a training checkpoint (backbone + head, PyTorch names,
 * loadable by load_state_dict(strict=True)) without the optimizer state.
 * The model is rebuilt from the run file stored in the checkpoint's
 * metadata, loaded strictly (every parameter and buffer present with its
 * shape; no key outside the model but opt.*), and written atomically with
 * arch, head and classes in __metadata__. A text checkpoint (minilm, bert)
 * also gets config.json and vocab.txt in --out's folder: a Hugging Face
 * model folder (engine/run/text_export.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_error.h"
#include "commands.h"
#include "engine/io/safetensors.h"
#include "engine/models/model.h"
#include "engine/run/checkpoint_model.h"
#include "engine/run/text_checkpoint_model.h"
#include "engine/run/text_export.h"

#define EXPORT_USAGE "thaw export CKPT.safetensors --out MODEL.safetensors"

static int usage_error(const char *msg, const char *what)
{
    return cli_usage_error("export", EXPORT_USAGE, msg, what);
}

static int run_text(const char *ckpt, const char *out, ThawError *err)
{
    TextCheckpoint tc;
    int rc = text_checkpoint_open(&tc, ckpt, err);
    if (rc == 0) {
        rc = text_export(&tc, out, err);
        text_checkpoint_free(&tc);
    }
    return rc;
}

static int run(const char *ckpt, const char *out, ThawError *err)
{
    if (checkpoint_task(ckpt) == CHECKPOINT_TEXT) {
        return run_text(ckpt, out, err);
    }
    Model model;
    RunConfig cfg;
    CheckpointModelInfo info;
    int rc = checkpoint_open_model(ckpt, &model, &cfg, &info, err);
    if (rc != 0) {
        return rc;
    }
    char nclass[32];
    snprintf(nclass, sizeof nclass, "%d", info.classes);
    StMeta meta[] = {
        {"format", "thaw-model-1"},
        {"arch", cfg.arch},
        {"head", cfg.head_hidden > 0 ? "mlp" : "linear"},
        {"classes", nclass},
        {"epoch", info.epoch},
    };
    int n_meta = (int)(sizeof meta / sizeof meta[0]) - (info.epoch[0] ? 0 : 1);
    rc = model_save_safetensors(&model, out, meta, n_meta, err);
    model_free(&model);
    run_config_free(&cfg);
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
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'h':
            printf("usage: " EXPORT_USAGE "\n");
            return 0;
        default:
            return cli_option_error("export", EXPORT_USAGE, c, argv);
        }
    }
    if (cli_one_operand("export", EXPORT_USAGE, "a checkpoint is required", argc, argv)) {
        return 2;
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
