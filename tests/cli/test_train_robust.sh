#!/usr/bin/env bash
# thaw train when things go wrong (tiny resnet18 runs at 32x32):
#  1. kill -9 in the middle of epoch 2, then --resume from the last epoch
#     checkpoint: the run ends byte-identical to an uninterrupted one (at
#     most the epoch in progress is lost);
#  2. a checkpoint that cannot be written (file size limit: EFBIG; a full
#     tmpfs: ENOSPC; a read-only mount: EROFS, where mounting is allowed):
#     exit 2, one line naming the file and the reason, the previous
#     checkpoint byte-identical, no partial or temporary file left;
#  3. a loss that becomes infinite or NaN: exit 2, the step named, the last
#     good checkpoint kept;
#  4. bad data: an empty class folder, a CSV label out of range, a CSV line
#     naming a missing file, a resume checkpoint of another architecture:
#     exit 2 and one line naming the file and the field or line;
#  5. a corrupt image in an image folder is skipped with a warning naming it
#     and the run says how many were skipped.
set -u
# shellcheck source=cli_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

W=$(fresh_dir train_robust)
clean_on_pass "$W"
B=$THAW_BINARY
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
FM=/usr/share/datasets/fashion-mnist
if [ ! -f $FM/train-images-idx3-ubyte.gz ]; then
    echo "SKIP: Fashion-MNIST not installed"
    exit 0
fi

run_json() {  # FILE EPOCHS [EXTRA]
    cat > "$1" <<JSON
{"model": {"arch": "resnet18", "head": "mlp"},
 "dataset": {"type": "fashion_mnist", "subset_per_class": 8, "val_fraction": 0.25,
             "image_size": 32},
 "strategy": "fine_tune", "trainable": ["layer4"],
 "optimizer": {"name": "adamw", "lr": 0.001}, ${3:-}
 "epochs": $2, "batch": 4, "seed": 5, "threads": 2}
JSON
}

# one_line_error NAME RC PATTERN: exit 2, stderr exactly one line with PATTERN
one_line_error() {
    [ "$2" = 2 ] || fail "$1: exit $2, expected 2 ($(cat "$W/$1.err"))"
    [ "$(wc -l < "$W/$1.err")" = 1 ] || fail "$1: stderr is not one line: $(cat "$W/$1.err")"
    grep -qF -- "$3" "$W/$1.err" || fail "$1: '$3' not in: $(cat "$W/$1.err")"
}

# 1. kill -9 mid-epoch, resume
run_json "$W/run.json" 3
"$B" train "$W/run.json" --out "$W/straight" > /dev/null 2> "$W/straight.err" ||
    fail "straight run exited $? ($(cat "$W/straight.err"))"
"$B" train "$W/run.json" --out "$W/killed" --json > "$W/killed.jsonl" 2>&1 &
pid=$!
# steps per epoch: 60 train items / 4 = 15; kill during epoch 2
for _ in $(seq 1200); do
    grep -q '"step":20,' "$W/killed.jsonl" 2>/dev/null && break
    sleep 0.05
done
kill -9 "$pid"
wait "$pid" 2> /dev/null
if [ -f "$W/killed/epoch-001.safetensors" ] && [ ! -f "$W/killed/epoch-003.safetensors" ]; then
    "$B" train "$W/run.json" --out "$W/killed" --resume "$W/killed/epoch-001.safetensors" \
        > "$W/resume9.out" 2>&1 || fail "resume after kill -9 failed: $(cat "$W/resume9.out")"
    cmp -s "$W/straight/epoch-003.safetensors" "$W/killed/epoch-003.safetensors" ||
        fail "run resumed after kill -9 differs from the uninterrupted one"
else
    fail "kill -9 did not land in epoch 2 ($(ls "$W/killed" 2>&1))"
fi

# 2. checkpoint writes that fail; the previous checkpoint must survive
run_json "$W/two.json" 2
# write_fails NAME DIR PATTERN [ulimit-blocks]
write_fails() {
    local name=$1 dir=$2 pattern=$3 limit=${4:-}
    cp "$W/straight/epoch-001.safetensors" "$dir/epoch-001.safetensors" 2>/dev/null || true
    local before
    before=$(sha256sum < "$dir/epoch-001.safetensors")
    (
        [ -n "$limit" ] && { trap '' XFSZ; ulimit -f "$limit"; }
        exec "$B" train "$W/two.json" --out "$dir" --resume "$dir/epoch-001.safetensors"
    ) > "$W/$name.out" 2> "$W/$name.err"
    one_line_error "$name" $? "$pattern"
    grep -qF "epoch-002.safetensors" "$W/$name.err" || fail "$name: the file is not named: $(cat "$W/$name.err")"
    [ "$(sha256sum < "$dir/epoch-001.safetensors")" = "$before" ] ||
        fail "$name: the previous checkpoint changed"
    local left
    left=$(find "$dir" -name 'epoch-002*' | head -3)
    [ -z "$left" ] || fail "$name: partial files left: $left"
}
mkdir -p "$W/fsize"
cp "$W/straight/epoch-001.safetensors" "$W/fsize/"
size_kb=$(( $(stat -c %s "$W/fsize/epoch-001.safetensors") / 1024 ))
write_fails fsize "$W/fsize" "File too large" $(( size_kb / 2 ))
mounted=0
mkdir -p "$W/mnt"
if mount -t tmpfs -o size=$(( size_kb * 3 / 2 ))k tmpfs "$W/mnt" 2> /dev/null; then
    mounted=1
    write_fails full "$W/mnt" "No space left on device"
    if mount -o remount,ro "$W/mnt" 2> /dev/null; then
        write_fails readonly "$W/mnt" "Read-only file system"
    fi
    umount "$W/mnt"
else
    echo "note: cannot mount a tmpfs here; full-disk and read-only cases not run"
fi

# 3. a diverging loss stops at the step, keeping the last good checkpoint
# (SGD lr 0.5 x10 per epoch: epoch 1 finishes, epoch 2 diverges)
run_json "$W/nan.json" 5
sed -i 's/"name": "adamw", "lr": 0.001}/"name": "sgd", "lr": 0.5, "momentum": 0.9}, "schedule": {"name": "step", "step_size": 1, "gamma": 10}/' "$W/nan.json"
"$B" train "$W/nan.json" --out "$W/nan" > "$W/nan.out" 2> "$W/nan.err"
one_line_error nan $? "loss is"
grep -Eq 'step [0-9]+ \(epoch 2\): loss is (nan|inf); stopped, the last good checkpoint is .*/epoch-001.safetensors' \
    "$W/nan.err" || fail "nan: step or checkpoint not named: $(cat "$W/nan.err")"
[ -f "$W/nan/epoch-001.safetensors" ] && [ ! -e "$W/nan/epoch-002.safetensors" ] ||
    fail "nan: checkpoints after the stop: $(ls "$W/nan")"

# 4. bad data
mkdir -p "$W/folder/boots" "$W/folder/shirts"
"$THAW_PYTHON" - "$W/folder" <<'PY'
import gzip, sys, numpy as np
from PIL import Image
root = sys.argv[1]
with gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz") as f:
    imgs = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
for i in range(6):
    Image.fromarray(imgs[i]).save(f"{root}/boots/b{i}.png")
    Image.fromarray(imgs[10 + i]).save(f"{root}/shirts/s{i}.jpg")
with open(f"{root}/shirts/s0.jpg", "rb") as f:
    data = f.read()
with open(f"{root}/shirts/broken.jpg", "wb") as f:   # a corrupt JPEG header
    f.write(data[:40] + b"\0" * 30)
with open(f"{root}/shirts/s1.jpg", "rb") as f:
    data = f.read()
with open(f"{root}/shirts/cut.jpg", "wb") as f:      # a valid header, body cut
    f.write(data[:len(data) // 2])
PY
folder_json() {  # FILE PATH TYPE [EXTRA]
    cat > "$1" <<JSON
{"model": {"arch": "resnet18"}, "dataset": {"type": "$3", "path": "$2", "image_size": 32,
 "val_fraction": 0.2 ${4:-}}, "epochs": 1, "batch": 4, "threads": 2}
JSON
}
folder_json "$W/folder.json" "$W/folder" image_folder
"$B" train "$W/folder.json" --out "$W/folder_run" > "$W/folder.out" 2> "$W/folder.err" ||
    fail "folder run with one corrupt image exited $? ($(cat "$W/folder.err"))"
grep -q "broken.jpg" "$W/folder.out" "$W/folder.err" || fail "corrupt image not named"
grep -q "cut.jpg" "$W/folder.out" "$W/folder.err" || fail "truncated image not named"
grep -Eq "skipped 2 unreadable image" "$W/folder.out" "$W/folder.err" ||
    fail "no skipped count: $(cat "$W/folder.out" "$W/folder.err")"

mkdir -p "$W/folder/socks"
"$B" train "$W/folder.json" --out "$W/folder_run2" > /dev/null 2> "$W/empty.err"
one_line_error empty $? "socks"
rmdir "$W/folder/socks"

printf 'path,label\nboots/b0.png,0\nboots/b1.png,7\n' > "$W/folder/range.csv"
folder_json "$W/range.json" "$W/folder/range.csv" csv ', "num_classes": 2'
"$B" train "$W/range.json" --out "$W/range_run" > /dev/null 2> "$W/range.err"
one_line_error range $? "range.csv"
grep -q "range.csv:3:" "$W/range.err" || fail "range: line not named: $(cat "$W/range.err")"

printf 'path,label\nboots/b0.png,0\nboots/gone.png,1\n' > "$W/folder/missing.csv"
folder_json "$W/missing.json" "$W/folder/missing.csv" csv
"$B" train "$W/missing.json" --out "$W/missing_run" > /dev/null 2> "$W/missing.err"
one_line_error missing $? "gone.png"

run_json "$W/r34.json" 2
sed -i 's/"resnet18"/"resnet34"/' "$W/r34.json"
"$B" train "$W/r34.json" --out "$W/r34" --resume "$W/straight/epoch-001.safetensors" \
    > /dev/null 2> "$W/arch.err"
one_line_error arch $? "epoch-001.safetensors"

[ "$failures" = 0 ] && echo "PASS test_train_robust" && exit 0
echo "$failures failure(s)"
exit 1
