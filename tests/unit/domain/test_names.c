#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "domain/names.h"

/* Each name parses back to its value; parse refuses case changes, spaces and the empty text. */
#define EXPECT_ROUND_TRIP(prefix, type, count)                                                     \
    do {                                                                                           \
        for (int value = 0; value < (count); value++) {                                            \
            type parsed;                                                                           \
            const char *name = prefix##_name((type)value);                                         \
            assert_string_not_equal(name, "UNKNOWN");                                              \
            assert_true(prefix##_parse(name, &parsed));                                            \
            assert_int_equal(parsed, value);                                                       \
            char changed[64];                                                                      \
            snprintf(changed, sizeof(changed), "%s ", name);                                       \
            assert_false(prefix##_parse(changed, &parsed));                                        \
        }                                                                                          \
        type unused;                                                                               \
        assert_false(prefix##_parse("", &unused));                                                 \
        assert_false(prefix##_parse(NULL, &unused));                                               \
        assert_string_equal(prefix##_name((type)(count)), "UNKNOWN");                              \
    } while (0)

static void test_round_trips(void **state)
{
    (void)state;
    EXPECT_ROUND_TRIP(account_status, enum account_status, 3);
    EXPECT_ROUND_TRIP(account_verified, enum account_verified, 3);
    EXPECT_ROUND_TRIP(member_role, enum member_role, 3);
    EXPECT_ROUND_TRIP(member_status, enum member_status, 4);
    EXPECT_ROUND_TRIP(withdraw_status, enum withdraw_status, WITHDRAW_STATUS_COUNT);
    EXPECT_ROUND_TRIP(history_type, enum history_type, HISTORY_TYPE_COUNT);
    EXPECT_ROUND_TRIP(verification_method, enum verification_method, VERIFICATION_METHOD_COUNT);
}

static void test_wire_names(void **state)
{
    (void)state;
    enum withdraw_status status;
    enum member_role role;
    assert_string_equal(withdraw_status_name(WITHDRAW_PENDING), "PENDING");
    assert_string_equal(withdraw_status_name(WITHDRAW_CANCELED), "CANCELED");
    assert_false(withdraw_status_parse("pending", &status));
    assert_false(withdraw_status_parse("CANCELLED", &status));
    assert_string_equal(member_role_name(ROLE_OWNER), "OWNER");
    assert_false(member_role_parse("owner", &role));
    assert_string_equal(member_status_name(MEMBER_UNVERIFIED), "UNVERIFIED");
    assert_string_equal(account_verified_name(VERIFIED_BUSINESS), "business");
    assert_string_equal(history_type_name(HISTORY_WITHDRAW_REFUND), "WITHDRAW_REFUND");
    assert_string_equal(verification_method_name(VERIFICATION_EMAIL_OTP), "EMAIL_OTP");
    assert_string_equal(verification_status_name(VERIFICATION_EXPIRED), "EXPIRED");
    assert_string_equal(verification_status_name(VERIFICATION_LOCKED), "LOCKED");
}

static void test_scopes(void **state)
{
    (void)state;
    unsigned scopes = 0;
    char text[SCOPES_BYTES_MAX + 1];
    assert_true(scopes_parse("cash:read,cash:write", &scopes));
    assert_int_equal(scopes, SCOPE_CASH_READ | SCOPE_CASH_WRITE);
    assert_true(scopes_parse("cash:write", &scopes));
    assert_int_equal(scopes, SCOPE_CASH_WRITE);
    assert_true(scopes_parse("cash:write,cash:read", &scopes));
    assert_int_equal(scopes, SCOPE_CASH_READ | SCOPE_CASH_WRITE);
    const char *bad[] = {"",
                         ",",
                         "cash:read,",
                         ",cash:read",
                         "cash:read,,cash:write",
                         "cash:admin",
                         "cash:read ,cash:write",
                         "CASH:READ",
                         "cash:read cash:write"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        scopes = 77;
        if (scopes_parse(bad[i], &scopes)) {
            fail_msg("accepted scopes \"%s\"", bad[i]);
        }
        assert_int_equal(scopes, 77);
    }
    assert_false(scopes_parse(NULL, &scopes));
    scopes_format(SCOPE_CASH_READ | SCOPE_CASH_WRITE, text, sizeof(text));
    assert_string_equal(text, "cash:read,cash:write");
    scopes_format(SCOPE_CASH_WRITE, text, sizeof(text));
    assert_string_equal(text, "cash:write");
    scopes_format(0, text, sizeof(text));
    assert_string_equal(text, "");
    char small[5];
    scopes_format(SCOPE_CASH_READ, small, sizeof(small));
    assert_int_equal(strlen(small), 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_wire_names),
        cmocka_unit_test(test_scopes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
