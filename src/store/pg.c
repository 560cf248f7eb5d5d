/*
 * pg.c - the PostgreSQL backend: opening, the connection pool, and the runner of transactions
 * with its retries (pg_internal.h). Statements, rows and errors are pg_db.c's.
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

struct pg_store *pg_store_of(struct store *store)
{
    assert(store != NULL && store->driver == &pg_driver);
    return (struct pg_store *)store;
}

/* ---- connections ---- */

/* Session settings of every connection: bounded waits, and no NOTICE chatter. */
#define PG_SESSION_SQL_BYTES_MAX 160

/*
 * Notices are not logged ("relation already exists, skipping" and the like). One kind matters:
 * a FATAL error that arrives while the connection is idle (pg_terminate_backend, a shutdown)
 * reaches libpq as a notice, and means the session is gone.
 */
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

/*
 * Connects conn. Defaults come before the URL, so that the URL may override them (libpq keeps
 * the last value of a repeated keyword). CASH_SERVICE_UNAVAILABLE when the server cannot be
 * reached; why (may be NULL) tells libpq's reason.
 */
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

/*
 * Whether an idle pooled connection still works, without a round trip: reads what the server
 * may have sent meanwhile - the FATAL of pg_terminate_backend or of a shutdown (a notice, see
 * pg_notice_receive), then the end of the stream (a second read sees it once the first has taken
 * the message).
 */
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

/*
 * One run of body on conn, its statements ended before the transaction is; *again when running
 * it once more is both safe and worth it.
 */
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
cash_result pg_driver_run(struct store *base, enum db_mode mode, db_body body, void *context,
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

/*
 * Opens the PostgreSQL database at url (a libpq URL) with a pool of options->pool_size
 * connections (DB_POOL_DEFAULT when 0), connecting the first one now so that a wrong URL or an
 * unreachable server is reported at once: CASH_VALIDATION_ERROR for a URL libpq cannot parse,
 * CASH_SERVICE_UNAVAILABLE when the server cannot be reached. *out is owned by the caller.
 */
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

void pg_close(struct store *base)
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

/*
 * store_durability_check (store.h), on the settings a pooled connection really runs with: those
 * of the server, the database, the role and the URL's options together.
 */
cash_result pg_durability_check(struct store *base, char *why, size_t why_size)
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
