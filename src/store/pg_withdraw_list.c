/*
 * pg_withdraw_list.c - GET /cash/v1/withdraw (SPEC 2) in the PostgreSQL backend: the parsed
 * struct withdraw_query becomes SQL built only from fixed fragments and numbered placeholders,
 * every value a parameter, newest first (withdrawId descending), one row more than the page: the
 * first id of the next page.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "store/pg_internal.h"
#include "store/store_query.h"

#define WITHDRAW_LIST_SQL_BYTES_MAX 4096
#define LIKE_PATTERN_BYTES_MAX      (2 * HOLDER_NAME_BYTES_MAX + 3)

struct withdraw_list_context {
    const struct withdraw_query *query;
    struct withdrawal *out;
    size_t count;
    char next_key[WITHDRAW_ID_LENGTH + 1]; /* the id of the row past the page, "" if none */
    char patterns[LIST_CONDITIONS_MAX][LIKE_PATTERN_BYTES_MAX]; /* parameters: live with us */
};

/* The SQL of an operator before its placeholder; NULL for an unknown one. */
static const char *query_op_sql(enum query_op op)
{
    switch (op) {
    case QUERY_EQ:
        return " = ";
    case QUERY_NE:
        return " <> ";
    case QUERY_GT:
        return " > ";
    case QUERY_GTE:
        return " >= ";
    case QUERY_LT:
        return " < ";
    case QUERY_LTE:
        return " <= ";
    case QUERY_LIKE:
        /* A substring match, ASCII case-insensitive as SQLite's LIKE (like_pattern escapes). */
        return " ILIKE ";
    }
    return NULL;
}

/* Appends text (a fixed fragment) to the SQL being built. */
struct sql_text {
    char *sql;
    size_t size;
    size_t length;
    int next_param; /* the number of the next $n */
    bool ok;
};

static void sql_append(struct sql_text *text, const char *fragment)
{
    size_t fragment_length = strlen(fragment);
    if (!text->ok || text->length + fragment_length >= text->size) {
        text->ok = false;
        return;
    }
    memcpy(text->sql + text->length, fragment, fragment_length + 1);
    text->length += fragment_length;
}

/* Appends the next placeholder "$n", with a cast for a number. */
static void sql_param(struct sql_text *text, bool is_text)
{
    char placeholder[32];
    snprintf(placeholder, sizeof(placeholder), "$%d::%s", text->next_param++,
             is_text ? "text" : "bigint");
    sql_append(text, placeholder);
}

static cash_result withdraw_list_conditions(struct withdraw_list_context *context,
                                            struct sql_text *text)
{
    const struct withdraw_query *query = context->query;
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
        sql_append(text, " AND ");
        sql_append(text, column);
        sql_append(text, op);
        sql_param(text, condition->is_text);
        if (condition->op == QUERY_LIKE) {
            sql_append(text, " ESCAPE '\\'");
        }
    }
    return CASH_OK;
}

/* Builds the SQL; CASH_VALIDATION_ERROR for a condition that makes no sense. */
static cash_result withdraw_list_sql(struct withdraw_list_context *context, char *sql,
                                     size_t sql_size)
{
    const struct withdraw_query *query = context->query;
    struct sql_text text = {.sql = sql, .size = sql_size, .length = 0, .next_param = 1, .ok = true};
    sql[0] = '\0';
    sql_append(&text, "SELECT " PG_WITHDRAW_COLUMNS " FROM withdrawals WHERE 1 = 1");
    if (query->account_id[0] != '\0') {
        sql_append(&text, " AND account_id = ");
        sql_param(&text, true);
    }
    if (query->start_key[0] != '\0') {
        sql_append(&text, " AND withdraw_id <= ");
        sql_param(&text, true);
    }
    if (query->overdue) {
        sql_append(&text, " AND status = 'CONFIRMED' AND is_processing = 1"
                          " AND processing_started_ms <= ");
        sql_param(&text, false);
    }
    cash_result result = withdraw_list_conditions(context, &text);
    if (result != CASH_OK) {
        return result;
    }
    sql_append(&text, " ORDER BY withdraw_id DESC LIMIT ");
    sql_param(&text, false);
    if (!text.ok) {
        log_error("store: withdraw list: the SQL does not fit WITHDRAW_LIST_SQL_BYTES_MAX");
        return CASH_INTERNAL_ERROR;
    }
    return CASH_OK;
}

static void withdraw_list_params(struct withdraw_list_context *context, struct pg_params *params)
{
    const struct withdraw_query *query = context->query;
    pg_params_start(params);
    if (query->account_id[0] != '\0') {
        pg_param_text(params, query->account_id);
    }
    if (query->start_key[0] != '\0') {
        pg_param_text(params, query->start_key);
    }
    if (query->overdue) {
        pg_param_int64(params, query->processing_started_before_ms);
    }
    for (size_t i = 0; i < query->condition_count; i++) {
        const struct withdraw_condition *condition = &query->conditions[i];
        if (condition->op == QUERY_LIKE) {
            pg_param_text(params, context->patterns[i]);
        } else if (condition->is_text) {
            pg_param_text(params, condition->text);
        } else {
            pg_param_int64(params, condition->number);
        }
    }
    pg_param_int64(params, (int64_t)query->limit + 1);
}

static cash_result withdraw_list_rows(const PGresult *res, struct withdraw_list_context *context)
{
    int rows = PQntuples(res);
    for (int i = 0; i < rows; i++) {
        if (context->count == context->query->limit) {
            const char *id = PQgetvalue(res, i, PG_WITHDRAW_COLUMN_ID);
            if (PQgetisnull(res, i, PG_WITHDRAW_COLUMN_ID) == 1 ||
                strlen(id) != WITHDRAW_ID_LENGTH) {
                log_error("store: withdraw list: a withdraw_id is malformed");
                return CASH_INTERNAL_ERROR;
            }
            memcpy(context->next_key, id, WITHDRAW_ID_LENGTH + 1);
            return CASH_OK;
        }
        struct withdrawal w;
        struct pg_row row;
        pg_withdraw_row_read(res, i, &w, &row);
        cash_result result = pg_row_check(&row, "withdraw list");
        if (result != CASH_OK) {
            return result;
        }
        context->out[context->count++] = w;
    }
    return CASH_OK;
}

static cash_result withdraw_list_body(struct pg_conn *conn, void *context_pointer)
{
    struct withdraw_list_context *context = context_pointer;
    char sql[WITHDRAW_LIST_SQL_BYTES_MAX];
    context->count = 0;
    context->next_key[0] = '\0';
    cash_result result = withdraw_list_sql(context, sql, sizeof(sql));
    if (result != CASH_OK) {
        return result;
    }
    struct pg_params params;
    withdraw_list_params(context, &params);
    PGresult *res = pg_exec_dynamic(conn, sql, &params, "withdraw list", &result);
    if (res == NULL) {
        return result;
    }
    result = withdraw_list_rows(res, context);
    PQclear(res);
    return result;
}

/*
 * Withdrawals newest first (store.h). CASH_VALIDATION_ERROR for a limit, condition count or
 * condition out of range. On an error out[] may hold partial rows; the count does not.
 */
cash_result pg_withdraw_list(struct store *store, const struct withdraw_query *query,
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
    cash_result result = pg_run(pg_store_of(store), PG_READ, withdraw_list_body, context);
    if (result == CASH_OK) {
        *count_out = context->count;
        memcpy(next_key_out, context->next_key, sizeof(context->next_key));
    }
    free(context);
    return result;
}
