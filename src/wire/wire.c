/*
 * wire.c - the wire shapes of docs/API.md. Every object is built with json_object_set_new (through
 * wire_json_put), which steals the reference to the value it is given; jansson dumps members in
 * insertion order, so the order of the puts below is the order on the wire.
 */
#include "wire/wire.h"

#include "common/timeutil.h"
#include "domain/names.h"
#include "domain/verification.h"

int wire_json_put(json_t *object, const char *key, json_t *value)
{
    if (value == NULL) {
        return -1;
    }
    /* Steals the reference to value, also when it fails. */
    return json_object_set_new(object, key, value);
}

json_t *wire_json_date(int64_t ms)
{
    char text[ISO8601_BYTES_MAX];
    iso8601_format(ms, text);
    return json_string(text);
}

json_t *wire_json_date_or_null(int64_t ms)
{
    return ms == 0 ? json_null() : wire_json_date(ms);
}

json_t *wire_json_text_or_null(const char *text)
{
    return text[0] == '\0' ? json_null() : json_string(text);
}

json_t *wire_json_integer(int64_t value)
{
    return json_integer((json_int_t)value);
}

/* Drops a half-built object: some put failed (out of memory or text that is not UTF-8). */
static json_t *wire_json_finish(json_t *object, int failed)
{
    if (failed != 0) {
        json_decref(object);
        return NULL;
    }
    return object;
}

json_t *wire_withdrawal_json(const struct withdrawal *withdrawal)
{
    json_t *object = json_object();
    int failed = 0;
    if (object == NULL) {
        return NULL;
    }
    /* SPEC 1: exactly these 17 fields, in this order. */
    failed |= wire_json_put(object, "bankCode", json_string(withdrawal->bank_code));
    failed |= wire_json_put(object, "accountNumber", json_string(withdrawal->masked_number));
    failed |= wire_json_put(object, "holderName", json_string(withdrawal->holder_name));
    failed |=
        wire_json_put(object, "status", json_string(withdraw_status_name(withdrawal->status)));
    failed |= wire_json_put(object, "isProcessing", json_boolean(withdrawal->is_processing));
    failed |=
        wire_json_put(object, "confirmedCount", wire_json_integer(withdrawal->confirmed_count));
    failed |= wire_json_put(object, "memo", wire_json_text_or_null(withdrawal->memo));
    failed |=
        wire_json_put(object, "transactionId", wire_json_text_or_null(withdrawal->transaction_id));
    failed |= wire_json_put(object, "transactionDate",
                            wire_json_date_or_null(withdrawal->transaction_ms));
    failed |= wire_json_put(object, "accountId", json_string(withdrawal->account_id));
    failed |= wire_json_put(object, "amount", wire_json_integer(withdrawal->amount_won));
    failed |= wire_json_put(object, "fee", wire_json_integer(withdrawal->fee_won));
    failed |= wire_json_put(object, "totalAmount", wire_json_integer(withdrawal->total_amount_won));
    failed |= wire_json_put(object, "withdrawId", json_string(withdrawal->withdraw_id));
    failed |=
        wire_json_put(object, "dateConfirmed", wire_json_date_or_null(withdrawal->confirmed_ms));
    failed |= wire_json_put(object, "dateCreated", wire_json_date(withdrawal->created_ms));
    failed |= wire_json_put(object, "dateUpdated", wire_json_date(withdrawal->updated_ms));
    return wire_json_finish(object, failed);
}

json_t *wire_history_json(const struct history_entry *entry)
{
    json_t *object = json_object();
    int failed = 0;
    if (object == NULL) {
        return NULL;
    }
    failed |= wire_json_put(object, "historyId", json_string(entry->history_id));
    failed |= wire_json_put(object, "accountId", json_string(entry->account_id));
    failed |= wire_json_put(object, "type", json_string(history_type_name(entry->type)));
    failed |= wire_json_put(object, "balanceAmount", wire_json_integer(entry->balance_amount_won));
    failed |= wire_json_put(object, "pointAmount", wire_json_integer(entry->point_amount_won));
    failed |= wire_json_put(object, "oldBalance", wire_json_integer(entry->old_balance_won));
    failed |= wire_json_put(object, "newBalance", wire_json_integer(entry->new_balance_won));
    failed |= wire_json_put(object, "oldPoint", wire_json_integer(entry->old_point_won));
    failed |= wire_json_put(object, "newPoint", wire_json_integer(entry->new_point_won));
    failed |= wire_json_put(object, "memo", wire_json_text_or_null(entry->memo));
    failed |= wire_json_put(object, "groupId", wire_json_text_or_null(entry->group_id));
    /* The vendor's payment-channel fields: cashd records no channel, so they are null. */
    failed |= wire_json_put(object, "rechargeMethod", json_null());
    failed |= wire_json_put(object, "serviceMethod", json_null());
    failed |= wire_json_put(object, "chargedMethod", json_null());
    failed |= wire_json_put(object, "paymentMethod", json_null());
    failed |= wire_json_put(object, "dateCreated", wire_json_date(entry->created_ms));
    return wire_json_finish(object, failed);
}

json_t *wire_bank_account_json(const struct bank_account *bank)
{
    json_t *object = json_object();
    int failed = 0;
    if (object == NULL) {
        return NULL;
    }
    failed |= wire_json_put(object, "accountId", json_string(bank->account_id));
    failed |= wire_json_put(object, "bankCode", json_string(bank->bank_code));
    failed |= wire_json_put(object, "accountNumber", json_string(bank->masked_number));
    failed |= wire_json_put(object, "holderName", json_string(bank->holder_name));
    failed |= wire_json_put(object, "dateCreated", wire_json_date(bank->created_ms));
    failed |= wire_json_put(object, "dateUpdated", wire_json_date(bank->updated_ms));
    return wire_json_finish(object, failed);
}

/* PENDING: until it can no longer be confirmed; CONFIRMED: until it can no longer be used. */
static int64_t wire_verification_expires_ms(const struct verification *verification,
                                            int64_t window_ms)
{
    if (verification->status == VERIFICATION_CONFIRMED && verification->confirmed_ms != 0) {
        return verification->confirmed_ms + window_ms;
    }
    return verification->created_ms + window_ms;
}

json_t *wire_verification_json(const struct verification *verification, int64_t now_ms,
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
    failed |= wire_json_put(object, "verificationId", json_string(verification->verification_id));
    failed |= wire_json_put(object, "method",
                            json_string(verification_method_name(verification->method)));
    failed |= wire_json_put(object, "status", json_string(verification_status_name(status)));
    failed |= wire_json_put(object, "attemptsLeft",
                            wire_json_integer(verification_attempts_left(verification)));
    failed |= wire_json_put(object, "usesLeft", wire_json_integer(uses_left));
    failed |= wire_json_put(object, "dateCreated", wire_json_date(verification->created_ms));
    failed |= wire_json_put(object, "dateExpires",
                            wire_json_date(wire_verification_expires_ms(verification, window_ms)));
    failed |=
        wire_json_put(object, "dateConfirmed", wire_json_date_or_null(verification->confirmed_ms));
    if (verification->method == VERIFICATION_ARS) {
        /* SPEC 5: what became of the call (docs/ars-gateway.md). */
        enum verification_call_status call =
            verification->call_status == CALL_NONE ? CALL_REQUESTED : verification->call_status;
        failed |=
            wire_json_put(object, "callStatus", json_string(verification_call_status_name(call)));
    }
    return wire_json_finish(object, failed);
}
