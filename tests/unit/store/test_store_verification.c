/*
 * test_store_verification.c - verifications in the store (SPEC 5): creation, confirmation, wrong
 * codes up to the lock, expiry, already confirmed, failed delivery; and the second factor's
 * choice and spending as seen through store_bank_account_set.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store_fixture.h"

#define ACCOUNT_A "25112400000001"
#define MEMBER_A  "25112410000001"
#define MEMBER_B  "25112410000002"

static struct fixture *setup_member(void)
{
    struct fixture *f = fixture_new();
    fixture_account(f, ACCOUNT_A);
    fixture_member(f, MEMBER_A, ACCOUNT_A);
    fixture_member(f, MEMBER_B, ACCOUNT_A);
    return f;
}

/* A PENDING verification created at created_ms; its id in id_out. */
static void pending(struct fixture *f, int64_t created_ms, char id_out[VERIFICATION_ID_LENGTH + 1])
{
    struct verification v;
    fixture_verification_value(&v, MEMBER_A, ACCOUNT_A, VERIFICATION_PENDING, created_ms, 0);
    assert_int_equal(store_verification_create(f->store, &v), CASH_OK);
    memcpy(id_out, v.verification_id, VERIFICATION_ID_LENGTH + 1);
}

static void test_create_and_get(void **state)
{
    (void)state;
    struct fixture *f = setup_member();
    struct verification v, got;
    fixture_verification_value(&v, MEMBER_A, ACCOUNT_A, VERIFICATION_PENDING, FIXTURE_NOW_MS, 0);
    v.method = VERIFICATION_ARS;
    assert_int_equal(store_verification_get(f->store, v.verification_id, &got), CASH_NOT_FOUND);
    assert_int_equal(store_verification_create(f->store, &v), CASH_OK);
    assert_int_equal(store_verification_create(f->store, &v), CASH_CONFLICT);
    assert_int_equal(store_verification_get(f->store, v.verification_id, &got), CASH_OK);
    assert_string_equal(got.verification_id, v.verification_id);
    assert_string_equal(got.member_id, MEMBER_A);
    assert_string_equal(got.account_id, ACCOUNT_A);
    assert_int_equal(got.method, VERIFICATION_ARS);
    assert_int_equal(got.status, VERIFICATION_PENDING);
    assert_string_equal(got.code_hash, v.code_hash);
    assert_int_equal(got.attempts, 0);
    assert_int_equal(got.uses, 0);
    assert_int_equal(got.created_ms, FIXTURE_NOW_MS);
    assert_int_equal(got.confirmed_ms, 0);

    /* A member that does not exist, or not in that account. */
    struct verification stranger;
    fixture_verification_value(&stranger, "25112419999999", ACCOUNT_A, VERIFICATION_PENDING,
                               FIXTURE_NOW_MS, 0);
    assert_int_equal(store_verification_create(f->store, &stranger), CASH_NOT_FOUND);
    fixture_verification_value(&stranger, MEMBER_A, "25112499999999", VERIFICATION_PENDING,
                               FIXTURE_NOW_MS, 0);
    assert_int_equal(store_verification_create(f->store, &stranger), CASH_NOT_FOUND);
    fixture_free(f);
}

static void test_confirm(void **state)
{
    (void)state;
    struct fixture *f = setup_member();
    char id[VERIFICATION_ID_LENGTH + 1];
    struct verification out;
    pending(f, FIXTURE_NOW_MS - 60000, id);
    assert_int_equal(
        store_verification_attempt(f->store, id, true, FIXTURE_NOW_MS, FIXTURE_WINDOW_MS, &out),
        CASH_OK);
    assert_int_equal(out.status, VERIFICATION_CONFIRMED);
    assert_int_equal(out.confirmed_ms, FIXTURE_NOW_MS);
    assert_int_equal(out.attempts, 0);
    /* Already confirmed: neither a right nor a wrong code changes it. */
    memset(&out, 0, sizeof(out));
    assert_int_equal(store_verification_attempt(f->store, id, true, FIXTURE_NOW_MS + 1000,
                                                FIXTURE_WINDOW_MS, &out),
                     CASH_INVALID_STATUS);
    assert_int_equal(store_verification_attempt(f->store, id, false, FIXTURE_NOW_MS + 1000,
                                                FIXTURE_WINDOW_MS, &out),
                     CASH_INVALID_STATUS);
    struct verification got;
    assert_int_equal(store_verification_get(f->store, id, &got), CASH_OK);
    assert_int_equal(got.status, VERIFICATION_CONFIRMED);
    assert_int_equal(got.confirmed_ms, FIXTURE_NOW_MS);
    assert_int_equal(got.attempts, 0);
    assert_int_equal(store_verification_attempt(f->store, "00000000000000000000000000000000", true,
                                                FIXTURE_NOW_MS, FIXTURE_WINDOW_MS, &out),
                     CASH_NOT_FOUND);
    fixture_free(f);
}

static void test_wrong_codes_lock(void **state)
{
    (void)state;
    struct fixture *f = setup_member();
    char id[VERIFICATION_ID_LENGTH + 1];
    struct verification out;
    pending(f, FIXTURE_NOW_MS - 1000, id);
    for (int64_t attempt = 1; attempt < VERIFICATION_ATTEMPTS_MAX; attempt++) {
        assert_int_equal(store_verification_attempt(f->store, id, false, FIXTURE_NOW_MS,
                                                    FIXTURE_WINDOW_MS, &out),
                         CASH_INVALID_VERIFICATION_CODE);
        assert_int_equal(out.attempts, attempt);
        assert_int_equal(out.status, VERIFICATION_PENDING);
    }
    /* The fifth wrong code locks it, and says so. */
    assert_int_equal(
        store_verification_attempt(f->store, id, false, FIXTURE_NOW_MS, FIXTURE_WINDOW_MS, &out),
        CASH_TOO_MANY_ATTEMPTS);
    assert_int_equal(out.attempts, VERIFICATION_ATTEMPTS_MAX);
    assert_int_equal(out.status, VERIFICATION_LOCKED);
    /* Locked: even the right code is refused, and nothing more is counted. */
    assert_int_equal(
        store_verification_attempt(f->store, id, true, FIXTURE_NOW_MS, FIXTURE_WINDOW_MS, &out),
        CASH_TOO_MANY_ATTEMPTS);
    struct verification got;
    assert_int_equal(store_verification_get(f->store, id, &got), CASH_OK);
    assert_int_equal(got.status, VERIFICATION_LOCKED);
    assert_int_equal(got.attempts, VERIFICATION_ATTEMPTS_MAX);
    assert_int_equal(got.confirmed_ms, 0);
    fixture_free(f);
}

static void test_wrong_then_right(void **state)
{
    (void)state;
    struct fixture *f = setup_member();
    char id[VERIFICATION_ID_LENGTH + 1];
    struct verification out;
    pending(f, FIXTURE_NOW_MS - 1000, id);
    assert_int_equal(
        store_verification_attempt(f->store, id, false, FIXTURE_NOW_MS, FIXTURE_WINDOW_MS, &out),
        CASH_INVALID_VERIFICATION_CODE);
    assert_int_equal(
        store_verification_attempt(f->store, id, true, FIXTURE_NOW_MS + 5, FIXTURE_WINDOW_MS, &out),
        CASH_OK);
    assert_int_equal(out.status, VERIFICATION_CONFIRMED);
    assert_int_equal(out.attempts, 1);
    assert_int_equal(out.confirmed_ms, FIXTURE_NOW_MS + 5);
    fixture_free(f);
}

static void test_expired(void **state)
{
    (void)state;
    struct fixture *f = setup_member();
    char id[VERIFICATION_ID_LENGTH + 1];
    struct verification out;
    const int64_t created = FIXTURE_NOW_MS - FIXTURE_WINDOW_MS - 1;
    pending(f, created, id);
    assert_int_equal(
        store_verification_attempt(f->store, id, true, FIXTURE_NOW_MS, FIXTURE_WINDOW_MS, &out),
        CASH_VERIFICATION_EXPIRED);
    assert_int_equal(
        store_verification_attempt(f->store, id, false, FIXTURE_NOW_MS, FIXTURE_WINDOW_MS, &out),
        CASH_VERIFICATION_EXPIRED);
    struct verification got;
    assert_int_equal(store_verification_get(f->store, id, &got), CASH_OK);
    assert_int_equal(got.status, VERIFICATION_PENDING);
    assert_int_equal(got.attempts, 0);
    /* At the edge of the window it can still be confirmed. */
    char edge[VERIFICATION_ID_LENGTH + 1];
    pending(f, FIXTURE_NOW_MS - FIXTURE_WINDOW_MS, edge);
    assert_int_equal(
        store_verification_attempt(f->store, edge, true, FIXTURE_NOW_MS, FIXTURE_WINDOW_MS, &out),
        CASH_OK);
    fixture_free(f);
}

static void test_failed_delivery(void **state)
{
    (void)state;
    struct fixture *f = setup_member();
    char id[VERIFICATION_ID_LENGTH + 1];
    struct verification out;
    pending(f, FIXTURE_NOW_MS - 1000, id);
    assert_int_equal(store_verification_fail(f->store, id), CASH_OK);
    assert_int_equal(
        store_verification_attempt(f->store, id, true, FIXTURE_NOW_MS, FIXTURE_WINDOW_MS, &out),
        CASH_INVALID_STATUS);
    struct verification got;
    assert_int_equal(store_verification_get(f->store, id, &got), CASH_OK);
    assert_int_equal(got.status, VERIFICATION_FAILED);
    assert_int_equal(store_verification_fail(f->store, id), CASH_INVALID_STATUS);
    assert_int_equal(store_verification_fail(f->store, "00000000000000000000000000000000"),
                     CASH_NOT_FOUND);
    fixture_free(f);
}

/* The factor is spent through bank_account_set, which has no other rule in the way. */
static cash_result spend(struct fixture *f, struct second_factor *factor)
{
    struct bank_account bank;
    fixture_bank_value(&bank, ACCOUNT_A, "004", "7890", "홍길동", FIXTURE_NOW_MS);
    return store_bank_account_set(f->store, &bank, factor, NULL);
}

static void test_factor_rules(void **state)
{
    (void)state;
    struct fixture *f = setup_member();
    char old_id[VERIFICATION_ID_LENGTH + 1], new_id[VERIFICATION_ID_LENGTH + 1];
    char other_id[VERIFICATION_ID_LENGTH + 1], stale_id[VERIFICATION_ID_LENGTH + 1];
    char pending_id[VERIFICATION_ID_LENGTH + 1];
    fixture_confirmed(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS - 2000, new_id);
    fixture_confirmed(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS - 3000, old_id);
    fixture_confirmed(f, MEMBER_B, ACCOUNT_A, FIXTURE_NOW_MS - 9000, other_id);
    fixture_confirmed(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS - FIXTURE_WINDOW_MS - 1, stale_id);
    pending(f, FIXTURE_NOW_MS - 1000, pending_id);

    /* Named: another member's, a stale one, a PENDING one and an unknown id are refused. */
    struct second_factor factor = fixture_factor(MEMBER_A, 2);
    const char *refused[] = {other_id, stale_id, pending_id, "00000000000000000000000000000000"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        factor.verification_id = refused[i];
        assert_int_equal(spend(f, &factor), CASH_SECOND_FACTOR_REQUIRED);
    }
    assert_int_equal(fixture_uses(f, other_id), 0);
    assert_int_equal(fixture_uses(f, stale_id), 0);

    /* Named and usable: that one is spent, up to uses_max. */
    factor.verification_id = new_id;
    assert_int_equal(spend(f, &factor), CASH_OK);
    assert_int_equal(factor.confirmed_ms, FIXTURE_NOW_MS - 2000);
    assert_int_equal(spend(f, &factor), CASH_OK);
    assert_int_equal(spend(f, &factor), CASH_SECOND_FACTOR_REQUIRED);
    assert_int_equal(fixture_uses(f, new_id), 2);

    /* Unnamed: the oldest usable one of this member (never another member's or a stale one). */
    factor.verification_id = NULL;
    assert_int_equal(spend(f, &factor), CASH_OK);
    assert_int_equal(factor.confirmed_ms, FIXTURE_NOW_MS - 3000);
    assert_int_equal(spend(f, &factor), CASH_OK);
    assert_int_equal(fixture_uses(f, old_id), 2);
    assert_int_equal(spend(f, &factor), CASH_SECOND_FACTOR_REQUIRED);
    assert_int_equal(fixture_uses(f, other_id), 0);
    assert_int_equal(fixture_uses(f, stale_id), 0);

    /* A higher uses_max (configuration) makes a spent one usable again while in its window. */
    factor.uses_max = 3;
    assert_int_equal(spend(f, &factor), CASH_OK);
    assert_int_equal(factor.confirmed_ms, FIXTURE_NOW_MS - 3000);
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_and_get),   cmocka_unit_test(test_confirm),
        cmocka_unit_test(test_wrong_codes_lock), cmocka_unit_test(test_wrong_then_right),
        cmocka_unit_test(test_expired),          cmocka_unit_test(test_failed_delivery),
        cmocka_unit_test(test_factor_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
