#include "common/timeutil.h"

#include <assert.h>
#include <stdio.h>
#include <time.h>

#define MS_PER_SECOND               1000LL
#define MS_PER_DAY                  (86400LL * MS_PER_SECOND)
#define ISO8601_YEAR_MIN            1970
#define ISO8601_YEAR_MAX            9999
#define ISO8601_FRACTION_DIGITS_MAX 9
#define ISO8601_MS_MAX              253402300799999LL /* 9999-12-31T23:59:59.999Z */
#define ISO8601_ZONE_HOURS_MAX      23
/* "YYYY-MM-DDTHH:MM:SS", "." and the fraction, "+HH:MM" */
#define ISO8601_TEXT_BYTES_MAX (19 + 1 + ISO8601_FRACTION_DIGITS_MAX + 6)

/* A calendar date in the proleptic Gregorian calendar. */
struct civil_date {
    int64_t year;
    int64_t month; /* 1..12 */
    int64_t day;   /* 1..31 */
};

/* floor(a / b) for b > 0. */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t quotient = a / b;
    if (a % b != 0 && a < 0) {
        quotient -= 1;
    }
    return quotient;
}

/* Days since 1970-01-01 of a civil date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(struct civil_date date)
{
    int64_t year = date.month <= 2 ? date.year - 1 : date.year;
    int64_t era = floor_div(year, 400);
    int64_t year_of_era = year - era * 400;
    int64_t month_shifted = date.month > 2 ? date.month - 3 : date.month + 9;
    int64_t day_of_year = (153 * month_shifted + 2) / 5 + date.day - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

/* The civil date of a day count since 1970-01-01 (H. Hinnant's civil_from_days). */
static struct civil_date civil_from_days(int64_t days)
{
    int64_t shifted = days + 719468;
    int64_t era = floor_div(shifted, 146097);
    int64_t day_of_era = shifted - era * 146097;
    int64_t year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    int64_t month_shifted = (5 * day_of_year + 2) / 153;
    struct civil_date date;
    date.day = day_of_year - (153 * month_shifted + 2) / 5 + 1;
    date.month = month_shifted < 10 ? month_shifted + 3 : month_shifted - 9;
    date.year = year_of_era + era * 400 + (date.month <= 2 ? 1 : 0);
    return date;
}

static bool is_leap_year(int64_t year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int64_t days_in_month(int64_t year, int64_t month)
{
    static const int64_t days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    assert(month >= 1 && month <= 12);
    if (month == 2 && is_leap_year(year)) {
        return 29;
    }
    return days[month - 1];
}

/* The real-time clock in milliseconds (it may step: never use it to time a duration). */
int64_t time_now_ms(void)
{
    struct timespec now;
    int rc = clock_gettime(CLOCK_REALTIME, &now);
    assert(rc == 0); /* CLOCK_REALTIME always exists */
    (void)rc;
    return (int64_t)now.tv_sec * MS_PER_SECOND + (int64_t)(now.tv_nsec / 1000000);
}

/* Reads exactly count ASCII digits at text[*position]; advances the position. */
static bool read_digits(const char *text, size_t len, size_t *position, size_t count, int64_t *out)
{
    int64_t value = 0;
    if (len - *position < count) {
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        char c = text[*position + i];
        if (c < '0' || c > '9') {
            return false;
        }
        value = value * 10 + (c - '0');
    }
    *position += count;
    *out = value;
    return true;
}

/* Expects the byte `expected` at text[*position]; advances the position. */
static bool read_char(const char *text, size_t len, size_t *position, char expected)
{
    if (*position >= len || text[*position] != expected) {
        return false;
    }
    *position += 1;
    return true;
}

/* "YYYY-MM-DDTHH:MM:SS" as milliseconds of that wall-clock time, validated. */
static bool parse_date_time(const char *text, size_t len, size_t *position, int64_t *ms_out)
{
    struct civil_date date;
    int64_t hour = 0;
    int64_t minute = 0;
    int64_t second = 0;
    bool shape =
        read_digits(text, len, position, 4, &date.year) && read_char(text, len, position, '-') &&
        read_digits(text, len, position, 2, &date.month) && read_char(text, len, position, '-') &&
        read_digits(text, len, position, 2, &date.day) && read_char(text, len, position, 'T') &&
        read_digits(text, len, position, 2, &hour) && read_char(text, len, position, ':') &&
        read_digits(text, len, position, 2, &minute) && read_char(text, len, position, ':') &&
        read_digits(text, len, position, 2, &second);
    if (!shape) {
        return false;
    }
    if (date.year < ISO8601_YEAR_MIN || date.year > ISO8601_YEAR_MAX || date.month < 1 ||
        date.month > 12 || date.day < 1 || date.day > days_in_month(date.year, date.month)) {
        return false;
    }
    if (hour > 23 || minute > 59 || second > 59) {
        return false;
    }
    *ms_out = days_from_civil(date) * MS_PER_DAY + ((hour * 60 + minute) * 60 + second) * 1000;
    return true;
}

/* An optional ".d" to ".ddddddddd"; milliseconds, truncated. */
static bool parse_fraction(const char *text, size_t len, size_t *position, int64_t *ms_out)
{
    size_t digits = 0;
    int64_t ms = 0;
    *ms_out = 0;
    if (*position >= len || text[*position] != '.') {
        return true;
    }
    *position += 1;
    while (*position < len && text[*position] >= '0' && text[*position] <= '9') {
        if (digits == ISO8601_FRACTION_DIGITS_MAX) {
            return false;
        }
        if (digits < 3) {
            ms = ms * 10 + (text[*position] - '0');
        }
        digits += 1;
        *position += 1;
    }
    if (digits == 0) {
        return false;
    }
    for (size_t i = digits; i < 3; i++) {
        ms *= 10;
    }
    *ms_out = ms;
    return true;
}

/* "Z", "+HH:MM", "-HH:MM", "+HHMM" or "-HHMM" ending the text: the offset east of UTC in ms. */
static bool parse_zone(const char *text, size_t len, size_t *position, int64_t *offset_ms_out)
{
    int64_t hours = 0;
    int64_t minutes = 0;
    int64_t sign = 1;
    if (*position >= len) {
        return false;
    }
    if (text[*position] == 'Z') {
        *position += 1;
        *offset_ms_out = 0;
        return *position == len;
    }
    if (text[*position] == '-') {
        sign = -1;
    } else if (text[*position] != '+') {
        return false;
    }
    *position += 1;
    if (!read_digits(text, len, position, 2, &hours)) {
        return false;
    }
    if (*position < len && text[*position] == ':') {
        *position += 1;
    }
    if (!read_digits(text, len, position, 2, &minutes) || *position != len) {
        return false;
    }
    if (hours > ISO8601_ZONE_HOURS_MAX || minutes > 59) {
        return false;
    }
    *offset_ms_out = sign * (hours * 60 + minutes) * 60 * MS_PER_SECOND;
    return true;
}

/* SPEC 1: strict ISO 8601 with a zone, fixed widths, validated calendar; see timeutil.h. */
bool iso8601_parse(const char *text, size_t len, int64_t *ms_out)
{
    size_t position = 0;
    int64_t local_ms = 0;
    int64_t fraction_ms = 0;
    int64_t offset_ms = 0;
    if (text == NULL || len > ISO8601_TEXT_BYTES_MAX) {
        return false;
    }
    if (!parse_date_time(text, len, &position, &local_ms) ||
        !parse_fraction(text, len, &position, &fraction_ms) ||
        !parse_zone(text, len, &position, &offset_ms)) {
        return false;
    }
    int64_t ms = local_ms + fraction_ms - offset_ms;
    if (ms < 0) {
        return false;
    }
    *ms_out = ms;
    return true;
}

/* Times outside 1970..9999 are clamped to that range, so the text always has 24 bytes. */
void iso8601_format(int64_t ms, char out[ISO8601_BYTES_MAX])
{
    if (ms < 0) {
        ms = 0;
    }
    if (ms > ISO8601_MS_MAX) {
        ms = ISO8601_MS_MAX;
    }
    int64_t days = ms / MS_PER_DAY;
    int64_t ms_of_day = ms % MS_PER_DAY;
    struct civil_date date = civil_from_days(days);
    /* The remainders only tell the compiler the widths that the clamp above already ensures. */
    unsigned year = (unsigned)(date.year % 10000);
    unsigned month = (unsigned)(date.month % 100);
    unsigned day = (unsigned)(date.day % 100);
    unsigned hour = (unsigned)(ms_of_day / 3600000 % 24);
    unsigned minute = (unsigned)(ms_of_day / 60000 % 60);
    unsigned second = (unsigned)(ms_of_day / 1000 % 60);
    unsigned millisecond = (unsigned)(ms_of_day % 1000);
    snprintf(out, ISO8601_BYTES_MAX, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ", year, month, day, hour,
             minute, second, millisecond);
}

/* The start of the Asia/Seoul day containing ms, in UTC milliseconds. */
int64_t kst_day_start_ms(int64_t ms)
{
    /* SPEC 3: the daily limit counts calendar days in Asia/Seoul, UTC+9 all year round. */
    int64_t offset_ms = (int64_t)KST_OFFSET_SECONDS * MS_PER_SECOND;
    int64_t local_day = floor_div(ms + offset_ms, MS_PER_DAY);
    return local_day * MS_PER_DAY - offset_ms;
}
