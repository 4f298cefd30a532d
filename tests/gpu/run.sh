#!/usr/bin/env bash
# One-shot check of the CUDA backend on a GPU machine (issue 5): configure
# with THAW_CUDA=ON, build, run each GPU test once, `thaw train --device
# cuda` on a tiny run, then the GPU benchmark, and print one summary (GPU,
# each test's result, each op's and each model tensor class's worst
# difference, the images/s table). Aim: under 5 minutes on an H100.
#   bash tests/gpu/run.sh [BUILD_DIR] [PYTHON]   (default: build-gpu, python3)
#   GPU_RUN_BENCH=0 skips the benchmark.
# Exit status: 0 when every GPU test passed, 1 otherwise (skipped counts as
# a failure here: this script is meant for a machine with a GPU).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build-gpu}
PY=${2:-python3}
LOG=$BUILD/gpu-run.log
TESTS_LOG=$BUILD/gpu-tests.log
JOBS=$(nproc)
start=$(date +%s)

mkdir -p "$BUILD"
echo "== thaw GPU check: $(date -u +%FT%TZ), $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)"
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap \
        --format=csv,noheader | sed 's/^/   gpu: /'
else
    echo "   gpu: nvidia-smi not found"
fi
echo "   nvcc: $(nvcc --version 2>/dev/null | tail -1)"

if ! cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DTHAW_CUDA=ON >"$LOG" 2>&1; then
    echo "FAIL: configure (see $LOG)"; tail -20 "$LOG"; exit 1
fi
TESTS="test_gpu_check test_gpu_ops test_gpu_cnn_ops test_gpu_models"
# Only what the GPU checks need (thaw for --help's backend line and the run).
# shellcheck disable=SC2086
if ! cmake --build "$BUILD" -j"$JOBS" --target thaw bench_gpu $TESTS >>"$LOG" 2>&1; then
    echo "FAIL: build (see $LOG)"; grep -E "error" "$LOG" | head -20; exit 1
fi
echo "   $("$BUILD/thaw" --help | grep 'CUDA backend')"
echo "   build done after $(( $(date +%s) - start )) s"

echo "== tests (each once; ops: max |gpu - cpu| <= 1e-4 x max |cpu|, models: 1e-3)"
: >"$TESTS_LOG"
failed_tests=0
for t in $TESTS; do
    t0=$(date +%s)
    echo "-- $t" >>"$TESTS_LOG"
    timeout 240 "$BUILD/tests/$t" >>"$TESTS_LOG" 2>&1
    rc=$?
    case $rc in
        0) verdict=PASS ;;
        77) verdict="SKIPPED (no GPU)"; failed_tests=$((failed_tests + 1)) ;;
        124) verdict="FAIL (timeout 240 s)"; failed_tests=$((failed_tests + 1)) ;;
        *) verdict="FAIL (exit $rc)"; failed_tests=$((failed_tests + 1)) ;;
    esac
    echo "-- $t: $verdict, $(( $(date +%s) - t0 )) s" >>"$TESTS_LOG"
    printf "   %-20s %s, %d s\n" "$t" "$verdict" $(( $(date +%s) - t0 ))
done
echo "== details"
grep -E "^(-- |gpu:|gpu-op|FAIL|ok:|skipped|   device)" "$TESTS_LOG" | sed 's/^/   /'
failed_checks=$(grep -cE "gpu-op .*FAIL|^FAIL" "$TESTS_LOG" || true)

echo "== thaw train --device cuda (resnet18 32x32, Fashion-MNIST 4 per class, 2 epochs)"
train_ok=1
if [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    W=$BUILD/gpu-train
    rm -rf "$W"; mkdir -p "$W"
    cat > "$W/run.json" <<'JSON'
{"model": {"arch": "resnet18"},
 "dataset": {"type": "fashion_mnist", "subset_per_class": 4, "val_fraction": 0.25,
             "image_size": 32, "augment": false},
 "strategy": "fine_tune", "trainable": ["layer4"],
 "optimizer": {"name": "adamw", "lr": 0.001}, "epochs": 2, "batch": 8, "seed": 3}
JSON
    if timeout 120 "$BUILD/thaw" train "$W/run.json" --device cuda --out "$W/out" \
            >"$W/train.out" 2>"$W/train.err" && grep -q '^device: cuda:0' "$W/train.out" &&
            [ -f "$W/out/epoch-002.safetensors" ]; then
        grep -E "^(device|feature cache|epoch)" "$W/train.out" | sed 's/^/   /'
        echo "   train: PASS"
    else
        train_ok=0
        sed 's/^/   /' "$W/train.out" "$W/train.err" | tail -15
        echo "   train: FAIL"
    fi
else
    echo "   skipped: Fashion-MNIST not installed"
fi

if [ "${GPU_RUN_BENCH:-1}" != 0 ]; then
    echo "== benchmark (bench/gpu/run.sh; training images/s, 224x224)"
    bash "$ROOT/bench/gpu/run.sh" "$BUILD" "$PY" 2>&1 | sed 's/^/   /'
fi

echo "== $(( $(date +%s) - start )) s; failing or skipped tests: $failed_tests; failing checks: $failed_checks"
if [ "$failed_tests" -ne 0 ] || [ "$train_ok" -ne 1 ]; then
    echo "RESULT: FAIL (full logs: $LOG, $TESTS_LOG)"
    exit 1
fi
echo "RESULT: PASS"
