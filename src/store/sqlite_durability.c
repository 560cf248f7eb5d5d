/*
 * sqlite_durability.c - store_durability_check for the SQLite backend (SPEC 7). A commit is on
 * disk before COMMIT returns only with PRAGMA synchronous FULL (2) or EXTRA (3) in WAL mode;
 * NORMAL (1) loses the last transactions on a power failure, OFF (0) may corrupt the file.
 */
#include <stdio.h>

#include "store/sqlite_internal.h"

#define SQLITE_SYNCHRONOUS_FULL 2

static cash_result durability_read(struct db_tx *tx, int64_t *level)
{
    struct db_stmt *stmt = db_statement_text(tx, "PRAGMA synchronous");
    cash_result result = db_step(stmt);
    if (result != CASH_OK) {
        return result == CASH_NOT_FOUND ? CASH_INTERNAL_ERROR : result;
    }
    struct db_row row;
    db_row_start(&row, stmt);
    *level = db_row_int64(&row);
    return db_row_check(&row, "synchronous");
}

/* Reads synchronous on the connection that commits (the writer); see store.h. */
cash_result sqlite_durability_check(struct store *base, char *why, size_t why_size)
{
    struct sqlite_store *store = sqlite_store_of(base);
    struct sqlite_conn *conn = &store->writer;
    int64_t level = -1;
    pthread_mutex_lock(&store->writer_mutex);
    cash_result result = durability_read(&conn->tx, &level);
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
