/* Live control of the text job (train_control.h for text runs, text_job.h)
 * through train_run with an on_boundary callback, on a tiny random-init
 * BERT (hidden 16, 2 layers, CLS head: the pooler is on the loss's path)
 * written to a temp folder (config.json, vocab.txt) with 24 labelled texts
 * in a temp CSV: 18 train, batch 4, 5 steps per epoch, 2 epochs.
 *  - the snapshot: groups embeddings, encoder.layer.0/1, pooler, classifier;
 *    layers named as in Hugging Face with per-token shapes; counts;
 *  - a group freeze stops the weights and optimizer state of everything
 *    below (while upper layers train), the log line says where backward
 *    stops; a thaw continues from the kept state, gradients flowing through
 *    a still-frozen layer;
 *  - a layer (module) freeze stops that module only; the group shows partial;
 *  - set_lr reaches the next step; bad names and lrs are errors, unjournaled;
 *  - save writes DIR/step-NNNNNN.safetensors with the journal;
 *  - resume (mid-epoch from interrupted.safetensors, and from epoch-001)
 *    with live changes ends byte-identical to the straight run; TRAIN_ABANDON
 *    writes nothing; a callback that changes nothing leaves the checkpoints
 *    byte-identical to a headless run's. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/io/safetensors.h"
#include "engine/run/run_config.h"
#include "engine/run/train_control.h"
#include "engine/run/train_job.h"
#include "support/train_fixture.h"

/* this cmocka has no assert_double_equal */
#define assert_close(a, b, tol) assert_true(fabs((double)(a) - (double)(b)) <= (tol))

static char g_tmp[] = "/tmp/thaw_text_control_XXXXXX";
static RunConfig g_cfg;

static const char *const WORDS[] = {
    "the", "ball", "goal", "team", "match", "score", "heart", "kiss", "love", "dear",
    "game", "run", "sweet", "rose", "win", "play", "moon", "night", "field", "coach"};
#define N_WORDS 20

/* ---- fixtures ---- */

static void write_fixtures(void)
{
    char buf[4096];
    size_t used = (size_t)snprintf(buf, sizeof buf, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n");
    for (int w = 0; w < N_WORDS; w++) {
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s\n", WORDS[w]);
    }
    fixture_write_file(g_tmp, "vocab.txt", buf);
    snprintf(buf, sizeof buf,
             "{\"vocab_size\": %d, \"hidden_size\": 16, \"num_hidden_layers\": 2,"
             " \"num_attention_heads\": 2, \"intermediate_size\": 32,"
             " \"max_position_embeddings\": 32, \"type_vocab_size\": 2,"
             " \"hidden_act\": \"gelu\", \"position_embedding_type\": \"absolute\"}",
             N_WORDS + 5);
    fixture_write_file(g_tmp, "config.json", buf);
    /* sports words (1..5, 10, 14, 15, 18, 19) against love words */
    used = (size_t)snprintf(buf, sizeof buf, "text,label\n");
    for (int i = 0; i < 24; i++) {
        static const int sports[] = {1, 2, 3, 4, 5, 10, 14, 15, 18, 19};
        static const int love[] = {6, 7, 8, 9, 12, 13, 16, 17, 11, 0};
        const int *pick = i % 2 ? love : sports;
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s %s %s %s,%s\n",
                                 WORDS[pick[i % 10]], WORDS[pick[(i * 3) % 10]],
                                 WORDS[pick[(i + 7) % 10]], i % 3 ? "the" : "game",
                                 i % 2 ? "love" : "sports");
    }
    fixture_write_file(g_tmp, "texts.csv", buf);
}

static void make_config(RunConfig *cfg)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"model\": {\"arch\": \"bert\", \"weights\": \"%s\", \"pretrained\": false},"
             " \"dataset\": {\"type\": \"text_csv\", \"path\": \"%s/texts.csv\","
             "  \"val_fraction\": 0.25, \"max_length\": 16},"
             " \"epochs\": 2, \"batch\": 4, \"seed\": 7, \"threads\": 1}", g_tmp, g_tmp);
    ThawError err = {0};
    run_config_defaults(cfg);
    if (run_config_parse(cfg, "text_control.json", text, &err) != 0) {
        fail_msg("%s", err.msg);
    }
}

static void out_dir(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", g_tmp, name);
}

/* ---- the script: live changes at fixed steps, checks along the way ---- */

#define QUERY1 "encoder.layer.1.attention.self.query"
#define WORD_EMB "embeddings.word_embeddings.weight"

typedef struct {
    int check;                 /* run the checks (the straight run) */
    int64_t stop_at;           /* > 0: TRAIN_STOP_SAVE there; < 0: ABANDON at -stop_at */
    int changes;               /* make the live changes */
    char logs[16384];
    double step_lr[32];        /* head lr of each STEP event */
    float *emb, *emb_m, *l0q, *l1k, *l1k_m, *q1;
    size_t n_emb, n_l0q, n_l1k, n_q1;
    int checks;
    char saved[1100];
} Script;

static void record_event(const TrainEvent *ev, void *user)
{
    Script *s = user;
    if (ev->kind == TRAIN_EV_LOG) {
        fixture_append_log(s->logs, sizeof s->logs, ev->msg);
    }
    if (ev->kind == TRAIN_EV_STEP && ev->step < 32) {
        s->step_lr[ev->step] = ev->lr;
    }
}

static void check_start_snapshot(TrainCtl *ctl)
{
    TrainSnapshot snap;
    ThawError err = {0};
    assert_int_equal(train_ctl_snapshot(ctl, &snap, &err), 0);
    static const char *const groups[] = {"embeddings", "encoder.layer.0", "encoder.layer.1",
                                         "pooler", "classifier"};
    assert_int_equal(snap.n_groups, 5);
    for (int g = 0; g < 5; g++) {
        assert_string_equal(snap.groups[g].name, groups[g]);
        assert_false(snap.groups[g].frozen);
        assert_close(snap.groups[g].base_lr, 2e-5, 1e-15);
        assert_close(snap.groups[g].lr, 0.0, 0.0);   /* warmup's first step */
    }
    /* embeddings: three tables and LayerNorm; 8 modules a layer; pooler, classifier */
    assert_int_equal(snap.n_layers, 4 + 2 * 8 + 2);
    assert_string_equal(snap.layers[0].name, "embeddings.word_embeddings");
    assert_string_equal(snap.layers[4].name, "encoder.layer.0.attention.self.query");
    assert_string_equal(snap.layers[snap.n_layers - 2].name, "pooler.dense");
    assert_string_equal(snap.layers[snap.n_layers - 1].name, "classifier");
    const TrainSnapLayer *l = fixture_find_layer(&snap, "embeddings.word_embeddings");
    assert_int_equal(l->out_h, TRAIN_SNAP_PER_TOKEN);
    assert_int_equal(l->out_c, 16);
    assert_int_equal(l->params, 25 * 16);
    l = fixture_find_layer(&snap, "encoder.layer.1.intermediate.dense");
    assert_int_equal(l->out_h, TRAIN_SNAP_PER_TOKEN);
    assert_int_equal(l->out_c, 32);
    assert_int_equal(l->params, 32 * 16 + 32);
    assert_int_equal(l->group, 2);
    l = fixture_find_layer(&snap, "classifier");
    assert_int_equal(l->out_h, 1);
    assert_int_equal(l->out_c, 2);
    assert_int_equal(l->group, 4);
    int64_t sum = 0;
    for (int i = 0; i < snap.n_layers; i++) {
        sum += snap.layers[i].params;
    }
    assert_int_equal(sum, snap.trainable_params);
    assert_true(snap.at_start);
    assert_int_equal(snap.step, 0);
    assert_int_equal(snap.total_steps, 10);
    train_snapshot_free(&snap);
}

static void check_bad_calls(TrainCtl *ctl)
{
    ThawError err = {0};
    assert_int_not_equal(train_ctl_set_frozen(ctl, "layer4", 1, &err), 0);
    assert_non_null(strstr(err.msg, "groups: embeddings, encoder.layer.0"));
    assert_int_not_equal(train_ctl_set_layer_frozen(ctl, "encoder.layer.0", 1, &err), 0);
    assert_non_null(strstr(err.msg, "it is a group"));
    assert_int_not_equal(train_ctl_set_layer_frozen(ctl, "encoder.layer.9.output", 1, &err), 0);
    assert_non_null(strstr(err.msg, "no layer 'encoder.layer.9.output' in bert"));
    assert_int_not_equal(train_ctl_set_lr(ctl, "pooler", 0.0, &err), 0);
    assert_int_not_equal(train_ctl_set_lr(ctl, "pooler", NAN, &err), 0);
    const float *d;
    size_t n;
    assert_int_not_equal(train_ctl_tensor(ctl, "opt.exp_avg.nothing", &d, &n, &err), 0);
}

/* The live changes (every run of the script makes the same ones, skipping
 * the at_start call: after a resume its changes come from the journal). */
static void make_changes(TrainCtl *ctl, int64_t step)
{
    ThawError err = {0};
    int rc = 0;
    if (step == 1) {
        rc = train_ctl_set_lr(ctl, "classifier", 1e-3, &err);
    } else if (step == 2) {
        rc = train_ctl_set_frozen(ctl, "embeddings", 1, &err);
        rc = rc ? rc : train_ctl_set_frozen(ctl, "encoder.layer.0", 1, &err);
    } else if (step == 3) {
        rc = train_ctl_set_layer_frozen(ctl, QUERY1, 1, &err);
    } else if (step == 6) {
        rc = train_ctl_set_frozen(ctl, "embeddings", 0, &err);
    } else if (step == 7) {
        rc = train_ctl_set_lr(ctl, "pooler", 5e-4, &err);
    }
    if (rc != 0) {
        fail_msg("step %lld: %s", (long long)step, err.msg);
    }
}

static void straight_checks(Script *s, TrainCtl *ctl, int64_t step)
{
    ThawError err = {0};
    TrainSnapshot snap;
    if (step == 2) {   /* just frozen: keep what must not move */
        s->emb = fixture_copy_tensor(ctl, WORD_EMB, &s->n_emb);
        s->emb_m = fixture_copy_tensor(ctl, "opt.exp_avg." WORD_EMB, &s->n_emb);
        s->l0q = fixture_copy_tensor(ctl, "encoder.layer.0.attention.self.query.weight", &s->n_l0q);
        s->l1k = fixture_copy_tensor(ctl, "encoder.layer.1.attention.self.key.weight", &s->n_l1k);
        assert_non_null(strstr(s->logs, "step 2: encoder.layer.0 frozen; backward now stops "
                                        "at " QUERY1));
        s->checks++;
    } else if (step == 3) {   /* a step later: below frozen, above trained */
        assert_true(fixture_tensor_equals(ctl, WORD_EMB, s->emb, s->n_emb));
        assert_true(fixture_tensor_equals(ctl, "opt.exp_avg." WORD_EMB, s->emb_m, s->n_emb));
        assert_true(fixture_tensor_equals(ctl, "encoder.layer.0.attention.self.query.weight", s->l0q,
                                  s->n_l0q));
        assert_false(fixture_tensor_equals(ctl, "encoder.layer.1.attention.self.key.weight", s->l1k,
                                   s->n_l1k));
        /* the lr set at step 1 drove step 2 (the schedule's factor is 1 there) */
        assert_close(s->step_lr[2], (double)(float)1e-3, 1e-12);
        s->q1 = fixture_copy_tensor(ctl, QUERY1 ".weight", &s->n_q1);
        free(s->l1k);
        s->l1k = fixture_copy_tensor(ctl, "encoder.layer.1.attention.self.key.weight", &s->n_l1k);
        s->l1k_m = fixture_copy_tensor(ctl, "opt.exp_avg.encoder.layer.1.attention.self.key.weight",
                               &s->n_l1k);
        s->checks++;
    } else if (step == 4) {   /* the layer freeze: that module only */
        assert_non_null(strstr(s->logs, "step 3: layer " QUERY1 " (encoder.layer.1) frozen; "
                                        "backward now stops at encoder.layer.1.attention.self.key"));
        assert_true(fixture_tensor_equals(ctl, QUERY1 ".weight", s->q1, s->n_q1));
        assert_false(fixture_tensor_equals(ctl, "encoder.layer.1.attention.self.key.weight", s->l1k,
                                   s->n_l1k));
        /* and from a real gradient: a zero one would leave exp_avg at
         * beta1 x its old value (backward must still reach the key below
         * the frozen query, in the same block) */
        const float *m;
        size_t n;
        assert_int_equal(train_ctl_tensor(ctl, "opt.exp_avg.encoder.layer.1.attention.self."
                                          "key.weight", &m, &n, &err), 0);
        size_t moved = 0;
        for (size_t i = 0; i < n; i++) {
            moved += m[i] != 0.9f * s->l1k_m[i];
        }
        assert_true(moved > n / 2);
        assert_int_equal(train_ctl_snapshot(ctl, &snap, &err), 0);
        const TrainSnapGroup *g = fixture_find_group(&snap, "encoder.layer.1");
        assert_true(g->partial);
        assert_false(g->frozen);
        assert_int_equal(g->trainable_params, g->params - (16 * 16 + 16));
        assert_true(fixture_find_layer(&snap, QUERY1)->frozen);
        assert_false(fixture_find_layer(&snap, "encoder.layer.1.attention.self.key")->frozen);
        assert_true(fixture_find_group(&snap, "embeddings")->frozen);
        assert_close(fixture_find_group(&snap, "classifier")->base_lr, 1e-3, 1e-15);
        train_snapshot_free(&snap);
        assert_int_equal(train_ctl_save(ctl, s->saved, sizeof s->saved, &err), 0);
        s->checks++;
    } else if (step == 6) {   /* thawed: the state it kept, not zeros */
        assert_true(fixture_tensor_equals(ctl, "opt.exp_avg." WORD_EMB, s->emb_m, s->n_emb));
        s->checks++;
    } else if (step == 7) {   /* it trains again, through the frozen encoder.layer.0 */
        assert_false(fixture_tensor_equals(ctl, WORD_EMB, s->emb, s->n_emb));
        assert_false(fixture_tensor_equals(ctl, "opt.exp_avg." WORD_EMB, s->emb_m, s->n_emb));
        assert_true(fixture_tensor_equals(ctl, "encoder.layer.0.attention.self.query.weight", s->l0q,
                                  s->n_l0q));
        s->checks++;
    }
}

static TrainBoundaryAction script(TrainCtl *ctl, void *user)
{
    Script *s = user;
    int64_t step = train_ctl_step(ctl);
    if (s->check && train_ctl_at_start(ctl)) {
        check_start_snapshot(ctl);
        check_bad_calls(ctl);
        s->checks++;
    }
    if (s->changes && !train_ctl_at_start(ctl)) {
        make_changes(ctl, step);
    }
    if (s->check) {
        straight_checks(s, ctl, step);
    }
    if (s->stop_at > 0 && step == s->stop_at) {
        return TRAIN_STOP_SAVE;
    }
    if (s->stop_at < 0 && step == -s->stop_at) {
        return TRAIN_ABANDON;
    }
    return TRAIN_CONTINUE;
}

static void run(Script *s, const char *name, const char *resume, int live, TrainResult *res)
{
    char out[512];
    out_dir(out, sizeof out, name);
    fixture_run(&g_cfg, out, resume, live ? script : NULL, record_event, s, res);
}

static void script_free(Script *s)
{
    free(s->emb);
    free(s->emb_m);
    free(s->l0q);
    free(s->l1k);
    free(s->l1k_m);
    free(s->q1);
}

/* ---- tests ---- */

static void straight_run_surgery(void **state)
{
    (void)state;
    Script *s = calloc(1, sizeof *s);
    s->check = s->changes = 1;
    TrainResult res;
    run(s, "straight", NULL, 1, &res);
    assert_int_equal(s->checks, 6);
    assert_false(res.interrupted);
    assert_int_equal(res.steps_done, 10);
    char path[600];
    snprintf(path, sizeof path, "%s/straight/step-000004.safetensors", g_tmp);
    assert_string_equal(s->saved, path);
    char *journal = fixture_checkpoint_journal(path);
    assert_non_null(journal);
    assert_string_equal(journal,
        "[{\"step\":1,\"kind\":\"lr\",\"group\":\"classifier\",\"value\":0.001},"
        "{\"step\":2,\"kind\":\"freeze\",\"group\":\"embeddings\",\"value\":1},"
        "{\"step\":2,\"kind\":\"freeze\",\"group\":\"encoder.layer.0\",\"value\":1},"
        "{\"step\":3,\"kind\":\"layer_freeze\",\"layer\":\"" QUERY1 "\",\"value\":1}]");
    free(journal);
    snprintf(path, sizeof path, "%s/straight/epoch-002.safetensors", g_tmp);
    journal = fixture_checkpoint_journal(path);
    assert_non_null(strstr(journal, "{\"step\":6,\"kind\":\"unfreeze\",\"group\":\"embeddings\""));
    assert_non_null(strstr(journal, "{\"step\":7,\"kind\":\"lr\",\"group\":\"pooler\""));
    free(journal);
    assert_non_null(strstr(s->logs, "step 1: classifier lr 0.001 (was 2e-05)"));
    assert_non_null(strstr(s->logs, "step 4: checkpoint "));
    script_free(s);
    free(s);
}

static void resume_is_byte_identical(void **state)
{
    (void)state;
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/straight/epoch-002.safetensors", g_tmp);
    assert_true(fixture_file_exists(a));
    /* mid-epoch: stopped at step 4, its changes in the journal */
    Script *s = calloc(1, sizeof *s);
    s->changes = 1;
    s->stop_at = 4;
    TrainResult res;
    run(s, "stopped", NULL, 1, &res);
    assert_true(res.interrupted);
    snprintf(b, sizeof b, "%s/stopped/interrupted.safetensors", g_tmp);
    assert_true(fixture_file_exists(b));
    memset(s, 0, sizeof *s);
    s->changes = 1;
    run(s, "resumed", b, 1, &res);
    assert_non_null(strstr(s->logs, "re-applied 4 live changes from the checkpoint's journal "
                                    "(steps 1..3)"));
    snprintf(b, sizeof b, "%s/resumed/epoch-002.safetensors", g_tmp);
    assert_true(fixture_files_equal(a, b));
    /* from the straight run's epoch-001 (step 5) */
    char from[600];
    snprintf(from, sizeof from, "%s/straight/epoch-001.safetensors", g_tmp);
    memset(s, 0, sizeof *s);
    s->changes = 1;
    run(s, "resumed_epoch", from, 1, &res);
    snprintf(b, sizeof b, "%s/resumed_epoch/epoch-002.safetensors", g_tmp);
    assert_true(fixture_files_equal(a, b));
    /* without the journal's re-apply it would differ: a resume that drops
     * the changes (no callback) after step 5 is not the straight run */
    memset(s, 0, sizeof *s);
    run(s, "resumed_plain", from, 0, &res);
    snprintf(b, sizeof b, "%s/resumed_plain/epoch-002.safetensors", g_tmp);
    assert_false(fixture_files_equal(a, b));
    free(s);
}

static void abandon_and_idle(void **state)
{
    (void)state;
    Script *s = calloc(1, sizeof *s);
    s->stop_at = -2;
    TrainResult res;
    run(s, "abandoned", NULL, 1, &res);
    assert_true(res.interrupted);
    assert_int_equal(res.steps_done, 2);
    char path[600];
    snprintf(path, sizeof path, "%s/abandoned/interrupted.safetensors", g_tmp);
    assert_false(fixture_file_exists(path));
    /* a callback that changes nothing: the headless run's bytes, no journal */
    memset(s, 0, sizeof *s);
    run(s, "idle", NULL, 1, &res);
    memset(s, 0, sizeof *s);
    run(s, "headless", NULL, 0, &res);
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/idle/epoch-002.safetensors", g_tmp);
    snprintf(b, sizeof b, "%s/headless/epoch-002.safetensors", g_tmp);
    assert_true(fixture_files_equal(a, b));
    assert_null(fixture_checkpoint_journal(a));
    free(s);
}

/* frozen_layers in the run file: the module starts frozen (its group
 * partial) and never moves; its neighbours train. */
typedef struct {
    float *q1, *k1;
    size_t n_q1, n_k1;
    int checked;
} LayerChoice;

static TrainBoundaryAction layer_choice_script(TrainCtl *ctl, void *user)
{
    LayerChoice *lc = user;
    if (train_ctl_at_start(ctl)) {
        TrainSnapshot snap;
        ThawError err = {0};
        assert_int_equal(train_ctl_snapshot(ctl, &snap, &err), 0);
        assert_true(fixture_find_layer(&snap, QUERY1)->frozen);
        assert_true(fixture_find_group(&snap, "encoder.layer.1")->partial);
        train_snapshot_free(&snap);
        lc->q1 = fixture_copy_tensor(ctl, QUERY1 ".weight", &lc->n_q1);
        lc->k1 = fixture_copy_tensor(ctl, "encoder.layer.1.attention.self.key.weight",
                                     &lc->n_k1);
    } else if (train_ctl_step(ctl) == 4) {
        assert_true(fixture_tensor_equals(ctl, QUERY1 ".weight", lc->q1, lc->n_q1));
        assert_false(fixture_tensor_equals(ctl, "encoder.layer.1.attention.self.key.weight",
                                           lc->k1, lc->n_k1));
        lc->checked = 1;
    }
    return TRAIN_CONTINUE;
}

static void run_file_layer_choices(void **state)
{
    (void)state;
    char text[1024];
    snprintf(text, sizeof text,
             "{\"model\": {\"arch\": \"bert\", \"weights\": \"%s\", \"pretrained\": false},"
             " \"dataset\": {\"type\": \"text_csv\", \"path\": \"%s/texts.csv\","
             "  \"val_fraction\": 0.25, \"max_length\": 16},"
             " \"frozen_layers\": [\"" QUERY1 "\"],"
             " \"epochs\": 1, \"batch\": 4, \"seed\": 7, \"threads\": 1}", g_tmp, g_tmp);
    RunConfig cfg;
    ThawError err = {0};
    run_config_defaults(&cfg);
    if (run_config_parse(&cfg, "layers.json", text, &err) != 0) {
        fail_msg("%s", err.msg);
    }
    LayerChoice lc = {0};
    TrainResult res;
    char out[512];
    out_dir(out, sizeof out, "layers");
    fixture_run(&cfg, out, NULL, layer_choice_script, NULL, &lc, &res);
    assert_true(lc.checked);
    free(lc.q1);
    free(lc.k1);
    run_config_free(&cfg);
}

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(g_tmp)) {
        return -1;
    }
    write_fixtures();
    make_config(&g_cfg);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    run_config_free(&g_cfg);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(straight_run_surgery),
        cmocka_unit_test(resume_is_byte_identical),
        cmocka_unit_test(abandon_and_idle),
        cmocka_unit_test(run_file_layer_choices),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
