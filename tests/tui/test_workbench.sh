#!/usr/bin/env bash
# The workbench end to end in tmux, at 80x24 and at 132x43: it opens on a
# run file (status bar, layers pane with layer4, footer keys), j/k move the
# selection, Space freezes a group (the trainable count changes after the
# engine's ACK), e edits a group's lr (typing replaces the pre-filled value;
# the checkpoint's journal has exactly 1e-4), t starts training (the step counter
# moves, the loss curve gets points), a resize redraws at the new size, ?
# shows help, m shows the model table with every task row and Esc returns,
# q asks while a run is going and y saves a checkpoint and exits 0.
. "$(dirname "$0")/tui_lib.sh"

run="$TUI_WORK/tiny.json"
tui_tiny_run "$run"

one_size() {  # one_size COLS ROWS
    local cols=$1 rows=$2 out="$TUI_WORK/out-${1}x$2"
    tui_start "$cols" "$rows" LANG=C.UTF-8 LC_ALL=C.UTF-8 -- "$run" --out "$out"

    # Opens: status bar with the run and its state, layer4 in the layers
    # pane, the footer's keys.
    tui_wait_for 'ready' "state ready in the status bar"
    tui_wait_for 'layer4' "layer4 in the layers pane"
    local screen
    screen=$(tui_screen)
    grep -q 'tiny' <<<"$screen" || tui_fail "run name not in the status bar"
    grep -Eq 'Tab.*Space|Space.*Tab' <<<"$screen" || tui_fail "footer keys not shown"
    [ "$(wc -l <<<"$screen")" -eq "$rows" ] || tui_fail "screen is not $rows lines"

    # j/k move the selection: the selected line (reverse video, so compare
    # the row the cursor marker is on) changes and comes back.
    local sel0 sel1 sel2
    sel0=$(tui_selected_row)
    tui_keys j
    tui_wait_change_from "$sel0" tui_selected_row
    sel1=$(tui_selected_row)
    tui_keys k
    tui_wait_change_from "$sel1" tui_selected_row
    sel2=$(tui_selected_row)
    [ "$sel0" = "$sel2" ] || tui_fail "k did not undo j ($sel0 / $sel2)"

    # Space on layer4 (trainable in fine_tune): it becomes frozen after
    # the ACK; the group's trainable count drops to 0.
    tui_select_group layer4
    local before
    before=$(tui_group_line layer4)
    tui_keys Space
    tui_wait_change_from "$before" tui_group_line layer4
    tui_wait_for_line '\] +layer4 ' '\[ \]' "layer4 shown frozen ([ ]) after the ACK"
    tui_wait_for 'layers +5\.1K of' "the layers pane's trainable count: only the head"

    # e + 1e-4 Enter: the field opens with 1e-3 selected and typing
    # replaces it (it once appended: 0.0011e-4); layer4's lr reads 1e-4.
    tui_keys e
    tui_wait_for 'lr layer4:' "the lr edit prompt"
    tui_type 1e-4
    tui_keys Enter
    tui_wait_for_line '\] +layer4 ' ' 1e-4 ' "layer4 lr 1e-4 in the layers pane"

    # t: training starts, the step counter moves, the curve gets points.
    tui_keys t
    tui_wait_for 'running' "state running"
    local s1
    s1=$(tui_step)
    tui_wait_change_from "$s1" tui_step
    tui_wait_gone "$TUI_CURVE_EMPTY" "the loss curve's empty message"
    tui_has_braille || tui_fail "no Braille points in the loss curve (UTF-8)"

    # Resize: the screen is redrawn at the new size, and back.
    tui_resize 100 30
    tui_wait_size 100 30
    tui_wait_for 'layer4' "layer4 after the resize"
    tui_resize "$cols" "$rows"
    tui_wait_size "$cols" "$rows"

    # ? shows help; any key closes it.
    tui_keys '?'
    tui_wait_for "$TUI_HELP_TITLE" "the help overlay"
    tui_keys x
    tui_wait_gone "$TUI_HELP_TITLE" "the help overlay closing"

    # m: the model table with every task row; Esc goes back.
    tui_keys m
    tui_wait_for 'backbone' "the model table"
    local tasks
    tasks=$(tui_model_table_tasks)
    for task in "image classification" "object detection" "text classification" \
                "text generation" "audio" "code" "multi-modal"; do
        grep -q "^$task" <<<"$tasks" || tui_fail "model table lacks the task row '$task' (saw: $tasks)"
    done
    tui_keys Escape
    tui_wait_for 'layer4' "the main screen after Esc"

    # q asks while running; y saves and exits 0 with a checkpoint.
    tui_keys q
    tui_wait_for '[Qq]uit\?' "the quit question"
    tui_keys y
    local rc
    rc=$(tui_wait_exit)
    [ "$rc" = 0 ] || tui_fail "exit status $rc after q y (want 0)"
    [ -s "$out/interrupted.safetensors" ] || tui_fail "no $out/interrupted.safetensors after q y"
    # the lr the engine applied is exactly the one typed
    tui_journal "$out/interrupted.safetensors" | grep -qx '0 lr layer4 0.0001' ||
        tui_fail "journal lacks 'lr layer4 0.0001': $(tui_journal "$out/interrupted.safetensors")"
    tui_cleanup
    rm -rf "$out"   # 134 MB per checkpoint
    tui_pass "${cols}x$rows"
}

one_size 80 24
one_size 132 43
