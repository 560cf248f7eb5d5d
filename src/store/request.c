/*
 * request.c - the replay cache of used signatures (SPEC 1) and a write request's idempotency key
 * (store.h: struct store_request), written once over the driver seam: the checks, the decision on
 * a kept key, the answer's rendering, and the statements, in the effect's transaction.
 *
 * Two requests with one key at once: on SQLite the one writer runs them one after the other, so
 * the second finds the first's row; on PostgreSQL the second's INSERT ... ON CONFLICT waits for
 * the first, and if that committed the second keeps nothing, rolls its effect back and answers
 * CASH_IDEMPOTENCY_KEY_IN_USE.
 */
#include <stdlib.h>
#include <string.h>

#include "common/limits.h"
#include "common/log.h"
#include "store/store_internal.h"

/* Prune expired signatures and keys on a process's first call and then once every this many. */
#define REPLAY_PRUNE_EVERY_CALLS 1000

void store_request_clear(struct store_request *request)
{
    if (request == NULL) {
        return;
    }
    free(request->answer.body);
    request->answer.body = NULL;
    request->answer.status = 0;
    request->replayed = false;
    request->replay_recorded = false;
}

bool store_request_valid(const struct store_request *request)
{
    if (request == NULL) {
        return true;
    }
    if (request->api_key == NULL || strlen(request->api_key) > AUTH_API_KEY_LENGTH) {
        return false;
    }
    if (request->signature_hex != NULL &&
        (strlen(request->signature_hex) > AUTH_SIGNATURE_HEX_MAX ||
         request->replay_expires_ms <= request->now_ms)) {
        return false;
    }
    if (request->idempotency_key == NULL) {
        return true;
    }
    size_t key_length = strlen(request->idempotency_key);
    return key_length >= 1 && key_length <= IDEMPOTENCY_KEY_BYTES_MAX &&
           request->fingerprint != NULL &&
           strlen(request->fingerprint) == IDEMPOTENCY_FINGERPRINT_HEX_LENGTH &&
           request->render != NULL && request->idempotency_expires_ms > request->now_ms;
}

void store_request_settle(struct store_request *request, cash_result run_result)
{
    if (run_result != CASH_OK) {
        store_request_clear(request);
        return;
    }
    request->replay_recorded = request->signature_hex != NULL;
}

bool request_fresh(const struct store_request *request, cash_result result)
{
    return result == CASH_OK && (request == NULL || !request->replayed);
}

/* SPEC 1, the replay row inside the caller's transaction; CASH_DUPLICATED_SIGNATURE if a live
 * one is remembered. */
static cash_result replay_insert(struct db_tx *tx, const char *api_key, const char *signature_hex,
                                 int64_t now_ms, int64_t expires_ms)
{
    struct db_stmt *stmt = db_statement(tx, SQL_REPLAY_INSERT);
    db_bind_text(stmt, api_key);
    db_bind_text(stmt, signature_hex);
    db_bind_int64(stmt, expires_ms);
    db_bind_int64(stmt, now_ms);
    return db_exec_one(stmt, CASH_DUPLICATED_SIGNATURE);
}

/* The replay row of a request that names a signature. */
static cash_result request_replay_insert(struct db_tx *tx, void *request_pointer)
{
    const struct store_request *request = request_pointer;
    return replay_insert(tx, request->api_key, request->signature_hex, request->now_ms,
                         request->replay_expires_ms);
}

/* Drops expired signatures and idempotency keys. */
static cash_result replay_prune_body(struct db_tx *tx, void *request_pointer)
{
    static const enum sql_id statements[] = {SQL_REPLAY_PRUNE, SQL_KEY_PRUNE};
    const struct store_request *request = request_pointer;
    for (size_t i = 0; i < sizeof(statements) / sizeof(statements[0]); i++) {
        struct db_stmt *stmt = db_statement(tx, statements[i]);
        db_bind_int64(stmt, request->now_ms);
        int64_t pruned = 0;
        cash_result result = db_exec(stmt, &pruned);
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

/* Remembers a used signature until expires_ms (store.h); CASH_DUPLICATED_SIGNATURE if it is
 * remembered and live. One statement, atomic across processes. The prune runs after it in a
 * transaction of its own, so that a prune's failure never refuses a request. */
cash_result store_replay_remember(struct store *store, const char *api_key,
                                  const char *signature_hex, int64_t now_ms, int64_t expires_ms)
{
    if (strlen(api_key) > AUTH_API_KEY_LENGTH || strlen(signature_hex) > AUTH_SIGNATURE_HEX_MAX ||
        expires_ms <= now_ms) {
        return CASH_VALIDATION_ERROR;
    }
    struct store_request request = {
        .api_key = api_key,
        .signature_hex = signature_hex,
        .replay_expires_ms = expires_ms,
        .now_ms = now_ms,
    };
    uint_fast64_t calls = atomic_fetch_add(&store->replay_calls, 1);
    cash_result result = db_run(store, DB_WRITE_ONE, request_replay_insert, &request);
    if (result == CASH_OK && calls % REPLAY_PRUNE_EVERY_CALLS == 0 &&
        db_run(store, DB_WRITE, replay_prune_body, &request) != CASH_OK) {
        log_warn("store: pruning expired signatures failed; the next prune tries again");
    }
    return result;
}

/* ---- idempotency keys ---- */
static cash_result key_delete(struct db_tx *tx, const char *api_key, const char *idempotency_key)
{
    struct db_stmt *stmt = db_statement(tx, SQL_KEY_DELETE);
    db_bind_text(stmt, api_key);
    db_bind_text(stmt, idempotency_key);
    return db_exec(stmt, NULL);
}

/* The key as kept: a live one decides, an expired one is dropped. */
static cash_result key_lookup(struct db_tx *tx, struct store_request *request)
{
    struct db_stmt *stmt = db_statement(tx, SQL_KEY_GET);
    db_bind_text(stmt, request->api_key);
    db_bind_text(stmt, request->idempotency_key);
    cash_result result = db_step(stmt);
    if (result == CASH_NOT_FOUND) {
        return CASH_OK;
    }
    if (result != CASH_OK) {
        return result;
    }
    struct db_row row;
    db_row_start(&row, stmt);
    const char *fingerprint = db_row_text_view(&row);
    int64_t answer_status = db_row_int64(&row);
    const char *sealed_answer = db_row_text_view(&row);
    int64_t expires_ms = db_row_int64(&row);
    result = db_row_check(&row, "idempotency key get");
    if (result != CASH_OK) {
        return result;
    }
    if (expires_ms <= request->now_ms) {
        return key_delete(tx, request->api_key, request->idempotency_key);
    }
    /* Live: the same fingerprint replays the kept answer, another is a reuse. */
    if (strcmp(fingerprint, request->fingerprint) != 0) {
        return CASH_IDEMPOTENCY_KEY_REUSED;
    }
    if (answer_status < 100 || answer_status > 599) {
        return CASH_INTERNAL_ERROR;
    }
    request->answer.body = strdup(sealed_answer);
    if (request->answer.body == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    request->answer.status = (unsigned)answer_status;
    request->replayed = true;
    return CASH_OK;
}

/* Keeps the key with the answer rendered for outcome and row. */
static cash_result key_keep(struct db_tx *tx, struct store_request *request, cash_result outcome,
                            const void *row)
{
    store_request_clear(request);
    if (!request->render(request, outcome, row, &request->answer) || request->answer.body == NULL ||
        request->answer.status < 100 || request->answer.status > 599) {
        store_request_clear(request);
        return CASH_INTERNAL_ERROR;
    }
    struct db_stmt *stmt = db_statement(tx, SQL_KEY_INSERT);
    db_bind_text(stmt, request->api_key);
    db_bind_text(stmt, request->idempotency_key);
    db_bind_text(stmt, request->fingerprint);
    db_bind_int64(stmt, request->answer.status);
    db_bind_text(stmt, request->answer.body);
    db_bind_int64(stmt, request->now_ms);
    db_bind_int64(stmt, request->idempotency_expires_ms);
    return db_exec_one(stmt, CASH_IDEMPOTENCY_KEY_IN_USE);
}

struct request_call {
    struct store_request *request;
    db_body body;
    void *context;
    const cash_result *outcome;
    const void *row;
};

static cash_result request_body(struct db_tx *tx, void *context_pointer)
{
    struct request_call *call = context_pointer;
    struct store_request *request = call->request;
    store_request_clear(request); /* a run again starts afresh */
    cash_result result =
        request->signature_hex != NULL ? request_replay_insert(tx, request) : CASH_OK;
    if (result == CASH_OK && request->idempotency_key != NULL) {
        result = key_lookup(tx, request);
    }
    if (result != CASH_OK || request->replayed) {
        return result; /* a replay commits its replay row and nothing else */
    }
    result = call->body(tx, call->context);
    if (result == CASH_OK && request->idempotency_key != NULL) {
        cash_result outcome = call->outcome != NULL ? *call->outcome : CASH_OK;
        result = key_keep(tx, request, outcome, call->row);
    }
    return result;
}

cash_result request_run(struct store *store, struct store_request *request, db_body body,
                        void *context, const cash_result *outcome, const void *row)
{
    if (request == NULL) {
        return db_run(store, DB_WRITE, body, context);
    }
    struct request_call call = {
        .request = request, .body = body, .context = context, .outcome = outcome, .row = row};
    cash_result result = db_run(store, DB_WRITE, request_body, &call);
    store_request_settle(request, result);
    return result;
}

static cash_result forget_body(struct db_tx *tx, void *context_pointer)
{
    const char *const *names = context_pointer;
    return key_delete(tx, names[0], names[1]);
}

/* Forgets a kept key (store.h). */
cash_result store_idempotency_forget(struct store *store, const char *api_key,
                                     const char *idempotency_key)
{
    const char *names[2] = {api_key, idempotency_key};
    return db_run(store, DB_WRITE_ONE, forget_body, names);
}
