/*
 * ledger.h - the next ledger entry (SPEC 3), pure: from an account's balance and a signed change
 * (a credit > 0, a debit < 0), the balance after it, or why there is none. The store still lets
 * the database guard the change (UPDATE ... WHERE balance >= floor), since only the guard holds
 * against a concurrent writer; these functions compute its operand and check what it returned.
 */
#ifndef CASH_LEDGER_H
#define CASH_LEDGER_H

#include <stdbool.h>
#include <stdint.h>

#include "common/result.h"

/* One balance change as the ledger records it: old_balance_won + change_won = new_balance_won. */
struct ledger_step {
    int64_t old_balance_won;
    int64_t change_won;      /* signed, never 0 */
    int64_t new_balance_won; /* never negative */
};

/*
 * SPEC 3: the least balance a change may start from, the operand of the store's guard
 * `balance >= ?`: the size of a debit, 0 for a credit. change_won is within
 * -AMOUNT_WON_ABSOLUTE_MAX..AMOUNT_WON_ABSOLUTE_MAX (asserted: the caller's own amounts).
 */
int64_t ledger_balance_floor_won(int64_t change_won);

/*
 * SPEC 3: the step from old_balance_won by change_won, in *out on CASH_OK. Any int64 goes in:
 * CASH_VALIDATION_ERROR for a change of 0 or beyond AMOUNT_WON_ABSOLUTE_MAX either way;
 * CASH_NOT_ENOUGH_BALANCE when the old balance is below ledger_balance_floor_won() (a debit
 * larger than the balance, or a balance that is negative already); CASH_VALIDATION_ERROR for a
 * credit the balance cannot hold (INT64_MAX). *out is untouched unless CASH_OK.
 */
cash_result ledger_step_compute(int64_t old_balance_won, int64_t change_won,
                                struct ledger_step *out);

/*
 * True if a balance the database reports before and after a change (read back, or RETURNING)
 * is exactly the step computed for it: anything else means the row changed under the lock.
 */
bool ledger_step_matches(const struct ledger_step *step, int64_t old_balance_won,
                         int64_t new_balance_won);

#endif
