#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "common/limits.h"
#include "domain/ledger.h"

static void expect_step(int64_t old_balance, int64_t change, int64_t new_balance)
{
    struct ledger_step step;
    memset(&step, 0xa5, sizeof(step));
    assert_int_equal(ledger_step_compute(old_balance, change, &step), CASH_OK);
    assert_int_equal(step.old_balance_won, old_balance);
    assert_int_equal(step.change_won, change);
    assert_int_equal(step.new_balance_won, new_balance);
    assert_true(ledger_step_matches(&step, old_balance, new_balance));
}

static void expect_refused(int64_t old_balance, int64_t change, cash_result expected)
{
    struct ledger_step step;
    memset(&step, 0x5a, sizeof(step));
    struct ledger_step untouched = step;
    assert_int_equal(ledger_step_compute(old_balance, change, &step), expected);
    assert_memory_equal(&step, &untouched, sizeof(step));
}

/* SPEC 3: the guard's operand is the size of a debit, 0 for a credit. */
static void test_floor(void **state)
{
    (void)state;
    assert_int_equal(ledger_balance_floor_won(-1), 1);
    assert_int_equal(ledger_balance_floor_won(-15000), 15000);
    assert_int_equal(ledger_balance_floor_won(-AMOUNT_WON_ABSOLUTE_MAX), AMOUNT_WON_ABSOLUTE_MAX);
    assert_int_equal(ledger_balance_floor_won(1), 0);
    assert_int_equal(ledger_balance_floor_won(AMOUNT_WON_ABSOLUTE_MAX), 0);
    assert_int_equal(ledger_balance_floor_won(0), 0);
}

static void test_credit(void **state)
{
    (void)state;
    expect_step(0, 1, 1);
    expect_step(0, 20000, 20000);
    expect_step(5000, 15000, 20000);
    expect_step(0, AMOUNT_WON_ABSOLUTE_MAX, AMOUNT_WON_ABSOLUTE_MAX);
    /* The largest balance that still takes the credit, and one won more. */
    expect_step(INT64_MAX - 1, 1, INT64_MAX);
    expect_step(INT64_MAX - AMOUNT_WON_ABSOLUTE_MAX, AMOUNT_WON_ABSOLUTE_MAX, INT64_MAX);
    expect_refused(INT64_MAX, 1, CASH_VALIDATION_ERROR);
    expect_refused(INT64_MAX - AMOUNT_WON_ABSOLUTE_MAX + 1, AMOUNT_WON_ABSOLUTE_MAX,
                   CASH_VALIDATION_ERROR);
}

static void test_debit(void **state)
{
    (void)state;
    expect_step(20000, -15000, 5000);
    /* Exactly the balance: to zero, not below; one won more is not enough. */
    expect_step(15000, -15000, 0);
    expect_refused(14999, -15000, CASH_NOT_ENOUGH_BALANCE);
    expect_refused(0, -1, CASH_NOT_ENOUGH_BALANCE);
    expect_step(1, -1, 0);
    expect_step(AMOUNT_WON_ABSOLUTE_MAX, -AMOUNT_WON_ABSOLUTE_MAX, 0);
    expect_refused(AMOUNT_WON_ABSOLUTE_MAX - 1, -AMOUNT_WON_ABSOLUTE_MAX, CASH_NOT_ENOUGH_BALANCE);
    expect_step(INT64_MAX, -AMOUNT_WON_ABSOLUTE_MAX, INT64_MAX - AMOUNT_WON_ABSOLUTE_MAX);
    expect_step(INT64_MAX, -1, INT64_MAX - 1);
}

/* A balance below zero is below every floor: refused as the SQL guard would refuse it. */
static void test_negative_balance(void **state)
{
    (void)state;
    expect_refused(-1, 1, CASH_NOT_ENOUGH_BALANCE);
    expect_refused(-1, -1, CASH_NOT_ENOUGH_BALANCE);
    expect_refused(INT64_MIN, AMOUNT_WON_ABSOLUTE_MAX, CASH_NOT_ENOUGH_BALANCE);
    expect_refused(INT64_MIN, -AMOUNT_WON_ABSOLUTE_MAX, CASH_NOT_ENOUGH_BALANCE);
}

/* No change, or one beyond any amount, is not a ledger entry: refused before the balance. */
static void test_change_out_of_range(void **state)
{
    (void)state;
    expect_refused(1000, 0, CASH_VALIDATION_ERROR);
    expect_refused(0, 0, CASH_VALIDATION_ERROR);
    expect_refused(INT64_MAX, AMOUNT_WON_ABSOLUTE_MAX + 1, CASH_VALIDATION_ERROR);
    expect_refused(INT64_MAX, -AMOUNT_WON_ABSOLUTE_MAX - 1, CASH_VALIDATION_ERROR);
    expect_refused(0, INT64_MAX, CASH_VALIDATION_ERROR);
    expect_refused(INT64_MAX, INT64_MIN, CASH_VALIDATION_ERROR);
    expect_refused(0, INT64_MIN, CASH_VALIDATION_ERROR);
}

/* Whatever the database answers, only the exact step matches; nothing overflows comparing. */
static void test_matches(void **state)
{
    (void)state;
    struct ledger_step step;
    assert_int_equal(ledger_step_compute(20000, -15000, &step), CASH_OK);
    assert_true(ledger_step_matches(&step, 20000, 5000));
    assert_false(ledger_step_matches(&step, 20001, 5001)); /* the same change from elsewhere */
    assert_false(ledger_step_matches(&step, 20000, 5001));
    assert_false(ledger_step_matches(&step, 19999, 5000));
    assert_false(ledger_step_matches(&step, 20000, -1));
    assert_false(ledger_step_matches(&step, INT64_MAX, INT64_MIN));
    assert_false(ledger_step_matches(&step, INT64_MIN, INT64_MAX));
}

/* Every small case against plain arithmetic: the floor and the step say the same. */
static void test_small_cases(void **state)
{
    (void)state;
    for (int64_t balance = -3; balance <= 6; balance++) {
        for (int64_t change = -6; change <= 6; change++) {
            struct ledger_step step;
            cash_result result = ledger_step_compute(balance, change, &step);
            if (change == 0) {
                assert_int_equal(result, CASH_VALIDATION_ERROR);
            } else if (balance < ledger_balance_floor_won(change) || balance + change < 0) {
                assert_int_equal(result, CASH_NOT_ENOUGH_BALANCE);
            } else {
                assert_int_equal(result, CASH_OK);
                assert_int_equal(step.new_balance_won, balance + change);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_floor),
        cmocka_unit_test(test_credit),
        cmocka_unit_test(test_debit),
        cmocka_unit_test(test_negative_balance),
        cmocka_unit_test(test_change_out_of_range),
        cmocka_unit_test(test_matches),
        cmocka_unit_test(test_small_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
