/*
 * test_store_withdraw.c - withdrawals in the store (SPEC 2, 3, 4): the request and what it
 * writes, each refusal in its documented order leaving everything as it was, the daily limit over
 * live withdrawals, the factor's uses, the cancel and its refund, the list with its filters and
 * cursor, and store_ledger_verify clean after all that and loud after raw corruption.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "domain/names.h"
#include "domain/withdraw_state.h"
#include "store_fixture.h"

#define ACCOUNT_A "25112400000001"
#define ACCOUNT_B "25112400000002"
#define MEMBER_A  "25112410000001"
#define MEMBER_B  "25112410000002"
#define USES_MANY 1000

/* Everything a refused request must leave as it was. */
struct snapshot {
    int64_t balance;
    int64_t history_rows;
    int64_t withdrawal_rows;
    int64_t uses;
};

static void snapshot_take(struct fixture *f, struct snapshot *out)
{
    out->balance = fixture_sql_int(f, "SELECT COALESCE(SUM(balance), 0) FROM accounts");
    out->history_rows = fixture_sql_int(f, "SELECT COUNT(*) FROM balance_history");
    out->withdrawal_rows = fixture_sql_int(f, "SELECT COUNT(*) FROM withdrawals");
    out->uses = fixture_sql_int(f, "SELECT COALESCE(SUM(uses), 0) FROM verifications");
}

static void snapshot_same(struct fixture *f, const struct snapshot *before)
{
    struct snapshot now;
    snapshot_take(f, &now);
    assert_int_equal(now.balance, before->balance);
    assert_int_equal(now.history_rows, before->history_rows);
    assert_int_equal(now.withdrawal_rows, before->withdrawal_rows);
    assert_int_equal(now.uses, before->uses);
}

/* Account A (member A, bank account, balance) and account B (member B, bank account). */
static struct fixture *setup_accounts(int64_t balance_a)
{
    struct fixture *f = fixture_new();
    fixture_account(f, ACCOUNT_A);
    fixture_member(f, MEMBER_A, ACCOUNT_A);
    fixture_bank(f, ACCOUNT_A);
    if (balance_a > 0) {
        fixture_credit(f, ACCOUNT_A, balance_a);
    }
    fixture_account(f, ACCOUNT_B);
    fixture_member(f, MEMBER_B, ACCOUNT_B);
    fixture_bank(f, ACCOUNT_B);
    return f;
}

/* A withdrawal of total_won by member A that must succeed; its row in *out. */
static void withdraw_ok(struct fixture *f, struct second_factor *factor, int64_t total_won,
                        int64_t created_ms, struct withdrawal *out)
{
    struct withdraw_create request;
    fixture_withdraw_request(&request, factor, ACCOUNT_A, MEMBER_A, total_won);
    request.withdrawal.created_ms = created_ms;
    request.withdrawal.updated_ms = created_ms;
    assert_int_equal(store_withdraw_create(f->store, &request, out, NULL), CASH_OK);
}

static void assert_withdrawal_equal(const struct withdrawal *a, const struct withdrawal *b)
{
    assert_string_equal(a->withdraw_id, b->withdraw_id);
    fixture_assert_same_withdrawal(a, b);
}

static void assert_clean(struct fixture *f)
{
    struct fixture_problems problems;
    assert_int_equal(fixture_verify(f, &problems), 0);
}

static void test_withdraw_success(void **state)
{
    (void)state;
    struct fixture *f = setup_accounts(100000);
    char verification_id[VERIFICATION_ID_LENGTH + 1];
    fixture_confirmed(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS - 61234, verification_id);
    struct second_factor factor = fixture_factor(MEMBER_A, 1);
    struct withdraw_create request;
    struct withdrawal out;
    fixture_withdraw_request(&request, &factor, ACCOUNT_A, MEMBER_A, 20000);
    assert_int_equal(request.withdrawal.fee_won, 1500);
    assert_int_equal(store_withdraw_create(f->store, &request, &out, NULL), CASH_OK);

    assert_string_equal(out.withdraw_id, request.withdrawal.withdraw_id);
    assert_string_equal(out.account_id, ACCOUNT_A);
    assert_string_equal(out.member_id, MEMBER_A);
    assert_string_equal(out.bank_code, "004");
    assert_string_equal(out.sealed_number, "0badc0de:sealed-7890");
    assert_string_equal(out.masked_number, "******7890");
    assert_string_equal(out.holder_name, "홍길동");
    assert_int_equal(out.status, WITHDRAW_PENDING);
    assert_false(out.is_processing);
    assert_int_equal(out.confirmed_count, 0);
    assert_string_equal(out.memo, "");
    assert_string_equal(out.transaction_id, "");
    assert_int_equal(out.transaction_ms, 0);
    assert_int_equal(out.amount_won, 18500);
    assert_int_equal(out.fee_won, 1500);
    assert_int_equal(out.total_amount_won, 20000);
    assert_int_equal(out.confirmed_ms, 1763999938000LL); /* 1763999938766, whole seconds */
    assert_int_equal(out.created_ms, FIXTURE_NOW_MS);
    assert_int_equal(out.updated_ms, FIXTURE_NOW_MS);
    assert_int_equal(factor.confirmed_ms, FIXTURE_NOW_MS - 61234);
    assert_int_equal(fixture_uses(f, verification_id), 1);
    assert_int_equal(fixture_balance(f, ACCOUNT_A), 80000);

    /* The ledger entry, newest first. */
    struct history_entry entries[LIST_LIMIT_MAX];
    size_t count = 0;
    struct history_query query = {.limit = 10};
    snprintf(query.account_id, sizeof(query.account_id), "%s", ACCOUNT_A);
    assert_int_equal(store_history_list(f->store, &query, entries, &count), CASH_OK);
    assert_int_equal(count, 2);
    assert_string_equal(entries[0].history_id, request.history_id);
    assert_int_equal(entries[0].type, HISTORY_WITHDRAW);
    assert_int_equal(entries[0].balance_amount_won, -20000);
    assert_int_equal(entries[0].old_balance_won, 100000);
    assert_int_equal(entries[0].new_balance_won, 80000);
    assert_string_equal(entries[0].group_id, out.withdraw_id);

    /* Read back, by its account, by the operator; never by another account. */
    struct withdrawal got;
    assert_int_equal(store_withdraw_get(f->store, ACCOUNT_A, out.withdraw_id, &got), CASH_OK);
    assert_withdrawal_equal(&got, &out);
    assert_int_equal(store_withdraw_get(f->store, NULL, out.withdraw_id, &got), CASH_OK);
    assert_int_equal(store_withdraw_get(f->store, ACCOUNT_B, out.withdraw_id, &got),
                     CASH_NOT_FOUND);
    assert_int_equal(
        store_withdraw_get(f->store, ACCOUNT_A, "00000000000000000000000000000000", &got),
        CASH_NOT_FOUND);

    /* A later change of the bank account does not redirect it (SPEC 3). */
    struct bank_account bank;
    fixture_bank_value(&bank, ACCOUNT_A, "088", "1111", "Mallory", FIXTURE_NOW_MS + 1);
    assert_int_equal(store_bank_account_set(f->store, &bank, NULL, NULL), CASH_OK);
    assert_int_equal(store_withdraw_get(f->store, ACCOUNT_A, out.withdraw_id, &got), CASH_OK);
    assert_string_equal(got.bank_code, "004");
    assert_string_equal(got.masked_number, "******7890");
    assert_string_equal(got.holder_name, "홍길동");
    assert_clean(f);
    fixture_free(f);
}

static void test_withdraw_refusals_in_order(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    fixture_account(f, ACCOUNT_A);
    fixture_member(f, MEMBER_A, ACCOUNT_A);
    fixture_credit(f, ACCOUNT_A, 5000);
    struct second_factor factor = fixture_factor(MEMBER_A, 1);
    struct withdraw_create request;
    struct withdrawal out;
    struct snapshot before;
    /* Everything is wrong at first: each fix reveals the next refusal. */
    fixture_withdraw_request(&request, &factor, ACCOUNT_A, MEMBER_A, 20000);
    request.daily_limit_won = 10000;
    snapshot_take(f, &before);
    assert_int_equal(store_withdraw_create(f->store, &request, &out, NULL),
                     CASH_SECOND_FACTOR_REQUIRED);
    snapshot_same(f, &before);

    char verification_id[VERIFICATION_ID_LENGTH + 1];
    fixture_confirmed(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS - 1000, verification_id);
    snapshot_take(f, &before);
    assert_int_equal(store_withdraw_create(f->store, &request, &out, NULL),
                     CASH_BANK_ACCOUNT_NOT_REGISTERED);
    snapshot_same(f, &before);
    assert_int_equal(fixture_uses(f, verification_id), 0);

    fixture_bank(f, ACCOUNT_A);
    snapshot_take(f, &before);
    assert_int_equal(store_withdraw_create(f->store, &request, &out, NULL),
                     CASH_DAILY_LIMIT_EXCEEDED);
    snapshot_same(f, &before);

    request.daily_limit_won = 100000;
    assert_int_equal(store_withdraw_create(f->store, &request, &out, NULL),
                     CASH_NOT_ENOUGH_BALANCE);
    snapshot_same(f, &before);
    assert_int_equal(fixture_uses(f, verification_id), 0);

    /* Exactly the balance: it goes to zero, not below. */
    fixture_credit(f, ACCOUNT_A, 15000);
    assert_int_equal(store_withdraw_create(f->store, &request, &out, NULL), CASH_OK);
    assert_int_equal(fixture_balance(f, ACCOUNT_A), 0);
    assert_int_equal(fixture_uses(f, verification_id), 1);

    /* A used withdraw id or history id is a conflict that changes nothing either. */
    fixture_credit(f, ACCOUNT_A, 50000);
    fixture_confirmed(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS - 1000, NULL);
    snapshot_take(f, &before);
    fixture_id(request.history_id);
    assert_int_equal(store_withdraw_create(f->store, &request, &out, NULL), CASH_CONFLICT);
    snapshot_same(f, &before);
    struct withdraw_create again;
    fixture_withdraw_request(&again, &factor, ACCOUNT_A, MEMBER_A, 20000);
    memcpy(again.history_id, request.history_id, sizeof(again.history_id));
    /* The conflict rolled back: its history id is still free. */
    assert_int_equal(store_withdraw_create(f->store, &again, &out, NULL), CASH_OK);
    fixture_withdraw_request(&request, &factor, ACCOUNT_A, MEMBER_A, 1000);
    memcpy(request.history_id, again.history_id, sizeof(request.history_id));
    fixture_confirmed(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS - 1000, NULL);
    snapshot_take(f, &before);
    assert_int_equal(store_withdraw_create(f->store, &request, &out, NULL), CASH_CONFLICT);
    snapshot_same(f, &before);

    /* Amounts that do not add up are the caller's fault, refused before anything is read. */
    fixture_withdraw_request(&request, &factor, ACCOUNT_A, MEMBER_A, 1000);
    request.withdrawal.fee_won += 1;
    assert_int_equal(store_withdraw_create(f->store, &request, &out, NULL), CASH_INTERNAL_ERROR);
    snapshot_same(f, &before);
    assert_clean(f);
    fixture_free(f);
}

static void test_daily_limit_counts_today(void **state)
{
    (void)state;
    struct fixture *f = setup_accounts(1000000);
    fixture_confirmed(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS - 1000, NULL);
    struct second_factor factor = fixture_factor(MEMBER_A, USES_MANY);
    struct withdraw_create request;
    struct withdrawal yesterday, first, second, out;
    const int64_t day_start = FIXTURE_NOW_MS - 3600000LL;

    /* Created just before today's start: not counted today. */
    fixture_withdraw_request(&request, &factor, ACCOUNT_A, MEMBER_A, 30000);
    request.withdrawal.created_ms = day_start - 1;
    request.day_start_ms = day_start - 86400000LL;
    request.daily_limit_won = 50000;
    assert_int_equal(store_withdraw_create(f->store, &request, &yesterday, NULL), CASH_OK);

    fixture_withdraw_request(&request, &factor, ACCOUNT_A, MEMBER_A, 30000);
    request.day_start_ms = day_start;
    request.daily_limit_won = 50000;
    assert_int_equal(store_withdraw_create(f->store, &request, &first, NULL), CASH_OK);
    fixture_withdraw_request(&request, &factor, ACCOUNT_A, MEMBER_A, 20000);
    request.day_start_ms = day_start;
    request.daily_limit_won = 50000;
    assert_int_equal(store_withdraw_create(f->store, &request, &second, NULL),
                     CASH_OK); /* = limit */
    fixture_withdraw_request(&request, &factor, ACCOUNT_A, MEMBER_A, 1000);
    request.day_start_ms = day_start;
    request.daily_limit_won = 50000;
    assert_int_equal(store_withdraw_create(f->store, &request, &out, NULL),
                     CASH_DAILY_LIMIT_EXCEEDED);

    /* Another account's withdrawals are its own. */
    fixture_confirmed(f, MEMBER_B, ACCOUNT_B, FIXTURE_NOW_MS - 1000, NULL);
    fixture_credit(f, ACCOUNT_B, 100000);
    struct second_factor factor_b = fixture_factor(MEMBER_B, 1);
    struct withdraw_create request_b;
    fixture_withdraw_request(&request_b, &factor_b, ACCOUNT_B, MEMBER_B, 50000);
    request_b.day_start_ms = day_start;
    request_b.daily_limit_won = 50000;
    assert_int_equal(store_withdraw_create(f->store, &request_b, &out, NULL), CASH_OK);

    /* A canceled one no longer counts. */
    char history_id[HISTORY_ID_LENGTH + 1];
    fixture_id(history_id);
    assert_int_equal(store_withdraw_cancel(f->store, ACCOUNT_A, second.withdraw_id, history_id,
                                           FIXTURE_NOW_MS + 1000, &out, NULL),
                     CASH_OK);
    assert_int_equal(store_withdraw_create(f->store, &request, &out, NULL), CASH_OK);
    assert_clean(f);
    fixture_free(f);
}

/* Whether a withdrawal counts for the daily limit is exactly withdraw_status_is_live(). */
static void test_daily_limit_statuses(void **state)
{
    (void)state;
    struct fixture *f = setup_accounts(1000000);
    fixture_confirmed(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS - 1000, NULL);
    struct second_factor factor = fixture_factor(MEMBER_A, USES_MANY);
    struct withdrawal held, out;
    withdraw_ok(f, &factor, 30000, FIXTURE_NOW_MS, &held);
    for (int status = 0; status < WITHDRAW_STATUS_COUNT; status++) {
        char sql[256];
        snprintf(sql, sizeof(sql), "UPDATE withdrawals SET status = '%s' WHERE withdraw_id = '%s'",
                 withdraw_status_name((enum withdraw_status)status), held.withdraw_id);
        fixture_sql(f, sql);
        struct withdraw_create request;
        fixture_withdraw_request(&request, &factor, ACCOUNT_A, MEMBER_A, 30000);
        request.daily_limit_won = 50000;
        cash_result result = store_withdraw_create(f->store, &request, &out, NULL);
        if (withdraw_status_is_live((enum withdraw_status)status)) {
            assert_int_equal(result, CASH_DAILY_LIMIT_EXCEEDED);
        } else {
            assert_int_equal(result, CASH_OK);
            char history_id[HISTORY_ID_LENGTH + 1];
            fixture_id(history_id);
            assert_int_equal(store_withdraw_cancel(f->store, ACCOUNT_A, out.withdraw_id, history_id,
                                                   FIXTURE_NOW_MS, &out, NULL),
                             CASH_OK);
        }
    }
    fixture_free(f);
}

static void test_verification_uses_max(void **state)
{
    (void)state;
    struct fixture *f = setup_accounts(100000);
    char verification_id[VERIFICATION_ID_LENGTH + 1];
    fixture_confirmed(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS - 1000, verification_id);
    struct second_factor factor = fixture_factor(MEMBER_A, 2);
    struct withdrawal out;
    withdraw_ok(f, &factor, 1000, FIXTURE_NOW_MS, &out);
    withdraw_ok(f, &factor, 1000, FIXTURE_NOW_MS, &out);
    struct withdraw_create request;
    fixture_withdraw_request(&request, &factor, ACCOUNT_A, MEMBER_A, 1000);
    assert_int_equal(store_withdraw_create(f->store, &request, &out, NULL),
                     CASH_SECOND_FACTOR_REQUIRED);
    assert_int_equal(fixture_uses(f, verification_id), 2);
    assert_int_equal(fixture_balance(f, ACCOUNT_A), 98000);

    /* Member B cannot spend member A's verification. */
    struct second_factor factor_b = fixture_factor(MEMBER_B, 5);
    factor_b.verification_id = verification_id;
    fixture_withdraw_request(&request, &factor_b, ACCOUNT_B, MEMBER_B, 1000);
    assert_int_equal(store_withdraw_create(f->store, &request, &out, NULL),
                     CASH_SECOND_FACTOR_REQUIRED);
    fixture_free(f);
}

static void test_cancel(void **state)
{
    (void)state;
    struct fixture *f = setup_accounts(100000);
    fixture_confirmed(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS - 1000, NULL);
    struct second_factor factor = fixture_factor(MEMBER_A, USES_MANY);
    struct withdrawal w, out;
    withdraw_ok(f, &factor, 20000, FIXTURE_NOW_MS, &w);
    assert_int_equal(fixture_balance(f, ACCOUNT_A), 80000);

    char history_id[HISTORY_ID_LENGTH + 1];
    fixture_id(history_id);
    struct snapshot before;
    snapshot_take(f, &before);
    assert_int_equal(store_withdraw_cancel(f->store, ACCOUNT_B, w.withdraw_id, history_id,
                                           FIXTURE_NOW_MS + 1000, &out, NULL),
                     CASH_NOT_FOUND);
    assert_int_equal(store_withdraw_cancel(f->store, ACCOUNT_A, "00000000000000000000000000000000",
                                           history_id, FIXTURE_NOW_MS + 1000, &out, NULL),
                     CASH_NOT_FOUND);
    snapshot_same(f, &before);

    assert_int_equal(store_withdraw_cancel(f->store, ACCOUNT_A, w.withdraw_id, history_id,
                                           FIXTURE_NOW_MS + 1000, &out, NULL),
                     CASH_OK);
    assert_int_equal(out.status, WITHDRAW_CANCELED);
    assert_int_equal(out.updated_ms, FIXTURE_NOW_MS + 1000);
    assert_int_equal(out.created_ms, FIXTURE_NOW_MS);
    assert_int_equal(out.total_amount_won, 20000);
    assert_int_equal(fixture_balance(f, ACCOUNT_A), 100000);
    struct history_entry entries[4];
    size_t count = 0;
    struct history_query query = {.limit = 4};
    snprintf(query.account_id, sizeof(query.account_id), "%s", ACCOUNT_A);
    assert_int_equal(store_history_list(f->store, &query, entries, &count), CASH_OK);
    assert_int_equal(count, 3);
    assert_string_equal(entries[0].history_id, history_id);
    assert_int_equal(entries[0].type, HISTORY_WITHDRAW_REFUND);
    assert_int_equal(entries[0].balance_amount_won, 20000);
    assert_int_equal(entries[0].old_balance_won, 80000);
    assert_int_equal(entries[0].new_balance_won, 100000);
    assert_string_equal(entries[0].group_id, w.withdraw_id);

    /* Refunded once: a second cancel is refused and changes nothing. */
    snapshot_take(f, &before);
    fixture_id(history_id);
    assert_int_equal(store_withdraw_cancel(f->store, ACCOUNT_A, w.withdraw_id, history_id,
                                           FIXTURE_NOW_MS + 2000, &out, NULL),
                     CASH_INVALID_STATUS);
    snapshot_same(f, &before);
    assert_clean(f);
    fixture_free(f);
}

static void test_cancel_statuses(void **state)
{
    (void)state;
    struct fixture *f = setup_accounts(100000);
    fixture_confirmed(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS - 1000, NULL);
    struct second_factor factor = fixture_factor(MEMBER_A, USES_MANY);
    struct withdrawal processing, completed, confirmed, out;
    struct snapshot before;
    char history_id[HISTORY_ID_LENGTH + 1];
    fixture_id(history_id);
    /* In flight or paid out: refused. CONFIRMED and idle: allowed. */
    withdraw_ok(f, &factor, 1000, FIXTURE_NOW_MS, &processing);
    withdraw_ok(f, &factor, 1000, FIXTURE_NOW_MS, &completed);
    withdraw_ok(f, &factor, 1000, FIXTURE_NOW_MS, &confirmed);
    char sql[256];
    snprintf(sql, sizeof(sql),
             "UPDATE withdrawals SET status = 'CONFIRMED', is_processing = 1"
             " WHERE withdraw_id = '%s'",
             processing.withdraw_id);
    fixture_sql(f, sql);
    snprintf(sql, sizeof(sql),
             "UPDATE withdrawals SET status = 'COMPLETED' WHERE withdraw_id = '%s'",
             completed.withdraw_id);
    fixture_sql(f, sql);
    snprintf(sql, sizeof(sql),
             "UPDATE withdrawals SET status = 'CONFIRMED', confirmed_count = 1"
             " WHERE withdraw_id = '%s'",
             confirmed.withdraw_id);
    fixture_sql(f, sql);
    snapshot_take(f, &before);
    assert_int_equal(store_withdraw_cancel(f->store, ACCOUNT_A, processing.withdraw_id, history_id,
                                           FIXTURE_NOW_MS + 2000, &out, NULL),
                     CASH_INVALID_STATUS);
    assert_int_equal(store_withdraw_cancel(f->store, ACCOUNT_A, completed.withdraw_id, history_id,
                                           FIXTURE_NOW_MS + 2000, &out, NULL),
                     CASH_INVALID_STATUS);
    snapshot_same(f, &before);
    assert_int_equal(store_withdraw_cancel(f->store, ACCOUNT_A, confirmed.withdraw_id, history_id,
                                           FIXTURE_NOW_MS + 2000, &out, NULL),
                     CASH_OK);
    assert_int_equal(out.status, WITHDRAW_CANCELED);
    assert_int_equal(out.confirmed_count, 1);
    assert_int_equal(fixture_balance(f, ACCOUNT_A), 98000);
    assert_clean(f);
    fixture_free(f);
}

/* Five withdrawals of A (totals 10000..50000, created NOW+1..NOW+5) and one of B. */
static void setup_list(struct fixture *f, struct withdrawal rows[5])
{
    fixture_confirmed(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS - 1000, NULL);
    fixture_confirmed(f, MEMBER_B, ACCOUNT_B, FIXTURE_NOW_MS - 1000, NULL);
    struct second_factor factor = fixture_factor(MEMBER_A, USES_MANY);
    struct bank_account bank;
    for (int i = 0; i < 5; i++) {
        if (i == 3) {
            fixture_bank_value(&bank, ACCOUNT_A, "088", "4444", "50%_off Kim", FIXTURE_NOW_MS);
            assert_int_equal(store_bank_account_set(f->store, &bank, NULL, NULL), CASH_OK);
        }
        if (i == 4) {
            fixture_bank_value(&bank, ACCOUNT_A, "088", "5555", "50x_offy Lee", FIXTURE_NOW_MS);
            assert_int_equal(store_bank_account_set(f->store, &bank, NULL, NULL), CASH_OK);
        }
        withdraw_ok(f, &factor, 10000 * (i + 1), FIXTURE_NOW_MS + i + 1, &rows[i]);
    }
    fixture_credit(f, ACCOUNT_B, 10000);
    struct second_factor factor_b = fixture_factor(MEMBER_B, 1);
    struct withdraw_create request;
    struct withdrawal out;
    fixture_withdraw_request(&request, &factor_b, ACCOUNT_B, MEMBER_B, 10000);
    assert_int_equal(store_withdraw_create(f->store, &request, &out, NULL), CASH_OK);
}

static void query_init(struct withdraw_query *query, const char *account_id, size_t limit)
{
    memset(query, 0, sizeof(*query));
    snprintf(query->account_id, sizeof(query->account_id), "%s", account_id);
    query->limit = limit;
}

static void query_add_number(struct withdraw_query *query, enum withdraw_field field,
                             enum query_op op, int64_t number)
{
    struct withdraw_condition *condition = &query->conditions[query->condition_count++];
    condition->field = field;
    condition->op = op;
    condition->is_text = false;
    condition->number = number;
}

static void query_add_text(struct withdraw_query *query, enum withdraw_field field,
                           enum query_op op, const char *text)
{
    struct withdraw_condition *condition = &query->conditions[query->condition_count++];
    condition->field = field;
    condition->op = op;
    condition->is_text = true;
    snprintf(condition->text, sizeof(condition->text), "%s", text);
}

/* Runs the query; asserts the rows are exactly those of rows[] named by indexes, in order, and
 * that the next page starts at rows[next_expected] (-1: there is no next page). */
static void assert_list(struct fixture *f, const struct withdraw_query *query,
                        const struct withdrawal rows[5], const int *expected, size_t expected_count,
                        int next_expected)
{
    struct withdrawal out[LIST_LIMIT_MAX];
    size_t count = 99;
    char next_key[WITHDRAW_ID_LENGTH + 1] = "stale";
    assert_int_equal(store_withdraw_list(f->store, query, out, &count, next_key), CASH_OK);
    assert_int_equal(count, expected_count);
    assert_string_equal(next_key, next_expected < 0 ? "" : rows[next_expected].withdraw_id);
    for (size_t i = 0; i < expected_count; i++) {
        assert_string_equal(out[i].withdraw_id, rows[expected[i]].withdraw_id);
    }
}

static void test_list_cursor(void **state)
{
    (void)state;
    struct fixture *f = setup_accounts(1000000);
    struct withdrawal rows[5];
    setup_list(f, rows);
    struct withdraw_query query;
    query_init(&query, ACCOUNT_A, 2);
    assert_list(f, &query, rows, (const int[]){4, 3}, 2, 2);
    snprintf(query.start_key, sizeof(query.start_key), "%s", rows[2].withdraw_id);
    assert_list(f, &query, rows, (const int[]){2, 1}, 2, 0);
    snprintf(query.start_key, sizeof(query.start_key), "%s", rows[0].withdraw_id);
    assert_list(f, &query, rows, (const int[]){0}, 1, -1);
    query_init(&query, ACCOUNT_A, 4);
    assert_list(f, &query, rows, (const int[]){4, 3, 2, 1}, 4, 0);
    query_init(&query, ACCOUNT_A, 5);
    assert_list(f, &query, rows, (const int[]){4, 3, 2, 1, 0}, 5, -1);
    query_init(&query, ACCOUNT_A, LIST_LIMIT_MAX);
    assert_list(f, &query, rows, (const int[]){4, 3, 2, 1, 0}, 5, -1);

    /* Every account (the operator): B's row too. */
    struct withdrawal all[LIST_LIMIT_MAX];
    size_t count = 0;
    char next_key[WITHDRAW_ID_LENGTH + 1] = "stale";
    query_init(&query, "", 20);
    assert_int_equal(store_withdraw_list(f->store, &query, all, &count, next_key), CASH_OK);
    assert_int_equal(count, 6);
    assert_string_equal(next_key, "");
    assert_string_equal(all[0].account_id, ACCOUNT_B); /* created last */

    query_init(&query, ACCOUNT_A, 0);
    assert_int_equal(store_withdraw_list(f->store, &query, all, &count, next_key),
                     CASH_VALIDATION_ERROR);
    query_init(&query, ACCOUNT_A, LIST_LIMIT_MAX + 1);
    assert_int_equal(store_withdraw_list(f->store, &query, all, &count, next_key),
                     CASH_VALIDATION_ERROR);
    fixture_free(f);
}

static void test_list_filters(void **state)
{
    (void)state;
    struct fixture *f = setup_accounts(1000000);
    struct withdrawal rows[5], out;
    setup_list(f, rows);
    char history_id[HISTORY_ID_LENGTH + 1];
    fixture_id(history_id);
    assert_int_equal(store_withdraw_cancel(f->store, ACCOUNT_A, rows[1].withdraw_id, history_id,
                                           FIXTURE_NOW_MS + 100, &out, NULL),
                     CASH_OK);
    struct withdraw_query query;

    query_init(&query, ACCOUNT_A, 20);
    query_add_text(&query, WITHDRAW_FIELD_STATUS, QUERY_EQ, "CANCELED");
    assert_list(f, &query, rows, (const int[]){1}, 1, -1);
    query_init(&query, ACCOUNT_A, 20);
    query_add_text(&query, WITHDRAW_FIELD_STATUS, QUERY_NE, "CANCELED");
    assert_list(f, &query, rows, (const int[]){4, 3, 2, 0}, 4, -1);

    query_init(&query, ACCOUNT_A, 20);
    query_add_number(&query, WITHDRAW_FIELD_TOTAL_AMOUNT, QUERY_GTE, 30000);
    assert_list(f, &query, rows, (const int[]){4, 3, 2}, 3, -1);
    query_add_number(&query, WITHDRAW_FIELD_TOTAL_AMOUNT, QUERY_LT, 50000);
    assert_list(f, &query, rows, (const int[]){3, 2}, 2, -1);
    query_init(&query, ACCOUNT_A, 20);
    query_add_number(&query, WITHDRAW_FIELD_AMOUNT, QUERY_EQ, rows[0].amount_won);
    assert_list(f, &query, rows, (const int[]){0}, 1, -1);
    query_init(&query, ACCOUNT_A, 20);
    query_add_number(&query, WITHDRAW_FIELD_FEE, QUERY_GT, rows[3].fee_won);
    assert_list(f, &query, rows, (const int[]){4}, 1, -1);
    query_init(&query, ACCOUNT_A, 20);
    query_add_number(&query, WITHDRAW_FIELD_DATE_CREATED, QUERY_GTE, FIXTURE_NOW_MS + 4);
    assert_list(f, &query, rows, (const int[]){4, 3}, 2, -1);
    query_init(&query, ACCOUNT_A, 20);
    query_add_number(&query, WITHDRAW_FIELD_DATE_CREATED, QUERY_LTE, FIXTURE_NOW_MS + 1);
    assert_list(f, &query, rows, (const int[]){0}, 1, -1);
    query_init(&query, ACCOUNT_A, 20);
    query_add_number(&query, WITHDRAW_FIELD_DATE_UPDATED, QUERY_EQ, FIXTURE_NOW_MS + 100);
    assert_list(f, &query, rows, (const int[]){1}, 1, -1);
    query_init(&query, ACCOUNT_A, 20);
    query_add_text(&query, WITHDRAW_FIELD_WITHDRAW_ID, QUERY_LT, rows[2].withdraw_id);
    assert_list(f, &query, rows, (const int[]){1, 0}, 2, -1);
    query_init(&query, ACCOUNT_A, 20);
    query_add_text(&query, WITHDRAW_FIELD_WITHDRAW_ID, QUERY_EQ, rows[3].withdraw_id);
    assert_list(f, &query, rows, (const int[]){3}, 1, -1);
    query_init(&query, ACCOUNT_A, 20);
    query_add_text(&query, WITHDRAW_FIELD_BANK_CODE, QUERY_NE, "004");
    assert_list(f, &query, rows, (const int[]){4, 3}, 2, -1);

    fixture_free(f);
}

static void test_list_text_filters(void **state)
{
    (void)state;
    struct fixture *f = setup_accounts(1000000);
    struct withdrawal rows[5];
    setup_list(f, rows);
    struct withdraw_query query;
    /* LIKE is a substring match in which % and _ are plain characters. */
    query_init(&query, ACCOUNT_A, 20);
    query_add_text(&query, WITHDRAW_FIELD_HOLDER_NAME, QUERY_LIKE, "%_off");
    assert_list(f, &query, rows, (const int[]){3}, 1, -1);
    query_init(&query, ACCOUNT_A, 20);
    query_add_text(&query, WITHDRAW_FIELD_HOLDER_NAME, QUERY_LIKE, "x_");
    assert_list(f, &query, rows, (const int[]){4}, 1, -1);
    query_init(&query, ACCOUNT_A, 20);
    query_add_text(&query, WITHDRAW_FIELD_HOLDER_NAME, QUERY_LIKE, "길");
    assert_list(f, &query, rows, (const int[]){2, 1, 0}, 3, -1);
    query_init(&query, ACCOUNT_A, 20);
    query_add_text(&query, WITHDRAW_FIELD_HOLDER_NAME, QUERY_NE, "홍길동");
    assert_list(f, &query, rows, (const int[]){4, 3}, 2, -1);
    query_init(&query, ACCOUNT_A, 20);
    query_add_text(&query, WITHDRAW_FIELD_HOLDER_NAME, QUERY_LIKE, "' OR 1=1 --");
    assert_list(f, &query, rows, (const int[]){0}, 0, -1);

    /* Conditions and the cursor together. */
    query_init(&query, ACCOUNT_A, 1);
    query_add_text(&query, WITHDRAW_FIELD_STATUS, QUERY_EQ, "PENDING");
    snprintf(query.start_key, sizeof(query.start_key), "%s", rows[2].withdraw_id);
    assert_list(f, &query, rows, (const int[]){2}, 1, 1);

    /* Conditions that make no sense for the field. */
    struct withdrawal page[20];
    size_t count = 0;
    char next_key[WITHDRAW_ID_LENGTH + 1];
    query_init(&query, ACCOUNT_A, 20);
    query_add_number(&query, WITHDRAW_FIELD_AMOUNT, QUERY_LIKE, 5);
    assert_int_equal(store_withdraw_list(f->store, &query, page, &count, next_key),
                     CASH_VALIDATION_ERROR);
    query_init(&query, ACCOUNT_A, 20);
    query_add_text(&query, WITHDRAW_FIELD_AMOUNT, QUERY_EQ, "5");
    assert_int_equal(store_withdraw_list(f->store, &query, page, &count, next_key),
                     CASH_VALIDATION_ERROR);
    fixture_free(f);
}

static bool problems_mention(const struct fixture_problems *problems, const char *text)
{
    return strstr(problems->all, text) != NULL;
}

static void test_ledger_verify_detects(void **state)
{
    (void)state;
    struct fixture *f = setup_accounts(100000);
    fixture_confirmed(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS - 1000, NULL);
    struct second_factor factor = fixture_factor(MEMBER_A, USES_MANY);
    struct withdrawal first, second, out;
    withdraw_ok(f, &factor, 10000, FIXTURE_NOW_MS, &first);
    withdraw_ok(f, &factor, 20000, FIXTURE_NOW_MS, &second);
    char history_id[HISTORY_ID_LENGTH + 1];
    fixture_id(history_id);
    assert_int_equal(store_withdraw_cancel(f->store, ACCOUNT_A, first.withdraw_id, history_id,
                                           FIXTURE_NOW_MS, &out, NULL),
                     CASH_OK);
    assert_clean(f);

    struct fixture_problems problems;
    fixture_sql(f, "UPDATE accounts SET balance = balance + 1 WHERE account_id = '" ACCOUNT_A "'");
    assert_true(fixture_verify(f, &problems) >= 1);
    assert_true(problems_mention(&problems, ACCOUNT_A));
    fixture_sql(f, "UPDATE accounts SET balance = balance - 1 WHERE account_id = '" ACCOUNT_A "'");
    assert_clean(f);

    /* A refunded status without its refund. */
    char sql[256];
    snprintf(sql, sizeof(sql),
             "UPDATE withdrawals SET status = 'REJECTED' WHERE withdraw_id = '%s'",
             second.withdraw_id);
    fixture_sql(f, sql);
    /* the missing refund, and the balance is no longer credits minus live withdrawals */
    assert_int_equal(fixture_verify(f, &problems), 2);
    assert_true(problems_mention(&problems, second.withdraw_id));
    assert_true(problems_mention(&problems, "minus live withdrawals"));
    snprintf(sql, sizeof(sql), "UPDATE withdrawals SET status = 'PENDING' WHERE withdraw_id = '%s'",
             second.withdraw_id);
    fixture_sql(f, sql);
    assert_clean(f);

    /* A broken chain: one entry's old balance does not follow the one before. */
    snprintf(sql, sizeof(sql),
             "UPDATE balance_history SET old_balance = old_balance + 5,"
             " new_balance = new_balance + 5 WHERE history_id = '%s'",
             history_id);
    fixture_sql(f, sql);
    assert_true(fixture_verify(f, &problems) >= 1);
    assert_true(problems_mention(&problems, history_id));
    snprintf(sql, sizeof(sql),
             "UPDATE balance_history SET old_balance = old_balance - 5,"
             " new_balance = new_balance - 5 WHERE history_id = '%s'",
             history_id);
    fixture_sql(f, sql);
    assert_clean(f);

    /* A withdrawal whose debit entry is gone, and an entry whose withdrawal is gone. */
    snprintf(sql, sizeof(sql), "DELETE FROM balance_history WHERE group_id = '%s'",
             second.withdraw_id);
    fixture_sql(f, sql);
    assert_true(fixture_verify(f, &problems) >= 2);
    assert_true(problems_mention(&problems, second.withdraw_id));
    assert_true(problems_mention(&problems, ACCOUNT_A));
    snprintf(sql, sizeof(sql), "DELETE FROM withdrawals WHERE withdraw_id = '%s'",
             first.withdraw_id);
    fixture_sql(f, sql);
    assert_true(fixture_verify(f, &problems) >= 3);
    assert_true(problems_mention(&problems, "does not exist"));
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_withdraw_success),
        cmocka_unit_test(test_withdraw_refusals_in_order),
        cmocka_unit_test(test_daily_limit_counts_today),
        cmocka_unit_test(test_daily_limit_statuses),
        cmocka_unit_test(test_verification_uses_max),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_cancel_statuses),
        cmocka_unit_test(test_list_cursor),
        cmocka_unit_test(test_list_filters),
        cmocka_unit_test(test_list_text_filters),
        cmocka_unit_test(test_ledger_verify_detects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
