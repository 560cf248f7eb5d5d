/*
 * test_abuse.c - the pure abuse rules (domain/abuse.h) and the ARS report rules of
 * domain/verification.h: member locks, Retry-After rounding, the bank cooling-off, call results.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "domain/abuse.h"
#include "domain/verification.h"

#define NOW_MS    1795521600000LL
#define WINDOW_MS (300LL * 1000)

static void test_member_guard(void **state)
{
    (void)state;
    struct member_guard guard = {0, 0};
    assert_false(member_guard_locked(&guard, NOW_MS));
    assert_false(member_guard_fail(&guard, NOW_MS, 3, 900000));
    assert_false(member_guard_fail(&guard, NOW_MS, 3, 900000));
    member_guard_succeed(&guard);
    assert_int_equal(guard.failures, 0);
    assert_false(member_guard_fail(&guard, NOW_MS, 3, 900000));
    assert_false(member_guard_fail(&guard, NOW_MS, 3, 900000));
    assert_true(member_guard_fail(&guard, NOW_MS, 3, 900000));
    assert_int_equal(guard.failures, 0); /* the count starts again after a lock */
    assert_int_equal(guard.locked_until_ms, NOW_MS + 900000);
    assert_true(member_guard_locked(&guard, NOW_MS + 899999));
    assert_false(member_guard_locked(&guard, NOW_MS + 900000));
    member_guard_succeed(&guard);
    assert_true(member_guard_locked(&guard, NOW_MS + 1)); /* a right code does not end a lock */
    struct member_guard once = {0, 0};
    assert_true(member_guard_fail(&once, NOW_MS, 1, 1000));
}

static void test_retry_after_seconds(void **state)
{
    (void)state;
    assert_int_equal(abuse_retry_after_seconds(NOW_MS, NOW_MS), 1);
    assert_int_equal(abuse_retry_after_seconds(NOW_MS - 5000, NOW_MS), 1);
    assert_int_equal(abuse_retry_after_seconds(NOW_MS + 1, NOW_MS), 1);
    assert_int_equal(abuse_retry_after_seconds(NOW_MS + 1000, NOW_MS), 1);
    assert_int_equal(abuse_retry_after_seconds(NOW_MS + 1001, NOW_MS), 2);
    assert_int_equal(abuse_retry_after_seconds(NOW_MS + 3600000, NOW_MS), 3600);
}

static void test_bank_cooling_off(void **state)
{
    (void)state;
    struct bank_account bank;
    int64_t until_ms = 0;
    memset(&bank, 0, sizeof(bank));
    bank.updated_ms = NOW_MS;
    const int64_t day_ms = 24 * 3600 * 1000LL;
    assert_true(bank_cooling_off_active(&bank, day_ms, NOW_MS + 1000, &until_ms));
    assert_int_equal(until_ms, NOW_MS + day_ms);
    assert_true(bank_cooling_off_active(&bank, day_ms, NOW_MS + day_ms - 1, &until_ms));
    assert_false(bank_cooling_off_active(&bank, day_ms, NOW_MS + day_ms, &until_ms));
    assert_false(bank_cooling_off_active(&bank, 0, NOW_MS, &until_ms));
    bank.operator_verified = true;
    assert_false(bank_cooling_off_active(&bank, day_ms, NOW_MS, &until_ms));
}

static struct verification ars_pending(void)
{
    struct verification v;
    memset(&v, 0, sizeof(v));
    v.method = VERIFICATION_ARS;
    v.status = VERIFICATION_PENDING;
    v.call_status = CALL_REQUESTED;
    v.created_ms = NOW_MS;
    return v;
}

static void test_call_results(void **state)
{
    (void)state;
    struct verification v = ars_pending();
    struct verification after;
    assert_int_equal(
        verification_call_apply(&v, CALL_ANSWERED, true, NOW_MS + 10, WINDOW_MS, &after), CASH_OK);
    assert_int_equal(after.status, VERIFICATION_CONFIRMED);
    assert_int_equal(after.call_status, CALL_ANSWERED);
    assert_int_equal(after.confirmed_ms, NOW_MS + 10);
    assert_int_equal(after.attempts, 0);
    assert_int_equal(verification_call_apply(&v, CALL_ANSWERED, false, NOW_MS, WINDOW_MS, &after),
                     CASH_OK);
    assert_int_equal(after.status, VERIFICATION_FAILED);
    assert_int_equal(after.call_status, CALL_WRONG_DIGITS);
    assert_int_equal(after.attempts, 1);
    assert_int_equal(after.confirmed_ms, 0);
    assert_int_equal(verification_call_apply(&v, CALL_NO_ANSWER, false, NOW_MS, WINDOW_MS, &after),
                     CASH_OK);
    assert_int_equal(after.status, VERIFICATION_FAILED);
    assert_int_equal(after.call_status, CALL_NO_ANSWER);
    assert_int_equal(after.attempts, 0);
    assert_int_equal(verification_call_apply(&v, CALL_FAILED, true, NOW_MS, WINDOW_MS, &after),
                     CASH_OK);
    assert_int_equal(after.call_status, CALL_FAILED);
    /* Refusals. */
    assert_int_equal(
        verification_call_apply(&v, CALL_ANSWERED, true, NOW_MS + WINDOW_MS + 1, WINDOW_MS, &after),
        CASH_VERIFICATION_EXPIRED);
    assert_int_equal(
        verification_call_apply(&v, CALL_WRONG_DIGITS, false, NOW_MS, WINDOW_MS, &after),
        CASH_INVALID_STATUS);
    assert_int_equal(verification_call_apply(&v, CALL_NONE, false, NOW_MS, WINDOW_MS, &after),
                     CASH_INVALID_STATUS);
    v.status = VERIFICATION_CONFIRMED;
    assert_int_equal(verification_call_apply(&v, CALL_FAILED, false, NOW_MS, WINDOW_MS, &after),
                     CASH_INVALID_STATUS);
    v = ars_pending();
    v.method = VERIFICATION_EMAIL_OTP;
    assert_int_equal(verification_call_apply(&v, CALL_ANSWERED, true, NOW_MS, WINDOW_MS, &after),
                     CASH_NOT_FOUND);
}

static void test_call_status_names(void **state)
{
    (void)state;
    enum verification_call_status parsed = CALL_NONE;
    for (unsigned i = 0; i < VERIFICATION_CALL_STATUS_COUNT; i++) {
        const char *name = verification_call_status_name((enum verification_call_status)i);
        assert_true(verification_call_status_parse(name, &parsed));
        assert_int_equal(parsed, i);
    }
    assert_string_equal(verification_call_status_name(CALL_NO_ANSWER), "NO_ANSWER");
    assert_false(verification_call_status_parse("answered", &parsed));
    assert_false(verification_call_status_parse("ANSWERED ", &parsed));
    assert_string_equal(verification_call_status_name((enum verification_call_status)99), "");
    assert_int_equal(verification_code_digits(VERIFICATION_ARS), 2);
    assert_int_equal(verification_code_digits(VERIFICATION_EMAIL_OTP), 6);
    assert_false(verification_confirmed_by_code(VERIFICATION_ARS));
    assert_true(verification_confirmed_by_code(VERIFICATION_TOTP));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_member_guard),      cmocka_unit_test(test_retry_after_seconds),
        cmocka_unit_test(test_bank_cooling_off),  cmocka_unit_test(test_call_results),
        cmocka_unit_test(test_call_status_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
