/*
 * store.c - the one place that chooses a backend (ARCHITECTURE: one store interface, chosen in
 * one place), and the store_* functions that hand each call to it.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "store/store.h"
#include "store/store_request.h"

#define SQLITE_SCHEME "sqlite:"

static bool url_has_scheme(const char *url, const char *scheme)
{
    return strncmp(url, scheme, strlen(scheme)) == 0;
}

static void why_write(char *why, size_t why_size, const char *text)
{
    if (why != NULL && why_size > 0) {
        snprintf(why, why_size, "%s", text);
    }
}

/* Opens the backend named by the URL's scheme with default options (store.h). */
cash_result store_open(const char *url, struct store **out, char *why, size_t why_size)
{
    return store_open_options(url, NULL, out, why, why_size);
}

/* Opens the backend named by the URL's scheme (store.h). */
cash_result store_open_options(const char *url, const struct store_options *options,
                               struct store **out, char *why, size_t why_size)
{
    if (url == NULL || url[0] == '\0') {
        why_write(why, why_size, "no database URL given (expected sqlite:PATH)");
        return CASH_VALIDATION_ERROR;
    }
    if (strnlen(url, DB_URL_BYTES_MAX + 1) > DB_URL_BYTES_MAX) {
        why_write(why, why_size, "the database URL is too long");
        return CASH_VALIDATION_ERROR;
    }
    if (url_has_scheme(url, SQLITE_SCHEME)) {
        return store_sqlite_open(url + strlen(SQLITE_SCHEME), out, why, why_size);
    }
    if (url_has_scheme(url, "postgresql://") || url_has_scheme(url, "postgres://")) {
        return store_pg_open(url, options, out, why, why_size);
    }
    why_write(why, why_size,
              "unknown database URL scheme (expected sqlite:PATH or postgresql://...)");
    return CASH_VALIDATION_ERROR;
}

/* Releases the store and everything it holds; NULL is allowed. */
void store_close(struct store *store)
{
    if (store != NULL) {
        store->ops->close(store);
    }
}

/* The functions below hand each call to the backend; their contracts are in store.h. */

cash_result store_bank_account_set(struct store *store, const struct bank_account *bank,
                                   struct second_factor *factor, struct store_request *request)
{
    if (!store_request_valid(request)) {
        return CASH_VALIDATION_ERROR;
    }
    return store->ops->bank_account_set(store, bank, factor, request);
}

cash_result store_bank_account_get(struct store *store, const char *account_id,
                                   struct bank_account *out)
{
    return store->ops->bank_account_get(store, account_id, out);
}

cash_result store_bank_account_delete(struct store *store, const char *account_id,
                                      struct second_factor *factor, struct store_request *request)
{
    if (!store_request_valid(request)) {
        return CASH_VALIDATION_ERROR;
    }
    return store->ops->bank_account_delete(store, account_id, factor, request);
}

cash_result store_verification_create(struct store *store, const struct verification *v)
{
    return store->ops->verification_create(store, v);
}

cash_result store_verification_get(struct store *store, const char *verification_id,
                                   struct verification *out)
{
    return store->ops->verification_get(store, verification_id, out);
}

cash_result store_verification_attempt(struct store *store, const char *verification_id,
                                       bool code_correct, int64_t now_ms, int64_t window_ms,
                                       struct verification *out)
{
    return store->ops->verification_attempt(store, verification_id, code_correct, now_ms, window_ms,
                                            out);
}

cash_result store_verification_fail(struct store *store, const char *verification_id)
{
    return store->ops->verification_fail(store, verification_id);
}

/* The second factor's abuse limits and TOTP (schema version 2): a backend without one of these
 * operations answers CASH_INTERNAL_ERROR, logged, instead of calling through NULL. */
static cash_result store_op_missing(const char *name)
{
    log_error("store: this backend has no %s operation", name);
    return CASH_INTERNAL_ERROR;
}

cash_result store_verification_open(struct store *store, const struct verification *v,
                                    struct verification_limits *limits,
                                    struct store_request *request)
{
    if (store->ops->verification_open == NULL) {
        return store_op_missing("verification_open");
    }
    if (!store_request_valid(request)) {
        return CASH_VALIDATION_ERROR;
    }
    return store->ops->verification_open(store, v, limits, request);
}

cash_result store_verification_try(struct store *store, struct verification_try *attempt,
                                   struct store_request *request)
{
    if (store->ops->verification_try == NULL) {
        return store_op_missing("verification_try");
    }
    if (!store_request_valid(request)) {
        return CASH_VALIDATION_ERROR;
    }
    return store->ops->verification_try(store, attempt, request);
}

cash_result store_verification_call_result(struct store *store, struct verification_call *call)
{
    if (store->ops->verification_call_result == NULL) {
        return store_op_missing("verification_call_result");
    }
    return store->ops->verification_call_result(store, call);
}

cash_result store_totp_enrol(struct store *store, const struct totp_enrolment *enrolment)
{
    if (store->ops->totp_enrol == NULL) {
        return store_op_missing("totp_enrol");
    }
    return store->ops->totp_enrol(store, enrolment);
}

cash_result store_totp_get(struct store *store, const char *member_id, struct totp_enrolment *out)
{
    if (store->ops->totp_get == NULL) {
        return store_op_missing("totp_get");
    }
    return store->ops->totp_get(store, member_id, out);
}

cash_result store_withdraw_create(struct store *store, struct withdraw_create *create,
                                  struct withdrawal *out, struct store_request *request)
{
    if (!store_request_valid(request)) {
        return CASH_VALIDATION_ERROR;
    }
    return store->ops->withdraw_create(store, create, out, request);
}

cash_result store_withdraw_get(struct store *store, const char *account_id, const char *withdraw_id,
                               struct withdrawal *out)
{
    return store->ops->withdraw_get(store, account_id, withdraw_id, out);
}

cash_result store_withdraw_cancel(struct store *store, const char *account_id,
                                  const char *withdraw_id, const char *history_id, int64_t now_ms,
                                  struct withdrawal *out, struct store_request *request)
{
    if (!store_request_valid(request)) {
        return CASH_VALIDATION_ERROR;
    }
    return store->ops->withdraw_cancel(store, account_id, withdraw_id, history_id, now_ms, out,
                                       request);
}

cash_result store_durability_check(struct store *store, char *why, size_t why_size)
{
    assert(store != NULL);
    return store->ops->durability_check(store, why, why_size);
}
