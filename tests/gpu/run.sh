#!/usr/bin/env bash
# One-shot check of the CUDA backend on a GPU machine (issue 5): configure
# with THAW_CUDA=ON, build, run the GPU tests, print one summary (GPU, each
# test's result, each op's worst difference). Aim: under 5 minutes on an H100.
#   bash tests/gpu/run.sh [BUILD_DIR]     (default: build-gpu in the repo)
# Exit status: 0 when every GPU test passed, 1 otherwise (skipped counts as
# a failure here: this script is meant for a machine with a GPU).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build-gpu}
LOG=$BUILD/gpu-run.log
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
# Only what the GPU tests need (thaw for --help's backend line).
if ! cmake --build "$BUILD" -j"$JOBS" --target thaw test_gpu_check test_gpu_ops \
        test_gpu_cnn_ops >>"$LOG" 2>&1; then
    echo "FAIL: build (see $LOG)"; grep -E "error" "$LOG" | head -20; exit 1
fi
echo "   $("$BUILD/thaw" --help | grep 'CUDA backend')"

ctest --test-dir "$BUILD" -L gpu --output-on-failure --timeout 300 >"$BUILD/gpu-ctest.log" 2>&1
ctest_rc=$?
echo "== tests"
grep -E "Test +#[0-9]+: " "$BUILD/gpu-ctest.log" | sed -E 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: /   /'
echo "== ops (max |gpu - cpu|, tolerance 1e-4 x max |cpu|)"
: >"$BUILD/gpu-ops.log"
for t in test_gpu_ops test_gpu_cnn_ops; do
    echo "-- $t" >>"$BUILD/gpu-ops.log"
    timeout 240 "$BUILD/tests/$t" >>"$BUILD/gpu-ops.log" 2>&1 || echo "FAIL: $t exit $?" >>"$BUILD/gpu-ops.log"
done
grep -E "^(--|gpu|gpu-op|FAIL|skipped)" "$BUILD/gpu-ops.log" | sed 's/^/   /'
failed=$(grep -cE "gpu-op .*FAIL" "$BUILD/gpu-ops.log" || true)
echo "== $((  $(date +%s) - start )) s; ctest exit $ctest_rc; failing op checks: $failed"
if [ "$ctest_rc" -ne 0 ] || grep -q "Skipped" "$BUILD/gpu-ctest.log"; then
    echo "RESULT: FAIL (full logs: $LOG, $BUILD/gpu-ctest.log)"
    exit 1
fi
echo "RESULT: PASS"
