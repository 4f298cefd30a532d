#!/usr/bin/env bash
# MiniLM (all-MiniLM-L6-v2) fine-tuning tokens/s on the CPU: thaw
# (bench_bert) against PyTorch (bench_bert_torch.py), same machine, one run,
# alternating thaw and torch; prints the JSON lines and the ratio.
#
# usage: bench/text/run_bert.sh [--exe PATH] [--quick] [--threads N]
#   --exe    the bench_bert binary (default build-enc/bench/bench_bert, else
#            build/bench/bench_bert)
#   --quick  batch 2, seq 16, 1 step: checks it runs, numbers mean nothing
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
EXE=""
ARGS=(--batch 16 --seq 128 --iters 3 --warmup 1)
THREADS=2
while [ $# -gt 0 ]; do
    case "$1" in
        --exe) EXE="$2"; shift 2 ;;
        --quick) ARGS=(--batch 2 --seq 16 --iters 1 --warmup 0); shift ;;
        --threads) THREADS="$2"; shift 2 ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "run_bert.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
if [ -z "$EXE" ]; then
    for c in "$ROOT/build-enc/bench/bench_bert" "$ROOT/build/bench/bench_bert"; do
        [ -x "$c" ] && EXE=$c && break
    done
fi
[ -x "$EXE" ] || { echo "run_bert.sh: build the bench_bert target first" >&2; exit 2; }
thaw=$("$EXE" "${ARGS[@]}" --threads "$THREADS")
echo "$thaw"
torch=$(/usr/bin/python3 "$ROOT/bench/text/bench_bert_torch.py" "${ARGS[@]}" --threads "$THREADS")
echo "$torch"
/usr/bin/python3 - "$thaw" "$torch" <<'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"| batch x seq | thaw tokens/s | PyTorch {b['torch']} tokens/s | ratio |")
print("|---|---|---|---|")
print(f"| {a['batch']} x {a['seq']} | {a['tokens_s']:.0f} | {b['tokens_s']:.0f} | "
      f"{a['tokens_s'] / b['tokens_s']:.2f}x |")
PY
