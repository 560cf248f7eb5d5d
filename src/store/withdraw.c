/*
 * withdraw.c - withdrawals written once over the driver seam: the request (SPEC 3: second
 * factor, bank account, daily limit, guarded debit, ledger entry and the row, in one
 * transaction), reads with the reader of a withdrawal's row that every file of the store uses,
 * the list, and the cancel of SPEC 4.
 *
 * The request's locks, in the order every transaction takes them: the second factor's row
 * (factor_spend), then the account's (account_lock: this account's withdrawals follow one
 * another, and the daily total counts every one committed before). None of it waits on another
 * account. On SQLite the one writer gives the same order.
 *
 * A driver may run a request without an Idempotency-Key (and the operator's, with no request at
 * all) as one statement of its own (struct db_driver: withdraw_create_one; PostgreSQL's
 * server-side function, pg_function.c), which does all of the above with the replay row in one
 * round trip. A request with a key runs the statements below inside request_run's transaction,
 * because the answer kept with the key is rendered in C between the effect and the COMMIT.
 *
 * The list (GET /cash/v1/withdraw, SPEC 2): the parsed struct withdraw_query becomes SQL built
 * only from fixed fragments and numbered parameters, every value bound, newest first (withdrawId
 * descending), one row more than the page: the first id of the next page.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "domain/abuse.h"
#include "domain/money.h"
#include "domain/names.h"
#include "domain/withdraw_state.h"
#include "store/store_internal.h"

/* A withdrawal's row of WITHDRAW_COLUMNS (store_internal.h). */
cash_result withdraw_row_read(struct db_stmt *stmt, void *out_pointer)
{
    struct withdrawal *out = out_pointer;
    struct db_row row;
    db_row_start_clear(&row, stmt, out, sizeof(*out));
    db_row_text(&row, out->withdraw_id, sizeof(out->withdraw_id));
    db_row_text(&row, out->account_id, sizeof(out->account_id));
    db_row_text(&row, out->member_id, sizeof(out->member_id));
    db_row_text(&row, out->bank_code, sizeof(out->bank_code));
    db_row_text(&row, out->sealed_number, sizeof(out->sealed_number));
    db_row_text(&row, out->masked_number, sizeof(out->masked_number));
    db_row_text(&row, out->holder_name, sizeof(out->holder_name));
    db_row_withdraw_status(&row, &out->status);
    out->is_processing = db_row_bool(&row);
    out->confirmed_count = db_row_int64(&row);
    db_row_text(&row, out->memo, sizeof(out->memo));
    db_row_text(&row, out->transaction_id, sizeof(out->transaction_id));
    out->transaction_ms = db_row_int64(&row);
    out->amount_won = db_row_int64(&row);
    out->fee_won = db_row_int64(&row);
    out->total_amount_won = db_row_int64(&row);
    out->confirmed_ms = db_row_int64(&row);
    out->created_ms = db_row_int64(&row);
    out->updated_ms = db_row_int64(&row);
    if (out->amount_won < 1 || out->fee_won < 0 ||
        out->amount_won + out->fee_won != out->total_amount_won) {
        row.ok = false;
    }
    return db_row_check(&row, "withdrawal");
}

/* A withdrawal of account_id (NULL: any account); another account's is CASH_NOT_FOUND. */
static cash_result withdraw_read(struct db_tx *tx, const char *account_id, const char *withdraw_id,
                                 struct withdrawal *out)
{
    cash_result result = db_read_key(tx, SQL_WITHDRAW_GET, withdraw_id, withdraw_row_read, out);
    if (result == CASH_OK && account_id != NULL && strcmp(out->account_id, account_id) != 0) {
        result = CASH_NOT_FOUND;
    }
    return result;
}

static cash_result withdraw_insert(struct db_tx *tx, const struct withdrawal *w)
{
    struct db_stmt *stmt = db_statement(tx, SQL_WITHDRAW_INSERT);
    db_bind_text(stmt, w->withdraw_id);
    db_bind_text(stmt, w->account_id);
    db_bind_text(stmt, w->member_id);
    db_bind_text(stmt, w->bank_code);
    db_bind_text(stmt, w->sealed_number);
    db_bind_text(stmt, w->masked_number);
    db_bind_text(stmt, w->holder_name);
    db_bind_text(stmt, withdraw_status_name(w->status));
    db_bind_bool(stmt, w->is_processing);
    db_bind_int64(stmt, w->confirmed_count);
    db_bind_text(stmt, w->memo);
    db_bind_text(stmt, w->transaction_id);
    db_bind_int64(stmt, w->transaction_ms);
    db_bind_int64(stmt, w->amount_won);
    db_bind_int64(stmt, w->fee_won);
    db_bind_int64(stmt, w->total_amount_won);
    db_bind_int64(stmt, w->confirmed_ms);
    db_bind_int64(stmt, w->created_ms);
    db_bind_int64(stmt, w->updated_ms);
    return db_exec(stmt, NULL);
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
static cash_result withdraw_daily_check(struct db_tx *tx, const struct withdraw_create *request)
{
    struct db_stmt *stmt = db_statement(tx, SQL_WITHDRAW_DAY_TOTAL);
    db_bind_text(stmt, request->withdrawal.account_id);
    db_bind_int64(stmt, request->day_start_ms);
    int64_t day_total = 0;
    cash_result result = db_step_int64(stmt, "daily total", &day_total);
    if (result == CASH_OK && day_total < 0) {
        log_error("store: a daily total is negative");
        result = CASH_INTERNAL_ERROR;
    }
    if (result != CASH_OK) {
        return result;
    }
    if (money_daily_limit_exceeded(day_total, request->withdrawal.total_amount_won,
                                   request->daily_limit_won)) {
        return CASH_DAILY_LIMIT_EXCEEDED;
    }
    return CASH_OK;
}

/* The factor, the account's lock, the bank account and its cooling-off, the daily limit. */
static cash_result withdraw_checks(struct db_tx *tx, struct withdraw_context *context,
                                   struct bank_account *bank)
{
    struct withdraw_create *request = context->request;
    cash_result result = factor_spend(tx, request->factor, &context->confirmed_ms);
    if (result != CASH_OK) {
        return result;
    }
    result = account_lock(tx, request->withdrawal.account_id, NULL, NULL);
    if (result != CASH_OK && result != CASH_NOT_FOUND) {
        return result; /* no account: no bank account either, reported below */
    }
    result = bank_read(tx, request->withdrawal.account_id, bank);
    if (result != CASH_OK) {
        return result == CASH_NOT_FOUND ? CASH_BANK_ACCOUNT_NOT_REGISTERED : result;
    }
    int64_t cooled_ms = 0;
    if (bank_cooling_off_active(bank, request->bank_cooling_off_ms, request->withdrawal.created_ms,
                                &cooled_ms)) {
        return CASH_BANK_ACCOUNT_COOLING_OFF; /* SPEC 5: rolls back, the factor is not spent */
    }
    return withdraw_daily_check(tx, request);
}

static cash_result withdraw_create_body(struct db_tx *tx, void *context_pointer)
{
    struct withdraw_context *context = context_pointer;
    struct withdraw_create *request = context->request;
    struct bank_account bank;
    cash_result result = withdraw_checks(tx, context, &bank);
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
    result = ledger_apply(tx, &debit, &entry);
    if (result != CASH_OK) {
        return result;
    }
    withdraw_build(&request->withdrawal, &bank, context->confirmed_ms, &context->out);
    result = withdraw_insert(tx, &context->out);
    if (result != CASH_OK) {
        return result;
    }
    return event_insert(tx, context->out.withdraw_id, "member", context->out.member_id, NULL,
                        WITHDRAW_PENDING, "", context->out.created_ms);
}

/* The driver's one statement, if it has one and takes this request; *taken says whether. */
static cash_result withdraw_create_one(struct store *store, struct withdraw_context *context,
                                       struct store_request *request, bool *taken)
{
    *taken = false;
    if (store->driver->withdraw_create_one == NULL ||
        (request != NULL && request->idempotency_key != NULL)) {
        return CASH_OK;
    }
    struct bank_account bank;
    cash_result result = store->driver->withdraw_create_one(store, context->request, request, &bank,
                                                            &context->confirmed_ms, taken);
    if (*taken && result == CASH_OK) {
        withdraw_build(&context->request->withdrawal, &bank, context->confirmed_ms, &context->out);
    }
    return result;
}

/* Requests a withdrawal in one transaction (store.h): CASH_DUPLICATED_SIGNATURE, then the
 * refusals in struct withdraw_create's order; CASH_CONFLICT for a used withdraw or history id;
 * nothing is written unless CASH_OK. */
cash_result store_withdraw_create(struct store *store, struct withdraw_create *create,
                                  struct withdrawal *out, struct store_request *request)
{
    if (!store_request_valid(request)) {
        return CASH_VALIDATION_ERROR;
    }
    /* Amounts a caller computed with money_quote(): anything else is a fault of the caller. */
    if (create->factor == NULL ||
        withdraw_request_check(&create->withdrawal, create->daily_limit_won) != CASH_OK) {
        log_error("store: withdraw_create: inconsistent amounts or no second factor");
        return CASH_INTERNAL_ERROR;
    }
    struct withdraw_context context = {.request = create};
    bool taken = false;
    cash_result result = withdraw_create_one(store, &context, request, &taken);
    if (!taken) {
        result = request_run(store, request, withdraw_create_body, &context, NULL, &context.out);
    }
    if (request_fresh(request, result)) {
        create->factor->confirmed_ms = context.confirmed_ms;
        *out = context.out;
    }
    return result;
}

/* ---- reads ---- */
/* One withdrawal (store.h); another account's is CASH_NOT_FOUND unless account_id is NULL. */
cash_result store_withdraw_get(struct store *store, const char *account_id, const char *withdraw_id,
                               struct withdrawal *out)
{
    struct withdrawal row;
    cash_result result =
        db_get(store, SQL_WITHDRAW_GET, withdraw_id, withdraw_row_read, &row, sizeof(row));
    if (result == CASH_OK && account_id != NULL && strcmp(row.account_id, account_id) != 0) {
        result = CASH_NOT_FOUND;
    }
    if (result == CASH_OK) {
        *out = row;
    }
    return result;
}

/* ---- the list (SPEC 2) ---- */
#define LIKE_PATTERN_BYTES_MAX (2 * HOLDER_NAME_BYTES_MAX + 3)

/* The column of each field and whether it holds text (domain/query.h: enum withdraw_field). */
static const struct withdraw_column {
    const char *name;
    bool is_text;
} withdraw_columns[] = {
    [WITHDRAW_FIELD_WITHDRAW_ID] = {"withdraw_id", true},
    [WITHDRAW_FIELD_STATUS] = {"status", true},
    [WITHDRAW_FIELD_AMOUNT] = {"amount", false},
    [WITHDRAW_FIELD_FEE] = {"fee", false},
    [WITHDRAW_FIELD_TOTAL_AMOUNT] = {"total_amount", false},
    [WITHDRAW_FIELD_DATE_CREATED] = {"created_ms", false},
    [WITHDRAW_FIELD_DATE_UPDATED] = {"updated_ms", false},
    [WITHDRAW_FIELD_BANK_CODE] = {"bank_code", true},
    [WITHDRAW_FIELD_HOLDER_NAME] = {"holder_name", true},
};

/* "%text%" with the LIKE wildcards of text escaped by a backslash (the SQL says ESCAPE '\');
 * false if it does not fit out_size. */
static bool like_pattern(const char *text, char *out, size_t out_size)
{
    size_t at = 0;
    if (out_size < 3) {
        return false;
    }
    out[at++] = '%';
    for (const char *c = text; *c != '\0'; c++) {
        if (at + 4 > out_size) {
            return false;
        }
        if (*c == '%' || *c == '_' || *c == '\\') {
            out[at++] = '\\';
        }
        out[at++] = *c;
    }
    out[at++] = '%';
    out[at] = '\0';
    return true;
}

/* The SQL of each operator before its parameter (domain/query.h: enum query_op). A substring
 * match is ASCII case-insensitive on both drivers: SQLite's LIKE is, PostgreSQL's ILIKE is. */
static const char *const query_ops[] = {
    [QUERY_EQ] = " = ", [QUERY_NE] = " <> ",  [QUERY_GT] = " > ",      [QUERY_GTE] = " >= ",
    [QUERY_LT] = " < ", [QUERY_LTE] = " <= ", [QUERY_LIKE] = " LIKE ",
};

struct withdraw_list_context {
    const struct withdraw_query *query;
    struct withdrawal *out;
    size_t count;
    char next_key[WITHDRAW_ID_LENGTH + 1]; /* the id of the row past the page, "" if none */
    char patterns[LIST_CONDITIONS_MAX][LIKE_PATTERN_BYTES_MAX]; /* bound: live with us */
    struct db_query sql;
};

static cash_result withdraw_list_conditions(struct withdraw_list_context *context, bool has_ilike)
{
    const struct withdraw_query *query = context->query;
    for (size_t i = 0; i < query->condition_count; i++) {
        const struct withdraw_condition *condition = &query->conditions[i];
        size_t field = (size_t)condition->field;
        size_t op = (size_t)condition->op;
        bool like = condition->op == QUERY_LIKE;
        if (field >= sizeof(withdraw_columns) / sizeof(withdraw_columns[0]) ||
            op >= sizeof(query_ops) / sizeof(query_ops[0]) ||
            withdraw_columns[field].is_text != condition->is_text ||
            (like && !condition->is_text)) {
            return CASH_VALIDATION_ERROR;
        }
        if (like &&
            !like_pattern(condition->text, context->patterns[i], sizeof(context->patterns[i]))) {
            return CASH_VALIDATION_ERROR;
        }
        db_query_append(&context->sql, " AND ");
        db_query_append(&context->sql, withdraw_columns[field].name);
        const char *op_sql = like && has_ilike ? " ILIKE " : query_ops[op];
        if (condition->is_text) {
            db_query_text(&context->sql, op_sql, like ? context->patterns[i] : condition->text);
        } else {
            db_query_int64(&context->sql, op_sql, condition->number);
        }
        if (like) {
            db_query_append(&context->sql, " ESCAPE '\\'");
        }
    }
    return CASH_OK;
}

/* Builds the SQL; CASH_VALIDATION_ERROR for a condition that makes no sense. */
static cash_result withdraw_list_sql(struct withdraw_list_context *context, bool has_ilike)
{
    const struct withdraw_query *query = context->query;
    struct db_query *sql = &context->sql;
    db_query_start(sql, "SELECT " WITHDRAW_COLUMNS " FROM withdrawals WHERE 1 = 1");
    if (query->account_id[0] != '\0') {
        db_query_text(sql, " AND account_id = ", query->account_id);
    }
    if (query->start_key[0] != '\0') {
        db_query_text(sql, " AND withdraw_id <= ", query->start_key);
    }
    if (query->overdue) {
        db_query_int64(sql,
                       " AND status = 'CONFIRMED' AND is_processing = 1"
                       " AND processing_started_ms <= ",
                       query->processing_started_before_ms);
    }
    cash_result result = withdraw_list_conditions(context, has_ilike);
    if (result == CASH_OK) {
        db_query_int64(sql, " ORDER BY withdraw_id DESC LIMIT ", (int64_t)query->limit + 1);
    }
    return result;
}

/* The row past the page gives the next page's first id. */
static cash_result withdraw_list_next_key(struct db_stmt *stmt, char *out)
{
    struct db_row row;
    db_row_start(&row, stmt);
    const char *id = db_row_text_view(&row); /* withdraw_id comes first */
    if (!row.ok || strlen(id) != WITHDRAW_ID_LENGTH) {
        log_error("store: withdraw list: a withdraw_id is malformed");
        return CASH_INTERNAL_ERROR;
    }
    memcpy(out, id, WITHDRAW_ID_LENGTH + 1);
    return CASH_OK;
}

static cash_result withdraw_list_body(struct db_tx *tx, void *context_pointer)
{
    struct withdraw_list_context *context = context_pointer;
    context->count = 0;
    context->next_key[0] = '\0';
    cash_result result = withdraw_list_sql(context, db_tx_can(tx, DB_CAP_ILIKE));
    if (result != CASH_OK) {
        return result;
    }
    struct db_stmt *stmt = db_query_statement(tx, &context->sql, "withdraw list");
    result = db_read_rows(stmt, withdraw_row_read, context->out, sizeof(*context->out),
                          context->query->limit, &context->count);
    if (result != CASH_OK || context->count < context->query->limit) {
        return result;
    }
    result = db_step(stmt); /* the row past the page, if any */
    if (result != CASH_OK) {
        return result == CASH_NOT_FOUND ? CASH_OK : result;
    }
    return withdraw_list_next_key(stmt, context->next_key);
}

/* Withdrawals newest first (store.h). CASH_VALIDATION_ERROR for a limit, condition count or
 * condition out of range. On an error out[] may hold partial rows; the count does not. */
cash_result store_withdraw_list(struct store *store, const struct withdraw_query *query,
                                struct withdrawal *out, size_t *count_out,
                                char next_key_out[WITHDRAW_ID_LENGTH + 1])
{
    if (query->limit < 1 || query->limit > LIST_LIMIT_MAX ||
        query->condition_count > LIST_CONDITIONS_MAX) {
        return CASH_VALIDATION_ERROR;
    }
    struct withdraw_list_context *context = calloc(1, sizeof(*context));
    if (context == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    context->query = query;
    context->out = out;
    cash_result result = db_run(store, DB_READ, withdraw_list_body, context);
    if (result == CASH_OK) {
        *count_out = context->count;
        memcpy(next_key_out, context->next_key, sizeof(context->next_key));
    }
    free(context);
    return result;
}

/* ---- cancel (SPEC 4) ---- */
/* The conditional UPDATE; its RETURNING row is the withdrawal as canceled. */
static cash_result withdraw_cancel_update(struct db_tx *tx, struct withdraw_context *context)
{
    struct db_stmt *stmt = db_statement(tx, SQL_WITHDRAW_CANCEL);
    db_bind_int64(stmt, context->now_ms);
    db_bind_text(stmt, context->withdraw_id);
    db_bind_text(stmt, context->account_id);
    cash_result result = db_step(stmt);
    if (result != CASH_OK) {
        return result == CASH_NOT_FOUND ? CASH_INVALID_STATUS : result;
    }
    result = withdraw_row_read(stmt, &context->out);
    /* Run to its end, so that the change is done before the refund is written. */
    return result == CASH_OK ? db_step_end(stmt) : result;
}

static cash_result withdraw_cancel_body(struct db_tx *tx, void *context_pointer)
{
    struct withdraw_context *context = context_pointer;
    cash_result result = account_lock(tx, context->account_id, NULL, NULL);
    if (result != CASH_OK) {
        return result; /* no such account: no such withdrawal of it either */
    }
    result = withdraw_read(tx, context->account_id, context->withdraw_id, &context->out);
    if (result != CASH_OK) {
        return result;
    }
    if (!withdraw_cancelable(&context->out)) {
        return CASH_INVALID_STATUS;
    }
    const int64_t refund_won = withdraw_refund_won(&context->out, WITHDRAW_CANCELED);
    const enum withdraw_status from = context->out.status;
    result = withdraw_cancel_update(tx, context);
    if (result != CASH_OK) {
        return result;
    }
    assert(context->out.status == WITHDRAW_CANCELED);
    result = ledger_refund(tx, &context->out, refund_won, context->history_id, context->now_ms);
    if (result != CASH_OK) {
        return result;
    }
    return event_insert(tx, context->withdraw_id, "account", context->account_id, &from,
                        WITHDRAW_CANCELED, "", context->now_ms);
}

/* The account cancels its withdrawal with a refund, in one transaction (store.h). */
cash_result store_withdraw_cancel(struct store *store, const char *account_id,
                                  const char *withdraw_id, const char *history_id, int64_t now_ms,
                                  struct withdrawal *out, struct store_request *request)
{
    if (account_id == NULL || !store_request_valid(request)) {
        return CASH_VALIDATION_ERROR;
    }
    struct withdraw_context context = {
        .account_id = account_id,
        .withdraw_id = withdraw_id,
        .history_id = history_id,
        .now_ms = now_ms,
    };
    cash_result result =
        request_run(store, request, withdraw_cancel_body, &context, NULL, &context.out);
    if (request_fresh(request, result)) {
        *out = context.out;
    }
    return result;
}
