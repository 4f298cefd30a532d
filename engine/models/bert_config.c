/* config.json -> BertConfig with cJSON. Required keys are the ones whose
 * absence would silently change the network; dropout and eps fall back to
 * BertConfig's defaults (0.1, 0.1, 1e-12), as transformers does. */
#include "engine/models/bert_config.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int get_int(const cJSON *root, const char *key, int *out,
                   const char *name, ThawError *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v) {
        return thaw_fail(err, THAW_ERR_FORMAT, "%s: missing key '%s'", name, key);
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
        v->valuedouble < 1 || v->valuedouble > 1e9) {
        return thaw_fail(err, THAW_ERR_FORMAT,
                         "%s: key '%s' must be a positive integer", name, key);
    }
    *out = (int)v->valuedouble;
    return THAW_OK;
}

static int get_float(const cJSON *root, const char *key, float fallback,
                     float *out, const char *name, ThawError *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v) {
        *out = fallback;
        return THAW_OK;
    }
    if (!cJSON_IsNumber(v)) {
        return thaw_fail(err, THAW_ERR_FORMAT, "%s: key '%s' must be a number",
                         name, key);
    }
    *out = (float)v->valuedouble;
    return THAW_OK;
}

/* A string key that, when present, must have the one value we implement. */
static int expect_string(const cJSON *root, const char *key, const char *want,
                         const char *name, ThawError *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v) {
        return THAW_OK;
    }
    if (!cJSON_IsString(v) || strcmp(v->valuestring, want) != 0) {
        return thaw_fail(err, THAW_ERR_FORMAT,
                         "%s: key '%s' must be \"%s\" (the only one supported)",
                         name, key, want);
    }
    return THAW_OK;
}

int bert_config_check(const BertConfig *c, const char *name, ThawError *err)
{
    if (c->vocab_size < 1 || c->hidden_size < 1 || c->num_layers < 1 ||
        c->num_heads < 1 || c->intermediate_size < 1 || c->max_position < 1 ||
        c->type_vocab_size < 1) {
        return thaw_fail(err, THAW_ERR_ARG, "%s: every size must be positive",
                         name);
    }
    if (c->hidden_size % c->num_heads != 0) {
        return thaw_fail(err, THAW_ERR_ARG,
                         "%s: hidden_size %d is not a multiple of "
                         "num_attention_heads %d", name, c->hidden_size,
                         c->num_heads);
    }
    if (!(c->hidden_dropout >= 0.0f && c->hidden_dropout < 1.0f) ||
        !(c->attention_dropout >= 0.0f && c->attention_dropout < 1.0f) ||
        !(c->layer_norm_eps > 0.0f)) {
        return thaw_fail(err, THAW_ERR_ARG,
                         "%s: dropout must lie in [0, 1) and layer_norm_eps "
                         "be positive", name);
    }
    return THAW_OK;
}

int bert_config_parse(BertConfig *cfg, const char *json, const char *name,
                      ThawError *err)
{
    cJSON *root = cJSON_Parse(json);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return thaw_fail(err, THAW_ERR_FORMAT, "%s: not a JSON object", name);
    }
    BertConfig c;
    memset(&c, 0, sizeof c);
    int rc = get_int(root, "vocab_size", &c.vocab_size, name, err);
    if (!rc) rc = get_int(root, "hidden_size", &c.hidden_size, name, err);
    if (!rc) rc = get_int(root, "num_hidden_layers", &c.num_layers, name, err);
    if (!rc) rc = get_int(root, "num_attention_heads", &c.num_heads, name, err);
    if (!rc) rc = get_int(root, "intermediate_size", &c.intermediate_size, name, err);
    if (!rc) rc = get_int(root, "max_position_embeddings", &c.max_position, name, err);
    if (!rc) rc = get_int(root, "type_vocab_size", &c.type_vocab_size, name, err);
    if (!rc) rc = get_float(root, "layer_norm_eps", 1e-12f, &c.layer_norm_eps, name, err);
    if (!rc) rc = get_float(root, "hidden_dropout_prob", 0.1f, &c.hidden_dropout, name, err);
    if (!rc) rc = get_float(root, "attention_probs_dropout_prob", 0.1f,
                            &c.attention_dropout, name, err);
    if (!rc) rc = expect_string(root, "hidden_act", "gelu", name, err);
    if (!rc) rc = expect_string(root, "position_embedding_type", "absolute", name, err);
    cJSON_Delete(root);
    if (!rc) rc = bert_config_check(&c, name, err);
    if (!rc) {
        *cfg = c;
    }
    return rc;
}

int bert_config_load(BertConfig *cfg, const char *path, ThawError *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return thaw_fail(err, THAW_ERR_IO, "%s: cannot open", path);
    }
    char *buf = NULL;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0) {
        len = ftell(f);
    }
    if (len < 0 || len > (1 << 20) || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return thaw_fail(err, THAW_ERR_FORMAT, "%s: unreadable or over 1 MiB", path);
    }
    buf = malloc((size_t)len + 1);
    if (!buf) {
        fclose(f);
        return thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t got = fread(buf, 1, (size_t)len, f);
    fclose(f);
    if (got != (size_t)len) {
        free(buf);
        return thaw_fail(err, THAW_ERR_IO, "%s: short read", path);
    }
    buf[len] = '\0';
    int rc = bert_config_parse(cfg, buf, path, err);
    free(buf);
    return rc;
}
