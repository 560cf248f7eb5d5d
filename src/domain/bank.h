/*
 * bank.h - rules for a payout bank account (SPEC 2, 3): what a bank code, an account number and a
 * holder name may be, and how a number is shown (always masked: "******" and the last 4 digits).
 */
#ifndef CASH_BANK_H
#define CASH_BANK_H

#include <stdbool.h>
#include <stddef.h>

#include "common/limits.h"
#include "common/result.h"

/* Bank code: 3 to BANK_CODE_BYTES_MAX ASCII digits. */
cash_result bank_code_check(const char *text, char *why, size_t why_size);

/*
 * Account number: digits with optional single hyphens between them; normalised to digits only
 * (ACCOUNT_NUMBER_DIGITS_MIN..MAX) in digits_out.
 */
cash_result bank_number_normalize(const char *text, char digits_out[ACCOUNT_NUMBER_DIGITS_MAX + 1],
                                  char *why, size_t why_size);

/* Holder name: 1..HOLDER_NAME_BYTES_MAX bytes of valid UTF-8, no control characters, not blank. */
cash_result bank_holder_check(const char *text, char *why, size_t why_size);

/* "******" followed by the last 4 digits of a normalised number. */
void bank_number_mask(const char *digits, char out[MASKED_NUMBER_BYTES_MAX + 1]);

/* True if text (length bytes) is valid UTF-8 without control characters (U+0000..U+001F, U+007F). */
bool text_is_clean_utf8(const char *text, size_t length);

#endif
