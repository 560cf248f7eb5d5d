/*
 * test_query_overdue.c - GET /cash/v1/withdraw?overdue=... (issue 5: stuck withdrawals): exactly
 * "true" or "false", once, and nothing else.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "domain/query.h"

static cash_result parse_one(const char *key, const char *value, struct withdraw_query *out,
                             char *why, size_t why_size)
{
    const struct query_param params[] = {{key, value}};
    return withdraw_query_parse(params, 1, out, why, why_size);
}

static void test_overdue_values(void **state)
{
    (void)state;
    struct withdraw_query query;
    char why[256] = "";
    assert_int_equal(parse_one("overdue", "true", &query, why, sizeof(why)), CASH_OK);
    assert_true(query.overdue);
    assert_int_equal(parse_one("overdue", "false", &query, why, sizeof(why)), CASH_OK);
    assert_false(query.overdue);
    const struct query_param none[] = {{"limit", "5"}};
    assert_int_equal(withdraw_query_parse(none, 1, &query, why, sizeof(why)), CASH_OK);
    assert_false(query.overdue);
    const char *bad[] = {"TRUE", "1", "yes", "true ", " true", "tru", "falsey", "%74rue"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        if (parse_one("overdue", bad[i], &query, why, sizeof(why)) != CASH_VALIDATION_ERROR) {
            fail_msg("overdue=%s accepted", bad[i]);
        }
        assert_non_null(strstr(why, "overdue"));
    }
    assert_int_equal(parse_one("overdue", "", &query, why, sizeof(why)), CASH_VALIDATION_ERROR);
    const struct query_param twice[] = {{"overdue", "true"}, {"overdue", "true"}};
    assert_int_equal(withdraw_query_parse(twice, 2, &query, why, sizeof(why)),
                     CASH_VALIDATION_ERROR);
    assert_non_null(strstr(why, "repeated"));
    assert_int_equal(parse_one("overdue[ne]", "true", &query, why, sizeof(why)),
                     CASH_VALIDATION_ERROR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overdue_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
