# Shared helpers for the workbench tests: run the real thaw binary inside a
# private tmux server (its own socket), type keys, read the screen back.
# Waits poll the screen with a timeout; nothing sleeps a fixed time.
# Source it: . "$(dirname "$0")/tui_lib.sh"
set -euo pipefail

: "${THAW_BINARY:?THAW_BINARY must point at the thaw binary}"
: "${THAW_SOURCE_DIR:?THAW_SOURCE_DIR must point at the source tree}"
: "${THAW_WORK_DIR:=${TMPDIR:-/tmp}/thaw-tui-work}"

TUI_TEST=$(basename "$0" .sh)
TUI_WORK="$THAW_WORK_DIR/$TUI_TEST"
TUI_SOCK="thaw-$TUI_TEST-$$"
TUI_TIMEOUT=${TUI_TIMEOUT:-20}   # seconds for any one wait
rm -rf "$TUI_WORK"
mkdir -p "$TUI_WORK"

command -v tmux >/dev/null || { echo "$TUI_TEST: tmux is not installed" >&2; exit 1; }

tui_cleanup() {
    tmux -L "$TUI_SOCK" kill-server 2>/dev/null || true
}
trap tui_cleanup EXIT

# The tiny run every test uses: resnet18 at 32x32 on 4 Fashion-MNIST images
# per class, batch 8; many epochs, so it is still running when we look.
tui_tiny_run() {  # tui_tiny_run FILE
    cat >"$1" <<'JSON'
{
  "model": {"arch": "resnet18", "head": "linear"},
  "dataset": {"type": "fashion_mnist", "subset_per_class": 4, "val_fraction": 0.1,
              "image_size": 32, "seed": 0, "augment": false},
  "strategy": "fine_tune",
  "trainable": ["layer4"],
  "optimizer": {"name": "adamw", "lr": 0.001},
  "epochs": 1000,
  "batch": 8,
  "seed": 0,
  "workers": 1,
  "threads": 1
}
JSON
}

tui_fail() {
    echo "FAIL $TUI_TEST: $*" >&2
    echo "---- screen ----" >&2
    tui_screen >&2 || true
    echo "----------------" >&2
    exit 1
}

tui_pass() {
    echo "ok $TUI_TEST: $*"
}

# tui_start COLS ROWS [VAR=value ...] -- ARGS...: thaw ARGS in a new session
# (cwd $TUI_WORK). The pane stays after thaw exits, so its status is known.
tui_start() {
    local cols=$1 rows=$2
    shift 2
    local envs=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do
        envs+=("$1")
        shift
    done
    [ "${1:-}" = "--" ] && shift
    local conf="$TUI_WORK/tmux.conf"
    printf 'set -g remain-on-exit on\nset -g status off\nset -g history-limit 0\n' >"$conf"
    local cmd
    cmd=$(printf '%q ' env "TERM=${TUI_TERM:-screen}" "${envs[@]}" "$THAW_BINARY" "$@")
    (cd "$TUI_WORK" && tmux -L "$TUI_SOCK" -f "$conf" new-session -d -s t -x "$cols" -y "$rows" "$cmd")
}

tui_screen() {
    tmux -L "$TUI_SOCK" capture-pane -p -t t
}

tui_keys() {  # tmux key names: j k Tab Space Enter Escape C-c 1 e ...
    tmux -L "$TUI_SOCK" send-keys -t t "$@"
}

tui_type() {  # literal text
    tmux -L "$TUI_SOCK" send-keys -t t -l "$1"
}

tui_pane() {  # tui_pane FORMAT: e.g. '#{pane_pid}', '#{pane_dead_status}'
    tmux -L "$TUI_SOCK" display-message -p -t t "$1"
}

tui_pid() {
    tui_pane '#{pane_pid}'
}

tui_resize() {  # tui_resize COLS ROWS
    tmux -L "$TUI_SOCK" resize-window -t t -x "$1" -y "$2"
}

# tui_wait_for REGEX [what]: until the screen matches (extended regex).
tui_wait_for() {
    local re=$1 what=${2:-$1}
    local end=$((SECONDS + TUI_TIMEOUT))
    while [ $SECONDS -lt $end ]; do
        tui_screen | grep -Eq -- "$re" && return 0
        sleep 0.05
    done
    tui_fail "timed out after ${TUI_TIMEOUT}s waiting for: $what"
}

# tui_wait_gone REGEX [what]: until the screen no longer matches.
tui_wait_gone() {
    local re=$1 what=${2:-$1}
    local end=$((SECONDS + TUI_TIMEOUT))
    while [ $SECONDS -lt $end ]; do
        tui_screen | grep -Eq -- "$re" || return 0
        sleep 0.05
    done
    tui_fail "timed out after ${TUI_TIMEOUT}s waiting for this to go: $what"
}

# tui_wait_change CMD...: until the output of CMD differs from its first one.
tui_wait_change() {
    local before now end=$((SECONDS + TUI_TIMEOUT))
    before=$("$@")
    while [ $SECONDS -lt $end ]; do
        now=$("$@")
        [ "$now" != "$before" ] && return 0
        sleep 0.05
    done
    tui_fail "timed out waiting for a change of: $*"
}

# tui_wait_exit: until thaw has exited; prints its exit status (128+N for
# a signal).
tui_wait_exit() {
    local end=$((SECONDS + TUI_TIMEOUT))
    while [ $SECONDS -lt $end ]; do
        if [ "$(tui_pane '#{pane_dead}')" = 1 ]; then
            local sig
            sig=$(tui_pane '#{pane_dead_signal}')
            if [ -n "$sig" ] && [ "$sig" != 0 ]; then
                echo $((128 + sig))
            else
                tui_pane '#{pane_dead_status}'
            fi
            return 0
        fi
        sleep 0.05
    done
    tui_fail "thaw did not exit within ${TUI_TIMEOUT}s"
}

# tui_line REGEX: the first screen line matching REGEX (empty if none).
tui_line() {
    tui_screen | grep -E -m1 -- "$1" || true
}
