/* Private to engine/io/pth*.c: the pickle machine's values and state,
 * shared by the opcode interpreter (pth_pickle.c), the torch globals it may
 * call (pth_torch.c), the zip container (pth_zip.c) and the legacy stream
 * and safetensors image builder (pth.c). */
#ifndef THAW_PTH_INTERNAL_H
#define THAW_PTH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "pth.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "pth*.c assume a little-endian host"
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

typedef struct {
    const uint8_t *p;
    size_t len, pos;
} Reader;

/* One error line "<file>: <fmt>" with THAW_ERR_FORMAT; fmt has two %s
 * (a, b; NULL prints nothing). */
int pth_fmt_err(Machine *m, const char *fmt, const char *a, const char *b);
int pth_nomem(Machine *m);
uint64_t pth_rd_le(const uint8_t *p, int n);

/* Values: every allocation is owned by the machine (freed together). */
Value *pth_vnew(Machine *m, VKind kind);
int pth_vappend(Value *c, Value *item);
/* Pushes v (NULL: out of memory, reported). */
int pth_push(Machine *m, Value *v);
/* Pops above the last MARK; NULL on a short stack. */
Value *pth_pop(Machine *m);
void pth_machine_free(Machine *m);
void pth_storages_free(Machine *m);

/* Runs one pickle from r->pos to its STOP; *result is the top of stack.
 * Storages found through persistent ids accumulate in m->st. */
int pth_unpickle(Machine *m, Reader *r, Value **result);

/* The only callables a state_dict pickle may use (pth_torch.c). */
int pth_make_global(Machine *m, const char *mod, const char *name);
int pth_persistent_load(Machine *m, Value *pid);
int pth_do_reduce(Machine *m);

/* The state_dict root (storages' data set) as an in-memory safetensors
 * image opened with the ordinary reader (pth.c); fmt_name goes into the
 * metadata's converted_from. */
int pth_build_image(Machine *m, const Value *root, size_t in_len,
                    const char *fmt_name, SafeTensors **out);

/* A torch >= 1.6 zip checkpoint (pth_zip.c). */
int pth_convert_zip(Machine *m, const uint8_t *buf, size_t len,
                    SafeTensors **out);

#endif
