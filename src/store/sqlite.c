/*
 * sqlite.c - the SQLite backend: connections, the reader pool, transactions and statement
 * helpers (sqlite_internal.h). The operations live in sqlite_*.c beside this file.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "store/sqlite_internal.h"

static void sqlite_close(struct store *store);

static const struct store_ops sqlite_ops = {
    .close = sqlite_close,
    .migrate = sqlite_migrate,
    .account_create = sqlite_account_create,
    .account_get = sqlite_account_get,
    .account_update = sqlite_account_update,
    .member_create = sqlite_member_create,
    .member_get = sqlite_member_get,
    .member_update = sqlite_member_update,
    .api_key_create = sqlite_api_key_create,
    .api_key_get = sqlite_api_key_get,
    .api_key_revoke = sqlite_api_key_revoke,
    .replay_remember = sqlite_replay_remember,
    .balance_credit = sqlite_balance_credit,
    .history_list = sqlite_history_list,
    .bank_account_set = sqlite_bank_account_set,
    .bank_account_get = sqlite_bank_account_get,
    .bank_account_delete = sqlite_bank_account_delete,
    .verification_create = sqlite_verification_create,
    .verification_get = sqlite_verification_get,
    .verification_attempt = sqlite_verification_attempt,
    .verification_fail = sqlite_verification_fail,
    .verification_open = sqlite_verification_open,
    .verification_try = sqlite_verification_try,
    .verification_call_result = sqlite_verification_call_result,
    .totp_enrol = sqlite_totp_enrol,
    .totp_get = sqlite_totp_get,
    .withdraw_create = sqlite_withdraw_create,
    .withdraw_get = sqlite_withdraw_get,
    .withdraw_list = sqlite_withdraw_list,
    .withdraw_cancel = sqlite_withdraw_cancel,
    .withdraw_confirm = sqlite_withdraw_confirm,
    .withdraw_reject = sqlite_withdraw_reject,
    .withdraw_events = sqlite_withdraw_events,
    .withdraw_claim = sqlite_withdraw_claim,
    .withdraw_claim_renew = sqlite_withdraw_claim_renew,
    .withdraw_settle = sqlite_withdraw_settle,
    .idempotency_forget = sqlite_idempotency_forget,
    .ledger_verify = sqlite_ledger_verify,
    .durability_check = sqlite_durability_check,
};

/* Writes "text" or, with detail, "text detail" into why. */
static void why_set(char *why, size_t why_size, const char *text, const char *detail)
{
    if (why != NULL && why_size > 0) {
        snprintf(why, why_size, "%s%s%s", text, detail[0] != '\0' ? " " : "", detail);
    }
}

struct sqlite_store *sqlite_store_of(struct store *store)
{
    assert(store != NULL && store->ops == &sqlite_ops);
    return (struct sqlite_store *)store;
}

/* ---- connections ---- */

static cash_result sqlite_pragma_wal(struct sqlite_conn *conn)
{
    sqlite3_stmt *stmt = NULL;
    cash_result result = CASH_INTERNAL_ERROR;
    int rc = sqlite3_prepare_v2(conn->db, "PRAGMA journal_mode = WAL", -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        return sqlite_fail(conn, rc, "journal_mode");
    }
    rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        result = sqlite_fail(conn, rc, "journal_mode");
        goto out_finalize;
    }
    const unsigned char *mode = sqlite3_column_text(stmt, 0);
    if (mode == NULL || strcmp((const char *)mode, "wal") != 0) {
        log_error("store: the database could not switch to WAL mode");
        goto out_finalize;
    }
    result = CASH_OK;
out_finalize:
    sqlite3_finalize(stmt);
    return result;
}

static cash_result sqlite_conn_settings(struct sqlite_conn *conn, bool writer)
{
    cash_result result = CASH_OK;
    sqlite3_extended_result_codes(conn->db, 1);
    sqlite3_busy_timeout(conn->db, DB_TIMEOUT_MS);
    result = sqlite_exec(conn, "PRAGMA foreign_keys = ON", "foreign_keys");
    if (result != CASH_OK) {
        return result;
    }
    /* FULL: a commit is on disk (the WAL is synced) before COMMIT returns (SPEC 7). */
    result = sqlite_exec(conn, "PRAGMA synchronous = FULL", "synchronous");
    if (result != CASH_OK) {
        return result;
    }
    if (writer) {
        return sqlite_pragma_wal(conn);
    }
    return sqlite_exec(conn, "PRAGMA query_only = ON", "query_only");
}

static cash_result sqlite_conn_open(const char *path, bool writer, struct sqlite_conn *conn)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (writer) {
        flags |= SQLITE_OPEN_CREATE;
    }
    memset(conn, 0, sizeof(*conn));
    int rc = sqlite3_open_v2(path, &conn->db, flags, NULL);
    if (rc != SQLITE_OK) {
        log_error("store: cannot open %s: %s", path,
                  conn->db != NULL ? sqlite3_errmsg(conn->db) : sqlite3_errstr(rc));
        sqlite3_close(conn->db);
        conn->db = NULL;
        return (rc & 0xff) == SQLITE_BUSY ? CASH_SERVICE_UNAVAILABLE : CASH_INTERNAL_ERROR;
    }
    cash_result result = sqlite_conn_settings(conn, writer);
    if (result != CASH_OK) {
        sqlite3_close(conn->db);
        conn->db = NULL;
    }
    return result;
}

static void sqlite_conn_close(struct sqlite_conn *conn)
{
    if (conn->db == NULL) {
        return;
    }
    sqlite3_stmt *stmt = sqlite3_next_stmt(conn->db, NULL);
    while (stmt != NULL) {
        sqlite3_finalize(stmt);
        stmt = sqlite3_next_stmt(conn->db, NULL);
    }
    if (sqlite3_close(conn->db) != SQLITE_OK) {
        log_error("store: closing a connection failed: %s", sqlite3_errmsg(conn->db));
    }
    memset(conn, 0, sizeof(*conn));
}

/*
 * Opens the SQLite database at path (created if missing) in WAL mode with durable commits.
 * On success *out is owned by the caller (store_close). The schema is created by store_migrate.
 */
cash_result store_sqlite_open(const char *path, struct store **out, char *why, size_t why_size)
{
    if (path == NULL || path[0] == '\0') {
        why_set(why, why_size, "the sqlite: URL names no file", "");
        return CASH_VALIDATION_ERROR;
    }
    if (sqlite3_threadsafe() == 0) {
        why_set(why, why_size, "SQLite was built without thread support", "");
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_store *store = calloc(1, sizeof(*store));
    if (store == NULL) {
        why_set(why, why_size, "out of memory", "");
        return CASH_INTERNAL_ERROR;
    }
    store->base.ops = &sqlite_ops;
    store->path = strdup(path);
    cash_result result = CASH_INTERNAL_ERROR;
    if (store->path == NULL) {
        why_set(why, why_size, "out of memory", "");
        goto out_free_store;
    }
    result = sqlite_conn_open(path, true, &store->writer);
    if (result != CASH_OK) {
        why_set(why, why_size,
                result == CASH_SERVICE_UNAVAILABLE ? "the SQLite database is busy:"
                                                   : "cannot open the SQLite database",
                path);
        goto out_free_path;
    }
    pthread_mutex_init(&store->writer_mutex, NULL);
    pthread_mutex_init(&store->readers_mutex, NULL);
    pthread_cond_init(&store->readers_cond, NULL);
    *out = &store->base;
    return CASH_OK;

out_free_path:
    free(store->path);
out_free_store:
    free(store);
    return result;
}

static void sqlite_close(struct store *base)
{
    struct sqlite_store *store = sqlite_store_of(base);
    for (size_t i = 0; i < store->reader_count; i++) {
        assert(!store->readers[i].checked_out);
        sqlite_conn_close(&store->readers[i]);
    }
    sqlite_conn_close(&store->writer);
    pthread_cond_destroy(&store->readers_cond);
    pthread_mutex_destroy(&store->readers_mutex);
    pthread_mutex_destroy(&store->writer_mutex);
    free(store->path);
    free(store);
}

/* ---- the reader pool ---- */

static void deadline_after_ms(struct timespec *deadline, int64_t ms)
{
    clock_gettime(CLOCK_REALTIME, deadline);
    deadline->tv_sec += (time_t)(ms / 1000);
    deadline->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (deadline->tv_nsec >= 1000000000L) {
        deadline->tv_sec += 1;
        deadline->tv_nsec -= 1000000000L;
    }
}

static struct sqlite_conn *reader_idle_locked(struct sqlite_store *store)
{
    for (size_t i = 0; i < store->reader_count; i++) {
        if (!store->readers[i].checked_out) {
            return &store->readers[i];
        }
    }
    return NULL;
}

/* Checks out a reader connection, opening one more while under DB_READERS_MAX. */
static cash_result reader_checkout(struct sqlite_store *store, struct sqlite_conn **out)
{
    struct timespec deadline;
    cash_result result = CASH_OK;
    deadline_after_ms(&deadline, DB_TIMEOUT_MS);
    pthread_mutex_lock(&store->readers_mutex);
    struct sqlite_conn *conn = reader_idle_locked(store);
    while (conn == NULL && store->reader_count == DB_READERS_MAX) {
        int rc = pthread_cond_timedwait(&store->readers_cond, &store->readers_mutex, &deadline);
        conn = reader_idle_locked(store);
        if (conn == NULL && rc == ETIMEDOUT) {
            log_warn("store: no reader connection became free in time");
            result = CASH_SERVICE_UNAVAILABLE;
            goto out_unlock;
        }
    }
    if (conn == NULL) {
        conn = &store->readers[store->reader_count];
        result = sqlite_conn_open(store->path, false, conn);
        if (result != CASH_OK) {
            goto out_unlock;
        }
        store->reader_count++;
    }
    conn->checked_out = true;
    *out = conn;
out_unlock:
    pthread_mutex_unlock(&store->readers_mutex);
    return result;
}

static void reader_release(struct sqlite_store *store, struct sqlite_conn *conn)
{
    sqlite_stmt_reset_all(conn);
    pthread_mutex_lock(&store->readers_mutex);
    assert(conn->checked_out);
    conn->checked_out = false;
    pthread_cond_signal(&store->readers_cond);
    pthread_mutex_unlock(&store->readers_mutex);
}

/* ---- transactions ---- */

/* Ends the open transaction: COMMIT when commit (falling back to ROLLBACK), else ROLLBACK. */
static cash_result transaction_end(struct sqlite_conn *conn, bool commit)
{
    cash_result result = CASH_OK;
    sqlite_stmt_reset_all(conn);
    if (commit) {
        result = sqlite_exec(conn, "COMMIT", "commit");
        if (result == CASH_OK) {
            return CASH_OK;
        }
    }
    if (sqlite3_get_autocommit(conn->db) == 0) {
        cash_result rollback = sqlite_exec(conn, "ROLLBACK", "rollback");
        if (rollback != CASH_OK) {
            log_error("store: rollback failed");
        }
    }
    return result;
}

/* Runs body in BEGIN IMMEDIATE ... COMMIT on the writer connection; see sqlite_internal.h. */
cash_result sqlite_write_run(struct sqlite_store *store, sqlite_tx_body body, void *context)
{
    struct sqlite_conn *conn = &store->writer;
    pthread_mutex_lock(&store->writer_mutex);
    cash_result result = sqlite_exec(conn, "BEGIN IMMEDIATE", "begin");
    if (result != CASH_OK) {
        goto out_unlock;
    }
    result = body(conn, context);
    cash_result ended = transaction_end(conn, result == CASH_OK);
    if (result == CASH_OK) {
        result = ended;
    }
out_unlock:
    pthread_mutex_unlock(&store->writer_mutex);
    return result;
}

/* Runs body on a reader connection, in one read transaction when snapshot. */
cash_result sqlite_read_run(struct sqlite_store *store, sqlite_tx_body body, void *context,
                            bool snapshot)
{
    struct sqlite_conn *conn = NULL;
    cash_result result = reader_checkout(store, &conn);
    if (result != CASH_OK) {
        return result;
    }
    if (snapshot) {
        result = sqlite_exec(conn, "BEGIN", "begin read");
        if (result != CASH_OK) {
            goto out_release;
        }
    }
    result = body(conn, context);
    if (snapshot) {
        /* A read transaction has nothing to keep: ending it is enough either way. */
        cash_result ended = transaction_end(conn, true);
        if (result == CASH_OK) {
            result = ended;
        }
    }
out_release:
    reader_release(store, conn);
    return result;
}

/* ---- errors and statements ---- */

cash_result sqlite_fail(struct sqlite_conn *conn, int rc, const char *what)
{
    int primary = rc & 0xff;
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
        log_warn("store: %s: the database stayed busy", what);
        return CASH_SERVICE_UNAVAILABLE;
    }
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
        return CASH_CONFLICT;
    }
    log_error("store: %s: %s (%d)", what, sqlite3_errmsg(conn->db), rc);
    return CASH_INTERNAL_ERROR;
}

cash_result sqlite_exec(struct sqlite_conn *conn, const char *sql, const char *what)
{
    int rc = sqlite3_exec(conn->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        return sqlite_fail(conn, rc, what);
    }
    return CASH_OK;
}

sqlite3_stmt *sqlite_stmt(struct sqlite_conn *conn, const char *sql)
{
    for (size_t i = 0; i < conn->slot_count; i++) {
        if (conn->slots[i].sql == sql) {
            sqlite3_stmt *stmt = conn->slots[i].stmt;
            sqlite3_reset(stmt);
            sqlite3_clear_bindings(stmt);
            return stmt;
        }
    }
    if (conn->slot_count == SQLITE_STMT_CACHE_MAX) {
        log_error("store: the statement cache is full (SQLITE_STMT_CACHE_MAX)");
        return NULL;
    }
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v3(conn->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
    if (rc != SQLITE_OK) {
        sqlite_fail(conn, rc, "prepare");
        return NULL;
    }
    conn->slots[conn->slot_count].sql = sql;
    conn->slots[conn->slot_count].stmt = stmt;
    conn->slot_count++;
    return stmt;
}

void sqlite_stmt_reset_all(struct sqlite_conn *conn)
{
    sqlite3_stmt *stmt = sqlite3_next_stmt(conn->db, NULL);
    while (stmt != NULL) {
        if (sqlite3_stmt_busy(stmt)) {
            sqlite3_reset(stmt);
        }
        sqlite3_clear_bindings(stmt);
        stmt = sqlite3_next_stmt(conn->db, stmt);
    }
}

cash_result sqlite_step_row(struct sqlite_conn *conn, sqlite3_stmt *stmt, const char *what)
{
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        return CASH_OK;
    }
    if (rc == SQLITE_DONE) {
        return CASH_NOT_FOUND;
    }
    return sqlite_fail(conn, rc, what);
}

cash_result sqlite_step_done(struct sqlite_conn *conn, sqlite3_stmt *stmt, const char *what,
                             int64_t *changes_out)
{
    int rc = sqlite3_step(stmt);
    while (rc == SQLITE_ROW) {
        rc = sqlite3_step(stmt);
    }
    if (rc != SQLITE_DONE) {
        return sqlite_fail(conn, rc, what);
    }
    if (changes_out != NULL) {
        *changes_out = sqlite3_changes64(conn->db);
    }
    return CASH_OK;
}

/* ---- binding ---- */

void sqlite_bind_start(struct sqlite_binder *binder, sqlite3_stmt *stmt)
{
    binder->stmt = stmt;
    binder->index = 0;
    binder->rc = SQLITE_OK;
}

static void bind_record(struct sqlite_binder *binder, int rc)
{
    if (binder->rc == SQLITE_OK) {
        binder->rc = rc;
    }
}

void sqlite_bind_text(struct sqlite_binder *binder, const char *text)
{
    binder->index++;
    /* SQLITE_STATIC: the text outlives this use of the statement (see sqlite_internal.h). */
    bind_record(binder, sqlite3_bind_text(binder->stmt, binder->index, text, -1, SQLITE_STATIC));
}

void sqlite_bind_int64(struct sqlite_binder *binder, int64_t value)
{
    binder->index++;
    bind_record(binder, sqlite3_bind_int64(binder->stmt, binder->index, value));
}

void sqlite_bind_null(struct sqlite_binder *binder)
{
    binder->index++;
    bind_record(binder, sqlite3_bind_null(binder->stmt, binder->index));
}

cash_result sqlite_bind_check(struct sqlite_conn *conn, struct sqlite_binder *binder,
                              const char *what)
{
    if (binder->rc != SQLITE_OK) {
        return sqlite_fail(conn, binder->rc, what);
    }
    assert(binder->index == sqlite3_bind_parameter_count(binder->stmt));
    return CASH_OK;
}
