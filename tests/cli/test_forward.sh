#!/usr/bin/env bash
# thaw forward against PyTorch, end to end: for ResNet-18/34/50 with random
# torchvision weights (7 and 1000 classes) and inputs of several sizes
# (64x64, non-square 80x48 and 48x80, the 32x32 minimum, an odd 33x47 with
# N=1) and dtypes (F32, F16, BF16), runs the binary and compares its logits
# with PyTorch's eval-mode forward in float64 from the same float32 values:
# max|diff| <= 1e-4 * max|ref|. Each run must exit 0 with nothing on stderr
# and replace a stale --out file. Fixtures: forward_cases.py.
set -u
# shellcheck source=cli_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

WORK=$(fresh_dir forward)
clean_on_pass "$WORK"
if ! "$THAW_PYTHON" "$CLI_DIR/forward_cases.py" forward "$WORK"; then
    echo "FAIL: forward_cases.py could not write the fixtures"
    exit 1
fi

cases=0
failures=0
while IFS=$'\t' read -r name arch weights input ref; do
    cases=$((cases + 1))
    out=$WORK/$name.logits.safetensors
    printf 'stale, must be replaced\n' >"$out"
    "$THAW_BINARY" forward --arch "$arch" --weights "$weights" \
        --input "$input" --out "$out" >"$WORK/stdout" 2>"$WORK/stderr"
    rc=$?
    if [ $rc -ne 0 ] || [ -s "$WORK/stderr" ]; then
        echo "FAIL $name: exit $rc, stderr: $(head -c 2000 "$WORK/stderr")"
        failures=$((failures + 1))
        continue
    fi
    "$THAW_PYTHON" "$CLI_DIR/forward_cases.py" compare "$ref" "$out" "$name" \
        || failures=$((failures + 1))
done <"$WORK/cases.txt"

if [ $cases -lt 13 ]; then
    echo "FAIL: only $cases cases in $WORK/cases.txt, expected 13"
    exit 1
fi
echo "test_forward: $((cases - failures))/$cases cases agree with PyTorch"
[ $failures -eq 0 ]
