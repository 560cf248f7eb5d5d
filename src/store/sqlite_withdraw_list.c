/*
 * sqlite_withdraw_list.c - GET /cash/v1/withdraw (SPEC 2) in the SQLite backend: the parsed
 * struct withdraw_query becomes SQL built only from fixed fragments, with every value bound as
 * a parameter, newest first (withdrawId descending), one row more than the page: the first id of
 * the next page.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "store/sqlite_internal.h"
#include "store/store_query.h"

#define WITHDRAW_LIST_SQL_BYTES_MAX 4096
#define LIKE_PATTERN_BYTES_MAX      (2 * HOLDER_NAME_BYTES_MAX + 3)

struct withdraw_list_context {
    const struct withdraw_query *query;
    struct withdrawal *out;
    size_t count;
    char next_key[WITHDRAW_ID_LENGTH + 1]; /* the id of the row past the page, "" if none */
    char patterns[LIST_CONDITIONS_MAX][LIKE_PATTERN_BYTES_MAX]; /* bound STATIC: live with us */
};

/* The SQL of an operator, with its placeholder; NULL for an unknown one. */
static const char *query_op_sql(enum query_op op)
{
    switch (op) {
    case QUERY_EQ:
        return " = ?";
    case QUERY_NE:
        return " <> ?";
    case QUERY_GT:
        return " > ?";
    case QUERY_GTE:
        return " >= ?";
    case QUERY_LT:
        return " < ?";
    case QUERY_LTE:
        return " <= ?";
    case QUERY_LIKE:
        /* A substring match; % _ and \ in the text are escaped (like_pattern). */
        return " LIKE ? ESCAPE '\\'";
    }
    return NULL;
}

static bool sql_append(char *sql, size_t sql_size, size_t *length, const char *text)
{
    size_t text_length = strlen(text);
    if (*length + text_length >= sql_size) {
        return false;
    }
    memcpy(sql + *length, text, text_length + 1);
    *length += text_length;
    return true;
}

/* Builds the SQL from fixed fragments; CASH_VALIDATION_ERROR for a condition that makes no sense.
 */
static cash_result withdraw_list_sql(struct withdraw_list_context *context, char *sql,
                                     size_t sql_size)
{
    const struct withdraw_query *query = context->query;
    size_t length = 0;
    bool ok = sql_append(sql, sql_size, &length,
                         "SELECT " SQLITE_WITHDRAW_COLUMNS " FROM withdrawals WHERE 1 = 1");
    if (query->account_id[0] != '\0') {
        ok = ok && sql_append(sql, sql_size, &length, " AND account_id = ?");
    }
    if (query->start_key[0] != '\0') {
        ok = ok && sql_append(sql, sql_size, &length, " AND withdraw_id <= ?");
    }
    if (query->overdue) {
        ok = ok && sql_append(sql, sql_size, &length,
                              " AND status = 'CONFIRMED' AND is_processing = 1"
                              " AND processing_started_ms <= ?");
    }
    for (size_t i = 0; i < query->condition_count; i++) {
        const struct withdraw_condition *condition = &query->conditions[i];
        bool column_is_text = false;
        const char *column = store_withdraw_column(condition->field, &column_is_text);
        const char *op = query_op_sql(condition->op);
        if (column == NULL || op == NULL || column_is_text != condition->is_text ||
            (condition->op == QUERY_LIKE && !condition->is_text)) {
            return CASH_VALIDATION_ERROR;
        }
        if (condition->op == QUERY_LIKE &&
            !store_like_pattern(condition->text, context->patterns[i],
                                sizeof(context->patterns[i]))) {
            return CASH_VALIDATION_ERROR;
        }
        ok = ok && sql_append(sql, sql_size, &length, " AND ");
        ok = ok && sql_append(sql, sql_size, &length, column);
        ok = ok && sql_append(sql, sql_size, &length, op);
    }
    ok = ok && sql_append(sql, sql_size, &length, " ORDER BY withdraw_id DESC LIMIT ?");
    if (!ok) {
        log_error("store: withdraw list: the SQL does not fit WITHDRAW_LIST_SQL_BYTES_MAX");
        return CASH_INTERNAL_ERROR;
    }
    return CASH_OK;
}

static void withdraw_list_bind(struct withdraw_list_context *context, struct sqlite_binder *binder)
{
    const struct withdraw_query *query = context->query;
    if (query->account_id[0] != '\0') {
        sqlite_bind_text(binder, query->account_id);
    }
    if (query->start_key[0] != '\0') {
        sqlite_bind_text(binder, query->start_key);
    }
    if (query->overdue) {
        sqlite_bind_int64(binder, query->processing_started_before_ms);
    }
    for (size_t i = 0; i < query->condition_count; i++) {
        const struct withdraw_condition *condition = &query->conditions[i];
        if (condition->op == QUERY_LIKE) {
            sqlite_bind_text(binder, context->patterns[i]);
        } else if (condition->is_text) {
            sqlite_bind_text(binder, condition->text);
        } else {
            sqlite_bind_int64(binder, condition->number);
        }
    }
    sqlite_bind_int64(binder, (int64_t)query->limit + 1);
}

/* Reads the current row into *out only if it is good. */
static cash_result withdraw_list_row(sqlite3_stmt *stmt, struct withdrawal *out)
{
    struct withdrawal w;
    struct sqlite_row row;
    sqlite_withdraw_row_read(stmt, &w, &row);
    cash_result result = sqlite_row_check(&row, "withdraw list");
    if (result == CASH_OK) {
        *out = w;
    }
    return result;
}

static cash_result withdraw_list_rows(struct sqlite_conn *conn, sqlite3_stmt *stmt,
                                      struct withdraw_list_context *context)
{
    for (;;) {
        cash_result result = sqlite_step_row(conn, stmt, "withdraw list");
        if (result == CASH_NOT_FOUND) {
            return CASH_OK;
        }
        if (result != CASH_OK) {
            return result;
        }
        if (context->count == context->query->limit) {
            const unsigned char *id = sqlite3_column_text(stmt, SQLITE_WITHDRAW_COLUMN_ID);
            if (id == NULL || strlen((const char *)id) != WITHDRAW_ID_LENGTH) {
                log_error("store: withdraw list: a withdraw_id is malformed");
                return CASH_INTERNAL_ERROR;
            }
            memcpy(context->next_key, id, WITHDRAW_ID_LENGTH + 1);
            return CASH_OK;
        }
        result = withdraw_list_row(stmt, &context->out[context->count]);
        if (result != CASH_OK) {
            return result;
        }
        context->count++;
    }
}

static cash_result withdraw_list_body(struct sqlite_conn *conn, void *context_pointer)
{
    struct withdraw_list_context *context = context_pointer;
    char sql[WITHDRAW_LIST_SQL_BYTES_MAX];
    cash_result result = withdraw_list_sql(context, sql, sizeof(sql));
    if (result != CASH_OK) {
        return result;
    }
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(conn->db, sql, -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        return sqlite_fail(conn, rc, "withdraw list prepare");
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    withdraw_list_bind(context, &binder);
    result = sqlite_bind_check(conn, &binder, "withdraw list");
    if (result == CASH_OK) {
        result = withdraw_list_rows(conn, stmt, context);
    }
    sqlite3_finalize(stmt);
    return result;
}

/*
 * Withdrawals newest first (store.h). CASH_VALIDATION_ERROR for a limit, condition count or
 * condition out of range. On an error out[] may hold partial rows; the count does not.
 */
cash_result sqlite_withdraw_list(struct store *store, const struct withdraw_query *query,
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
    cash_result result =
        sqlite_read_run(sqlite_store_of(store), withdraw_list_body, context, false);
    if (result == CASH_OK) {
        *count_out = context->count;
        memcpy(next_key_out, context->next_key, sizeof(context->next_key));
    }
    free(context);
    return result;
}
