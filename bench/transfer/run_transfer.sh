#!/usr/bin/env bash
# The transfer-learning claim, measured (bench/transfer/README.md):
# EfficientNet-Lite0 on 500 Fashion-MNIST training photos (50 per class,
# seeded; 10% held out for validation), the same recipe and epoch budget for
#   scratch             random init, everything trains
#   feature_extraction  ImageNet weights, backbone frozen, new head
#   fine_tune           ImageNet weights, stage7 + top at lr 1e-4, head 1e-3
#   full                ImageNet weights, everything trains, backbone lr 1e-4
# plus ResNet-18 from scratch, each evaluated with `thaw eval` on the full
# 10,000-image test set; then the same feature-extraction run in PyTorch
# written the idiomatic way (torch_feature_extraction.py), for the speed
# ratio. Prints a markdown table (transfer_table.py); raw lines in
# $OUT/results.jsonl.
#
# usage: bench/transfer/run_transfer.sh [--quick] [--exe THAW] [--out DIR]
#        [--epochs N] [--only REGEX] [--no-torch]
#   --quick  smoke run: 10 per class, 64x64, 2 epochs (about two minutes)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY=/usr/bin/python3
EXE=""
OUT=""
EPOCHS=10
PER_CLASS=50
SIZE=224
ONLY="."
TORCH=1
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) PER_CLASS=10; SIZE=64; EPOCHS=2; shift ;;
        --exe) EXE="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        --epochs) EPOCHS="$2"; shift 2 ;;
        --only) ONLY="$2"; shift 2 ;;
        --no-torch) TORCH=0; shift ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) echo "run_transfer.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
if [ -z "$EXE" ]; then
    for c in "$ROOT/build-bench/thaw" "$ROOT/build/thaw"; do
        [ -x "$c" ] && EXE=$c && break
    done
fi
[ -x "$EXE" ] || { echo "run_transfer.sh: build thaw first (cmake --build build)" >&2; exit 2; }
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
WEIGHTS=${THAW_CACHE:-$HOME/.cache/thaw}/weights/efficientnet-lite0.pth
[ -s "$WEIGHTS" ] || { echo "run_transfer.sh: no $WEIGHTS (bash quickstart.sh test fetches it)" >&2; exit 2; }
RESULTS=$OUT/results.jsonl
: > "$RESULTS"

# run_file NAME ARCH WEIGHTS STRATEGY EXTRA_JSON
run_file() {
    local weights=""
    [ -n "$3" ] && weights="\"weights\": \"$3\","
    cat > "$OUT/$1.json" <<JSON
{"model": {"arch": "$2", $weights "head": "mlp"},
 "dataset": {"type": "fashion_mnist", "subset_per_class": $PER_CLASS, "val_fraction": 0.1,
             "image_size": $SIZE, "seed": 0, "augment": false},
 "strategy": "$4", $5
 "optimizer": {"name": "adamw", "lr": 0.001, "weight_decay": 0.0001},
 "schedule": {"name": "cosine", "warmup_ratio": 0.1},
 "epochs": $EPOCHS, "batch": 32, "seed": 0, "label_smoothing": 0.1,
 "threads": 2, "workers": 2}
JSON
}

LOW='"groups": {"stem": {"lr": 0.0001}, "stage1": {"lr": 0.0001}, "stage2": {"lr": 0.0001},
 "stage3": {"lr": 0.0001}, "stage4": {"lr": 0.0001}, "stage5": {"lr": 0.0001},
 "stage6": {"lr": 0.0001}, "stage7": {"lr": 0.0001}, "top": {"lr": 0.0001}},'
run_file lite0_scratch efficientnet_lite0 "" full ""
run_file lite0_feature_extraction efficientnet_lite0 "$WEIGHTS" feature_extraction ""
run_file lite0_fine_tune efficientnet_lite0 "$WEIGHTS" fine_tune \
    '"trainable": ["stage7", "top"], "groups": {"stage7": {"lr": 0.0001}, "top": {"lr": 0.0001}},'
run_file lite0_full efficientnet_lite0 "$WEIGHTS" full "$LOW"
run_file resnet18_scratch resnet18 "" full ""

for name in lite0_scratch lite0_feature_extraction lite0_fine_tune lite0_full resnet18_scratch; do
    echo "$name" | grep -Eq "$ONLY" || continue
    echo "run_transfer: $name" >&2
    t0=$(date +%s.%N)
    "$EXE" train "$OUT/$name.json" --json --out "$OUT/$name" > "$OUT/$name.train.jsonl"
    t1=$(date +%s.%N)
    "$EXE" eval "$OUT/$name/epoch-$(printf %03d "$EPOCHS").safetensors" --split test --json \
        > "$OUT/$name.eval.json"
    "$PY" - "$name" "$t0" "$t1" "$OUT/$name.train.jsonl" "$OUT/$name.eval.json" >> "$RESULTS" <<'PY'
import json, re, sys
name, t0, t1, train, ev = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
lines = [json.loads(l) for l in open(train)]
done = [l for l in lines if l["event"] == "done"][0]
epoch_train_s = []
for l in lines:   # per-epoch train time from the feature-cache lines, when cached
    m = re.search(r"train ([0-9.]+) s", l.get("message", "")) if l["event"] == "log" else None
    if m and l["message"].startswith("epoch "):
        epoch_train_s.append(float(m.group(1)))
e = json.load(open(ev))
print(json.dumps({"side": "thaw", "name": name, "wall_s": t1 - t0,
                  "val_acc": done.get("val_acc"), "test_acc": e["accuracy"],
                  "test_loss": e["loss"], "test_count": e["count"],
                  "epoch_train_s": epoch_train_s}))
PY
done

if [ "$TORCH" = 1 ] && echo lite0_feature_extraction | grep -Eq "$ONLY"; then
    echo "run_transfer: pytorch feature extraction" >&2
    "$PY" "$HERE/torch_feature_extraction.py" "$WEIGHTS" --epochs "$EPOCHS" \
        --per-class "$PER_CLASS" --size "$SIZE" >> "$RESULTS"
fi
"$PY" "$HERE/transfer_table.py" "$RESULTS"
echo "raw results: $RESULTS" >&2
