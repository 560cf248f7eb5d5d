/*
 * pg_exec.c - statements, parameters, errors and rows of the PostgreSQL backend
 * (pg_internal.h). Values travel as text in both directions; numbers are formatted and parsed
 * here with bounded parsers, enums as their wire names (domain/names.h).
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "domain/names.h"
#include "store/pg_internal.h"

#define PG_STMT_NAME_BYTES_MAX 32

/* ---- errors ---- */

static bool sqlstate_is(const char *state, const char *expected)
{
    return state != NULL && strcmp(state, expected) == 0;
}

static bool sqlstate_class_is(const char *state, const char *class_prefix)
{
    return state != NULL && strncmp(state, class_prefix, 2) == 0;
}

/* The database is busy, going away or out of something: try again later. */
static bool sqlstate_unavailable(const char *state)
{
    return sqlstate_is(state, "57014") ||    /* query_canceled: statement_timeout */
           sqlstate_is(state, "55P03") ||    /* lock_not_available */
           sqlstate_is(state, "25006") ||    /* read_only_sql_transaction: a standby */
           sqlstate_class_is(state, "53") || /* insufficient resources: too many connections */
           sqlstate_class_is(state, "57") || /* operator intervention: shutdown, terminated */
           sqlstate_class_is(state, "08");   /* connection exception */
}

/* Maps a failure (pg_internal.h); res may be NULL when libpq could not even send. */
cash_result pg_fail(struct pg_conn *conn, const PGresult *res, const char *what)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (conn->pg == NULL || PQstatus(conn->pg) != CONNECTION_OK) {
        conn->lost = true;
        log_warn("store: %s: the PostgreSQL connection was lost (%s)", what,
                 state != NULL ? state : "no SQLSTATE");
        return CASH_SERVICE_UNAVAILABLE;
    }
    if (sqlstate_is(state, "40001") || sqlstate_is(state, "40P01")) {
        conn->retry = true;
        log_debug("store: %s: %s (SQLSTATE %s)", what,
                  state[2] == 'P' ? "deadlock" : "serialization failure", state);
        return CASH_SERVICE_UNAVAILABLE;
    }
    if (sqlstate_is(state, "23505") || sqlstate_is(state, "42P07") || sqlstate_is(state, "42710")) {
        return CASH_CONFLICT; /* a unique key, or (migrations) an object another made first */
    }
    if (sqlstate_unavailable(state)) {
        log_warn("store: %s: %s (SQLSTATE %s)", what, primary != NULL ? primary : "?", state);
        return CASH_SERVICE_UNAVAILABLE;
    }
    if (state == NULL) {
        char line[256];
        const char *message = PQerrorMessage(conn->pg);
        snprintf(line, sizeof(line), "%.*s", (int)strcspn(message, "\n"), message);
        log_error("store: %s: %s", what, line);
        return CASH_INTERNAL_ERROR;
    }
    /* Only the primary message: DETAIL may quote the values of a row. */
    log_error("store: %s: %s (SQLSTATE %s)", what, primary != NULL ? primary : "?", state);
    return CASH_INTERNAL_ERROR;
}

/* ---- parameters ---- */

void pg_params_start(struct pg_params *params)
{
    params->count = 0;
    params->overflow = false;
}

static int pg_param_next(struct pg_params *params)
{
    if (params->count == PG_PARAMS_MAX) {
        params->overflow = true;
        return -1;
    }
    return params->count++;
}

void pg_param_text(struct pg_params *params, const char *text)
{
    int index = pg_param_next(params);
    if (index >= 0) {
        params->values[index] = text; /* borrowed until the statement has run */
    }
}

void pg_param_int64(struct pg_params *params, int64_t value)
{
    int index = pg_param_next(params);
    if (index >= 0) {
        snprintf(params->numbers[index], sizeof(params->numbers[index]), "%lld", (long long)value);
        params->values[index] = params->numbers[index];
    }
}

void pg_param_null(struct pg_params *params)
{
    int index = pg_param_next(params);
    if (index >= 0) {
        params->values[index] = NULL;
    }
}

/* ---- statements ---- */

static bool pg_params_usable(const struct pg_params *params, const char *what)
{
    if (params != NULL && params->overflow) {
        log_error("store: %s: more than PG_PARAMS_MAX parameters", what);
        return false;
    }
    return true;
}

/* The name of sql's prepared statement on conn, preparing it on first use. */
static bool pg_prepared_name(struct pg_conn *conn, const char *sql, const char *what,
                             char name[PG_STMT_NAME_BYTES_MAX], cash_result *result_out)
{
    for (size_t i = 0; i < conn->slot_count; i++) {
        if (conn->slots[i].sql == sql) {
            snprintf(name, PG_STMT_NAME_BYTES_MAX, "cashd_%zu", i);
            return true;
        }
    }
    if (conn->slot_count == PG_STMT_CACHE_MAX) {
        log_error("store: the statement cache is full (PG_STMT_CACHE_MAX)");
        *result_out = CASH_INTERNAL_ERROR;
        return false;
    }
    snprintf(name, PG_STMT_NAME_BYTES_MAX, "cashd_%zu", conn->slot_count);
    PGresult *res = PQprepare(conn->pg, name, sql, 0, NULL);
    bool prepared = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!prepared) {
        *result_out = pg_fail(conn, res, what);
    }
    PQclear(res);
    if (prepared) {
        conn->slots[conn->slot_count].sql = sql;
        conn->slot_count++;
    }
    return prepared;
}

/* Hands back res when it succeeded, else clears it and sets *result_out. */
static PGresult *pg_result_take(struct pg_conn *conn, PGresult *res, const char *what,
                                cash_result *result_out)
{
    ExecStatusType status = PQresultStatus(res);
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
        *result_out = CASH_OK;
        return res;
    }
    *result_out = pg_fail(conn, res, what);
    PQclear(res);
    return NULL;
}

PGresult *pg_exec(struct pg_conn *conn, const char *sql, const struct pg_params *params,
                  const char *what, cash_result *result_out)
{
    char name[PG_STMT_NAME_BYTES_MAX];
    if (!pg_params_usable(params, what)) {
        *result_out = CASH_INTERNAL_ERROR;
        return NULL;
    }
    if (!pg_prepared_name(conn, sql, what, name, result_out)) {
        return NULL;
    }
    PGresult *res = PQexecPrepared(conn->pg, name, params != NULL ? params->count : 0,
                                   params != NULL ? params->values : NULL, NULL, NULL, 0);
    return pg_result_take(conn, res, what, result_out);
}

PGresult *pg_exec_dynamic(struct pg_conn *conn, const char *sql, const struct pg_params *params,
                          const char *what, cash_result *result_out)
{
    if (!pg_params_usable(params, what)) {
        *result_out = CASH_INTERNAL_ERROR;
        return NULL;
    }
    PGresult *res = PQexecParams(conn->pg, sql, params != NULL ? params->count : 0, NULL,
                                 params != NULL ? params->values : NULL, NULL, NULL, 0);
    return pg_result_take(conn, res, what, result_out);
}

cash_result pg_exec_simple(struct pg_conn *conn, const char *sql, const char *what)
{
    cash_result result = CASH_OK;
    PGresult *res = pg_result_take(conn, PQexec(conn->pg, sql), what, &result);
    PQclear(res);
    return result;
}

int64_t pg_changes(PGresult *res)
{
    const char *text = PQcmdTuples(res);
    char *end = NULL;
    if (text == NULL || text[0] == '\0') {
        return -1;
    }
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || value < 0) {
        return -1;
    }
    return (int64_t)value;
}

/* Reads every result of the statement sent last, handing rows to each_row (single-row mode). */
static cash_result pg_each_collect(struct pg_conn *conn, const char *what, pg_each_row each_row,
                                   void *context)
{
    cash_result result = CASH_OK;
    PGresult *res = PQgetResult(conn->pg);
    while (res != NULL) {
        ExecStatusType status = PQresultStatus(res);
        if (status == PGRES_SINGLE_TUPLE) {
            if (result == CASH_OK) {
                result = each_row(context, res);
            }
        } else if (status != PGRES_TUPLES_OK && result == CASH_OK) {
            result = pg_fail(conn, res, what);
        }
        PQclear(res);
        res = PQgetResult(conn->pg); /* always to the end: the connection must be idle after */
    }
    return result;
}

cash_result pg_exec_each(struct pg_conn *conn, const char *sql, const struct pg_params *params,
                         const char *what, pg_each_row each_row, void *context)
{
    char name[PG_STMT_NAME_BYTES_MAX];
    cash_result result = CASH_OK;
    if (!pg_params_usable(params, what)) {
        return CASH_INTERNAL_ERROR;
    }
    if (!pg_prepared_name(conn, sql, what, name, &result)) {
        return result;
    }
    if (PQsendQueryPrepared(conn->pg, name, params != NULL ? params->count : 0,
                            params != NULL ? params->values : NULL, NULL, NULL, 0) == 0) {
        return pg_fail(conn, NULL, what);
    }
    if (PQsetSingleRowMode(conn->pg) == 0) {
        log_warn("store: %s: single-row mode refused; reading the rows at once", what);
    }
    return pg_each_collect(conn, what, each_row, context);
}

/* ---- rows ---- */

bool pg_copy_text(char *out, size_t out_size, const char *text)
{
    size_t length = strlen(text);
    if (length >= out_size) {
        if (out_size > 0) {
            out[0] = '\0';
        }
        return false;
    }
    memcpy(out, text, length + 1);
    return true;
}

void pg_row_start(struct pg_row *row, const PGresult *res, int row_index)
{
    row->res = res;
    row->row = row_index;
    row->column = 0;
    row->ok = row_index >= 0 && row_index < PQntuples(res);
}

bool pg_row_is_null(const struct pg_row *row)
{
    if (!row->ok || row->column >= PQnfields(row->res)) {
        return true;
    }
    return PQgetisnull(row->res, row->row, row->column) == 1;
}

/* The next column's text, or NULL for SQL NULL and a column past the end (a bad value). */
static const char *pg_row_next(struct pg_row *row)
{
    int column = row->column++;
    if (!row->ok || column >= PQnfields(row->res)) {
        row->ok = false;
        return NULL;
    }
    if (PQgetisnull(row->res, row->row, column) == 1) {
        return NULL;
    }
    return PQgetvalue(row->res, row->row, column);
}

const char *pg_row_text_view(struct pg_row *row)
{
    const char *text = pg_row_next(row);
    if (text == NULL) {
        row->ok = false;
        return "";
    }
    return text;
}

void pg_row_text(struct pg_row *row, char *out, size_t out_size)
{
    const char *text = pg_row_next(row);
    if (text == NULL) {
        out[0] = '\0'; /* NULL reads as "" (a column past the end is already marked bad) */
        return;
    }
    if (!pg_copy_text(out, out_size, text)) {
        row->ok = false;
    }
}

int64_t pg_row_int64(struct pg_row *row)
{
    const char *text = pg_row_next(row);
    char *end = NULL;
    if (text == NULL || text[0] == '\0' || text[0] == ' ' || text[0] == '+') {
        row->ok = false;
        return 0;
    }
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0') {
        row->ok = false;
        return 0;
    }
    return (int64_t)value;
}

bool pg_row_bool(struct pg_row *row)
{
    int64_t value = pg_row_int64(row);
    if (value != 0 && value != 1) {
        row->ok = false;
    }
    return value == 1;
}

void pg_row_account_status(struct pg_row *row, enum account_status *out)
{
    if (!account_status_parse(pg_row_text_view(row), out)) {
        row->ok = false;
    }
}

void pg_row_account_verified(struct pg_row *row, enum account_verified *out)
{
    if (!account_verified_parse(pg_row_text_view(row), out)) {
        row->ok = false;
    }
}

void pg_row_member_role(struct pg_row *row, enum member_role *out)
{
    if (!member_role_parse(pg_row_text_view(row), out)) {
        row->ok = false;
    }
}

void pg_row_member_status(struct pg_row *row, enum member_status *out)
{
    if (!member_status_parse(pg_row_text_view(row), out)) {
        row->ok = false;
    }
}

void pg_row_withdraw_status(struct pg_row *row, enum withdraw_status *out)
{
    if (!withdraw_status_parse(pg_row_text_view(row), out)) {
        row->ok = false;
    }
}

void pg_row_history_type(struct pg_row *row, enum history_type *out)
{
    if (!history_type_parse(pg_row_text_view(row), out)) {
        row->ok = false;
    }
}

void pg_row_verification_method(struct pg_row *row, enum verification_method *out)
{
    if (!verification_method_parse(pg_row_text_view(row), out)) {
        row->ok = false;
    }
}

/* Stored statuses only: EXPIRED is derived from the clock and never stored (types.h). */
void pg_row_verification_status(struct pg_row *row, enum verification_status *out)
{
    static const enum verification_status stored[] = {
        VERIFICATION_PENDING,
        VERIFICATION_CONFIRMED,
        VERIFICATION_LOCKED,
        VERIFICATION_FAILED,
    };
    const char *text = pg_row_text_view(row);
    for (size_t i = 0; i < sizeof(stored) / sizeof(stored[0]); i++) {
        if (strcmp(text, verification_status_name(stored[i])) == 0) {
            *out = stored[i];
            return;
        }
    }
    row->ok = false;
}

cash_result pg_row_check(const struct pg_row *row, const char *what)
{
    if (!row->ok) {
        log_error("store: %s: a stored row holds a value out of range", what);
        return CASH_INTERNAL_ERROR;
    }
    return CASH_OK;
}

/* Runs a static statement with params and only cares whether it worked; *changes_out rows. */
cash_result pg_exec_changes(struct pg_conn *conn, const char *sql, const struct pg_params *params,
                            const char *what, int64_t *changes_out)
{
    cash_result result = CASH_OK;
    PGresult *res = pg_exec(conn, sql, params, what, &result);
    if (res == NULL) {
        return result;
    }
    if (changes_out != NULL) {
        *changes_out = pg_changes(res);
    }
    PQclear(res);
    return CASH_OK;
}
