#!/usr/bin/env bash
# thaw train on text from a Hugging Face model folder that holds only
# pytorch_model.bin (no model.safetensors): all-MiniLM-L6-v2's weights
# re-saved by torch.save as BertForPreTraining does ("bert." prefix,
# LayerNorm gamma/beta, cls.* heads), config.json and vocab.txt beside it.
# A run of 4 steps (2 fortunes topics x 10 texts, batch 4, max_length 16)
# must load the .bin, train and checkpoint; a folder with neither file is
# exit 2 with one stderr line naming the folder and both file names.
# Skips (exit 0, says why) when the MiniLM files or fortunes are absent.
set -u
# shellcheck source=cli_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

W=$(fresh_dir bert_bin)
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

mkdir -p "$W/bin" "$W/empty"
for f in config.json vocab.txt; do
    ln -s "$MINILM/$f" "$W/bin/$f"
    ln -s "$MINILM/$f" "$W/empty/$f"
done
"$THAW_PYTHON" - "$MINILM/model.safetensors" "$W/bin/pytorch_model.bin" <<'PY' ||
import collections, json, struct, sys
import numpy as np
import torch
src, dst = sys.argv[1], sys.argv[2]
with open(src, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
    data = f.read()
sd = collections.OrderedDict()
for name, info in header.items():
    if name == "__metadata__" or info["dtype"] != "F32":
        continue
    b, e = info["data_offsets"]
    t = torch.from_numpy(np.frombuffer(data[b:e], dtype="<f4").reshape(info["shape"]).copy())
    name = "bert." + name
    name = name[:-6] + "gamma" if name.endswith("LayerNorm.weight") else name
    name = name[:-4] + "beta" if name.endswith("LayerNorm.bias") else name
    sd[name] = t
h = sd["bert.embeddings.word_embeddings.weight"].shape[1]
sd["cls.seq_relationship.weight"] = torch.zeros(2, h)
sd["cls.seq_relationship.bias"] = torch.zeros(2)
torch.save(sd, dst)
PY
    fail "could not write pytorch_model.bin"

run_file() {   # run_file WEIGHTS_DIR OUT.json
    cat > "$2" <<JSON
{"model": {"arch": "minilm", "weights": "$1"},
 "dataset": {"type": "fortunes", "topics": ["love", "sports"], "subset_per_class": 10,
             "val_fraction": 0.2, "max_length": 16},
 "epochs": 1, "batch": 4, "seed": 3, "threads": 2}
JSON
}

# 1. only pytorch_model.bin: it is loaded and the run trains
run_file "$W/bin" "$W/bin.json"
"$B" train "$W/bin.json" --out "$W/out" > "$W/bin.out" 2> "$W/bin.err" ||
    fail "run on pytorch_model.bin exited $? ($(cat "$W/bin.err"))"
grep -qF "loaded the encoder from $W/bin/pytorch_model.bin; new classifier (2 classes); 2 pre-training head keys ignored (cls.*)" \
    "$W/bin.out" || fail "no load line naming pytorch_model.bin: $(head -5 "$W/bin.out")"
grep -qE '^epoch 1/1  train loss [0-9.]+ acc [0-9.]+  val loss [0-9.]+' "$W/bin.out" ||
    fail "no epoch line: $(cat "$W/bin.out")"
[ -f "$W/out/epoch-001.safetensors" ] || fail "no checkpoint after the epoch"

# 2. neither file: exit 2, one line naming the folder and both names
run_file "$W/empty" "$W/empty.json"
"$B" train "$W/empty.json" --out "$W/out2" > "$W/empty.out" 2> "$W/empty.err"
rc=$?
[ "$rc" -eq 2 ] || fail "a folder without weights exited $rc, want 2"
[ "$(wc -l < "$W/empty.err")" -eq 1 ] || fail "want one stderr line: $(cat "$W/empty.err")"
grep -qF "$W/empty" "$W/empty.err" && grep -qF model.safetensors "$W/empty.err" &&
    grep -qF pytorch_model.bin "$W/empty.err" ||
    fail "the error does not name the folder and both files: $(cat "$W/empty.err")"

if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)"
    exit 1
fi
echo "ok: pytorch_model.bin folder trains; an empty folder is one clear error"
