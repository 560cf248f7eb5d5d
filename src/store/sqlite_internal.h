/*
 * sqlite_internal.h - what the files of the SQLite backend share, private to src/store.
 *
 * Concurrency (store.h: safe from many threads): one writer connection guarded by writer_mutex,
 * on which writes run as BEGIN IMMEDIATE ... COMMIT, several callers' writes in one transaction
 * (group commit, sqlite.c), and a pool of up to DB_READERS_MAX reader connections checked out
 * one per call. Other processes writing the same file are waited for by SQLite's busy handler
 * for DB_TIMEOUT_MS; past that the call answers CASH_SERVICE_UNAVAILABLE.
 */
#ifndef CASH_STORE_SQLITE_INTERNAL_H
#define CASH_STORE_SQLITE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store_internal.h"

struct sqlite_db_stmt; /* sqlite.c */

struct sqlite_conn {
    struct db_tx tx; /* first member: the driver's connection (db.h) */
    sqlite3 *db;
    bool checked_out; /* readers only: in use by one call */
    /* The catalogue's statements (db.h), by id; [SQL_COUNT] is the one built at run time. */
    struct sqlite_db_stmt *statements[SQL_COUNT + 1];
};

/* The driver (db.h). */
extern const struct db_driver sqlite_driver;
/* After the schema's versions: the CHECK rewrite (sqlite_checks.c). */
cash_result sqlite_migrated(struct store *store);

struct sqlite_group_job; /* sqlite.c: one sqlite_write_run() call waiting for its batch */

struct sqlite_store {
    struct store base;            /* first member: a struct store * of this backend points here */
    char *path;                   /* owned */
    pthread_mutex_t writer_mutex; /* the writer connection: held by a batch's leader throughout */
    struct sqlite_conn writer;
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
cash_result sqlite_write_run(struct sqlite_store *store, db_body body, void *context);

/* The group-commit and checkpoint counters since the store opened (tests, diagnostics). */
struct sqlite_group_stats {
    uint64_t batches;      /* transactions run */
    uint64_t jobs;         /* sqlite_write_run() calls answered */
    size_t batch_jobs_max; /* the largest batch */
    size_t queued;         /* calls waiting now, not yet in a batch */
    bool leading;          /* a batch is running now */
    uint64_t checkpoints;  /* checkpoints run (sqlite.c) */
};

#endif
