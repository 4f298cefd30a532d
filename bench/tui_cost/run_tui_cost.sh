#!/usr/bin/env bash
# What drawing costs while training (issue target: < 5% of one core): runs
# the workbench in tmux at 132x43 on a training run, lets it train for a
# while, then samples over SECONDS
#   - the CPU time of the main (UI) thread only: /proc/PID/task/PID/stat
#     utime + stime (the engine thread and the loader threads are other
#     tasks of the same process), as % of one core;
#   - the whole process's CPU time, for scale;
#   - bytes written to the terminal per second (tmux pipe-pane into a file);
#   - optimizer steps done (from the status bar).
#
# usage: bench/tui_cost/run_tui_cost.sh [--seconds N] [--binary PATH] [SCENARIO...]
# scenarios: fast (ResNet-18 at 32x32, layer4 + head train: ~10 steps/s,
#            many step events), default (the compiled-in default run:
#            EfficientNet-Lite0 224x224, feature extraction), idle (the
#            default run built and ready, not started). Default: fast default idle.
# Prints one table row per scenario (markdown) and writes JSON lines to
# $OUT_DIR/tui_cost.jsonl (OUT_DIR default: build-bench/tui_cost); then,
# when the binary's build folder has libthaw_views.a, the CPU cost of one
# frame by loss-series length (draw_cost.c, no terminal, no engine).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
seconds=60
binary=""
scenarios=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds=$2; shift 2 ;;
        --binary) binary=$2; shift 2 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) scenarios+=("$1"); shift ;;
    esac
done
[ ${#scenarios[@]} -gt 0 ] || scenarios=(fast default idle)
if [ -z "$binary" ]; then
    for b in "$src/build-bench/thaw" "$src/build/thaw"; do
        [ -x "$b" ] && { binary=$b; break; }
    done
fi
[ -x "${binary:-}" ] || { echo "no thaw binary (build build-bench, or --binary PATH)" >&2; exit 2; }
command -v tmux >/dev/null || { echo "tmux is not installed" >&2; exit 2; }

out_dir=${OUT_DIR:-$src/build-bench/tui_cost}
mkdir -p "$out_dir"
work=$(mktemp -d "${TMPDIR:-/tmp}/thaw-tui-cost.XXXXXX")
sock="thaw-tui-cost-$$"
cleanup() {
    tmux -L "$sock" kill-server 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
hz=$(getconf CLK_TCK)

screen() { tmux -L "$sock" capture-pane -p -t t; }
wait_for() {  # wait_for REGEX SECONDS
    local end=$((SECONDS + $2))
    while [ $SECONDS -lt $end ]; do
        screen | grep -Eq -- "$1" && return 0
        sleep 0.2
    done
    echo "timed out waiting for '$1'" >&2
    screen >&2
    return 1
}
# utime + stime in clock ticks of /proc/PID/stat or /proc/PID/task/TID/stat
# (fields 14 and 15, counted after the ")" that ends the command name).
ticks() { sed -E 's/^.*\) //' "$1" | awk '{print $12 + $13}'; }
step_now() { screen | head -1 | grep -oE 'step [0-9]+' | grep -oE '[0-9]+' || echo 0; }

fast_run() {
    cat >"$1" <<'JSON'
{
  "model": {"arch": "resnet18", "head": "linear"},
  "dataset": {"type": "fashion_mnist", "subset_per_class": 500, "val_fraction": 0.1,
              "image_size": 32, "seed": 0, "augment": false},
  "strategy": "fine_tune",
  "trainable": ["layer4"],
  "optimizer": {"name": "adamw", "lr": 0.001},
  "epochs": 100,
  "batch": 8,
  "seed": 0,
  "workers": 1,
  "threads": 1
}
JSON
}

measure() {  # measure SCENARIO
    local name=$1 args=()
    case "$name" in
        fast) fast_run "$work/fast.json"; args=("$work/fast.json") ;;
        default|idle) args=() ;;
        *) echo "unknown scenario $name" >&2; return 2 ;;
    esac
    local tty="$work/$name.tty"
    : >"$tty"
    tmux -L "$sock" kill-server 2>/dev/null || true
    tmux -L "$sock" -f /dev/null new-session -d -s t -x 132 -y 43 \
        "exec env LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=screen-256color $(printf '%q ' "$binary" "${args[@]}") --out $(printf '%q' "$work/out-$name")"
    tmux -L "$sock" set-option -t t status off >/dev/null
    tmux -L "$sock" pipe-pane -t t -o "cat >>$(printf '%q' "$tty")"
    local pid
    pid=$(tmux -L "$sock" display-message -p -t t '#{pane_pid}')
    wait_for 'ready' 120
    if [ "$name" != idle ]; then
        tmux -L "$sock" send-keys -t t t
        wait_for 'running' 30
        # past the first steps (the loss pane has points, the rate is known)
        wait_for 'samples/s' 120
    fi
    sleep 2
    local t0 b0 u0 p0 s0 t1 b1 u1 p1 s1
    t0=$(date +%s.%N); b0=$(stat -c %s "$tty"); u0=$(ticks "/proc/$pid/task/$pid/stat")
    p0=$(ticks "/proc/$pid/stat"); s0=$(step_now)
    sleep "$seconds"
    t1=$(date +%s.%N); b1=$(stat -c %s "$tty"); u1=$(ticks "/proc/$pid/task/$pid/stat")
    p1=$(ticks "/proc/$pid/stat"); s1=$(step_now)
    local threads
    threads=$(ls "/proc/$pid/task" | wc -l)
    screen >"$out_dir/$name.screen.txt"
    # closing the terminal is a SIGHUP: thaw saves a checkpoint and exits;
    # wait for that before removing its folder
    tmux -L "$sock" kill-server 2>/dev/null || true
    local end=$((SECONDS + 120))
    while [ -d "/proc/$pid" ] && [ $SECONDS -lt $end ]; do
        sleep 0.2
    done
    rm -rf "$work/out-$name"
    awk -v n="$name" -v t0="$t0" -v t1="$t1" -v b0="$b0" -v b1="$b1" -v u0="$u0" -v u1="$u1" \
        -v p0="$p0" -v p1="$p1" -v s0="$s0" -v s1="$s1" -v hz="$hz" -v th="$threads" \
        -v jl="$out_dir/tui_cost.jsonl" 'BEGIN {
        dt = t1 - t0; ui = (u1 - u0) / hz / dt * 100; pr = (p1 - p0) / hz / dt * 100
        bps = (b1 - b0) / dt; sps = (s1 - s0) / dt
        printf "| %s | %.0f | %.2f | %.0f | %.0f | %.1f | %d |\n", n, dt, ui, pr, bps, sps, th
        printf "{\"scenario\":\"%s\",\"seconds\":%.1f,\"ui_thread_cpu_pct\":%.3f,\"process_cpu_pct\":%.1f,\"tty_bytes_per_s\":%.0f,\"steps_per_s\":%.2f,\"threads\":%d}\n", \
            n, dt, ui, pr, bps, sps, th >> jl
    }'
}

echo "thaw: $binary, $seconds s per scenario, 132x43, $(nproc) cores"
echo
echo "| scenario | seconds | UI thread CPU % of one core | process CPU % | terminal bytes/s | steps/s | threads |"
echo "|---|---|---|---|---|---|---|"
for s in "${scenarios[@]}"; do
    measure "$s"
done

# The cost of one frame without a terminal or an engine, by series length
# (draw_cost.c against the binary's build folder's views library).
views_lib="$(dirname "$binary")/libthaw_views.a"
if [ -f "$views_lib" ]; then
    echo
    cc -O2 -I"$src" "$here/draw_cost.c" "$views_lib" $(pkg-config --libs ncursesw) -lm \
        -o "$work/draw_cost"
    "$work/draw_cost" 200
fi
