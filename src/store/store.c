/*
 * store.c - the one place that chooses a driver (ARCHITECTURE: one store interface, chosen in
 * one place), and the calls that are the driver's alone: closing, and SPEC 7's durability check.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "store/db.h"
#include "store/store.h"

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
        store->driver->close(store);
    }
}

cash_result store_durability_check(struct store *store, char *why, size_t why_size)
{
    assert(store != NULL);
    return store->driver->durability_check(store, why, why_size);
}
