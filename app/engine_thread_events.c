/* TrainEvent / TrainSnapshot -> BusEvent copies: see engine_thread_events.h. */
#include "engine_thread_events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/engine_thread.h"

/* The bus mirrors the engine's snapshot layout with its own plain types. */
_Static_assert(BUS_NAME_MAX == TRAIN_SNAP_NAME, "bus and engine name sizes differ");
_Static_assert(sizeof(((BusSnapshot *)0)->cache) == sizeof(((TrainSnapshot *)0)->cache),
               "bus and engine cache line sizes differ");

static BusEventKind bus_kind(TrainEventKind kind)
{
    switch (kind) {
    case TRAIN_EV_START: return BUS_EV_START;
    case TRAIN_EV_STEP: return BUS_EV_STEP;
    case TRAIN_EV_EPOCH: return BUS_EV_EPOCH;
    case TRAIN_EV_LOG: return BUS_EV_LOG;
    case TRAIN_EV_DONE: return BUS_EV_DONE;
    }
    return BUS_EV_LOG;
}

/* Confusion matrix and class names; 0, or -1 when out of memory. */
static int copy_confusion(BusEvent *dst, const TrainEvent *ev)
{
    int k = ev->num_classes;
    if (!ev->confusion || k <= 0) {
        return 0;
    }
    dst->confusion = malloc((size_t)k * (size_t)k * sizeof *dst->confusion);
    if (!dst->confusion) {
        return -1;
    }
    memcpy(dst->confusion, ev->confusion, (size_t)k * (size_t)k * sizeof *dst->confusion);
    if (!ev->class_names) {
        return 0;
    }
    dst->class_names = calloc((size_t)k, sizeof *dst->class_names);
    if (!dst->class_names) {
        return -1;
    }
    for (int i = 0; i < k; i++) {
        dst->class_names[i] = strdup(ev->class_names[i] ? ev->class_names[i] : "");
        if (!dst->class_names[i]) {
            return -1;
        }
    }
    return 0;
}

void engine_thread_post_train_event(Bus *bus, const TrainEvent *ev)
{
    BusEvent out = {
        .kind = bus_kind(ev->kind),
        .epoch = ev->epoch,
        .epochs = ev->epochs,
        .step = ev->step,
        .total_steps = ev->total_steps,
        .loss = ev->loss,
        .lr = ev->lr,
        .train_loss = ev->train_loss,
        .train_acc = ev->train_acc,
        .val_loss = ev->val_loss,
        .val_acc = ev->val_acc,
        .has_val = ev->has_val,
        .samples_per_s = ev->samples_per_s,
        .eta_s = ev->eta_s,
        .num_classes = ev->num_classes,
    };
    int failed = 0;
    if (ev->msg) {
        out.msg = strdup(ev->msg);
        failed |= out.msg == NULL;
    }
    if (ev->kind == TRAIN_EV_DONE) {
        failed |= copy_confusion(&out, ev) != 0;
    }
    if (failed) {
        /* Out of memory: drop the arrays, keep the numbers. */
        bus_event_free(&out);
        out.kind = bus_kind(ev->kind);
        out.step = ev->step;
        out.loss = ev->loss;
    }
    bus_post_event(bus, &out);
}

/* The shape column's text: "7x7x512" per sample (a head's vector is
 * "1x1x10"), "Tx384" per token (a text encoder's embeddings and encoder
 * modules: T is the batch's sequence length). */
static void layer_shape(const TrainSnapLayer *l, char *out, size_t cap)
{
    if (l->out_h == TRAIN_SNAP_PER_TOKEN) {
        snprintf(out, cap, "Tx%d", l->out_c);
    } else {
        snprintf(out, cap, "%dx%dx%d", l->out_h, l->out_w, l->out_c);
    }
}

int engine_thread_post_snapshot(Bus *bus, TrainCtl *ctl, ThawError *err)
{
    TrainSnapshot snap;
    memset(&snap, 0, sizeof snap);
    if (train_ctl_snapshot(ctl, &snap, err) != 0) {
        train_snapshot_free(&snap);
        return -1;
    }
    BusEvent ev = {.kind = BUS_EV_SNAPSHOT};
    BusSnapshot *b = &ev.snapshot;
    b->epoch = snap.epoch;
    b->epochs = snap.epochs;
    b->step = snap.step;
    b->total_steps = snap.total_steps;
    b->trainable_params = snap.trainable_params;
    memcpy(b->cache, snap.cache, sizeof b->cache);
    if (snap.device[0]) {
        snprintf(b->device, sizeof b->device, "%.63s", snap.device);
    } else {
        engine_device_text(b->device, sizeof b->device);
    }
    b->groups = calloc(snap.n_groups > 0 ? (size_t)snap.n_groups : 1, sizeof *b->groups);
    b->layers = calloc(snap.n_layers > 0 ? (size_t)snap.n_layers : 1, sizeof *b->layers);
    if (!b->groups || !b->layers) {
        bus_event_free(&ev);
        train_snapshot_free(&snap);
        thaw_fail(err, THAW_ERR_NOMEM, "out of memory for a snapshot");
        return -1;
    }
    b->n_groups = snap.n_groups;
    b->n_layers = snap.n_layers;
    for (int g = 0; g < snap.n_groups; g++) {
        const TrainSnapGroup *s = &snap.groups[g];
        BusSnapGroup *d = &b->groups[g];
        memcpy(d->name, s->name, sizeof d->name);
        d->frozen = s->frozen;
        d->partial = s->partial;
        d->trainable_params = s->trainable_params;
        d->base_lr = s->base_lr;
        d->lr = s->lr;
        d->weight_decay = s->weight_decay;
        d->params = s->params;
        d->bn_batch_stats = s->bn_batch_stats;
    }
    for (int i = 0; i < snap.n_layers; i++) {
        const TrainSnapLayer *s = &snap.layers[i];
        BusSnapLayer *d = &b->layers[i];
        memcpy(d->name, s->name, sizeof d->name);
        d->group = s->group;
        d->out_h = s->out_h;
        d->out_w = s->out_w;
        d->out_c = s->out_c;
        layer_shape(s, d->shape, sizeof d->shape);
        d->params = s->params;
        d->frozen = s->frozen;
    }
    int epoch = snap.epoch;
    train_snapshot_free(&snap);
    bus_post_event(bus, &ev);
    return epoch;
}
