#include "common/crypto.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#define GCM_NONCE_BYTES 12
#define GCM_TAG_BYTES   16
#define SHA256_BYTES    32
/* The key file: 44 base64 characters, a newline, and room to notice a longer file. */
#define KEY_FILE_BYTES_MAX 128
#define CODE_HASH_CONTEXT  "cashd verification code v1"

static const char hex_digits[] = "0123456789abcdef";

static void hex_encode(const unsigned char *in, size_t length, char *out)
{
    for (size_t i = 0; i < length; i++) {
        out[2 * i] = hex_digits[in[i] >> 4];
        out[2 * i + 1] = hex_digits[in[i] & 0x0f];
    }
    out[2 * length] = '\0';
}

/* ---- base64 ---- */

static bool base64_is_alphabet(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/* Needs out_size >= 4 * ceil(length / 3) + 1; 0 when it is smaller. */
size_t base64_encode(const unsigned char *in, size_t length, char *out, size_t out_size)
{
    if (length > (size_t)INT_MAX / 4 * 3 - 3) {
        return 0;
    }
    size_t needed = (length + 2) / 3 * 4;
    if (out_size < needed + 1) {
        return 0;
    }
    int written = EVP_EncodeBlock((unsigned char *)out, in, (int)length);
    assert(written >= 0 && (size_t)written == needed);
    return (size_t)written;
}

/* The number of '=' at the end of a base64 text whose other characters are all valid, or -1. */
static int base64_padding(const char *in, size_t length)
{
    int padding = 0;
    if (length == 0 || length % 4 != 0 || length > (size_t)INT_MAX) {
        return -1;
    }
    if (in[length - 1] == '=') {
        padding = in[length - 2] == '=' ? 2 : 1;
    }
    for (size_t i = 0; i < length - (size_t)padding; i++) {
        if (!base64_is_alphabet(in[i])) {
            return -1;
        }
    }
    return padding;
}

/* Strict: a length that is a multiple of 4, only the standard alphabet, "=" only as the final
 * padding, no white space. The decoded length (padding taken off), or 0 on any error. */
size_t base64_decode(const char *in, size_t length, unsigned char *out, size_t out_size)
{
    int padding = base64_padding(in, length);
    if (padding < 0) {
        return 0;
    }
    size_t decoded_length = length / 4 * 3 - (size_t)padding;
    if (out_size < decoded_length) {
        return 0;
    }
    /* Whole groups but the last straight into out; the last one through a small buffer, because
     * EVP_DecodeBlock writes 3 bytes per group whatever the padding. */
    size_t head_length = length - 4;
    if (head_length > 0) {
        int written = EVP_DecodeBlock(out, (const unsigned char *)in, (int)head_length);
        if (written < 0 || (size_t)written != head_length / 4 * 3) {
            return 0;
        }
    }
    unsigned char tail[3];
    if (EVP_DecodeBlock(tail, (const unsigned char *)in + head_length, 4) != 3) {
        return 0;
    }
    memcpy(out + head_length / 4 * 3, tail, (size_t)(3 - padding));
    OPENSSL_cleanse(tail, sizeof(tail));
    return decoded_length;
}

/* ---- random ---- */

/* OpenSSL's CSPRNG; false if it cannot be seeded. */
bool crypto_random(void *buffer, size_t length)
{
    if (length > (size_t)INT_MAX) {
        return false;
    }
    return RAND_bytes(buffer, (int)length) == 1;
}

/* count characters of alphabet (1..256 characters), each equally likely, then a NUL. */
bool crypto_random_text(const char *alphabet, size_t count, char *out)
{
    size_t alphabet_length = strlen(alphabet);
    assert(alphabet_length >= 1 && alphabet_length <= 256);
    /* Rejection sampling: bytes at or above the largest multiple of the alphabet length are
     * drawn again, so that every character is equally likely. */
    size_t accepted_below = 256 - 256 % alphabet_length;
    unsigned char pool[64];
    size_t pool_used = sizeof(pool);
    size_t written = 0;
    while (written < count) {
        if (pool_used == sizeof(pool)) {
            if (!crypto_random(pool, sizeof(pool))) {
                OPENSSL_cleanse(pool, sizeof(pool));
                return false;
            }
            pool_used = 0;
        }
        unsigned char byte = pool[pool_used];
        pool_used += 1;
        if (byte < accepted_below) {
            out[written] = alphabet[byte % alphabet_length];
            written += 1;
        }
    }
    out[count] = '\0';
    OPENSSL_cleanse(pool, sizeof(pool));
    return true;
}

/* ---- comparison and HMAC ---- */

/* Constant time over the bytes; the lengths themselves are not secret. */
bool crypto_equal(const char *a, size_t a_length, const char *b, size_t b_length)
{
    if (a_length != b_length) {
        return false;
    }
    return CRYPTO_memcmp(a, b, a_length) == 0;
}

/* Raw HMAC; *length_out is the digest length. */
static bool hmac_raw(const EVP_MD *md, const void *key, size_t key_length, const void *message,
                     size_t message_length, unsigned char digest[EVP_MAX_MD_SIZE],
                     unsigned *length_out)
{
    static const unsigned char empty[1];
    if (key_length > (size_t)INT_MAX) {
        return false;
    }
    /* OpenSSL wants a non-NULL pointer even for an empty key or message. */
    const void *key_bytes = key_length == 0 ? (const void *)empty : key;
    const unsigned char *message_bytes = message_length == 0 ? empty : message;
    return HMAC(md, key_bytes, (int)key_length, message_bytes, message_length, digest,
                length_out) != NULL;
}

/* SHA-256 (64 hex digits) or MD5 (32); out_size must hold them and a NUL. */
bool crypto_hmac_hex(enum hmac_method method, const char *secret, size_t secret_length,
                     const char *message, size_t message_length, char *out_hex, size_t out_size)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned digest_length = 0;
    const EVP_MD *md = method == HMAC_METHOD_MD5 ? EVP_md5() : EVP_sha256();
    if (out_size < (size_t)EVP_MD_get_size(md) * 2 + 1) {
        return false;
    }
    if (!hmac_raw(md, secret, secret_length, message, message_length, digest, &digest_length)) {
        return false;
    }
    hex_encode(digest, digest_length, out_hex);
    OPENSSL_cleanse(digest, sizeof(digest));
    return true;
}

struct crypto_mac {
    EVP_MAC_CTX *context;
    size_t digest_length;
};

struct crypto_mac *crypto_mac_new(enum hmac_method method, const char *secret, size_t secret_length)
{
    static const unsigned char empty[1];
    char digest_name[16];
    snprintf(digest_name, sizeof(digest_name), "%s", method == HMAC_METHOD_MD5 ? "MD5" : "SHA256");
    struct crypto_mac *mac = calloc(1, sizeof(*mac));
    EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL || hmac == NULL) {
        goto out_fail;
    }
    mac->context = EVP_MAC_CTX_new(hmac);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
        OSSL_PARAM_construct_end(),
    };
    /* OpenSSL wants a non-NULL key even when it is empty. */
    const unsigned char *key = secret_length == 0 ? empty : (const unsigned char *)secret;
    if (mac->context == NULL || EVP_MAC_init(mac->context, key, secret_length, params) != 1) {
        goto out_fail;
    }
    mac->digest_length = EVP_MAC_CTX_get_mac_size(mac->context);
    EVP_MAC_free(hmac);
    return mac;
out_fail:
    EVP_MAC_free(hmac);
    crypto_mac_free(mac);
    return NULL;
}

bool crypto_mac_hex(struct crypto_mac *mac, const char *message, size_t message_length,
                    char *out_hex, size_t out_size)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    size_t digest_length = 0;
    if (out_size < mac->digest_length * 2 + 1 || mac->digest_length > sizeof(digest)) {
        return false;
    }
    /* A NULL key starts a new message under the key set up in crypto_mac_new. */
    if (EVP_MAC_init(mac->context, NULL, 0, NULL) != 1 ||
        EVP_MAC_update(mac->context, (const unsigned char *)message, message_length) != 1 ||
        EVP_MAC_final(mac->context, digest, &digest_length, sizeof(digest)) != 1 ||
        digest_length != mac->digest_length) {
        return false;
    }
    hex_encode(digest, digest_length, out_hex);
    OPENSSL_cleanse(digest, sizeof(digest));
    return true;
}

void crypto_mac_free(struct crypto_mac *mac)
{
    if (mac != NULL) {
        EVP_MAC_CTX_free(mac->context);
    }
    free(mac);
}

bool crypto_sha256_hex(const void *data, size_t length, char out_hex[65])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned digest_length = 0;
    if (EVP_Digest(data, length, digest, &digest_length, EVP_sha256(), NULL) != 1 ||
        digest_length != 32) {
        return false;
    }
    hex_encode(digest, digest_length, out_hex);
    return true;
}

/*
 * SPEC 5: codes are stored as HMAC-SHA256 under a subkey of the data key, so a stolen database
 * alone does not let anyone test the million possible codes. Aborts if OpenSSL cannot compute an
 * HMAC (only on allocation failure): a hash that is not a hash must never be stored or compared.
 */
void crypto_code_hash(const struct keyring *keyring, const char *id, const char *code,
                      char out_hex[65])
{
    unsigned char subkey[EVP_MAX_MD_SIZE];
    unsigned subkey_length = 0;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned digest_length = 0;
    char message[VERIFICATION_ID_LENGTH + 1 + 64 + 1];
    int message_length = snprintf(message, sizeof(message), "%s:%s", id, code);
    bool ok = message_length > 0 && (size_t)message_length < sizeof(message) &&
              hmac_raw(EVP_sha256(), keyring->key, DATA_KEY_BYTES, CODE_HASH_CONTEXT,
                       strlen(CODE_HASH_CONTEXT), subkey, &subkey_length) &&
              hmac_raw(EVP_sha256(), subkey, subkey_length, message, (size_t)message_length, digest,
                       &digest_length);
    if (!ok) {
        abort();
    }
    assert(digest_length == SHA256_BYTES);
    hex_encode(digest, digest_length, out_hex);
    OPENSSL_cleanse(subkey, sizeof(subkey));
    OPENSSL_cleanse(digest, sizeof(digest));
    OPENSSL_cleanse(message, sizeof(message));
}

/* ---- AES-256-GCM ---- */

/* Encrypts plain into ciphertext (same length) and tag under key and nonce, with aad. */
static bool gcm_encrypt(const unsigned char *key, const unsigned char *nonce, const char *aad,
                        const unsigned char *plain, int plain_length, unsigned char *ciphertext,
                        unsigned char *tag)
{
    bool ok = false;
    int length = 0;
    int final_length = 0;
    EVP_CIPHER_CTX *context = EVP_CIPHER_CTX_new();
    if (context == NULL) {
        return false;
    }
    if (EVP_EncryptInit_ex(context, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_IVLEN, GCM_NONCE_BYTES, NULL) != 1 ||
        EVP_EncryptInit_ex(context, NULL, NULL, key, nonce) != 1 ||
        EVP_EncryptUpdate(context, NULL, &length, (const unsigned char *)aad, (int)strlen(aad)) !=
            1 ||
        EVP_EncryptUpdate(context, ciphertext, &length, plain, plain_length) != 1 ||
        EVP_EncryptFinal_ex(context, ciphertext + length, &final_length) != 1 ||
        EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, GCM_TAG_BYTES, tag) != 1) {
        goto out_free_context;
    }
    assert(length + final_length == plain_length);
    ok = true;
out_free_context:
    EVP_CIPHER_CTX_free(context);
    return ok;
}

/* Decrypts and authenticates; false for a bad tag. */
static bool gcm_decrypt(const unsigned char *key, const unsigned char *nonce, const char *aad,
                        const unsigned char *ciphertext, int ciphertext_length,
                        const unsigned char *tag, unsigned char *plain)
{
    bool ok = false;
    int length = 0;
    int final_length = 0;
    unsigned char tag_copy[GCM_TAG_BYTES];
    EVP_CIPHER_CTX *context = EVP_CIPHER_CTX_new();
    if (context == NULL) {
        return false;
    }
    memcpy(tag_copy, tag, sizeof(tag_copy));
    if (EVP_DecryptInit_ex(context, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_IVLEN, GCM_NONCE_BYTES, NULL) != 1 ||
        EVP_DecryptInit_ex(context, NULL, NULL, key, nonce) != 1 ||
        EVP_DecryptUpdate(context, NULL, &length, (const unsigned char *)aad, (int)strlen(aad)) !=
            1 ||
        EVP_DecryptUpdate(context, plain, &length, ciphertext, ciphertext_length) != 1 ||
        EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, GCM_TAG_BYTES, tag_copy) != 1 ||
        EVP_DecryptFinal_ex(context, plain + length, &final_length) != 1) {
        goto out_free_context;
    }
    assert(length + final_length == ciphertext_length);
    ok = true;
out_free_context:
    EVP_CIPHER_CTX_free(context);
    return ok;
}

/* The largest raw sealed payload (nonce | ciphertext | tag) whose base64 fits SEALED_BYTES_MAX. */
#define SEALED_RAW_BYTES_MAX ((SEALED_BYTES_MAX - KEY_ID_HEX_LENGTH - 1) / 4 * 3)

/* SPEC 7: "KEYID:BASE64(nonce | ciphertext | tag)", the key id authenticated as AAD, sealed
 * through raw (room for raw_size bytes) into out. */
static bool seal_through(const struct keyring *keyring, const char *plain, size_t plain_length,
                         unsigned char *raw, size_t raw_size, char *out, size_t out_size)
{
    bool ok = false;
    if (plain_length > raw_size - GCM_NONCE_BYTES - GCM_TAG_BYTES || plain_length > INT_MAX ||
        out_size <= KEY_ID_HEX_LENGTH + 1) {
        return false;
    }
    size_t raw_length = GCM_NONCE_BYTES + plain_length + GCM_TAG_BYTES;
    if (!crypto_random(raw, GCM_NONCE_BYTES) ||
        !gcm_encrypt(keyring->key, raw, keyring->key_id, (const unsigned char *)plain,
                     (int)plain_length, raw + GCM_NONCE_BYTES,
                     raw + GCM_NONCE_BYTES + plain_length)) {
        goto out_wipe;
    }
    memcpy(out, keyring->key_id, KEY_ID_HEX_LENGTH);
    out[KEY_ID_HEX_LENGTH] = ':';
    size_t prefix_length = KEY_ID_HEX_LENGTH + 1;
    ok = base64_encode(raw, raw_length, out + prefix_length, out_size - prefix_length) > 0;
out_wipe:
    OPENSSL_cleanse(raw, raw_length);
    return ok;
}

/* The reverse of seal_through; false (and nothing of the plain text left behind) for another key
 * id, a bad tag, bad base64 or a plain_size without room for the text and its NUL. */
static bool open_through(const struct keyring *keyring, const char *sealed, size_t sealed_length,
                         unsigned char *raw, size_t raw_size, char *plain, size_t plain_size)
{
    bool ok = false;
    if (sealed_length <= KEY_ID_HEX_LENGTH + 1 || sealed[KEY_ID_HEX_LENGTH] != ':' ||
        memcmp(sealed, keyring->key_id, KEY_ID_HEX_LENGTH) != 0) {
        return false;
    }
    const char *encoded = sealed + KEY_ID_HEX_LENGTH + 1;
    size_t raw_length =
        base64_decode(encoded, sealed_length - KEY_ID_HEX_LENGTH - 1, raw, raw_size);
    if (raw_length < GCM_NONCE_BYTES + GCM_TAG_BYTES || raw_length > INT_MAX) {
        goto out_wipe;
    }
    size_t plain_length = raw_length - GCM_NONCE_BYTES - GCM_TAG_BYTES;
    if (plain_size < plain_length + 1) {
        goto out_wipe;
    }
    ok = gcm_decrypt(keyring->key, raw, keyring->key_id, raw + GCM_NONCE_BYTES, (int)plain_length,
                     raw + GCM_NONCE_BYTES + plain_length, (unsigned char *)plain);
    if (ok) {
        plain[plain_length] = '\0';
    } else {
        OPENSSL_cleanse(plain, plain_length);
    }
out_wipe:
    OPENSSL_cleanse(raw, raw_size);
    return ok;
}

/* The largest raw sealed payload (nonce | ciphertext | tag) whose base64 fits SEALED_BYTES_MAX:
 * plain texts up to 155 bytes. */
#define SEALED_RAW_BYTES_MAX ((SEALED_BYTES_MAX - KEY_ID_HEX_LENGTH - 1) / 4 * 3)

bool crypto_seal(const struct keyring *keyring, const char *plain, size_t plain_length, char *out,
                 size_t out_size)
{
    unsigned char raw[SEALED_RAW_BYTES_MAX];
    if (out_size < SEALED_BYTES_MAX + 1) {
        return false;
    }
    return seal_through(keyring, plain, plain_length, raw, sizeof(raw), out, out_size);
}

bool crypto_open(const struct keyring *keyring, const char *sealed, char *plain, size_t plain_size)
{
    unsigned char raw[SEALED_RAW_BYTES_MAX];
    size_t sealed_length = strnlen(sealed, SEALED_BYTES_MAX + 1);
    if (sealed_length > SEALED_BYTES_MAX) {
        return false;
    }
    return open_through(keyring, sealed, sealed_length, raw, sizeof(raw), plain, plain_size);
}

char *crypto_seal_text(const struct keyring *keyring, const char *plain, size_t plain_length)
{
    if (plain_length > SEALED_TEXT_BYTES_MAX) {
        return NULL;
    }
    size_t raw_size = GCM_NONCE_BYTES + plain_length + GCM_TAG_BYTES;
    size_t out_size = KEY_ID_HEX_LENGTH + 1 + (raw_size + 2) / 3 * 4 + 1;
    unsigned char *raw = malloc(raw_size);
    char *out = malloc(out_size);
    if (raw == NULL || out == NULL ||
        !seal_through(keyring, plain, plain_length, raw, raw_size, out, out_size)) {
        free(out);
        out = NULL;
    }
    free(raw);
    return out;
}

char *crypto_open_text(const struct keyring *keyring, const char *sealed)
{
    size_t sealed_length = strlen(sealed);
    size_t raw_size = sealed_length / 4 * 3 + 3;
    if (raw_size > SEALED_TEXT_BYTES_MAX + GCM_NONCE_BYTES + GCM_TAG_BYTES + 3) {
        return NULL;
    }
    unsigned char *raw = malloc(raw_size);
    char *plain = malloc(raw_size + 1);
    if (raw == NULL || plain == NULL ||
        !open_through(keyring, sealed, sealed_length, raw, raw_size, plain, raw_size + 1)) {
        free(plain);
        plain = NULL;
    }
    free(raw);
    return plain;
}

/* ---- the key file ---- */

/* Reads the whole (small) file at fd into buffer; the length, or -1 if it is too long. */
static ssize_t read_small_file(int fd, char *buffer, size_t size)
{
    size_t total = 0;
    while (total < size) {
        ssize_t got = read(fd, buffer + total, size - total);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            return -1;
        }
        if (got == 0) {
            return (ssize_t)total;
        }
        total += (size_t)got;
    }
    return -1;
}

/* Decodes the text of a key file (one line of base64) into keyring->key and sets the key id. */
static bool keyring_decode(char *text, size_t length, struct keyring *out, char *why,
                           size_t why_size)
{
    unsigned char key[DATA_KEY_BYTES + 3];
    unsigned char digest[SHA256_BYTES];
    bool ok = false;
    if (length > 0 && text[length - 1] == '\n') {
        length -= 1;
    }
    if (length > 0 && text[length - 1] == '\r') {
        length -= 1;
    }
    size_t key_length = base64_decode(text, length, key, sizeof(key));
    if (key_length != DATA_KEY_BYTES) {
        snprintf(why, why_size, "the key file must hold one line of base64 encoding %d bytes",
                 DATA_KEY_BYTES);
        goto out_wipe;
    }
    if (EVP_Digest(key, DATA_KEY_BYTES, digest, NULL, EVP_sha256(), NULL) != 1) {
        snprintf(why, why_size, "cannot compute the key id");
        goto out_wipe;
    }
    memcpy(out->key, key, DATA_KEY_BYTES);
    hex_encode(digest, KEY_ID_HEX_LENGTH / 2, out->key_id);
    ok = true;
out_wipe:
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(digest, sizeof(digest));
    return ok;
}

/*
 * SPEC 7: refuses a missing, short or group/world-accessible key file. The reason in why names
 * the path, never the key.
 */
bool keyring_load(const char *path, struct keyring *out, char *why, size_t why_size)
{
    char text[KEY_FILE_BYTES_MAX];
    char reason[128] = "";
    struct stat status;
    bool ok = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, why_size, "cannot open the data key file %s: %s", path, strerror(errno));
        return false;
    }
    if (fstat(fd, &status) != 0 || !S_ISREG(status.st_mode)) {
        snprintf(why, why_size, "the data key file %s is not a regular file", path);
        goto out_close;
    }
    if ((status.st_mode & 077) != 0) {
        snprintf(why, why_size,
                 "the data key file %s is accessible by group or others (mode %04o); "
                 "make it 0600",
                 path, (unsigned)(status.st_mode & 07777));
        goto out_close;
    }
    ssize_t length = read_small_file(fd, text, sizeof(text));
    if (length < 0) {
        snprintf(why, why_size, "cannot read the data key file %s (or it is too long)", path);
        goto out_wipe;
    }
    if (!keyring_decode(text, (size_t)length, out, reason, sizeof(reason))) {
        snprintf(why, why_size, "data key file %s: %s", path, reason);
        goto out_wipe;
    }
    ok = true;
out_wipe:
    OPENSSL_cleanse(text, sizeof(text));
out_close:
    close(fd);
    return ok;
}

/* Writes all of buffer to fd. */
static bool write_all(int fd, const char *buffer, size_t length)
{
    size_t total = 0;
    while (total < length) {
        ssize_t put = write(fd, buffer + total, length - total);
        if (put < 0 && errno == EINTR) {
            continue;
        }
        if (put <= 0) {
            return false;
        }
        total += (size_t)put;
    }
    return true;
}

/* Makes the new directory entry of path durable: a key lost in a crash loses every sealed value. */
static bool sync_parent_directory(const char *path)
{
    char directory[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        snprintf(directory, sizeof(directory), ".");
    } else if (slash == path) {
        snprintf(directory, sizeof(directory), "/");
    } else if ((size_t)(slash - path) < sizeof(directory)) {
        snprintf(directory, sizeof(directory), "%.*s", (int)(slash - path), path);
    } else {
        return false;
    }
    int fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    bool ok = fsync(fd) == 0;
    close(fd);
    return ok;
}

/* SPEC 7: `cashctl init` creates the key file (32 random bytes, base64, mode 0600) only once. */
bool keyring_create_if_missing(const char *path, bool *created_out, char *why, size_t why_size)
{
    unsigned char key[DATA_KEY_BYTES];
    char text[KEY_FILE_BYTES_MAX];
    size_t length = 0;
    bool ok = false;
    *created_out = false;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST) {
        return true;
    }
    if (fd < 0) {
        snprintf(why, why_size, "cannot create the data key file %s: %s", path, strerror(errno));
        return false;
    }
    if (crypto_random(key, sizeof(key))) {
        length = base64_encode(key, sizeof(key), text, sizeof(text) - 1);
    }
    if (length == 0) {
        snprintf(why, why_size, "cannot generate a data key");
        goto out_close;
    }
    text[length] = '\n';
    if (fchmod(fd, 0600) != 0 || !write_all(fd, text, length + 1) || fsync(fd) != 0 ||
        !sync_parent_directory(path)) {
        snprintf(why, why_size, "cannot write the data key file %s: %s", path, strerror(errno));
        goto out_close;
    }
    ok = true;
    *created_out = true;
out_close:
    close(fd);
    if (!ok) {
        unlink(path); /* never leave a half-written key behind */
    }
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(text, sizeof(text));
    return ok;
}

/* OPENSSL_cleanse: a wipe the compiler may not optimise away. */
void keyring_wipe(struct keyring *keyring)
{
    OPENSSL_cleanse(keyring, sizeof(*keyring));
}
