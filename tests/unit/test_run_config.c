/* Run files: defaults, and every kind of error names the file and the key
 * path (unknown key, wrong type, out of range, bad enum, missing key,
 * invalid JSON, misplaced key). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "engine/run/run_config.h"

static void expect_error(const char *text, const char *want)
{
    RunConfig cfg;
    ThawError err = {0};
    int rc = run_config_parse(&cfg, "run.json", text, &err);
    run_config_free(&cfg);
    if (rc == 0 || strncmp(err.msg, "run.json: ", 10) != 0 || !strstr(err.msg, want)) {
        print_error("text %s\n  got rc %d: %s\n  want: %s\n", text, rc, err.msg, want);
        fail();
    }
    assert_null(strchr(err.msg, '\n'));
}

static void defaults(void **state)
{
    (void)state;
    RunConfig cfg;
    ThawError err = {0};
    int rc = run_config_parse(&cfg, "run.json",
                              "{\"model\":{\"arch\":\"resnet50\"},"
                              "\"dataset\":{\"type\":\"fashion_mnist\"}}", &err);
    assert_int_equal(rc, 0);
    assert_string_equal(cfg.arch, "resnet50");
    assert_string_equal(cfg.weights, "");
    assert_int_equal(cfg.head_hidden, 256);
    assert_int_equal(cfg.data_kind, DATA_FASHION_MNIST);
    assert_string_equal(cfg.data_path, "/usr/share/datasets/fashion-mnist");
    assert_true(cfg.val_fraction == 0.1);
    assert_int_equal(cfg.image_size, 224);
    assert_int_equal(cfg.augment, 1);
    assert_int_equal(cfg.strategy, STRATEGY_FEATURE_EXTRACTION);
    assert_int_equal(cfg.optimizer, OPT_ADAMW);
    assert_true(cfg.lr == 1e-3);
    assert_true(cfg.weight_decay == 0.0);
    assert_int_equal(cfg.schedule.kind, SCHED_CONSTANT);
    assert_true(cfg.warmup_ratio == 0.0);
    assert_int_equal(cfg.epochs, 3);
    assert_int_equal(cfg.batch, 32);
    assert_int_equal(cfg.seed, 0);
    assert_true(cfg.label_smoothing == 0.0);
    assert_int_equal(cfg.patience, 0);
    assert_int_equal(cfg.train_bn, 0);
    assert_int_equal(cfg.tf32, 0);
    assert_non_null(cfg.json);
    run_config_free(&cfg);
}

static void full_file(void **state)
{
    (void)state;
    RunConfig cfg;
    ThawError err = {0};
    const char *text =
        "{\"model\":{\"arch\":\"resnet18\",\"weights\":\"w.pth\",\"head\":\"linear\"},"
        "\"dataset\":{\"type\":\"csv\",\"path\":\"m.csv\",\"subset_per_class\":7,"
        "\"val_fraction\":0.2,\"image_size\":64,\"seed\":9,\"num_classes\":3,\"augment\":false},"
        "\"strategy\":\"fine_tune\",\"trainable\":[\"layer3\",\"layer4\"],"
        "\"groups\":{\"layer4\":{\"lr\":1e-4,\"weight_decay\":0.01,\"frozen\":false}},"
        "\"optimizer\":{\"name\":\"sgd\",\"lr\":0.1,\"momentum\":0.8,\"nesterov\":true},"
        "\"schedule\":{\"name\":\"onecycle\",\"pct_start\":0.25},"
        "\"epochs\":5,\"batch\":4,\"seed\":2,\"label_smoothing\":0.1,"
        "\"early_stopping\":{\"patience\":2,\"min_delta\":0.01},"
        "\"train_bn\":true,\"threads\":3,\"workers\":1,\"precision\":\"tf32\"}";
    assert_int_equal(run_config_parse(&cfg, "run.json", text, &err), 0);
    assert_int_equal(cfg.head_hidden, 0);
    assert_int_equal(cfg.data_kind, DATA_CSV);
    assert_int_equal(cfg.subset_per_class, 7);
    assert_int_equal(cfg.data_seed, 9);
    assert_int_equal(cfg.augment, 0);
    assert_int_equal(cfg.n_trainable, 2);
    assert_string_equal(cfg.trainable[1], "layer4");
    assert_int_equal(cfg.n_groups, 1);
    assert_true(cfg.groups[0].has_lr && cfg.groups[0].lr == 1e-4);
    assert_true(cfg.groups[0].has_frozen && cfg.groups[0].frozen == 0);
    assert_int_equal(cfg.optimizer, OPT_SGD);
    assert_true(cfg.momentum == 0.8f || cfg.momentum == 0.8);
    assert_int_equal(cfg.nesterov, 1);
    assert_int_equal(cfg.schedule.kind, SCHED_ONECYCLE);
    assert_true(cfg.schedule.pct_start == 0.25);
    assert_int_equal(cfg.patience, 2);
    assert_int_equal(cfg.train_bn, 1);
    assert_int_equal(cfg.tf32, 1);
    assert_int_equal(cfg.bf16, 0);
    assert_int_equal(cfg.threads, 3);
    run_config_free(&cfg);
}

static void precision_bf16(void **state)
{
    (void)state;
    RunConfig cfg;
    ThawError err = {0};
    const char *text = "{\"model\":{\"arch\":\"resnet18\"},\"dataset\":{\"type\":"
                       "\"fashion_mnist\"},\"precision\":\"bf16\"}";
    assert_int_equal(run_config_parse(&cfg, "run.json", text, &err), 0);
    assert_int_equal(cfg.bf16, 1);
    assert_int_equal(cfg.tf32, 0);
    run_config_free(&cfg);
}

#define BASE "\"model\":{\"arch\":\"resnet18\"},\"dataset\":{\"type\":\"fashion_mnist\"}"

static void errors_name_file_and_key(void **state)
{
    (void)state;
    expect_error("{" BASE ",\"optimizer\":{\"lr\":\"x\"}}", "key 'optimizer.lr' must be a number");
    expect_error("{" BASE ",\"precision\":\"fp16\"}",
                 "key 'precision' must be one of fp32, tf32, bf16, got 'fp16'");
    expect_error("{" BASE ",\"optimizer\":{\"lr\":0}}", "key 'optimizer.lr' must be between");
    expect_error("{" BASE ",\"optimizer\":{\"name\":\"adam\"}}",
                 "key 'optimizer.name' must be one of sgd, adamw, got 'adam'");
    expect_error("{" BASE ",\"optimizer\":{\"lr\":0.1,\"betas\":1}}",
                 "unknown key 'optimizer.betas'");
    expect_error("{" BASE ",\"optimizer\":{\"momentum\":0.9}}", "'optimizer.momentum'");
    expect_error("{" BASE ",\"epoch\":3}", "unknown key 'epoch'");
    expect_error("{" BASE ",\"epochs\":2.5}", "key 'epochs' must be an integer");
    expect_error("{" BASE ",\"batch\":0}", "key 'batch' must be between");
    expect_error("{" BASE ",\"train_bn\":1}", "key 'train_bn' must be true or false");
    expect_error("{" BASE ",\"strategy\":\"all\"}", "key 'strategy' must be one of");
    expect_error("{" BASE ",\"trainable\":[\"layer4\"]}", "key 'trainable' applies to strategy fine_tune");
    expect_error("{" BASE ",\"strategy\":\"fine_tune\",\"trainable\":[4]}",
                 "key 'trainable' must be a list");
    expect_error("{" BASE ",\"groups\":{\"head\":{\"lr\":true}}}", "key 'groups.head.lr' must be a number");
    expect_error("{" BASE ",\"groups\":{\"head\":{\"freeze\":true}}}", "unknown key 'groups.head.freeze'");
    expect_error("{" BASE ",\"groups\":{\"head\":3}}", "key 'groups.head' must be an object");
    expect_error("{" BASE ",\"schedule\":{\"name\":\"triangle\"}}", "key 'schedule.name' must be one of");
    expect_error("{" BASE ",\"schedule\":{\"warmup_ratio\":1.5}}", "key 'schedule.warmup_ratio' must be between");
    expect_error("{" BASE ",\"early_stopping\":{\"patience\":0}}", "key 'early_stopping.patience'");
    expect_error("{" BASE ",\"early_stopping\":true}", "key 'early_stopping' must be an object");
    expect_error("{\"model\":{\"arch\":\"resnet18\",\"head\":\"big\"},\"dataset\":{\"type\":\"csv\"}}",
                 "key 'model.head' must be one of mlp, linear");
    expect_error("{\"model\":{},\"dataset\":{\"type\":\"fashion_mnist\"}}", "key 'model.arch' is required");
    expect_error("{\"model\":{\"arch\":\"resnet18\"}}", "key 'dataset' is required");
    expect_error("{\"model\":{\"arch\":\"resnet18\"},\"dataset\":{\"type\":\"csv\"}}",
                 "key 'dataset.path' is required");
    expect_error("{\"model\":{\"arch\":\"resnet18\"},\"dataset\":{\"type\":\"fashion_mnist\",\"image_size\":16}}",
                 "key 'dataset.image_size' must be between 32");
    expect_error("{\"model\":{\"arch\":\"resnet18\"},\"dataset\":{\"type\":\"fashion_mnist\",\"val_fraction\":\"a\"}}",
                 "key 'dataset.val_fraction' must be a number");
    expect_error("{\"model\":\"resnet18\"}", "key 'model' must be an object");
    expect_error("[1]", "must be a JSON object");
    expect_error("{\"model\":\n{", "not valid JSON (line 2)");
}

static void missing_file(void **state)
{
    (void)state;
    RunConfig cfg;
    ThawError err = {0};
    assert_int_not_equal(run_config_load(&cfg, "/nonexistent/run.json", &err), 0);
    assert_non_null(strstr(err.msg, "/nonexistent/run.json: cannot open"));
    run_config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults),
        cmocka_unit_test(full_file),
        cmocka_unit_test(precision_bf16),
        cmocka_unit_test(errors_name_file_and_key),
        cmocka_unit_test(missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
