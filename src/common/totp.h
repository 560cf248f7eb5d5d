/*
 * totp.h - time-based one-time passwords (RFC 6238 over RFC 4226 HOTP) with HMAC-SHA1, as
 * authenticator apps make them, and the base32 text (RFC 4648) their otpauth:// URIs carry.
 * SPEC 5: the TOTP method - 6 digits, 30-second steps, one step of clock drift either way.
 */
#ifndef CASH_TOTP_H
#define CASH_TOTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"

#define TOTP_DIGITS     6
#define TOTP_DIGITS_MAX 8 /* RFC 6238's published vectors have 8 */

/*
 * The HOTP value of counter under key (HMAC-SHA1, dynamic truncation) as `digits` decimal digits
 * (6 to 8) and a NUL in out (out_size > digits). False for bad arguments or a library failure.
 */
bool totp_hotp(const unsigned char *key, size_t key_length, uint64_t counter, unsigned digits,
               char *out, size_t out_size);

/* The RFC 6238 time step (T0 = 0) holding unix_seconds; period_seconds > 0. */
int64_t totp_step(int64_t unix_seconds, int64_t period_seconds);

/*
 * Which step from step_now - tolerated to step_now + tolerated has the 6-digit code `code`:
 * every candidate is computed and compared in constant time. True with *step_out set when one
 * matches; false otherwise (and for a code that is not 6 digits).
 */
bool totp_match(const unsigned char *key, size_t key_length, int64_t step_now, int64_t tolerated,
                const char *code, int64_t *step_out);

/* RFC 4648 base32 without padding (as otpauth:// URIs want it); the length written without the
 * NUL, or 0 when out is too small. */
size_t base32_encode(const unsigned char *in, size_t length, char *out, size_t out_size);

#endif
