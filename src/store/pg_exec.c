/*
 * pg_exec.c - errors and parameters of the PostgreSQL driver (pg_internal.h): SQLSTATEs mapped
 * onto results, and parameters as text (numbers formatted here). The statement verbs are
 * pg_db.c's.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "store/pg_internal.h"


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
