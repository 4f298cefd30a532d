#!/usr/bin/env bash
# ResNet-18/50 on the CPU: thaw (bench_resnet) against PyTorch
# (bench_resnet_torch.py) on this machine, in one run, alternating thaw and
# torch per configuration. Every configuration runs in fresh processes, so
# peak RSS (ru_maxrss) is that configuration's alone. Prints a markdown
# table; the raw JSON lines go to $OUT_DIR/results.jsonl.
#
# usage: bench/run_resnet.sh [--quick] [--exe PATH] [--only REGEX]
#                            [--out DIR] [--threads N]
#   --quick   smoke run: batch 4, size 64, 1 timed iteration, no warm-up,
#             a subset of configurations (under a minute)
#   --exe     the bench_resnet binary (default: build-bench/bench/bench_resnet,
#             else build/bench/bench_resnet)
#   --only    run only configurations whose name matches this extended regex,
#             names look like "resnet50 224 full"
#   --out     directory for results.jsonl (default: a fresh mktemp dir)
#   --threads threads for both sides (default 2)
#   --rounds  run the whole list N times (default 1); the table keeps each
#             side's best step (bench/resnet_table.py, which also combines
#             the results.jsonl of separate runs)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY=/usr/bin/python3
QUICK=0
EXE=""
ONLY=""
OUT_DIR=""
THREADS=2
ROUNDS=1

while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1; shift ;;
        --exe) EXE="$2"; shift 2 ;;
        --only) ONLY="$2"; shift 2 ;;
        --out) OUT_DIR="$2"; shift 2 ;;
        --threads) THREADS="$2"; shift 2 ;;
        --rounds) ROUNDS="$2"; shift 2 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "run_resnet.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done

if [ -z "$EXE" ]; then
    for c in "$ROOT/build-bench/bench/bench_resnet" "$ROOT/build/bench/bench_resnet"; do
        if [ -x "$c" ]; then EXE="$c"; break; fi
    done
fi
if [ -z "$EXE" ] || [ ! -x "$EXE" ]; then
    echo "run_resnet.sh: bench_resnet not found; build it first:" >&2
    echo "  cmake -S $ROOT -B $ROOT/build-bench -DCMAKE_BUILD_TYPE=Release" \
         "&& cmake --build $ROOT/build-bench -j2 --target bench_resnet" >&2
    exit 1
fi
if [ -z "$OUT_DIR" ]; then
    OUT_DIR="$(mktemp -d /tmp/thaw-bench-resnet.XXXXXX)"
fi
mkdir -p "$OUT_DIR"
RESULTS="$OUT_DIR/results.jsonl"
: > "$RESULTS"

# Each line: arch size mode warmup iters. Iteration counts keep the full
# run near 15-25 minutes on 2 cores (about 16 min measured on a busy
# machine); ResNet-50 224 full training takes ~19 s per step on each side,
# so the 224 ResNet-50 training modes get 1 warm-up + 2 timed steps and the
# cheap configurations more.
if [ "$QUICK" = 1 ]; then
    BATCH=4
    CONFIGS="
resnet18 64 forward 0 1
resnet18 64 head 0 1
resnet18 64 full 0 1
resnet50 64 layer4 0 1
"
else
    BATCH=32
    CONFIGS="
resnet18 224 forward 1 4
resnet18 224 head 1 4
resnet18 224 layer4 1 3
resnet18 224 full 1 3
resnet18 96 forward 1 8
resnet18 96 head 1 8
resnet18 96 layer4 1 6
resnet18 96 full 1 6
resnet50 224 forward 1 3
resnet50 224 head 1 3
resnet50 224 layer4 1 2
resnet50 224 full 1 2
resnet50 96 forward 1 6
resnet50 96 head 1 6
resnet50 96 layer4 1 4
resnet50 96 full 1 4
"
fi

echo "# thaw: $EXE" >&2
echo "# results: $RESULTS" >&2
START=$(date +%s)
for ((round = 1; round <= ROUNDS; round++)); do
while read -r arch size mode warmup iters; do
    [ -z "$arch" ] && continue
    name="$arch $size $mode"
    if [ -n "$ONLY" ] && ! [[ "$name" =~ $ONLY ]]; then
        continue
    fi
    common=(--arch "$arch" --batch "$BATCH" --size "$size" --mode "$mode"
            --warmup "$warmup" --iters "$iters" --threads "$THREADS")
    t0=$(date +%s)
    thaw_line="$("$EXE" "${common[@]}" | tail -n 1)"
    t1=$(date +%s)
    torch_line="$("$PY" "$ROOT/bench/bench_resnet_torch.py" "${common[@]}" | tail -n 1)"
    t2=$(date +%s)
    echo "$thaw_line" >> "$RESULTS"
    echo "$torch_line" >> "$RESULTS"
    echo "# $name: thaw $((t1 - t0)) s, torch $((t2 - t1)) s (both formats)" >&2
done <<< "$CONFIGS"
done
echo "# total $(( $(date +%s) - START )) s" >&2

"$PY" "$ROOT/bench/resnet_table.py" "$RESULTS"
