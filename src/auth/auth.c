#include "auth/auth.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_header.h"
#include "common/log.h"
#include "common/timeutil.h"

#define AUTH_MESSAGE_BYTES_MAX (AUTH_DATE_BYTES_MAX + AUTH_SALT_BYTES_MAX + 1)
#define AUTH_HMAC_HEX_BYTES    65

/*
 * Keyed HMACs of the API keys a thread saw last: the secret is opened and the HMAC keyed once per
 * key and thread, not per request. A slot serves only the same sealed secret, so a key whose
 * secret changed is keyed again; revocation and statuses are read from the store every time.
 */
struct auth_mac_slot {
    char api_key[AUTH_API_KEY_LENGTH + 1];
    enum hmac_method method;
    char sealed_secret[SEALED_BYTES_MAX + 1];
    struct crypto_mac *mac; /* owned; NULL for an empty slot */
};

struct auth_mac_cache {
    struct auth_mac_slot slots[AUTH_MAC_CACHE_KEYS];
    size_t next_victim;
};

static pthread_key_t auth_mac_cache_key;
static pthread_once_t auth_mac_cache_once = PTHREAD_ONCE_INIT;
static bool auth_mac_cache_ready;

static void auth_mac_cache_free(void *pointer)
{
    struct auth_mac_cache *cache = pointer;
    for (size_t i = 0; i < AUTH_MAC_CACHE_KEYS; i++) {
        crypto_mac_free(cache->slots[i].mac);
    }
    free(cache);
}

static void auth_mac_cache_init(void)
{
    auth_mac_cache_ready = pthread_key_create(&auth_mac_cache_key, auth_mac_cache_free) == 0;
}

/* This thread's cache; NULL if it cannot have one (then every request keys its own HMAC). */
static struct auth_mac_cache *auth_mac_cache_get(void)
{
    pthread_once(&auth_mac_cache_once, auth_mac_cache_init);
    if (!auth_mac_cache_ready) {
        return NULL;
    }
    struct auth_mac_cache *cache = pthread_getspecific(auth_mac_cache_key);
    if (cache == NULL) {
        cache = calloc(1, sizeof(*cache));
        if (cache != NULL && pthread_setspecific(auth_mac_cache_key, cache) != 0) {
            free(cache);
            cache = NULL;
        }
    }
    return cache;
}

/* A keyed HMAC for the key's secret: from the slot, or opened and keyed into it (or, without a
 * cache, into *owned_out, which the caller frees). NULL when the secret cannot be opened. */
static struct crypto_mac *auth_mac_for(const struct keyring *keyring, const struct api_key *key,
                                       enum hmac_method method, struct crypto_mac **owned_out)
{
    struct auth_mac_cache *cache = auth_mac_cache_get();
    struct auth_mac_slot *slot = NULL;
    *owned_out = NULL;
    for (size_t i = 0; cache != NULL && i < AUTH_MAC_CACHE_KEYS; i++) {
        struct auth_mac_slot *candidate = &cache->slots[i];
        if (candidate->mac != NULL && candidate->method == method &&
            strcmp(candidate->api_key, key->api_key) == 0) {
            if (strcmp(candidate->sealed_secret, key->sealed_secret) == 0) {
                return candidate->mac;
            }
            slot = candidate; /* the secret changed: key it again here */
        }
    }
    char secret[SEALED_BYTES_MAX + 1];
    struct crypto_mac *mac = NULL;
    if (crypto_open(keyring, key->sealed_secret, secret, sizeof(secret))) {
        mac = crypto_mac_new(method, secret, strlen(secret));
    }
    OPENSSL_cleanse(secret, sizeof(secret));
    if (mac == NULL || cache == NULL) {
        *owned_out = mac;
        return mac;
    }
    if (slot == NULL) {
        slot = &cache->slots[cache->next_victim];
        cache->next_victim = (cache->next_victim + 1) % AUTH_MAC_CACHE_KEYS;
    }
    crypto_mac_free(slot->mac);
    slot->mac = mac;
    slot->method = method;
    snprintf(slot->api_key, sizeof(slot->api_key), "%s", key->api_key);
    snprintf(slot->sealed_secret, sizeof(slot->sealed_secret), "%s", key->sealed_secret);
    return mac;
}

/* The HMAC of date + salt under the key's secret, as lower-case hex. */
static bool auth_signature_hex(struct crypto_mac *mac, const char *date, const char *salt,
                               char out_hex[AUTH_HMAC_HEX_BYTES])
{
    char message[AUTH_MESSAGE_BYTES_MAX];
    int length = snprintf(message, sizeof(message), "%s%s", date, salt);
    if (length < 0 || (size_t)length >= sizeof(message)) {
        return false;
    }
    return crypto_mac_hex(mac, message, (size_t)length, out_hex, AUTH_HMAC_HEX_BYTES);
}

/* SPEC 1: a date more than 15 minutes from server time is refused, and says so. */
static cash_result auth_check_skew(const struct auth_header *header, int64_t now_ms, char *why,
                                   size_t why_size)
{
    int64_t skew_ms = now_ms - header->date_ms;
    if (skew_ms < 0) {
        skew_ms = -skew_ms;
    }
    if (skew_ms > (int64_t)AUTH_SKEW_SECONDS_MAX * 1000) {
        char server_time[ISO8601_BYTES_MAX];
        iso8601_format(now_ms, server_time);
        snprintf(why, why_size, "server time is %s; allowed skew is %d minutes", server_time,
                 AUTH_SKEW_SECONDS_MAX / 60);
        return CASH_REQUEST_TIME_TOO_SKEWED;
    }
    return CASH_OK;
}

/* Compares the expected signature, under the key's secret, with the header's. */
static cash_result auth_check_signature(const struct keyring *keyring, const struct api_key *key,
                                        const struct auth_header *header, char *why,
                                        size_t why_size)
{
    char expected[AUTH_HMAC_HEX_BYTES];
    cash_result result = CASH_OK;
    struct crypto_mac *owned = NULL;
    struct crypto_mac *mac = auth_mac_for(keyring, key, header->method, &owned);
    if (mac == NULL) {
        log_error("cannot open the secret of API key %s with data key %s", key->api_key,
                  keyring->key_id);
        snprintf(why, why_size, "%s", result_message(CASH_INTERNAL_ERROR));
        return CASH_INTERNAL_ERROR;
    }
    if (!auth_signature_hex(mac, header->date, header->salt, expected)) {
        snprintf(why, why_size, "%s", result_message(CASH_INTERNAL_ERROR));
        result = CASH_INTERNAL_ERROR;
        goto out_wipe;
    }
    if (!crypto_equal(expected, strlen(expected), header->signature, strlen(header->signature))) {
        snprintf(why, why_size, "%s", result_message(CASH_SIGNATURE_DOES_NOT_MATCH));
        result = CASH_SIGNATURE_DOES_NOT_MATCH;
    }
out_wipe:
    crypto_mac_free(owned);
    OPENSSL_cleanse(expected, sizeof(expected));
    return result;
}

/* Looks the key up: unknown and revoked keys are both CASH_INVALID_API_KEY. */
static cash_result auth_find_key(struct store *store, const char *api_key, struct api_key *key,
                                 char *why, size_t why_size)
{
    cash_result result = store_api_key_get(store, api_key, key);
    if (result == CASH_OK && key->revoked) {
        result = CASH_NOT_FOUND;
    }
    if (result == CASH_NOT_FOUND) {
        snprintf(why, why_size, "%s", result_message(CASH_INVALID_API_KEY));
        return CASH_INVALID_API_KEY;
    }
    if (result != CASH_OK) {
        snprintf(why, why_size, "%s", result_message(result));
    }
    return result;
}

/* SPEC 1: header, skew, key, signature, then the replay cache; see auth.h for the order. */
cash_result auth_authenticate(struct store *store, const struct keyring *keyring,
                              const char *header, int64_t now_ms, struct api_key *out,
                              struct auth_replay *replay, char *why, size_t why_size)
{
    struct auth_header parsed;
    struct api_key key;
    if (header == NULL) {
        snprintf(why, why_size, "%s", result_message(CASH_UNAUTHORIZED));
        return CASH_UNAUTHORIZED;
    }
    cash_result result = auth_header_parse(header, strnlen(header, AUTH_HEADER_BYTES_MAX + 1),
                                           &parsed, why, why_size);
    if (result == CASH_OK) {
        result = auth_check_skew(&parsed, now_ms, why, why_size);
    }
    if (result == CASH_OK) {
        result = auth_find_key(store, parsed.api_key, &key, why, why_size);
    }
    if (result == CASH_OK) {
        result = auth_check_signature(keyring, &key, &parsed, why, why_size);
    }
    if (result != CASH_OK) {
        return result;
    }
    /* A date up to 15 minutes ahead is accepted, so the signature is kept 30 minutes past
     * whichever of the date and now is later. */
    int64_t keep_ms = (int64_t)AUTH_REPLAY_KEEP_SECONDS * 1000;
    int64_t latest_ms = parsed.date_ms > now_ms ? parsed.date_ms : now_ms;
    if (replay != NULL) {
        snprintf(replay->signature_hex, sizeof(replay->signature_hex), "%s", parsed.signature);
        replay->expires_ms = latest_ms + keep_ms;
        *out = key;
        return CASH_OK;
    }
    result =
        store_replay_remember(store, parsed.api_key, parsed.signature, now_ms, latest_ms + keep_ms);
    if (result != CASH_OK) {
        snprintf(why, why_size, "%s", result_message(result));
        return result;
    }
    *out = key;
    return CASH_OK;
}

/* SPEC 1: the roles and their member permissions (role-cash:read, role-cash:write). */
static bool auth_role_allows(enum member_role role, enum auth_access access)
{
    switch (role) {
    case ROLE_OWNER:
        return true;
    case ROLE_DEVELOPER:
    case ROLE_MEMBER:
        return access == AUTH_ACCESS_READ;
    }
    return false;
}

/* SPEC 1 and docs/API.md: scope, role, account status, member status, then (to write) the
 * account's identity verification; the first that fails is the answer. */
cash_result auth_authorize(const struct api_key *key, enum auth_access access)
{
    unsigned scope = access == AUTH_ACCESS_WRITE ? SCOPE_CASH_WRITE : SCOPE_CASH_READ;
    if (access == AUTH_ACCESS_GATEWAY) {
        return CASH_MISSING_ACCOUNT_PERMISSION; /* gateways sign with their own secret */
    }
    if ((key->scopes & scope) == 0) {
        return CASH_MISSING_ACCOUNT_PERMISSION;
    }
    if (!auth_role_allows(key->role, access)) {
        return CASH_MISSING_MEMBER_PERMISSION;
    }
    if (key->account_status != ACCOUNT_ACTIVE) {
        return CASH_ACCOUNT_NOT_ACTIVE;
    }
    if (key->member_status != MEMBER_ACTIVE) {
        return CASH_MEMBER_NOT_ACTIVE;
    }
    if (access == AUTH_ACCESS_WRITE && key->account_verified == VERIFIED_NONE) {
        return CASH_ACCOUNT_NOT_VERIFIED;
    }
    return CASH_OK;
}

/*
 * Builds the header value and parses it back, so that it never writes a header that cashd
 * itself would refuse: CASH_VALIDATION_ERROR for a bad key, date or salt, CASH_INTERNAL_ERROR
 * when out is too small or the HMAC fails.
 */
cash_result auth_sign(enum hmac_method method, const char *api_key, const char *api_secret,
                      const char *date, const char *salt, char *out, size_t out_size)
{
    char signature[AUTH_HMAC_HEX_BYTES];
    char why[160];
    struct auth_header parsed;
    struct crypto_mac *mac = crypto_mac_new(method, api_secret, strlen(api_secret));
    bool signed_ok = mac != NULL && auth_signature_hex(mac, date, salt, signature);
    crypto_mac_free(mac);
    if (!signed_ok) {
        return strlen(date) + strlen(salt) >= AUTH_MESSAGE_BYTES_MAX ? CASH_VALIDATION_ERROR
                                                                     : CASH_INTERNAL_ERROR;
    }
    int length = snprintf(out, out_size, "%s apiKey=%s, date=%s, salt=%s, signature=%s",
                          method == HMAC_METHOD_MD5 ? "HMAC-MD5" : "HMAC-SHA256", api_key, date,
                          salt, signature);
    OPENSSL_cleanse(signature, sizeof(signature));
    if (length < 0 || (size_t)length >= out_size) {
        out[0] = '\0';
        return CASH_INTERNAL_ERROR;
    }
    cash_result result = auth_header_parse(out, (size_t)length, &parsed, why, sizeof(why));
    if (result != CASH_OK) {
        out[0] = '\0';
    }
    return result;
}
