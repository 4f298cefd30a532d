/* The image job's side of the journal of live changes (journal.h): a
 * resume re-applies the entries up to the checkpoint's step in order, each
 * where it was made, so the feature cache binding (and where a resume
 * refills it from) is the uninterrupted run's. */
#include <inttypes.h>
#include <math.h>

#include "train_job_internal.h"

int train_journal_reapply(Job *j)
{
    ParamTable *t = &j->model.params;
    /* the cache as the run bound it at its start, then each change where
     * it was made */
    int rc = job_plan(j, 1);
    if (rc != 0) {
        return rc;
    }
    train_cache_bind(j, 0, 1);
    for (int i = 0; i < j->journal.count && rc == 0; i++) {
        const JournalEntry *e = &j->journal.entries[i];
        if (journal_is_layer_kind(e->kind)) {
            if (params_module_frozen(t, e->name) < 0) {
                return thaw_fail(j->err, THAW_ERR_MISMATCH,
                                 "metadata 'journal' entry %d names no layer of %s: '%s'", i,
                                 j->cfg->arch, e->name);
            }
            rc = job_set_layer_frozen(j, e->name, e->kind == JOURNAL_LAYER_FREEZE, e->step, 1,
                                      j->err);
            continue;
        }
        int g = params_find_group(t, e->name);
        if (g < 0) {
            return thaw_fail(j->err, THAW_ERR_MISMATCH,
                             "metadata 'journal' entry %d names no group of %s: '%s'", i,
                             j->cfg->arch, e->name);
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
    if (rc == 0 && j->journal.count > 0) {
        logf_event(j, "re-applied %d live change%s from the checkpoint's journal (steps %" PRId64
                   "..%" PRId64 ")", j->journal.count, j->journal.count == 1 ? "" : "s",
                   j->journal.entries[0].step, j->journal.entries[j->journal.count - 1].step);
    }
    /* the first epoch's bind says how the cache stands now */
    j->cache_note[0] = '\0';
    return rc;
}
