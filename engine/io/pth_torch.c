/* What a state_dict pickle may build: collections.OrderedDict,
 * torch._utils._rebuild_tensor_v2 over storages named by persistent ids
 * ('storage', torch.*Storage, key, location, numel), nothing else. Tensor
 * views are checked against their storage's size here. */
#include "pth_internal.h"

#include <stdlib.h>
#include <string.h>

static const struct { const char *name; StDtype dtype; } STORAGES[] = {
    {"FloatStorage", ST_F32}, {"HalfStorage", ST_F16},
    {"BFloat16Storage", ST_BF16}, {"DoubleStorage", ST_F64},
    {"LongStorage", ST_I64}, {"IntStorage", ST_I32},
    {"ShortStorage", ST_I16}, {"CharStorage", ST_I8},
    {"BoolStorage", ST_BOOL}, {"ByteStorage", ST_U8},
};

int pth_make_global(Machine *m, const char *mod, const char *name)
{
    Value *v = pth_vnew(m, V_GLOBAL);
    if (!v) {
        return pth_nomem(m);
    }
    if (strcmp(mod, "collections") == 0 && strcmp(name, "OrderedDict") == 0) {
        v->i = G_ORDEREDDICT;
        return pth_push(m, v);
    }
    if (strcmp(mod, "torch._utils") == 0 &&
        strcmp(name, "_rebuild_tensor_v2") == 0) {
        v->i = G_REBUILD_V2;
        return pth_push(m, v);
    }
    if (strcmp(mod, "torch") == 0) {
        for (size_t k = 0; k < sizeof STORAGES / sizeof STORAGES[0]; k++) {
            if (strcmp(name, STORAGES[k].name) == 0) {
                v->i = G_STORAGE;
                v->gdtype = (int)STORAGES[k].dtype;
                return pth_push(m, v);
            }
        }
    }
    return pth_fmt_err(m, "the pickle uses the global '%s.%s', which a plain "
                       "state_dict does not need (allowed: "
                       "collections.OrderedDict, torch._utils._rebuild_tensor_v2, "
                       "torch.*Storage) - save model.state_dict() instead",
                       mod, name);
}

static int is_int(const Value *v)
{
    return v && (v->kind == V_INT || v->kind == V_BOOL);
}

/* persistent_load: ('storage', type, key, location, numel[, view]) */
int pth_persistent_load(Machine *m, Value *pid)
{
    if (!pid || pid->kind != V_TUPLE || (pid->n != 5 && pid->n != 6) ||
        pid->items[0]->kind != V_STR || strcmp(pid->items[0]->s, "storage") ||
        pid->items[1]->kind != V_GLOBAL || pid->items[1]->i != G_STORAGE ||
        pid->items[2]->kind != V_STR || !is_int(pid->items[4])) {
        return pth_fmt_err(m, "persistent id is not ('storage', torch.*Storage, "
                           "key, location, numel)%s%s", NULL, NULL);
    }
    if (pid->n == 6 && pid->items[5]->kind != V_NONE) {
        return pth_fmt_err(m, "storage '%s' is a storage view (pre-0.4 PyTorch "
                           "format), which is not supported%s",
                           pid->items[2]->s, NULL);
    }
    const char *key = pid->items[2]->s;
    StDtype dtype = (StDtype)pid->items[1]->gdtype;
    int64_t numel = pid->items[4]->i;
    if (numel < 0 || (uint64_t)numel > (UINT64_MAX >> 4)) {
        return pth_fmt_err(m, "storage '%s' has an impossible element count%s",
                           key, NULL);
    }
    int idx = -1;
    for (int k = 0; k < m->nst; k++) {
        if (strcmp(m->st[k].key, key) == 0) {
            idx = k;
            break;
        }
    }
    if (idx >= 0) {
        if (m->st[idx].dtype != dtype || m->st[idx].numel != numel) {
            return pth_fmt_err(m, "storage '%s' is referenced with two different "
                               "types or sizes%s", key, NULL);
        }
    } else {
        if (m->nst == m->stcap) {
            int cap = m->stcap ? m->stcap * 2 : 16;
            Storage *s = realloc(m->st, (size_t)cap * sizeof *s);
            if (!s) {
                return pth_nomem(m);
            }
            m->st = s;
            m->stcap = cap;
        }
        char *k = strdup(key);
        if (!k) {
            return pth_nomem(m);
        }
        m->st[m->nst] = (Storage){k, dtype, numel, NULL};
        idx = m->nst++;
    }
    Value *v = pth_vnew(m, V_STORAGE);
    if (!v) {
        return pth_nomem(m);
    }
    v->i = idx;
    return pth_push(m, v);
}

static int int_tuple(const Value *v, int max, int64_t *dst, int *n)
{
    if (!v || v->kind != V_TUPLE || v->n > (size_t)max) {
        return -1;
    }
    for (size_t k = 0; k < v->n; k++) {
        if (v->items[k]->kind != V_INT) {
            return -1;
        }
        dst[k] = v->items[k]->i;
    }
    *n = (int)v->n;
    return 0;
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad,
 * backward_hooks[, metadata]) */
static int rebuild_tensor(Machine *m, Value *args)
{
    int64_t stride[ST_MAX_DIMS];
    int nstride = 0;
    Value *t = pth_vnew(m, V_TENSOR);
    if (!t) {
        return pth_nomem(m);
    }
    if (args->kind != V_TUPLE || (args->n != 6 && args->n != 7) ||
        args->items[0]->kind != V_STORAGE || args->items[1]->kind != V_INT ||
        int_tuple(args->items[2], ST_MAX_DIMS, t->size, &t->ndim) ||
        int_tuple(args->items[3], ST_MAX_DIMS, stride, &nstride) ||
        nstride != t->ndim) {
        return pth_fmt_err(m, "_rebuild_tensor_v2 arguments are not (storage, "
                           "offset, size, stride, ...) with at most 8 "
                           "dimensions%s%s", NULL, NULL);
    }
    memcpy(t->stride, stride, sizeof stride);
    t->storage = args->items[0]->i;
    t->offset = args->items[1]->i;
    const Storage *s = &m->st[t->storage];
    if (t->offset < 0 || t->offset > s->numel) {
        return pth_fmt_err(m, "a tensor's storage offset lies outside storage "
                           "'%s'%s", s->key, NULL);
    }
    /* Highest element index touched: offset + sum (size-1)*stride. */
    uint64_t last = (uint64_t)t->offset;
    int empty = 0;
    uint64_t numel = 1;
    for (int d = 0; d < t->ndim; d++) {
        if (t->size[d] < 0 || t->stride[d] < 0) {
            return pth_fmt_err(m, "a tensor on storage '%s' has a negative size "
                               "or stride%s", s->key, NULL);
        }
        empty |= t->size[d] == 0;
    }
    for (int d = 0; !empty && d < t->ndim; d++) {
        if ((uint64_t)t->size[d] > ((uint64_t)1 << 50) / numel) {
            return pth_fmt_err(m, "a tensor on storage '%s' has more than 2^50 "
                               "elements%s", s->key, NULL);
        }
        numel *= (uint64_t)t->size[d];
    }
    if (!empty) {
        for (int d = 0; d < t->ndim; d++) {
            uint64_t span = (uint64_t)(t->size[d] - 1);
            uint64_t st = (uint64_t)t->stride[d];
            if (st && span > (UINT64_MAX >> 2) / st) {
                return pth_fmt_err(m, "a tensor on storage '%s' has an "
                                   "impossible size%s", s->key, NULL);
            }
            last += span * st;
            if (last > (UINT64_MAX >> 2)) {
                return pth_fmt_err(m, "a tensor on storage '%s' has an "
                                   "impossible size%s", s->key, NULL);
            }
        }
        if (last >= (uint64_t)s->numel) {
            return pth_fmt_err(m, "a tensor reaches past the end of storage "
                               "'%s'%s", s->key, NULL);
        }
    }
    return pth_push(m, t);
}

int pth_do_reduce(Machine *m)
{
    Value *args = pth_pop(m);
    Value *fn = pth_pop(m);
    if (!args || !fn) {
        return pth_fmt_err(m, "REDUCE on a short stack%s%s", NULL, NULL);
    }
    if (fn->kind != V_GLOBAL || args->kind != V_TUPLE) {
        return pth_fmt_err(m, "REDUCE of something that is not a known "
                           "global%s%s", NULL, NULL);
    }
    if (fn->i == G_ORDEREDDICT) {
        if (args->n != 0) {
            return pth_fmt_err(m, "OrderedDict called with arguments%s%s",
                               NULL, NULL);
        }
        return pth_push(m, pth_vnew(m, V_DICT));
    }
    if (fn->i == G_REBUILD_V2) {
        return rebuild_tensor(m, args);
    }
    return pth_fmt_err(m, "a storage type is called directly, not through a "
                       "persistent id%s%s", NULL, NULL);
}
