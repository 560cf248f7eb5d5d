/*
 * sqlite_request.c - a write request's replay row and idempotency key in the SQLite backend
 * (store.h: struct store_request). Writes are serialised by the database's one writer, so a second
 * request with a key always finds the first one's row once that committed.
 */
#include <string.h>

#include "store/sqlite_internal.h"
#include "store/store_request.h"

static const char SQL_KEY_GET[] =
    "SELECT fingerprint, answer_status, sealed_answer, expires_ms FROM idempotency_keys"
    " WHERE api_key = ? AND idempotency_key = ?";
static const char SQL_KEY_DELETE[] =
    "DELETE FROM idempotency_keys WHERE api_key = ? AND idempotency_key = ?";
static const char SQL_KEY_INSERT[] =
    "INSERT INTO idempotency_keys (api_key, idempotency_key, fingerprint, answer_status,"
    " sealed_answer, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (api_key, idempotency_key) DO NOTHING";

/* Runs one of the key statements that take (api_key, idempotency_key) and return no row. */
static cash_result key_delete(struct sqlite_conn *conn, const char *api_key,
                              const char *idempotency_key)
{
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_KEY_DELETE);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, api_key);
    sqlite_bind_text(&binder, idempotency_key);
    cash_result result = sqlite_bind_check(conn, &binder, "idempotency key delete");
    if (result == CASH_OK) {
        result = sqlite_step_done(conn, stmt, "idempotency key delete", NULL);
    }
    return result;
}

/* The key as kept: a live one decides (store_request_kept), an expired one is dropped. */
static cash_result key_lookup(struct sqlite_conn *conn, struct store_request *request)
{
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_KEY_GET);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, request->api_key);
    sqlite_bind_text(&binder, request->idempotency_key);
    cash_result result = sqlite_bind_check(conn, &binder, "idempotency key get");
    if (result == CASH_OK) {
        result = sqlite_step_row(conn, stmt, "idempotency key get");
    }
    if (result == CASH_NOT_FOUND) {
        return CASH_OK;
    }
    if (result != CASH_OK) {
        return result;
    }
    struct sqlite_row row;
    struct store_kept_key kept;
    sqlite_row_start(&row, stmt);
    kept.fingerprint = sqlite_row_text_view(&row);
    kept.answer_status = sqlite_row_int64(&row);
    kept.sealed_answer = sqlite_row_text_view(&row);
    kept.expires_ms = sqlite_row_int64(&row);
    result = sqlite_row_check(&row, "idempotency key get");
    if (result != CASH_OK) {
        return result;
    }
    if (kept.expires_ms <= request->now_ms) {
        sqlite3_reset(stmt);
        return key_delete(conn, request->api_key, request->idempotency_key);
    }
    return store_request_kept(request, &kept);
}

/* Keeps the key with the answer rendered for result and row. */
static cash_result key_keep(struct sqlite_conn *conn, struct store_request *request,
                            cash_result outcome, const void *row)
{
    cash_result result = store_request_render(request, outcome, row);
    if (result != CASH_OK) {
        return result;
    }
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_KEY_INSERT);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, request->api_key);
    sqlite_bind_text(&binder, request->idempotency_key);
    sqlite_bind_text(&binder, request->fingerprint);
    sqlite_bind_int64(&binder, request->answer.status);
    sqlite_bind_text(&binder, request->answer.body);
    sqlite_bind_int64(&binder, request->now_ms);
    sqlite_bind_int64(&binder, request->idempotency_expires_ms);
    result = sqlite_bind_check(conn, &binder, "idempotency key insert");
    int64_t changes = 0;
    if (result == CASH_OK) {
        result = sqlite_step_done(conn, stmt, "idempotency key insert", &changes);
    }
    if (result == CASH_OK && changes == 0) {
        result = CASH_IDEMPOTENCY_KEY_IN_USE;
    }
    return result;
}

struct request_run {
    struct store_request *request;
    const struct sqlite_request_work *work;
};

static cash_result request_body(struct sqlite_conn *conn, void *context_pointer)
{
    struct request_run *run = context_pointer;
    struct store_request *request = run->request;
    cash_result result = CASH_OK;
    if (request->signature_hex != NULL) {
        result = sqlite_replay_insert(conn, request->api_key, request->signature_hex,
                                      request->now_ms, request->replay_expires_ms);
    }
    if (result == CASH_OK && request->idempotency_key != NULL) {
        result = key_lookup(conn, request);
    }
    if (result != CASH_OK || request->replayed) {
        return result; /* a replay commits its replay row and nothing else */
    }
    result = run->work->body(conn, run->work->context);
    if (result == CASH_OK && request->idempotency_key != NULL) {
        cash_result outcome = run->work->outcome != NULL ? *run->work->outcome : CASH_OK;
        result = key_keep(conn, request, outcome, run->work->row);
    }
    return result;
}

cash_result sqlite_request_run(struct sqlite_store *store, struct store_request *request,
                               const struct sqlite_request_work *work)
{
    if (request == NULL) {
        return sqlite_write_run(store, work->body, work->context);
    }
    struct request_run run = {.request = request, .work = work};
    store_request_clear(request);
    cash_result result = sqlite_write_run(store, request_body, &run);
    store_request_settle(request, result);
    return result;
}

static cash_result forget_body(struct sqlite_conn *conn, void *context_pointer)
{
    const char *const *names = context_pointer;
    return key_delete(conn, names[0], names[1]);
}

/* Forgets a kept key (store.h). */
cash_result sqlite_idempotency_forget(struct store *store, const char *api_key,
                                      const char *idempotency_key)
{
    const char *names[2] = {api_key, idempotency_key};
    return sqlite_write_run(sqlite_store_of(store), forget_body, names);
}
