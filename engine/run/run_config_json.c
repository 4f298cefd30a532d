/* Typed getters for run-file keys: each checks the JSON type and range
 * and names the file and key path in its message (declared in
 * run_config_internal.h). */
#include "run_config_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void key_path(char *buf, size_t cap, const char *prefix, const char *key)
{
    if (prefix && prefix[0]) {
        snprintf(buf, cap, "%s.%s", prefix, key);
    } else {
        snprintf(buf, cap, "%s", key);
    }
}

/* Every member of obj must be one of the names in allowed (NULL-terminated). */
int run_check_keys(Ctx *c, const cJSON *obj, const char *prefix,
                   const char *const *allowed)
{
    for (const cJSON *it = obj->child; it; it = it->next) {
        int ok = 0;
        for (int i = 0; allowed[i]; i++) {
            if (strcmp(it->string, allowed[i]) == 0) {
                ok = 1;
            }
        }
        if (!ok) {
            char key[256];
            key_path(key, sizeof key, prefix, it->string);
            char list[512] = "";
            size_t used = 0;
            for (int i = 0; allowed[i] && used < sizeof list; i++) {
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
                                         i ? ", " : "", allowed[i]);
            }
            return thaw_fail(c->err, THAW_ERR_ARG, "%s: unknown key '%s' (known: %s)",
                             c->path, key, list);
        }
    }
    return 0;
}

int run_get_number(Ctx *c, const cJSON *obj, const char *prefix,
                   const char *name, double lo, double hi, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v) {
        return 0;
    }
    char key[256];
    key_path(key, sizeof key, prefix, name);
    if (!cJSON_IsNumber(v)) {
        return thaw_fail(c->err, THAW_ERR_ARG, "%s: key '%s' must be a number",
                         c->path, key);
    }
    double d = v->valuedouble;
    if (!(d >= lo && d <= hi)) {
        return thaw_fail(c->err, THAW_ERR_ARG,
                         "%s: key '%s' must be between %g and %g, got %g",
                         c->path, key, lo, hi, d);
    }
    *out = d;
    return 0;
}

int run_get_int(Ctx *c, const cJSON *obj, const char *prefix,
                const char *name, double lo, double hi, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v) {
        return 0;
    }
    char key[256];
    key_path(key, sizeof key, prefix, name);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble)) {
        return thaw_fail(c->err, THAW_ERR_ARG, "%s: key '%s' must be an integer",
                         c->path, key);
    }
    double d = v->valuedouble;
    if (!(d >= lo && d <= hi)) {
        return thaw_fail(c->err, THAW_ERR_ARG,
                         "%s: key '%s' must be between %.0f and %.0f, got %.0f",
                         c->path, key, lo, hi, d);
    }
    *out = (int64_t)d;
    return 0;
}

int run_get_int32(Ctx *c, const cJSON *obj, const char *prefix,
                  const char *name, int lo, int hi, int *out)
{
    int64_t v = *out;
    int rc = run_get_int(c, obj, prefix, name, lo, hi, &v);
    *out = (int)v;
    return rc;
}

int run_get_bool(Ctx *c, const cJSON *obj, const char *prefix,
                 const char *name, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v) {
        return 0;
    }
    if (!cJSON_IsBool(v)) {
        char key[256];
        key_path(key, sizeof key, prefix, name);
        return thaw_fail(c->err, THAW_ERR_ARG, "%s: key '%s' must be true or false",
                         c->path, key);
    }
    *out = cJSON_IsTrue(v);
    return 0;
}

/* A string into out (cap bytes); *found set when present. */
int run_get_string(Ctx *c, const cJSON *obj, const char *prefix,
                   const char *name, char *out, size_t cap, int *found)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (found) {
        *found = v != NULL;
    }
    if (!v) {
        return 0;
    }
    char key[256];
    key_path(key, sizeof key, prefix, name);
    if (!cJSON_IsString(v)) {
        return thaw_fail(c->err, THAW_ERR_ARG, "%s: key '%s' must be a string",
                         c->path, key);
    }
    if (strlen(v->valuestring) >= cap || v->valuestring[0] == '\0') {
        return thaw_fail(c->err, THAW_ERR_ARG,
                         "%s: key '%s' must be a non-empty string under %zu bytes",
                         c->path, key, cap);
    }
    snprintf(out, cap, "%s", v->valuestring);
    return 0;
}

/* A string that must be one of names[0..n); *index set. */
int run_get_enum(Ctx *c, const cJSON *obj, const char *prefix,
                 const char *name, const char *const *names, int n,
                 int *index, int *found)
{
    char buf[RUN_NAME_MAX * 2];
    int present = 0;
    int rc = run_get_string(c, obj, prefix, name, buf, sizeof buf, &present);
    if (found) {
        *found = present;
    }
    if (rc != 0 || !present) {
        return rc;
    }
    for (int i = 0; i < n; i++) {
        if (strcmp(buf, names[i]) == 0) {
            *index = i;
            return 0;
        }
    }
    char key[256], list[256] = "";
    key_path(key, sizeof key, prefix, name);
    size_t used = 0;
    for (int i = 0; i < n; i++) {
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
                                 i ? ", " : "", names[i]);
    }
    return thaw_fail(c->err, THAW_ERR_ARG, "%s: key '%s' must be one of %s, got '%s'",
                     c->path, key, list, buf);
}

/* An optional object member; NULL when absent, error when not an object. */
int run_get_object(Ctx *c, const cJSON *obj, const char *prefix,
                   const char *name, const cJSON **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    *out = NULL;
    if (!v) {
        return 0;
    }
    if (!cJSON_IsObject(v)) {
        char key[256];
        key_path(key, sizeof key, prefix, name);
        return thaw_fail(c->err, THAW_ERR_ARG, "%s: key '%s' must be an object",
                         c->path, key);
    }
    *out = v;
    return 0;
}

int run_missing(Ctx *c, const char *key)
{
    return thaw_fail(c->err, THAW_ERR_ARG, "%s: key '%s' is required", c->path, key);
}

/* Expands a leading "~/" to $HOME. */
void run_expand_home(char *path, size_t cap)
{
    const char *home = getenv("HOME");
    if (path[0] == '~' && path[1] == '/' && home) {
        char tmp[RUN_PATH_MAX];
        snprintf(tmp, sizeof tmp, "%s%s", home, path + 1);
        snprintf(path, cap, "%s", tmp);
    }
}
