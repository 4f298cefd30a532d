#!/usr/bin/env bash
# The feature cache end to end: a small feature-extraction run (resnet18 at
# 64 px, Fashion-MNIST 20 per class, 3 epochs, augmentation off):
#  - the cache is reported on, epochs 2 and 3 report a 100% hit rate (human
#    lines and --json log events);
#  - epoch 2's train time is below epoch 1's (times printed; the real speed
#    claim is a benchmark's, not this test's);
#  - resuming from the epoch-1 checkpoint refills the cache as the straight
#    run did and reaches a byte-identical epoch-3 checkpoint;
#  - with augmentation on, the run says why the cache is off;
#  - items % batch != 0 (resnet18 at 32 px, 170 train items in batches of 4:
#    42 per epoch, 2 never drawn in an epoch): epoch 1 fills the 2 leftover
#    rows after its batches, epochs 2 and 3 report 100%; resuming from the
#    epoch-1 checkpoint and from a SIGINT in the middle of epoch 2 ends
#    byte-identical to the straight run; an uncached run gives the same
#    per-step losses and final weights up to float rounding.
set -u
# shellcheck source=cli_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

W=$(fresh_dir feature_cache)
clean_on_pass "$W"
B=$THAW_BINARY
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    echo "SKIP: Fashion-MNIST not installed"
    exit 0
fi

cat > "$W/run.json" <<'JSON'
{"model": {"arch": "resnet18"},
 "dataset": {"type": "fashion_mnist", "subset_per_class": 20, "val_fraction": 0.2,
             "image_size": 64, "augment": false},
 "strategy": "feature_extraction",
 "optimizer": {"name": "adamw", "lr": 0.003},
 "epochs": 3, "batch": 16, "seed": 5, "threads": 2}
JSON

"$B" train "$W/run.json" --out "$W/human" > "$W/human.out" 2> "$W/human.err" ||
    fail "run exited $? ($(cat "$W/human.err"))"
cat "$W/human.out"
grep -q '^feature cache on: ' "$W/human.out" || fail "no 'feature cache on' line"
for e in 2 3; do
    grep -Eq "^epoch $e: feature cache 100% " "$W/human.out" ||
        fail "epoch $e does not report a 100% cache hit rate"
done
grep -Eq '^epoch 1: feature cache 0% ' "$W/human.out" || fail "epoch 1 should fill, not hit"
t1=$(sed -n 's/^epoch 1: feature cache .*train \([0-9.]*\) s$/\1/p' "$W/human.out")
t2=$(sed -n 's/^epoch 2: feature cache .*train \([0-9.]*\) s$/\1/p' "$W/human.out")
t3=$(sed -n 's/^epoch 3: feature cache .*train \([0-9.]*\) s$/\1/p' "$W/human.out")
echo "train time per epoch: epoch 1 ${t1:-?} s, epoch 2 ${t2:-?} s, epoch 3 ${t3:-?} s"
if [ -z "$t1" ] || [ -z "$t2" ] ||
   ! awk -v a="$t2" -v b="$t1" 'BEGIN { exit !(a < b) }'; then
    fail "epoch 2 (${t2:-?} s) is not faster than epoch 1 (${t1:-?} s)"
fi

"$B" train "$W/run.json" --out "$W/json" --json > "$W/run.jsonl" 2> "$W/json.err" ||
    fail "json run exited $? ($(cat "$W/json.err"))"
"$THAW_PYTHON" - "$W/run.jsonl" <<'PY' || fail "--json log events lack the cache hit rate"
import json, sys
events = [json.loads(line) for line in open(sys.argv[1])]
logs = [e["message"] for e in events if e["event"] == "log"]
for epoch in (2, 3):
    assert any(m.startswith(f"epoch {epoch}: feature cache 100% ") for m in logs), logs
print("json ok")
PY

"$B" train "$W/run.json" --out "$W/resumed" --resume "$W/human/epoch-001.safetensors" \
    > "$W/resumed.out" 2> "$W/resumed.err" || fail "resume exited $? ($(cat "$W/resumed.err"))"
cmp -s "$W/human/epoch-003.safetensors" "$W/resumed/epoch-003.safetensors" ||
    fail "the resumed cached run's final checkpoint differs from the straight run's"
grep -Eq '^epoch 2: feature cache 100% ' "$W/resumed.out" ||
    fail "the resumed run does not hit the refilled cache"

sed 's/"augment": false/"augment": true/; s/"epochs": 3/"epochs": 1/' "$W/run.json" > "$W/aug.json"
"$B" train "$W/aug.json" --out "$W/aug" > "$W/aug.out" 2> "$W/aug.err" ||
    fail "augment run exited $? ($(cat "$W/aug.err"))"
grep -q '^feature cache off: dataset.augment is on' "$W/aug.out" ||
    fail "the augmented run does not say why the cache is off"
if grep -q 'feature cache [0-9]*%' "$W/aug.out"; then
    fail "the augmented run reports a cache hit rate"
fi

# ---- items % batch != 0 ----
cat > "$W/odd.json" <<'JSON'
{"model": {"arch": "resnet18"},
 "dataset": {"type": "fashion_mnist", "subset_per_class": 21, "val_fraction": 0.2,
             "image_size": 32, "augment": false},
 "strategy": "feature_extraction",
 "optimizer": {"name": "adamw", "lr": 0.003},
 "epochs": 3, "batch": 4, "seed": 5, "threads": 1}
JSON
"$B" train "$W/odd.json" --out "$W/odd" --json > "$W/odd.jsonl" 2> "$W/odd.err" ||
    fail "odd run exited $? ($(cat "$W/odd.err"))"
"$THAW_PYTHON" - "$W/odd.jsonl" <<'PY' || fail "odd run: epochs 2+ do not hit every batch"
import json, sys
logs = [e["message"] for e in map(json.loads, open(sys.argv[1])) if e["event"] == "log"]
print("\n".join(logs))
assert "feature cache on: boundary before op 68 (1x1x512 per sample, 0.3 MB for 170 items)" in logs
assert any(m.startswith("epoch 1: feature cache filled 2 rows its batches did not draw (1 batch,")
           for m in logs), "no fill of the 2 leftover items after epoch 1"
assert not any(m.startswith(f"epoch {e}: feature cache filled") for e in (2, 3) for m in logs)
for e in (2, 3):
    assert any(m.startswith(f"epoch {e}: feature cache 100% (168 of 168 samples")
               for m in logs), f"epoch {e} is not 100%"
PY

"$B" train "$W/odd.json" --out "$W/odd_e1" --resume "$W/odd/epoch-001.safetensors" \
    > "$W/odd_e1.out" 2> "$W/odd_e1.err" || fail "odd resume exited $? ($(cat "$W/odd_e1.err"))"
cmp -s "$W/odd/epoch-003.safetensors" "$W/odd_e1/epoch-003.safetensors" ||
    fail "odd run resumed from epoch 1 differs from the straight run"
grep -Eq '^epoch 2: feature cache 100% ' "$W/odd_e1.out" ||
    fail "odd run resumed from epoch 1 does not hit every epoch-2 batch"

# SIGINT in epoch 2, gated: thaw's stdout is a one-page pipe read a byte at a
# time, so when the step-43 line (epoch 2's first) is read thaw is at most a
# page of lines (about 25 steps) further and stops before step 84 (epoch 3)
"$THAW_PYTHON" - "$B" "$W/odd.json" "$W/odd_sig" "$W/odd_sig.jsonl" <<'PY' ||
import fcntl, json, os, signal, subprocess, sys
binary, run, out, log = sys.argv[1:]
r, w = os.pipe()
fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, 4096)
p = subprocess.Popen([binary, "train", run, "--out", out, "--json"], stdout=w,
                     stderr=open(log + ".err", "wb"))
os.close(w)
data, line, sent = b"", b"", False
while True:
    ch = os.read(r, 1)
    if not ch:
        break
    data += ch
    line += ch
    if ch == b"\n":
        ev = json.loads(line)
        if not sent and ev["event"] == "step" and ev["step"] == 43:
            p.send_signal(signal.SIGINT)
            sent = True
        line = b""
rc = p.wait()
open(log, "wb").write(data)
stops = [json.loads(l)["step"] for l in data.splitlines() if b'"interrupted"' in l]
print("SIGINT: exit", rc, "stopped after step", stops)
assert rc == 130 and len(stops) == 1 and 42 < stops[0] < 84, (rc, stops)
PY
    fail "SIGINT did not stop the odd run inside epoch 2"
if [ -f "$W/odd_sig/interrupted.safetensors" ]; then
    "$B" train "$W/odd.json" --out "$W/odd_sig" --resume "$W/odd_sig/interrupted.safetensors" \
        > "$W/odd_sig.out" 2> "$W/odd_sig.err" ||
        fail "resume after SIGINT exited $? ($(cat "$W/odd_sig.err"))"
    cmp -s "$W/odd/epoch-003.safetensors" "$W/odd_sig/epoch-003.safetensors" ||
        fail "odd run resumed mid-epoch 2 differs from the straight run"
    grep -Eq '^epoch 2: feature cache 100% ' "$W/odd_sig.out" ||
        fail "odd run resumed mid-epoch 2 does not hit its remaining batches"
else
    fail "no interrupted.safetensors after SIGINT in epoch 2"
fi

sed 's/"threads": 1}/"threads": 1, "feature_cache": false}/' "$W/odd.json" > "$W/plain.json"
"$B" train "$W/plain.json" --out "$W/plain" --json > "$W/plain.jsonl" 2> "$W/plain.err" ||
    fail "uncached run exited $? ($(cat "$W/plain.err"))"
"$THAW_PYTHON" - "$W/odd.jsonl" "$W/plain.jsonl" "$W/odd/epoch-003.safetensors" \
    "$W/plain/epoch-003.safetensors" <<'PY' || fail "cached and uncached runs differ beyond rounding"
import json, struct, sys
def events(path):
    return [json.loads(l) for l in open(path)]
def tensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    head = json.loads(raw[8:8 + n])
    body = raw[8 + n:]
    out = {}
    for name, t in head.items():
        if name != "__metadata__" and t["dtype"] == "F32":
            a, b = t["data_offsets"]
            out[name] = struct.unpack(f"<{(b - a) // 4}f", body[a:b])
    return out
cached, plain = events(sys.argv[1]), events(sys.argv[2])
assert not any(e["event"] == "log" and "feature cache" in e["message"] and "off" not in e["message"]
               for e in plain), "the uncached run used the cache"
closs = [e["loss"] for e in cached if e["event"] == "step"]
ploss = [e["loss"] for e in plain if e["event"] == "step"]
assert len(closs) == len(ploss) == 126, (len(closs), len(ploss))
worst = max(abs(a - b) / max(abs(b), 1e-6) for a, b in zip(closs, ploss))
for key in ("train_loss", "val_loss"):
    for a, b in zip([e[key] for e in cached if e["event"] == "epoch"],
                    [e[key] for e in plain if e["event"] == "epoch"]):
        worst = max(worst, abs(a - b) / max(abs(b), 1e-6))
tc, tp = tensors(sys.argv[3]), tensors(sys.argv[4])
assert tc.keys() == tp.keys() and tc
wdiff = max(abs(a - b) for k in tc for a, b in zip(tc[k], tp[k]))
print(f"cached vs uncached: worst relative loss difference {worst:.2e}, "
      f"worst weight difference {wdiff:.2e}")
assert worst < 1e-4 and wdiff < 1e-4
PY

# under THAW_SANITIZE, a report in any run's stderr fails the test
if grep -l 'Sanitizer' "$W"/*.err 2> /dev/null; then
    fail "sanitizer reports in the files above"
fi

if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)"
    exit 1
fi
echo "all feature cache checks passed"
