/*
 * The pure parts of the API pipeline: route matching, the Content-Type check, the JSON body
 * parse and its depth limit, and the shared input checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api/api_internal.h"

static cash_result find(const char *method, const char *path, struct api_match *match,
                        char allow[HTTP_EXTRA_HEADER_BYTES_MAX])
{
    return api_route_find(method, path, match, allow, HTTP_EXTRA_HEADER_BYTES_MAX);
}

static void test_routes_known_paths(void **state)
{
    struct api_match match;
    char allow[HTTP_EXTRA_HEADER_BYTES_MAX];
    (void)state;
    assert_int_equal(find("POST", "/cash/v1/withdraw", &match, allow), CASH_OK);
    assert_ptr_equal(match.route->handler, api_withdraw_create);
    assert_int_equal(match.route->access, AUTH_ACCESS_WRITE);
    assert_int_equal(match.route->body, API_BODY_JSON);
    assert_string_equal(allow, "");
    assert_int_equal(find("GET", "/cash/v1/withdraw", &match, allow), CASH_OK);
    assert_ptr_equal(match.route->handler, api_withdraw_list);
    assert_int_equal(match.route->access, AUTH_ACCESS_READ);
    assert_int_equal(find("GET", "/cash/v1/balance/history", &match, allow), CASH_OK);
    assert_ptr_equal(match.route->handler, api_balance_history);
    assert_int_equal(find("DELETE", "/cash/v1/bank/accounts", &match, allow), CASH_OK);
    assert_ptr_equal(match.route->handler, api_bank_delete);
    assert_int_equal(match.route->access, AUTH_ACCESS_WRITE);
    assert_int_equal(match.route->body, API_BODY_NONE);
    assert_int_equal(find("POST", "/cash/v1/verifications", &match, allow), CASH_OK);
    assert_ptr_equal(match.route->handler, api_verification_create);
}

static void test_routes_quote_before_id(void **state)
{
    struct api_match match;
    char allow[HTTP_EXTRA_HEADER_BYTES_MAX];
    (void)state;
    assert_int_equal(find("GET", "/cash/v1/withdraw/quote", &match, allow), CASH_OK);
    assert_ptr_equal(match.route->handler, api_withdraw_quote);
    assert_string_equal(match.id, "");
    assert_int_equal(
        find("GET", "/cash/v1/withdraw/17640000000001234567890123456789", &match, allow), CASH_OK);
    assert_ptr_equal(match.route->handler, api_withdraw_get);
    assert_string_equal(match.id, "17640000000001234567890123456789");
}

static void test_routes_capture_id(void **state)
{
    struct api_match match;
    char allow[HTTP_EXTRA_HEADER_BYTES_MAX];
    (void)state;
    assert_int_equal(find("POST", "/cash/v1/withdraw/123/cancel", &match, allow), CASH_OK);
    assert_ptr_equal(match.route->handler, api_withdraw_cancel);
    assert_string_equal(match.id, "123");
    assert_int_equal(find("POST", "/cash/v1/verifications/abc/confirm", &match, allow), CASH_OK);
    assert_ptr_equal(match.route->handler, api_verification_confirm);
    assert_string_equal(match.id, "abc");
    /* A segment longer than any id matches, but leaves no id: the handler answers 404. */
    assert_int_equal(find("GET",
                          "/cash/v1/verifications/"
                          "1234567890123456789012345678901234567890",
                          &match, allow),
                     CASH_OK);
    assert_ptr_equal(match.route->handler, api_verification_get);
    assert_string_equal(match.id, "");
}

static void test_routes_unknown_paths(void **state)
{
    struct api_match match;
    char allow[HTTP_EXTRA_HEADER_BYTES_MAX];
    (void)state;
    const char *unknown[] = {
        "/",
        "",
        "/cash/v1",
        "/cash/v1/withdraw/",
        "/cash/v1/balance/",
        "/cash/v1/withdraw//cancel",
        "/cash/v1/withdraw/1/cancel/",
        "/cash/v1/withdraws",
        "/cash/v2/withdraw",
        "/CASH/v1/withdraw",
        "/cash/v1/bank/accounts/1",
    };
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        assert_int_equal(find("GET", unknown[i], &match, allow), CASH_NOT_FOUND);
        assert_string_equal(allow, "");
        assert_null(match.route);
    }
}

static void test_routes_method_not_allowed(void **state)
{
    struct api_match match;
    char allow[HTTP_EXTRA_HEADER_BYTES_MAX];
    (void)state;
    assert_int_equal(find("PUT", "/cash/v1/withdraw", &match, allow), CASH_METHOD_NOT_ALLOWED);
    assert_string_equal(allow, "POST, GET");
    assert_int_equal(find("POST", "/cash/v1/withdraw/quote", &match, allow),
                     CASH_METHOD_NOT_ALLOWED);
    assert_string_equal(allow, "GET");
    assert_int_equal(find("PATCH", "/cash/v1/bank/accounts", &match, allow),
                     CASH_METHOD_NOT_ALLOWED);
    assert_string_equal(allow, "POST, GET, DELETE");
    assert_int_equal(find("GET", "/cash/v1/withdraw/1/cancel", &match, allow),
                     CASH_METHOD_NOT_ALLOWED);
    assert_string_equal(allow, "POST");
    assert_int_equal(find("HEAD", "/cash/v1/balance", &match, allow), CASH_METHOD_NOT_ALLOWED);
    assert_string_equal(allow, "GET");
    /* Methods are case-sensitive (RFC 9110). */
    assert_int_equal(find("get", "/cash/v1/balance", &match, allow), CASH_METHOD_NOT_ALLOWED);
}

static void test_content_type(void **state)
{
    (void)state;
    assert_true(api_content_type_is_json("application/json"));
    assert_true(api_content_type_is_json("application/json; charset=utf-8"));
    assert_true(api_content_type_is_json("Application/JSON;charset=UTF-8"));
    assert_true(api_content_type_is_json("application/json ; charset=utf-8 "));
    assert_false(api_content_type_is_json(NULL));
    assert_false(api_content_type_is_json(""));
    assert_false(api_content_type_is_json("text/plain"));
    assert_false(api_content_type_is_json("application/x-www-form-urlencoded"));
    assert_false(api_content_type_is_json("application/jsonp"));
    assert_false(api_content_type_is_json("application/json; charset=latin1"));
    assert_false(api_content_type_is_json("application/json; charset=utf-8; x=1"));
    assert_false(api_content_type_is_json("application/json;"));
}

/* {"a":{"a":...{"a":1}...}} with depth objects. */
static void nested_objects(char *out, size_t out_size, size_t depth)
{
    size_t used = 0;
    for (size_t i = 0; i < depth; i++) {
        used += (size_t)snprintf(out + used, out_size - used, "{\"a\":");
    }
    used += (size_t)snprintf(out + used, out_size - used, "1");
    for (size_t i = 0; i < depth; i++) {
        used += (size_t)snprintf(out + used, out_size - used, "}");
    }
}

static void test_json_depth(void **state)
{
    char text[512];
    char why[API_WHY_BYTES_MAX] = "";
    json_t *root = NULL;
    (void)state;
    nested_objects(text, sizeof(text), JSON_DEPTH_MAX);
    assert_int_equal(api_json_parse(text, strlen(text), &root, why, sizeof(why)), CASH_OK);
    assert_false(api_json_too_deep(root, JSON_DEPTH_MAX));
    assert_true(api_json_too_deep(root, JSON_DEPTH_MAX - 1));
    json_decref(root);
    nested_objects(text, sizeof(text), JSON_DEPTH_MAX + 1);
    assert_int_equal(api_json_parse(text, strlen(text), &root, why, sizeof(why)),
                     CASH_INVALID_JSON);
    assert_non_null(strstr(why, "deeper"));
    /* Arrays count as levels too. */
    const char *arrays = "{\"a\":[[[[[[[[1]]]]]]]]}";
    assert_int_equal(api_json_parse(arrays, strlen(arrays), &root, why, sizeof(why)),
                     CASH_INVALID_JSON);
    const char *flat = "{\"a\":[1,2,{\"b\":[]}],\"c\":\"x\"}";
    assert_int_equal(api_json_parse(flat, strlen(flat), &root, why, sizeof(why)), CASH_OK);
    json_decref(root);
}

static void expect_parse(const char *body, size_t length, cash_result expected)
{
    char why[API_WHY_BYTES_MAX] = "";
    json_t *root = NULL;
    cash_result result = api_json_parse(body, length, &root, why, sizeof(why));
    if (result != expected) {
        fail_msg("body %.*s: result %d, expected %d (%s)", (int)length, body, (int)result,
                 (int)expected, why);
    }
    if (expected == CASH_OK) {
        assert_true(json_is_object(root));
        json_decref(root);
    } else {
        assert_null(root);
        assert_string_not_equal(why, "");
    }
}

static void test_json_parse(void **state)
{
    (void)state;
    expect_parse("{\"amount\":20000}", 16, CASH_OK);
    expect_parse(NULL, 0, CASH_INVALID_JSON);
    expect_parse("", 0, CASH_INVALID_JSON);
    expect_parse("[1]", 3, CASH_INVALID_JSON);
    expect_parse("20000", 5, CASH_INVALID_JSON);
    expect_parse("\"x\"", 3, CASH_INVALID_JSON);
    expect_parse("{\"amount\":1,\"amount\":2}", 23, CASH_INVALID_JSON);
    expect_parse("{\"amount\":1} x", 14, CASH_INVALID_JSON);
    expect_parse("{\"amount\":1", 11, CASH_INVALID_JSON);
    expect_parse("{\"a\":\"\xff\"}", 8, CASH_INVALID_JSON);
    expect_parse("{\"a\":\"\\u0000\"}", 14, CASH_INVALID_JSON);
    expect_parse("{\"a\":1}\0", 8, CASH_INVALID_JSON);
    expect_parse("{\"amount\":99999999999999999999}", 31, CASH_VALIDATION_ERROR);
}

static void test_fields_and_params(void **state)
{
    static const char *const allowed[] = {"amount", NULL};
    char why[API_WHY_BYTES_MAX] = "";
    const char *text = NULL;
    (void)state;
    json_t *body = json_loads("{\"amount\":1,\"extra\":2}", 0, NULL);
    assert_non_null(body);
    assert_int_equal(api_fields_allowed(body, allowed, why, sizeof(why)), CASH_VALIDATION_ERROR);
    assert_non_null(strstr(why, "extra"));
    assert_int_equal(api_field_string(body, "amount", true, &text, why, sizeof(why)),
                     CASH_VALIDATION_ERROR);
    assert_string_equal(why, "amount must be a string");
    assert_int_equal(api_field_string(body, "missing", true, &text, why, sizeof(why)),
                     CASH_VALIDATION_ERROR);
    assert_string_equal(why, "missing is required");
    assert_int_equal(api_field_string(body, "missing", false, &text, why, sizeof(why)), CASH_OK);
    assert_null(text);
    json_decref(body);

    struct http_request request;
    memset(&request, 0, sizeof(request));
    assert_int_equal(api_params_none(&request, why, sizeof(why)), CASH_OK);
    request.params[0].key = "limit";
    request.params[0].value = "1";
    request.param_count = 1;
    assert_int_equal(api_params_none(&request, why, sizeof(why)), CASH_VALIDATION_ERROR);
    assert_non_null(strstr(why, "limit"));

    /* The HTTP layer's parameters become the list filters' (domain/query.h), in order. */
    struct query_param params[HTTP_QUERY_PARAMS_MAX];
    request.params[1].key = "status";
    request.params[1].value = "";
    request.param_count = 2;
    assert_int_equal(api_query_params(&request, params), 2);
    assert_ptr_equal(params[0].key, request.params[0].key);
    assert_ptr_equal(params[0].value, request.params[0].value);
    assert_ptr_equal(params[1].key, request.params[1].key);
    assert_ptr_equal(params[1].value, request.params[1].value);
    request.param_count = 0;
    assert_int_equal(api_query_params(&request, params), 0);
}

static void test_parse_integer(void **state)
{
    int64_t value = 0;
    (void)state;
    assert_true(api_parse_integer("20000", &value));
    assert_int_equal(value, 20000);
    assert_true(api_parse_integer("-5", &value));
    assert_int_equal(value, -5);
    assert_true(api_parse_integer("999999999999999999", &value));
    assert_int_equal(value, 999999999999999999LL);
    assert_false(api_parse_integer("", &value));
    assert_false(api_parse_integer("-", &value));
    assert_false(api_parse_integer("+5", &value));
    assert_false(api_parse_integer(" 5", &value));
    assert_false(api_parse_integer("5 ", &value));
    assert_false(api_parse_integer("20000.0", &value));
    assert_false(api_parse_integer("1e3", &value));
    assert_false(api_parse_integer("0x10", &value));
    assert_false(api_parse_integer("9999999999999999999", &value));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes_known_paths),
        cmocka_unit_test(test_routes_quote_before_id),
        cmocka_unit_test(test_routes_capture_id),
        cmocka_unit_test(test_routes_unknown_paths),
        cmocka_unit_test(test_routes_method_not_allowed),
        cmocka_unit_test(test_content_type),
        cmocka_unit_test(test_json_depth),
        cmocka_unit_test(test_json_parse),
        cmocka_unit_test(test_fields_and_params),
        cmocka_unit_test(test_parse_integer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
