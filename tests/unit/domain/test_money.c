#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "common/limits.h"
#include "domain/money.h"

/* The defaults of SPEC 3. */
static struct money_rules default_rules(void)
{
    struct money_rules rules = {
        .fee_rate_bp = 500,
        .fee_fixed_won = 500,
        .withdraw_min_won = 1000,
        .withdraw_max_won = 50000000,
        .daily_limit_won = 100000000,
    };
    return rules;
}

static void expect_quote(const struct money_rules *rules, int64_t total, int64_t fee,
                         int64_t amount)
{
    struct withdraw_quote quote;
    char why[128] = "";
    assert_int_equal(money_quote(rules, total, &quote, why, sizeof(why)), CASH_OK);
    assert_int_equal(quote.total_amount_won, total);
    assert_int_equal(quote.fee_won, fee);
    assert_int_equal(quote.amount_won, amount);
}

static void expect_refused(const struct money_rules *rules, int64_t total)
{
    struct withdraw_quote quote;
    char why[128] = "";
    assert_int_equal(money_quote(rules, total, &quote, why, sizeof(why)), CASH_VALIDATION_ERROR);
    assert_non_null(strstr(why, "amount"));
}

static void test_seed_samples(void **state)
{
    (void)state;
    struct money_rules rules = default_rules();
    /* SPEC 1, sample A and sample B */
    expect_quote(&rules, 20000, 1500, 18500);
    expect_quote(&rules, 10000, 1000, 9000);
    assert_int_equal(money_fee_won(&rules, 20000), 1500);
    assert_int_equal(money_fee_won(&rules, 10000), 1000);
}

static void test_rate_part_rounds_up(void **state)
{
    (void)state;
    struct money_rules rules = default_rules();
    /* 5% of 1001 is 50.05: 51 */
    expect_quote(&rules, 1001, 551, 450);
    /* 5% of 10001 is 500.05: 501 */
    expect_quote(&rules, 10001, 1001, 9000);
    /* 5% of 1020 is exactly 51 */
    expect_quote(&rules, 1020, 551, 469);
    rules.fee_fixed_won = 0;
    rules.fee_rate_bp = 1;
    rules.withdraw_min_won = 1;
    /* 0.01% of 1 won is 0.0001: a whole won */
    assert_int_equal(money_fee_won(&rules, 1), 1);
    assert_int_equal(money_fee_won(&rules, 10000), 1);
    assert_int_equal(money_fee_won(&rules, 10001), 2);
    rules.fee_rate_bp = 0;
    assert_int_equal(money_fee_won(&rules, 12345), 0);
    expect_quote(&rules, 1, 0, 1);
}

static void test_min_and_max(void **state)
{
    (void)state;
    struct money_rules rules = default_rules();
    expect_refused(&rules, 999);
    expect_refused(&rules, 0);
    expect_refused(&rules, -1000);
    expect_quote(&rules, 1000, 550, 450);
    expect_quote(&rules, 50000000, 2500500, 47499500);
    expect_refused(&rules, 50000001);
    expect_refused(&rules, AMOUNT_WON_ABSOLUTE_MAX + 1);
    expect_refused(&rules, INT64_MAX);
}

static void test_net_below_one(void **state)
{
    (void)state;
    struct money_rules rules = default_rules();
    rules.withdraw_min_won = 1;
    /* fee of 500 is 25 + 500 */
    expect_refused(&rules, 500);
    /* 527: ceil(26.35) + 500 = 527, nothing left */
    expect_refused(&rules, 527);
    /* 528: ceil(26.4) + 500 = 527, one won left */
    expect_quote(&rules, 528, 527, 1);
    rules.fee_rate_bp = 10000;
    rules.fee_fixed_won = 0;
    expect_refused(&rules, 1000);
}

static void test_largest_amounts(void **state)
{
    (void)state;
    struct money_rules rules = default_rules();
    rules.withdraw_max_won = AMOUNT_WON_ABSOLUTE_MAX;
    expect_quote(&rules, AMOUNT_WON_ABSOLUTE_MAX, 50000000500LL, 949999999500LL);
    rules.fee_rate_bp = 9999;
    rules.fee_fixed_won = 0;
    expect_quote(&rules, AMOUNT_WON_ABSOLUTE_MAX, 999900000000LL, 100000000LL);
    rules.fee_rate_bp = 10000;
    assert_int_equal(money_fee_won(&rules, AMOUNT_WON_ABSOLUTE_MAX), AMOUNT_WON_ABSOLUTE_MAX);
    rules.fee_fixed_won = AMOUNT_WON_ABSOLUTE_MAX;
    assert_int_equal(money_fee_won(&rules, AMOUNT_WON_ABSOLUTE_MAX), 2 * AMOUNT_WON_ABSOLUTE_MAX);
    expect_refused(&rules, AMOUNT_WON_ABSOLUTE_MAX);
    /* one won less than a round number still rounds up */
    rules.fee_rate_bp = 3;
    rules.fee_fixed_won = 0;
    assert_int_equal(money_fee_won(&rules, AMOUNT_WON_ABSOLUTE_MAX - 1), 300000000LL);
}

static void expect_rules_refused(struct money_rules rules, const char *reason_part)
{
    char why[160] = "";
    assert_int_equal(money_rules_check(&rules, why, sizeof(why)), CASH_VALIDATION_ERROR);
    if (strstr(why, reason_part) == NULL) {
        fail_msg("reason \"%s\" lacks \"%s\"", why, reason_part);
    }
}

static void test_rules_check(void **state)
{
    (void)state;
    char why[160] = "";
    struct money_rules rules = default_rules();
    assert_int_equal(money_rules_check(&rules, why, sizeof(why)), CASH_OK);
    rules.fee_rate_bp = 10000;
    rules.fee_fixed_won = AMOUNT_WON_ABSOLUTE_MAX;
    rules.withdraw_min_won = AMOUNT_WON_ABSOLUTE_MAX;
    rules.withdraw_max_won = AMOUNT_WON_ABSOLUTE_MAX;
    rules.daily_limit_won = 1;
    assert_int_equal(money_rules_check(&rules, why, sizeof(why)), CASH_OK);
    rules = default_rules();
    rules.fee_rate_bp = -1;
    expect_rules_refused(rules, "fee rate");
    rules.fee_rate_bp = 10001;
    expect_rules_refused(rules, "fee rate");
    rules = default_rules();
    rules.fee_fixed_won = -1;
    expect_rules_refused(rules, "fixed fee");
    rules.fee_fixed_won = AMOUNT_WON_ABSOLUTE_MAX + 1;
    expect_rules_refused(rules, "fixed fee");
    rules = default_rules();
    rules.withdraw_min_won = 0;
    expect_rules_refused(rules, "minimum");
    rules = default_rules();
    rules.withdraw_max_won = 999;
    expect_rules_refused(rules, "maximum");
    rules.withdraw_max_won = AMOUNT_WON_ABSOLUTE_MAX + 1;
    expect_rules_refused(rules, "maximum");
    rules = default_rules();
    rules.daily_limit_won = 0;
    expect_rules_refused(rules, "daily");
}

/* SPEC 3: day total + this total may reach the limit, not pass it. */
static void test_daily_limit(void **state)
{
    (void)state;
    const int64_t limit = 100000000;
    assert_false(money_daily_limit_exceeded(0, 20000, limit));
    assert_false(money_daily_limit_exceeded(0, limit, limit));
    assert_true(money_daily_limit_exceeded(0, limit + 1, limit));
    assert_false(money_daily_limit_exceeded(limit - 20000, 20000, limit));
    assert_true(money_daily_limit_exceeded(limit - 19999, 20000, limit));
    assert_true(money_daily_limit_exceeded(limit, 1, limit));
    /* The smallest limit. */
    assert_false(money_daily_limit_exceeded(0, 1, 1));
    assert_true(money_daily_limit_exceeded(1, 1, 1));
    assert_true(money_daily_limit_exceeded(0, 2, 1));
}

/* Nothing overflows at the ends of int64_t, where day total + total would. */
static void test_daily_limit_extremes(void **state)
{
    (void)state;
    assert_false(money_daily_limit_exceeded(0, INT64_MAX, INT64_MAX));
    assert_true(money_daily_limit_exceeded(1, INT64_MAX, INT64_MAX));
    assert_false(money_daily_limit_exceeded(INT64_MAX - 1, 1, INT64_MAX));
    assert_true(money_daily_limit_exceeded(INT64_MAX, 1, INT64_MAX));
    assert_true(money_daily_limit_exceeded(INT64_MAX, INT64_MAX, INT64_MAX));
    assert_true(money_daily_limit_exceeded(INT64_MAX, AMOUNT_WON_ABSOLUTE_MAX, 1));
    assert_true(money_daily_limit_exceeded(0, INT64_MAX, 1));
    assert_true(money_daily_limit_exceeded(0, INT64_MAX, INT64_MAX - 1));
    assert_false(money_daily_limit_exceeded(INT64_MAX - AMOUNT_WON_ABSOLUTE_MAX,
                                            AMOUNT_WON_ABSOLUTE_MAX, INT64_MAX));
}

/* Every small case against plain arithmetic. */
static void test_daily_limit_small_cases(void **state)
{
    (void)state;
    for (int64_t limit = 1; limit <= 6; limit++) {
        for (int64_t total = 1; total <= 8; total++) {
            for (int64_t day_total = 0; day_total <= 8; day_total++) {
                assert_int_equal(money_daily_limit_exceeded(day_total, total, limit),
                                 day_total + total > limit);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_samples),
        cmocka_unit_test(test_rate_part_rounds_up),
        cmocka_unit_test(test_min_and_max),
        cmocka_unit_test(test_net_below_one),
        cmocka_unit_test(test_largest_amounts),
        cmocka_unit_test(test_rules_check),
        cmocka_unit_test(test_daily_limit),
        cmocka_unit_test(test_daily_limit_extremes),
        cmocka_unit_test(test_daily_limit_small_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
