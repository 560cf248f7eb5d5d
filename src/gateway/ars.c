/*
 * ars.c - the call request to the phone gateway (ars.h). The body carries the arsCode: it is
 * never logged, and the buffers that held it are wiped by the caller.
 */
#include "gateway/ars.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "common/limits.h"
#include "gateway/gateway.h"

#define ARS_HEADER_BYTES_MAX 128

/* The gateway's answer is not needed: it is read (so the connection ends cleanly) and dropped,
 * up to GATEWAY_REPLY_BYTES_MAX. */
static size_t ars_reply_drop(char *data, size_t size, size_t count, void *context)
{
    size_t *received = context;
    (void)data;
    *received += size * count;
    return *received > GATEWAY_REPLY_BYTES_MAX ? 0 : size * count;
}

/* The three headers of a signed request (a list to curl_slist_free_all); NULL if the signature
 * cannot be made or out of memory. */
static struct curl_slist *ars_headers(const struct config *config, const char *body,
                                      size_t body_length, int64_t now_seconds)
{
    char timestamp[GATEWAY_TIMESTAMP_DIGITS_MAX + 1];
    char signature[GATEWAY_SIGNATURE_HEX_LENGTH + 1];
    char line[ARS_HEADER_BYTES_MAX];
    struct curl_slist *headers = NULL;
    snprintf(timestamp, sizeof(timestamp), "%" PRId64, now_seconds);
    if (!gateway_signature(config->ars_secret, timestamp, body, body_length, signature,
                           sizeof(signature))) {
        return NULL;
    }
    headers = curl_slist_append(headers, "Content-Type: application/json");
    snprintf(line, sizeof(line), "X-Cashd-Timestamp: %s", timestamp);
    struct curl_slist *more = headers == NULL ? NULL : curl_slist_append(headers, line);
    snprintf(line, sizeof(line), "X-Cashd-Signature: %s", signature);
    struct curl_slist *last = more == NULL ? NULL : curl_slist_append(more, line);
    if (last == NULL) {
        curl_slist_free_all(headers);
        return NULL;
    }
    return last;
}

static CURLcode ars_options(CURL *curl, const struct config *config, struct curl_slist *headers,
                            const char *body, size_t body_length, size_t *received,
                            char *error_text)
{
    long timeout_ms = (long)config->ars_timeout_seconds * 1000L;
    CURLcode code = curl_easy_setopt(curl, CURLOPT_URL, config->ars_url);
    code = code ? code : curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    code = code ? code : curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    code = code ? code : curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_text);
    code = code ? code : curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    code = code ? code : curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    code = code ? code : curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    code = code ? code : curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    code = code ? code : curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)body_length);
    code = code ? code : curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, ars_reply_drop);
    code = code ? code : curl_easy_setopt(curl, CURLOPT_WRITEDATA, received);
    return code;
}

bool ars_call_request(const struct config *config, const char *body, size_t body_length,
                      int64_t now_seconds, char *why, size_t why_size)
{
    char error_text[CURL_ERROR_SIZE] = "";
    size_t received = 0;
    long status = 0;
    bool taken = false;
    CURL *curl = curl_easy_init();
    struct curl_slist *headers = ars_headers(config, body, body_length, now_seconds);
    if (curl == NULL || headers == NULL) {
        snprintf(why, why_size, "cannot prepare the request to the phone gateway");
        goto out_free;
    }
    CURLcode code = ars_options(curl, config, headers, body, body_length, &received, error_text);
    if (code == CURLE_OK) {
        code = curl_easy_perform(curl);
    }
    if (code != CURLE_OK) {
        snprintf(why, why_size, "the phone gateway cannot be reached: %.160s",
                 error_text[0] != '\0' ? error_text : curl_easy_strerror(code));
        goto out_free;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
        snprintf(why, why_size, "the phone gateway refused the call (HTTP %ld)", status);
        goto out_free;
    }
    taken = true;
out_free:
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return taken;
}
