/*
 * fuzz_iso8601.c - iso8601_parse on arbitrary bytes (SPEC 1: dates with Z or an offset). An
 * accepted date is within the years the parser allows (give or take a zone offset), and its UTC
 * form with milliseconds, as iso8601_format writes it, parses back to the same instant.
 */
#include "fuzz_common.h"

#include "common/timeutil.h"

#define FUZZ_MS_MAX  253402300799999LL /* 9999-12-31T23:59:59.999Z */
#define FUZZ_DAY_MS  (24LL * 3600 * 1000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_copy_exact(data, size);
    int64_t ms = -1;
    if (iso8601_parse(text, size, &ms)) {
        FUZZ_CHECK(ms >= 0);
        FUZZ_CHECK(ms <= FUZZ_MS_MAX + FUZZ_DAY_MS); /* 9999-12-31 late, with a west offset */
        if (ms <= FUZZ_MS_MAX) {
            char formatted[ISO8601_BYTES_MAX];
            int64_t again = -1;
            iso8601_format(ms, formatted);
            FUZZ_CHECK(strlen(formatted) == 24);
            FUZZ_CHECK(iso8601_parse(formatted, strlen(formatted), &again));
            FUZZ_CHECK(again == ms);
        }
    }
    free(text);
    return 0;
}
