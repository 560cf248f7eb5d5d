/*
 * pg.c - the PostgreSQL driver (db.h; pg_internal.h): opening, the connection pool, the runner of
 * transactions with its retries, and the statement verbs: the catalogue's statements prepared
 * once per connection by id, values as text both ways, rows of a result one at a time, and a
 * statement marked `stream` read row by row from the server (single-row mode); errors are
 * SQLSTATEs mapped onto results. The one-statement withdrawal is pg_function.c's.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

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

/* Maps a failed result to a cash_result, logging the SQLSTATE and the primary message (never
 * the DETAIL, which may quote stored values). Marks conn retry or lost as they apply. res may be
 * NULL when libpq could not even send. */
static cash_result pg_fail(struct pg_conn *conn, const PGresult *res, const char *what)
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

/* Runs SQL without parameters or rows (DDL, BEGIN, SET) through the simple protocol. */
static cash_result pg_exec_simple(struct pg_conn *conn, const char *sql, const char *what)
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

/* Ends every statement of conn (results freed, streams drained): after each body. */
static void pg_db_statements_reset(struct pg_conn *conn)
{
    for (size_t i = 0; i <= SQL_COUNT; i++) {
        if (conn->statements[i] != NULL) {
            pg_stmt_reset(conn->statements[i]);
        }
    }
}

/* Frees them, and forgets what was prepared: when the session ends. */
static void pg_db_statements_free(struct pg_conn *conn)
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
    struct pg_conn *conn = (struct pg_conn *)tx; /* its first member */
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

static const char *pg_db_column_text(struct db_stmt *base, int column)
{
    struct pg_db_stmt *stmt = pg_stmt_of(base);
    if (PQgetisnull(stmt->res, stmt->row, column) == 1) {
        return NULL;
    }
    return PQgetvalue(stmt->res, stmt->row, column);
}

static bool pg_db_column_is_null(struct db_stmt *stmt, int column)
{
    return pg_db_column_text(stmt, column) == NULL;
}

/* A whole number (BIGINT, INTEGER, or a NUMERIC sum without a fraction). */
static bool pg_db_column_int64(struct db_stmt *stmt, int column, int64_t *out)
{
    return pg_whole_number(pg_db_column_text(stmt, column), out);
}

static cash_result pg_db_exec_simple(struct db_tx *tx, const char *sql)
{
    struct pg_conn *conn = (struct pg_conn *)tx; /* its first member */
    pg_stream_drain(conn);
    return pg_exec_simple(conn, sql, sql);
}

struct pg_store *pg_store_of(struct store *store)
{
    assert(store != NULL && store->driver == &pg_driver);
    return (struct pg_store *)store;
}

/* ---- connections ---- */
/* Session settings of every connection: bounded waits, and no NOTICE chatter. */
#define PG_SESSION_SQL_BYTES_MAX 160

/* Notices are not logged ("relation already exists, skipping" and the like). One kind matters:
 * a FATAL error that arrives while the connection is idle (pg_terminate_backend, a shutdown)
 * reaches libpq as a notice, and means the session is gone. */
static void pg_notice_receive(void *context, const PGresult *res)
{
    struct pg_conn *conn = context;
    const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    if (severity != NULL && (strcmp(severity, "FATAL") == 0 || strcmp(severity, "PANIC") == 0)) {
        conn->lost = true;
    }
}

static cash_result pg_conn_settings(struct pg_conn *conn)
{
    char sql[PG_SESSION_SQL_BYTES_MAX];
    /* A statement waiting longer than the store's timeout (a lock, a slow disk) gives up. */
    snprintf(sql, sizeof(sql), "SET statement_timeout = %d; SET client_min_messages = warning",
             DB_TIMEOUT_MS);
    return pg_exec_simple(conn, sql, "session settings");
}

static void pg_conn_close(struct pg_conn *conn)
{
    if (conn->pg != NULL) {
        PQfinish(conn->pg);
    }
    conn->pg = NULL;
    pg_db_statements_free(conn);
    conn->retry = false;
    conn->lost = false;
}

/* Connects conn. Defaults come before the URL, so that the URL may override them (libpq keeps
 * the last value of a repeated keyword). CASH_SERVICE_UNAVAILABLE when the server cannot be
 * reached; why (may be NULL) tells libpq's reason. */
static cash_result pg_conn_open(const char *url, struct pg_conn *conn, char *why, size_t why_size)
{
    static const char *const keywords[] = {
        "connect_timeout",     "application_name", "client_encoding", "keepalives_idle",
        "keepalives_interval", "keepalives_count", "dbname",          NULL,
    };
    const char *values[] = {"10", "cashd", "UTF8", "30", "10", "3", url, NULL};
    _Static_assert(sizeof(keywords) / sizeof(keywords[0]) == sizeof(values) / sizeof(values[0]),
                   "one value per keyword");
    pg_conn_close(conn);
    conn->pg = PQconnectdbParams(keywords, values, 1);
    if (conn->pg == NULL || PQstatus(conn->pg) != CONNECTION_OK) {
        /* The first line of libpq's error names the cause (never a password). */
        const char *line = conn->pg != NULL ? PQerrorMessage(conn->pg) : "out of memory";
        int length = (int)strcspn(line, "\n");
        log_warn("store: cannot connect to PostgreSQL: %.*s", length, line);
        db_why(why, why_size, "cannot connect to PostgreSQL: %.*s", length, line);
        pg_conn_close(conn);
        return CASH_SERVICE_UNAVAILABLE;
    }
    PQsetNoticeReceiver(conn->pg, pg_notice_receive, conn);
    cash_result result = pg_conn_settings(conn);
    if (result != CASH_OK) {
        db_why(why, why_size, "cannot set up a PostgreSQL session");
        pg_conn_close(conn);
    }
    return result;
}

/* Whether an idle pooled connection still works, without a round trip: reads what the server
 * may have sent meanwhile - the FATAL of pg_terminate_backend or of a shutdown (a notice, see
 * pg_notice_receive), then the end of the stream (a second read sees it once the first has taken
 * the message). */
static bool pg_conn_alive(struct pg_conn *conn)
{
    for (int read = 0; read < 2; read++) {
        if (conn->pg == NULL || conn->lost || PQstatus(conn->pg) != CONNECTION_OK) {
            return false;
        }
        if (PQconsumeInput(conn->pg) == 0) {
            return false;
        }
    }
    return !conn->lost && PQstatus(conn->pg) == CONNECTION_OK &&
           PQtransactionStatus(conn->pg) == PQTRANS_IDLE && PQisBusy(conn->pg) == 0;
}

/* ---- the pool ---- */
/* A free connection, preferring one already connected; NULL if all are checked out. */
static struct pg_conn *pool_idle_locked(struct pg_store *store)
{
    struct pg_conn *unconnected = NULL;
    for (size_t i = 0; i < store->pool_size; i++) {
        struct pg_conn *conn = &store->conns[i];
        if (conn->checked_out) {
            continue;
        }
        if (conn->pg != NULL) {
            return conn;
        }
        if (unconnected == NULL) {
            unconnected = conn;
        }
    }
    return unconnected;
}

static void pool_release(struct pg_store *store, struct pg_conn *conn)
{
    if (conn->pg != NULL && (conn->lost || PQstatus(conn->pg) != CONNECTION_OK ||
                             PQtransactionStatus(conn->pg) != PQTRANS_IDLE)) {
        log_warn("store: closing a broken PostgreSQL connection; the pool opens a new one");
        pg_conn_close(conn);
    }
    pthread_mutex_lock(&store->pool_mutex);
    assert(conn->checked_out);
    conn->checked_out = false;
    pthread_cond_signal(&store->pool_cond);
    pthread_mutex_unlock(&store->pool_mutex);
}

/* Checks out a working connection: waits DB_TIMEOUT_MS for a free one, (re)connects it. */
static cash_result pool_checkout(struct pg_store *store, struct pg_conn **out)
{
    struct timespec deadline;
    db_deadline_after_ms(&deadline, DB_TIMEOUT_MS);
    pthread_mutex_lock(&store->pool_mutex);
    struct pg_conn *conn = pool_idle_locked(store);
    while (conn == NULL) {
        int rc = pthread_cond_timedwait(&store->pool_cond, &store->pool_mutex, &deadline);
        conn = pool_idle_locked(store);
        if (conn == NULL && rc == ETIMEDOUT) {
            pthread_mutex_unlock(&store->pool_mutex);
            log_warn("store: no PostgreSQL connection became free in time (CASHD_DB_POOL)");
            return CASH_SERVICE_UNAVAILABLE;
        }
    }
    conn->checked_out = true;
    pthread_mutex_unlock(&store->pool_mutex);

    /* Connecting happens outside the pool's lock: other threads go on meanwhile. */
    if (conn->pg != NULL && !pg_conn_alive(conn)) {
        log_warn("store: a pooled PostgreSQL connection was closed by the server; reconnecting");
        pg_conn_close(conn);
    }
    if (conn->pg == NULL) {
        cash_result result = pg_conn_open(store->url, conn, NULL, 0);
        if (result != CASH_OK) {
            pool_release(store, conn);
            return result;
        }
    }
    conn->retry = false;
    conn->lost = false;
    *out = conn;
    return CASH_OK;
}

/* ---- running bodies ---- */
/* How each mode begins; NULL: no transaction (a read, or one autocommitted statement). */
static const char *const pg_mode_begin[] = {
    [DB_READ] = NULL,
    [DB_SNAPSHOT] = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    [DB_WRITE] = "BEGIN ISOLATION LEVEL READ COMMITTED",
    [DB_WRITE_ONE] = NULL,
};

/* COMMIT, checking that it was one: an aborted transaction answers "ROLLBACK" instead. */
static cash_result pg_commit(struct pg_conn *conn)
{
    PGresult *res = PQexec(conn->pg, "COMMIT");
    cash_result result = CASH_OK;
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        result = pg_fail(conn, res, "commit");
        if (conn->lost) {
            log_warn("store: the connection was lost during COMMIT: the outcome is unknown");
        }
    } else if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
        log_error("store: COMMIT answered %s", PQcmdStatus(res));
        result = CASH_INTERNAL_ERROR;
    }
    PQclear(res);
    return result;
}

static void pg_rollback(struct pg_conn *conn)
{
    if (conn->lost || PQstatus(conn->pg) != CONNECTION_OK) {
        return; /* the server rolls back what a lost connection left open */
    }
    PGresult *res = PQexec(conn->pg, "ROLLBACK");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        log_error("store: rollback failed");
        conn->lost = true; /* close it rather than hand on a connection in a transaction */
    }
    PQclear(res);
}

/* One run of body on conn, its statements ended before the transaction is; *again when running
 * it once more is both safe and worth it. */
static cash_result pg_attempt(struct pg_conn *conn, enum db_mode mode, db_body body, void *context,
                              bool *again)
{
    const char *begin = pg_mode_begin[mode];
    cash_result result = CASH_OK;
    *again = false;
    if (begin != NULL) {
        result = pg_exec_simple(conn, begin, "begin");
        if (result != CASH_OK) {
            *again = conn->lost || conn->retry; /* nothing was done yet */
            return result;
        }
    }
    result = body(&conn->tx, context);
    pg_db_statements_reset(conn);
    if (begin != NULL) {
        if (result == CASH_OK) {
            result = pg_commit(conn);
        } else {
            pg_rollback(conn);
        }
    }
    if (result != CASH_OK) {
        *again = conn->retry || (mode == DB_READ && conn->lost);
    }
    return result;
}

/* One run of body on a pooled connection (db.h: struct db_driver run). */
static cash_result pg_driver_run(struct store *base, enum db_mode mode, db_body body, void *context,
                                 bool *again)
{
    struct pg_store *store = pg_store_of(base);
    struct pg_conn *conn = NULL;
    *again = false;
    cash_result result = pool_checkout(store, &conn);
    if (result != CASH_OK) {
        return result;
    }
    result = pg_attempt(conn, mode, body, context, again);
    pool_release(store, conn);
    return result;
}

/* ---- open and close ---- */
/* Checks the URL's syntax with libpq before anything is connected. */
static bool pg_url_valid(const char *url, char *why, size_t why_size)
{
    char *error = NULL;
    PQconninfoOption *options = PQconninfoParse(url, &error);
    if (options == NULL) {
        const char *line = error != NULL ? error : "out of memory";
        db_why(why, why_size, "the PostgreSQL URL is not valid: %.*s", (int)strcspn(line, "\n"),
               line);
        PQfreemem(error);
        return false;
    }
    PQconninfoFree(options);
    return true;
}

static void pg_store_free(struct pg_store *store)
{
    for (size_t i = 0; i < store->pool_size; i++) {
        assert(!store->conns[i].checked_out);
        pg_conn_close(&store->conns[i]);
    }
    free(store->conns);
    if (store->url != NULL) {
        OPENSSL_cleanse(store->url, strlen(store->url)); /* it may hold a password */
        free(store->url);
    }
    pthread_cond_destroy(&store->pool_cond);
    pthread_mutex_destroy(&store->pool_mutex);
    free(store);
}

/* Opens the PostgreSQL database at url (a libpq URL) with a pool of options->pool_size
 * connections (DB_POOL_DEFAULT when 0), connecting the first one now so that a wrong URL or an
 * unreachable server is reported at once: CASH_VALIDATION_ERROR for a URL libpq cannot parse,
 * CASH_SERVICE_UNAVAILABLE when the server cannot be reached. *out is owned by the caller. */
cash_result store_pg_open(const char *url, const struct store_options *options, struct store **out,
                          char *why, size_t why_size)
{
    int64_t pool_size =
        options != NULL && options->pool_size > 0 ? options->pool_size : DB_POOL_DEFAULT;
    if (pool_size > DB_POOL_MAX) {
        db_why(why, why_size, "the connection pool is larger than DB_POOL_MAX");
        return CASH_VALIDATION_ERROR;
    }
    if (!pg_url_valid(url, why, why_size)) {
        return CASH_VALIDATION_ERROR;
    }
    struct pg_store *store = calloc(1, sizeof(*store));
    if (store == NULL) {
        db_why(why, why_size, "out of memory");
        return CASH_INTERNAL_ERROR;
    }
    store->base.driver = &pg_driver;
    store->pool_size = (size_t)pool_size;
    pthread_mutex_init(&store->pool_mutex, NULL);
    pthread_cond_init(&store->pool_cond, NULL);
    atomic_init(&store->base.replay_calls, 0);
    store->url = strdup(url);
    store->conns = calloc(store->pool_size, sizeof(*store->conns));
    if (store->url == NULL || store->conns == NULL) {
        db_why(why, why_size, "out of memory");
        pg_store_free(store);
        return CASH_INTERNAL_ERROR;
    }
    for (size_t i = 0; i < store->pool_size; i++) {
        store->conns[i].tx.driver = &pg_driver;
    }
    cash_result result = pg_conn_open(store->url, &store->conns[0], why, why_size);
    if (result != CASH_OK) {
        pg_store_free(store);
        return result;
    }
    *out = &store->base;
    return CASH_OK;
}

/* Releases the store (struct db_driver: close). */
static void pg_close(struct store *base)
{
    pg_store_free(pg_store_of(base));
}

/* ---- durability (SPEC 7) ---- */
/* NULL where the engine has no such setting (CockroachDB has no fsync to turn off). */
static const char SQL_DURABILITY[] =
    "SELECT current_setting('fsync', true), current_setting('synchronous_commit', true)";

struct durability_context {
    char fsync[32];
    char synchronous_commit[32];
};

static cash_result durability_body(struct db_tx *tx, void *context_pointer)
{
    struct durability_context *context = context_pointer;
    struct db_stmt *stmt = db_statement_text(tx, SQL_DURABILITY);
    cash_result result = db_step(stmt);
    if (result != CASH_OK) {
        return result == CASH_NOT_FOUND ? CASH_INTERNAL_ERROR : result;
    }
    struct db_row row;
    db_row_start(&row, stmt);
    db_row_text(&row, context->fsync, sizeof(context->fsync));
    db_row_text(&row, context->synchronous_commit, sizeof(context->synchronous_commit));
    return db_row_check(&row, "durability");
}

static bool synchronous_commit_durable(const char *value)
{
    static const char *const durable[] = {"on", "remote_apply", "remote_write", "local", ""};
    for (size_t i = 0; i < sizeof(durable) / sizeof(durable[0]); i++) {
        if (strcmp(value, durable[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* store_durability_check (store.h), on the settings a pooled connection really runs with: those
 * of the server, the database, the role and the URL's options together. */
static cash_result pg_durability_check(struct store *base, char *why, size_t why_size)
{
    struct durability_context context;
    memset(&context, 0, sizeof(context));
    cash_result result = db_run(base, DB_READ, durability_body, &context);
    if (result != CASH_OK) {
        return result;
    }
    if (strcmp(context.fsync, "off") == 0) {
        snprintf(why, why_size,
                 "PostgreSQL runs with fsync=off: a crash of the machine loses or corrupts "
                 "committed transactions");
        return CASH_VALIDATION_ERROR;
    }
    if (!synchronous_commit_durable(context.synchronous_commit)) {
        snprintf(why, why_size,
                 "PostgreSQL runs with synchronous_commit=%s: a crash loses the last committed "
                 "transactions (use on, remote_apply, remote_write or local)",
                 context.synchronous_commit);
        return CASH_VALIDATION_ERROR;
    }
    return CASH_OK;
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
