#!/usr/bin/env bash
# thaw forward on bad files and bad command lines. Every case must:
#   exit with status 2 (not 1, not a signal, not a sanitizer abort),
#   print exactly one newline-terminated line on stderr and nothing on stdout,
#   name the offending file in that line (and the key, and both shapes for a
#   shape mismatch), and leave --out uncreated (no temporary left either).
# One more case checks that an --out file already there survives a failure.
#
# ASan: when THAW_ASAN_BINARY is set (quickstart.sh / .ci/run set it to the
# -fsanitize=address,undefined build), every case runs a second time with that
# binary. A sanitizer report turns into extra stderr lines and a different exit
# status, so the same checks catch it; the line is also searched for
# "Sanitizer" and "runtime error" to say so plainly. Skipped when it is the
# same file as THAW_BINARY (the ASan ctest run already uses it).
#
# Fixtures (a valid resnet18 checkpoint with 5 classes, its malformed
# variants, inputs): forward_cases.py bad.
set -u
# shellcheck source=cli_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

W=$(fresh_dir bad_input)
clean_on_pass "$W"
if ! "$THAW_PYTHON" "$CLI_DIR/forward_cases.py" bad "$W"; then
    echo "FAIL: forward_cases.py could not write the fixtures"
    exit 1
fi
OUT=$W/out/logits.safetensors
mkdir -p "$W/out"
IN=$W/input_ok.safetensors
OK=$W/valid.safetensors
failures=0
cases=0

fail() {
    echo "FAIL $BIN_TAG $1: $2"
    echo "     stderr: $(head -c 3000 "$W/stderr")"
    failures=$((failures + 1))
}

# bad NAME WANT... -- ARGS...: runs "$BIN forward ARGS..." and checks the
# contract; each WANT must appear literally in the stderr line.
bad() {
    local name=$1
    shift
    local wants=()
    while [ "$1" != "--" ]; do
        wants+=("$1")
        shift
    done
    shift
    cases=$((cases + 1))
    rm -rf "$OUT" "$OUT".tmp.*
    "$BIN" forward "$@" >"$W/stdout" 2>"$W/stderr"
    local rc=$?
    local newlines lines
    newlines=$(wc -l <"$W/stderr")
    lines=$(awk 'END { print NR }' "$W/stderr")
    if grep -q -e 'Sanitizer' -e 'runtime error' "$W/stderr"; then
        fail "$name" "sanitizer report (exit $rc)"
    elif [ $rc -ne 2 ]; then
        fail "$name" "exit status $rc, expected 2"
    elif [ "$newlines" -ne 1 ] || [ "$lines" -ne 1 ]; then
        fail "$name" "$lines lines on stderr, expected exactly one"
    elif [ -s "$W/stdout" ]; then
        fail "$name" "wrote to stdout: $(head -c 200 "$W/stdout")"
    elif [ -e "$OUT" ] || compgen -G "$OUT.tmp.*" >/dev/null; then
        fail "$name" "--out $OUT (or a temporary of it) was created"
    else
        local want
        for want in "${wants[@]}"; do
            if ! grep -q -F -e "$want" "$W/stderr"; then
                fail "$name" "stderr line lacks '$want'"
                return
            fi
        done
        echo "ok   $BIN_TAG $name: $(cat "$W/stderr")"
    fi
}

# bad_weights NAME FILE WANT...: a bad --weights file, resnet18, good input.
bad_weights() {
    local name=$1 file=$2
    shift 2
    bad "$name" "$file" "$@" -- --arch resnet18 --weights "$file" --input "$IN" --out "$OUT"
}

# bad_input NAME FILE WANT...: good resnet18 weights, a bad --input file.
bad_input() {
    local name=$1 file=$2
    shift 2
    bad "$name" "$file" "$@" -- --arch resnet18 --weights "$OK" --input "$file" --out "$OUT"
}

run_all() {
    # Control: the fixtures themselves are good.
    cases=$((cases + 1))
    rm -f "$OUT"
    if "$BIN" forward --arch resnet18 --weights "$OK" --input "$IN" --out "$OUT" \
            >"$W/stdout" 2>"$W/stderr" && [ ! -s "$W/stderr" ] && [ -s "$OUT" ]; then
        echo "ok   $BIN_TAG control: valid weights and input give exit 0, silent"
    else
        fail control "valid weights and input did not give exit 0, empty stderr and --out"
    fi

    # Weights files broken at the byte level.
    bad_weights weights_missing "$W/no_such.safetensors" "cannot open"
    bad_weights weights_empty "$W/empty.safetensors" "empty"
    bad_weights weights_truncated "$W/truncated.safetensors" "outside"
    bad_weights header_too_long "$W/header_too_long.safetensors" "header length"
    bad_weights header_bad_json "$W/bad_json.safetensors" "JSON"
    bad_weights offsets_overlap "$W/overlap.safetensors" "bn1.weight" "bn1.bias" "overlap"
    bad_weights dtype_f8 "$W/dtype_f8.safetensors" "layer3.0.conv2.weight" "'F8'"
    bad_weights weights_is_dir "$W/out" "directory"
    # Well-formed files that are not a resnet18 state_dict (strict loading).
    bad_weights key_missing "$W/missing_key.safetensors" "layer1.0.conv1.weight"
    bad_weights key_extra "$W/extra_key.safetensors" "layer9.extra.weight" "unexpected"
    bad_weights key_extra_newline "$W/extra_key_newline.safetensors" 'evil\x0asecond line'
    bad_weights key_misshapen "$W/misshapen.safetensors" "layer2.0.bn1.weight" "[127]" "[128]"
    bad_weights fc_missing "$W/fc_missing.safetensors" "fc.weight"
    bad_weights fc_1d "$W/fc_1d.safetensors" "fc.weight" "[5]"
    bad_weights fc_in_features "$W/fc_infeatures.safetensors" "fc.weight" "[5, 256]" "[5, 512]"
    bad_weights fc_bias_short "$W/fc_bias_short.safetensors" "fc.bias" "[4]" "[5]"
    bad_weights weight_integer "$W/int_weight.safetensors" "conv1.weight" "I32"
    bad_weights counter_two_values "$W/counter_two.safetensors" "bn1.num_batches_tracked"
    bad_weights counter_missing "$W/counter_missing.safetensors" "layer4.1.bn2.num_batches_tracked"
    bad_weights resnet34_as_resnet18 "$W/resnet34.safetensors" "layer1.2." "unexpected"
    bad resnet18_as_resnet50 "$OK" "layer1.0.conv1.weight" "[64, 64, 3, 3]" "[64, 64, 1, 1]" -- \
        --arch resnet50 --weights "$OK" --input "$IN" --out "$OUT"

    # Bad --input files.
    bad_input input_missing "$W/no_such_input.safetensors" "cannot open"
    bad_input input_not_safetensors "$W/empty.safetensors" "empty"
    bad_input input_key_missing "$W/input_nokey.safetensors" "'input'"
    bad_input input_1_channel "$W/input_1ch.safetensors" "'input'" "[2, 1, 32, 32]" "[N, 3, H, W]"
    bad_input input_3d "$W/input_3d.safetensors" "'input'" "[3, 32, 32]"
    bad_input input_16x16 "$W/input_16x16.safetensors" "'input'" "[2, 3, 16, 16]" ">= 32"
    bad_input input_32x16 "$W/input_32x16.safetensors" "'input'" "[2, 3, 32, 16]" ">= 32"
    bad_input input_batch_0 "$W/input_n0.safetensors" "'input'" "[0, 3, 64, 64]" "N >= 1"
    bad_input input_batch_0_huge "$W/input_n0_huge.safetensors" "[0, 3, 3000000000, 3000000000]"
    bad_input input_integer "$W/input_i64.safetensors" "'input'" "I64"

    # --out that cannot be written.
    local unwritable=$W/no_such_dir/logits.safetensors
    bad out_dir_missing "$unwritable" -- \
        --arch resnet18 --weights "$OK" --input "$IN" --out "$unwritable"

    # Command lines.
    bad arch_unknown "'resnet19'" "resnet18, resnet34, resnet50" -- \
        --arch resnet19 --weights "$OK" --input "$IN" --out "$OUT"
    bad options_none "usage:" "required" --
    bad option_out_missing "usage:" "--out" -- --arch resnet18 --weights "$OK" --input "$IN"
    bad option_weights_missing "usage:" "--weights" -- --arch resnet18 --input "$IN" --out "$OUT"
    bad option_no_value "usage:" "'--out'" -- --arch resnet18 --weights "$OK" --input "$IN" --out
    bad option_unknown "usage:" "'--bogus'" -- --bogus --arch resnet18 --weights "$OK" --input "$IN" --out "$OUT"
    bad option_short_unknown "usage:" "'-x'" -- -x --arch resnet18 --weights "$OK" --input "$IN" --out "$OUT"
    bad argument_extra "usage:" "'stray'" -- --arch resnet18 --weights "$OK" --input "$IN" --out "$OUT" stray

    # An existing --out is left as it was when the run fails.
    cases=$((cases + 1))
    printf 'previous result\n' >"$OUT"
    "$BIN" forward --arch resnet18 --weights "$W/misshapen.safetensors" --input "$IN" \
        --out "$OUT" >/dev/null 2>"$W/stderr"
    local rc=$?
    if [ $rc -eq 2 ] && [ "$(cat "$OUT")" = "previous result" ] \
            && ! compgen -G "$OUT.tmp.*" >/dev/null; then
        echo "ok   $BIN_TAG out_kept: failed run left the existing --out intact"
    else
        fail out_kept "exit $rc; existing --out changed or a temporary left behind"
    fi
    rm -f "$OUT"

    # The verb dispatcher (app/main.c): an unknown verb is bad input too.
    cases=$((cases + 1))
    "$BIN" frobnicate >"$W/stdout" 2>"$W/stderr"
    rc=$?
    if [ $rc -eq 2 ] && [ "$(wc -l <"$W/stderr")" -eq 1 ] && grep -q frobnicate "$W/stderr"; then
        echo "ok   $BIN_TAG verb_unknown: $(cat "$W/stderr")"
    else
        fail verb_unknown "exit $rc, expected 2 and one line naming the verb"
    fi
}

BIN=$THAW_BINARY
BIN_TAG="[thaw]"
run_all
if [ -n "${THAW_ASAN_BINARY:-}" ]; then
    if [ ! -x "$THAW_ASAN_BINARY" ]; then
        echo "FAIL: THAW_ASAN_BINARY=$THAW_ASAN_BINARY is not an executable"
        failures=$((failures + 1))
    elif [ "$THAW_ASAN_BINARY" -ef "$THAW_BINARY" ]; then
        echo "THAW_ASAN_BINARY is THAW_BINARY: the cases above already ran under ASan"
    else
        BIN=$THAW_ASAN_BINARY
        BIN_TAG="[asan]"
        run_all
    fi
fi

echo "test_bad_input: $((cases - failures))/$cases cases behave"
[ $failures -eq 0 ]
