/*
 * pg_bank.c - the registered payout bank account (SPEC 2, 3) in the PostgreSQL backend. The
 * number is only ever held sealed (and masked for display); nothing here logs either. A change
 * spends its second factor and then takes the account lock, in that order, like a withdrawal.
 */
#include <string.h>

#include "store/pg_internal.h"
#include "store/store_internal.h"

static const char SQL_BANK_GET[] =
    "SELECT account_id, bank_code, sealed_number, masked_number, holder_name, created_ms,"
    " updated_ms, operator_verified FROM bank_accounts WHERE account_id = $1";
/* Replacing keeps the first registration's created_ms: dateUpdated tells the change.
 * operator_verified (SPEC 5 cooling-off): 1 when the operator set it (no factor), 0 when the
 * member did through the API. */
static const char SQL_BANK_UPSERT[] =
    "INSERT INTO bank_accounts (account_id, bank_code, sealed_number, masked_number,"
    " holder_name, created_ms, updated_ms, operator_verified)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    " ON CONFLICT (account_id) DO UPDATE SET bank_code = excluded.bank_code,"
    " sealed_number = excluded.sealed_number, masked_number = excluded.masked_number,"
    " holder_name = excluded.holder_name, updated_ms = excluded.updated_ms,"
    " operator_verified = excluded.operator_verified";
static const char SQL_BANK_DELETE[] = "DELETE FROM bank_accounts WHERE account_id = $1";

struct bank_context {
    const char *account_id;
    const struct bank_account *bank;
    const struct second_factor *factor; /* NULL: the operator CLI */
    int64_t confirmed_ms;
    struct bank_account out;
};

/* The registered bank account inside the caller's transaction; CASH_NOT_FOUND if none. */
cash_result pg_bank_read(struct pg_conn *conn, const char *account_id, struct bank_account *out)
{
    struct pg_params params;
    pg_params_start(&params);
    pg_param_text(&params, account_id);
    cash_result result = CASH_OK;
    PGresult *res = pg_exec(conn, SQL_BANK_GET, &params, "bank get", &result);
    if (res == NULL) {
        return result;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        return CASH_NOT_FOUND;
    }
    struct pg_row row;
    memset(out, 0, sizeof(*out)); /* no stale bytes after the strings */
    pg_row_start(&row, res, 0);
    pg_row_text(&row, out->account_id, sizeof(out->account_id));
    pg_row_text(&row, out->bank_code, sizeof(out->bank_code));
    pg_row_text(&row, out->sealed_number, sizeof(out->sealed_number));
    pg_row_text(&row, out->masked_number, sizeof(out->masked_number));
    pg_row_text(&row, out->holder_name, sizeof(out->holder_name));
    out->created_ms = pg_row_int64(&row);
    out->updated_ms = pg_row_int64(&row);
    out->operator_verified = pg_row_bool(&row);
    result = pg_row_check(&row, "bank get");
    PQclear(res);
    return result;
}

/* The factor (when given) and then the account lock; CASH_NOT_FOUND for an unknown account. */
static cash_result bank_begin(struct pg_conn *conn, struct bank_context *context,
                              const char *account_id)
{
    cash_result result = CASH_OK;
    if (context->factor != NULL) {
        result = factor_spend(&conn->tx, context->factor, &context->confirmed_ms);
        if (result != CASH_OK) {
            return result;
        }
    }
    int64_t balance = 0;
    int64_t point = 0;
    return pg_account_lock(conn, account_id, &balance, &point);
}

static cash_result bank_set_body(struct pg_conn *conn, void *context_pointer)
{
    struct bank_context *context = context_pointer;
    const struct bank_account *bank = context->bank;
    cash_result result = bank_begin(conn, context, bank->account_id);
    if (result != CASH_OK) {
        return result;
    }
    struct pg_params params;
    pg_params_start(&params);
    pg_param_text(&params, bank->account_id);
    pg_param_text(&params, bank->bank_code);
    pg_param_text(&params, bank->sealed_number);
    pg_param_text(&params, bank->masked_number);
    pg_param_text(&params, bank->holder_name);
    pg_param_int64(&params, bank->created_ms);
    pg_param_int64(&params, bank->updated_ms);
    pg_param_int64(&params, context->factor == NULL ? 1 : 0);
    PGresult *res = pg_exec(conn, SQL_BANK_UPSERT, &params, "bank set", &result);
    PQclear(res);
    if (result == CASH_OK) {
        result = pg_bank_read(conn, bank->account_id, &context->out);
    }
    return result;
}

/*
 * Registers or replaces the bank account, spending factor (when given) in the same transaction:
 * CASH_SECOND_FACTOR_REQUIRED, then CASH_NOT_FOUND for an unknown account.
 */
cash_result pg_bank_account_set(struct store *store, const struct bank_account *bank,
                                struct second_factor *factor, struct store_request *request)
{
    if (bank->sealed_number[0] == '\0' || bank->masked_number[0] == '\0' ||
        bank->bank_code[0] == '\0' || bank->holder_name[0] == '\0') {
        return CASH_VALIDATION_ERROR;
    }
    struct bank_context context = {.bank = bank, .factor = factor};
    const struct pg_request_work work = {
        .body = bank_set_body,
        .context = &context,
        .row = &context.out,
    };
    cash_result result = pg_request_run(pg_store_of(store), request, &work);
    if (result == CASH_OK && factor != NULL && (request == NULL || !request->replayed)) {
        factor->confirmed_ms = context.confirmed_ms;
    }
    return result;
}

static cash_result bank_get_body(struct pg_conn *conn, void *context_pointer)
{
    struct bank_context *context = context_pointer;
    return pg_bank_read(conn, context->account_id, &context->out);
}

/* The registered bank account; CASH_NOT_FOUND if none. */
cash_result pg_bank_account_get(struct store *store, const char *account_id,
                                struct bank_account *out)
{
    struct bank_context context = {.account_id = account_id};
    cash_result result = pg_run(pg_store_of(store), PG_READ, bank_get_body, &context);
    if (result == CASH_OK) {
        *out = context.out;
    }
    return result;
}

static cash_result bank_delete_body(struct pg_conn *conn, void *context_pointer)
{
    struct bank_context *context = context_pointer;
    cash_result result = bank_begin(conn, context, context->account_id);
    if (result != CASH_OK) {
        return result; /* CASH_NOT_FOUND for no account: nothing registered either */
    }
    struct pg_params params;
    pg_params_start(&params);
    pg_param_text(&params, context->account_id);
    PGresult *res = pg_exec(conn, SQL_BANK_DELETE, &params, "bank delete", &result);
    if (res == NULL) {
        return result;
    }
    if (pg_changes(res) == 0) {
        result = CASH_NOT_FOUND; /* rolls back: the factor is not spent */
    }
    PQclear(res);
    return result;
}

/*
 * Removes the bank account: CASH_SECOND_FACTOR_REQUIRED, then CASH_NOT_FOUND when none is
 * registered; either way nothing is written and the factor is not spent.
 */
cash_result pg_bank_account_delete(struct store *store, const char *account_id,
                                   struct second_factor *factor, struct store_request *request)
{
    struct bank_context context = {.account_id = account_id, .factor = factor};
    const struct pg_request_work work = {.body = bank_delete_body, .context = &context};
    cash_result result = pg_request_run(pg_store_of(store), request, &work);
    if (result == CASH_OK && factor != NULL && (request == NULL || !request->replayed)) {
        factor->confirmed_ms = context.confirmed_ms;
    }
    return result;
}
