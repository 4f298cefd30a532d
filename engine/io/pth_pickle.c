/* The pickle machine for torch.save state_dicts: values, stack, marks,
 * memo and the opcode interpreter (protocols 2 to 5), written from Python's
 * pickletools description. Callables are delegated to pth_torch.c, which
 * allows only what a state_dict needs; nothing from the file executes. */
#include "pth_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pth_fmt_err(Machine *m, const char *fmt, const char *a, const char *b)
{
    char line[400];
    snprintf(line, sizeof line, fmt, a ? a : "", b ? b : "");
    return thaw_fail(m->err, THAW_ERR_FORMAT, "%s: %s", m->file, line);
}

int pth_nomem(Machine *m)
{
    return thaw_fail(m->err, THAW_ERR_NOMEM, "%s: out of memory", m->file);
}

Value *pth_vnew(Machine *m, VKind kind)
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

int pth_vappend(Value *c, Value *item)
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

void pth_machine_free(Machine *m)
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

void pth_storages_free(Machine *m)
{
    for (int i = 0; i < m->nst; i++) {
        free(m->st[i].key);
    }
    free(m->st);
    m->st = NULL;
    m->nst = m->stcap = 0;
}

/* ---- the pickle machine --------------------------------------------- */

int pth_push(Machine *m, Value *v)
{
    if (!v) {
        return pth_nomem(m);
    }
    if (m->sp == m->scap) {
        size_t cap = m->scap ? m->scap * 2 : 64;
        Value **s = realloc(m->stack, cap * sizeof *s);
        if (!s) {
            return pth_nomem(m);
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

Value *pth_pop(Machine *m)
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

uint64_t pth_rd_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

static Value *make_str(Machine *m, const uint8_t *p, size_t n)
{
    Value *v = pth_vnew(m, V_STR);
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
    Value *v = pth_vnew(m, kind);
    if (v) {
        v->i = i;
    }
    return v;
}

static Value *make_tuple(Machine *m, Value **items, size_t n)
{
    Value *v = pth_vnew(m, V_TUPLE);
    if (!v) {
        return NULL;
    }
    for (size_t k = 0; k < n; k++) {
        if (pth_vappend(v, items[k])) {
            return NULL;
        }
    }
    return v;
}

/* Runs one pickle from r->pos to its STOP; *result is the top of stack. */
int pth_unpickle(Machine *m, Reader *r, Value **result)
{
    pth_machine_free(m);
    m->memo_limit = 4 * (r->len - r->pos) + 1024;
    char mod[PTH_MAX_NAME + 1], name[PTH_MAX_NAME + 1];
    for (;;) {
        if (!need(r, 1)) {
            return pth_fmt_err(m, "the pickle ends before its STOP opcode (file "
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
            v = pth_pop(m);
            if (!v) {
                return pth_fmt_err(m, "the pickle stops with an empty "
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
            rc = pth_make_global(m, mod, name);
            break;
        }
        case 0x93: /* STACK_GLOBAL */
            w = pth_pop(m);
            v = pth_pop(m);
            if (!v || !w || v->kind != V_STR || w->kind != V_STR ||
                v->slen > PTH_MAX_NAME || w->slen > PTH_MAX_NAME ||
                strlen(v->s) != v->slen || strlen(w->s) != w->slen) {
                goto bad;
            }
            rc = pth_make_global(m, v->s, w->s);
            break;
        case 'Q': /* BINPERSID */
            rc = pth_persistent_load(m, pth_pop(m));
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
            if ((rc = memo_put(m, pth_rd_le(a, 4), top(m))) != 0) {
                if (rc == -3) {
                    return pth_nomem(m);
                }
                goto bad;
            }
            break;
        case 0x94: /* MEMOIZE */
            if ((rc = memo_put(m, m->memo_n, top(m))) != 0) {
                if (rc == -3) {
                    return pth_nomem(m);
                }
                goto bad;
            }
            break;
        case 'h': /* BINGET */
        case 'j': /* LONG_BINGET */
            NEED(op == 'h' ? 1 : 4);
            u = pth_rd_le(a, op == 'h' ? 1 : 4);
            r->pos += op == 'h' ? 1 : 4;
            if (u >= m->memo_cap || !m->memo[u]) {
                return pth_fmt_err(m, "the pickle reads an unset memo entry%s%s",
                                   NULL, NULL);
            }
            rc = pth_push(m, m->memo[u]);
            break;
        case '(': /* MARK */
            if (m->nmarks == m->mcap) {
                size_t cap = m->mcap ? m->mcap * 2 : 16;
                size_t *mk = realloc(m->marks, cap * sizeof *mk);
                if (!mk) {
                    return pth_nomem(m);
                }
                m->marks = mk;
                m->mcap = cap;
            }
            m->marks[m->nmarks++] = m->sp;
            break;
        case '}': rc = pth_push(m, pth_vnew(m, V_DICT)); break;
        case ']': rc = pth_push(m, pth_vnew(m, V_LIST)); break;
        case ')': rc = pth_push(m, pth_vnew(m, V_TUPLE)); break;
        case 'N': rc = pth_push(m, pth_vnew(m, V_NONE)); break;
        case 0x88: rc = pth_push(m, make_int(m, V_BOOL, 1)); break;
        case 0x89: rc = pth_push(m, make_int(m, V_BOOL, 0)); break;
        case 't': /* TUPLE */
            if (pop_mark(m, &from)) {
                goto bad;
            }
            v = make_tuple(m, m->sp > from ? m->stack + from : NULL,
                           m->sp - from);
            m->sp = from;
            rc = pth_push(m, v);
            break;
        case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
            size_t n = (size_t)(op - 0x84);
            if (m->sp < mark_base(m) + n) {
                goto bad;
            }
            m->sp -= n;
            rc = pth_push(m, make_tuple(m, m->stack + m->sp, n));
            break;
        }
        case 'J': /* BININT */
            NEED(4);
            r->pos += 4;
            rc = pth_push(m, make_int(m, V_INT, (int32_t)(uint32_t)pth_rd_le(a, 4)));
            break;
        case 'K': /* BININT1 */
            NEED(1);
            r->pos += 1;
            rc = pth_push(m, make_int(m, V_INT, a[0]));
            break;
        case 'M': /* BININT2 */
            NEED(2);
            r->pos += 2;
            rc = pth_push(m, make_int(m, V_INT, (int64_t)pth_rd_le(a, 2)));
            break;
        case 0x8a: { /* LONG1 */
            NEED(1);
            size_t n = a[0];
            NEED(1 + n);
            r->pos += 1 + n;
            if (n <= 8) {
                uint64_t raw = n ? pth_rd_le(a + 1, (int)n) : 0;
                if (n && n < 8 && (a[n] & 0x80)) {
                    raw |= UINT64_MAX << (8 * n);
                }
                rc = pth_push(m, make_int(m, V_INT, (int64_t)raw));
            } else {
                v = make_str(m, a + 1, n);
                if (v) {
                    v->kind = V_BIGINT;
                }
                rc = pth_push(m, v);
            }
            break;
        }
        case 'G': /* BINFLOAT, big-endian */
            NEED(8);
            r->pos += 8;
            v = pth_vnew(m, V_FLOAT);
            if (v) {
                u = 0;
                for (int k = 0; k < 8; k++) {
                    u = (u << 8) | a[k];
                }
                memcpy(&v->f, &u, 8);
            }
            rc = pth_push(m, v);
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
            u = pth_rd_le(a, w8);
            if (op == 'T' && (u & 0x80000000u)) {
                goto bad;
            }
            r->pos += (size_t)w8;
            if (u > r->len - r->pos) {
                goto truncated;
            }
            rc = pth_push(m, make_str(m, a + w8, (size_t)u));
            r->pos += (size_t)u;
            break;
        }
        case 'R': /* REDUCE */
            rc = pth_do_reduce(m);
            break;
        case 'b': /* BUILD: only the state of an OrderedDict (_metadata) */
            w = pth_pop(m);
            v = top(m);
            if (!w || !v || v->kind != V_DICT) {
                return pth_fmt_err(m, "BUILD on something other than a dict "
                                   "(not a plain state_dict)%s%s", NULL, NULL);
            }
            break;
        case 's': /* SETITEM */
            x = pth_pop(m);
            w = pth_pop(m);
            v = top(m);
            if (!x || !w || !v || v->kind != V_DICT) {
                goto bad;
            }
            if (pth_vappend(v, w) || pth_vappend(v, x)) {
                return pth_nomem(m);
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
                if (pth_vappend(v, m->stack[k])) {
                    return pth_nomem(m);
                }
            }
            m->sp = from;
            break;
        case 'a': /* APPEND */
            w = pth_pop(m);
            v = top(m);
            if (!w || !v || v->kind != V_LIST) {
                goto bad;
            }
            if (pth_vappend(v, w)) {
                return pth_nomem(m);
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
