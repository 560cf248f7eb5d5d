/*
 * fuzz_json_body.c - the body pipeline of the API (src/api/api.c, util.c), pure: the Content-Type
 * check, api_json_parse (jansson with JSON_REJECT_DUPLICATES, one object, depth at most
 * JSON_DEPTH_MAX), the field checks the handlers share, the bank account rules and the money
 * quote, and the error answer that quotes the reason.
 *
 * Input: a Content-Type line, a newline, then the body. Without a newline it is all body.
 * Properties: a parsed body is an object no deeper than the limit; every refusal has its own
 * reason; the error answer built from any reason is valid JSON with the result's errorCode; an
 * accepted quote adds up (amount + fee = total, amount >= 1, total within the limits).
 */
#include "fuzz_common.h"

#include "api/api_internal.h"
#include "domain/bank.h"

#define FUZZ_WHY_BYTES API_WHY_BYTES_MAX

static const char *const fuzz_withdraw_fields[] = {"amount", NULL};
static const char *const fuzz_bank_fields[] = {"bankCode",           "accountNumber", "holderName",
                                               "authenticationCode", "transactionId", NULL};
static const char *const fuzz_verification_fields[] = {"method", NULL};
static const char *const fuzz_confirm_fields[] = {"code", NULL};

/* The error answer a handler would send for result and why must be JSON naming the result. */
static void fuzz_check_error_answer(cash_result result, const char *why)
{
    struct http_response response;
    memset(&response, 0, sizeof(response));
    api_error(&response, result, why);
    FUZZ_CHECK(response.status == result_http_status(result));
    FUZZ_CHECK(response.body != NULL && response.body_length == strlen(response.body));
    json_error_t error;
    json_t *answer = json_loadb(response.body, response.body_length, JSON_REJECT_DUPLICATES, &error);
    FUZZ_CHECK(answer != NULL);
    FUZZ_CHECK(json_is_string(json_object_get(answer, "errorCode")));
    FUZZ_CHECK(strcmp(json_string_value(json_object_get(answer, "errorCode")),
                      result_error_code(result)) == 0);
    FUZZ_CHECK(json_is_string(json_object_get(answer, "errorMessage")));
    json_decref(answer);
    free(response.body);
}

/* A field check: any refusal is a ValidationError with a reason, and answers as JSON. */
static void fuzz_check_field_result(cash_result result, const char *why)
{
    if (result != CASH_OK) {
        FUZZ_CHECK(result == CASH_VALIDATION_ERROR);
        fuzz_check_why(why, FUZZ_WHY_BYTES, 1);
        fuzz_check_error_answer(result, why);
    }
}

static void fuzz_amount(json_t *body)
{
    static const struct money_rules rules = {500, 500, 1000, 50000000, 100000000};
    json_t *amount = json_object_get(body, "amount");
    if (!json_is_integer(amount)) {
        return;
    }
    struct withdraw_quote quote;
    char why[FUZZ_WHY_BYTES] = "";
    int64_t total = json_integer_value(amount);
    cash_result result = money_quote(&rules, total, &quote, why, sizeof(why));
    fuzz_check_field_result(result, why);
    if (result == CASH_OK) {
        FUZZ_CHECK(quote.total_amount_won == total);
        FUZZ_CHECK(quote.amount_won + quote.fee_won == quote.total_amount_won);
        FUZZ_CHECK(quote.amount_won >= 1 && quote.fee_won >= 0);
        FUZZ_CHECK(total >= rules.withdraw_min_won && total <= rules.withdraw_max_won);
    }
}

static void fuzz_bank(json_t *body)
{
    const char *text = NULL;
    char why[FUZZ_WHY_BYTES] = "";
    char digits[ACCOUNT_NUMBER_DIGITS_MAX + 1];
    char masked[MASKED_NUMBER_BYTES_MAX + 1];
    cash_result result = api_field_string(body, "bankCode", false, &text, why, sizeof(why));
    fuzz_check_field_result(result, why);
    if (result == CASH_OK && text != NULL) {
        fuzz_check_field_result(bank_code_check(text, why, sizeof(why)), why);
    }
    result = api_field_string(body, "accountNumber", false, &text, why, sizeof(why));
    if (result == CASH_OK && text != NULL) {
        result = bank_number_normalize(text, digits, why, sizeof(why));
        fuzz_check_field_result(result, why);
        if (result == CASH_OK) {
            size_t length = strlen(digits);
            FUZZ_CHECK(length >= ACCOUNT_NUMBER_DIGITS_MIN && length <= ACCOUNT_NUMBER_DIGITS_MAX);
            FUZZ_CHECK(strspn(digits, "0123456789") == length);
            bank_number_mask(digits, masked);
            FUZZ_CHECK(strncmp(masked, "******", 6) == 0 && strlen(masked) == 10);
            FUZZ_CHECK(strcmp(masked + 6, digits + length - 4) == 0);
        }
    }
    result = api_field_string(body, "holderName", false, &text, why, sizeof(why));
    if (result == CASH_OK && text != NULL) {
        fuzz_check_field_result(bank_holder_check(text, why, sizeof(why)), why);
    }
}

static void fuzz_fields(json_t *body)
{
    const char *const *lists[] = {fuzz_withdraw_fields, fuzz_bank_fields, fuzz_verification_fields,
                                  fuzz_confirm_fields};
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        char why[FUZZ_WHY_BYTES] = "";
        fuzz_check_field_result(api_fields_allowed(body, lists[i], why, sizeof(why)), why);
    }
    const char *names[] = {"method", "code", "authenticationCode"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *text = NULL;
        char why[FUZZ_WHY_BYTES] = "";
        fuzz_check_field_result(api_field_string(body, names[i], true, &text, why, sizeof(why)),
                                why);
    }
    fuzz_amount(body);
    fuzz_bank(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *newline = memchr(data, '\n', size);
    size_t type_length = newline == NULL ? 0 : (size_t)(newline - data);
    size_t body_offset = newline == NULL ? 0 : type_length + 1;
    char *content_type = fuzz_copy_string(data, type_length);
    /* The HTTP layer hands over a NUL-terminated copy of the body with its length. */
    char *body_text = fuzz_copy_string(data + body_offset, size - body_offset);
    (void)api_content_type_is_json(newline == NULL ? NULL : content_type);

    json_t *body = NULL;
    char why[FUZZ_WHY_BYTES] = "";
    cash_result result = api_json_parse(body_text, size - body_offset, &body, why, sizeof(why));
    if (result == CASH_OK) {
        FUZZ_CHECK(json_is_object(body));
        FUZZ_CHECK(!api_json_too_deep(body, JSON_DEPTH_MAX));
        fuzz_fields(body);
        json_decref(body);
    } else {
        FUZZ_CHECK(result == CASH_INVALID_JSON || result == CASH_VALIDATION_ERROR);
        fuzz_check_why(why, sizeof(why), 1);
        fuzz_check_error_answer(result, why);
    }
    free(body_text);
    free(content_type);
    return 0;
}
