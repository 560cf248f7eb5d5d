/*
 * fuzz_auth_header.c - auth_header_parse on arbitrary bytes (SPEC 1). Beyond memory safety it
 * checks what an accepted header promises: a 16-character key, a salt of 12..64 printable bytes, a
 * lower-case hex signature of the method's length, and a date that parses again to date_ms.
 */
#include "fuzz_common.h"

#include "auth/auth_header.h"
#include "common/timeutil.h"

static int fuzz_is_alnum(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static void fuzz_check_accepted(const struct auth_header *header)
{
    FUZZ_CHECK(header->method == HMAC_METHOD_SHA256 || header->method == HMAC_METHOD_MD5);
    FUZZ_CHECK(strlen(header->api_key) == AUTH_API_KEY_LENGTH);
    for (size_t i = 0; i < AUTH_API_KEY_LENGTH; i++) {
        FUZZ_CHECK(fuzz_is_alnum(header->api_key[i]));
    }
    size_t salt_length = strlen(header->salt);
    FUZZ_CHECK(salt_length >= AUTH_SALT_BYTES_MIN && salt_length <= AUTH_SALT_BYTES_MAX);
    for (size_t i = 0; i < salt_length; i++) {
        FUZZ_CHECK(header->salt[i] > ' ' && header->salt[i] < 0x7f && header->salt[i] != ',');
    }
    size_t expected = header->method == HMAC_METHOD_MD5 ? 32 : 64;
    FUZZ_CHECK(strlen(header->signature) == expected);
    FUZZ_CHECK(strspn(header->signature, "0123456789abcdef") == expected);
    int64_t again = -1;
    FUZZ_CHECK(iso8601_parse(header->date, strlen(header->date), &again));
    FUZZ_CHECK(again == header->date_ms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_copy_exact(data, size);
    struct auth_header header;
    char why[256] = "";
    cash_result result = auth_header_parse(text, size, &header, why, sizeof(why));
    if (result == CASH_OK) {
        fuzz_check_accepted(&header);
    } else {
        FUZZ_CHECK(result == CASH_VALIDATION_ERROR);
        fuzz_check_why(why, sizeof(why), 1);
        FUZZ_CHECK(header.api_key[0] == '\0'); /* nothing of a refused header is left behind */
    }
    free(text);
    return 0;
}
