/*
 * test_wire_json.c - the wire shapes (wire/wire.h) that cashd answers and cashctl --json prints:
 * a withdrawal's 17 fields in the seed's order with nulls for empty values, a ledger entry, a
 * bank account and a verification.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wire/wire.h"

/* 2019-10-28T17:43:54.390Z, the seed's sample date. */
#define SAMPLE_MS 1572284634390LL

static struct withdrawal sample_withdrawal(void)
{
    struct withdrawal w;
    memset(&w, 0, sizeof(w));
    strcpy(w.withdraw_id, "15722846343901234567890123456789");
    strcpy(w.account_id, "19102812345678");
    strcpy(w.member_id, "19102887654321");
    strcpy(w.bank_code, "004");
    strcpy(w.sealed_number, "0123abcd:c2VhbGVk");
    strcpy(w.masked_number, "******7890");
    strcpy(w.holder_name, "\xed\x99\x8d\xea\xb8\xb8\xeb\x8f\x99"); /* 홍길동 */
    w.status = WITHDRAW_PENDING;
    w.amount_won = 18500;
    w.fee_won = 1500;
    w.total_amount_won = 20000;
    w.confirmed_ms = 1572284634000LL;
    w.created_ms = SAMPLE_MS;
    w.updated_ms = SAMPLE_MS;
    return w;
}

static char *dump(json_t *root)
{
    assert_non_null(root);
    char *text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    assert_non_null(text);
    return text;
}

static void test_withdrawal_field_order(void **state)
{
    (void)state;
    struct withdrawal w = sample_withdrawal();
    char *text = dump(wire_withdrawal_json(&w));
    assert_string_equal(
        text,
        "{\"bankCode\":\"004\",\"accountNumber\":\"******7890\",\"holderName\":\"\xed\x99\x8d"
        "\xea\xb8\xb8\xeb\x8f\x99\",\"status\":\"PENDING\",\"isProcessing\":false,"
        "\"confirmedCount\":0,\"memo\":null,\"transactionId\":null,\"transactionDate\":null,"
        "\"accountId\":\"19102812345678\",\"amount\":18500,\"fee\":1500,\"totalAmount\":20000,"
        "\"withdrawId\":\"15722846343901234567890123456789\","
        "\"dateConfirmed\":\"2019-10-28T17:43:54.000Z\","
        "\"dateCreated\":\"2019-10-28T17:43:54.390Z\","
        "\"dateUpdated\":\"2019-10-28T17:43:54.390Z\"}");
    /* Never the sealed number, never the member. */
    assert_null(strstr(text, "c2VhbGVk"));
    assert_null(strstr(text, "19102887654321"));
    free(text);
}

static void test_withdrawal_completed(void **state)
{
    (void)state;
    struct withdrawal w = sample_withdrawal();
    w.status = WITHDRAW_COMPLETED;
    w.confirmed_count = 2;
    strcpy(w.memo, "ok");
    strcpy(w.transaction_id, "T-1");
    w.transaction_ms = SAMPLE_MS + 1000;
    w.amount_won = 9223372036854775807LL - 1; /* int64 survives json_int_t */
    json_t *root = wire_withdrawal_json(&w);
    assert_non_null(root);
    assert_int_equal(json_object_size(root), 17);
    assert_string_equal(json_string_value(json_object_get(root, "status")), "COMPLETED");
    assert_int_equal(json_integer_value(json_object_get(root, "confirmedCount")), 2);
    assert_string_equal(json_string_value(json_object_get(root, "memo")), "ok");
    assert_string_equal(json_string_value(json_object_get(root, "transactionId")), "T-1");
    assert_string_equal(json_string_value(json_object_get(root, "transactionDate")),
                        "2019-10-28T17:43:55.390Z");
    assert_true(json_integer_value(json_object_get(root, "amount")) == 9223372036854775806LL);
    json_decref(root);
}

static void test_withdrawal_bad_text_gives_null(void **state)
{
    (void)state;
    struct withdrawal w = sample_withdrawal();
    strcpy(w.holder_name, "\xff\xfe"); /* not UTF-8: no half-built object goes out */
    assert_null(wire_withdrawal_json(&w));
}

static void test_history_entry(void **state)
{
    (void)state;
    struct history_entry entry;
    memset(&entry, 0, sizeof(entry));
    strcpy(entry.history_id, "15722846343909876543210987654321");
    strcpy(entry.account_id, "19102812345678");
    entry.type = HISTORY_WITHDRAW;
    entry.balance_amount_won = -20000;
    entry.old_balance_won = 50000;
    entry.new_balance_won = 30000;
    strcpy(entry.group_id, "15722846343901234567890123456789");
    entry.created_ms = SAMPLE_MS;
    char *text = dump(wire_history_json(&entry));
    assert_string_equal(
        text,
        "{\"historyId\":\"15722846343909876543210987654321\",\"accountId\":\"19102812345678\","
        "\"type\":\"WITHDRAW\",\"balanceAmount\":-20000,\"pointAmount\":0,"
        "\"oldBalance\":50000,\"newBalance\":30000,\"oldPoint\":0,\"newPoint\":0,"
        "\"memo\":null,\"groupId\":\"15722846343901234567890123456789\","
        "\"rechargeMethod\":null,\"serviceMethod\":null,\"chargedMethod\":null,"
        "\"paymentMethod\":null,\"dateCreated\":\"2019-10-28T17:43:54.390Z\"}");
    free(text);
}

static void test_bank_account(void **state)
{
    (void)state;
    struct bank_account bank;
    memset(&bank, 0, sizeof(bank));
    strcpy(bank.account_id, "19102812345678");
    strcpy(bank.bank_code, "004");
    strcpy(bank.sealed_number, "0123abcd:c2VhbGVk");
    strcpy(bank.masked_number, "******7890");
    strcpy(bank.holder_name, "HONG");
    bank.created_ms = SAMPLE_MS;
    bank.updated_ms = SAMPLE_MS + 1;
    char *text = dump(wire_bank_account_json(&bank));
    assert_string_equal(text, "{\"accountId\":\"19102812345678\",\"bankCode\":\"004\","
                              "\"accountNumber\":\"******7890\",\"holderName\":\"HONG\","
                              "\"dateCreated\":\"2019-10-28T17:43:54.390Z\","
                              "\"dateUpdated\":\"2019-10-28T17:43:54.391Z\"}");
    assert_null(strstr(text, "c2VhbGVk")); /* never the sealed number */
    free(text);
}

static void test_verification_json(void **state)
{
    (void)state;
    struct verification v;
    memset(&v, 0, sizeof(v));
    strcpy(v.verification_id, "15722846343901234567890123456789");
    strcpy(v.member_id, "19102887654321");
    v.method = VERIFICATION_EMAIL_OTP;
    v.status = VERIFICATION_PENDING;
    strcpy(v.code_hash, "00");
    v.created_ms = SAMPLE_MS;
    char *text = dump(wire_verification_json(&v, SAMPLE_MS + 1000, 300000, 1));
    assert_string_equal(text, "{\"verificationId\":\"15722846343901234567890123456789\","
                              "\"method\":\"EMAIL_OTP\",\"status\":\"PENDING\",\"attemptsLeft\":5,"
                              "\"usesLeft\":1,\"dateCreated\":\"2019-10-28T17:43:54.390Z\","
                              "\"dateExpires\":\"2019-10-28T17:48:54.390Z\","
                              "\"dateConfirmed\":null}");
    assert_null(strstr(text, "codeHash"));
    free(text);

    v.status = VERIFICATION_CONFIRMED;
    v.confirmed_ms = SAMPLE_MS + 60000;
    json_t *root = wire_verification_json(&v, SAMPLE_MS + 61000, 300000, 1);
    assert_string_equal(json_string_value(json_object_get(root, "status")), "CONFIRMED");
    assert_string_equal(json_string_value(json_object_get(root, "dateExpires")),
                        "2019-10-28T17:49:54.390Z");
    json_decref(root);
    /* Past the window the client sees EXPIRED. */
    v.status = VERIFICATION_PENDING;
    v.confirmed_ms = 0;
    root = wire_verification_json(&v, SAMPLE_MS + 300001, 300000, 1);
    assert_string_equal(json_string_value(json_object_get(root, "status")), "EXPIRED");
    json_decref(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_withdrawal_field_order),
        cmocka_unit_test(test_withdrawal_completed),
        cmocka_unit_test(test_withdrawal_bad_text_gives_null),
        cmocka_unit_test(test_verification_json),
        cmocka_unit_test(test_history_entry),
        cmocka_unit_test(test_bank_account),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
