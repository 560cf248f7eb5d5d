/*
 * pg_payout.c - the payout worker's side of a withdrawal in the PostgreSQL backend (SPEC 4):
 * claiming a CONFIRMED withdrawal, renewing the claim, and recording the bank's answer.
 *
 * A claim is a conditional UPDATE (status CONFIRMED and either not processing or processing under
 * a lease that ran out) whose changed row count must be 1. Two workers picking the same row: the
 * second UPDATE waits for the first, re-reads the row, finds it no longer claimable and changes
 * nothing; the claim is then tried again. The settlement is guarded by the claim's owner, so a
 * worker that lost its claim can never record an outcome and a FAILED refund is written at most
 * once. A FAILED settlement locks the account first (pg_account_lock), as every money move does.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "domain/names.h"
#include "domain/withdraw_state.h"
#include "store/pg_internal.h"

#define CLAIM_TRIES_MAX 5

static const char SQL_CLAIM_PICK[] =
    "SELECT withdraw_id, is_processing FROM withdrawals WHERE status = 'CONFIRMED'"
    " AND (is_processing = 0 OR processing_lease_ms < $1::bigint) ORDER BY is_processing DESC,"
    " withdraw_id LIMIT 1";
static const char SQL_CLAIM_TAKE[] =
    "UPDATE withdrawals SET processing_started_ms = CASE WHEN is_processing = 0 THEN $1::bigint"
    " ELSE processing_started_ms END, is_processing = 1, processing_owner = $2::text,"
    " processing_lease_ms = $3::bigint, updated_ms = $1::bigint WHERE withdraw_id = $4::text"
    " AND status = 'CONFIRMED' AND (is_processing = 0 OR processing_lease_ms < $1::bigint)";
static const char SQL_CLAIM_RENEW[] =
    "UPDATE withdrawals SET processing_lease_ms = $1::bigint WHERE withdraw_id = $2::text"
    " AND status = 'CONFIRMED' AND is_processing = 1 AND processing_owner = $3::text";
static const char SQL_SETTLE[] =
    "UPDATE withdrawals SET status = $1::text, is_processing = 0, transaction_id = $2::text,"
    " transaction_ms = $3::bigint, memo = $4::text, failure_code = $4::text,"
    " updated_ms = $5::bigint WHERE withdraw_id = $6::text AND status = 'CONFIRMED'"
    " AND is_processing = 1 AND processing_owner = $7::text";
static const char SQL_PAYOUT_GET[] =
    "SELECT " PG_WITHDRAW_COLUMNS " FROM withdrawals WHERE withdraw_id = $1::text";

static cash_result payout_read(struct pg_conn *conn, const char *withdraw_id,
                               struct withdrawal *out)
{
    struct pg_params params;
    pg_params_start(&params);
    pg_param_text(&params, withdraw_id);
    cash_result result = CASH_OK;
    PGresult *res = pg_exec(conn, SQL_PAYOUT_GET, &params, "payout get", &result);
    if (res == NULL) {
        return result;
    }
    result = CASH_NOT_FOUND;
    if (PQntuples(res) > 0) {
        struct pg_row row;
        pg_withdraw_row_read(res, 0, out, &row);
        result = pg_row_check(&row, "payout get");
    }
    PQclear(res);
    return result;
}

/* Runs an UPDATE that must change exactly one row: else CASH_INVALID_STATUS. */
static cash_result run_update(struct pg_conn *conn, const char *sql, const struct pg_params *params,
                              const char *what)
{
    cash_result result = CASH_OK;
    PGresult *res = pg_exec(conn, sql, params, what, &result);
    if (res == NULL) {
        return result;
    }
    int64_t changes = pg_changes(res);
    PQclear(res);
    return changes == 1 ? CASH_OK : CASH_INVALID_STATUS;
}

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

static cash_result claim_pick(struct pg_conn *conn, int64_t now_ms,
                              char withdraw_id[WITHDRAW_ID_LENGTH + 1], bool *in_flight)
{
    struct pg_params params;
    pg_params_start(&params);
    pg_param_int64(&params, now_ms);
    cash_result result = CASH_OK;
    PGresult *res = pg_exec(conn, SQL_CLAIM_PICK, &params, "claim pick", &result);
    if (res == NULL) {
        return result;
    }
    result = CASH_NOT_FOUND;
    if (PQntuples(res) > 0) {
        struct pg_row row;
        pg_row_start(&row, res, 0);
        pg_row_text(&row, withdraw_id, WITHDRAW_ID_LENGTH + 1);
        *in_flight = pg_row_bool(&row);
        result = pg_row_check(&row, "claim pick");
    }
    PQclear(res);
    return result;
}

static cash_result claim_body(struct pg_conn *conn, void *context_pointer)
{
    struct claim_context *context = context_pointer;
    struct withdraw_claim *claim = context->claim;
    char withdraw_id[WITHDRAW_ID_LENGTH + 1];
    bool in_flight = false;
    cash_result result = claim_pick(conn, claim->now_ms, withdraw_id, &in_flight);
    if (result != CASH_OK) {
        return result; /* CASH_NOT_FOUND: nothing to claim */
    }
    struct pg_params params;
    pg_params_start(&params);
    pg_param_int64(&params, claim->now_ms);
    pg_param_text(&params, claim->owner);
    pg_param_int64(&params, claim->now_ms + claim->lease_ms);
    pg_param_text(&params, withdraw_id);
    result = run_update(conn, SQL_CLAIM_TAKE, &params, "claim take");
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

/* Claims one withdrawal for the payout (store.h). */
cash_result pg_withdraw_claim(struct store *store, struct withdraw_claim *claim,
                              struct withdrawal *out)
{
    if (!owner_valid(claim->owner) || claim->lease_ms < 1) {
        return CASH_VALIDATION_ERROR;
    }
    struct claim_context context = {.claim = claim};
    cash_result result = CASH_INVALID_STATUS;
    for (int i = 0; i < CLAIM_TRIES_MAX && result == CASH_INVALID_STATUS; i++) {
        result = pg_run(pg_store_of(store), PG_WRITE, claim_body, &context);
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

static cash_result renew_body(struct pg_conn *conn, void *context_pointer)
{
    struct renew_context *context = context_pointer;
    struct pg_params params;
    pg_params_start(&params);
    pg_param_int64(&params, context->lease_until_ms);
    pg_param_text(&params, context->withdraw_id);
    pg_param_text(&params, context->owner);
    return run_update(conn, SQL_CLAIM_RENEW, &params, "claim renew");
}

/* Extends a claim (store.h). */
cash_result pg_withdraw_claim_renew(struct store *store, const char *withdraw_id, const char *owner,
                                    int64_t now_ms, int64_t lease_ms)
{
    if (!owner_valid(owner) || lease_ms < 1) {
        return CASH_VALIDATION_ERROR;
    }
    struct renew_context context = {
        .withdraw_id = withdraw_id, .owner = owner, .lease_until_ms = now_ms + lease_ms};
    return pg_run(pg_store_of(store), PG_WRITE, renew_body, &context);
}

/* ---- settle ---- */

struct settle_context {
    const struct withdraw_outcome *outcome;
    struct withdrawal out;
};

static cash_result settle_update(struct pg_conn *conn, const struct withdraw_outcome *outcome)
{
    enum withdraw_status to = outcome->completed ? WITHDRAW_COMPLETED : WITHDRAW_FAILED;
    struct pg_params params;
    pg_params_start(&params);
    pg_param_text(&params, withdraw_status_name(to));
    pg_param_text(&params, outcome->completed ? outcome->transaction_id : "");
    pg_param_int64(&params, outcome->completed ? outcome->transaction_ms : 0);
    pg_param_text(&params, outcome->completed ? "" : outcome->failure_code);
    pg_param_int64(&params, outcome->now_ms);
    pg_param_text(&params, outcome->withdraw_id);
    pg_param_text(&params, outcome->owner);
    return run_update(conn, SQL_SETTLE, &params, "withdraw settle");
}

static cash_result settle_refund(struct pg_conn *conn, const struct withdraw_outcome *outcome,
                                 const struct withdrawal *before, int64_t refund_won)
{
    const struct ledger_change refund = {
        .account_id = before->account_id,
        .type = HISTORY_WITHDRAW_REFUND,
        .balance_amount_won = refund_won,
        .memo = "",
        .group_id = before->withdraw_id,
        .history_id = outcome->history_id,
        .now_ms = outcome->now_ms,
    };
    struct history_entry entry;
    cash_result result = ledger_apply(&conn->tx, &refund, &entry);
    return result == CASH_NOT_FOUND ? CASH_INTERNAL_ERROR : result;
}

static cash_result settle_body(struct pg_conn *conn, void *context_pointer)
{
    struct settle_context *context = context_pointer;
    const struct withdraw_outcome *outcome = context->outcome;
    struct withdrawal before;
    cash_result result = payout_read(conn, outcome->withdraw_id, &before);
    int64_t balance = 0;
    int64_t point = 0;
    if (result == CASH_OK && !outcome->completed) {
        result = pg_account_lock(conn, before.account_id, &balance, &point);
    }
    if (result == CASH_OK) {
        result = payout_read(conn, outcome->withdraw_id, &before); /* after the lock */
    }
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
        result = settle_refund(conn, outcome, &before, refund_won);
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
cash_result pg_withdraw_settle(struct store *store, const struct withdraw_outcome *outcome,
                               struct withdrawal *out)
{
    if (!outcome_valid(outcome)) {
        return CASH_VALIDATION_ERROR;
    }
    struct settle_context context = {.outcome = outcome};
    cash_result result = pg_run(pg_store_of(store), PG_WRITE, settle_body, &context);
    if (result == CASH_OK) {
        *out = context.out;
    }
    return result;
}
