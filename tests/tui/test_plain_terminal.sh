#!/usr/bin/env bash
# The workbench on a plain terminal: LANG=C / LC_ALL=C (ASCII glyphs: no
# Braille, no box drawing, nothing but ASCII on the screen), TERM=vt100 and
# NO_COLOR=1. It opens (status bar, layers pane with layer4, footer keys),
# Space toggles a group after the engine's ACK, and the loss curve draws.
. "$(dirname "$0")/tui_lib.sh"

run="$TUI_WORK/tiny.json"
tui_tiny_run "$run"
out="$TUI_WORK/out"
TUI_TERM=vt100 tui_start 80 24 LANG=C LC_ALL=C NO_COLOR=1 -- "$run" --out "$out"

tui_wait_for 'ready' "state ready in the status bar"
tui_wait_for 'layer4' "layer4 in the layers pane"
tui_wait_for 'Space' "the footer's keys"
tui_is_ascii || tui_fail "non-ASCII on the screen in the C locale"

# No colour: the selected row is in reverse video, not a colour pair.
tmux -L "$TUI_SOCK" capture-pane -p -e -t t | grep -q $'\e\\[[0-9;]*3[0-7]m' &&
    tui_fail "colours on the screen with NO_COLOR=1"

tui_select_group layer3
before=$(tui_group_line layer3)
grep -q '\[ \]' <<<"$before" || tui_fail "layer3 not frozen at the start: $before"
tui_keys Space
tui_wait_for_line '\] +layer3 ' '\[x\]' "layer3 trainable ([x]) after the ACK"

tui_keys t
s1=$(tui_step)
tui_wait_change_from "$s1" tui_step
tui_wait_gone "$TUI_CURVE_EMPTY" "the loss curve's empty message"
tui_is_ascii || tui_fail "non-ASCII on the screen in the C locale (with a curve)"
tui_has_braille && tui_fail "Braille in the C locale"

tui_keys q
tui_wait_for '[Qq]uit\?' "the quit question"
tui_keys y
rc=$(tui_wait_exit)
[ "$rc" = 0 ] || tui_fail "exit status $rc after q y (want 0)"
rm -rf "$out"
tui_pass "LANG=C TERM=vt100 NO_COLOR=1"
