#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "engine/core/error.h"

static void fail_formats_message_and_returns_code(void **state)
{
    (void)state;
    ThawError err = {0};
    int rc = thaw_fail(&err, THAW_ERR_MISMATCH, "%s: key '%s'", "w.safetensors", "fc.weight");
    assert_int_equal(rc, THAW_ERR_MISMATCH);
    assert_int_equal(err.code, THAW_ERR_MISMATCH);
    assert_string_equal(err.msg, "w.safetensors: key 'fc.weight'");
    thaw_error_clear(&err);
    assert_int_equal(err.code, THAW_OK);
    assert_string_equal(err.msg, "");
    assert_int_equal(thaw_fail(NULL, THAW_ERR_IO, "ignored"), THAW_ERR_IO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fail_formats_message_and_returns_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
