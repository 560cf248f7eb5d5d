/*
 * util.c - input checks the handlers share: body fields, query parameters, integers, ids and the
 * second factor of cash-writing requests.
 */
#include "api/api_internal.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ids.h"

/* Field and parameter names are echoed at most this long in a message. */
#define API_NAME_SHOWN_BYTES_MAX 64
#define API_INTEGER_DIGITS_MAX   18

cash_result api_fields_allowed(json_t *body, const char *const allowed[], char *why,
                               size_t why_size)
{
    for (void *iter = json_object_iter(body); iter != NULL;
         iter = json_object_iter_next(body, iter)) {
        const char *key = json_object_iter_key(iter);
        bool known = false;
        for (size_t i = 0; allowed[i] != NULL; i++) {
            if (strcmp(key, allowed[i]) == 0) {
                known = true;
                break;
            }
        }
        if (!known) {
            snprintf(why, why_size, "unknown field %.*s", API_NAME_SHOWN_BYTES_MAX, key);
            return CASH_VALIDATION_ERROR;
        }
    }
    return CASH_OK;
}

cash_result api_field_string(json_t *body, const char *name, bool required, const char **out,
                             char *why, size_t why_size)
{
    json_t *value = json_object_get(body, name);
    *out = NULL;
    if (value == NULL) {
        if (required) {
            snprintf(why, why_size, "%s is required", name);
            return CASH_VALIDATION_ERROR;
        }
        return CASH_OK;
    }
    if (!json_is_string(value)) {
        snprintf(why, why_size, "%s must be a string", name);
        return CASH_VALIDATION_ERROR;
    }
    *out = json_string_value(value);
    return CASH_OK;
}

cash_result api_param_unknown(const char *key, char *why, size_t why_size)
{
    snprintf(why, why_size, "unknown query parameter %.*s", API_NAME_SHOWN_BYTES_MAX, key);
    return CASH_VALIDATION_ERROR;
}

cash_result api_params_none(const struct http_request *request, char *why, size_t why_size)
{
    if (request->param_count == 0) {
        return CASH_OK;
    }
    return api_param_unknown(request->params[0].key, why, why_size);
}

size_t api_query_params(const struct http_request *request,
                        struct query_param out[HTTP_QUERY_PARAMS_MAX])
{
    assert(request->param_count <= HTTP_QUERY_PARAMS_MAX);
    for (size_t i = 0; i < request->param_count; i++) {
        out[i] =
            (struct query_param){.key = request->params[i].key, .value = request->params[i].value};
    }
    return request->param_count;
}

bool api_parse_integer(const char *text, int64_t *out)
{
    const char *digits = text[0] == '-' ? text + 1 : text;
    size_t length = strlen(digits);
    if (length == 0 || length > API_INTEGER_DIGITS_MAX) {
        return false;
    }
    for (size_t i = 0; i < length; i++) {
        if (digits[i] < '0' || digits[i] > '9') {
            return false;
        }
    }
    /* At most 18 digits: always within long long, so strtoll cannot overflow here. */
    errno = 0;
    long long value = strtoll(text, NULL, 10);
    if (errno != 0) {
        return false;
    }
    *out = value;
    return true;
}

int64_t api_verification_window_ms(const struct api *api)
{
    return api->config->verification_window_seconds * 1000;
}

cash_result api_second_factor(const struct api_call *call, struct second_factor *out, char *why,
                              size_t why_size)
{
    const char *named = call->request->verification_id;
    memset(out, 0, sizeof(*out));
    if (named != NULL && !id_is_digits(named, VERIFICATION_ID_LENGTH)) {
        snprintf(why, why_size, "X-Verification-Id is not a verification id");
        return CASH_SECOND_FACTOR_REQUIRED;
    }
    out->member_id = call->key->member_id;
    out->verification_id = named;
    out->now_ms = call->now_ms;
    out->window_ms = api_verification_window_ms(call->api);
    out->uses_max = call->api->config->verification_max_uses;
    return CASH_OK;
}

bool api_id_valid(const struct api_call *call)
{
    return id_is_digits(call->id, WITHDRAW_ID_LENGTH);
}
