/* The prefetching loader: a 2-worker (and 3-worker) epoch equals a 1-worker
 * epoch byte for byte, with a random train transform; epochs differ;
 * drop_last; restarting or destroying mid-epoch. Data: a seeded per-class
 * subset of Fashion-MNIST (also checks subset and split determinism). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/data/loader.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"
#define SIZE 32

static ThawDataset *full, *sub;

typedef struct Epoch {
    int64_t nb;
    float *x;
    int32_t *y;
    int64_t items;
} Epoch;

static Epoch run_epoch(int workers, int drop_last, int64_t epoch, int batch)
{
    ThawLoaderConfig cfg = {0};
    cfg.batch_size = batch;
    cfg.workers = workers;
    cfg.shuffle = 1;
    cfg.drop_last = drop_last;
    cfg.seed = 1234;
    cfg.transform = thaw_transform_train(SIZE);
    ThawLoader *l = NULL;
    ThawError err = {0};
    assert_int_equal(thaw_loader_create(sub, &cfg, &l, &err), 0);
    assert_int_equal(thaw_loader_start_epoch(l, epoch, &err), 0);
    Epoch e = {0};
    int64_t n = thaw_dataset_count(sub);
    size_t per = 3 * SIZE * SIZE;
    e.x = calloc((size_t)n * per, sizeof(float));
    e.y = calloc((size_t)n, sizeof(int32_t));
    const ThawBatch *b;
    int rc;
    while ((rc = thaw_loader_next(l, &b, &err)) == 0 && b) {
        assert_int_equal(b->index, e.nb);
        memcpy(e.x + (size_t)e.items * per, b->images,
               (size_t)b->count * per * sizeof(float));
        memcpy(e.y + e.items, b->labels, (size_t)b->count * sizeof(int32_t));
        e.items += b->count;
        e.nb++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(e.nb, thaw_loader_num_batches(l));
    thaw_loader_destroy(l);
    return e;
}

static void free_epoch(Epoch *e)
{
    free(e->x);
    free(e->y);
}

static void test_workers_same_bytes(void **state)
{
    (void)state;
    int64_t n = thaw_dataset_count(sub);
    size_t per = 3 * SIZE * SIZE;
    Epoch a = run_epoch(1, 0, 0, 16);
    Epoch b = run_epoch(2, 0, 0, 16);
    Epoch c = run_epoch(3, 0, 0, 16);
    assert_int_equal(a.items, n);
    assert_int_equal(a.nb, (n + 15) / 16);
    assert_memory_equal(a.x, b.x, (size_t)n * per * sizeof(float));
    assert_memory_equal(a.y, b.y, (size_t)n * sizeof(int32_t));
    assert_memory_equal(a.x, c.x, (size_t)n * per * sizeof(float));
    /* Each item appears once: label histogram equals the subset's. */
    int hist[10] = {0};
    for (int64_t i = 0; i < n; i++)
        hist[a.y[i]]++;
    for (int k = 0; k < 10; k++)
        assert_int_equal(hist[k], 7);
    Epoch d = run_epoch(2, 0, 1, 16);
    assert_memory_not_equal(a.y, d.y, (size_t)n * sizeof(int32_t));
    free_epoch(&a);
    free_epoch(&b);
    free_epoch(&c);
    free_epoch(&d);
}

static void test_drop_last(void **state)
{
    (void)state;
    Epoch a = run_epoch(2, 1, 0, 16); /* 70 items: 4 full batches */
    assert_int_equal(a.nb, 4);
    assert_int_equal(a.items, 64);
    free_epoch(&a);
}

static void test_restart_and_early_destroy(void **state)
{
    (void)state;
    ThawLoaderConfig cfg = {0};
    cfg.batch_size = 8;
    cfg.workers = 2;
    cfg.depth = 3;
    cfg.shuffle = 1;
    cfg.seed = 99;
    cfg.transform = thaw_transform_eval(0, SIZE);
    ThawLoader *l = NULL;
    ThawError err = {0};
    assert_int_equal(thaw_loader_create(sub, &cfg, &l, &err), 0);
    const ThawBatch *b;
    assert_int_not_equal(thaw_loader_next(l, &b, &err), 0); /* no epoch */
    assert_int_equal(thaw_loader_start_epoch(l, 0, &err), 0);
    assert_int_equal(thaw_loader_next(l, &b, &err), 0);
    assert_non_null(b);
    int32_t first[8];
    memcpy(first, b->labels, sizeof first);
    assert_int_equal(thaw_loader_next(l, &b, &err), 0);
    assert_non_null(b);
    /* Restart the same epoch mid-way: same first batch. */
    assert_int_equal(thaw_loader_start_epoch(l, 0, &err), 0);
    assert_int_equal(thaw_loader_next(l, &b, &err), 0);
    assert_non_null(b);
    assert_int_equal(b->index, 0);
    assert_memory_equal(first, b->labels, sizeof first);
    thaw_loader_destroy(l); /* workers still busy ahead: must join cleanly */

    assert_int_equal(thaw_loader_create(sub, &cfg, &l, &err), 0);
    thaw_loader_destroy(l); /* never started */
    cfg.batch_size = 0;
    assert_int_equal(thaw_loader_create(sub, &cfg, &l, &err), THAW_ERR_ARG);
}

static void test_subset_split_deterministic(void **state)
{
    (void)state;
    ThawError err = {0};
    ThawDataset *s2 = NULL, *s3 = NULL;
    assert_int_equal(thaw_dataset_subset_per_class(full, 7, 5, &s2, &err), 0);
    assert_int_equal(thaw_dataset_subset_per_class(full, 7, 6, &s3, &err), 0);
    assert_int_equal(thaw_dataset_count(s2), 70);
    int same = 1, differ = 0;
    for (int64_t i = 0; i < 70; i++) {
        same &= thaw_dataset_source_index(s2, i) ==
                thaw_dataset_source_index(sub, i);
        differ |= thaw_dataset_source_index(s3, i) !=
                  thaw_dataset_source_index(sub, i);
        if (i > 0)
            assert_true(thaw_dataset_source_index(s2, i) >
                        thaw_dataset_source_index(s2, i - 1));
    }
    assert_true(same);
    assert_true(differ);
    ThawDataset *tr = NULL, *va = NULL, *tr2 = NULL, *va2 = NULL;
    assert_int_equal(thaw_dataset_split(full, 0.1, 3, &tr, &va, &err), 0);
    assert_int_equal(thaw_dataset_split(full, 0.1, 3, &tr2, &va2, &err), 0);
    assert_int_equal(thaw_dataset_count(va), 6000); /* 600 of 6000 per class */
    assert_int_equal(thaw_dataset_count(tr), 54000);
    for (int64_t i = 0; i < 6000; i++)
        assert_int_equal(thaw_dataset_source_index(va, i),
                         thaw_dataset_source_index(va2, i));
    int hist[10] = {0};
    for (int64_t i = 0; i < 6000; i++)
        hist[thaw_dataset_label(va, i)]++;
    for (int k = 0; k < 10; k++)
        assert_int_equal(hist[k], 600);
    /* A split of a view is a view of the same source. */
    ThawDataset *a = NULL, *b = NULL;
    assert_int_equal(thaw_dataset_split(s2, 0.5, 1, &a, &b, &err), 0);
    assert_int_equal(thaw_dataset_count(a) + thaw_dataset_count(b), 70);
    thaw_dataset_free(a);
    thaw_dataset_free(b);
    assert_int_equal(thaw_dataset_split(full, 1.5, 1, &a, &b, &err), THAW_ERR_ARG);
    assert_null(a);
    thaw_dataset_free(s2);
    thaw_dataset_free(s3);
    thaw_dataset_free(tr);
    thaw_dataset_free(va);
    thaw_dataset_free(tr2);
    thaw_dataset_free(va2);
}

static int setup(void **state)
{
    (void)state;
    ThawError err = {0};
    if (thaw_dataset_open_fashion_mnist(FMNIST, 1, &full, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    return thaw_dataset_subset_per_class(full, 7, 5, &sub, &err);
}

static int teardown(void **state)
{
    (void)state;
    thaw_dataset_free(sub);
    thaw_dataset_free(full); /* the subset shares the source: any order */
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_workers_same_bytes),
        cmocka_unit_test(test_drop_last),
        cmocka_unit_test(test_restart_and_early_destroy),
        cmocka_unit_test(test_subset_split_deterministic),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
