#!/usr/bin/env bash
# t pressed before the model is loaded (the first key of a session often
# is: a GPU run takes seconds to open) is remembered and starts training
# once the engine is ready, instead of being refused as busy.
. "$(dirname "$0")/tui_lib.sh"

run="$TUI_WORK/tiny.json"
tui_tiny_run "$run"
out="$TUI_WORK/out"
tui_start 80 24 LANG=C.UTF-8 LC_ALL=C.UTF-8 -- "$run" --out "$out"
# at once: the key waits in the terminal until the workbench reads it,
# which is before the engine thread has built the model (with the old
# behaviour this screen said "the engine is busy" and stayed ready)
tui_keys t
tui_wait_for 'running │' "state running without a second t"
tui_screen | grep -q 'busy' && tui_fail "t was refused as busy"
tui_keys C-c
rc=$(tui_wait_exit)
[ "$rc" = 130 ] || tui_fail "exit status $rc after Ctrl-C (want 130)"
tui_pass "t while loading: training started once ready"
