#!/usr/bin/env bash
# The GPU scripts (issue 5) checked here, without a GPU, because a mistake
# in them costs a lent GPU machine's scarce minutes:
#  - bench/gpu/run.sh with a stand-in bench_gpu (prints its arguments as
#    JSON, writes the --profile file) and this machine's python (torch
#    without CUDA: the torch column says "skipped"): the table rows, the
#    variant syntax (commas, name=value, @tf32), the profiles in the
#    default configuration, exit 0; a bench_gpu that prints no JSON makes
#    the thaw column "error" and the exit status 1; the text rows with a
#    stand-in bench_bert and the torch side's own script (skipped here).
#  - tests/gpu/run.sh: bash -n; in a CUDA build, the prebuilt path over this
#    build directory (THAW_GPU_PREBUILT) runs every GPU test, which skip
#    here, reports each as "SKIPPED (no GPU)" and ends "RESULT: FAIL"; with
#    $OUT set (the lent machine's return folder) the summary and the logs
#    land there.
set -u
# shellcheck source=cli_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

W=$(fresh_dir gpu_scripts)
clean_on_pass "$W"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

bash -n "$THAW_SOURCE_DIR/bench/gpu/run.sh" || fail "bench/gpu/run.sh: syntax"
bash -n "$THAW_SOURCE_DIR/tests/gpu/run.sh" || fail "tests/gpu/run.sh: syntax"
bash -n "$THAW_SOURCE_DIR/tests/gpu/pack.sh" || fail "tests/gpu/pack.sh: syntax"

# A stand-in bench_gpu: its arguments back as JSON, and a profile file.
mkdir -p "$W/build/bench"
cat >"$W/build/bench/bench_gpu" <<'EOF'
#!/usr/bin/env bash
args="$*"
while [ $# -gt 0 ]; do
    [ "$1" = --profile ] && echo "per step: stand-in profile ($args)" >"$2"
    shift
done
printf '{"impl":"thaw","img_s":123.4,"conv_algos":"stand-in algos","gpu":"stand-in","args":"%s"}\n' "$args"
EOF
chmod +x "$W/build/bench/bench_gpu"
# and a stand-in bench_bert (the text rows)
cat >"$W/build/bench/bench_bert" <<'EOF'
#!/usr/bin/env bash
args="$*"
while [ $# -gt 0 ]; do
    [ "$1" = --profile ] && echo "per step: stand-in text profile ($args)" >"$2"
    shift
done
set -- $args
printf '{"impl":"thaw","device":"stand-in","tokens_s":555.5,"args":"%s"}\n' "$*"
EOF
chmod +x "$W/build/bench/bench_bert"
BENCH_GPU_BATCHES=128 BENCH_GPU_ITERS=2 bash "$THAW_SOURCE_DIR/bench/gpu/run.sh" \
    "$W/build" "$THAW_PYTHON" >"$W/bench.out" 2>&1
rc=$?
cat "$W/bench.out"
[ "$rc" -eq 0 ] || fail "bench/gpu/run.sh exit $rc with a working bench_gpu"
rows=$(grep -cE '^(resnet50|efficientnet_lite0) +128 +(fp32|tf32|bf16) +123\.4 +skipped' "$W/bench.out")
[ "$rows" -eq 6 ] || fail "want 6 main rows (2 models x 3 precisions, torch skipped), got $rows"
grep -q '"args":"--arch resnet50 --batch 128 --iters 2 --bf16"' "$W/build/bench-gpu.jsonl" ||
    fail "the bf16 row did not pass --bf16 to bench_gpu"
grep -qE '^resnet50 no-fuse@tf32 +128 +tf32 +123\.4 +vs main +1\.00x +vs torch +- +stand-in algos$' \
    "$W/bench.out" || fail "no 'resnet50 no-fuse@tf32' row with its ratio to the main row and its algos"
grep -qE '^resnet50 gemm-1x1@tf32 +128 +tf32' "$W/bench.out" ||
    fail "no TF32 row for gemm-1x1@tf32"
grep -qE '^resnet50 gemm-1x1@tf32 +128 +fp32' "$W/bench.out" &&
    fail "@tf32 variant also ran in fp32"
grep -qE '^lite0 cudnn-depthwise@tf32 +128 +tf32' "$W/bench.out" || fail "no Lite0 variant row"
J=$W/build/bench-gpu.jsonl
grep -q '"args":"--arch resnet50 --batch 128 --iters 2 --gemm-1x1 --tf32"' "$J" ||
    fail "the @tf32 variant's flags did not reach bench_gpu as --gemm-1x1 --tf32"
grep -q '"args":"--arch efficientnet_lite0 --batch 128 --iters 2 --cudnn-depthwise --tf32"' "$J" ||
    fail "Lite0's variant flags did not reach bench_gpu"
grep -q 'stand-in profile (--arch resnet50 --batch 128 --iters 5 --profile [^ ]* --tf32)' \
    "$W/bench.out" || fail "ResNet-50's profile did not run in the default configuration"
grep -q 'stand-in profile (--arch efficientnet_lite0 --batch 128 --iters 5 --profile [^ ]* --tf32)' \
    "$W/bench.out" || fail "Lite0's profile did not run in the default configuration"
grep -q 'torch: torch without CUDA' "$W/bench.out" || fail "no line saying why torch was skipped"
text_rows=$(grep -cE '^minilm-l6 x128 +32 +(fp32|tf32) +555\.5 +skipped +- +\(tokens/s\)' "$W/bench.out")
[ "$text_rows" -eq 2 ] || fail "want 2 text rows (fp32, tf32; torch skipped), got $text_rows"
grep -q '"args":"--random 1 --device cuda --tf32 1 --batch 32 --seq 128 --warmup 2 --iters 2' "$J" ||
    fail "the TF32 text row's flags did not reach bench_bert"
grep -q 'stand-in text profile (--random 1 --device cuda --tf32 1 .* --profile [^ ]*minilm[^ ]*tf32.txt)' \
    "$W/bench.out" || fail "no text profile in TF32 printed"
grep -q '"args":.*--profile' "$J" && fail "the text profile run's line went into the JSON lines"
# custom variants: name=value becomes two arguments
BENCH_GPU_ARCHS=resnet50 BENCH_GPU_BATCHES=64 BENCH_GPU_VARIANTS="workspace-mib=2048@fp32" \
    BENCH_GPU_LITE0_VARIANTS="" BENCH_GPU_ITERS=2 \
    bash "$THAW_SOURCE_DIR/bench/gpu/run.sh" "$W/build" "$THAW_PYTHON" >"$W/bench2.out" 2>&1 ||
    fail "custom variants: exit $?"
grep -q '"args":"--arch resnet50 --batch 128 --iters 2 --workspace-mib 2048"' "$J" ||
    fail "workspace-mib=2048 did not reach bench_gpu as two arguments: $(cat "$J")"

# A bench_gpu that fails: "error" in the thaw column, exit 1.
printf '#!/bin/sh\necho "bench_gpu: device: no"\nexit 1\n' >"$W/build/bench/bench_gpu"
BENCH_GPU_ARCHS=resnet50 BENCH_GPU_BATCHES=64 BENCH_GPU_EXTRAS=0 BENCH_GPU_ITERS=2 \
    bash "$THAW_SOURCE_DIR/bench/gpu/run.sh" "$W/build" "$THAW_PYTHON" >"$W/bench3.out" 2>&1
rc=$?
[ "$rc" -eq 1 ] || fail "a failing bench_gpu: exit $rc, want 1"
grep -qE '^resnet50 +64 +fp32 +error' "$W/bench3.out" || fail "no 'error' in the thaw column"

# tests/gpu/run.sh over this build (CUDA builds only: the GPU tests exist).
B=$(dirname "$THAW_BINARY")
if [ -x "$B/tests/test_gpu_check" ] && [ -x "$B/bench/bench_gpu" ]; then
    mkdir -p "$W/out"
    OUT=$W/out GPU_RUN_TRAIN=0 GPU_RUN_BENCH=0 THAW_GPU_PREBUILT=$B \
        timeout 300 bash "$THAW_SOURCE_DIR/tests/gpu/run.sh" >"$W/gpu.out" 2>&1
    rc=$?
    # tee behind the script's output may still be writing when it exits
    for _ in $(seq 50); do
        grep -q 'RESULT:' "$W/out/gpu-run-summary.txt" 2>/dev/null && break
        sleep 0.1
    done
    grep -q 'RESULT:' "$W/out/gpu-run-summary.txt" ||
        fail "no summary with its RESULT line in \$OUT (gpu-run-summary.txt)"
    [ -f "$W/out/gpu-tests.log" ] || fail "the tests' log was not copied to \$OUT"
    sed 's/^/  | /' "$W/gpu.out" | head -30
    if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
        echo "a GPU is present: tests/gpu/run.sh's verdict is its own ($rc)"
    else
        [ "$rc" -eq 1 ] || fail "tests/gpu/run.sh without a GPU: exit $rc, want 1"
        n=$(grep -c 'SKIPPED (no GPU)' "$W/gpu.out")
        [ "$n" -ge 4 ] || fail "want each GPU test reported 'SKIPPED (no GPU)', got $n"
        grep -q 'RESULT: FAIL' "$W/gpu.out" || fail "no 'RESULT: FAIL' line"
    fi
else
    echo "tests/gpu/run.sh: not run (this build has no CUDA backend)"
fi

if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)"
    exit 1
fi
echo "PASS: GPU scripts"
