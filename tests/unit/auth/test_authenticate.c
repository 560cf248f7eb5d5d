#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "auth/auth.h"

/*
 * auth_authenticate against a store whose two functions it uses are fakes (the linker sends
 * auth's calls of store_api_key_get and store_replay_remember to the __wrap_ functions below:
 * CMakeLists.txt): every rejection, its order, and what the replay cache is told.
 */

#define KEY       "NCSAYU7YDBXYORXC"
#define SECRET    "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
#define DATE      "2026-11-24T21:00:00+09:00"
#define DATE_MS   1795521600000LL
#define SALT      "q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6"
#define SIGNATURE "ec9efb67184f32337909c8fe337a13767d5bf131102e2d16d22d4784f7b41eb5"
#define MINUTE_MS 60000LL

struct fake_store {
    struct store base; /* first: a struct store * is a struct fake_store * */
    struct api_key key;
    cash_result get_result;
    cash_result remember_result;
    int remember_calls;
    char remembered_key[AUTH_API_KEY_LENGTH + 1];
    char remembered_signature[AUTH_SIGNATURE_HEX_MAX + 1];
    int64_t remembered_now_ms;
    int64_t remembered_expires_ms;
};

static struct fake_store fake;
static struct keyring keyring;

cash_result __wrap_store_api_key_get(struct store *store, const char *api_key,
                                     struct api_key *out);
cash_result __wrap_store_replay_remember(struct store *store, const char *api_key,
                                         const char *signature_hex, int64_t now_ms,
                                         int64_t expires_ms);

cash_result __wrap_store_api_key_get(struct store *store, const char *api_key, struct api_key *out)
{
    struct fake_store *self = (struct fake_store *)store;
    if (self->get_result != CASH_OK) {
        return self->get_result;
    }
    if (strcmp(api_key, self->key.api_key) != 0) {
        return CASH_NOT_FOUND;
    }
    *out = self->key;
    return CASH_OK;
}

cash_result __wrap_store_replay_remember(struct store *store, const char *api_key,
                                         const char *signature_hex, int64_t now_ms,
                                         int64_t expires_ms)
{
    struct fake_store *self = (struct fake_store *)store;
    self->remember_calls += 1;
    snprintf(self->remembered_key, sizeof(self->remembered_key), "%s", api_key);
    snprintf(self->remembered_signature, sizeof(self->remembered_signature), "%s", signature_hex);
    self->remembered_now_ms = now_ms;
    self->remembered_expires_ms = expires_ms;
    return self->remember_result;
}

static int reset(void **state)
{
    (void)state;
    memset(&fake, 0, sizeof(fake));
    memset(&keyring, 0x5a, sizeof(keyring.key));
    memcpy(keyring.key_id, "0a1b2c3d", KEY_ID_HEX_LENGTH + 1);
    memcpy(fake.key.api_key, KEY, sizeof(KEY));
    memcpy(fake.key.member_id, "26112400000001", MEMBER_ID_LENGTH + 1);
    memcpy(fake.key.account_id, "26112400000002", ACCOUNT_ID_LENGTH + 1);
    fake.key.scopes = SCOPE_CASH_READ | SCOPE_CASH_WRITE;
    if (!crypto_seal(&keyring, SECRET, strlen(SECRET), fake.key.sealed_secret,
                     sizeof(fake.key.sealed_secret))) {
        return -1;
    }
    return 0;
}

static cash_result authenticate(const char *header, int64_t now_ms, struct api_key *out, char *why,
                                size_t why_size)
{
    return auth_authenticate(&fake.base, &keyring, header, now_ms, out, NULL, why, why_size);
}

static const char *const good_header =
    "HMAC-SHA256 apiKey=" KEY ", date=" DATE ", salt=" SALT ", signature=" SIGNATURE;

static void test_success_remembers_signature(void **state)
{
    (void)state;
    struct api_key out;
    char why[200] = "";
    assert_int_equal(authenticate(good_header, DATE_MS + 1000, &out, why, sizeof(why)), CASH_OK);
    assert_string_equal(out.api_key, KEY);
    assert_string_equal(out.account_id, "26112400000002");
    assert_int_equal(fake.remember_calls, 1);
    assert_string_equal(fake.remembered_key, KEY);
    assert_string_equal(fake.remembered_signature, SIGNATURE);
    assert_int_equal(fake.remembered_now_ms, DATE_MS + 1000);
    /* kept 30 minutes past the later of the date and now */
    assert_int_equal(fake.remembered_expires_ms, DATE_MS + 1000 + 30 * MINUTE_MS);
    assert_int_equal(authenticate(good_header, DATE_MS - 10 * MINUTE_MS, &out, why, sizeof(why)),
                     CASH_OK);
    assert_int_equal(fake.remembered_expires_ms, DATE_MS + 30 * MINUTE_MS);
}

/* With a replay out-struct the caller remembers the signature: the store is not told. */
static void test_replay_left_to_caller(void **state)
{
    (void)state;
    struct api_key out;
    struct auth_replay replay;
    char why[200] = "";
    fake.remember_result = CASH_DUPLICATED_SIGNATURE;
    assert_int_equal(auth_authenticate(&fake.base, &keyring, good_header, DATE_MS + 1000, &out,
                                       &replay, why, sizeof(why)),
                     CASH_OK);
    assert_int_equal(fake.remember_calls, 0);
    assert_string_equal(out.api_key, KEY);
    assert_string_equal(replay.signature_hex, SIGNATURE);
    assert_int_equal(replay.expires_ms, DATE_MS + 1000 + 30 * MINUTE_MS);
    /* a mismatch says nothing to remember */
    const char *wrong =
        "HMAC-SHA256 apiKey=" KEY ", date=" DATE ", salt=" SALT
        ", signature=fc9efb67184f32337909c8fe337a13767d5bf131102e2d16d22d4784f7b41eb5";
    assert_int_equal(
        auth_authenticate(&fake.base, &keyring, wrong, DATE_MS, &out, &replay, why, sizeof(why)),
        CASH_SIGNATURE_DOES_NOT_MATCH);
}

/* The keyed HMAC kept for a key serves only its secret: a new secret is keyed afresh. */
static void test_new_secret_is_used_at_once(void **state)
{
    (void)state;
    struct api_key out;
    char why[200] = "";
    char header[AUTH_HEADER_BYTES_MAX];
    assert_int_equal(authenticate(good_header, DATE_MS, &out, why, sizeof(why)), CASH_OK);
    static const char new_secret[] = "ZYXWVUTSRQPONMLKJIHGFEDCBA543210";
    assert_true(crypto_seal(&keyring, new_secret, strlen(new_secret), fake.key.sealed_secret,
                            sizeof(fake.key.sealed_secret)));
    assert_int_equal(authenticate(good_header, DATE_MS, &out, why, sizeof(why)),
                     CASH_SIGNATURE_DOES_NOT_MATCH);
    assert_int_equal(
        auth_sign(HMAC_METHOD_SHA256, KEY, new_secret, DATE, SALT, header, sizeof(header)),
        CASH_OK);
    assert_int_equal(authenticate(header, DATE_MS, &out, why, sizeof(why)), CASH_OK);
    /* and MD5 under the same key is its own HMAC */
    assert_int_equal(
        auth_sign(HMAC_METHOD_MD5, KEY, new_secret, DATE, SALT, header, sizeof(header)), CASH_OK);
    assert_int_equal(authenticate(header, DATE_MS, &out, why, sizeof(why)), CASH_OK);
}

static void test_upper_case_and_md5(void **state)
{
    (void)state;
    struct api_key out;
    char why[200] = "";
    assert_int_equal(
        authenticate("HMAC-SHA256 apiKey=" KEY ", date=" DATE ", salt=" SALT
                     ", signature=EC9EFB67184F32337909C8FE337A13767D5BF131102E2D16D22D4784F7B41EB5",
                     DATE_MS, &out, why, sizeof(why)),
        CASH_OK);
    /* the replay cache always sees the lower-case form */
    assert_string_equal(fake.remembered_signature, SIGNATURE);
    assert_int_equal(authenticate("HMAC-MD5 apiKey=" KEY ", date=" DATE ", salt=" SALT
                                  ", signature=6cfddaf4fdc73d1ada113f2c7506c223",
                                  DATE_MS, &out, why, sizeof(why)),
                     CASH_OK);
}

static void test_missing_and_unparseable(void **state)
{
    (void)state;
    struct api_key out;
    char why[200] = "";
    assert_int_equal(authenticate(NULL, DATE_MS, &out, why, sizeof(why)), CASH_UNAUTHORIZED);
    assert_int_equal(authenticate("Bearer abc", DATE_MS, &out, why, sizeof(why)),
                     CASH_VALIDATION_ERROR);
    assert_non_null(strstr(why, "method"));
    assert_int_equal(authenticate("HMAC-SHA256 apiKey=" KEY ", date=" DATE ", salt=short, "
                                  "signature=" SIGNATURE,
                                  DATE_MS, &out, why, sizeof(why)),
                     CASH_VALIDATION_ERROR);
    assert_non_null(strstr(why, "salt"));
    assert_int_equal(fake.remember_calls, 0);
}

static void test_skew(void **state)
{
    (void)state;
    struct api_key out;
    char why[200] = "";
    int64_t limit_ms = 15 * MINUTE_MS;
    assert_int_equal(authenticate(good_header, DATE_MS + limit_ms, &out, why, sizeof(why)),
                     CASH_OK);
    assert_int_equal(authenticate(good_header, DATE_MS - limit_ms, &out, why, sizeof(why)),
                     CASH_OK);
    assert_int_equal(authenticate(good_header, DATE_MS + limit_ms + 1, &out, why, sizeof(why)),
                     CASH_REQUEST_TIME_TOO_SKEWED);
    assert_string_equal(why, "server time is 2026-11-24T12:15:00.001Z; allowed skew is 15 minutes");
    assert_int_equal(authenticate(good_header, DATE_MS - limit_ms - 1, &out, why, sizeof(why)),
                     CASH_REQUEST_TIME_TOO_SKEWED);
    assert_string_equal(why, "server time is 2026-11-24T11:44:59.999Z; allowed skew is 15 minutes");
    /* the skew is judged before the key: an unknown key with a stale date is still skewed */
    fake.get_result = CASH_NOT_FOUND;
    assert_int_equal(authenticate(good_header, DATE_MS + 2 * limit_ms, &out, why, sizeof(why)),
                     CASH_REQUEST_TIME_TOO_SKEWED);
    assert_int_equal(fake.remember_calls, 2);
}

static void test_keys(void **state)
{
    (void)state;
    struct api_key out;
    char why[200] = "";
    assert_int_equal(authenticate("HMAC-SHA256 apiKey=AAAAAAAAAAAAAAAA, date=" DATE ", salt=" SALT
                                  ", signature=" SIGNATURE,
                                  DATE_MS, &out, why, sizeof(why)),
                     CASH_INVALID_API_KEY);
    fake.key.revoked = true;
    assert_int_equal(authenticate(good_header, DATE_MS, &out, why, sizeof(why)),
                     CASH_INVALID_API_KEY);
    fake.key.revoked = false;
    fake.get_result = CASH_SERVICE_UNAVAILABLE;
    assert_int_equal(authenticate(good_header, DATE_MS, &out, why, sizeof(why)),
                     CASH_SERVICE_UNAVAILABLE);
    assert_int_equal(fake.remember_calls, 0);
}

static void test_signature_mismatch(void **state)
{
    (void)state;
    struct api_key out;
    char why[200] = "";
    const char *wrong =
        "HMAC-SHA256 apiKey=" KEY ", date=" DATE ", salt=" SALT
        ", signature=fc9efb67184f32337909c8fe337a13767d5bf131102e2d16d22d4784f7b41eb5";
    assert_int_equal(authenticate(wrong, DATE_MS, &out, why, sizeof(why)),
                     CASH_SIGNATURE_DOES_NOT_MATCH);
    /* the same signature under another salt or date does not match either */
    assert_int_equal(authenticate("HMAC-SHA256 apiKey=" KEY ", date=" DATE
                                  ", salt=q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h7, signature=" SIGNATURE,
                                  DATE_MS, &out, why, sizeof(why)),
                     CASH_SIGNATURE_DOES_NOT_MATCH);
    assert_int_equal(authenticate("HMAC-SHA256 apiKey=" KEY
                                  ", date=2026-11-24T12:00:00Z, salt=" SALT
                                  ", signature=" SIGNATURE,
                                  DATE_MS, &out, why, sizeof(why)),
                     CASH_SIGNATURE_DOES_NOT_MATCH);
    /* a mismatch is never remembered, so it cannot block the real request */
    assert_int_equal(fake.remember_calls, 0);
}

static void test_duplicate_and_bad_secret(void **state)
{
    (void)state;
    struct api_key out;
    char why[200] = "";
    fake.remember_result = CASH_DUPLICATED_SIGNATURE;
    memset(&out, 0x11, sizeof(out));
    assert_int_equal(authenticate(good_header, DATE_MS, &out, why, sizeof(why)),
                     CASH_DUPLICATED_SIGNATURE);
    assert_int_equal((unsigned char)out.api_key[0], 0x11);
    fake.remember_result = CASH_OK;
    /* a secret sealed under another data key cannot be opened: a fault of the server */
    fake.key.sealed_secret[0] = fake.key.sealed_secret[0] == 'f' ? 'e' : 'f';
    assert_int_equal(authenticate(good_header, DATE_MS, &out, why, sizeof(why)),
                     CASH_INTERNAL_ERROR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_success_remembers_signature, reset),
        cmocka_unit_test_setup(test_replay_left_to_caller, reset),
        cmocka_unit_test_setup(test_new_secret_is_used_at_once, reset),
        cmocka_unit_test_setup(test_upper_case_and_md5, reset),
        cmocka_unit_test_setup(test_missing_and_unparseable, reset),
        cmocka_unit_test_setup(test_skew, reset),
        cmocka_unit_test_setup(test_keys, reset),
        cmocka_unit_test_setup(test_signature_mismatch, reset),
        cmocka_unit_test_setup(test_duplicate_and_bad_secret, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
