#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "domain/bank.h"

static void test_bank_codes(void **state)
{
    (void)state;
    char why[128] = "";
    assert_int_equal(bank_code_check("004", why, sizeof(why)), CASH_OK);
    assert_int_equal(bank_code_check("0881", why, sizeof(why)), CASH_OK);
    assert_int_equal(bank_code_check("1234567890123456", why, sizeof(why)), CASH_OK);
    const char *bad[] = {"", "04", "12345678901234567", "0a4", " 004", "004 ", "-04", "０04"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        if (bank_code_check(bad[i], why, sizeof(why)) != CASH_VALIDATION_ERROR) {
            fail_msg("accepted bank code \"%s\"", bad[i]);
        }
        assert_non_null(strstr(why, "bankCode"));
    }
    assert_int_equal(bank_code_check(NULL, why, sizeof(why)), CASH_VALIDATION_ERROR);
}

static void expect_number(const char *text, const char *digits)
{
    char out[ACCOUNT_NUMBER_DIGITS_MAX + 1];
    char why[128] = "";
    if (bank_number_normalize(text, out, why, sizeof(why)) != CASH_OK) {
        fail_msg("refused \"%s\": %s", text, why);
    }
    assert_string_equal(out, digits);
}

static void test_account_numbers(void **state)
{
    (void)state;
    expect_number("123-456-7890", "1234567890");
    expect_number("1234567890", "1234567890");
    expect_number("12-34-56", "123456");
    expect_number("1-2-3-4-5-6", "123456");
    expect_number("12345678901234567890", "12345678901234567890");
    expect_number("1234-5678-9012-3456-7890", "12345678901234567890");
    const char *bad[] = {"",
                         "12345",
                         "12-345",
                         "123456789012345678901",
                         "1234567890-12345678901",
                         "123--456",
                         "-123456",
                         "123456-",
                         "123 456",
                         "123_456",
                         "１２３456789",
                         "123456\n",
                         "12a456",
                         "--"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char out[ACCOUNT_NUMBER_DIGITS_MAX + 1] = "untouched";
        char why[128] = "";
        if (bank_number_normalize(bad[i], out, why, sizeof(why)) != CASH_VALIDATION_ERROR) {
            fail_msg("accepted account number \"%s\"", bad[i]);
        }
        assert_non_null(strstr(why, "accountNumber"));
        assert_string_equal(out, "untouched");
    }
}

static void test_masking(void **state)
{
    (void)state;
    char out[MASKED_NUMBER_BYTES_MAX + 1];
    bank_number_mask("1234567890", out);
    assert_string_equal(out, "******7890");
    bank_number_mask("123456", out);
    assert_string_equal(out, "******3456");
    bank_number_mask("12345678901234567890", out);
    assert_string_equal(out, "******7890");
    /* the full number never shows */
    assert_null(strstr(out, "123456"));
}

static void expect_holder(const char *text, cash_result expected)
{
    char why[128] = "";
    cash_result result = bank_holder_check(text, why, sizeof(why));
    if (result != expected) {
        fail_msg("holder \"%s\": got %d, expected %d (%s)", text, result, expected, why);
    }
    if (expected != CASH_OK) {
        assert_non_null(strstr(why, "holderName"));
    }
}

static void test_holder_names(void **state)
{
    (void)state;
    expect_holder("홍길동", CASH_OK);
    expect_holder("John Smith", CASH_OK);
    expect_holder("(주)쿨에스엠에스", CASH_OK);
    expect_holder("Zoë 😀", CASH_OK);
    expect_holder(" 홍 ", CASH_OK);
    /* 40 Hangul syllables are 120 bytes; one more byte is too many */
    char name[200] = "";
    for (int i = 0; i < 40; i++) {
        strcat(name, "가");
    }
    assert_int_equal(strlen(name), 120);
    expect_holder(name, CASH_OK);
    strcat(name, "a");
    expect_holder(name, CASH_VALIDATION_ERROR);
    expect_holder("", CASH_VALIDATION_ERROR);
    expect_holder("   ", CASH_VALIDATION_ERROR);
    expect_holder("\xe3\x80\x80", CASH_VALIDATION_ERROR); /* ideographic space alone */
    expect_holder("\xc2\xa0", CASH_VALIDATION_ERROR);     /* no-break space alone */
    expect_holder("a\tb", CASH_VALIDATION_ERROR);
    expect_holder("a\nb", CASH_VALIDATION_ERROR);
    expect_holder("a\x7f", CASH_VALIDATION_ERROR);
    expect_holder("a\xc2\x85", CASH_VALIDATION_ERROR); /* C1 control NEL */
    expect_holder("\xff", CASH_VALIDATION_ERROR);
    expect_holder("\xc0\xaf", CASH_VALIDATION_ERROR);         /* overlong '/' */
    expect_holder("\xe0\x80\xaf", CASH_VALIDATION_ERROR);     /* overlong, 3 bytes */
    expect_holder("\xed\xa0\x80", CASH_VALIDATION_ERROR);     /* a surrogate */
    expect_holder("\xf4\x90\x80\x80", CASH_VALIDATION_ERROR); /* beyond U+10FFFF */
    expect_holder("\xed\x99", CASH_VALIDATION_ERROR);         /* cut short */
    expect_holder("\xea\xb0\x80\x80", CASH_VALIDATION_ERROR); /* a stray continuation */
    expect_holder(NULL, CASH_VALIDATION_ERROR);
}

static void test_clean_utf8(void **state)
{
    (void)state;
    assert_true(text_is_clean_utf8("", 0));
    assert_true(text_is_clean_utf8("홍길동", strlen("홍길동")));
    assert_false(text_is_clean_utf8("a\0b", 3));
    /* the length bounds what is read: a cut sequence is invalid */
    assert_false(text_is_clean_utf8("홍", 2));
    assert_true(text_is_clean_utf8("홍x", 3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bank_codes), cmocka_unit_test(test_account_numbers),
        cmocka_unit_test(test_masking),    cmocka_unit_test(test_holder_names),
        cmocka_unit_test(test_clean_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
