/*
 * test_totp.c - RFC 4226 HOTP and RFC 6238 TOTP (SHA-1) against their published test vectors,
 * the tolerance of one step either way, and RFC 4648 base32 (common/totp.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "common/totp.h"

static const unsigned char rfc_key[] = "12345678901234567890"; /* both RFCs' SHA-1 secret */
#define RFC_KEY_LENGTH 20

/* RFC 4226 Appendix D: HOTP values for counters 0..9. */
static void test_rfc4226_vectors(void **state)
{
    (void)state;
    static const char *const expected[] = {"755224", "287082", "359152", "969429", "338314",
                                           "254676", "287922", "162583", "399871", "520489"};
    char code[TOTP_DIGITS_MAX + 1];
    for (uint64_t counter = 0; counter < 10; counter++) {
        assert_true(totp_hotp(rfc_key, RFC_KEY_LENGTH, counter, 6, code, sizeof(code)));
        assert_string_equal(code, expected[counter]);
    }
}

/* RFC 6238 Appendix B, the SHA-1 rows: 8 digits, T0 = 0, X = 30. */
static void test_rfc6238_vectors(void **state)
{
    (void)state;
    static const struct {
        int64_t seconds;
        const char *code;
    } rows[] = {
        {59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
        {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000LL, "65353130"},
    };
    char code[TOTP_DIGITS_MAX + 1];
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int64_t step = totp_step(rows[i].seconds, TOTP_PERIOD_SECONDS);
        assert_true(totp_hotp(rfc_key, RFC_KEY_LENGTH, (uint64_t)step, 8, code, sizeof(code)));
        assert_string_equal(code, rows[i].code);
        /* The 6 digits an app shows are the last 6 of the 8. */
        assert_true(totp_hotp(rfc_key, RFC_KEY_LENGTH, (uint64_t)step, 6, code, sizeof(code)));
        assert_string_equal(code, rows[i].code + 2);
    }
}

static void test_steps(void **state)
{
    (void)state;
    assert_int_equal(totp_step(0, 30), 0);
    assert_int_equal(totp_step(29, 30), 0);
    assert_int_equal(totp_step(30, 30), 1);
    assert_int_equal(totp_step(59, 30), 1);
    assert_int_equal(totp_step(1111111109, 30), 37037036);
    assert_int_equal(totp_step(-5, 30), 0);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    char code[TOTP_DIGITS_MAX + 1];
    assert_false(totp_hotp(rfc_key, RFC_KEY_LENGTH, 1, 5, code, sizeof(code)));
    assert_false(totp_hotp(rfc_key, RFC_KEY_LENGTH, 1, 9, code, sizeof(code)));
    assert_false(totp_hotp(rfc_key, RFC_KEY_LENGTH, 1, 6, code, 6)); /* no room for the NUL */
    assert_false(totp_hotp(rfc_key, 0, 1, 6, code, sizeof(code)));
}

/* SPEC 5: one step of drift either way, the newest matching step reported. */
static void test_match_window(void **state)
{
    (void)state;
    int64_t step = 37037036; /* 1111111109 */
    int64_t found = -1;
    char code[TOTP_DIGITS + 1];
    for (int64_t offset = -1; offset <= 1; offset++) {
        assert_true(
            totp_hotp(rfc_key, RFC_KEY_LENGTH, (uint64_t)(step + offset), 6, code, sizeof(code)));
        found = -1;
        assert_true(totp_match(rfc_key, RFC_KEY_LENGTH, step, 1, code, &found));
        assert_int_equal(found, step + offset);
    }
    for (int64_t offset = -3; offset <= 3; offset += 6) {
        assert_true(
            totp_hotp(rfc_key, RFC_KEY_LENGTH, (uint64_t)(step + offset), 6, code, sizeof(code)));
        found = -1;
        assert_false(totp_match(rfc_key, RFC_KEY_LENGTH, step, 1, code, &found));
        assert_int_equal(found, -1);
    }
    assert_true(totp_match(rfc_key, RFC_KEY_LENGTH, step, 1, "081804", &found)); /* RFC row 2 */
    assert_int_equal(found, step);
    assert_false(totp_match(rfc_key, RFC_KEY_LENGTH, step, 1, "81804", &found));
    assert_false(totp_match(rfc_key, RFC_KEY_LENGTH, step, 1, "0818040", &found));
    assert_false(totp_match(rfc_key, RFC_KEY_LENGTH, step, 1, "", &found));
    /* Step 0 has no step before it. */
    assert_true(totp_hotp(rfc_key, RFC_KEY_LENGTH, 0, 6, code, sizeof(code)));
    assert_true(totp_match(rfc_key, RFC_KEY_LENGTH, 0, 1, code, &found));
    assert_int_equal(found, 0);
}

/* RFC 4648 section 10, without the padding. */
static void test_base32(void **state)
{
    (void)state;
    static const struct {
        const char *plain;
        const char *encoded;
    } rows[] = {
        {"", ""},
        {"f", "MY"},
        {"fo", "MZXQ"},
        {"foo", "MZXW6"},
        {"foob", "MZXW6YQ"},
        {"fooba", "MZXW6YTB"},
        {"foobar", "MZXW6YTBOI"},
    };
    char out[40];
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        size_t length = strlen(rows[i].plain);
        assert_int_equal(
            base32_encode((const unsigned char *)rows[i].plain, length, out, sizeof(out)),
            strlen(rows[i].encoded));
        assert_string_equal(out, rows[i].encoded);
    }
    assert_int_equal(base32_encode(rfc_key, RFC_KEY_LENGTH, out, sizeof(out)), 32);
    assert_string_equal(out, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    assert_int_equal(base32_encode(rfc_key, RFC_KEY_LENGTH, out, 32), 0); /* no room for NUL */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4226_vectors), cmocka_unit_test(test_rfc6238_vectors),
        cmocka_unit_test(test_steps),           cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_match_window),    cmocka_unit_test(test_base32),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
