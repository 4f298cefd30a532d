#!/usr/bin/env bash
# A text run in the workbench, keys only, at 80x24: all-MiniLM-L6-v2 (the
# real weights) on 2 fortunes topics x 40 texts, max_length 16, batch 4.
# The layers pane lists the encoder's groups, expanding one shows its
# modules with per-token shapes (Tx384); f on encoder.layer.3 freezes
# embeddings..encoder.layer.3 (trainable count, the engine's log line),
# t starts, e on the classifier sets its lr to 1e-4 mid-run (layers pane,
# log line), q y saves; the checkpoint's journal (safetensors metadata)
# holds the five freezes at step 0 and the exact lr at a later step.
# Skips (exit 77, 'skipped:') without the MiniLM files or fortunes.
. "$(dirname "$0")/tui_lib.sh"

MINILM=${THAW_CACHE:-$HOME/.cache/thaw}/weights/all-minilm-l6-v2
for f in model.safetensors config.json vocab.txt; do
    if [ ! -s "$MINILM/$f" ]; then
        echo "skipped: $MINILM/$f missing (bash quickstart.sh fetches all-MiniLM-L6-v2)"
        exit 77
    fi
done
if [ ! -f /usr/share/games/fortunes/love ]; then
    echo "skipped: Debian package fortunes not installed (apt-get install fortunes)"
    exit 77
fi

run="$TUI_WORK/minilm.json"
cat >"$run" <<JSON
{"model": {"arch": "minilm", "weights": "$MINILM"},
 "dataset": {"type": "fortunes", "topics": ["love", "sports"], "subset_per_class": 40,
             "val_fraction": 0.2, "max_length": 16},
 "epochs": 3, "batch": 4, "seed": 1, "threads": 1}
JSON
out="$TUI_WORK/out"
t0=$SECONDS
tui_start 80 24 LANG=C.UTF-8 LC_ALL=C.UTF-8 -- "$run" --out "$out"
tui_wait_for 'ready' "state ready"
tui_wait_for '\] +encoder\.layer\.5 ' "the encoder's groups"
for g in embeddings encoder.layer.0 encoder.layer.3 pooler classifier; do
    tui_line "\] +$g " | grep -q . || tui_fail "no group $g in the layers pane"
done
tui_wait_for 'layers +22\.7M of 22\.7M' "the text recipe trains every weight"

# Right expands encoder.layer.3: its modules, one vector of 384 per token.
tui_select_group encoder.layer.3
tui_keys Right
tui_wait_for 'self\.query +Tx384 ' "encoder.layer.3's query with its per-token shape"
tui_wait_for 'Tx1536 ' "the intermediate dense (1536 per token)"
tui_keys Left
tui_wait_gone 'Tx384' "encoder.layer.3 folded again"

# f on encoder.layer.3: embeddings..encoder.layer.3 frozen, the rest trains.
tui_keys f
tui_wait_for 'layers +3\.7M of 22\.7M' "only encoder.layer.4/5, pooler and classifier train"
tui_wait_for_line '\] +encoder\.layer\.3 ' '\[ \]' "encoder.layer.3 frozen"
tui_wait_for_line '\] +encoder\.layer\.4 ' '\[x\]' "encoder.layer.4 still trainable"
tui_wait_for 'encoder.layer.3 frozen; backward now stops at encoder.layer.4' \
    "the engine's log line for the freeze"

# t: training; then e on the classifier sets its lr mid-run.
tui_keys t
tui_wait_for 'running' "state running"
step=$(tui_step)
tui_wait_change_from "$step" tui_step
tui_select_group classifier
tui_keys e
tui_wait_for 'lr classifier:' "the lr edit prompt"
tui_type 1e-4
tui_keys Enter
tui_wait_for_line '\] +classifier ' ' 1e-4 ' "classifier lr 1e-4 in the layers pane"
tui_wait_for 'classifier lr 0.0001 \(was 2e-05\)' "the engine's log line for the lr"
step=$(tui_step)
tui_wait_change_from "$step" tui_step   # a step with the new lr

# q y: saves and exits 0; the journal has the freezes and the lr.
tui_keys q
tui_wait_for '[Qq]uit\?' "the quit question"
tui_keys y
rc=$(tui_wait_exit)
[ "$rc" = 0 ] || tui_fail "exit status $rc after q y (want 0)"
ckpt="$out/interrupted.safetensors"
[ -s "$ckpt" ] || tui_fail "no $ckpt after q y"
journal=$(tui_journal "$ckpt")
echo "$journal" | sed 's/^/  journal: /'
for g in embeddings encoder.layer.0 encoder.layer.1 encoder.layer.2 encoder.layer.3; do
    grep -q "^0 freeze $g 1.0\$" <<<"$journal" || tui_fail "f's freeze of $g (step 0) is not journaled"
done
grep -q 'freeze encoder.layer.4' <<<"$journal" && tui_fail "encoder.layer.4 journaled as frozen"
lr=$(awk '$2 == "lr" && $3 == "classifier"' <<<"$journal" | tail -1)
[ -n "$lr" ] || tui_fail "the journal has no lr change of the classifier: $journal"
[ "$(awk '{print $4}' <<<"$lr")" = "0.0001" ] || tui_fail "the classifier's lr is not exactly 1e-4: $lr"
[ "$(awk '{print $1}' <<<"$lr")" -gt 0 ] || tui_fail "the lr change is not mid-run: $lr"
rm -rf "$out"
tui_pass "text run in $((SECONDS - t0)) s: $(tr '\n' ';' <<<"$journal")"
