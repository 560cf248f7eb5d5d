/*
 * mail_message.c - the MIME text of a verification email (mail.h): pure, no I/O.
 */
#include "gateway/mail.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "common/crypto.h"
#include "common/limits.h"

#define MAIL_SUBJECT           "[cashd] 인증 코드 / Verification code"
#define MAIL_ENCODED_WORD_MAX  75 /* RFC 2047 section 2 */
#define MAIL_BASE64_LINE_CHARS 76 /* RFC 2045 section 6.8 */
#define MAIL_BODY_BYTES_MAX    2048
#define MAIL_HEADER_BYTES_MAX  2048
#define MAIL_DATE_BYTES_MAX    40
#define MAIL_ID_RANDOM_CHARS   16

/* One line each way: what the member reads first is Korean, then English (SPEC 5). */
static const char mail_body_format[] =
    "cashd 인증 코드: %s\r\n"
    "이 코드는 %s 동안 유효합니다. 요청하지 않았다면 이 메일을 무시하고 비밀번호를 바꾸세요.\r\n"
    "\r\n"
    "Your cashd verification code: %s\r\n"
    "It is valid for %s. If you did not ask for it, ignore this email and change your "
    "password.\r\n";

bool mail_address_valid(const char *address)
{
    size_t length = strlen(address);
    if (length < 3 || length > EMAIL_BYTES_MAX) {
        return false;
    }
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)address[i];
        if (c <= ' ' || c >= 0x7f || strchr("\"(),:;<>[\\]", c) != NULL) {
            return false;
        }
    }
    const char *at = strchr(address, '@');
    return at != NULL && at != address && at[1] != '\0' && strchr(at + 1, '@') == NULL;
}

/* RFC 5322 section 3.3 in UTC, with English names whatever the locale. */
static void mail_date(int64_t now_ms, char out[MAIL_DATE_BYTES_MAX])
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t seconds = (time_t)(now_ms / 1000);
    struct tm utc;
    if (gmtime_r(&seconds, &utc) == NULL || utc.tm_wday < 0 || utc.tm_wday > 6 || utc.tm_mon < 0 ||
        utc.tm_mon > 11) {
        snprintf(out, MAIL_DATE_BYTES_MAX, "Thu, 01 Jan 1970 00:00:00 +0000");
        return;
    }
    snprintf(out, MAIL_DATE_BYTES_MAX, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[utc.tm_wday],
             utc.tm_mday, months[utc.tm_mon], utc.tm_year + 1900, utc.tm_hour, utc.tm_min,
             utc.tm_sec);
}

/* "5분" / "5 minutes", or seconds when the window is not whole minutes. */
static void mail_window_text(int64_t seconds, char *korean, char *english, size_t size)
{
    if (seconds % 60 == 0) {
        long long minutes = (long long)(seconds / 60);
        snprintf(korean, size, "%lld분", minutes);
        snprintf(english, size, "%lld minute%s", minutes, minutes == 1 ? "" : "s");
        return;
    }
    snprintf(korean, size, "%lld초", (long long)seconds);
    snprintf(english, size, "%lld second%s", (long long)seconds, seconds == 1 ? "" : "s");
}

/* The subject as one RFC 2047 encoded-word: =?UTF-8?B?...?= */
static bool mail_subject_word(char *out, size_t out_size)
{
    char encoded[MAIL_ENCODED_WORD_MAX];
    size_t length = base64_encode((const unsigned char *)MAIL_SUBJECT, strlen(MAIL_SUBJECT),
                                  encoded, sizeof(encoded));
    if (length == 0) {
        return false;
    }
    int written = snprintf(out, out_size, "=?UTF-8?B?%s?=", encoded);
    return written > 0 && written <= MAIL_ENCODED_WORD_MAX && (size_t)written < out_size;
}

/* The body in base64, cut into lines of MAIL_BASE64_LINE_CHARS with CRLF; 0 if it does not fit. */
static size_t mail_body_base64(const char *body, char *out, size_t out_size)
{
    char encoded[MAIL_BODY_BYTES_MAX * 2];
    size_t length =
        base64_encode((const unsigned char *)body, strlen(body), encoded, sizeof(encoded));
    size_t written = 0;
    for (size_t start = 0; length > 0 && start < length; start += MAIL_BASE64_LINE_CHARS) {
        size_t line =
            length - start < MAIL_BASE64_LINE_CHARS ? length - start : MAIL_BASE64_LINE_CHARS;
        if (written + line + 3 > out_size) {
            written = 0;
            break;
        }
        memcpy(out + written, encoded + start, line);
        memcpy(out + written + line, "\r\n", 2);
        written += line + 2;
    }
    OPENSSL_cleanse(encoded, sizeof(encoded));
    if (written > 0) {
        out[written] = '\0';
    }
    return written;
}

/* The header block, ending with the blank line; false if it does not fit. */
static bool mail_headers(const struct mail_code *mail, char *out, size_t out_size, char *why,
                         size_t why_size)
{
    char date[MAIL_DATE_BYTES_MAX];
    char subject[MAIL_ENCODED_WORD_MAX + 1];
    char random[MAIL_ID_RANDOM_CHARS + 1];
    const char *domain = strchr(mail->from, '@') + 1;
    if (!mail_subject_word(subject, sizeof(subject)) ||
        !crypto_random_text("abcdefghijklmnopqrstuvwxyz0123456789", MAIL_ID_RANDOM_CHARS, random)) {
        snprintf(why, why_size, "cannot compose the message");
        return false;
    }
    mail_date(mail->now_ms, date);
    int written =
        snprintf(out, out_size,
                 "Date: %s\r\n"
                 "From: cashd <%s>\r\n"
                 "To: <%s>\r\n"
                 "Subject: %s\r\n"
                 "Message-ID: <%s.%s@%s>\r\n"
                 "MIME-Version: 1.0\r\n"
                 "Content-Type: text/plain; charset=UTF-8\r\n"
                 "Content-Transfer-Encoding: base64\r\n"
                 "\r\n",
                 date, mail->from, mail->to, subject, mail->verification_id, random, domain);
    if (written < 0 || (size_t)written >= out_size) {
        snprintf(why, why_size, "the message headers are too long");
        return false;
    }
    return true;
}

/* RFC 5322 + RFC 2045..2047: see mail.h. */
bool mail_compose(const struct mail_code *mail, char *out, size_t out_size, size_t *length_out,
                  char *why, size_t why_size)
{
    char body[MAIL_BODY_BYTES_MAX];
    char korean[32];
    char english[32];
    bool ok = false;
    if (!mail_address_valid(mail->from) || !mail_address_valid(mail->to)) {
        snprintf(why, why_size, "the %s address cannot be used in a message",
                 mail_address_valid(mail->from) ? "member's" : "sender's");
        return false;
    }
    if (!mail_headers(mail, out, out_size, why, why_size)) {
        return false;
    }
    mail_window_text(mail->window_seconds, korean, english, sizeof(korean));
    int written =
        snprintf(body, sizeof(body), mail_body_format, mail->code, korean, mail->code, english);
    size_t used = strlen(out);
    if (written > 0 && (size_t)written < sizeof(body) &&
        mail_body_base64(body, out + used, out_size - used) > 0) {
        *length_out = strlen(out);
        ok = true;
    } else {
        snprintf(why, why_size, "the message is too long");
    }
    OPENSSL_cleanse(body, sizeof(body));
    return ok;
}
