#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/timeutil.h"

static bool parse(const char *text, int64_t *ms)
{
    return iso8601_parse(text, strlen(text), ms);
}

static void expect_ms(const char *text, int64_t expected)
{
    int64_t ms = -1;
    if (!parse(text, &ms)) {
        fail_msg("refused %s", text);
    }
    assert_int_equal(ms, expected);
}

static void expect_refused(const char *text)
{
    int64_t ms = -1;
    if (parse(text, &ms)) {
        fail_msg("accepted %s", text);
    }
}

static void test_parse_utc(void **state)
{
    (void)state;
    expect_ms("2019-10-28T17:43:54.390Z", 1572284634390LL);
    expect_ms("2026-11-24T12:00:00Z", 1795521600000LL);
    expect_ms("1970-01-01T00:00:00Z", 0);
    expect_ms("1970-01-01T00:00:00.001Z", 1);
    expect_ms("9999-12-31T23:59:59.999Z", 253402300799999LL);
}

static void test_parse_offsets(void **state)
{
    (void)state;
    expect_ms("2026-11-24T21:00:00+09:00", 1795521600000LL);
    expect_ms("2026-11-24T21:00:00+0900", 1795521600000LL);
    expect_ms("2026-11-24T06:30:00-05:30", 1795521600000LL);
    expect_ms("2026-11-24T06:30:00-0530", 1795521600000LL);
    expect_ms("2026-11-24T12:00:00+00:00", 1795521600000LL);
    expect_ms("2026-11-24T12:00:00-00:00", 1795521600000LL);
    expect_ms("2026-11-25T11:59:00+23:59", 1795521600000LL);
    /* crossing a day and a year boundary */
    expect_ms("2027-01-01T08:59:59+09:00", 1798761599000LL);
}

static void test_parse_fractions(void **state)
{
    (void)state;
    expect_ms("2026-11-24T12:00:00.1Z", 1795521600100LL);
    expect_ms("2026-11-24T12:00:00.12Z", 1795521600120LL);
    expect_ms("2026-11-24T12:00:00.123Z", 1795521600123LL);
    expect_ms("2026-11-24T12:00:00.1239Z", 1795521600123LL);
    expect_ms("2026-11-24T12:00:00.999999999Z", 1795521600999LL);
    expect_ms("2026-11-24T21:00:00.5+09:00", 1795521600500LL);
    expect_refused("2026-11-24T12:00:00.1234567890Z");
    expect_refused("2026-11-24T12:00:00.Z");
    expect_refused("2026-11-24T12:00:00,5Z");
    expect_refused("2026-11-24T12:00:00.5.5Z");
}

static void test_parse_calendar(void **state)
{
    (void)state;
    expect_ms("2024-02-29T00:00:00Z", 1709164800000LL);
    expect_ms("2000-02-29T00:00:00Z", 951782400000LL);
    expect_ms("2000-03-01T00:00:00Z", 951868800000LL);
    expect_refused("2023-02-29T00:00:00Z");
    expect_refused("2100-02-29T00:00:00Z");
    expect_refused("2024-02-30T00:00:00Z");
    expect_refused("2026-04-31T00:00:00Z");
    expect_refused("2026-06-31T00:00:00Z");
    expect_refused("2026-12-32T00:00:00Z");
    expect_refused("2026-00-10T00:00:00Z");
    expect_refused("2026-13-10T00:00:00Z");
    expect_refused("2026-01-00T00:00:00Z");
    expect_refused("2026-01-01T24:00:00Z");
    expect_refused("2026-01-01T23:60:00Z");
    expect_refused("2026-01-01T23:59:60Z");
    expect_refused("1969-12-31T23:59:59Z");
    expect_refused("0000-01-01T00:00:00Z");
    /* the local time is 1970, but UTC is before the epoch */
    expect_refused("1970-01-01T00:00:00+09:00");
}

static void test_parse_shape(void **state)
{
    (void)state;
    expect_refused("");
    expect_refused("2026-11-24");
    expect_refused("2026-11-24T12:00:00");
    expect_refused("2026-11-24T12:00Z");
    expect_refused("2026-11-24 12:00:00Z");
    expect_refused("2026-11-24t12:00:00Z");
    expect_refused("2026-11-24T12:00:00z");
    expect_refused("2026-11-24T12:00:00Z ");
    expect_refused(" 2026-11-24T12:00:00Z");
    expect_refused("2026-11-24T12:00:00Zjunk");
    expect_refused("2026-11-24T12:00:00+09");
    expect_refused("2026-11-24T12:00:00+9:00");
    expect_refused("2026-11-24T12:00:00+09:0");
    expect_refused("2026-11-24T12:00:00+09:000");
    expect_refused("2026-11-24T12:00:00+09::00");
    expect_refused("2026-11-24T12:00:00+24:00");
    expect_refused("2026-11-24T12:00:00+09:60");
    expect_refused("2026-11-24T12:00:00UTC");
    expect_refused("+2026-11-24T12:00:00Z");
    expect_refused("20261124T120000Z");
    expect_refused("2026-1-24T12:00:00Z");
    expect_refused("2026-11-24T12:0a:00Z");
    expect_refused("-026-11-24T12:00:00Z");
}

static void test_parse_exact_length(void **state)
{
    (void)state;
    int64_t ms = 0;
    const char *text = "2026-11-24T12:00:00Zjunk";
    assert_true(iso8601_parse(text, 20, &ms));
    assert_int_equal(ms, 1795521600000LL);
    assert_false(iso8601_parse(text, 19, &ms));
    assert_false(iso8601_parse(text, 21, &ms));
    const char with_nul[] = "2026-11-24T12:00:00Z\0";
    assert_false(iso8601_parse(with_nul, sizeof(with_nul) - 1, &ms));
    assert_false(iso8601_parse(NULL, 0, &ms));
    /* a long run of digits is refused without being read to the end */
    char long_text[256];
    memset(long_text, '1', sizeof(long_text));
    memcpy(long_text, "2026-11-24T12:00:00.", 20);
    long_text[255] = 'Z';
    assert_false(iso8601_parse(long_text, sizeof(long_text), &ms));
}

static void test_format(void **state)
{
    (void)state;
    char out[ISO8601_BYTES_MAX];
    iso8601_format(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
    iso8601_format(1572284634390LL, out);
    assert_string_equal(out, "2019-10-28T17:43:54.390Z");
    iso8601_format(1709164800000LL + 86399999LL, out);
    assert_string_equal(out, "2024-02-29T23:59:59.999Z");
    iso8601_format(951868800000LL, out);
    assert_string_equal(out, "2000-03-01T00:00:00.000Z");
    iso8601_format(253402300799999LL, out);
    assert_string_equal(out, "9999-12-31T23:59:59.999Z");
    assert_int_equal(strlen(out), 24);
}

static void test_format_parse_round_trip(void **state)
{
    (void)state;
    char out[ISO8601_BYTES_MAX];
    int64_t ms = 0;
    /* a spread of instants from 1970 to 9999, including odd milliseconds */
    for (int64_t value = 0; value < 253402300799999LL; value += 987654321987LL) {
        iso8601_format(value, out);
        assert_true(parse(out, &ms));
        assert_int_equal(ms, value);
    }
}

static void test_kst_day_start(void **state)
{
    (void)state;
    /* 2026-11-24 in Seoul runs from 2026-11-23T15:00:00Z to 2026-11-24T14:59:59.999Z */
    int64_t day_start = 1795446000000LL;
    assert_int_equal(kst_day_start_ms(day_start), day_start);
    assert_int_equal(kst_day_start_ms(day_start + 1), day_start);
    assert_int_equal(kst_day_start_ms(1795521600000LL), day_start);
    assert_int_equal(kst_day_start_ms(day_start + 86400000LL - 1), day_start);
    assert_int_equal(kst_day_start_ms(day_start + 86400000LL), day_start + 86400000LL);
    assert_int_equal(kst_day_start_ms(day_start - 1), day_start - 86400000LL);
    /* the Unix epoch is 09:00 in Seoul: its day began 9 hours before */
    assert_int_equal(kst_day_start_ms(0), -9LL * 3600 * 1000);
}

static void test_now(void **state)
{
    (void)state;
    int64_t first = time_now_ms();
    int64_t second = time_now_ms();
    assert_true(first > 1767225600000LL); /* after 2026-01-01 */
    assert_true(second >= first);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_utc),       cmocka_unit_test(test_parse_offsets),
        cmocka_unit_test(test_parse_fractions), cmocka_unit_test(test_parse_calendar),
        cmocka_unit_test(test_parse_shape),     cmocka_unit_test(test_parse_exact_length),
        cmocka_unit_test(test_format),          cmocka_unit_test(test_format_parse_round_trip),
        cmocka_unit_test(test_kst_day_start),   cmocka_unit_test(test_now),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
