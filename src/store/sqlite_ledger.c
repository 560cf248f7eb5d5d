/*
 * sqlite_ledger.c - the balance and its ledger (SPEC 3) in the SQLite backend: the one function
 * that changes a balance (sqlite_ledger_apply), the manual recharge and the history listing.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "domain/ledger.h"
#include "domain/names.h"
#include "store/sqlite_internal.h"

static const char SQL_LEDGER_ACCOUNT[] = "SELECT balance, point FROM accounts WHERE account_id = ?";
/* The guarded change: a debit matches no row unless the balance covers it (SPEC 3). */
static const char SQL_LEDGER_UPDATE[] = "UPDATE accounts SET balance = balance + ?, updated_ms = ?"
                                        " WHERE account_id = ? AND balance >= ?";
static const char SQL_LEDGER_INSERT[] =
    "INSERT INTO balance_history (history_id, account_id, entry_seq, type, balance_amount,"
    " point_amount, old_balance, new_balance, old_point, new_point, memo, group_id, created_ms)"
    " VALUES (?, ?, (SELECT COALESCE(MAX(entry_seq), 0) + 1 FROM balance_history"
    " WHERE account_id = ?), ?, ?, 0, ?, ?, ?, ?, ?, ?, ?)";

static cash_result ledger_read_balance(struct sqlite_conn *conn, const char *account_id,
                                       int64_t *balance_out, int64_t *point_out)
{
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_LEDGER_ACCOUNT);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, account_id);
    cash_result result = sqlite_bind_check(conn, &binder, "ledger balance");
    if (result == CASH_OK) {
        result = sqlite_step_row(conn, stmt, "ledger balance");
    }
    if (result != CASH_OK) {
        return result;
    }
    struct sqlite_row row;
    sqlite_row_start(&row, stmt);
    *balance_out = sqlite_row_int64(&row);
    *point_out = sqlite_row_int64(&row);
    if (*balance_out < 0 || *point_out < 0) {
        row.ok = false;
    }
    return sqlite_row_check(&row, "ledger balance");
}

static cash_result ledger_update_balance(struct sqlite_conn *conn,
                                         const struct ledger_change *change)
{
    int64_t delta = change->balance_amount_won;
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_LEDGER_UPDATE);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_int64(&binder, delta);
    sqlite_bind_int64(&binder, change->now_ms);
    sqlite_bind_text(&binder, change->account_id);
    sqlite_bind_int64(&binder, ledger_balance_floor_won(delta));
    cash_result result = sqlite_bind_check(conn, &binder, "ledger update");
    int64_t changes = 0;
    if (result == CASH_OK) {
        result = sqlite_step_done(conn, stmt, "ledger update", &changes);
    }
    if (result == CASH_OK && changes != 1) {
        result = CASH_NOT_ENOUGH_BALANCE;
    }
    return result;
}

static cash_result ledger_insert(struct sqlite_conn *conn, const struct history_entry *entry)
{
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_LEDGER_INSERT);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, entry->history_id);
    sqlite_bind_text(&binder, entry->account_id);
    sqlite_bind_text(&binder, entry->account_id);
    sqlite_bind_text(&binder, history_type_name(entry->type));
    sqlite_bind_int64(&binder, entry->balance_amount_won);
    sqlite_bind_int64(&binder, entry->old_balance_won);
    sqlite_bind_int64(&binder, entry->new_balance_won);
    sqlite_bind_int64(&binder, entry->old_point_won);
    sqlite_bind_int64(&binder, entry->new_point_won);
    sqlite_bind_text(&binder, entry->memo);
    sqlite_bind_text(&binder, entry->group_id);
    sqlite_bind_int64(&binder, entry->created_ms);
    cash_result result = sqlite_bind_check(conn, &binder, "ledger insert");
    if (result != CASH_OK) {
        return result;
    }
    return sqlite_step_done(conn, stmt, "ledger insert", NULL);
}

static bool ledger_entry_init(const struct ledger_change *change, struct history_entry *entry)
{
    memset(entry, 0, sizeof(*entry));
    bool ok = sqlite_copy_text(entry->history_id, sizeof(entry->history_id), change->history_id);
    ok = ok && sqlite_copy_text(entry->account_id, sizeof(entry->account_id), change->account_id);
    ok = ok && sqlite_copy_text(entry->memo, sizeof(entry->memo), change->memo);
    ok = ok && sqlite_copy_text(entry->group_id, sizeof(entry->group_id), change->group_id);
    entry->type = change->type;
    entry->balance_amount_won = change->balance_amount_won;
    entry->point_amount_won = 0;
    entry->created_ms = change->now_ms;
    return ok;
}

/* One balance change and its ledger entry, in the caller's transaction (sqlite_internal.h). */
cash_result sqlite_ledger_apply(struct sqlite_conn *conn, const struct ledger_change *change,
                                struct history_entry *out)
{
    int64_t delta = change->balance_amount_won;
    assert(delta != 0 && delta >= -AMOUNT_WON_ABSOLUTE_MAX && delta <= AMOUNT_WON_ABSOLUTE_MAX);
    struct history_entry entry;
    if (!ledger_entry_init(change, &entry)) {
        return CASH_VALIDATION_ERROR;
    }
    cash_result result =
        ledger_read_balance(conn, change->account_id, &entry.old_balance_won, &entry.old_point_won);
    if (result != CASH_OK) {
        return result;
    }
    struct ledger_step step;
    result = ledger_step_compute(entry.old_balance_won, delta, &step);
    if (result != CASH_OK) {
        return result;
    }
    result = ledger_update_balance(conn, change);
    if (result != CASH_OK) {
        return result;
    }
    result =
        ledger_read_balance(conn, change->account_id, &entry.new_balance_won, &entry.new_point_won);
    if (result != CASH_OK) {
        return result == CASH_NOT_FOUND ? CASH_INTERNAL_ERROR : result;
    }
    /* Within the write transaction nothing else changes the row: the debit is exact. */
    assert(ledger_step_matches(&step, entry.old_balance_won, entry.new_balance_won));
    assert(entry.new_point_won == entry.old_point_won);
    result = ledger_insert(conn, &entry);
    if (result == CASH_OK) {
        *out = entry;
    }
    return result;
}

/* ---- the manual recharge ---- */

struct credit_context {
    struct ledger_change change;
    struct history_entry out;
};

static cash_result credit_body(struct sqlite_conn *conn, void *context_pointer)
{
    struct credit_context *context = context_pointer;
    return sqlite_ledger_apply(conn, &context->change, &context->out);
}

/*
 * A manual recharge (store.h): amount_won in 1..AMOUNT_WON_ABSOLUTE_MAX and a memo that fits,
 * else CASH_VALIDATION_ERROR; CASH_NOT_FOUND without the account; CASH_CONFLICT for a used
 * history_id.
 */
cash_result sqlite_balance_credit(struct store *store, const char *account_id, int64_t amount_won,
                                  const char *memo, const char *history_id, int64_t now_ms,
                                  struct history_entry *out)
{
    if (amount_won < 1 || amount_won > AMOUNT_WON_ABSOLUTE_MAX) {
        return CASH_VALIDATION_ERROR;
    }
    struct credit_context context = {
        .change =
            {
                .account_id = account_id,
                .type = HISTORY_RECHARGE,
                .balance_amount_won = amount_won,
                .memo = memo != NULL ? memo : "",
                .group_id = "",
                .history_id = history_id,
                .now_ms = now_ms,
            },
    };
    cash_result result = sqlite_write_run(sqlite_store_of(store), credit_body, &context);
    if (result == CASH_OK && out != NULL) {
        *out = context.out;
    }
    return result;
}

/* ---- history ---- */

#define HISTORY_SQL_BYTES_MAX 1024

struct history_context {
    const struct history_query *query;
    struct history_entry *out;
    size_t count;
};

static void history_sql(const struct history_query *query, char *sql, size_t sql_size)
{
    /* Only fixed text goes into the SQL; every value is a bound parameter. */
    snprintf(sql, sql_size,
             "SELECT history_id, account_id, type, balance_amount, point_amount, old_balance,"
             " new_balance, old_point, new_point, memo, group_id, created_ms"
             " FROM balance_history WHERE 1 = 1%s%s%s%s ORDER BY %s LIMIT ? OFFSET ?",
             query->account_id[0] != '\0' ? " AND account_id = ?" : "",
             query->start_ms != 0 ? " AND created_ms >= ?" : "",
             query->end_ms != 0 ? " AND created_ms <= ?" : "",
             query->has_type ? " AND type = ?" : "",
             /* One account: commit order, in which the balances chain (schema). */
             query->account_id[0] != '\0' ? "entry_seq DESC" : "history_id DESC");
}

static void history_bind(const struct history_query *query, struct sqlite_binder *binder)
{
    if (query->account_id[0] != '\0') {
        sqlite_bind_text(binder, query->account_id);
    }
    if (query->start_ms != 0) {
        sqlite_bind_int64(binder, query->start_ms);
    }
    if (query->end_ms != 0) {
        sqlite_bind_int64(binder, query->end_ms);
    }
    if (query->has_type) {
        sqlite_bind_text(binder, history_type_name(query->type));
    }
    sqlite_bind_int64(binder, (int64_t)query->limit);
    sqlite_bind_int64(binder, query->offset);
}

static void history_row_read(sqlite3_stmt *stmt, struct history_entry *entry,
                             struct sqlite_row *row)
{
    memset(entry, 0, sizeof(*entry)); /* no stale bytes after the strings */
    sqlite_row_start(row, stmt);
    sqlite_row_text(row, entry->history_id, sizeof(entry->history_id));
    sqlite_row_text(row, entry->account_id, sizeof(entry->account_id));
    sqlite_row_history_type(row, &entry->type);
    entry->balance_amount_won = sqlite_row_int64(row);
    entry->point_amount_won = sqlite_row_int64(row);
    entry->old_balance_won = sqlite_row_int64(row);
    entry->new_balance_won = sqlite_row_int64(row);
    entry->old_point_won = sqlite_row_int64(row);
    entry->new_point_won = sqlite_row_int64(row);
    sqlite_row_text(row, entry->memo, sizeof(entry->memo));
    sqlite_row_text(row, entry->group_id, sizeof(entry->group_id));
    entry->created_ms = sqlite_row_int64(row);
}

static cash_result history_rows(struct sqlite_conn *conn, sqlite3_stmt *stmt,
                                struct history_context *context)
{
    cash_result result = CASH_OK;
    while (result == CASH_OK && context->count < context->query->limit) {
        result = sqlite_step_row(conn, stmt, "history list");
        if (result == CASH_NOT_FOUND) {
            return CASH_OK;
        }
        if (result == CASH_OK) {
            struct sqlite_row row;
            history_row_read(stmt, &context->out[context->count], &row);
            result = sqlite_row_check(&row, "history list");
            context->count++;
        }
    }
    return result;
}

static cash_result history_body(struct sqlite_conn *conn, void *context_pointer)
{
    struct history_context *context = context_pointer;
    char sql[HISTORY_SQL_BYTES_MAX];
    history_sql(context->query, sql, sizeof(sql));
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(conn->db, sql, -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        return sqlite_fail(conn, rc, "history list prepare");
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    history_bind(context->query, &binder);
    cash_result result = sqlite_bind_check(conn, &binder, "history list");
    if (result == CASH_OK) {
        result = history_rows(conn, stmt, context);
    }
    sqlite3_finalize(stmt);
    return result;
}

/* Ledger entries newest first (store.h); CASH_VALIDATION_ERROR for a limit or offset out of range.
 */
cash_result sqlite_history_list(struct store *store, const struct history_query *query,
                                struct history_entry *out, size_t *count_out)
{
    if (query->limit < 1 || query->limit > LIST_LIMIT_MAX + 1 || query->offset < 0 ||
        query->offset > HISTORY_OFFSET_MAX) {
        return CASH_VALIDATION_ERROR;
    }
    struct history_context context = {.query = query, .out = out, .count = 0};
    cash_result result = sqlite_read_run(sqlite_store_of(store), history_body, &context, false);
    if (result == CASH_OK) {
        *count_out = context.count;
    }
    return result;
}
