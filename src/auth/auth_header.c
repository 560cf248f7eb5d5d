#include "auth/auth_header.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/timeutil.h"

#define COUNT_OF(array)           (sizeof(array) / sizeof((array)[0]))
#define AUTH_METHOD_SHA256        "HMAC-SHA256 "
#define AUTH_METHOD_MD5           "HMAC-MD5 "
#define AUTH_SIGNATURE_HEX_SHA256 64
#define AUTH_SIGNATURE_HEX_MD5    32

_Static_assert(AUTH_SIGNATURE_HEX_SHA256 <= AUTH_SIGNATURE_HEX_MAX, "signature fits");

/* A borrowed slice of the header. */
struct auth_slice {
    const char *text;
    size_t length;
};

typedef bool (*auth_part_reader)(struct auth_slice value, struct auth_header *out, char *why,
                                 size_t why_size);

static bool auth_is_alnum(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool auth_read_api_key(struct auth_slice value, struct auth_header *out, char *why,
                              size_t why_size)
{
    bool ok = value.length == AUTH_API_KEY_LENGTH;
    for (size_t i = 0; ok && i < value.length; i++) {
        ok = auth_is_alnum(value.text[i]);
    }
    if (!ok) {
        snprintf(why, why_size, "Authorization: apiKey must be %d letters or digits",
                 AUTH_API_KEY_LENGTH);
        return false;
    }
    memcpy(out->api_key, value.text, value.length);
    out->api_key[value.length] = '\0';
    return true;
}

static bool auth_read_date(struct auth_slice value, struct auth_header *out, char *why,
                           size_t why_size)
{
    if (value.length > AUTH_DATE_BYTES_MAX ||
        !iso8601_parse(value.text, value.length, &out->date_ms)) {
        snprintf(why, why_size,
                 "Authorization: date must be ISO 8601 with a zone, such as "
                 "2026-11-24T21:00:00+09:00");
        return false;
    }
    memcpy(out->date, value.text, value.length);
    out->date[value.length] = '\0';
    return true;
}

/* SPEC 1: 12 to 64 bytes of random text; printable ASCII without the separators. */
static bool auth_read_salt(struct auth_slice value, struct auth_header *out, char *why,
                           size_t why_size)
{
    if (value.length < AUTH_SALT_BYTES_MIN || value.length > AUTH_SALT_BYTES_MAX) {
        snprintf(why, why_size, "Authorization: salt must be %d to %d bytes", AUTH_SALT_BYTES_MIN,
                 AUTH_SALT_BYTES_MAX);
        return false;
    }
    for (size_t i = 0; i < value.length; i++) {
        char c = value.text[i];
        if (c < 0x21 || c > 0x7e || c == ',') {
            snprintf(why, why_size,
                     "Authorization: salt must be printable ASCII without spaces or commas");
            return false;
        }
    }
    memcpy(out->salt, value.text, value.length);
    out->salt[value.length] = '\0';
    return true;
}

static bool auth_read_signature(struct auth_slice value, struct auth_header *out, char *why,
                                size_t why_size)
{
    size_t expected =
        out->method == HMAC_METHOD_MD5 ? AUTH_SIGNATURE_HEX_MD5 : AUTH_SIGNATURE_HEX_SHA256;
    bool ok = value.length == expected;
    for (size_t i = 0; ok && i < value.length; i++) {
        char c = value.text[i];
        if (c >= 'A' && c <= 'F') {
            c = (char)(c - 'A' + 'a');
        }
        ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        out->signature[i] = c;
    }
    if (!ok) {
        snprintf(why, why_size, "Authorization: signature must be %zu hex digits", expected);
        return false;
    }
    out->signature[value.length] = '\0';
    return true;
}

struct auth_part {
    const char *name;
    auth_part_reader read;
};

static const struct auth_part auth_parts[] = {
    {"apiKey", auth_read_api_key},
    {"date", auth_read_date},
    {"salt", auth_read_salt},
    {"signature", auth_read_signature},
};

/*
 * Reads one "name=value" part; *seen has a bit per part already read. Names are matched without
 * regard to case: the vendor's older documentation writes "ApiKey=", "Date=", "Salt=".
 */
static bool auth_read_part(struct auth_slice name, struct auth_slice value, unsigned *seen,
                           struct auth_header *out, char *why, size_t why_size)
{
    for (size_t i = 0; i < COUNT_OF(auth_parts); i++) {
        const struct auth_part *part = &auth_parts[i];
        if (strlen(part->name) != name.length ||
            strncasecmp(part->name, name.text, name.length) != 0) {
            continue;
        }
        if ((*seen & (1u << i)) != 0) {
            snprintf(why, why_size, "Authorization: %s appears more than once", part->name);
            return false;
        }
        *seen |= 1u << i;
        return part->read(value, out, why, why_size);
    }
    snprintf(why, why_size,
             "Authorization: unknown part; expected apiKey, date, salt and signature");
    return false;
}

static size_t auth_skip_spaces(const char *text, size_t length, size_t position)
{
    while (position < length && text[position] == ' ') {
        position += 1;
    }
    return position;
}

/* Reads the parts after the method, separated by commas with optional spaces around them. */
static bool auth_read_parts(const char *text, size_t length, size_t position,
                            struct auth_header *out, char *why, size_t why_size)
{
    unsigned seen = 0;
    for (;;) {
        struct auth_slice name = {text + position, 0};
        while (position < length && text[position] != '=' && text[position] != ',' &&
               text[position] != ' ') {
            position += 1;
        }
        name.length = (size_t)(text + position - name.text);
        if (position >= length || text[position] != '=' || name.length == 0) {
            snprintf(why, why_size, "Authorization: expected name=value parts after the method");
            return false;
        }
        position += 1;
        struct auth_slice value = {text + position, 0};
        while (position < length && text[position] != ',' && text[position] != ' ') {
            position += 1;
        }
        value.length = (size_t)(text + position - value.text);
        if (!auth_read_part(name, value, &seen, out, why, why_size)) {
            return false;
        }
        position = auth_skip_spaces(text, length, position);
        if (position == length) {
            break;
        }
        if (text[position] != ',') {
            snprintf(why, why_size, "Authorization: parts must be separated by commas");
            return false;
        }
        position = auth_skip_spaces(text, length, position + 1);
    }
    for (size_t i = 0; i < COUNT_OF(auth_parts); i++) {
        if ((seen & (1u << i)) == 0) {
            snprintf(why, why_size, "Authorization: %s is missing", auth_parts[i].name);
            return false;
        }
    }
    return true;
}

/* SPEC 1: "HMAC-SHA256 apiKey=..., date=..., salt=..., signature=..." or HMAC-MD5. */
cash_result auth_header_parse(const char *text, size_t length, struct auth_header *out, char *why,
                              size_t why_size)
{
    size_t position = 0;
    memset(out, 0, sizeof(*out));
    if (text == NULL) {
        snprintf(why, why_size, "Authorization: the header is missing");
        return CASH_VALIDATION_ERROR;
    }
    if (length > AUTH_HEADER_BYTES_MAX) {
        snprintf(why, why_size, "Authorization: the header is longer than %d bytes",
                 AUTH_HEADER_BYTES_MAX);
        return CASH_VALIDATION_ERROR;
    }
    if (length >= strlen(AUTH_METHOD_SHA256) &&
        memcmp(text, AUTH_METHOD_SHA256, strlen(AUTH_METHOD_SHA256)) == 0) {
        out->method = HMAC_METHOD_SHA256;
        position = strlen(AUTH_METHOD_SHA256);
    } else if (length >= strlen(AUTH_METHOD_MD5) &&
               memcmp(text, AUTH_METHOD_MD5, strlen(AUTH_METHOD_MD5)) == 0) {
        out->method = HMAC_METHOD_MD5;
        position = strlen(AUTH_METHOD_MD5);
    } else {
        snprintf(why, why_size, "Authorization: method must be HMAC-SHA256 or HMAC-MD5");
        return CASH_VALIDATION_ERROR;
    }
    if (!auth_read_parts(text, length, position, out, why, why_size)) {
        memset(out, 0, sizeof(*out));
        return CASH_VALIDATION_ERROR;
    }
    return CASH_OK;
}
