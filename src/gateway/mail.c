/*
 * mail.c - handing a verification email to an SMTP server with libcurl (mail.h). The message
 * holds a code: nothing here logs it, and curl's error text (which names the server's reply, not
 * the data sent) is all that reaches why.
 */
#include "gateway/mail.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "common/limits.h"

#define MAIL_ENVELOPE_BYTES_MAX     (EMAIL_BYTES_MAX + 3)
#define MAIL_CONNECT_TIMEOUT_MS_MAX 5000L

/* The message, read by libcurl piece by piece. */
struct mail_reader {
    const char *data;
    size_t length;
    size_t offset;
};

static size_t mail_read(char *buffer, size_t size, size_t count, void *context)
{
    struct mail_reader *reader = context;
    size_t room = size * count;
    size_t left = reader->length - reader->offset;
    size_t taken = left < room ? left : room;
    memcpy(buffer, reader->data + reader->offset, taken);
    reader->offset += taken;
    return taken;
}

/* True when url's host is the loopback interface: credentials never leave the machine there. */
static bool mail_host_is_loopback(const char *url)
{
    CURLU *parsed = curl_url();
    char *host = NULL;
    bool loopback = false;
    if (parsed == NULL) {
        return false;
    }
    if (curl_url_set(parsed, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(parsed, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        loopback = strncmp(host, "127.", 4) == 0 || strcmp(host, "[::1]") == 0 ||
                   strcasecmp(host, "localhost") == 0;
    }
    curl_free(host);
    curl_url_cleanup(parsed);
    return loopback;
}

/* TLS: implicit for smtps://; for smtp://, STARTTLS when offered, required before AUTH unless
 * the server is on loopback. */
static long mail_tls_policy(const struct config *config)
{
    if (strncmp(config->mail, "smtps://", 8) == 0) {
        return (long)CURLUSESSL_ALL;
    }
    if (config->mail_user[0] != '\0' && !mail_host_is_loopback(config->mail)) {
        return (long)CURLUSESSL_ALL;
    }
    return (long)CURLUSESSL_TRY;
}

static CURLcode mail_options(CURL *curl, const struct config *config, const char *from,
                             struct curl_slist *recipients, struct mail_reader *reader,
                             char *error_text)
{
    long timeout_ms = (long)config->mail_timeout_seconds * 1000L;
    CURLcode code = curl_easy_setopt(curl, CURLOPT_URL, config->mail);
    code = code ? code : curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    code = code ? code : curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_text);
    code = code ? code : curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    code = code ? code : curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    /* The wait for the reply to the end of the message is not under CURLOPT_TIMEOUT_MS. */
    code = code ? code
                : curl_easy_setopt(curl, CURLOPT_SERVER_RESPONSE_TIMEOUT,
                                   (long)config->mail_timeout_seconds);
    code = code ? code
                : curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                                   timeout_ms < MAIL_CONNECT_TIMEOUT_MS_MAX
                                       ? timeout_ms
                                       : MAIL_CONNECT_TIMEOUT_MS_MAX);
    code = code ? code : curl_easy_setopt(curl, CURLOPT_USE_SSL, mail_tls_policy(config));
    code = code ? code : curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from);
    code = code ? code : curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, recipients);
    code = code ? code : curl_easy_setopt(curl, CURLOPT_READFUNCTION, mail_read);
    code = code ? code : curl_easy_setopt(curl, CURLOPT_READDATA, reader);
    code = code ? code : curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    if (code == CURLE_OK && config->mail_user[0] != '\0') {
        code = curl_easy_setopt(curl, CURLOPT_USERNAME, config->mail_user);
        code = code ? code : curl_easy_setopt(curl, CURLOPT_PASSWORD, config->mail_password);
    }
    if (code == CURLE_OK && config->mail_ca_file[0] != '\0') {
        code = curl_easy_setopt(curl, CURLOPT_CAINFO, config->mail_ca_file);
    }
    return code;
}

/* One line: what curl says, and the server's last reply code when there was one. */
static void mail_failure(CURL *curl, CURLcode code, const char *error_text, char *why,
                         size_t why_size)
{
    long reply = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply);
    const char *detail = error_text[0] != '\0' ? error_text : curl_easy_strerror(code);
    if (reply > 0) {
        snprintf(why, why_size, "%.160s (SMTP reply %ld)", detail, reply);
    } else {
        snprintf(why, why_size, "%.160s", detail);
    }
}

bool mail_send(const struct config *config, const char *from, const char *to, const char *message,
               size_t length, char *why, size_t why_size)
{
    char envelope_from[MAIL_ENVELOPE_BYTES_MAX];
    char envelope_to[MAIL_ENVELOPE_BYTES_MAX];
    char error_text[CURL_ERROR_SIZE] = "";
    struct mail_reader reader = {.data = message, .length = length, .offset = 0};
    bool sent = false;
    snprintf(envelope_from, sizeof(envelope_from), "<%s>", from);
    snprintf(envelope_to, sizeof(envelope_to), "<%s>", to);
    CURL *curl = curl_easy_init();
    struct curl_slist *recipients = curl_slist_append(NULL, envelope_to);
    if (curl == NULL || recipients == NULL) {
        snprintf(why, why_size, "out of memory");
        goto out_free;
    }
    CURLcode code = mail_options(curl, config, envelope_from, recipients, &reader, error_text);
    if (code == CURLE_OK) {
        code = curl_easy_perform(curl);
    }
    if (code != CURLE_OK) {
        mail_failure(curl, code, error_text, why, why_size);
        goto out_free;
    }
    sent = true;
out_free:
    curl_slist_free_all(recipients);
    curl_easy_cleanup(curl);
    return sent;
}
