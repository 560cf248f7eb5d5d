#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "domain/query.h"

#define WITHDRAW_ID "17955216000001234567890123456789"

static cash_result parse_withdraw(struct withdraw_query *query, size_t count,
                                  const struct query_param *params, char *why, size_t why_size)
{
    return withdraw_query_parse(params, count, query, why, why_size);
}

/* Expects a ValidationError whose message contains reason_part. */
static void expect_withdraw_refused(size_t count, const struct query_param *params,
                                    const char *reason_part)
{
    struct withdraw_query query;
    char why[256] = "";
    cash_result result = parse_withdraw(&query, count, params, why, sizeof(why));
    if (result != CASH_VALIDATION_ERROR) {
        fail_msg("accepted %s=%s", params[count - 1].key,
                 params[count - 1].value != NULL ? params[count - 1].value : "(null)");
    }
    if (strstr(why, reason_part) == NULL) {
        fail_msg("reason \"%s\" lacks \"%s\"", why, reason_part);
    }
}

static void expect_one_refused(const char *key, const char *value, const char *reason_part)
{
    struct query_param param = {key, value};
    expect_withdraw_refused(1, &param, reason_part);
}

static void test_withdraw_defaults(void **state)
{
    (void)state;
    struct withdraw_query query;
    char why[256] = "";
    assert_int_equal(parse_withdraw(&query, 0, NULL, why, sizeof(why)), CASH_OK);
    assert_int_equal(query.limit, LIST_LIMIT_DEFAULT);
    assert_int_equal(query.condition_count, 0);
    assert_string_equal(query.start_key, "");
    assert_string_equal(query.account_id, "");
}

static void test_withdraw_plain_parameters(void **state)
{
    (void)state;
    struct withdraw_query query;
    char why[256] = "";
    const struct query_param params[] = {
        {"withdrawId", WITHDRAW_ID},
        {"status", "CONFIRMED"},
        {"startDate", "2026-11-24T00:00:00+09:00"},
        {"endDate", "2026-11-24T12:00:00.500Z"},
        {"limit", "100"},
        {"startKey", WITHDRAW_ID},
    };
    assert_int_equal(parse_withdraw(&query, 6, params, why, sizeof(why)), CASH_OK);
    assert_int_equal(query.limit, 100);
    assert_string_equal(query.start_key, WITHDRAW_ID);
    assert_int_equal(query.condition_count, 4);
    assert_int_equal(query.conditions[0].field, WITHDRAW_FIELD_WITHDRAW_ID);
    assert_int_equal(query.conditions[0].op, QUERY_EQ);
    assert_true(query.conditions[0].is_text);
    assert_string_equal(query.conditions[0].text, WITHDRAW_ID);
    assert_int_equal(query.conditions[1].field, WITHDRAW_FIELD_STATUS);
    assert_int_equal(query.conditions[1].op, QUERY_EQ);
    assert_true(query.conditions[1].is_text);
    assert_string_equal(query.conditions[1].text, "CONFIRMED");
    assert_int_equal(query.conditions[1].number, WITHDRAW_CONFIRMED);
    assert_int_equal(query.conditions[2].field, WITHDRAW_FIELD_DATE_CREATED);
    assert_int_equal(query.conditions[2].op, QUERY_GTE);
    assert_false(query.conditions[2].is_text);
    assert_int_equal(query.conditions[2].number, 1795446000000LL);
    assert_int_equal(query.conditions[3].field, WITHDRAW_FIELD_DATE_CREATED);
    assert_int_equal(query.conditions[3].op, QUERY_LTE);
    assert_int_equal(query.conditions[3].number, 1795521600500LL);
    const struct query_param smallest[] = {{"limit", "1"}};
    assert_int_equal(parse_withdraw(&query, 1, smallest, why, sizeof(why)), CASH_OK);
    assert_int_equal(query.limit, 1);
}

/* docs/API.md: which operators each field takes. */
struct field_case {
    const char *name;
    enum withdraw_field field;
    const char *value;
    bool is_text;
    int64_t number;
    const char *ops; /* the allowed operators, space-separated */
};

static const struct field_case field_cases[] = {
    {"withdrawId", WITHDRAW_FIELD_WITHDRAW_ID, WITHDRAW_ID, true, 0, "ne gt gte lt lte"},
    {"status", WITHDRAW_FIELD_STATUS, "FAILED", true, WITHDRAW_FAILED, "ne"},
    {"amount", WITHDRAW_FIELD_AMOUNT, "18500", false, 18500, "ne gt gte lt lte"},
    {"fee", WITHDRAW_FIELD_FEE, "0", false, 0, "ne gt gte lt lte"},
    {"totalAmount", WITHDRAW_FIELD_TOTAL_AMOUNT, "1000000000000", false, 1000000000000LL,
     "ne gt gte lt lte"},
    {"dateCreated", WITHDRAW_FIELD_DATE_CREATED, "2026-11-24T12:00:00Z", false, 1795521600000LL,
     "ne gt gte lt lte"},
    {"dateUpdated", WITHDRAW_FIELD_DATE_UPDATED, "2026-11-24T21:00:00+0900", false, 1795521600000LL,
     "ne gt gte lt lte"},
    {"bankCode", WITHDRAW_FIELD_BANK_CODE, "004", true, 0, "ne"},
    {"holderName", WITHDRAW_FIELD_HOLDER_NAME, "길동", true, 0, "ne like"},
};

static const char *const op_names[] = {"eq", "ne", "gt", "gte", "lt", "lte", "like"};

static bool op_listed(const char *ops, const char *op)
{
    char padded_ops[64];
    char padded_op[16];
    snprintf(padded_ops, sizeof(padded_ops), " %s ", ops);
    snprintf(padded_op, sizeof(padded_op), " %s ", op);
    return strstr(padded_ops, padded_op) != NULL;
}

static void test_every_operator(void **state)
{
    (void)state;
    for (size_t f = 0; f < sizeof(field_cases) / sizeof(field_cases[0]); f++) {
        const struct field_case *c = &field_cases[f];
        for (size_t op = 0; op < sizeof(op_names) / sizeof(op_names[0]); op++) {
            char key[64];
            snprintf(key, sizeof(key), "%s[%s]", c->name, op_names[op]);
            struct query_param param = {key, c->value};
            struct withdraw_query query;
            char why[256] = "";
            cash_result result = parse_withdraw(&query, 1, &param, why, sizeof(why));
            if (!op_listed(c->ops, op_names[op])) {
                if (result != CASH_VALIDATION_ERROR || strstr(why, key) == NULL) {
                    fail_msg("%s: expected a refusal naming it, got %d \"%s\"", key, result, why);
                }
                continue;
            }
            if (result != CASH_OK) {
                fail_msg("%s=%s refused: %s", key, c->value, why);
            }
            assert_int_equal(query.condition_count, 1);
            assert_int_equal(query.conditions[0].field, c->field);
            assert_int_equal(query.conditions[0].op, (enum query_op)op);
            assert_int_equal(query.conditions[0].is_text, c->is_text);
            if (c->is_text) {
                assert_string_equal(query.conditions[0].text, c->value);
            }
            if (!c->is_text || c->field == WITHDRAW_FIELD_STATUS) {
                assert_int_equal(query.conditions[0].number, c->number);
            }
        }
    }
}

static void test_ranges_combine(void **state)
{
    (void)state;
    struct withdraw_query query;
    char why[256] = "";
    const struct query_param params[] = {
        {"amount[gte]", "1000"}, {"amount[lt]", "5000"},     {"status[ne]", "CANCELED"},
        {"status", "PENDING"},   {"holderName[like]", "홍"},
    };
    assert_int_equal(parse_withdraw(&query, 5, params, why, sizeof(why)), CASH_OK);
    assert_int_equal(query.condition_count, 5);
    assert_int_equal(query.conditions[0].op, QUERY_GTE);
    assert_int_equal(query.conditions[0].number, 1000);
    assert_int_equal(query.conditions[1].op, QUERY_LT);
    assert_int_equal(query.conditions[1].number, 5000);
    assert_int_equal(query.conditions[2].op, QUERY_NE);
    assert_int_equal(query.conditions[3].op, QUERY_EQ);
    assert_int_equal(query.conditions[4].op, QUERY_LIKE);
    assert_string_equal(query.conditions[4].text, "홍");
}

static void test_bad_keys(void **state)
{
    (void)state;
    expect_one_refused("foo", "1", "unknown query parameter foo");
    expect_one_refused("amount", "1", "unknown query parameter amount");
    expect_one_refused("Limit", "1", "Limit");
    expect_one_refused("startDate[gte]", "2026-11-24T12:00:00Z", "startDate[gte]");
    expect_one_refused("amount[gte", "1", "amount[gte");
    expect_one_refused("amount[gte]x", "1", "amount[gte]x");
    expect_one_refused("amount[]", "1", "amount[]");
    expect_one_refused("amount[GTE]", "1", "amount[GTE]");
    expect_one_refused("amount[gte][lt]", "1", "amount[gte][lt]");
    expect_one_refused("[gte]", "1", "[gte]");
    expect_one_refused("", "1", "empty name");
    expect_one_refused(NULL, "1", "empty name");
    /* a hostile key is quoted safely and briefly */
    struct withdraw_query query;
    char why[256] = "";
    char long_key[300];
    memset(long_key, 'k', sizeof(long_key) - 1);
    long_key[sizeof(long_key) - 1] = '\0';
    long_key[3] = '\n';
    struct query_param param = {long_key, "1"};
    assert_int_equal(parse_withdraw(&query, 1, &param, why, sizeof(why)), CASH_VALIDATION_ERROR);
    assert_null(strchr(why, '\n'));
    assert_non_null(strstr(why, "kkk?kkk"));
    assert_true(strlen(why) < 120);
}

static void test_repeated_and_empty(void **state)
{
    (void)state;
    const struct query_param repeated[] = {{"limit", "10"}, {"limit", "10"}};
    expect_withdraw_refused(2, repeated, "limit is repeated");
    const struct query_param repeated_op[] = {{"amount[gte]", "1"}, {"amount[gte]", "2"}};
    expect_withdraw_refused(2, repeated_op, "amount[gte] is repeated");
    expect_one_refused("limit", "", "limit is empty");
    expect_one_refused("status", NULL, "status is empty");
    expect_one_refused("amount[gt]", "", "amount[gt] is empty");
}

static void test_bad_values(void **state)
{
    (void)state;
    const char *cases[][3] = {
        {"limit", "0", "limit"},
        {"limit", "101", "limit"},
        {"limit", "-1", "limit"},
        {"limit", "abc", "limit"},
        {"limit", " 5", "limit"},
        {"limit", "5 ", "limit"},
        {"limit", "99999999999999999999", "limit"},
        {"withdrawId", "1795521600000123456789012345678", "withdrawId"},
        {"withdrawId", "1795521600000123456789012345678x", "withdrawId"},
        {"withdrawId", "179552160000012345678901234567890", "withdrawId"},
        {"startKey", "123", "startKey"},
        {"startKey", "x7955216000001234567890123456789", "startKey"},
        {"status", "pending", "status"},
        {"status", "EXPIRED", "status"},
        {"startDate", "2026-11-24", "startDate"},
        {"endDate", "2026-11-24T12:00:00", "endDate"},
        {"endDate", "yesterday", "endDate"},
        {"amount[gte]", "-1", "amount[gte]"},
        {"amount[gte]", "1.5", "amount[gte]"},
        {"amount[gte]", "1e3", "amount[gte]"},
        {"amount[gte]", "+5", "amount[gte]"},
        {"amount[gte]", "0x10", "amount[gte]"},
        {"fee[lt]", "1000000000001", "fee[lt]"},
        {"totalAmount[ne]", "99999999999999999999999", "totalAmount[ne]"},
        {"dateCreated[gt]", "1795521600000", "dateCreated[gt]"},
        {"dateUpdated[lt]", "2026-02-30T00:00:00Z", "dateUpdated[lt]"},
        {"bankCode[ne]", "ab", "bankCode[ne]"},
        {"bankCode[ne]", "12", "bankCode[ne]"},
        {"holderName[like]", "\xff", "holderName[like]"},
        {"holderName[ne]", "a\x01", "holderName[ne]"},
        {"withdrawId[gt]", "12", "withdrawId[gt]"},
        {"status[ne]", "DONE", "status[ne]"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        expect_one_refused(cases[i][0], cases[i][1], cases[i][2]);
    }
    char long_name[130];
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    expect_one_refused("holderName[like]", long_name, "holderName[like]");
    long_name[HOLDER_NAME_BYTES_MAX] = '\0';
    struct query_param fits = {"holderName[like]", long_name};
    struct withdraw_query query;
    char why[256] = "";
    assert_int_equal(parse_withdraw(&query, 1, &fits, why, sizeof(why)), CASH_OK);
}

static void test_too_many(void **state)
{
    (void)state;
    struct query_param params[HTTP_QUERY_PARAMS_MAX + 1];
    char keys[HTTP_QUERY_PARAMS_MAX + 1][32];
    const char *fields[] = {"amount", "fee", "totalAmount"};
    const char *ops[] = {"ne", "gt", "gte", "lt", "lte"};
    /* 17 distinct conditions, one more than LIST_CONDITIONS_MAX: 15 numeric ones, then status */
    for (size_t i = 0; i < 15; i++) {
        snprintf(keys[i], sizeof(keys[i]), "%s[%s]", fields[i / 5], ops[i % 5]);
        params[i].key = keys[i];
        params[i].value = "1";
    }
    params[15].key = "status";
    params[15].value = "PENDING";
    params[16].key = "status[ne]";
    params[16].value = "FAILED";
    struct withdraw_query query;
    char why[256] = "";
    assert_int_equal(parse_withdraw(&query, LIST_CONDITIONS_MAX, params, why, sizeof(why)),
                     CASH_OK);
    assert_int_equal(query.condition_count, LIST_CONDITIONS_MAX);
    expect_withdraw_refused(LIST_CONDITIONS_MAX + 1, params, "too many query conditions");
    for (size_t i = 0; i < HTTP_QUERY_PARAMS_MAX + 1; i++) {
        snprintf(keys[i], sizeof(keys[i]), "p%zu", i);
        params[i].key = keys[i];
        params[i].value = "1";
    }
    expect_withdraw_refused(HTTP_QUERY_PARAMS_MAX + 1, params, "too many query parameters");
}

static void expect_history_refused(const char *key, const char *value, const char *reason_part)
{
    struct history_query query;
    char why[256] = "";
    struct query_param param = {key, value};
    if (history_query_parse(&param, 1, &query, why, sizeof(why)) != CASH_VALIDATION_ERROR) {
        fail_msg("accepted %s=%s", key, value);
    }
    if (strstr(why, reason_part) == NULL) {
        fail_msg("reason \"%s\" lacks \"%s\"", why, reason_part);
    }
}

static void test_history(void **state)
{
    (void)state;
    struct history_query query;
    char why[256] = "";
    assert_int_equal(history_query_parse(NULL, 0, &query, why, sizeof(why)), CASH_OK);
    assert_int_equal(query.offset, 0);
    assert_int_equal(query.limit, LIST_LIMIT_DEFAULT);
    assert_int_equal(query.start_ms, 0);
    assert_int_equal(query.end_ms, 0);
    assert_false(query.has_type);
    const struct query_param params[] = {
        {"offset", "1000000000"},
        {"limit", "100"},
        {"startDate", "2026-11-24T00:00:00+09:00"},
        {"endDate", "2026-11-24T12:00:00Z"},
        {"type", "WITHDRAW_REFUND"},
    };
    assert_int_equal(history_query_parse(params, 5, &query, why, sizeof(why)), CASH_OK);
    assert_int_equal(query.offset, HISTORY_OFFSET_MAX);
    assert_int_equal(query.limit, 100);
    assert_int_equal(query.start_ms, 1795446000000LL);
    assert_int_equal(query.end_ms, 1795521600000LL);
    assert_true(query.has_type);
    assert_int_equal(query.type, HISTORY_WITHDRAW_REFUND);
}

static void test_history_refusals(void **state)
{
    (void)state;
    expect_history_refused("offset", "-1", "offset");
    expect_history_refused("offset", "1000000001", "offset");
    expect_history_refused("offset", "abc", "offset");
    expect_history_refused("offset", "", "offset is empty");
    expect_history_refused("limit", "0", "limit");
    expect_history_refused("limit", "101", "limit");
    expect_history_refused("startDate", "2026-11-24", "startDate");
    expect_history_refused("endDate", "now", "endDate");
    expect_history_refused("type", "REFUND", "type");
    expect_history_refused("type", "recharge", "type");
    expect_history_refused("status", "PENDING", "unknown query parameter status");
    expect_history_refused("offset[gte]", "1", "offset[gte]");
    struct history_query query;
    char why[256] = "";
    const struct query_param repeated[] = {{"type", "RECHARGE"}, {"type", "WITHDRAW"}};
    assert_int_equal(history_query_parse(repeated, 2, &query, why, sizeof(why)),
                     CASH_VALIDATION_ERROR);
    assert_non_null(strstr(why, "type is repeated"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_withdraw_defaults), cmocka_unit_test(test_withdraw_plain_parameters),
        cmocka_unit_test(test_every_operator),    cmocka_unit_test(test_ranges_combine),
        cmocka_unit_test(test_bad_keys),          cmocka_unit_test(test_repeated_and_empty),
        cmocka_unit_test(test_bad_values),        cmocka_unit_test(test_too_many),
        cmocka_unit_test(test_history),           cmocka_unit_test(test_history_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
