#!/usr/bin/env bash
# The feature cache end to end: a small feature-extraction run (resnet18 at
# 64 px, Fashion-MNIST 20 per class, 3 epochs, augmentation off):
#  - the cache is reported on, epochs 2 and 3 report a 100% hit rate (human
#    lines and --json log events);
#  - epoch 2's train time is below epoch 1's (times printed; the real speed
#    claim is a benchmark's, not this test's);
#  - resuming from the epoch-1 checkpoint refills the cache as the straight
#    run did and reaches a byte-identical epoch-3 checkpoint;
#  - with augmentation on, the run says why the cache is off.
set -u
# shellcheck source=cli_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

W=$(fresh_dir feature_cache)
B=$THAW_BINARY
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    echo "SKIP: Fashion-MNIST not installed"
    exit 0
fi

cat > "$W/run.json" <<'JSON'
{"model": {"arch": "resnet18"},
 "dataset": {"type": "fashion_mnist", "subset_per_class": 20, "val_fraction": 0.2,
             "image_size": 64, "augment": false},
 "strategy": "feature_extraction",
 "optimizer": {"name": "adamw", "lr": 0.003},
 "epochs": 3, "batch": 16, "seed": 5, "threads": 2}
JSON

"$B" train "$W/run.json" --out "$W/human" > "$W/human.out" 2> "$W/human.err" ||
    fail "run exited $? ($(cat "$W/human.err"))"
cat "$W/human.out"
grep -q '^feature cache on: ' "$W/human.out" || fail "no 'feature cache on' line"
for e in 2 3; do
    grep -Eq "^epoch $e: feature cache 100% " "$W/human.out" ||
        fail "epoch $e does not report a 100% cache hit rate"
done
grep -Eq '^epoch 1: feature cache 0% ' "$W/human.out" || fail "epoch 1 should fill, not hit"
t1=$(sed -n 's/^epoch 1: feature cache .*train \([0-9.]*\) s$/\1/p' "$W/human.out")
t2=$(sed -n 's/^epoch 2: feature cache .*train \([0-9.]*\) s$/\1/p' "$W/human.out")
t3=$(sed -n 's/^epoch 3: feature cache .*train \([0-9.]*\) s$/\1/p' "$W/human.out")
echo "train time per epoch: epoch 1 ${t1:-?} s, epoch 2 ${t2:-?} s, epoch 3 ${t3:-?} s"
if [ -z "$t1" ] || [ -z "$t2" ] ||
   ! awk -v a="$t2" -v b="$t1" 'BEGIN { exit !(a < b) }'; then
    fail "epoch 2 (${t2:-?} s) is not faster than epoch 1 (${t1:-?} s)"
fi

"$B" train "$W/run.json" --out "$W/json" --json > "$W/run.jsonl" 2> "$W/json.err" ||
    fail "json run exited $? ($(cat "$W/json.err"))"
"$THAW_PYTHON" - "$W/run.jsonl" <<'PY' || fail "--json log events lack the cache hit rate"
import json, sys
events = [json.loads(line) for line in open(sys.argv[1])]
logs = [e["message"] for e in events if e["event"] == "log"]
for epoch in (2, 3):
    assert any(m.startswith(f"epoch {epoch}: feature cache 100% ") for m in logs), logs
print("json ok")
PY

"$B" train "$W/run.json" --out "$W/resumed" --resume "$W/human/epoch-001.safetensors" \
    > "$W/resumed.out" 2> "$W/resumed.err" || fail "resume exited $? ($(cat "$W/resumed.err"))"
cmp -s "$W/human/epoch-003.safetensors" "$W/resumed/epoch-003.safetensors" ||
    fail "the resumed cached run's final checkpoint differs from the straight run's"
grep -Eq '^epoch 2: feature cache 100% ' "$W/resumed.out" ||
    fail "the resumed run does not hit the refilled cache"

sed 's/"augment": false/"augment": true/; s/"epochs": 3/"epochs": 1/' "$W/run.json" > "$W/aug.json"
"$B" train "$W/aug.json" --out "$W/aug" > "$W/aug.out" 2> "$W/aug.err" ||
    fail "augment run exited $? ($(cat "$W/aug.err"))"
grep -q '^feature cache off: dataset.augment is on' "$W/aug.out" ||
    fail "the augmented run does not say why the cache is off"
if grep -q 'feature cache [0-9]*%' "$W/aug.out"; then
    fail "the augmented run reports a cache hit rate"
fi

if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)"
    exit 1
fi
echo "all feature cache checks passed"
