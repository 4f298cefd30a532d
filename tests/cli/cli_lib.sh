# shellcheck shell=bash
# Shared by tests/cli/test_*.sh (sourced, not a test itself).
# Environment, set by tests/CMakeLists.txt for ctest:
#   THAW_BINARY      the thaw executable under test (required)
#   THAW_SOURCE_DIR  the source tree (default: two levels above this file)
#   THAW_PYTHON      python with torch/torchvision (default /usr/bin/python3)
#   THAW_WORK_DIR    scratch space; each test uses its own subdirectory
#                    (default: a fresh mktemp -d)

if [ -z "${THAW_BINARY:-}" ] || [ ! -x "$THAW_BINARY" ]; then
    echo "FAIL: THAW_BINARY must name the thaw executable (got '${THAW_BINARY:-}')" >&2
    exit 1
fi
THAW_SOURCE_DIR=${THAW_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
THAW_PYTHON=${THAW_PYTHON:-/usr/bin/python3}
THAW_WORK_DIR=${THAW_WORK_DIR:-$(mktemp -d)}
# shellcheck disable=SC2034  # used by the scripts that source this file
CLI_DIR=$THAW_SOURCE_DIR/tests/cli

# fresh_dir NAME: empties and creates $THAW_WORK_DIR/NAME, prints its path.
fresh_dir() {
    local dir=$THAW_WORK_DIR/$1
    if ! rm -rf "$dir" || ! mkdir -p "$dir"; then
        echo "FAIL: cannot create $dir" >&2
        exit 1
    fi
    printf '%s\n' "$dir"
}

# clean_on_pass DIR: removes DIR when the test exits 0 (a failed test keeps
# it to look at; THAW_KEEP_WORK=1 keeps it always). The checkpoints the CLI
# tests write add up to 12 GB a build, which filled the CI machine's disk.
clean_on_pass() {
    CLI_CLEAN_DIR=$1
    trap 'cli_rc=$?; if [ "$cli_rc" -eq 0 ] && [ -z "${THAW_KEEP_WORK:-}" ]; then rm -rf "$CLI_CLEAN_DIR"; fi; exit "$cli_rc"' EXIT
}
