#include "domain/withdraw_state.h"

/*
 * SPEC 4: PENDING -> CONFIRMED (an operator) -> COMPLETED | FAILED (the payout worker).
 * PENDING or CONFIRMED, while no payout is in flight -> REJECTED (operator) | CANCELED (account).
 * Every other pair, including a status to itself, is refused: a status never moves backwards.
 */
bool withdraw_transition_allowed(enum withdraw_status from, enum withdraw_status to,
                                 bool is_processing)
{
    switch (from) {
    case WITHDRAW_PENDING:
        if (is_processing) {
            return false; /* a PENDING withdrawal is never sent to the bank */
        }
        return to == WITHDRAW_CONFIRMED || to == WITHDRAW_REJECTED || to == WITHDRAW_CANCELED;
    case WITHDRAW_CONFIRMED:
        if (to == WITHDRAW_COMPLETED || to == WITHDRAW_FAILED) {
            return true;
        }
        return !is_processing && (to == WITHDRAW_REJECTED || to == WITHDRAW_CANCELED);
    case WITHDRAW_COMPLETED:
    case WITHDRAW_FAILED:
    case WITHDRAW_REJECTED:
    case WITHDRAW_CANCELED:
        return false;
    }
    return false;
}

/* SPEC 4: the account cancels only PENDING or CONFIRMED with no payout in flight. */
bool withdraw_cancelable(const struct withdrawal *withdrawal)
{
    return withdraw_transition_allowed(withdrawal->status, WITHDRAW_CANCELED,
                                       withdrawal->is_processing);
}

/* SPEC 3: the daily limit counts what is held or paid out. */
bool withdraw_status_is_live(enum withdraw_status status)
{
    return status == WITHDRAW_PENDING || status == WITHDRAW_CONFIRMED ||
           status == WITHDRAW_COMPLETED;
}

/* SPEC 4: FAILED, REJECTED and CANCELED returned the whole totalAmount. */
bool withdraw_status_is_refunded(enum withdraw_status status)
{
    return status == WITHDRAW_FAILED || status == WITHDRAW_REJECTED || status == WITHDRAW_CANCELED;
}
