/*
 * sqlite.c - the SQLite driver (db.h): connections, the reader pool, the group commit and the
 * driver's verbs (sqlite_internal.h); the CHECK rewrite after the migrations is sqlite_checks.c's.
 *
 * Statements. A catalogue statement is prepared once per connection, and its parameters $1, $2,
 * ... are mapped to SQLite's own indexes at that time (SQLite numbers them in the order they
 * first appear); any other parameter name is refused. Writes run in the group commit, each body
 * in its own savepoint; SQLite's one writer serialises them, so no body ever has to run again.
 *
 * Group commit. With synchronous=FULL every COMMIT syncs the WAL, and that sync, not the SQL,
 * bounds how many durable writes a second the one writer makes. So sqlite_write_run() does not
 * commit alone: each caller queues a job (its body, context and result slot), and the caller
 * whose job heads the queue becomes the leader. The leader takes the connection (writer_mutex),
 * takes every job queued by then (at most DB_GROUP_COMMIT_JOBS_MAX), and runs them in one
 * transaction: BEGIN IMMEDIATE, then per job SAVEPOINT, the body, and RELEASE on CASH_OK or
 * ROLLBACK TO + RELEASE otherwise (one refused request never undoes the others), then one
 * COMMIT. It then wakes every job's caller with its result and hands the lead to the caller
 * heading the queue, i.e. the jobs that arrived meanwhile form the next batch and no caller
 * serves more than one batch. If the transaction is lost (COMMIT fails, or SQLite rolls it back
 * by itself after an I/O error or SQLITE_FULL), nothing of the batch committed and every job
 * answers a failure, CASH_OK included: a body's CASH_OK counts only once COMMIT returned.
 * A batch of one job needs no savepoint and runs as a plain transaction. The savepoints'
 * sub-journals stay in memory (temp_store, sqlite_conn_settings). Figures: docs/PERFORMANCE.md.
 *
 * Checkpoints. SQLite's own would copy the WAL into the database inside the COMMIT that took the
 * WAL past 1,000 frames, with the writer held and the batch's callers waiting. Here the writer's
 * WAL hook only notes the WAL's length, and the leader of a batch, once it has passed the lead on,
 * checkpoints on a connection of its own while the next batches run (checkpoint_after_batch).
 *
 * Leader and followers rather than a writer thread of its own: a caller alone (no concurrency)
 * runs its body on its own thread exactly as a plain transaction would, with no hand-off and no
 * added latency; under load each follower costs one wake-up where a writer thread costs two
 * (there and back); and there is no thread to start and stop with every store_open (cashctl
 * opens stores too). The price is that the leader's own call also waits for the others' bodies,
 * which the batch limit bounds.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "store/sqlite_internal.h"

struct sqlite_store *sqlite_store_of(struct store *store)
{
    assert(store != NULL && store->driver == &sqlite_driver);
    return (struct sqlite_store *)store;
}

/* ---- errors and statements ---- */
/* Maps a SQLite error to a result, logging unexpected ones (never bound values) with what. */
static cash_result sqlite_fail(struct sqlite_conn *conn, int rc, const char *what)
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

/* Executes SQL without parameters or rows (DDL, pragmas). */
static cash_result sqlite_exec(struct sqlite_conn *conn, const char *sql, const char *what)
{
    int rc = sqlite3_exec(conn->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        return sqlite_fail(conn, rc, what);
    }
    return CASH_OK;
}

/* Resets every statement of the connection still running (before COMMIT and on release). */
static void sqlite_stmt_reset_all(struct sqlite_conn *conn)
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

/* A statement of the catalogue (or built at run time) on one connection. */
struct sqlite_db_stmt {
    struct db_stmt base; /* first member */
    struct sqlite_conn *conn;
    sqlite3_stmt *stmt;
    int bound; /* parameters bound so far */
    int rc;    /* the first failure of a bind */
    int param_count;
    unsigned char index_of[SQL_PARAMS_MAX + 1]; /* $n -> SQLite's index of the parameter */
};

/* Finalizes and frees the catalogue's statements of conn (before it closes). */
static void sqlite_db_statements_free(struct sqlite_conn *conn)
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

/* ---- connections ---- */
/* sqlite3_exec's callback for the journal mode the pragma answers: *is_wal when it is "wal". */
static int journal_mode_note(void *is_wal, int columns, char **values, char **names)
{
    (void)names;
    *(bool *)is_wal = columns == 1 && values[0] != NULL && strcmp(values[0], "wal") == 0;
    return 0;
}

static cash_result sqlite_pragma_wal(struct sqlite_conn *conn)
{
    bool is_wal = false;
    int rc = sqlite3_exec(conn->db, "PRAGMA journal_mode = WAL", journal_mode_note, &is_wal, NULL);
    if (rc != SQLITE_OK) {
        return sqlite_fail(conn, rc, "journal_mode");
    }
    if (!is_wal) {
        log_error("store: the database could not switch to WAL mode");
        return CASH_INTERNAL_ERROR;
    }
    return CASH_OK;
}

static cash_result sqlite_conn_settings(struct sqlite_conn *conn, bool writer)
{
    sqlite3_extended_result_codes(conn->db, 1);
    sqlite3_busy_timeout(conn->db, DB_TIMEOUT_MS);
    /* synchronous FULL: a commit is on disk (the WAL is synced) before COMMIT returns (SPEC 7). */
    cash_result result =
        sqlite_exec(conn, "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL", "settings");
    if (result != CASH_OK) {
        return result;
    }
    if (!writer) {
        return sqlite_exec(conn, "PRAGMA query_only = ON", "query_only");
    }
    /* The writer's page cache outlives its own commits (readers' caches are dropped at every
     * commit, so a larger one would not help them): 16 MiB instead of 2 keeps the index pages of
     * many accounts, 32 read syscalls per withdrawal down to 27 with 1,000 accounts. A job's
     * savepoint (group commit) keeps the pages it changes in a sub-journal until its RELEASE:
     * temp_store keeps it in memory, not in a temporary file opened and unlinked per job past
     * 64 KiB. */
    result = sqlite_exec(conn, "PRAGMA cache_size = -16384; PRAGMA temp_store = MEMORY",
                         "writer settings");
    return result == CASH_OK ? sqlite_pragma_wal(conn) : result;
}

static cash_result sqlite_conn_open(const char *path, bool writer, struct sqlite_conn *conn)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (writer) {
        flags |= SQLITE_OPEN_CREATE;
    }
    memset(conn, 0, sizeof(*conn));
    conn->tx.driver = &sqlite_driver;
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
    sqlite_db_statements_free(conn);
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

/* ---- checkpoints (see the head of this file) ---- */
/* The writer's WAL hook, called after each commit: notes the WAL's length, checkpoints nothing. */
static int wal_hook_note(void *pointer, sqlite3 *db, const char *name, int frames)
{
    (void)db;
    (void)name;
    struct sqlite_store *store = pointer;
    atomic_store(&store->wal_frames, frames);
    return SQLITE_OK;
}

/* One PASSIVE checkpoint on the checkpointer connection (checkpoint_mutex held): it copies the
 * frames no reader still needs, never waits, and lets writes go on meanwhile. Failures are
 * logged and left to the next batch's checkpoint. */
static void checkpoint_run(struct sqlite_store *store)
{
    if (store->checkpointer.db == NULL &&
        sqlite_conn_open(store->path, false, &store->checkpointer) != CASH_OK) {
        return;
    }
    int frames = 0;
    int copied = 0;
    int rc = sqlite3_wal_checkpoint_v2(store->checkpointer.db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                       &frames, &copied);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
        log_warn("store: checkpoint failed: %s", sqlite3_errmsg(store->checkpointer.db));
        return;
    }
    atomic_store(&store->wal_frames_copied, copied > 0 ? copied : 0);
    atomic_fetch_add(&store->checkpoints, 1);
}

/*
 * After a batch, by its leader: a WAL of DB_CHECKPOINT_FRAMES or more is checkpointed, unless
 * another caller is at it. Under steady writes a passive checkpoint never reaches the newest
 * frames, and the WAL starts over (instead of growing) only once one has; so a WAL past
 * DB_CHECKPOINT_CATCH_UP_FRAMES is checkpointed with the writer held, which copies just what came
 * since the last one and lets the next transaction start the WAL over.
 */
static void checkpoint_after_batch(struct sqlite_store *store)
{
    int frames = atomic_load(&store->wal_frames);
    int copied = atomic_load(&store->wal_frames_copied);
    int uncopied = frames >= copied ? frames - copied : frames; /* or the WAL started over */
    bool catch_up = frames >= DB_CHECKPOINT_CATCH_UP_FRAMES && uncopied > 0;
    if ((uncopied < DB_CHECKPOINT_FRAMES && !catch_up) ||
        pthread_mutex_trylock(&store->checkpoint_mutex) != 0) {
        return;
    }
    if (catch_up) {
        pthread_mutex_lock(&store->writer_mutex);
    }
    checkpoint_run(store);
    if (catch_up) {
        pthread_mutex_unlock(&store->writer_mutex);
    }
    pthread_mutex_unlock(&store->checkpoint_mutex);
}

/* Opens the SQLite database at path (created if missing) in WAL mode with durable commits.
 * On success *out is owned by the caller (store_close). The schema is created by store_migrate. */
cash_result store_sqlite_open(const char *path, struct store **out, char *why, size_t why_size)
{
    if (path == NULL || path[0] == '\0') {
        db_why(why, why_size, "the sqlite: URL names no file");
        return CASH_VALIDATION_ERROR;
    }
    if (sqlite3_threadsafe() == 0) {
        db_why(why, why_size, "SQLite was built without thread support");
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_store *store = calloc(1, sizeof(*store));
    if (store == NULL) {
        db_why(why, why_size, "out of memory");
        return CASH_INTERNAL_ERROR;
    }
    store->base.driver = &sqlite_driver;
    store->path = strdup(path);
    cash_result result = CASH_INTERNAL_ERROR;
    if (store->path == NULL) {
        db_why(why, why_size, "out of memory");
        goto out_free_store;
    }
    result = sqlite_conn_open(path, true, &store->writer);
    if (result != CASH_OK) {
        db_why(why, why_size, "%s %s",
               result == CASH_SERVICE_UNAVAILABLE ? "the SQLite database is busy:"
                                                  : "cannot open the SQLite database",
               path);
        goto out_free_path;
    }
    sqlite3_wal_hook(store->writer.db, wal_hook_note, store);
    pthread_mutex_init(&store->writer_mutex, NULL);
    pthread_mutex_init(&store->group_mutex, NULL);
    pthread_mutex_init(&store->checkpoint_mutex, NULL);
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

/* Releases the store (struct db_driver: close). */
static void sqlite_close(struct store *base)
{
    struct sqlite_store *store = sqlite_store_of(base);
    for (size_t i = 0; i < store->reader_count; i++) {
        assert(!store->readers[i].checked_out);
        sqlite_conn_close(&store->readers[i]);
    }
    assert(store->group_head == NULL && !store->group_leading);
    log_debug("store: %llu write calls in %llu transactions, at most %zu in one",
              (unsigned long long)store->group_jobs, (unsigned long long)store->group_batches,
              store->group_batch_jobs_max);
    sqlite_conn_close(&store->checkpointer);
    sqlite_conn_close(&store->writer);
    pthread_cond_destroy(&store->readers_cond);
    pthread_mutex_destroy(&store->readers_mutex);
    pthread_mutex_destroy(&store->checkpoint_mutex);
    pthread_mutex_destroy(&store->group_mutex);
    pthread_mutex_destroy(&store->writer_mutex);
    free(store->path);
    free(store);
}

/* ---- the reader pool ---- */
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
    db_deadline_after_ms(&deadline, DB_TIMEOUT_MS);
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
/* Ends the open transaction without keeping anything, unless SQLite already rolled it back. */
static void transaction_rollback(struct sqlite_conn *conn)
{
    sqlite_stmt_reset_all(conn);
    if (sqlite3_get_autocommit(conn->db) != 0) {
        return;
    }
    if (sqlite_exec(conn, "ROLLBACK", "rollback") != CASH_OK) {
        log_error("store: rollback failed");
    }
}

/* COMMIT; when it fails, what is left of the transaction is rolled back. */
static cash_result transaction_commit(struct sqlite_conn *conn)
{
    sqlite_stmt_reset_all(conn);
    cash_result result = sqlite_exec(conn, "COMMIT", "commit");
    if (result != CASH_OK) {
        transaction_rollback(conn);
    }
    return result;
}

/* ---- group commit (see the head of this file) ---- */
_Static_assert(DB_GROUP_COMMIT_JOBS_MAX >= 1, "a batch holds at least the leader's own job");

struct sqlite_group_job {
    db_body body;
    void *context;
    cash_result result;            /* the leader's to write until done, then the caller's */
    bool done;                     /* guarded by group_mutex */
    pthread_cond_t wake;           /* done, or the job heads the queue with no leader */
    struct sqlite_group_job *next; /* the queue's (group_mutex) until taken, then the batch's */
};

static void group_enqueue_locked(struct sqlite_store *store, struct sqlite_group_job *job)
{
    if (store->group_tail == NULL) {
        store->group_head = job;
    } else {
        store->group_tail->next = job;
    }
    store->group_tail = job;
    store->group_queued++;
}

/* Detaches the batch: up to DB_GROUP_COMMIT_JOBS_MAX jobs from the head, oldest first. */
static struct sqlite_group_job *group_take_locked(struct sqlite_store *store, size_t *count_out)
{
    struct sqlite_group_job *first = store->group_head;
    struct sqlite_group_job *last = first;
    size_t count = 1;
    assert(first != NULL);
    while (count < DB_GROUP_COMMIT_JOBS_MAX && last->next != NULL) {
        last = last->next;
        count++;
    }
    store->group_head = last->next;
    if (store->group_head == NULL) {
        store->group_tail = NULL;
    }
    last->next = NULL;
    assert(store->group_queued >= count);
    store->group_queued -= count;
    *count_out = count;
    return first;
}

/* What every job of a batch that did not commit answers: never CASH_OK, and never a verdict on
 * one request's data (the writes it saw were rolled back with everyone's). */
static cash_result group_lost_result(cash_result cause)
{
    return cause == CASH_SERVICE_UNAVAILABLE ? CASH_SERVICE_UNAVAILABLE : CASH_INTERNAL_ERROR;
}

static void group_fail_all(struct sqlite_group_job *first, cash_result result)
{
    assert(result != CASH_OK);
    for (struct sqlite_group_job *job = first; job != NULL; job = job->next) {
        job->result = result;
    }
}

/* Runs one job in a savepoint of the open transaction: released when its body returns CASH_OK,
 * rolled back to otherwise, which undoes this job's writes and no one else's. False when the
 * batch is lost: SQLite ended the transaction itself (an I/O error, SQLITE_FULL), or a savepoint
 * statement failed. */
static bool group_job_run(struct sqlite_conn *conn, struct sqlite_group_job *job)
{
    job->result = sqlite_exec(conn, "SAVEPOINT job", "savepoint");
    if (job->result != CASH_OK) {
        return false;
    }
    job->result = job->body(&conn->tx, job->context);
    /* As at the end of a transaction: nothing left running, no binding into the caller's memory. */
    sqlite_stmt_reset_all(conn);
    if (sqlite3_get_autocommit(conn->db) != 0) {
        log_error("store: the transaction of a batch was rolled back under it: %s",
                  sqlite3_errmsg(conn->db));
        return false;
    }
    const char *end = job->result == CASH_OK ? "RELEASE job" : "ROLLBACK TO job; RELEASE job";
    return sqlite_exec(conn, end, "savepoint end") == CASH_OK;
}

/* A batch of one needs no savepoint: the open transaction is the job's own. */
static void group_alone_run(struct sqlite_conn *conn, struct sqlite_group_job *job)
{
    job->result = job->body(&conn->tx, job->context);
    if (job->result != CASH_OK) {
        transaction_rollback(conn);
        return;
    }
    cash_result committed = transaction_commit(conn);
    if (committed != CASH_OK) {
        job->result = group_lost_result(committed);
    }
}

/* One transaction for the batch (writer_mutex held); leaves every job's final result. */
static void group_batch_run(struct sqlite_conn *conn, struct sqlite_group_job *first)
{
    cash_result result = sqlite_exec(conn, "BEGIN IMMEDIATE", "begin");
    if (result != CASH_OK) {
        group_fail_all(first, result); /* busy past DB_TIMEOUT_MS: CASH_SERVICE_UNAVAILABLE */
        return;
    }
    if (first->next == NULL) {
        group_alone_run(conn, first);
        return;
    }
    for (struct sqlite_group_job *job = first; job != NULL; job = job->next) {
        if (!group_job_run(conn, job)) {
            cash_result lost = group_lost_result(job->result);
            transaction_rollback(conn);
            group_fail_all(first, lost);
            return;
        }
    }
    /* A body's CASH_OK counts from here on only: synchronous=FULL syncs the WAL in COMMIT. */
    result = transaction_commit(conn);
    if (result != CASH_OK) {
        group_fail_all(first, group_lost_result(result));
    }
}

/* Answers every job of the batch and passes the lead to the next queued caller. */
static void group_finish_locked(struct sqlite_store *store, struct sqlite_group_job *first,
                                size_t count)
{
    struct sqlite_group_job *job = first;
    while (job != NULL) {
        struct sqlite_group_job *next = job->next;
        job->done = true;
        pthread_cond_signal(&job->wake);
        job = next;
    }
    store->group_batches++;
    store->group_jobs += count;
    if (count > store->group_batch_jobs_max) {
        store->group_batch_jobs_max = count;
    }
    store->group_leading = false;
    if (store->group_head != NULL) {
        pthread_cond_signal(&store->group_head->wake);
    }
}

/* The caller whose job heads the queue runs one batch; entered and left with group_mutex held. */
static void group_lead(struct sqlite_store *store, struct sqlite_group_job *own)
{
    (void)own; /* for the assertions */
    assert(!store->group_leading && store->group_head == own);
    store->group_leading = true;
    pthread_mutex_unlock(&store->group_mutex);
    pthread_mutex_lock(&store->writer_mutex);
    /* Taken only now, so that the jobs queued while the connection was busy join the batch. */
    pthread_mutex_lock(&store->group_mutex);
    size_t count = 0;
    struct sqlite_group_job *first = group_take_locked(store, &count);
    pthread_mutex_unlock(&store->group_mutex);
    assert(first == own);
    group_batch_run(&store->writer, first);
    pthread_mutex_unlock(&store->writer_mutex);
    pthread_mutex_lock(&store->group_mutex);
    group_finish_locked(store, first, count);
}

/* Runs body in the write transaction of a batch, durable before it returns (sqlite_internal.h). */
cash_result sqlite_write_run(struct sqlite_store *store, db_body body, void *context)
{
    struct sqlite_group_job job = {
        .body = body,
        .context = context,
        .result = CASH_INTERNAL_ERROR,
        .done = false,
        .next = NULL,
    };
    pthread_cond_init(&job.wake, NULL);
    pthread_mutex_lock(&store->group_mutex);
    group_enqueue_locked(store, &job);
    while (!job.done && (store->group_leading || store->group_head != &job)) {
        pthread_cond_wait(&job.wake, &store->group_mutex);
    }
    bool led = !job.done;
    if (led) {
        group_lead(store, &job);
    }
    assert(job.done);
    pthread_mutex_unlock(&store->group_mutex);
    pthread_cond_destroy(&job.wake);
    if (led) {
        checkpoint_after_batch(store);
    }
    return job.result;
}

/* Copies the group-commit and checkpoint counters (sqlite_internal.h). */
static void sqlite_group_stats_get(struct sqlite_store *store, struct sqlite_group_stats *out)
{
    pthread_mutex_lock(&store->group_mutex);
    out->batches = store->group_batches;
    out->jobs = store->group_jobs;
    out->batch_jobs_max = store->group_batch_jobs_max;
    out->queued = store->group_queued;
    out->leading = store->group_leading;
    pthread_mutex_unlock(&store->group_mutex);
    out->checkpoints = atomic_load(&store->checkpoints);
}

/* Runs body on a reader connection. snapshot: inside BEGIN ... COMMIT, so that several
 * statements see one consistent state; otherwise every statement sees the newest commit. */
static cash_result sqlite_read_run(struct sqlite_store *store, db_body body, void *context,
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
    result = body(&conn->tx, context);
    if (snapshot) {
        /* A read transaction has nothing to keep: ending it is enough either way. */
        cash_result ended = transaction_commit(conn);
        if (result == CASH_OK) {
            result = ended;
        }
    }
out_release:
    reader_release(store, conn);
    return result;
}

/* ---- the driver's verbs (db.h) ---- */
#define SQLITE_SYNCHRONOUS_FULL 2

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
