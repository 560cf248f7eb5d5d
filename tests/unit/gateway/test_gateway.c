/*
 * test_gateway.c - the side-service layer without a network: the signature of gateway messages
 * (docs/ars-gateway.md, checked against Python's hmac), the limit on deliveries waited for at
 * once, and the verification email's MIME text (gateway/mail.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/crypto.h"
#include "common/limits.h"
#include "gateway/gateway.h"
#include "gateway/mail.h"

#define NOW_MS 1795521600123LL /* 2026-11-24T12:00:00.123Z, a Tuesday */
#define ID     "17955216000001234567890123456789"

static void test_signature(void **state)
{
    (void)state;
    char hex[GATEWAY_SIGNATURE_HEX_LENGTH + 1];
    const char body[] = "{\"verificationId\":\"1\"}";
    assert_true(
        gateway_signature("gateway-secret", "1700000000", body, strlen(body), hex, sizeof(hex)));
    assert_string_equal(hex, "27e5aa73db2e6816ebe90576dd541b28a29bd8def16bdfd4216bc1f353e4336d");
    assert_true(gateway_signature("gateway-secret", "1700000000", "", 0, hex, sizeof(hex)));
    assert_string_equal(hex, "4985acf709e0ae2e42c1ae64f48798579f734c3cb5bd7f10803448702a7ec1b2");
    assert_false(gateway_signature("gateway-secret", "1700000000", body, strlen(body), hex, 64));
    assert_false(
        gateway_signature("gateway-secret", "1234567890123", body, strlen(body), hex, sizeof(hex)));
}

static void test_delivery_places(void **state)
{
    (void)state;
    assert_int_equal(gateway_deliveries_for_threads(1), 1);
    assert_int_equal(gateway_deliveries_for_threads(2), 1);
    assert_int_equal(gateway_deliveries_for_threads(8), 7);
    struct gateway *gateway = gateway_new(2);
    assert_non_null(gateway);
    assert_true(gateway_delivery_begin(gateway));
    assert_true(gateway_delivery_begin(gateway));
    assert_false(gateway_delivery_begin(gateway));
    gateway_delivery_end(gateway);
    assert_true(gateway_delivery_begin(gateway));
    gateway_delivery_end(gateway);
    gateway_delivery_end(gateway);
    gateway_delivery_end(gateway); /* one too many: no place is made up */
    assert_true(gateway_delivery_begin(gateway));
    assert_true(gateway_delivery_begin(gateway));
    assert_false(gateway_delivery_begin(gateway));
    gateway_free(gateway);
    gateway = gateway_new(0);
    assert_true(gateway_delivery_begin(gateway)); /* at least one */
    assert_false(gateway_delivery_begin(gateway));
    gateway_free(gateway);
}

static struct mail_code mail_of(const char *from, const char *to, int64_t window_seconds)
{
    struct mail_code mail = {
        .from = from,
        .to = to,
        .code = "042917",
        .verification_id = ID,
        .window_seconds = window_seconds,
        .now_ms = NOW_MS,
    };
    return mail;
}

/* The decoded body of a composed message. */
static void body_of(const char *message, char *out, size_t out_size)
{
    char joined[MAIL_MESSAGE_BYTES_MAX] = "";
    const char *body = strstr(message, "\r\n\r\n");
    assert_non_null(body);
    for (const char *line = body + 4; *line != '\0';) {
        const char *end = strstr(line, "\r\n");
        assert_non_null(end); /* every line ends with CRLF */
        assert_true(end - line <= 76);
        strncat(joined, line, (size_t)(end - line));
        line = end + 2;
    }
    size_t length = base64_decode(joined, strlen(joined), (unsigned char *)out, out_size - 1);
    assert_true(length > 0);
    out[length] = '\0';
}

static void test_compose(void **state)
{
    (void)state;
    char message[MAIL_MESSAGE_BYTES_MAX];
    char body[MAIL_MESSAGE_BYTES_MAX];
    char why[256] = "";
    size_t length = 0;
    struct mail_code mail = mail_of("otp@cashd.test", "member@example.com", 300);
    assert_true(mail_compose(&mail, message, sizeof(message), &length, why, sizeof(why)));
    assert_int_equal(length, strlen(message));
    const char *expected_head =
        "Date: Tue, 24 Nov 2026 12:00:00 +0000\r\n"
        "From: cashd <otp@cashd.test>\r\n"
        "To: <member@example.com>\r\n"
        "Subject: =?UTF-8?B?W2Nhc2hkXSDsnbjspp0g7L2U65OcIC8gVmVyaWZpY2F0aW9uIGNvZGU=?=\r\n"
        "Message-ID: <" ID ".";
    assert_memory_equal(message, expected_head, strlen(expected_head));
    assert_non_null(strstr(message, "@cashd.test>\r\nMIME-Version: 1.0\r\n"
                                    "Content-Type: text/plain; charset=UTF-8\r\n"
                                    "Content-Transfer-Encoding: base64\r\n\r\n"));
    body_of(message, body, sizeof(body));
    assert_non_null(strstr(body, "cashd 인증 코드: 042917\r\n"));
    assert_non_null(strstr(body, "이 코드는 5분 동안 유효합니다."));
    assert_non_null(strstr(body, "Your cashd verification code: 042917\r\n"));
    assert_non_null(strstr(body, "It is valid for 5 minutes."));
    /* A window of seconds is said in seconds; one minute in the singular. */
    mail = mail_of("otp@cashd.test", "member@example.com", 90);
    assert_true(mail_compose(&mail, message, sizeof(message), &length, why, sizeof(why)));
    body_of(message, body, sizeof(body));
    assert_non_null(strstr(body, "90초"));
    assert_non_null(strstr(body, "valid for 90 seconds."));
    mail = mail_of("otp@cashd.test", "member@example.com", 60);
    assert_true(mail_compose(&mail, message, sizeof(message), &length, why, sizeof(why)));
    body_of(message, body, sizeof(body));
    assert_non_null(strstr(body, "valid for 1 minute."));
}

static void test_compose_refusals(void **state)
{
    (void)state;
    char message[MAIL_MESSAGE_BYTES_MAX];
    char why[256] = "";
    size_t length = 0;
    static const char *const bad[] = {
        "otp@cashd.test\r\nBcc: x@evil.test",
        "not an address",
        "<otp@cashd.test>",
        "@cashd.test",
        "otp@",
        "a@b@c",
        "otp@cashd.test;x",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct mail_code mail = mail_of(bad[i], "member@example.com", 300);
        assert_false(mail_compose(&mail, message, sizeof(message), &length, why, sizeof(why)));
        assert_non_null(strstr(why, "sender"));
        mail = mail_of("otp@cashd.test", bad[i], 300);
        assert_false(mail_compose(&mail, message, sizeof(message), &length, why, sizeof(why)));
        assert_non_null(strstr(why, "member"));
    }
    struct mail_code mail = mail_of("otp@cashd.test", "member@example.com", 300);
    assert_false(mail_compose(&mail, message, 200, &length, why, sizeof(why)));
    assert_false(mail_compose(&mail, message, 600, &length, why, sizeof(why)));
    assert_true(mail_address_valid("a.b+c@example.co.kr"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_delivery_places),
        cmocka_unit_test(test_compose),
        cmocka_unit_test(test_compose_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
