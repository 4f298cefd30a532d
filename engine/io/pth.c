/* PyTorch .pth reader: see pth.h. Written from the pickle protocol
 * description (Python's pickletools), torch.save's documented layout and
 * the zip APPNOTE; nothing here executes anything from the file. */
#include "pth.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "pth.c assumes a little-endian host"
#endif

#define PTH_MAX_NAME 256          /* GLOBAL module / name lines */
#define PTH_MAX_KEY 4096          /* state_dict key length */

/* ---- values --------------------------------------------------------- */

typedef enum {
    V_NONE, V_BOOL, V_INT, V_BIGINT, V_FLOAT, V_STR, V_TUPLE, V_LIST, V_DICT,
    V_GLOBAL, V_STORAGE, V_TENSOR,
} VKind;

enum { G_ORDEREDDICT, G_REBUILD_V2, G_STORAGE };

typedef struct {
    char *key;
    StDtype dtype;
    int64_t numel;
    const uint8_t *data;   /* NULL until the storage bytes are found */
} Storage;

typedef struct Value Value;
struct Value {
    VKind kind;
    Value *next_alloc;
    int64_t i;             /* INT, BOOL; GLOBAL: G_*; STORAGE: index */
    int gdtype;            /* GLOBAL G_STORAGE: its StDtype */
    double f;
    char *s;               /* STR (NUL-terminated copy), BIGINT bytes */
    size_t slen;
    Value **items;         /* TUPLE, LIST; DICT as key, value pairs */
    size_t n, cap;
    /* TENSOR */
    int64_t storage, offset;
    int ndim;
    int64_t size[ST_MAX_DIMS], stride[ST_MAX_DIMS];
};

typedef struct {
    const char *file;
    ThawError *err;
    Value *values;         /* every allocation, freed together */
    Value **stack;
    size_t sp, scap;
    size_t *marks;
    size_t nmarks, mcap;
    Value **memo;
    size_t memo_cap;
    size_t memo_limit;
    size_t memo_n;         /* distinct entries set: MEMOIZE's index */
    Storage *st;
    int nst, stcap;
    const char *kind;      /* "legacy" or "zip": for messages */
} Machine;

static int fmt_err(Machine *m, const char *fmt, const char *a, const char *b)
{
    char line[400];
    snprintf(line, sizeof line, fmt, a ? a : "", b ? b : "");
    return thaw_fail(m->err, THAW_ERR_FORMAT, "%s: %s", m->file, line);
}

static int nomem(Machine *m)
{
    return thaw_fail(m->err, THAW_ERR_NOMEM, "%s: out of memory", m->file);
}

static Value *vnew(Machine *m, VKind kind)
{
    Value *v = calloc(1, sizeof *v);
    if (!v) {
        return NULL;
    }
    v->kind = kind;
    v->next_alloc = m->values;
    m->values = v;
    return v;
}

static int vappend(Value *c, Value *item)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4;
        Value **items = realloc(c->items, cap * sizeof *items);
        if (!items) {
            return -1;
        }
        c->items = items;
        c->cap = cap;
    }
    c->items[c->n++] = item;
    return 0;
}

static void machine_free(Machine *m)
{
    Value *v = m->values;
    while (v) {
        Value *next = v->next_alloc;
        free(v->s);
        free(v->items);
        free(v);
        v = next;
    }
    m->values = NULL;
    free(m->stack);
    free(m->marks);
    free(m->memo);
    m->stack = NULL;
    m->marks = NULL;
    m->memo = NULL;
    m->sp = m->scap = m->nmarks = m->mcap = m->memo_cap = m->memo_n = 0;
}

static void storages_free(Machine *m)
{
    for (int i = 0; i < m->nst; i++) {
        free(m->st[i].key);
    }
    free(m->st);
    m->st = NULL;
    m->nst = m->stcap = 0;
}

/* ---- the pickle machine --------------------------------------------- */

typedef struct {
    const uint8_t *p;
    size_t len, pos;
} Reader;

static int push(Machine *m, Value *v)
{
    if (!v) {
        return nomem(m);
    }
    if (m->sp == m->scap) {
        size_t cap = m->scap ? m->scap * 2 : 64;
        Value **s = realloc(m->stack, cap * sizeof *s);
        if (!s) {
            return nomem(m);
        }
        m->stack = s;
        m->scap = cap;
    }
    m->stack[m->sp++] = v;
    return 0;
}

static size_t mark_base(const Machine *m)
{
    return m->nmarks ? m->marks[m->nmarks - 1] : 0;
}

static Value *pop(Machine *m)
{
    if (m->sp <= mark_base(m)) {
        return NULL;
    }
    return m->stack[--m->sp];
}

static Value *top(Machine *m)
{
    return m->sp > mark_base(m) ? m->stack[m->sp - 1] : NULL;
}

/* Pops to the last MARK; the items are m->stack[*from .. m->sp) until the
 * next push. */
static int pop_mark(Machine *m, size_t *from)
{
    if (m->nmarks == 0) {
        return -1;
    }
    *from = m->marks[--m->nmarks];
    return 0;
}

static int memo_put(Machine *m, uint64_t idx, Value *v)
{
    if (!v) {
        return -1;
    }
    if (idx >= m->memo_limit) {
        return -2;
    }
    if (idx >= m->memo_cap) {
        size_t cap = m->memo_cap ? m->memo_cap : 64;
        while (cap <= idx) {
            cap *= 2;
        }
        Value **memo = realloc(m->memo, cap * sizeof *memo);
        if (!memo) {
            return -3;
        }
        memset(memo + m->memo_cap, 0, (cap - m->memo_cap) * sizeof *memo);
        m->memo = memo;
        m->memo_cap = cap;
    }
    m->memo_n += m->memo[idx] == NULL;
    m->memo[idx] = v;
    return 0;
}

static int need(Reader *r, size_t n)
{
    return r->len - r->pos >= n;
}

static uint64_t rd_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

static Value *make_str(Machine *m, const uint8_t *p, size_t n)
{
    Value *v = vnew(m, V_STR);
    if (!v) {
        return NULL;
    }
    v->s = malloc(n + 1);
    if (!v->s) {
        return NULL;
    }
    memcpy(v->s, p, n);
    v->s[n] = '\0';
    v->slen = n;
    return v;
}

static Value *make_int(Machine *m, VKind kind, int64_t i)
{
    Value *v = vnew(m, kind);
    if (v) {
        v->i = i;
    }
    return v;
}

static Value *make_tuple(Machine *m, Value **items, size_t n)
{
    Value *v = vnew(m, V_TUPLE);
    if (!v) {
        return NULL;
    }
    for (size_t k = 0; k < n; k++) {
        if (vappend(v, items[k])) {
            return NULL;
        }
    }
    return v;
}

static const struct { const char *name; StDtype dtype; } STORAGES[] = {
    {"FloatStorage", ST_F32}, {"HalfStorage", ST_F16},
    {"BFloat16Storage", ST_BF16}, {"DoubleStorage", ST_F64},
    {"LongStorage", ST_I64}, {"IntStorage", ST_I32},
    {"ShortStorage", ST_I16}, {"CharStorage", ST_I8},
    {"BoolStorage", ST_BOOL}, {"ByteStorage", ST_U8},
};

static int make_global(Machine *m, const char *mod, const char *name)
{
    Value *v = vnew(m, V_GLOBAL);
    if (!v) {
        return nomem(m);
    }
    if (strcmp(mod, "collections") == 0 && strcmp(name, "OrderedDict") == 0) {
        v->i = G_ORDEREDDICT;
        return push(m, v);
    }
    if (strcmp(mod, "torch._utils") == 0 &&
        strcmp(name, "_rebuild_tensor_v2") == 0) {
        v->i = G_REBUILD_V2;
        return push(m, v);
    }
    if (strcmp(mod, "torch") == 0) {
        for (size_t k = 0; k < sizeof STORAGES / sizeof STORAGES[0]; k++) {
            if (strcmp(name, STORAGES[k].name) == 0) {
                v->i = G_STORAGE;
                v->gdtype = (int)STORAGES[k].dtype;
                return push(m, v);
            }
        }
    }
    return fmt_err(m, "the pickle uses the global '%s.%s', which a plain "
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
static int persistent_load(Machine *m, Value *pid)
{
    if (!pid || pid->kind != V_TUPLE || (pid->n != 5 && pid->n != 6) ||
        pid->items[0]->kind != V_STR || strcmp(pid->items[0]->s, "storage") ||
        pid->items[1]->kind != V_GLOBAL || pid->items[1]->i != G_STORAGE ||
        pid->items[2]->kind != V_STR || !is_int(pid->items[4])) {
        return fmt_err(m, "persistent id is not ('storage', torch.*Storage, "
                       "key, location, numel)%s%s", NULL, NULL);
    }
    if (pid->n == 6 && pid->items[5]->kind != V_NONE) {
        return fmt_err(m, "storage '%s' is a storage view (pre-0.4 PyTorch "
                       "format), which is not supported%s",
                       pid->items[2]->s, NULL);
    }
    const char *key = pid->items[2]->s;
    StDtype dtype = (StDtype)pid->items[1]->gdtype;
    int64_t numel = pid->items[4]->i;
    if (numel < 0 || (uint64_t)numel > (UINT64_MAX >> 4)) {
        return fmt_err(m, "storage '%s' has an impossible element count%s",
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
            return fmt_err(m, "storage '%s' is referenced with two different "
                           "types or sizes%s", key, NULL);
        }
    } else {
        if (m->nst == m->stcap) {
            int cap = m->stcap ? m->stcap * 2 : 16;
            Storage *s = realloc(m->st, (size_t)cap * sizeof *s);
            if (!s) {
                return nomem(m);
            }
            m->st = s;
            m->stcap = cap;
        }
        char *k = strdup(key);
        if (!k) {
            return nomem(m);
        }
        m->st[m->nst] = (Storage){k, dtype, numel, NULL};
        idx = m->nst++;
    }
    Value *v = vnew(m, V_STORAGE);
    if (!v) {
        return nomem(m);
    }
    v->i = idx;
    return push(m, v);
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
    Value *t = vnew(m, V_TENSOR);
    if (!t) {
        return nomem(m);
    }
    if (args->kind != V_TUPLE || (args->n != 6 && args->n != 7) ||
        args->items[0]->kind != V_STORAGE || args->items[1]->kind != V_INT ||
        int_tuple(args->items[2], ST_MAX_DIMS, t->size, &t->ndim) ||
        int_tuple(args->items[3], ST_MAX_DIMS, stride, &nstride) ||
        nstride != t->ndim) {
        return fmt_err(m, "_rebuild_tensor_v2 arguments are not (storage, "
                       "offset, size, stride, ...) with at most 8 "
                       "dimensions%s%s", NULL, NULL);
    }
    memcpy(t->stride, stride, sizeof stride);
    t->storage = args->items[0]->i;
    t->offset = args->items[1]->i;
    const Storage *s = &m->st[t->storage];
    if (t->offset < 0 || t->offset > s->numel) {
        return fmt_err(m, "a tensor's storage offset lies outside storage "
                       "'%s'%s", s->key, NULL);
    }
    /* Highest element index touched: offset + sum (size-1)*stride. */
    uint64_t last = (uint64_t)t->offset;
    int empty = 0;
    uint64_t numel = 1;
    for (int d = 0; d < t->ndim; d++) {
        if (t->size[d] < 0 || t->stride[d] < 0) {
            return fmt_err(m, "a tensor on storage '%s' has a negative size "
                           "or stride%s", s->key, NULL);
        }
        empty |= t->size[d] == 0;
    }
    for (int d = 0; !empty && d < t->ndim; d++) {
        if ((uint64_t)t->size[d] > ((uint64_t)1 << 50) / numel) {
            return fmt_err(m, "a tensor on storage '%s' has more than 2^50 "
                           "elements%s", s->key, NULL);
        }
        numel *= (uint64_t)t->size[d];
    }
    if (!empty) {
        for (int d = 0; d < t->ndim; d++) {
            uint64_t span = (uint64_t)(t->size[d] - 1);
            uint64_t st = (uint64_t)t->stride[d];
            if (st && span > (UINT64_MAX >> 2) / st) {
                return fmt_err(m, "a tensor on storage '%s' has an "
                               "impossible size%s", s->key, NULL);
            }
            last += span * st;
            if (last > (UINT64_MAX >> 2)) {
                return fmt_err(m, "a tensor on storage '%s' has an "
                               "impossible size%s", s->key, NULL);
            }
        }
        if (last >= (uint64_t)s->numel) {
            return fmt_err(m, "a tensor reaches past the end of storage "
                           "'%s'%s", s->key, NULL);
        }
    }
    return push(m, t);
}

static int do_reduce(Machine *m)
{
    Value *args = pop(m);
    Value *fn = pop(m);
    if (!args || !fn) {
        return fmt_err(m, "REDUCE on a short stack%s%s", NULL, NULL);
    }
    if (fn->kind != V_GLOBAL || args->kind != V_TUPLE) {
        return fmt_err(m, "REDUCE of something that is not a known "
                       "global%s%s", NULL, NULL);
    }
    if (fn->i == G_ORDEREDDICT) {
        if (args->n != 0) {
            return fmt_err(m, "OrderedDict called with arguments%s%s",
                           NULL, NULL);
        }
        return push(m, vnew(m, V_DICT));
    }
    if (fn->i == G_REBUILD_V2) {
        return rebuild_tensor(m, args);
    }
    return fmt_err(m, "a storage type is called directly, not through a "
                   "persistent id%s%s", NULL, NULL);
}

/* Runs one pickle from r->pos to its STOP; *result is the top of stack. */
static int unpickle(Machine *m, Reader *r, Value **result)
{
    machine_free(m);
    m->memo_limit = 4 * (r->len - r->pos) + 1024;
    char mod[PTH_MAX_NAME + 1], name[PTH_MAX_NAME + 1];
    for (;;) {
        if (!need(r, 1)) {
            return fmt_err(m, "the pickle ends before its STOP opcode (file "
                           "truncated?)%s%s", NULL, NULL);
        }
        size_t at = r->pos;
        uint8_t op = r->p[r->pos++];
        const uint8_t *a = r->p + r->pos;
        int rc = 0;
        uint64_t u;
        size_t from;
        Value *v, *w, *x;
#define NEED(n) do { if (!need(r, (n))) goto truncated; } while (0)
        switch (op) {
        case 0x80: /* PROTO */
            NEED(1);
            if (a[0] < 2 || a[0] > 5) {
                goto bad;
            }
            r->pos += 1;
            break;
        case 0x95: /* FRAME */
            NEED(8);
            r->pos += 8;
            break;
        case '.': /* STOP */
            v = pop(m);
            if (!v) {
                return fmt_err(m, "the pickle stops with an empty "
                               "stack%s%s", NULL, NULL);
            }
            *result = v;
            return 0;
        case 'c': { /* GLOBAL module\nname\n */
            char *dst[2] = {mod, name};
            for (int k = 0; k < 2; k++) {
                size_t n = 0;
                while (need(r, 1) && r->p[r->pos] != '\n' && n < PTH_MAX_NAME) {
                    dst[k][n++] = (char)r->p[r->pos++];
                }
                NEED(1);
                if (r->p[r->pos] != '\n' || memchr(dst[k], 0, n)) {
                    goto bad;
                }
                r->pos++;
                dst[k][n] = '\0';
            }
            rc = make_global(m, mod, name);
            break;
        }
        case 0x93: /* STACK_GLOBAL */
            w = pop(m);
            v = pop(m);
            if (!v || !w || v->kind != V_STR || w->kind != V_STR ||
                v->slen > PTH_MAX_NAME || w->slen > PTH_MAX_NAME ||
                strlen(v->s) != v->slen || strlen(w->s) != w->slen) {
                goto bad;
            }
            rc = make_global(m, v->s, w->s);
            break;
        case 'Q': /* BINPERSID */
            rc = persistent_load(m, pop(m));
            break;
        case 'q': /* BINPUT */
            NEED(1);
            r->pos += 1;
            if (memo_put(m, a[0], top(m))) {
                goto bad;
            }
            break;
        case 'r': /* LONG_BINPUT */
            NEED(4);
            r->pos += 4;
            if ((rc = memo_put(m, rd_le(a, 4), top(m))) != 0) {
                if (rc == -3) {
                    return nomem(m);
                }
                goto bad;
            }
            break;
        case 0x94: /* MEMOIZE */
            if ((rc = memo_put(m, m->memo_n, top(m))) != 0) {
                if (rc == -3) {
                    return nomem(m);
                }
                goto bad;
            }
            break;
        case 'h': /* BINGET */
        case 'j': /* LONG_BINGET */
            NEED(op == 'h' ? 1 : 4);
            u = rd_le(a, op == 'h' ? 1 : 4);
            r->pos += op == 'h' ? 1 : 4;
            if (u >= m->memo_cap || !m->memo[u]) {
                return fmt_err(m, "the pickle reads an unset memo entry%s%s",
                               NULL, NULL);
            }
            rc = push(m, m->memo[u]);
            break;
        case '(': /* MARK */
            if (m->nmarks == m->mcap) {
                size_t cap = m->mcap ? m->mcap * 2 : 16;
                size_t *mk = realloc(m->marks, cap * sizeof *mk);
                if (!mk) {
                    return nomem(m);
                }
                m->marks = mk;
                m->mcap = cap;
            }
            m->marks[m->nmarks++] = m->sp;
            break;
        case '}': rc = push(m, vnew(m, V_DICT)); break;
        case ']': rc = push(m, vnew(m, V_LIST)); break;
        case ')': rc = push(m, vnew(m, V_TUPLE)); break;
        case 'N': rc = push(m, vnew(m, V_NONE)); break;
        case 0x88: rc = push(m, make_int(m, V_BOOL, 1)); break;
        case 0x89: rc = push(m, make_int(m, V_BOOL, 0)); break;
        case 't': /* TUPLE */
            if (pop_mark(m, &from)) {
                goto bad;
            }
            v = make_tuple(m, m->sp > from ? m->stack + from : NULL,
                           m->sp - from);
            m->sp = from;
            rc = push(m, v);
            break;
        case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
            size_t n = (size_t)(op - 0x84);
            if (m->sp < mark_base(m) + n) {
                goto bad;
            }
            m->sp -= n;
            rc = push(m, make_tuple(m, m->stack + m->sp, n));
            break;
        }
        case 'J': /* BININT */
            NEED(4);
            r->pos += 4;
            rc = push(m, make_int(m, V_INT, (int32_t)(uint32_t)rd_le(a, 4)));
            break;
        case 'K': /* BININT1 */
            NEED(1);
            r->pos += 1;
            rc = push(m, make_int(m, V_INT, a[0]));
            break;
        case 'M': /* BININT2 */
            NEED(2);
            r->pos += 2;
            rc = push(m, make_int(m, V_INT, (int64_t)rd_le(a, 2)));
            break;
        case 0x8a: { /* LONG1 */
            NEED(1);
            size_t n = a[0];
            NEED(1 + n);
            r->pos += 1 + n;
            if (n <= 8) {
                uint64_t raw = n ? rd_le(a + 1, (int)n) : 0;
                if (n && n < 8 && (a[n] & 0x80)) {
                    raw |= UINT64_MAX << (8 * n);
                }
                rc = push(m, make_int(m, V_INT, (int64_t)raw));
            } else {
                v = make_str(m, a + 1, n);
                if (v) {
                    v->kind = V_BIGINT;
                }
                rc = push(m, v);
            }
            break;
        }
        case 'G': /* BINFLOAT, big-endian */
            NEED(8);
            r->pos += 8;
            v = vnew(m, V_FLOAT);
            if (v) {
                u = 0;
                for (int k = 0; k < 8; k++) {
                    u = (u << 8) | a[k];
                }
                memcpy(&v->f, &u, 8);
            }
            rc = push(m, v);
            break;
        case 'X':    /* BINUNICODE */
        case 'B':    /* BINBYTES */
        case 'T':    /* BINSTRING */
        case 0x8c:   /* SHORT_BINUNICODE */
        case 'C':    /* SHORT_BINBYTES */
        case 'U':    /* SHORT_BINSTRING */
        case 0x8d:   /* BINUNICODE8 */
        case 0x8e: { /* BINBYTES8 */
            int w8 = (op == 0x8c || op == 'C' || op == 'U') ? 1
                   : (op == 0x8d || op == 0x8e) ? 8 : 4;
            NEED((size_t)w8);
            u = rd_le(a, w8);
            if (op == 'T' && (u & 0x80000000u)) {
                goto bad;
            }
            r->pos += (size_t)w8;
            if (u > r->len - r->pos) {
                goto truncated;
            }
            rc = push(m, make_str(m, a + w8, (size_t)u));
            r->pos += (size_t)u;
            break;
        }
        case 'R': /* REDUCE */
            rc = do_reduce(m);
            break;
        case 'b': /* BUILD: only the state of an OrderedDict (_metadata) */
            w = pop(m);
            v = top(m);
            if (!w || !v || v->kind != V_DICT) {
                return fmt_err(m, "BUILD on something other than a dict "
                               "(not a plain state_dict)%s%s", NULL, NULL);
            }
            break;
        case 's': /* SETITEM */
            x = pop(m);
            w = pop(m);
            v = top(m);
            if (!x || !w || !v || v->kind != V_DICT) {
                goto bad;
            }
            if (vappend(v, w) || vappend(v, x)) {
                return nomem(m);
            }
            break;
        case 'u': /* SETITEMS */
        case 'e': /* APPENDS */
            if (pop_mark(m, &from) || from <= mark_base(m) ||
                m->stack[from - 1]->kind != (op == 'u' ? V_DICT : V_LIST) ||
                (op == 'u' && (m->sp - from) % 2)) {
                goto bad;
            }
            v = m->stack[from - 1];
            for (size_t k = from; k < m->sp; k++) {
                if (vappend(v, m->stack[k])) {
                    return nomem(m);
                }
            }
            m->sp = from;
            break;
        case 'a': /* APPEND */
            w = pop(m);
            v = top(m);
            if (!w || !v || v->kind != V_LIST) {
                goto bad;
            }
            if (vappend(v, w)) {
                return nomem(m);
            }
            break;
        default:
            return thaw_fail(m->err, THAW_ERR_FORMAT,
                             "%s: unsupported pickle opcode 0x%02x at byte "
                             "%zu (not a state_dict saved by torch.save?)",
                             m->file, op, at);
        }
#undef NEED
        if (rc) {
            return rc;
        }
        continue;
truncated:
        return thaw_fail(m->err, THAW_ERR_FORMAT,
                         "%s: pickle opcode 0x%02x at byte %zu runs past the "
                         "end of the data (file truncated?)", m->file, op, at);
bad:
        return thaw_fail(m->err, THAW_ERR_FORMAT,
                         "%s: malformed pickle: opcode 0x%02x at byte %zu is "
                         "invalid here", m->file, op, at);
    }
}

/* ---- building the safetensors image --------------------------------- */

static const Value *dict_get(const Value *d, const char *key)
{
    for (size_t k = 0; k + 1 < d->n; k += 2) {
        if (d->items[k]->kind == V_STR && strcmp(d->items[k]->s, key) == 0) {
            return d->items[k + 1];
        }
    }
    return NULL;
}

static int64_t tensor_numel(const Value *t)
{
    for (int d = 0; d < t->ndim; d++) {
        if (t->size[d] == 0) {
            return 0;
        }
    }
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) {
        n *= t->size[d];   /* at most 2^50: checked by rebuild_tensor */
    }
    return n;
}

/* Copies tensor t's elements in row-major order into dst. */
static void gather(const Value *t, const Storage *s, uint8_t *dst)
{
    size_t es = (size_t)st_dtype_size(s->dtype);
    int64_t numel = tensor_numel(t);
    if (numel == 0) {
        return;
    }
    int contiguous = 1;
    int64_t expect = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->size[d] != 1 && t->stride[d] != expect) {
            contiguous = 0;
        }
        expect *= t->size[d];
    }
    const uint8_t *src = s->data + (size_t)t->offset * es;
    if (contiguous) {
        memcpy(dst, src, (size_t)numel * es);
        return;
    }
    int64_t idx[ST_MAX_DIMS] = {0};
    int64_t off = 0;
    int last = t->ndim - 1;
    for (int64_t k = 0; k < numel; k++) {
        memcpy(dst + (size_t)k * es, src + (size_t)off * es, es);
        for (int d = last; d >= 0; d--) {
            if (++idx[d] < t->size[d]) {
                off += t->stride[d];
                break;
            }
            off -= (idx[d] - 1) * t->stride[d];
            idx[d] = 0;
        }
    }
}

static int build_image(Machine *m, const Value *root, size_t in_len,
                       const char *fmt_name, SafeTensors **out)
{
    const char *file = m->file;
    if (root->kind != V_DICT) {
        return fmt_err(m, "the checkpoint is not a dict of tensors (save "
                       "model.state_dict())%s%s", NULL, NULL);
    }
    const Value *d = root;
    const Value *inner = dict_get(root, "state_dict");
    if (inner && inner->kind == V_DICT) {
        d = inner;   /* {'state_dict': ..., 'epoch': ...} training checkpoints */
    }
    /* Output size: bounded so stride-0 views cannot blow up memory. */
    uint64_t limit = 8 * (uint64_t)in_len + ((uint64_t)16 << 20);
    uint64_t total = 0;
    for (size_t k = 0; k + 1 < d->n; k += 2) {
        const Value *key = d->items[k], *t = d->items[k + 1];
        if (key->kind != V_STR || strlen(key->s) != key->slen ||
            key->slen == 0 || key->slen > PTH_MAX_KEY) {
            return fmt_err(m, "a state_dict key is not a usable string%s%s",
                           NULL, NULL);
        }
        if (t->kind != V_TENSOR) {
            return fmt_err(m, "key '%s' holds something other than a "
                           "tensor%s", key->s, NULL);
        }
        const Storage *s = &m->st[t->storage];
        if (!s->data && s->numel > 0) {
            return thaw_fail(m->err, THAW_ERR_FORMAT, "%s: key '%s': the "
                             "bytes of storage '%s' are missing", file,
                             key->s, s->key);
        }
        total += (uint64_t)tensor_numel(t) * (uint64_t)st_dtype_size(s->dtype);
        if (total > limit) {
            return thaw_fail(m->err, THAW_ERR_FORMAT, "%s: key '%s': the "
                             "tensors would need more than %llu bytes "
                             "(expanded views?)", file, key->s,
                             (unsigned long long)limit);
        }
    }
    cJSON *hdr = cJSON_CreateObject();
    cJSON *meta = cJSON_AddObjectToObject(hdr, "__metadata__");
    int ok = hdr && meta && cJSON_AddStringToObject(meta, "format", "pt") &&
             cJSON_AddStringToObject(meta, "converted_from", fmt_name);
    uint64_t pos = 0;
    for (size_t k = 0; ok && k + 1 < d->n; k += 2) {
        const Value *key = d->items[k], *t = d->items[k + 1];
        const Storage *s = &m->st[t->storage];
        uint64_t bytes = (uint64_t)tensor_numel(t) * (uint64_t)st_dtype_size(s->dtype);
        cJSON *e = cJSON_CreateObject();
        cJSON *shape = cJSON_CreateArray();
        cJSON *offs = cJSON_CreateArray();
        ok = e && shape && offs;
        for (int i = 0; ok && i < t->ndim; i++) {
            ok = cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->size[i]));
        }
        ok = ok && cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)pos)) &&
             cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(pos + bytes))) &&
             cJSON_AddStringToObject(e, "dtype", st_dtype_name(s->dtype));
        if (ok) {
            cJSON_AddItemToObject(e, "shape", shape);
            cJSON_AddItemToObject(e, "data_offsets", offs);
            cJSON_AddItemToObject(hdr, key->s, e);
        } else {
            cJSON_Delete(e);
            cJSON_Delete(shape);
            cJSON_Delete(offs);
        }
        pos += bytes;
    }
    char *json = ok ? cJSON_PrintUnformatted(hdr) : NULL;
    cJSON_Delete(hdr);
    if (!json) {
        return nomem(m);
    }
    size_t jlen = strlen(json);
    size_t hlen = jlen + (8 - jlen % 8) % 8;
    size_t len = 8 + hlen + (size_t)total;
    uint8_t *img = malloc(len ? len : 1);
    if (!img) {
        free(json);
        return nomem(m);
    }
    uint64_t h64 = hlen;
    memcpy(img, &h64, 8);
    memcpy(img + 8, json, jlen);
    memset(img + 8 + jlen, ' ', hlen - jlen);
    free(json);
    uint8_t *dst = img + 8 + hlen;
    for (size_t k = 0; k + 1 < d->n; k += 2) {
        const Value *t = d->items[k + 1];
        const Storage *s = &m->st[t->storage];
        gather(t, s, dst);
        dst += (size_t)tensor_numel(t) * (size_t)st_dtype_size(s->dtype);
    }
    return st_open_memory_owned(out, img, len, file, m->err);
}

/* ---- legacy stream format ------------------------------------------- */

static const uint8_t MAGIC[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9,
                                  0x20, 0x6a, 0xa8, 0x50, 0x19};

static int convert_legacy(Machine *m, const uint8_t *buf, size_t len,
                          SafeTensors **out)
{
    Reader r = {buf, len, 0};
    Value *v = NULL;
    int rc = unpickle(m, &r, &v);
    if (rc) {
        return rc;
    }
    if (v->kind != V_BIGINT || v->slen != 10 || memcmp(v->s, MAGIC, 10)) {
        return fmt_err(m, "not a PyTorch checkpoint (wrong magic number)%s%s",
                       NULL, NULL);
    }
    if ((rc = unpickle(m, &r, &v)) != 0) {
        return rc;
    }
    if (v->kind != V_INT || v->i != 1001) {
        return fmt_err(m, "unsupported legacy protocol version (want "
                       "1001)%s%s", NULL, NULL);
    }
    if ((rc = unpickle(m, &r, &v)) != 0) {
        return rc;
    }
    const Value *le = v->kind == V_DICT ? dict_get(v, "little_endian") : NULL;
    if (!le || le->kind != V_BOOL || le->i != 1) {
        return fmt_err(m, "the checkpoint was not saved on a little-endian "
                       "machine (or its sys_info is malformed)%s%s",
                       NULL, NULL);
    }
    Value *root = NULL;
    if ((rc = unpickle(m, &r, &root)) != 0) {
        return rc;
    }
    /* The object pickle's values must outlive the key list's parse, so the
     * key list runs on a second machine. */
    Machine m2 = {.file = m->file, .err = m->err};
    Value *keys = NULL;
    rc = unpickle(&m2, &r, &keys);
    if (rc == 0 && keys->kind != V_LIST) {
        rc = fmt_err(m, "the storage key list is not a list%s%s", NULL, NULL);
    }
    for (size_t k = 0; rc == 0 && k < keys->n; k++) {
        const Value *key = keys->items[k];
        int idx = -1;
        for (int j = 0; key->kind == V_STR && j < m->nst; j++) {
            if (strcmp(m->st[j].key, key->s) == 0) {
                idx = j;
                break;
            }
        }
        if (idx < 0) {
            rc = fmt_err(m, "the storage key list names a storage no tensor "
                         "uses%s%s", NULL, NULL);
            break;
        }
        Storage *s = &m->st[idx];
        if (s->data) {
            rc = fmt_err(m, "storage '%s' appears twice in the key list%s",
                         s->key, NULL);
            break;
        }
        if (len - r.pos < 8) {
            rc = fmt_err(m, "storage '%s': the file ends before its size "
                         "(file truncated?)%s", s->key, NULL);
            break;
        }
        uint64_t count = rd_le(buf + r.pos, 8);
        r.pos += 8;
        if (count != (uint64_t)s->numel) {
            rc = thaw_fail(m->err, THAW_ERR_FORMAT, "%s: storage '%s' holds "
                           "%llu elements but the pickle says %lld", m->file,
                           s->key, (unsigned long long)count,
                           (long long)s->numel);
            break;
        }
        uint64_t bytes = count * (uint64_t)st_dtype_size(s->dtype);
        if (bytes > len - r.pos) {
            rc = fmt_err(m, "storage '%s': the file ends inside its bytes "
                         "(file truncated?)%s", s->key, NULL);
            break;
        }
        s->data = buf + r.pos;
        r.pos += (size_t)bytes;
    }
    machine_free(&m2);
    storages_free(&m2);
    if (rc == 0) {
        rc = build_image(m, root, len, "pytorch-legacy", out);
    }
    return rc;
}

/* ---- zip format ------------------------------------------------------ */

typedef struct {
    const char *name;      /* not NUL-terminated */
    size_t name_len;
    const uint8_t *data;
    uint64_t size;
} ZipEntry;

static int zip_fail(Machine *m, const char *what)
{
    return thaw_fail(m->err, THAW_ERR_FORMAT, "%s: malformed zip: %s",
                     m->file, what);
}

static int zip_entries(Machine *m, const uint8_t *buf, size_t len,
                       ZipEntry **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    if (len < 22) {
        return zip_fail(m, "too short for an end-of-directory record");
    }
    size_t eocd = SIZE_MAX;
    size_t lo = len - 22 > 65535 ? len - 22 - 65535 : 0;
    for (size_t p = len - 22 + 1; p-- > lo;) {
        if (rd_le(buf + p, 4) == 0x06054b50) {
            eocd = p;
            break;
        }
    }
    if (eocd == SIZE_MAX) {
        return zip_fail(m, "no end-of-central-directory record (file "
                        "truncated?)");
    }
    uint64_t n = rd_le(buf + eocd + 10, 2);
    uint64_t cd_size = rd_le(buf + eocd + 12, 4);
    uint64_t cd_off = rd_le(buf + eocd + 16, 4);
    if (n == 0xffff || cd_size == 0xffffffffu || cd_off == 0xffffffffu) {
        /* zip64: locator just before the EOCD points at the zip64 record */
        if (eocd < 20 || rd_le(buf + eocd - 20, 4) != 0x07064b50) {
            return zip_fail(m, "zip64 locator missing");
        }
        uint64_t z = rd_le(buf + eocd - 20 + 8, 8);
        if (z > len || len - z < 56 || rd_le(buf + z, 4) != 0x06064b50) {
            return zip_fail(m, "zip64 end-of-directory record missing");
        }
        n = rd_le(buf + z + 32, 8);
        cd_size = rd_le(buf + z + 40, 8);
        cd_off = rd_le(buf + z + 48, 8);
    }
    if (cd_off > len || cd_size > len - cd_off || n > cd_size / 46) {
        return zip_fail(m, "central directory outside the file");
    }
    ZipEntry *e = calloc(n ? n : 1, sizeof *e);
    if (!e) {
        return nomem(m);
    }
    const uint8_t *cd = buf + cd_off;
    uint64_t p = 0;
    for (uint64_t k = 0; k < n; k++) {
        if (cd_size - p < 46 || rd_le(cd + p, 4) != 0x02014b50) {
            free(e);
            return zip_fail(m, "bad central directory entry");
        }
        const uint8_t *h = cd + p;
        uint64_t method = rd_le(h + 10, 2);
        uint64_t csize = rd_le(h + 20, 4), usize = rd_le(h + 24, 4);
        uint64_t nlen = rd_le(h + 28, 2), xlen = rd_le(h + 30, 2);
        uint64_t clen = rd_le(h + 32, 2), loff = rd_le(h + 42, 4);
        if (cd_size - p - 46 < nlen + xlen + clen) {
            free(e);
            return zip_fail(m, "central directory entry runs past its end");
        }
        /* zip64 extra field: present values in order usize, csize, loff */
        const uint8_t *x = h + 46 + nlen;
        for (uint64_t q = 0; q + 4 <= xlen;) {
            uint64_t id = rd_le(x + q, 2), sz = rd_le(x + q + 2, 2);
            if (q + 4 + sz > xlen) {
                break;
            }
            if (id == 1) {
                const uint8_t *f = x + q + 4;
                uint64_t left = sz;
                uint64_t *vals[3] = {&usize, &csize, &loff};
                for (int i = 0; i < 3; i++) {
                    if (*vals[i] == 0xffffffffu && left >= 8) {
                        *vals[i] = rd_le(f, 8);
                        f += 8;
                        left -= 8;
                    }
                }
            }
            q += 4 + sz;
        }
        e[k].name = (const char *)h + 46;
        e[k].name_len = (size_t)nlen;
        if (method != 0 || csize != usize) {
            free(e);
            return zip_fail(m, "an entry is compressed (torch.save stores "
                            "entries uncompressed)");
        }
        if (loff > len || len - loff < 30 || rd_le(buf + loff, 4) != 0x04034b50) {
            free(e);
            return zip_fail(m, "bad local file header");
        }
        uint64_t lskip = 30 + rd_le(buf + loff + 26, 2) + rd_le(buf + loff + 28, 2);
        if (len - loff < lskip || len - loff - lskip < usize) {
            free(e);
            return zip_fail(m, "an entry's data runs past the end of the "
                            "file (truncated?)");
        }
        e[k].data = buf + loff + lskip;
        e[k].size = usize;
        p += 46 + nlen + xlen + clen;
    }
    *out = e;
    *count = (size_t)n;
    return 0;
}

static const ZipEntry *zip_find(const ZipEntry *e, size_t n, const char *prefix,
                                size_t plen, const char *mid, const char *tail)
{
    size_t mlen = strlen(mid), tlen = strlen(tail);
    for (size_t k = 0; k < n; k++) {
        if (e[k].name_len == plen + mlen + tlen &&
            memcmp(e[k].name, prefix, plen) == 0 &&
            memcmp(e[k].name + plen, mid, mlen) == 0 &&
            memcmp(e[k].name + plen + mlen, tail, tlen) == 0) {
            return &e[k];
        }
    }
    return NULL;
}

static int convert_zip(Machine *m, const uint8_t *buf, size_t len,
                       SafeTensors **out)
{
    ZipEntry *e = NULL;
    size_t n = 0;
    int rc = zip_entries(m, buf, len, &e, &n);
    if (rc) {
        return rc;
    }
    /* <prefix>data.pkl where prefix is one directory "name/". */
    const ZipEntry *pkl = NULL;
    size_t plen = 0;
    for (size_t k = 0; k < n && !pkl; k++) {
        const char *slash = memchr(e[k].name, '/', e[k].name_len);
        if (slash && (size_t)(slash - e[k].name) + 1 + 8 == e[k].name_len &&
            memcmp(slash + 1, "data.pkl", 8) == 0) {
            pkl = &e[k];
            plen = (size_t)(slash - e[k].name) + 1;
        }
    }
    if (!pkl) {
        free(e);
        return fmt_err(m, "a zip without <name>/data.pkl - not a PyTorch "
                       "checkpoint%s%s", NULL, NULL);
    }
    const char *prefix = pkl->name;
    const ZipEntry *bo = zip_find(e, n, prefix, plen, "byteorder", "");
    if (bo && !(bo->size == 6 && memcmp(bo->data, "little", 6) == 0)) {
        free(e);
        return fmt_err(m, "the checkpoint's byteorder is not 'little'%s%s",
                       NULL, NULL);
    }
    Reader r = {pkl->data, (size_t)pkl->size, 0};
    Value *root = NULL;
    rc = unpickle(m, &r, &root);
    for (int k = 0; rc == 0 && k < m->nst; k++) {
        Storage *s = &m->st[k];
        const ZipEntry *f = zip_find(e, n, prefix, plen, "data/", s->key);
        uint64_t bytes = (uint64_t)s->numel * (uint64_t)st_dtype_size(s->dtype);
        if (!f) {
            rc = fmt_err(m, "storage '%s' has no data/ entry in the zip%s",
                         s->key, NULL);
        } else if (f->size != bytes) {
            rc = thaw_fail(m->err, THAW_ERR_FORMAT, "%s: storage '%s' has "
                           "%llu bytes, expected %llu", m->file, s->key,
                           (unsigned long long)f->size,
                           (unsigned long long)bytes);
        } else {
            s->data = f->data;
        }
    }
    if (rc == 0) {
        rc = build_image(m, root, len, "pytorch-zip", out);
    }
    free(e);
    return rc;
}

/* ---- entry points ----------------------------------------------------- */

int pth_open_memory(SafeTensors **out, const void *buf, size_t len,
                    const char *name, ThawError *err)
{
    if (!out || (!buf && len) || !name) {
        return thaw_fail(err, THAW_ERR_ARG, "pth_open_memory: bad argument");
    }
    *out = NULL;
    const uint8_t *b = buf ? buf : (const uint8_t *)"";
    Machine m = {.file = name, .err = err};
    int rc;
    if (len >= 4 && memcmp(b, "PK\x03\x04", 4) == 0) {
        rc = convert_zip(&m, b, len, out);
    } else if (len >= 1 && b[0] == 0x80) {
        rc = convert_legacy(&m, b, len, out);
    } else {
        rc = thaw_fail(err, THAW_ERR_FORMAT, "%s: not a PyTorch checkpoint "
                       "(neither a zip nor a pickle stream)", name);
    }
    machine_free(&m);
    storages_free(&m);
    return rc;
}

int pth_open(SafeTensors **out, const char *path, ThawError *err)
{
    if (!out || !path) {
        return thaw_fail(err, THAW_ERR_ARG, "pth_open: NULL argument");
    }
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        return thaw_fail(err, THAW_ERR_IO, "%s: cannot open: %s", path,
                         strerror(errno));
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return thaw_fail(err, THAW_ERR_IO, "%s: not a regular file", path);
    }
    if (sb.st_size == 0) {
        close(fd);
        return thaw_fail(err, THAW_ERR_FORMAT, "%s: the file is empty", path);
    }
    if ((unsigned long long)sb.st_size > SIZE_MAX) {
        close(fd);
        return thaw_fail(err, THAW_ERR_IO, "%s: too large to map", path);
    }
    size_t len = (size_t)sb.st_size;
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED) {
        return thaw_fail(err, THAW_ERR_IO, "%s: cannot map: %s", path,
                         strerror(e));
    }
    int rc = pth_open_memory(out, map, len, path, err);
    munmap(map, len);
    return rc;
}
