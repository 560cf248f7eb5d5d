/*
 * db.h - the seam between the store's logic, written once, and its two drivers (SQLite and
 * PostgreSQL); private to src/store. STORE-DESIGN: a statement-level driver of a few verbs, the
 * SQL in one catalogue (sql.h), the retry loop once here.
 *
 * - A store function runs a body with db_run() in a mode. The driver begins, savepoints and
 *   commits around it; a body never does. A body may run more than once (the driver said "again":
 *   a serialization failure or a deadlock), so it must only read its context's inputs and
 *   overwrite, never accumulate, its outputs.
 * - Inside a body, db_statement() hands the catalogue's statement by id, reset and unbound.
 *   Parameters are bound in the order of their numbers ($1, $2, ...), then db_step() reads rows
 *   one at a time or db_exec() runs a statement to its end. Text is bound by reference: it must
 *   stay alive until the body returns.
 * - Column values are read through a struct db_row, which remembers a bad value (a NULL where a
 *   number belongs, text that does not fit) for one check at the end of the row.
 * - Errors: the driver maps its own onto cash_result (CASH_CONFLICT for a unique key,
 *   CASH_SERVICE_UNAVAILABLE for busy, gone or "run it again", CASH_INTERNAL_ERROR otherwise) and
 *   logs the unexpected ones without bound values.
 */
#ifndef CASH_STORE_DB_H
#define CASH_STORE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/result.h"
#include "domain/types.h"
#include "store/sql.h"
#include "store/store.h"

/* How a body runs. */
enum db_mode {
    DB_READ,      /* each statement sees the newest commit; no transaction */
    DB_SNAPSHOT,  /* one read-only transaction: every statement sees one state */
    DB_WRITE,     /* one write transaction (SQLite: a savepoint in a group commit) */
    DB_WRITE_ONE, /* a single writing statement; a driver may spare it a transaction */
};

/* What a driver can do, asked by the catalogue and by the neutral code (never a backend name). */
enum db_capability {
    DB_CAP_ROW_LOCKS = 1u << 0,  /* SELECT ... FOR UPDATE; without it one writer serialises */
    DB_CAP_DML_CTE = 1u << 1,    /* INSERT/UPDATE inside WITH */
    DB_CAP_ILIKE = 1u << 2,      /* ILIKE for case-insensitive matching */
    DB_CAP_PROCEDURES = 1u << 3, /* server-side functions (the one-statement withdrawal) */
    DB_CAP_STATEMENT_TIMEOUT = 1u << 4, /* SET LOCAL statement_timeout */
};

struct db_tx;   /* a driver's connection while a body runs on it */
struct db_stmt; /* one statement of the catalogue on that connection */

typedef cash_result (*db_body)(struct db_tx *tx, void *context);

/* The verbs of a driver. Statement and column verbs are only called inside a body. */
struct db_driver {
    unsigned caps; /* enum db_capability bits */
    /* Releases the store and everything it holds (store_close). */
    void (*close)(struct store *store);
    /* SPEC 7: whether a commit survives a crash of the machine (store_durability_check). */
    cash_result (*durability_check)(struct store *store, char *why, size_t why_size);
    /* One run of body in mode; *again when running it once more is safe and worth it. */
    cash_result (*run)(struct store *store, enum db_mode mode, db_body body, void *context,
                       bool *again);
    /* The statement, prepared on the connection on first use; NULL (logged) on failure. text:
     * NULL for the catalogue's id, or a statement built at run time (not cached). */
    struct db_stmt *(*statement)(struct db_tx *tx, enum sql_id id, const char *text);
    void (*bind_int64)(struct db_stmt *stmt, int64_t value);
    void (*bind_text)(struct db_stmt *stmt, const char *text); /* NULL: SQL NULL */
    /* The next row: CASH_OK with it current, CASH_NOT_FOUND after the last, or an error. */
    cash_result (*step)(struct db_stmt *stmt);
    /* Rows the statement changed, once it ran to its end. */
    int64_t (*changes)(struct db_stmt *stmt);
    int (*column_count)(struct db_stmt *stmt);
    bool (*column_is_null)(struct db_stmt *stmt, int column);
    /* False if the column holds no whole number. */
    bool (*column_int64)(struct db_stmt *stmt, int column, int64_t *out);
    /* Borrowed until the next step; NULL for SQL NULL. */
    const char *(*column_text)(struct db_stmt *stmt, int column);
    /* SQL without parameters or rows (DDL, pragmas), inside a body. */
    cash_result (*exec_simple)(struct db_tx *tx, const char *sql);
    /* Optional (NULL: none): a withdrawal request without an Idempotency-Key as one statement
     * of the driver's own, with request's replay row; *taken false when the driver did not take
     * it, and then the statements of withdraw.c run. On CASH_OK *bank_out is the bank account
     * copied into the withdrawal and *confirmed_ms_out when the spent verification was confirmed. */
    cash_result (*withdraw_create_one)(struct store *store, struct withdraw_create *create,
                                       struct store_request *request,
                                       struct bank_account *bank_out, int64_t *confirmed_ms_out,
                                       bool *taken);
    /* What the driver does once the schema's versions are in place (store_migrate). */
    cash_result (*migrated)(struct store *store);
    /* The escape hatch for tests and oddities (enum db_control); -1 for an unknown op. Optional
     * (NULL: every op is unknown). */
    int (*control)(struct store *store, int op, void *argument);
};

/* Operations of the escape hatch. */
enum db_control {
    DB_CONTROL_GROUP_STATS = 1,   /* SQLite: struct sqlite_group_stats * */
    DB_CONTROL_SQLITE_WRITER = 2, /* SQLite: sqlite3 **, the writer's handle (tests only) */
};

/* Every driver's struct db_tx and struct db_stmt start with this, so calls find their driver. */
struct db_tx {
    const struct db_driver *driver;
};

struct db_stmt {
    const struct db_driver *driver;
};

/* Runs body in mode on a connection of store, again from the start (after a short random pause)
 * while the driver says so, at most DB_TRANSACTION_ATTEMPTS_MAX times; past them
 * CASH_SERVICE_UNAVAILABLE. Returns what the last run returned: CASH_OK only if it committed. */
cash_result db_run(struct store *store, enum db_mode mode, db_body body, void *context);

/* db_run(), then on CASH_OK the size bytes at from (the body's output, in its context) copied to
 * out: a store function's outs are written only when it committed. */
cash_result db_run_out(struct store *store, enum db_mode mode, db_body body, void *context,
                       void *out, const void *from, size_t size);

/* Whether the driver running tx has the capability. */
bool db_tx_can(const struct db_tx *tx, enum db_capability capability);

/* The catalogue's statement id, reset and unbound; NULL (logged) on failure, which the calls
 * below take: binds do nothing, and db_step() and db_exec() answer CASH_INTERNAL_ERROR. */
struct db_stmt *db_statement(struct db_tx *tx, enum sql_id id);
/* A statement built at run time ($n parameters as in the catalogue); not cached. */
struct db_stmt *db_statement_text(struct db_tx *tx, const char *text);

void db_bind_int64(struct db_stmt *stmt, int64_t value);
/* Borrowed until the body returns; NULL binds SQL NULL. */
void db_bind_text(struct db_stmt *stmt, const char *text);
void db_bind_bool(struct db_stmt *stmt, bool value); /* 0 or 1 */

/* The next row (CASH_OK), none left (CASH_NOT_FOUND), or an error. */
cash_result db_step(struct db_stmt *stmt);
/* Runs the statement to its end; *changes_out (may be NULL): rows it changed. */
cash_result db_exec(struct db_stmt *stmt, int64_t *changes_out);
/* Runs a write of one row (by its key, or guarded) to its end: CASH_OK when it changed exactly
 * one row, else none (CASH_NOT_FOUND for a key that names no row, say). */
cash_result db_exec_one(struct db_stmt *stmt, cash_result none);
/* Steps stmt once more after the row it returned: CASH_OK at its end (a write that RETURNING
 * made stop early is then done), CASH_INTERNAL_ERROR if another row or an error comes. */
cash_result db_step_end(struct db_stmt *stmt);
cash_result db_exec_simple(struct db_tx *tx, const char *sql);

/* Reading the columns of the current row in order; ok turns false on a bad value. */
struct db_row {
    struct db_stmt *stmt;
    int column;
    bool ok;
};

void db_row_start(struct db_row *row, struct db_stmt *stmt);
/* db_row_start(), with out (out_size bytes) zeroed first: no stale bytes after its strings. */
void db_row_start_clear(struct db_row *row, struct db_stmt *stmt, void *out, size_t out_size);
bool db_row_is_null(const struct db_row *row); /* the next column, without moving on */
/* Text into a buffer; NULL reads as "", text that does not fit is a bad value. */
void db_row_text(struct db_row *row, char *out, size_t out_size);
/* The column's text, borrowed until the next step; NULL is a bad value ("" is returned). */
const char *db_row_text_view(struct db_row *row);
int64_t db_row_int64(struct db_row *row); /* a whole number; anything else is a bad value */
bool db_row_bool(struct db_row *row);     /* 0 or 1 */
void db_row_skip(struct db_row *row);
void db_row_account_status(struct db_row *row, enum account_status *out);
void db_row_account_verified(struct db_row *row, enum account_verified *out);
void db_row_member_role(struct db_row *row, enum member_role *out);
void db_row_member_status(struct db_row *row, enum member_status *out);
void db_row_withdraw_status(struct db_row *row, enum withdraw_status *out);
void db_row_history_type(struct db_row *row, enum history_type *out);
void db_row_verification_method(struct db_row *row, enum verification_method *out);
void db_row_verification_status(struct db_row *row, enum verification_status *out);
/* CASH_OK if every column read well, else CASH_INTERNAL_ERROR, logged with what. */
cash_result db_row_check(const struct db_row *row, const char *what);

/* Reads the current row of stmt into out (the reader's own struct) and checks it
 * (db_row_check): CASH_OK or CASH_INTERNAL_ERROR. out may hold a partial row on an error. */
typedef cash_result (*db_row_reader)(struct db_stmt *stmt, void *out);

/* The catalogue's statement id with one text parameter, key, stepped to its first row: CASH_OK
 * with it current in *stmt_out (may be NULL), CASH_NOT_FOUND if there is none, or an error. */
cash_result db_step_key(struct db_tx *tx, enum sql_id id, const char *key,
                        struct db_stmt **stmt_out);
/* db_step_key(), and its row read into out with reader; CASH_NOT_FOUND if there is none. */
cash_result db_read_key(struct db_tx *tx, enum sql_id id, const char *key, db_row_reader reader,
                        void *out);
/* A public getter: db_read_key() in a DB_READ run of its own. *out (out_size bytes, at most
 * DB_ROW_BYTES_MAX) is written only on CASH_OK. */
#define DB_ROW_BYTES_MAX 2048
cash_result db_get(struct store *store, enum sql_id id, const char *key, db_row_reader reader,
                   void *out, size_t out_size);
/* Reads the rows of stmt into out[0], out[1], ... (each size bytes) with reader, at most max of
 * them; *count_out: how many. CASH_OK once the rows ran out or max were read. */
cash_result db_read_rows(struct db_stmt *stmt, db_row_reader reader, void *out, size_t size,
                         size_t max, size_t *count_out);
/* The whole number in the first column of stmt's first row (a COUNT, a SUM, a setting), read to
 * the statement's end; no row or a bad value is CASH_INTERNAL_ERROR (logged with what). */
cash_result db_step_int64(struct db_stmt *stmt, const char *what, int64_t *out);

/* A statement built at run time from fixed fragments only: every value is a parameter, numbered
 * ($1, $2, ...) and bound in the order it was added, so that the text and its binds agree.
 * Text values are borrowed until the body returns. */
#define DB_QUERY_BYTES_MAX 4096
struct db_query {
    char sql[DB_QUERY_BYTES_MAX];
    size_t length;
    bool ok; /* false once a fragment did not fit or the parameters ran out */
    int count;
    struct {
        bool is_text;
        const char *text;
        int64_t number;
    } params[SQL_PARAMS_MAX];
};

void db_query_start(struct db_query *query, const char *sql);
void db_query_append(struct db_query *query, const char *fragment);
/* Appends fragment, then the next parameter's $n, bound to text (or number). */
void db_query_text(struct db_query *query, const char *fragment, const char *text);
void db_query_int64(struct db_query *query, const char *fragment, int64_t number);
/* The statement with every parameter bound; NULL (logged with what) if the text did not fit. */
struct db_stmt *db_query_statement(struct db_tx *tx, const struct db_query *query,
                                   const char *what);

/* Copies text that fits into a fixed buffer; false if it does not (out is then ""). */
bool db_copy_text(char *out, size_t out_size, const char *text);
/* Formats a reason into why (may be NULL, or why_size 0: nothing is written). */
void db_why(char *why, size_t why_size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
/* The CLOCK_REALTIME instant ms from now: a pool's deadline for pthread_cond_timedwait. */
void db_deadline_after_ms(struct timespec *deadline, int64_t ms);

/* The escape hatch of store's driver (enum db_control). */
int db_control(struct store *store, int op, void *argument);

/* Prepares every statement of the catalogue on a connection of store: the first that fails is
 * *failed_out and the result is its error (tests: a typo fails in CI, not in production). */
cash_result db_prepare_all(struct store *store, enum sql_id *failed_out);

#endif
