/*
 * sqlite_db.c - the SQLite driver's verbs (db.h). A catalogue statement is prepared once per
 * connection, and its parameters $1, $2, ... are mapped to SQLite's own indexes at that time
 * (SQLite numbers them in the order they first appear); any other parameter name is refused.
 * Writes run in the group commit of sqlite.c, each body in its own savepoint; SQLite's one writer
 * serialises them, so no body ever has to run again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "store/sqlite_internal.h"

#define SQLITE_SYNCHRONOUS_FULL 2

struct sqlite_db_stmt {
    struct db_stmt base; /* first member */
    struct sqlite_conn *conn;
    sqlite3_stmt *stmt;
    int bound; /* parameters bound so far */
    int rc;    /* the first failure of a bind */
    int param_count;
    unsigned char index_of[SQL_PARAMS_MAX + 1]; /* $n -> SQLite's index of the parameter */
};

static struct sqlite_db_stmt *sqlite_stmt_of(struct db_stmt *stmt)
{
    return (struct sqlite_db_stmt *)stmt;
}

/* Maps $1 .. $n to SQLite's indexes; false (logged) for another name or a gap: with n
 * parameters in all, each of $1 .. $n must be one of them. */
static bool sqlite_params_map(struct sqlite_db_stmt *stmt)
{
    stmt->param_count = sqlite3_bind_parameter_count(stmt->stmt);
    if (stmt->param_count > SQL_PARAMS_MAX) {
        log_error("store: a statement has more than %d parameters: %.60s", SQL_PARAMS_MAX,
                  sqlite3_sql(stmt->stmt));
        return false;
    }
    for (int number = 1; number <= stmt->param_count; number++) {
        char name[16];
        snprintf(name, sizeof(name), "$%d", number);
        int index = sqlite3_bind_parameter_index(stmt->stmt, name);
        if (index == 0) {
            log_error("store: a statement has a parameter that is not $1..$%d: %.60s",
                      stmt->param_count, sqlite3_sql(stmt->stmt));
            return false;
        }
        stmt->index_of[number] = (unsigned char)index;
    }
    return true;
}

/* Prepares text into stmt (persistent: a catalogue statement lives as long as the connection). */
static bool sqlite_db_prepare(struct sqlite_db_stmt *stmt, const char *text, bool persistent)
{
    unsigned flags = persistent ? SQLITE_PREPARE_PERSISTENT : 0;
    int rc = sqlite3_prepare_v3(stmt->conn->db, text, -1, flags, &stmt->stmt, NULL);
    if (rc != SQLITE_OK) {
        sqlite_fail(stmt->conn, rc, text);
        stmt->stmt = NULL;
        return false;
    }
    if (!sqlite_params_map(stmt)) {
        sqlite3_finalize(stmt->stmt);
        stmt->stmt = NULL;
        return false;
    }
    return true;
}

void sqlite_db_statements_free(struct sqlite_conn *conn)
{
    for (size_t i = 0; i <= SQL_COUNT; i++) {
        struct sqlite_db_stmt *stmt = conn->statements[i];
        if (stmt != NULL) {
            sqlite3_finalize(stmt->stmt);
            free(stmt);
            conn->statements[i] = NULL;
        }
    }
}

static struct db_stmt *sqlite_db_statement(struct db_tx *tx, enum sql_id id, const char *text)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)tx;
    size_t slot = text != NULL ? SQL_COUNT : (size_t)id;
    struct sqlite_db_stmt *stmt = conn->statements[slot];
    if (stmt == NULL) {
        stmt = calloc(1, sizeof(*stmt));
        if (stmt == NULL) {
            log_error("store: out of memory for a statement");
            return NULL;
        }
        stmt->base.driver = &sqlite_driver;
        stmt->conn = conn;
        conn->statements[slot] = stmt;
    }
    if (text != NULL) { /* built at run time: prepared afresh each time */
        sqlite3_finalize(stmt->stmt);
        stmt->stmt = NULL;
        if (!sqlite_db_prepare(stmt, text, false)) {
            return NULL;
        }
    } else if (stmt->stmt == NULL) {
        char composed[SQL_TEXT_BYTES_MAX];
        if (!sql_text(id, sqlite_driver.caps, composed, sizeof(composed)) ||
            !sqlite_db_prepare(stmt, composed, true)) {
            return NULL;
        }
    } else {
        sqlite3_reset(stmt->stmt);
        sqlite3_clear_bindings(stmt->stmt);
    }
    stmt->bound = 0;
    stmt->rc = SQLITE_OK;
    return &stmt->base;
}

/* The index of the next parameter, or 0 (remembered as a failure) past the last. */
static int sqlite_bind_next(struct sqlite_db_stmt *stmt)
{
    stmt->bound++;
    if (stmt->bound > stmt->param_count) {
        if (stmt->rc == SQLITE_OK) {
            stmt->rc = SQLITE_RANGE;
        }
        return 0;
    }
    return stmt->index_of[stmt->bound];
}

static void sqlite_bind_record(struct sqlite_db_stmt *stmt, int rc)
{
    if (stmt->rc == SQLITE_OK) {
        stmt->rc = rc;
    }
}

static void sqlite_db_bind_int64(struct db_stmt *base, int64_t value)
{
    struct sqlite_db_stmt *stmt = sqlite_stmt_of(base);
    int index = sqlite_bind_next(stmt);
    if (index > 0) {
        sqlite_bind_record(stmt, sqlite3_bind_int64(stmt->stmt, index, value));
    }
}

static void sqlite_db_bind_text(struct db_stmt *base, const char *text)
{
    struct sqlite_db_stmt *stmt = sqlite_stmt_of(base);
    int index = sqlite_bind_next(stmt);
    if (index > 0) {
        /* SQLITE_STATIC: the text outlives the body, and every body ends with a reset. NULL
         * binds SQL NULL. */
        sqlite_bind_record(stmt, sqlite3_bind_text(stmt->stmt, index, text, -1, SQLITE_STATIC));
    }
}

static cash_result sqlite_db_step(struct db_stmt *base)
{
    struct sqlite_db_stmt *stmt = sqlite_stmt_of(base);
    if (stmt->rc != SQLITE_OK || stmt->bound != stmt->param_count) {
        log_error("store: %d of %d parameters bound (%s): %.60s", stmt->bound, stmt->param_count,
                  sqlite3_errstr(stmt->rc), sqlite3_sql(stmt->stmt));
        return CASH_INTERNAL_ERROR;
    }
    int rc = sqlite3_step(stmt->stmt);
    if (rc == SQLITE_ROW) {
        return CASH_OK;
    }
    if (rc == SQLITE_DONE) {
        return CASH_NOT_FOUND;
    }
    return sqlite_fail(stmt->conn, rc, sqlite3_sql(stmt->stmt));
}

static int64_t sqlite_db_changes(struct db_stmt *stmt)
{
    return sqlite3_changes64(sqlite_stmt_of(stmt)->conn->db);
}

static int sqlite_db_column_count(struct db_stmt *stmt)
{
    return sqlite3_data_count(sqlite_stmt_of(stmt)->stmt);
}

static bool sqlite_db_column_is_null(struct db_stmt *stmt, int column)
{
    return sqlite3_column_type(sqlite_stmt_of(stmt)->stmt, column) == SQLITE_NULL;
}

static bool sqlite_db_column_int64(struct db_stmt *base, int column, int64_t *out)
{
    sqlite3_stmt *stmt = sqlite_stmt_of(base)->stmt;
    if (sqlite3_column_type(stmt, column) != SQLITE_INTEGER) {
        return false;
    }
    *out = sqlite3_column_int64(stmt, column);
    return true;
}

static const char *sqlite_db_column_text(struct db_stmt *stmt, int column)
{
    return (const char *)sqlite3_column_text(sqlite_stmt_of(stmt)->stmt, column);
}

static cash_result sqlite_db_exec_simple(struct db_tx *tx, const char *sql)
{
    return sqlite_exec((struct sqlite_conn *)tx, sql, sql);
}

/* SPEC 7: a commit is on disk before COMMIT returns only with PRAGMA synchronous FULL (2) or
 * EXTRA (3) in WAL mode; NORMAL (1) loses the last transactions on a power failure, OFF (0) may
 * corrupt the file. Reads it on the connection that commits (the writer); see store.h. */
static cash_result sqlite_durability_check(struct store *base, char *why, size_t why_size)
{
    struct sqlite_store *store = sqlite_store_of(base);
    struct sqlite_conn *conn = &store->writer;
    int64_t level = -1;
    pthread_mutex_lock(&store->writer_mutex);
    struct db_stmt *stmt = db_statement_text(&conn->tx, "PRAGMA synchronous");
    cash_result result = db_step_int64(stmt, "synchronous", &level);
    sqlite_stmt_reset_all(conn);
    pthread_mutex_unlock(&store->writer_mutex);
    if (result != CASH_OK) {
        return result;
    }
    if (level < SQLITE_SYNCHRONOUS_FULL) {
        snprintf(why, why_size,
                 "SQLite runs with synchronous=%lld (below FULL): a crash loses committed "
                 "transactions",
                 (long long)level);
        return CASH_VALIDATION_ERROR;
    }
    return CASH_OK;
}

/* One run of body (db.h): reads on a reader, writes in a group commit; never "again". */
static cash_result sqlite_driver_run(struct store *base, enum db_mode mode, db_body body,
                                     void *context, bool *again)
{
    struct sqlite_store *store = sqlite_store_of(base);
    *again = false;
    if (mode == DB_READ || mode == DB_SNAPSHOT) {
        return sqlite_read_run(store, body, context, mode == DB_SNAPSHOT);
    }
    return sqlite_write_run(store, body, context);
}

static int sqlite_db_control(struct store *store, int op, void *argument)
{
    switch (op) {
    case DB_CONTROL_GROUP_STATS:
        sqlite_group_stats_get(sqlite_store_of(store), argument);
        return 0;
    case DB_CONTROL_SQLITE_WRITER:
        *(sqlite3 **)argument = sqlite_store_of(store)->writer.db;
        return 0;
    default:
        return -1;
    }
}

const struct db_driver sqlite_driver = {
    .close = sqlite_close,
    .durability_check = sqlite_durability_check,
    .caps = 0,
    .run = sqlite_driver_run,
    .statement = sqlite_db_statement,
    .bind_int64 = sqlite_db_bind_int64,
    .bind_text = sqlite_db_bind_text,
    .step = sqlite_db_step,
    .changes = sqlite_db_changes,
    .column_count = sqlite_db_column_count,
    .column_is_null = sqlite_db_column_is_null,
    .column_int64 = sqlite_db_column_int64,
    .column_text = sqlite_db_column_text,
    .exec_simple = sqlite_db_exec_simple,
    .migrated = sqlite_migrated,
    .control = sqlite_db_control,
};
