/*
 * sqlite_lifecycle.c - the life of a withdrawal after PENDING in the SQLite backend (SPEC 4, 6):
 * operator confirmations, rejections with their refund, and the event history.
 *
 * Every write runs in one BEGIN IMMEDIATE transaction, so writers follow one another; each
 * transition is still a conditional UPDATE (WHERE status ... AND is_processing = 0) whose changed
 * row count must be 1, so that the rule holds in the SQL itself and not only in the check before
 * it: a transition that lost a race changes nothing and answers CASH_INVALID_STATUS.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "domain/names.h"
#include "domain/withdraw_state.h"
#include "store/sqlite_internal.h"

static const char SQL_LIFE_GET[] =
    "SELECT " SQLITE_WITHDRAW_COLUMNS " FROM withdrawals WHERE withdraw_id = ?";
/* VALUES with a scalar subquery, not INSERT ... SELECT from the same table: that form makes
 * SQLite copy the selected rows to a transient table first, on every withdrawal. */
static const char SQL_EVENT_INSERT[] =
    "INSERT INTO withdrawal_events (withdraw_id, seq, actor, from_status, to_status, memo,"
    " created_ms) VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM withdrawal_events"
    " WHERE withdraw_id = ?), ?, ?, ?, ?, ?)";
static const char SQL_EVENT_LIST[] =
    "SELECT seq, actor, from_status, to_status, memo, created_ms FROM withdrawal_events"
    " WHERE withdraw_id = ? ORDER BY seq LIMIT ?";
static const char SQL_CONFIRMED_BY[] =
    "SELECT COUNT(*) FROM withdrawal_confirmations WHERE withdraw_id = ? AND operator_name = ?";
static const char SQL_CONFIRMATION_INSERT[] =
    "INSERT INTO withdrawal_confirmations (withdraw_id, operator_name, created_ms)"
    " VALUES (?, ?, ?) ON CONFLICT DO NOTHING";
static const char SQL_CONFIRMATION_COUNT[] =
    "SELECT COUNT(*) FROM withdrawal_confirmations WHERE withdraw_id = ?";
static const char SQL_CONFIRM_UPDATE[] =
    "UPDATE withdrawals SET confirmed_count = ?, status = ?, updated_ms = ?"
    " WHERE withdraw_id = ? AND status = 'PENDING' AND is_processing = 0";
static const char SQL_REJECT_UPDATE[] =
    "UPDATE withdrawals SET status = 'REJECTED', memo = ?, updated_ms = ?"
    " WHERE withdraw_id = ? AND status IN ('PENDING', 'CONFIRMED') AND is_processing = 0";

static cash_result life_read(struct sqlite_conn *conn, const char *withdraw_id,
                             struct withdrawal *out)
{
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_LIFE_GET);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, withdraw_id);
    cash_result result = sqlite_bind_check(conn, &binder, "lifecycle get");
    if (result == CASH_OK) {
        result = sqlite_step_row(conn, stmt, "lifecycle get");
    }
    if (result != CASH_OK) {
        return result;
    }
    struct sqlite_row row;
    sqlite_withdraw_row_read(stmt, out, &row);
    return sqlite_row_check(&row, "lifecycle get");
}

/* Appends one event (sqlite_internal.h). */
cash_result sqlite_event_insert(struct sqlite_conn *conn, const char *withdraw_id,
                                const char *actor, const enum withdraw_status *from,
                                enum withdraw_status to, const char *memo, int64_t now_ms)
{
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_EVENT_INSERT);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, withdraw_id);
    sqlite_bind_text(&binder, withdraw_id);
    sqlite_bind_text(&binder, actor);
    sqlite_bind_text(&binder, from != NULL ? withdraw_status_name(*from) : "");
    sqlite_bind_text(&binder, withdraw_status_name(to));
    sqlite_bind_text(&binder, memo);
    sqlite_bind_int64(&binder, now_ms);
    cash_result result = sqlite_bind_check(conn, &binder, "event insert");
    if (result != CASH_OK) {
        return result;
    }
    return sqlite_step_done(conn, stmt, "event insert", NULL);
}

/* One COUNT(*) of a statement bound with one or two texts (second may be NULL). */
static cash_result life_count(struct sqlite_conn *conn, const char *sql, const char *first,
                              const char *second, int64_t *count_out)
{
    sqlite3_stmt *stmt = sqlite_stmt(conn, sql);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, first);
    if (second != NULL) {
        sqlite_bind_text(&binder, second);
    }
    cash_result result = sqlite_bind_check(conn, &binder, "lifecycle count");
    if (result == CASH_OK) {
        result = sqlite_step_row(conn, stmt, "lifecycle count");
    }
    if (result != CASH_OK) {
        return result == CASH_NOT_FOUND ? CASH_INTERNAL_ERROR : result;
    }
    struct sqlite_row row;
    sqlite_row_start(&row, stmt);
    *count_out = sqlite_row_int64(&row);
    return sqlite_row_check(&row, "lifecycle count");
}

/* Runs a bound UPDATE that must change exactly one row: else CASH_INVALID_STATUS (a lost race). */
static cash_result life_update_one(struct sqlite_conn *conn, struct sqlite_binder *binder,
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

/* ---- confirm ---- */

struct confirm_context {
    const struct withdraw_confirm *request;
    struct withdrawal out;
};

static cash_result confirm_record(struct sqlite_conn *conn, const struct withdraw_confirm *request,
                                  const struct withdrawal *before)
{
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_CONFIRMATION_INSERT);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, before->withdraw_id);
    sqlite_bind_text(&binder, request->operator_name);
    sqlite_bind_int64(&binder, request->now_ms);
    cash_result result = sqlite_bind_check(conn, &binder, "confirmation insert");
    if (result == CASH_OK) {
        result = sqlite_step_done(conn, stmt, "confirmation insert", NULL);
    }
    int64_t count = 0;
    if (result == CASH_OK) {
        result = life_count(conn, SQL_CONFIRMATION_COUNT, before->withdraw_id, NULL, &count);
    }
    if (result != CASH_OK) {
        return result;
    }
    const struct withdraw_confirm_outcome outcome =
        withdraw_confirm_counted(count, before->total_amount_won, request->dual_confirm_at_won);
    stmt = sqlite_stmt(conn, SQL_CONFIRM_UPDATE);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_int64(&binder, outcome.confirmed_count);
    sqlite_bind_text(&binder, withdraw_status_name(outcome.status));
    sqlite_bind_int64(&binder, request->now_ms);
    sqlite_bind_text(&binder, before->withdraw_id);
    result = life_update_one(conn, &binder, "withdraw confirm");
    if (result != CASH_OK) {
        return result;
    }
    char actor[WITHDRAW_ACTOR_BYTES_MAX + 1];
    char memo[64];
    snprintf(actor, sizeof actor, "operator:%s", request->operator_name);
    snprintf(memo, sizeof memo, "confirmation %" PRId64 " of %" PRId64, outcome.confirmed_count,
             outcome.required);
    const enum withdraw_status from = WITHDRAW_PENDING;
    return sqlite_event_insert(conn, before->withdraw_id, actor, &from, outcome.status, memo,
                               request->now_ms);
}

static cash_result confirm_body(struct sqlite_conn *conn, void *context_pointer)
{
    struct confirm_context *context = context_pointer;
    const struct withdraw_confirm *request = context->request;
    struct withdrawal before;
    cash_result result = life_read(conn, request->withdraw_id, &before);
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
        result = life_read(conn, request->withdraw_id, &context->out);
    }
    return result;
}

/* An operator confirms a withdrawal (store.h). */
cash_result sqlite_withdraw_confirm(struct store *store, const struct withdraw_confirm *request,
                                    struct withdrawal *out)
{
    if (!withdraw_operator_name_valid(request->operator_name)) {
        return CASH_VALIDATION_ERROR;
    }
    struct confirm_context context = {.request = request};
    cash_result result = sqlite_write_run(sqlite_store_of(store), confirm_body, &context);
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

static cash_result reject_refund(struct sqlite_conn *conn, const struct withdraw_reject *request,
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
    return sqlite_event_insert(conn, before->withdraw_id, actor, &before->status, WITHDRAW_REJECTED,
                               request->memo, request->now_ms);
}

static cash_result reject_body(struct sqlite_conn *conn, void *context_pointer)
{
    struct reject_context *context = context_pointer;
    const struct withdraw_reject *request = context->request;
    struct withdrawal before;
    cash_result result = life_read(conn, request->withdraw_id, &before);
    if (result != CASH_OK) {
        return result;
    }
    if (!withdraw_transition_allowed(before.status, WITHDRAW_REJECTED, before.is_processing)) {
        return CASH_INVALID_STATUS;
    }
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_REJECT_UPDATE);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, request->memo);
    sqlite_bind_int64(&binder, request->now_ms);
    sqlite_bind_text(&binder, request->withdraw_id);
    result = life_update_one(conn, &binder, "withdraw reject");
    if (result == CASH_OK) {
        result = reject_refund(conn, request, &before);
    }
    if (result == CASH_OK) {
        result = life_read(conn, request->withdraw_id, &context->out);
    }
    if (result == CASH_OK) {
        assert(context->out.status == WITHDRAW_REJECTED);
    }
    return result;
}

/* An operator rejects a withdrawal with a refund (store.h). */
cash_result sqlite_withdraw_reject(struct store *store, const struct withdraw_reject *request,
                                   struct withdrawal *out)
{
    const char *name = request->operator_name;
    if (!withdraw_memo_valid(request->memo) || name == NULL ||
        (name[0] != '\0' && !withdraw_operator_name_valid(name))) {
        return CASH_VALIDATION_ERROR;
    }
    struct reject_context context = {.request = request};
    cash_result result = sqlite_write_run(sqlite_store_of(store), reject_body, &context);
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

static cash_result events_row(sqlite3_stmt *stmt, struct withdraw_event *event)
{
    struct sqlite_row row;
    memset(event, 0, sizeof(*event));
    sqlite_row_start(&row, stmt);
    event->seq = sqlite_row_int64(&row);
    sqlite_row_text(&row, event->actor, sizeof(event->actor));
    const char *from = sqlite_row_text_view(&row);
    event->has_from = from[0] != '\0';
    if (event->has_from && !withdraw_status_parse(from, &event->from)) {
        row.ok = false;
    }
    sqlite_row_withdraw_status(&row, &event->to);
    sqlite_row_text(&row, event->memo, sizeof(event->memo));
    event->created_ms = sqlite_row_int64(&row);
    return sqlite_row_check(&row, "event list");
}

static cash_result events_body(struct sqlite_conn *conn, void *context_pointer)
{
    struct events_context *context = context_pointer;
    struct withdrawal withdrawal;
    cash_result result = life_read(conn, context->withdraw_id, &withdrawal);
    if (result != CASH_OK) {
        return result;
    }
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_EVENT_LIST);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, context->withdraw_id);
    sqlite_bind_int64(&binder, (int64_t)context->out_max);
    result = sqlite_bind_check(conn, &binder, "event list");
    context->count = 0;
    while (result == CASH_OK && context->count < context->out_max) {
        result = sqlite_step_row(conn, stmt, "event list");
        if (result == CASH_NOT_FOUND) {
            return CASH_OK;
        }
        if (result == CASH_OK) {
            result = events_row(stmt, &context->out[context->count]);
            context->count++;
        }
    }
    return result;
}

/* A withdrawal's event history, oldest first (store.h). */
cash_result sqlite_withdraw_events(struct store *store, const char *withdraw_id,
                                   struct withdraw_event *out, size_t out_max, size_t *count_out)
{
    struct events_context context = {.withdraw_id = withdraw_id, .out = out, .out_max = out_max};
    cash_result result = sqlite_read_run(sqlite_store_of(store), events_body, &context, true);
    if (result == CASH_OK) {
        *count_out = context.count;
    }
    return result;
}
