/* The image job's side of the journal of live changes (journal.h): a
 * resume re-applies the entries up to the checkpoint's step in order, each
 * where it was made, so the feature cache binding (and where a resume
 * refills it from) is the uninterrupted run's. */
#include <inttypes.h>

#include "train_job_internal.h"

/* Each change through the live surgery, so the cache rebinds where it
 * was made. */
static int reapply_layer_frozen(void *job, const char *layer, int frozen, int64_t step)
{
    Job *j = job;
    return job_set_layer_frozen(j, layer, frozen, step, 1, j->core.err);
}

static int reapply_group_frozen(void *job, int g, int frozen, int64_t step)
{
    Job *j = job;
    return job_set_frozen(j, g, frozen, step, 1, j->core.err);
}

int train_journal_reapply(Job *j)
{
    static const JournalApplyOps ops = {.set_layer_frozen = reapply_layer_frozen,
                                        .set_group_frozen = reapply_group_frozen};
    /* the cache as the run bound it at its start, then each change where
     * it was made */
    int rc = job_plan(j, 1);
    if (rc != 0) {
        return rc;
    }
    train_cache_bind(j, 0, 1);
    rc = job_core_journal_reapply(&j->core, &j->model.params, &ops, j);
    /* the first epoch's bind says how the cache stands now */
    j->cache_note[0] = '\0';
    return rc;
}
