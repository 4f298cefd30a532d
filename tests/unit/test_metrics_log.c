/* metrics.csv (engine/run/metrics_log.h): the header and one row per epoch
 * (empty validation columns without a validation split), a resumed run's
 * start keeps the rows of the epochs it had finished in order and drops
 * later ones and damaged lines, a folder that cannot be written is an IO
 * error naming the file, and through the job core such a folder gives one
 * warning line for the whole run, not one per epoch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/run/job_core.h"
#include "engine/run/metrics_log.h"

static char g_dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/thaw_metrics_test.%ld", (long)getpid());
    return mkdir(g_dir, 0777) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char path[400];
    snprintf(path, sizeof path, "%s/" METRICS_LOG_NAME, g_dir);
    remove(path);
    return rmdir(g_dir);
}

/* The file's text (at most cap-1 bytes). */
static void read_metrics(char *buf, size_t cap)
{
    char path[400];
    snprintf(path, sizeof path, "%s/" METRICS_LOG_NAME, g_dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static TrainEvent epoch_event(int epoch, int has_val)
{
    return (TrainEvent){.kind = TRAIN_EV_EPOCH, .epoch = epoch, .step = 5 * epoch,
                        .train_loss = 1.25 / epoch, .train_acc = 0.5, .val_loss = 0.75,
                        .val_acc = 0.625, .has_val = has_val, .samples_per_s = 123.44};
}

static void rows_per_epoch(void **state)
{
    (void)state;
    ThawError err = {0};
    assert_int_equal(metrics_log_start(g_dir, 0, &err), 0);
    char text[2048];
    read_metrics(text, sizeof text);
    assert_string_equal(text, METRICS_LOG_HEADER "\n");
    TrainEvent e1 = epoch_event(1, 1), e2 = epoch_event(2, 0);
    assert_int_equal(metrics_log_epoch(g_dir, &e1, &err), 0);
    assert_int_equal(metrics_log_epoch(g_dir, &e2, &err), 0);
    read_metrics(text, sizeof text);
    char *row1 = strchr(text, '\n') + 1;
    char *row2 = strchr(row1, '\n') + 1;
    assert_int_equal(strncmp(row1, "1,5,1.25,0.5,0.75,0.625,123.4,20", 32), 0);
    assert_int_equal(strncmp(row2, "2,10,0.625,0.5,,,123.4,20", 25), 0);
    /* the time: 2026-11-27T12:00:00Z, the row's last field */
    char *t = strrchr(row1, ',') + 1;
    assert_int_equal(strlen(t), strlen("2026-11-27T12:00:00Z\n"));
    assert_int_equal(t[10], 'T');
    assert_int_equal(t[19], 'Z');
}

static void resume_keeps_finished_epochs(void **state)
{
    (void)state;
    char path[400];
    snprintf(path, sizeof path, "%s/" METRICS_LOG_NAME, g_dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("epoch,old,header\n1,5,a\n2,10,b\nnot a row\n3,15,c\n2,10,dup?\n4,20,d", f);
    fclose(f);
    ThawError err = {0};
    assert_int_equal(metrics_log_start(g_dir, 2, &err), 0);
    char text[2048];
    read_metrics(text, sizeof text);
    assert_string_equal(text, METRICS_LOG_HEADER "\n1,5,a\n2,10,b\n2,10,dup?\n");
    char tmp[420];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_equal(access(tmp, F_OK), -1);   /* renamed, nothing left over */
    /* a fresh run in the same folder starts over */
    assert_int_equal(metrics_log_start(g_dir, 0, &err), 0);
    read_metrics(text, sizeof text);
    assert_string_equal(text, METRICS_LOG_HEADER "\n");
}

static void unwritable_folder(void **state)
{
    (void)state;
    ThawError err = {0};
    TrainEvent e1 = epoch_event(1, 1);
    assert_int_equal(metrics_log_start("/nonexistent/thaw-run", 0, &err), THAW_ERR_IO);
    assert_non_null(strstr(err.msg, "/nonexistent/thaw-run/metrics.csv.tmp: cannot write"));
    assert_int_equal(metrics_log_epoch("/nonexistent/thaw-run", &e1, &err), THAW_ERR_IO);
    assert_non_null(strstr(err.msg, "/nonexistent/thaw-run/metrics.csv: cannot write"));
}

static int g_warnings;

static void count_warnings(const TrainEvent *ev, void *user)
{
    (void)user;
    if (ev->kind == TRAIN_EV_LOG && strncmp(ev->msg, "warning: ", 9) == 0 &&
        strstr(ev->msg, "metrics.csv")) {
        g_warnings++;
    }
}

static void job_core_warns_once(void **state)
{
    (void)state;
    RunConfig cfg;
    memset(&cfg, 0, sizeof cfg);
    TrainOptions opt = {.out_dir = "/nonexistent/thaw-run", .on_event = count_warnings};
    ThawError err = {0};
    JobCore c;
    job_core_init(&c, &cfg, &opt, &err);
    g_warnings = 0;
    for (int epoch = 1; epoch <= 3; epoch++) {
        TrainEvent ev = epoch_event(epoch, 1);
        job_core_metrics_epoch(&c, &ev);
    }
    assert_int_equal(g_warnings, 1);
    assert_int_equal(err.code, 0);   /* the run's own error is untouched */
    /* a writable folder: the first epoch of this run (a resume after
     * epoch 1) starts the file, the next appends */
    opt.out_dir = g_dir;
    job_core_init(&c, &cfg, &opt, &err);
    TrainEvent e2 = epoch_event(2, 1), e3 = epoch_event(3, 1);
    job_core_metrics_epoch(&c, &e2);
    job_core_metrics_epoch(&c, &e3);
    char text[2048];
    read_metrics(text, sizeof text);
    assert_int_equal(strncmp(text, METRICS_LOG_HEADER "\n2,10,", strlen(METRICS_LOG_HEADER) + 6), 0);
    assert_non_null(strstr(text, "\n3,15,"));
    assert_int_equal(g_warnings, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rows_per_epoch),
        cmocka_unit_test(resume_keeps_finished_epochs),
        cmocka_unit_test(unwritable_folder),
        cmocka_unit_test(job_core_warns_once),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
