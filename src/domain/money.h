/*
 * money.h - the money rules of SPEC 3, pure: the fee, the limits, the quote.
 * fee = ceil(total * rate_bp / 10000) + fixed; amount = total - fee, at least 1 won.
 */
#ifndef CASH_MONEY_H
#define CASH_MONEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/result.h"

struct money_rules {
    int64_t fee_rate_bp;      /* 0..10000 */
    int64_t fee_fixed_won;    /* >= 0 */
    int64_t withdraw_min_won; /* >= 1 */
    int64_t withdraw_max_won; /* >= withdraw_min_won, <= AMOUNT_WON_ABSOLUTE_MAX */
    int64_t daily_limit_won;  /* >= 1 */
};

struct withdraw_quote {
    int64_t total_amount_won;
    int64_t fee_won;
    int64_t amount_won;
};

/* The fee for a total in 1..AMOUNT_WON_ABSOLUTE_MAX (no overflow in that range). */
int64_t money_fee_won(const struct money_rules *rules, int64_t total_won);

/*
 * Quotes a withdrawal of total_won: CASH_VALIDATION_ERROR naming "amount" (in why) when the total
 * is below the minimum, above the maximum, or leaves a net amount below 1 won.
 */
cash_result money_quote(const struct money_rules *rules, int64_t total_won,
                        struct withdraw_quote *out, char *why, size_t why_size);

/*
 * SPEC 3: true if a withdrawal of total_won, on top of day_total_won already withdrawn today
 * (live withdrawals only), would go over daily_limit_won; exactly at the limit is allowed.
 * day_total_won >= 0, total_won >= 1 and daily_limit_won >= 1 (asserted: the store reads the
 * first with a check and refuses a request whose other two are out of range).
 */
bool money_daily_limit_exceeded(int64_t day_total_won, int64_t total_won, int64_t daily_limit_won);

/* True if rules are consistent (the ranges above); why names the first bad one. */
cash_result money_rules_check(const struct money_rules *rules, char *why, size_t why_size);

#endif
