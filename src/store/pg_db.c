/*
 * pg_db.c - the PostgreSQL driver's statement verbs (db.h): the catalogue's statements prepared
 * once per connection by id, values as text both ways, rows of a result one at a time, and a
 * statement marked `stream` read row by row from the server (single-row mode); and its errors,
 * SQLSTATEs mapped onto results.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "store/pg_internal.h"

#define PG_TEXT_OID         25
#define PG_INT8_OID         20
#define PG_NAME_BYTES_MAX   16
#define PG_NUMBER_BYTES_MAX 24 /* "-9223372036854775808" and its NUL */

/* Parameters of one statement, in order ($1, $2, ...), as text (numbers formatted here). */
struct pg_params {
    const char *values[SQL_PARAMS_MAX]; /* borrowed text, or numbers[i]; NULL is SQL NULL */
    char numbers[SQL_PARAMS_MAX][PG_NUMBER_BYTES_MAX];
    int count;
    bool overflow;
};

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
        const char *message = PQerrorMessage(conn->pg);
        log_error("store: %s: %.*s", what, (int)strcspn(message, "\n"), message);
        return CASH_INTERNAL_ERROR;
    }
    /* Only the primary message: DETAIL may quote the values of a row. */
    log_error("store: %s: %s (SQLSTATE %s)", what, primary != NULL ? primary : "?", state);
    return CASH_INTERNAL_ERROR;
}

cash_result pg_exec_simple(struct pg_conn *conn, const char *sql, const char *what)
{
    PGresult *res = PQexec(conn->pg, sql);
    ExecStatusType status = PQresultStatus(res);
    cash_result result = CASH_OK;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        result = pg_fail(conn, res, what);
    }
    PQclear(res);
    return result;
}

/* A whole number written out in full (a column, PQcmdTuples); false for anything else. */
static bool pg_whole_number(const char *text, int64_t *out)
{
    char *end = NULL;
    if (text == NULL || text[0] == '\0' || text[0] == ' ' || text[0] == '+') {
        return false;
    }
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0') {
        return false;
    }
    *out = (int64_t)value;
    return true;
}

/* ---- statements ---- */

struct pg_db_stmt {
    struct db_stmt base; /* first member */
    struct pg_conn *conn;
    enum sql_id id; /* SQL_COUNT: a statement built at run time */
    char *text;     /* run-time statements only: owned */
    bool stream;
    int param_count; /* the highest $n of its text */
    struct pg_params params;
    PGresult *res; /* the rows (or the current row when streaming); NULL before the first step */
    int row;       /* the current row of res */
    bool started;  /* sent to the server */
    bool finished; /* every row was read */
    int64_t changes;
};

static struct pg_db_stmt *pg_stmt_of(struct db_stmt *stmt)
{
    return (struct pg_db_stmt *)stmt;
}

static struct pg_conn *pg_conn_of_tx(struct db_tx *tx)
{
    return (struct pg_conn *)tx;
}

/* Reads a streaming statement's results to the end, so that the connection is free again. */
static void pg_stream_drain(struct pg_conn *conn)
{
    struct pg_db_stmt *stmt = conn->streaming;
    if (stmt == NULL) {
        return;
    }
    conn->streaming = NULL;
    PGresult *res = PQgetResult(conn->pg);
    while (res != NULL) {
        PQclear(res);
        res = PQgetResult(conn->pg);
    }
    stmt->finished = true;
}

static void pg_stmt_reset(struct pg_db_stmt *stmt)
{
    if (stmt->conn->streaming == stmt) {
        pg_stream_drain(stmt->conn);
    }
    PQclear(stmt->res);
    stmt->res = NULL;
    stmt->row = -1;
    stmt->started = false;
    stmt->finished = false;
    stmt->changes = 0;
    stmt->params.count = 0;
    stmt->params.overflow = false;
}

void pg_db_statements_reset(struct pg_conn *conn)
{
    for (size_t i = 0; i <= SQL_COUNT; i++) {
        if (conn->statements[i] != NULL) {
            pg_stmt_reset(conn->statements[i]);
        }
    }
}

void pg_db_statements_free(struct pg_conn *conn)
{
    for (size_t i = 0; i <= SQL_COUNT; i++) {
        struct pg_db_stmt *stmt = conn->statements[i];
        if (stmt != NULL) {
            PQclear(stmt->res);
            free(stmt->text);
            free(stmt);
            conn->statements[i] = NULL;
        }
    }
    conn->streaming = NULL;
    memset(conn->prepared, 0, sizeof(conn->prepared));
}

/* Prepares id on conn as "s<id>", with the types its entry names. */
static bool pg_db_prepare(struct pg_conn *conn, enum sql_id id)
{
    char text[SQL_TEXT_BYTES_MAX];
    char name[PG_NAME_BYTES_MAX];
    Oid types[SQL_PARAMS_MAX];
    int type_count = 0;
    if (!sql_text(id, pg_driver.caps, text, sizeof(text))) {
        return false;
    }
    const char *letters = sql_statement_of(id)->types;
    for (; letters != NULL && letters[type_count] != '\0' && type_count < SQL_PARAMS_MAX;
         type_count++) {
        char letter = letters[type_count];
        types[type_count] = letter == 't' ? PG_TEXT_OID : letter == 'i' ? PG_INT8_OID : 0;
    }
    snprintf(name, sizeof(name), "s%d", (int)id);
    pg_stream_drain(conn);
    PGresult *res = PQprepare(conn->pg, name, text, type_count, type_count > 0 ? types : NULL);
    bool prepared = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!prepared) {
        pg_fail(conn, res, text);
    }
    PQclear(res);
    conn->prepared[id] = prepared;
    conn->param_count[id] = (signed char)sql_param_count(text);
    return prepared;
}

static struct db_stmt *pg_db_statement(struct db_tx *tx, enum sql_id id, const char *text)
{
    struct pg_conn *conn = pg_conn_of_tx(tx);
    size_t slot = text != NULL ? SQL_COUNT : (size_t)id;
    if (text == NULL && !conn->prepared[id] && !pg_db_prepare(conn, id)) {
        return NULL;
    }
    struct pg_db_stmt *stmt = conn->statements[slot];
    if (stmt == NULL) {
        stmt = calloc(1, sizeof(*stmt));
        if (stmt == NULL) {
            log_error("store: out of memory for a statement");
            return NULL;
        }
        stmt->base.driver = &pg_driver;
        stmt->conn = conn;
        conn->statements[slot] = stmt;
    }
    pg_stmt_reset(stmt);
    free(stmt->text);
    stmt->text = NULL;
    stmt->id = text != NULL ? SQL_COUNT : id;
    stmt->stream = text == NULL && sql_statement_of(id)->stream;
    stmt->param_count = text != NULL ? sql_param_count(text) : conn->param_count[id];
    if (text != NULL) {
        stmt->text = strdup(text);
        if (stmt->text == NULL) {
            log_error("store: out of memory for a statement");
            return NULL;
        }
    }
    return &stmt->base;
}

/* Binds the next parameter: text borrowed until the statement has run, NULL for SQL NULL. */
static void pg_db_bind_text(struct db_stmt *stmt, const char *text)
{
    struct pg_params *params = &pg_stmt_of(stmt)->params;
    if (params->count == SQL_PARAMS_MAX) {
        params->overflow = true;
        return;
    }
    params->values[params->count++] = text;
}

static void pg_db_bind_int64(struct db_stmt *stmt, int64_t value)
{
    struct pg_params *params = &pg_stmt_of(stmt)->params;
    const char *number = NULL;
    if (params->count < SQL_PARAMS_MAX) {
        snprintf(params->numbers[params->count], PG_NUMBER_BYTES_MAX, "%lld", (long long)value);
        number = params->numbers[params->count];
    }
    pg_db_bind_text(stmt, number); /* past the last: remembered as an overflow */
}

/* What a failure of stmt is logged as: the start of its text. */
static const char *pg_stmt_what(const struct pg_db_stmt *stmt)
{
    return stmt->text != NULL ? stmt->text : sql_statement_of(stmt->id)->text;
}

/* Sends a streaming statement; CASH_OK once it is under way. */
static cash_result pg_stream_start(struct pg_db_stmt *stmt)
{
    char name[PG_NAME_BYTES_MAX];
    struct pg_conn *conn = stmt->conn;
    snprintf(name, sizeof(name), "s%d", (int)stmt->id);
    if (PQsendQueryPrepared(conn->pg, name, stmt->params.count, stmt->params.values, NULL, NULL,
                            0) == 0) {
        return pg_fail(conn, NULL, pg_stmt_what(stmt));
    }
    if (PQsetSingleRowMode(conn->pg) == 0) {
        log_warn("store: single-row mode refused; reading the rows at once");
    }
    conn->streaming = stmt;
    return CASH_OK;
}

/* The next row of a streaming statement. */
static cash_result pg_stream_step(struct pg_db_stmt *stmt)
{
    struct pg_conn *conn = stmt->conn;
    PQclear(stmt->res);
    stmt->res = PQgetResult(conn->pg);
    ExecStatusType status = stmt->res != NULL ? PQresultStatus(stmt->res) : PGRES_TUPLES_OK;
    if (status == PGRES_SINGLE_TUPLE) {
        stmt->row = 0;
        return CASH_OK;
    }
    cash_result result = CASH_NOT_FOUND;
    if (status != PGRES_TUPLES_OK) {
        result = pg_fail(conn, stmt->res, pg_stmt_what(stmt));
    }
    PQclear(stmt->res);
    stmt->res = NULL;
    pg_stream_drain(conn);
    return result;
}

/* Runs stmt and keeps all its rows. */
static cash_result pg_db_run_stmt(struct pg_db_stmt *stmt)
{
    char name[PG_NAME_BYTES_MAX];
    struct pg_conn *conn = stmt->conn;
    PGresult *res = NULL;
    if (stmt->text != NULL) {
        res = PQexecParams(conn->pg, stmt->text, stmt->params.count, NULL, stmt->params.values,
                           NULL, NULL, 0);
    } else {
        snprintf(name, sizeof(name), "s%d", (int)stmt->id);
        res =
            PQexecPrepared(conn->pg, name, stmt->params.count, stmt->params.values, NULL, NULL, 0);
    }
    ExecStatusType status = PQresultStatus(res);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        cash_result result = pg_fail(conn, res, pg_stmt_what(stmt));
        PQclear(res);
        return result;
    }
    stmt->res = res;
    /* Rows a writing statement changed; -1 where it does not say. */
    if (!pg_whole_number(PQcmdTuples(res), &stmt->changes) || stmt->changes < 0) {
        stmt->changes = -1;
    }
    return CASH_OK;
}

static cash_result pg_db_step(struct db_stmt *base)
{
    struct pg_db_stmt *stmt = pg_stmt_of(base);
    if (stmt->finished) {
        return CASH_NOT_FOUND;
    }
    if (!stmt->started) {
        stmt->started = true;
        if (stmt->params.overflow || stmt->params.count != stmt->param_count) {
            log_error("store: %d of %d parameters bound: %.60s", stmt->params.count,
                      stmt->param_count, pg_stmt_what(stmt));
            stmt->finished = true;
            return CASH_INTERNAL_ERROR;
        }
        pg_stream_drain(stmt->conn);
        cash_result result = stmt->stream ? pg_stream_start(stmt) : pg_db_run_stmt(stmt);
        if (result != CASH_OK) {
            stmt->finished = true;
            return result;
        }
    }
    if (stmt->stream) {
        return pg_stream_step(stmt);
    }
    stmt->row++;
    if (stmt->row < PQntuples(stmt->res)) {
        return CASH_OK;
    }
    stmt->finished = true;
    return CASH_NOT_FOUND;
}

static int64_t pg_db_changes(struct db_stmt *stmt)
{
    return pg_stmt_of(stmt)->changes;
}

static int pg_db_column_count(struct db_stmt *base)
{
    struct pg_db_stmt *stmt = pg_stmt_of(base);
    if (stmt->res == NULL || stmt->row < 0 || stmt->row >= PQntuples(stmt->res)) {
        return 0;
    }
    return PQnfields(stmt->res);
}

static bool pg_db_column_is_null(struct db_stmt *base, int column)
{
    struct pg_db_stmt *stmt = pg_stmt_of(base);
    return PQgetisnull(stmt->res, stmt->row, column) == 1;
}

static const char *pg_db_column_text(struct db_stmt *base, int column)
{
    struct pg_db_stmt *stmt = pg_stmt_of(base);
    if (PQgetisnull(stmt->res, stmt->row, column) == 1) {
        return NULL;
    }
    return PQgetvalue(stmt->res, stmt->row, column);
}

/* A whole number (BIGINT, INTEGER, or a NUMERIC sum without a fraction). */
static bool pg_db_column_int64(struct db_stmt *stmt, int column, int64_t *out)
{
    return pg_whole_number(pg_db_column_text(stmt, column), out);
}

static cash_result pg_db_exec_simple(struct db_tx *tx, const char *sql)
{
    struct pg_conn *conn = pg_conn_of_tx(tx);
    pg_stream_drain(conn);
    return pg_exec_simple(conn, sql, sql);
}

const struct db_driver pg_driver = {
    .close = pg_close,
    .durability_check = pg_durability_check,
    .caps = DB_CAP_ROW_LOCKS | DB_CAP_DML_CTE | DB_CAP_ILIKE | DB_CAP_PROCEDURES |
            DB_CAP_STATEMENT_TIMEOUT,
    .run = pg_driver_run,
    .statement = pg_db_statement,
    .bind_int64 = pg_db_bind_int64,
    .bind_text = pg_db_bind_text,
    .step = pg_db_step,
    .changes = pg_db_changes,
    .column_count = pg_db_column_count,
    .column_is_null = pg_db_column_is_null,
    .column_int64 = pg_db_column_int64,
    .column_text = pg_db_column_text,
    .exec_simple = pg_db_exec_simple,
    .withdraw_create_one = pg_withdraw_create_one,
    .migrated = pg_function_install,
};
