/*
 * test_store_idempotency.c - struct store_request (store.h) on every backend: the replay row and
 * the idempotency key committed with a write's effect, replayed with the same fingerprint, refused
 * with another, forgotten when expired or asked to, and nothing kept by a write that rolled back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_fixture.h"

#define ACCOUNT_A "25112400000011"
#define MEMBER_A  "25112410000011"
#define API_KEY   "NCSIDEMPOTENT001"
#define USES_MANY 1000
#define TOTAL     20000
#define DAY_MS    (24LL * 60 * 60 * 1000)

static const char FINGERPRINT_A[] =
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char FINGERPRINT_B[] =
    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/* Renders of the kept answers (fixture_render_withdrawal counts them here). */
static int render_calls;

static void request_init(struct store_request *request, const char *key, const char *fingerprint,
                         const char *signature, int64_t now_ms)
{
    memset(request, 0, sizeof(*request));
    request->api_key = API_KEY;
    request->signature_hex = signature;
    request->replay_expires_ms = now_ms + 30 * 60 * 1000;
    request->idempotency_key = key;
    request->fingerprint = fingerprint;
    request->idempotency_expires_ms = now_ms + DAY_MS;
    request->now_ms = now_ms;
    request->render = fixture_render_withdrawal;
    request->render_context = &render_calls;
}

static struct fixture *setup(int64_t balance)
{
    struct fixture *f = fixture_new();
    fixture_account(f, ACCOUNT_A);
    fixture_member(f, MEMBER_A, ACCOUNT_A);
    fixture_bank(f, ACCOUNT_A);
    if (balance > 0) {
        fixture_credit(f, ACCOUNT_A, balance);
    }
    fixture_confirmed(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS - 1000, NULL);
    render_calls = 0;
    return f;
}

static cash_result withdraw(struct fixture *f, struct store_request *request,
                            struct withdrawal *out)
{
    struct second_factor factor = fixture_factor(MEMBER_A, USES_MANY);
    struct withdraw_create create;
    fixture_withdraw_request(&create, &factor, ACCOUNT_A, MEMBER_A, TOTAL);
    return store_withdraw_create(f->store, &create, out, request);
}

static void test_commit_keeps_and_replays(void **state)
{
    (void)state;
    struct fixture *f = setup(3 * TOTAL);
    struct store_request request;
    struct withdrawal first;
    request_init(&request, "key-1", FINGERPRINT_A, "sig-1", FIXTURE_NOW_MS);
    assert_int_equal(withdraw(f, &request, &first), CASH_OK);
    assert_false(request.replayed);
    assert_true(request.replay_recorded);
    assert_int_equal(render_calls, 1);
    char expected[64];
    snprintf(expected, sizeof(expected), "0:%s", first.withdraw_id);
    assert_string_equal(request.answer.body, expected);
    store_request_clear(&request);

    /* the same key and fingerprint, a new signature: the kept answer, nothing else */
    struct withdrawal untouched;
    memset(&untouched, 0x5a, sizeof(untouched));
    request_init(&request, "key-1", FINGERPRINT_A, "sig-2", FIXTURE_NOW_MS + 1000);
    assert_int_equal(withdraw(f, &request, &untouched), CASH_OK);
    assert_true(request.replayed);
    assert_true(request.replay_recorded);
    assert_int_equal(request.answer.status, 200);
    assert_string_equal(request.answer.body, expected);
    assert_int_equal(render_calls, 1);
    assert_int_equal((unsigned char)untouched.withdraw_id[0], 0x5a);
    store_request_clear(&request);
    assert_int_equal(fixture_balance(f, ACCOUNT_A), 2 * TOTAL);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM withdrawals"), 1);

    /* another fingerprint: refused, and nothing written at all */
    request_init(&request, "key-1", FINGERPRINT_B, "sig-3", FIXTURE_NOW_MS + 2000);
    assert_int_equal(withdraw(f, &request, &untouched), CASH_IDEMPOTENCY_KEY_REUSED);
    assert_false(request.replay_recorded);
    assert_null(request.answer.body);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM used_signatures"), 2);
    assert_int_equal(fixture_balance(f, ACCOUNT_A), 2 * TOTAL);

    /* a used signature: refused before the key is even looked at */
    request_init(&request, "key-2", FINGERPRINT_A, "sig-1", FIXTURE_NOW_MS + 3000);
    assert_int_equal(withdraw(f, &request, &untouched), CASH_DUPLICATED_SIGNATURE);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM idempotency_keys"), 1);
    fixture_free(f);
}

static void test_rollback_keeps_nothing(void **state)
{
    (void)state;
    struct fixture *f = setup(TOTAL - 1);
    struct store_request request;
    struct withdrawal out;
    request_init(&request, "key-r", FINGERPRINT_A, "sig-r1", FIXTURE_NOW_MS);
    assert_int_equal(withdraw(f, &request, &out), CASH_NOT_ENOUGH_BALANCE);
    assert_false(request.replay_recorded);
    assert_false(request.replayed);
    assert_null(request.answer.body);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM idempotency_keys"), 0);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM used_signatures"), 0);
    /* so the same key works once the balance allows it */
    fixture_credit(f, ACCOUNT_A, 1);
    request_init(&request, "key-r", FINGERPRINT_A, "sig-r2", FIXTURE_NOW_MS + 1000);
    assert_int_equal(withdraw(f, &request, &out), CASH_OK);
    assert_false(request.replayed);
    store_request_clear(&request);
    assert_int_equal(fixture_balance(f, ACCOUNT_A), 0);
    fixture_free(f);
}

static void test_expired_and_forgotten_keys(void **state)
{
    (void)state;
    struct fixture *f = setup(3 * TOTAL);
    struct store_request request;
    struct withdrawal out;
    request_init(&request, "key-e", FINGERPRINT_A, "sig-e1", FIXTURE_NOW_MS);
    assert_int_equal(withdraw(f, &request, &out), CASH_OK);
    store_request_clear(&request);
    /* a day later the key is free again, even with another request */
    request_init(&request, "key-e", FINGERPRINT_B, "sig-e2", FIXTURE_NOW_MS + DAY_MS);
    assert_int_equal(withdraw(f, &request, &out), CASH_OK);
    assert_false(request.replayed);
    store_request_clear(&request);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM idempotency_keys"), 1);
    /* forgotten on request */
    assert_int_equal(store_idempotency_forget(f->store, API_KEY, "key-e"), CASH_OK);
    assert_int_equal(store_idempotency_forget(f->store, API_KEY, "key-e"), CASH_OK);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM idempotency_keys"), 0);
    request_init(&request, "key-e", FINGERPRINT_B, "sig-e3", FIXTURE_NOW_MS + DAY_MS + 1);
    assert_int_equal(withdraw(f, &request, &out), CASH_OK);
    assert_false(request.replayed);
    store_request_clear(&request);
    assert_int_equal(fixture_balance(f, ACCOUNT_A), 0);
    fixture_free(f);
}

static void test_invalid_requests(void **state)
{
    (void)state;
    struct fixture *f = setup(TOTAL);
    struct store_request request;
    struct withdrawal out;
    char long_key[IDEMPOTENCY_KEY_BYTES_MAX + 2];
    memset(long_key, 'k', sizeof(long_key) - 1);
    long_key[sizeof(long_key) - 1] = '\0';
    request_init(&request, long_key, FINGERPRINT_A, "sig-i", FIXTURE_NOW_MS);
    assert_int_equal(withdraw(f, &request, &out), CASH_VALIDATION_ERROR);
    request_init(&request, "", FINGERPRINT_A, "sig-i", FIXTURE_NOW_MS);
    assert_int_equal(withdraw(f, &request, &out), CASH_VALIDATION_ERROR);
    request_init(&request, "key", "short", "sig-i", FIXTURE_NOW_MS);
    assert_int_equal(withdraw(f, &request, &out), CASH_VALIDATION_ERROR);
    request_init(&request, "key", FINGERPRINT_A, "sig-i", FIXTURE_NOW_MS);
    request.render = NULL;
    assert_int_equal(withdraw(f, &request, &out), CASH_VALIDATION_ERROR);
    assert_int_equal(fixture_balance(f, ACCOUNT_A), TOTAL);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM used_signatures"), 0);
    /* without a key, the replay row alone goes with the effect */
    request_init(&request, NULL, NULL, "sig-only", FIXTURE_NOW_MS);
    assert_int_equal(withdraw(f, &request, &out), CASH_OK);
    assert_true(request.replay_recorded);
    assert_int_equal(render_calls, 0);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM used_signatures"), 1);
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_keeps_and_replays),
        cmocka_unit_test(test_rollback_keeps_nothing),
        cmocka_unit_test(test_expired_and_forgotten_keys),
        cmocka_unit_test(test_invalid_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
