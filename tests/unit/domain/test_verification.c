#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "common/limits.h"
#include "domain/verification.h"

#define CREATED_MS 1795521600000LL
#define WINDOW_MS  (300LL * 1000)
#define MEMBER     "26112400000001"

static struct verification pending(void)
{
    struct verification v;
    memset(&v, 0, sizeof(v));
    memcpy(v.verification_id, "17955216000001234567890123456789", VERIFICATION_ID_LENGTH + 1);
    memcpy(v.member_id, MEMBER, MEMBER_ID_LENGTH + 1);
    v.method = VERIFICATION_EMAIL_OTP;
    v.status = VERIFICATION_PENDING;
    v.created_ms = CREATED_MS;
    return v;
}

static struct verification confirmed_at(int64_t confirmed_ms)
{
    struct verification v = pending();
    v.status = VERIFICATION_CONFIRMED;
    v.confirmed_ms = confirmed_ms;
    return v;
}

static void test_effective_status(void **state)
{
    (void)state;
    struct verification v = pending();
    assert_int_equal(verification_effective_status(&v, CREATED_MS, WINDOW_MS, 1),
                     VERIFICATION_PENDING);
    assert_int_equal(verification_effective_status(&v, CREATED_MS + WINDOW_MS, WINDOW_MS, 1),
                     VERIFICATION_PENDING);
    assert_int_equal(verification_effective_status(&v, CREATED_MS + WINDOW_MS + 1, WINDOW_MS, 1),
                     VERIFICATION_EXPIRED);
    int64_t confirmed_ms = CREATED_MS + 60000;
    v = confirmed_at(confirmed_ms);
    /* the use window counts from the confirmation, not the creation */
    assert_int_equal(verification_effective_status(&v, confirmed_ms + WINDOW_MS, WINDOW_MS, 1),
                     VERIFICATION_CONFIRMED);
    assert_int_equal(verification_effective_status(&v, confirmed_ms + WINDOW_MS + 1, WINDOW_MS, 1),
                     VERIFICATION_EXPIRED);
    v.uses = 1;
    assert_int_equal(verification_effective_status(&v, confirmed_ms, WINDOW_MS, 1),
                     VERIFICATION_EXPIRED);
    assert_int_equal(verification_effective_status(&v, confirmed_ms, WINDOW_MS, 2),
                     VERIFICATION_CONFIRMED);
    v.status = VERIFICATION_LOCKED;
    assert_int_equal(verification_effective_status(&v, CREATED_MS + 10 * WINDOW_MS, WINDOW_MS, 1),
                     VERIFICATION_LOCKED);
    v.status = VERIFICATION_FAILED;
    assert_int_equal(verification_effective_status(&v, CREATED_MS, WINDOW_MS, 1),
                     VERIFICATION_FAILED);
}

static void test_check_attempt(void **state)
{
    (void)state;
    struct verification v = pending();
    assert_int_equal(verification_check_attempt(&v, CREATED_MS, WINDOW_MS), CASH_OK);
    assert_int_equal(verification_check_attempt(&v, CREATED_MS + WINDOW_MS, WINDOW_MS), CASH_OK);
    assert_int_equal(verification_check_attempt(&v, CREATED_MS + WINDOW_MS + 1, WINDOW_MS),
                     CASH_VERIFICATION_EXPIRED);
    v.attempts = VERIFICATION_ATTEMPTS_MAX - 1;
    assert_int_equal(verification_check_attempt(&v, CREATED_MS, WINDOW_MS), CASH_OK);
    v.attempts = VERIFICATION_ATTEMPTS_MAX;
    assert_int_equal(verification_check_attempt(&v, CREATED_MS, WINDOW_MS), CASH_TOO_MANY_ATTEMPTS);
    v.status = VERIFICATION_LOCKED;
    assert_int_equal(verification_check_attempt(&v, CREATED_MS, WINDOW_MS), CASH_TOO_MANY_ATTEMPTS);
    /* locked stays "too many" even once the window has passed */
    assert_int_equal(verification_check_attempt(&v, CREATED_MS + 2 * WINDOW_MS, WINDOW_MS),
                     CASH_TOO_MANY_ATTEMPTS);
    v = confirmed_at(CREATED_MS + 1000);
    assert_int_equal(verification_check_attempt(&v, CREATED_MS + 2000, WINDOW_MS),
                     CASH_INVALID_STATUS);
    v.status = VERIFICATION_FAILED;
    assert_int_equal(verification_check_attempt(&v, CREATED_MS, WINDOW_MS), CASH_INVALID_STATUS);
}

static void test_usable(void **state)
{
    (void)state;
    int64_t confirmed_ms = CREATED_MS + 1000;
    struct verification v = confirmed_at(confirmed_ms);
    assert_true(verification_usable(&v, MEMBER, confirmed_ms, WINDOW_MS, 1));
    assert_true(verification_usable(&v, MEMBER, confirmed_ms + WINDOW_MS, WINDOW_MS, 1));
    assert_false(verification_usable(&v, MEMBER, confirmed_ms + WINDOW_MS + 1, WINDOW_MS, 1));
    /* another member's verification authorises nothing */
    assert_false(verification_usable(&v, "26112400000002", confirmed_ms, WINDOW_MS, 1));
    assert_false(verification_usable(&v, "2611240000000", confirmed_ms, WINDOW_MS, 1));
    assert_false(verification_usable(&v, NULL, confirmed_ms, WINDOW_MS, 1));
    /* uses */
    v.uses = 1;
    assert_false(verification_usable(&v, MEMBER, confirmed_ms, WINDOW_MS, 1));
    assert_true(verification_usable(&v, MEMBER, confirmed_ms, WINDOW_MS, 2));
    v.uses = 2;
    assert_false(verification_usable(&v, MEMBER, confirmed_ms, WINDOW_MS, 2));
    /* only CONFIRMED ones */
    v = pending();
    assert_false(verification_usable(&v, MEMBER, CREATED_MS, WINDOW_MS, 1));
    v.status = VERIFICATION_LOCKED;
    assert_false(verification_usable(&v, MEMBER, CREATED_MS, WINDOW_MS, 1));
    v.status = VERIFICATION_FAILED;
    assert_false(verification_usable(&v, MEMBER, CREATED_MS, WINDOW_MS, 1));
    v.status = VERIFICATION_CONFIRMED; /* but never confirmed_ms: a corrupt row */
    assert_false(verification_usable(&v, MEMBER, CREATED_MS, WINDOW_MS, 1));
}

static void test_attempts_left(void **state)
{
    (void)state;
    struct verification v = pending();
    assert_int_equal(verification_attempts_left(&v), VERIFICATION_ATTEMPTS_MAX);
    v.attempts = 4;
    assert_int_equal(verification_attempts_left(&v), 1);
    v.attempts = 5;
    assert_int_equal(verification_attempts_left(&v), 0);
    v.attempts = 9;
    assert_int_equal(verification_attempts_left(&v), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_effective_status),
        cmocka_unit_test(test_check_attempt),
        cmocka_unit_test(test_usable),
        cmocka_unit_test(test_attempts_left),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
