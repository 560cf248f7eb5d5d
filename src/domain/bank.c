#include "domain/bank.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define BANK_CODE_DIGITS_MIN 3
#define MASK_PREFIX          "******"
#define MASK_VISIBLE_DIGITS  4

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* SPEC 2: a bank code is 3 to 16 digits ("004"). */
cash_result bank_code_check(const char *text, char *why, size_t why_size)
{
    size_t length = text != NULL ? strnlen(text, BANK_CODE_BYTES_MAX + 1) : 0;
    bool ok = length >= BANK_CODE_DIGITS_MIN && length <= BANK_CODE_BYTES_MAX;
    for (size_t i = 0; ok && i < length; i++) {
        ok = is_digit(text[i]);
    }
    if (!ok) {
        snprintf(why, why_size, "bankCode must be %d to %d digits", BANK_CODE_DIGITS_MIN,
                 BANK_CODE_BYTES_MAX);
        return CASH_VALIDATION_ERROR;
    }
    return CASH_OK;
}

/* SPEC 2: "123-456-7890" and "1234567890" are the same number; "12--3" and "-123" are not. */
cash_result bank_number_normalize(const char *text, char digits_out[ACCOUNT_NUMBER_DIGITS_MAX + 1],
                                  char *why, size_t why_size)
{
    char digits[ACCOUNT_NUMBER_DIGITS_MAX + 1];
    size_t count = 0;
    bool ok = text != NULL && is_digit(text[0]);
    for (size_t i = 0; ok && text[i] != '\0'; i++) {
        if (is_digit(text[i])) {
            ok = count < ACCOUNT_NUMBER_DIGITS_MAX;
            if (ok) {
                digits[count] = text[i];
                count += 1;
            }
        } else {
            /* a single hyphen between two digits */
            ok = text[i] == '-' && is_digit(text[i + 1]);
        }
    }
    if (!ok || count < ACCOUNT_NUMBER_DIGITS_MIN) {
        snprintf(why, why_size,
                 "accountNumber must be %d to %d digits, optionally separated by single hyphens",
                 ACCOUNT_NUMBER_DIGITS_MIN, ACCOUNT_NUMBER_DIGITS_MAX);
        return CASH_VALIDATION_ERROR;
    }
    digits[count] = '\0';
    memcpy(digits_out, digits, count + 1);
    return CASH_OK;
}

/* The length of the UTF-8 sequence starting with lead (0 if it cannot start one) and the
 * smallest code point it may encode. */
static size_t utf8_sequence_length(unsigned char lead, uint32_t *minimum, uint32_t *value)
{
    if (lead < 0x80) {
        *minimum = 0;
        *value = lead;
        return 1;
    }
    if (lead >= 0xc2 && lead <= 0xdf) {
        *minimum = 0x80;
        *value = lead & 0x1fu;
        return 2;
    }
    if (lead >= 0xe0 && lead <= 0xef) {
        *minimum = 0x800;
        *value = lead & 0x0fu;
        return 3;
    }
    if (lead >= 0xf0 && lead <= 0xf4) {
        *minimum = 0x10000;
        *value = lead & 0x07u;
        return 4;
    }
    return 0;
}

/* Decodes one code point at text[*position]; false for an invalid, overlong or surrogate one. */
static bool utf8_next(const unsigned char *text, size_t length, size_t *position,
                      uint32_t *code_point)
{
    uint32_t minimum = 0;
    uint32_t value = 0;
    size_t sequence = utf8_sequence_length(text[*position], &minimum, &value);
    if (sequence == 0 || length - *position < sequence) {
        return false;
    }
    for (size_t i = 1; i < sequence; i++) {
        unsigned char next = text[*position + i];
        if ((next & 0xc0) != 0x80) {
            return false;
        }
        value = (value << 6) | (next & 0x3fu);
    }
    if (value < minimum || value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff)) {
        return false;
    }
    *position += sequence;
    *code_point = value;
    return true;
}

/* C0 controls, DEL and the C1 controls (U+0080..U+009F). */
static bool is_control(uint32_t code_point)
{
    return code_point < 0x20 || (code_point >= 0x7f && code_point <= 0x9f);
}

static bool is_blank(uint32_t code_point)
{
    return code_point == ' ' || code_point == 0xa0 || code_point == 0x3000;
}

/* Valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF) without C0 or C1
 * control characters or DEL. */
bool text_is_clean_utf8(const char *text, size_t length)
{
    const unsigned char *bytes = (const unsigned char *)text;
    size_t position = 0;
    uint32_t code_point = 0;
    while (position < length) {
        if (!utf8_next(bytes, length, &position, &code_point) || is_control(code_point)) {
            return false;
        }
    }
    return true;
}

/* True if every code point of clean UTF-8 text is a space. */
static bool text_is_blank(const char *text, size_t length)
{
    const unsigned char *bytes = (const unsigned char *)text;
    size_t position = 0;
    uint32_t code_point = 0;
    while (position < length) {
        if (!utf8_next(bytes, length, &position, &code_point) || !is_blank(code_point)) {
            return false;
        }
    }
    return true;
}

/* SPEC 2: the holder's name as the bank knows it ("홍길동"). */
cash_result bank_holder_check(const char *text, char *why, size_t why_size)
{
    size_t length = text != NULL ? strnlen(text, HOLDER_NAME_BYTES_MAX + 1) : 0;
    if (length == 0 || length > HOLDER_NAME_BYTES_MAX) {
        snprintf(why, why_size, "holderName must be 1 to %d bytes", HOLDER_NAME_BYTES_MAX);
        return CASH_VALIDATION_ERROR;
    }
    if (!text_is_clean_utf8(text, length)) {
        snprintf(why, why_size, "holderName must be UTF-8 text without control characters");
        return CASH_VALIDATION_ERROR;
    }
    if (text_is_blank(text, length)) {
        snprintf(why, why_size, "holderName must not be blank");
        return CASH_VALIDATION_ERROR;
    }
    return CASH_OK;
}

/* SPEC 1: numbers are always answered masked, "******7890". */
void bank_number_mask(const char *digits, char out[MASKED_NUMBER_BYTES_MAX + 1])
{
    size_t length = strnlen(digits, ACCOUNT_NUMBER_DIGITS_MAX);
    size_t visible = length < MASK_VISIBLE_DIGITS ? length : MASK_VISIBLE_DIGITS;
    snprintf(out, MASKED_NUMBER_BYTES_MAX + 1, "%s%.*s", MASK_PREFIX, (int)visible,
             digits + length - visible);
}
