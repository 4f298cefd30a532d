/* The journal of live changes as data and JSON (journal.h). */
#include "journal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const KIND_NAMES[] = {"freeze", "unfreeze", "lr", "layer_freeze",
                                         "layer_unfreeze"};
#define N_KINDS 5

int journal_is_layer_kind(JournalKind kind)
{
    return kind == JOURNAL_LAYER_FREEZE || kind == JOURNAL_LAYER_UNFREEZE;
}

int journal_append(Journal *jr, int64_t step, JournalKind kind, const char *name,
                   double value, ThawError *err)
{
    if (jr->count == jr->cap) {
        int cap = jr->cap ? 2 * jr->cap : 16;
        JournalEntry *grown = realloc(jr->entries, (size_t)cap * sizeof *grown);
        if (!grown) {
            return thaw_fail(err, THAW_ERR_NOMEM, "out of memory for the journal");
        }
        jr->entries = grown;
        jr->cap = cap;
    }
    JournalEntry *e = &jr->entries[jr->count++];
    memset(e, 0, sizeof *e);
    e->step = step;
    e->kind = kind;
    snprintf(e->name, sizeof e->name, "%s", name);
    e->value = value;
    return 0;
}

void journal_free(Journal *jr)
{
    free(jr->entries);
    jr->entries = NULL;
    jr->count = jr->cap = 0;
}

char *journal_to_json(const Journal *jr)
{
    if (jr->count == 0) {
        return NULL;
    }
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < jr->count; i++) {
        const JournalEntry *e = &jr->entries[i];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o) ||
            !cJSON_AddNumberToObject(o, "step", (double)e->step) ||
            !cJSON_AddStringToObject(o, "kind", KIND_NAMES[e->kind]) ||
            !cJSON_AddStringToObject(o, journal_is_layer_kind(e->kind) ? "layer" : "group",
                                     e->name) ||
            !cJSON_AddNumberToObject(o, "value", e->value)) {
            cJSON_Delete(arr);
            return NULL;
        }
    }
    char *text = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    return text;
}

static int bad_entry(ThawError *err, const char *path, int i, const char *what)
{
    return thaw_fail(err, THAW_ERR_FORMAT, "%s: metadata 'journal' entry %d: %s", path, i,
                     what);
}

int journal_from_json(Journal *jr, const char *path, const char *json, int64_t max_step,
                      ThawError *err)
{
    journal_free(jr);
    cJSON *arr = cJSON_Parse(json);
    if (!cJSON_IsArray(arr)) {
        cJSON_Delete(arr);
        return thaw_fail(err, THAW_ERR_FORMAT, "%s: metadata 'journal' is not a JSON array",
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
        int layer = k >= 0 && journal_is_layer_kind((JournalKind)k);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, layer ? "layer" : "group");
        size_t name_max = layer ? PARAM_NAME_MAX : GROUP_NAME_MAX;
        if (!cJSON_IsNumber(step) || step->valuedouble < last ||
            step->valuedouble != floor(step->valuedouble)) {
            rc = bad_entry(err, path, i, "'step' missing, fractional or out of order");
        } else if (k < 0) {
            rc = bad_entry(err, path, i, "'kind' is not freeze, unfreeze, lr, layer_freeze or "
                           "layer_unfreeze");
        } else if (!cJSON_IsString(name) || strlen(name->valuestring) >= name_max) {
            rc = bad_entry(err, path, i, layer ? "'layer' missing or too long"
                                               : "'group' missing or too long");
        } else if (!cJSON_IsNumber(value)) {
            rc = bad_entry(err, path, i, "'value' missing");
        }
        if (rc != 0) {
            break;
        }
        last = (int64_t)step->valuedouble;
        if (last <= max_step) {
            rc = journal_append(jr, last, (JournalKind)k, name->valuestring, value->valuedouble,
                                err);
            if (rc != 0) {
                break;
            }
        }
        i++;
    }
    cJSON_Delete(arr);
    return rc;
}
