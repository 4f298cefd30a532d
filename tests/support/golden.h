/* Golden comparisons against tensors PyTorch wrote (tests/golden/gen_X.py).
 * Tolerance is value-scaled, per tensor: max|got - ref| <= rel * max|ref|
 * (plus a tiny absolute floor for all-zero references). Every check prints
 * one line "OK|FAIL name maxdiff=... maxref=..." and returns 1 on pass, so a
 * test can check every tensor and fail once at the end. */
#ifndef THAW_TEST_GOLDEN_H
#define THAW_TEST_GOLDEN_H

#include <stddef.h>
#include <stdint.h>

#include "engine/io/safetensors.h"

#define GOLDEN_REL_TOL 1e-4

/* Opens $THAW_GOLDEN_DIR/<file>; aborts the test (cmocka fail) if absent. */
SafeTensors *golden_open(const char *file);

/* Reads a float tensor by key into a fresh malloc'd buffer; *numel is set
 * when non-NULL. Fails the test if missing. */
float *golden_load(const SafeTensors *st, const char *key, int64_t *numel);

/* Shape of key (fails if missing). Returns ndim. */
int golden_shape(const SafeTensors *st, const char *key, int64_t *shape);

/* Integer tensors (I64 labels etc.) converted to int32. */
int32_t *golden_load_i32(const SafeTensors *st, const char *key,
                         int64_t *numel);

/* Compares got against ref; prints a line. Returns 1 when within tolerance. */
int golden_compare(const char *name, const float *got, const float *ref,
                   size_t n, double rel_tol);

/* golden_compare against the tensor stored under key. */
int golden_check(const SafeTensors *st, const char *key, const float *got,
                 size_t n, double rel_tol);

/* The float tensor "<prefix>.<key>" (key alone when prefix is NULL), in a
 * fresh malloc'd buffer; fails the test unless it holds want floats. */
float *golden_load_n(const SafeTensors *st, const char *prefix, const char *key,
                     size_t want);

/* golden_check of got * scale against "<prefix>.<key>" at GOLDEN_REL_TOL:
 * scale 0.5 checks a buffer that received a gradient twice (the += rule),
 * and the printed name says so. */
int golden_check_scaled(const SafeTensors *st, const char *prefix, const char *key,
                        const float *got, size_t n, float scale);

/* Full path of a golden file into buf. */
const char *golden_path(char *buf, size_t cap, const char *file);

#endif
