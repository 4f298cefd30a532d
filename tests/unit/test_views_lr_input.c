/* lr edit field: numbers, x / * factors, / divisors; everything else is
 * refused and leaves the output alone. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "views/lr_input.h"

static void ok(const char *text, double current, double want)
{
    double out = -1;
    if (lr_input_parse(text, current, &out) != 0 || fabs(out - want) > 1e-15 * want) {
        fail_msg("'%s' (current %g): got %g, want %g", text, current, out, want);
    }
}

static void bad(const char *text, double current)
{
    double out = 123.0;
    if (lr_input_parse(text, current, &out) == 0 || out != 123.0) {
        fail_msg("'%s' (current %g) accepted as %g", text ? text : "(null)", current, out);
    }
}

static void accepts(void **state)
{
    (void)state;
    ok("1e-4", 1e-3, 1e-4);
    ok("0.0001", 1e-3, 1e-4);
    ok("3e-5", 1e-3, 3e-5);
    ok("3E-5", 1e-3, 3e-5);
    ok(".5", 1e-3, 0.5);
    ok("10", 1e-3, 10.0);
    ok("  2e-3 ", 1e-3, 2e-3);
    ok("x0.5", 1e-3, 5e-4);
    ok("X2", 1e-3, 2e-3);
    ok("*0.5", 1e-3, 5e-4);
    ok("* 0.1", 1e-3, 1e-4);
    ok("/10", 1e-3, 1e-4);
    ok("/ 2", 3e-4, 1.5e-4);
}

static void rejects(void **state)
{
    (void)state;
    bad("", 1e-3);
    bad("   ", 1e-3);
    bad(NULL, 1e-3);
    bad("-1e-4", 1e-3);
    bad("0", 1e-3);
    bad("0.0", 1e-3);
    bad("0e5", 1e-3);
    bad("nan", 1e-3);
    bad("inf", 1e-3);
    bad("-inf", 1e-3);
    bad("1e999", 1e-3);
    bad("1e-999", 1e-3);   /* underflows to 0 */
    bad("0x10", 1e-3);
    bad("abc", 1e-3);
    bad("1e-4x", 1e-3);
    bad("1e", 1e-3);
    bad("1 2", 1e-3);
    bad("+1e-3", 1e-3);
    bad("10.5", 1e-3);     /* > 10 */
    bad("11", 1e-3);
    bad("x", 1e-3);
    bad("/", 1e-3);
    bad("/0", 1e-3);
    bad("x0", 1e-3);
    bad("x-2", 1e-3);
    bad("xnan", 1e-3);
    bad("x1e6", 1e-3);     /* 1000 > 10 */
    bad("x2", 6.0);        /* 12 > 10 */
    bad("/10", 0.0);       /* nothing to divide */
    bad("//10", 1e-3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts),
        cmocka_unit_test(rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
