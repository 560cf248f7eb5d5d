/*
 * auth.h - who is calling and may they (SPEC 1): the HMAC signature, the clock skew, the replay
 * cache, then API-key scopes, member role, statuses and account verification.
 */
#ifndef CASH_AUTH_H
#define CASH_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "common/crypto.h"
#include "common/result.h"
#include "domain/types.h"
#include "store/store.h"

/* A verified signature and until when the replay cache must remember it (SPEC 1). */
struct auth_replay {
    char signature_hex[AUTH_SIGNATURE_HEX_MAX + 1];
    int64_t expires_ms;
};

/*
 * Authenticates the Authorization header value (NULL when absent): CASH_UNAUTHORIZED when absent,
 * CASH_VALIDATION_ERROR when unparseable, then in this order CASH_REQUEST_TIME_TOO_SKEWED (why
 * tells the server time and the allowed skew), CASH_INVALID_API_KEY (unknown or revoked),
 * CASH_SIGNATURE_DOES_NOT_MATCH, CASH_DUPLICATED_SIGNATURE. The signature is remembered only
 * once it has been verified. On CASH_OK *out describes the key, member and account.
 * With replay not NULL the signature is not remembered here: *replay says what the caller must
 * remember (in the transaction of the request's effect, or on its own with store_replay_remember)
 * before it answers, and CASH_DUPLICATED_SIGNATURE comes from there.
 */
cash_result auth_authenticate(struct store *store, const struct keyring *keyring,
                              const char *header, int64_t now_ms, struct api_key *out,
                              struct auth_replay *replay, char *why, size_t why_size);

/*
 * AUTH_ACCESS_GATEWAY: a route that no API key may call; it authenticates a gateway's signed
 * callback itself (docs/ars-gateway.md), and auth_authorize refuses it.
 */
enum auth_access { AUTH_ACCESS_READ, AUTH_ACCESS_WRITE, AUTH_ACCESS_GATEWAY };

/*
 * Authorises an authenticated key (SPEC 1): the scope cash:read/cash:write
 * (CASH_MISSING_ACCOUNT_PERMISSION), the member role's role-cash:read/role-cash:write
 * (CASH_MISSING_MEMBER_PERMISSION; OWNER writes, DEVELOPER and MEMBER only read), the account
 * and member ACTIVE (CASH_ACCOUNT_NOT_ACTIVE, CASH_MEMBER_NOT_ACTIVE) and, to write, the account
 * verified (CASH_ACCOUNT_NOT_VERIFIED).
 */
cash_result auth_authorize(const struct api_key *key, enum auth_access access);

/* Writes the header value for key/secret with the given date and salt (cashctl sign, tests). */
cash_result auth_sign(enum hmac_method method, const char *api_key, const char *api_secret,
                      const char *date, const char *salt, char *out, size_t out_size);

#endif
