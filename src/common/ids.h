/*
 * ids.h - identifiers. accountId and memberId: 14 digits, YYMMDD (UTC) then 8 random digits.
 * withdrawId, historyId, verificationId: 32 digits, the 13-digit creation time in milliseconds then
 * 19 random digits, so that ordering by id is ordering by creation (as in the seed's sample).
 * API keys: 16 and secrets: 32 characters of [A-Z0-9]. Randomness comes from OpenSSL's RAND_bytes.
 * Each function returns false only if the random source fails.
 */
#ifndef CASH_IDS_H
#define CASH_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"

bool id_account_new(int64_t now_ms, char out[ACCOUNT_ID_LENGTH + 1]);
bool id_member_new(int64_t now_ms, char out[MEMBER_ID_LENGTH + 1]);
/* 32-digit time-sortable id; WITHDRAW_ID_LENGTH == HISTORY_ID_LENGTH == VERIFICATION_ID_LENGTH.
 * Ids made by one process in one millisecond sort in the order they were made. */
bool id_sortable_new(int64_t now_ms, char out[WITHDRAW_ID_LENGTH + 1]);
bool id_api_key_new(char out[AUTH_API_KEY_LENGTH + 1]);
bool id_api_secret_new(char out[AUTH_API_SECRET_LENGTH + 1]);

/* True if text is exactly length ASCII digits. */
bool id_is_digits(const char *text, size_t length);

#endif
