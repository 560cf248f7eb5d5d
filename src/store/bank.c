/*
 * bank.c - the registered payout bank account (SPEC 2, 3), written once over the driver seam.
 * The number is only ever held sealed (and masked for display); nothing here logs either. A
 * change spends its second factor and then takes the account lock, in that order, like a
 * withdrawal.
 */
#include <string.h>

#include "store/store_internal.h"

struct bank_context {
    const char *account_id;
    const struct bank_account *bank;
    const struct second_factor *factor; /* NULL: the operator CLI */
    int64_t confirmed_ms;
    struct bank_account out;
};

static cash_result bank_row_read(struct db_stmt *stmt, void *out_pointer)
{
    struct bank_account *out = out_pointer;
    struct db_row row;
    db_row_start_clear(&row, stmt, out, sizeof(*out));
    db_row_text(&row, out->account_id, sizeof(out->account_id));
    db_row_text(&row, out->bank_code, sizeof(out->bank_code));
    db_row_text(&row, out->sealed_number, sizeof(out->sealed_number));
    db_row_text(&row, out->masked_number, sizeof(out->masked_number));
    db_row_text(&row, out->holder_name, sizeof(out->holder_name));
    out->created_ms = db_row_int64(&row);
    out->updated_ms = db_row_int64(&row);
    out->operator_verified = db_row_bool(&row);
    return db_row_check(&row, "bank get");
}

/* The registered bank account inside the caller's transaction (store_internal.h). */
cash_result bank_read(struct db_tx *tx, const char *account_id, struct bank_account *out)
{
    return db_read_key(tx, SQL_BANK_GET, account_id, bank_row_read, out);
}

/* The factor (when given) and then the account lock; CASH_NOT_FOUND for an unknown account. */
static cash_result bank_change_begin(struct db_tx *tx, struct bank_context *context,
                                     const char *account_id)
{
    if (context->factor != NULL) {
        cash_result result = factor_spend(tx, context->factor, &context->confirmed_ms);
        if (result != CASH_OK) {
            return result;
        }
    }
    return account_lock(tx, account_id, NULL, NULL);
}

static cash_result bank_set_body(struct db_tx *tx, void *context_pointer)
{
    struct bank_context *context = context_pointer;
    const struct bank_account *bank = context->bank;
    cash_result result = bank_change_begin(tx, context, bank->account_id);
    if (result != CASH_OK) {
        return result;
    }
    struct db_stmt *stmt = db_statement(tx, SQL_BANK_UPSERT);
    db_bind_text(stmt, bank->account_id);
    db_bind_text(stmt, bank->bank_code);
    db_bind_text(stmt, bank->sealed_number);
    db_bind_text(stmt, bank->masked_number);
    db_bind_text(stmt, bank->holder_name);
    db_bind_int64(stmt, bank->created_ms);
    db_bind_int64(stmt, bank->updated_ms);
    db_bind_bool(stmt, context->factor == NULL); /* operator_verified */
    result = db_exec(stmt, NULL);
    if (result != CASH_OK) {
        return result;
    }
    return bank_read(tx, bank->account_id, &context->out);
}

/* Registers or replaces the bank account (store.h), spending factor (when given) in the same
 * transaction: CASH_SECOND_FACTOR_REQUIRED, then CASH_NOT_FOUND for an unknown account. The row
 * given to request->render is the bank account as stored. */
cash_result store_bank_account_set(struct store *store, const struct bank_account *bank,
                                   struct second_factor *factor, struct store_request *request)
{
    if (!store_request_valid(request)) {
        return CASH_VALIDATION_ERROR;
    }
    if (bank->sealed_number[0] == '\0' || bank->masked_number[0] == '\0' ||
        bank->bank_code[0] == '\0' || bank->holder_name[0] == '\0') {
        return CASH_VALIDATION_ERROR;
    }
    struct bank_context context = {.bank = bank, .factor = factor};
    cash_result result = request_run(store, request, bank_set_body, &context, NULL, &context.out);
    if (request_fresh(request, result) && factor != NULL) {
        factor->confirmed_ms = context.confirmed_ms; /* a replay spent nothing */
    }
    return result;
}

/* The registered bank account (store.h); CASH_NOT_FOUND if none. */
cash_result store_bank_account_get(struct store *store, const char *account_id,
                                   struct bank_account *out)
{
    return db_get(store, SQL_BANK_GET, account_id, bank_row_read, out, sizeof(*out));
}

static cash_result bank_delete_body(struct db_tx *tx, void *context_pointer)
{
    struct bank_context *context = context_pointer;
    cash_result result = bank_change_begin(tx, context, context->account_id);
    if (result != CASH_OK) {
        return result; /* CASH_NOT_FOUND for no account: nothing registered either */
    }
    struct db_stmt *stmt = db_statement(tx, SQL_BANK_DELETE);
    db_bind_text(stmt, context->account_id);
    return db_exec_one(stmt, CASH_NOT_FOUND); /* none: rolls back, the factor is not spent */
}

/* Removes the bank account (store.h): CASH_SECOND_FACTOR_REQUIRED, then CASH_NOT_FOUND when none
 * is registered; either way nothing is written and the factor is not spent. */
cash_result store_bank_account_delete(struct store *store, const char *account_id,
                                      struct second_factor *factor, struct store_request *request)
{
    if (!store_request_valid(request)) {
        return CASH_VALIDATION_ERROR;
    }
    struct bank_context context = {.account_id = account_id, .factor = factor};
    cash_result result = request_run(store, request, bank_delete_body, &context, NULL, NULL);
    if (request_fresh(request, result) && factor != NULL) {
        factor->confirmed_ms = context.confirmed_ms; /* a replay spent nothing */
    }
    return result;
}
