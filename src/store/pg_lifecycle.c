/*
 * pg_lifecycle.c - the life of a withdrawal after PENDING in the PostgreSQL backend (SPEC 4, 6):
 * operator confirmations, rejections with their refund, and the event history.
 *
 * Locks, always in this order so that no two transactions wait on each other in a circle: the
 * account row (pg_account_lock, taken by everything that moves money), then the withdrawal row
 * (SELECT ... FOR UPDATE, or the UPDATE itself). A confirmation moves no money and takes only the
 * withdrawal row. Every transition is also a conditional UPDATE (WHERE status ... AND
 * is_processing = 0) that must change one row, so that a transition that lost a race changes
 * nothing and answers CASH_INVALID_STATUS. Events are numbered under the withdrawal row's lock.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "domain/names.h"
#include "domain/withdraw_state.h"
#include "store/pg_internal.h"

static const char SQL_LIFE_LOCK[] =
    "SELECT " PG_WITHDRAW_COLUMNS " FROM withdrawals WHERE withdraw_id = $1::text FOR UPDATE";
static const char SQL_LIFE_GET[] =
    "SELECT " PG_WITHDRAW_COLUMNS " FROM withdrawals WHERE withdraw_id = $1::text";
static const char SQL_EVENT_INSERT[] =
    "INSERT INTO withdrawal_events (withdraw_id, seq, actor, from_status, to_status, memo,"
    " created_ms) SELECT $1::text, COALESCE(MAX(seq), 0) + 1, $2::text, $3::text, $4::text,"
    " $5::text, $6::bigint FROM withdrawal_events WHERE withdraw_id = $1::text";
static const char SQL_EVENT_LIST[] =
    "SELECT seq, actor, from_status, to_status, memo, created_ms FROM withdrawal_events"
    " WHERE withdraw_id = $1::text ORDER BY seq LIMIT $2::bigint";
static const char SQL_CONFIRMED_BY[] =
    "SELECT COUNT(*) FROM withdrawal_confirmations WHERE withdraw_id = $1::text"
    " AND operator_name = $2::text";
static const char SQL_CONFIRMATION_INSERT[] =
    "INSERT INTO withdrawal_confirmations (withdraw_id, operator_name, created_ms)"
    " VALUES ($1::text, $2::text, $3::bigint) ON CONFLICT DO NOTHING";
static const char SQL_CONFIRMATION_COUNT[] =
    "SELECT COUNT(*) FROM withdrawal_confirmations WHERE withdraw_id = $1::text";
static const char SQL_CONFIRM_UPDATE[] =
    "UPDATE withdrawals SET confirmed_count = $1::bigint, status = $2::text,"
    " updated_ms = $3::bigint WHERE withdraw_id = $4::text AND status = 'PENDING'"
    " AND is_processing = 0";
static const char SQL_REJECT_UPDATE[] =
    "UPDATE withdrawals SET status = 'REJECTED', memo = $1::text, updated_ms = $2::bigint"
    " WHERE withdraw_id = $3::text AND status IN ('PENDING', 'CONFIRMED') AND is_processing = 0";

/* Reads a withdrawal; lock: FOR UPDATE for the rest of the transaction. */
static cash_result life_read(struct pg_conn *conn, const char *withdraw_id, bool lock,
                             struct withdrawal *out)
{
    struct pg_params params;
    pg_params_start(&params);
    pg_param_text(&params, withdraw_id);
    cash_result result = CASH_OK;
    PGresult *res =
        pg_exec(conn, lock ? SQL_LIFE_LOCK : SQL_LIFE_GET, &params, "lifecycle get", &result);
    if (res == NULL) {
        return result;
    }
    result = CASH_NOT_FOUND;
    if (PQntuples(res) > 0) {
        struct pg_row row;
        pg_withdraw_row_read(res, 0, out, &row);
        result = pg_row_check(&row, "lifecycle get");
    }
    PQclear(res);
    return result;
}

/* Appends one event (pg_internal.h); the caller holds the withdrawal row's lock. */
cash_result pg_event_insert(struct pg_conn *conn, const char *withdraw_id, const char *actor,
                            const enum withdraw_status *from, enum withdraw_status to,
                            const char *memo, int64_t now_ms)
{
    struct pg_params params;
    pg_params_start(&params);
    pg_param_text(&params, withdraw_id);
    pg_param_text(&params, actor);
    pg_param_text(&params, from != NULL ? withdraw_status_name(*from) : "");
    pg_param_text(&params, withdraw_status_name(to));
    pg_param_text(&params, memo);
    pg_param_int64(&params, now_ms);
    cash_result result = CASH_OK;
    PGresult *res = pg_exec(conn, SQL_EVENT_INSERT, &params, "event insert", &result);
    if (res == NULL) {
        return result;
    }
    PQclear(res);
    return CASH_OK;
}

/* One COUNT(*) of a statement with one or two text parameters (second may be NULL). */
static cash_result life_count(struct pg_conn *conn, const char *sql, const char *first,
                              const char *second, int64_t *count_out)
{
    struct pg_params params;
    pg_params_start(&params);
    pg_param_text(&params, first);
    if (second != NULL) {
        pg_param_text(&params, second);
    }
    cash_result result = CASH_OK;
    PGresult *res = pg_exec(conn, sql, &params, "lifecycle count", &result);
    if (res == NULL) {
        return result;
    }
    result = CASH_INTERNAL_ERROR;
    if (PQntuples(res) == 1) {
        struct pg_row row;
        pg_row_start(&row, res, 0);
        *count_out = pg_row_int64(&row);
        result = pg_row_check(&row, "lifecycle count");
    }
    PQclear(res);
    return result;
}

/* Runs an UPDATE that must change exactly one row: else CASH_INVALID_STATUS (a lost race). */
static cash_result life_update_one(struct pg_conn *conn, const char *sql,
                                   const struct pg_params *params, const char *what)
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

/* ---- confirm ---- */

struct confirm_context {
    const struct withdraw_confirm *request;
    struct withdrawal out;
};

static cash_result confirm_record(struct pg_conn *conn, const struct withdraw_confirm *request,
                                  const struct withdrawal *before)
{
    struct pg_params params;
    pg_params_start(&params);
    pg_param_text(&params, before->withdraw_id);
    pg_param_text(&params, request->operator_name);
    pg_param_int64(&params, request->now_ms);
    cash_result result = CASH_OK;
    PGresult *res = pg_exec(conn, SQL_CONFIRMATION_INSERT, &params, "confirmation insert", &result);
    if (res == NULL) {
        return result;
    }
    PQclear(res);
    int64_t count = 0;
    result = life_count(conn, SQL_CONFIRMATION_COUNT, before->withdraw_id, NULL, &count);
    if (result != CASH_OK) {
        return result;
    }
    const struct withdraw_confirm_outcome outcome =
        withdraw_confirm_counted(count, before->total_amount_won, request->dual_confirm_at_won);
    pg_params_start(&params);
    pg_param_int64(&params, outcome.confirmed_count);
    pg_param_text(&params, withdraw_status_name(outcome.status));
    pg_param_int64(&params, request->now_ms);
    pg_param_text(&params, before->withdraw_id);
    result = life_update_one(conn, SQL_CONFIRM_UPDATE, &params, "withdraw confirm");
    if (result != CASH_OK) {
        return result;
    }
    char actor[WITHDRAW_ACTOR_BYTES_MAX + 1];
    char memo[64];
    snprintf(actor, sizeof actor, "operator:%s", request->operator_name);
    snprintf(memo, sizeof memo, "confirmation %" PRId64 " of %" PRId64, outcome.confirmed_count,
             outcome.required);
    const enum withdraw_status from = WITHDRAW_PENDING;
    return pg_event_insert(conn, before->withdraw_id, actor, &from, outcome.status, memo,
                           request->now_ms);
}

static cash_result confirm_body(struct pg_conn *conn, void *context_pointer)
{
    struct confirm_context *context = context_pointer;
    const struct withdraw_confirm *request = context->request;
    struct withdrawal before;
    cash_result result = life_read(conn, request->withdraw_id, true, &before);
    if (result != CASH_OK) {
        return result;
    }
    int64_t already = 0;
    result =
        life_count(conn, SQL_CONFIRMED_BY, request->withdraw_id, request->operator_name, &already);
    if (result != CASH_OK) {
        return result;
    }
    enum withdraw_confirm_action action = withdraw_confirm_decide(&before, already > 0);
    if (action == WITHDRAW_CONFIRM_REPEAT) {
        context->out = before; /* SPEC 4: the same operator twice counts once */
        return CASH_OK;
    }
    if (action == WITHDRAW_CONFIRM_REFUSED) {
        return CASH_INVALID_STATUS;
    }
    result = confirm_record(conn, request, &before);
    if (result == CASH_OK) {
        result = life_read(conn, request->withdraw_id, false, &context->out);
    }
    return result;
}

/* An operator confirms a withdrawal (store.h). */
cash_result pg_withdraw_confirm(struct store *store, const struct withdraw_confirm *request,
                                struct withdrawal *out)
{
    if (!withdraw_operator_name_valid(request->operator_name)) {
        return CASH_VALIDATION_ERROR;
    }
    struct confirm_context context = {.request = request};
    cash_result result = pg_run(pg_store_of(store), PG_WRITE, confirm_body, &context);
    if (result == CASH_OK) {
        *out = context.out;
    }
    return result;
}

/* ---- reject ---- */

struct reject_context {
    const struct withdraw_reject *request;
    struct withdrawal out;
};

static cash_result reject_refund(struct pg_conn *conn, const struct withdraw_reject *request,
                                 const struct withdrawal *before)
{
    const struct ledger_change refund = {
        .account_id = before->account_id,
        .type = HISTORY_WITHDRAW_REFUND,
        .balance_amount_won = withdraw_refund_won(before, WITHDRAW_REJECTED),
        .memo = "",
        .group_id = before->withdraw_id,
        .history_id = request->history_id,
        .now_ms = request->now_ms,
    };
    struct history_entry entry;
    cash_result result = ledger_apply(&conn->tx, &refund, &entry);
    if (result != CASH_OK) {
        return result == CASH_NOT_FOUND ? CASH_INTERNAL_ERROR : result;
    }
    assert(entry.new_balance_won == entry.old_balance_won + refund.balance_amount_won);
    char actor[WITHDRAW_ACTOR_BYTES_MAX + 1];
    snprintf(actor, sizeof actor, "operator:%s",
             request->operator_name[0] != '\0' ? request->operator_name : "-");
    return pg_event_insert(conn, before->withdraw_id, actor, &before->status, WITHDRAW_REJECTED,
                           request->memo, request->now_ms);
}

static cash_result reject_body(struct pg_conn *conn, void *context_pointer)
{
    struct reject_context *context = context_pointer;
    const struct withdraw_reject *request = context->request;
    struct withdrawal before;
    cash_result result = life_read(conn, request->withdraw_id, false, &before);
    if (result != CASH_OK) {
        return result;
    }
    int64_t balance = 0;
    int64_t point = 0;
    result = pg_account_lock(conn, before.account_id, &balance, &point);
    if (result == CASH_OK) {
        result = life_read(conn, request->withdraw_id, true, &before); /* after the account */
    }
    if (result != CASH_OK) {
        return result == CASH_NOT_FOUND ? CASH_INTERNAL_ERROR : result;
    }
    if (!withdraw_transition_allowed(before.status, WITHDRAW_REJECTED, before.is_processing)) {
        return CASH_INVALID_STATUS;
    }
    struct pg_params params;
    pg_params_start(&params);
    pg_param_text(&params, request->memo);
    pg_param_int64(&params, request->now_ms);
    pg_param_text(&params, request->withdraw_id);
    result = life_update_one(conn, SQL_REJECT_UPDATE, &params, "withdraw reject");
    if (result == CASH_OK) {
        result = reject_refund(conn, request, &before);
    }
    if (result == CASH_OK) {
        result = life_read(conn, request->withdraw_id, false, &context->out);
    }
    if (result == CASH_OK) {
        assert(context->out.status == WITHDRAW_REJECTED);
    }
    return result;
}

/* An operator rejects a withdrawal with a refund (store.h). */
cash_result pg_withdraw_reject(struct store *store, const struct withdraw_reject *request,
                               struct withdrawal *out)
{
    const char *name = request->operator_name;
    if (!withdraw_memo_valid(request->memo) || name == NULL ||
        (name[0] != '\0' && !withdraw_operator_name_valid(name))) {
        return CASH_VALIDATION_ERROR;
    }
    struct reject_context context = {.request = request};
    cash_result result = pg_run(pg_store_of(store), PG_WRITE, reject_body, &context);
    if (result == CASH_OK) {
        *out = context.out;
    }
    return result;
}

/* ---- events ---- */

struct events_context {
    const char *withdraw_id;
    struct withdraw_event *out;
    size_t out_max;
    size_t count;
};

static cash_result events_row(const PGresult *res, int index, struct withdraw_event *event)
{
    struct pg_row row;
    memset(event, 0, sizeof(*event));
    pg_row_start(&row, res, index);
    event->seq = pg_row_int64(&row);
    pg_row_text(&row, event->actor, sizeof(event->actor));
    const char *from = pg_row_text_view(&row);
    event->has_from = from[0] != '\0';
    if (event->has_from && !withdraw_status_parse(from, &event->from)) {
        row.ok = false;
    }
    pg_row_withdraw_status(&row, &event->to);
    pg_row_text(&row, event->memo, sizeof(event->memo));
    event->created_ms = pg_row_int64(&row);
    return pg_row_check(&row, "event list");
}

static cash_result events_body(struct pg_conn *conn, void *context_pointer)
{
    struct events_context *context = context_pointer;
    struct withdrawal withdrawal;
    cash_result result = life_read(conn, context->withdraw_id, false, &withdrawal);
    if (result != CASH_OK) {
        return result;
    }
    struct pg_params params;
    pg_params_start(&params);
    pg_param_text(&params, context->withdraw_id);
    pg_param_int64(&params, (int64_t)context->out_max);
    PGresult *res = pg_exec(conn, SQL_EVENT_LIST, &params, "event list", &result);
    if (res == NULL) {
        return result;
    }
    context->count = 0;
    int rows = PQntuples(res);
    for (int i = 0; i < rows && result == CASH_OK && context->count < context->out_max; i++) {
        result = events_row(res, i, &context->out[context->count]);
        context->count++;
    }
    PQclear(res);
    return result;
}

/* A withdrawal's event history, oldest first (store.h). */
cash_result pg_withdraw_events(struct store *store, const char *withdraw_id,
                               struct withdraw_event *out, size_t out_max, size_t *count_out)
{
    struct events_context context = {.withdraw_id = withdraw_id, .out = out, .out_max = out_max};
    cash_result result = pg_run(pg_store_of(store), PG_SNAPSHOT, events_body, &context);
    if (result == CASH_OK) {
        *count_out = context.count;
    }
    return result;
}
