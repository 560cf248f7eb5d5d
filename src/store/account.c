/*
 * account.c - accounts, members and API keys (SPEC 1, 6), written once over the driver seam.
 */
#include <string.h>

#include "domain/names.h"
#include "store/store_internal.h"

/* ---- accounts ---- */
struct account_context {
    const char *account_id;
    const struct account *account;
    const struct account_update *update;
};

static cash_result account_insert(struct db_tx *tx, void *context_pointer)
{
    const struct account *account = ((struct account_context *)context_pointer)->account;
    struct db_stmt *stmt = db_statement(tx, SQL_ACCOUNT_INSERT);
    db_bind_text(stmt, account->account_id);
    db_bind_text(stmt, account_status_name(account->status));
    db_bind_text(stmt, account_verified_name(account->verified));
    db_bind_bool(stmt, account->auto_recharge);
    db_bind_int64(stmt, account->minimum_cash_won);
    db_bind_int64(stmt, account->recharge_to_won);
    db_bind_int64(stmt, account->recharge_try_count);
    db_bind_int64(stmt, account->created_ms);
    db_bind_int64(stmt, account->updated_ms);
    return db_exec(stmt, NULL);
}

/* Creates an account (store.h). SPEC 3: every balance change has a ledger entry, so an account
 * starts with balance and point 0 (anything else is CASH_VALIDATION_ERROR); money arrives by
 * store_balance_credit. CASH_CONFLICT if the id exists. */
cash_result store_account_create(struct store *store, const struct account *account)
{
    if (account->balance_won != 0 || account->point_won != 0) {
        return CASH_VALIDATION_ERROR;
    }
    if (account->minimum_cash_won < 0 || account->recharge_to_won < 0 ||
        account->recharge_try_count < 0) {
        return CASH_VALIDATION_ERROR;
    }
    struct account_context context = {.account = account};
    return db_run(store, DB_WRITE_ONE, account_insert, &context);
}

static cash_result account_row_read(struct db_stmt *stmt, void *out_pointer)
{
    struct account *out = out_pointer;
    struct db_row row;
    db_row_start_clear(&row, stmt, out, sizeof(*out));
    db_row_text(&row, out->account_id, sizeof(out->account_id));
    db_row_account_status(&row, &out->status);
    db_row_account_verified(&row, &out->verified);
    out->balance_won = db_row_int64(&row);
    out->point_won = db_row_int64(&row);
    out->auto_recharge = db_row_bool(&row);
    out->minimum_cash_won = db_row_int64(&row);
    out->recharge_to_won = db_row_int64(&row);
    out->recharge_try_count = db_row_int64(&row);
    out->created_ms = db_row_int64(&row);
    out->updated_ms = db_row_int64(&row);
    if (out->balance_won < 0 || out->point_won < 0) {
        row.ok = false;
    }
    return db_row_check(&row, "account get");
}

/* Reads one account (store.h); CASH_NOT_FOUND if there is none. */
cash_result store_account_get(struct store *store, const char *account_id, struct account *out)
{
    return db_get(store, SQL_ACCOUNT_GET, account_id, account_row_read, out, sizeof(*out));
}

static cash_result account_update_body(struct db_tx *tx, void *context_pointer)
{
    struct account_context *context = context_pointer;
    const struct account_update *update = context->update;
    struct db_stmt *stmt = db_statement(tx, SQL_ACCOUNT_UPDATE);
    /* NULL: the UPDATE's COALESCE keeps the column. */
    db_bind_text(stmt, update->has_status ? account_status_name(update->status) : NULL);
    db_bind_text(stmt, update->has_verified ? account_verified_name(update->verified) : NULL);
    if (update->has_auto_recharge) {
        db_bind_bool(stmt, update->auto_recharge);
    } else {
        db_bind_text(stmt, NULL);
    }
    db_bind_int64(stmt, update->now_ms);
    db_bind_text(stmt, context->account_id);
    return db_exec_one(stmt, CASH_NOT_FOUND);
}

/* Changes the flagged fields of an account (store.h); CASH_NOT_FOUND if there is none. */
cash_result store_account_update(struct store *store, const char *account_id,
                                 const struct account_update *update)
{
    struct account_context context = {.account_id = account_id, .update = update};
    return db_run(store, DB_WRITE_ONE, account_update_body, &context);
}

cash_result account_lock(struct db_tx *tx, const char *account_id, int64_t *balance_out,
                         int64_t *point_out)
{
    struct db_stmt *stmt = NULL;
    cash_result result = db_step_key(tx, SQL_ACCOUNT_LOCK, account_id, &stmt);
    if (result != CASH_OK) {
        return result;
    }
    struct db_row row;
    db_row_start(&row, stmt);
    int64_t balance = db_row_int64(&row);
    int64_t point = db_row_int64(&row);
    if (balance < 0 || point < 0) {
        row.ok = false;
    }
    result = db_row_check(&row, "account lock");
    if (result == CASH_OK && balance_out != NULL) {
        *balance_out = balance;
        *point_out = point;
    }
    return result;
}

/* ---- members ---- */
struct member_context {
    const char *member_id;
    const struct member *member;
    const struct member_update *update;
};

static cash_result member_insert(struct db_tx *tx, void *context_pointer)
{
    const struct member *member = ((struct member_context *)context_pointer)->member;
    cash_result result = db_step_key(tx, SQL_ACCOUNT_EXISTS, member->account_id, NULL);
    if (result != CASH_OK) {
        return result;
    }
    struct db_stmt *stmt = db_statement(tx, SQL_MEMBER_INSERT);
    db_bind_text(stmt, member->member_id);
    db_bind_text(stmt, member->account_id);
    db_bind_text(stmt, member->email);
    db_bind_text(stmt, member->phone);
    db_bind_text(stmt, member_role_name(member->role));
    db_bind_text(stmt, member_status_name(member->status));
    db_bind_int64(stmt, member->created_ms);
    return db_exec(stmt, NULL);
}

/* Creates a member (store.h): CASH_NOT_FOUND without its account, CASH_CONFLICT for a used id. */
cash_result store_member_create(struct store *store, const struct member *member)
{
    struct member_context context = {.member = member};
    return db_run(store, DB_WRITE, member_insert, &context);
}

static cash_result member_row_read(struct db_stmt *stmt, void *out_pointer)
{
    struct member *out = out_pointer;
    struct db_row row;
    db_row_start_clear(&row, stmt, out, sizeof(*out));
    db_row_text(&row, out->member_id, sizeof(out->member_id));
    db_row_text(&row, out->account_id, sizeof(out->account_id));
    db_row_text(&row, out->email, sizeof(out->email));
    db_row_text(&row, out->phone, sizeof(out->phone));
    db_row_member_role(&row, &out->role);
    db_row_member_status(&row, &out->status);
    out->created_ms = db_row_int64(&row);
    return db_row_check(&row, "member get");
}

/* Reads one member (store.h); CASH_NOT_FOUND if there is none. */
cash_result store_member_get(struct store *store, const char *member_id, struct member *out)
{
    return db_get(store, SQL_MEMBER_GET, member_id, member_row_read, out, sizeof(*out));
}

static cash_result member_update_body(struct db_tx *tx, void *context_pointer)
{
    struct member_context *context = context_pointer;
    const struct member_update *update = context->update;
    struct db_stmt *stmt = db_statement(tx, SQL_MEMBER_UPDATE);
    db_bind_text(stmt, update->has_role ? member_role_name(update->role) : NULL);
    db_bind_text(stmt, update->has_status ? member_status_name(update->status) : NULL);
    db_bind_text(stmt, context->member_id);
    return db_exec_one(stmt, CASH_NOT_FOUND);
}

/* Changes the flagged fields of a member (store.h); CASH_NOT_FOUND if there is none. */
cash_result store_member_update(struct store *store, const char *member_id,
                                const struct member_update *update)
{
    struct member_context context = {.member_id = member_id, .update = update};
    return db_run(store, DB_WRITE_ONE, member_update_body, &context);
}

/* ---- API keys ---- */
struct api_key_context {
    const char *api_key;
    const struct api_key *key;
    int64_t now_ms;
};

static cash_result api_key_insert(struct db_tx *tx, void *context_pointer)
{
    struct api_key_context *context = context_pointer;
    const struct api_key *key = context->key;
    cash_result result = db_step_key(tx, SQL_MEMBER_EXISTS, key->member_id, NULL);
    if (result != CASH_OK) {
        return result;
    }
    struct db_stmt *stmt = db_statement(tx, SQL_API_KEY_INSERT);
    db_bind_text(stmt, key->api_key);
    db_bind_text(stmt, key->sealed_secret);
    db_bind_text(stmt, key->member_id);
    db_bind_int64(stmt, key->scopes);
    db_bind_bool(stmt, key->revoked);
    db_bind_int64(stmt, context->now_ms);
    return db_exec(stmt, NULL);
}

/* Stores an API key of a member (store.h): CASH_NOT_FOUND without the member, CASH_CONFLICT for
 * a key that exists. The secret is stored sealed, as given. */
cash_result store_api_key_create(struct store *store, const struct api_key *key, int64_t now_ms)
{
    struct api_key_context context = {.key = key, .now_ms = now_ms};
    return db_run(store, DB_WRITE, api_key_insert, &context);
}

static cash_result api_key_row_read(struct db_stmt *stmt, void *out_pointer)
{
    struct api_key *out = out_pointer;
    struct db_row row;
    db_row_start_clear(&row, stmt, out, sizeof(*out));
    db_row_text(&row, out->api_key, sizeof(out->api_key));
    db_row_text(&row, out->sealed_secret, sizeof(out->sealed_secret));
    db_row_text(&row, out->member_id, sizeof(out->member_id));
    db_row_text(&row, out->account_id, sizeof(out->account_id));
    int64_t scopes = db_row_int64(&row);
    if (scopes < 0 || scopes > (int64_t)(SCOPE_CASH_READ | SCOPE_CASH_WRITE)) {
        row.ok = false;
    }
    out->scopes = (unsigned)scopes;
    out->revoked = db_row_bool(&row);
    db_row_member_role(&row, &out->role);
    db_row_member_status(&row, &out->member_status);
    db_row_account_status(&row, &out->account_status);
    db_row_account_verified(&row, &out->account_verified);
    db_row_text(&row, out->member_email, sizeof(out->member_email));
    db_row_text(&row, out->member_phone, sizeof(out->member_phone));
    return db_row_check(&row, "api key get");
}

/* Reads an API key with its member and account (store.h); revoked keys are returned, flagged. */
cash_result store_api_key_get(struct store *store, const char *api_key, struct api_key *out)
{
    return db_get(store, SQL_API_KEY_GET, api_key, api_key_row_read, out, sizeof(*out));
}

static cash_result api_key_revoke_body(struct db_tx *tx, void *context_pointer)
{
    struct api_key_context *context = context_pointer;
    struct db_stmt *stmt = db_statement(tx, SQL_API_KEY_REVOKE);
    db_bind_text(stmt, context->api_key);
    return db_exec_one(stmt, CASH_NOT_FOUND);
}

/* Revokes an API key (store.h); revoking twice is CASH_OK; CASH_NOT_FOUND for an unknown key. */
cash_result store_api_key_revoke(struct store *store, const char *api_key)
{
    struct api_key_context context = {.api_key = api_key};
    return db_run(store, DB_WRITE_ONE, api_key_revoke_body, &context);
}
