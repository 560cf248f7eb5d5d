#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "auth/auth_header.h"

#define KEY     "NCSAYU7YDBXYORXC"
#define DATE    "2026-11-24T21:00:00+09:00"
#define SALT    "q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6"
#define SIG64   "ec9efb67184f32337909c8fe337a13767d5bf131102e2d16d22d4784f7b41eb5"
#define SIG32   "6cfddaf4fdc73d1ada113f2c7506c223"
#define DATE_MS 1795521600000LL

static cash_result parse(const char *text, struct auth_header *out, char *why, size_t why_size)
{
    return auth_header_parse(text, strlen(text), out, why, why_size);
}

static void expect_valid(const char *text, enum hmac_method method, const char *signature)
{
    struct auth_header header;
    char why[200] = "";
    if (parse(text, &header, why, sizeof(why)) != CASH_OK) {
        fail_msg("refused \"%s\": %s", text, why);
    }
    assert_int_equal(header.method, method);
    assert_string_equal(header.api_key, KEY);
    assert_string_equal(header.date, DATE);
    assert_int_equal(header.date_ms, DATE_MS);
    assert_string_equal(header.salt, SALT);
    assert_string_equal(header.signature, signature);
}

static void expect_refused(const char *text, const char *reason_part)
{
    struct auth_header header;
    char why[200] = "";
    if (parse(text, &header, why, sizeof(why)) != CASH_VALIDATION_ERROR) {
        fail_msg("accepted \"%s\"", text);
    }
    if (strstr(why, reason_part) == NULL) {
        fail_msg("\"%s\": reason \"%s\" lacks \"%s\"", text, why, reason_part);
    }
    assert_string_equal(header.api_key, "");
}

static void test_sdk_form(void **state)
{
    (void)state;
    /* what the official SDKs send */
    expect_valid("HMAC-SHA256 apiKey=" KEY ", date=" DATE ", salt=" SALT ", signature=" SIG64,
                 HMAC_METHOD_SHA256, SIG64);
}

static void test_md5(void **state)
{
    (void)state;
    expect_valid("HMAC-MD5 apiKey=" KEY ", date=" DATE ", salt=" SALT ", signature=" SIG32,
                 HMAC_METHOD_MD5, SIG32);
}

static void test_layout_freedom(void **state)
{
    (void)state;
    /* any order, no spaces or several around the commas, upper-case hex */
    expect_valid("HMAC-SHA256 signature=" SIG64 ",salt=" SALT ",date=" DATE ",apiKey=" KEY,
                 HMAC_METHOD_SHA256, SIG64);
    expect_valid("HMAC-SHA256 apiKey=" KEY "  ,  date=" DATE " ,salt=" SALT ",   signature=" SIG64,
                 HMAC_METHOD_SHA256, SIG64);
    expect_valid("HMAC-SHA256 apiKey=" KEY ", date=" DATE ", salt=" SALT
                 ", signature=EC9EFB67184F32337909C8FE337A13767D5BF131102E2D16D22D4784F7B41EB5",
                 HMAC_METHOD_SHA256, SIG64);
    /* the vendor's older documentation capitalises the names */
    expect_valid("HMAC-SHA256 ApiKey=" KEY ", Date=" DATE ", Salt=" SALT ", Signature=" SIG64,
                 HMAC_METHOD_SHA256, SIG64);
    /* the salt may hold '=' and other printable characters */
    struct auth_header header;
    char why[200] = "";
    assert_int_equal(parse("HMAC-SHA256 apiKey=" KEY ", date=2026-11-24T12:00:00.123Z, "
                           "salt=a=b~c!d@e#f$g%h, signature=" SIG64,
                           &header, why, sizeof(why)),
                     CASH_OK);
    assert_string_equal(header.salt, "a=b~c!d@e#f$g%h");
    assert_string_equal(header.date, "2026-11-24T12:00:00.123Z");
    assert_int_equal(header.date_ms, 1795521600123LL);
}

static void test_bad_method(void **state)
{
    (void)state;
    const char *parts = "apiKey=" KEY ", date=" DATE ", salt=" SALT ", signature=" SIG64;
    const char *methods[] = {"HMAC-SHA1 ", "hmac-sha256 ", "HMAC-SHA512 ",  "Bearer ",
                             "",           "HMAC-SHA256",  " HMAC-SHA256 ", "HMAC-SHA256\t"};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        char text[400];
        snprintf(text, sizeof(text), "%s%s", methods[i], parts);
        expect_refused(text, "method");
    }
    expect_refused("HMAC-SHA256", "method");
    expect_refused("", "method");
}

static void test_missing_and_repeated_parts(void **state)
{
    (void)state;
    expect_refused("HMAC-SHA256 date=" DATE ", salt=" SALT ", signature=" SIG64,
                   "apiKey is missing");
    expect_refused("HMAC-SHA256 apiKey=" KEY ", salt=" SALT ", signature=" SIG64,
                   "date is missing");
    expect_refused("HMAC-SHA256 apiKey=" KEY ", date=" DATE ", signature=" SIG64,
                   "salt is missing");
    expect_refused("HMAC-SHA256 apiKey=" KEY ", date=" DATE ", salt=" SALT, "signature is missing");
    expect_refused("HMAC-SHA256 ", "name=value");
    expect_refused("HMAC-SHA256 apiKey=" KEY ", apiKey=" KEY ", date=" DATE ", salt=" SALT
                   ", signature=" SIG64,
                   "apiKey appears more than once");
    expect_refused("HMAC-SHA256 apiKey=" KEY ", date=" DATE ", date=" DATE ", salt=" SALT
                   ", signature=" SIG64,
                   "date appears more than once");
    expect_refused("HMAC-SHA256 apiKey=" KEY ", date=" DATE ", salt=" SALT ", salt=" SALT
                   ", signature=" SIG64,
                   "salt appears more than once");
    expect_refused("HMAC-SHA256 apiKey=" KEY ", date=" DATE ", salt=" SALT ", signature=" SIG64
                   ", signature=" SIG64,
                   "signature appears more than once");
    expect_refused("HMAC-SHA256 apiKey=" KEY ", date=" DATE ", salt=" SALT ", signature=" SIG64
                   ", nonce=1",
                   "unknown part");
    expect_refused("HMAC-SHA256 apiKey=" KEY ", ApiKey=" KEY ", date=" DATE ", salt=" SALT
                   ", signature=" SIG64,
                   "apiKey appears more than once");
    expect_refused("HMAC-SHA256 api_key=" KEY ", date=" DATE ", salt=" SALT ", signature=" SIG64,
                   "unknown part");
}

static void test_bad_separators(void **state)
{
    (void)state;
    expect_refused("HMAC-SHA256 apiKey=" KEY ", date=" DATE ", salt=" SALT ", signature=" SIG64 ",",
                   "name=value");
    expect_refused("HMAC-SHA256 apiKey=" KEY "; date=" DATE ", salt=" SALT ", signature=" SIG64,
                   "apiKey");
    expect_refused("HMAC-SHA256 apiKey=" KEY " date=" DATE ", salt=" SALT ", signature=" SIG64,
                   "commas");
    expect_refused("HMAC-SHA256 apiKey=" KEY ",, date=" DATE ", salt=" SALT ", signature=" SIG64,
                   "name=value");
    expect_refused("HMAC-SHA256  apiKey=" KEY ", date=" DATE ", salt=" SALT ", signature=" SIG64,
                   "name=value");
    expect_refused("HMAC-SHA256 apiKey " KEY ", date=" DATE ", salt=" SALT ", signature=" SIG64,
                   "name=value");
}

static void test_bad_api_key(void **state)
{
    (void)state;
    const char *keys[] = {"",
                          "NCSAYU7YDBXYORX",
                          "NCSAYU7YDBXYORXCD",
                          "NCSAYU7YDBXYORX-",
                          "NCSAYU7YDBXYORX=",
                          "NCSAYU7YDBXYORX\x01",
                          "NCSAYU7YDBXYOR\xc3\xa9"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char text[400];
        snprintf(text, sizeof(text),
                 "HMAC-SHA256 apiKey=%s, date=" DATE ", salt=" SALT ", signature=" SIG64, keys[i]);
        expect_refused(text, "apiKey must be 16");
    }
}

static void test_bad_date(void **state)
{
    (void)state;
    const char *dates[] = {"", "2026-11-24T21:00:00", "2026-11-24", "2026-11-24T25:00:00+09:00",
                           "2026-02-30T21:00:00+09:00", "Tue, 24 Nov 2026 12:00:00 GMT",
                           "1795521600000",
                           /* 41 bytes: longer than AUTH_DATE_BYTES_MAX */
                           "2026-11-24T21:00:00.123456789+09:00000000"};
    for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
        char text[400];
        snprintf(text, sizeof(text),
                 "HMAC-SHA256 apiKey=" KEY ", date=%s, salt=" SALT ", signature=" SIG64, dates[i]);
        expect_refused(text, "date must be ISO 8601");
    }
}

static void test_bad_salt(void **state)
{
    (void)state;
    char salt[80];
    char text[400];
    /* 11 and 65 bytes; 12 and 64 pass */
    for (size_t length = 11; length <= 65; length++) {
        memset(salt, 's', length);
        salt[length] = '\0';
        snprintf(text, sizeof(text),
                 "HMAC-SHA256 apiKey=" KEY ", date=" DATE ", salt=%s, signature=" SIG64, salt);
        struct auth_header header;
        char why[200] = "";
        cash_result result = parse(text, &header, why, sizeof(why));
        if (length < 12 || length > 64) {
            assert_int_equal(result, CASH_VALIDATION_ERROR);
            assert_string_equal(why, "Authorization: salt must be 12 to 64 bytes");
        } else {
            assert_int_equal(result, CASH_OK);
            assert_string_equal(header.salt, salt);
        }
    }
    expect_refused("HMAC-SHA256 apiKey=" KEY ", date=" DATE ", salt=, signature=" SIG64,
                   "salt must be 12 to 64 bytes");
    expect_refused("HMAC-SHA256 apiKey=" KEY ", date=" DATE
                   ", salt=abcdef\x01ghijkl, signature=" SIG64,
                   "salt must be printable ASCII");
    expect_refused("HMAC-SHA256 apiKey=" KEY ", date=" DATE
                   ", salt=abcdef\tghijkl, signature=" SIG64,
                   "salt must be printable ASCII");
    expect_refused("HMAC-SHA256 apiKey=" KEY ", date=" DATE
                   ", salt=abcdef\xea\xb0\x80ghijkl, signature=" SIG64,
                   "salt must be printable ASCII");
}

static void test_bad_signature(void **state)
{
    (void)state;
    const char *sha_bad[] = {"",
                             SIG32,
                             "ec9efb67184f32337909c8fe337a13767d5bf131102e2d16d22d4784f7b41eb",
                             "ec9efb67184f32337909c8fe337a13767d5bf131102e2d16d22d4784f7b41eb55",
                             "gc9efb67184f32337909c8fe337a13767d5bf131102e2d16d22d4784f7b41eb5",
                             "0xc9efb67184f32337909c8fe337a13767d5bf131102e2d16d22d4784f7b41eb5"};
    for (size_t i = 0; i < sizeof(sha_bad) / sizeof(sha_bad[0]); i++) {
        char text[400];
        snprintf(text, sizeof(text),
                 "HMAC-SHA256 apiKey=" KEY ", date=" DATE ", salt=" SALT ", signature=%s",
                 sha_bad[i]);
        expect_refused(text, "signature must be 64 hex digits");
    }
    expect_refused("HMAC-MD5 apiKey=" KEY ", date=" DATE ", salt=" SALT ", signature=" SIG64,
                   "signature must be 32 hex digits");
    expect_refused("HMAC-MD5 apiKey=" KEY ", date=" DATE ", salt=" SALT
                   ", signature=6cfddaf4fdc73d1ada113f2c7506c22z",
                   "signature must be 32 hex digits");
}

static void test_length_bound(void **state)
{
    (void)state;
    char text[AUTH_HEADER_BYTES_MAX + 64];
    int length =
        snprintf(text, sizeof(text),
                 "HMAC-SHA256 apiKey=" KEY ", date=" DATE ", salt=" SALT ", signature=" SIG64);
    /* pad with spaces before a comma up to exactly the limit, then one byte more */
    char padded[AUTH_HEADER_BYTES_MAX + 64];
    size_t pad = AUTH_HEADER_BYTES_MAX - (size_t)length;
    snprintf(padded, sizeof(padded),
             "HMAC-SHA256 apiKey=" KEY "%*s, date=" DATE ", salt=" SALT ", signature=" SIG64,
             (int)pad, "");
    assert_int_equal(strlen(padded), AUTH_HEADER_BYTES_MAX);
    struct auth_header header;
    char why[200] = "";
    assert_int_equal(parse(padded, &header, why, sizeof(why)), CASH_OK);
    snprintf(padded, sizeof(padded),
             "HMAC-SHA256 apiKey=" KEY "%*s, date=" DATE ", salt=" SALT ", signature=" SIG64,
             (int)pad + 1, "");
    expect_refused(padded, "longer than 512");
    /* only length bytes are read */
    assert_int_equal(auth_header_parse(text, (size_t)length - 1, &header, why, sizeof(why)),
                     CASH_VALIDATION_ERROR);
    assert_int_equal(auth_header_parse(NULL, 0, &header, why, sizeof(why)), CASH_VALIDATION_ERROR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sdk_form),
        cmocka_unit_test(test_md5),
        cmocka_unit_test(test_layout_freedom),
        cmocka_unit_test(test_bad_method),
        cmocka_unit_test(test_missing_and_repeated_parts),
        cmocka_unit_test(test_bad_separators),
        cmocka_unit_test(test_bad_api_key),
        cmocka_unit_test(test_bad_date),
        cmocka_unit_test(test_bad_salt),
        cmocka_unit_test(test_bad_signature),
        cmocka_unit_test(test_length_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
