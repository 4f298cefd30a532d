#include "loader.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { SLOT_FREE = 0, SLOT_FILLING, SLOT_READY };

typedef struct Slot {
    int state;
    ThawBatch batch;
    int rc;
    ThawError err;
} Slot;

struct ThawLoader {
    const ThawDataset *ds;
    ThawLoaderConfig cfg;
    int64_t n_items, n_batches;
    int64_t *order;
    uint64_t epoch_seed;

    pthread_mutex_t mu;
    pthread_cond_t work_cv;  /* workers wait for claimable batches */
    pthread_cond_t ready_cv; /* consumer waits for a slot / in-flight = 0 */
    int depth;
    Slot *slots;
    int active;          /* an epoch is running */
    int stop;
    int64_t next_claim;  /* next batch a worker may take */
    int64_t next_take;   /* next batch the consumer takes */
    int64_t held;        /* batch the consumer holds (-1 none) */
    int in_flight;       /* batches being filled */
    pthread_t *threads;
    int n_threads;
};

static void fill_batch(ThawLoader *l, int64_t b, Slot *s)
{
    const ThawLoaderConfig *c = &l->cfg;
    int64_t first = b * c->batch_size;
    int64_t left = l->n_items - first;
    int count = left < c->batch_size ? (int)left : c->batch_size;
    size_t per = (size_t)3 * (size_t)c->transform.out_h *
                 (size_t)c->transform.out_w;
    s->batch.index = b;
    s->batch.count = count;
    s->rc = THAW_OK;
    thaw_error_clear(&s->err);
    for (int i = 0; i < count; i++) {
        int64_t pos = first + i;
        int64_t item = l->order[pos];
        s->batch.labels[i] = thaw_dataset_label(l->ds, item);
        s->batch.items[i] = item;
        int rc = thaw_dataset_load(l->ds, item, &c->transform,
                                   thaw_seed_mix(l->epoch_seed, (uint64_t)pos),
                                   s->batch.images + (size_t)i * per, &s->err);
        if (rc) {
            s->rc = rc;
            return;
        }
    }
}

static void *worker_main(void *arg)
{
    ThawLoader *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->stop &&
               !(l->active && l->next_claim < l->n_batches &&
                 l->slots[l->next_claim % l->depth].state == SLOT_FREE))
            pthread_cond_wait(&l->work_cv, &l->mu);
        if (l->stop)
            break;
        int64_t b = l->next_claim++;
        Slot *s = &l->slots[b % l->depth];
        s->state = SLOT_FILLING;
        l->in_flight++;
        pthread_mutex_unlock(&l->mu);
        fill_batch(l, b, s);
        pthread_mutex_lock(&l->mu);
        s->state = SLOT_READY;
        l->in_flight--;
        pthread_cond_broadcast(&l->ready_cv);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

int64_t thaw_loader_num_batches(const ThawLoader *l) { return l->n_batches; }

static void free_slots(ThawLoader *l)
{
    if (l->slots)
        for (int i = 0; i < l->depth; i++) {
            free(l->slots[i].batch.images);
            free(l->slots[i].batch.labels);
            free(l->slots[i].batch.items);
        }
    free(l->slots);
}

int thaw_loader_create(const ThawDataset *ds, const ThawLoaderConfig *cfg,
                       ThawLoader **out, ThawError *err)
{
    *out = NULL;
    if (cfg->batch_size <= 0 || cfg->workers <= 0 || cfg->workers > 256 ||
        cfg->depth < 0 || cfg->transform.out_h <= 0 ||
        cfg->transform.out_w <= 0)
        return thaw_fail(err, THAW_ERR_ARG,
                         "loader: bad config (batch %d, workers %d, depth %d, "
                         "output %dx%d)",
                         cfg->batch_size, cfg->workers, cfg->depth,
                         cfg->transform.out_h, cfg->transform.out_w);
    ThawLoader *l = calloc(1, sizeof *l);
    if (!l)
        return thaw_fail(err, THAW_ERR_NOMEM, "loader: out of memory");
    l->ds = ds;
    l->cfg = *cfg;
    l->n_items = thaw_dataset_count(ds);
    l->n_batches = cfg->drop_last
                       ? l->n_items / cfg->batch_size
                       : (l->n_items + cfg->batch_size - 1) / cfg->batch_size;
    l->depth = cfg->depth ? cfg->depth : cfg->workers + 2;
    if (l->depth < 2)
        l->depth = 2;
    l->held = -1;
    l->order = malloc((size_t)(l->n_items > 0 ? l->n_items : 1) *
                      sizeof *l->order);
    l->slots = calloc((size_t)l->depth, sizeof *l->slots);
    l->threads = calloc((size_t)cfg->workers, sizeof *l->threads);
    int ok = l->order && l->slots && l->threads;
    size_t per = (size_t)3 * (size_t)cfg->transform.out_h *
                 (size_t)cfg->transform.out_w;
    for (int i = 0; ok && i < l->depth; i++) {
        l->slots[i].batch.images =
            malloc(per * (size_t)cfg->batch_size * sizeof(float));
        l->slots[i].batch.labels =
            malloc((size_t)cfg->batch_size * sizeof(int32_t));
        l->slots[i].batch.items =
            malloc((size_t)cfg->batch_size * sizeof(int64_t));
        l->slots[i].batch.h = cfg->transform.out_h;
        l->slots[i].batch.w = cfg->transform.out_w;
        ok = l->slots[i].batch.images && l->slots[i].batch.labels &&
             l->slots[i].batch.items;
    }
    if (!ok) {
        free(l->order);
        free_slots(l);
        free(l->threads);
        free(l);
        return thaw_fail(err, THAW_ERR_NOMEM, "loader: out of memory");
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->work_cv, NULL);
    pthread_cond_init(&l->ready_cv, NULL);
    for (int i = 0; i < cfg->workers; i++) {
        if (pthread_create(&l->threads[i], NULL, worker_main, l) != 0) {
            l->n_threads = i;
            thaw_loader_destroy(l);
            return thaw_fail(err, THAW_ERR_NOMEM,
                             "loader: cannot start worker thread %d", i);
        }
    }
    l->n_threads = cfg->workers;
    *out = l;
    return THAW_OK;
}

int thaw_loader_start_epoch(ThawLoader *l, int64_t epoch, ThawError *err)
{
    (void)err;
    pthread_mutex_lock(&l->mu);
    l->active = 0; /* no new claims */
    while (l->in_flight > 0)
        pthread_cond_wait(&l->ready_cv, &l->mu);
    for (int i = 0; i < l->depth; i++)
        l->slots[i].state = SLOT_FREE;
    l->epoch_seed = thaw_seed_mix(l->cfg.seed, (uint64_t)epoch);
    for (int64_t i = 0; i < l->n_items; i++)
        l->order[i] = i;
    if (l->cfg.shuffle) {
        ThawRng rng;
        thaw_rng_seed(&rng, l->epoch_seed);
        for (int64_t i = l->n_items - 1; i > 0; i--) {
            int64_t j = thaw_rng_below(&rng, i + 1);
            int64_t t = l->order[i];
            l->order[i] = l->order[j];
            l->order[j] = t;
        }
    }
    l->next_claim = 0;
    l->next_take = 0;
    l->held = -1;
    l->active = 1;
    pthread_cond_broadcast(&l->work_cv);
    pthread_mutex_unlock(&l->mu);
    return THAW_OK;
}

int thaw_loader_next(ThawLoader *l, const ThawBatch **out, ThawError *err)
{
    *out = NULL;
    pthread_mutex_lock(&l->mu);
    if (!l->active) {
        pthread_mutex_unlock(&l->mu);
        return thaw_fail(err, THAW_ERR_ARG,
                         "loader: next() before start_epoch()");
    }
    if (l->held >= 0) {
        l->slots[l->held % l->depth].state = SLOT_FREE;
        l->held = -1;
        pthread_cond_broadcast(&l->work_cv);
    }
    if (l->next_take >= l->n_batches) {
        pthread_mutex_unlock(&l->mu);
        return THAW_OK;    /* epoch over: *out stays NULL */
    }
    int64_t b = l->next_take;
    Slot *s = &l->slots[b % l->depth];
    while (!(s->state == SLOT_READY && s->batch.index == b))
        pthread_cond_wait(&l->ready_cv, &l->mu);
    l->next_take++;
    l->held = b;
    int rc = s->rc;
    if (rc) {
        if (err)
            *err = s->err;
        pthread_mutex_unlock(&l->mu);
        return rc;
    }
    *out = &s->batch;
    pthread_mutex_unlock(&l->mu);
    return THAW_OK;
}

void thaw_loader_destroy(ThawLoader *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_cond_broadcast(&l->work_cv);
    pthread_mutex_unlock(&l->mu);
    for (int i = 0; i < l->n_threads; i++)
        pthread_join(l->threads[i], NULL);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->work_cv);
    pthread_cond_destroy(&l->ready_cv);
    free(l->order);
    free_slots(l);
    free(l->threads);
    free(l);
}
