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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
