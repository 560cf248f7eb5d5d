#include "common/totp.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define TOTP_SHA1_BYTES 20

static const uint32_t totp_powers_of_ten[TOTP_DIGITS_MAX + 1] = {
    1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000,
};

/* RFC 4226 section 5.3: HMAC-SHA1 of the 8-byte big-endian counter, dynamic truncation. */
bool totp_hotp(const unsigned char *key, size_t key_length, uint64_t counter, unsigned digits,
               char *out, size_t out_size)
{
    unsigned char message[8];
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned digest_length = 0;
    if (digits < TOTP_DIGITS || digits > TOTP_DIGITS_MAX || out_size <= digits || key_length == 0 ||
        key_length > INT32_MAX) {
        return false;
    }
    for (int i = 7; i >= 0; i--) {
        message[i] = (unsigned char)(counter & 0xffu);
        counter >>= 8;
    }
    if (HMAC(EVP_sha1(), key, (int)key_length, message, sizeof(message), digest, &digest_length) ==
            NULL ||
        digest_length != TOTP_SHA1_BYTES) {
        return false;
    }
    unsigned offset = digest[TOTP_SHA1_BYTES - 1] & 0x0fu;
    uint32_t binary = ((uint32_t)(digest[offset] & 0x7fu) << 24) |
                      ((uint32_t)digest[offset + 1] << 16) | ((uint32_t)digest[offset + 2] << 8) |
                      (uint32_t)digest[offset + 3];
    uint32_t value = binary % totp_powers_of_ten[digits];
    for (unsigned i = digits; i > 0; i--) {
        out[i - 1] = (char)('0' + value % 10);
        value /= 10;
    }
    out[digits] = '\0';
    OPENSSL_cleanse(digest, sizeof(digest));
    return true;
}

/* RFC 6238 section 4.2: T = floor((unix time - T0) / X), T0 = 0. */
int64_t totp_step(int64_t unix_seconds, int64_t period_seconds)
{
    if (unix_seconds < 0) {
        return 0;
    }
    return unix_seconds / period_seconds;
}

/* SPEC 5: compares every candidate step, so the time taken does not tell which one matched. */
bool totp_match(const unsigned char *key, size_t key_length, int64_t step_now, int64_t tolerated,
                const char *code, int64_t *step_out)
{
    char candidate[TOTP_DIGITS + 1];
    bool found = false;
    int64_t found_step = 0;
    if (strlen(code) != TOTP_DIGITS) {
        return false;
    }
    for (int64_t step = step_now - tolerated; step <= step_now + tolerated; step++) {
        if (step < 0 || !totp_hotp(key, key_length, (uint64_t)step, TOTP_DIGITS, candidate,
                                   sizeof(candidate))) {
            continue;
        }
        bool equal = CRYPTO_memcmp(candidate, code, TOTP_DIGITS) == 0;
        /* The newest matching step wins: accepting it refuses every older one (SPEC 5). */
        found_step = equal ? step : found_step;
        found = found || equal;
    }
    OPENSSL_cleanse(candidate, sizeof(candidate));
    if (found) {
        *step_out = found_step;
    }
    return found;
}

size_t base32_encode(const unsigned char *in, size_t length, char *out, size_t out_size)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    size_t needed = (length * 8 + 4) / 5;
    if (out_size <= needed) {
        return 0;
    }
    size_t written = 0;
    uint32_t buffer = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < length; i++) {
        buffer = (buffer << 8) | in[i];
        bits += 8;
        while (bits >= 5) {
            out[written++] = alphabet[(buffer >> (bits - 5)) & 0x1fu];
            bits -= 5;
        }
    }
    if (bits > 0) {
        out[written++] = alphabet[(buffer << (5 - bits)) & 0x1fu];
    }
    out[written] = '\0';
    return written;
}
