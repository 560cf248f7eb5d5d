/*
 * api_internal.h - what the files of src/api share: the api object, one request as a handler
 * sees it, the route table, and the helpers that answer (JSON out, errors) and check input.
 */
#ifndef CASH_API_INTERNAL_H
#define CASH_API_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api/api.h"
#include "auth/auth.h"
#include "common/result.h"
#include "domain/money.h"
#include "domain/query.h"
#include "gateway/gateway.h"
#include "wire/wire.h"

/* Room for a message that names a field or a parameter. */
#define API_WHY_BYTES_MAX 256
/* Retry-After of a 503: the database was busy for DB_TIMEOUT_MS already. */
#define API_RETRY_AFTER_SECONDS 1

_Static_assert(WITHDRAW_ID_LENGTH == VERIFICATION_ID_LENGTH, "one id buffer fits both");

struct api_keys_in_flight;

struct api {
    const struct config *config;
    struct store *store;
    const struct keyring *keyring;
    struct money_rules money;
    struct gateway *gateway; /* owned: deliveries of second-factor codes (SPEC 5) */
    struct api_keys_in_flight *keys_in_flight; /* owned: Idempotency-Keys being worked on */
};

struct api_write;

/* One admitted request: routed, authenticated, authorised, its body parsed. */
struct api_call {
    const struct api *api;
    const struct http_request *request;
    const struct api_key *key; /* the caller */
    json_t *body;              /* borrowed: the body object for JSON routes, else NULL */
    const char *id;            /* the {id} path segment; "" when the route has none or it is
                                  longer than an id could be */
    int64_t now_ms;
    struct api_write *write; /* what the call's store write commits with it (write.c) */
};

typedef void (*api_route_handler)(const struct api_call *call, struct http_response *response);

enum api_body { API_BODY_NONE, API_BODY_JSON };
/* API_PARAMS_NONE: any query parameter is refused before the handler runs; API_PARAMS_OWN: the
 * handler checks its own. */
enum api_params { API_PARAMS_NONE, API_PARAMS_OWN };

struct api_route {
    const char *method;
    const char *pattern; /* "/cash/v1/withdraw/{id}/cancel": at most one {id} segment */
    enum auth_access access;
    enum api_body body;
    enum api_params params;
    api_route_handler handler;
};

struct api_match {
    const struct api_route *route;
    char id[WITHDRAW_ID_LENGTH + 1];
};

/* ---- router.c ---- */

/*
 * Finds the route of method and path. CASH_NOT_FOUND for a path no route has (a trailing slash
 * makes another path); CASH_METHOD_NOT_ALLOWED when the path is known but not with this method,
 * with the methods it takes written to allow ("GET, POST"). allow is "" otherwise.
 */
cash_result api_route_find(const char *method, const char *path, struct api_match *out, char *allow,
                           size_t allow_size);

/* ---- api.c: the pipeline's pure checks ---- */

/* True for "application/json", optionally followed by "; charset=utf-8" (any case, optional
 * spaces around the ';'). False for NULL and for anything else. */
bool api_content_type_is_json(const char *content_type);
/* True if value nests objects or arrays deeper than depth_max (a bare object is depth 1). */
bool api_json_too_deep(json_t *value, size_t depth_max);
/*
 * Parses a body that must be one JSON object: CASH_INVALID_JSON with jansson's reason in why for
 * bad syntax, invalid UTF-8, a duplicated key, another type or nesting deeper than JSON_DEPTH_MAX;
 * CASH_VALIDATION_ERROR for an integer outside 64 bits. On CASH_OK *out is a new reference.
 */
cash_result api_json_parse(const char *body, size_t length, json_t **out, char *why,
                           size_t why_size);

/* ---- replies ---- */

/* Answers status with root dumped compactly; takes the reference to root (NULL: a 500). */
void api_reply(struct http_response *response, unsigned status, json_t *root);
/* Answers the result's status with {"errorCode", "errorMessage"}: why when not empty, else the
 * result's default message. */
void api_error(struct http_response *response, cash_result result, const char *why);

/* ---- input checks shared by the handlers ---- */

/* CASH_VALIDATION_ERROR naming the first field of body that is not in allowed (NULL-ended). */
cash_result api_fields_allowed(json_t *body, const char *const allowed[], char *why,
                               size_t why_size);
/* The string field name of body: CASH_VALIDATION_ERROR if missing (when required) or not a
 * string. *out is NULL for an absent optional field; borrowed from body. */
cash_result api_field_string(json_t *body, const char *name, bool required, const char **out,
                             char *why, size_t why_size);
/* CASH_VALIDATION_ERROR naming key as an unknown query parameter. */
cash_result api_param_unknown(const char *key, char *why, size_t why_size);
/* CASH_VALIDATION_ERROR naming the first query parameter, for routes that accept none. */
cash_result api_params_none(const struct http_request *request, char *why, size_t why_size);
/* The query parameters of request as the list filters of domain/query.h take them, in the order
 * sent; out borrows their texts from request. Returns how many (at most HTTP_QUERY_PARAMS_MAX). */
size_t api_query_params(const struct http_request *request,
                        struct query_param out[HTTP_QUERY_PARAMS_MAX]);
/* Parses an optional '-' and 1 to 18 digits; false for anything else. */
bool api_parse_integer(const char *text, int64_t *out);
/*
 * The second factor of a cash-writing request (SPEC 5): the caller, the X-Verification-Id
 * header if sent (CASH_SECOND_FACTOR_REQUIRED if it is not an id), the window and the uses.
 */
cash_result api_second_factor(const struct api_call *call, struct second_factor *out, char *why,
                              size_t why_size);
/* config->verification_window_seconds in milliseconds. */
int64_t api_verification_window_ms(const struct api *api);
/* True if the {id} of call is a 32-digit id. */
bool api_id_valid(const struct api_call *call);

/* ---- write.c: the replay row and the Idempotency-Key, committed with a write's effect ---- */

/*
 * A handler's answer from the result of its store write and the write's row (store.h names the
 * row of each write). The handler answers with it after the write, and the same function renders,
 * inside the write's transaction, the answer kept with an Idempotency-Key: so a replay is the
 * same answer, byte for byte.
 */
typedef void (*api_answer)(const struct api_call *call, void *context, cash_result result,
                           const void *row, struct http_response *response);

struct api_write {
    bool started;               /* the call was authenticated with an API key */
    struct store_request store; /* handed to the call's store write */
    char signature_hex[AUTH_SIGNATURE_HEX_MAX + 1];
    char fingerprint[IDEMPOTENCY_FINGERPRINT_HEX_LENGTH + 1];
    bool holds_slot; /* the key is registered in flight at slot */
    size_t slot;
    const struct api_call *call;
    api_answer answer;
    void *answer_context;
};

struct api_keys_in_flight *api_keys_in_flight_new(void);
void api_keys_in_flight_free(struct api_keys_in_flight *keys);

/* Starts the write state of a call authenticated with key, whose signature replay describes. */
void api_write_start(struct api_write *write, const struct api_key *key,
                     const struct auth_replay *replay, int64_t now_ms);
/* True for 1 to IDEMPOTENCY_KEY_BYTES_MAX visible ASCII characters. */
bool api_idempotency_key_valid(const char *text);
/*
 * The request's Idempotency-Key, if sent (POST and DELETE routes): CASH_VALIDATION_ERROR when
 * malformed, CASH_IDEMPOTENCY_KEY_IN_USE while this process works on the same key of the same API
 * key, else CASH_OK with the key and the request's fingerprint in write->store.
 */
cash_result api_write_key(struct api_write *write, const struct api *api,
                          const struct http_request *request, json_t *body, char *why,
                          size_t why_size);
/* The store_request a handler hands to its store write, rendering kept answers with answer
 * (context): NULL for a call not authenticated with an API key. */
struct store_request *api_write_request(const struct api_call *call, api_answer answer,
                                        void *context);
/* The write committed but its effect failed afterwards (a code not delivered): forgets the kept
 * key, so the same request may be sent again. */
void api_write_forget(const struct api_call *call);
/* True when the store write replayed a kept answer: the handler answers nothing itself. */
bool api_write_replayed(const struct api_call *call);
/*
 * After the handler: a replayed answer replaces the handler's (with Idempotent-Replayed), the
 * signature is remembered on its own if no write committed it (a used one turns the answer into
 * CASH_DUPLICATED_SIGNATURE: nothing committed), and the key leaves the registry.
 */
void api_write_finish(const struct api *api, struct api_write *write,
                      struct http_response *response);

/* ---- handlers, one file per resource ---- */

void api_withdraw_create(const struct api_call *call, struct http_response *response);
void api_withdraw_list(const struct api_call *call, struct http_response *response);
void api_withdraw_quote(const struct api_call *call, struct http_response *response);
void api_withdraw_get(const struct api_call *call, struct http_response *response);
void api_withdraw_cancel(const struct api_call *call, struct http_response *response);

void api_balance_get(const struct api_call *call, struct http_response *response);
void api_balance_history(const struct api_call *call, struct http_response *response);

void api_bank_register(const struct api_call *call, struct http_response *response);
void api_bank_get(const struct api_call *call, struct http_response *response);
void api_bank_delete(const struct api_call *call, struct http_response *response);

void api_verification_create(const struct api_call *call, struct http_response *response);
void api_verification_confirm(const struct api_call *call, struct http_response *response);
void api_verification_get(const struct api_call *call, struct http_response *response);
/* POST /cash/v1/verifications/ars/callback: the phone gateway's signed report
 * (AUTH_ACCESS_GATEWAY). */
void api_ars_callback(const struct api_call *call, struct http_response *response);

/* ---- verification_limits.c, verification_ars.c: the second factor's shared parts (SPEC 5) ---- */

/* The abuse limits of config, retry_after_ms 0. */
void api_verification_limits(const struct api *api, struct verification_limits *out);
/* api_error, then a Retry-After header from limits->retry_after_ms for the 429 answers. */
void api_error_retry(const struct api_call *call, struct http_response *response,
                     cash_result result, const char *why, const struct verification_limits *limits);
/* Sends the ARS call request for a new verification (console: the log); CASH_ARS_CALL_FAILED with
 * why when the gateway did not take it. */
cash_result api_ars_call(const struct api_call *call, const struct verification *verification,
                         const char *ars_code, char *why, size_t why_size);

#endif
