/*
 * verification.c - /cash/v1/verifications: the second factor (SPEC 5). A 6-digit code is stored
 * only as a keyed hash and compared in constant time; it is written to the log only when mail
 * delivery is "console" (development), and nowhere else.
 */
#include "api/api_internal.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/ids.h"
#include "common/log.h"
#include "domain/names.h"
#include "domain/verification.h"

#define API_CODE_HASH_HEX_BYTES 65
#define API_MAIL_CONSOLE        "console"

/* Body exactly {"method": "EMAIL_OTP"}: the one method delivered so far. */
static cash_result api_method_read(json_t *body, enum verification_method *out, char *why,
                                   size_t why_size)
{
    static const char *const fields[] = {"method", NULL};
    const char *text = NULL;
    cash_result result = api_fields_allowed(body, fields, why, why_size);
    if (result == CASH_OK) {
        result = api_field_string(body, "method", true, &text, why, why_size);
    }
    if (result != CASH_OK) {
        return result;
    }
    if (!verification_method_parse(text, out)) {
        snprintf(why, why_size, "method must be EMAIL_OTP, ARS or TOTP");
        return CASH_VALIDATION_ERROR;
    }
    if (*out != VERIFICATION_EMAIL_OTP) {
        snprintf(why, why_size, "method %s is not configured", verification_method_name(*out));
        return CASH_VALIDATION_ERROR;
    }
    return CASH_OK;
}

static json_t *api_verification_answer(const struct api_call *call,
                                       const struct verification *verification)
{
    return api_verification_json(verification, call->now_ms, api_verification_window_ms(call->api),
                                 call->api->config->verification_max_uses);
}

/* A new PENDING verification of the caller with a fresh code; the code goes to code_out. */
static cash_result api_verification_prepare(const struct api_call *call,
                                            enum verification_method method,
                                            struct verification *verification,
                                            char code_out[VERIFICATION_CODE_DIGITS + 1])
{
    memset(verification, 0, sizeof(*verification));
    if (!id_sortable_new(call->now_ms, verification->verification_id) ||
        !crypto_random_text("0123456789", VERIFICATION_CODE_DIGITS, code_out)) {
        return CASH_INTERNAL_ERROR;
    }
    snprintf(verification->member_id, sizeof(verification->member_id), "%s", call->key->member_id);
    snprintf(verification->account_id, sizeof(verification->account_id), "%s",
             call->key->account_id);
    verification->method = method;
    verification->status = VERIFICATION_PENDING;
    verification->created_ms = call->now_ms;
    crypto_code_hash(call->api->keyring, verification->verification_id, code_out,
                     verification->code_hash);
    return CASH_OK;
}

/* Sends the code. Only console delivery exists so far: any other mail setting fails the
 * verification, so that it can never be confirmed. */
static cash_result api_code_deliver(const struct api_call *call,
                                    const struct verification *verification, const char *code,
                                    char *why, size_t why_size)
{
    if (strcmp(call->api->config->mail, API_MAIL_CONSOLE) == 0) {
        /* The only place a code is ever logged: development delivery, by the operator's choice. */
        log_info("verification %s code %s for %s (console delivery)", verification->verification_id,
                 code, call->key->member_email);
        return CASH_OK;
    }
    if (store_verification_fail(call->api->store, verification->verification_id) != CASH_OK) {
        log_error("verification %s: could not mark it failed", verification->verification_id);
    }
    snprintf(why, why_size, "mail delivery is not configured");
    return CASH_SERVICE_UNAVAILABLE;
}

void api_verification_create(const struct api_call *call, struct http_response *response)
{
    char why[API_WHY_BYTES_MAX] = "";
    char code[VERIFICATION_CODE_DIGITS + 1] = "";
    enum verification_method method = VERIFICATION_EMAIL_OTP;
    struct verification verification;
    cash_result result = api_method_read(call->body, &method, why, sizeof(why));
    if (result == CASH_OK) {
        result = api_verification_prepare(call, method, &verification, code);
    }
    if (result == CASH_OK) {
        result = store_verification_create(call->api->store, &verification);
    }
    if (result == CASH_OK) {
        result = api_code_deliver(call, &verification, code, why, sizeof(why));
    }
    OPENSSL_cleanse(code, sizeof(code));
    if (result != CASH_OK) {
        api_error(response, result, why);
        return;
    }
    api_reply(response, 200, api_verification_answer(call, &verification));
}

/* Body exactly {"code": "<6 digits>"}. */
static cash_result api_code_read(json_t *body, const char **out, char *why, size_t why_size)
{
    static const char *const fields[] = {"code", NULL};
    cash_result result = api_fields_allowed(body, fields, why, why_size);
    if (result != CASH_OK) {
        return result;
    }
    json_t *code = json_object_get(body, "code");
    if (!json_is_string(code) || !id_is_digits(json_string_value(code), VERIFICATION_CODE_DIGITS)) {
        snprintf(why, why_size, "code must be a string of %d digits", VERIFICATION_CODE_DIGITS);
        return CASH_VALIDATION_ERROR;
    }
    *out = json_string_value(code);
    return CASH_OK;
}

/* The caller's own verification named by the path; another member's is CASH_NOT_FOUND. */
static cash_result api_verification_find(const struct api_call *call, struct verification *out)
{
    if (!api_id_valid(call)) {
        return CASH_NOT_FOUND;
    }
    cash_result result = store_verification_get(call->api->store, call->id, out);
    if (result == CASH_OK && strcmp(out->member_id, call->key->member_id) != 0) {
        return CASH_NOT_FOUND;
    }
    return result;
}

void api_verification_confirm(const struct api_call *call, struct http_response *response)
{
    char why[API_WHY_BYTES_MAX] = "";
    char hash[API_CODE_HASH_HEX_BYTES];
    const char *code = NULL;
    struct verification verification;
    struct verification after;
    cash_result result = api_code_read(call->body, &code, why, sizeof(why));
    if (result == CASH_OK) {
        result = api_verification_find(call, &verification);
    }
    if (result != CASH_OK) {
        api_error(response, result, why);
        return;
    }
    crypto_code_hash(call->api->keyring, verification.verification_id, code, hash);
    bool correct =
        crypto_equal(hash, strlen(hash), verification.code_hash, strlen(verification.code_hash));
    OPENSSL_cleanse(hash, sizeof(hash));
    /* SPEC 5: the store re-checks the window and the lock inside the attempt's transaction. */
    result =
        store_verification_attempt(call->api->store, verification.verification_id, correct,
                                   call->now_ms, api_verification_window_ms(call->api), &after);
    if (result == CASH_INVALID_VERIFICATION_CODE) {
        long long left = (long long)verification_attempts_left(&after);
        snprintf(why, sizeof(why), "the verification code is wrong: %lld attempt%s left", left,
                 left == 1 ? "" : "s");
    }
    if (result != CASH_OK) {
        api_error(response, result, why);
        return;
    }
    api_reply(response, 200, api_verification_answer(call, &after));
}

void api_verification_get(const struct api_call *call, struct http_response *response)
{
    struct verification verification;
    cash_result result = api_verification_find(call, &verification);
    if (result != CASH_OK) {
        api_error(response, result, NULL);
        return;
    }
    api_reply(response, 200, api_verification_answer(call, &verification));
}
