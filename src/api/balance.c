/*
 * balance.c - /cash/v1/balance and /cash/v1/balance/history (SPEC 2, 3).
 */
#include "api/api_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/query.h"

static json_t *api_balance_json(const struct account *account)
{
    json_t *object = json_object();
    int failed = 0;
    if (object == NULL) {
        return NULL;
    }
    failed |= wire_json_put(object, "accountId", json_string(account->account_id));
    failed |= wire_json_put(object, "balance", wire_json_integer(account->balance_won));
    failed |= wire_json_put(object, "point", wire_json_integer(account->point_won));
    /* The vendor answers autoRecharge as 0 or 1, not as a boolean. */
    failed |=
        wire_json_put(object, "autoRecharge", wire_json_integer(account->auto_recharge ? 1 : 0));
    failed |= wire_json_put(object, "minimumCash", wire_json_integer(account->minimum_cash_won));
    failed |= wire_json_put(object, "rechargeTo", wire_json_integer(account->recharge_to_won));
    failed |=
        wire_json_put(object, "rechargeTryCount", wire_json_integer(account->recharge_try_count));
    if (failed != 0) {
        json_decref(object);
        return NULL;
    }
    return object;
}

void api_balance_get(const struct api_call *call, struct http_response *response)
{
    struct account account;
    cash_result result = store_account_get(call->api->store, call->key->account_id, &account);
    if (result != CASH_OK) {
        api_error(response, result, NULL);
        return;
    }
    api_reply(response, 200, api_balance_json(&account));
}

static json_t *api_history_page_json(const struct history_query *query,
                                     const struct history_entry *entries, size_t count)
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
        json_t *entry = wire_history_json(&entries[i]);
        failed |= entry == NULL ? -1 : json_array_append_new(data, entry);
    }
    failed |= wire_json_put(object, "offset", wire_json_integer(query->offset));
    failed |= wire_json_put(object, "limit", wire_json_integer((int64_t)query->limit));
    failed |= wire_json_put(object, "data", data);
    if (failed != 0) {
        json_decref(object);
        return NULL;
    }
    return object;
}

void api_balance_history(const struct api_call *call, struct http_response *response)
{
    char why[API_WHY_BYTES_MAX] = "";
    struct history_query query;
    struct query_param params[HTTP_QUERY_PARAMS_MAX];
    struct history_entry *entries = NULL;
    size_t count = 0;
    memset(&query, 0, sizeof(query));
    size_t param_count = api_query_params(call->request, params);
    cash_result result = history_query_parse(params, param_count, &query, why, sizeof(why));
    if (result != CASH_OK) {
        api_error(response, result, why);
        return;
    }
    snprintf(query.account_id, sizeof(query.account_id), "%s", call->key->account_id);
    entries = calloc(query.limit, sizeof(*entries));
    if (entries == NULL) {
        api_error(response, CASH_INTERNAL_ERROR, NULL);
        return;
    }
    result = store_history_list(call->api->store, &query, entries, &count);
    if (result != CASH_OK) {
        api_error(response, result, NULL);
        goto out_free_entries;
    }
    api_reply(response, 200, api_history_page_json(&query, entries, count));
out_free_entries:
    free(entries);
}
