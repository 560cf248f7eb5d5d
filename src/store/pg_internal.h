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

#include "store/store_internal.h"

struct pg_db_stmt; /* pg.c */

struct pg_conn {
    struct db_tx tx; /* first member: the driver's connection (db.h) */
    PGconn *pg; /* NULL: not connected (yet, or again after a failure) */
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
    atomic_bool withdraw_function; /* pg_function_install put it in place (calloc: false) */
};

struct pg_store *pg_store_of(struct store *store);

/* The driver (db.h), pg.c. */
extern const struct db_driver pg_driver;

/*
 * The server-side function of the driver (pg_function.c). pg_function_install (struct db_driver:
 * migrated) creates or replaces it after the migrations and sets withdraw_function when it is in
 * place; an engine that refuses it leaves that false (logged) and CASH_OK, so that withdrawals
 * keep the statements of withdraw.c. CASH_SERVICE_UNAVAILABLE when the server cannot be reached.
 */
cash_result pg_function_install(struct store *store);
/*
 * The driver's verb withdraw_create_one (db.h): while the function is in place, a withdrawal
 * request as one statement, run again on 40001/40P01 only: the replay row of request (NULL, or
 * no signature_hex: none), then the checks and writes of withdraw.c in their order and with
 * their locks. A refusal writes nothing and is the result; CASH_CONFLICT for a used withdraw or
 * history id.
 */
cash_result pg_withdraw_create_one(struct store *base, struct withdraw_create *create,
                                   struct store_request *request, struct bank_account *bank_out,
                                   int64_t *confirmed_ms_out, bool *taken);

#endif
