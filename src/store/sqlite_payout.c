/*
 * sqlite_payout.c - the payout worker's side of a withdrawal in the SQLite backend (SPEC 4):
 * claiming a CONFIRMED withdrawal, renewing the claim, and recording the bank's answer.
 *
 * A claim is a conditional UPDATE (status CONFIRMED and either not processing or processing under
 * a lease that ran out) whose changed row count must be 1; the settlement is another, guarded by
 * the owner of the claim, so that a worker that lost its claim can never record an outcome and a
 * FAILED refund is written at most once.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "domain/names.h"
#include "domain/withdraw_state.h"
#include "store/sqlite_internal.h"

#define CLAIM_TRIES_MAX 5

static const char SQL_CLAIM_PICK[] =
    "SELECT withdraw_id, is_processing FROM withdrawals WHERE status = 'CONFIRMED'"
    " AND (is_processing = 0 OR processing_lease_ms < ?) ORDER BY is_processing DESC,"
    " withdraw_id LIMIT 1";
static const char SQL_CLAIM_TAKE[] =
    "UPDATE withdrawals SET processing_started_ms = CASE WHEN is_processing = 0 THEN ?"
    " ELSE processing_started_ms END, is_processing = 1, processing_owner = ?,"
    " processing_lease_ms = ?, updated_ms = ? WHERE withdraw_id = ? AND status = 'CONFIRMED'"
    " AND (is_processing = 0 OR processing_lease_ms < ?)";
static const char SQL_CLAIM_RENEW[] =
    "UPDATE withdrawals SET processing_lease_ms = ? WHERE withdraw_id = ?"
    " AND status = 'CONFIRMED' AND is_processing = 1 AND processing_owner = ?";
static const char SQL_SETTLE[] =
    "UPDATE withdrawals SET status = ?, is_processing = 0, transaction_id = ?,"
    " transaction_ms = ?, memo = ?, failure_code = ?, updated_ms = ? WHERE withdraw_id = ?"
    " AND status = 'CONFIRMED' AND is_processing = 1 AND processing_owner = ?";
static const char SQL_PAYOUT_GET[] =
    "SELECT " SQLITE_WITHDRAW_COLUMNS " FROM withdrawals WHERE withdraw_id = ?";

static cash_result payout_read(struct sqlite_conn *conn, const char *withdraw_id,
                               struct withdrawal *out)
{
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_PAYOUT_GET);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, withdraw_id);
    cash_result result = sqlite_bind_check(conn, &binder, "payout get");
    if (result == CASH_OK) {
        result = sqlite_step_row(conn, stmt, "payout get");
    }
    if (result != CASH_OK) {
        return result;
    }
    struct sqlite_row row;
    sqlite_withdraw_row_read(stmt, out, &row);
    return sqlite_row_check(&row, "payout get");
}

static cash_result run_update(struct sqlite_conn *conn, struct sqlite_binder *binder,
                              const char *what)
{
    cash_result result = sqlite_bind_check(conn, binder, what);
    int64_t changes = 0;
    if (result == CASH_OK) {
        result = sqlite_step_done(conn, binder->stmt, what, &changes);
    }
    if (result == CASH_OK && changes != 1) {
        result = CASH_INVALID_STATUS;
    }
    return result;
}

/* ---- claim ---- */

struct claim_context {
    struct withdraw_claim *claim;
    struct withdrawal out;
};

static cash_result claim_pick(struct sqlite_conn *conn, int64_t now_ms,
                              char withdraw_id[WITHDRAW_ID_LENGTH + 1], bool *in_flight)
{
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_CLAIM_PICK);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_int64(&binder, now_ms);
    cash_result result = sqlite_bind_check(conn, &binder, "claim pick");
    if (result == CASH_OK) {
        result = sqlite_step_row(conn, stmt, "claim pick");
    }
    if (result != CASH_OK) {
        return result;
    }
    struct sqlite_row row;
    sqlite_row_start(&row, stmt);
    sqlite_row_text(&row, withdraw_id, WITHDRAW_ID_LENGTH + 1);
    *in_flight = sqlite_row_bool(&row);
    return sqlite_row_check(&row, "claim pick");
}

static cash_result claim_body(struct sqlite_conn *conn, void *context_pointer)
{
    struct claim_context *context = context_pointer;
    struct withdraw_claim *claim = context->claim;
    char withdraw_id[WITHDRAW_ID_LENGTH + 1];
    bool in_flight = false;
    cash_result result = claim_pick(conn, claim->now_ms, withdraw_id, &in_flight);
    if (result != CASH_OK) {
        return result; /* CASH_NOT_FOUND: nothing to claim */
    }
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_CLAIM_TAKE);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_int64(&binder, claim->now_ms);
    sqlite_bind_text(&binder, claim->owner);
    sqlite_bind_int64(&binder, claim->now_ms + claim->lease_ms);
    sqlite_bind_int64(&binder, claim->now_ms);
    sqlite_bind_text(&binder, withdraw_id);
    sqlite_bind_int64(&binder, claim->now_ms);
    result = run_update(conn, &binder, "claim take");
    if (result != CASH_OK) {
        return result;
    }
    char actor[WITHDRAW_ACTOR_BYTES_MAX + 1];
    snprintf(actor, sizeof actor, "worker:%s", claim->owner);
    const enum withdraw_status from = WITHDRAW_CONFIRMED;
    result = event_insert(&conn->tx, withdraw_id, actor, &from, WITHDRAW_CONFIRMED,
                          in_flight ? "payout claimed again after a lost claim" : "payout claimed",
                          claim->now_ms);
    if (result == CASH_OK) {
        result = payout_read(conn, withdraw_id, &context->out);
    }
    claim->was_in_flight = in_flight;
    return result;
}

static bool owner_valid(const char *owner)
{
    if (owner == NULL) {
        return false;
    }
    size_t length = strnlen(owner, PAYOUT_OWNER_BYTES_MAX + 1);
    return length >= 1 && length <= PAYOUT_OWNER_BYTES_MAX;
}

/* Claims one withdrawal for the payout (store.h). */
cash_result sqlite_withdraw_claim(struct store *store, struct withdraw_claim *claim,
                                  struct withdrawal *out)
{
    if (!owner_valid(claim->owner) || claim->lease_ms < 1) {
        return CASH_VALIDATION_ERROR;
    }
    struct claim_context context = {.claim = claim};
    cash_result result = CASH_INVALID_STATUS;
    for (int i = 0; i < CLAIM_TRIES_MAX && result == CASH_INVALID_STATUS; i++) {
        result = sqlite_write_run(sqlite_store_of(store), claim_body, &context);
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

static cash_result renew_body(struct sqlite_conn *conn, void *context_pointer)
{
    struct renew_context *context = context_pointer;
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_CLAIM_RENEW);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_int64(&binder, context->lease_until_ms);
    sqlite_bind_text(&binder, context->withdraw_id);
    sqlite_bind_text(&binder, context->owner);
    return run_update(conn, &binder, "claim renew");
}

/* Extends a claim (store.h). */
cash_result sqlite_withdraw_claim_renew(struct store *store, const char *withdraw_id,
                                        const char *owner, int64_t now_ms, int64_t lease_ms)
{
    if (!owner_valid(owner) || lease_ms < 1) {
        return CASH_VALIDATION_ERROR;
    }
    struct renew_context context = {
        .withdraw_id = withdraw_id, .owner = owner, .lease_until_ms = now_ms + lease_ms};
    return sqlite_write_run(sqlite_store_of(store), renew_body, &context);
}

/* ---- settle ---- */

struct settle_context {
    const struct withdraw_outcome *outcome;
    struct withdrawal out;
};

static cash_result settle_update(struct sqlite_conn *conn, const struct withdraw_outcome *outcome)
{
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_SETTLE);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    enum withdraw_status to = outcome->completed ? WITHDRAW_COMPLETED : WITHDRAW_FAILED;
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, withdraw_status_name(to));
    sqlite_bind_text(&binder, outcome->completed ? outcome->transaction_id : "");
    sqlite_bind_int64(&binder, outcome->completed ? outcome->transaction_ms : 0);
    sqlite_bind_text(&binder, outcome->completed ? "" : outcome->failure_code);
    sqlite_bind_text(&binder, outcome->completed ? "" : outcome->failure_code);
    sqlite_bind_int64(&binder, outcome->now_ms);
    sqlite_bind_text(&binder, outcome->withdraw_id);
    sqlite_bind_text(&binder, outcome->owner);
    return run_update(conn, &binder, "withdraw settle");
}

static cash_result settle_body(struct sqlite_conn *conn, void *context_pointer)
{
    struct settle_context *context = context_pointer;
    const struct withdraw_outcome *outcome = context->outcome;
    struct withdrawal before;
    cash_result result = payout_read(conn, outcome->withdraw_id, &before);
    if (result != CASH_OK) {
        return result;
    }
    enum withdraw_status to = outcome->completed ? WITHDRAW_COMPLETED : WITHDRAW_FAILED;
    if (!withdraw_transition_allowed(before.status, to, before.is_processing) ||
        !before.is_processing) {
        return CASH_INVALID_STATUS;
    }
    const int64_t refund_won = withdraw_refund_won(&before, to);
    result = settle_update(conn, outcome);
    if (result == CASH_OK && refund_won > 0) {
        const struct ledger_change refund = {
            .account_id = before.account_id,
            .type = HISTORY_WITHDRAW_REFUND,
            .balance_amount_won = refund_won,
            .memo = "",
            .group_id = before.withdraw_id,
            .history_id = outcome->history_id,
            .now_ms = outcome->now_ms,
        };
        struct history_entry entry;
        result = ledger_apply(&conn->tx, &refund, &entry);
        result = result == CASH_NOT_FOUND ? CASH_INTERNAL_ERROR : result;
    }
    char actor[WITHDRAW_ACTOR_BYTES_MAX + 1];
    snprintf(actor, sizeof actor, "worker:%s", outcome->owner);
    if (result == CASH_OK) {
        result = event_insert(&conn->tx, before.withdraw_id, actor, &before.status, to,
                              outcome->completed ? outcome->transaction_id : outcome->failure_code,
                              outcome->now_ms);
    }
    if (result == CASH_OK) {
        result = payout_read(conn, outcome->withdraw_id, &context->out);
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
        size_t length = outcome->transaction_id != NULL ? strnlen(outcome->transaction_id, 65) : 0;
        return length >= 1 && length <= 64 && outcome->transaction_ms > 0;
    }
    size_t length = outcome->failure_code != NULL
                        ? strnlen(outcome->failure_code, PAYOUT_FAILURE_CODE_BYTES_MAX + 1)
                        : 0;
    return length >= 1 && length <= PAYOUT_FAILURE_CODE_BYTES_MAX && outcome->history_id != NULL;
}

/* Records the bank's answer (store.h). */
cash_result sqlite_withdraw_settle(struct store *store, const struct withdraw_outcome *outcome,
                                   struct withdrawal *out)
{
    if (!outcome_valid(outcome)) {
        return CASH_VALIDATION_ERROR;
    }
    struct settle_context context = {.outcome = outcome};
    cash_result result = sqlite_write_run(sqlite_store_of(store), settle_body, &context);
    if (result == CASH_OK) {
        *out = context.out;
    }
    return result;
}
