/* Grouping by a stable merge sort of the token indices by id; n is a
 * batch's tokens (a few thousand), sorted on the host each step. */
#include "engine/ops/embedding_groups.h"

#include <stdlib.h>

/* Sorts order[lo, hi) by ids[order[.]] with tmp as scratch, keeping equal
 * ids in their incoming order. */
static void merge_sort(int32_t *order, int32_t *tmp, const int32_t *ids, int lo, int hi)
{
    if (hi - lo < 2) {
        return;
    }
    int mid = lo + (hi - lo) / 2;
    merge_sort(order, tmp, ids, lo, mid);
    merge_sort(order, tmp, ids, mid, hi);
    int a = lo, b = mid, k = lo;
    while (a < mid && b < hi) {
        tmp[k++] = ids[order[b]] < ids[order[a]] ? order[b++] : order[a++];
    }
    while (a < mid) {
        tmp[k++] = order[a++];
    }
    while (b < hi) {
        tmp[k++] = order[b++];
    }
    for (k = lo; k < hi; k++) {
        order[k] = tmp[k];
    }
}

int embedding_groups_build(EmbeddingGroups *g, const int32_t *ids, int n)
{
    g->n_groups = 0;
    if (n < 0) {
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0) {
            return -1;
        }
        g->order[i] = i;
    }
    /* the id array doubles as merge scratch: it is rewritten below */
    merge_sort(g->order, g->id, ids, 0, n);
    g->start[0] = 0;
    for (int k = 0; k < n; k++) {
        int32_t v = ids[g->order[k]];
        if (k == 0 || v != ids[g->order[k - 1]]) {
            g->id[g->n_groups] = v;
            g->start[g->n_groups] = k;
            g->n_groups++;
        }
    }
    g->start[g->n_groups] = n;
    return 0;
}
