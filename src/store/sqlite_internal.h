/*
 * sqlite_internal.h - what the files of the SQLite backend share, private to src/store.
 *
 * Concurrency (store.h: safe from many threads): one writer connection guarded by writer_mutex,
 * on which writes run as BEGIN IMMEDIATE ... COMMIT, several callers' writes in one transaction
 * (group commit, sqlite.c), and a pool of up to DB_READERS_MAX
 * reader connections checked out one per call. Other processes writing the same file are waited
 * for by SQLite's busy handler for DB_TIMEOUT_MS; past that the call answers
 * CASH_SERVICE_UNAVAILABLE.
 */
#ifndef CASH_STORE_SQLITE_INTERNAL_H
#define CASH_STORE_SQLITE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/db.h"
#include "store/store.h"
#include "store/store_internal.h"

/* Prepared statements kept per connection: every static SQL text of the backend fits. */
#define SQLITE_STMT_CACHE_MAX 64

struct sqlite_stmt_slot {
    const char *sql; /* the static SQL text; its address is the key */
    sqlite3_stmt *stmt;
};

struct sqlite_db_stmt; /* sqlite_db.c */

struct sqlite_conn {
    struct db_tx tx; /* first member: the driver's connection (db.h) */
    sqlite3 *db;
    struct sqlite_stmt_slot slots[SQLITE_STMT_CACHE_MAX];
    size_t slot_count;
    bool checked_out; /* readers only: in use by one call */
    /* The catalogue's statements (db.h), by id; [SQL_COUNT] is the one built at run time. */
    struct sqlite_db_stmt *statements[SQL_COUNT + 1];
};

/* The driver (db.h), its verbs in sqlite_db.c. */
extern const struct db_driver sqlite_driver;
/* After the schema's versions: the CHECK rewrite (sqlite_checks.c). */
cash_result sqlite_migrated(struct store *store);
/* Finalizes and frees the catalogue's statements of conn (before it closes). */
void sqlite_db_statements_free(struct sqlite_conn *conn);

struct sqlite_group_job; /* sqlite.c: one sqlite_write_run() call waiting for its batch */

struct sqlite_store {
    struct store base;            /* first member: a struct store * of this backend points here */
    char *path;                   /* owned */
    pthread_mutex_t writer_mutex; /* the writer connection: held by a batch's leader throughout */
    struct sqlite_conn writer;
    atomic_uint_fast64_t replay_calls; /* store_replay_remember calls, for pruning now and then */
    /* Group commit (sqlite.c), guarded by group_mutex, which is never held to take writer_mutex. */
    pthread_mutex_t group_mutex;
    struct sqlite_group_job *group_head; /* queued jobs, oldest first; borrowed from callers */
    struct sqlite_group_job *group_tail;
    size_t group_queued;         /* jobs queued, not yet taken by a leader */
    bool group_leading;          /* a caller is running a batch */
    uint64_t group_batches;      /* transactions run, committed or not */
    uint64_t group_jobs;         /* sqlite_write_run() calls answered */
    size_t group_batch_jobs_max; /* the largest batch so far */
    /* Checkpoints (sqlite.c): run after a batch by its leader, never inside a COMMIT. */
    atomic_int wal_frames;        /* the WAL's length in frames after the newest commit */
    atomic_int wal_frames_copied; /* of those, copied into the database by the last checkpoint */
    pthread_mutex_t checkpoint_mutex; /* the checkpointer connection: held while checkpointing */
    struct sqlite_conn checkpointer;  /* opened on first use */
    atomic_uint_fast64_t checkpoints; /* checkpoints run, passive or catching up */
    pthread_mutex_t readers_mutex;
    pthread_cond_t readers_cond;
    struct sqlite_conn readers[DB_READERS_MAX];
    size_t reader_count; /* opened so far, guarded by readers_mutex */
};

/* The body of one transaction; returns CASH_OK to commit, anything else to roll back. */
typedef cash_result (*sqlite_tx_body)(struct sqlite_conn *conn, void *context);

struct sqlite_store *sqlite_store_of(struct store *store);

/*
 * Runs body in a write transaction on the writer connection, possibly together with other
 * callers' bodies (group commit): body returns CASH_OK to commit its writes, anything else to
 * have its own writes rolled back (a savepoint), never another caller's. Returns body's result
 * once the transaction is durable, or a failure when it did not commit (CASH_SERVICE_UNAVAILABLE
 * when the database stayed busy past DB_TIMEOUT_MS, CASH_INTERNAL_ERROR otherwise), whatever
 * body returned. body must not end the transaction, issue BEGIN, SAVEPOINT, RELEASE or COMMIT,
 * or call sqlite_write_run(); it sees the writes of the bodies before it in the batch, exactly
 * as if they had committed just before. body may run on another caller's thread (the batch's
 * leader), while its own caller waits: it must not rely on thread-local state.
 */
cash_result sqlite_write_run(struct sqlite_store *store, sqlite_tx_body body, void *context);

/* The group-commit and checkpoint counters since the store opened (tests, diagnostics). */
struct sqlite_group_stats {
    uint64_t batches;      /* transactions run */
    uint64_t jobs;         /* sqlite_write_run() calls answered */
    size_t batch_jobs_max; /* the largest batch */
    size_t queued;         /* calls waiting now, not yet in a batch */
    bool leading;          /* a batch is running now */
    uint64_t checkpoints;  /* checkpoints run (sqlite.c) */
};

void sqlite_group_stats_get(struct sqlite_store *store, struct sqlite_group_stats *out);

/*
 * Runs body on a reader connection. snapshot: inside BEGIN ... COMMIT, so that several
 * statements see one consistent state; otherwise every statement sees the newest commit.
 */
cash_result sqlite_read_run(struct sqlite_store *store, sqlite_tx_body body, void *context,
                            bool snapshot);

/* Maps a SQLite error to a result, logging unexpected ones (never bound values) with `what`. */
cash_result sqlite_fail(struct sqlite_conn *conn, int rc, const char *what);

/* The cached statement for a static SQL text, reset and unbound; NULL (logged) on failure. */
sqlite3_stmt *sqlite_stmt(struct sqlite_conn *conn, const char *sql);
/* Resets every statement of the connection still running (before COMMIT and on release). */
void sqlite_stmt_reset_all(struct sqlite_conn *conn);

/* Executes SQL without parameters or rows (DDL, pragmas). */
cash_result sqlite_exec(struct sqlite_conn *conn, const char *sql, const char *what);

/*
 * Steps a statement expecting one row: CASH_OK with the row current, CASH_NOT_FOUND when there
 * is none, or the mapped error.
 */
cash_result sqlite_step_row(struct sqlite_conn *conn, sqlite3_stmt *stmt, const char *what);
/* Steps a statement to its end (INSERT, UPDATE, DELETE); *changes_out (may be NULL) rows changed.
 */
cash_result sqlite_step_done(struct sqlite_conn *conn, sqlite3_stmt *stmt, const char *what,
                             int64_t *changes_out);

/*
 * Binding parameters in order, remembering the first failure. Text is bound SQLITE_STATIC: the
 * caller's text must stay alive until the statement is reset, which every function here does
 * before it returns (sqlite_stmt() and the transaction runners reset and clear bindings).
 */
struct sqlite_binder {
    sqlite3_stmt *stmt;
    int index;
    int rc;
};

void sqlite_bind_start(struct sqlite_binder *binder, sqlite3_stmt *stmt);
void sqlite_bind_text(struct sqlite_binder *binder, const char *text);
void sqlite_bind_int64(struct sqlite_binder *binder, int64_t value);
void sqlite_bind_null(struct sqlite_binder *binder);
/* CASH_OK if every bind succeeded, else the mapped error (logged with what). */
cash_result sqlite_bind_check(struct sqlite_conn *conn, struct sqlite_binder *binder,
                              const char *what);

/* Reading the columns of the current row in order; ok turns false on a bad value. */
struct sqlite_row {
    sqlite3_stmt *stmt;
    int index;
    bool ok;
};

void sqlite_row_start(struct sqlite_row *row, sqlite3_stmt *stmt);
/* Text into a buffer; NULL reads as "", text that does not fit is a bad value. */
void sqlite_row_text(struct sqlite_row *row, char *out, size_t out_size);
/* The column's text, borrowed until the next step; NULL is a bad value ("" is returned). */
const char *sqlite_row_text_view(struct sqlite_row *row);
/* An INTEGER column; anything else is a bad value (0 is returned). */
int64_t sqlite_row_int64(struct sqlite_row *row);
bool sqlite_row_bool(struct sqlite_row *row);
void sqlite_row_account_status(struct sqlite_row *row, enum account_status *out);
void sqlite_row_account_verified(struct sqlite_row *row, enum account_verified *out);
void sqlite_row_member_role(struct sqlite_row *row, enum member_role *out);
void sqlite_row_member_status(struct sqlite_row *row, enum member_status *out);
void sqlite_row_withdraw_status(struct sqlite_row *row, enum withdraw_status *out);
void sqlite_row_history_type(struct sqlite_row *row, enum history_type *out);
void sqlite_row_verification_method(struct sqlite_row *row, enum verification_method *out);
void sqlite_row_verification_status(struct sqlite_row *row, enum verification_status *out);
/* CASH_OK if every column read well, else CASH_INTERNAL_ERROR logged with what. */
cash_result sqlite_row_check(const struct sqlite_row *row, const char *what);

/* Copies text that fits into a fixed buffer; false if it does not (out is then ""). */
bool sqlite_copy_text(char *out, size_t out_size, const char *text);


/* The columns of a withdrawal, in the order sqlite_withdraw_row_read() reads them. */
#define SQLITE_WITHDRAW_COLUMNS                                                                    \
    "withdraw_id, account_id, member_id, bank_code, sealed_number, masked_number, holder_name,"    \
    " status, is_processing, confirmed_count, memo, transaction_id, transaction_ms, amount, fee,"  \
    " total_amount, confirmed_ms, created_ms, updated_ms"

#define SQLITE_WITHDRAW_COLUMN_ID 0 /* withdraw_id comes first */

void sqlite_withdraw_row_read(sqlite3_stmt *stmt, struct withdrawal *out, struct sqlite_row *row);

/* The operations, one per file group. */



cash_result sqlite_withdraw_create(struct store *store, struct withdraw_create *create,
                                   struct withdrawal *out, struct store_request *request);
cash_result sqlite_withdraw_get(struct store *store, const char *account_id,
                                const char *withdraw_id, struct withdrawal *out);
cash_result sqlite_withdraw_cancel(struct store *store, const char *account_id,
                                   const char *withdraw_id, const char *history_id, int64_t now_ms,
                                   struct withdrawal *out, struct store_request *request);


/* SPEC 7: CASH_VALIDATION_ERROR (why says so) when the writer's synchronous is below FULL. */
cash_result sqlite_durability_check(struct store *store, char *why, size_t why_size);

/*
 * A write of the API with its struct store_request (store.h), in one transaction: the replay
 * row, the kept key's decision, body, then the key kept with the answer rendered from *outcome
 * (NULL: CASH_OK) and row, which body must have written when it returns CASH_OK. With request
 * NULL, sqlite_write_run(body). With request->replayed the caller must not read body's outputs.
 */
struct sqlite_request_work {
    sqlite_tx_body body;
    void *context;
    const cash_result *outcome;
    const void *row;
};

cash_result sqlite_request_run(struct sqlite_store *store, struct store_request *request,
                               const struct sqlite_request_work *work);
/* SPEC 1: the replay row inside the caller's write transaction; CASH_DUPLICATED_SIGNATURE if a
 * live one is remembered. */

#endif
