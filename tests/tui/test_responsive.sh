#!/usr/bin/env bash
# The UI never waits on the engine: with steps that take a second or more
# (resnet18 at 160x160, batch 24, every group training), a key pressed
# mid-step shows at once (the selection moves, the group is marked pending),
# while the step counter has not moved (the ACK only comes at the next step
# boundary); after the ACK the pending mark goes and the checkbox flips.
. "$(dirname "$0")/tui_lib.sh"

run="$TUI_WORK/slow.json"
cat >"$run" <<'JSON'
{
  "model": {"arch": "resnet18", "head": "linear"},
  "dataset": {"type": "fashion_mnist", "subset_per_class": 8, "val_fraction": 0.1,
              "image_size": 160, "seed": 0, "augment": false},
  "strategy": "fine_tune",
  "trainable": ["stem", "layer1", "layer2", "layer3", "layer4"],
  "optimizer": {"name": "adamw", "lr": 0.001},
  "epochs": 100,
  "batch": 24,
  "workers": 1
}
JSON
out="$TUI_WORK/out"
tui_start 80 24 LANG=C.UTF-8 LC_ALL=C.UTF-8 -- "$run" --out "$out"
tui_wait_for 'ready' "state ready"
tui_select_group layer2
tui_keys t
tui_wait_for 'running' "state running"
step=$(tui_step)

# Mid-step: j then Space. Both show within half a second (frames come
# every 100 ms; tmux and this poll add a little).
t0=$(date +%s%N)
sel=$(tui_selected_row)
tui_keys j Space
TUI_TIMEOUT=3 tui_wait_change_from "$sel" tui_selected_row
TUI_TIMEOUT=3 tui_wait_for_line '\] +layer3 ' "$TUI_PENDING" "layer3 marked pending"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$(tui_step)" = "$step" ] || tui_fail "the step moved before the check; steps too fast for this test"
[ "$ms" -le 500 ] || tui_fail "the key's effect took ${ms} ms to show"
tui_wait_for_line '\] +layer3 ' '\[ \]' "layer3 frozen after the ACK"
tui_line '\] +layer3 ' | grep -Eq "$TUI_PENDING" && tui_fail "layer3 still pending after the ACK"

# Quit without waiting for a save of this slow run: SIGTERM saves too, so
# check the exit status only.
kill -TERM "$(tui_pid)"
rc=$(TUI_TIMEOUT=60 tui_wait_exit)
[ "$rc" = 143 ] || tui_fail "exit status $rc after SIGTERM (want 143)"
rm -rf "$out"
tui_pass "key effect on screen in ${ms} ms while a step runs"
