#!/usr/bin/env bash
# Pack a THAW_CUDA=ON build for a GPU machine that cannot build it (no
# OpenBLAS, cJSON, libuv or cmocka there, nothing to fetch): the GPU test
# binaries, bench_gpu and thaw in the build's layout, plus every shared
# library they load except glibc's, the compiler runtime's and CUDA's
# (cuBLAS, cuDNN and the driver come from the GPU machine, found by run.sh).
#   bash tests/gpu/pack.sh BUILD_DIR DEST_DIR
# Then on the GPU machine: THAW_GPU_PREBUILT=DEST_DIR bash tests/gpu/run.sh
set -euo pipefail
BUILD=${1:?usage: tests/gpu/pack.sh BUILD_DIR DEST_DIR}
DEST=${2:?usage: tests/gpu/pack.sh BUILD_DIR DEST_DIR}
BINS="thaw bench/bench_gpu bench/bench_bert tests/test_gpu_check tests/test_gpu_ops tests/test_gpu_cnn_ops
      tests/test_gpu_text_ops tests/test_gpu_bert tests/test_gpu_models tests/test_gpu_bf16 tests/test_engine_thread"
rm -rf "$DEST"
mkdir -p "$DEST/lib" "$DEST/bench" "$DEST/tests"
for b in $BINS; do
    [ -x "$BUILD/$b" ] || { echo "pack: $BUILD/$b missing (build it with THAW_CUDA=ON)" >&2; exit 1; }
    cp "$BUILD/$b" "$DEST/$b"
    strip --strip-debug "$DEST/$b"
done
# Libraries: what ldd resolves here, minus the ones every Linux (glibc, the
# C++/gcc runtime) or the GPU machine's CUDA install provides.
skip='^(linux-vdso|ld-linux|libc\.|libm\.|libdl\.|librt\.|libpthread\.|libstdc\+\+|libgcc_s|libcuda\.|libcudnn|libcublas|libnvrtc)'
for b in $BINS; do
    ldd "$BUILD/$b" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }'
done | sort -u | while read -r name path; do
    if ! [[ "$name" =~ $skip ]]; then
        cp -L "$path" "$DEST/lib/$name"
    fi
done
# The first 1200 Fashion-MNIST training images (and 100 test ones) for the
# engine-thread session on the GPU (the GPU machine has no datasets).
FM=${THAW_FMNIST:-/usr/share/datasets/fashion-mnist}
if [ -f "$FM/train-images-idx3-ubyte.gz" ]; then
    python3 - "$FM" "$DEST/fashion-mnist" <<'PY'
import gzip, os, struct, sys
src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst, exist_ok=True)
for split, n in (("train", 1200), ("t10k", 100)):
    for kind, magic, per in (("images-idx3", 2051, 784), ("labels-idx1", 2049, 1)):
        name = f"{split}-{kind}-ubyte.gz"
        with gzip.open(os.path.join(src, name)) as f:
            head = f.read(16 if per == 784 else 8)
            body = f.read(n * per)
        dims = struct.pack(">II", 28, 28) if per == 784 else b""
        with gzip.open(os.path.join(dst, name), "wb") as f:
            f.write(struct.pack(">II", magic, n) + dims + body)
PY
fi
# What was built: the commit, marked when the tree had changes.
git -C "$(dirname "$0")/../.." describe --always --dirty 2>/dev/null >"$DEST/COMMIT" || true
echo "pack: $(du -sh "$DEST" | cut -f1) in $DEST; libraries: $(ls "$DEST/lib" | tr '\n' ' ')"
