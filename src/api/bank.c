/*
 * bank.c - /cash/v1/bank/accounts: register, show, delete the payout bank account (SPEC 2, 3).
 * The number is normalised, sealed with the data key and only ever answered masked.
 */
#include "api/api_internal.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "domain/bank.h"

struct api_bank_fields {
    const char *bank_code;
    const char *account_number;
    const char *holder_name;
};

/* Body {bankCode, accountNumber, holderName} and the vendor's optional authenticationCode and
 * transactionId (strings, accepted and not used); nothing else. */
static cash_result api_bank_fields_read(json_t *body, struct api_bank_fields *out, char *why,
                                        size_t why_size)
{
    static const char *const fields[] = {"bankCode",           "accountNumber", "holderName",
                                         "authenticationCode", "transactionId", NULL};
    const char *ignored = NULL;
    cash_result result = api_fields_allowed(body, fields, why, why_size);
    if (result == CASH_OK) {
        result = api_field_string(body, "bankCode", true, &out->bank_code, why, why_size);
    }
    if (result == CASH_OK) {
        result = api_field_string(body, "accountNumber", true, &out->account_number, why, why_size);
    }
    if (result == CASH_OK) {
        result = api_field_string(body, "holderName", true, &out->holder_name, why, why_size);
    }
    if (result == CASH_OK) {
        result = api_field_string(body, "authenticationCode", false, &ignored, why, why_size);
    }
    if (result == CASH_OK) {
        result = api_field_string(body, "transactionId", false, &ignored, why, why_size);
    }
    return result;
}

/* Checks the fields (domain/bank.h) and fills bank with the sealed and masked number. */
static cash_result api_bank_prepare(const struct api_call *call,
                                    const struct api_bank_fields *fields, struct bank_account *bank,
                                    char *why, size_t why_size)
{
    char digits[ACCOUNT_NUMBER_DIGITS_MAX + 1] = "";
    memset(bank, 0, sizeof(*bank));
    cash_result result = bank_code_check(fields->bank_code, why, why_size);
    if (result == CASH_OK) {
        result = bank_number_normalize(fields->account_number, digits, why, why_size);
    }
    if (result == CASH_OK) {
        result = bank_holder_check(fields->holder_name, why, why_size);
    }
    if (result != CASH_OK) {
        goto out_wipe_digits;
    }
    if (!crypto_seal(call->api->keyring, digits, strlen(digits), bank->sealed_number,
                     sizeof(bank->sealed_number))) {
        result = CASH_INTERNAL_ERROR;
        goto out_wipe_digits;
    }
    bank_number_mask(digits, bank->masked_number);
    snprintf(bank->account_id, sizeof(bank->account_id), "%s", call->key->account_id);
    snprintf(bank->bank_code, sizeof(bank->bank_code), "%s", fields->bank_code);
    snprintf(bank->holder_name, sizeof(bank->holder_name), "%s", fields->holder_name);
    bank->created_ms = call->now_ms;
    bank->updated_ms = call->now_ms;
out_wipe_digits:
    OPENSSL_cleanse(digits, sizeof(digits));
    return result;
}

/* api_answer of a registration: the bank account row, or the error with why (context). */
static void api_bank_answer(const struct api_call *call, void *context, cash_result result,
                            const void *row, struct http_response *response)
{
    (void)call;
    if (result != CASH_OK) {
        api_error(response, result, context);
        return;
    }
    api_reply(response, 200, wire_bank_account_json(row));
}

/* api_answer of a removal: {"n": 1}, or the error with why (context). */
static void api_bank_removed_answer(const struct api_call *call, void *context, cash_result result,
                                    const void *row, struct http_response *response)
{
    (void)call;
    (void)row;
    if (result != CASH_OK) {
        api_error(response, result, context);
        return;
    }
    json_t *object = json_object();
    if (object != NULL && wire_json_put(object, "n", wire_json_integer(1)) != 0) {
        json_decref(object);
        object = NULL;
    }
    api_reply(response, 200, object);
}

void api_bank_register(const struct api_call *call, struct http_response *response)
{
    char why[API_WHY_BYTES_MAX] = "";
    struct api_bank_fields fields;
    struct bank_account bank;
    struct bank_account stored;
    struct second_factor factor;
    cash_result result = api_bank_fields_read(call->body, &fields, why, sizeof(why));
    if (result == CASH_OK) {
        result = api_bank_prepare(call, &fields, &bank, why, sizeof(why));
    }
    if (result == CASH_OK) {
        result = api_second_factor(call, &factor, why, sizeof(why));
    }
    if (result == CASH_OK) {
        result = store_bank_account_set(call->api->store, &bank, &factor,
                                        api_write_request(call, api_bank_answer, why));
    }
    if (api_write_replayed(call)) {
        return;
    }
    /* Answer what was stored: a replaced account keeps its dateCreated. */
    if (result == CASH_OK &&
        store_bank_account_get(call->api->store, call->key->account_id, &stored) == CASH_OK) {
        bank = stored;
    }
    api_bank_answer(call, why, result, &bank, response);
}

void api_bank_get(const struct api_call *call, struct http_response *response)
{
    struct bank_account bank;
    cash_result result = store_bank_account_get(call->api->store, call->key->account_id, &bank);
    if (result != CASH_OK) {
        api_error(response, result,
                  result == CASH_NOT_FOUND ? "no bank account is registered" : NULL);
        return;
    }
    api_reply(response, 200, wire_bank_account_json(&bank));
}

void api_bank_delete(const struct api_call *call, struct http_response *response)
{
    char why[API_WHY_BYTES_MAX] = "";
    struct second_factor factor;
    cash_result result = api_second_factor(call, &factor, why, sizeof(why));
    if (result == CASH_OK) {
        result = store_bank_account_delete(call->api->store, call->key->account_id, &factor,
                                           api_write_request(call, api_bank_removed_answer, why));
        if (result == CASH_NOT_FOUND) {
            snprintf(why, sizeof(why), "no bank account is registered");
        }
    }
    if (!api_write_replayed(call)) {
        api_bank_removed_answer(call, why, result, NULL, response);
    }
}
