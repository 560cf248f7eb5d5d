/*
 * db.c - the neutral half of the driver seam (db.h): the retry loop, the calls that find their
 * driver, the typed readers of a row; and the one place that chooses a driver (ARCHITECTURE:
 * one store interface, chosen in one place), with the calls that are the driver's alone.
 */
#include "store/db.h"

#include <assert.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/limits.h"
#include "common/log.h"
#include "domain/names.h"

/* A random pause of up to 2^attempt ms (at most DB_RETRY_BACKOFF_MS_MAX), so retries spread. */
static void db_backoff(int attempt)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    unsigned seed = (unsigned)now.tv_nsec ^ (unsigned)(uintptr_t)&now;
    int64_t ceiling_ms = attempt >= 6 ? DB_RETRY_BACKOFF_MS_MAX : (int64_t)1 << attempt;
    if (ceiling_ms > DB_RETRY_BACKOFF_MS_MAX) {
        ceiling_ms = DB_RETRY_BACKOFF_MS_MAX;
    }
    int64_t pause_ms = (int64_t)(rand_r(&seed) % (int)(ceiling_ms + 1));
    struct timespec pause = {.tv_sec = 0, .tv_nsec = (long)(pause_ms * 1000000L)};
    nanosleep(&pause, NULL);
}

cash_result db_run(struct store *store, enum db_mode mode, db_body body, void *context)
{
    for (int attempt = 1;; attempt++) {
        bool again = false;
        cash_result result = store->driver->run(store, mode, body, context, &again);
        if (!again) {
            return result;
        }
        if (attempt >= DB_TRANSACTION_ATTEMPTS_MAX) {
            log_warn("store: a transaction still failed after %d attempts", attempt);
            return CASH_SERVICE_UNAVAILABLE;
        }
        log_debug("store: running a transaction again (attempt %d)", attempt + 1);
        db_backoff(attempt);
    }
}

cash_result db_run_out(struct store *store, enum db_mode mode, db_body body, void *context,
                       void *out, const void *from, size_t size)
{
    cash_result result = db_run(store, mode, body, context);
    if (result == CASH_OK) {
        memcpy(out, from, size);
    }
    return result;
}

bool db_tx_can(const struct db_tx *tx, enum db_capability capability)
{
    return (tx->driver->caps & (unsigned)capability) != 0;
}

int db_control(struct store *store, int op, void *argument)
{
    return store->driver->control != NULL ? store->driver->control(store, op, argument) : -1;
}

/* ---- statements ---- */
struct db_stmt *db_statement(struct db_tx *tx, enum sql_id id)
{
    return tx->driver->statement(tx, id, NULL);
}

struct db_stmt *db_statement_text(struct db_tx *tx, const char *text)
{
    return tx->driver->statement(tx, SQL_COUNT, text);
}

/* A NULL statement (its prepare failed, logged) binds nothing and answers CASH_INTERNAL_ERROR
 * when run, so that a body need not check db_statement() itself. */

void db_bind_int64(struct db_stmt *stmt, int64_t value)
{
    if (stmt != NULL) {
        stmt->driver->bind_int64(stmt, value);
    }
}

void db_bind_text(struct db_stmt *stmt, const char *text)
{
    if (stmt != NULL) {
        stmt->driver->bind_text(stmt, text);
    }
}

void db_bind_bool(struct db_stmt *stmt, bool value)
{
    db_bind_int64(stmt, value ? 1 : 0);
}

cash_result db_step(struct db_stmt *stmt)
{
    return stmt != NULL ? stmt->driver->step(stmt) : CASH_INTERNAL_ERROR;
}

cash_result db_exec(struct db_stmt *stmt, int64_t *changes_out)
{
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    cash_result result = stmt->driver->step(stmt);
    while (result == CASH_OK) {
        result = stmt->driver->step(stmt);
    }
    if (result != CASH_NOT_FOUND) {
        return result;
    }
    if (changes_out != NULL) {
        *changes_out = stmt->driver->changes(stmt);
    }
    return CASH_OK;
}

cash_result db_exec_one(struct db_stmt *stmt, cash_result none)
{
    int64_t changes = 0;
    cash_result result = db_exec(stmt, &changes);
    return result == CASH_OK && changes != 1 ? none : result;
}

cash_result db_step_end(struct db_stmt *stmt)
{
    return db_step(stmt) == CASH_NOT_FOUND ? CASH_OK : CASH_INTERNAL_ERROR;
}

cash_result db_exec_simple(struct db_tx *tx, const char *sql)
{
    return tx->driver->exec_simple(tx, sql);
}

static cash_result prepare_all_body(struct db_tx *tx, void *context)
{
    enum sql_id *failed = context;
    for (int id = 0; id < SQL_COUNT; id++) {
        *failed = (enum sql_id)id;
        unsigned requires = sql_statement_of((enum sql_id)id)->requires_caps;
        if ((tx->driver->caps & requires) != requires) {
            continue; /* never run by this driver */
        }
        if (db_statement(tx, (enum sql_id)id) == NULL) {
            return CASH_INTERNAL_ERROR;
        }
    }
    *failed = SQL_COUNT;
    return CASH_OK;
}

cash_result db_prepare_all(struct store *store, enum sql_id *failed_out)
{
    return db_run(store, DB_READ, prepare_all_body, failed_out);
}

/* ---- statements built at run time ---- */
void db_query_start(struct db_query *query, const char *sql)
{
    query->length = 0;
    query->ok = true;
    query->count = 0;
    query->sql[0] = '\0';
    db_query_append(query, sql);
}

void db_query_append(struct db_query *query, const char *fragment)
{
    size_t length = strlen(fragment);
    if (!query->ok || query->length + length >= sizeof(query->sql)) {
        query->ok = false;
        return;
    }
    memcpy(query->sql + query->length, fragment, length + 1);
    query->length += length;
}

/* Appends fragment and the next $n; NULL (not ok) past SQL_PARAMS_MAX. */
static void db_query_param(struct db_query *query, const char *fragment, bool is_text,
                           const char *text, int64_t number)
{
    char placeholder[16];
    if (query->count == SQL_PARAMS_MAX) {
        query->ok = false;
        return;
    }
    query->params[query->count].is_text = is_text;
    query->params[query->count].text = text;
    query->params[query->count].number = number;
    snprintf(placeholder, sizeof(placeholder), "$%d", ++query->count);
    db_query_append(query, fragment);
    db_query_append(query, placeholder);
}

void db_query_text(struct db_query *query, const char *fragment, const char *text)
{
    db_query_param(query, fragment, true, text, 0);
}

void db_query_int64(struct db_query *query, const char *fragment, int64_t number)
{
    db_query_param(query, fragment, false, NULL, number);
}

struct db_stmt *db_query_statement(struct db_tx *tx, const struct db_query *query, const char *what)
{
    if (!query->ok) {
        log_error("store: %s: the SQL does not fit DB_QUERY_BYTES_MAX", what);
        return NULL;
    }
    struct db_stmt *stmt = db_statement_text(tx, query->sql);
    for (int i = 0; i < query->count; i++) {
        if (query->params[i].is_text) {
            db_bind_text(stmt, query->params[i].text);
        } else {
            db_bind_int64(stmt, query->params[i].number);
        }
    }
    return stmt;
}

/* ---- rows ---- */
bool db_copy_text(char *out, size_t out_size, const char *text)
{
    size_t length = strlen(text);
    if (length >= out_size) {
        if (out_size > 0) {
            out[0] = '\0';
        }
        return false;
    }
    memcpy(out, text, length + 1);
    return true;
}

void db_why(char *why, size_t why_size, const char *format, ...)
{
    if (why != NULL && why_size > 0) {
        va_list arguments;
        va_start(arguments, format);
        vsnprintf(why, why_size, format, arguments);
        va_end(arguments);
    }
}

void db_deadline_after_ms(struct timespec *deadline, int64_t ms)
{
    clock_gettime(CLOCK_REALTIME, deadline);
    deadline->tv_sec += (time_t)(ms / 1000);
    deadline->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (deadline->tv_nsec >= 1000000000L) {
        deadline->tv_sec += 1;
        deadline->tv_nsec -= 1000000000L;
    }
}

void db_row_start(struct db_row *row, struct db_stmt *stmt)
{
    row->stmt = stmt;
    row->column = 0;
    row->ok = true;
}

void db_row_start_clear(struct db_row *row, struct db_stmt *stmt, void *out, size_t out_size)
{
    memset(out, 0, out_size);
    db_row_start(row, stmt);
}

/* The next column's index, or -1 past the last (a bad value). */
static int db_row_next(struct db_row *row)
{
    int column = row->column++;
    if (column >= row->stmt->driver->column_count(row->stmt)) {
        row->ok = false;
        return -1;
    }
    return column;
}

bool db_row_is_null(const struct db_row *row)
{
    if (row->column >= row->stmt->driver->column_count(row->stmt)) {
        return true;
    }
    return row->stmt->driver->column_is_null(row->stmt, row->column);
}

void db_row_skip(struct db_row *row)
{
    (void)db_row_next(row);
}

const char *db_row_text_view(struct db_row *row)
{
    int column = db_row_next(row);
    const char *text = column >= 0 ? row->stmt->driver->column_text(row->stmt, column) : NULL;
    if (text == NULL) {
        row->ok = false;
        return "";
    }
    return text;
}

void db_row_text(struct db_row *row, char *out, size_t out_size)
{
    int column = db_row_next(row);
    const char *text = column >= 0 ? row->stmt->driver->column_text(row->stmt, column) : NULL;
    if (text == NULL) {
        out[0] = '\0'; /* NULL reads as "" (a column past the end is already marked bad) */
        return;
    }
    if (!db_copy_text(out, out_size, text)) {
        row->ok = false;
    }
}

int64_t db_row_int64(struct db_row *row)
{
    int column = db_row_next(row);
    int64_t value = 0;
    if (column < 0 || !row->stmt->driver->column_int64(row->stmt, column, &value)) {
        row->ok = false;
        return 0;
    }
    return value;
}

bool db_row_bool(struct db_row *row)
{
    int64_t value = db_row_int64(row);
    if (value != 0 && value != 1) {
        row->ok = false;
    }
    return value == 1;
}

/* Each enum column is its wire name (domain/names.h); an unknown name is a bad value. */
#define DB_ROW_ENUM(function, type, parse)                                                         \
    void function(struct db_row *row, type *out)                                                   \
    {                                                                                              \
        if (!parse(db_row_text_view(row), out)) {                                                  \
            row->ok = false;                                                                       \
        }                                                                                          \
    }

DB_ROW_ENUM(db_row_account_status, enum account_status, account_status_parse)
DB_ROW_ENUM(db_row_account_verified, enum account_verified, account_verified_parse)
DB_ROW_ENUM(db_row_member_role, enum member_role, member_role_parse)
DB_ROW_ENUM(db_row_member_status, enum member_status, member_status_parse)
DB_ROW_ENUM(db_row_withdraw_status, enum withdraw_status, withdraw_status_parse)
DB_ROW_ENUM(db_row_history_type, enum history_type, history_type_parse)
DB_ROW_ENUM(db_row_verification_method, enum verification_method, verification_method_parse)

/* Stored statuses only: EXPIRED is derived from the clock and never stored (types.h). */
void db_row_verification_status(struct db_row *row, enum verification_status *out)
{
    static const enum verification_status stored[] = {
        VERIFICATION_PENDING,
        VERIFICATION_CONFIRMED,
        VERIFICATION_LOCKED,
        VERIFICATION_FAILED,
    };
    const char *text = db_row_text_view(row);
    for (size_t i = 0; i < sizeof(stored) / sizeof(stored[0]); i++) {
        if (strcmp(text, verification_status_name(stored[i])) == 0) {
            *out = stored[i];
            return;
        }
    }
    row->ok = false;
}

cash_result db_row_check(const struct db_row *row, const char *what)
{
    if (!row->ok) {
        log_error("store: %s: a stored row holds a value out of range", what);
        return CASH_INTERNAL_ERROR;
    }
    return CASH_OK;
}

/* ---- reading rows ---- */
cash_result db_step_key(struct db_tx *tx, enum sql_id id, const char *key,
                        struct db_stmt **stmt_out)
{
    struct db_stmt *stmt = db_statement(tx, id);
    db_bind_text(stmt, key);
    if (stmt_out != NULL) {
        *stmt_out = stmt;
    }
    return db_step(stmt);
}

cash_result db_read_key(struct db_tx *tx, enum sql_id id, const char *key, db_row_reader reader,
                        void *out)
{
    struct db_stmt *stmt = NULL;
    cash_result result = db_step_key(tx, id, key, &stmt);
    return result == CASH_OK ? reader(stmt, out) : result;
}

struct db_get_call {
    enum sql_id id;
    const char *key;
    db_row_reader reader;
    _Alignas(max_align_t) unsigned char row[DB_ROW_BYTES_MAX];
};

static cash_result db_get_body(struct db_tx *tx, void *context)
{
    struct db_get_call *call = context;
    return db_read_key(tx, call->id, call->key, call->reader, call->row);
}

cash_result db_get(struct store *store, enum sql_id id, const char *key, db_row_reader reader,
                   void *out, size_t out_size)
{
    struct db_get_call call = {.id = id, .key = key, .reader = reader};
    if (out_size > sizeof(call.row)) {
        log_error("store: a row of %zu bytes is larger than DB_ROW_BYTES_MAX", out_size);
        return CASH_INTERNAL_ERROR;
    }
    return db_run_out(store, DB_READ, db_get_body, &call, out, call.row, out_size);
}

cash_result db_read_rows(struct db_stmt *stmt, db_row_reader reader, void *out, size_t size,
                         size_t max, size_t *count_out)
{
    *count_out = 0;
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    while (*count_out < max) {
        cash_result result = db_step(stmt);
        if (result != CASH_OK) {
            return result == CASH_NOT_FOUND ? CASH_OK : result;
        }
        result = reader(stmt, (unsigned char *)out + *count_out * size);
        if (result != CASH_OK) {
            return result;
        }
        (*count_out)++;
    }
    return CASH_OK;
}

cash_result db_step_int64(struct db_stmt *stmt, const char *what, int64_t *out)
{
    cash_result result = db_step(stmt);
    if (result != CASH_OK) {
        return result == CASH_NOT_FOUND ? CASH_INTERNAL_ERROR : result;
    }
    struct db_row row;
    db_row_start(&row, stmt);
    *out = db_row_int64(&row);
    result = db_row_check(&row, what);
    return result == CASH_OK ? db_step_end(stmt) : result;
}

/* ---- the store (store.h) ---- */
#define SQLITE_SCHEME "sqlite:"

static bool url_has_scheme(const char *url, const char *scheme)
{
    return strncmp(url, scheme, strlen(scheme)) == 0;
}

/* Opens the backend named by the URL's scheme with default options (store.h). */
cash_result store_open(const char *url, struct store **out, char *why, size_t why_size)
{
    return store_open_options(url, NULL, out, why, why_size);
}

/* Opens the backend named by the URL's scheme (store.h). */
cash_result store_open_options(const char *url, const struct store_options *options,
                               struct store **out, char *why, size_t why_size)
{
    if (url == NULL || url[0] == '\0') {
        db_why(why, why_size, "no database URL given (expected sqlite:PATH)");
        return CASH_VALIDATION_ERROR;
    }
    if (strnlen(url, DB_URL_BYTES_MAX + 1) > DB_URL_BYTES_MAX) {
        db_why(why, why_size, "the database URL is too long");
        return CASH_VALIDATION_ERROR;
    }
    if (url_has_scheme(url, SQLITE_SCHEME)) {
        return store_sqlite_open(url + strlen(SQLITE_SCHEME), out, why, why_size);
    }
    if (url_has_scheme(url, "postgresql://") || url_has_scheme(url, "postgres://")) {
        return store_pg_open(url, options, out, why, why_size);
    }
    db_why(why, why_size, "unknown database URL scheme (expected sqlite:PATH or postgresql://...)");
    return CASH_VALIDATION_ERROR;
}

/* Releases the store and everything it holds; NULL is allowed. */
void store_close(struct store *store)
{
    if (store != NULL) {
        store->driver->close(store);
    }
}

/* SPEC 7: the driver's check of its database's settings (store.h). */
cash_result store_durability_check(struct store *store, char *why, size_t why_size)
{
    assert(store != NULL);
    return store->driver->durability_check(store, why, why_size);
}
