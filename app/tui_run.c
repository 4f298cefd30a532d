/* Run text for the workbench: the compiled-in default and run files. */
#include "tui_run.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/run/text_job.h"

/* The default run is assets/runs/default.json itself, embedded at build
 * time, so `thaw` works from any directory and the file stays the one
 * source of truth. */
__asm__(".section .rodata\n"
        ".global thaw_default_run_json\n"
        ".hidden thaw_default_run_json\n"
        ".type thaw_default_run_json, @object\n"
        "thaw_default_run_json:\n"
        ".incbin \"" THAW_ASSETS_DIR "/runs/default.json\"\n"
        ".byte 0\n"
        ".previous\n");
extern const char thaw_default_run_json[];

/* The text run a picked text encoder starts from, embedded the same way. */
__asm__(".section .rodata\n"
        ".global thaw_text_run_json\n"
        ".hidden thaw_text_run_json\n"
        ".type thaw_text_run_json, @object\n"
        "thaw_text_run_json:\n"
        ".incbin \"" THAW_ASSETS_DIR "/runs/minilm_fortunes.json\"\n"
        ".byte 0\n"
        ".previous\n");
extern const char thaw_text_run_json[];

const char *tui_default_run_text(void)
{
    return thaw_default_run_json;
}

const char *tui_text_run_text(void)
{
    return thaw_text_run_json;
}

void tui_cache_weights_path(const char *file, char *buf, size_t cap)
{
    const char *cache = getenv("THAW_CACHE");
    const char *home = getenv("HOME");
    if (cache && *cache) {
        snprintf(buf, cap, "%s/weights/%s", cache, file);
    } else {
        snprintf(buf, cap, "%s/.cache/thaw/weights/%s", home ? home : ".", file);
    }
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

static void set_out_dir(TuiRun *run, const char *out_dir)
{
    const char *env = getenv("THAW_OUT");
    if (out_dir && *out_dir) {
        snprintf(run->out_dir, sizeof run->out_dir, "%s", out_dir);
    } else if (env && *env) {
        snprintf(run->out_dir, sizeof run->out_dir, "%s", env);
    } else {
        snprintf(run->out_dir, sizeof run->out_dir, "runs/%s", run->name);
    }
}

/* model.arch of a parsed run ("" when absent). */
static const char *run_arch(const cJSON *root)
{
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(model, "arch");
    return cJSON_IsString(arch) ? arch->valuestring : "";
}

/* A switch between an image backbone and a text encoder: the run becomes
 * the other kind's embedded run (its dataset, strategy and recipe), keeping
 * the seed and threads of the old one. NULL when out of memory. */
static cJSON *switch_kind(cJSON *old, int to_text)
{
    cJSON *root = cJSON_Parse(to_text ? tui_text_run_text() : tui_default_run_text());
    static const char *const kept[] = {"seed", "threads"};
    for (size_t i = 0; root && i < sizeof kept / sizeof kept[0]; i++) {
        cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(old, kept[i]);
        if (v) {
            cJSON_DeleteItemFromObjectCaseSensitive(root, kept[i]);
            cJSON_AddItemToObject(root, kept[i], v);
        }
    }
    cJSON_Delete(old);
    return root;
}

int tui_run_with_model(const char *text, const char *arch, const char *weights, char **out,
                       ThawError *err)
{
    *out = NULL;
    cJSON *root = cJSON_Parse(text);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return thaw_fail(err, THAW_ERR_FORMAT, "run file is not a JSON object");
    }
    if (arch && text_arch(arch) != text_arch(run_arch(root))) {
        root = switch_kind(root, text_arch(arch));
        if (!root) {
            return thaw_fail(err, THAW_ERR_NOMEM, "out of memory rewriting the run file");
        }
    }
    cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsObject(model)) {
        cJSON_DeleteItemFromObjectCaseSensitive(root, "model");
        model = cJSON_AddObjectToObject(root, "model");
    }
    int ok = model != NULL;
    if (ok && arch) {
        cJSON_DeleteItemFromObjectCaseSensitive(model, "arch");
        ok = cJSON_AddStringToObject(model, "arch", arch) != NULL;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(model, "weights");
    if (ok && weights && *weights) {
        ok = cJSON_AddStringToObject(model, "weights", weights) != NULL;
    }
    *out = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    return *out ? 0 : thaw_fail(err, THAW_ERR_NOMEM, "out of memory rewriting the run file");
}

int tui_run_open_default(TuiRun *run, const char *out_dir, ThawError *err)
{
    memset(run, 0, sizeof *run);
    snprintf(run->path, sizeof run->path, "default run");
    snprintf(run->name, sizeof run->name, "default");
    set_out_dir(run, out_dir);
    char weights[1024];
    tui_cache_weights_path("efficientnet-lite0.pth", weights, sizeof weights);
    int have = file_exists(weights);
    if (!have) {
        snprintf(run->note, sizeof run->note,
                 "random init: no ImageNet weights (fetch: bash quickstart.sh run) at %.200s",
                 weights);
    }
    return tui_run_with_model(tui_default_run_text(), NULL, have ? weights : NULL, &run->json,
                              err);
}

int tui_run_open_file(TuiRun *run, const char *path, const char *out_dir, ThawError *err)
{
    memset(run, 0, sizeof *run);
    snprintf(run->path, sizeof run->path, "%s", path);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    if (len > 5 && strcmp(base + len - 5, ".json") == 0) {
        len -= 5;
    }
    snprintf(run->name, sizeof run->name, "%.*s", (int)len, base);
    set_out_dir(run, out_dir);
    FILE *f = fopen(path, "rb");
    if (!f) {
        return thaw_fail(err, THAW_ERR_IO, "%s: cannot open the run file", path);
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    run->json = size >= 0 ? malloc((size_t)size + 1) : NULL;
    size_t got = run->json ? fread(run->json, 1, (size_t)size, f) : 0;
    fclose(f);
    if (!run->json || got != (size_t)size) {
        tui_run_free(run);
        return thaw_fail(err, THAW_ERR_IO, "%s: cannot read the run file", path);
    }
    run->json[size] = '\0';
    cJSON *root = cJSON_Parse(run->json);
    int is_object = cJSON_IsObject(root);
    cJSON_Delete(root);
    if (!is_object) {
        tui_run_free(run);
        return thaw_fail(err, THAW_ERR_FORMAT, "%s: not a JSON object", path);
    }
    return 0;
}

void tui_run_free(TuiRun *run)
{
    free(run->json);
    run->json = NULL;
}

void tui_make_parent_dirs(const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    char *slash = strrchr(buf, '/');
    if (!slash || slash == buf) {
        return;
    }
    *slash = '\0';
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0777);   /* EEXIST is fine; the engine reports real failures */
            *p = '/';
        }
    }
    mkdir(buf, 0777);
}
