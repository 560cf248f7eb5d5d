#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "common/limits.h"
#include "domain/names.h"
#include "domain/withdraw_state.h"

/* SPEC 4: the only moves a withdrawal may make. */
struct allowed_move {
    enum withdraw_status from;
    enum withdraw_status to;
    bool while_processing; /* also allowed with a payout in flight */
    bool while_idle;       /* allowed with no payout in flight */
};

static const struct allowed_move allowed_moves[] = {
    {WITHDRAW_PENDING, WITHDRAW_CONFIRMED, false, true},
    {WITHDRAW_PENDING, WITHDRAW_REJECTED, false, true},
    {WITHDRAW_PENDING, WITHDRAW_CANCELED, false, true},
    {WITHDRAW_CONFIRMED, WITHDRAW_COMPLETED, true, true},
    {WITHDRAW_CONFIRMED, WITHDRAW_FAILED, true, true},
    {WITHDRAW_CONFIRMED, WITHDRAW_REJECTED, false, true},
    {WITHDRAW_CONFIRMED, WITHDRAW_CANCELED, false, true},
};

static bool expected_allowed(enum withdraw_status from, enum withdraw_status to, bool processing)
{
    for (size_t i = 0; i < sizeof(allowed_moves) / sizeof(allowed_moves[0]); i++) {
        if (allowed_moves[i].from == from && allowed_moves[i].to == to) {
            return processing ? allowed_moves[i].while_processing : allowed_moves[i].while_idle;
        }
    }
    return false;
}

static void test_every_pair(void **state)
{
    (void)state;
    size_t allowed = 0;
    for (int from = 0; from < WITHDRAW_STATUS_COUNT; from++) {
        for (int to = 0; to < WITHDRAW_STATUS_COUNT; to++) {
            for (int processing = 0; processing < 2; processing++) {
                bool expected = expected_allowed((enum withdraw_status)from,
                                                 (enum withdraw_status)to, processing != 0);
                bool actual = withdraw_transition_allowed(
                    (enum withdraw_status)from, (enum withdraw_status)to, processing != 0);
                if (actual != expected) {
                    fail_msg("%s -> %s (processing %d): got %d, expected %d",
                             withdraw_status_name((enum withdraw_status)from),
                             withdraw_status_name((enum withdraw_status)to), processing, actual,
                             expected);
                }
                allowed += actual ? 1 : 0;
            }
        }
    }
    assert_int_equal(allowed, 9);
}

static void test_never_backwards_or_out_of_an_end(void **state)
{
    (void)state;
    const enum withdraw_status ends[] = {WITHDRAW_COMPLETED, WITHDRAW_FAILED, WITHDRAW_REJECTED,
                                         WITHDRAW_CANCELED};
    for (size_t i = 0; i < 4; i++) {
        for (int to = 0; to < WITHDRAW_STATUS_COUNT; to++) {
            assert_false(withdraw_transition_allowed(ends[i], (enum withdraw_status)to, false));
            assert_false(withdraw_transition_allowed(ends[i], (enum withdraw_status)to, true));
        }
    }
    assert_false(withdraw_transition_allowed(WITHDRAW_CONFIRMED, WITHDRAW_PENDING, false));
    assert_false(withdraw_transition_allowed(WITHDRAW_PENDING, WITHDRAW_COMPLETED, false));
    assert_false(withdraw_transition_allowed(WITHDRAW_PENDING, WITHDRAW_FAILED, false));
}

static void test_cancelable(void **state)
{
    (void)state;
    struct withdrawal withdrawal;
    memset(&withdrawal, 0, sizeof(withdrawal));
    for (int status = 0; status < WITHDRAW_STATUS_COUNT; status++) {
        withdrawal.status = (enum withdraw_status)status;
        withdrawal.is_processing = false;
        bool expected = status == WITHDRAW_PENDING || status == WITHDRAW_CONFIRMED;
        assert_int_equal(withdraw_cancelable(&withdrawal), expected);
        withdrawal.is_processing = true;
        assert_false(withdraw_cancelable(&withdrawal));
    }
}

static void test_live_and_refunded(void **state)
{
    (void)state;
    assert_true(withdraw_status_is_live(WITHDRAW_PENDING));
    assert_true(withdraw_status_is_live(WITHDRAW_CONFIRMED));
    assert_true(withdraw_status_is_live(WITHDRAW_COMPLETED));
    assert_true(withdraw_status_is_refunded(WITHDRAW_FAILED));
    assert_true(withdraw_status_is_refunded(WITHDRAW_REJECTED));
    assert_true(withdraw_status_is_refunded(WITHDRAW_CANCELED));
    /* every status is exactly one of the two */
    for (int status = 0; status < WITHDRAW_STATUS_COUNT; status++) {
        assert_true(withdraw_status_is_live((enum withdraw_status)status) !=
                    withdraw_status_is_refunded((enum withdraw_status)status));
    }
}

/* SPEC 4: two distinct operators from the threshold upwards. */
static void test_confirmations_required(void **state)
{
    (void)state;
    assert_int_equal(withdraw_confirmations_required(9999999, 10000000), 1);
    assert_int_equal(withdraw_confirmations_required(10000000, 10000000), 2);
    assert_int_equal(withdraw_confirmations_required(50000000, 10000000), 2);
    assert_int_equal(withdraw_confirmations_required(1000, 0), 2); /* 0: always two */
}

static void test_operator_names(void **state)
{
    (void)state;
    char longest[OPERATOR_NAME_BYTES_MAX + 2];
    memset(longest, 'a', sizeof(longest));
    longest[OPERATOR_NAME_BYTES_MAX] = '\0';
    assert_true(withdraw_operator_name_valid(longest));
    longest[OPERATOR_NAME_BYTES_MAX] = 'a';
    longest[OPERATOR_NAME_BYTES_MAX + 1] = '\0';
    assert_false(withdraw_operator_name_valid(longest));
    assert_true(withdraw_operator_name_valid("kim"));
    assert_true(withdraw_operator_name_valid("ops.kim-2_x@example.com"));
    const char *bad[] = {"", "a b", "kim\n", "tab\there", "\xea\xb9\x80", "semi;colon", "q\"", "sl/ash"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (withdraw_operator_name_valid(bad[i])) {
            fail_msg("operator name %zu accepted", i);
        }
    }
    assert_false(withdraw_operator_name_valid(NULL));
}

static void test_memos(void **state)
{
    (void)state;
    static char longest[MEMO_BYTES_MAX + 2];
    memset(longest, 'm', sizeof(longest));
    longest[MEMO_BYTES_MAX] = '\0';
    assert_true(withdraw_memo_valid(longest));
    longest[MEMO_BYTES_MAX] = 'm';
    longest[MEMO_BYTES_MAX + 1] = '\0';
    assert_false(withdraw_memo_valid(longest));
    assert_true(withdraw_memo_valid("holder name mismatch"));
    assert_true(withdraw_memo_valid("\xec\x98\x88\xea\xb8\x88\xec\xa3\xbc \xeb\xb6\x88\xec\x9d\xbc\xec\xb9\x98")); /* Korean */
    assert_false(withdraw_memo_valid(""));
    assert_false(withdraw_memo_valid("   "));
    assert_false(withdraw_memo_valid("two\nlines"));
    assert_false(withdraw_memo_valid("bad \xff byte"));
    assert_false(withdraw_memo_valid("\x7f"));
    assert_false(withdraw_memo_valid(NULL));
}

/* A withdrawal as money_quote() makes it, for the checks below. */
static struct withdrawal quoted(int64_t amount, int64_t fee, int64_t total)
{
    struct withdrawal withdrawal;
    memset(&withdrawal, 0, sizeof(withdrawal));
    withdrawal.amount_won = amount;
    withdrawal.fee_won = fee;
    withdrawal.total_amount_won = total;
    return withdrawal;
}

static void expect_request(int64_t amount, int64_t fee, int64_t total, int64_t daily_limit,
                           cash_result expected)
{
    struct withdrawal withdrawal = quoted(amount, fee, total);
    cash_result result = withdraw_request_check(&withdrawal, daily_limit);
    if (result != expected) {
        fail_msg("amount %lld fee %lld total %lld limit %lld: got %d, expected %d",
                 (long long)amount, (long long)fee, (long long)total, (long long)daily_limit,
                 (int)result, (int)expected);
    }
}

/* SPEC 3: the amounts of a quote, and a daily limit, or the caller made a mistake. */
static void test_request_check(void **state)
{
    (void)state;
    expect_request(18500, 1500, 20000, 100000000, CASH_OK);
    expect_request(1, 0, 1, 1, CASH_OK);
    expect_request(1, AMOUNT_WON_ABSOLUTE_MAX - 1, AMOUNT_WON_ABSOLUTE_MAX, INT64_MAX, CASH_OK);
    expect_request(AMOUNT_WON_ABSOLUTE_MAX, 0, AMOUNT_WON_ABSOLUTE_MAX, 1, CASH_OK);
    /* Amounts that do not add up, either way. */
    expect_request(18500, 1501, 20000, 100000000, CASH_VALIDATION_ERROR);
    expect_request(18500, 1499, 20000, 100000000, CASH_VALIDATION_ERROR);
    expect_request(20001, 0, 20000, 100000000, CASH_VALIDATION_ERROR);
    /* Nothing reaches the bank, a negative fee, a negative total. */
    expect_request(0, 20000, 20000, 100000000, CASH_VALIDATION_ERROR);
    expect_request(-1, 20001, 20000, 100000000, CASH_VALIDATION_ERROR);
    expect_request(20001, -1, 20000, 100000000, CASH_VALIDATION_ERROR);
    expect_request(1, 0, -1, 100000000, CASH_VALIDATION_ERROR);
    expect_request(1, 0, 0, 100000000, CASH_VALIDATION_ERROR);
    /* Beyond any amount, though it adds up. */
    expect_request(AMOUNT_WON_ABSOLUTE_MAX, 1, AMOUNT_WON_ABSOLUTE_MAX + 1, INT64_MAX,
                   CASH_VALIDATION_ERROR);
    expect_request(AMOUNT_WON_ABSOLUTE_MAX + 1, 0, AMOUNT_WON_ABSOLUTE_MAX + 1, INT64_MAX,
                   CASH_VALIDATION_ERROR);
    /* At the ends of int64_t, where amount + fee would overflow. */
    expect_request(INT64_MAX, 1, INT64_MIN, 100000000, CASH_VALIDATION_ERROR);
    expect_request(INT64_MAX, INT64_MAX, -2, 100000000, CASH_VALIDATION_ERROR);
    expect_request(1, INT64_MAX, INT64_MIN, 100000000, CASH_VALIDATION_ERROR);
    expect_request(INT64_MAX, 0, INT64_MAX, 100000000, CASH_VALIDATION_ERROR);
    expect_request(INT64_MIN, 0, INT64_MIN, 100000000, CASH_VALIDATION_ERROR);
    expect_request(1, INT64_MIN, 1, 100000000, CASH_VALIDATION_ERROR);
    /* The daily limit: at least 1 won. */
    expect_request(18500, 1500, 20000, 0, CASH_VALIDATION_ERROR);
    expect_request(18500, 1500, 20000, -1, CASH_VALIDATION_ERROR);
    expect_request(18500, 1500, 20000, INT64_MIN, CASH_VALIDATION_ERROR);
    expect_request(18500, 1500, 20000, 1, CASH_OK); /* the daily limit refuses it, later */
}

static struct bank_account bank_sample(void)
{
    struct bank_account bank;
    memset(&bank, 0, sizeof(bank));
    strcpy(bank.account_id, "ACCOUNT000001A");
    strcpy(bank.bank_code, "088");
    strcpy(bank.sealed_number, "k1:c2VhbGVk");
    strcpy(bank.masked_number, "******7890");
    strcpy(bank.holder_name, "HONG GILDONG");
    bank.created_ms = 1000;
    bank.updated_ms = 2000;
    return bank;
}

/* SPEC 3, 4: the caller's fields stay, the bank account is copied, the rest starts afresh. */
static void test_build(void **state)
{
    (void)state;
    struct withdrawal request = quoted(18500, 1500, 20000);
    strcpy(request.withdraw_id, "0000000000000000000000000000000W");
    strcpy(request.account_id, "ACCOUNT000001A");
    strcpy(request.member_id, "MEMBER0000001M");
    request.created_ms = 1700000000123;
    /* What a caller has no business setting is overwritten, not taken. */
    strcpy(request.bank_code, "999");
    strcpy(request.memo, "stale");
    strcpy(request.transaction_id, "T-1");
    request.transaction_ms = 5;
    request.status = WITHDRAW_COMPLETED;
    request.is_processing = true;
    request.confirmed_count = 2;
    request.updated_ms = 7;
    struct bank_account bank = bank_sample();
    struct withdrawal built;
    memset(&built, 0xa5, sizeof(built));
    withdraw_build(&request, &bank, 1699999999987, &built);
    assert_string_equal(built.withdraw_id, request.withdraw_id);
    assert_string_equal(built.account_id, request.account_id);
    assert_string_equal(built.member_id, request.member_id);
    assert_int_equal(built.amount_won, 18500);
    assert_int_equal(built.fee_won, 1500);
    assert_int_equal(built.total_amount_won, 20000);
    assert_int_equal(built.created_ms, 1700000000123);
    assert_int_equal(built.updated_ms, 1700000000123);
    assert_string_equal(built.bank_code, "088");
    assert_string_equal(built.sealed_number, "k1:c2VhbGVk");
    assert_string_equal(built.masked_number, "******7890");
    assert_string_equal(built.holder_name, "HONG GILDONG");
    assert_int_equal(built.status, WITHDRAW_PENDING);
    assert_false(built.is_processing);
    assert_int_equal(built.confirmed_count, 0);
    assert_string_equal(built.memo, "");
    assert_string_equal(built.transaction_id, "");
    assert_int_equal(built.transaction_ms, 0);
    assert_int_equal(built.confirmed_ms, 1699999999000); /* whole seconds (SPEC 1) */
}

static int64_t built_confirmed_ms(int64_t factor_confirmed_ms)
{
    struct withdrawal request = quoted(1, 0, 1);
    struct bank_account bank = bank_sample();
    struct withdrawal built;
    withdraw_build(&request, &bank, factor_confirmed_ms, &built);
    return built.confirmed_ms;
}

/* SPEC 1: cut to whole seconds toward zero, as SQL's % does in the one-statement path. */
static void test_build_whole_seconds(void **state)
{
    (void)state;
    assert_int_equal(built_confirmed_ms(1700000000000), 1700000000000);
    assert_int_equal(built_confirmed_ms(1700000000999), 1700000000000);
    assert_int_equal(built_confirmed_ms(1700000001000), 1700000001000);
    assert_int_equal(built_confirmed_ms(999), 0);
    assert_int_equal(built_confirmed_ms(0), 0);
    assert_int_equal(built_confirmed_ms(-1500), -1000);
    assert_int_equal(built_confirmed_ms(INT64_MAX), INT64_MAX - INT64_MAX % 1000);
    assert_int_equal(built_confirmed_ms(INT64_MIN), INT64_MIN - INT64_MIN % 1000);
}

/* The request may be built in place. */
static void test_build_in_place(void **state)
{
    (void)state;
    struct withdrawal withdrawal = quoted(18500, 1500, 20000);
    withdrawal.created_ms = 42000;
    strcpy(withdrawal.memo, "stale");
    struct bank_account bank = bank_sample();
    withdraw_build(&withdrawal, &bank, 41999, &withdrawal);
    assert_int_equal(withdrawal.total_amount_won, 20000);
    assert_string_equal(withdrawal.holder_name, "HONG GILDONG");
    assert_string_equal(withdrawal.memo, "");
    assert_int_equal(withdrawal.confirmed_ms, 41000);
    assert_int_equal(withdrawal.updated_ms, 42000);
}

/* SPEC 4: the whole totalAmount comes back when held money moves to FAILED/REJECTED/CANCELED. */
static void test_refund(void **state)
{
    (void)state;
    const int64_t totals[] = {1, 20000, AMOUNT_WON_ABSOLUTE_MAX};
    for (size_t i = 0; i < sizeof(totals) / sizeof(totals[0]); i++) {
        struct withdrawal withdrawal = quoted(totals[i], 0, totals[i]);
        for (int from = 0; from < WITHDRAW_STATUS_COUNT; from++) {
            for (int to = 0; to < WITHDRAW_STATUS_COUNT; to++) {
                withdrawal.status = (enum withdraw_status)from;
                bool held = from == WITHDRAW_PENDING || from == WITHDRAW_CONFIRMED;
                bool returns =
                    to == WITHDRAW_FAILED || to == WITHDRAW_REJECTED || to == WITHDRAW_CANCELED;
                int64_t expected = held && returns ? totals[i] : 0;
                assert_int_equal(withdraw_refund_won(&withdrawal, (enum withdraw_status)to),
                                 expected);
            }
        }
    }
}

/* Every allowed move into a refunded status refunds exactly once; no other move refunds. */
static void test_refund_follows_the_moves(void **state)
{
    (void)state;
    struct withdrawal withdrawal = quoted(18500, 1500, 20000);
    size_t refunds = 0;
    for (int from = 0; from < WITHDRAW_STATUS_COUNT; from++) {
        for (int to = 0; to < WITHDRAW_STATUS_COUNT; to++) {
            for (int processing = 0; processing < 2; processing++) {
                if (!withdraw_transition_allowed((enum withdraw_status)from,
                                                 (enum withdraw_status)to, processing != 0)) {
                    continue;
                }
                withdrawal.status = (enum withdraw_status)from;
                withdrawal.is_processing = processing != 0;
                int64_t refund = withdraw_refund_won(&withdrawal, (enum withdraw_status)to);
                assert_int_equal(refund,
                                 withdraw_status_is_refunded((enum withdraw_status)to) ? 20000 : 0);
                refunds += refund > 0 ? 1 : 0;
            }
        }
    }
    /* PENDING -> REJECTED, CANCELED; CONFIRMED -> REJECTED, CANCELED, FAILED (x2: in flight). */
    assert_int_equal(refunds, 6);
    /* What has been refunded once is never refunded again. */
    withdrawal.status = WITHDRAW_CANCELED;
    assert_int_equal(withdraw_refund_won(&withdrawal, WITHDRAW_CANCELED), 0);
    withdrawal.status = WITHDRAW_FAILED;
    assert_int_equal(withdraw_refund_won(&withdrawal, WITHDRAW_REJECTED), 0);
}

static enum withdraw_confirm_action expected_action(enum withdraw_status status, bool processing,
                                                    bool confirmed_by_operator)
{
    if (confirmed_by_operator && (status == WITHDRAW_PENDING || status == WITHDRAW_CONFIRMED)) {
        return WITHDRAW_CONFIRM_REPEAT;
    }
    return status == WITHDRAW_PENDING && !processing ? WITHDRAW_CONFIRM_COUNT
                                                     : WITHDRAW_CONFIRM_REFUSED;
}

/* SPEC 4, 6: every status, in flight or not, confirmed by this operator before or not. */
static void test_confirm_decide(void **state)
{
    (void)state;
    struct withdrawal withdrawal = quoted(18500, 1500, 20000);
    size_t counted = 0;
    for (int status = 0; status < WITHDRAW_STATUS_COUNT; status++) {
        for (int processing = 0; processing < 2; processing++) {
            for (int before = 0; before < 2; before++) {
                withdrawal.status = (enum withdraw_status)status;
                withdrawal.is_processing = processing != 0;
                enum withdraw_confirm_action action = withdraw_confirm_decide(&withdrawal, before);
                assert_int_equal(action, expected_action((enum withdraw_status)status,
                                                         processing != 0, before != 0));
                counted += action == WITHDRAW_CONFIRM_COUNT ? 1 : 0;
            }
        }
    }
    assert_int_equal(counted, 1);
    /* A repeat answers unchanged even with a payout in flight; a new operator is refused. */
    withdrawal.status = WITHDRAW_CONFIRMED;
    withdrawal.is_processing = true;
    assert_int_equal(withdraw_confirm_decide(&withdrawal, true), WITHDRAW_CONFIRM_REPEAT);
    assert_int_equal(withdraw_confirm_decide(&withdrawal, false), WITHDRAW_CONFIRM_REFUSED);
    withdrawal.status = WITHDRAW_COMPLETED;
    assert_int_equal(withdraw_confirm_decide(&withdrawal, true), WITHDRAW_CONFIRM_REFUSED);
}

static void expect_counted(int64_t operators, int64_t total, int64_t dual_at, int64_t required,
                           enum withdraw_status status)
{
    struct withdraw_confirm_outcome outcome = withdraw_confirm_counted(operators, total, dual_at);
    assert_int_equal(outcome.confirmed_count, operators);
    assert_int_equal(outcome.required, required);
    assert_int_equal(outcome.status, status);
}

/* SPEC 4, 6: PENDING with the count until enough distinct operators, then CONFIRMED. */
static void test_confirm_counted(void **state)
{
    (void)state;
    const int64_t dual_at = 10000000;
    /* Below the threshold one operator is enough. */
    expect_counted(1, 9999999, dual_at, 1, WITHDRAW_CONFIRMED);
    expect_counted(1, 1, dual_at, 1, WITHDRAW_CONFIRMED);
    /* From exactly the threshold upwards, two. */
    expect_counted(1, dual_at, dual_at, 2, WITHDRAW_PENDING);
    expect_counted(2, dual_at, dual_at, 2, WITHDRAW_CONFIRMED);
    expect_counted(1, AMOUNT_WON_ABSOLUTE_MAX, dual_at, 2, WITHDRAW_PENDING);
    expect_counted(2, AMOUNT_WON_ABSOLUTE_MAX, dual_at, 2, WITHDRAW_CONFIRMED);
    expect_counted(1, INT64_MAX, INT64_MAX, 2, WITHDRAW_PENDING);
    expect_counted(1, INT64_MAX - 1, INT64_MAX, 1, WITHDRAW_CONFIRMED);
    /* A threshold of 0: always two. */
    expect_counted(1, 1, 0, 2, WITHDRAW_PENDING);
    expect_counted(2, 1, 0, 2, WITHDRAW_CONFIRMED);
    /* No operator yet is not a confirmation; more than needed is still CONFIRMED. */
    expect_counted(0, 1, dual_at, 1, WITHDRAW_PENDING);
    expect_counted(0, dual_at, dual_at, 2, WITHDRAW_PENDING);
    expect_counted(3, dual_at, dual_at, 2, WITHDRAW_CONFIRMED);
    expect_counted(INT64_MAX, dual_at, dual_at, 2, WITHDRAW_CONFIRMED);
    expect_counted(-1, 1, dual_at, 1, WITHDRAW_PENDING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_pair),
        cmocka_unit_test(test_never_backwards_or_out_of_an_end),
        cmocka_unit_test(test_cancelable),
        cmocka_unit_test(test_live_and_refunded),
        cmocka_unit_test(test_confirmations_required),
        cmocka_unit_test(test_operator_names),
        cmocka_unit_test(test_memos),
        cmocka_unit_test(test_request_check),
        cmocka_unit_test(test_build),
        cmocka_unit_test(test_build_whole_seconds),
        cmocka_unit_test(test_build_in_place),
        cmocka_unit_test(test_refund),
        cmocka_unit_test(test_refund_follows_the_moves),
        cmocka_unit_test(test_confirm_decide),
        cmocka_unit_test(test_confirm_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
