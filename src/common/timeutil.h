/*
 * timeutil.h - clock and ISO 8601 (SPEC 1: dates with Z or an offset; answers in UTC with
 * milliseconds), and the calendar day of Asia/Seoul for the daily limit (SPEC 3).
 */
#ifndef CASH_TIMEUTIL_H
#define CASH_TIMEUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"

/* Milliseconds since the Unix epoch, UTC, from the real-time clock. */
int64_t time_now_ms(void);

/*
 * Parses "YYYY-MM-DDTHH:MM:SS[.fraction]" followed by "Z", "+HH:MM", "-HH:MM", "+HHMM" or "-HHMM"
 * (a zone is required; the fraction has 1 to 9 digits and is truncated to milliseconds).
 * Exactly len bytes must form the date. Years 1970..9999. Returns false on any other text.
 */
bool iso8601_parse(const char *text, size_t len, int64_t *ms_out);

/* Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 bytes and NUL) into out. */
void iso8601_format(int64_t ms, char out[ISO8601_BYTES_MAX]);

/* The first millisecond of the Asia/Seoul calendar day that contains ms. */
int64_t kst_day_start_ms(int64_t ms);

#endif
