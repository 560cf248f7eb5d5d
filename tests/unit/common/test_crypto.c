#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crypto.h"

static char temp_dir[512];

/* A fresh directory under $CASHD_TEST_TMP (or /tmp) for the key file tests. */
static int make_temp_dir(void **state)
{
    (void)state;
    const char *base = getenv("CASHD_TEST_TMP");
    if (base == NULL || base[0] == '\0') {
        base = "/tmp";
    }
    if (mkdir(base, 0700) != 0 && errno != EEXIST) {
        return -1;
    }
    snprintf(temp_dir, sizeof(temp_dir), "%s/crypto-XXXXXX", base);
    return mkdtemp(temp_dir) != NULL ? 0 : -1;
}

static int remove_temp_dir(void **state)
{
    (void)state;
    char command[600];
    snprintf(command, sizeof(command), "rm -rf '%s'", temp_dir);
    return system(command) == 0 ? 0 : -1;
}

static void temp_path(const char *name, char *out, size_t out_size)
{
    snprintf(out, out_size, "%s/%s", temp_dir, name);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(close(fd), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static void keyring_of(unsigned char fill, struct keyring *out)
{
    char text[64];
    unsigned char key[DATA_KEY_BYTES];
    char path[600];
    char why[256];
    memset(key, fill, sizeof(key));
    size_t length = base64_encode(key, sizeof(key), text, sizeof(text));
    assert_int_equal(length, 44);
    text[length] = '\n';
    text[length + 1] = '\0';
    snprintf(path, sizeof(path), "%s/key-%02x", temp_dir, fill);
    write_file(path, text, 0600);
    assert_true(keyring_load(path, out, why, sizeof(why)));
}

/* ---- base64 ---- */

static const char *const base64_vectors[][2] = {
    {"f", "Zg=="},        {"fo", "Zm8="},        {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
};

static void test_base64_vectors(void **state)
{
    (void)state;
    char encoded[64];
    unsigned char decoded[64];
    for (size_t i = 0; i < sizeof(base64_vectors) / sizeof(base64_vectors[0]); i++) {
        const char *plain = base64_vectors[i][0];
        const char *text = base64_vectors[i][1];
        assert_int_equal(
            base64_encode((const unsigned char *)plain, strlen(plain), encoded, sizeof(encoded)),
            strlen(text));
        assert_string_equal(encoded, text);
        assert_int_equal(base64_decode(text, strlen(text), decoded, sizeof(decoded)),
                         strlen(plain));
        assert_memory_equal(decoded, plain, strlen(plain));
        /* the decoded length alone is room enough, padding included */
        assert_int_equal(base64_decode(text, strlen(text), decoded, strlen(plain)), strlen(plain));
        assert_int_equal(base64_decode(text, strlen(text), decoded, strlen(plain) - 1), 0);
    }
}

static void test_base64_binary(void **state)
{
    (void)state;
    unsigned char bytes[256];
    char encoded[400];
    unsigned char decoded[256];
    for (size_t i = 0; i < sizeof(bytes); i++) {
        bytes[i] = (unsigned char)(255 - i);
    }
    for (size_t length = 1; length <= sizeof(bytes); length++) {
        size_t encoded_length = base64_encode(bytes, length, encoded, sizeof(encoded));
        assert_int_equal(encoded_length, (length + 2) / 3 * 4);
        assert_int_equal(base64_decode(encoded, encoded_length, decoded, sizeof(decoded)), length);
        assert_memory_equal(decoded, bytes, length);
    }
}

static void test_base64_refused(void **state)
{
    (void)state;
    unsigned char out[64];
    char small[4];
    const char *bad[] = {"",         "Zg=",      "Zg",       "Z===",  "====", "Zm=v",
                         "Zm9v!A==", " Zm9v",    "Zm9v\n",   "Zm9v ", "Zm9-", "Zm9_",
                         "=Zm9",     "Zg==Zg==", "Zm9vY===", "Zm\0v"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t length = i == sizeof(bad) / sizeof(bad[0]) - 1 ? 4 : strlen(bad[i]);
        if (base64_decode(bad[i], length, out, sizeof(out)) != 0) {
            fail_msg("accepted \"%s\"", bad[i]);
        }
    }
    /* encoding needs room for the text and its NUL */
    assert_int_equal(base64_encode((const unsigned char *)"foo", 3, small, sizeof(small)), 0);
}

/* ---- HMAC (RFC 4231 for SHA-256, RFC 2202 for MD5) ---- */

static void expect_hmac(enum hmac_method method, const char *key, size_t key_length,
                        const char *message, const char *expected)
{
    char out[65];
    assert_true(
        crypto_hmac_hex(method, key, key_length, message, strlen(message), out, sizeof(out)));
    assert_string_equal(out, expected);
    /* the keyed HMAC made once gives the same, message after message */
    struct crypto_mac *mac = crypto_mac_new(method, key, key_length);
    assert_non_null(mac);
    for (int round = 0; round < 3; round++) {
        memset(out, 0, sizeof(out));
        assert_true(crypto_mac_hex(mac, message, strlen(message), out, sizeof(out)));
        assert_string_equal(out, expected);
        assert_true(crypto_mac_hex(mac, "other", 5, out, sizeof(out)));
    }
    assert_false(crypto_mac_hex(mac, message, strlen(message), out, strlen(expected)));
    crypto_mac_free(mac);
}

static void test_hmac_sha256_vectors(void **state)
{
    (void)state;
    char key[131];
    memset(key, 0x0b, 20);
    expect_hmac(HMAC_METHOD_SHA256, key, 20, "Hi There",
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    expect_hmac(HMAC_METHOD_SHA256, "Jefe", 4, "what do ya want for nothing?",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    memset(key, 0xaa, sizeof(key));
    expect_hmac(HMAC_METHOD_SHA256, key, sizeof(key),
                "Test Using Larger Than Block-Size Key - Hash Key First",
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static void test_hmac_md5_vectors(void **state)
{
    (void)state;
    char key[80];
    memset(key, 0x0b, 16);
    expect_hmac(HMAC_METHOD_MD5, key, 16, "Hi There", "9294727a3638bb1c13f48ef8158bfc9d");
    expect_hmac(HMAC_METHOD_MD5, "Jefe", 4, "what do ya want for nothing?",
                "750c783e6ab0b503eaa86e310a5db738");
    memset(key, 0xaa, sizeof(key));
    expect_hmac(HMAC_METHOD_MD5, key, sizeof(key),
                "Test Using Larger Than Block-Size Key - Hash Key First",
                "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd");
}

static void test_hmac_small_buffer(void **state)
{
    (void)state;
    char out[65];
    assert_false(crypto_hmac_hex(HMAC_METHOD_SHA256, "k", 1, "m", 1, out, 64));
    assert_true(crypto_hmac_hex(HMAC_METHOD_MD5, "k", 1, "m", 1, out, 33));
    assert_int_equal(strlen(out), 32);
    /* an empty key and message are still an HMAC */
    assert_true(crypto_hmac_hex(HMAC_METHOD_SHA256, "", 0, "", 0, out, sizeof(out)));
    assert_string_equal(out, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

/* ---- comparison and random ---- */

static void test_equal(void **state)
{
    (void)state;
    assert_true(crypto_equal("abc", 3, "abc", 3));
    assert_false(crypto_equal("abc", 3, "abd", 3));
    assert_false(crypto_equal("abc", 3, "abcd", 4));
    assert_true(crypto_equal("", 0, "", 0));
}

static void test_random_text(void **state)
{
    (void)state;
    enum { DRAWS = 100000 };
    static char text[DRAWS + 1];
    size_t counts[10] = {0};
    assert_true(crypto_random_text("0123456789", DRAWS, text));
    assert_int_equal(strlen(text), DRAWS);
    for (size_t i = 0; i < DRAWS; i++) {
        assert_true(text[i] >= '0' && text[i] <= '9');
        counts[text[i] - '0'] += 1;
    }
    /* Each digit is expected 10000 times (sd about 95): 6 standard deviations of slack. A modulo
     * bias of 256 % 10 would put digits 0..5 near 10156 and 6..9 near 9766. */
    for (size_t digit = 0; digit < 10; digit++) {
        assert_in_range(counts[digit], 9430, 10570);
    }
    size_t low = counts[0] + counts[1] + counts[2] + counts[3] + counts[4] + counts[5];
    size_t high = counts[6] + counts[7] + counts[8] + counts[9];
    /* biased: low/6 - high/4 is about 390 per digit; unbiased it is 0 with sd about 60 */
    assert_true((double)low / 6.0 - (double)high / 4.0 < 250.0);
    char one[2];
    assert_true(crypto_random_text("x", 1, one));
    assert_string_equal(one, "x");
    char none[1] = {'?'};
    assert_true(crypto_random_text("ab", 0, none));
    assert_string_equal(none, "");
}

static void test_random_bytes(void **state)
{
    (void)state;
    unsigned char a[32] = {0};
    unsigned char b[32] = {0};
    assert_true(crypto_random(a, sizeof(a)));
    assert_true(crypto_random(b, sizeof(b)));
    assert_memory_not_equal(a, b, sizeof(a));
}

/* ---- sealing ---- */

static void test_seal_round_trip(void **state)
{
    (void)state;
    struct keyring keyring;
    char sealed[SEALED_BYTES_MAX + 1];
    char again[SEALED_BYTES_MAX + 1];
    char plain[SEALED_BYTES_MAX + 1];
    keyring_of(0x11, &keyring);
    assert_true(crypto_seal(&keyring, "1234567890", 10, sealed, sizeof(sealed)));
    assert_memory_equal(sealed, keyring.key_id, KEY_ID_HEX_LENGTH);
    assert_int_equal(sealed[KEY_ID_HEX_LENGTH], ':');
    assert_null(strstr(sealed, "1234567890"));
    assert_true(crypto_open(&keyring, sealed, plain, sizeof(plain)));
    assert_string_equal(plain, "1234567890");
    /* a fresh nonce each time */
    assert_true(crypto_seal(&keyring, "1234567890", 10, again, sizeof(again)));
    assert_string_not_equal(sealed, again);
    /* empty and the longest plain text that fits */
    assert_true(crypto_seal(&keyring, "", 0, sealed, sizeof(sealed)));
    assert_true(crypto_open(&keyring, sealed, plain, sizeof(plain)));
    assert_string_equal(plain, "");
    char longest[156];
    memset(longest, 'z', 155);
    longest[155] = '\0';
    assert_true(crypto_seal(&keyring, longest, 155, sealed, sizeof(sealed)));
    assert_true(strlen(sealed) <= SEALED_BYTES_MAX);
    assert_true(crypto_open(&keyring, sealed, plain, sizeof(plain)));
    assert_string_equal(plain, longest);
    assert_false(crypto_seal(&keyring, longest, 156, sealed, sizeof(sealed)));
    assert_false(crypto_seal(&keyring, "1", 1, sealed, SEALED_BYTES_MAX));
    keyring_wipe(&keyring);
}

/* Texts of any length up to SEALED_TEXT_BYTES_MAX, sealed and opened on the heap. */
static void test_seal_text(void **state)
{
    (void)state;
    struct keyring keyring;
    struct keyring other;
    keyring_of(0x11, &keyring);
    keyring_of(0x22, &other);
    size_t length = 10000;
    char *plain = malloc(length + 1);
    assert_non_null(plain);
    memset(plain, 'q', length);
    plain[length] = '\0';
    char *sealed = crypto_seal_text(&keyring, plain, length);
    assert_non_null(sealed);
    assert_memory_equal(sealed, keyring.key_id, KEY_ID_HEX_LENGTH);
    assert_null(strstr(sealed, "qqqq"));
    char *opened = crypto_open_text(&keyring, sealed);
    assert_non_null(opened);
    assert_string_equal(opened, plain);
    free(opened);
    assert_null(crypto_open_text(&other, sealed));
    sealed[KEY_ID_HEX_LENGTH + 20] = sealed[KEY_ID_HEX_LENGTH + 20] == 'A' ? 'B' : 'A';
    assert_null(crypto_open_text(&keyring, sealed));
    free(sealed);
    sealed = crypto_seal_text(&keyring, "", 0);
    assert_non_null(sealed);
    opened = crypto_open_text(&keyring, sealed);
    assert_non_null(opened);
    assert_string_equal(opened, "");
    free(opened);
    free(sealed);
    assert_null(crypto_seal_text(&keyring, plain, SEALED_TEXT_BYTES_MAX + 1));
    assert_null(crypto_open_text(&keyring, "short"));
    free(plain);
    keyring_wipe(&keyring);
    keyring_wipe(&other);
}

static void test_sha256(void **state)
{
    (void)state;
    char out[65];
    assert_true(crypto_sha256_hex("abc", 3, out));
    assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_true(crypto_sha256_hex("", 0, out));
    assert_string_equal(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_open_refuses_tampering(void **state)
{
    (void)state;
    struct keyring keyring;
    struct keyring other;
    char sealed[SEALED_BYTES_MAX + 1];
    char copy[SEALED_BYTES_MAX + 1];
    char plain[64];
    keyring_of(0x22, &keyring);
    keyring_of(0x33, &other);
    assert_string_not_equal(keyring.key_id, other.key_id);
    assert_true(crypto_seal(&keyring, "secret-number", 13, sealed, sizeof(sealed)));
    /* every changed character of the payload breaks the tag */
    for (size_t i = KEY_ID_HEX_LENGTH + 1; i + 2 < strlen(sealed); i++) {
        memcpy(copy, sealed, sizeof(copy));
        copy[i] = copy[i] == 'A' ? 'B' : 'A';
        assert_false(crypto_open(&keyring, copy, plain, sizeof(plain)));
    }
    /* another key id, another key with the same id, a truncated text, a short buffer */
    assert_false(crypto_open(&other, sealed, plain, sizeof(plain)));
    memcpy(other.key_id, keyring.key_id, sizeof(other.key_id));
    assert_false(crypto_open(&other, sealed, plain, sizeof(plain)));
    memcpy(copy, sealed, sizeof(copy));
    copy[0] = copy[0] == 'a' ? 'b' : 'a';
    assert_false(crypto_open(&keyring, copy, plain, sizeof(plain)));
    memcpy(copy, sealed, sizeof(copy));
    copy[strlen(copy) - 4] = '\0';
    assert_false(crypto_open(&keyring, copy, plain, sizeof(plain)));
    assert_false(crypto_open(&keyring, sealed, plain, 13));
    assert_true(crypto_open(&keyring, sealed, plain, 14));
    assert_string_equal(plain, "secret-number");
    assert_false(crypto_open(&keyring, "", plain, sizeof(plain)));
    assert_false(crypto_open(&keyring, "no-colon-here", plain, sizeof(plain)));
    keyring_wipe(&keyring);
    keyring_wipe(&other);
}

/* ---- code hashes ---- */

static void test_code_hash(void **state)
{
    (void)state;
    struct keyring keyring;
    char hash[65];
    char other[65];
    unsigned char subkey[32];
    unsigned subkey_length = 0;
    char expected[65];
    keyring_of(0x44, &keyring);
    crypto_code_hash(&keyring, "17640000000001234567890123456789", "123456", hash);
    assert_int_equal(strlen(hash), 64);
    /* computed independently: HMAC(HMAC(key, context), "id:code") */
    assert_non_null(HMAC(EVP_sha256(), keyring.key, DATA_KEY_BYTES,
                         (const unsigned char *)"cashd verification code v1", 26, subkey,
                         &subkey_length));
    const char *message = "17640000000001234567890123456789:123456";
    assert_true(crypto_hmac_hex(HMAC_METHOD_SHA256, (const char *)subkey, subkey_length, message,
                                strlen(message), expected, sizeof(expected)));
    assert_string_equal(hash, expected);
    crypto_code_hash(&keyring, "17640000000001234567890123456789", "123457", other);
    assert_string_not_equal(hash, other);
    crypto_code_hash(&keyring, "17640000000001234567890123456780", "123456", other);
    assert_string_not_equal(hash, other);
    keyring_wipe(&keyring);
}

/* ---- the key file ---- */

static void test_keyring_create_and_load(void **state)
{
    (void)state;
    char path[600];
    char why[256];
    bool created = false;
    struct keyring keyring;
    struct keyring again;
    struct stat status;
    temp_path("created.key", path, sizeof(path));
    assert_true(keyring_create_if_missing(path, &created, why, sizeof(why)));
    assert_true(created);
    assert_int_equal(stat(path, &status), 0);
    assert_int_equal(status.st_mode & 0777, 0600);
    assert_int_equal(status.st_size, 45); /* 44 base64 characters and a newline */
    assert_true(keyring_load(path, &keyring, why, sizeof(why)));
    assert_int_equal(strlen(keyring.key_id), KEY_ID_HEX_LENGTH);
    /* the key id is the start of SHA-256(key) */
    unsigned char digest[32];
    char digest_hex[9];
    assert_int_equal(EVP_Digest(keyring.key, DATA_KEY_BYTES, digest, NULL, EVP_sha256(), NULL), 1);
    snprintf(digest_hex, sizeof(digest_hex), "%02x%02x%02x%02x", digest[0], digest[1], digest[2],
             digest[3]);
    assert_string_equal(keyring.key_id, digest_hex);
    /* a second call keeps the existing key */
    assert_true(keyring_create_if_missing(path, &created, why, sizeof(why)));
    assert_false(created);
    assert_true(keyring_load(path, &again, why, sizeof(why)));
    assert_memory_equal(keyring.key, again.key, DATA_KEY_BYTES);
    keyring_wipe(&keyring);
    unsigned char zero[DATA_KEY_BYTES] = {0};
    assert_memory_equal(keyring.key, zero, DATA_KEY_BYTES);
    keyring_wipe(&again);
    temp_path("missing-dir/created.key", path, sizeof(path));
    assert_false(keyring_create_if_missing(path, &created, why, sizeof(why)));
    assert_non_null(strstr(why, "missing-dir"));
}

static void expect_load_refused(const char *name, const char *text, mode_t mode,
                                const char *reason_part)
{
    char path[600];
    char why[256] = "";
    struct keyring keyring;
    temp_path(name, path, sizeof(path));
    write_file(path, text, mode);
    if (keyring_load(path, &keyring, why, sizeof(why))) {
        fail_msg("loaded %s", name);
    }
    if (strstr(why, reason_part) == NULL) {
        fail_msg("%s: reason \"%s\" lacks \"%s\"", name, why, reason_part);
    }
}

static void expect_load_accepted(const char *name, const char *text)
{
    char path[600];
    char why[256] = "";
    struct keyring keyring;
    temp_path(name, path, sizeof(path));
    write_file(path, text, 0600);
    if (!keyring_load(path, &keyring, why, sizeof(why))) {
        fail_msg("refused %s: %s", name, why);
    }
    keyring_wipe(&keyring);
}

static void test_keyring_refusals(void **state)
{
    (void)state;
    char path[600];
    char why[256];
    struct keyring keyring;
    /* 32 bytes of 0x00 */
    const char *good = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    expect_load_accepted("plain.key", good);
    expect_load_accepted("newline.key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n");
    expect_load_accepted("crlf.key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n");
    expect_load_refused("world.key", good, 0644, "group or others");
    expect_load_refused("group.key", good, 0640, "group or others");
    expect_load_refused("other-write.key", good, 0602, "group or others");
    /* 16 bytes */
    expect_load_refused("short.key", "AAAAAAAAAAAAAAAAAAAAAA==\n", 0600, "32 bytes");
    /* 33 bytes */
    expect_load_refused("long.key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n", 0600,
                        "32 bytes");
    expect_load_refused("two-lines.key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n", 0600,
                        "32 bytes");
    expect_load_refused("garbage.key", "not base64 at all, not at all, not at all!!\n", 0600,
                        "32 bytes");
    expect_load_refused("empty.key", "", 0600, "32 bytes");
    temp_path("absent.key", path, sizeof(path));
    assert_false(keyring_load(path, &keyring, why, sizeof(why)));
    assert_non_null(strstr(why, "absent.key"));
    assert_false(keyring_load(temp_dir, &keyring, why, sizeof(why)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64_vectors),
        cmocka_unit_test(test_base64_binary),
        cmocka_unit_test(test_base64_refused),
        cmocka_unit_test(test_hmac_sha256_vectors),
        cmocka_unit_test(test_hmac_md5_vectors),
        cmocka_unit_test(test_hmac_small_buffer),
        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_random_text),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_seal_round_trip),
        cmocka_unit_test(test_seal_text),
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_open_refuses_tampering),
        cmocka_unit_test(test_code_hash),
        cmocka_unit_test(test_keyring_create_and_load),
        cmocka_unit_test(test_keyring_refusals),
    };
    return cmocka_run_group_tests(tests, make_temp_dir, remove_temp_dir);
}
