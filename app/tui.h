/* The workbench: `thaw` (the default run) or `thaw RUN.json [--out DIR]`.
 * The main thread runs a libuv loop that owns ncurses: keys from stdin,
 * SIGWINCH/SIGINT/SIGTERM/SIGHUP, a 100 ms redraw timer that draws only
 * when something changed, and the bus wake-up that folds engine events into
 * the view state. The engine thread runs the training job; the UI never
 * waits on it. */
#ifndef THAW_TUI_H
#define THAW_TUI_H

/* The key table, as `thaw --help` prints it (the help overlay has the same). */
#define TUI_KEYS_HELP \
    "  Tab          next pane (layers, lr groups, curves)\n" \
    "  Up/Down j/k  move the selection\n" \
    "  Enter/Right  expand a group into its layers (Left collapses)\n" \
    "  Space        freeze / thaw the selected group, or on a layer row that layer\n" \
    "  f            freeze everything up to and including the selected group or layer\n" \
    "  u            unfreeze every group\n" \
    "  e            edit the selected group's lr (typing replaces it; Enter sets, Esc cancels)\n" \
    "  t            start / pause training\n" \
    "  s            save a checkpoint now\n" \
    "  m            model-choice table (Enter picks, Esc goes back)\n" \
    "  L or l       loss curve: linear / log scale\n" \
    "  ?            help\n" \
    "  q            quit (asks while a run is going; y saves first)\n" \
    "  Ctrl-C       save a checkpoint and quit (exit 130)\n"

/* argv as main's: argv[1..] = [RUN.json] [--out DIR]. Returns the exit
 * status: 0, 2 (bad run file or no terminal), 128 + signal. */
int tui_main(int argc, char **argv);

#endif
