/*
 * store.c - the one place that chooses a backend (ARCHITECTURE: one store interface, chosen in
 * one place), and the store_* functions that hand each call to it.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

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
