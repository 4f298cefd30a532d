/* Training checkpoints: one safetensors file with the weights (PyTorch
 * names), the optimizer state (opt.exp_avg.<name>, opt.exp_avg_sq.<name>,
 * opt.step.<name>) and, in __metadata__, the run file and the progress that
 * --resume needs to continue byte-identically. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/io/safetensors.h"
#include "engine/run/checkpoint_meta.h"
#include "train_job_internal.h"

int train_save_checkpoint(Job *j, const char *path)
{
    if (job_gpu_sync_host(j) != 0) {   /* a GPU run's weights live on the device */
        return j->core.err->code;
    }
    const JobCore *c = &j->core;
    CheckpointTensors ct;
    int rc = checkpoint_tensors_collect(&ct, &j->model.params, &c->optim, path, c->err);
    if (rc != 0) {
        return rc;
    }
    CheckpointProgress progress;
    checkpoint_progress_meta(&progress, c, j->model.graph.dropout_rng);
    StMeta meta[2 + CHECKPOINT_PROGRESS_KEYS] = {
        {"format", CKPT_FORMAT}, {"run", c->cfg->json ? c->cfg->json : "{}"},
    };
    memcpy(meta + 2, progress.meta, sizeof progress.meta);
    rc = checkpoint_write(c, path, &ct, meta, 2 + CHECKPOINT_PROGRESS_KEYS);
    checkpoint_tensors_free(&ct);
    return rc;
}

int train_load_checkpoint(Job *j, const char *path)
{
    JobCore *c = &j->core;
    SafeTensors *st = NULL;
    int rc = st_open(&st, path, c->err);
    if (rc != 0) {
        return rc;
    }
    const char *fmt = st_metadata(st, "format");
    if (!fmt || strcmp(fmt, CKPT_FORMAT) != 0) {
        st_close(st);
        return thaw_fail(c->err, THAW_ERR_FORMAT, "%s: not a thaw checkpoint (metadata 'format')",
                         path);
    }
    const char *optname = st_metadata(st, "optimizer");
    if (!optname || strcmp(optname, optimizer_name(c->optim.kind)) != 0) {
        st_close(st);
        return thaw_fail(c->err, THAW_ERR_MISMATCH,
                         "%s: metadata 'optimizer' is %s, the run file says %s", path,
                         optname ? optname : "missing", optimizer_name(c->optim.kind));
    }
    uint64_t rng = 0;
    rc = checkpoint_tensors_load(st, path, &j->model.params, &c->optim, c->err);
    rc = rc ? rc : checkpoint_progress_read(c, st, path, &rng);
    st_close(st);
    if (rc == 0) {
        j->model.graph.dropout_rng = rng;
    }
    return rc;
}
