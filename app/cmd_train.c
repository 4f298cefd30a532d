/* thaw train RUN.json [--json] [--resume CKPT] [--out DIR] [--device cpu|cuda[:N]]
 * The headless training job: one line per epoch (or JSON lines with --json),
 * a checkpoint per epoch in DIR (default runs/<run file name>). SIGINT,
 * SIGTERM and SIGHUP stop at the next step boundary after saving
 * DIR/interrupted.safetensors; the exit status is then 128 + the signal.
 * --device: cuda (device 0) by default when the build has CUDA and the
 * driver reports a device, else cpu; cuda asked where none can be used
 * exits 2 with the driver's reason. Text runs (minilm, bert) train on the
 * CPU: asking for cuda there is refused, not ignored. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_error.h"
#include "commands.h"
#include "report_print.h"
#include "engine/run/run_config.h"
#include "engine/run/text_job.h"
#include "engine/run/train_job.h"

#define TRAIN_USAGE \
    "thaw train RUN.json [--json] [--resume CKPT] [--out DIR] [--device cpu|cuda[:N]]"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static void print_error_line(const char *msg)
{
    cli_error_line("train", msg);
}

static void fmt_eta(char *buf, size_t cap, double s)
{
    long t = (long)(s + 0.5);
    snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
}

static void on_event(const TrainEvent *ev, void *user)
{
    int json = *(const int *)user;
    char eta[32];
    fmt_eta(eta, sizeof eta, ev->eta_s);
    switch (ev->kind) {
    case TRAIN_EV_START:
    case TRAIN_EV_LOG:
        if (json) {
            printf("{\"event\":\"%s\",\"message\":", ev->kind == TRAIN_EV_START ? "start" : "log");
            print_json_string(ev->msg);
            printf("}\n");
        } else {
            printf("%s\n", ev->msg);
        }
        break;
    case TRAIN_EV_STEP:
        if (json) {
            printf("{\"event\":\"step\",\"epoch\":%d,\"step\":%lld,\"total_steps\":%lld,"
                   "\"loss\":%.6g,\"lr\":%.6g,\"eta_s\":%.1f}\n",
                   ev->epoch, (long long)ev->step, (long long)ev->total_steps, ev->loss,
                   ev->lr, ev->eta_s);
        }
        break;
    case TRAIN_EV_EPOCH:
        if (json) {
            printf("{\"event\":\"epoch\",\"epoch\":%d,\"epochs\":%d,\"step\":%lld,"
                   "\"train_loss\":%.6f,\"train_acc\":%.4f,",
                   ev->epoch, ev->epochs, (long long)ev->step, ev->train_loss, ev->train_acc);
            if (ev->has_val) {
                printf("\"val_loss\":%.6f,\"val_acc\":%.4f,", ev->val_loss, ev->val_acc);
            }
            printf("\"samples_per_s\":%.1f,\"eta_s\":%.1f}\n", ev->samples_per_s, ev->eta_s);
        } else if (ev->has_val) {
            printf("epoch %d/%d  train loss %.4f acc %.3f  val loss %.4f acc %.3f  "
                   "%.1f samples/s  ETA %s\n",
                   ev->epoch, ev->epochs, ev->train_loss, ev->train_acc, ev->val_loss,
                   ev->val_acc, ev->samples_per_s, eta);
        } else {
            printf("epoch %d/%d  train loss %.4f acc %.3f  %.1f samples/s  ETA %s\n",
                   ev->epoch, ev->epochs, ev->train_loss, ev->train_acc,
                   ev->samples_per_s, eta);
        }
        break;
    case TRAIN_EV_DONE: {
        int k = ev->num_classes;
        if (json) {
            printf("{\"event\":\"done\",\"train_loss\":%.6f,\"train_acc\":%.4f,",
                   ev->train_loss, ev->train_acc);
            if (ev->has_val) {
                printf("\"val_loss\":%.6f,\"val_acc\":%.4f,", ev->val_loss, ev->val_acc);
            }
            printf("\"checkpoint\":");
            print_json_string(ev->msg);
            if (ev->confusion) {
                print_confusion_json(k, ev->class_names, ev->confusion);
            }
            printf("}\n");
        } else {
            if (ev->confusion) {
                print_confusion_table("validation", k, ev->class_names, ev->confusion);
            }
            printf("checkpoint: %s\n", ev->msg);
        }
        break;
    }
    }
    fflush(stdout);
}

static int exit_code(int code)
{
    return code == THAW_ERR_NOMEM ? 1 : 2;
}

int cmd_train(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"resume", required_argument, NULL, 'r'},
        {"out", required_argument, NULL, 'o'},
        {"device", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int json = 0;
    const char *resume = NULL, *out = NULL, *device_arg = NULL;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = 1;
            break;
        case 'r':
            resume = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'd':
            device_arg = optarg;
            break;
        case 'h':
            printf("usage: " TRAIN_USAGE "\n");
            return 0;
        default:
            print_error_line("bad option (usage: " TRAIN_USAGE ")");
            return 2;
        }
    }
    if (optind != argc - 1) {
        print_error_line("expected one run file (usage: " TRAIN_USAGE ")");
        return 2;
    }
    const char *run_path = argv[optind];
    ThawError err = {0};
    ThawDevice device;
    if (thaw_device_from_arg(device_arg, &device, &err) != 0) {
        print_error_line(err.msg);
        return 2;
    }
    RunConfig cfg;
    if (run_config_load(&cfg, run_path, &err) != 0) {
        print_error_line(err.msg);
        run_config_free(&cfg);
        return 2;
    }
    char out_buf[1024];
    if (!out) {
        const char *base = strrchr(run_path, '/');
        base = base ? base + 1 : run_path;
        size_t len = strlen(base);
        if (len > 5 && strcmp(base + len - 5, ".json") == 0) {
            len -= 5;
        }
        mkdir("runs", 0777);   /* EEXIST is fine; other errors show below */
        snprintf(out_buf, sizeof out_buf, "runs/%.*s", (int)len, base);
        out = out_buf;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    TrainOptions opt = {.out_dir = out, .resume = resume, .on_event = on_event,
                        .user = &json, .stop = &stop_signal, .device = device};
    TrainResult res;
    int rc = train_run(&cfg, &opt, &res, &err);
    run_config_free(&cfg);
    if (rc != 0) {
        print_error_line(err.msg);
        return exit_code(rc);
    }
    if (res.interrupted) {
        int sig = stop_signal;
        if (json) {
            printf("{\"event\":\"interrupted\",\"signal\":%d,\"step\":%lld,\"checkpoint\":", sig,
                   (long long)res.steps_done);
            print_json_string(res.checkpoint);
            printf("}\n");
        } else {
            printf("interrupted at step %lld; checkpoint: %s\n", (long long)res.steps_done,
                   res.checkpoint);
        }
        return 128 + sig;
    }
    return 0;
}
