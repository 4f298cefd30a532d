/* Run files: the JSON that says what a training job does (thaw train
 * RUN.json). Parsed strictly with cJSON: an unknown key, a wrong type or a
 * value out of range is an error that names the file and the key path
 * ("run.json: key 'optimizer.lr' must be a number"). Every key and its
 * default is documented in README.md, "Training runs". */
#ifndef THAW_RUN_CONFIG_H
#define THAW_RUN_CONFIG_H

#include <stdint.h>

#include "engine/core/error.h"
#include "engine/core/params.h"
#include "engine/optim/optimizer.h"
#include "engine/run/schedule.h"

#define RUN_PATH_MAX 1024
#define RUN_NAME_MAX 32
#define RUN_MAX_GROUPS 32
#define RUN_MAX_LAYERS 256

typedef enum { STRATEGY_FEATURE_EXTRACTION, STRATEGY_FINE_TUNE, STRATEGY_FULL } RunStrategy;
typedef enum {
    DATA_FASHION_MNIST, DATA_IMAGE_FOLDER, DATA_CSV,          /* images */
    DATA_TEXT_CSV, DATA_TEXT_JSONL, DATA_FORTUNES,            /* texts */
} RunDataKind;
#define RUN_MAX_TOPICS 16

typedef struct {
    char name[RUN_NAME_MAX];
    int has_lr, has_weight_decay, has_frozen;
    double lr, weight_decay;
    int frozen;
} RunGroup;

/* frozen_layers / trainable_layers: one module's own freeze choice. */
typedef struct {
    char name[PARAM_NAME_MAX];     /* PyTorch module name: "layer4.0.bn1" */
    int frozen;
    int index;                     /* position in its list, for messages */
} RunLayer;

typedef struct {
    char path[RUN_PATH_MAX];        /* the run file, for messages */
    char *json;                     /* its text, stored in checkpoints */

    char arch[RUN_NAME_MAX];        /* model.arch (required) */
    char weights[RUN_PATH_MAX];     /* model.weights ("" = random init) */
    int head_hidden;                /* model.head: mlp = 256, linear = 0 */
    /* text encoders (model.arch minilm or bert; text_job.h) */
    int text;                       /* 1 for a text arch */
    int head_cls;                   /* model.head: cls = 1, mean = 0 (minilm: mean, bert: cls) */
    int pretrained;                 /* model.pretrained (true): false = random init, config
                                       and vocab still from model.weights */
    double layer_lr_decay;          /* 1 = off; lr of encoder layer i = lr * d^(L-i) */

    RunDataKind data_kind;          /* dataset.type (required) */
    char data_path[RUN_PATH_MAX];   /* dataset.path (fashion_mnist default) */
    int64_t subset_per_class;       /* 0 = all */
    double val_fraction;            /* 0.1 */
    int image_size;                 /* 224 */
    uint64_t data_seed;             /* dataset.seed (default: seed) */
    int num_classes;                /* dataset.num_classes, csv only (0) */
    int augment;                    /* dataset.augment: train RandomResizedCrop + flip (true) */
    int max_length;                 /* dataset.max_length, texts: tokens incl. [CLS]/[SEP] (128) */
    char topics[RUN_MAX_TOPICS][RUN_NAME_MAX];  /* dataset.topics, fortunes */
    int n_topics;
    char text_column[RUN_NAME_MAX]; /* dataset.text_column ("text"), text_csv/_jsonl */
    char label_column[RUN_NAME_MAX];/* dataset.label_column ("label") */

    RunStrategy strategy;           /* feature_extraction */
    char trainable[RUN_MAX_GROUPS][RUN_NAME_MAX];  /* fine_tune */
    int n_trainable;
    RunGroup groups[RUN_MAX_GROUPS];
    int n_groups;
    RunLayer layers[RUN_MAX_LAYERS];  /* frozen_layers then trainable_layers */
    int n_layers;

    OptimizerKind optimizer;        /* adamw */
    double lr;                      /* 1e-3 */
    double weight_decay;            /* 0 */
    double momentum;                /* 0.9 (sgd) */
    int nesterov;                   /* false */

    Schedule schedule;              /* kind and factors; steps filled later */
    double warmup_ratio;            /* 0 */
    int step_size;                  /* epochs between step decays (1) */

    int epochs;                     /* 3 */
    int batch;                      /* 32 */
    uint64_t seed;                  /* 0 */
    double label_smoothing;         /* 0 */
    int patience;                   /* early_stopping.patience, 0 = off */
    double min_delta;               /* early_stopping.min_delta (0) */
    int train_bn;                   /* false */
    int threads;                    /* 0 = OpenMP default */
    int workers;                    /* loader threads (2) */
    int feature_cache;              /* cache frozen-boundary activations (true) */
    int tf32;                       /* precision "tf32": TF32 tensor cores on the GPU */
    int bf16;                       /* precision "bf16": bf16 mixed precision on the GPU */
} RunConfig;

/* Fills cfg with every default (no model, no dataset). */
void run_config_defaults(RunConfig *cfg);
/* Parses text (named path in messages). cfg owns a copy of the text. */
int run_config_parse(RunConfig *cfg, const char *path, const char *text,
                     ThawError *err);
/* Reads and parses a run file. */
int run_config_load(RunConfig *cfg, const char *path, ThawError *err);
void run_config_free(RunConfig *cfg);

const char *run_strategy_name(RunStrategy s);
const char *run_data_kind_name(RunDataKind k);

#endif
