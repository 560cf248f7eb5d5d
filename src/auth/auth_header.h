/*
 * auth_header.h - parsing the vendor's Authorization header (SPEC 1), pure:
 *   HMAC-SHA256 apiKey=<16 chars>, date=<ISO 8601>, salt=<12..64 bytes>, signature=<hex>
 * ("HMAC-MD5" is the other method). Parts are separated by commas with optional spaces, each part
 * appears once, in any order. Returns CASH_VALIDATION_ERROR with `why` naming the bad part.
 */
#ifndef CASH_AUTH_HEADER_H
#define CASH_AUTH_HEADER_H

#include <stddef.h>
#include <stdint.h>

#include "common/crypto.h"
#include "common/limits.h"
#include "common/result.h"

struct auth_header {
    enum hmac_method method;
    char api_key[AUTH_API_KEY_LENGTH + 1];
    char date[AUTH_DATE_BYTES_MAX + 1];
    int64_t date_ms; /* the date, parsed */
    char salt[AUTH_SALT_BYTES_MAX + 1];
    char signature[AUTH_SIGNATURE_HEX_MAX + 1]; /* lower-cased hex */
};

cash_result auth_header_parse(const char *text, size_t length, struct auth_header *out, char *why,
                              size_t why_size);

#endif
