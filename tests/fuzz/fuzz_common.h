/*
 * fuzz_common.h - what the libFuzzer harnesses share: an exact-size copy of the input (so that
 * AddressSanitizer sees any read past its end), and a hard failure that libFuzzer records as a
 * crash with the input that caused it.
 */
#ifndef CASH_FUZZ_COMMON_H
#define CASH_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Aborts with a message: a broken property is a finding, like a sanitizer report. */
#define FUZZ_CHECK(condition)                                                                      \
    do {                                                                                           \
        if (!(condition)) {                                                                        \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #condition);       \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A malloc'd copy of data with no terminator (size 0 gives a 1-byte buffer that is never read). */
static inline char *fuzz_copy_exact(const uint8_t *data, size_t size)
{
    char *copy = malloc(size == 0 ? 1 : size);
    FUZZ_CHECK(copy != NULL);
    if (size > 0) {
        memcpy(copy, data, size);
    }
    return copy;
}

/* A malloc'd NUL-terminated copy of data[0..size) (it may hold NULs of its own). */
static inline char *fuzz_copy_string(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    FUZZ_CHECK(copy != NULL);
    if (size > 0) {
        memcpy(copy, data, size);
    }
    copy[size] = '\0';
    return copy;
}

/* A reason written by a parser is one NUL-terminated text that fits its buffer. */
static inline void fuzz_check_why(const char *why, size_t why_size, int must_be_set)
{
    size_t length = strnlen(why, why_size);
    FUZZ_CHECK(length < why_size);
    if (must_be_set) {
        FUZZ_CHECK(length > 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
