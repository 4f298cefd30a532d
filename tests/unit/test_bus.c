/* The bus, in the spirit of libuv's test-async.c: a real uv loop on the test
 * thread, producer threads posting events that wake it through the bus's
 * uv_async_t, the async callback draining. Checks: every event arrives
 * exactly once and in per-producer order (merged STEP events included),
 * sends coalesce (callbacks <= posts; a burst before the loop runs is one
 * callback and one STEP event holding every loss), commands round-trip with
 * increasing ids and owned copies, bus_wait_command times out and wakes on a
 * post, and closing with events and commands still queued frees them
 * (checked by ASan in the sanitizer build). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "app/bus.h"

#define PRODUCERS 4
#define PER_PRODUCER 3000
#define STEP_BASE 1000000   /* producer p posts steps p * STEP_BASE + seq */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

/* ---- producers -> loop ---- */

typedef struct {
    Bus *bus;
    int id;
} Producer;

typedef struct {
    uv_loop_t *loop;
    int callbacks;
    int received;            /* values (log lines + losses) */
    int events;              /* drained events */
    int next_seq[PRODUCERS]; /* the seq each producer must send next */
    int errors;
    char first_error[160];
    int timed_out;
} Consumer;

static void *produce(void *arg)
{
    Producer *p = arg;
    for (int seq = 0; seq < PER_PRODUCER; seq++) {
        /* Two STEPs to one LOG: steps may merge, logs never do. */
        if (seq % 3 == 0) {
            char line[32];
            snprintf(line, sizeof line, "%d %d", p->id, seq);
            bus_post_log(p->bus, line);
        } else {
            BusEvent ev = {.kind = BUS_EV_STEP, .step = (int64_t)p->id * STEP_BASE + seq,
                           .loss = seq};
            bus_post_event(p->bus, &ev);
        }
    }
    return NULL;
}

static void see(Consumer *c, int producer, int seq)
{
    if (producer < 0 || producer >= PRODUCERS || seq != c->next_seq[producer]) {
        if (c->errors++ == 0) {
            snprintf(c->first_error, sizeof c->first_error,
                     "producer %d: got seq %d, expected %d", producer, seq,
                     producer >= 0 && producer < PRODUCERS ? c->next_seq[producer] : -1);
        }
        return;
    }
    c->next_seq[producer]++;
    c->received++;
}

static void on_event(BusEvent *ev, void *user)
{
    Consumer *c = user;
    c->events++;
    if (ev->kind == BUS_EV_LOG) {
        int p = -1, seq = -1;
        sscanf(ev->msg, "%d %d", &p, &seq);
        see(c, p, seq);
    } else if (ev->kind == BUS_EV_STEP) {
        for (int i = 0; i < ev->n_losses; i++) {
            int p = (int)(ev->steps[i] / STEP_BASE);
            int seq = (int)(ev->steps[i] % STEP_BASE);
            if (ev->losses[i] != seq) {
                see(c, -1, seq);
            }
            see(c, p, seq);
        }
        /* the scalars are the newest merged step's */
        if (ev->step != ev->steps[ev->n_losses - 1]) {
            see(c, -1, -1);
        }
    } else {
        see(c, -1, -1);
    }
}

static void on_wake(Bus *bus, void *user)
{
    Consumer *c = user;
    c->callbacks++;
    bus_drain_events(bus, on_event, c);
    if (c->received + c->errors >= PRODUCERS * PER_PRODUCER) {
        uv_stop(c->loop);
    }
}

static void on_timeout(uv_timer_t *t)
{
    Consumer *c = t->data;
    c->timed_out = 1;
    uv_stop(c->loop);
}

static void producers_every_event_once_in_order(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    Consumer c = {.loop = &loop};
    Bus *bus = bus_open(&loop, on_wake, &c);
    assert_non_null(bus);
    uv_timer_t timer;
    uv_timer_init(&loop, &timer);
    timer.data = &c;
    uv_timer_start(&timer, on_timeout, 20000, 0);

    pthread_t threads[PRODUCERS];
    Producer producers[PRODUCERS];
    for (int p = 0; p < PRODUCERS; p++) {
        producers[p] = (Producer){.bus = bus, .id = p};
        assert_int_equal(pthread_create(&threads[p], NULL, produce, &producers[p]), 0);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    for (int p = 0; p < PRODUCERS; p++) {
        pthread_join(threads[p], NULL);
    }
    /* late wake-ups after uv_stop may still hold nothing: drain the rest */
    bus_drain_events(bus, on_event, &c);

    BusStats st;
    bus_stats(bus, &st);
    print_message("posted %llu, merged %llu, wakeups %llu, callbacks %d, events %d\n",
                  (unsigned long long)st.posted, (unsigned long long)st.merged,
                  (unsigned long long)st.wakeups, c.callbacks, c.events);
    assert_false(c.timed_out);
    if (c.errors) {
        fail_msg("%d ordering errors; first: %s", c.errors, c.first_error);
    }
    assert_int_equal(c.received, PRODUCERS * PER_PRODUCER);
    for (int p = 0; p < PRODUCERS; p++) {
        assert_int_equal(c.next_seq[p], PER_PRODUCER);
    }
    assert_int_equal(st.posted, PRODUCERS * PER_PRODUCER);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(st.posted - st.merged, (uint64_t)c.events);
    assert_true(c.callbacks >= 1);
    assert_true((uint64_t)c.callbacks <= st.wakeups);
    assert_int_equal(st.wakeups, st.posted);

    bus_close(bus);
    uv_close((uv_handle_t *)&timer, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);           /* runs the close callbacks */
    assert_int_equal(uv_loop_close(&loop), 0);   /* nothing left open */
}

/* ---- a burst before the loop runs: one callback, one merged STEP ---- */

typedef struct {
    int callbacks, steps_events, other_events, n_losses;
    int in_order;
    int snapshot_groups;
    char snapshot_first[BUS_NAME_MAX];
} Burst;

static void burst_event(BusEvent *ev, void *user)
{
    Burst *b = user;
    if (ev->kind == BUS_EV_STEP) {
        b->steps_events++;
        b->in_order = ev->n_losses == 1000 && ev->step == 999 && ev->loss == 999.5;
        for (int i = 0; i < ev->n_losses; i++) {
            b->in_order &= ev->steps[i] == i && ev->losses[i] == i + 0.5;
        }
        b->n_losses = ev->n_losses;
        /* the consumer keeps the losses array: the bus must not free it */
        free(ev->losses);
        ev->losses = NULL;
    } else if (ev->kind == BUS_EV_SNAPSHOT) {
        b->snapshot_groups = ev->snapshot.n_groups;
        snprintf(b->snapshot_first, sizeof b->snapshot_first, "%s", ev->snapshot.groups[0].name);
        b->other_events++;
    } else {
        b->other_events++;
    }
}

static void burst_wake(Bus *bus, void *user)
{
    Burst *b = user;
    b->callbacks++;
    bus_drain_events(bus, burst_event, b);
}

static BusEvent snapshot_event(int n_groups, const char *first)
{
    BusEvent ev = {.kind = BUS_EV_SNAPSHOT};
    ev.snapshot.n_groups = n_groups;
    ev.snapshot.groups = calloc((size_t)n_groups, sizeof *ev.snapshot.groups);
    ev.snapshot.n_layers = 2;
    ev.snapshot.layers = calloc(2, sizeof *ev.snapshot.layers);
    snprintf(ev.snapshot.groups[0].name, BUS_NAME_MAX, "%s", first);
    return ev;
}

static void close_if_open(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) {
        uv_close(h, NULL);
    }
}

static void burst_coalesces(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    Burst b = {0};
    Bus *bus = bus_open(&loop, burst_wake, &b);
    assert_non_null(bus);
    for (int i = 0; i < 1000; i++) {
        BusEvent ev = {.kind = BUS_EV_STEP, .step = i, .loss = i + 0.5};
        bus_post_event(bus, &ev);
    }
    BusEvent s1 = snapshot_event(3, "old"), s2 = snapshot_event(5, "new");
    bus_post_event(bus, &s1);
    bus_post_event(bus, &s2);   /* replaces the queued one */
    assert_null(s2.snapshot.groups);   /* moved into the bus */
    bus_post_state(bus, BUS_STATE_RUNNING, NULL);
    BusStats st;
    bus_stats(bus, &st);
    assert_int_equal(st.queued_events, 3);
    assert_int_equal(st.merged, 1000);

    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(b.callbacks, 1);        /* 1003 sends, one callback */
    assert_int_equal(b.steps_events, 1);
    assert_int_equal(b.n_losses, 1000);
    assert_true(b.in_order);
    assert_int_equal(b.other_events, 2);
    assert_int_equal(b.snapshot_groups, 5);
    assert_string_equal(b.snapshot_first, "new");

    /* the workbench's shutdown: bus_close, then a walk closing every other
     * handle (skipping those already closing), then the loop runs the close
     * callbacks; ASan checks the Bus is freed once */
    uv_timer_t other;
    uv_timer_init(&loop, &other);
    bus_close(bus);
    uv_walk(&loop, close_if_open, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- commands ---- */

typedef struct {
    uint64_t id;
    BusCommandKind kind;
    int ok;
    char msg[64];
} Acked;

static void take_ack(BusEvent *ev, void *user)
{
    Acked *a = user;
    if (ev->kind == BUS_EV_ACK) {
        a->id = ev->cmd_id;
        a->kind = ev->cmd_kind;
        a->ok = ev->ok;
        snprintf(a->msg, sizeof a->msg, "%s", ev->msg);
    }
}

static void commands_round_trip(void **state)
{
    (void)state;
    Bus *bus = bus_open(NULL, NULL, NULL);
    assert_non_null(bus);
    char json[] = "{\"model\": {\"arch\": \"resnet18\"}}";
    uint64_t ids[7];
    ids[0] = bus_send(bus, BUS_CMD_START);
    ids[1] = bus_send_set_frozen(bus, "layer4", 1);
    ids[2] = bus_send_set_lr(bus, "head", 1e-4);
    ids[3] = bus_send_rebuild(bus, json, "run.json", NULL, NULL);
    json[0] = 'X';   /* the bus holds its own copy */
    ids[4] = bus_send(bus, BUS_CMD_PAUSE);
    ids[5] = bus_send_set_layer_frozen(bus, "layer4.0.downsample.1", 7);
    ids[6] = bus_send(bus, BUS_CMD_QUIT);
    for (int i = 0; i < 7; i++) {
        assert_int_equal(ids[i], (uint64_t)i + 1);
    }
    BusStats st;
    bus_stats(bus, &st);
    assert_int_equal(st.queued_commands, 7);

    BusCommand cmd;
    const BusCommandKind kinds[7] = {BUS_CMD_START, BUS_CMD_SET_FROZEN, BUS_CMD_SET_LR,
                                     BUS_CMD_REBUILD, BUS_CMD_PAUSE, BUS_CMD_SET_LAYER_FROZEN,
                                     BUS_CMD_QUIT};
    for (int i = 0; i < 7; i++) {
        assert_true(bus_poll_command(bus, &cmd));
        assert_int_equal(cmd.id, ids[i]);
        assert_int_equal(cmd.kind, kinds[i]);
        if (cmd.kind == BUS_CMD_SET_FROZEN) {
            assert_string_equal(cmd.group, "layer4");
            assert_int_equal(cmd.frozen, 1);
        } else if (cmd.kind == BUS_CMD_SET_LAYER_FROZEN) {
            assert_string_equal(cmd.layer, "layer4.0.downsample.1");
            assert_int_equal(cmd.frozen, 1);   /* any non-zero is 1 */
            assert_string_equal(bus_command_name(cmd.kind), "set_layer_frozen");
        } else if (cmd.kind == BUS_CMD_SET_LR) {
            assert_string_equal(cmd.group, "head");
            assert_true(cmd.lr == 1e-4);
        } else if (cmd.kind == BUS_CMD_REBUILD) {
            assert_string_equal(cmd.run_json, "{\"model\": {\"arch\": \"resnet18\"}}");
            assert_string_equal(cmd.run_path, "run.json");
            assert_null(cmd.out_dir);
            assert_null(cmd.resume);
        }
        bus_command_free(&cmd);
    }
    assert_false(bus_poll_command(bus, &cmd));
    assert_int_equal(bus_send(bus, BUS_CMD_SAVE), 8);   /* ids keep increasing */
    assert_string_equal(bus_command_name(BUS_CMD_STOP_SAVE), "stop_save");

    /* an ACK names the command it answers */
    assert_true(bus_poll_command(bus, &cmd));
    bus_post_ack(bus, &cmd, 0, "no run going");
    bus_command_free(&cmd);
    Acked acked = {0};
    assert_int_equal(bus_drain_events(bus, take_ack, &acked), 1);
    assert_int_equal(acked.id, 8);
    assert_int_equal(acked.kind, BUS_CMD_SAVE);
    assert_int_equal(acked.ok, 0);
    assert_string_equal(acked.msg, "no run going");
    assert_int_equal(bus_drain_events(bus, take_ack, &acked), 0);
    bus_close(bus);
}

/* ---- bus_wait_command ---- */

typedef struct {
    Bus *bus;
    int delay_ms;
} LateSender;

static void *send_late(void *arg)
{
    LateSender *s = arg;
    struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)s->delay_ms * 1000000L};
    nanosleep(&ts, NULL);
    bus_send_set_lr(s->bus, "head", 0.5);
    return NULL;
}

static void wait_times_out_and_wakes(void **state)
{
    (void)state;
    Bus *bus = bus_open(NULL, NULL, NULL);
    assert_non_null(bus);
    BusCommand cmd;
    double t0 = now_ms();
    assert_false(bus_wait_command(bus, 150, &cmd));
    double waited = now_ms() - t0;
    print_message("timed out after %.1f ms (asked 150)\n", waited);
    assert_true(waited >= 145 && waited < 2000);
    t0 = now_ms();
    assert_false(bus_wait_command(bus, 0, &cmd));   /* 0: just a poll */
    assert_true(now_ms() - t0 < 50);

    LateSender s = {.bus = bus, .delay_ms = 80};
    pthread_t th;
    t0 = now_ms();
    assert_int_equal(pthread_create(&th, NULL, send_late, &s), 0);
    int got = bus_wait_command(bus, -1, &cmd);   /* forever: woken by the post */
    double woke = now_ms() - t0;
    pthread_join(th, NULL);
    print_message("woken after %.1f ms (sent after 80)\n", woke);
    assert_true(got);
    assert_int_equal(cmd.kind, BUS_CMD_SET_LR);
    assert_true(woke >= 75 && woke < 2000);
    bus_command_free(&cmd);

    /* a waiting timeout also returns a command posted before it expires */
    s.delay_ms = 30;
    assert_int_equal(pthread_create(&th, NULL, send_late, &s), 0);
    assert_true(bus_wait_command(bus, 5000, &cmd));
    pthread_join(th, NULL);
    bus_command_free(&cmd);
    bus_close(bus);
}

/* ---- shutdown with everything still queued ---- */

static BusEvent done_event(void)
{
    BusEvent ev = {.kind = BUS_EV_DONE, .num_classes = 3};
    ev.confusion = calloc(9, sizeof *ev.confusion);
    ev.class_names = calloc(3, sizeof *ev.class_names);
    for (int i = 0; i < 3; i++) {
        ev.class_names[i] = strdup("class");
    }
    ev.msg = strdup("runs/x/epoch-002.safetensors");
    return ev;
}

static void close_frees_queued(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    int wakes = 0;
    Bus *bus = bus_open(&loop, NULL, &wakes);
    assert_non_null(bus);
    for (int i = 0; i < 50; i++) {
        BusEvent ev = {.kind = BUS_EV_STEP, .step = i, .loss = 1.0};
        bus_post_event(bus, &ev);
        bus_post_log(bus, "a line");   /* keeps the STEPs from merging */
    }
    BusEvent d = done_event();
    bus_post_event(bus, &d);
    BusEvent s = snapshot_event(4, "stem");
    bus_post_event(bus, &s);
    bus_post_error(bus, "dataset: /nope: no such file");
    bus_send_rebuild(bus, "{}", "run.json", "out", "ckpt.safetensors");
    bus_send_set_frozen(bus, "layer1", 0);
    BusStats st;
    bus_stats(bus, &st);
    assert_int_equal(st.queued_events, 103);
    assert_int_equal(st.queued_commands, 2);
    bus_close(bus);   /* the UI never drained: everything is freed here */
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);

    /* without a loop, close frees at once */
    Bus *plain = bus_open(NULL, NULL, NULL);
    BusEvent d2 = done_event();
    bus_post_event(plain, &d2);
    bus_send_rebuild(plain, "{}", NULL, NULL, NULL);
    bus_close(plain);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(producers_every_event_once_in_order),
        cmocka_unit_test(burst_coalesces),
        cmocka_unit_test(commands_round_trip),
        cmocka_unit_test(wait_times_out_and_wakes),
        cmocka_unit_test(close_frees_queued),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
