/* lr edit field parsing: absolute values, x or * factors, / divisors. */
#include "views/lr_input.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>

/* A plain positive decimal number filling [p, end): digits, '.', exponent.
 * strtod alone would also take "nan", "inf" and hex floats. */
static int parse_number(const char *p, const char *end, double *out)
{
    if (p >= end) {
        return -1;
    }
    for (const char *q = p; q < end; q++) {
        if (!isdigit((unsigned char)*q) && *q != '.' && *q != 'e' && *q != 'E' && *q != '-' &&
            *q != '+') {
            return -1;
        }
    }
    if (!isdigit((unsigned char)*p) && *p != '.') {
        return -1;   /* no sign: negative values are rejected, "+1" is odd */
    }
    char *stop = NULL;
    double v = strtod(p, &stop);
    if (stop != end || !isfinite(v)) {
        return -1;
    }
    *out = v;
    return 0;
}

int lr_input_parse(const char *text, double current, double *out)
{
    if (!text) {
        return -1;
    }
    const char *p = text, *end = text;
    while (isspace((unsigned char)*p)) {
        p++;
    }
    for (const char *q = p; *q; q++) {
        if (!isspace((unsigned char)*q)) {
            end = q + 1;
        }
    }
    if (end <= p) {
        return -1;
    }
    char op = 0;
    if (*p == 'x' || *p == 'X' || *p == '*' || *p == '/') {
        op = *p == '/' ? '/' : 'x';
        p++;
        while (p < end && isspace((unsigned char)*p)) {
            p++;
        }
    }
    double v;
    if (parse_number(p, end, &v) != 0 || v <= 0) {
        return -1;
    }
    if (op == 'x') {
        v = current * v;
    } else if (op == '/') {
        v = current / v;
    }
    if (!isfinite(v) || v <= 0 || v > LR_INPUT_MAX) {
        return -1;
    }
    *out = v;
    return 0;
}
