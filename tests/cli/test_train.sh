#!/usr/bin/env bash
# thaw train end to end on a tiny run (resnet18 at 32x32, Fashion-MNIST
# 6 per class, a third held out, 2 epochs, batch 8):
#  - the human lines (one per epoch with losses, accuracies, samples/s, ETA)
#    and the confusion matrix; training loss goes down over 4 epochs at a
#    high head lr;
#  - --json: every line parses, with start, step, epoch and done events;
#  - resume: the epoch-1 checkpoint resumed for the 2nd epoch gives a checkpoint
#    byte-identical to the uninterrupted run's (weights, optimizer state, metadata);
#  - metrics.csv: one row per epoch matching the --json epoch events, and
#    after a resume in the same folder epoch 1's row kept, epoch 2's once;
#  - the same full fine-tuning run twice with 4 threads: byte-identical
#    checkpoints;
#  - SIGINT mid-run: exit 130, a valid interrupted.safetensors, and resuming
#    from it also reaches the byte-identical final checkpoint;
#  - bad run files: exit 2, exactly one stderr line naming the file and key.
set -u
# shellcheck source=cli_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

W=$(fresh_dir train)
clean_on_pass "$W"
B=$THAW_BINARY
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    echo "SKIP: Fashion-MNIST not installed"
    exit 0
fi

cat > "$W/run.json" <<'JSON'
{"model": {"arch": "resnet18", "head": "mlp"},
 "dataset": {"type": "fashion_mnist", "subset_per_class": 6, "val_fraction": 0.34,
             "image_size": 32},
 "strategy": "fine_tune", "trainable": ["layer4"],
 "optimizer": {"name": "adamw", "lr": 0.001},
 "schedule": {"name": "cosine", "warmup_ratio": 0.2},
 "epochs": 2, "batch": 8, "seed": 3, "threads": 2}
JSON

# 1. human output + 2. json, on the same run (the json run is the reference)
"$B" train "$W/run.json" --out "$W/full" --json > "$W/full.jsonl" 2> "$W/full.err" ||
    fail "json run exited $? ($(cat "$W/full.err"))"
"$THAW_PYTHON" - "$W/full.jsonl" <<'PY' || fail "--json lines do not parse or miss events"
import json, sys
events = [json.loads(line) for line in open(sys.argv[1])]
kinds = {e["event"] for e in events}
assert {"start", "step", "epoch", "done"} <= kinds, kinds
epochs = [e for e in events if e["event"] == "epoch"]
assert len(epochs) == 2 and all("val_acc" in e and "samples_per_s" in e for e in epochs)
done = events[-1]
assert done["event"] == "done" and len(done["confusion"]) == 10
assert sum(map(sum, done["confusion"])) == 20, done["confusion"]
print("json ok:", epochs[-1])
PY
sed 's/"epochs": 2/"epochs": 4/; s/"lr": 0.001/"lr": 0.003/; s/"fine_tune", "trainable": \["layer4"\]/"feature_extraction"/' \
    "$W/run.json" > "$W/learn.json"
sed -i 's/"image_size": 32}/"image_size": 32, "augment": false}/' "$W/learn.json"
"$B" train "$W/learn.json" --out "$W/learn" > "$W/learn.out" 2> "$W/learn.err" ||
    fail "human run exited $? ($(cat "$W/learn.err"))"
cat "$W/learn.out"
grep -Eq '^epoch 4/4  train loss [0-9.]+ acc [0-9.]+  val loss [0-9.]+ acc [0-9.]+  [0-9.]+ samples/s  ETA ' \
    "$W/learn.out" || fail "no epoch line in the human output"
grep -q '^confusion matrix' "$W/learn.out" || fail "no confusion matrix"
first=$(sed -n 's/^epoch 1\/4  train loss \([0-9.]*\).*/\1/p' "$W/learn.out")
last=$(sed -n 's/^epoch 4\/4  train loss \([0-9.]*\).*/\1/p' "$W/learn.out")
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a) }' ||
    fail "train loss did not decrease ($first -> $last)"

# 3. resume equivalence: the epoch-1 checkpoint of the straight run, resumed
#    in a fresh folder for the second epoch (same run file, so the same
#    schedule), must give the same epoch-2 checkpoint byte for byte
mkdir -p "$W/part"
cp "$W/full/epoch-001.safetensors" "$W/part/start.safetensors"
"$B" train "$W/run.json" --out "$W/part" --resume "$W/part/start.safetensors" \
    > "$W/resume.out" 2>&1 || fail "resume failed: $(cat "$W/resume.out")"
grep -q '^resumed from .* at epoch 2, step 5' "$W/resume.out" || fail "no resume line: $(cat "$W/resume.out")"
cmp -s "$W/full/epoch-002.safetensors" "$W/part/epoch-002.safetensors" ||
    fail "resumed run differs from the uninterrupted one"
[ -f "$W/part/epoch-001.safetensors" ] && fail "resume re-ran epoch 1"

# 3a. metrics.csv: a row per epoch with the epoch lines' numbers; resumed
#     from epoch 1 in the same folder, epoch 1's row stays as it was and
#     epoch 2's is written again, once
"$THAW_PYTHON" - "$W/full/metrics.csv" "$W/full.jsonl" <<'PY' || fail "metrics.csv does not match the epoch events"
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
epochs = [e for e in map(json.loads, open(sys.argv[2])) if e["event"] == "epoch"]
assert [int(r["epoch"]) for r in rows] == [1, 2], rows
for r, e in zip(rows, epochs):
    assert abs(float(r["train_loss"]) - e["train_loss"]) <= 1e-5 * abs(e["train_loss"]), (r, e)
    assert abs(float(r["val_acc"]) - e["val_acc"]) <= 1e-6, (r, e)
    assert r["time"].endswith("Z") and float(r["samples_per_s"]) > 0, r
PY
cp -r "$W/full" "$W/again"
"$B" train "$W/run.json" --out "$W/again" --resume "$W/again/epoch-001.safetensors" \
    > "$W/again.out" 2>&1 || fail "resume in the same folder failed: $(cat "$W/again.out")"
[ "$(cut -d, -f1 "$W/again/metrics.csv" | tr '\n' ' ')" = "epoch 1 2 " ] ||
    fail "metrics.csv after a resume from epoch 1: $(cat "$W/again/metrics.csv")"
[ "$(sed -n 2p "$W/again/metrics.csv")" = "$(sed -n 2p "$W/full/metrics.csv")" ] ||
    fail "epoch 1's row changed on resume"

# 3b. the same run twice, every layer training, 4 threads: the same
#     checkpoint byte for byte (the CPU ops' sums do not depend on timing)
sed 's/"fine_tune", "trainable": \["layer4"\]/"full"/; s/"threads": 2/"threads": 4/; s/"epochs": 2/"epochs": 1/' \
    "$W/run.json" > "$W/twice.json"
for k in 1 2; do
    "$B" train "$W/twice.json" --out "$W/twice$k" > "$W/twice$k.out" 2>&1 ||
        fail "full run $k exited $? ($(cat "$W/twice$k.out"))"
done
cmp -s "$W/twice1/epoch-001.safetensors" "$W/twice2/epoch-001.safetensors" ||
    fail "the same run twice gave different checkpoints"

# 4. SIGINT after the 3rd step: exit 130, a checkpoint, resume to the same end
"$B" train "$W/run.json" --out "$W/sig" --json > "$W/sig.jsonl" 2> "$W/sig.err" &
pid=$!
for _ in $(seq 600); do
    grep -q '"step":3,' "$W/sig.jsonl" 2>/dev/null && break
    sleep 0.05
done
kill -INT "$pid"
wait "$pid"
rc=$?
[ "$rc" = 130 ] || fail "SIGINT exit status $rc, expected 130"
if [ -f "$W/sig/interrupted.safetensors" ]; then
    "$B" train "$W/run.json" --out "$W/sig" --resume "$W/sig/interrupted.safetensors" \
        > /dev/null 2>&1 || fail "resume from the interrupt checkpoint failed"
    cmp -s "$W/full/epoch-002.safetensors" "$W/sig/epoch-002.safetensors" ||
        fail "run resumed after SIGINT differs from the uninterrupted one"
else
    fail "no interrupted.safetensors after SIGINT"
fi

# 5. bad run files: exit 2, one line naming file and key
bad() {  # NAME EXPECTED-SUBSTRING JSON
    printf '%s\n' "$3" > "$W/$1.json"
    "$B" train "$W/$1.json" --out "$W/bad" > "$W/bad.out" 2> "$W/bad.err"
    local rc=$?
    [ "$rc" = 2 ] || fail "$1: exit $rc, expected 2"
    [ "$(wc -l < "$W/bad.err")" = 1 ] || fail "$1: stderr is not one line: $(cat "$W/bad.err")"
    grep -qF "$1.json" "$W/bad.err" || fail "$1: stderr does not name the file: $(cat "$W/bad.err")"
    grep -qF "$2" "$W/bad.err" || fail "$1: stderr lacks '$2': $(cat "$W/bad.err")"
}
bad lr_type "key 'optimizer.lr' must be a number" \
    '{"model":{"arch":"resnet18"},"dataset":{"type":"fashion_mnist"},"optimizer":{"lr":"big"}}'
bad unknown "unknown key 'dataset.sise'" \
    '{"model":{"arch":"resnet18"},"dataset":{"type":"fashion_mnist","sise":3}}'
bad no_arch "key 'model.arch' is required" '{"model":{},"dataset":{"type":"fashion_mnist"}}'
bad bad_group "key 'groups.layer9'" \
    '{"model":{"arch":"resnet18"},"dataset":{"type":"fashion_mnist","subset_per_class":2,"image_size":32},"groups":{"layer9":{"lr":0.1}}}'
bad not_json "not valid JSON" '{"model": '

[ "$failures" = 0 ] && echo "PASS test_train" && exit 0
echo "$failures failure(s)"
exit 1
