#!/usr/bin/env bash
# Signals while a run is going: SIGHUP (the terminal went away) and Ctrl-C
# (SIGINT) each save DIR/interrupted.safetensors through the engine thread
# and exit 128 + signal (129, 130), as thaw train does. Before training has
# started SIGTERM exits 143 at once with nothing to save.
. "$(dirname "$0")/tui_lib.sh"

run="$TUI_WORK/tiny.json"
tui_tiny_run "$run"

start_running() {  # start_running OUT
    tui_start 80 24 LANG=C.UTF-8 LC_ALL=C.UTF-8 -- "$run" --out "$1"
    tui_wait_for 'ready' "state ready"
    tui_keys t
    tui_wait_for 'running' "state running"
    local s1
    s1=$(tui_step)
    tui_wait_change_from "$s1" tui_step
}

# SIGHUP to the thaw process.
out="$TUI_WORK/out-hup"
start_running "$out"
kill -HUP "$(tui_pid)"
rc=$(tui_wait_exit)
[ "$rc" = 129 ] || tui_fail "exit status $rc after SIGHUP (want 129)"
[ -s "$out/interrupted.safetensors" ] || tui_fail "no $out/interrupted.safetensors after SIGHUP"
tui_cleanup
rm -rf "$out"
tui_pass "SIGHUP: checkpoint saved, exit 129"

# Ctrl-C typed in the terminal.
out="$TUI_WORK/out-int"
start_running "$out"
tui_keys C-c
rc=$(tui_wait_exit)
[ "$rc" = 130 ] || tui_fail "exit status $rc after Ctrl-C (want 130)"
[ -s "$out/interrupted.safetensors" ] || tui_fail "no $out/interrupted.safetensors after Ctrl-C"
tui_cleanup
rm -rf "$out"
tui_pass "Ctrl-C: checkpoint saved, exit 130"

# SIGTERM before START: nothing trained, nothing to save, exit 143.
out="$TUI_WORK/out-term"
tui_start 80 24 LANG=C.UTF-8 LC_ALL=C.UTF-8 -- "$run" --out "$out"
tui_wait_for 'ready' "state ready"
kill -TERM "$(tui_pid)"
rc=$(tui_wait_exit)
[ "$rc" = 143 ] || tui_fail "exit status $rc after SIGTERM (want 143)"
[ ! -e "$out/interrupted.safetensors" ] || tui_fail "a checkpoint was written before training"
tui_pass "SIGTERM before training: exit 143, nothing saved"
