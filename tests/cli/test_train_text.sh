#!/usr/bin/env bash
# thaw train on text: all-MiniLM-L6-v2 (the real weights quickstart.sh
# fetches) on the Debian fortunes package, 2 topics x 20 texts, max_length
# 32, batch 8, 2 epochs of 4 steps:
#  - the human lines (data line, start line with the groups and the text
#    recipe's lr 2e-05, one line per epoch, the confusion matrix with the
#    topics' names) and --json (start, step, epoch, done with confusion);
#  - resume: epoch-1 checkpoint resumed gives a byte-identical epoch-2
#    checkpoint; SIGINT after step 2: exit 130, interrupted.safetensors,
#    resumed to the same bytes;
#  - strategy and layer_lr_decay show in the start line;
#  - bad run files and data: exit 2, one stderr line naming the file and
#    key or line (a vocab that does not fit the embeddings among them).
# Skips (exit 0, says why) when the MiniLM files or fortunes are absent.
set -u
# shellcheck source=cli_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

W=$(fresh_dir train_text)
clean_on_pass "$W"
B=$THAW_BINARY
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

MINILM=${THAW_CACHE:-$HOME/.cache/thaw}/weights/all-minilm-l6-v2
for f in model.safetensors config.json vocab.txt; do
    if [ ! -s "$MINILM/$f" ]; then
        echo "SKIP: $MINILM/$f missing (bash quickstart.sh fetches all-MiniLM-L6-v2)"
        exit 0
    fi
done
if [ ! -f /usr/share/games/fortunes/love ]; then
    echo "SKIP: Debian package fortunes not installed (apt-get install fortunes)"
    exit 0
fi

cat > "$W/run.json" <<JSON
{"model": {"arch": "minilm", "weights": "$MINILM"},
 "dataset": {"type": "fortunes", "topics": ["love", "sports"], "subset_per_class": 20,
             "val_fraction": 0.2, "max_length": 32},
 "epochs": 2, "batch": 8, "seed": 5, "threads": 2}
JSON

# 1. human lines
"$B" train "$W/run.json" --out "$W/human" > "$W/human.out" 2> "$W/human.err" ||
    fail "human run exited $? ($(cat "$W/human.err"))"
grep -q '^fortunes: 40 texts in 2 classes (train 32, validation 8); max_length 32' "$W/human.out" ||
    fail "no data line: $(head -3 "$W/human.out")"
grep -q '^minilm (6 layers, hidden 384), mean head, full, 2 classes, linear schedule; trainable: embeddings(lr 2e-05) encoder.layer.0(lr 2e-05)' "$W/human.out" ||
    fail "no start line with the text recipe: $(cat "$W/human.out")"
grep -qE '^epoch 2/2  train loss [0-9.]+ acc [0-9.]+  val loss [0-9.]+ acc [0-9.]+  [0-9.]+ samples/s' \
    "$W/human.out" || fail "no epoch line: $(cat "$W/human.out")"
grep -q '^  love ' "$W/human.out" && grep -q '^  sports ' "$W/human.out" ||
    fail "confusion matrix lacks the topic names"
[ -f "$W/human/epoch-001.safetensors" ] && [ -f "$W/human/epoch-002.safetensors" ] ||
    fail "no per-epoch checkpoints"
# metrics.csv: the header and a row per epoch, validation columns filled
awk -F, 'NR == 1 && $1 == "epoch" && $5 == "val_loss" { h = 1 }
         NR > 1 && $1 == NR - 1 && $5 != "" && $6 != "" { n++ }
         END { exit !(h && n == 2 && NR == 3) }' "$W/human/metrics.csv" ||
    fail "metrics.csv: $(cat "$W/human/metrics.csv" 2>&1)"

# 2. --json (the reference run for resume)
"$B" train "$W/run.json" --out "$W/full" --json > "$W/full.jsonl" 2> "$W/full.err" ||
    fail "json run exited $? ($(cat "$W/full.err"))"
"$THAW_PYTHON" - "$W/full.jsonl" <<'PY' || fail "--json lines do not parse or miss events"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
kinds = [e["event"] for e in ev]
assert kinds.count("start") == 1 and kinds.count("epoch") == 2 and kinds[-1] == "done", kinds
steps = [e for e in ev if e["event"] == "step"]
assert [e["step"] for e in steps] == list(range(1, 9)), steps
assert all(e["total_steps"] == 8 for e in steps)
# warmup over round(0.1 * 8) = 1 step, then linear decay to 0
assert steps[0]["lr"] == 0 and abs(steps[1]["lr"] - 2e-5) < 1e-12, steps[:2]
assert abs(steps[4]["lr"] - 2e-5 * 4 / 7) < 1e-10, steps[4]
done = ev[-1]
assert done["classes"] == ["love", "sports"] and sum(map(sum, done["confusion"])) == 8, done
assert done["checkpoint"].endswith("epoch-002.safetensors")
PY
cmp -s "$W/human/epoch-002.safetensors" "$W/full/epoch-002.safetensors" ||
    fail "two identical runs gave different checkpoints"
"$THAW_PYTHON" - "$W/full/epoch-002.safetensors" <<'PY' || fail "checkpoint contents"
import json, struct, sys
f = open(sys.argv[1], "rb")
n = struct.unpack("<Q", f.read(8))[0]
h = json.loads(f.read(n))
m = h["__metadata__"]
assert m["task"] == "text_classification" and m["arch"] == "minilm" and m["head"] == "mean", m
assert json.loads(m["classes"]) == ["love", "sports"] and m["epoch"] == "2", m
assert json.loads(m["run"])["model"]["arch"] == "minilm"
for k in ("embeddings.word_embeddings.weight", "encoder.layer.5.output.LayerNorm.bias",
          "pooler.dense.weight", "classifier.weight", "opt.exp_avg.classifier.weight",
          "opt.exp_avg_sq.encoder.layer.0.attention.self.query.weight",
          "opt.step.classifier.bias"):
    assert k in h, k
assert h["classifier.weight"]["shape"] == [2, 384]
PY

# 3. resume from epoch 1: the same epoch-2 bytes
mkdir -p "$W/part"
cp "$W/full/epoch-001.safetensors" "$W/part/start.safetensors"
"$B" train "$W/run.json" --out "$W/part" --resume "$W/part/start.safetensors" \
    > "$W/resume.out" 2>&1 || fail "resume failed: $(cat "$W/resume.out")"
grep -q '^resumed from .* at epoch 2, step 4' "$W/resume.out" || fail "no resume line: $(cat "$W/resume.out")"
cmp -s "$W/full/epoch-002.safetensors" "$W/part/epoch-002.safetensors" ||
    fail "resumed run differs from the uninterrupted one"
[ -f "$W/part/epoch-001.safetensors" ] && fail "resume re-ran epoch 1"

# 4. SIGINT after step 2: exit 130, a checkpoint, resume to the same end
"$B" train "$W/run.json" --out "$W/sig" --json > "$W/sig.jsonl" 2> "$W/sig.err" &
pid=$!
for _ in $(seq 1200); do
    grep -q '"step":2,' "$W/sig.jsonl" 2>/dev/null && break
    sleep 0.05
done
kill -INT "$pid"
wait "$pid"
rc=$?
[ "$rc" = 130 ] || fail "SIGINT exit status $rc, expected 130"
if [ -f "$W/sig/interrupted.safetensors" ]; then
    "$B" train "$W/run.json" --out "$W/sig" --resume "$W/sig/interrupted.safetensors" \
        > "$W/sig_resume.out" 2>&1 || fail "resume from the interrupt checkpoint failed"
    cmp -s "$W/full/epoch-002.safetensors" "$W/sig/epoch-002.safetensors" ||
        fail "run resumed after SIGINT differs from the uninterrupted one"
else
    fail "no interrupted.safetensors after SIGINT"
fi

# 5. strategy, group overrides and layer-wise lr decay in the start line
# (epochs 1 and a tiny subset: only the start line matters here)
cat > "$W/decay.json" <<JSON
{"model": {"arch": "minilm", "weights": "$MINILM", "head": "cls"},
 "dataset": {"type": "fortunes", "topics": ["love", "sports"], "subset_per_class": 2,
             "val_fraction": 0, "max_length": 8},
 "layer_lr_decay": 0.5, "groups": {"embeddings": {"frozen": true}},
 "optimizer": {"lr": 1e-4}, "epochs": 1, "batch": 4, "threads": 2}
JSON
"$B" train "$W/decay.json" --out "$W/decay" > "$W/decay.out" 2>&1 || fail "decay run: $(cat "$W/decay.out")"
grep -q 'cls head, full, 2 classes, linear schedule; trainable: encoder.layer.0(lr 3.13e-06) .*encoder.layer.4(lr 5e-05) encoder.layer.5(lr 0.0001) pooler(lr 0.0001) classifier(lr 0.0001)$' \
    "$W/decay.out" || fail "layer_lr_decay start line: $(grep trainable "$W/decay.out")"
grep -q 'trainable: embeddings' "$W/decay.out" && fail "frozen embeddings still train"
sed 's/"layer_lr_decay": 0.5, "groups": {"embeddings": {"frozen": true}},/"strategy": "feature_extraction",/' \
    "$W/decay.json" > "$W/fe.json"
"$B" train "$W/fe.json" --out "$W/fe" > "$W/fe.out" 2>&1 || fail "feature extraction run: $(cat "$W/fe.out")"
grep -q 'feature_extraction, 2 classes, linear schedule; trainable: classifier(lr 0.0001)$' "$W/fe.out" ||
    fail "feature_extraction start line: $(grep trainable "$W/fe.out")"

# 6. bad run files and data: exit 2, one line naming the file
bad() {  # NAME EXPECTED-SUBSTRING JSON [FILE-NAMED]
    printf '%s\n' "$3" > "$W/$1.json"
    "$B" train "$W/$1.json" --out "$W/bad" > "$W/bad.out" 2> "$W/bad.err"
    local rc=$?
    [ "$rc" = 2 ] || fail "$1: exit $rc, expected 2 ($(cat "$W/bad.err"))"
    [ "$(wc -l < "$W/bad.err")" = 1 ] || fail "$1: stderr is not one line: $(cat "$W/bad.err")"
    grep -qF "${4:-$1.json}" "$W/bad.err" || fail "$1: stderr does not name the file: $(cat "$W/bad.err")"
    grep -qF "$2" "$W/bad.err" || fail "$1: stderr lacks '$2': $(cat "$W/bad.err")"
}
F='"type":"fortunes","topics":["love","sports"],"subset_per_class":2'
bad image_key "unknown key 'dataset.image_size'" \
    "{\"model\":{\"arch\":\"minilm\"},\"dataset\":{$F,\"image_size\":32}}"
bad no_topics "key 'dataset.topics' is required" \
    '{"model":{"arch":"minilm"},"dataset":{"type":"fortunes"}}'
bad one_topic "key 'dataset.topics' must be a list of 2" \
    '{"model":{"arch":"minilm"},"dataset":{"type":"fortunes","topics":["love"]}}'
bad bad_topic "no such fortunes topic" \
    '{"model":{"arch":"minilm"},"dataset":{"type":"fortunes","topics":["love","nosuchtopic"]}}' \
    "/usr/share/games/fortunes/nosuchtopic"
bad mlp_head "key 'model.head' must be one of mean, cls" \
    "{\"model\":{\"arch\":\"minilm\",\"head\":\"mlp\"},\"dataset\":{$F}}"
bad image_data "'fashion_mnist' is an image dataset, but model.arch 'minilm' needs text_csv" \
    '{"model":{"arch":"minilm"},"dataset":{"type":"fashion_mnist"}}'
bad text_data "'fortunes' is a text dataset, but model.arch 'resnet18' needs" \
    "{\"model\":{\"arch\":\"resnet18\"},\"dataset\":{$F}}"
bad decay_image "key 'layer_lr_decay' applies to text encoders" \
    '{"model":{"arch":"resnet18"},"dataset":{"type":"fashion_mnist"},"layer_lr_decay":0.9}'
bad decay_range "key 'layer_lr_decay' must be between" \
    "{\"model\":{\"arch\":\"minilm\"},\"dataset\":{$F},\"layer_lr_decay\":1.5}"
bad too_long "key 'dataset.max_length' is 1000, but minilm has 512 positions" \
    "{\"model\":{\"arch\":\"minilm\"},\"dataset\":{$F,\"max_length\":1000}}"
bad bert_weights "key 'model.weights' is required for bert" \
    "{\"model\":{\"arch\":\"bert\"},\"dataset\":{$F}}"
bad no_weights "key 'model.weights'" \
    "{\"model\":{\"arch\":\"minilm\",\"weights\":\"$W/nowhere\"},\"dataset\":{$F}}"
bad text_group "key 'groups.layer4' names no group of minilm" \
    "{\"model\":{\"arch\":\"minilm\"},\"dataset\":{$F},\"groups\":{\"layer4\":{\"lr\":0.1}}}"
bad text_layers "key 'frozen_layers[0]' names no layer of minilm: 'layer4.0.conv1'" \
    "{\"model\":{\"arch\":\"minilm\"},\"dataset\":{$F},\"frozen_layers\":[\"layer4.0.conv1\"]}"
printf 'text,label\nfine,0\nalso fine,1\nbad,2\n' > "$W/labels.csv"
bad csv_range "labels.csv:4: label 2 out of range 0..1" \
    "{\"model\":{\"arch\":\"minilm\"},\"dataset\":{\"type\":\"text_csv\",\"path\":\"$W/labels.csv\",\"num_classes\":2}}" \
    "labels.csv"
printf 'sentence,label\nfine,0\n' > "$W/nocol.csv"
bad csv_column "nocol.csv:1: no 'text' column" \
    "{\"model\":{\"arch\":\"minilm\"},\"dataset\":{\"type\":\"text_csv\",\"path\":\"$W/nocol.csv\"}}" \
    "nocol.csv"
printf '{"text": "a", "label": 0}\n{"text": "b"}\n' > "$W/nolabel.jsonl"
bad jsonl_label "nolabel.jsonl:2: no \"label\"" \
    "{\"model\":{\"arch\":\"minilm\"},\"dataset\":{\"type\":\"text_jsonl\",\"path\":\"$W/nolabel.jsonl\"}}" \
    "nolabel.jsonl"
# a vocab that does not belong to the weights: more tokens than embedding rows
mkdir -p "$W/smallvocab"
ln -sf "$MINILM/model.safetensors" "$W/smallvocab/model.safetensors"
cp "$MINILM/vocab.txt" "$W/smallvocab/vocab.txt"
sed 's/"vocab_size": *[0-9]*/"vocab_size": 1000/' "$MINILM/config.json" > "$W/smallvocab/config.json"
bad vocab "this vocab does not belong to these weights" \
    "{\"model\":{\"arch\":\"bert\",\"weights\":\"$W/smallvocab\"},\"dataset\":{$F}}" "vocab.txt"

# 7. texts from a CSV with empty and non-UTF-8 texts: counted, run goes on
printf 'text,label\n"Hello there",a\n"  ",b\n"caf\xe9 latin-1",b\n"more words here",a\n"and here",b\n' \
    > "$W/mixed.csv"
cat > "$W/mixed.json" <<JSON
{"model": {"arch": "minilm", "weights": "$MINILM"},
 "dataset": {"type": "text_csv", "path": "$W/mixed.csv", "val_fraction": 0, "max_length": 16},
 "epochs": 1, "batch": 4, "threads": 2}
JSON
"$B" train "$W/mixed.json" --out "$W/mixed" > "$W/mixed.out" 2>&1 || fail "mixed csv run: $(cat "$W/mixed.out")"
grep -q '^skipped 1 empty text(s) in ' "$W/mixed.out" || fail "no empty-text line: $(cat "$W/mixed.out")"
grep -q '^warning: 1 text(s) in .* are not valid UTF-8' "$W/mixed.out" || fail "no UTF-8 warning"
grep -q '^text_csv: 4 texts in 2 classes (train 4, validation 0)' "$W/mixed.out" || fail "mixed data line"

[ "$failures" = 0 ] && echo "PASS test_train_text" && exit 0
echo "$failures failure(s)"
exit 1
