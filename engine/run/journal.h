/* The journal of live changes: every freeze, thaw and lr change made at a
 * step boundary (train_control.h), in order, for either training job.
 * Checkpoints store it as a JSON array under the metadata key "journal":
 *   [{"step":37,"kind":"unfreeze","group":"layer4","value":0},
 *    {"step":40,"kind":"layer_freeze","layer":"layer4.0.bn1","value":1}, ...]
 * (value: the frozen flag, or the new base lr; layer kinds name a module).
 * A resume re-applies the entries up to the checkpoint's step, in order;
 * how is the job's business (train_journal.c, text_control.c). A run
 * without live changes has no journal key. */
#ifndef THAW_RUN_JOURNAL_H
#define THAW_RUN_JOURNAL_H

#include <stdint.h>

#include "engine/core/error.h"
#include "engine/core/params.h"

typedef enum {
    JOURNAL_FREEZE, JOURNAL_UNFREEZE, JOURNAL_LR,      /* a group */
    JOURNAL_LAYER_FREEZE, JOURNAL_LAYER_UNFREEZE,      /* one layer (module) */
} JournalKind;

typedef struct {
    int64_t step;              /* global steps done when it was made */
    JournalKind kind;
    char name[PARAM_NAME_MAX]; /* the group, or the layer's module name */
    double value;              /* frozen flag, or the new base lr */
} JournalEntry;

typedef struct {
    JournalEntry *entries;     /* owned: journal_free */
    int count, cap;
} Journal;

/* 1 for the kinds that name a layer (module) rather than a group. */
int journal_is_layer_kind(JournalKind kind);

int journal_append(Journal *jr, int64_t step, JournalKind kind, const char *name,
                   double value, ThawError *err);
void journal_free(Journal *jr);

/* JSON array text (malloc'd), NULL when the journal is empty or no memory. */
char *journal_to_json(const Journal *jr);
/* Replaces jr with the JSON of a checkpoint (path for messages), keeping
 * the entries made up to max_step. */
int journal_from_json(Journal *jr, const char *path, const char *json, int64_t max_step,
                      ThawError *err);

#endif
