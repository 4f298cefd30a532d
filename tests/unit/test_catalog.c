/* The model catalog: the real asset holds every row of MISSION.md's
 * model-choice table plus the offline backbones, the seven thaw arches are
 * the supported rows, weights_local follows the cache (a file, or a text
 * encoder's folder), a bad catalog gives one line naming the file and the
 * key, and picking a row of the other kind (image / text) rewrites the run
 * into one that parses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "app/catalog.h"
#include "app/tui_run.h"
#include "engine/run/run_config.h"

static void asset_path(char *buf, size_t cap)
{
    const char *src = getenv("THAW_SOURCE_DIR");
    snprintf(buf, cap, "%s/assets/model_catalog.json", src && *src ? src : ".");
}

static const CatalogRow *find(const CatalogRow *rows, int n, const char *task, const char *name)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(rows[i].task, task) == 0 && strcmp(rows[i].name, name) == 0) {
            return &rows[i];
        }
    }
    return NULL;
}

static void every_mission_row(void **state)
{
    (void)state;
    char path[1024];
    asset_path(path, sizeof path);
    CatalogRow rows[WB_MAX_CATALOG];
    int n = 0;
    ThawError err = {0};
    if (catalog_load(path, "/nonexistent", rows, WB_MAX_CATALOG, &n, &err) != 0) {
        fail_msg("%s", err.msg);
    }
    static const char *const table[][2] = {
        {"image classification", "ResNet-50"}, {"image classification", "EfficientNetV2"},
        {"image classification", "ViT-B/16"}, {"object detection", "YOLO v10"},
        {"object detection", "DETR"}, {"object detection", "Faster R-CNN"},
        {"text classification", "BERT"}, {"text classification", "RoBERTa"},
        {"text classification", "DeBERTa"}, {"text generation / chat", "LLaMA 3"},
        {"text generation / chat", "Mistral"}, {"text generation / chat", "GPT-4o"},
        {"audio", "Whisper"}, {"audio", "wav2vec 2.0"}, {"code", "CodeBERT"},
        {"code", "StarCoder"}, {"code", "CodeLlama"}, {"multi-modal (text + image)", "CLIP"},
        {"multi-modal (text + image)", "Flamingo"}, {"multi-modal (text + image)", "LLaVA"},
        {"image classification", "ResNet-18"}, {"image classification", "ResNet-34"},
        {"image classification", "EfficientNet-Lite0"},
        {"image classification", "EfficientNet-Lite1"},
        {"image classification", "EfficientNet-Lite2"},
        {"text classification", "all-MiniLM-L6-v2"},
    };
    int n_table = (int)(sizeof table / sizeof table[0]);
    for (int i = 0; i < n_table; i++) {
        if (!find(rows, n, table[i][0], table[i][1])) {
            fail_msg("missing row %s / %s", table[i][0], table[i][1]);
        }
    }
    assert_int_equal(n, n_table);
    /* the seven arches thaw trains (six image backbones and MiniLM), and
     * nothing else */
    static const char *const arches[][3] = {
        {"ResNet-18", "resnet18", "resnet18.pth"}, {"ResNet-34", "resnet34", "resnet34.pth"},
        {"ResNet-50", "resnet50", "resnet50.pth"},
        {"EfficientNet-Lite0", "efficientnet_lite0", "efficientnet-lite0.pth"},
        {"EfficientNet-Lite1", "efficientnet_lite1", "efficientnet-lite1.pth"},
        {"EfficientNet-Lite2", "efficientnet_lite2", "efficientnet-lite2.pth"},
    };
    int supported = 0;
    for (int i = 0; i < n; i++) {
        supported += rows[i].supported;
        assert_int_equal(rows[i].weights_local, 0);   /* the cache folder does not exist */
        assert_true(rows[i].params >= 0);
        assert_true(rows[i].input[0] != '\0');
        if (!rows[i].supported) {
            assert_string_equal(rows[i].arch, "");
        }
    }
    assert_int_equal(supported, 8);
    const CatalogRow *minilm = find(rows, n, "text classification", "all-MiniLM-L6-v2");
    assert_true(minilm->supported);
    assert_string_equal(minilm->arch, "minilm");
    assert_string_equal(minilm->weights, "all-minilm-l6-v2");   /* a folder in the cache */
    assert_true(minilm->weights_required);
    /* BERT trains from any Hugging Face bert-base folder the user puts in
     * the cache; RoBERTa and DeBERTa are not supported yet */
    const CatalogRow *bert = find(rows, n, "text classification", "BERT");
    assert_true(bert->supported);
    assert_string_equal(bert->arch, "bert");
    assert_string_equal(bert->weights, "bert-base-uncased");
    assert_true(bert->weights_required);
    assert_false(find(rows, n, "text classification", "RoBERTa")->supported);
    assert_false(find(rows, n, "text classification", "DeBERTa")->supported);
    assert_false(find(rows, n, "image classification", "ResNet-50")->weights_required);
    for (int i = 0; i < 6; i++) {
        const CatalogRow *r = find(rows, n, "image classification", arches[i][0]);
        assert_non_null(r);
        assert_true(r->supported);
        assert_string_equal(r->arch, arches[i][1]);
        assert_string_equal(r->weights, arches[i][2]);
    }
    /* a few published figures */
    assert_int_equal(find(rows, n, "image classification", "ResNet-50")->params, 25557032);
    assert_int_equal(find(rows, n, "image classification", "EfficientNet-Lite0")->params, 4652008);
    assert_int_equal(find(rows, n, "text classification", "BERT")->params, 110000000);
    assert_string_equal(find(rows, n, "image classification", "EfficientNet-Lite2")->input, "260");
    assert_string_equal(find(rows, n, "audio", "Whisper")->input, "30 s audio");
}

static char tmpdir[] = "/tmp/thaw_catalog_XXXXXX";

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void weights_local_follows_cache(void **state)
{
    (void)state;
    char path[1024], weights[1200];
    asset_path(path, sizeof path);
    snprintf(weights, sizeof weights, "%s/resnet34.pth", tmpdir);
    write_file(weights, "not really weights, but a file");
    snprintf(weights, sizeof weights, "%s/resnet18.pth", tmpdir);
    write_file(weights, "");   /* empty: not counted */
    CatalogRow rows[WB_MAX_CATALOG];
    int n = 0;
    ThawError err = {0};
    assert_int_equal(catalog_load(path, tmpdir, rows, WB_MAX_CATALOG, &n, &err), 0);
    int local = 0;
    for (int i = 0; i < n; i++) {
        local += rows[i].weights_local;
        if (rows[i].weights_local) {
            assert_string_equal(rows[i].arch, "resnet34");
        }
    }
    assert_int_equal(local, 1);
    /* a text encoder's weights are a folder: local once its three files are there */
    char folder[64];
    snprintf(folder, sizeof folder, "%s/all-minilm-l6-v2", tmpdir);
    mkdir(folder, 0700);
    static const char *const files[] = {"config.json", "vocab.txt", "model.safetensors"};
    for (int k = 0; k < 3; k++) {
        assert_int_equal(catalog_load(path, tmpdir, rows, WB_MAX_CATALOG, &n, &err), 0);
        assert_false(find(rows, n, "text classification", "all-MiniLM-L6-v2")->weights_local);
        snprintf(weights, sizeof weights, "%s/%s", folder, files[k]);
        write_file(weights, "x");
    }
    assert_int_equal(catalog_load(path, tmpdir, rows, WB_MAX_CATALOG, &n, &err), 0);
    assert_true(find(rows, n, "text classification", "all-MiniLM-L6-v2")->weights_local);
    /* the default loader honours THAW_ASSETS and THAW_CACHE */
    char assets[1024];
    snprintf(assets, sizeof assets, "%s/assets", getenv("THAW_SOURCE_DIR") ? getenv("THAW_SOURCE_DIR") : ".");
    char cache_weights[512];
    snprintf(cache_weights, sizeof cache_weights, "%s/weights", tmpdir);
    mkdir(cache_weights, 0700);
    snprintf(weights, sizeof weights, "%s/efficientnet-lite1.pth", cache_weights);
    write_file(weights, "x");
    setenv("THAW_ASSETS", assets, 1);
    setenv("THAW_CACHE", tmpdir, 1);
    WbState *s = calloc(1, sizeof *s);
    wb_init(s);
    assert_int_equal(catalog_load_state(s, &err), 0);
    assert_int_equal(s->n_catalog, n);
    for (int i = 0; i < s->n_catalog; i++) {
        assert_int_equal(s->catalog[i].weights_local,
                         strcmp(s->catalog[i].arch, "efficientnet_lite1") == 0);
    }
    wb_free(s);
    free(s);
}

static void expect_error(const char *text, const char *want)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/bad.json", tmpdir);
    write_file(path, text);
    CatalogRow rows[4];
    int n = 7;
    ThawError err = {0};
    int rc = catalog_load(path, tmpdir, rows, 4, &n, &err);
    if (rc == 0 || strncmp(err.msg, path, strlen(path)) != 0 || !strstr(err.msg, want) ||
        strchr(err.msg, '\n') || n != 0) {
        fail_msg("text %s\n  got rc %d n %d: %s\n  want: %s", text, rc, n, err.msg, want);
    }
}

#define ROW(extra) "{\"format\":\"thaw-catalog-1\",\"models\":[{\"task\":\"t\",\"name\":\"n\"," \
    "\"arch\":null,\"params\":1,\"input\":\"224\",\"weights\":null,\"note\":\"x\"}," extra "]}"

static void malformed(void **state)
{
    (void)state;
    expect_error("{", "not valid JSON");
    expect_error("[]", "top level must be an object");
    expect_error("{\"models\":[]}", "key 'format'");
    expect_error("{\"format\":\"thaw-catalog-2\",\"models\":[]}", "key 'format'");
    expect_error("{\"format\":\"thaw-catalog-1\"}", "key 'models' must be an array");
    expect_error("{\"format\":\"thaw-catalog-1\",\"models\":[],\"extra\":1}", "unknown key 'extra'");
    expect_error(ROW("3"), "key 'models[1]' must be an object");
    expect_error(ROW("{\"task\":\"t\"}"), "key 'models[1].name' is missing");
    expect_error(ROW("{\"task\":\"t\",\"name\":\"n\",\"arch\":null,\"params\":\"25M\",\"input\":\"1\","
                     "\"weights\":null,\"note\":\"x\"}"), "key 'models[1].params' must be a whole number");
    expect_error(ROW("{\"task\":\"t\",\"name\":\"n\",\"arch\":null,\"params\":-3,\"input\":\"1\","
                     "\"weights\":null,\"note\":\"x\"}"), "key 'models[1].params'");
    expect_error(ROW("{\"task\":\"t\",\"name\":\"\",\"arch\":null,\"params\":1,\"input\":\"1\","
                     "\"weights\":null,\"note\":\"x\"}"), "key 'models[1].name' must be a non-empty string");
    expect_error(ROW("{\"task\":\"t\",\"name\":\"n\",\"arch\":\"resnet51\",\"params\":1,\"input\":\"1\","
                     "\"weights\":\"r.pth\",\"note\":\"x\"}"), "key 'models[1].arch': unknown architecture 'resnet51'");
    expect_error(ROW("{\"task\":\"t\",\"name\":\"n\",\"arch\":\"resnet18\",\"params\":1,\"input\":\"1\","
                     "\"weights\":null,\"note\":\"x\"}"), "key 'models[1].weights' must name");
    expect_error(ROW("{\"task\":\"t\",\"name\":\"n\",\"arch\":null,\"params\":1,\"input\":\"1\","
                     "\"weights\":\"../x.pth\",\"note\":\"x\"}"), "key 'models[1].weights' must be a file name");
    expect_error(ROW("{\"task\":\"t\",\"name\":\"n\",\"arch\":null,\"params\":1,\"input\":7,"
                     "\"weights\":null,\"note\":\"x\"}"), "key 'models[1].input'");
    expect_error(ROW("{\"task\":\"t\",\"name\":\"n\",\"arch\":null,\"params\":1,\"input\":\"1\","
                     "\"weights\":null,\"note\":\"x\",\"url\":\"u\"}"), "unknown key 'models[1].url'");
    expect_error(ROW("{},{},{},{}"), "key 'models' has 5 rows, at most 4");
    /* a missing file names it */
    CatalogRow rows[1];
    int n = 0;
    ThawError err = {0};
    assert_int_not_equal(catalog_load("/nonexistent/catalog.json", NULL, rows, 1, &n, &err), 0);
    assert_non_null(strstr(err.msg, "/nonexistent/catalog.json: cannot open"));
}

static void hints(void **state)
{
    (void)state;
    assert_non_null(strstr(strategy_hint(50, 1), "Feature extraction"));
    assert_non_null(strstr(strategy_hint(499, 1), "Feature extraction"));
    assert_non_null(strstr(strategy_hint(2000, 1), "Fine-tune the last blocks"));
    assert_non_null(strstr(strategy_hint(100, 0), "Fine-tune the last blocks"));
    assert_non_null(strstr(strategy_hint(10000, 1), "Full fine-tuning"));
    assert_non_null(strstr(strategy_hint(2000, 0), "Full fine-tuning"));
    const char *unknown = strategy_hint(0, 1);
    assert_non_null(strstr(unknown, "feature extraction"));
    assert_non_null(strstr(unknown, "full fine-tuning"));
}

/* text rewritten for arch parses, with dataset.type kind, batch and lr;
 * the seed (42) and threads (1) of the first run are kept. */
static char *switch_to(const char *text, const char *arch, const char *kind, int batch,
                       double lr)
{
    char *out = NULL;
    ThawError err = {0};
    assert_int_equal(tui_run_with_model(text, arch, "/w", &out, &err), 0);
    RunConfig cfg;
    run_config_defaults(&cfg);
    if (run_config_parse(&cfg, "picked.json", out, &err) != 0) {
        fail_msg("%s: %s", arch, err.msg);
    }
    assert_string_equal(cfg.arch, arch);
    assert_string_equal(cfg.weights, "/w");
    assert_string_equal(run_data_kind_name(cfg.data_kind), kind);
    assert_int_equal(cfg.batch, batch);
    assert_true(cfg.lr == lr);
    assert_int_equal(cfg.seed, 42);
    assert_int_equal(cfg.threads, 1);
    run_config_free(&cfg);
    return out;
}

static void pick_switches_kind(void **state)
{
    (void)state;
    const char *image = "{\"model\": {\"arch\": \"resnet18\", \"head\": \"linear\"},"
                        " \"dataset\": {\"type\": \"fashion_mnist\", \"image_size\": 32},"
                        " \"epochs\": 1, \"batch\": 8, \"seed\": 42, \"threads\": 1}";
    /* image to text: the embedded MiniLM-on-fortunes run and its recipe */
    char *text = switch_to(image, "minilm", "fortunes", 16, 2e-5);
    /* text to text keeps the run; text to image: the default run's data */
    char *bert = switch_to(text, "bert", "fortunes", 16, 2e-5);
    char *back = switch_to(text, "resnet18", "fashion_mnist", 32, 1e-3);
    /* image to image keeps the run */
    char *lite = switch_to(image, "efficientnet_lite0", "fashion_mnist", 8, 1e-3);
    free(text);
    free(bert);
    free(back);
    free(lite);
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_mission_row),
        cmocka_unit_test(weights_local_follows_cache),
        cmocka_unit_test(malformed),
        cmocka_unit_test(hints),
        cmocka_unit_test(pick_switches_kind),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
