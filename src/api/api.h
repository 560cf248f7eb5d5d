/*
 * api.h - the cashd API (SPEC 1, 2, 3, 5): routing, authentication and the handlers of each
 * resource, translating HTTP requests into store and domain calls and results into JSON.
 */
#ifndef CASH_API_H
#define CASH_API_H

#include "common/config.h"
#include "common/crypto.h"
#include "http/http.h"
#include "store/store.h"

struct api;

/* Borrowed: config, store and keyring must outlive the api. NULL if out of memory. */
struct api *api_new(const struct config *config, struct store *store,
                    const struct keyring *keyring);
void api_free(struct api *api);

/* The http_handler of cashd; context is a struct api. */
void api_handle(void *context, const struct http_request *request, struct http_response *response);

#endif
