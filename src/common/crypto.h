/*
 * crypto.h - everything secret, on OpenSSL libcrypto: the data key (SPEC 7), sealing account
 * numbers and API secrets with AES-256-GCM, keyed code hashes, HMAC for request signatures,
 * random numbers and constant-time comparison (ARCHITECTURE: house style 6).
 */
#ifndef CASH_CRYPTO_H
#define CASH_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

#include "common/limits.h"

#define DATA_KEY_BYTES    32
#define KEY_ID_HEX_LENGTH 8

/* The data key. key_id is the first 8 hex digits of SHA-256(key): stored with each ciphertext. */
struct keyring {
    unsigned char key[DATA_KEY_BYTES];
    char key_id[KEY_ID_HEX_LENGTH + 1];
};

/*
 * Loads the key file: one line of base64 holding exactly 32 bytes. Refuses (false, reason in why)
 * a missing file, a file readable or writable by group or others, or a key of another length.
 */
bool keyring_load(const char *path, struct keyring *out, char *why, size_t why_size);
/* Creates the key file with 32 random bytes and mode 0600 if it does not exist; true if it exists
 * or was created. */
bool keyring_create_if_missing(const char *path, bool *created_out, char *why, size_t why_size);
/* Wipes the key from memory. */
void keyring_wipe(struct keyring *keyring);

/*
 * Seals plain text as "KEYID:BASE64(nonce12 | ciphertext | tag16)" with AES-256-GCM and a random
 * nonce; the key id is also authenticated data. out_size must be at least SEALED_BYTES_MAX + 1.
 */
bool crypto_seal(const struct keyring *keyring, const char *plain, size_t plain_length, char *out,
                 size_t out_size);
/* Opens what crypto_seal wrote; false for another key id, a bad tag or a short buffer. Writes a
 * NUL-terminated plain text. */
bool crypto_open(const struct keyring *keyring, const char *sealed, char *plain, size_t plain_size);

/* The longest text crypto_seal_text seals. */
#define SEALED_TEXT_BYTES_MAX (64 * 1024)
/* crypto_seal for a longer text (up to SEALED_TEXT_BYTES_MAX): a malloc'd sealed text, NULL on
 * failure. */
char *crypto_seal_text(const struct keyring *keyring, const char *plain, size_t plain_length);
/* Opens what crypto_seal_text wrote: a malloc'd plain text, NULL for another key id, a bad tag or
 * bad base64. */
char *crypto_open_text(const struct keyring *keyring, const char *sealed);

/* Lower-case hex SHA-256 of data (64 digits and a NUL); false on library failure. */
bool crypto_sha256_hex(const void *data, size_t length, char out_hex[65]);

/* HMAC-SHA256 under a key derived from the data key, of "id:code", as 64 hex digits: how
 * verification codes are stored (SPEC 5). */
void crypto_code_hash(const struct keyring *keyring, const char *id, const char *code,
                      char out_hex[65]);

enum hmac_method { HMAC_METHOD_SHA256, HMAC_METHOD_MD5 };

/* Lower-case hex HMAC of message under secret; out_hex needs 65 bytes. False on library failure. */
bool crypto_hmac_hex(enum hmac_method method, const char *secret, size_t secret_length,
                     const char *message, size_t message_length, char *out_hex, size_t out_size);

/*
 * A keyed HMAC made once and used for many messages (the key is set up once, not per message):
 * one thread at a time. crypto_mac_new: NULL on library failure; the secret is not kept.
 */
struct crypto_mac;
struct crypto_mac *crypto_mac_new(enum hmac_method method, const char *secret,
                                  size_t secret_length);
/* As crypto_hmac_hex, under the mac's key; allocates nothing. */
bool crypto_mac_hex(struct crypto_mac *mac, const char *message, size_t message_length,
                    char *out_hex, size_t out_size);
void crypto_mac_free(struct crypto_mac *mac);

/* Constant-time equality of two strings of equal length; false if lengths differ. */
bool crypto_equal(const char *a, size_t a_length, const char *b, size_t b_length);

/* Fills buffer from OpenSSL's CSPRNG. */
bool crypto_random(void *buffer, size_t length);
/* Writes count uniformly random characters of alphabet (no modulo bias), then a NUL. */
bool crypto_random_text(const char *alphabet, size_t count, char *out);

/* Standard base64 with padding; return the number of bytes written (without NUL), or 0 on error. */
size_t base64_encode(const unsigned char *in, size_t length, char *out, size_t out_size);
size_t base64_decode(const char *in, size_t length, unsigned char *out, size_t out_size);

#endif
