/*
 * verification_ars.c - ARS phone verification (SPEC 5; the protocol is docs/ars-gateway.md):
 * the signed call request to the phone gateway, and the gateway's signed callback
 * POST /cash/v1/verifications/ars/callback, which no API key may call. The callback is
 * authenticated with CASHD_ARS_SECRET over its timestamp and its exact body, refused outside
 * GATEWAY_SKEW_SECONDS_MAX, and remembered in the database so that it is accepted once.
 */
#include "api/api_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/ids.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "domain/names.h"
#include "domain/verification.h"
#include "gateway/ars.h"

#define API_ARS_CONSOLE         "console"
#define API_ARS_REPLAY_KEY      "ars-callback" /* the used_signatures rows of gateway callbacks */
#define API_ARS_DIGITS_MAX      16             /* keys typed during one call */
#define API_CODE_HASH_HEX_BYTES 65

_Static_assert(sizeof(API_ARS_REPLAY_KEY) - 1 <= AUTH_API_KEY_LENGTH,
               "the replay key fits the api_key column's rule");

/* ---- the call request ---- */

/* docs/ars-gateway.md "Call request": the JSON body. NULL if out of memory. */
static char *api_ars_request_body(const struct api_call *call,
                                  const struct verification *verification, const char *ars_code)
{
    json_t *object = json_object();
    int failed = object == NULL ? 1 : 0;
    int64_t expires_ms = verification->created_ms + api_verification_window_ms(call->api);
    if (object != NULL) {
        failed |=
            wire_json_put(object, "verificationId", json_string(verification->verification_id));
        failed |= wire_json_put(object, "phone", json_string(call->key->member_phone));
        failed |= wire_json_put(object, "arsCode", json_string(ars_code));
        failed |= wire_json_put(object, "dateExpires", wire_json_date(expires_ms));
    }
    char *text = failed == 0 ? json_dumps(object, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(object);
    return text;
}

cash_result api_ars_call(const struct api_call *call, const struct verification *verification,
                         const char *ars_code, char *why, size_t why_size)
{
    const struct config *config = call->api->config;
    if (strcmp(config->ars_url, API_ARS_CONSOLE) == 0) {
        /* Development: the call is only logged; a signed callback confirms it (README). */
        log_info("verification %s ARS call to %s arsCode %s (console delivery)",
                 verification->verification_id, call->key->member_phone, ars_code);
        return CASH_OK;
    }
    char *body = api_ars_request_body(call, verification, ars_code);
    if (body == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    size_t length = strlen(body);
    bool taken = ars_call_request(config, body, length, call->now_ms / 1000, why, why_size);
    OPENSSL_cleanse(body, length); /* it holds the arsCode */
    free(body);
    if (!taken) {
        log_warn("verification %s: the ARS call was not placed: %s", verification->verification_id,
                 why);
        return CASH_ARS_CALL_FAILED;
    }
    log_info("verification %s: ARS call requested", verification->verification_id);
    return CASH_OK;
}

/* ---- the callback's authentication ---- */

/* Unix seconds: 1 to GATEWAY_TIMESTAMP_DIGITS_MAX digits and nothing else. */
static bool api_gateway_timestamp_parse(const char *text, int64_t *out)
{
    size_t length = strlen(text);
    if (length == 0 || length > GATEWAY_TIMESTAMP_DIGITS_MAX || !id_is_digits(text, length)) {
        return false;
    }
    int64_t value = 0;
    for (size_t i = 0; i < length; i++) {
        value = value * 10 + (text[i] - '0'); /* at most 12 digits: no overflow */
    }
    *out = value;
    return true;
}

static bool api_lower_hex(const char *text, size_t length)
{
    return strlen(text) == length && strspn(text, "0123456789abcdef") == length;
}

/* The two headers: present (CASH_UNAUTHORIZED), well formed (CASH_VALIDATION_ERROR), on time. */
static cash_result api_gateway_headers(const struct api_call *call, int64_t *timestamp_out,
                                       char *why, size_t why_size)
{
    const struct http_request *request = call->request;
    if (request->gateway_timestamp == NULL || request->gateway_signature == NULL) {
        snprintf(why, why_size, "X-Cashd-Timestamp and X-Cashd-Signature are required");
        return CASH_UNAUTHORIZED;
    }
    if (!api_gateway_timestamp_parse(request->gateway_timestamp, timestamp_out)) {
        snprintf(why, why_size, "X-Cashd-Timestamp must be Unix seconds (1 to %d digits)",
                 GATEWAY_TIMESTAMP_DIGITS_MAX);
        return CASH_VALIDATION_ERROR;
    }
    if (!api_lower_hex(request->gateway_signature, GATEWAY_SIGNATURE_HEX_LENGTH)) {
        snprintf(why, why_size, "X-Cashd-Signature must be %d lower-case hex digits",
                 GATEWAY_SIGNATURE_HEX_LENGTH);
        return CASH_VALIDATION_ERROR;
    }
    int64_t skew_seconds = call->now_ms / 1000 - *timestamp_out;
    if (skew_seconds > GATEWAY_SKEW_SECONDS_MAX || skew_seconds < -GATEWAY_SKEW_SECONDS_MAX) {
        char server_time[ISO8601_BYTES_MAX];
        iso8601_format(call->now_ms, server_time);
        snprintf(why, why_size, "server time is %s; allowed skew is %d minutes", server_time,
                 GATEWAY_SKEW_SECONDS_MAX / 60);
        return CASH_REQUEST_TIME_TOO_SKEWED;
    }
    return CASH_OK;
}

/* docs/ars-gateway.md "Signatures": the HMAC over timestamp "." body, then accepted once. */
static cash_result api_gateway_authenticate(const struct api_call *call, char *why, size_t why_size)
{
    const struct http_request *request = call->request;
    const char *secret = call->api->config->ars_secret;
    char expected[GATEWAY_SIGNATURE_HEX_LENGTH + 1];
    int64_t timestamp = 0;
    cash_result result = api_gateway_headers(call, &timestamp, why, why_size);
    if (result != CASH_OK) {
        return result;
    }
    if (secret[0] == '\0') {
        snprintf(why, why_size, "no ARS secret is configured: callbacks cannot be checked");
        return CASH_SIGNATURE_DOES_NOT_MATCH;
    }
    if (!gateway_signature(secret, request->gateway_timestamp,
                           request->body == NULL ? "" : request->body, request->body_length,
                           expected, sizeof(expected))) {
        return CASH_INTERNAL_ERROR;
    }
    bool equal = crypto_equal(expected, strlen(expected), request->gateway_signature,
                              strlen(request->gateway_signature));
    OPENSSL_cleanse(expected, sizeof(expected));
    if (!equal) {
        return CASH_SIGNATURE_DOES_NOT_MATCH;
    }
    /* Accepted within the skew either side of now: remembered past the latest such moment. */
    int64_t keep_ms = 2LL * GATEWAY_SKEW_SECONDS_MAX * 1000;
    return store_replay_remember(call->api->store, API_ARS_REPLAY_KEY, request->gateway_signature,
                                 call->now_ms, call->now_ms + keep_ms);
}

/* ---- the callback's body ---- */

struct api_call_report {
    const char *verification_id;
    enum verification_call_status result;
    const char *digits; /* NULL unless ANSWERED */
    const char *call_id;
};

/* "ANSWERED", "NO_ANSWER" or "FAILED": what a gateway may report. */
static bool api_call_result_parse(const char *text, enum verification_call_status *out)
{
    return verification_call_status_parse(text, out) &&
           (*out == CALL_ANSWERED || *out == CALL_NO_ANSWER || *out == CALL_FAILED);
}

/* digits: what was typed, 0 to API_ARS_DIGITS_MAX keypad keys. */
static bool api_digits_valid(const char *digits)
{
    size_t length = strlen(digits);
    return length <= API_ARS_DIGITS_MAX && strspn(digits, "0123456789*#") == length;
}

/* Checks the values of the fields read by api_call_report_read. */
static cash_result api_call_report_check(const char *result_text, struct api_call_report *out,
                                         char *why, size_t why_size)
{
    if (!id_is_digits(out->verification_id, VERIFICATION_ID_LENGTH)) {
        snprintf(why, why_size, "verificationId must be a string of %d digits",
                 VERIFICATION_ID_LENGTH);
        return CASH_VALIDATION_ERROR;
    }
    if (!api_call_result_parse(result_text, &out->result)) {
        snprintf(why, why_size, "result must be ANSWERED, NO_ANSWER or FAILED");
        return CASH_VALIDATION_ERROR;
    }
    if ((out->result == CALL_ANSWERED) != (out->digits != NULL)) {
        snprintf(why, why_size, "digits is required with ANSWERED and only with it");
        return CASH_VALIDATION_ERROR;
    }
    if (out->digits != NULL && !api_digits_valid(out->digits)) {
        snprintf(why, why_size, "digits must be at most %d keypad keys (0-9, *, #)",
                 API_ARS_DIGITS_MAX);
        return CASH_VALIDATION_ERROR;
    }
    if (out->call_id != NULL && strlen(out->call_id) > ARS_CALL_ID_BYTES_MAX) {
        snprintf(why, why_size, "callId must be at most %d bytes", ARS_CALL_ID_BYTES_MAX);
        return CASH_VALIDATION_ERROR;
    }
    return CASH_OK;
}

/* Body {"verificationId", "result", "digits" (ANSWERED only), "callId" (optional)}. */
static cash_result api_call_report_read(json_t *body, struct api_call_report *out, char *why,
                                        size_t why_size)
{
    static const char *const fields[] = {"verificationId", "result", "digits", "callId", NULL};
    const char *result_text = NULL;
    memset(out, 0, sizeof(*out));
    cash_result result = api_fields_allowed(body, fields, why, why_size);
    if (result == CASH_OK) {
        result =
            api_field_string(body, "verificationId", true, &out->verification_id, why, why_size);
    }
    if (result == CASH_OK) {
        result = api_field_string(body, "result", true, &result_text, why, why_size);
    }
    if (result == CASH_OK) {
        result = api_field_string(body, "digits", false, &out->digits, why, why_size);
    }
    if (result == CASH_OK) {
        result = api_field_string(body, "callId", false, &out->call_id, why, why_size);
    }
    if (result != CASH_OK) {
        return result;
    }
    return api_call_report_check(result_text, out, why, why_size);
}

/* ---- the callback ---- */

/* Applies the report: the digits are compared with the arsCode's keyed hash in constant time. */
static cash_result api_call_report_apply(const struct api_call *call,
                                         const struct api_call_report *report,
                                         struct verification *out, char *why, size_t why_size)
{
    struct verification verification;
    struct verification_limits limits;
    char hash[API_CODE_HASH_HEX_BYTES];
    cash_result result =
        store_verification_get(call->api->store, report->verification_id, &verification);
    if (result == CASH_OK && verification.method != VERIFICATION_ARS) {
        result = CASH_NOT_FOUND;
    }
    if (result != CASH_OK) {
        return result;
    }
    struct verification_call applied = {
        .verification_id = report->verification_id,
        .reported = report->result,
        .now_ms = call->now_ms,
        .window_ms = api_verification_window_ms(call->api),
        .limits = &limits,
    };
    if (report->digits != NULL) {
        crypto_code_hash(call->api->keyring, verification.verification_id, report->digits, hash);
        applied.digits_correct = crypto_equal(hash, strlen(hash), verification.code_hash,
                                              strlen(verification.code_hash));
        OPENSSL_cleanse(hash, sizeof(hash));
    }
    api_verification_limits(call->api, &limits);
    result = store_verification_call_result(call->api->store, &applied);
    if (result == CASH_INVALID_STATUS) {
        snprintf(why, why_size, "the verification is %s already",
                 verification_status_name(verification.status));
    }
    if (result == CASH_OK) {
        *out = applied.out;
    }
    return result;
}

static json_t *api_call_report_answer(const struct verification *verification)
{
    json_t *object = json_object();
    int failed = object == NULL ? 1 : 0;
    if (object != NULL) {
        failed |=
            wire_json_put(object, "verificationId", json_string(verification->verification_id));
        failed |= wire_json_put(object, "status",
                                json_string(verification_status_name(verification->status)));
        failed |=
            wire_json_put(object, "callStatus",
                          json_string(verification_call_status_name(verification->call_status)));
    }
    if (failed != 0) {
        json_decref(object);
        return NULL;
    }
    return object;
}

void api_ars_callback(const struct api_call *call, struct http_response *response)
{
    char why[API_WHY_BYTES_MAX] = "";
    struct api_call_report report;
    struct verification after;
    cash_result result = api_gateway_authenticate(call, why, sizeof(why));
    if (result == CASH_OK) {
        result = api_call_report_read(call->body, &report, why, sizeof(why));
    }
    if (result == CASH_OK) {
        result = api_call_report_apply(call, &report, &after, why, sizeof(why));
    }
    if (result != CASH_OK) {
        api_error(response, result, why);
        return;
    }
    log_info("verification %s: ARS call %s", after.verification_id,
             verification_call_status_name(after.call_status));
    api_reply(response, 200, api_call_report_answer(&after));
}
