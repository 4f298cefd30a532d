#include "train_fixture.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/io/safetensors.h"

int fixture_have_fmnist(void)
{
    return access(FIXTURE_FMNIST, R_OK) == 0;
}

int fixture_make_tmp(char *tmp, size_t cap, const char *prefix)
{
    tmp[0] = '\0';
    if (!fixture_have_fmnist()) {
        return 0;
    }
    snprintf(tmp, cap, "/tmp/%s.XXXXXX", prefix);
    return mkdtemp(tmp) ? 0 : -1;
}

int fixture_remove_tmp(const char *tmp)
{
    if (tmp[0]) {
        rmdir(tmp);
    }
    return 0;
}

int fixture_tiny_resnet_config(RunConfig *cfg, const char *file_name, const char *settings,
                               ThawError *err)
{
    char text[2048];
    snprintf(text, sizeof text,
             "{\"model\": {\"arch\": \"resnet18\"},"
             " \"dataset\": {\"type\": \"fashion_mnist\", \"subset_per_class\": 4,"
             "  \"val_fraction\": 0.2, \"image_size\": 32, \"augment\": false},"
             " \"optimizer\": {\"name\": \"adamw\", \"lr\": 0.001}, %s}",
             settings);
    run_config_defaults(cfg);
    return run_config_parse(cfg, file_name, text, err);
}

void fixture_write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

int fixture_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int fixture_files_equal(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        same = ca == cb;
        if (ca == EOF || cb == EOF) {
            break;
        }
    }
    if (fa) {
        fclose(fa);
    }
    if (fb) {
        fclose(fb);
    }
    return same;
}

void fixture_remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char path[1024];
        struct stat st;
        while ((e = readdir(d)) != NULL) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                unlink(path);
            }
        }
        closedir(d);
    }
    rmdir(dir);
}

void fixture_run(const RunConfig *cfg, const char *out_dir, const char *resume,
                 TrainBoundaryFn on_boundary, TrainEventFn on_event, void *user,
                 TrainResult *res)
{
    TrainOptions opt = {.out_dir = out_dir, .resume = resume, .on_event = on_event,
                        .user = user, .on_boundary = on_boundary};
    ThawError err = {0};
    if (train_run(cfg, &opt, res, &err) != 0) {
        fail_msg("%s: %s", out_dir, err.msg);
    }
}

void fixture_save_if_at(TrainCtl *ctl, int64_t save_at)
{
    if (train_ctl_step(ctl) == save_at) {
        char path[1100];
        ThawError err = {0};
        assert_int_equal(train_ctl_save(ctl, path, sizeof path, &err), 0);
    }
}

void fixture_append_log(char *logs, size_t cap, const char *msg)
{
    if (strlen(logs) + strlen(msg) + 2 < cap) {
        strcat(logs, msg);
        strcat(logs, "\n");
    }
}

float *fixture_copy_tensor(TrainCtl *ctl, const char *name, size_t *n)
{
    const float *data;
    ThawError err = {0};
    assert_int_equal(train_ctl_tensor(ctl, name, &data, n, &err), 0);
    float *out = malloc(*n * sizeof *out);
    assert_non_null(out);
    memcpy(out, data, *n * sizeof *out);
    return out;
}

int fixture_tensor_equals(TrainCtl *ctl, const char *name, const float *ref, size_t n)
{
    const float *data;
    size_t m;
    ThawError err = {0};
    assert_int_equal(train_ctl_tensor(ctl, name, &data, &m, &err), 0);
    assert_int_equal(m, n);
    return memcmp(data, ref, n * sizeof *ref) == 0;
}

const TrainSnapGroup *fixture_find_group(const TrainSnapshot *s, const char *name)
{
    for (int g = 0; g < s->n_groups; g++) {
        if (strcmp(s->groups[g].name, name) == 0) {
            return &s->groups[g];
        }
    }
    fail_msg("no group %s in the snapshot", name);
    return NULL;
}

const TrainSnapLayer *fixture_find_layer(const TrainSnapshot *s, const char *name)
{
    for (int i = 0; i < s->n_layers; i++) {
        if (strcmp(s->layers[i].name, name) == 0) {
            return &s->layers[i];
        }
    }
    fail_msg("no layer %s in the snapshot", name);
    return NULL;
}

char *fixture_checkpoint_journal(const char *path)
{
    SafeTensors *st = NULL;
    ThawError err = {0};
    if (st_open(&st, path, &err) != 0) {
        fail_msg("%s", err.msg);
    }
    const char *j = st_metadata(st, "journal");
    char *out = j ? strdup(j) : NULL;
    st_close(st);
    return out;
}
