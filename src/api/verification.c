/*
 * verification.c - /cash/v1/verifications: the second factor (SPEC 5) by email OTP, ARS phone
 * call or TOTP app. A code is stored only as a keyed hash and compared in constant time; it is
 * written to the log only when delivery is "console" (development), and nowhere else. Creating
 * and confirming are held to the abuse limits (verification_limits.c) inside the store.
 */
#include "api/api_internal.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/ids.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "common/totp.h"
#include "domain/abuse.h"
#include "domain/names.h"
#include "domain/verification.h"
#include "gateway/mail.h"

#define API_CODE_HASH_HEX_BYTES 65
#define API_CONSOLE             "console"
#define API_CODE_BYTES_MAX      (VERIFICATION_CODE_DIGITS + 1)

/* Body exactly {"method": "EMAIL_OTP" | "ARS" | "TOTP"}. */
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
    return CASH_OK;
}

/* ARS needs a phone gateway (CASHD_ARS_URL not empty); TOTP an enrolled app (cashctl member
 * totp). */
static cash_result api_method_available(const struct api_call *call,
                                        enum verification_method method, char *why, size_t why_size)
{
    if (method == VERIFICATION_ARS && call->api->config->ars_url[0] == '\0') {
        snprintf(why, why_size, "method ARS is not configured");
        return CASH_VALIDATION_ERROR;
    }
    if (method != VERIFICATION_TOTP) {
        return CASH_OK;
    }
    struct totp_enrolment enrolment;
    cash_result result = store_totp_get(call->api->store, call->key->member_id, &enrolment);
    OPENSSL_cleanse(&enrolment, sizeof(enrolment));
    if (result == CASH_NOT_FOUND) {
        snprintf(why, why_size, "method TOTP: this member has no authenticator app enrolled");
        return CASH_VALIDATION_ERROR;
    }
    return result;
}

/* True when the method's delivery goes over the network and waits on this thread. */
static bool api_delivery_remote(const struct config *config, enum verification_method method)
{
    switch (method) {
    case VERIFICATION_EMAIL_OTP:
        return strcmp(config->mail, API_CONSOLE) != 0;
    case VERIFICATION_ARS:
        return strcmp(config->ars_url, API_CONSOLE) != 0;
    case VERIFICATION_TOTP:
        return false;
    }
    return false;
}

static json_t *api_verification_answer(const struct api_call *call,
                                       const struct verification *verification)
{
    return wire_verification_json(verification, call->now_ms, api_verification_window_ms(call->api),
                                  call->api->config->verification_max_uses);
}

/* A new PENDING verification of the caller; its code (none for TOTP) goes to code_out. */
static cash_result api_verification_prepare(const struct api_call *call,
                                            enum verification_method method,
                                            struct verification *verification,
                                            char code_out[API_CODE_BYTES_MAX])
{
    memset(verification, 0, sizeof(*verification));
    code_out[0] = '\0';
    if (!id_sortable_new(call->now_ms, verification->verification_id)) {
        return CASH_INTERNAL_ERROR;
    }
    if (method != VERIFICATION_TOTP &&
        !crypto_random_text("0123456789", verification_code_digits(method), code_out)) {
        return CASH_INTERNAL_ERROR;
    }
    snprintf(verification->member_id, sizeof(verification->member_id), "%s", call->key->member_id);
    snprintf(verification->account_id, sizeof(verification->account_id), "%s",
             call->key->account_id);
    verification->method = method;
    verification->status = VERIFICATION_PENDING;
    verification->created_ms = call->now_ms;
    verification->call_status = method == VERIFICATION_ARS ? CALL_REQUESTED : CALL_NONE;
    if (method != VERIFICATION_TOTP) {
        crypto_code_hash(call->api->keyring, verification->verification_id, code_out,
                         verification->code_hash);
    }
    return CASH_OK;
}

/* Sends the email: to the log with CASHD_MAIL=console, else over SMTP (gateway/mail.h). */
static cash_result api_mail_deliver(const struct api_call *call,
                                    const struct verification *verification, const char *code,
                                    char *why, size_t why_size)
{
    const struct config *config = call->api->config;
    if (strcmp(config->mail, API_CONSOLE) == 0) {
        /* The only place a code is ever logged: development delivery, by the operator's choice. */
        log_info("verification %s code %s for %s (console delivery)", verification->verification_id,
                 code, call->key->member_email);
        return CASH_OK;
    }
    char text[MAIL_MESSAGE_BYTES_MAX];
    size_t length = 0;
    const struct mail_code mail = {
        .from = config->mail_from,
        .to = call->key->member_email,
        .code = code,
        .verification_id = verification->verification_id,
        .window_seconds = config->verification_window_seconds,
        .now_ms = call->now_ms,
    };
    bool sent =
        mail_compose(&mail, text, sizeof(text), &length, why, why_size) &&
        mail_send(config, config->mail_from, call->key->member_email, text, length, why, why_size);
    OPENSSL_cleanse(text, sizeof(text));
    if (!sent) {
        log_warn("verification %s: the email was not delivered: %s", verification->verification_id,
                 why);
        return CASH_MAIL_DELIVERY_FAILED;
    }
    log_info("verification %s: email delivered", verification->verification_id);
    return CASH_OK;
}

/* Delivers the code of a new verification; one whose delivery failed can never be confirmed. */
static cash_result api_code_deliver(const struct api_call *call,
                                    const struct verification *verification, const char *code,
                                    char *why, size_t why_size)
{
    cash_result result = CASH_OK;
    cash_result marked = CASH_OK;
    if (verification->method == VERIFICATION_EMAIL_OTP) {
        result = api_mail_deliver(call, verification, code, why, why_size);
        if (result != CASH_OK) {
            marked = store_verification_fail(call->api->store, verification->verification_id);
        }
    } else if (verification->method == VERIFICATION_ARS) {
        result = api_ars_call(call, verification, code, why, why_size);
        if (result != CASH_OK) {
            struct verification_limits limits;
            api_verification_limits(call->api, &limits);
            struct verification_call failed = {
                .verification_id = verification->verification_id,
                .reported = CALL_FAILED,
                .now_ms = call->now_ms,
                .window_ms = api_verification_window_ms(call->api),
                .limits = &limits,
            };
            marked = store_verification_call_result(call->api->store, &failed);
        }
    }
    if (marked != CASH_OK) {
        log_error("verification %s: could not mark it failed", verification->verification_id);
    }
    if (result != CASH_OK && result != CASH_INTERNAL_ERROR) {
        /* The client learns which verification failed: it shows FAILED from now on. */
        char reason[API_WHY_BYTES_MAX];
        snprintf(reason, sizeof(reason), "%s", why);
        snprintf(why, why_size, "verification %s: %.200s", verification->verification_id, reason);
    }
    return result;
}

/* The answer to a new verification: ARS adds the arsCode the member types during the call. */
static json_t *api_created_answer(const struct api_call *call,
                                  const struct verification *verification, const char *code)
{
    json_t *object = api_verification_answer(call, verification);
    if (object != NULL && verification->method == VERIFICATION_ARS &&
        wire_json_put(object, "arsCode", json_string(code)) != 0) {
        json_decref(object);
        object = NULL;
    }
    return object;
}

/* How a verification's creation answers (api_answer's context). */
struct api_created {
    const char *code;
    const char *why;
    const struct verification_limits *limits;
};

/* api_answer of a creation: the new verification (with the arsCode of an ARS call), or the
 * error with its Retry-After. */
static void api_created_reply(const struct api_call *call, void *context, cash_result result,
                              const void *row, struct http_response *response)
{
    const struct api_created *created = context;
    if (result != CASH_OK) {
        api_error_retry(call, response, result, created->why, created->limits);
        return;
    }
    api_reply(response, 200, api_created_answer(call, row, created->code));
}

/* Stores the verification within the abuse limits and delivers its code. */
static cash_result api_verification_start(const struct api_call *call,
                                          struct verification *verification, const char *code,
                                          struct verification_limits *limits, char *why,
                                          size_t why_size)
{
    api_verification_limits(call->api, limits);
    struct api_created created = {.code = code, .why = why, .limits = limits};
    cash_result result =
        store_verification_open(call->api->store, verification, limits,
                                api_write_request(call, api_created_reply, &created));
    if (api_write_replayed(call)) {
        return CASH_OK;
    }
    if (result == CASH_TOO_MANY_REQUESTS) {
        snprintf(why, why_size, "too many verifications were asked for; try again in %lld s",
                 (long long)abuse_retry_after_seconds(call->now_ms + limits->retry_after_ms,
                                                      call->now_ms));
    } else if (result == CASH_TOO_MANY_ATTEMPTS) {
        snprintf(why, why_size, "%s",
                 "too many wrong codes in a row: this member is locked out for now");
    }
    if (result != CASH_OK) {
        return result;
    }
    result = api_code_deliver(call, verification, code, why, why_size);
    if (result != CASH_OK) {
        api_write_forget(call); /* no code went out: the same request may be sent again */
    }
    return result;
}

void api_verification_create(const struct api_call *call, struct http_response *response)
{
    char why[API_WHY_BYTES_MAX] = "";
    char code[API_CODE_BYTES_MAX] = "";
    enum verification_method method = VERIFICATION_EMAIL_OTP;
    struct verification verification;
    struct verification_limits limits = {.retry_after_ms = 0};
    bool delivering = false;
    cash_result result = api_method_read(call->body, &method, why, sizeof(why));
    if (result == CASH_OK) {
        result = api_method_available(call, method, why, sizeof(why));
    }
    if (result == CASH_OK && api_delivery_remote(call->api->config, method)) {
        delivering = gateway_delivery_begin(call->api->gateway);
        if (!delivering) {
            snprintf(why, sizeof(why), "too many codes are being delivered right now; try again");
            result = CASH_SERVICE_UNAVAILABLE;
        }
    }
    if (result == CASH_OK) {
        result = api_verification_prepare(call, method, &verification, code);
    }
    if (result == CASH_OK) {
        result = api_verification_start(call, &verification, code, &limits, why, sizeof(why));
    }
    if (delivering) {
        gateway_delivery_end(call->api->gateway);
    }
    if (!api_write_replayed(call)) {
        struct api_created created = {.code = code, .why = why, .limits = &limits};
        api_created_reply(call, &created, result, &verification, response);
    }
    OPENSSL_cleanse(code, sizeof(code));
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

/* TOTP: does code belong to a step within TOTP_STEPS_TOLERATED of now, and to which one? */
static cash_result api_totp_check(const struct api_call *call, const char *code, bool *correct_out,
                                  int64_t *step_out)
{
    struct totp_enrolment enrolment;
    char secret_base64[SEALED_BYTES_MAX + 1];
    unsigned char secret[TOTP_SECRET_BYTES * 2];
    cash_result result = store_totp_get(call->api->store, call->key->member_id, &enrolment);
    if (result != CASH_OK) {
        return result;
    }
    size_t length = 0;
    if (crypto_open(call->api->keyring, enrolment.sealed_secret, secret_base64,
                    sizeof(secret_base64))) {
        length = base64_decode(secret_base64, strlen(secret_base64), secret, sizeof(secret));
    }
    if (length == 0) {
        log_error("the TOTP secret of member %s cannot be opened with data key %s",
                  call->key->member_id, call->api->keyring->key_id);
        result = CASH_INTERNAL_ERROR;
        goto out_wipe;
    }
    int64_t step_now = totp_step(call->now_ms / 1000, TOTP_PERIOD_SECONDS);
    *correct_out = totp_match(secret, length, step_now, TOTP_STEPS_TOLERATED, code, step_out);
out_wipe:
    OPENSSL_cleanse(secret, sizeof(secret));
    OPENSSL_cleanse(secret_base64, sizeof(secret_base64));
    OPENSSL_cleanse(&enrolment, sizeof(enrolment));
    return result;
}

/* Is code right for verification? EMAIL_OTP: its keyed hash; TOTP: the member's app. */
static cash_result api_code_check(const struct api_call *call,
                                  const struct verification *verification, const char *code,
                                  struct verification_try *attempt)
{
    if (verification->method == VERIFICATION_TOTP) {
        return api_totp_check(call, code, &attempt->code_correct, &attempt->totp_step);
    }
    char hash[API_CODE_HASH_HEX_BYTES];
    crypto_code_hash(call->api->keyring, verification->verification_id, code, hash);
    attempt->code_correct =
        crypto_equal(hash, strlen(hash), verification->code_hash, strlen(verification->code_hash));
    OPENSSL_cleanse(hash, sizeof(hash));
    return CASH_OK;
}

/* The message of a refused try: attempts left, a TOTP code used already, or which lock. */
static void api_try_refusal(const struct verification *before,
                            const struct verification_try *attempt, cash_result result, char *why,
                            size_t why_size)
{
    if (result == CASH_INVALID_VERIFICATION_CODE) {
        long long left = (long long)verification_attempts_left(&attempt->out);
        snprintf(why, why_size, "%s: %lld attempt%s left",
                 attempt->code_reused ? "this code was used already; wait for the next one"
                                      : "the verification code is wrong",
                 left, left == 1 ? "" : "s");
    } else if (result == CASH_TOO_MANY_ATTEMPTS) {
        bool locked =
            before->status == VERIFICATION_LOCKED ||
            (attempt->out.verification_id[0] != '\0' && attempt->out.status == VERIFICATION_LOCKED);
        snprintf(why, why_size, "%s",
                 locked ? "too many wrong codes: the verification is locked; ask for a new one"
                        : "too many wrong codes in a row: this member is locked out for now");
    } else if (result == CASH_INVALID_STATUS && before->method == VERIFICATION_ARS) {
        snprintf(why, why_size, "an ARS verification is confirmed by the phone call");
    }
}

/* How a try at a code answers (api_answer's context); attempt NULL before any try. */
struct api_tried {
    const struct verification *before;
    const struct verification_try *attempt;
    const char *why;
    const struct verification_limits *limits;
};

/* api_answer of a try: the verification after it, or why it was refused. */
static void api_tried_reply(const struct api_call *call, void *context, cash_result result,
                            const void *row, struct http_response *response)
{
    const struct api_tried *tried = context;
    if (result == CASH_OK) {
        api_reply(response, 200, api_verification_answer(call, row));
        return;
    }
    char why[API_WHY_BYTES_MAX];
    snprintf(why, sizeof(why), "%s", tried->why);
    if (tried->attempt != NULL) {
        api_try_refusal(tried->before, tried->attempt, result, why, sizeof(why));
    }
    api_error_retry(call, response, result, why, tried->limits);
}

void api_verification_confirm(const struct api_call *call, struct http_response *response)
{
    char why[API_WHY_BYTES_MAX] = "";
    const char *code = NULL;
    struct verification verification;
    struct verification_limits limits;
    struct verification_try attempt;
    memset(&attempt, 0, sizeof(attempt));
    api_verification_limits(call->api, &limits);
    struct api_tried tried = {.before = &verification, .why = why, .limits = &limits};
    cash_result result = api_code_read(call->body, &code, why, sizeof(why));
    if (result == CASH_OK) {
        result = api_verification_find(call, &verification);
    }
    if (result == CASH_OK && !verification_confirmed_by_code(verification.method)) {
        result = CASH_INVALID_STATUS;
    }
    if (result == CASH_OK) {
        result = api_code_check(call, &verification, code, &attempt);
    }
    if (result == CASH_OK) {
        /* SPEC 5: the store re-checks the window and both locks inside the try's transaction. */
        attempt.verification_id = verification.verification_id;
        attempt.now_ms = call->now_ms;
        attempt.window_ms = api_verification_window_ms(call->api);
        attempt.limits = &limits;
        tried.attempt = &attempt;
        result = store_verification_try(call->api->store, &attempt,
                                        api_write_request(call, api_tried_reply, &tried));
        if (api_write_replayed(call)) {
            return;
        }
    } else if (result == CASH_INVALID_STATUS) {
        tried.attempt = &attempt;
    }
    api_tried_reply(call, &tried, result, &attempt.out, response);
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
