/* metrics.csv in a run's output folder: one row per finished epoch, like
 * Keras's CSVLogger or Lightning's metrics.csv, so a run can be read (or
 * plotted) after the workbench is closed or the SSH link dropped. */
#ifndef THAW_RUN_METRICS_LOG_H
#define THAW_RUN_METRICS_LOG_H

#include "engine/core/error.h"
#include "engine/run/train_job.h"

#define METRICS_LOG_NAME "metrics.csv"
#define METRICS_LOG_HEADER \
    "epoch,step,train_loss,train_acc,val_loss,val_acc,samples_per_s,time"

/* Starts out_dir/metrics.csv for a run that has finished epochs_done epochs
 * (0: a fresh run): the header, then the rows of an earlier file for epochs
 * 1..epochs_done (a resumed run trains the later ones again, so their rows
 * go). Written to a temporary file and renamed. 0, or THAW_ERR_IO with err
 * naming the file. */
int metrics_log_start(const char *out_dir, int epochs_done, ThawError *err);

/* Appends the row of a TRAIN_EV_EPOCH event: val_loss and val_acc empty
 * without a validation split, time in UTC (2026-11-27T12:00:00Z). */
int metrics_log_epoch(const char *out_dir, const TrainEvent *ev, ThawError *err);

#endif
