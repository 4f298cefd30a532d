#!/usr/bin/env bash
# `thaw` with no arguments opens the workbench on the compiled-in default
# run (EfficientNet-Lite0 feature extraction on Fashion-MNIST) from any
# directory. Without the ImageNet weights in $THAW_CACHE it still opens, from
# random init, and the status line says how to fetch them; q before training
# quits at once with status 0. `thaw --help` lists the verbs and the keys;
# bad arguments exit 2 with one line, and no terminal is an error too.
. "$(dirname "$0")/tui_lib.sh"

help=$("$THAW_BINARY" --help)
for want in train predict export forward 'Tab' 'Space' 'Ctrl-C' 'thaw \[RUN.json\]'; do
    grep -q -- "$want" <<<"$help" || { echo "FAIL: thaw --help lacks '$want'" >&2; exit 1; }
done
set +e
err=$("$THAW_BINARY" a.json b.json 2>&1 </dev/null)
rc=$?
set -e
[ "$rc" = 2 ] && [ "$(wc -l <<<"$err")" = 1 ] || { echo "FAIL: two run files: rc $rc: $err" >&2; exit 1; }
set +e
err=$("$THAW_BINARY" "$TUI_WORK/none.json" 2>&1 </dev/null)
rc=$?
set -e
[ "$rc" = 2 ] && grep -q 'terminal' <<<"$err" || { echo "FAIL: no tty: rc $rc: $err" >&2; exit 1; }

tui_start 80 24 LANG=C.UTF-8 LC_ALL=C.UTF-8 "THAW_CACHE=$TUI_WORK/empty-cache" -- 
tui_wait_for 'bash quickstart.sh run' "the status line saying how to fetch the weights"
TUI_TIMEOUT=60 tui_wait_for 'ready' "the default run ready"
tui_wait_for 'stage7' "EfficientNet-Lite0's groups in the layers pane"
tui_wait_for 'default' "the run name in the status bar"
tui_keys q
rc=$(tui_wait_exit)
[ "$rc" = 0 ] || tui_fail "exit status $rc after q before training (want 0)"
tui_pass "default run opens without weights; --help; bad arguments"

# A run file that does not parse: exit 2 before the screen opens, one line
# naming the file and key (script(1) gives it a terminal; a pane in tmux can
# lose the output of a process that ends at once).
bad="$TUI_WORK/bad.json"
echo '{"model": {"arch": "resnet18"}, "epochs": "many"}' >"$bad"
set +e
err=$(script -qec "$(printf '%q ' "$THAW_BINARY" "$bad")" /dev/null </dev/null 2>&1)
rc=$?
set -e
[ "$rc" = 2 ] || tui_fail "exit status $rc for a bad run file (want 2): $err"
grep -q "bad.json: key" <<<"$err" || tui_fail "no line naming the file and key: $err"
tui_pass "bad run file: exit 2 with the file and key"
