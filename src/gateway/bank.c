/*
 * bank.c - the two requests of the bank gateway protocol (bank.h, docs/bank-gateway.md). The
 * request body carries the full account number: it is never logged, and the caller wipes it.
 */
#include "gateway/bank.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "gateway/gateway.h"

#define BANK_HEADER_BYTES_MAX 160
#define BANK_URL_BYTES_MAX    1200

static size_t bank_reply_keep(char *data, size_t size, size_t count, void *context)
{
    struct bank_reply *reply = context;
    size_t length = size * count;
    if (length > GATEWAY_REPLY_BYTES_MAX - reply->body_length) {
        return 0; /* too long: the transfer fails with CURLE_WRITE_ERROR */
    }
    memcpy(reply->body + reply->body_length, data, length);
    reply->body_length += length;
    reply->body[reply->body_length] = '\0';
    return length;
}

/* The signed headers (a list to curl_slist_free_all); NULL if they cannot be made. */
static struct curl_slist *bank_headers(const struct bank_gateway *gateway, const char *transfer_id,
                                       const char *signed_text, size_t signed_length,
                                       int64_t now_seconds)
{
    char timestamp[GATEWAY_TIMESTAMP_DIGITS_MAX + 1];
    char signature[GATEWAY_SIGNATURE_HEX_LENGTH + 1];
    char line[BANK_HEADER_BYTES_MAX];
    snprintf(timestamp, sizeof(timestamp), "%" PRId64, now_seconds);
    if (!gateway_signature(gateway->secret, timestamp, signed_text, signed_length, signature,
                           sizeof(signature))) {
        return NULL;
    }
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    const char *names[3] = {"Idempotency-Key", "X-Cashd-Timestamp", "X-Cashd-Signature"};
    const char *values[3] = {transfer_id, timestamp, signature};
    for (size_t i = 0; i < 3 && headers != NULL; i++) {
        snprintf(line, sizeof(line), "%s: %s", names[i], values[i]);
        struct curl_slist *more = curl_slist_append(headers, line);
        if (more == NULL) {
            curl_slist_free_all(headers);
            return NULL;
        }
        headers = more;
    }
    return headers;
}

static CURLcode bank_options(CURL *curl, const struct bank_gateway *gateway, const char *url,
                             struct curl_slist *headers, struct bank_reply *reply, char *error_text)
{
    CURLcode code = curl_easy_setopt(curl, CURLOPT_URL, url);
    code = code ? code : curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    code = code ? code : curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    code = code ? code : curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_text);
    code = code ? code : curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    code = code ? code : curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)gateway->timeout_ms);
    code = code ? code : curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    code = code ? code : curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, bank_reply_keep);
    code = code ? code : curl_easy_setopt(curl, CURLOPT_WRITEDATA, reply);
    return code;
}

/* One request: body NULL for the GET. */
static bool bank_request(const struct bank_gateway *gateway, const char *url,
                         const char *transfer_id, const char *body, size_t body_length,
                         int64_t now_seconds, struct bank_reply *reply)
{
    char error_text[CURL_ERROR_SIZE] = "";
    bool answered = false;
    memset(reply, 0, sizeof(*reply));
    CURL *curl = curl_easy_init();
    const char *signed_text = body != NULL ? body : transfer_id;
    size_t signed_length = body != NULL ? body_length : strlen(transfer_id);
    struct curl_slist *headers =
        bank_headers(gateway, transfer_id, signed_text, signed_length, now_seconds);
    if (curl == NULL || headers == NULL) {
        snprintf(reply->why, sizeof(reply->why), "cannot prepare the request to the bank gateway");
        goto out_free;
    }
    CURLcode code = bank_options(curl, gateway, url, headers, reply, error_text);
    if (code == CURLE_OK && body != NULL) {
        code = curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        code = code ? code : curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)body_length);
    }
    if (code == CURLE_OK) {
        code = curl_easy_perform(curl);
    }
    if (code != CURLE_OK) {
        snprintf(reply->why, sizeof(reply->why), "the bank gateway did not answer: %.100s",
                 error_text[0] != '\0' ? error_text : curl_easy_strerror(code));
        goto out_free;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply->http_status);
    answered = true;
out_free:
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    if (!answered) {
        reply->http_status = 0;
    }
    return answered;
}

/* POST /transfers (bank.h). */
bool bank_transfer_send(const struct bank_gateway *gateway, const char *transfer_id,
                        const char *body, size_t body_length, int64_t now_seconds,
                        struct bank_reply *reply)
{
    char url[BANK_URL_BYTES_MAX];
    int written = snprintf(url, sizeof(url), "%s/transfers", gateway->base_url);
    if (written < 0 || (size_t)written >= sizeof(url)) {
        memset(reply, 0, sizeof(*reply));
        snprintf(reply->why, sizeof(reply->why), "the bank gateway URL is too long");
        return false;
    }
    return bank_request(gateway, url, transfer_id, body, body_length, now_seconds, reply);
}

/* GET /transfers/{id} (bank.h). */
bool bank_transfer_query(const struct bank_gateway *gateway, const char *transfer_id,
                         int64_t now_seconds, struct bank_reply *reply)
{
    char url[BANK_URL_BYTES_MAX];
    int written = snprintf(url, sizeof(url), "%s/transfers/%s", gateway->base_url, transfer_id);
    if (written < 0 || (size_t)written >= sizeof(url)) {
        memset(reply, 0, sizeof(*reply));
        snprintf(reply->why, sizeof(reply->why), "the bank gateway URL is too long");
        return false;
    }
    return bank_request(gateway, url, transfer_id, NULL, 0, now_seconds, reply);
}
