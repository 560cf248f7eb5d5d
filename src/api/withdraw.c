/*
 * withdraw.c - /cash/v1/withdraw: request (SPEC 1, 3), list, quote, one, cancel (SPEC 2, 4).
 */
#include "api/api_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ids.h"
#include "common/timeutil.h"
#include "domain/abuse.h"
#include "domain/query.h"

/* SPEC 3: body exactly {"amount": <JSON integer>}. */
static cash_result api_amount_from_body(json_t *body, int64_t *out, char *why, size_t why_size)
{
    static const char *const fields[] = {"amount", NULL};
    cash_result result = api_fields_allowed(body, fields, why, why_size);
    if (result != CASH_OK) {
        return result;
    }
    json_t *amount = json_object_get(body, "amount");
    if (amount == NULL) {
        snprintf(why, why_size, "amount is required");
        return CASH_VALIDATION_ERROR;
    }
    if (!json_is_integer(amount)) {
        snprintf(why, why_size, "amount must be an integer");
        return CASH_VALIDATION_ERROR;
    }
    *out = json_integer_value(amount);
    return CASH_OK;
}

/* The caller's part of a new withdrawal: ids, money and times; the store adds the rest. */
static cash_result api_withdraw_prepare(const struct api_call *call,
                                        const struct withdraw_quote *quote,
                                        struct second_factor *factor,
                                        struct withdraw_create *create)
{
    struct withdrawal *withdrawal = &create->withdrawal;
    memset(create, 0, sizeof(*create));
    if (!id_sortable_new(call->now_ms, withdrawal->withdraw_id) ||
        !id_sortable_new(call->now_ms, create->history_id)) {
        return CASH_INTERNAL_ERROR;
    }
    snprintf(withdrawal->account_id, sizeof(withdrawal->account_id), "%s", call->key->account_id);
    snprintf(withdrawal->member_id, sizeof(withdrawal->member_id), "%s", call->key->member_id);
    withdrawal->amount_won = quote->amount_won;
    withdrawal->fee_won = quote->fee_won;
    withdrawal->total_amount_won = quote->total_amount_won;
    withdrawal->created_ms = call->now_ms;
    withdrawal->updated_ms = call->now_ms;
    create->day_start_ms = kst_day_start_ms(call->now_ms);
    create->daily_limit_won = call->api->money.daily_limit_won;
    create->factor = factor;
    create->bank_cooling_off_ms = call->api->config->bank_cooling_off_hours * 3600 * 1000;
    return CASH_OK;
}

/* SPEC 5: says when the cooling-off after the bank account's change ends. */
static void api_cooling_off_why(const struct api_call *call, char *why, size_t why_size)
{
    struct bank_account bank;
    int64_t until_ms = 0;
    if (store_bank_account_get(call->api->store, call->key->account_id, &bank) != CASH_OK ||
        !bank_cooling_off_active(&bank, call->api->config->bank_cooling_off_hours * 3600 * 1000,
                                 call->now_ms, &until_ms)) {
        return;
    }
    char changed[ISO8601_BYTES_MAX];
    char until[ISO8601_BYTES_MAX];
    iso8601_format(bank.updated_ms, changed);
    iso8601_format(until_ms, until);
    snprintf(why, why_size, "the bank account changed at %s; withdrawals are possible from %s",
             changed, until);
}

/* api_answer of the writes of a withdrawal: the withdrawal row, or the error with why (context). */
static void api_withdrawal_answer(const struct api_call *call, void *context, cash_result result,
                                  const void *row, struct http_response *response)
{
    (void)call;
    if (result != CASH_OK) {
        api_error(response, result, context);
        return;
    }
    api_reply(response, 200, wire_withdrawal_json(row));
}

void api_withdraw_create(const struct api_call *call, struct http_response *response)
{
    char why[API_WHY_BYTES_MAX] = "";
    int64_t total_won = 0;
    struct withdraw_quote quote;
    struct second_factor factor;
    struct withdraw_create create;
    struct withdrawal created;
    cash_result result = api_amount_from_body(call->body, &total_won, why, sizeof(why));
    if (result == CASH_OK) {
        result = money_quote(&call->api->money, total_won, &quote, why, sizeof(why));
    }
    if (result == CASH_OK) {
        result = api_second_factor(call, &factor, why, sizeof(why));
    }
    if (result == CASH_OK) {
        result = api_withdraw_prepare(call, &quote, &factor, &create);
    }
    if (result == CASH_OK) {
        /* SPEC 3: second factor, bank account, daily limit and balance, in one transaction. */
        result = store_withdraw_create(call->api->store, &create, &created,
                                       api_write_request(call, api_withdrawal_answer, why));
    }
    if (api_write_replayed(call)) {
        return;
    }
    if (result == CASH_BANK_ACCOUNT_COOLING_OFF) {
        api_cooling_off_why(call, why, sizeof(why));
    }
    api_withdrawal_answer(call, why, result, &created, response);
}

/* GET /cash/v1/withdraw/quote?amount=N: the only parameter, once, an integer. */
static cash_result api_quote_amount(const struct http_request *request, int64_t *out, char *why,
                                    size_t why_size)
{
    const char *text = NULL;
    for (size_t i = 0; i < request->param_count; i++) {
        if (strcmp(request->params[i].key, "amount") != 0) {
            return api_param_unknown(request->params[i].key, why, why_size);
        }
        if (text != NULL) {
            snprintf(why, why_size, "query parameter amount is repeated");
            return CASH_VALIDATION_ERROR;
        }
        text = request->params[i].value;
    }
    if (text == NULL) {
        snprintf(why, why_size, "query parameter amount is required");
        return CASH_VALIDATION_ERROR;
    }
    if (!api_parse_integer(text, out)) {
        snprintf(why, why_size, "query parameter amount must be an integer");
        return CASH_VALIDATION_ERROR;
    }
    return CASH_OK;
}

void api_withdraw_quote(const struct api_call *call, struct http_response *response)
{
    char why[API_WHY_BYTES_MAX] = "";
    int64_t total_won = 0;
    struct withdraw_quote quote;
    cash_result result = api_quote_amount(call->request, &total_won, why, sizeof(why));
    if (result == CASH_OK) {
        result = money_quote(&call->api->money, total_won, &quote, why, sizeof(why));
    }
    if (result != CASH_OK) {
        api_error(response, result, why);
        return;
    }
    json_t *object = json_object();
    int failed = object == NULL ? -1 : 0;
    if (object != NULL) {
        failed |= wire_json_put(object, "totalAmount", wire_json_integer(quote.total_amount_won));
        failed |= wire_json_put(object, "fee", wire_json_integer(quote.fee_won));
        failed |= wire_json_put(object, "amount", wire_json_integer(quote.amount_won));
    }
    if (failed != 0) {
        json_decref(object);
        object = NULL;
    }
    api_reply(response, 200, object);
}

static json_t *api_withdraw_page_json(const struct withdrawal *rows, size_t count,
                                      const char *next_key)
{
    json_t *object = json_object();
    json_t *data = json_array();
    int failed = 0;
    if (object == NULL || data == NULL) {
        json_decref(object);
        json_decref(data);
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        /* json_array_append_new steals the reference to the new element. */
        json_t *row = wire_withdrawal_json(&rows[i]);
        failed |= row == NULL ? -1 : json_array_append_new(data, row);
    }
    failed |= wire_json_put(object, "data", data);
    failed |= wire_json_put(object, "nextKey", wire_json_text_or_null(next_key));
    if (failed != 0) {
        json_decref(object);
        return NULL;
    }
    return object;
}

void api_withdraw_list(const struct api_call *call, struct http_response *response)
{
    char why[API_WHY_BYTES_MAX] = "";
    char next_key[WITHDRAW_ID_LENGTH + 1] = "";
    struct withdraw_query query;
    struct query_param params[HTTP_QUERY_PARAMS_MAX];
    struct withdrawal *rows = NULL;
    size_t count = 0;
    memset(&query, 0, sizeof(query));
    size_t param_count = api_query_params(call->request, params);
    cash_result result = withdraw_query_parse(params, param_count, &query, why, sizeof(why));
    if (result != CASH_OK) {
        api_error(response, result, why);
        return;
    }
    snprintf(query.account_id, sizeof(query.account_id), "%s", call->key->account_id);
    query.processing_started_before_ms =
        call->now_ms - call->api->config->payout_overdue_seconds * 1000;
    rows = calloc(query.limit, sizeof(*rows));
    if (rows == NULL) {
        api_error(response, CASH_INTERNAL_ERROR, NULL);
        return;
    }
    result = store_withdraw_list(call->api->store, &query, rows, &count, next_key);
    if (result != CASH_OK) {
        api_error(response, result, NULL);
        goto out_free_rows;
    }
    api_reply(response, 200, api_withdraw_page_json(rows, count, next_key));
out_free_rows:
    free(rows);
}

void api_withdraw_get(const struct api_call *call, struct http_response *response)
{
    struct withdrawal withdrawal;
    if (!api_id_valid(call)) {
        api_error(response, CASH_NOT_FOUND, NULL);
        return;
    }
    cash_result result =
        store_withdraw_get(call->api->store, call->key->account_id, call->id, &withdrawal);
    if (result != CASH_OK) {
        api_error(response, result, NULL);
        return;
    }
    api_reply(response, 200, wire_withdrawal_json(&withdrawal));
}

void api_withdraw_cancel(const struct api_call *call, struct http_response *response)
{
    char history_id[HISTORY_ID_LENGTH + 1];
    struct withdrawal withdrawal;
    if (!api_id_valid(call)) {
        api_error(response, CASH_NOT_FOUND, NULL);
        return;
    }
    if (!id_sortable_new(call->now_ms, history_id)) {
        api_error(response, CASH_INTERNAL_ERROR, NULL);
        return;
    }
    /* SPEC 4: the whole totalAmount returns to the balance in the same transaction. */
    cash_result result = store_withdraw_cancel(
        call->api->store, call->key->account_id, call->id, history_id, call->now_ms, &withdrawal,
        api_write_request(call, api_withdrawal_answer, NULL));
    if (!api_write_replayed(call)) {
        api_withdrawal_answer(call, NULL, result, &withdrawal, response);
    }
}
