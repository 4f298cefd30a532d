#!/usr/bin/env bash
# thaw train --device (issue 5):
#  - malformed values (tpu, cuda:x, cuda:-1) exit 2 with one stderr line
#    naming the accepted forms, before the run file is read;
#  - --device cpu trains a tiny run (resnet18 32x32, 1 epoch) and says
#    nothing about a GPU;
#  - --device cuda: where nvidia-smi lists a GPU and this build has the CUDA
#    backend the same run trains and logs "device: cuda:0 (...)" and the
#    feature cache's off line; elsewhere it exits 2 with one line giving
#    the driver's (or the build's) reason. --device cuda:99 is one line too.
#  - a text run (a tiny random-init BERT on a CSV) trains with --device cpu
#    and, where a GPU is, with --device cuda (device line, checkpoints);
#    without one, cuda is one line.
#  - precision tf32 and bf16 on the CPU train like fp32 and say so; on a
#    GPU each names its precision, and bf16 for a text run is one line.
#  - the workbench's --device: a bad value, and cuda without a GPU, are one
#    line and exit 2 before the screen starts.
set -u
# shellcheck source=cli_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

W=$(fresh_dir train_device)
clean_on_pass "$W"
B=$THAW_BINARY
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

one_line_exit2() {   # NAME RC ERRFILE PATTERN
    [ "$2" -eq 2 ] || fail "$1: exit $2, expected 2"
    [ "$(wc -l < "$3")" -eq 1 ] || fail "$1: stderr is not one line: $(cat "$3")"
    grep -Eq "$4" "$3" || fail "$1: stderr does not match '$4': $(cat "$3")"
    echo "$1: $(cat "$3")"
}

for bad in tpu cuda:x cuda:-1 "cuda:"; do
    "$B" train "$W/missing.json" --device "$bad" > /dev/null 2> "$W/bad.err"
    one_line_exit2 "--device $bad" $? "$W/bad.err" "expected cpu, cuda or cuda:N"
done
# the workbench takes the same option, checked before the screen starts
"$B" --device tpu > /dev/null 2> "$W/wb_bad.err" < /dev/null
one_line_exit2 "workbench --device tpu" $? "$W/wb_bad.err" "expected cpu, cuda or cuda:N"

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    echo "SKIP: Fashion-MNIST not installed (only the parsing checks ran)"
    [ "$failures" -eq 0 ] && exit 0 || exit 1
fi
cat > "$W/run.json" <<'JSON'
{"model": {"arch": "resnet18"},
 "dataset": {"type": "fashion_mnist", "subset_per_class": 4, "val_fraction": 0.25,
             "image_size": 32, "augment": false},
 "strategy": "fine_tune", "trainable": ["layer4"],
 "optimizer": {"name": "adamw", "lr": 0.001},
 "epochs": 1, "batch": 8, "seed": 3, "threads": 2}
JSON

"$B" train "$W/run.json" --device cpu --out "$W/cpu" > "$W/cpu.out" 2> "$W/cpu.err" ||
    fail "--device cpu exited $? ($(cat "$W/cpu.err"))"
grep -Eq '^epoch 1/1  train loss' "$W/cpu.out" || fail "--device cpu: no epoch line"
grep -q 'device: cuda' "$W/cpu.out" && fail "--device cpu: a cuda device line"
[ -f "$W/cpu/epoch-001.safetensors" ] || fail "--device cpu: no checkpoint"

# precision tf32 / bf16 on the CPU: trains in fp32 and says so
sed 's/"threads": 2}/"threads": 2, "precision": "tf32"}/' "$W/run.json" > "$W/tf32.json"
"$B" train "$W/tf32.json" --device cpu --out "$W/tf32" > "$W/tf32.out" 2> "$W/tf32.err" ||
    fail "precision tf32 on cpu exited $? ($(cat "$W/tf32.err"))"
grep -q '^precision tf32 applies on the GPU; this run trains on the CPU in fp32$' "$W/tf32.out" ||
    fail "precision tf32 on cpu: no note ($(head -3 "$W/tf32.out"))"
losses() { grep -E '^epoch 1/1' "$1" | sed -E 's/  [0-9.]+ samples\/s.*//'; }
[ -n "$(losses "$W/cpu.out")" ] && [ "$(losses "$W/cpu.out")" = "$(losses "$W/tf32.out")" ] ||
    fail "precision tf32 on cpu: losses differ from the fp32 run"
sed 's/"threads": 2}/"threads": 2, "precision": "bf16"}/' "$W/run.json" > "$W/bf16.json"
"$B" train "$W/bf16.json" --device cpu --out "$W/bf16" > "$W/bf16.out" 2> "$W/bf16.err" ||
    fail "precision bf16 on cpu exited $? ($(cat "$W/bf16.err"))"
grep -q '^precision bf16 applies on the GPU; this run trains on the CPU in fp32$' "$W/bf16.out" ||
    fail "precision bf16 on cpu: no note ($(head -3 "$W/bf16.out"))"
[ "$(losses "$W/cpu.out")" = "$(losses "$W/bf16.out")" ] ||
    fail "precision bf16 on cpu: losses differ from the fp32 run"

has_gpu=0
if command -v nvidia-smi > /dev/null && nvidia-smi -L 2> /dev/null | grep -q '^GPU ' &&
   "$B" --help | grep -q 'CUDA backend: compiled in'; then
    has_gpu=1
fi
"$B" train "$W/run.json" --device cuda --out "$W/cuda" > "$W/cuda.out" 2> "$W/cuda.err"
rc=$?
if [ "$has_gpu" -eq 1 ]; then
    [ "$rc" -eq 0 ] || fail "--device cuda on a GPU machine exited $rc ($(cat "$W/cuda.err"))"
    grep -q '^device: cuda:0 (' "$W/cuda.out" || fail "--device cuda: no device line"
    grep -q 'feature cache off: the run trains on the GPU' "$W/cuda.out" ||
        fail "--device cuda: no feature cache line"
    grep -Eq '^epoch 1/1  train loss' "$W/cuda.out" || fail "--device cuda: no epoch line"
    [ -f "$W/cuda/epoch-001.safetensors" ] || fail "--device cuda: no checkpoint"
    "$B" train "$W/tf32.json" --device cuda --out "$W/cuda-tf32" > "$W/cuda-tf32.out" 2>&1 ||
        fail "precision tf32 on cuda exited $?"
    grep -q '^device: cuda:0 (.*), TF32 (' "$W/cuda-tf32.out" || fail "precision tf32: no TF32 line"
    "$B" train "$W/bf16.json" --device cuda --out "$W/cuda-bf16" > "$W/cuda-bf16.out" 2>&1 ||
        fail "precision bf16 on cuda exited $? ($(tail -2 "$W/cuda-bf16.out"))"
    grep -q '^device: cuda:0 (.*), bf16 mixed precision (' "$W/cuda-bf16.out" ||
        fail "precision bf16: no bf16 line"
    grep -Eq '^epoch 1/1  train loss' "$W/cuda-bf16.out" || fail "precision bf16: no epoch line"
    "$B" train "$W/run.json" --device cuda:99 --out "$W/c99" > /dev/null 2> "$W/c99.err"
    one_line_exit2 "--device cuda:99" $? "$W/c99.err" "reports [0-9]+ CUDA device"
else
    one_line_exit2 "--device cuda (no GPU)" "$rc" "$W/cuda.err" \
        "no usable CUDA device: .+|no CUDA backend"
    "$B" --device cuda > /dev/null 2> "$W/wb_cuda.err" < /dev/null
    one_line_exit2 "workbench --device cuda (no GPU)" $? "$W/wb_cuda.err" \
        "no usable CUDA device: .+|no CUDA backend"
    [ -d "$W/cuda" ] && fail "--device cuda (no GPU): an output folder was made"
fi

# text runs take the device too: a tiny BERT (config.json and vocab.txt,
# random init) on a CSV, 3 epochs; on the CPU here, on cuda where a GPU is
"$THAW_PYTHON" "$THAW_SOURCE_DIR/tests/support/make_tiny_text_run.py" "$W/tiny" ||
    fail "make_tiny_text_run.py failed"
"$B" train "$W/tiny/run.json" --device cpu --out "$W/text-cpu" > "$W/text-cpu.out" 2>&1 ||
    fail "text run --device cpu exited $? ($(tail -2 "$W/text-cpu.out"))"
grep -Eq '^epoch 3/3  train loss' "$W/text-cpu.out" || fail "text run --device cpu: no epoch line"
grep -q 'device: cuda' "$W/text-cpu.out" && fail "text run --device cpu: a cuda device line"
"$B" train "$W/tiny/run.json" --device cuda:0 --out "$W/text" > "$W/text.out" 2> "$W/text.err"
rc=$?
if [ "$has_gpu" -eq 1 ]; then
    [ "$rc" -eq 0 ] || fail "text run --device cuda exited $rc ($(cat "$W/text.err"))"
    grep -q '^device: cuda:0 (' "$W/text.out" || fail "text run --device cuda: no device line"
    [ -f "$W/text/epoch-003.safetensors" ] || fail "text run --device cuda: no checkpoint"
    "$THAW_PYTHON" -c 'import json, sys; r = json.load(open(sys.argv[1])); r["precision"] = "bf16"
json.dump(r, open(sys.argv[2], "w"))' "$W/tiny/run.json" "$W/tiny/bf16.json"
    "$B" train "$W/tiny/bf16.json" --device cuda:0 --out "$W/text-bf16" > /dev/null \
        2> "$W/text-bf16.err"
    one_line_exit2 "text run precision bf16 on cuda" $? "$W/text-bf16.err" \
        "key 'precision': bf16 is for image models"
else
    one_line_exit2 "text run --device cuda (no GPU)" "$rc" "$W/text.err" \
        "no usable CUDA device|no CUDA backend"
fi

[ "$failures" -eq 0 ] && echo "PASS" && exit 0
echo "$failures failure(s)"
exit 1
