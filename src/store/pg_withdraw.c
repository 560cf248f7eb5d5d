/*
 * pg_withdraw.c - withdrawals in the PostgreSQL backend: the request (SPEC 3), reads, and the
 * cancel of SPEC 4.
 *
 * The request is one READ COMMITTED transaction: the second factor is spent on its locked row;
 * the account row is locked (so that this account's withdrawals follow one another and the daily
 * total below counts every one committed before); the bank account and the daily total are
 * read; then one statement debits the balance with a guard (WHERE balance >= total), writes the
 * ledger entry and inserts the withdrawal, or does none of it. None of it waits on another
 * account.
 *
 * Two ways to run it. A request without an Idempotency-Key (and the operator's, with no request
 * at all) is one statement, the server-side function of pg_function.c, which does all of the
 * above with the replay row in one round trip. A request with a key sends the statements of
 * this file one by one inside pg_request_run's transaction, because the answer kept with the key
 * is rendered in C between the effect and the COMMIT; so does every request on an engine that
 * refused the function.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "domain/abuse.h"
#include "domain/ledger.h"
#include "domain/money.h"
#include "domain/names.h"
#include "domain/withdraw_state.h"
#include "store/pg_internal.h"
#include "store/store_internal.h"
#include "store/store_request.h"

static const char SQL_WITHDRAW_GET[] =
    "SELECT " PG_WITHDRAW_COLUMNS " FROM withdrawals WHERE withdraw_id = $1";
/* The live statuses are those withdraw_status_is_live() names (tested against it). */
static const char SQL_WITHDRAW_DAY_TOTAL[] =
    "SELECT COALESCE(SUM(total_amount), 0) FROM withdrawals WHERE account_id = $1"
    " AND created_ms >= $2 AND status IN ('PENDING', 'CONFIRMED', 'COMPLETED')";
/*
 * The money, in one statement: the guarded debit, its ledger entry (the next entry_seq of the
 * locked account) and the withdrawal with the bank account copied as read. No row from debit:
 * the balance does not cover it, and nothing at all is written.
 */
static const char SQL_WITHDRAW_DEBIT[] =
    "WITH debit AS ("
    " UPDATE accounts SET balance = balance - $2::bigint, updated_ms = $3::bigint"
    " WHERE account_id = $1::text AND balance >= $2::bigint"
    " RETURNING balance + $2::bigint AS old_balance, balance AS new_balance, point),"
    " entry AS ("
    " INSERT INTO balance_history (history_id, account_id, entry_seq, type, balance_amount,"
    " point_amount, old_balance, new_balance, old_point, new_point, memo, group_id, created_ms)"
    " SELECT $4::text, $1::text, (SELECT COALESCE(MAX(h.entry_seq), 0) + 1 FROM balance_history h"
    " WHERE h.account_id = $1::text), 'WITHDRAW', -$2::bigint, 0, old_balance, new_balance,"
    " point, point, '', $5::text, $3::bigint FROM debit RETURNING history_id),"
    " inserted AS ("
    " INSERT INTO withdrawals (" PG_WITHDRAW_COLUMNS ")"
    " SELECT $5::text, $1::text, $6::text, $7::text, $8::text, $9::text, $10::text, 'PENDING', 0,"
    " 0, '', '', 0, $11::bigint, $12::bigint, $2::bigint, $13::bigint, $3::bigint, $3::bigint"
    " FROM debit RETURNING withdraw_id)"
    " SELECT d.old_balance, d.new_balance, (SELECT COUNT(*) FROM entry),"
    " (SELECT COUNT(*) FROM inserted) FROM debit d";
static const char SQL_WITHDRAW_CANCEL[] =
    "UPDATE withdrawals SET status = 'CANCELED', updated_ms = $1 WHERE withdraw_id = $2"
    " AND account_id = $3 AND status IN ('PENDING', 'CONFIRMED') AND is_processing = 0"
    " RETURNING " PG_WITHDRAW_COLUMNS;

/* Reads one row of PG_WITHDRAW_COLUMNS (pg_internal.h). */
void pg_withdraw_row_read(const PGresult *res, int row_index, struct withdrawal *out,
                          struct pg_row *row)
{
    memset(out, 0, sizeof(*out)); /* no stale bytes after the strings */
    pg_row_start(row, res, row_index);
    pg_row_text(row, out->withdraw_id, sizeof(out->withdraw_id));
    pg_row_text(row, out->account_id, sizeof(out->account_id));
    pg_row_text(row, out->member_id, sizeof(out->member_id));
    pg_row_text(row, out->bank_code, sizeof(out->bank_code));
    pg_row_text(row, out->sealed_number, sizeof(out->sealed_number));
    pg_row_text(row, out->masked_number, sizeof(out->masked_number));
    pg_row_text(row, out->holder_name, sizeof(out->holder_name));
    pg_row_withdraw_status(row, &out->status);
    out->is_processing = pg_row_bool(row);
    out->confirmed_count = pg_row_int64(row);
    pg_row_text(row, out->memo, sizeof(out->memo));
    pg_row_text(row, out->transaction_id, sizeof(out->transaction_id));
    out->transaction_ms = pg_row_int64(row);
    out->amount_won = pg_row_int64(row);
    out->fee_won = pg_row_int64(row);
    out->total_amount_won = pg_row_int64(row);
    out->confirmed_ms = pg_row_int64(row);
    out->created_ms = pg_row_int64(row);
    out->updated_ms = pg_row_int64(row);
    if (out->amount_won < 1 || out->fee_won < 0 ||
        out->amount_won + out->fee_won != out->total_amount_won) {
        row->ok = false;
    }
}

/* The first row of res as a withdrawal; CASH_NOT_FOUND when there is none. Clears res. */
static cash_result withdraw_take(PGresult *res, struct withdrawal *out, const char *what)
{
    cash_result result = CASH_NOT_FOUND;
    if (PQntuples(res) > 0) {
        struct pg_row row;
        pg_withdraw_row_read(res, 0, out, &row);
        result = pg_row_check(&row, what);
    }
    PQclear(res);
    return result;
}

static cash_result withdraw_read(struct pg_conn *conn, const char *withdraw_id,
                                 struct withdrawal *out)
{
    struct pg_params params;
    pg_params_start(&params);
    pg_param_text(&params, withdraw_id);
    cash_result result = CASH_OK;
    PGresult *res = pg_exec(conn, SQL_WITHDRAW_GET, &params, "withdraw get", &result);
    if (res == NULL) {
        return result;
    }
    return withdraw_take(res, out, "withdraw get");
}

/* ---- the request ---- */

struct withdraw_context {
    struct withdraw_create *request;
    const struct store_request *replay; /* the one-statement request: its replay row */
    const char *account_id;             /* NULL: any account */
    const char *withdraw_id;
    const char *history_id;
    int64_t now_ms;
    int64_t confirmed_ms;
    struct withdrawal out;
};

/* SPEC 3: live withdrawals since the day start plus this one within the daily limit. */
static cash_result withdraw_daily_check(struct pg_conn *conn, const struct withdraw_create *request)
{
    struct pg_params params;
    pg_params_start(&params);
    pg_param_text(&params, request->withdrawal.account_id);
    pg_param_int64(&params, request->day_start_ms);
    cash_result result = CASH_OK;
    PGresult *res = pg_exec(conn, SQL_WITHDRAW_DAY_TOTAL, &params, "daily total", &result);
    if (res == NULL) {
        return result;
    }
    struct pg_row row;
    pg_row_start(&row, res, 0);
    int64_t day_total = pg_row_int64(&row);
    if (day_total < 0) {
        row.ok = false;
    }
    result = pg_row_check(&row, "daily total");
    PQclear(res);
    if (result != CASH_OK) {
        return result;
    }
    if (money_daily_limit_exceeded(day_total, request->withdrawal.total_amount_won,
                                   request->daily_limit_won)) {
        return CASH_DAILY_LIMIT_EXCEEDED;
    }
    return CASH_OK;
}

static void withdraw_debit_params(const struct withdraw_create *request, const struct withdrawal *w,
                                  struct pg_params *params)
{
    pg_params_start(params);
    pg_param_text(params, w->account_id);
    pg_param_int64(params, w->total_amount_won); /* also the guard: ledger_balance_floor_won */
    pg_param_int64(params, w->created_ms);
    pg_param_text(params, request->history_id);
    pg_param_text(params, w->withdraw_id);
    pg_param_text(params, w->member_id);
    pg_param_text(params, w->bank_code);
    pg_param_text(params, w->sealed_number);
    pg_param_text(params, w->masked_number);
    pg_param_text(params, w->holder_name);
    pg_param_int64(params, w->amount_won);
    pg_param_int64(params, w->fee_won);
    pg_param_int64(params, w->confirmed_ms);
}

/* The debit, ledger entry and withdrawal in one statement; CASH_NOT_ENOUGH_BALANCE if none. */
static cash_result withdraw_debit(struct pg_conn *conn, const struct withdraw_create *request,
                                  const struct withdrawal *w, const struct ledger_step *step)
{
    struct pg_params params;
    withdraw_debit_params(request, w, &params);
    cash_result result = CASH_OK;
    PGresult *res = pg_exec(conn, SQL_WITHDRAW_DEBIT, &params, "withdraw debit", &result);
    if (res == NULL) {
        return result;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return CASH_NOT_ENOUGH_BALANCE;
    }
    struct pg_row row;
    pg_row_start(&row, res, 0);
    int64_t old_balance = pg_row_int64(&row);
    int64_t new_balance = pg_row_int64(&row);
    int64_t entries = pg_row_int64(&row);
    int64_t withdrawals = pg_row_int64(&row);
    result = pg_row_check(&row, "withdraw debit");
    PQclear(res);
    if (result != CASH_OK) {
        return result;
    }
    /* The account row is locked: the debit must be exact, with both rows written. */
    if (!ledger_step_matches(step, old_balance, new_balance) || entries != 1 || withdrawals != 1) {
        log_error("store: withdraw debit: the balance changed under the account's lock");
        return CASH_INTERNAL_ERROR;
    }
    return CASH_OK;
}

static cash_result withdraw_create_body(struct pg_conn *conn, void *context_pointer)
{
    struct withdraw_context *context = context_pointer;
    struct withdraw_create *request = context->request;
    cash_result result = factor_spend(&conn->tx, request->factor, &context->confirmed_ms);
    if (result != CASH_OK) {
        return result;
    }
    int64_t balance = 0;
    int64_t point = 0;
    result = pg_account_lock(conn, request->withdrawal.account_id, &balance, &point);
    if (result != CASH_OK && result != CASH_NOT_FOUND) {
        return result; /* no account: no bank account either, reported below */
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
    struct ledger_step step;
    result = ledger_step_compute(balance, -request->withdrawal.total_amount_won, &step);
    if (result != CASH_OK) {
        return result;
    }
    withdraw_build(&request->withdrawal, &bank, context->confirmed_ms, &context->out);
    result = withdraw_debit(conn, request, &context->out, &step);
    if (result != CASH_OK) {
        return result;
    }
    char actor[WITHDRAW_ACTOR_BYTES_MAX + 1];
    snprintf(actor, sizeof actor, "member:%s", context->out.member_id);
    return event_insert(&conn->tx, context->out.withdraw_id, actor, NULL, WITHDRAW_PENDING, "",
                        context->out.created_ms);
}

/* The whole request as one statement (pg_function.c). */
static cash_result withdraw_function_body(struct pg_conn *conn, void *context_pointer)
{
    struct withdraw_context *context = context_pointer;
    struct bank_account bank;
    cash_result result = pg_withdraw_function_call(conn, context->request, context->replay, &bank,
                                                   &context->confirmed_ms);
    if (result == CASH_OK) {
        withdraw_build(&context->request->withdrawal, &bank, context->confirmed_ms, &context->out);
    }
    return result;
}

/* As pg_request_run, for the one statement: retried on 40001/40P01 only, outs as it leaves them. */
static cash_result withdraw_function_run(struct pg_store *store, struct withdraw_context *context,
                                         struct store_request *request)
{
    store_request_clear(request);
    context->replay = request;
    cash_result result = pg_run(store, PG_WRITE_ONE, withdraw_function_body, context);
    if (request != NULL) {
        store_request_settle(request, result);
    }
    return result;
}

/*
 * Requests a withdrawal in one transaction (store.h): CASH_DUPLICATED_SIGNATURE,
 * CASH_SECOND_FACTOR_REQUIRED, CASH_BANK_ACCOUNT_NOT_REGISTERED, CASH_BANK_ACCOUNT_COOLING_OFF,
 * CASH_DAILY_LIMIT_EXCEEDED, CASH_NOT_ENOUGH_BALANCE in this order, CASH_CONFLICT for a used
 * withdraw or history id; nothing is written unless CASH_OK. One statement unless request
 * carries an Idempotency-Key.
 */
cash_result pg_withdraw_create(struct store *base, struct withdraw_create *create,
                               struct withdrawal *out, struct store_request *request)
{
    /* Amounts a caller computed with money_quote(): anything else is a fault of the caller. */
    if (create->factor == NULL ||
        withdraw_request_check(&create->withdrawal, create->daily_limit_won) != CASH_OK) {
        log_error("store: withdraw_create: inconsistent amounts or no second factor");
        return CASH_INTERNAL_ERROR;
    }
    struct pg_store *store = pg_store_of(base);
    struct withdraw_context context = {.request = create};
    const struct pg_request_work work = {
        .body = withdraw_create_body,
        .context = &context,
        .row = &context.out,
    };
    cash_result result = CASH_OK;
    if (atomic_load(&store->withdraw_function) &&
        (request == NULL || request->idempotency_key == NULL)) {
        result = withdraw_function_run(store, &context, request);
    } else {
        result = pg_request_run(store, request, &work);
    }
    if (result == CASH_OK && (request == NULL || !request->replayed)) {
        create->factor->confirmed_ms = context.confirmed_ms;
        *out = context.out;
    }
    return result;
}

/* ---- reads ---- */

static cash_result withdraw_get_body(struct pg_conn *conn, void *context_pointer)
{
    struct withdraw_context *context = context_pointer;
    cash_result result = withdraw_read(conn, context->withdraw_id, &context->out);
    if (result == CASH_OK && context->account_id != NULL &&
        strcmp(context->out.account_id, context->account_id) != 0) {
        result = CASH_NOT_FOUND;
    }
    return result;
}

/* One withdrawal; another account's is CASH_NOT_FOUND unless account_id is NULL. */
cash_result pg_withdraw_get(struct store *store, const char *account_id, const char *withdraw_id,
                            struct withdrawal *out)
{
    struct withdraw_context context = {.account_id = account_id, .withdraw_id = withdraw_id};
    cash_result result = pg_run(pg_store_of(store), PG_READ, withdraw_get_body, &context);
    if (result == CASH_OK) {
        *out = context.out;
    }
    return result;
}

/* ---- cancel (SPEC 4) ---- */

/* The conditional UPDATE; its RETURNING row is the withdrawal as canceled. */
static cash_result withdraw_cancel_update(struct pg_conn *conn, struct withdraw_context *context)
{
    struct pg_params params;
    pg_params_start(&params);
    pg_param_int64(&params, context->now_ms);
    pg_param_text(&params, context->withdraw_id);
    pg_param_text(&params, context->account_id);
    cash_result result = CASH_OK;
    PGresult *res = pg_exec(conn, SQL_WITHDRAW_CANCEL, &params, "withdraw cancel", &result);
    if (res == NULL) {
        return result;
    }
    result = withdraw_take(res, &context->out, "withdraw cancel");
    return result == CASH_NOT_FOUND ? CASH_INVALID_STATUS : result;
}

static cash_result withdraw_cancel_body(struct pg_conn *conn, void *context_pointer)
{
    struct withdraw_context *context = context_pointer;
    int64_t balance = 0;
    int64_t point = 0;
    cash_result result = pg_account_lock(conn, context->account_id, &balance, &point);
    if (result != CASH_OK) {
        return result; /* no such account: no such withdrawal of it either */
    }
    result = withdraw_get_body(conn, context);
    if (result != CASH_OK) {
        return result;
    }
    if (!withdraw_cancelable(&context->out)) {
        return CASH_INVALID_STATUS;
    }
    const int64_t refund_won = withdraw_refund_won(&context->out, WITHDRAW_CANCELED);
    const enum withdraw_status from = context->out.status;
    result = withdraw_cancel_update(conn, context);
    if (result != CASH_OK) {
        return result;
    }
    assert(context->out.status == WITHDRAW_CANCELED);
    const struct ledger_change refund = {
        .account_id = context->account_id,
        .type = HISTORY_WITHDRAW_REFUND,
        .balance_amount_won = refund_won,
        .memo = "",
        .group_id = context->withdraw_id,
        .history_id = context->history_id,
        .now_ms = context->now_ms,
    };
    struct history_entry entry;
    result = ledger_apply(&conn->tx, &refund, &entry);
    if (result != CASH_OK) {
        return result == CASH_NOT_FOUND ? CASH_INTERNAL_ERROR : result;
    }
    char actor[WITHDRAW_ACTOR_BYTES_MAX + 1];
    snprintf(actor, sizeof actor, "account:%s", context->account_id);
    return event_insert(&conn->tx, context->withdraw_id, actor, &from, WITHDRAW_CANCELED, "",
                        context->now_ms);
}

/* The account cancels its withdrawal with a refund, in one transaction (store.h). */
cash_result pg_withdraw_cancel(struct store *store, const char *account_id, const char *withdraw_id,
                               const char *history_id, int64_t now_ms, struct withdrawal *out,
                               struct store_request *request)
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
    const struct pg_request_work work = {
        .body = withdraw_cancel_body,
        .context = &context,
        .row = &context.out,
    };
    cash_result result = pg_request_run(pg_store_of(store), request, &work);
    if (result == CASH_OK && (request == NULL || !request->replayed)) {
        *out = context.out;
    }
    return result;
}
