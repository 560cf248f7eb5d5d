/*
 * withdraw_list.c - GET /cash/v1/withdraw (SPEC 2) written once over the driver seam, and the
 * reader of a withdrawal's row that every file of the store uses. The parsed struct
 * withdraw_query becomes SQL built only from fixed fragments and numbered parameters, every value
 * bound, newest first (withdrawId descending), one row more than the page: the first id of the
 * next page.
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "store/store_internal.h"

#define LIKE_PATTERN_BYTES_MAX (2 * HOLDER_NAME_BYTES_MAX + 3)

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

/*
 * Withdrawals newest first (store.h). CASH_VALIDATION_ERROR for a limit, condition count or
 * condition out of range. On an error out[] may hold partial rows; the count does not.
 */
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
