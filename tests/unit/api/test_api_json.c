/*
 * test_api_json.c - the error object of the API (api_error): its status, errorCode and message,
 * the fallback for a reason that is not UTF-8, and the Retry-After of a 503.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/api_internal.h"

static void test_error_object(void **state)
{
    (void)state;
    struct http_response response;
    memset(&response, 0, sizeof(response));
    api_error(&response, CASH_NOT_ENOUGH_BALANCE, NULL);
    assert_int_equal(response.status, 400);
    assert_string_equal(response.body, "{\"errorCode\":\"NotEnoughBalance\",\"errorMessage\":"
                                       "\"the balance is not enough for this withdrawal\"}");
    assert_int_equal(response.body_length, strlen(response.body));
    assert_string_equal(response.retry_after, "");
    free(response.body);

    memset(&response, 0, sizeof(response));
    api_error(&response, CASH_VALIDATION_ERROR, "amount must be an integer");
    assert_string_equal(response.body, "{\"errorCode\":\"ValidationError\",\"errorMessage\":"
                                       "\"amount must be an integer\"}");
    free(response.body);

    /* A reason quoting bytes that are not UTF-8 falls back to the default message. */
    memset(&response, 0, sizeof(response));
    api_error(&response, CASH_INVALID_JSON, "near '\xff'");
    assert_int_equal(response.status, 400);
    assert_string_equal(response.body, "{\"errorCode\":\"InvalidJSON\",\"errorMessage\":"
                                       "\"the body is not a valid JSON object\"}");
    free(response.body);

    memset(&response, 0, sizeof(response));
    api_error(&response, CASH_SERVICE_UNAVAILABLE, NULL);
    assert_int_equal(response.status, 503);
    assert_string_equal(response.retry_after, "1");
    free(response.body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
