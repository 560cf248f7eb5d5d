/*
 * withdraw_state.h - the life of a withdrawal (SPEC 4) as pure rules:
 * PENDING -> CONFIRMED -> COMPLETED | FAILED; PENDING|CONFIRMED (not processing) -> REJECTED |
 * CANCELED. A status never moves backwards.
 */
#ifndef CASH_WITHDRAW_STATE_H
#define CASH_WITHDRAW_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/*
 * SPEC 4: distinct operators needed to confirm a withdrawal of total_amount_won: two from
 * dual_confirm_at_won upwards, else one.
 */
int64_t withdraw_confirmations_required(int64_t total_amount_won, int64_t dual_confirm_at_won);

/*
 * An operator's name as recorded in the history: 1..OPERATOR_NAME_BYTES_MAX bytes of letters,
 * digits and . _ @ - (no spaces, so that it prints on one line and cannot be mistaken).
 */
bool withdraw_operator_name_valid(const char *name);

/* A rejection memo: 1..MEMO_BYTES_MAX bytes of valid UTF-8, no control characters, not blank. */
bool withdraw_memo_valid(const char *memo);

#endif
