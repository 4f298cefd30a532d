/* Token indices grouped by id, for a scatter-add that is deterministic on
 * a GPU: each distinct id's tokens in increasing index, so one thread per
 * (id, column) adds the rows in the CPU op's order (embedding_backward)
 * and the sums are the same bits, without atomics. Built on the host from
 * the ids a batch uploads. */
#ifndef THAW_OP_EMBEDDING_GROUPS_H
#define THAW_OP_EMBEDDING_GROUPS_H

#include <stdint.h>

typedef struct {
    int n_groups;      /* distinct ids */
    int32_t *id;       /* [n_groups] the id of each group, ascending */
    int32_t *start;    /* [n_groups + 1] group g is order[start[g] .. start[g+1]) */
    int32_t *order;    /* [n] token indices, by id then index */
} EmbeddingGroups;

/* Fills g for ids[0..n) (g's arrays hold n, n + 1 and n entries; the caller
 * owns them). Stable: tokens of one id keep their order. Returns 0, or -1
 * when n < 0 or an id is negative. */
int embedding_groups_build(EmbeddingGroups *g, const int32_t *ids, int n);

#endif
