#include "domain/ledger.h"

#include <assert.h>

#include "common/limits.h"

static bool ledger_change_valid(int64_t change_won)
{
    return change_won != 0 && change_won >= -AMOUNT_WON_ABSOLUTE_MAX &&
           change_won <= AMOUNT_WON_ABSOLUTE_MAX;
}

/* SPEC 3: a debit needs a balance that covers it; a credit needs no balance (ledger.h). */
int64_t ledger_balance_floor_won(int64_t change_won)
{
    assert(change_won >= -AMOUNT_WON_ABSOLUTE_MAX && change_won <= AMOUNT_WON_ABSOLUTE_MAX);
    return change_won < 0 ? -change_won : 0;
}

/* SPEC 3: a balance never goes below zero and never overflows (ledger.h). */
cash_result ledger_step_compute(int64_t old_balance_won, int64_t change_won,
                                struct ledger_step *out)
{
    if (!ledger_change_valid(change_won)) {
        return CASH_VALIDATION_ERROR;
    }
    if (old_balance_won < ledger_balance_floor_won(change_won)) {
        return CASH_NOT_ENOUGH_BALANCE;
    }
    if (change_won > 0 && old_balance_won > INT64_MAX - change_won) {
        return CASH_VALIDATION_ERROR;
    }
    /* No overflow: a debit starts at or above its size, a credit was checked just above. */
    int64_t new_balance_won = old_balance_won + change_won;
    assert(new_balance_won >= 0);
    out->old_balance_won = old_balance_won;
    out->change_won = change_won;
    out->new_balance_won = new_balance_won;
    return CASH_OK;
}

/* Compares with the step, so that no sum of database values is formed (ledger.h). */
bool ledger_step_matches(const struct ledger_step *step, int64_t old_balance_won,
                         int64_t new_balance_won)
{
    return old_balance_won == step->old_balance_won && new_balance_won == step->new_balance_won;
}
