/*
 * pg_account.c - accounts, members, API keys and the replay cache of used signatures (SPEC 1, 6)
 * in the PostgreSQL backend. The replay cache is one INSERT ... ON CONFLICT: of two processes
 * remembering the same signature at once, the second waits for the first and then finds it.
 */
#include <string.h>

#include "common/log.h"
#include "domain/names.h"
#include "store/pg_internal.h"

/* Prune expired signatures on a process's first call and then once every this many calls. */
#define REPLAY_PRUNE_EVERY_CALLS 1000

/* Runs a static statement with params and only cares whether it worked; *changes_out rows. */
cash_result pg_exec_changes(struct pg_conn *conn, const char *sql, const struct pg_params *params,
                            const char *what, int64_t *changes_out)
{
    cash_result result = CASH_OK;
    PGresult *res = pg_exec(conn, sql, params, what, &result);
    if (res == NULL) {
        return result;
    }
    if (changes_out != NULL) {
        *changes_out = pg_changes(res);
    }
    PQclear(res);
    return CASH_OK;
}

/* CASH_OK if the statement (one id parameter) finds a row, CASH_NOT_FOUND if not. */
static cash_result pg_row_exists(struct pg_conn *conn, const char *sql, const char *id,
                                 const char *what)
{
    struct pg_params params;
    pg_params_start(&params);
    pg_param_text(&params, id);
    cash_result result = CASH_OK;
    PGresult *res = pg_exec(conn, sql, &params, what, &result);
    if (res == NULL) {
        return result;
    }
    result = PQntuples(res) > 0 ? CASH_OK : CASH_NOT_FOUND;
    PQclear(res);
    return result;
}

/* ---- accounts ---- */

static const char SQL_ACCOUNT_INSERT[] =
    "INSERT INTO accounts (account_id, status, verified, balance, point, auto_recharge,"
    " minimum_cash, recharge_to, recharge_try_count, created_ms, updated_ms)"
    " VALUES ($1, $2, $3, 0, 0, $4, $5, $6, $7, $8, $9)";
static const char SQL_ACCOUNT_GET[] =
    "SELECT account_id, status, verified, balance, point, auto_recharge, minimum_cash,"
    " recharge_to, recharge_try_count, created_ms, updated_ms FROM accounts WHERE account_id = $1";
static const char SQL_ACCOUNT_UPDATE[] =
    "UPDATE accounts SET status = COALESCE($1, status), verified = COALESCE($2, verified),"
    " auto_recharge = COALESCE($3::integer, auto_recharge), updated_ms = $4"
    " WHERE account_id = $5";
static const char SQL_ACCOUNT_EXISTS[] = "SELECT 1 FROM accounts WHERE account_id = $1";

struct account_context {
    const char *account_id;
    const struct account *account;
    const struct account_update *update;
    struct account out;
};

static cash_result account_insert(struct pg_conn *conn, void *context_pointer)
{
    const struct account *account = ((struct account_context *)context_pointer)->account;
    struct pg_params params;
    pg_params_start(&params);
    pg_param_text(&params, account->account_id);
    pg_param_text(&params, account_status_name(account->status));
    pg_param_text(&params, account_verified_name(account->verified));
    pg_param_int64(&params, account->auto_recharge ? 1 : 0);
    pg_param_int64(&params, account->minimum_cash_won);
    pg_param_int64(&params, account->recharge_to_won);
    pg_param_int64(&params, account->recharge_try_count);
    pg_param_int64(&params, account->created_ms);
    pg_param_int64(&params, account->updated_ms);
    return pg_exec_changes(conn, SQL_ACCOUNT_INSERT, &params, "account insert", NULL);
}

/* Creates an account with balance and point 0 (as sqlite_account_create). */
cash_result pg_account_create(struct store *store, const struct account *account)
{
    if (account->balance_won != 0 || account->point_won != 0) {
        return CASH_VALIDATION_ERROR;
    }
    if (account->minimum_cash_won < 0 || account->recharge_to_won < 0 ||
        account->recharge_try_count < 0) {
        return CASH_VALIDATION_ERROR;
    }
    struct account_context context = {.account = account};
    return pg_run(pg_store_of(store), PG_WRITE_ONE, account_insert, &context);
}

static void account_row_read(const PGresult *res, struct account *out, struct pg_row *row)
{
    memset(out, 0, sizeof(*out)); /* no stale bytes after the strings */
    pg_row_start(row, res, 0);
    pg_row_text(row, out->account_id, sizeof(out->account_id));
    pg_row_account_status(row, &out->status);
    pg_row_account_verified(row, &out->verified);
    out->balance_won = pg_row_int64(row);
    out->point_won = pg_row_int64(row);
    out->auto_recharge = pg_row_bool(row);
    out->minimum_cash_won = pg_row_int64(row);
    out->recharge_to_won = pg_row_int64(row);
    out->recharge_try_count = pg_row_int64(row);
    out->created_ms = pg_row_int64(row);
    out->updated_ms = pg_row_int64(row);
    if (out->balance_won < 0 || out->point_won < 0) {
        row->ok = false;
    }
}

static cash_result account_get_body(struct pg_conn *conn, void *context_pointer)
{
    struct account_context *context = context_pointer;
    struct pg_params params;
    pg_params_start(&params);
    pg_param_text(&params, context->account_id);
    cash_result result = CASH_OK;
    PGresult *res = pg_exec(conn, SQL_ACCOUNT_GET, &params, "account get", &result);
    if (res == NULL) {
        return result;
    }
    if (PQntuples(res) == 0) {
        result = CASH_NOT_FOUND;
    } else {
        struct pg_row row;
        account_row_read(res, &context->out, &row);
        result = pg_row_check(&row, "account get");
    }
    PQclear(res);
    return result;
}

/* Reads one account; CASH_NOT_FOUND if there is none. */
cash_result pg_account_get(struct store *store, const char *account_id, struct account *out)
{
    struct account_context context = {.account_id = account_id};
    cash_result result = pg_run(pg_store_of(store), PG_READ, account_get_body, &context);
    if (result == CASH_OK) {
        *out = context.out;
    }
    return result;
}

static cash_result account_update_body(struct pg_conn *conn, void *context_pointer)
{
    struct account_context *context = context_pointer;
    const struct account_update *update = context->update;
    struct pg_params params;
    pg_params_start(&params);
    if (update->has_status) {
        pg_param_text(&params, account_status_name(update->status));
    } else {
        pg_param_null(&params);
    }
    if (update->has_verified) {
        pg_param_text(&params, account_verified_name(update->verified));
    } else {
        pg_param_null(&params);
    }
    if (update->has_auto_recharge) {
        pg_param_int64(&params, update->auto_recharge ? 1 : 0);
    } else {
        pg_param_null(&params);
    }
    pg_param_int64(&params, update->now_ms);
    pg_param_text(&params, context->account_id);
    int64_t changes = 0;
    cash_result result =
        pg_exec_changes(conn, SQL_ACCOUNT_UPDATE, &params, "account update", &changes);
    if (result == CASH_OK && changes == 0) {
        result = CASH_NOT_FOUND;
    }
    return result;
}

/* Changes the flagged fields of an account; CASH_NOT_FOUND if there is none. */
cash_result pg_account_update(struct store *store, const char *account_id,
                              const struct account_update *update)
{
    struct account_context context = {.account_id = account_id, .update = update};
    return pg_run(pg_store_of(store), PG_WRITE_ONE, account_update_body, &context);
}

/* ---- members ---- */

static const char SQL_MEMBER_INSERT[] =
    "INSERT INTO members (member_id, account_id, email, phone, role, status, created_ms)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7)";
static const char SQL_MEMBER_GET[] = "SELECT member_id, account_id, email, phone, role, status,"
                                     " created_ms FROM members WHERE member_id = $1";
static const char SQL_MEMBER_UPDATE[] = "UPDATE members SET role = COALESCE($1, role),"
                                        " status = COALESCE($2, status) WHERE member_id = $3";
static const char SQL_MEMBER_EXISTS[] = "SELECT 1 FROM members WHERE member_id = $1";

struct member_context {
    const char *member_id;
    const struct member *member;
    const struct member_update *update;
    struct member out;
};

static cash_result member_insert(struct pg_conn *conn, void *context_pointer)
{
    const struct member *member = ((struct member_context *)context_pointer)->member;
    cash_result result =
        pg_row_exists(conn, SQL_ACCOUNT_EXISTS, member->account_id, "member account");
    if (result != CASH_OK) {
        return result;
    }
    struct pg_params params;
    pg_params_start(&params);
    pg_param_text(&params, member->member_id);
    pg_param_text(&params, member->account_id);
    pg_param_text(&params, member->email);
    pg_param_text(&params, member->phone);
    pg_param_text(&params, member_role_name(member->role));
    pg_param_text(&params, member_status_name(member->status));
    pg_param_int64(&params, member->created_ms);
    return pg_exec_changes(conn, SQL_MEMBER_INSERT, &params, "member insert", NULL);
}

/* Creates a member: CASH_NOT_FOUND without its account, CASH_CONFLICT for a used id. */
cash_result pg_member_create(struct store *store, const struct member *member)
{
    struct member_context context = {.member = member};
    return pg_run(pg_store_of(store), PG_WRITE, member_insert, &context);
}

static cash_result member_get_body(struct pg_conn *conn, void *context_pointer)
{
    struct member_context *context = context_pointer;
    struct member *out = &context->out;
    struct pg_params params;
    pg_params_start(&params);
    pg_param_text(&params, context->member_id);
    cash_result result = CASH_OK;
    PGresult *res = pg_exec(conn, SQL_MEMBER_GET, &params, "member get", &result);
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
    pg_row_text(&row, out->member_id, sizeof(out->member_id));
    pg_row_text(&row, out->account_id, sizeof(out->account_id));
    pg_row_text(&row, out->email, sizeof(out->email));
    pg_row_text(&row, out->phone, sizeof(out->phone));
    pg_row_member_role(&row, &out->role);
    pg_row_member_status(&row, &out->status);
    out->created_ms = pg_row_int64(&row);
    result = pg_row_check(&row, "member get");
    PQclear(res);
    return result;
}

/* Reads one member; CASH_NOT_FOUND if there is none. */
cash_result pg_member_get(struct store *store, const char *member_id, struct member *out)
{
    struct member_context context = {.member_id = member_id};
    cash_result result = pg_run(pg_store_of(store), PG_READ, member_get_body, &context);
    if (result == CASH_OK) {
        *out = context.out;
    }
    return result;
}

static cash_result member_update_body(struct pg_conn *conn, void *context_pointer)
{
    struct member_context *context = context_pointer;
    struct pg_params params;
    pg_params_start(&params);
    if (context->update->has_role) {
        pg_param_text(&params, member_role_name(context->update->role));
    } else {
        pg_param_null(&params);
    }
    if (context->update->has_status) {
        pg_param_text(&params, member_status_name(context->update->status));
    } else {
        pg_param_null(&params);
    }
    pg_param_text(&params, context->member_id);
    int64_t changes = 0;
    cash_result result =
        pg_exec_changes(conn, SQL_MEMBER_UPDATE, &params, "member update", &changes);
    if (result == CASH_OK && changes == 0) {
        result = CASH_NOT_FOUND;
    }
    return result;
}

/* Changes the flagged fields of a member; CASH_NOT_FOUND if there is none. */
cash_result pg_member_update(struct store *store, const char *member_id,
                             const struct member_update *update)
{
    struct member_context context = {.member_id = member_id, .update = update};
    return pg_run(pg_store_of(store), PG_WRITE_ONE, member_update_body, &context);
}

/* ---- API keys ---- */

static const char SQL_API_KEY_INSERT[] =
    "INSERT INTO api_keys (api_key, sealed_secret, member_id, scopes, revoked, created_ms)"
    " VALUES ($1, $2, $3, $4, $5, $6)";
static const char SQL_API_KEY_GET[] =
    "SELECT k.api_key, k.sealed_secret, k.member_id, m.account_id, k.scopes, k.revoked,"
    " m.role, m.status, a.status, a.verified, m.email, m.phone"
    " FROM api_keys k JOIN members m ON m.member_id = k.member_id"
    " JOIN accounts a ON a.account_id = m.account_id WHERE k.api_key = $1";
static const char SQL_API_KEY_REVOKE[] = "UPDATE api_keys SET revoked = 1 WHERE api_key = $1";

struct api_key_context {
    const char *api_key;
    const struct api_key *key;
    int64_t now_ms;
    struct api_key out;
};

static cash_result api_key_insert(struct pg_conn *conn, void *context_pointer)
{
    struct api_key_context *context = context_pointer;
    const struct api_key *key = context->key;
    cash_result result = pg_row_exists(conn, SQL_MEMBER_EXISTS, key->member_id, "api key member");
    if (result != CASH_OK) {
        return result;
    }
    struct pg_params params;
    pg_params_start(&params);
    pg_param_text(&params, key->api_key);
    pg_param_text(&params, key->sealed_secret);
    pg_param_text(&params, key->member_id);
    pg_param_int64(&params, key->scopes);
    pg_param_int64(&params, key->revoked ? 1 : 0);
    pg_param_int64(&params, context->now_ms);
    return pg_exec_changes(conn, SQL_API_KEY_INSERT, &params, "api key insert", NULL);
}

/* Stores an API key: CASH_NOT_FOUND without the member, CASH_CONFLICT for a key that exists. */
cash_result pg_api_key_create(struct store *store, const struct api_key *key, int64_t now_ms)
{
    struct api_key_context context = {.key = key, .now_ms = now_ms};
    return pg_run(pg_store_of(store), PG_WRITE, api_key_insert, &context);
}

static void api_key_row_read(const PGresult *res, struct api_key *out, struct pg_row *row)
{
    memset(out, 0, sizeof(*out)); /* no stale bytes after the strings */
    pg_row_start(row, res, 0);
    pg_row_text(row, out->api_key, sizeof(out->api_key));
    pg_row_text(row, out->sealed_secret, sizeof(out->sealed_secret));
    pg_row_text(row, out->member_id, sizeof(out->member_id));
    pg_row_text(row, out->account_id, sizeof(out->account_id));
    int64_t scopes = pg_row_int64(row);
    if (scopes < 0 || scopes > (int64_t)(SCOPE_CASH_READ | SCOPE_CASH_WRITE)) {
        row->ok = false;
    }
    out->scopes = (unsigned)scopes;
    out->revoked = pg_row_bool(row);
    pg_row_member_role(row, &out->role);
    pg_row_member_status(row, &out->member_status);
    pg_row_account_status(row, &out->account_status);
    pg_row_account_verified(row, &out->account_verified);
    pg_row_text(row, out->member_email, sizeof(out->member_email));
    pg_row_text(row, out->member_phone, sizeof(out->member_phone));
}

static cash_result api_key_get_body(struct pg_conn *conn, void *context_pointer)
{
    struct api_key_context *context = context_pointer;
    struct pg_params params;
    pg_params_start(&params);
    pg_param_text(&params, context->api_key);
    cash_result result = CASH_OK;
    PGresult *res = pg_exec(conn, SQL_API_KEY_GET, &params, "api key get", &result);
    if (res == NULL) {
        return result;
    }
    if (PQntuples(res) == 0) {
        result = CASH_NOT_FOUND;
    } else {
        struct pg_row row;
        api_key_row_read(res, &context->out, &row);
        result = pg_row_check(&row, "api key get");
    }
    PQclear(res);
    return result;
}

/* Reads an API key with its member and account; revoked keys are returned, flagged. */
cash_result pg_api_key_get(struct store *store, const char *api_key, struct api_key *out)
{
    struct api_key_context context = {.api_key = api_key};
    cash_result result = pg_run(pg_store_of(store), PG_READ, api_key_get_body, &context);
    if (result == CASH_OK) {
        *out = context.out;
    }
    return result;
}

static cash_result api_key_revoke_body(struct pg_conn *conn, void *context_pointer)
{
    struct api_key_context *context = context_pointer;
    struct pg_params params;
    pg_params_start(&params);
    pg_param_text(&params, context->api_key);
    int64_t changes = 0;
    cash_result result =
        pg_exec_changes(conn, SQL_API_KEY_REVOKE, &params, "api key revoke", &changes);
    if (result == CASH_OK && changes == 0) {
        result = CASH_NOT_FOUND;
    }
    return result;
}

/* Revokes an API key; revoking twice is CASH_OK; CASH_NOT_FOUND for an unknown key. */
cash_result pg_api_key_revoke(struct store *store, const char *api_key)
{
    struct api_key_context context = {.api_key = api_key};
    return pg_run(pg_store_of(store), PG_WRITE_ONE, api_key_revoke_body, &context);
}

/* ---- used signatures (SPEC 1) ---- */

/* An expired row for the same key and signature is taken over; a live one is left alone. */
static const char SQL_REPLAY_INSERT[] =
    "INSERT INTO used_signatures (api_key, signature, expires_ms) VALUES ($1, $2, $3)"
    " ON CONFLICT (api_key, signature) DO UPDATE SET expires_ms = excluded.expires_ms"
    " WHERE used_signatures.expires_ms <= $4";
static const char SQL_REPLAY_PRUNE[] = "DELETE FROM used_signatures WHERE expires_ms <= $1";
static const char SQL_KEY_PRUNE[] = "DELETE FROM idempotency_keys WHERE expires_ms <= $1";

struct replay_context {
    const char *api_key;
    const char *signature_hex;
    int64_t now_ms;
    int64_t expires_ms;
};

cash_result pg_replay_insert(struct pg_conn *conn, const char *api_key, const char *signature_hex,
                             int64_t now_ms, int64_t expires_ms)
{
    struct pg_params params;
    pg_params_start(&params);
    pg_param_text(&params, api_key);
    pg_param_text(&params, signature_hex);
    pg_param_int64(&params, expires_ms);
    pg_param_int64(&params, now_ms);
    int64_t changes = 0;
    cash_result result =
        pg_exec_changes(conn, SQL_REPLAY_INSERT, &params, "replay insert", &changes);
    if (result == CASH_OK && changes == 0) {
        result = CASH_DUPLICATED_SIGNATURE;
    }
    return result;
}

static cash_result replay_body(struct pg_conn *conn, void *context_pointer)
{
    struct replay_context *context = context_pointer;
    return pg_replay_insert(conn, context->api_key, context->signature_hex, context->now_ms,
                            context->expires_ms);
}

/* Drops expired signatures and idempotency keys, a statement each. */
static cash_result replay_prune_body(struct pg_conn *conn, void *context_pointer)
{
    struct replay_context *context = context_pointer;
    static const char *const statements[] = {SQL_REPLAY_PRUNE, SQL_KEY_PRUNE};
    for (size_t i = 0; i < sizeof(statements) / sizeof(statements[0]); i++) {
        struct pg_params params;
        pg_params_start(&params);
        pg_param_int64(&params, context->now_ms);
        int64_t pruned = 0;
        cash_result result = pg_exec_changes(conn, statements[i], &params, "replay prune", &pruned);
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

/*
 * Remembers a used signature until expires_ms; CASH_DUPLICATED_SIGNATURE if it is remembered
 * and live. One autocommitted statement: its own transaction, atomic across processes. The
 * prune runs after it in a statement of its own, so that a prune's failure never refuses a
 * request.
 */
cash_result pg_replay_remember(struct store *base, const char *api_key, const char *signature_hex,
                               int64_t now_ms, int64_t expires_ms)
{
    if (strlen(api_key) > AUTH_API_KEY_LENGTH || strlen(signature_hex) > AUTH_SIGNATURE_HEX_MAX ||
        expires_ms <= now_ms) {
        return CASH_VALIDATION_ERROR;
    }
    struct pg_store *store = pg_store_of(base);
    struct replay_context context = {
        .api_key = api_key,
        .signature_hex = signature_hex,
        .now_ms = now_ms,
        .expires_ms = expires_ms,
    };
    uint_fast64_t calls = atomic_fetch_add(&store->replay_calls, 1);
    cash_result result = pg_run(store, PG_WRITE_ONE, replay_body, &context);
    if (result == CASH_OK && calls % REPLAY_PRUNE_EVERY_CALLS == 0 &&
        pg_run(store, PG_WRITE_ONE, replay_prune_body, &context) != CASH_OK) {
        log_warn("store: pruning expired signatures failed; the next prune tries again");
    }
    return result;
}
