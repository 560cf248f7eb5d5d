/*
 * ledger.c - the balance and its ledger (SPEC 3), written once over the driver seam: the one
 * function that changes a balance (ledger_apply), the manual recharge and the history listing.
 *
 * A change takes the account's lock first (account_lock: a row lock where the driver has them,
 * SQLite's one writer otherwise), so the balance read there is the one the change starts from;
 * the arithmetic is domain/ledger.h's; the database still guards the debit itself
 * (UPDATE ... WHERE balance >= floor), and what it returns must be exactly the computed step.
 */
#include <assert.h>
#include <string.h>

#include "common/log.h"
#include "domain/ledger.h"
#include "domain/names.h"
#include "store/store_internal.h"

static bool ledger_entry_init(const struct ledger_change *change, struct history_entry *entry)
{
    memset(entry, 0, sizeof(*entry));
    bool ok = db_copy_text(entry->history_id, sizeof(entry->history_id), change->history_id);
    ok = ok && db_copy_text(entry->account_id, sizeof(entry->account_id), change->account_id);
    ok = ok && db_copy_text(entry->memo, sizeof(entry->memo), change->memo);
    ok = ok && db_copy_text(entry->group_id, sizeof(entry->group_id), change->group_id);
    entry->type = change->type;
    entry->balance_amount_won = change->balance_amount_won;
    entry->point_amount_won = 0;
    entry->created_ms = change->now_ms;
    return ok;
}

/* The guarded UPDATE: CASH_NOT_ENOUGH_BALANCE when it matched no row; else the new values. */
static cash_result ledger_update(struct db_tx *tx, const struct ledger_change *change,
                                 struct history_entry *entry)
{
    struct db_stmt *stmt = db_statement(tx, SQL_LEDGER_UPDATE);
    db_bind_text(stmt, change->account_id);
    db_bind_int64(stmt, change->balance_amount_won);
    db_bind_int64(stmt, change->now_ms);
    db_bind_int64(stmt, ledger_balance_floor_won(change->balance_amount_won));
    cash_result result = db_step(stmt);
    if (result != CASH_OK) {
        return result == CASH_NOT_FOUND ? CASH_NOT_ENOUGH_BALANCE : result;
    }
    struct db_row row;
    db_row_start(&row, stmt);
    entry->new_balance_won = db_row_int64(&row);
    entry->new_point_won = db_row_int64(&row);
    result = db_row_check(&row, "ledger update");
    /* Run to its end, so that the change is done before the entry is written. */
    return result == CASH_OK ? db_step_end(stmt) : result;
}

static cash_result ledger_insert(struct db_tx *tx, const struct history_entry *entry)
{
    struct db_stmt *stmt = db_statement(tx, SQL_LEDGER_INSERT);
    db_bind_text(stmt, entry->history_id);
    db_bind_text(stmt, entry->account_id);
    db_bind_text(stmt, history_type_name(entry->type));
    db_bind_int64(stmt, entry->balance_amount_won);
    db_bind_int64(stmt, entry->old_balance_won);
    db_bind_int64(stmt, entry->new_balance_won);
    db_bind_int64(stmt, entry->old_point_won);
    db_bind_int64(stmt, entry->new_point_won);
    db_bind_text(stmt, entry->memo);
    db_bind_text(stmt, entry->group_id);
    db_bind_int64(stmt, entry->created_ms);
    return db_exec(stmt, NULL);
}

cash_result ledger_apply(struct db_tx *tx, const struct ledger_change *change,
                         struct history_entry *out)
{
    int64_t delta = change->balance_amount_won;
    assert(delta != 0 && delta >= -AMOUNT_WON_ABSOLUTE_MAX && delta <= AMOUNT_WON_ABSOLUTE_MAX);
    struct history_entry entry;
    if (!ledger_entry_init(change, &entry)) {
        return CASH_VALIDATION_ERROR;
    }
    cash_result result =
        account_lock(tx, change->account_id, &entry.old_balance_won, &entry.old_point_won);
    if (result != CASH_OK) {
        return result;
    }
    struct ledger_step step;
    result = ledger_step_compute(entry.old_balance_won, delta, &step);
    if (result == CASH_OK) {
        result = ledger_update(tx, change, &entry);
    }
    if (result != CASH_OK) {
        return result;
    }
    /* The account is locked: what the entry says must be exactly what happened. */
    if (!ledger_step_matches(&step, entry.old_balance_won, entry.new_balance_won) ||
        entry.new_point_won != entry.old_point_won) {
        log_error("store: ledger apply: the balance changed under the account's lock");
        return CASH_INTERNAL_ERROR;
    }
    result = ledger_insert(tx, &entry);
    if (result == CASH_OK) {
        *out = entry;
    }
    return result;
}

/* A withdrawal's refund back to its account (store_internal.h). */
cash_result ledger_refund(struct db_tx *tx, const struct withdrawal *withdrawal, int64_t refund_won,
                          const char *history_id, int64_t now_ms)
{
    if (refund_won == 0) {
        return CASH_OK;
    }
    const struct ledger_change refund = {
        .account_id = withdrawal->account_id,
        .type = HISTORY_WITHDRAW_REFUND,
        .balance_amount_won = refund_won,
        .memo = "",
        .group_id = withdrawal->withdraw_id,
        .history_id = history_id,
        .now_ms = now_ms,
    };
    struct history_entry entry;
    cash_result result = ledger_apply(tx, &refund, &entry);
    if (result == CASH_OK) {
        assert(entry.new_balance_won == entry.old_balance_won + refund_won);
    }
    return result == CASH_NOT_FOUND ? CASH_INTERNAL_ERROR : result;
}

/* ---- the manual recharge ---- */
struct credit_context {
    struct ledger_change change;
    struct history_entry out;
};

static cash_result credit_body(struct db_tx *tx, void *context_pointer)
{
    struct credit_context *context = context_pointer;
    return ledger_apply(tx, &context->change, &context->out);
}

/* A manual recharge (store.h): amount_won in 1..AMOUNT_WON_ABSOLUTE_MAX and a memo that fits,
 * else CASH_VALIDATION_ERROR; CASH_NOT_FOUND without the account; CASH_CONFLICT for a used
 * history_id. */
cash_result store_balance_credit(struct store *store, const char *account_id, int64_t amount_won,
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
    cash_result result = db_run(store, DB_WRITE, credit_body, &context);
    if (result == CASH_OK && out != NULL) {
        *out = context.out;
    }
    return result;
}

/* ---- history ---- */
struct history_context {
    const struct history_query *query;
    struct history_entry *out;
    size_t count;
};

/* Only fixed text goes into the SQL; every value is a parameter. */
static void history_sql(const struct history_query *query, struct db_query *sql)
{
    db_query_start(sql, "SELECT history_id, account_id, type, balance_amount, point_amount,"
                        " old_balance, new_balance, old_point, new_point, memo, group_id,"
                        " created_ms FROM balance_history WHERE 1 = 1");
    if (query->account_id[0] != '\0') {
        db_query_text(sql, " AND account_id = ", query->account_id);
    }
    if (query->start_ms != 0) {
        db_query_int64(sql, " AND created_ms >= ", query->start_ms);
    }
    if (query->end_ms != 0) {
        db_query_int64(sql, " AND created_ms <= ", query->end_ms);
    }
    if (query->has_type) {
        db_query_text(sql, " AND type = ", history_type_name(query->type));
    }
    /* One account: commit order, in which the balances chain (schema). */
    db_query_append(sql, query->account_id[0] != '\0' ? " ORDER BY entry_seq DESC"
                                                      : " ORDER BY history_id DESC");
    db_query_int64(sql, " LIMIT ", (int64_t)query->limit);
    db_query_int64(sql, " OFFSET ", query->offset);
}

static cash_result history_row_read(struct db_stmt *stmt, void *out)
{
    struct history_entry *entry = out;
    struct db_row row;
    db_row_start_clear(&row, stmt, entry, sizeof(*entry));
    db_row_text(&row, entry->history_id, sizeof(entry->history_id));
    db_row_text(&row, entry->account_id, sizeof(entry->account_id));
    db_row_history_type(&row, &entry->type);
    entry->balance_amount_won = db_row_int64(&row);
    entry->point_amount_won = db_row_int64(&row);
    entry->old_balance_won = db_row_int64(&row);
    entry->new_balance_won = db_row_int64(&row);
    entry->old_point_won = db_row_int64(&row);
    entry->new_point_won = db_row_int64(&row);
    db_row_text(&row, entry->memo, sizeof(entry->memo));
    db_row_text(&row, entry->group_id, sizeof(entry->group_id));
    entry->created_ms = db_row_int64(&row);
    return db_row_check(&row, "history list");
}

static cash_result history_body(struct db_tx *tx, void *context_pointer)
{
    struct history_context *context = context_pointer;
    struct db_query sql;
    history_sql(context->query, &sql);
    struct db_stmt *stmt = db_query_statement(tx, &sql, "history list");
    return db_read_rows(stmt, history_row_read, context->out, sizeof(*context->out),
                        context->query->limit, &context->count);
}

/* Ledger entries newest first (store.h); CASH_VALIDATION_ERROR for a limit or offset out of range.
 */
cash_result store_history_list(struct store *store, const struct history_query *query,
                               struct history_entry *out, size_t *count_out)
{
    if (query->limit < 1 || query->limit > LIST_LIMIT_MAX + 1 || query->offset < 0 ||
        query->offset > HISTORY_OFFSET_MAX) {
        return CASH_VALIDATION_ERROR;
    }
    struct history_context context = {.query = query, .out = out, .count = 0};
    return db_run_out(store, DB_READ, history_body, &context, count_out, &context.count,
                      sizeof(*count_out));
}
