/* The engine thread driven through the bus from the test thread, which runs
 * a real uv loop (the bus wakes it; its callback drains into a log), on a
 * real tiny job: resnet18 at 32x32, Fashion-MNIST 4 per class, batch 8,
 * 2 epochs (4 steps an epoch). Checks, in one session:
 *   ready state and a snapshot before START, and no steps;
 *   START -> running, step events; PAUSE -> paused, no step for 300 ms;
 *   while paused: SET_LAYER_FROZEN layer4.0.bn1 -> ACK ok and a snapshot
 *   with the layer frozen and layer4 partial, a bad layer -> ACK not ok
 *   naming it; SET_FROZEN layer4 -> ACK ok and a snapshot showing it,
 *   SET_LR head 1e-4 -> ACK ok and the snapshot's base lr, a bad group ->
 *   ACK not ok naming it, SAVE -> ACK with a file that exists;
 *   START resumes (a later step arrives); STOP_SAVE -> ACK with
 *   interrupted.safetensors (it exists), STATE done / stopped;
 *   REBUILD with a run whose dataset folder is missing -> ERROR naming the
 *   folder, STATE error; START after done is refused, after an error it
 *   retries; a good REBUILD holds in ready with a fresh snapshot;
 *   stop_and_join -> STATE exited last, and every command had one ACK.
 * Each wait has a timeout, so a bug fails the test instead of hanging it.
 * THAW_TEST_DEVICE=cuda[:N] runs the same session on a GPU (tests/gpu/run.sh
 * does; skipped when that device cannot be used) and checks the snapshots
 * name it; THAW_TEST_FMNIST=DIR reads Fashion-MNIST from DIR. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "app/bus.h"
#include "app/engine_thread.h"

#define MAX_RECS 4096
#define WAIT_MS 120000   /* generous: ASan builds step slowly */
#define FMNIST "/usr/share/datasets/fashion-mnist"

static const char *RUN_FMT =
    "{\"model\": {\"arch\": \"resnet18\", \"head\": \"linear\"},\n"
    " \"dataset\": {\"type\": \"fashion_mnist\", \"path\": \"%s\", \"subset_per_class\": 4,\n"
    "             \"image_size\": 32, \"augment\": false},\n"
    " \"strategy\": \"fine_tune\", \"trainable\": [\"layer4\"],\n"
    " \"optimizer\": {\"name\": \"adamw\", \"lr\": 0.001},\n"
    " \"epochs\": 2, \"batch\": 8, \"seed\": 1, \"threads\": 2}\n";
static char RUN_JSON[1024];

static const char *fmnist_dir(void)
{
    const char *env = getenv("THAW_TEST_FMNIST");
    return env && env[0] ? env : FMNIST;
}

/* The run file (with the data folder) and the device; skips the test when
 * the data or the asked-for device is not there. */
static ThawDevice test_setup(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", fmnist_dir());
    if (access(path, R_OK) != 0) {
        skip();
    }
    snprintf(RUN_JSON, sizeof RUN_JSON, RUN_FMT, fmnist_dir());
    ThawDevice d = {0};
    ThawError err = {0};
    const char *env = getenv("THAW_TEST_DEVICE");
    if (env && env[0]) {
        assert_int_equal(thaw_device_parse(env, &d, &err), 0);
        if (thaw_device_check(&d, &err) != 0) {
            print_message("skipped: %s\n", err.msg);
            skip();
        }
    }
    return d;
}

/* What the test keeps of each event. */
typedef struct {
    BusEventKind kind;
    BusState state;
    BusDoneReason done_reason;
    uint64_t cmd_id;
    int ok;
    int64_t step;            /* STEP: the newest step */
    int n_losses;
    int layer4_frozen;       /* SNAPSHOT */
    int layer4_partial;      /* SNAPSHOT */
    int64_t layer4_params, layer4_trainable;
    int bn1_frozen;          /* SNAPSHOT: layer4.0.bn1 */
    double head_base_lr;     /* SNAPSHOT */
    int n_groups, n_layers;
    int64_t trainable;       /* SNAPSHOT */
    char device[64];         /* SNAPSHOT */
    char msg[600];
} Rec;

typedef struct Harness Harness;
typedef int (*Pred)(Harness *h, const void *arg);

struct Harness {
    uv_loop_t loop;
    uv_timer_t timer;
    Bus *bus;
    EngineThread et;
    Rec recs[MAX_RECS];
    int n;
    int overflow;
    Pred pred;
    const void *pred_arg;
    int timed_out;
    /* the STEP event counter, and the last step sent */
    int steps_events;
    int64_t last_step;
    /* send PAUSE from the drain callback on the next STEP (fast reaction) */
    int pause_on_step;
    uint64_t auto_pause_id;
};

static void record(BusEvent *ev, void *user)
{
    Harness *h = user;
    if (h->n >= MAX_RECS) {
        h->overflow = 1;
        return;
    }
    Rec *r = &h->recs[h->n++];
    memset(r, 0, sizeof *r);
    r->kind = ev->kind;
    r->state = ev->state;
    r->done_reason = ev->done_reason;
    r->cmd_id = ev->cmd_id;
    r->ok = ev->ok;
    r->step = ev->step;
    r->n_losses = ev->n_losses;
    r->layer4_frozen = -1;
    snprintf(r->msg, sizeof r->msg, "%s", ev->msg ? ev->msg : "(null)");
    r->bn1_frozen = -1;
    if (ev->kind == BUS_EV_SNAPSHOT) {
        for (int i = 0; i < ev->snapshot.n_layers; i++) {
            if (strcmp(ev->snapshot.layers[i].name, "layer4.0.bn1") == 0) {
                r->bn1_frozen = ev->snapshot.layers[i].frozen;
            }
        }
        snprintf(r->device, sizeof r->device, "%s", ev->snapshot.device);
        r->n_groups = ev->snapshot.n_groups;
        r->n_layers = ev->snapshot.n_layers;
        r->trainable = ev->snapshot.trainable_params;
        for (int g = 0; g < ev->snapshot.n_groups; g++) {
            const BusSnapGroup *grp = &ev->snapshot.groups[g];
            if (strcmp(grp->name, "layer4") == 0) {
                r->layer4_frozen = grp->frozen;
                r->layer4_partial = grp->partial;
                r->layer4_params = grp->params;
                r->layer4_trainable = grp->trainable_params;
            } else if (strcmp(grp->name, "head") == 0) {
                r->head_base_lr = grp->base_lr;
            }
        }
    }
    if (ev->kind == BUS_EV_STEP) {
        h->steps_events++;
        h->last_step = ev->step;
        if (h->pause_on_step) {
            h->pause_on_step = 0;
            h->auto_pause_id = bus_send(h->bus, BUS_CMD_PAUSE);
        }
    }
}

static void on_wake(Bus *bus, void *user)
{
    Harness *h = user;
    bus_drain_events(bus, record, h);
    if (h->pred && h->pred(h, h->pred_arg)) {
        uv_stop(&h->loop);
    }
}

static void on_timer(uv_timer_t *t)
{
    Harness *h = t->data;
    h->timed_out = 1;
    uv_stop(&h->loop);
}

/* Runs the loop until pred holds or ms pass; returns whether it held. */
static int wait_until(Harness *h, Pred pred, const void *arg, int ms)
{
    h->pred = pred;
    h->pred_arg = arg;
    h->timed_out = 0;
    bus_drain_events(h->bus, record, h);
    if (pred && pred(h, arg)) {
        h->pred = NULL;
        return 1;
    }
    uv_timer_start(&h->timer, on_timer, (uint64_t)ms, 0);
    uv_run(&h->loop, UV_RUN_DEFAULT);
    uv_timer_stop(&h->timer);
    h->pred = NULL;
    return pred ? pred(h, arg) : 1;
}

/* ---- predicates ---- */

static int find_state(Harness *h, BusState st, int from)
{
    for (int i = from; i < h->n; i++) {
        if (h->recs[i].kind == BUS_EV_STATE && h->recs[i].state == st) {
            return i;
        }
    }
    return -1;
}

static const Rec *find_ack(Harness *h, uint64_t id)
{
    for (int i = 0; i < h->n; i++) {
        if (h->recs[i].kind == BUS_EV_ACK && h->recs[i].cmd_id == id) {
            return &h->recs[i];
        }
    }
    return NULL;
}

typedef struct {
    BusState state;
    int from;
} StateArg;

static int has_state(Harness *h, const void *arg)
{
    const StateArg *a = arg;
    return find_state(h, a->state, a->from) >= 0;
}

static int has_ack(Harness *h, const void *arg)
{
    return find_ack(h, *(const uint64_t *)arg) != NULL;
}

static int has_step_after(Harness *h, const void *arg)
{
    return h->steps_events > 0 && h->last_step > *(const int64_t *)arg;
}

/* The newest SNAPSHOT at or after index from, or NULL. */
static const Rec *snapshot_after(Harness *h, int from)
{
    const Rec *found = NULL;
    for (int i = from; i < h->n; i++) {
        if (h->recs[i].kind == BUS_EV_SNAPSHOT) {
            found = &h->recs[i];
        }
    }
    return found;
}

static int has_snapshot_after(Harness *h, const void *arg)
{
    return snapshot_after(h, *(const int *)arg) != NULL;
}

static int index_of(Harness *h, const Rec *r)
{
    return (int)(r - h->recs);
}

/* Sends a command and waits for its ACK; returns the ACK's record. */
static const Rec *ack_of(Harness *h, uint64_t id)
{
    assert_true(id > 0);
    if (!wait_until(h, has_ack, &id, WAIT_MS)) {
        fail_msg("no ACK for command %llu", (unsigned long long)id);
    }
    return find_ack(h, id);
}

static void wait_state(Harness *h, BusState st, int from)
{
    StateArg a = {st, from};
    if (!wait_until(h, has_state, &a, WAIT_MS)) {
        fail_msg("state %s never came (last event: %s %s)", bus_state_name(st),
                 h->n ? bus_event_name(h->recs[h->n - 1].kind) : "none",
                 h->n ? h->recs[h->n - 1].msg : "");
    }
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && st.st_size > 0;
}

static void drive_a_run(void **state)
{
    (void)state;
    ThawDevice device = test_setup();
    char dir[] = "/tmp/thaw_engine_thread_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char out_dir[256];
    snprintf(out_dir, sizeof out_dir, "%s/out", dir);

    Harness *h = calloc(1, sizeof *h);
    assert_non_null(h);
    assert_int_equal(uv_loop_init(&h->loop), 0);
    uv_timer_init(&h->loop, &h->timer);
    h->timer.data = h;
    h->bus = bus_open(&h->loop, on_wake, h);
    assert_non_null(h->bus);

    RunConfig cfg;
    ThawError err = {0};
    assert_int_equal(run_config_parse(&cfg, "tiny.json", RUN_JSON, &err), 0);
    assert_int_equal(engine_thread_start(&h->et, h->bus, &cfg, &device, out_dir, &err), 0);
    run_config_free(&cfg);   /* the thread has its own copy */

    /* 1. loading, then ready with a snapshot, and no steps */
    wait_state(h, BUS_STATE_READY, 0);
    int ready = find_state(h, BUS_STATE_READY, 0);
    assert_true(find_state(h, BUS_STATE_LOADING, 0) >= 0);
    assert_true(find_state(h, BUS_STATE_LOADING, 0) < ready);
    const Rec *snap = snapshot_after(h, 0);
    assert_non_null(snap);
    assert_true(index_of(h, snap) < ready);
    assert_true(snap->n_groups >= 6);   /* stem, layer1..4, head at least */
    assert_true(snap->head_base_lr == 1e-3);
    assert_true(snap->n_layers > 10);
    assert_int_equal(snap->layer4_frozen, 0);   /* fine_tune: layer4 trains */
    print_message("device in the snapshot: %s\n", snap->device);
    if (device.cuda) {
        assert_int_equal(strncmp(snap->device, "cuda:", 5), 0);
    } else {
        assert_int_equal(strncmp(snap->device, "CPU, ", 5), 0);
    }
    int64_t trainable_before = snap->trainable;
    wait_until(h, NULL, NULL, 200);
    assert_int_equal(h->steps_events, 0);   /* ready holds before START */

    /* 2. START: running and steps; PAUSE from the first step's callback */
    h->pause_on_step = 1;
    uint64_t start_id = bus_send(h->bus, BUS_CMD_START);
    assert_true(ack_of(h, start_id)->ok);
    wait_state(h, BUS_STATE_RUNNING, ready);
    int64_t none = 0;
    assert_true(wait_until(h, has_step_after, &none, WAIT_MS));
    assert_true(ack_of(h, h->auto_pause_id)->ok);
    wait_state(h, BUS_STATE_PAUSED, ready);
    int paused_at = find_state(h, BUS_STATE_PAUSED, ready);
    int steps_when_paused = h->steps_events;
    int64_t paused_step = h->last_step;
    print_message("paused after step %lld\n", (long long)paused_step);
    assert_true(paused_step >= 1 && paused_step < 8);
    wait_until(h, NULL, NULL, 300);
    assert_int_equal(h->steps_events, steps_when_paused);   /* no step while paused */

    /* 3. edits while paused: one layer, then its whole group */
    const Rec *ack = ack_of(h, bus_send_set_layer_frozen(h->bus, "layer4.0.bn1", 1));
    assert_true(ack->ok);
    int ack_at = index_of(h, ack);
    assert_true(wait_until(h, has_snapshot_after, &ack_at, WAIT_MS));
    snap = snapshot_after(h, ack_at);
    assert_non_null(snap);
    assert_int_equal(snap->bn1_frozen, 1);
    assert_int_equal(snap->layer4_frozen, 0);
    assert_int_equal(snap->layer4_partial, 1);
    assert_int_equal(snap->layer4_trainable, snap->layer4_params - 1024);
    assert_int_equal(snap->trainable, trainable_before - 1024);
    ack = ack_of(h, bus_send_set_layer_frozen(h->bus, "layer4.0.bn7", 1));
    assert_false(ack->ok);
    assert_non_null(strstr(ack->msg, "no layer 'layer4.0.bn7'"));

    ack = ack_of(h, bus_send_set_frozen(h->bus, "layer4", 1));
    assert_true(ack->ok);
    ack_at = index_of(h, ack);
    assert_true(wait_until(h, has_snapshot_after, &ack_at, WAIT_MS));
    snap = snapshot_after(h, ack_at);
    assert_non_null(snap);
    assert_int_equal(snap->layer4_frozen, 1);
    assert_int_equal(snap->layer4_partial, 0);
    assert_int_equal(snap->bn1_frozen, 1);
    /* layer4 of resnet18 holds 8.4M weights; only the head trains now */
    assert_true(snap->trainable > 0 && snap->trainable + 8000000 < trainable_before);

    ack = ack_of(h, bus_send_set_lr(h->bus, "head", 1e-4));
    assert_true(ack->ok);
    ack_at = index_of(h, ack);
    assert_true(wait_until(h, has_snapshot_after, &ack_at, WAIT_MS));
    snap = snapshot_after(h, ack_at);
    assert_non_null(snap);
    assert_true(snap->head_base_lr == 1e-4);

    ack = ack_of(h, bus_send_set_frozen(h->bus, "layer9", 1));
    assert_false(ack->ok);
    print_message("bad group: %s\n", ack->msg);
    assert_non_null(strstr(ack->msg, "layer9"));
    ack = ack_of(h, bus_send_set_lr(h->bus, "nogroup", 0.1));
    assert_false(ack->ok);
    assert_non_null(strstr(ack->msg, "nogroup"));

    ack = ack_of(h, bus_send(h->bus, BUS_CMD_SAVE));
    assert_true(ack->ok);
    print_message("saved: %s\n", ack->msg);
    assert_true(file_exists(ack->msg));
    assert_int_equal(h->steps_events, steps_when_paused);
    assert_int_equal(find_state(h, BUS_STATE_RUNNING, paused_at), -1);

    /* 4. START resumes: a later step comes; PAUSE again at once */
    h->pause_on_step = 1;
    assert_true(ack_of(h, bus_send(h->bus, BUS_CMD_START))->ok);
    assert_true(wait_until(h, has_step_after, &paused_step, WAIT_MS));
    assert_true(ack_of(h, h->auto_pause_id)->ok);
    wait_state(h, BUS_STATE_PAUSED, paused_at + 1);

    /* 5. STOP_SAVE: the ACK names interrupted.safetensors, then done/stopped */
    int stop_from = h->n;
    ack = ack_of(h, bus_send(h->bus, BUS_CMD_STOP_SAVE));
    assert_true(ack->ok);
    print_message("stopped: %s\n", ack->msg);
    assert_non_null(strstr(ack->msg, "interrupted.safetensors"));
    assert_true(file_exists(ack->msg));
    char want[300];
    snprintf(want, sizeof want, "%s/interrupted.safetensors", out_dir);
    assert_true(file_exists(want));
    wait_state(h, BUS_STATE_DONE, stop_from);
    const Rec *done = &h->recs[find_state(h, BUS_STATE_DONE, stop_from)];
    assert_int_equal(done->done_reason, BUS_DONE_STOPPED);
    assert_non_null(strstr(done->msg, "stopped"));

    /* 6. a finished run is not re-run by START */
    ack = ack_of(h, bus_send(h->bus, BUS_CMD_START));
    assert_false(ack->ok);

    /* 7. REBUILD with a missing dataset folder: ERROR naming it, state error */
    char bad[2048];
    snprintf(bad, sizeof bad,
             "{\"model\": {\"arch\": \"resnet18\"},"
             " \"dataset\": {\"type\": \"fashion_mnist\", \"path\": \"%s/no-such-data\","
             " \"image_size\": 32}, \"epochs\": 1, \"batch\": 8}",
             dir);
    int rebuild_from = h->n;
    ack = ack_of(h, bus_send_rebuild(h->bus, bad, "missing.json", NULL, NULL));
    assert_true(ack->ok);
    wait_state(h, BUS_STATE_ERROR, rebuild_from);
    int err_state = find_state(h, BUS_STATE_ERROR, rebuild_from);
    int saw_error = 0;
    for (int i = rebuild_from; i < err_state; i++) {
        if (h->recs[i].kind == BUS_EV_ERROR) {
            saw_error = 1;
            print_message("error: %s\n", h->recs[i].msg);
            assert_non_null(strstr(h->recs[i].msg, "no-such-data"));
            assert_null(strchr(h->recs[i].msg, '\n'));
        }
    }
    assert_true(saw_error);
    assert_non_null(strstr(h->recs[err_state].msg, "no-such-data"));
    /* a bad run text is refused with the parser's message */
    ack = ack_of(h, bus_send_rebuild(h->bus, "{\"model\": 3}", "broken.json", NULL, NULL));
    assert_false(ack->ok);
    assert_non_null(strstr(ack->msg, "broken.json"));

    /* START after an error retries the same run (which fails again) */
    int retry_from = h->n;
    ack = ack_of(h, bus_send(h->bus, BUS_CMD_START));
    assert_true(ack->ok);
    wait_state(h, BUS_STATE_ERROR, retry_from);
    assert_true(find_state(h, BUS_STATE_LOADING, retry_from) >= 0);

    /* a good REBUILD: a fresh run that holds in ready with its snapshot */
    int good_from = h->n;
    ack = ack_of(h, bus_send_rebuild(h->bus, RUN_JSON, "again.json", NULL, NULL));
    assert_true(ack->ok);
    wait_state(h, BUS_STATE_READY, good_from);
    assert_non_null(snapshot_after(h, good_from));

    /* 8. shutdown: STATE exited is the last event; one ACK per command */
    engine_thread_stop_and_join(&h->et);
    wait_until(h, NULL, NULL, 20);
    bus_drain_events(h->bus, record, h);
    assert_false(h->overflow);
    assert_true(h->n > 0);
    assert_int_equal(h->recs[h->n - 1].kind, BUS_EV_STATE);
    assert_int_equal(h->recs[h->n - 1].state, BUS_STATE_EXITED);
    BusStats st;
    bus_stats(h->bus, &st);
    assert_int_equal(st.dropped, 0);
    uint64_t last_id = bus_send(h->bus, BUS_CMD_PAUSE) - 1;   /* ids sent so far */
    for (uint64_t id = 1; id <= last_id; id++) {
        int acks = 0;
        for (int i = 0; i < h->n; i++) {
            acks += h->recs[i].kind == BUS_EV_ACK && h->recs[i].cmd_id == id;
        }
        if (acks != 1) {
            fail_msg("command %llu has %d ACKs", (unsigned long long)id, acks);
        }
    }

    bus_close(h->bus);   /* also frees the unanswered PAUSE above */
    uv_close((uv_handle_t *)&h->timer, NULL);
    uv_run(&h->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&h->loop), 0);
    free(h);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Shutdown while the job holds in "ready": STOP_SAVE then QUIT end it with
 * nothing saved, and the thread exits. */
static void stop_before_start(void **state)
{
    (void)state;
    ThawDevice device = test_setup();
    char dir[] = "/tmp/thaw_engine_thread_XXXXXX";
    assert_non_null(mkdtemp(dir));
    Harness *h = calloc(1, sizeof *h);
    assert_non_null(h);
    assert_int_equal(uv_loop_init(&h->loop), 0);
    uv_timer_init(&h->loop, &h->timer);
    h->timer.data = h;
    h->bus = bus_open(&h->loop, on_wake, h);
    RunConfig cfg;
    ThawError err = {0};
    assert_int_equal(run_config_parse(&cfg, "tiny.json", RUN_JSON, &err), 0);
    assert_int_equal(engine_thread_start(&h->et, h->bus, &cfg, &device, dir, &err), 0);
    run_config_free(&cfg);
    wait_state(h, BUS_STATE_READY, 0);
    engine_thread_stop_and_join(&h->et);   /* STOP_SAVE (id 1), QUIT (id 2) */
    bus_drain_events(h->bus, record, h);
    const Rec *stop_ack = find_ack(h, 1);
    assert_non_null(stop_ack);
    assert_true(stop_ack->ok);
    assert_string_equal(stop_ack->msg, "");   /* nothing written */
    assert_non_null(find_ack(h, 2));
    int done = find_state(h, BUS_STATE_DONE, 0);
    assert_true(done >= 0);
    assert_int_equal(h->recs[done].done_reason, BUS_DONE_ABANDONED);
    assert_int_equal(h->recs[h->n - 1].state, BUS_STATE_EXITED);
    assert_int_equal(h->steps_events, 0);
    char path[300];
    snprintf(path, sizeof path, "%s/interrupted.safetensors", dir);
    assert_false(file_exists(path));
    engine_thread_stop_and_join(&h->et);   /* a second call is a no-op */
    bus_close(h->bus);
    uv_close((uv_handle_t *)&h->timer, NULL);
    uv_run(&h->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&h->loop), 0);
    free(h);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void device_text(void **state)
{
    (void)state;
    char buf[64];
    engine_device_text(buf, sizeof buf);
    print_message("device: %s\n", buf);
    assert_int_equal(strncmp(buf, "CPU, ", 5), 0);
    assert_non_null(strstr(buf, "thread"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(device_text),
        cmocka_unit_test(stop_before_start),
        cmocka_unit_test(drive_a_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
