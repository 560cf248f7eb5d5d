/*
 * sqlite_account.c - accounts, members, API keys and the replay cache of used signatures
 * (SPEC 1, 6) in the SQLite backend.
 */
#include <string.h>

#include "common/log.h"
#include "domain/names.h"
#include "store/sqlite_internal.h"

/* Prune expired signatures on the first call and then once every this many calls. */
#define REPLAY_PRUNE_EVERY_CALLS 1000

/* ---- accounts ---- */

static const char SQL_ACCOUNT_INSERT[] =
    "INSERT INTO accounts (account_id, status, verified, balance, point, auto_recharge,"
    " minimum_cash, recharge_to, recharge_try_count, created_ms, updated_ms)"
    " VALUES (?, ?, ?, 0, 0, ?, ?, ?, ?, ?, ?)";
static const char SQL_ACCOUNT_GET[] =
    "SELECT account_id, status, verified, balance, point, auto_recharge, minimum_cash,"
    " recharge_to, recharge_try_count, created_ms, updated_ms FROM accounts WHERE account_id = ?";
static const char SQL_ACCOUNT_UPDATE[] =
    "UPDATE accounts SET status = COALESCE(?, status), verified = COALESCE(?, verified),"
    " auto_recharge = COALESCE(?, auto_recharge), updated_ms = ? WHERE account_id = ?";
static const char SQL_ACCOUNT_EXISTS[] = "SELECT 1 FROM accounts WHERE account_id = ?";

struct account_context {
    const char *account_id;
    const struct account *account;
    const struct account_update *update;
    struct account out;
};

static cash_result account_insert(struct sqlite_conn *conn, void *context_pointer)
{
    const struct account *account = ((struct account_context *)context_pointer)->account;
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_ACCOUNT_INSERT);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, account->account_id);
    sqlite_bind_text(&binder, account_status_name(account->status));
    sqlite_bind_text(&binder, account_verified_name(account->verified));
    sqlite_bind_int64(&binder, account->auto_recharge ? 1 : 0);
    sqlite_bind_int64(&binder, account->minimum_cash_won);
    sqlite_bind_int64(&binder, account->recharge_to_won);
    sqlite_bind_int64(&binder, account->recharge_try_count);
    sqlite_bind_int64(&binder, account->created_ms);
    sqlite_bind_int64(&binder, account->updated_ms);
    cash_result result = sqlite_bind_check(conn, &binder, "account insert");
    if (result != CASH_OK) {
        return result;
    }
    return sqlite_step_done(conn, stmt, "account insert", NULL);
}

/*
 * Creates an account (store.h). SPEC 3: every balance change has a ledger entry, so an account
 * starts with balance and point 0 (anything else is CASH_VALIDATION_ERROR); money arrives by
 * store_balance_credit. CASH_CONFLICT if the id exists.
 */
cash_result sqlite_account_create(struct store *store, const struct account *account)
{
    if (account->balance_won != 0 || account->point_won != 0) {
        return CASH_VALIDATION_ERROR;
    }
    if (account->minimum_cash_won < 0 || account->recharge_to_won < 0 ||
        account->recharge_try_count < 0) {
        return CASH_VALIDATION_ERROR;
    }
    struct account_context context = {.account = account};
    return sqlite_write_run(sqlite_store_of(store), account_insert, &context);
}

static cash_result account_read(struct sqlite_conn *conn, const char *account_id,
                                struct account *out)
{
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_ACCOUNT_GET);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, account_id);
    cash_result result = sqlite_bind_check(conn, &binder, "account get");
    if (result == CASH_OK) {
        result = sqlite_step_row(conn, stmt, "account get");
    }
    if (result != CASH_OK) {
        return result;
    }
    struct sqlite_row row;
    memset(out, 0, sizeof(*out)); /* no stale bytes after the strings */
    sqlite_row_start(&row, stmt);
    sqlite_row_text(&row, out->account_id, sizeof(out->account_id));
    sqlite_row_account_status(&row, &out->status);
    sqlite_row_account_verified(&row, &out->verified);
    out->balance_won = sqlite_row_int64(&row);
    out->point_won = sqlite_row_int64(&row);
    out->auto_recharge = sqlite_row_bool(&row);
    out->minimum_cash_won = sqlite_row_int64(&row);
    out->recharge_to_won = sqlite_row_int64(&row);
    out->recharge_try_count = sqlite_row_int64(&row);
    out->created_ms = sqlite_row_int64(&row);
    out->updated_ms = sqlite_row_int64(&row);
    if (out->balance_won < 0 || out->point_won < 0) {
        row.ok = false;
    }
    return sqlite_row_check(&row, "account get");
}

static cash_result account_get_body(struct sqlite_conn *conn, void *context_pointer)
{
    struct account_context *context = context_pointer;
    return account_read(conn, context->account_id, &context->out);
}

/* Reads one account (store.h); CASH_NOT_FOUND if there is none. */
cash_result sqlite_account_get(struct store *store, const char *account_id, struct account *out)
{
    struct account_context context = {.account_id = account_id};
    cash_result result = sqlite_read_run(sqlite_store_of(store), account_get_body, &context, false);
    if (result == CASH_OK) {
        *out = context.out;
    }
    return result;
}

static cash_result account_update_body(struct sqlite_conn *conn, void *context_pointer)
{
    struct account_context *context = context_pointer;
    const struct account_update *update = context->update;
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_ACCOUNT_UPDATE);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    if (update->has_status) {
        sqlite_bind_text(&binder, account_status_name(update->status));
    } else {
        sqlite_bind_null(&binder);
    }
    if (update->has_verified) {
        sqlite_bind_text(&binder, account_verified_name(update->verified));
    } else {
        sqlite_bind_null(&binder);
    }
    if (update->has_auto_recharge) {
        sqlite_bind_int64(&binder, update->auto_recharge ? 1 : 0);
    } else {
        sqlite_bind_null(&binder);
    }
    sqlite_bind_int64(&binder, update->now_ms);
    sqlite_bind_text(&binder, context->account_id);
    cash_result result = sqlite_bind_check(conn, &binder, "account update");
    int64_t changes = 0;
    if (result == CASH_OK) {
        result = sqlite_step_done(conn, stmt, "account update", &changes);
    }
    if (result == CASH_OK && changes == 0) {
        result = CASH_NOT_FOUND;
    }
    return result;
}

/* Changes the flagged fields of an account (store.h); CASH_NOT_FOUND if there is none. */
cash_result sqlite_account_update(struct store *store, const char *account_id,
                                  const struct account_update *update)
{
    struct account_context context = {.account_id = account_id, .update = update};
    return sqlite_write_run(sqlite_store_of(store), account_update_body, &context);
}

/* ---- members ---- */

static const char SQL_MEMBER_INSERT[] =
    "INSERT INTO members (member_id, account_id, email, phone, role, status, created_ms)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)";
static const char SQL_MEMBER_GET[] = "SELECT member_id, account_id, email, phone, role, status,"
                                     " created_ms FROM members WHERE member_id = ?";
static const char SQL_MEMBER_UPDATE[] = "UPDATE members SET role = COALESCE(?, role),"
                                        " status = COALESCE(?, status) WHERE member_id = ?";
static const char SQL_MEMBER_EXISTS[] = "SELECT 1 FROM members WHERE member_id = ?";

struct member_context {
    const char *member_id;
    const struct member *member;
    const struct member_update *update;
    struct member out;
};

/* CASH_OK if a row with the id exists, CASH_NOT_FOUND if not. */
static cash_result row_exists(struct sqlite_conn *conn, const char *sql, const char *id,
                              const char *what)
{
    sqlite3_stmt *stmt = sqlite_stmt(conn, sql);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, id);
    cash_result result = sqlite_bind_check(conn, &binder, what);
    if (result != CASH_OK) {
        return result;
    }
    return sqlite_step_row(conn, stmt, what);
}

static cash_result member_insert(struct sqlite_conn *conn, void *context_pointer)
{
    const struct member *member = ((struct member_context *)context_pointer)->member;
    cash_result result = row_exists(conn, SQL_ACCOUNT_EXISTS, member->account_id, "member account");
    if (result != CASH_OK) {
        return result;
    }
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_MEMBER_INSERT);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, member->member_id);
    sqlite_bind_text(&binder, member->account_id);
    sqlite_bind_text(&binder, member->email);
    sqlite_bind_text(&binder, member->phone);
    sqlite_bind_text(&binder, member_role_name(member->role));
    sqlite_bind_text(&binder, member_status_name(member->status));
    sqlite_bind_int64(&binder, member->created_ms);
    result = sqlite_bind_check(conn, &binder, "member insert");
    if (result != CASH_OK) {
        return result;
    }
    return sqlite_step_done(conn, stmt, "member insert", NULL);
}

/* Creates a member (store.h): CASH_NOT_FOUND without its account, CASH_CONFLICT for a used id. */
cash_result sqlite_member_create(struct store *store, const struct member *member)
{
    struct member_context context = {.member = member};
    return sqlite_write_run(sqlite_store_of(store), member_insert, &context);
}

static cash_result member_get_body(struct sqlite_conn *conn, void *context_pointer)
{
    struct member_context *context = context_pointer;
    struct member *out = &context->out;
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_MEMBER_GET);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, context->member_id);
    cash_result result = sqlite_bind_check(conn, &binder, "member get");
    if (result == CASH_OK) {
        result = sqlite_step_row(conn, stmt, "member get");
    }
    if (result != CASH_OK) {
        return result;
    }
    struct sqlite_row row;
    memset(out, 0, sizeof(*out)); /* no stale bytes after the strings */
    sqlite_row_start(&row, stmt);
    sqlite_row_text(&row, out->member_id, sizeof(out->member_id));
    sqlite_row_text(&row, out->account_id, sizeof(out->account_id));
    sqlite_row_text(&row, out->email, sizeof(out->email));
    sqlite_row_text(&row, out->phone, sizeof(out->phone));
    sqlite_row_member_role(&row, &out->role);
    sqlite_row_member_status(&row, &out->status);
    out->created_ms = sqlite_row_int64(&row);
    return sqlite_row_check(&row, "member get");
}

/* Reads one member (store.h); CASH_NOT_FOUND if there is none. */
cash_result sqlite_member_get(struct store *store, const char *member_id, struct member *out)
{
    struct member_context context = {.member_id = member_id};
    cash_result result = sqlite_read_run(sqlite_store_of(store), member_get_body, &context, false);
    if (result == CASH_OK) {
        *out = context.out;
    }
    return result;
}

static cash_result member_update_body(struct sqlite_conn *conn, void *context_pointer)
{
    struct member_context *context = context_pointer;
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_MEMBER_UPDATE);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    if (context->update->has_role) {
        sqlite_bind_text(&binder, member_role_name(context->update->role));
    } else {
        sqlite_bind_null(&binder);
    }
    if (context->update->has_status) {
        sqlite_bind_text(&binder, member_status_name(context->update->status));
    } else {
        sqlite_bind_null(&binder);
    }
    sqlite_bind_text(&binder, context->member_id);
    cash_result result = sqlite_bind_check(conn, &binder, "member update");
    int64_t changes = 0;
    if (result == CASH_OK) {
        result = sqlite_step_done(conn, stmt, "member update", &changes);
    }
    if (result == CASH_OK && changes == 0) {
        result = CASH_NOT_FOUND;
    }
    return result;
}

/* Changes the flagged fields of a member (store.h); CASH_NOT_FOUND if there is none. */
cash_result sqlite_member_update(struct store *store, const char *member_id,
                                 const struct member_update *update)
{
    struct member_context context = {.member_id = member_id, .update = update};
    return sqlite_write_run(sqlite_store_of(store), member_update_body, &context);
}

/* ---- API keys ---- */

static const char SQL_API_KEY_INSERT[] =
    "INSERT INTO api_keys (api_key, sealed_secret, member_id, scopes, revoked, created_ms)"
    " VALUES (?, ?, ?, ?, ?, ?)";
static const char SQL_API_KEY_GET[] =
    "SELECT k.api_key, k.sealed_secret, k.member_id, m.account_id, k.scopes, k.revoked,"
    " m.role, m.status, a.status, a.verified, m.email, m.phone"
    " FROM api_keys k JOIN members m ON m.member_id = k.member_id"
    " JOIN accounts a ON a.account_id = m.account_id WHERE k.api_key = ?";
static const char SQL_API_KEY_REVOKE[] = "UPDATE api_keys SET revoked = 1 WHERE api_key = ?";

struct api_key_context {
    const char *api_key;
    const struct api_key *key;
    int64_t now_ms;
    struct api_key out;
};

static cash_result api_key_insert(struct sqlite_conn *conn, void *context_pointer)
{
    struct api_key_context *context = context_pointer;
    const struct api_key *key = context->key;
    cash_result result = row_exists(conn, SQL_MEMBER_EXISTS, key->member_id, "api key member");
    if (result != CASH_OK) {
        return result;
    }
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_API_KEY_INSERT);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, key->api_key);
    sqlite_bind_text(&binder, key->sealed_secret);
    sqlite_bind_text(&binder, key->member_id);
    sqlite_bind_int64(&binder, key->scopes);
    sqlite_bind_int64(&binder, key->revoked ? 1 : 0);
    sqlite_bind_int64(&binder, context->now_ms);
    result = sqlite_bind_check(conn, &binder, "api key insert");
    if (result != CASH_OK) {
        return result;
    }
    return sqlite_step_done(conn, stmt, "api key insert", NULL);
}

/*
 * Stores an API key of a member (store.h): CASH_NOT_FOUND without the member, CASH_CONFLICT for
 * a key that exists. The secret is stored sealed, as given.
 */
cash_result sqlite_api_key_create(struct store *store, const struct api_key *key, int64_t now_ms)
{
    struct api_key_context context = {.key = key, .now_ms = now_ms};
    return sqlite_write_run(sqlite_store_of(store), api_key_insert, &context);
}

static cash_result api_key_get_body(struct sqlite_conn *conn, void *context_pointer)
{
    struct api_key_context *context = context_pointer;
    struct api_key *out = &context->out;
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_API_KEY_GET);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, context->api_key);
    cash_result result = sqlite_bind_check(conn, &binder, "api key get");
    if (result == CASH_OK) {
        result = sqlite_step_row(conn, stmt, "api key get");
    }
    if (result != CASH_OK) {
        return result;
    }
    struct sqlite_row row;
    memset(out, 0, sizeof(*out)); /* no stale bytes after the strings */
    sqlite_row_start(&row, stmt);
    sqlite_row_text(&row, out->api_key, sizeof(out->api_key));
    sqlite_row_text(&row, out->sealed_secret, sizeof(out->sealed_secret));
    sqlite_row_text(&row, out->member_id, sizeof(out->member_id));
    sqlite_row_text(&row, out->account_id, sizeof(out->account_id));
    int64_t scopes = sqlite_row_int64(&row);
    if (scopes < 0 || scopes > (int64_t)(SCOPE_CASH_READ | SCOPE_CASH_WRITE)) {
        row.ok = false;
    }
    out->scopes = (unsigned)scopes;
    out->revoked = sqlite_row_bool(&row);
    sqlite_row_member_role(&row, &out->role);
    sqlite_row_member_status(&row, &out->member_status);
    sqlite_row_account_status(&row, &out->account_status);
    sqlite_row_account_verified(&row, &out->account_verified);
    sqlite_row_text(&row, out->member_email, sizeof(out->member_email));
    sqlite_row_text(&row, out->member_phone, sizeof(out->member_phone));
    return sqlite_row_check(&row, "api key get");
}

/* Reads an API key with its member and account (store.h); revoked keys are returned, flagged. */
cash_result sqlite_api_key_get(struct store *store, const char *api_key, struct api_key *out)
{
    struct api_key_context context = {.api_key = api_key};
    cash_result result = sqlite_read_run(sqlite_store_of(store), api_key_get_body, &context, false);
    if (result == CASH_OK) {
        *out = context.out;
    }
    return result;
}

static cash_result api_key_revoke_body(struct sqlite_conn *conn, void *context_pointer)
{
    struct api_key_context *context = context_pointer;
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_API_KEY_REVOKE);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, context->api_key);
    cash_result result = sqlite_bind_check(conn, &binder, "api key revoke");
    int64_t changes = 0;
    if (result == CASH_OK) {
        result = sqlite_step_done(conn, stmt, "api key revoke", &changes);
    }
    if (result == CASH_OK && changes == 0) {
        result = CASH_NOT_FOUND;
    }
    return result;
}

/* Revokes an API key (store.h); revoking twice is CASH_OK; CASH_NOT_FOUND for an unknown key. */
cash_result sqlite_api_key_revoke(struct store *store, const char *api_key)
{
    struct api_key_context context = {.api_key = api_key};
    return sqlite_write_run(sqlite_store_of(store), api_key_revoke_body, &context);
}

/* ---- used signatures (SPEC 1) ---- */

/* An expired row for the same key and signature is taken over; a live one is left alone. */
static const char SQL_REPLAY_INSERT[] =
    "INSERT INTO used_signatures (api_key, signature, expires_ms) VALUES (?, ?, ?)"
    " ON CONFLICT (api_key, signature) DO UPDATE SET expires_ms = excluded.expires_ms"
    " WHERE used_signatures.expires_ms <= ?";
static const char SQL_REPLAY_PRUNE[] = "DELETE FROM used_signatures WHERE expires_ms <= ?";
static const char SQL_KEY_PRUNE[] = "DELETE FROM idempotency_keys WHERE expires_ms <= ?";

struct replay_context {
    const char *api_key;
    const char *signature_hex;
    int64_t now_ms;
    int64_t expires_ms;
    bool prune;
};

/* Drops expired signatures and idempotency keys (store_request.h). */
static cash_result replay_prune(struct sqlite_conn *conn, int64_t now_ms)
{
    static const char *const statements[] = {SQL_REPLAY_PRUNE, SQL_KEY_PRUNE};
    for (size_t i = 0; i < sizeof(statements) / sizeof(statements[0]); i++) {
        sqlite3_stmt *stmt = sqlite_stmt(conn, statements[i]);
        if (stmt == NULL) {
            return CASH_INTERNAL_ERROR;
        }
        struct sqlite_binder binder;
        sqlite_bind_start(&binder, stmt);
        sqlite_bind_int64(&binder, now_ms);
        cash_result result = sqlite_bind_check(conn, &binder, "replay prune");
        int64_t pruned = 0;
        if (result == CASH_OK) {
            result = sqlite_step_done(conn, stmt, "replay prune", &pruned);
        }
        if (result != CASH_OK) {
            return result;
        }
        if (pruned > 0) {
            log_debug("store: pruned %lld expired rows (%s)", (long long)pruned,
                      i == 0 ? "signatures" : "idempotency keys");
        }
    }
    return CASH_OK;
}

cash_result sqlite_replay_insert(struct sqlite_conn *conn, const char *api_key,
                                 const char *signature_hex, int64_t now_ms, int64_t expires_ms)
{
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_REPLAY_INSERT);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, api_key);
    sqlite_bind_text(&binder, signature_hex);
    sqlite_bind_int64(&binder, expires_ms);
    sqlite_bind_int64(&binder, now_ms);
    cash_result result = sqlite_bind_check(conn, &binder, "replay insert");
    int64_t changes = 0;
    if (result == CASH_OK) {
        result = sqlite_step_done(conn, stmt, "replay insert", &changes);
    }
    if (result == CASH_OK && changes == 0) {
        result = CASH_DUPLICATED_SIGNATURE;
    }
    return result;
}

static cash_result replay_body(struct sqlite_conn *conn, void *context_pointer)
{
    struct replay_context *context = context_pointer;
    cash_result result = sqlite_replay_insert(conn, context->api_key, context->signature_hex,
                                              context->now_ms, context->expires_ms);
    if (result == CASH_OK && context->prune) {
        result = replay_prune(conn, context->now_ms);
    }
    return result;
}

/* Remembers a used signature until expires_ms (store.h); CASH_DUPLICATED_SIGNATURE if live. */
cash_result sqlite_replay_remember(struct store *base, const char *api_key,
                                   const char *signature_hex, int64_t now_ms, int64_t expires_ms)
{
    if (strlen(api_key) > AUTH_API_KEY_LENGTH || strlen(signature_hex) > AUTH_SIGNATURE_HEX_MAX ||
        expires_ms <= now_ms) {
        return CASH_VALIDATION_ERROR;
    }
    struct sqlite_store *store = sqlite_store_of(base);
    struct replay_context context = {
        .api_key = api_key,
        .signature_hex = signature_hex,
        .now_ms = now_ms,
        .expires_ms = expires_ms,
    };
    context.prune = atomic_fetch_add(&store->replay_calls, 1) % REPLAY_PRUNE_EVERY_CALLS == 0;
    return sqlite_write_run(store, replay_body, &context);
}
