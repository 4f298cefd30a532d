#!/usr/bin/env bash
# thaw export end to end:
#  - a tiny thaw train run (resnet18 at 32x32, Fashion-MNIST 3 per class,
#    1 epoch) with the mlp head, and one with the linear head, exported;
#  - PyTorch: torchvision resnet18 with the same head loads each exported
#    file with load_state_dict(strict=True); its eval logits on a random
#    input match `thaw forward` on the exported file (1e-4 x max|ref|);
#  - bad input (missing file, a file that is not safetensors, a safetensors
#    file that is not a thaw checkpoint, a truncated checkpoint, a checkpoint
#    with a broken run file, missing --out): exit 2, one stderr line naming
#    the file, nothing written to --out.
set -u
# shellcheck source=cli_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

W=$(fresh_dir export)
clean_on_pass "$W"
B=$THAW_BINARY
PY=$CLI_DIR/export_check.py
export THAW_SOURCE_DIR
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    echo "SKIP: Fashion-MNIST not installed"
    exit 0
fi

"$THAW_PYTHON" "$PY" input "$W/x.safetensors" || fail "cannot write the input"

for head in mlp linear; do
    cat > "$W/$head.json" <<JSON
{"model": {"arch": "resnet18", "head": "$head"},
 "dataset": {"type": "fashion_mnist", "subset_per_class": 3, "val_fraction": 0.34,
             "image_size": 32},
 "optimizer": {"lr": 0.01}, "epochs": 1, "batch": 8, "seed": 5, "threads": 2}
JSON
    "$B" train "$W/$head.json" --out "$W/$head" > "$W/$head.train" 2>&1 ||
        { fail "$head: train exited $? ($(tail -1 "$W/$head.train"))"; continue; }
    ckpt=$W/$head/epoch-001.safetensors
    "$B" export "$ckpt" --out "$W/$head.model.safetensors" 2> "$W/$head.err" ||
        { fail "$head: export exited $? ($(cat "$W/$head.err"))"; continue; }
    [ -s "$W/$head.err" ] && fail "$head: export wrote to stderr: $(cat "$W/$head.err")"
    "$B" forward --arch resnet18 --weights "$W/$head.model.safetensors" \
        --input "$W/x.safetensors" --out "$W/$head.y.safetensors" 2> "$W/$head.ferr" ||
        { fail "$head: forward on the export exited $? ($(cat "$W/$head.ferr"))"; continue; }
    "$THAW_PYTHON" "$PY" check "$W/$head.model.safetensors" "$head" \
        "$W/x.safetensors" "$W/$head.y.safetensors" ||
        fail "$head: PyTorch does not load the export or disagrees with thaw forward"
done

# bad input: exit 2, exactly one line naming the file, no --out written
ckpt=$W/mlp/epoch-001.safetensors
expect_bad() {  # expect_bad WHAT NAME_IN_LINE ARGS...
    local what=$1 name=$2
    shift 2
    rm -f "$W/bad.out.safetensors"
    "$B" export "$@" 2> "$W/bad.err" > /dev/null
    local rc=$?
    [ "$rc" -eq 2 ] || fail "$what: exit $rc, expected 2"
    [ "$(wc -l < "$W/bad.err")" -eq 1 ] || fail "$what: stderr is not one line: $(cat "$W/bad.err")"
    grep -qF -- "$name" "$W/bad.err" || fail "$what: stderr does not name $name: $(cat "$W/bad.err")"
    [ -e "$W/bad.out.safetensors" ] && fail "$what: wrote --out"
    echo "$what: $(cat "$W/bad.err")"
}
expect_bad "missing file" "$W/none.safetensors" "$W/none.safetensors" --out "$W/bad.out.safetensors"
expect_bad "not safetensors" "$W/mlp.json" "$W/mlp.json" --out "$W/bad.out.safetensors"
if [ -f "$W/mlp.model.safetensors" ]; then
    expect_bad "not a thaw checkpoint" "not a thaw checkpoint" \
        "$W/mlp.model.safetensors" --out "$W/bad.out.safetensors"
fi
if [ -f "$ckpt" ]; then
    head -c 100000 "$ckpt" > "$W/truncated.safetensors"
    expect_bad "truncated checkpoint" "$W/truncated.safetensors" \
        "$W/truncated.safetensors" --out "$W/bad.out.safetensors"
    # the same checkpoint with its stored run file made invalid (same length)
    "$THAW_PYTHON" - "$ckpt" "$W/badrun.safetensors" <<'PY' || fail "cannot forge a bad run file"
import sys
blob = open(sys.argv[1], "rb").read()
old = b'\\"arch\\": \\"resnet18\\"'
assert old in blob, "run file not found in the header"
open(sys.argv[2], "wb").write(blob.replace(old, b'\\"arch\\": \\"resnet99\\"', 1))
PY
    expect_bad "bad stored run file" "$W/badrun.safetensors" \
        "$W/badrun.safetensors" --out "$W/bad.out.safetensors"
    expect_bad "no --out" "--out" "$ckpt"
fi

if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)"
    exit 1
fi
echo "PASS"
