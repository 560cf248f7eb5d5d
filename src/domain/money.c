#include "domain/money.h"

#include <assert.h>
#include <stdio.h>

#include "common/limits.h"

#define BASIS_POINTS_PER_WHOLE 10000

/* The largest product below fits in int64_t: 10^12 won * 10^4 bp + 10^4 < 9.2 * 10^18. */
_Static_assert(AMOUNT_WON_ABSOLUTE_MAX <=
                   INT64_MAX / BASIS_POINTS_PER_WHOLE - BASIS_POINTS_PER_WHOLE,
               "the fee of the largest amount cannot overflow");

/* SPEC 3: fee = ceil(total * rate_bp / 10000) + fixed. */
int64_t money_fee_won(const struct money_rules *rules, int64_t total_won)
{
    assert(total_won >= 1 && total_won <= AMOUNT_WON_ABSOLUTE_MAX);
    assert(rules->fee_rate_bp >= 0 && rules->fee_rate_bp <= BASIS_POINTS_PER_WHOLE);
    assert(rules->fee_fixed_won >= 0 && rules->fee_fixed_won <= AMOUNT_WON_ABSOLUTE_MAX);
    int64_t rate_part =
        (total_won * rules->fee_rate_bp + (BASIS_POINTS_PER_WHOLE - 1)) / BASIS_POINTS_PER_WHOLE;
    return rate_part + rules->fee_fixed_won;
}

/* SPEC 3: the total must be within the configured bounds and leave at least 1 won net. */
cash_result money_quote(const struct money_rules *rules, int64_t total_won,
                        struct withdraw_quote *out, char *why, size_t why_size)
{
    if (total_won < rules->withdraw_min_won || total_won < 1) {
        snprintf(why, why_size, "amount must be at least %lld", (long long)rules->withdraw_min_won);
        return CASH_VALIDATION_ERROR;
    }
    if (total_won > rules->withdraw_max_won || total_won > AMOUNT_WON_ABSOLUTE_MAX) {
        snprintf(why, why_size, "amount must be at most %lld", (long long)rules->withdraw_max_won);
        return CASH_VALIDATION_ERROR;
    }
    int64_t fee_won = money_fee_won(rules, total_won);
    int64_t amount_won = total_won - fee_won;
    if (amount_won < 1) {
        snprintf(why, why_size, "amount %lld leaves nothing after the fee of %lld",
                 (long long)total_won, (long long)fee_won);
        return CASH_VALIDATION_ERROR;
    }
    assert(amount_won + fee_won == total_won);
    out->total_amount_won = total_won;
    out->fee_won = fee_won;
    out->amount_won = amount_won;
    return CASH_OK;
}

/* SPEC 3: day_total + total <= limit, written so that nothing overflows (money.h). */
bool money_daily_limit_exceeded(int64_t day_total_won, int64_t total_won, int64_t daily_limit_won)
{
    assert(day_total_won >= 0 && total_won >= 1 && daily_limit_won >= 1);
    /* Both sides of the subtraction are in 1..limit: it cannot overflow. */
    return total_won > daily_limit_won || day_total_won > daily_limit_won - total_won;
}

/* SPEC 3: the ranges of money.h; why names the first setting out of range. */
cash_result money_rules_check(const struct money_rules *rules, char *why, size_t why_size)
{
    if (rules->fee_rate_bp < 0 || rules->fee_rate_bp > BASIS_POINTS_PER_WHOLE) {
        snprintf(why, why_size, "fee rate must be 0 to %d basis points", BASIS_POINTS_PER_WHOLE);
        return CASH_VALIDATION_ERROR;
    }
    if (rules->fee_fixed_won < 0 || rules->fee_fixed_won > AMOUNT_WON_ABSOLUTE_MAX) {
        snprintf(why, why_size, "fixed fee must be 0 to %lld won", AMOUNT_WON_ABSOLUTE_MAX);
        return CASH_VALIDATION_ERROR;
    }
    if (rules->withdraw_min_won < 1 || rules->withdraw_min_won > AMOUNT_WON_ABSOLUTE_MAX) {
        snprintf(why, why_size, "minimum withdrawal must be 1 to %lld won",
                 AMOUNT_WON_ABSOLUTE_MAX);
        return CASH_VALIDATION_ERROR;
    }
    if (rules->withdraw_max_won < rules->withdraw_min_won ||
        rules->withdraw_max_won > AMOUNT_WON_ABSOLUTE_MAX) {
        snprintf(why, why_size, "maximum withdrawal must be from the minimum (%lld) to %lld won",
                 (long long)rules->withdraw_min_won, AMOUNT_WON_ABSOLUTE_MAX);
        return CASH_VALIDATION_ERROR;
    }
    if (rules->daily_limit_won < 1) {
        snprintf(why, why_size, "daily limit must be at least 1 won");
        return CASH_VALIDATION_ERROR;
    }
    return CASH_OK;
}
