#include "evaluate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/data/loader.h"

static int argmax(const float *x, int n)
{
    int best = 0;
    for (int k = 1; k < n; k++) {
        if (x[k] > x[best]) {
            best = k;
        }
    }
    return best;
}

int64_t eval_score_logits(const float *logits, const int32_t *labels, int count, int k,
                          double *loss_sum, int64_t *confusion)
{
    int64_t correct = 0;
    for (int i = 0; i < count; i++) {
        const float *z = logits + (size_t)i * k;
        int p = argmax(z, k);
        double lse = 0;
        for (int c = 0; c < k; c++) {
            lse += exp((double)z[c] - z[p]);
        }
        *loss_sum += log(lse) + z[p] - z[labels[i]];
        correct += p == labels[i];
        confusion[(size_t)labels[i] * k + p]++;
    }
    return correct;
}

int eval_model(Model *m, const ThawDataset *ds, const EvalOptions *opt, EvalResult *res,
               ThawError *err)
{
    memset(res, 0, sizeof *res);
    int k = m->num_classes;
    if (thaw_dataset_num_classes(ds) != k) {
        return thaw_fail(err, THAW_ERR_MISMATCH,
                         "the dataset has %d classes, the model's classifier %d",
                         thaw_dataset_num_classes(ds), k);
    }
    int64_t n_items = thaw_dataset_count(ds);
    if (n_items < 1) {
        return thaw_fail(err, THAW_ERR_ARG, "the dataset has no items");
    }
    int n = (int)(n_items < opt->batch ? n_items : opt->batch);
    GraphMode mode = {.training = 0, .train_bn = 0, .want_input_grad = 0};
    int rc = model_plan(m, n, opt->image_size, opt->image_size, &mode, err);
    if (rc != 0) {
        return rc;
    }
    ThawLoaderConfig lc = {0};
    lc.batch_size = n;
    lc.workers = opt->workers > 0 ? opt->workers : 1;
    lc.transform = thaw_transform_eval(opt->resize_short, opt->image_size);
    ThawLoader *loader = NULL;
    size_t per = (size_t)3 * opt->image_size * opt->image_size;
    float *input = calloc(per * (size_t)n, sizeof *input);
    res->confusion = calloc((size_t)k * k, sizeof *res->confusion);
    res->classes = k;
    if (!input || !res->confusion) {
        rc = thaw_fail(err, THAW_ERR_NOMEM, "out of memory");
    }
    rc = rc ? rc : thaw_loader_create(ds, &lc, &loader, err);
    rc = rc ? rc : thaw_loader_start_epoch(loader, 0, err);
    double loss_sum = 0;
    int64_t correct = 0;
    const ThawBatch *b;
    while (rc == 0 && (rc = thaw_loader_next(loader, &b, err)) == 0 && b) {
        /* the plan is for n images: a short last batch is padded with zeros */
        memset(input, 0, per * (size_t)n * sizeof *input);
        memcpy(input, b->images, per * (size_t)b->count * sizeof *input);
        model_forward(m, input);
        correct += eval_score_logits(model_logits(m), b->labels, b->count, k, &loss_sum,
                                     res->confusion);
        res->count += b->count;
    }
    thaw_loader_destroy(loader);
    free(input);
    if (rc != 0) {
        eval_result_free(res);
        return rc;
    }
    res->loss = loss_sum / (double)res->count;
    res->accuracy = (double)correct / (double)res->count;
    return 0;
}

void eval_result_free(EvalResult *res)
{
    free(res->confusion);
    res->confusion = NULL;
}
