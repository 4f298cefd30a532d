/* Hugging Face BERT checkpoints in every layout a model folder may hold
 * (gen_bert_load.py writes them with torch.save): BertForPreTraining's
 * pytorch_model.bin in the zip and the legacy format ("bert." prefix,
 * LayerNorm gamma/beta, cls.* heads, position_ids), the prefixed
 * model.safetensors and a BertForSequenceClassification file must load
 * every parameter bit for bit as the plain MiniLM model.safetensors does,
 * and give the same hidden states. A tiny random BERT covers the rest:
 * another class count keeps the new head, no pooler keeps its init, and an
 * unknown key, a wrong shape, a missing key, half a classifier or a key
 * loaded twice are one error line naming the file and the key. Folder
 * resolution: model.safetensors, else pytorch_model.bin, else an error
 * naming both. Without the MiniLM weights those cases are skipped (exit 77
 * after the tiny cases pass). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/models/bert.h"
#include "support/golden.h"

#define MINILM_CLASSES 3

static void create(BertModel *m, const char *config, BertHead head, int classes)
{
    BertConfig cfg;
    ThawError err = {0};
    if (bert_config_load(&cfg, config, &err) ||
        bert_create(m, &cfg, head, classes, 7, &err)) {
        fail_msg("%s", err.msg);
    }
}

static void load_ok(BertModel *m, const char *file, BertLoadInfo *info)
{
    ThawError err = {0};
    if (bert_load_weights(m, file, info, &err) != THAW_OK) {
        fail_msg("%s", err.msg);
    }
    printf("loaded %s: %s\n", file, info->note);
}

static int same_weights(const BertModel *a, const BertModel *b)
{
    return a->params.n_weights == b->params.n_weights &&
           memcmp(a->params.weights, b->params.weights,
                  a->params.n_weights * sizeof(float)) == 0;
}

/* Every layer's hidden states of a and b on one batch are bitwise equal. */
static void assert_same_hidden(BertModel *a, BertModel *b)
{
    enum { B = 2, T = 10 };
    int32_t ids[B * T], mask[B * T];
    for (int i = 0; i < B * T; i++) {
        ids[i] = (int32_t)((i * 7919 + 101) % a->cfg.vocab_size);
        mask[i] = i < T + 6;   /* the second sequence is padded */
    }
    ThawError err = {0};
    BertModel *ms[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        if (bert_plan(ms[k], B, T, 0, &err) ||
            bert_forward(ms[k], ids, NULL, mask, &err)) {
            fail_msg("%s", err.msg);
        }
    }
    size_t n = (size_t)B * T * a->cfg.hidden_size;
    for (int l = 0; l <= a->cfg.num_layers; l++) {
        assert_memory_equal(bert_hidden(a, l), bert_hidden(b, l), n * sizeof(float));
    }
}

static const char *gpath(char *buf, size_t cap, const char *name)
{
    return golden_path(buf, cap, name);
}

static void tiny_layouts_load_the_same(void **state)
{
    (void)state;
    char config[1024], plain[1024], file[1024];
    gpath(config, sizeof config, "bert_load_tiny_config.json");
    gpath(plain, sizeof plain, "bert_load_tiny_plain.safetensors");
    BertModel ref, m;
    BertLoadInfo info;
    create(&ref, config, BERT_HEAD_CLS, MINILM_CLASSES);
    load_ok(&ref, plain, &info);
    assert_string_equal(info.note, "new classifier (3 classes)");

    /* prefixed, gamma/beta, pytorch zip */
    create(&m, config, BERT_HEAD_CLS, MINILM_CLASSES);
    load_ok(&m, gpath(file, sizeof file, "bert_load_tiny_ok.bin"), &info);
    assert_true(same_weights(&ref, &m));
    assert_int_equal(info.classifier, 0);
    bert_free(&m);

    /* a 2-class classifier: the 3-class model keeps its new head */
    create(&m, config, BERT_HEAD_CLS, MINILM_CLASSES);
    load_ok(&m, gpath(file, sizeof file, "bert_load_tiny_cls2.bin"), &info);
    assert_true(same_weights(&ref, &m));
    assert_int_equal(info.classifier, 0);
    assert_non_null(strstr(info.note, "new classifier (3 classes; the file's has 2"));
    bert_free(&m);
    /* ... and a 2-class model takes it */
    create(&m, config, BERT_HEAD_MEAN, 2);
    load_ok(&m, file, &info);
    assert_int_equal(info.classifier, 1);
    assert_string_equal(info.note, "classifier from the file (2 classes)");
    bert_free(&m);
    /* ... and an encoder without a head ignores it */
    create(&m, config, BERT_HEAD_NONE, 0);
    load_ok(&m, file, &info);
    assert_non_null(strstr(info.note, "classifier (2 classes) ignored: no head"));
    bert_free(&m);

    /* BertForMaskedLM: no pooler (kept at init), cls.predictions ignored */
    create(&m, config, BERT_HEAD_CLS, MINILM_CLASSES);
    BertModel fresh;
    create(&fresh, config, BERT_HEAD_CLS, MINILM_CLASSES);
    load_ok(&m, gpath(file, sizeof file, "bert_load_tiny_nopooler.bin"), &info);
    assert_non_null(strstr(info.note, "new pooler (none in the file)"));
    assert_non_null(strstr(info.note, "6 pre-training head keys ignored (cls.*)"));
    for (int i = 0; i < m.params.count; i++) {
        const BertModel *want = strncmp(m.params.items[i].name, "pooler.", 7) == 0 ||
                                strncmp(m.params.items[i].name, "classifier.", 11) == 0
                                    ? &fresh : &ref;
        assert_memory_equal(params_data(&m.params, i), params_data(&want->params, i),
                            m.params.items[i].numel * sizeof(float));
    }
    bert_free(&fresh);
    bert_free(&m);
    bert_free(&ref);
}

/* file fails to load with one line naming the file and key. */
static void expect_refused(const char *config, const char *name, const char *key)
{
    char file[1024];
    gpath(file, sizeof file, name);
    BertModel m;
    create(&m, config, BERT_HEAD_CLS, MINILM_CLASSES);
    ThawError err = {0};
    BertLoadInfo info;
    assert_int_equal(bert_load_weights(&m, file, &info, &err), THAW_ERR_MISMATCH);
    printf("refused: %s\n", err.msg);
    assert_non_null(strstr(err.msg, file));
    assert_non_null(strstr(err.msg, key));
    assert_null(strchr(err.msg, '\n'));
    bert_free(&m);
}

static void tiny_bad_files_are_one_line(void **state)
{
    (void)state;
    char config[1024];
    gpath(config, sizeof config, "bert_load_tiny_config.json");
    expect_refused(config, "bert_load_tiny_unknown.bin",
                   "'bert.encoder.layer.0.attention.self.rotary.weight'");
    expect_refused(config, "bert_load_tiny_shape.bin",
                   "'bert.encoder.layer.1.intermediate.dense.weight'");
    expect_refused(config, "bert_load_tiny_missing.bin",
                   "missing key 'bert.encoder.layer.1.output.LayerNorm.bias'");
    expect_refused(config, "bert_load_tiny_badcls.bin", "'classifier.weight'");
    expect_refused(config, "bert_load_tiny_half_cls.bin", "missing key 'classifier.bias'");
    expect_refused(config, "bert_load_tiny_dup.safetensors",
                   "'embeddings.word_embeddings.weight'");
}

static void touch_link(const char *target, const char *link)
{
    unlink(link);
    assert_int_equal(symlink(target, link), 0);
}

static void folder_picks_safetensors_then_bin(void **state)
{
    (void)state;
    char dir[1024], path[2048], want[2048], target[1024];
    gpath(dir, sizeof dir, "bert_load_folder");
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/pytorch_model.bin", dir);
    unlink(path);
    ThawError err = {0};
    assert_int_equal(bert_weights_file(dir, path, sizeof path, &err), THAW_ERR_IO);
    printf("refused: %s\n", err.msg);
    assert_non_null(strstr(err.msg, dir));
    assert_non_null(strstr(err.msg, "model.safetensors"));
    assert_non_null(strstr(err.msg, "pytorch_model.bin"));

    snprintf(want, sizeof want, "%s/pytorch_model.bin", dir);
    touch_link(gpath(target, sizeof target, "bert_load_tiny_ok.bin"), want);
    assert_int_equal(bert_weights_file(dir, path, sizeof path, &err), THAW_OK);
    assert_string_equal(path, want);

    snprintf(want, sizeof want, "%s/model.safetensors", dir);
    touch_link(gpath(target, sizeof target, "bert_load_tiny_plain.safetensors"), want);
    assert_int_equal(bert_weights_file(dir, path, sizeof path, &err), THAW_OK);
    assert_string_equal(path, want);

    snprintf(want, sizeof want, "%s/none", dir);
    assert_int_equal(bert_weights_file(want, path, sizeof path, &err), THAW_ERR_IO);
    assert_non_null(strstr(err.msg, want));
    assert_int_equal(bert_weights_file(dir, path, 16, &err), THAW_ERR_ARG);
}

static void minilm_layouts_load_bitwise(void **state)
{
    (void)state;
    SafeTensors *st = golden_open("bert_load_expect.safetensors");
    char weights[1024], config[1024], file[1024];
    snprintf(weights, sizeof weights, "%s", st_metadata(st, "weights"));
    snprintf(config, sizeof config, "%s", weights);
    strcpy(strrchr(config, '/') + 1, "config.json");

    BertModel ref, m;
    BertLoadInfo info;
    create(&ref, config, BERT_HEAD_CLS, MINILM_CLASSES);
    load_ok(&ref, weights, &info);
    static const char *const files[] = {
        "bert_load_pretrain_zip.bin", "bert_load_pretrain_legacy.bin",
        "bert_load_prefixed.safetensors",
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        create(&m, config, BERT_HEAD_CLS, MINILM_CLASSES);
        load_ok(&m, gpath(file, sizeof file, files[i]), &info);
        assert_true(same_weights(&ref, &m));
        assert_int_equal(info.classifier, 0);
        assert_true(info.ignored >= 3);
        assert_same_hidden(&ref, &m);
        bert_free(&m);
    }

    /* BertForSequenceClassification with 3 classes: its head is loaded */
    create(&m, config, BERT_HEAD_CLS, MINILM_CLASSES);
    load_ok(&m, gpath(file, sizeof file, "bert_load_seqcls.bin"), &info);
    assert_int_equal(info.classifier, 1);
    static const char *const head[] = {"classifier.weight", "classifier.bias"};
    for (int k = 0; k < 2; k++) {
        int64_t numel;
        float *w = golden_load(st, head[k], &numel);
        int p = params_find(&ref.params, head[k]);
        assert_memory_equal(params_data(&m.params, p), w, (size_t)numel * sizeof(float));
        memcpy(params_data(&ref.params, p), w, (size_t)numel * sizeof(float));
        free(w);
    }
    assert_true(same_weights(&ref, &m));
    assert_same_hidden(&ref, &m);
    bert_free(&m);
    bert_free(&ref);
    st_close(st);
}

int main(void)
{
    const struct CMUnitTest tiny[] = {
        cmocka_unit_test(tiny_layouts_load_the_same),
        cmocka_unit_test(tiny_bad_files_are_one_line),
        cmocka_unit_test(folder_picks_safetensors_then_bin),
    };
    int rc = cmocka_run_group_tests_name("tiny", tiny, NULL, NULL);
    char probe[1024];
    if (access(gpath(probe, sizeof probe, "bert_load_expect.safetensors"), R_OK) != 0) {
        printf("skipped: %s missing (no all-MiniLM-L6-v2 weights when gen_bert_load.py "
               "ran; bash quickstart.sh fetches them)\n", probe);
        return rc ? rc : 77;
    }
    const struct CMUnitTest minilm[] = {
        cmocka_unit_test(minilm_layouts_load_bitwise),
    };
    return rc + cmocka_run_group_tests_name("minilm", minilm, NULL, NULL);
}
