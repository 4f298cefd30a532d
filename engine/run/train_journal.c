/* The journal of live changes: every freeze, thaw and lr change made at a
 * step boundary, in order, stored in checkpoints as a JSON array under the
 * metadata key "journal":
 *   [{"step":37,"kind":"unfreeze","group":"layer4","value":0},
 *    {"step":40,"kind":"layer_freeze","layer":"layer4.0.bn1","value":1}, ...]
 * (value: the frozen flag, or the new base lr; layer kinds name a module). A resume re-applies the
 * entries up to the checkpoint's step in order, each where it was made, so
 * the feature cache binding (and where a resume refills it from) is the
 * uninterrupted run's. A run without live changes has no journal key, and
 * its checkpoints are those of a run without live control. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train_job_internal.h"

static const char *const KIND_NAMES[] = {"freeze", "unfreeze", "lr", "layer_freeze",
                                         "layer_unfreeze"};
#define N_KINDS 5

static int is_layer_kind(JournalKind k)
{
    return k == JOURNAL_LAYER_FREEZE || k == JOURNAL_LAYER_UNFREEZE;
}

int journal_append(Job *j, JournalKind kind, const char *group, double value)
{
    if (j->n_journal == j->cap_journal) {
        int cap = j->cap_journal ? 2 * j->cap_journal : 16;
        JournalEntry *grown = realloc(j->journal, (size_t)cap * sizeof *grown);
        if (!grown) {
            return thaw_fail(j->err, THAW_ERR_NOMEM, "out of memory for the journal");
        }
        j->journal = grown;
        j->cap_journal = cap;
    }
    JournalEntry *e = &j->journal[j->n_journal++];
    memset(e, 0, sizeof *e);
    e->step = j->global_step;
    e->kind = kind;
    snprintf(e->group, sizeof e->group, "%s", group);
    e->value = value;
    return 0;
}

void journal_free(Job *j)
{
    free(j->journal);
    j->journal = NULL;
    j->n_journal = j->cap_journal = 0;
}

char *journal_to_json(const Job *j)
{
    if (j->n_journal == 0) {
        return NULL;
    }
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < j->n_journal; i++) {
        const JournalEntry *e = &j->journal[i];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o) ||
            !cJSON_AddNumberToObject(o, "step", (double)e->step) ||
            !cJSON_AddStringToObject(o, "kind", KIND_NAMES[e->kind]) ||
            !cJSON_AddStringToObject(o, is_layer_kind(e->kind) ? "layer" : "group",
                                     e->group) ||
            !cJSON_AddNumberToObject(o, "value", e->value)) {
            cJSON_Delete(arr);
            return NULL;
        }
    }
    char *text = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    return text;
}

static int bad_entry(Job *j, const char *path, int i, const char *what)
{
    return thaw_fail(j->err, THAW_ERR_FORMAT, "%s: metadata 'journal' entry %d: %s", path, i,
                     what);
}

int journal_from_json(Job *j, const char *path, const char *json, int64_t max_step)
{
    journal_free(j);
    cJSON *arr = cJSON_Parse(json);
    if (!cJSON_IsArray(arr)) {
        cJSON_Delete(arr);
        return thaw_fail(j->err, THAW_ERR_FORMAT, "%s: metadata 'journal' is not a JSON array",
                         path);
    }
    int rc = 0, i = 0;
    int64_t last = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, arr) {
        const cJSON *step = cJSON_GetObjectItemCaseSensitive(o, "step");
        const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
        const cJSON *value = cJSON_GetObjectItemCaseSensitive(o, "value");
        int k = -1;
        for (int n = 0; cJSON_IsString(kind) && n < N_KINDS; n++) {
            k = strcmp(kind->valuestring, KIND_NAMES[n]) == 0 ? n : k;
        }
        int layer = k >= 0 && is_layer_kind((JournalKind)k);
        const cJSON *group = cJSON_GetObjectItemCaseSensitive(o, layer ? "layer" : "group");
        size_t name_max = layer ? PARAM_NAME_MAX : GROUP_NAME_MAX;
        if (!cJSON_IsNumber(step) || step->valuedouble < last ||
            step->valuedouble != floor(step->valuedouble)) {
            rc = bad_entry(j, path, i, "'step' missing, fractional or out of order");
        } else if (k < 0) {
            rc = bad_entry(j, path, i, "'kind' is not freeze, unfreeze, lr, layer_freeze or "
                           "layer_unfreeze");
        } else if (!cJSON_IsString(group) || strlen(group->valuestring) >= name_max) {
            rc = bad_entry(j, path, i, layer ? "'layer' missing or too long"
                                             : "'group' missing or too long");
        } else if (!cJSON_IsNumber(value)) {
            rc = bad_entry(j, path, i, "'value' missing");
        }
        if (rc != 0) {
            break;
        }
        last = (int64_t)step->valuedouble;
        if (last <= max_step) {
            int64_t saved = j->global_step;
            j->global_step = last;
            rc = journal_append(j, (JournalKind)k, group->valuestring, value->valuedouble);
            j->global_step = saved;
            if (rc != 0) {
                break;
            }
        }
        i++;
    }
    cJSON_Delete(arr);
    return rc;
}

int journal_reapply(Job *j)
{
    ParamTable *t = &j->model.params;
    /* the cache as the run bound it at its start, then each change where
     * it was made */
    int rc = job_plan(j, 1);
    if (rc != 0) {
        return rc;
    }
    train_cache_bind(j, 0, 1);
    for (int i = 0; i < j->n_journal && rc == 0; i++) {
        const JournalEntry *e = &j->journal[i];
        if (is_layer_kind(e->kind)) {
            if (params_module_frozen(t, e->group) < 0) {
                return thaw_fail(j->err, THAW_ERR_MISMATCH,
                                 "metadata 'journal' entry %d names no layer of %s: '%s'", i,
                                 j->cfg->arch, e->group);
            }
            rc = job_set_layer_frozen(j, e->group, e->kind == JOURNAL_LAYER_FREEZE, e->step, 1,
                                      j->err);
            continue;
        }
        int g = params_find_group(t, e->group);
        if (g < 0) {
            return thaw_fail(j->err, THAW_ERR_MISMATCH,
                             "metadata 'journal' entry %d names no group of %s: '%s'", i,
                             j->cfg->arch, e->group);
        }
        if (e->kind == JOURNAL_LR) {
            if (!isfinite(e->value) || e->value <= 0) {
                return thaw_fail(j->err, THAW_ERR_FORMAT,
                                 "metadata 'journal' entry %d: lr %g is not > 0", i, e->value);
            }
            j->base_lr[g] = e->value;
        } else {
            rc = job_set_frozen(j, g, e->kind == JOURNAL_FREEZE, e->step, 1, j->err);
        }
    }
    if (rc == 0 && j->n_journal > 0) {
        logf_event(j, "re-applied %d live change%s from the checkpoint's journal (steps %" PRId64
                   "..%" PRId64 ")", j->n_journal, j->n_journal == 1 ? "" : "s",
                   j->journal[0].step, j->journal[j->n_journal - 1].step);
    }
    /* the first epoch's bind says how the cache stands now */
    j->cache_note[0] = '\0';
    return rc;
}
