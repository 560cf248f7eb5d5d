#include "auth/auth.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_header.h"
#include "common/log.h"
#include "common/timeutil.h"

#define AUTH_MESSAGE_BYTES_MAX (AUTH_DATE_BYTES_MAX + AUTH_SALT_BYTES_MAX + 1)
#define AUTH_HMAC_HEX_BYTES    65

/*
 * Keyed HMACs of the API keys seen lately, shared by all threads: the secret is opened and the
 * HMAC keyed once per key, not per request. A key has one slot (a hash of the key picks it; a
 * newcomer takes the slot over), and its lock is held while the slot's HMAC computes, about a
 * microsecond. A slot serves only the same sealed secret, so a key whose secret changed is keyed
 * again; revocation and statuses are read from the store every time.
 */
struct auth_mac_slot {
    pthread_mutex_t lock;
    char api_key[AUTH_API_KEY_LENGTH + 1];
    enum hmac_method method;
    char *sealed_secret;    /* owned: the secret the mac was keyed with, as stored */
    struct crypto_mac *mac; /* owned; NULL for an empty slot */
};

static struct auth_mac_slot auth_mac_slots[AUTH_MAC_CACHE_KEYS];
static pthread_once_t auth_mac_slots_once = PTHREAD_ONCE_INIT;

static void auth_mac_slots_init(void)
{
    for (size_t i = 0; i < AUTH_MAC_CACHE_KEYS; i++) {
        pthread_mutex_init(&auth_mac_slots[i].lock, NULL);
    }
}

/* FNV-1a of the key: API keys are random, any spread will do. */
static struct auth_mac_slot *auth_mac_slot_of(const char *api_key)
{
    uint32_t hash = 2166136261u;
    for (const unsigned char *c = (const unsigned char *)api_key; *c != '\0'; c++) {
        hash = (hash ^ *c) * 16777619u;
    }
    return &auth_mac_slots[hash % AUTH_MAC_CACHE_KEYS];
}

/* The signature hex of message under the key's secret, keyed in (or taken from) its slot.
 * False when the secret cannot be opened or OpenSSL fails. */
static bool auth_mac_hex(const struct keyring *keyring, const struct api_key *key,
                         enum hmac_method method, const char *message, size_t message_length,
                         char *out_hex, size_t out_size)
{
    pthread_once(&auth_mac_slots_once, auth_mac_slots_init);
    struct auth_mac_slot *slot = auth_mac_slot_of(key->api_key);
    pthread_mutex_lock(&slot->lock);
    bool keyed = slot->mac != NULL && slot->method == method &&
                 strcmp(slot->api_key, key->api_key) == 0 &&
                 strcmp(slot->sealed_secret, key->sealed_secret) == 0;
    if (!keyed) {
        char secret[SEALED_BYTES_MAX + 1];
        struct crypto_mac *mac = NULL;
        if (crypto_open(keyring, key->sealed_secret, secret, sizeof(secret))) {
            mac = crypto_mac_new(method, secret, strlen(secret));
        }
        OPENSSL_cleanse(secret, sizeof(secret));
        char *sealed_secret = strdup(key->sealed_secret);
        if (mac == NULL || sealed_secret == NULL) {
            crypto_mac_free(mac);
            free(sealed_secret);
            pthread_mutex_unlock(&slot->lock);
            return false;
        }
        crypto_mac_free(slot->mac);
        free(slot->sealed_secret);
        slot->mac = mac;
        slot->sealed_secret = sealed_secret;
        slot->method = method;
        snprintf(slot->api_key, sizeof(slot->api_key), "%s", key->api_key);
    }
    bool ok = crypto_mac_hex(slot->mac, message, message_length, out_hex, out_size);
    pthread_mutex_unlock(&slot->lock);
    return ok;
}

/* The signed message, date + salt, into message: its length, or -1 when it does not fit. */
static int auth_message(const char *date, const char *salt, char message[AUTH_MESSAGE_BYTES_MAX])
{
    int length = snprintf(message, AUTH_MESSAGE_BYTES_MAX, "%s%s", date, salt);
    return length >= 0 && length < AUTH_MESSAGE_BYTES_MAX ? length : -1;
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
    char message[AUTH_MESSAGE_BYTES_MAX];
    int length = auth_message(header->date, header->salt, message);
    if (length < 0 || !auth_mac_hex(keyring, key, header->method, message, (size_t)length, expected,
                                    sizeof(expected))) {
        log_error("cannot compute the signature of API key %s with data key %s", key->api_key,
                  keyring->key_id);
        snprintf(why, why_size, "%s", result_message(CASH_INTERNAL_ERROR));
        result = CASH_INTERNAL_ERROR;
    } else if (!crypto_equal(expected, strlen(expected), header->signature,
                             strlen(header->signature))) {
        snprintf(why, why_size, "%s", result_message(CASH_SIGNATURE_DOES_NOT_MATCH));
        result = CASH_SIGNATURE_DOES_NOT_MATCH;
    }
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
    char message[AUTH_MESSAGE_BYTES_MAX];
    int message_length = auth_message(date, salt, message);
    if (message_length < 0) {
        return CASH_VALIDATION_ERROR;
    }
    if (!crypto_hmac_hex(method, api_secret, strlen(api_secret), message, (size_t)message_length,
                         signature, sizeof(signature))) {
        return CASH_INTERNAL_ERROR;
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
