/*
 * pg_ledger.c - the balance and its ledger (SPEC 3) in the PostgreSQL backend: the account lock,
 * the one function that changes a balance (pg_ledger_apply), the manual recharge and the history
 * listing.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "domain/ledger.h"
#include "domain/names.h"
#include "store/pg_internal.h"
#include "store/store_internal.h"

/*
 * The guarded change and its entry in one statement: the UPDATE matches no row unless the
 * balance covers a debit, and then nothing is inserted either. entry_seq follows the account's
 * last entry; the account row is locked, so no other transaction numbers an entry meanwhile.
 */
static const char SQL_LEDGER_APPLY[] =
    "WITH change AS ("
    " UPDATE accounts SET balance = balance + $2::bigint, updated_ms = $3::bigint"
    " WHERE account_id = $1::text AND balance >= $4::bigint"
    " RETURNING balance - $2::bigint AS old_balance, balance AS new_balance, point)"
    " INSERT INTO balance_history (history_id, account_id, entry_seq, type, balance_amount,"
    " point_amount, old_balance, new_balance, old_point, new_point, memo, group_id, created_ms)"
    " SELECT $5::text, $1::text, (SELECT COALESCE(MAX(h.entry_seq), 0) + 1 FROM balance_history h"
    " WHERE h.account_id = $1::text), $6::text, $2::bigint, 0, old_balance, new_balance, point,"
    " point, $7::text, $8::text, $3::bigint FROM change"
    " RETURNING old_balance, new_balance, old_point, new_point";

/* Locks the account row for the transaction and reads its money (pg_internal.h). */
cash_result pg_account_lock(struct pg_conn *conn, const char *account_id, int64_t *balance_out,
                            int64_t *point_out)
{
    return account_lock(&conn->tx, account_id, balance_out, point_out);
}

static bool ledger_entry_init(const struct pg_ledger_change *change, struct history_entry *entry)
{
    memset(entry, 0, sizeof(*entry));
    bool ok = pg_copy_text(entry->history_id, sizeof(entry->history_id), change->history_id);
    ok = ok && pg_copy_text(entry->account_id, sizeof(entry->account_id), change->account_id);
    ok = ok && pg_copy_text(entry->memo, sizeof(entry->memo), change->memo);
    ok = ok && pg_copy_text(entry->group_id, sizeof(entry->group_id), change->group_id);
    entry->type = change->type;
    entry->balance_amount_won = change->balance_amount_won;
    entry->point_amount_won = 0;
    entry->created_ms = change->now_ms;
    return ok;
}

/* The guarded UPDATE with its INSERT; CASH_NOT_ENOUGH_BALANCE when it matched no row. */
static cash_result ledger_write(struct pg_conn *conn, const struct pg_ledger_change *change,
                                const struct ledger_step *step, struct history_entry *entry)
{
    int64_t delta = change->balance_amount_won;
    struct pg_params params;
    pg_params_start(&params);
    pg_param_text(&params, change->account_id);
    pg_param_int64(&params, delta);
    pg_param_int64(&params, change->now_ms);
    pg_param_int64(&params, ledger_balance_floor_won(delta));
    pg_param_text(&params, change->history_id);
    pg_param_text(&params, history_type_name(change->type));
    pg_param_text(&params, change->memo);
    pg_param_text(&params, change->group_id);
    cash_result result = CASH_OK;
    PGresult *res = pg_exec(conn, SQL_LEDGER_APPLY, &params, "ledger apply", &result);
    if (res == NULL) {
        return result;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return CASH_NOT_ENOUGH_BALANCE;
    }
    struct pg_row row;
    pg_row_start(&row, res, 0);
    int64_t old_balance = pg_row_int64(&row);
    int64_t new_balance = pg_row_int64(&row);
    int64_t old_point = pg_row_int64(&row);
    int64_t new_point = pg_row_int64(&row);
    result = pg_row_check(&row, "ledger apply");
    PQclear(res);
    if (result != CASH_OK) {
        return result;
    }
    /* The account row is locked: what the entry says must be exactly what happened. */
    if (!ledger_step_matches(step, old_balance, new_balance) || old_point != entry->old_point_won ||
        new_point != old_point) {
        log_error("store: ledger apply: the balance changed under the account's lock");
        return CASH_INTERNAL_ERROR;
    }
    entry->new_balance_won = new_balance;
    entry->new_point_won = new_point;
    return CASH_OK;
}

/* One balance change and its ledger entry, in the caller's transaction (pg_internal.h). */
cash_result pg_ledger_apply(struct pg_conn *conn, const struct pg_ledger_change *change,
                            struct history_entry *out)
{
    int64_t delta = change->balance_amount_won;
    assert(delta != 0 && delta >= -AMOUNT_WON_ABSOLUTE_MAX && delta <= AMOUNT_WON_ABSOLUTE_MAX);
    struct history_entry entry;
    if (!ledger_entry_init(change, &entry)) {
        return CASH_VALIDATION_ERROR;
    }
    cash_result result =
        pg_account_lock(conn, change->account_id, &entry.old_balance_won, &entry.old_point_won);
    if (result != CASH_OK) {
        return result;
    }
    struct ledger_step step;
    result = ledger_step_compute(entry.old_balance_won, delta, &step);
    if (result != CASH_OK) {
        return result;
    }
    result = ledger_write(conn, change, &step, &entry);
    if (result == CASH_OK) {
        *out = entry;
    }
    return result;
}

/* ---- the manual recharge ---- */

struct credit_context {
    struct pg_ledger_change change;
    struct history_entry out;
};

static cash_result credit_body(struct pg_conn *conn, void *context_pointer)
{
    struct credit_context *context = context_pointer;
    return pg_ledger_apply(conn, &context->change, &context->out);
}

/*
 * A manual recharge: amount_won in 1..AMOUNT_WON_ABSOLUTE_MAX and a memo that fits, else
 * CASH_VALIDATION_ERROR; CASH_NOT_FOUND without the account; CASH_CONFLICT for a used history_id.
 */
cash_result pg_balance_credit(struct store *store, const char *account_id, int64_t amount_won,
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
    cash_result result = pg_run(pg_store_of(store), PG_WRITE, credit_body, &context);
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

/* Only fixed text goes into the SQL; every value is a parameter, numbered in order. */
static void history_sql(const struct history_query *query, char *sql, size_t sql_size)
{
    char where[256] = "";
    int next = 1;
    size_t used = 0;
    if (query->account_id[0] != '\0') {
        used +=
            (size_t)snprintf(where + used, sizeof(where) - used, " AND account_id = $%d", next++);
    }
    if (query->start_ms != 0) {
        used +=
            (size_t)snprintf(where + used, sizeof(where) - used, " AND created_ms >= $%d", next++);
    }
    if (query->end_ms != 0) {
        used +=
            (size_t)snprintf(where + used, sizeof(where) - used, " AND created_ms <= $%d", next++);
    }
    if (query->has_type) {
        used += (size_t)snprintf(where + used, sizeof(where) - used, " AND type = $%d", next++);
    }
    assert(used < sizeof(where));
    snprintf(sql, sql_size,
             "SELECT history_id, account_id, type, balance_amount, point_amount, old_balance,"
             " new_balance, old_point, new_point, memo, group_id, created_ms"
             " FROM balance_history WHERE 1 = 1%s ORDER BY %s LIMIT $%d OFFSET $%d",
             where,
             /* One account: commit order, in which the balances chain (schema). */
             query->account_id[0] != '\0' ? "entry_seq DESC" : "history_id DESC", next, next + 1);
}

static void history_params(const struct history_query *query, struct pg_params *params)
{
    pg_params_start(params);
    if (query->account_id[0] != '\0') {
        pg_param_text(params, query->account_id);
    }
    if (query->start_ms != 0) {
        pg_param_int64(params, query->start_ms);
    }
    if (query->end_ms != 0) {
        pg_param_int64(params, query->end_ms);
    }
    if (query->has_type) {
        pg_param_text(params, history_type_name(query->type));
    }
    pg_param_int64(params, (int64_t)query->limit);
    pg_param_int64(params, query->offset);
}

static void history_row_read(const PGresult *res, int index, struct history_entry *entry,
                             struct pg_row *row)
{
    memset(entry, 0, sizeof(*entry)); /* no stale bytes after the strings */
    pg_row_start(row, res, index);
    pg_row_text(row, entry->history_id, sizeof(entry->history_id));
    pg_row_text(row, entry->account_id, sizeof(entry->account_id));
    pg_row_history_type(row, &entry->type);
    entry->balance_amount_won = pg_row_int64(row);
    entry->point_amount_won = pg_row_int64(row);
    entry->old_balance_won = pg_row_int64(row);
    entry->new_balance_won = pg_row_int64(row);
    entry->old_point_won = pg_row_int64(row);
    entry->new_point_won = pg_row_int64(row);
    pg_row_text(row, entry->memo, sizeof(entry->memo));
    pg_row_text(row, entry->group_id, sizeof(entry->group_id));
    entry->created_ms = pg_row_int64(row);
}

static cash_result history_body(struct pg_conn *conn, void *context_pointer)
{
    struct history_context *context = context_pointer;
    char sql[HISTORY_SQL_BYTES_MAX];
    struct pg_params params;
    history_sql(context->query, sql, sizeof(sql));
    history_params(context->query, &params);
    context->count = 0;
    cash_result result = CASH_OK;
    PGresult *res = pg_exec_dynamic(conn, sql, &params, "history list", &result);
    if (res == NULL) {
        return result;
    }
    int rows = PQntuples(res);
    for (int i = 0; i < rows && result == CASH_OK && context->count < context->query->limit; i++) {
        struct pg_row row;
        history_row_read(res, i, &context->out[context->count], &row);
        result = pg_row_check(&row, "history list");
        context->count++;
    }
    PQclear(res);
    return result;
}

/* Ledger entries newest first; CASH_VALIDATION_ERROR for a limit or offset out of range. */
cash_result pg_history_list(struct store *store, const struct history_query *query,
                            struct history_entry *out, size_t *count_out)
{
    if (query->limit < 1 || query->limit > LIST_LIMIT_MAX + 1 || query->offset < 0 ||
        query->offset > HISTORY_OFFSET_MAX) {
        return CASH_VALIDATION_ERROR;
    }
    struct history_context context = {.query = query, .out = out, .count = 0};
    cash_result result = pg_run(pg_store_of(store), PG_READ, history_body, &context);
    if (result == CASH_OK) {
        *count_out = context.count;
    }
    return result;
}
