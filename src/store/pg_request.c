/*
 * pg_request.c - a write request's replay row and idempotency key in the PostgreSQL backend
 * (store.h: struct store_request). Of two transactions keeping one key at once, the second's
 * INSERT waits for the first: if that commits, the second keeps nothing, rolls its effect back and
 * answers CASH_IDEMPOTENCY_KEY_IN_USE; if it rolls back, the second goes on.
 */
#include <string.h>

#include "store/pg_internal.h"
#include "store/store_request.h"

static const char SQL_KEY_GET[] =
    "SELECT fingerprint, answer_status, sealed_answer, expires_ms FROM idempotency_keys"
    " WHERE api_key = $1 AND idempotency_key = $2";
static const char SQL_KEY_DELETE[] =
    "DELETE FROM idempotency_keys WHERE api_key = $1 AND idempotency_key = $2";
static const char SQL_KEY_INSERT[] =
    "INSERT INTO idempotency_keys (api_key, idempotency_key, fingerprint, answer_status,"
    " sealed_answer, created_ms, expires_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    " ON CONFLICT (api_key, idempotency_key) DO NOTHING";

static cash_result key_delete(struct pg_conn *conn, const char *api_key,
                              const char *idempotency_key)
{
    struct pg_params params;
    pg_params_start(&params);
    pg_param_text(&params, api_key);
    pg_param_text(&params, idempotency_key);
    return pg_exec_changes(conn, SQL_KEY_DELETE, &params, "idempotency key delete", NULL);
}

/* The key as kept: a live one decides (store_request_kept), an expired one is dropped. */
static cash_result key_lookup(struct pg_conn *conn, struct store_request *request)
{
    struct pg_params params;
    pg_params_start(&params);
    pg_param_text(&params, request->api_key);
    pg_param_text(&params, request->idempotency_key);
    cash_result result = CASH_OK;
    PGresult *res = pg_exec(conn, SQL_KEY_GET, &params, "idempotency key get", &result);
    if (res == NULL) {
        return result;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        return CASH_OK;
    }
    struct pg_row row;
    struct store_kept_key kept;
    pg_row_start(&row, res, 0);
    kept.fingerprint = pg_row_text_view(&row);
    kept.answer_status = pg_row_int64(&row);
    kept.sealed_answer = pg_row_text_view(&row);
    kept.expires_ms = pg_row_int64(&row);
    result = pg_row_check(&row, "idempotency key get");
    if (result == CASH_OK) {
        result = kept.expires_ms <= request->now_ms
                     ? key_delete(conn, request->api_key, request->idempotency_key)
                     : store_request_kept(request, &kept);
    }
    PQclear(res);
    return result;
}

/* Keeps the key with the answer rendered for result and row. */
static cash_result key_keep(struct pg_conn *conn, struct store_request *request,
                            cash_result outcome, const void *row)
{
    cash_result result = store_request_render(request, outcome, row);
    if (result != CASH_OK) {
        return result;
    }
    struct pg_params params;
    pg_params_start(&params);
    pg_param_text(&params, request->api_key);
    pg_param_text(&params, request->idempotency_key);
    pg_param_text(&params, request->fingerprint);
    pg_param_int64(&params, request->answer.status);
    pg_param_text(&params, request->answer.body);
    pg_param_int64(&params, request->now_ms);
    pg_param_int64(&params, request->idempotency_expires_ms);
    int64_t changes = 0;
    result = pg_exec_changes(conn, SQL_KEY_INSERT, &params, "idempotency key insert", &changes);
    if (result == CASH_OK && changes == 0) {
        result = CASH_IDEMPOTENCY_KEY_IN_USE;
    }
    return result;
}

struct request_run {
    struct store_request *request;
    const struct pg_request_work *work;
};

static cash_result request_body(struct pg_conn *conn, void *context_pointer)
{
    struct request_run *run = context_pointer;
    struct store_request *request = run->request;
    store_request_clear(request); /* a run again after a serialization failure starts afresh */
    cash_result result = CASH_OK;
    if (request->signature_hex != NULL) {
        result = pg_replay_insert(conn, request->api_key, request->signature_hex, request->now_ms,
                                  request->replay_expires_ms);
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

cash_result pg_request_run(struct pg_store *store, struct store_request *request,
                           const struct pg_request_work *work)
{
    if (request == NULL) {
        return pg_run(store, PG_WRITE, work->body, work->context);
    }
    struct request_run run = {.request = request, .work = work};
    cash_result result = pg_run(store, PG_WRITE, request_body, &run);
    store_request_settle(request, result);
    return result;
}

static cash_result forget_body(struct pg_conn *conn, void *context_pointer)
{
    const char *const *names = context_pointer;
    return key_delete(conn, names[0], names[1]);
}

/* Forgets a kept key (store.h). */
cash_result pg_idempotency_forget(struct store *store, const char *api_key,
                                  const char *idempotency_key)
{
    const char *names[2] = {api_key, idempotency_key};
    return pg_run(pg_store_of(store), PG_WRITE_ONE, forget_body, names);
}
