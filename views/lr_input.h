/* Parsing what the user types into the lr edit field. */
#ifndef THAW_VIEWS_LR_INPUT_H
#define THAW_VIEWS_LR_INPUT_H

#define LR_INPUT_MAX 10.0

/* Accepts a number ("1e-4", "0.0001", "3e-5"), a factor of the current lr
 * ("x0.5", "*0.5") or a divisor ("/10"); spaces around are ignored. The
 * result must be finite, > 0 and <= LR_INPUT_MAX. Returns 0 and sets *out,
 * or -1 (empty, garbage, negative, zero, nan/inf, too large) leaving *out. */
int lr_input_parse(const char *text, double current, double *out);

#endif
