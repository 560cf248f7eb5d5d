#include "common/ids.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/crypto.h"
#include "common/timeutil.h"

#define DIGITS                "0123456789"
#define UPPER_ALNUM           "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
#define DATE_PREFIX_LENGTH    6               /* YYMMDD */
#define TIME_PREFIX_LENGTH    13              /* milliseconds since the epoch */
#define TIME_PREFIX_MS_MAX    9999999999999LL /* the year 2286 */
#define SEQUENCE_LENGTH       3               /* ids within one millisecond */
#define SORTABLE_SEQUENCE_MAX 1000

_Static_assert(WITHDRAW_ID_LENGTH == HISTORY_ID_LENGTH, "sortable ids share one length");
_Static_assert(WITHDRAW_ID_LENGTH == VERIFICATION_ID_LENGTH, "sortable ids share one length");
_Static_assert(ACCOUNT_ID_LENGTH == MEMBER_ID_LENGTH, "dated ids share one length");

/* YYMMDD of now_ms (UTC), then random digits up to length. */
static bool id_dated_new(int64_t now_ms, size_t length, char *out)
{
    char date[ISO8601_BYTES_MAX];
    iso8601_format(now_ms, date);
    /* "YYYY-MM-DD..." */
    memcpy(out, date + 2, 2);
    memcpy(out + 2, date + 5, 2);
    memcpy(out + 4, date + 8, 2);
    return crypto_random_text(DIGITS, length - DATE_PREFIX_LENGTH, out + DATE_PREFIX_LENGTH);
}

/* YYMMDD of now_ms (UTC) and 8 random digits. */
bool id_account_new(int64_t now_ms, char out[ACCOUNT_ID_LENGTH + 1])
{
    return id_dated_new(now_ms, ACCOUNT_ID_LENGTH, out);
}

/* YYMMDD of now_ms (UTC) and 8 random digits. */
bool id_member_new(int64_t now_ms, char out[MEMBER_ID_LENGTH + 1])
{
    return id_dated_new(now_ms, MEMBER_ID_LENGTH, out);
}

/* Ids made in one millisecond by this process take a sequence number there, in order. */
static pthread_mutex_t id_sequence_mutex = PTHREAD_MUTEX_INITIALIZER;
static int64_t id_sequence_ms = -1;
static unsigned id_sequence_next;

/*
 * Ordering by id is ordering by creation: the 13-digit creation time, then the process's sequence
 * number within that millisecond (3 digits), then random digits. Past SORTABLE_SEQUENCE_MAX ids
 * in one millisecond the sequence starts again (the order of those is then random).
 */
bool id_sortable_new(int64_t now_ms, char out[WITHDRAW_ID_LENGTH + 1])
{
    assert(now_ms >= 0 && now_ms <= TIME_PREFIX_MS_MAX);
    pthread_mutex_lock(&id_sequence_mutex);
    if (now_ms != id_sequence_ms || id_sequence_next >= SORTABLE_SEQUENCE_MAX) {
        id_sequence_ms = now_ms;
        id_sequence_next = 0;
    }
    unsigned sequence = id_sequence_next++;
    pthread_mutex_unlock(&id_sequence_mutex);
    snprintf(out, TIME_PREFIX_LENGTH + SEQUENCE_LENGTH + 1, "%013lld%03u", (long long)now_ms,
             sequence);
    return crypto_random_text(DIGITS, WITHDRAW_ID_LENGTH - TIME_PREFIX_LENGTH - SEQUENCE_LENGTH,
                              out + TIME_PREFIX_LENGTH + SEQUENCE_LENGTH);
}

/* 16 characters of [A-Z0-9]. */
bool id_api_key_new(char out[AUTH_API_KEY_LENGTH + 1])
{
    return crypto_random_text(UPPER_ALNUM, AUTH_API_KEY_LENGTH, out);
}

/* 32 characters of [A-Z0-9]: about 165 bits. */
bool id_api_secret_new(char out[AUTH_API_SECRET_LENGTH + 1])
{
    return crypto_random_text(UPPER_ALNUM, AUTH_API_SECRET_LENGTH, out);
}

/* text is a NUL-terminated string of exactly length ASCII digits. */
bool id_is_digits(const char *text, size_t length)
{
    if (text == NULL) {
        return false;
    }
    for (size_t i = 0; i < length; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return false;
        }
    }
    return text[length] == '\0';
}
