#!/usr/bin/env bash
# thaw eval on a tiny trained run (resnet18 at 32x32, Fashion-MNIST 6 per
# class, one epoch):
#  - --split val reproduces the validation loss and accuracy that training
#    printed for the same checkpoint;
#  - the default split of a fashion_mnist run is the 10,000-image test set,
#    and PyTorch, given the exported model and the same preprocessing, gets
#    the same accuracy, loss and confusion matrix (eval_check.py);
#  - the human output has the accuracy line, per-class lines and the matrix;
#  - bad input: exit 2 and one stderr line naming the file or option.
set -u
# shellcheck source=cli_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

W=$(fresh_dir eval)
clean_on_pass "$W"
B=$THAW_BINARY
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

if [ ! -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]; then
    echo "SKIP: Fashion-MNIST not installed"
    exit 0
fi

cat > "$W/run.json" <<'JSON'
{"model": {"arch": "resnet18", "head": "mlp"},
 "dataset": {"type": "fashion_mnist", "subset_per_class": 6, "val_fraction": 0.34,
             "image_size": 32, "augment": false},
 "strategy": "full",
 "optimizer": {"name": "adamw", "lr": 0.001},
 "epochs": 1, "batch": 8, "seed": 3, "threads": 2}
JSON
"$B" train "$W/run.json" --out "$W/run" --json > "$W/train.jsonl" 2> "$W/train.err" ||
    fail "train exited $? ($(cat "$W/train.err"))"
CKPT=$W/run/epoch-001.safetensors

# 1. the validation split reproduces training's numbers
"$B" eval "$CKPT" --split val --json > "$W/val.json" 2> "$W/val.err" ||
    fail "eval --split val exited $? ($(cat "$W/val.err"))"
"$THAW_PYTHON" - "$W/train.jsonl" "$W/val.json" <<'PY' || fail "val split differs from training's"
import json, sys
done = [json.loads(l) for l in open(sys.argv[1]) if '"done"' in l][0]
ev = json.loads(open(sys.argv[2]).read())
print("train:", done["val_loss"], done["val_acc"], "eval:", ev["loss"], ev["accuracy"])
assert ev["split"] == "val" and ev["count"] == 20, ev["count"]
assert abs(ev["loss"] - done["val_loss"]) < 1e-5, (ev["loss"], done["val_loss"])
assert abs(ev["accuracy"] - done["val_acc"]) < 1e-4
assert ev["confusion"] == done["confusion"]
PY

# 2. the test set, against PyTorch on the exported model
"$B" eval "$CKPT" --json > "$W/test.json" 2> "$W/test.err" ||
    fail "eval exited $? ($(cat "$W/test.err"))"
"$B" export "$CKPT" --out "$W/model.safetensors" 2> "$W/export.err" ||
    fail "export exited $? ($(cat "$W/export.err"))"
"$THAW_PYTHON" "$CLI_DIR/eval_check.py" "$W/model.safetensors" "$W/test.json" ||
    fail "thaw eval and PyTorch disagree on the test set"

# 3. human output
"$B" eval "$CKPT" --split test --batch 100 > "$W/human.txt" 2>&1 || fail "human eval exited $?"
grep -q "test split, 10000 images: loss [0-9.]*  accuracy 0\.[0-9]*" "$W/human.txt" ||
    fail "no accuracy line: $(head -1 "$W/human.txt")"
grep -q "^  Ankle boot *0\.[0-9]* (1000)" "$W/human.txt" || fail "no per-class line"
grep -q "confusion matrix (test; rows true, columns predicted)" "$W/human.txt" ||
    fail "no confusion matrix"

# 4. bad input: exit 2, one line naming the culprit
expect_error() {  # expect_error NAME PATTERN ARGS...
    local name=$1 pattern=$2
    shift 2
    "$B" eval "$@" > "$W/$name.out" 2> "$W/$name.err"
    local rc=$?
    [ "$rc" = 2 ] || fail "$name: exit $rc, expected 2"
    [ "$(wc -l < "$W/$name.err")" = 1 ] || fail "$name: stderr is not one line: $(cat "$W/$name.err")"
    grep -q -- "$pattern" "$W/$name.err" || fail "$name: '$pattern' not in: $(cat "$W/$name.err")"
    [ -s "$W/$name.out" ] && fail "$name: printed results"
}
expect_error missing "nope.safetensors" "$W/nope.safetensors"
expect_error not_ckpt "not a thaw checkpoint" "$W/model.safetensors"
expect_error split "--split must be test, val or all, not 'train'" "$CKPT" --split train
expect_error batch "--batch must be an integer" "$CKPT" --batch 0
expect_error nodata "fashion-mnist-nope" "$CKPT" --data "$W/fashion-mnist-nope"
expect_error noarg "a checkpoint is required"
head -c 1000 "$CKPT" > "$W/cut.safetensors"
expect_error truncated "cut.safetensors" "$W/cut.safetensors"

[ "$failures" = 0 ] && echo "PASS: test_eval"
exit $((failures > 0))
