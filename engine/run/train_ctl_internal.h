/* The struct behind TrainCtl (train_control.h): one step boundary of
 * either training job (the image Job or the TextJob) and the table of what
 * that job does for each train_ctl_* call; plus helpers both jobs share.
 * Private to engine/run. */
#ifndef THAW_RUN_TRAIN_CTL_INTERNAL_H
#define THAW_RUN_TRAIN_CTL_INTERNAL_H

#include "train_control.h"

#include "engine/core/params.h"
#include "engine/optim/optimizer.h"

typedef struct {
    int (*snapshot)(TrainCtl *ctl, TrainSnapshot *snap, ThawError *err);
    int (*set_frozen)(TrainCtl *ctl, const char *group, int frozen, ThawError *err);
    int (*set_layer_frozen)(TrainCtl *ctl, const char *layer, int frozen, ThawError *err);
    int (*set_lr)(TrainCtl *ctl, const char *group, double lr, ThawError *err);
    int (*save)(TrainCtl *ctl, char *path_out, size_t cap, ThawError *err);
    int64_t (*step)(const TrainCtl *ctl);
    int (*tensor)(TrainCtl *ctl, const char *name, const float **data, size_t *numel,
                  ThawError *err);
} TrainCtlOps;

struct TrainCtl {
    const TrainCtlOps *ops;
    void *job;                 /* Job (image) or TextJob, as ops expects */
    int at_start;              /* the call before this run's first step */
};

extern const TrainCtlOps train_image_ctl_ops;   /* train_control.c */
extern const TrainCtlOps train_text_ctl_ops;    /* text_control.c */

/* Index of group in t, or -1 with an error listing t's groups (arch for
 * the message). */
int ctl_find_group(const ParamTable *t, const char *arch, const char *group, ThawError *err);
/* A parameter or buffer of t by name, or its optimizer state
 * ("opt.exp_avg.<name>", "opt.exp_avg_sq.<name>"). */
int ctl_param_tensor(const ParamTable *t, const Optimizer *o, const char *name,
                     const float **data, size_t *numel, ThawError *err);

#endif
