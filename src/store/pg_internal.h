/*
 * pg_internal.h - what the files of the PostgreSQL backend share, private to src/store.
 *
 * Concurrency (store.h: safe from many threads; many processes on one database):
 * - A bounded pool of up to pool_size libpq connections per process, opened lazily and checked
 *   out one per call; a call waits DB_TIMEOUT_MS for a free one, then answers
 *   CASH_SERVICE_UNAVAILABLE. A connection found broken is closed and opened again.
 * - Writes run in READ COMMITTED transactions. Every rule that must hold across processes is
 *   made atomic by the database itself: a conditional UPDATE that re-checks its guard on the
 *   newest row version (the balance, a verification's uses), INSERT ... ON CONFLICT (used
 *   signatures), or a row lock taken first (SELECT ... FOR NO KEY UPDATE on the account row
 *   before the daily limit is summed and the ledger sequence is read). Locks are always taken in
 *   the order verification row, then member or account row, then withdrawal row.
 * - A transaction that fails with SQLSTATE 40001 (serialization failure) or 40P01 (deadlock) is
 *   run again from the start, up to DB_TRANSACTION_ATTEMPTS_MAX times, after a short random
 *   pause; so is one whose connection turns out dead before anything was sent in it. A connection
 *   lost in the middle of a transaction is an error (CASH_SERVICE_UNAVAILABLE): the server rolls
 *   that transaction back, and whether to try again is the client's decision.
 * - Static statements are prepared once per connection on first use (PQprepare), named by
 *   their slot; dynamic ones (list filters) are sent with PQexecParams.
 * - No advisory locks, no LISTEN/NOTIFY, no sequences: ids come from the application, so the
 *   SQL runs on CockroachDB and Citus as well (docs/deployment.md).
 */
#ifndef CASH_STORE_PG_INTERNAL_H
#define CASH_STORE_PG_INTERNAL_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/db.h"
#include "store/store.h"
#include "store/store_internal.h"

/* Prepared statements kept per connection: every static SQL text of the backend fits. */
#define PG_STMT_CACHE_MAX 96
/* Parameters of one statement (a list with every filter is the largest). */
#define PG_PARAMS_MAX       40
#define PG_NUMBER_BYTES_MAX 24 /* "-9223372036854775808" and its NUL */

struct pg_stmt_slot {
    const char *sql; /* the static SQL text; its address is the key */
};

struct pg_db_stmt; /* pg_db.c */

struct pg_conn {
    struct db_tx tx; /* first member: the driver's connection (db.h) */
    PGconn *pg; /* NULL: not connected (yet, or again after a failure) */
    struct pg_stmt_slot slots[PG_STMT_CACHE_MAX];
    size_t slot_count; /* statements prepared on this connection, named "cashd_<slot>" */
    bool checked_out;
    bool retry; /* the last failure was a serialization failure or a deadlock */
    bool lost;  /* the connection broke: it is closed on release */
    /* The catalogue's statements (db.h), by id; [SQL_COUNT] is the one built at run time. */
    struct pg_db_stmt *statements[SQL_COUNT + 1];
    bool prepared[SQL_COUNT];      /* on this session */
    signed char param_count[SQL_COUNT]; /* the highest $n of each prepared one */
    struct pg_db_stmt *streaming; /* a statement whose rows are still arriving */
};

struct pg_store {
    struct store base; /* first member: a struct store * of this backend points here */
    char *url;         /* owned; may hold a password: wiped before it is freed */
    size_t pool_size;
    pthread_mutex_t pool_mutex;
    pthread_cond_t pool_cond;
    struct pg_conn *conns; /* owned, pool_size entries */
    atomic_uint_fast64_t replay_calls;
    atomic_bool withdraw_function; /* pg_function_install put it in place (calloc: false) */
};

/* How pg_run() runs a body (db.h: enum db_mode). */
#define PG_READ      DB_READ
#define PG_WRITE_ONE DB_WRITE_ONE
#define PG_WRITE     DB_WRITE
#define PG_SNAPSHOT  DB_SNAPSHOT

/* The body of one run; returns CASH_OK to commit, anything else to roll back. */
typedef cash_result (*pg_body)(struct pg_conn *conn, void *context);

struct pg_store *pg_store_of(struct store *store);

/*
 * Runs body on a pooled connection as mode says, again from the start after a serialization
 * failure or deadlock (the body must only depend on its context's inputs and overwrite its
 * outputs). Past the attempts: CASH_SERVICE_UNAVAILABLE.
 */
cash_result pg_run(struct pg_store *store, enum db_mode mode, pg_body body, void *context);

/* The driver (db.h): its verbs in pg_db.c, its run in pg.c. */
extern const struct db_driver pg_driver;
cash_result pg_driver_run(struct store *store, enum db_mode mode, db_body body, void *context,
                          bool *again);
/* Ends every statement of conn (results freed, streams drained): after each body. */
void pg_db_statements_reset(struct pg_conn *conn);
/* Frees them, and forgets what was prepared: when the session ends. */
void pg_db_statements_free(struct pg_conn *conn);

/*
 * Maps a failed result to a cash_result, logging the SQLSTATE and the primary message (never
 * the DETAIL, which may quote stored values). Marks conn retry or lost as they apply.
 */
cash_result pg_fail(struct pg_conn *conn, const PGresult *res, const char *what);

/* Parameters of one statement, in order ($1, $2, ...). */
struct pg_params {
    const char *values[PG_PARAMS_MAX]; /* borrowed text, or numbers[i]; NULL is SQL NULL */
    char numbers[PG_PARAMS_MAX][PG_NUMBER_BYTES_MAX];
    int count;
    bool overflow;
};

void pg_params_start(struct pg_params *params);
/* Borrowed: the text must stay alive until the statement has run. */
void pg_param_text(struct pg_params *params, const char *text);
void pg_param_int64(struct pg_params *params, int64_t value);
void pg_param_null(struct pg_params *params);

/*
 * Runs a static statement, prepared on this connection on first use. Returns the result (owned
 * by the caller: PQclear) when it succeeded, else NULL with *result_out set by pg_fail.
 */
PGresult *pg_exec(struct pg_conn *conn, const char *sql, const struct pg_params *params,
                  const char *what, cash_result *result_out);
/* Runs a dynamic statement (not prepared); as pg_exec. */
PGresult *pg_exec_dynamic(struct pg_conn *conn, const char *sql, const struct pg_params *params,
                          const char *what, cash_result *result_out);
/* Runs SQL without parameters or rows (DDL, BEGIN, SET) through the simple protocol. */
cash_result pg_exec_simple(struct pg_conn *conn, const char *sql, const char *what);
/* Rows a writing statement changed (PQcmdTuples); -1 if it does not say. */
int64_t pg_changes(PGresult *res);

/*
 * Runs a static statement and calls each_row for every row as it arrives (single-row mode), so
 * that a large table is never held in memory at once. Stops at the first failure.
 */
typedef cash_result (*pg_each_row)(void *context, const PGresult *res);
cash_result pg_exec_each(struct pg_conn *conn, const char *sql, const struct pg_params *params,
                         const char *what, pg_each_row each_row, void *context);

/* Reading the columns of one row in order; ok turns false on a bad value. */
struct pg_row {
    const PGresult *res;
    int row;
    int column;
    bool ok;
};

void pg_row_start(struct pg_row *row, const PGresult *res, int row_index);
bool pg_row_is_null(const struct pg_row *row); /* the next column, without moving on */
/* Text into a buffer; NULL reads as "", text that does not fit is a bad value. */
void pg_row_text(struct pg_row *row, char *out, size_t out_size);
/* The column's text, borrowed until PQclear; NULL is a bad value ("" is returned). */
const char *pg_row_text_view(struct pg_row *row);
/* A whole number (BIGINT, INTEGER, or a NUMERIC sum without a fraction); else a bad value. */
int64_t pg_row_int64(struct pg_row *row);
bool pg_row_bool(struct pg_row *row);
void pg_row_account_status(struct pg_row *row, enum account_status *out);
void pg_row_account_verified(struct pg_row *row, enum account_verified *out);
void pg_row_member_role(struct pg_row *row, enum member_role *out);
void pg_row_member_status(struct pg_row *row, enum member_status *out);
void pg_row_withdraw_status(struct pg_row *row, enum withdraw_status *out);
void pg_row_history_type(struct pg_row *row, enum history_type *out);
void pg_row_verification_method(struct pg_row *row, enum verification_method *out);
void pg_row_verification_status(struct pg_row *row, enum verification_status *out);
/* CASH_OK if every column read well, else CASH_INTERNAL_ERROR logged with what. */
cash_result pg_row_check(const struct pg_row *row, const char *what);

/* Copies text that fits into a fixed buffer; false if it does not (out is then ""). */
bool pg_copy_text(char *out, size_t out_size, const char *text);

/*
 * Locks the account row for the rest of the transaction (SELECT ... FOR NO KEY UPDATE) and
 * reads its balance and point; CASH_NOT_FOUND if there is no such account. Every transaction
 * that changes an account's money, bank account or daily total takes this lock first (after the
 * second factor), so that they follow one another per account.
 */
cash_result pg_account_lock(struct pg_conn *conn, const char *account_id, int64_t *balance_out,
                            int64_t *point_out);


/* The columns of a withdrawal, in the order pg_withdraw_row_read() reads them. */
#define PG_WITHDRAW_COLUMNS                                                                        \
    "withdraw_id, account_id, member_id, bank_code, sealed_number, masked_number, holder_name,"    \
    " status, is_processing, confirmed_count, memo, transaction_id, transaction_ms, amount, fee,"  \
    " total_amount, confirmed_ms, created_ms, updated_ms"

#define PG_WITHDRAW_COLUMN_ID 0 /* withdraw_id comes first */

void pg_withdraw_row_read(const PGresult *res, int row_index, struct withdrawal *out,
                          struct pg_row *row);

/* The operations, one per file group (contracts in store.h). */
cash_result pg_durability_check(struct store *store, char *why, size_t why_size);



cash_result pg_withdraw_create(struct store *store, struct withdraw_create *create,
                               struct withdrawal *out, struct store_request *request);
cash_result pg_withdraw_get(struct store *store, const char *account_id, const char *withdraw_id,
                            struct withdrawal *out);
cash_result pg_withdraw_cancel(struct store *store, const char *account_id, const char *withdraw_id,
                               const char *history_id, int64_t now_ms, struct withdrawal *out,
                               struct store_request *request);


/*
 * A write of the API with its struct store_request (store.h), in one PG_WRITE transaction, as
 * sqlite_request_run: the replay row, the kept key's decision, body, then the key kept with the
 * answer rendered from *outcome (NULL: CASH_OK) and row. With request NULL, pg_run(PG_WRITE, body).
 */
struct pg_request_work {
    pg_body body;
    void *context;
    const cash_result *outcome;
    const void *row;
};

cash_result pg_request_run(struct pg_store *store, struct store_request *request,
                           const struct pg_request_work *work);
/* Runs a static statement that returns no rows; *changes_out (may be NULL) rows it changed. */
cash_result pg_exec_changes(struct pg_conn *conn, const char *sql, const struct pg_params *params,
                            const char *what, int64_t *changes_out);
/* SPEC 1: the replay row inside the caller's transaction; CASH_DUPLICATED_SIGNATURE if a live
 * one is remembered. */

/*
 * The server-side function of the backend (pg_function.c). pg_function_install creates or
 * replaces it after the migrations and sets store->withdraw_function when it is in place; an
 * engine that refuses it leaves that false (logged) and CASH_OK, so that withdrawals keep the
 * multi-statement transaction. CASH_SERVICE_UNAVAILABLE when the server cannot be reached.
 */
cash_result pg_function_install(struct pg_store *store);
/*
 * A withdrawal request (store.h: struct withdraw_create) as one statement on conn, run with
 * PG_WRITE_ONE: the replay row of request (NULL, or no signature_hex: none), then the checks and
 * writes of the multi-statement transaction in its order and with its locks. A refusal writes
 * nothing and is the result; CASH_CONFLICT for a used withdraw or history id. On CASH_OK,
 * *bank_out holds the bank account copied into the withdrawal and *confirmed_ms_out when the
 * spent verification was confirmed.
 */
/* The driver's verb withdraw_create_one (db.h), over pg_withdraw_function_call. */
cash_result pg_withdraw_create_one(struct store *base, struct withdraw_create *create,
                                   struct store_request *request, struct bank_account *bank_out,
                                   int64_t *confirmed_ms_out, bool *taken);
cash_result pg_withdraw_function_call(struct pg_conn *conn, const struct withdraw_create *create,
                                      const struct store_request *request,
                                      struct bank_account *bank_out, int64_t *confirmed_ms_out);

#endif
