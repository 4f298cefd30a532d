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
          dataset-fashion-mnist python3-skimage
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

    echo "quickstart: -fsanitize=address,undefined build, unit and cli tests"
    build "$ROOT/build-asan" -DTHAW_SANITIZE=ON
    THAW_ASAN_BINARY="$ROOT/build-asan/thaw" \
        ctest --test-dir "$ROOT/build-asan" --output-on-failure -L 'unit|cli' -j"$JOBS"

    echo "quickstart: libFuzzer build, safetensors parser (60 s)"
    cmake -S "$ROOT" -B "$ROOT/build-fuzz" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_C_COMPILER=clang -DTHAW_FUZZ=ON >/dev/null
    cmake --build "$ROOT/build-fuzz" -j"$JOBS" --target fuzz_safetensors >/dev/null
    ctest --test-dir "$ROOT/build-fuzz" --output-on-failure -L fuzz
}

cmd=${1:-run}
[ $# -gt 0 ] && shift
install_packages
case "$cmd" in
    run)
        build "$ROOT/build"
        exec "$ROOT/build/thaw" "${@:---help}"
        ;;
    test)
        run_tests
        ;;
    *)
        echo "usage: bash quickstart.sh [run [ARGS...] | test]" >&2
        exit 2
        ;;
esac
