#!/usr/bin/env bash
# Text classification accuracy on a real labelled set (Debian package
# fortunes: topic files as classes), one seeded split for all three:
#   (a) all-MiniLM-L6-v2 fine-tuned with thaw's default text recipe
#   (b) the same encoder shape from random init (model.pretrained false),
#       same recipe and epochs
#   (c) bag-of-words logistic regression in numpy (bow_logreg.py), on the
#       same split (text_split.py replays thaw's split)
# Prints JSON lines and a markdown table (accuracy on the held-out split,
# wall time).
#
# usage: bench/text/run_text_accuracy.sh [--exe PATH] [--quick] [--threads N]
#   --exe    the thaw binary (default build-tx/thaw, else build/thaw)
#   --quick  2 topics x 20 texts, 1 epoch: checks it runs, numbers mean nothing
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
EXE=""
THREADS=2
TOPICS='"computers", "love", "science", "politics", "sports", "food"'
SUBSET=140
EPOCHS=3
MAXLEN=64
while [ $# -gt 0 ]; do
    case "$1" in
        --exe) EXE="$2"; shift 2 ;;
        --quick) TOPICS='"love", "sports"'; SUBSET=20; EPOCHS=1; MAXLEN=32; shift ;;
        --threads) THREADS="$2"; shift 2 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "run_text_accuracy.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
if [ -z "$EXE" ]; then
    for c in "$ROOT/build-tx/thaw" "$ROOT/build/thaw"; do
        [ -x "$c" ] && EXE=$c && break
    done
fi
[ -x "$EXE" ] || { echo "run_text_accuracy.sh: build thaw first" >&2; exit 2; }
[ -d /usr/share/games/fortunes ] || { echo "run_text_accuracy.sh: apt-get install fortunes" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

run_thaw() {   # name pretrained
    cat > "$WORK/$1.json" <<JSON
{"model": {"arch": "minilm", "pretrained": $2},
 "dataset": {"type": "fortunes", "topics": [$TOPICS], "subset_per_class": $SUBSET,
             "val_fraction": 0.2, "max_length": $MAXLEN},
 "epochs": $EPOCHS, "seed": 0, "threads": $THREADS}
JSON
    local t0 t1
    t0=$(date +%s.%N)
    "$EXE" train "$WORK/$1.json" --json --out "$WORK/$1" > "$WORK/$1.out"
    t1=$(date +%s.%N)
    /usr/bin/python3 - "$1" "$WORK/$1.out" "$t0" "$t1" <<'PY'
import json, sys, re
name, path, t0, t1 = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
lines = [json.loads(l) for l in open(path)]
done = [l for l in lines if l["event"] == "done"][-1]
sizes = [l["message"] for l in lines if l["event"] == "log" and "texts in" in l["message"]][0]
m = re.search(r"train (\d+), validation (\d+)", sizes)
print(json.dumps({"model": name, "val_acc": done["val_acc"], "train": int(m.group(1)),
                  "val": int(m.group(2)), "seconds": round(t1 - t0, 1),
                  "epochs": [round(l["val_acc"], 4) for l in lines if l["event"] == "epoch"]}))
PY
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
a=$(run_thaw minilm_finetuned true); echo "$a"
b=$(run_thaw minilm_random_init false); echo "$b"
topics=$(echo "$TOPICS" | tr -d '" ')
c=$(cd "$ROOT/bench/text" && /usr/bin/python3 bow_logreg.py --topics "$topics" \
    --subset "$SUBSET" --val 0.2 --seed 0); echo "$c"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 - "$a" "$b" "$c" <<'PY'
import json, sys
rows = [json.loads(x) for x in sys.argv[1:]]
if len({(r["train"], r["val"]) for r in rows}) != 1:
    sys.exit("run_text_accuracy.sh: the splits differ: %s" % rows)
print("| model | held-out accuracy | wall time (s) |")
print("|---|---|---|")
for r in rows:
    print(f"| {r['model']} | {r['val_acc']:.3f} | {r['seconds']:.0f} |")
PY
