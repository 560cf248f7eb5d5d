/*
 * test_store_abuse.c - the store's side of the second factor's abuse limits (SPEC 5): creation
 * limits per member and per account with their Retry-After, consecutive wrong codes locking a
 * member, TOTP steps accepted once, the phone gateway's reports, and the cooling-off after a bank
 * account change made with a factor (store.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store_fixture.h"

#define ACCOUNT_A "25112400000001"
#define ACCOUNT_B "25112400000002"
#define MEMBER_A  "25112410000001"
#define MEMBER_B  "25112410000002"
#define MEMBER_C  "25112410000003"
#define SECOND_MS 1000LL

static struct fixture *setup(void)
{
    struct fixture *f = fixture_new();
    fixture_account(f, ACCOUNT_A);
    fixture_account(f, ACCOUNT_B);
    fixture_member(f, MEMBER_A, ACCOUNT_A);
    fixture_member(f, MEMBER_B, ACCOUNT_A);
    fixture_member(f, MEMBER_C, ACCOUNT_B);
    return f;
}

static struct verification_limits limits_of(int64_t member_max, int64_t account_max)
{
    struct verification_limits limits = {
        .member_count_max = member_max,
        .member_window_ms = 60 * SECOND_MS,
        .account_count_max = account_max,
        .account_window_ms = 600 * SECOND_MS,
        .failures_max = 3,
        .lock_ms = 90 * SECOND_MS,
        .retry_after_ms = 0,
    };
    return limits;
}

/* store_verification_open of a PENDING verification of member at created_ms; its id in id_out
 * (may be NULL). */
static cash_result open_at(struct fixture *f, const char *member_id, const char *account_id,
                           int64_t created_ms, struct verification_limits *limits,
                           char id_out[VERIFICATION_ID_LENGTH + 1])
{
    struct verification v;
    fixture_verification_value(&v, member_id, account_id, VERIFICATION_PENDING, created_ms, 0);
    cash_result result = store_verification_open(f->store, &v, limits, NULL);
    if (id_out != NULL) {
        memcpy(id_out, v.verification_id, VERIFICATION_ID_LENGTH + 1);
    }
    return result;
}

static cash_result try_at(struct fixture *f, const char *verification_id, bool correct,
                          int64_t now_ms, struct verification_limits *limits,
                          struct verification_try *attempt)
{
    memset(attempt, 0, sizeof(*attempt));
    attempt->verification_id = verification_id;
    attempt->code_correct = correct;
    attempt->now_ms = now_ms;
    attempt->window_ms = FIXTURE_WINDOW_MS;
    attempt->limits = limits;
    return store_verification_try(f->store, attempt, NULL);
}

static void test_member_limit(void **state)
{
    (void)state;
    struct fixture *f = setup();
    struct verification_limits limits = limits_of(3, 100);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(open_at(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS - (30 - 10 * i) * SECOND_MS,
                                 &limits, NULL),
                         CASH_OK);
    }
    assert_int_equal(open_at(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS, &limits, NULL),
                     CASH_TOO_MANY_REQUESTS);
    /* The oldest of the three leaves the minute at NOW - 30 s + 60 s. */
    assert_int_equal(limits.retry_after_ms, 30 * SECOND_MS);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM verifications"), 3);
    /* Another member of the account is not counted with this one. */
    assert_int_equal(open_at(f, MEMBER_B, ACCOUNT_A, FIXTURE_NOW_MS, &limits, NULL), CASH_OK);
    /* Just before and at the moment the oldest leaves the window. */
    assert_int_equal(
        open_at(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS + 30 * SECOND_MS - 1, &limits, NULL),
        CASH_TOO_MANY_REQUESTS);
    assert_int_equal(limits.retry_after_ms, 1);
    assert_int_equal(
        open_at(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS + 30 * SECOND_MS, &limits, NULL), CASH_OK);
    fixture_free(f);
}

static void test_account_limit(void **state)
{
    (void)state;
    struct fixture *f = setup();
    struct verification_limits limits = limits_of(100, 3);
    assert_int_equal(
        open_at(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS - 100 * SECOND_MS, &limits, NULL), CASH_OK);
    assert_int_equal(
        open_at(f, MEMBER_B, ACCOUNT_A, FIXTURE_NOW_MS - 50 * SECOND_MS, &limits, NULL), CASH_OK);
    assert_int_equal(open_at(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS, &limits, NULL), CASH_OK);
    assert_int_equal(open_at(f, MEMBER_B, ACCOUNT_A, FIXTURE_NOW_MS, &limits, NULL),
                     CASH_TOO_MANY_REQUESTS);
    assert_int_equal(limits.retry_after_ms, 500 * SECOND_MS);
    assert_int_equal(open_at(f, MEMBER_C, ACCOUNT_B, FIXTURE_NOW_MS, &limits, NULL), CASH_OK);
    fixture_free(f);
}

static void test_wrong_codes_in_a_row_lock_the_member(void **state)
{
    (void)state;
    struct fixture *f = setup();
    struct verification_limits limits = limits_of(100, 100);
    struct verification_try attempt;
    char first[VERIFICATION_ID_LENGTH + 1];
    char second[VERIFICATION_ID_LENGTH + 1];
    assert_int_equal(open_at(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS, &limits, first), CASH_OK);
    assert_int_equal(open_at(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS, &limits, second), CASH_OK);
    assert_int_equal(try_at(f, first, false, FIXTURE_NOW_MS, &limits, &attempt),
                     CASH_INVALID_VERIFICATION_CODE);
    assert_int_equal(attempt.out.attempts, 1);
    assert_int_equal(try_at(f, second, false, FIXTURE_NOW_MS, &limits, &attempt),
                     CASH_INVALID_VERIFICATION_CODE);
    /* The third in a row, on either verification, locks the member for lock_ms. */
    assert_int_equal(try_at(f, first, false, FIXTURE_NOW_MS, &limits, &attempt),
                     CASH_TOO_MANY_ATTEMPTS);
    assert_int_equal(limits.retry_after_ms, 90 * SECOND_MS);
    assert_int_equal(attempt.out.attempts, 2);
    assert_int_equal(attempt.out.status, VERIFICATION_PENDING);
    /* Locked: nothing is tried or recorded, nothing created, even with the right code. */
    assert_int_equal(try_at(f, second, true, FIXTURE_NOW_MS + 30 * SECOND_MS, &limits, &attempt),
                     CASH_TOO_MANY_ATTEMPTS);
    assert_int_equal(limits.retry_after_ms, 60 * SECOND_MS);
    assert_int_equal(
        open_at(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS + 30 * SECOND_MS, &limits, NULL),
        CASH_TOO_MANY_ATTEMPTS);
    assert_int_equal(limits.retry_after_ms, 60 * SECOND_MS);
    struct verification stored;
    assert_int_equal(store_verification_get(f->store, second, &stored), CASH_OK);
    assert_int_equal(stored.attempts, 1);
    assert_int_equal(stored.status, VERIFICATION_PENDING);
    /* Another member is not locked; after the lock the right code confirms. */
    assert_int_equal(open_at(f, MEMBER_B, ACCOUNT_A, FIXTURE_NOW_MS, &limits, NULL), CASH_OK);
    assert_int_equal(try_at(f, second, true, FIXTURE_NOW_MS + 90 * SECOND_MS, &limits, &attempt),
                     CASH_OK);
    assert_int_equal(attempt.out.status, VERIFICATION_CONFIRMED);
    fixture_free(f);
}

static void test_a_right_code_clears_the_count(void **state)
{
    (void)state;
    struct fixture *f = setup();
    struct verification_limits limits = limits_of(100, 100);
    struct verification_try attempt;
    char id[VERIFICATION_ID_LENGTH + 1];
    for (int round = 0; round < 3; round++) {
        assert_int_equal(open_at(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS, &limits, id), CASH_OK);
        for (int wrong = 0; wrong < 2; wrong++) {
            assert_int_equal(try_at(f, id, false, FIXTURE_NOW_MS, &limits, &attempt),
                             CASH_INVALID_VERIFICATION_CODE);
        }
        assert_int_equal(try_at(f, id, true, FIXTURE_NOW_MS, &limits, &attempt), CASH_OK);
    }
    fixture_free(f);
}

static void test_a_locked_verification_says_when_to_ask_again(void **state)
{
    (void)state;
    struct fixture *f = setup();
    struct verification_limits limits = limits_of(2, 100);
    limits.failures_max = 100;
    struct verification_try attempt;
    char id[VERIFICATION_ID_LENGTH + 1];
    assert_int_equal(open_at(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS - 20 * SECOND_MS, &limits, id),
                     CASH_OK);
    for (int i = 1; i < VERIFICATION_ATTEMPTS_MAX; i++) {
        assert_int_equal(try_at(f, id, false, FIXTURE_NOW_MS, &limits, &attempt),
                         CASH_INVALID_VERIFICATION_CODE);
    }
    assert_int_equal(try_at(f, id, false, FIXTURE_NOW_MS, &limits, &attempt),
                     CASH_TOO_MANY_ATTEMPTS);
    assert_int_equal(attempt.out.status, VERIFICATION_LOCKED);
    assert_int_equal(limits.retry_after_ms, SECOND_MS); /* a new one may be asked for now */
    assert_int_equal(open_at(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS, &limits, NULL), CASH_OK);
    /* Two created in the minute: a new one in 40 s, when the first leaves it. */
    assert_int_equal(try_at(f, id, true, FIXTURE_NOW_MS, &limits, &attempt),
                     CASH_TOO_MANY_ATTEMPTS);
    assert_int_equal(limits.retry_after_ms, 40 * SECOND_MS);
    fixture_free(f);
}

static void enrol(struct fixture *f, const char *member_id, const char *sealed)
{
    struct totp_enrolment enrolment;
    memset(&enrolment, 0, sizeof(enrolment));
    snprintf(enrolment.member_id, sizeof(enrolment.member_id), "%s", member_id);
    snprintf(enrolment.sealed_secret, sizeof(enrolment.sealed_secret), "%s", sealed);
    enrolment.created_ms = FIXTURE_NOW_MS;
    assert_int_equal(store_totp_enrol(f->store, &enrolment), CASH_OK);
}

/* One TOTP try with a code of step (right) on a new verification. */
static cash_result totp_try(struct fixture *f, int64_t step, struct verification_try *attempt)
{
    struct verification_limits limits = limits_of(100, 100);
    struct verification v;
    fixture_verification_value(&v, MEMBER_A, ACCOUNT_A, VERIFICATION_PENDING, FIXTURE_NOW_MS, 0);
    v.method = VERIFICATION_TOTP;
    assert_int_equal(store_verification_open(f->store, &v, &limits, NULL), CASH_OK);
    memset(attempt, 0, sizeof(*attempt));
    attempt->verification_id = v.verification_id;
    attempt->code_correct = true;
    attempt->totp_step = step;
    attempt->now_ms = FIXTURE_NOW_MS;
    attempt->window_ms = FIXTURE_WINDOW_MS;
    attempt->limits = &limits;
    cash_result result = store_verification_try(f->store, attempt, NULL);
    attempt->verification_id = NULL;
    attempt->limits = NULL;
    return result;
}

static void test_totp_steps_are_accepted_once(void **state)
{
    (void)state;
    struct fixture *f = setup();
    struct totp_enrolment got;
    struct verification_try attempt;
    struct totp_enrolment stranger = {.member_id = "25112419999999", .sealed_secret = "k:x"};
    assert_int_equal(store_totp_enrol(f->store, &stranger), CASH_NOT_FOUND);
    assert_int_equal(store_totp_get(f->store, MEMBER_A, &got), CASH_NOT_FOUND);
    enrol(f, MEMBER_A, "0badc0de:first");
    assert_int_equal(store_totp_get(f->store, MEMBER_A, &got), CASH_OK);
    assert_string_equal(got.member_id, MEMBER_A);
    assert_string_equal(got.sealed_secret, "0badc0de:first");
    assert_int_equal(got.last_step, 0);
    assert_int_equal(totp_try(f, 1000, &attempt), CASH_OK);
    assert_false(attempt.code_reused);
    assert_int_equal(attempt.out.status, VERIFICATION_CONFIRMED);
    assert_int_equal(totp_try(f, 1000, &attempt), CASH_INVALID_VERIFICATION_CODE);
    assert_true(attempt.code_reused);
    assert_int_equal(attempt.out.attempts, 1);
    assert_int_equal(totp_try(f, 999, &attempt), CASH_INVALID_VERIFICATION_CODE);
    assert_true(attempt.code_reused);
    assert_int_equal(totp_try(f, 1001, &attempt), CASH_OK);
    /* A new app keeps the newest step used: its codes of that step are refused too. */
    enrol(f, MEMBER_A, "0badc0de:second");
    assert_int_equal(store_totp_get(f->store, MEMBER_A, &got), CASH_OK);
    assert_string_equal(got.sealed_secret, "0badc0de:second");
    assert_int_equal(got.last_step, 1001);
    assert_int_equal(totp_try(f, 1001, &attempt), CASH_INVALID_VERIFICATION_CODE);
    assert_int_equal(totp_try(f, 1002, &attempt), CASH_OK);
    fixture_free(f);
}

/* A new PENDING ARS verification of MEMBER_A created at created_ms; its id in id_out. */
static void ars_pending(struct fixture *f, int64_t created_ms,
                        char id_out[VERIFICATION_ID_LENGTH + 1])
{
    struct verification v;
    fixture_verification_value(&v, MEMBER_A, ACCOUNT_A, VERIFICATION_PENDING, created_ms, 0);
    v.method = VERIFICATION_ARS;
    v.call_status = CALL_REQUESTED;
    assert_int_equal(store_verification_create(f->store, &v), CASH_OK);
    memcpy(id_out, v.verification_id, VERIFICATION_ID_LENGTH + 1);
}

static cash_result report(struct fixture *f, const char *id, enum verification_call_status result,
                          bool digits_correct, int64_t now_ms, struct verification *out)
{
    struct verification_limits limits = limits_of(100, 100);
    limits.failures_max = 2;
    struct verification_call call = {
        .verification_id = id,
        .reported = result,
        .digits_correct = digits_correct,
        .now_ms = now_ms,
        .window_ms = FIXTURE_WINDOW_MS,
        .limits = &limits,
    };
    cash_result outcome = store_verification_call_result(f->store, &call);
    if (outcome == CASH_OK) {
        *out = call.out;
    }
    return outcome;
}

static void test_phone_gateway_reports(void **state)
{
    (void)state;
    struct fixture *f = setup();
    struct verification out;
    char id[VERIFICATION_ID_LENGTH + 1];
    ars_pending(f, FIXTURE_NOW_MS, id);
    assert_int_equal(store_verification_get(f->store, id, &out), CASH_OK);
    assert_int_equal(out.call_status, CALL_REQUESTED);
    assert_int_equal(report(f, id, CALL_ANSWERED, true, FIXTURE_NOW_MS + 5, &out), CASH_OK);
    assert_int_equal(out.status, VERIFICATION_CONFIRMED);
    assert_int_equal(out.call_status, CALL_ANSWERED);
    assert_int_equal(out.confirmed_ms, FIXTURE_NOW_MS + 5);
    assert_int_equal(report(f, id, CALL_FAILED, false, FIXTURE_NOW_MS + 6, &out),
                     CASH_INVALID_STATUS);
    /* Confirmed by the call, it is a second factor like any other. */
    struct bank_account bank;
    struct second_factor factor = fixture_factor(MEMBER_A, 1);
    factor.verification_id = id;
    fixture_bank_value(&bank, ACCOUNT_A, "004", "1111", "Hong", FIXTURE_NOW_MS);
    assert_int_equal(store_bank_account_set(f->store, &bank, &factor, NULL), CASH_OK);

    const enum verification_call_status failures[] = {CALL_NO_ANSWER, CALL_FAILED};
    for (size_t i = 0; i < 2; i++) {
        ars_pending(f, FIXTURE_NOW_MS, id);
        assert_int_equal(report(f, id, failures[i], false, FIXTURE_NOW_MS, &out), CASH_OK);
        assert_int_equal(out.status, VERIFICATION_FAILED);
        assert_int_equal(out.call_status, failures[i]);
        assert_int_equal(out.attempts, 0);
    }
    /* Wrong digits: failed, one attempt, one failure of the member (two lock it here). */
    ars_pending(f, FIXTURE_NOW_MS, id);
    assert_int_equal(report(f, id, CALL_ANSWERED, false, FIXTURE_NOW_MS, &out), CASH_OK);
    assert_int_equal(out.status, VERIFICATION_FAILED);
    assert_int_equal(out.call_status, CALL_WRONG_DIGITS);
    assert_int_equal(out.attempts, 1);
    ars_pending(f, FIXTURE_NOW_MS, id);
    assert_int_equal(report(f, id, CALL_ANSWERED, false, FIXTURE_NOW_MS, &out), CASH_OK);
    struct verification_limits limits = limits_of(100, 100);
    assert_int_equal(open_at(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS, &limits, NULL),
                     CASH_TOO_MANY_ATTEMPTS);
    fixture_free(f);
}

static void test_phone_gateway_reports_refused(void **state)
{
    (void)state;
    struct fixture *f = setup();
    struct verification out;
    char id[VERIFICATION_ID_LENGTH + 1];
    char unknown[VERIFICATION_ID_LENGTH + 1];
    fixture_id(unknown);
    assert_int_equal(report(f, unknown, CALL_FAILED, false, FIXTURE_NOW_MS, &out), CASH_NOT_FOUND);
    /* Not an ARS verification. */
    struct verification email;
    fixture_verification_value(&email, MEMBER_A, ACCOUNT_A, VERIFICATION_PENDING, FIXTURE_NOW_MS,
                               0);
    assert_int_equal(store_verification_create(f->store, &email), CASH_OK);
    assert_int_equal(report(f, email.verification_id, CALL_ANSWERED, true, FIXTURE_NOW_MS, &out),
                     CASH_NOT_FOUND);
    /* Late. */
    ars_pending(f, FIXTURE_NOW_MS, id);
    assert_int_equal(
        report(f, id, CALL_ANSWERED, true, FIXTURE_NOW_MS + FIXTURE_WINDOW_MS + 1, &out),
        CASH_VERIFICATION_EXPIRED);
    assert_int_equal(store_verification_get(f->store, id, &out), CASH_OK);
    assert_int_equal(out.status, VERIFICATION_PENDING);
    /* What only cashd itself may say. */
    assert_int_equal(report(f, id, CALL_WRONG_DIGITS, false, FIXTURE_NOW_MS, &out),
                     CASH_INVALID_STATUS);
    assert_int_equal(report(f, id, CALL_REQUESTED, false, FIXTURE_NOW_MS, &out),
                     CASH_INVALID_STATUS);
    fixture_free(f);
}

static void test_bank_cooling_off(void **state)
{
    (void)state;
    struct fixture *f = setup();
    struct bank_account bank;
    struct withdraw_create request;
    struct withdrawal out;
    char id[VERIFICATION_ID_LENGTH + 1];
    fixture_credit(f, ACCOUNT_A, 100000);
    /* Set by the operator: exempt. */
    fixture_bank(f, ACCOUNT_A);
    assert_int_equal(store_bank_account_get(f->store, ACCOUNT_A, &bank), CASH_OK);
    assert_true(bank.operator_verified);
    /* Set by the member with a factor, a minute ago. */
    struct second_factor factor = fixture_factor(MEMBER_A, 1);
    fixture_confirmed(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS - 61000, NULL);
    fixture_bank_value(&bank, ACCOUNT_A, "088", "2222", "Kim", FIXTURE_NOW_MS - 60000);
    assert_int_equal(store_bank_account_set(f->store, &bank, &factor, NULL), CASH_OK);
    assert_int_equal(store_bank_account_get(f->store, ACCOUNT_A, &bank), CASH_OK);
    assert_false(bank.operator_verified);
    fixture_confirmed(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS - 1000, id);
    factor = fixture_factor(MEMBER_A, 1);
    fixture_withdraw_request(&request, &factor, ACCOUNT_A, MEMBER_A, 20000);
    request.bank_cooling_off_ms = 24 * 3600 * 1000LL;
    assert_int_equal(store_withdraw_create(f->store, &request, &out, NULL),
                     CASH_BANK_ACCOUNT_COOLING_OFF);
    assert_int_equal(fixture_uses(f, id), 0);
    assert_int_equal(fixture_balance(f, ACCOUNT_A), 100000);
    /* A cooling-off shorter than the minute since the change has passed. */
    request.bank_cooling_off_ms = 60000;
    assert_int_equal(store_withdraw_create(f->store, &request, &out, NULL), CASH_OK);
    assert_string_equal(out.masked_number, "******2222");
    assert_int_equal(fixture_uses(f, id), 1);
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_member_limit),
        cmocka_unit_test(test_account_limit),
        cmocka_unit_test(test_wrong_codes_in_a_row_lock_the_member),
        cmocka_unit_test(test_a_right_code_clears_the_count),
        cmocka_unit_test(test_a_locked_verification_says_when_to_ask_again),
        cmocka_unit_test(test_totp_steps_are_accepted_once),
        cmocka_unit_test(test_phone_gateway_reports),
        cmocka_unit_test(test_phone_gateway_reports_refused),
        cmocka_unit_test(test_bank_cooling_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
