/*
 * api.c - the request pipeline, in the order docs/API.md promises: path and method, body size,
 * query parameter count, authentication, permissions, content type and JSON, then the handler
 * (fields, then business rules).
 */
#include "api/api_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/timeutil.h"

struct api *api_new(const struct config *config, struct store *store, const struct keyring *keyring)
{
    struct api *api = calloc(1, sizeof(*api));
    if (api == NULL) {
        return NULL;
    }
    api->config = config;
    api->store = store;
    api->keyring = keyring;
    api->money.fee_rate_bp = config->fee_rate_bp;
    api->money.fee_fixed_won = config->fee_fixed_won;
    api->money.withdraw_min_won = config->withdraw_min_won;
    api->money.withdraw_max_won = config->withdraw_max_won;
    api->money.daily_limit_won = config->daily_limit_won;
    /* SPEC 5: deliveries wait on HTTP workers; one worker always stays free (gateway.h). */
    api->gateway = gateway_new(gateway_deliveries_for_threads(config->threads));
    api->keys_in_flight = api_keys_in_flight_new();
    if (api->gateway == NULL || api->keys_in_flight == NULL) {
        api_free(api);
        return NULL;
    }
    return api;
}

void api_free(struct api *api)
{
    if (api != NULL) {
        gateway_free(api->gateway);
        api_keys_in_flight_free(api->keys_in_flight);
    }
    free(api);
}

/* ---- pure checks ---- */

static const char *api_skip_spaces(const char *text)
{
    while (*text == ' ' || *text == '\t') {
        text++;
    }
    return text;
}

bool api_content_type_is_json(const char *content_type)
{
    static const char media_type[] = "application/json";
    static const char charset[] = "charset=utf-8";
    if (content_type == NULL) {
        return false;
    }
    const char *rest = api_skip_spaces(content_type);
    if (strncasecmp(rest, media_type, sizeof(media_type) - 1) != 0) {
        return false;
    }
    rest = api_skip_spaces(rest + sizeof(media_type) - 1);
    if (*rest == '\0') {
        return true;
    }
    if (*rest != ';') {
        return false;
    }
    rest = api_skip_spaces(rest + 1);
    if (strncasecmp(rest, charset, sizeof(charset) - 1) != 0) {
        return false;
    }
    return *api_skip_spaces(rest + sizeof(charset) - 1) == '\0';
}

bool api_json_too_deep(json_t *value, size_t depth_max)
{
    if (!json_is_object(value) && !json_is_array(value)) {
        return false;
    }
    if (depth_max == 0) {
        return true;
    }
    /* The recursion is bounded by depth_max, not by the input. */
    if (json_is_object(value)) {
        for (void *iter = json_object_iter(value); iter != NULL;
             iter = json_object_iter_next(value, iter)) {
            if (api_json_too_deep(json_object_iter_value(iter), depth_max - 1)) {
                return true;
            }
        }
        return false;
    }
    for (size_t i = 0; i < json_array_size(value); i++) {
        if (api_json_too_deep(json_array_get(value, i), depth_max - 1)) {
            return true;
        }
    }
    return false;
}

cash_result api_json_parse(const char *body, size_t length, json_t **out, char *why,
                           size_t why_size)
{
    json_error_t error;
    json_t *root = json_loadb(body == NULL ? "" : body, length, JSON_REJECT_DUPLICATES, &error);
    if (root == NULL) {
        if (json_error_code(&error) == json_error_numeric_overflow) {
            snprintf(why, why_size, "a number in the body is out of range: %s", error.text);
            return CASH_VALIDATION_ERROR;
        }
        snprintf(why, why_size, "the body is not valid JSON: %s", error.text);
        return CASH_INVALID_JSON;
    }
    if (!json_is_object(root)) {
        snprintf(why, why_size, "the body must be a JSON object");
        json_decref(root);
        return CASH_INVALID_JSON;
    }
    if (api_json_too_deep(root, JSON_DEPTH_MAX)) {
        snprintf(why, why_size, "the body nests deeper than %d levels", JSON_DEPTH_MAX);
        json_decref(root);
        return CASH_INVALID_JSON;
    }
    *out = root;
    return CASH_OK;
}

/* ---- replies ---- */

void api_reply(struct http_response *response, unsigned status, json_t *root)
{
    response->status = status;
    response->body = NULL;
    response->body_length = 0;
    if (root == NULL) {
        log_error("out of memory building an answer");
        return; /* the HTTP layer answers 500 for a missing body */
    }
    /* jansson keeps insertion order when dumping (2.8 and later): the fields go out as built. */
    response->body = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (response->body != NULL) {
        response->body_length = strlen(response->body);
    }
    json_decref(root);
}

void api_error(struct http_response *response, cash_result result, const char *why)
{
    const char *message = (why != NULL && why[0] != '\0') ? why : result_message(result);
    json_t *root = json_object();
    json_t *text = json_string(message);
    if (text == NULL) {
        /* why quoted bytes that are not UTF-8 (from a malformed body): the default says enough. */
        text = json_string(result_message(result));
    }
    if (root != NULL) {
        int failed = 0;
        failed |= wire_json_put(root, "errorCode", json_string(result_error_code(result)));
        failed |= wire_json_put(root, "errorMessage", text);
        if (failed != 0) {
            json_decref(root);
            root = NULL;
        }
    } else {
        json_decref(text);
    }
    api_reply(response, result_http_status(result), root);
    if (result == CASH_SERVICE_UNAVAILABLE) {
        snprintf(response->retry_after, sizeof(response->retry_after), "%d",
                 API_RETRY_AFTER_SECONDS);
    }
}

/* ---- the pipeline ---- */

/*
 * Who is calling and may they: auth.h, with the access the route needs. Once the signature is
 * verified, write is started: from then on the signature counts as used, whatever the answer.
 */
static cash_result api_admit(const struct api *api, const struct http_request *request,
                             const struct api_route *route, int64_t now_ms, struct api_key *key,
                             struct api_write *write, char *why, size_t why_size)
{
    if (request->body_too_large) {
        return CASH_PAYLOAD_TOO_LARGE;
    }
    if (request->params_overflow) {
        snprintf(why, why_size, "too many query parameters (at most %d)", HTTP_QUERY_PARAMS_MAX);
        return CASH_VALIDATION_ERROR;
    }
    if (route->access == AUTH_ACCESS_GATEWAY) {
        memset(key, 0, sizeof(*key));
        return CASH_OK; /* no API key: the handler checks the gateway's signature */
    }
    struct auth_replay replay;
    cash_result result = auth_authenticate(api->store, api->keyring, request->authorization, now_ms,
                                           key, &replay, why, why_size);
    if (result != CASH_OK) {
        return result;
    }
    api_write_start(write, key, &replay, now_ms);
    why[0] = '\0';
    return auth_authorize(key, route->access);
}

/* The body as the route takes it: one JSON object, or nothing at all. */
static cash_result api_body_load(const struct api_route *route, const struct http_request *request,
                                 json_t **out, char *why, size_t why_size)
{
    *out = NULL;
    if (route->body == API_BODY_NONE) {
        if (request->body_length > 0) {
            snprintf(why, why_size, "this endpoint takes no body");
            return CASH_VALIDATION_ERROR;
        }
        return CASH_OK;
    }
    if (!api_content_type_is_json(request->content_type)) {
        snprintf(why, why_size, "the body must be application/json (charset utf-8)");
        return CASH_UNSUPPORTED_MEDIA_TYPE;
    }
    return api_json_parse(request->body, request->body_length, out, why, why_size);
}

/* POST and DELETE take an Idempotency-Key; GET ignores it, as a read is safe to repeat. */
static bool api_route_is_write(const struct api_route *route)
{
    return route->access != AUTH_ACCESS_GATEWAY && strcmp(route->method, "GET") != 0;
}

void api_handle(void *context, const struct http_request *request, struct http_response *response)
{
    const struct api *api = context;
    struct api_match match;
    struct api_key key;
    struct api_write write;
    json_t *body = NULL;
    char why[API_WHY_BYTES_MAX] = "";
    int64_t now_ms = time_now_ms();
    write.started = false;
    cash_result result = api_route_find(request->method, request->path, &match, response->allow,
                                        sizeof(response->allow));
    if (result == CASH_OK) {
        result = api_admit(api, request, match.route, now_ms, &key, &write, why, sizeof(why));
    }
    if (result == CASH_OK) {
        result = api_body_load(match.route, request, &body, why, sizeof(why));
    }
    if (result == CASH_OK && match.route->params == API_PARAMS_NONE) {
        result = api_params_none(request, why, sizeof(why));
    }
    if (result == CASH_OK && api_route_is_write(match.route)) {
        result = api_write_key(&write, api, request, body, why, sizeof(why));
    }
    if (result != CASH_OK) {
        api_error(response, result, why);
    } else {
        struct api_call call = {
            .api = api,
            .request = request,
            .key = &key,
            .body = body,
            .id = match.id,
            .now_ms = now_ms,
            .write = &write,
        };
        match.route->handler(&call, response);
    }
    api_write_finish(api, &write, response);
    json_decref(body);
}
