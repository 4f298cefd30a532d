/* One CSV row per finished epoch in the run's folder (metrics_log.h). */
#include "metrics_log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void metrics_path(char *buf, size_t cap, const char *out_dir, const char *suffix)
{
    snprintf(buf, cap, "%s/%s%s", out_dir, METRICS_LOG_NAME, suffix);
}

/* The epoch a row starts with, or 0 for anything else (the header, a
 * damaged line). */
static long row_epoch(const char *line)
{
    char *end;
    long epoch = strtol(line, &end, 10);
    return end != line && *end == ',' && epoch > 0 ? epoch : 0;
}

/* Copies the rows of epochs 1..epochs_done from the file at path (when
 * there is one) to out. */
static void keep_rows(const char *path, int epochs_done, FILE *out)
{
    FILE *in = epochs_done > 0 ? fopen(path, "r") : NULL;
    if (!in) {
        return;
    }
    char line[512];
    while (fgets(line, sizeof line, in)) {
        long epoch = row_epoch(line);
        size_t n = strlen(line);
        if (epoch >= 1 && epoch <= epochs_done && n > 0 && line[n - 1] == '\n') {
            fputs(line, out);
        }
    }
    fclose(in);
}

int metrics_log_start(const char *out_dir, int epochs_done, ThawError *err)
{
    char path[1100], tmp[1100];
    metrics_path(path, sizeof path, out_dir, "");
    metrics_path(tmp, sizeof tmp, out_dir, ".tmp");
    FILE *out = fopen(tmp, "w");
    if (!out) {
        return thaw_fail(err, THAW_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
    }
    fputs(METRICS_LOG_HEADER "\n", out);
    keep_rows(path, epochs_done, out);
    int failed = ferror(out);
    failed |= fclose(out) != 0;
    if (failed || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return thaw_fail(err, THAW_ERR_IO, "%s: cannot write: %s", path, strerror(e));
    }
    return 0;
}

int metrics_log_epoch(const char *out_dir, const TrainEvent *ev, ThawError *err)
{
    char path[1100];
    metrics_path(path, sizeof path, out_dir, "");
    char when[32];
    time_t now = time(NULL);
    struct tm utc;
    gmtime_r(&now, &utc);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &utc);
    char val_loss[32] = "", val_acc[32] = "";
    if (ev->has_val) {
        snprintf(val_loss, sizeof val_loss, "%.6g", ev->val_loss);
        snprintf(val_acc, sizeof val_acc, "%.6g", ev->val_acc);
    }
    FILE *f = fopen(path, "a");
    if (!f) {
        return thaw_fail(err, THAW_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    }
    fprintf(f, "%d,%" PRId64 ",%.6g,%.6g,%s,%s,%.1f,%s\n", ev->epoch, ev->step,
            ev->train_loss, ev->train_acc, val_loss, val_acc, ev->samples_per_s, when);
    int failed = ferror(f);
    failed |= fclose(f) != 0;
    if (failed) {
        return thaw_fail(err, THAW_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    }
    return 0;
}
