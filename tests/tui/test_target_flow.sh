#!/usr/bin/env bash
# The issue's target, keys only, at 80x24: open on a tiny run (an
# EfficientNet-Lite0), m picks ResNet-18 in the model-choice table, u then
# f on layer4 leave only the head training, t starts, then mid-run Space
# thaws layer4 and e sets its lr to 1e-5. Each change is confirmed on
# screen (trainable count, lr column, the engine's log lines, a mark on the
# loss curve), the status bar shows a live samples/s during the first
# epoch, and q y leaves a checkpoint whose metadata journal holds the thaw
# and the exact lr (read from the safetensors header with python).
. "$(dirname "$0")/tui_lib.sh"

run="$TUI_WORK/tiny-lite0.json"
cat >"$run" <<'JSON'
{
  "model": {"arch": "efficientnet_lite0", "head": "linear"},
  "dataset": {"type": "fashion_mnist", "subset_per_class": 100, "val_fraction": 0.1,
              "image_size": 32, "seed": 0, "augment": false},
  "strategy": "fine_tune",
  "optimizer": {"name": "adamw", "lr": 0.001},
  "feature_cache": false,
  "epochs": 5,
  "batch": 8,
  "seed": 0,
  "workers": 1,
  "threads": 1
}
JSON
out="$TUI_WORK/out"
t0=$SECONDS
# An empty weights cache: ResNet-18 starts from random init on any machine.
tui_start 80 24 LANG=C.UTF-8 LC_ALL=C.UTF-8 "THAW_CACHE=$TUI_WORK/cache" -- "$run" --out "$out"
tui_wait_for 'ready' "state ready"
tui_wait_for '\] +stage1 ' "the Lite0 groups"

# m: the model table; g selects its first row, ResNet-18; Enter switches.
tui_keys m
tui_wait_for 'model-choice table' "the model table"
tui_keys g
tui_wait_for '^.ResNet-18: ' "ResNet-18's detail line (selected)"
tui_keys Enter
tui_wait_for '\] +layer4 ' "the ResNet-18 groups after the switch"
tui_wait_for 'ready' "ready again after the rebuild"
tui_wait_for 'layers +8\.4M of 11\.2M' "fine_tune's default: layer4 and the head train"

# u thaws everything, then f on layer4 freezes stem..layer4: the head only.
tui_keys u
tui_wait_for 'layers +11\.2M of 11\.2M' "every weight trainable after u"
tui_select_group layer4
tui_keys f
tui_wait_for 'layers +5\.1K of 11\.2M' "only the head trains after f on layer4"
tui_wait_for_line '\] +layer4 ' '\[ \]' "layer4 frozen"

# t: training; a live samples/s while still in the first epoch (epoch
# metrics come only at its end).
tui_keys t
tui_wait_for 'running' "state running"
tui_wait_for '^.*epoch 1/5.*[0-9]+ samples/s' "samples/s in the status bar during epoch 1"
step=$(tui_step)
tui_wait_change_from "$step" tui_step

# Mid-run: Space thaws layer4 (trainable count back to 8.4M, the engine's
# log line), e sets its lr: the field starts with 1e-3 selected, typing
# replaces it.
marks0=$(tui_curve_marks)
tui_select_group layer4
tui_keys Space
tui_wait_for_line '\] +layer4 ' '\[x\]' "layer4 trainable after the ACK"
tui_wait_for 'layers +8\.4M of 11\.2M' "trainable count with layer4"
tui_wait_for 'layer4 trainable; backward now stops' "the engine's log line for the thaw"
tui_keys e
tui_wait_for 'lr layer4:' "the lr edit prompt"
tui_type 1e-5
tui_keys Enter
tui_wait_for_line '\] +layer4 ' ' 1e-5 ' "layer4 lr 1e-5 in the layers pane"
tui_wait_for_line '^│.*│ +layer4 ' ' 1e-5 ' "layer4 lr 1e-5 in the lr groups pane"
tui_wait_for 'layer4 lr 1e-05 \(was 0\.001\)' "the engine's log line for the lr"
tui_line '\] +layer4 ' | grep -Eq "$TUI_PENDING" && tui_fail "layer4 still pending after both ACKs"
# a mark on the loss curve where layer4 thawed (a vertical line in the plot)
end=$((SECONDS + TUI_TIMEOUT))
while marks=$(tui_curve_marks); [ "$marks" -lt $((marks0 + 3)) ]; do
    [ $SECONDS -lt $end ] || tui_fail "no mark on the loss curve ($marks rows, $marks0 before)"
    sleep 0.1
done

# q y: saves and exits 0; the checkpoint's journal has the thaw and the lr.
step=$(tui_step)
tui_wait_change_from "$step" tui_step   # a step with the new lr
tui_keys q
tui_wait_for '[Qq]uit\?' "the quit question"
tui_keys y
rc=$(tui_wait_exit)
[ "$rc" = 0 ] || tui_fail "exit status $rc after q y (want 0)"
ckpt="$out-resnet18/interrupted.safetensors"
[ -s "$ckpt" ] || tui_fail "no $ckpt after q y"
journal=$(tui_journal "$ckpt")
echo "$journal" | sed 's/^/  journal: /'
unfreeze=$(awk '$2 == "unfreeze" && $3 == "layer4" && $1 > 0' <<<"$journal" | tail -1)
lr=$(awk '$2 == "lr" && $3 == "layer4"' <<<"$journal" | tail -1)
[ -n "$unfreeze" ] || tui_fail "the journal has no mid-run unfreeze of layer4: $journal"
[ -n "$lr" ] || tui_fail "the journal has no lr change of layer4: $journal"
[ "$(awk '{print $4}' <<<"$lr")" = "1e-05" ] || tui_fail "layer4's lr is not exactly 1e-5: $lr"
[ "$(awk '{print $1}' <<<"$lr")" -ge "$(awk '{print $1}' <<<"$unfreeze")" ] ||
    tui_fail "the lr change is journaled before the thaw: $journal"
grep -q '^0 freeze layer4 ' <<<"$journal" || tui_fail "f's freeze of layer4 (step 0) is not journaled"
rm -rf "$out" "$out-resnet18"
tui_pass "target flow in $((SECONDS - t0)) s: $(tr '\n' ';' <<<"$journal")"
