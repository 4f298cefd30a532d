/* Printing shared by the headless verbs (train, eval): JSON strings and the
 * confusion matrix, as a table for people and as JSON arrays. */
#ifndef THAW_REPORT_PRINT_H
#define THAW_REPORT_PRINT_H

#include <stdint.h>

#include "engine/run/evaluate.h"

/* s as a JSON string literal on stdout. */
void print_json_string(const char *s);
/* ,"classes":[...],"confusion":[[...],...] (no braces), rows true. */
void print_confusion_json(int k, const char *const *names, const int64_t *confusion);
/* "confusion matrix (<what>; rows true, columns predicted):" and a row per class. */
void print_confusion_table(const char *what, int k, const char *const *names,
                           const int64_t *confusion);

/* thaw eval's report of r on split ("test", "val", "all") of ckpt: one
 * JSON object {"event":"eval",...} with json, else the accuracy line
 * ("N <unit>: loss L  accuracy A"), per-class accuracy and the confusion
 * matrix. names: r->classes class names. Images and texts alike. */
void print_eval_report(const char *ckpt, const char *split, const char *unit,
                       const char *const *names, const EvalResult *r, int json);

#endif
