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

# The tiny run every test uses: resnet18 at 32x32, batch 8, many epochs so it
# is still running when we look. 30 Fashion-MNIST images per class (not 4):
# each epoch end writes a checkpoint (134 MB for resnet18 with AdamW state),
# so epochs must be long enough (33 steps, seconds) not to fill the disk.
tui_tiny_run() {  # tui_tiny_run FILE
    cat >"$1" <<'JSON'
{
  "model": {"arch": "resnet18", "head": "linear"},
  "dataset": {"type": "fashion_mnist", "subset_per_class": 30, "val_fraction": 0.1,
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
    local report
    for report in "$TUI_WORK"/asan.* "$TUI_WORK"/ubsan.*; do
        [ -e "$report" ] || continue
        cat "$report" >&2
        echo "FAIL $TUI_TEST: sanitizer report $report" >&2
        exit 1
    done
    echo "ok $TUI_TEST: $*"
}

# tui_start COLS ROWS [VAR=value ...] -- ARGS...: thaw ARGS in a new session
# (cwd $TUI_WORK). bash runs it and writes its exit status to $TUI_WORK/rc:
# tmux's own pane_dead_status is unreliable (a pane whose process exits
# right after a Ctrl-C can stay an unreaped zombie). bash waits and
# cooperates on SIGINT, so it outlives a thaw that handles Ctrl-C.
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
    rm -f "$TUI_WORK/rc"
    # A sanitizer build reports into files that tui_pass checks.
    local cmd
    cmd=$(printf '%q ' env "TERM=${TUI_TERM:-screen}" \
          "ASAN_OPTIONS=log_path=$TUI_WORK/asan" "UBSAN_OPTIONS=log_path=$TUI_WORK/ubsan" \
          "${envs[@]}" "$THAW_BINARY" "$@")
    cmd="$cmd; echo \$? >$(printf '%q' "$TUI_WORK/rc.tmp"); mv $(printf '%q %q' "$TUI_WORK/rc.tmp" "$TUI_WORK/rc")"
    (cd "$TUI_WORK" && tmux -L "$TUI_SOCK" -f "$conf" new-session -d -s t -x "$cols" -y "$rows" \
        "exec bash -c $(printf '%q' "$cmd")")
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

tui_pid() {  # thaw's pid: the one child of the pane's bash
    local end=$((SECONDS + TUI_TIMEOUT)) pid
    while [ $SECONDS -lt $end ]; do
        pid=$(pgrep -P "$(tui_pane '#{pane_pid}')" | head -1)
        [ -n "$pid" ] && { echo "$pid"; return 0; }
        sleep 0.05
    done
    tui_fail "no thaw process in the pane"
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
# a signal, as bash reports it).
tui_wait_exit() {
    local end=$((SECONDS + TUI_TIMEOUT))
    while [ $SECONDS -lt $end ]; do
        if [ -s "$TUI_WORK/rc" ]; then
            cat "$TUI_WORK/rc"
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

# ---- reading the workbench's panes ----

TUI_CURVE_EMPTY='no steps yet'          # the loss pane before any step
TUI_HELP_TITLE='[-─] help [-─]'          # the help overlay's frame title
TUI_PENDING='•|…|\*'                    # the pending mark (views/theme.c)

# The layers pane's text, one row per line (the left pane, borders cut).
tui_layers_pane() {
    tui_screen | sed -n '3,$p' | LC_ALL=C.UTF-8 sed -E 's/^[│|]//; s/[│|].*//'
}

# The layers-pane row of group NAME (its checkbox, count, lr).
tui_group_line() {
    tui_layers_pane | grep -E -m1 -- "\[[ x-]\] +$1 " || true
}

# The group or layer name on the selected row of the layers pane: the row
# drawn with a background colour or in reverse video.
tui_selected_row() {
    tmux -L "$TUI_SOCK" capture-pane -p -e -t t | sed -n '3,$p' |
        grep -E -m1 $'\e\\[([0-9]*;)*(7|4[0-7])m.*\\[[ x-]\\]' |
        sed -E $'s/\e\\[[0-9;]*m//g' | LC_ALL=C.UTF-8 sed -E 's/^[│|]//; s/[│|].*//' |
        grep -oE '\[[ x-]\] +[^ ]+' | sed -E 's/^\[[ x-]\] +//' || true
}

# Moves the layers-pane selection to group NAME: to the top (g), then down
# one row at a time, waiting for each move to show (frames come every
# 100 ms, so a key's effect is not on the screen at once).
tui_select_group() {
    local name=$1 i sel first end
    first=$(tui_layers_pane | grep -oE -m1 '\[[ x-]\] +[^ ]+' | sed -E 's/^\[[ x-]\] +//')
    tui_keys g
    end=$((SECONDS + TUI_TIMEOUT))
    while sel=$(tui_selected_row); [ "$sel" != "$first" ]; do
        [ $SECONDS -lt $end ] || tui_fail "g did not select the first group ($first)"
        sleep 0.05
    done
    for i in $(seq 1 40); do
        [ "$sel" = "$name" ] && return 0
        tui_keys j
        tui_wait_change_from "$sel" tui_selected_row
        sel=$(tui_selected_row)
    done
    tui_fail "could not select group $name"
}

# 0 when the screen shows a Braille cell (U+2800..U+28FF: E2 A0..A3 xx).
tui_has_braille() {
    tui_screen | LC_ALL=C grep -q $'\xe2[\xa0-\xa3]'
}

# 0 when the screen is plain ASCII.
tui_is_ascii() {
    ! tui_screen | LC_ALL=C grep -q $'[\x80-\xff]'
}

# The global step in the status bar.
tui_step() {
    tui_screen | head -1 | grep -oE 'step [0-9]+' | head -1 || true
}

# tui_wait_change_from OLD CMD...: until CMD prints something other than OLD.
tui_wait_change_from() {
    local old=$1 end=$((SECONDS + TUI_TIMEOUT))
    shift
    while [ $SECONDS -lt $end ]; do
        [ "$("$@")" != "$old" ] && return 0
        sleep 0.05
    done
    tui_fail "timed out waiting for '$*' to change from '$old'"
}

# tui_wait_for_line ROWRE RE what: until a screen line matching ROWRE also
# matches RE.
tui_wait_for_line() {
    local row=$1 re=$2 what=${3:-$1 $2}
    local end=$((SECONDS + TUI_TIMEOUT))
    while [ $SECONDS -lt $end ]; do
        tui_screen | grep -E -- "$row" | grep -Eq -- "$re" && return 0
        sleep 0.05
    done
    tui_fail "timed out after ${TUI_TIMEOUT}s waiting for: $what"
}

# tui_wait_size COLS ROWS: until the screen is redrawn at that size (the
# top border line spans every column and the footer is on the last line).
tui_wait_size() {
    local cols=$1 rows=$2 end=$((SECONDS + TUI_TIMEOUT)) screen
    while [ $SECONDS -lt $end ]; do
        screen=$(tui_screen)
        if [ "$(wc -l <<<"$screen")" -eq "$rows" ] &&
           [ "$(sed -n 2p <<<"$screen" | LC_ALL=C.UTF-8 wc -m)" -eq $((cols + 1)) ] &&
           sed -n 2p <<<"$screen" | grep -Eq '[┐+]$' &&
           sed -n "${rows}p" <<<"$screen" | grep -q 'quit'; then
            return 0
        fi
        sleep 0.05
    done
    tui_fail "screen not redrawn at ${cols}x$rows"
}

# tui_changes_within OLD SECONDS: 0 when the screen differs from OLD within
# that time, else 1 (no failure: "nothing more happens" is an answer).
tui_changes_within() {
    local old=$1 end=$((SECONDS + $2))
    while [ $SECONDS -le $end ]; do
        [ "$(tui_screen)" != "$old" ] && return 0
        sleep 0.05
    done
    return 1
}

# tui_model_table_tasks: every task heading of the model table (a line of
# the table that starts with a lowercase word), seen while paging from its
# top to its bottom; NPage until the screen stops changing.
tui_model_table_tasks() {
    local seen="" screen i
    tui_keys g
    for i in $(seq 1 30); do
        screen=$(tui_screen)
        seen+=$'\n'$(sed -E 's/^[│|]//' <<<"$screen" | grep -E '^[a-z]' |
                      sed -E 's/ +[│|].*//; s/ +$//')
        tui_keys NPage
        tui_changes_within "$screen" 1 || break
    done
    sort -u <<<"$seen" | sed '/^$/d'
}

# tui_journal CKPT: the journal of live changes stored in a checkpoint's
# safetensors header (__metadata__.journal, a JSON array), one entry per
# line as "step kind name value" (value with repr: exact).
tui_journal() {
    "${THAW_PYTHON:-python3}" - "$1" <<'PY'
import json, struct, sys
with open(sys.argv[1], "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    meta = json.loads(f.read(n)).get("__metadata__", {})
for e in json.loads(meta.get("journal", "[]")):
    print(e["step"], e["kind"], e.get("group", e.get("layer")), repr(float(e["value"])))
PY
}

# tui_curve_marks: how many rows of the loss pane (the right-hand pane
# whose top-left corner is the second one on line 2) hold a mark: a
# vertical line (U+2502) inside its frame. A mark column spans the plot,
# minus the cells a curve covers. UTF-8 screens only.
tui_curve_marks() {
    tui_screen | "${THAW_PYTHON:-python3}" -c '
import sys
lines = sys.stdin.buffer.read().decode("utf-8", "replace").split("\n")
x = [i for i, ch in enumerate(lines[1]) if ch == "\u250c"][1]
rows = 0
for line in lines[2:]:
    if len(line) <= x or line[x] != "\u2502":
        break   # the bottom corner: the loss pane ends
    end = line.rfind("\u2502")
    rows += "\u2502" in line[x + 1:end]
print(rows)'
}
