/*
 * sqlite_withdraw.c - withdrawals in the SQLite backend: the request (SPEC 3: second factor,
 * bank account, daily limit, guarded debit, ledger entry and the row, in one transaction), reads,
 * the cancel of SPEC 4, and the filtered list of SPEC 2.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "domain/abuse.h"
#include "domain/money.h"
#include "domain/names.h"
#include "domain/withdraw_state.h"
#include "store/sqlite_internal.h"
#include "store/store_internal.h"

static const char SQL_WITHDRAW_INSERT[] =
    "INSERT INTO withdrawals (" SQLITE_WITHDRAW_COLUMNS ")"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_WITHDRAW_GET[] =
    "SELECT " SQLITE_WITHDRAW_COLUMNS " FROM withdrawals WHERE withdraw_id = ?";
/* The live statuses are those withdraw_status_is_live() names (tested against it). */
/* The live statuses as ORs, not IN (...): SQLite builds a temporary B-tree for an IN list of
 * three or more values every time the statement runs (about 3 us, inside the write lock). */
static const char SQL_WITHDRAW_DAY_TOTAL[] =
    "SELECT COALESCE(SUM(total_amount), 0) FROM withdrawals WHERE account_id = ?"
    " AND created_ms >= ?"
    " AND (status = 'PENDING' OR status = 'CONFIRMED' OR status = 'COMPLETED')";
static const char SQL_WITHDRAW_CANCEL[] =
    "UPDATE withdrawals SET status = 'CANCELED', updated_ms = ? WHERE withdraw_id = ?"
    " AND account_id = ? AND status IN ('PENDING', 'CONFIRMED') AND is_processing = 0";

/* Reads the current row of SQLITE_WITHDRAW_COLUMNS (sqlite_internal.h). */
void sqlite_withdraw_row_read(sqlite3_stmt *stmt, struct withdrawal *out, struct sqlite_row *row)
{
    memset(out, 0, sizeof(*out)); /* no stale bytes after the strings */
    sqlite_row_start(row, stmt);
    sqlite_row_text(row, out->withdraw_id, sizeof(out->withdraw_id));
    sqlite_row_text(row, out->account_id, sizeof(out->account_id));
    sqlite_row_text(row, out->member_id, sizeof(out->member_id));
    sqlite_row_text(row, out->bank_code, sizeof(out->bank_code));
    sqlite_row_text(row, out->sealed_number, sizeof(out->sealed_number));
    sqlite_row_text(row, out->masked_number, sizeof(out->masked_number));
    sqlite_row_text(row, out->holder_name, sizeof(out->holder_name));
    sqlite_row_withdraw_status(row, &out->status);
    out->is_processing = sqlite_row_bool(row);
    out->confirmed_count = sqlite_row_int64(row);
    sqlite_row_text(row, out->memo, sizeof(out->memo));
    sqlite_row_text(row, out->transaction_id, sizeof(out->transaction_id));
    out->transaction_ms = sqlite_row_int64(row);
    out->amount_won = sqlite_row_int64(row);
    out->fee_won = sqlite_row_int64(row);
    out->total_amount_won = sqlite_row_int64(row);
    out->confirmed_ms = sqlite_row_int64(row);
    out->created_ms = sqlite_row_int64(row);
    out->updated_ms = sqlite_row_int64(row);
    if (out->amount_won < 1 || out->fee_won < 0 ||
        out->amount_won + out->fee_won != out->total_amount_won) {
        row->ok = false;
    }
}

static cash_result withdraw_read(struct sqlite_conn *conn, const char *withdraw_id,
                                 struct withdrawal *out)
{
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_WITHDRAW_GET);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, withdraw_id);
    cash_result result = sqlite_bind_check(conn, &binder, "withdraw get");
    if (result == CASH_OK) {
        result = sqlite_step_row(conn, stmt, "withdraw get");
    }
    if (result != CASH_OK) {
        return result;
    }
    struct sqlite_row row;
    sqlite_withdraw_row_read(stmt, out, &row);
    return sqlite_row_check(&row, "withdraw get");
}

static cash_result withdraw_insert(struct sqlite_conn *conn, const struct withdrawal *w)
{
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_WITHDRAW_INSERT);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, w->withdraw_id);
    sqlite_bind_text(&binder, w->account_id);
    sqlite_bind_text(&binder, w->member_id);
    sqlite_bind_text(&binder, w->bank_code);
    sqlite_bind_text(&binder, w->sealed_number);
    sqlite_bind_text(&binder, w->masked_number);
    sqlite_bind_text(&binder, w->holder_name);
    sqlite_bind_text(&binder, withdraw_status_name(w->status));
    sqlite_bind_int64(&binder, w->is_processing ? 1 : 0);
    sqlite_bind_int64(&binder, w->confirmed_count);
    sqlite_bind_text(&binder, w->memo);
    sqlite_bind_text(&binder, w->transaction_id);
    sqlite_bind_int64(&binder, w->transaction_ms);
    sqlite_bind_int64(&binder, w->amount_won);
    sqlite_bind_int64(&binder, w->fee_won);
    sqlite_bind_int64(&binder, w->total_amount_won);
    sqlite_bind_int64(&binder, w->confirmed_ms);
    sqlite_bind_int64(&binder, w->created_ms);
    sqlite_bind_int64(&binder, w->updated_ms);
    cash_result result = sqlite_bind_check(conn, &binder, "withdraw insert");
    if (result != CASH_OK) {
        return result;
    }
    return sqlite_step_done(conn, stmt, "withdraw insert", NULL);
}

/* ---- the request ---- */

struct withdraw_context {
    struct withdraw_create *request;
    const char *account_id; /* NULL: any account */
    const char *withdraw_id;
    const char *history_id;
    int64_t now_ms;
    int64_t confirmed_ms;
    struct withdrawal out;
};

/* SPEC 3: live withdrawals since the day start plus this one within the daily limit. */
static cash_result withdraw_daily_check(struct sqlite_conn *conn,
                                        const struct withdraw_create *request)
{
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_WITHDRAW_DAY_TOTAL);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, request->withdrawal.account_id);
    sqlite_bind_int64(&binder, request->day_start_ms);
    cash_result result = sqlite_bind_check(conn, &binder, "daily total");
    if (result == CASH_OK) {
        result = sqlite_step_row(conn, stmt, "daily total");
    }
    if (result != CASH_OK) {
        return result == CASH_NOT_FOUND ? CASH_INTERNAL_ERROR : result;
    }
    struct sqlite_row row;
    sqlite_row_start(&row, stmt);
    int64_t day_total = sqlite_row_int64(&row);
    if (day_total < 0) {
        row.ok = false;
    }
    result = sqlite_row_check(&row, "daily total");
    if (result != CASH_OK) {
        return result;
    }
    if (money_daily_limit_exceeded(day_total, request->withdrawal.total_amount_won,
                                   request->daily_limit_won)) {
        return CASH_DAILY_LIMIT_EXCEEDED;
    }
    return CASH_OK;
}

static cash_result withdraw_create_body(struct sqlite_conn *conn, void *context_pointer)
{
    struct withdraw_context *context = context_pointer;
    struct withdraw_create *request = context->request;
    cash_result result = factor_spend(&conn->tx, request->factor, &context->confirmed_ms);
    if (result != CASH_OK) {
        return result;
    }
    struct bank_account bank;
    result = bank_read(&conn->tx, request->withdrawal.account_id, &bank);
    if (result != CASH_OK) {
        return result == CASH_NOT_FOUND ? CASH_BANK_ACCOUNT_NOT_REGISTERED : result;
    }
    int64_t cooled_ms = 0;
    if (bank_cooling_off_active(&bank, request->bank_cooling_off_ms, request->withdrawal.created_ms,
                                &cooled_ms)) {
        return CASH_BANK_ACCOUNT_COOLING_OFF; /* SPEC 5: rolls back, the factor is not spent */
    }
    result = withdraw_daily_check(conn, request);
    if (result != CASH_OK) {
        return result;
    }
    const struct ledger_change debit = {
        .account_id = request->withdrawal.account_id,
        .type = HISTORY_WITHDRAW,
        .balance_amount_won = -request->withdrawal.total_amount_won,
        .memo = "",
        .group_id = request->withdrawal.withdraw_id,
        .history_id = request->history_id,
        .now_ms = request->withdrawal.created_ms,
    };
    struct history_entry entry;
    result = ledger_apply(&conn->tx, &debit, &entry);
    if (result != CASH_OK) {
        return result;
    }
    assert(entry.new_balance_won == entry.old_balance_won - request->withdrawal.total_amount_won);
    withdraw_build(&request->withdrawal, &bank, context->confirmed_ms, &context->out);
    result = withdraw_insert(conn, &context->out);
    if (result != CASH_OK) {
        return result;
    }
    char actor[WITHDRAW_ACTOR_BYTES_MAX + 1];
    snprintf(actor, sizeof actor, "member:%s", context->out.member_id);
    return event_insert(&conn->tx, context->out.withdraw_id, actor, NULL, WITHDRAW_PENDING, "",
                        context->out.created_ms);
}

/*
 * Requests a withdrawal in one transaction (store.h): CASH_SECOND_FACTOR_REQUIRED,
 * CASH_BANK_ACCOUNT_NOT_REGISTERED, CASH_DAILY_LIMIT_EXCEEDED, CASH_NOT_ENOUGH_BALANCE in this
 * order, CASH_CONFLICT for a used withdraw or history id; nothing is written unless CASH_OK.
 */
cash_result sqlite_withdraw_create(struct store *store, struct withdraw_create *create,
                                   struct withdrawal *out, struct store_request *request)
{
    /* Amounts a caller computed with money_quote(): anything else is a fault of the caller. */
    if (create->factor == NULL ||
        withdraw_request_check(&create->withdrawal, create->daily_limit_won) != CASH_OK) {
        log_error("store: withdraw_create: inconsistent amounts or no second factor");
        return CASH_INTERNAL_ERROR;
    }
    struct withdraw_context context = {.request = create};
    const struct sqlite_request_work work = {
        .body = withdraw_create_body,
        .context = &context,
        .row = &context.out,
    };
    cash_result result = sqlite_request_run(sqlite_store_of(store), request, &work);
    if (result == CASH_OK && (request == NULL || !request->replayed)) {
        create->factor->confirmed_ms = context.confirmed_ms;
        *out = context.out;
    }
    return result;
}

/* ---- reads ---- */

static cash_result withdraw_get_body(struct sqlite_conn *conn, void *context_pointer)
{
    struct withdraw_context *context = context_pointer;
    cash_result result = withdraw_read(conn, context->withdraw_id, &context->out);
    if (result == CASH_OK && context->account_id != NULL &&
        strcmp(context->out.account_id, context->account_id) != 0) {
        result = CASH_NOT_FOUND;
    }
    return result;
}

/* One withdrawal (store.h); another account's is CASH_NOT_FOUND unless account_id is NULL. */
cash_result sqlite_withdraw_get(struct store *store, const char *account_id,
                                const char *withdraw_id, struct withdrawal *out)
{
    struct withdraw_context context = {.account_id = account_id, .withdraw_id = withdraw_id};
    cash_result result =
        sqlite_read_run(sqlite_store_of(store), withdraw_get_body, &context, false);
    if (result == CASH_OK) {
        *out = context.out;
    }
    return result;
}

/* ---- cancel (SPEC 4) ---- */

static cash_result withdraw_cancel_update(struct sqlite_conn *conn,
                                          const struct withdraw_context *context)
{
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_WITHDRAW_CANCEL);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_int64(&binder, context->now_ms);
    sqlite_bind_text(&binder, context->withdraw_id);
    sqlite_bind_text(&binder, context->account_id);
    cash_result result = sqlite_bind_check(conn, &binder, "withdraw cancel");
    int64_t changes = 0;
    if (result == CASH_OK) {
        result = sqlite_step_done(conn, stmt, "withdraw cancel", &changes);
    }
    if (result == CASH_OK && changes != 1) {
        result = CASH_INVALID_STATUS;
    }
    return result;
}

static cash_result withdraw_cancel_body(struct sqlite_conn *conn, void *context_pointer)
{
    struct withdraw_context *context = context_pointer;
    struct withdrawal before;
    cash_result result = withdraw_get_body(conn, context);
    if (result != CASH_OK) {
        return result;
    }
    before = context->out;
    if (!withdraw_cancelable(&before)) {
        return CASH_INVALID_STATUS;
    }
    result = withdraw_cancel_update(conn, context);
    if (result != CASH_OK) {
        return result;
    }
    const struct ledger_change refund = {
        .account_id = before.account_id,
        .type = HISTORY_WITHDRAW_REFUND,
        .balance_amount_won = withdraw_refund_won(&before, WITHDRAW_CANCELED),
        .memo = "",
        .group_id = before.withdraw_id,
        .history_id = context->history_id,
        .now_ms = context->now_ms,
    };
    struct history_entry entry;
    result = ledger_apply(&conn->tx, &refund, &entry);
    if (result != CASH_OK) {
        return result == CASH_NOT_FOUND ? CASH_INTERNAL_ERROR : result;
    }
    char actor[WITHDRAW_ACTOR_BYTES_MAX + 1];
    snprintf(actor, sizeof actor, "account:%s", before.account_id);
    result = event_insert(&conn->tx, before.withdraw_id, actor, &before.status, WITHDRAW_CANCELED,
                          "", context->now_ms);
    if (result != CASH_OK) {
        return result;
    }
    result = withdraw_read(conn, context->withdraw_id, &context->out);
    if (result == CASH_OK) {
        assert(context->out.status == WITHDRAW_CANCELED);
    }
    return result;
}

/* The account cancels its withdrawal with a refund, in one transaction (store.h). */
cash_result sqlite_withdraw_cancel(struct store *store, const char *account_id,
                                   const char *withdraw_id, const char *history_id, int64_t now_ms,
                                   struct withdrawal *out, struct store_request *request)
{
    if (account_id == NULL) {
        return CASH_VALIDATION_ERROR;
    }
    struct withdraw_context context = {
        .account_id = account_id,
        .withdraw_id = withdraw_id,
        .history_id = history_id,
        .now_ms = now_ms,
    };
    const struct sqlite_request_work work = {
        .body = withdraw_cancel_body,
        .context = &context,
        .row = &context.out,
    };
    cash_result result = sqlite_request_run(sqlite_store_of(store), request, &work);
    if (result == CASH_OK && (request == NULL || !request->replayed)) {
        *out = context.out;
    }
    return result;
}
