/* Prefetching batch loader: worker threads (pthreads) decode and transform
 * whole batches ahead of the consumer into a ring of `depth` batch buffers
 * (images NCHW float32, labels int32).
 *
 * Determinism: an epoch's order is a Fisher-Yates shuffle seeded with
 * thaw_seed_mix(seed, epoch) (or the dataset order when shuffle is off), and
 * item at position p gets the transform seed thaw_seed_mix(epoch seed, p).
 * Batch b always lands in slot b % depth and the consumer takes batches in
 * order, so the bytes of every batch are the same for any worker count and
 * any thread timing.
 *
 * Use: create, then per epoch thaw_loader_start_epoch and thaw_loader_next
 * until it returns 0. A batch returned by next stays valid until the next
 * call to next, start_epoch or destroy. destroy stops and joins the workers
 * (also mid-epoch). One consumer thread. */
#ifndef THAW_DATA_LOADER_H
#define THAW_DATA_LOADER_H

#include <stdint.h>

#include "engine/core/error.h"
#include "engine/data/dataset.h"
#include "engine/data/transforms.h"

typedef struct ThawLoaderConfig {
    int batch_size;
    int workers;     /* >= 1 */
    int depth;       /* batch buffers in the ring; 0 = workers + 2 */
    int shuffle;
    int drop_last;   /* drop a final partial batch */
    uint64_t seed;
    ThawTransform transform;
} ThawLoaderConfig;

typedef struct ThawBatch {
    int64_t index;   /* batch number within the epoch */
    int count;       /* items in this batch (< batch_size only when last) */
    int h, w;
    float *images;   /* [count, 3, h, w] */
    int32_t *labels; /* [count] */
    int64_t *items;  /* [count] dataset item index of each sample */
} ThawBatch;

typedef struct ThawLoader ThawLoader;

/* The dataset must outlive the loader. */
int thaw_loader_create(const ThawDataset *ds, const ThawLoaderConfig *cfg,
                       ThawLoader **out, ThawError *err);
/* Batches per epoch. */
int64_t thaw_loader_num_batches(const ThawLoader *l);
/* Starts epoch `epoch` (any order; waits for work of a previous epoch that
 * is still in flight and discards it). */
int thaw_loader_start_epoch(ThawLoader *l, int64_t epoch, ThawError *err);
/* THAW_OK with *out set to the next batch, or to NULL when the epoch is
 * over; else an error code (a worker's load error, naming the file) and
 * *out NULL. Loop: while ((rc = thaw_loader_next(l, &b, err)) == 0 && b). */
int thaw_loader_next(ThawLoader *l, const ThawBatch **out, ThawError *err);
void thaw_loader_destroy(ThawLoader *l);

#endif
