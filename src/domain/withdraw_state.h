/*
 * withdraw_state.h - the life of a withdrawal (SPEC 4) as pure rules:
 * PENDING -> CONFIRMED -> COMPLETED | FAILED; PENDING|CONFIRMED (not processing) -> REJECTED |
 * CANCELED. A status never moves backwards.
 */
#ifndef CASH_WITHDRAW_STATE_H
#define CASH_WITHDRAW_STATE_H

#include <stdbool.h>

#include "domain/types.h"

/* True if a withdrawal may move from `from` to `to` (is_processing: a payout is in flight). */
bool withdraw_transition_allowed(enum withdraw_status from, enum withdraw_status to,
                                 bool is_processing);

/* True if the account may cancel it now. */
bool withdraw_cancelable(const struct withdrawal *withdrawal);

/* True while its totalAmount is held or paid (not refunded): counts for the daily limit. */
bool withdraw_status_is_live(enum withdraw_status status);

/* True for statuses that returned the totalAmount to the balance. */
bool withdraw_status_is_refunded(enum withdraw_status status);

#endif
