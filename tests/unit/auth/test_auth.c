#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "auth/auth.h"
#include "auth/auth_header.h"

#define KEY    "NCSAYU7YDBXYORXC"
#define SECRET "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
#define DATE   "2026-11-24T21:00:00+09:00"
#define SALT   "q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6"

/* An OWNER of an ACTIVE, verified account with both scopes: allowed everything. */
static struct api_key allowed_key(void)
{
    struct api_key key;
    memset(&key, 0, sizeof(key));
    memcpy(key.api_key, KEY, sizeof(KEY));
    key.scopes = SCOPE_CASH_READ | SCOPE_CASH_WRITE;
    key.role = ROLE_OWNER;
    key.member_status = MEMBER_ACTIVE;
    key.account_status = ACCOUNT_ACTIVE;
    key.account_verified = VERIFIED_PERSONAL;
    return key;
}

static void expect_access(const struct api_key *key, cash_result read, cash_result write)
{
    assert_int_equal(auth_authorize(key, AUTH_ACCESS_READ), read);
    assert_int_equal(auth_authorize(key, AUTH_ACCESS_WRITE), write);
}

static void test_authorize_scopes(void **state)
{
    (void)state;
    struct api_key key = allowed_key();
    expect_access(&key, CASH_OK, CASH_OK);
    key.scopes = SCOPE_CASH_READ;
    expect_access(&key, CASH_OK, CASH_MISSING_ACCOUNT_PERMISSION);
    key.scopes = SCOPE_CASH_WRITE;
    expect_access(&key, CASH_MISSING_ACCOUNT_PERMISSION, CASH_OK);
    key.scopes = 0;
    expect_access(&key, CASH_MISSING_ACCOUNT_PERMISSION, CASH_MISSING_ACCOUNT_PERMISSION);
}

static void test_authorize_roles(void **state)
{
    (void)state;
    struct api_key key = allowed_key();
    /* SPEC 1: OWNER holds role-cash:read and role-cash:write, the others only read */
    key.role = ROLE_DEVELOPER;
    expect_access(&key, CASH_OK, CASH_MISSING_MEMBER_PERMISSION);
    key.role = ROLE_MEMBER;
    expect_access(&key, CASH_OK, CASH_MISSING_MEMBER_PERMISSION);
}

static void test_authorize_statuses(void **state)
{
    (void)state;
    struct api_key key = allowed_key();
    key.account_status = ACCOUNT_INACTIVE;
    expect_access(&key, CASH_ACCOUNT_NOT_ACTIVE, CASH_ACCOUNT_NOT_ACTIVE);
    key.account_status = ACCOUNT_DELETED;
    expect_access(&key, CASH_ACCOUNT_NOT_ACTIVE, CASH_ACCOUNT_NOT_ACTIVE);
    key = allowed_key();
    const enum member_status inactive[] = {MEMBER_UNVERIFIED, MEMBER_INACTIVE, MEMBER_DELETED};
    for (size_t i = 0; i < 3; i++) {
        key.member_status = inactive[i];
        expect_access(&key, CASH_MEMBER_NOT_ACTIVE, CASH_MEMBER_NOT_ACTIVE);
    }
    key = allowed_key();
    key.account_verified = VERIFIED_NONE;
    expect_access(&key, CASH_OK, CASH_ACCOUNT_NOT_VERIFIED);
    key.account_verified = VERIFIED_BUSINESS;
    expect_access(&key, CASH_OK, CASH_OK);
}

static void test_authorize_order(void **state)
{
    (void)state;
    /* docs/API.md: scope, role, account status, member status, verification */
    struct api_key key = allowed_key();
    key.scopes = SCOPE_CASH_READ;
    key.role = ROLE_MEMBER;
    key.account_status = ACCOUNT_INACTIVE;
    key.member_status = MEMBER_INACTIVE;
    key.account_verified = VERIFIED_NONE;
    assert_int_equal(auth_authorize(&key, AUTH_ACCESS_WRITE), CASH_MISSING_ACCOUNT_PERMISSION);
    key.scopes |= SCOPE_CASH_WRITE;
    assert_int_equal(auth_authorize(&key, AUTH_ACCESS_WRITE), CASH_MISSING_MEMBER_PERMISSION);
    key.role = ROLE_OWNER;
    assert_int_equal(auth_authorize(&key, AUTH_ACCESS_WRITE), CASH_ACCOUNT_NOT_ACTIVE);
    key.account_status = ACCOUNT_ACTIVE;
    assert_int_equal(auth_authorize(&key, AUTH_ACCESS_WRITE), CASH_MEMBER_NOT_ACTIVE);
    key.member_status = MEMBER_ACTIVE;
    assert_int_equal(auth_authorize(&key, AUTH_ACCESS_WRITE), CASH_ACCOUNT_NOT_VERIFIED);
    key.account_verified = VERIFIED_PERSONAL;
    assert_int_equal(auth_authorize(&key, AUTH_ACCESS_WRITE), CASH_OK);
}

static void test_sign_sha256(void **state)
{
    (void)state;
    char header[AUTH_HEADER_BYTES_MAX + 1];
    char expected[65];
    struct auth_header parsed;
    char why[200] = "";
    assert_int_equal(auth_sign(HMAC_METHOD_SHA256, KEY, SECRET, DATE, SALT, header, sizeof(header)),
                     CASH_OK);
    /* computed independently (Python's hmac module) */
    assert_string_equal(header,
                        "HMAC-SHA256 apiKey=" KEY ", date=" DATE ", salt=" SALT ", signature="
                        "ec9efb67184f32337909c8fe337a13767d5bf131102e2d16d22d4784f7b41eb5");
    assert_int_equal(auth_header_parse(header, strlen(header), &parsed, why, sizeof(why)), CASH_OK);
    assert_true(crypto_hmac_hex(HMAC_METHOD_SHA256, SECRET, strlen(SECRET), DATE SALT,
                                strlen(DATE SALT), expected, sizeof(expected)));
    assert_string_equal(parsed.signature, expected);
}

static void test_sign_md5(void **state)
{
    (void)state;
    char header[AUTH_HEADER_BYTES_MAX + 1];
    assert_int_equal(auth_sign(HMAC_METHOD_MD5, KEY, SECRET, DATE, SALT, header, sizeof(header)),
                     CASH_OK);
    assert_string_equal(header, "HMAC-MD5 apiKey=" KEY ", date=" DATE ", salt=" SALT
                                ", signature=6cfddaf4fdc73d1ada113f2c7506c223");
}

static void test_sign_refusals(void **state)
{
    (void)state;
    char header[AUTH_HEADER_BYTES_MAX + 1];
    /* it never writes a header cashd would refuse */
    assert_int_equal(
        auth_sign(HMAC_METHOD_SHA256, KEY, SECRET, DATE, "short", header, sizeof(header)),
        CASH_VALIDATION_ERROR);
    assert_string_equal(header, "");
    assert_int_equal(
        auth_sign(HMAC_METHOD_SHA256, "short-key", SECRET, DATE, SALT, header, sizeof(header)),
        CASH_VALIDATION_ERROR);
    assert_int_equal(
        auth_sign(HMAC_METHOD_SHA256, KEY, SECRET, "yesterday", SALT, header, sizeof(header)),
        CASH_VALIDATION_ERROR);
    char long_salt[200];
    memset(long_salt, 's', sizeof(long_salt) - 1);
    long_salt[sizeof(long_salt) - 1] = '\0';
    assert_int_equal(
        auth_sign(HMAC_METHOD_SHA256, KEY, SECRET, DATE, long_salt, header, sizeof(header)),
        CASH_VALIDATION_ERROR);
    char small[64];
    assert_int_equal(auth_sign(HMAC_METHOD_SHA256, KEY, SECRET, DATE, SALT, small, sizeof(small)),
                     CASH_INTERNAL_ERROR);
    assert_string_equal(small, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_authorize_scopes),   cmocka_unit_test(test_authorize_roles),
        cmocka_unit_test(test_authorize_statuses), cmocka_unit_test(test_authorize_order),
        cmocka_unit_test(test_sign_sha256),        cmocka_unit_test(test_sign_md5),
        cmocka_unit_test(test_sign_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
