/*
 * json.c - the wire shapes of docs/API.md. Every object is built with json_object_set_new (through
 * api_json_put), which steals the reference to the value it is given; jansson dumps members in
 * insertion order, so the order of the puts below is the order on the wire.
 */
#include "api/api_internal.h"

#include "common/timeutil.h"
#include "domain/names.h"
#include "domain/verification.h"

int api_json_put(json_t *object, const char *key, json_t *value)
{
    if (value == NULL) {
        return -1;
    }
    /* Steals the reference to value, also when it fails. */
    return json_object_set_new(object, key, value);
}

json_t *api_json_date(int64_t ms)
{
    char text[ISO8601_BYTES_MAX];
    iso8601_format(ms, text);
    return json_string(text);
}

json_t *api_json_date_or_null(int64_t ms)
{
    return ms == 0 ? json_null() : api_json_date(ms);
}

json_t *api_json_text_or_null(const char *text)
{
    return text[0] == '\0' ? json_null() : json_string(text);
}

json_t *api_json_integer(int64_t value)
{
    return json_integer((json_int_t)value);
}

/* Drops a half-built object: some put failed (out of memory or text that is not UTF-8). */
static json_t *api_json_finish(json_t *object, int failed)
{
    if (failed != 0) {
        json_decref(object);
        return NULL;
    }
    return object;
}

json_t *api_withdrawal_json(const struct withdrawal *withdrawal)
{
    json_t *object = json_object();
    int failed = 0;
    if (object == NULL) {
        return NULL;
    }
    /* SPEC 1: exactly these 17 fields, in this order. */
    failed |= api_json_put(object, "bankCode", json_string(withdrawal->bank_code));
    failed |= api_json_put(object, "accountNumber", json_string(withdrawal->masked_number));
    failed |= api_json_put(object, "holderName", json_string(withdrawal->holder_name));
    failed |= api_json_put(object, "status", json_string(withdraw_status_name(withdrawal->status)));
    failed |= api_json_put(object, "isProcessing", json_boolean(withdrawal->is_processing));
    failed |= api_json_put(object, "confirmedCount", api_json_integer(withdrawal->confirmed_count));
    failed |= api_json_put(object, "memo", api_json_text_or_null(withdrawal->memo));
    failed |=
        api_json_put(object, "transactionId", api_json_text_or_null(withdrawal->transaction_id));
    failed |=
        api_json_put(object, "transactionDate", api_json_date_or_null(withdrawal->transaction_ms));
    failed |= api_json_put(object, "accountId", json_string(withdrawal->account_id));
    failed |= api_json_put(object, "amount", api_json_integer(withdrawal->amount_won));
    failed |= api_json_put(object, "fee", api_json_integer(withdrawal->fee_won));
    failed |= api_json_put(object, "totalAmount", api_json_integer(withdrawal->total_amount_won));
    failed |= api_json_put(object, "withdrawId", json_string(withdrawal->withdraw_id));
    failed |=
        api_json_put(object, "dateConfirmed", api_json_date_or_null(withdrawal->confirmed_ms));
    failed |= api_json_put(object, "dateCreated", api_json_date(withdrawal->created_ms));
    failed |= api_json_put(object, "dateUpdated", api_json_date(withdrawal->updated_ms));
    return api_json_finish(object, failed);
}

json_t *api_history_json(const struct history_entry *entry)
{
    json_t *object = json_object();
    int failed = 0;
    if (object == NULL) {
        return NULL;
    }
    failed |= api_json_put(object, "historyId", json_string(entry->history_id));
    failed |= api_json_put(object, "accountId", json_string(entry->account_id));
    failed |= api_json_put(object, "type", json_string(history_type_name(entry->type)));
    failed |= api_json_put(object, "balanceAmount", api_json_integer(entry->balance_amount_won));
    failed |= api_json_put(object, "pointAmount", api_json_integer(entry->point_amount_won));
    failed |= api_json_put(object, "oldBalance", api_json_integer(entry->old_balance_won));
    failed |= api_json_put(object, "newBalance", api_json_integer(entry->new_balance_won));
    failed |= api_json_put(object, "oldPoint", api_json_integer(entry->old_point_won));
    failed |= api_json_put(object, "newPoint", api_json_integer(entry->new_point_won));
    failed |= api_json_put(object, "memo", api_json_text_or_null(entry->memo));
    failed |= api_json_put(object, "groupId", api_json_text_or_null(entry->group_id));
    /* The vendor's payment-channel fields: cashd records no channel, so they are null. */
    failed |= api_json_put(object, "rechargeMethod", json_null());
    failed |= api_json_put(object, "serviceMethod", json_null());
    failed |= api_json_put(object, "chargedMethod", json_null());
    failed |= api_json_put(object, "paymentMethod", json_null());
    failed |= api_json_put(object, "dateCreated", api_json_date(entry->created_ms));
    return api_json_finish(object, failed);
}

json_t *api_bank_account_json(const struct bank_account *bank)
{
    json_t *object = json_object();
    int failed = 0;
    if (object == NULL) {
        return NULL;
    }
    failed |= api_json_put(object, "accountId", json_string(bank->account_id));
    failed |= api_json_put(object, "bankCode", json_string(bank->bank_code));
    failed |= api_json_put(object, "accountNumber", json_string(bank->masked_number));
    failed |= api_json_put(object, "holderName", json_string(bank->holder_name));
    failed |= api_json_put(object, "dateCreated", api_json_date(bank->created_ms));
    failed |= api_json_put(object, "dateUpdated", api_json_date(bank->updated_ms));
    return api_json_finish(object, failed);
}

/* PENDING: until it can no longer be confirmed; CONFIRMED: until it can no longer be used. */
static int64_t api_verification_expires_ms(const struct verification *verification,
                                           int64_t window_ms)
{
    if (verification->status == VERIFICATION_CONFIRMED && verification->confirmed_ms != 0) {
        return verification->confirmed_ms + window_ms;
    }
    return verification->created_ms + window_ms;
}

json_t *api_verification_json(const struct verification *verification, int64_t now_ms,
                              int64_t window_ms, int64_t uses_max)
{
    json_t *object = json_object();
    int failed = 0;
    enum verification_status status =
        verification_effective_status(verification, now_ms, window_ms, uses_max);
    int64_t uses_left = uses_max > verification->uses ? uses_max - verification->uses : 0;
    if (object == NULL) {
        return NULL;
    }
    failed |= api_json_put(object, "verificationId", json_string(verification->verification_id));
    failed |=
        api_json_put(object, "method", json_string(verification_method_name(verification->method)));
    failed |= api_json_put(object, "status", json_string(verification_status_name(status)));
    failed |= api_json_put(object, "attemptsLeft",
                           api_json_integer(verification_attempts_left(verification)));
    failed |= api_json_put(object, "usesLeft", api_json_integer(uses_left));
    failed |= api_json_put(object, "dateCreated", api_json_date(verification->created_ms));
    failed |= api_json_put(object, "dateExpires",
                           api_json_date(api_verification_expires_ms(verification, window_ms)));
    failed |=
        api_json_put(object, "dateConfirmed", api_json_date_or_null(verification->confirmed_ms));
    if (verification->method == VERIFICATION_ARS) {
        /* SPEC 5: what became of the call (docs/ars-gateway.md). */
        enum verification_call_status call =
            verification->call_status == CALL_NONE ? CALL_REQUESTED : verification->call_status;
        failed |=
            api_json_put(object, "callStatus", json_string(verification_call_status_name(call)));
    }
    return api_json_finish(object, failed);
}
