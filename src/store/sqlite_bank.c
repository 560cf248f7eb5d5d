/*
 * sqlite_bank.c - the registered payout bank account (SPEC 2, 3) in the SQLite backend. The
 * number is only ever held sealed (and masked for display); nothing here logs either.
 */
#include <string.h>

#include "store/sqlite_internal.h"
#include "store/store_internal.h"

static const char SQL_BANK_GET[] =
    "SELECT account_id, bank_code, sealed_number, masked_number, holder_name, created_ms,"
    " updated_ms, operator_verified FROM bank_accounts WHERE account_id = ?";
static const char SQL_BANK_ACCOUNT_EXISTS[] = "SELECT 1 FROM accounts WHERE account_id = ?";
/* Replacing keeps the first registration's created_ms: dateUpdated tells the change.
 * operator_verified (SPEC 5 cooling-off): 1 when the operator set it (no factor), which exempts
 * it from the cooling-off; 0 when the member did through the API. */
static const char SQL_BANK_UPSERT[] =
    "INSERT INTO bank_accounts (account_id, bank_code, sealed_number, masked_number,"
    " holder_name, created_ms, updated_ms, operator_verified) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (account_id) DO UPDATE SET bank_code = excluded.bank_code,"
    " sealed_number = excluded.sealed_number, masked_number = excluded.masked_number,"
    " holder_name = excluded.holder_name, updated_ms = excluded.updated_ms,"
    " operator_verified = excluded.operator_verified";
static const char SQL_BANK_DELETE[] = "DELETE FROM bank_accounts WHERE account_id = ?";

struct bank_context {
    const char *account_id;
    const struct bank_account *bank;
    const struct second_factor *factor; /* NULL: the operator CLI */
    int64_t confirmed_ms;
    struct bank_account out;
};

/* Binds one text parameter to a cached statement; NULL (logged) on failure. */
static sqlite3_stmt *stmt_with_id(struct sqlite_conn *conn, const char *sql, const char *id,
                                  const char *what)
{
    sqlite3_stmt *stmt = sqlite_stmt(conn, sql);
    if (stmt == NULL) {
        return NULL;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, id);
    if (sqlite_bind_check(conn, &binder, what) != CASH_OK) {
        return NULL;
    }
    return stmt;
}

/* The registered bank account inside the caller's transaction; CASH_NOT_FOUND if none. */
cash_result sqlite_bank_read(struct sqlite_conn *conn, const char *account_id,
                             struct bank_account *out)
{
    sqlite3_stmt *stmt = stmt_with_id(conn, SQL_BANK_GET, account_id, "bank get");
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    cash_result result = sqlite_step_row(conn, stmt, "bank get");
    if (result != CASH_OK) {
        return result;
    }
    struct sqlite_row row;
    memset(out, 0, sizeof(*out)); /* no stale bytes after the strings */
    sqlite_row_start(&row, stmt);
    sqlite_row_text(&row, out->account_id, sizeof(out->account_id));
    sqlite_row_text(&row, out->bank_code, sizeof(out->bank_code));
    sqlite_row_text(&row, out->sealed_number, sizeof(out->sealed_number));
    sqlite_row_text(&row, out->masked_number, sizeof(out->masked_number));
    sqlite_row_text(&row, out->holder_name, sizeof(out->holder_name));
    out->created_ms = sqlite_row_int64(&row);
    out->updated_ms = sqlite_row_int64(&row);
    out->operator_verified = sqlite_row_bool(&row);
    return sqlite_row_check(&row, "bank get");
}

static cash_result bank_upsert(struct sqlite_conn *conn, const struct bank_account *bank,
                               bool operator_verified)
{
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_BANK_UPSERT);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, bank->account_id);
    sqlite_bind_text(&binder, bank->bank_code);
    sqlite_bind_text(&binder, bank->sealed_number);
    sqlite_bind_text(&binder, bank->masked_number);
    sqlite_bind_text(&binder, bank->holder_name);
    sqlite_bind_int64(&binder, bank->created_ms);
    sqlite_bind_int64(&binder, bank->updated_ms);
    sqlite_bind_int64(&binder, operator_verified ? 1 : 0);
    cash_result result = sqlite_bind_check(conn, &binder, "bank set");
    if (result != CASH_OK) {
        return result;
    }
    return sqlite_step_done(conn, stmt, "bank set", NULL);
}

static cash_result bank_set_body(struct sqlite_conn *conn, void *context_pointer)
{
    struct bank_context *context = context_pointer;
    cash_result result = CASH_OK;
    if (context->factor != NULL) {
        result = factor_spend(&conn->tx, context->factor, &context->confirmed_ms);
        if (result != CASH_OK) {
            return result;
        }
    }
    sqlite3_stmt *stmt =
        stmt_with_id(conn, SQL_BANK_ACCOUNT_EXISTS, context->bank->account_id, "bank account");
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    result = sqlite_step_row(conn, stmt, "bank account");
    if (result != CASH_OK) {
        return result;
    }
    result = bank_upsert(conn, context->bank, context->factor == NULL);
    if (result == CASH_OK) {
        result = sqlite_bank_read(conn, context->bank->account_id, &context->out);
    }
    return result;
}

/*
 * Registers or replaces the bank account (store.h), spending factor (when given) in the same
 * transaction: CASH_SECOND_FACTOR_REQUIRED, then CASH_NOT_FOUND for an unknown account.
 */
cash_result sqlite_bank_account_set(struct store *store, const struct bank_account *bank,
                                    struct second_factor *factor, struct store_request *request)
{
    if (bank->sealed_number[0] == '\0' || bank->masked_number[0] == '\0' ||
        bank->bank_code[0] == '\0' || bank->holder_name[0] == '\0') {
        return CASH_VALIDATION_ERROR;
    }
    struct bank_context context = {.bank = bank, .factor = factor};
    const struct sqlite_request_work work = {
        .body = bank_set_body,
        .context = &context,
        .row = &context.out,
    };
    cash_result result = sqlite_request_run(sqlite_store_of(store), request, &work);
    if (result == CASH_OK && factor != NULL && (request == NULL || !request->replayed)) {
        factor->confirmed_ms = context.confirmed_ms;
    }
    return result;
}

static cash_result bank_get_body(struct sqlite_conn *conn, void *context_pointer)
{
    struct bank_context *context = context_pointer;
    return sqlite_bank_read(conn, context->account_id, &context->out);
}

/* The registered bank account (store.h); CASH_NOT_FOUND if none. */
cash_result sqlite_bank_account_get(struct store *store, const char *account_id,
                                    struct bank_account *out)
{
    struct bank_context context = {.account_id = account_id};
    cash_result result = sqlite_read_run(sqlite_store_of(store), bank_get_body, &context, false);
    if (result == CASH_OK) {
        *out = context.out;
    }
    return result;
}

static cash_result bank_delete_body(struct sqlite_conn *conn, void *context_pointer)
{
    struct bank_context *context = context_pointer;
    cash_result result = CASH_OK;
    if (context->factor != NULL) {
        result = factor_spend(&conn->tx, context->factor, &context->confirmed_ms);
        if (result != CASH_OK) {
            return result;
        }
    }
    sqlite3_stmt *stmt = stmt_with_id(conn, SQL_BANK_DELETE, context->account_id, "bank delete");
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    int64_t changes = 0;
    result = sqlite_step_done(conn, stmt, "bank delete", &changes);
    if (result == CASH_OK && changes == 0) {
        result = CASH_NOT_FOUND; /* rolls back: the factor is not spent */
    }
    return result;
}

/*
 * Removes the bank account (store.h): CASH_SECOND_FACTOR_REQUIRED, then CASH_NOT_FOUND when none
 * is registered; either way nothing is written and the factor is not spent.
 */
cash_result sqlite_bank_account_delete(struct store *store, const char *account_id,
                                       struct second_factor *factor, struct store_request *request)
{
    struct bank_context context = {.account_id = account_id, .factor = factor};
    const struct sqlite_request_work work = {.body = bank_delete_body, .context = &context};
    cash_result result = sqlite_request_run(sqlite_store_of(store), request, &work);
    if (result == CASH_OK && factor != NULL && (request == NULL || !request->replayed)) {
        factor->confirmed_ms = context.confirmed_ms;
    }
    return result;
}
