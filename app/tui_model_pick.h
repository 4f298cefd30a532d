/* The model-choice table's Enter: a supported backbone replaces the run's
 * model (REBUILD with model.arch and model.weights swapped); any other row
 * says "not supported yet" and nothing happens. */
#ifndef THAW_TUI_MODEL_PICK_H
#define THAW_TUI_MODEL_PICK_H

#include "app/tui_app.h"

/* row indexes app->wb.catalog. Returns the REBUILD's id, or 0 when nothing
 * was sent (the status line says why). */
uint64_t tui_pick_model(TuiApp *app, int row);

#endif
