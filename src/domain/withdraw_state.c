#include "domain/withdraw_state.h"

#include <string.h>

#include "common/limits.h"
#include "domain/bank.h"

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

/* SPEC 4: from the threshold upwards two distinct operators confirm. */
int64_t withdraw_confirmations_required(int64_t total_amount_won, int64_t dual_confirm_at_won)
{
    return total_amount_won >= dual_confirm_at_won ? 2 : 1;
}

/* SPEC 3: the amounts of money_quote(), checked without forming a sum that could overflow. */
cash_result withdraw_request_check(const struct withdrawal *request, int64_t daily_limit_won)
{
    int64_t total_won = request->total_amount_won;
    if (request->amount_won < 1 || request->fee_won < 0 || total_won > AMOUNT_WON_ABSOLUTE_MAX) {
        return CASH_VALIDATION_ERROR;
    }
    /* amount_won is in 1..total_won before the subtraction: it cannot overflow. */
    if (request->amount_won > total_won || request->fee_won != total_won - request->amount_won) {
        return CASH_VALIDATION_ERROR;
    }
    return daily_limit_won >= 1 ? CASH_OK : CASH_VALIDATION_ERROR;
}

/* SPEC 3: the bank account as it is at request time goes with the withdrawal (withdraw_state.h). */
void withdraw_build(const struct withdrawal *request, const struct bank_account *bank,
                    int64_t factor_confirmed_ms, struct withdrawal *out)
{
    *out = *request;
    memcpy(out->bank_code, bank->bank_code, sizeof(out->bank_code));
    memcpy(out->sealed_number, bank->sealed_number, sizeof(out->sealed_number));
    memcpy(out->masked_number, bank->masked_number, sizeof(out->masked_number));
    memcpy(out->holder_name, bank->holder_name, sizeof(out->holder_name));
    out->status = WITHDRAW_PENDING;
    out->is_processing = false;
    out->confirmed_count = 0;
    out->memo[0] = '\0';
    out->transaction_id[0] = '\0';
    out->transaction_ms = 0;
    out->confirmed_ms = factor_confirmed_ms - factor_confirmed_ms % 1000; /* whole seconds */
    out->updated_ms = out->created_ms;
}

/* SPEC 4: FAILED, REJECTED and CANCELED return the whole totalAmount, once. */
int64_t withdraw_refund_won(const struct withdrawal *withdrawal, enum withdraw_status to)
{
    bool held = withdrawal->status == WITHDRAW_PENDING || withdrawal->status == WITHDRAW_CONFIRMED;
    return held && withdraw_status_is_refunded(to) ? withdrawal->total_amount_won : 0;
}

/* SPEC 4: the same operator twice counts once; only PENDING takes a new one (withdraw_state.h). */
enum withdraw_confirm_action withdraw_confirm_decide(const struct withdrawal *before,
                                                     bool confirmed_by_operator)
{
    bool open = before->status == WITHDRAW_PENDING || before->status == WITHDRAW_CONFIRMED;
    if (confirmed_by_operator && open) {
        return WITHDRAW_CONFIRM_REPEAT;
    }
    if (before->status != WITHDRAW_PENDING ||
        !withdraw_transition_allowed(before->status, WITHDRAW_CONFIRMED, before->is_processing)) {
        return WITHDRAW_CONFIRM_REFUSED;
    }
    return WITHDRAW_CONFIRM_COUNT;
}

/* SPEC 4: CONFIRMED once enough distinct operators confirmed (withdraw_state.h). */
struct withdraw_confirm_outcome withdraw_confirm_counted(int64_t distinct_operators,
                                                         int64_t total_amount_won,
                                                         int64_t dual_confirm_at_won)
{
    struct withdraw_confirm_outcome outcome = {
        .confirmed_count = distinct_operators,
        .required = withdraw_confirmations_required(total_amount_won, dual_confirm_at_won),
    };
    outcome.status = distinct_operators >= outcome.required ? WITHDRAW_CONFIRMED : WITHDRAW_PENDING;
    return outcome;
}

static bool operator_char_valid(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '@' || c == '-';
}

/* Names an operator in the event history (withdraw_state.h). */
bool withdraw_operator_name_valid(const char *name)
{
    if (name == NULL) {
        return false;
    }
    size_t length = strnlen(name, OPERATOR_NAME_BYTES_MAX + 1);
    if (length == 0 || length > OPERATOR_NAME_BYTES_MAX) {
        return false;
    }
    for (size_t i = 0; i < length; i++) {
        if (!operator_char_valid(name[i])) {
            return false;
        }
    }
    return true;
}

/* A memo an operator gives with a rejection (withdraw_state.h). */
bool withdraw_memo_valid(const char *memo)
{
    if (memo == NULL) {
        return false;
    }
    size_t length = strnlen(memo, MEMO_BYTES_MAX + 1);
    if (length == 0 || length > MEMO_BYTES_MAX || !text_is_clean_utf8(memo, length)) {
        return false;
    }
    for (size_t i = 0; i < length; i++) {
        if (memo[i] != ' ') {
            return true;
        }
    }
    return false; /* blank */
}
