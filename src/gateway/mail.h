/*
 * mail.h - the verification email (SPEC 5): composing it as a MIME message and handing it to an
 * SMTP server with libcurl.
 */
#ifndef CASH_MAIL_H
#define CASH_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

/* What one verification email says. Borrowed text. */
struct mail_code {
    const char *from;            /* the sender's address, bare: "cashd@example.com" */
    const char *to;              /* the member's address, bare */
    const char *code;            /* the 6-digit code */
    const char *verification_id; /* becomes part of the Message-ID */
    int64_t window_seconds;      /* how long the code may be used */
    int64_t now_ms;              /* the Date */
};

/*
 * Writes the whole message - headers (Date, From, To, Subject as an RFC 2047 encoded-word,
 * Message-ID, MIME-Version, Content-Type text/plain; charset=UTF-8, Content-Transfer-Encoding
 * base64), a blank line and the Korean and English body in base64 - with CRLF line ends into out,
 * NUL-terminated; *length_out is its length. False (why says so) for an address with characters
 * a header cannot carry, or a message longer than out_size - 1. The message holds the code: the
 * caller wipes out.
 */
bool mail_compose(const struct mail_code *mail, char *out, size_t out_size, size_t *length_out,
                  char *why, size_t why_size);

/* True for an address a header and an SMTP envelope can carry as it is: printable ASCII without
 * spaces, quotes, brackets, commas or semicolons, one '@' with text on both sides. */
bool mail_address_valid(const char *address);

/*
 * Sends message (length bytes, CRLF lines) from `from` to `to` through config->mail
 * (smtp://HOST:PORT or smtps://HOST:PORT) within config->mail_timeout_seconds. smtp:// uses
 * STARTTLS when the server offers it and, with AUTH credentials (config->mail_user,
 * mail_password) to a host other than loopback, requires it. False with a one-line reason in why
 * (the server's reply code, never the message) when the server did not take the message.
 */
bool mail_send(const struct config *config, const char *from, const char *to, const char *message,
               size_t length, char *why, size_t why_size);

#endif
