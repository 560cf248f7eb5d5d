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

#include "common/result.h"
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
 * SPEC 3: the caller's part of a new withdrawal (store.h, struct withdraw_create) holds amounts
 * as money_quote() makes them: amount_won >= 1, fee_won >= 0, amount_won + fee_won =
 * total_amount_won <= AMOUNT_WON_ABSOLUTE_MAX; and daily_limit_won >= 1. CASH_OK, else
 * CASH_VALIDATION_ERROR. Any int64 values go in (no overflow, nothing asserted).
 */
cash_result withdraw_request_check(const struct withdrawal *request, int64_t daily_limit_won);

/*
 * SPEC 3, 4: the new withdrawal in *out: the caller's fields of request (ids, amounts,
 * created_ms), the bank account as registered now, PENDING and not processing with no
 * confirmation, memo or bank transaction, confirmed_ms the second factor's confirmation cut to
 * whole seconds (SPEC 1), updated_ms = created_ms.
 */
void withdraw_build(const struct withdrawal *request, const struct bank_account *bank,
                    int64_t factor_confirmed_ms, struct withdrawal *out);

/*
 * SPEC 4: the credit that returns a withdrawal's money when it moves to `to`: the whole
 * total_amount_won when its money is held (PENDING, CONFIRMED) and `to` returns it (FAILED,
 * REJECTED, CANCELED: withdraw_status_is_refunded); 0 for any other move. Whether the move is
 * allowed at all is withdraw_transition_allowed()'s answer.
 */
int64_t withdraw_refund_won(const struct withdrawal *withdrawal, enum withdraw_status to);

/* What an operator's confirmation does to a withdrawal (SPEC 4, 6). */
enum withdraw_confirm_action {
    WITHDRAW_CONFIRM_REPEAT,  /* this operator confirmed it already: unchanged, CASH_OK */
    WITHDRAW_CONFIRM_COUNT,   /* record this operator's confirmation: withdraw_confirm_counted() */
    WITHDRAW_CONFIRM_REFUSED, /* CASH_INVALID_STATUS */
};

/*
 * SPEC 4, 6: a confirmation of before by an operator (confirmed_by_operator: this operator has
 * confirmed it before). A repeat of a PENDING or CONFIRMED one changes nothing; otherwise only a
 * PENDING withdrawal with no payout in flight takes a confirmation; anything else is refused.
 */
enum withdraw_confirm_action withdraw_confirm_decide(const struct withdrawal *before,
                                                     bool confirmed_by_operator);

/* Where a PENDING withdrawal stands once an operator's confirmation is recorded. */
struct withdraw_confirm_outcome {
    int64_t confirmed_count;     /* distinct operators so far */
    int64_t required;            /* withdraw_confirmations_required() */
    enum withdraw_status status; /* CONFIRMED once confirmed_count reaches required, else PENDING */
};

/*
 * SPEC 4, 6: the outcome after distinct_operators have confirmed a withdrawal of
 * total_amount_won (two needed from dual_confirm_at_won upwards, else one).
 */
struct withdraw_confirm_outcome withdraw_confirm_counted(int64_t distinct_operators,
                                                         int64_t total_amount_won,
                                                         int64_t dual_confirm_at_won);

/*
 * An operator's name as recorded in the history: 1..OPERATOR_NAME_BYTES_MAX bytes of letters,
 * digits and . _ @ - (no spaces, so that it prints on one line and cannot be mistaken).
 */
bool withdraw_operator_name_valid(const char *name);

/* A rejection memo: 1..MEMO_BYTES_MAX bytes of valid UTF-8, no control characters, not blank. */
bool withdraw_memo_valid(const char *memo);

#endif
