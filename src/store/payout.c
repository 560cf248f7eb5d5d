/*
 * payout.c - the payout worker's side of a withdrawal (SPEC 4), written once over the driver
 * seam: claiming a CONFIRMED withdrawal, renewing the claim, and recording the bank's answer.
 *
 * A claim is one conditional UPDATE (status CONFIRMED and either not processing or processing
 * under a lease that ran out) that must change one row. Two workers that picked the same row:
 * on PostgreSQL the second UPDATE waits for the first, re-reads the row, finds it no longer
 * claimable and changes nothing; on SQLite the writers follow one another and the second finds
 * the same. The claim is then tried again with another pick. The settlement is guarded by the
 * claim's owner, so a worker that lost its claim can never record an outcome and a FAILED refund
 * is written at most once. A FAILED settlement moves money, so it takes the account's lock before
 * the withdrawal's (withdrawal_lock_with_account), as every money move does.
 */
#include <assert.h>
#include <string.h>

#include "domain/names.h"
#include "domain/withdraw_state.h"
#include "store/store_internal.h"

/* Claims lost to another worker before this call answers CASH_NOT_FOUND. */
#define CLAIM_TRIES_MAX 5
/* The longest bank transaction id (SPEC 4; the column's limit). */
#define TRANSACTION_ID_BYTES_MAX 64

static bool owner_valid(const char *owner)
{
    if (owner == NULL) {
        return false;
    }
    size_t length = strnlen(owner, PAYOUT_OWNER_BYTES_MAX + 1);
    return length >= 1 && length <= PAYOUT_OWNER_BYTES_MAX;
}

/* ---- claim ---- */

struct claim_context {
    struct withdraw_claim *claim;
    struct withdrawal out;
};

/* The oldest claimable withdrawal: one not processing first, else one whose lease ran out. */
static cash_result claim_pick(struct db_tx *tx, int64_t now_ms,
                              char withdraw_id[WITHDRAW_ID_LENGTH + 1], bool *in_flight)
{
    struct db_stmt *stmt = db_statement(tx, SQL_CLAIM_PICK);
    db_bind_int64(stmt, now_ms);
    cash_result result = db_step(stmt);
    if (result != CASH_OK) {
        return result;
    }
    struct db_row row;
    db_row_start(&row, stmt);
    db_row_text(&row, withdraw_id, WITHDRAW_ID_LENGTH + 1);
    *in_flight = db_row_bool(&row);
    return db_row_check(&row, "claim pick");
}

/* The conditional UPDATE: CASH_INVALID_STATUS if another worker took it meanwhile. */
static cash_result claim_take(struct db_tx *tx, const struct withdraw_claim *claim,
                              const char *withdraw_id)
{
    struct db_stmt *stmt = db_statement(tx, SQL_CLAIM_TAKE);
    db_bind_int64(stmt, claim->now_ms);
    db_bind_text(stmt, claim->owner);
    db_bind_int64(stmt, claim->now_ms + claim->lease_ms);
    db_bind_text(stmt, withdraw_id);
    return db_exec_one(stmt, CASH_INVALID_STATUS);
}

static cash_result claim_body(struct db_tx *tx, void *context_pointer)
{
    struct claim_context *context = context_pointer;
    struct withdraw_claim *claim = context->claim;
    char withdraw_id[WITHDRAW_ID_LENGTH + 1];
    bool in_flight = false;
    cash_result result = claim_pick(tx, claim->now_ms, withdraw_id, &in_flight);
    if (result != CASH_OK) {
        return result; /* CASH_NOT_FOUND: nothing to claim */
    }
    result = claim_take(tx, claim, withdraw_id);
    if (result != CASH_OK) {
        return result;
    }
    const enum withdraw_status from = WITHDRAW_CONFIRMED;
    result = event_insert(tx, withdraw_id, "worker", claim->owner, &from, WITHDRAW_CONFIRMED,
                          in_flight ? "payout claimed again after a lost claim" : "payout claimed",
                          claim->now_ms);
    if (result == CASH_OK) {
        result = withdrawal_read(tx, withdraw_id, &context->out);
    }
    claim->was_in_flight = in_flight;
    return result;
}

/*
 * Claims one withdrawal for the payout (store.h): CASH_VALIDATION_ERROR for an owner out of
 * 1..PAYOUT_OWNER_BYTES_MAX bytes or a lease below 1 ms; CASH_NOT_FOUND when nothing is
 * claimable, or when other workers took CLAIM_TRIES_MAX picks in a row before this one could.
 */
cash_result store_withdraw_claim(struct store *store, struct withdraw_claim *claim,
                                 struct withdrawal *out)
{
    if (!owner_valid(claim->owner) || claim->lease_ms < 1) {
        return CASH_VALIDATION_ERROR;
    }
    struct claim_context context = {.claim = claim};
    cash_result result = CASH_INVALID_STATUS;
    for (int i = 0; i < CLAIM_TRIES_MAX && result == CASH_INVALID_STATUS; i++) {
        result = db_run(store, DB_WRITE, claim_body, &context);
    }
    if (result == CASH_OK) {
        assert(context.out.is_processing && context.out.status == WITHDRAW_CONFIRMED);
        *out = context.out;
    }
    return result == CASH_INVALID_STATUS ? CASH_NOT_FOUND : result;
}

/* ---- renew ---- */

struct renew_context {
    const char *withdraw_id;
    const char *owner;
    int64_t lease_until_ms;
};

static cash_result renew_body(struct db_tx *tx, void *context_pointer)
{
    struct renew_context *context = context_pointer;
    struct db_stmt *stmt = db_statement(tx, SQL_CLAIM_RENEW);
    db_bind_int64(stmt, context->lease_until_ms);
    db_bind_text(stmt, context->withdraw_id);
    db_bind_text(stmt, context->owner);
    return db_exec_one(stmt, CASH_INVALID_STATUS);
}

/*
 * Extends a claim to now_ms + lease_ms (store.h): CASH_VALIDATION_ERROR as for a claim;
 * CASH_INVALID_STATUS if owner no longer holds it.
 */
cash_result store_withdraw_claim_renew(struct store *store, const char *withdraw_id,
                                       const char *owner, int64_t now_ms, int64_t lease_ms)
{
    if (!owner_valid(owner) || lease_ms < 1) {
        return CASH_VALIDATION_ERROR;
    }
    struct renew_context context = {
        .withdraw_id = withdraw_id, .owner = owner, .lease_until_ms = now_ms + lease_ms};
    return db_run(store, DB_WRITE_ONE, renew_body, &context);
}

/* ---- settle ---- */

struct settle_context {
    const struct withdraw_outcome *outcome;
    struct withdrawal out;
};

/* The UPDATE guarded by the claim's owner: CASH_INVALID_STATUS if it no longer holds it. */
static cash_result settle_update(struct db_tx *tx, const struct withdraw_outcome *outcome,
                                 enum withdraw_status to)
{
    struct db_stmt *stmt = db_statement(tx, SQL_SETTLE_UPDATE);
    db_bind_text(stmt, withdraw_status_name(to));
    db_bind_text(stmt, outcome->completed ? outcome->transaction_id : "");
    db_bind_int64(stmt, outcome->completed ? outcome->transaction_ms : 0);
    db_bind_text(stmt, outcome->completed ? "" : outcome->failure_code);
    db_bind_int64(stmt, outcome->now_ms);
    db_bind_text(stmt, outcome->withdraw_id);
    db_bind_text(stmt, outcome->owner);
    return db_exec_one(stmt, CASH_INVALID_STATUS);
}

static cash_result settle_body(struct db_tx *tx, void *context_pointer)
{
    struct settle_context *context = context_pointer;
    const struct withdraw_outcome *outcome = context->outcome;
    const enum withdraw_status to = outcome->completed ? WITHDRAW_COMPLETED : WITHDRAW_FAILED;
    struct withdrawal before;
    /* Only a FAILED one moves money; a COMPLETED one is locked by its UPDATE alone. */
    cash_result result = outcome->completed
                             ? withdrawal_read(tx, outcome->withdraw_id, &before)
                             : withdrawal_lock_with_account(tx, outcome->withdraw_id, &before);
    if (result != CASH_OK) {
        return result;
    }
    if (!withdraw_transition_allowed(before.status, to, before.is_processing) ||
        !before.is_processing) {
        return CASH_INVALID_STATUS;
    }
    result = settle_update(tx, outcome, to);
    if (result == CASH_OK) {
        /* SPEC 3, 4: the refund domain's rule gives (the whole totalAmount of a FAILED one). */
        result = ledger_refund(tx, &before, withdraw_refund_won(&before, to), outcome->history_id,
                               outcome->now_ms);
    }
    if (result == CASH_OK) {
        result = event_insert(tx, before.withdraw_id, "worker", outcome->owner, &before.status, to,
                              outcome->completed ? outcome->transaction_id : outcome->failure_code,
                              outcome->now_ms);
    }
    if (result == CASH_OK) {
        result = withdrawal_read(tx, outcome->withdraw_id, &context->out);
    }
    return result;
}

/* True if the outcome carries what its kind needs, within the columns' limits. */
static bool outcome_valid(const struct withdraw_outcome *outcome)
{
    if (!owner_valid(outcome->owner) || outcome->withdraw_id == NULL) {
        return false;
    }
    if (outcome->completed) {
        size_t length = outcome->transaction_id != NULL
                            ? strnlen(outcome->transaction_id, TRANSACTION_ID_BYTES_MAX + 1)
                            : 0;
        return length >= 1 && length <= TRANSACTION_ID_BYTES_MAX && outcome->transaction_ms > 0;
    }
    size_t length = outcome->failure_code != NULL
                        ? strnlen(outcome->failure_code, PAYOUT_FAILURE_CODE_BYTES_MAX + 1)
                        : 0;
    return length >= 1 && length <= PAYOUT_FAILURE_CODE_BYTES_MAX && outcome->history_id != NULL;
}

/*
 * Records the bank's answer (store.h): CASH_VALIDATION_ERROR for an outcome that lacks what its
 * kind needs (outcome_valid); *out is the withdrawal afterwards.
 */
cash_result store_withdraw_settle(struct store *store, const struct withdraw_outcome *outcome,
                                  struct withdrawal *out)
{
    if (!outcome_valid(outcome)) {
        return CASH_VALIDATION_ERROR;
    }
    struct settle_context context = {.outcome = outcome};
    cash_result result = db_run(store, DB_WRITE, settle_body, &context);
    if (result == CASH_OK) {
        *out = context.out;
    }
    return result;
}
