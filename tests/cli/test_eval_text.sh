#!/usr/bin/env bash
# thaw eval, export and predict on text checkpoints. Two tiny runs on the
# Debian fortunes package (love vs sports): a random-init 2-layer BERT
# (hidden 32, cls head, vocab of single characters and ## pieces, written
# here) always, and all-MiniLM-L6-v2 (real weights, mean head) when the
# cache has it. For each:
#  - eval --split val reproduces the validation loss, accuracy and
#    confusion matrix that training printed for the same checkpoint;
#  - export writes model.safetensors (no opt.*), config.json (id2label)
#    and vocab.txt; PyTorch (text_export_check.py) loads it strictly and,
#    on the token ids of eval --data texts.csv --logits, gets thaw's logits
#    (1e-4 x max|ref|), accuracy, loss and confusion matrix;
#  - predict --file (the same texts) --json: each top label is PyTorch's
#    argmax, each score its softmax; --text and the human lines.
# Bad input (exit 2, one stderr line naming the file or option): a vocab
# with more tokens than the embeddings, a missing vocab, a checkpoint with
# a renamed parameter (strict load), a data file with
# an unknown label, an image checkpoint given to predict --text, a text
# checkpoint given as image weights, --split test without --data.
# Skips (exit 0, says why) when fortunes is not installed.
set -u
# shellcheck source=cli_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

W=$(fresh_dir eval_text)
clean_on_pass "$W"
B=$THAW_BINARY
PY=$CLI_DIR/text_export_check.py
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

if [ ! -f /usr/share/games/fortunes/love ] || [ ! -f /usr/share/games/fortunes/sports ]; then
    echo "SKIP: Debian package fortunes not installed (apt-get install fortunes)"
    exit 0
fi

# the tiny encoder: characters as WordPiece tokens, random init
mkdir -p "$W/tiny"
"$THAW_PYTHON" - "$W/tiny" <<'PY' || fail "cannot write the tiny encoder files"
import json, string, sys
chars = string.ascii_lowercase + string.digits + string.punctuation
vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list(chars) + ["##" + c for c in chars]
open(sys.argv[1] + "/vocab.txt", "w").write("\n".join(vocab) + "\n")
json.dump({"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
           "intermediate_size": 64, "vocab_size": len(vocab), "max_position_embeddings": 64,
           "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu",
           "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1},
          open(sys.argv[1] + "/config.json", "w"))
PY
# held-out texts: the last 6 fortunes of each topic, one per line
"$THAW_PYTHON" - "$W" <<'PY' || fail "cannot write texts.csv"
import csv, re, sys
def entries(topic, n):
    raw = open(f"/usr/share/games/fortunes/{topic}", encoding="utf-8", errors="replace").read()
    out = [re.sub(r"\s+", " ", e).strip() for e in raw.split("\n%\n")]
    return [e for e in out if e][-n:]
rows = [(t, "love") for t in entries("love", 6)] + [(t, "sports") for t in entries("sports", 6)]
with open(sys.argv[1] + "/texts.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["text", "label"])
    w.writerows(rows)
open(sys.argv[1] + "/texts.txt", "w").write("".join(t + "\n" for t, _ in rows))
PY

MINILM=${THAW_CACHE:-$HOME/.cache/thaw}/weights/all-minilm-l6-v2
runs="tiny"
if [ -s "$MINILM/model.safetensors" ] && [ -s "$MINILM/vocab.txt" ]; then
    runs="tiny minilm"
else
    echo "note: $MINILM missing, the MiniLM run is left out (bash quickstart.sh fetches it)"
fi
cat > "$W/tiny.json" <<JSON
{"model": {"arch": "bert", "weights": "$W/tiny", "pretrained": false, "head": "cls"},
 "dataset": {"type": "fortunes", "topics": ["love", "sports"], "subset_per_class": 20,
             "val_fraction": 0.3, "max_length": 48},
 "optimizer": {"lr": 1e-3}, "epochs": 2, "batch": 5, "seed": 7, "threads": 2}
JSON
cat > "$W/minilm.json" <<JSON
{"model": {"arch": "minilm", "weights": "$MINILM"},
 "dataset": {"type": "fortunes", "topics": ["love", "sports"], "subset_per_class": 20,
             "val_fraction": 0.2, "max_length": 32},
 "epochs": 2, "batch": 8, "seed": 5, "threads": 2}
JSON

for r in $runs; do
    "$B" train "$W/$r.json" --out "$W/$r" --json > "$W/$r.train.jsonl" 2> "$W/$r.train.err" ||
        { fail "$r: train exited $? ($(cat "$W/$r.train.err"))"; continue; }
    ckpt=$W/$r/epoch-002.safetensors
    # 1. the validation split reproduces training's numbers
    "$B" eval "$ckpt" --split val --json > "$W/$r.val.json" 2> "$W/$r.val.err" ||
        fail "$r: eval --split val exited $? ($(cat "$W/$r.val.err"))"
    "$THAW_PYTHON" - "$W/$r.train.jsonl" "$W/$r.val.json" <<'PY' || fail "$r: val split differs from training's"
import json, sys
done = [json.loads(l) for l in open(sys.argv[1]) if '"done"' in l][0]
ev = json.loads(open(sys.argv[2]).read())
print("train:", done["val_loss"], done["val_acc"], done["confusion"],
      "eval:", ev["loss"], ev["accuracy"], ev["confusion"])
assert ev["split"] == "val" and ev["count"] == sum(map(sum, done["confusion"])), ev
assert ev["loss"] == done["val_loss"], (ev["loss"], done["val_loss"])
assert round(ev["accuracy"], 4) == done["val_acc"] and ev["confusion"] == done["confusion"]
assert ev["classes"] == ["love", "sports"]
PY
    # 2. export, PyTorch on the same token ids, predict on the same texts
    mkdir -p "$W/$r.export"
    "$B" export "$ckpt" --out "$W/$r.export/model.safetensors" 2> "$W/$r.export.err" ||
        fail "$r: export exited $? ($(cat "$W/$r.export.err"))"
    [ -s "$W/$r.export.err" ] && fail "$r: export wrote to stderr: $(cat "$W/$r.export.err")"
    "$B" eval "$ckpt" --data "$W/texts.csv" --logits "$W/$r.logits.safetensors" --json \
        > "$W/$r.data.json" 2> "$W/$r.data.err" ||
        fail "$r: eval --data exited $? ($(cat "$W/$r.data.err"))"
    grep -q '"split":"all","count":12,' "$W/$r.data.json" || fail "$r: eval --data: $(cat "$W/$r.data.json")"
    "$B" predict "$ckpt" --file - --json < "$W/texts.txt" > "$W/$r.predict.jsonl" 2> "$W/$r.predict.err" ||
        fail "$r: predict --file exited $? ($(cat "$W/$r.predict.err"))"
    "$THAW_PYTHON" "$PY" "$W/$r.export/model.safetensors" "$W/$r.logits.safetensors" \
        "$W/$r.data.json" "$W/$r.predict.jsonl" ||
        fail "$r: PyTorch does not load the export or disagrees with thaw eval/predict"
done

CKPT=$W/tiny/epoch-002.safetensors
# 3. human output of eval and predict
"$B" eval "$CKPT" > "$W/human.txt" 2>&1 || fail "human eval exited $?"
grep -qE "^$CKPT: val split, 12 texts: loss [0-9.]+  accuracy [0-9.]+$" "$W/human.txt" ||
    fail "no eval line: $(head -1 "$W/human.txt")"
grep -q '^  love ' "$W/human.txt" && grep -q '^confusion matrix (val; ' "$W/human.txt" ||
    fail "no per-class lines or matrix: $(cat "$W/human.txt")"
"$B" predict "$CKPT" --text "I love you" --text "$(printf 'x%.0s' $(seq 80))" --top 1 \
    > "$W/predict.txt" 2> "$W/predict.err" || fail "predict --text exited $? ($(cat "$W/predict.err"))"
[ "$(sed -n 1p "$W/predict.txt")" = "I love you" ] || fail "predict does not echo the text: $(cat "$W/predict.txt")"
[ "$(sed -n 3p "$W/predict.txt")" = "$(printf 'x%.0s' $(seq 60))..." ] || fail "long text not cut to 60: $(sed -n 3p "$W/predict.txt")"
[ "$(wc -l < "$W/predict.txt")" = 4 ] && grep -qE '^  [01]\.[0-9]{4}  (love|sports)$' "$W/predict.txt" ||
    fail "predict --top 1 lines: $(cat "$W/predict.txt")"

# 4. bad input: exit 2, exactly one stderr line naming the thing, nothing on stdout
expect_bad() {  # WHAT NAME_IN_LINE VERB ARGS...
    local what=$1 name=$2
    shift 2
    "$B" "$@" > "$W/bad.out" 2> "$W/bad.err" < /dev/null
    local rc=$?
    [ "$rc" -eq 2 ] || fail "$what: exit $rc, expected 2 ($(cat "$W/bad.err"))"
    [ "$(wc -l < "$W/bad.err")" -eq 1 ] || fail "$what: stderr is not one line: $(cat "$W/bad.err")"
    grep -qF -- "$name" "$W/bad.err" || fail "$what: stderr does not name $name: $(cat "$W/bad.err")"
    [ -s "$W/bad.out" ] && fail "$what: wrote to stdout: $(head -2 "$W/bad.out")"
    echo "$what: $(cat "$W/bad.err")"
}
cp "$W/tiny/vocab.txt" "$W/vocab.keep"
# (the run's model.weights is $W/tiny: break its vocab, then restore it)
{ cat "$W/vocab.keep"; printf 'extra%d\n' 1 2 3; } > "$W/tiny/vocab.txt"
expect_bad "vocab larger than the embeddings" "$W/tiny/vocab.txt" eval "$CKPT"
expect_bad "vocab larger than the embeddings (export)" "does not belong" \
    export "$CKPT" --out "$W/bad.model.safetensors"
[ -e "$W/bad.model.safetensors" ] && fail "export wrote a model despite the bad vocab"
rm "$W/tiny/vocab.txt"
expect_bad "missing vocab" "$W/tiny/vocab.txt" predict "$CKPT" --text "hello"
cp "$W/vocab.keep" "$W/tiny/vocab.txt"
printf 'text,label\nA fine day for a match,sports\nCooking with love,cooking\n' > "$W/unknown.csv"
expect_bad "unknown label" "label 'cooking' is not a class" eval "$CKPT" --data "$W/unknown.csv"
expect_bad "unknown label (file named)" "$W/unknown.csv" eval "$CKPT" --data "$W/unknown.csv"
expect_bad "test split without data" "--split test needs --data" eval "$CKPT" --split test
expect_bad "no such --file" "$W/none.txt" predict "$CKPT" --file "$W/none.txt"
expect_bad "--json for images" "--json is for text checkpoints" \
    predict --arch resnet18 --weights "$CKPT" --image x.png --json
expect_bad "text checkpoint as image weights" "a text classification checkpoint" \
    predict --arch resnet18 --weights "$CKPT" --image "$W/texts.txt"
expect_bad "text checkpoint without texts" "give --text or --file" predict "$CKPT"
# strict load: a renamed parameter is both missing and unexpected
"$THAW_PYTHON" - "$CKPT" "$W/renamed.safetensors" <<'PY' || fail "cannot forge a renamed key"
import sys
blob = open(sys.argv[1], "rb").read()
assert blob.count(b'"classifier.bias"') == 1
open(sys.argv[2], "wb").write(blob.replace(b'"classifier.bias"', b'"classifier.biaz"'))
PY
expect_bad "missing parameter" "no tensor 'classifier.bias'" eval "$W/renamed.safetensors"
# an image checkpoint (a resnet18 run file in thaw-checkpoint-1 metadata)
"$THAW_PYTHON" - "$W/image.safetensors" <<'PY' || fail "cannot write an image checkpoint"
import json, struct, sys
run = json.dumps({"model": {"arch": "resnet18"}, "dataset": {"type": "fashion_mnist"}})
h = json.dumps({"__metadata__": {"format": "thaw-checkpoint-1", "run": run},
                "fc.bias": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + b"\0\0\0\0")
PY
expect_bad "image checkpoint to predict --text" "an image classification checkpoint, not a text one" \
    predict "$W/image.safetensors" --text "hello"
expect_bad "image checkpoint with --logits" "--logits is for text checkpoints" \
    eval "$W/image.safetensors" --logits "$W/x.safetensors"

[ "$failures" = 0 ] && echo "PASS test_eval_text" && exit 0
echo "$failures failure(s)"
exit 1
