#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "common/ids.h"

#define NOW_MS 1795521600123LL /* 2026-11-24T12:00:00.123Z */

static void expect_charset(const char *text, size_t length, const char *charset)
{
    assert_int_equal(strlen(text), length);
    assert_int_equal(strspn(text, charset), length);
}

static void test_account_and_member_ids(void **state)
{
    (void)state;
    char account[ACCOUNT_ID_LENGTH + 1];
    char member[MEMBER_ID_LENGTH + 1];
    char other[ACCOUNT_ID_LENGTH + 1];
    assert_true(id_account_new(NOW_MS, account));
    assert_true(id_member_new(NOW_MS, member));
    assert_true(id_account_new(NOW_MS, other));
    expect_charset(account, ACCOUNT_ID_LENGTH, "0123456789");
    expect_charset(member, MEMBER_ID_LENGTH, "0123456789");
    assert_memory_equal(account, "261124", 6);
    assert_memory_equal(member, "261124", 6);
    assert_string_not_equal(account, other);
    /* the date is the UTC date: 2026-11-24T23:59:59Z is still the 24th */
    assert_true(id_account_new(1795564799000LL, account));
    assert_memory_equal(account, "261124", 6);
    assert_true(id_account_new(1795564800000LL, account));
    assert_memory_equal(account, "261125", 6);
}

static void test_sortable_ids(void **state)
{
    (void)state;
    char first[WITHDRAW_ID_LENGTH + 1];
    char second[WITHDRAW_ID_LENGTH + 1];
    char later[WITHDRAW_ID_LENGTH + 1];
    assert_true(id_sortable_new(NOW_MS, first));
    assert_true(id_sortable_new(NOW_MS, second));
    assert_true(id_sortable_new(NOW_MS + 1, later));
    expect_charset(first, WITHDRAW_ID_LENGTH, "0123456789");
    assert_memory_equal(first, "1795521600123", 13);
    assert_string_not_equal(first, second);
    assert_true(strcmp(later, first) > 0);
    assert_true(strcmp(later, second) > 0);
    /* an early time is zero-padded, so the id keeps its length and order */
    assert_true(id_sortable_new(5, first));
    assert_memory_equal(first, "0000000000005", 13);
    assert_int_equal(strlen(first), WITHDRAW_ID_LENGTH);
}

/* Many ids in one millisecond sort in the order they were made. */
static void test_sortable_ids_within_a_millisecond(void **state)
{
    (void)state;
    char previous[WITHDRAW_ID_LENGTH + 1];
    char id[WITHDRAW_ID_LENGTH + 1];
    assert_true(id_sortable_new(NOW_MS + 7, previous));
    for (int i = 1; i < 1000; i++) {
        assert_true(id_sortable_new(NOW_MS + 7, id));
        assert_memory_equal(id, previous, 13);
        assert_true(strcmp(id, previous) > 0);
        memcpy(previous, id, sizeof(id));
    }
}

static void test_api_keys(void **state)
{
    (void)state;
    char key[AUTH_API_KEY_LENGTH + 1];
    char secret[AUTH_API_SECRET_LENGTH + 1];
    char other[AUTH_API_SECRET_LENGTH + 1];
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    assert_true(id_api_key_new(key));
    assert_true(id_api_secret_new(secret));
    assert_true(id_api_secret_new(other));
    expect_charset(key, AUTH_API_KEY_LENGTH, alphabet);
    expect_charset(secret, AUTH_API_SECRET_LENGTH, alphabet);
    assert_string_not_equal(secret, other);
}

static void test_random_digits_cover_all(void **state)
{
    (void)state;
    bool seen[10] = {false};
    char id[WITHDRAW_ID_LENGTH + 1];
    for (int round = 0; round < 50; round++) {
        assert_true(id_sortable_new(NOW_MS, id));
        for (size_t i = 13; i < WITHDRAW_ID_LENGTH; i++) {
            seen[id[i] - '0'] = true;
        }
    }
    for (size_t digit = 0; digit < 10; digit++) {
        assert_true(seen[digit]);
    }
}

static void test_is_digits(void **state)
{
    (void)state;
    assert_true(id_is_digits("0123", 4));
    assert_true(id_is_digits("", 0));
    assert_false(id_is_digits("0123", 3));
    assert_false(id_is_digits("012", 4));
    assert_false(id_is_digits("01a3", 4));
    assert_false(id_is_digits("-123", 4));
    assert_false(id_is_digits(" 123", 4));
    assert_false(id_is_digits(NULL, 4));
    assert_true(id_is_digits("17640000000001234567890123456789", WITHDRAW_ID_LENGTH));
    assert_false(id_is_digits("1764000000000123456789012345678", WITHDRAW_ID_LENGTH));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_account_and_member_ids),
        cmocka_unit_test(test_sortable_ids),
        cmocka_unit_test(test_sortable_ids_within_a_millisecond),
        cmocka_unit_test(test_api_keys),
        cmocka_unit_test(test_random_digits_cover_all),
        cmocka_unit_test(test_is_digits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
