/*
 * gateway.c - libcurl's process-wide set-up, the limit on deliveries waited for at once, and the
 * signature of gateway messages (gateway.h).
 */
#include "gateway/gateway.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "common/crypto.h"
#include "common/limits.h"
#include "common/log.h"

struct gateway {
    pthread_mutex_t lock;
    int64_t deliveries_max;
    int64_t deliveries_running; /* under lock */
};

static pthread_once_t gateway_curl_once = PTHREAD_ONCE_INIT;
static CURLcode gateway_curl_status = CURLE_FAILED_INIT;

/* curl_global_init is not safe to race: once, and before the HTTP threads start. The process
 * keeps libcurl's global state until it exits. */
static void gateway_curl_init(void)
{
    gateway_curl_status = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct gateway *gateway_new(int64_t deliveries_max)
{
    pthread_once(&gateway_curl_once, gateway_curl_init);
    if (gateway_curl_status != CURLE_OK) {
        log_error("gateway: libcurl cannot start: %s", curl_easy_strerror(gateway_curl_status));
        return NULL;
    }
    struct gateway *gateway = calloc(1, sizeof(*gateway));
    if (gateway == NULL) {
        return NULL;
    }
    if (pthread_mutex_init(&gateway->lock, NULL) != 0) {
        free(gateway);
        return NULL;
    }
    gateway->deliveries_max = deliveries_max < 1 ? 1 : deliveries_max;
    return gateway;
}

void gateway_free(struct gateway *gateway)
{
    if (gateway == NULL) {
        return;
    }
    pthread_mutex_destroy(&gateway->lock);
    free(gateway);
}

bool gateway_delivery_begin(struct gateway *gateway)
{
    bool taken = false;
    pthread_mutex_lock(&gateway->lock);
    if (gateway->deliveries_running < gateway->deliveries_max) {
        gateway->deliveries_running++;
        taken = true;
    }
    pthread_mutex_unlock(&gateway->lock);
    return taken;
}

void gateway_delivery_end(struct gateway *gateway)
{
    pthread_mutex_lock(&gateway->lock);
    if (gateway->deliveries_running > 0) {
        gateway->deliveries_running--;
    }
    pthread_mutex_unlock(&gateway->lock);
}

int64_t gateway_deliveries_for_threads(int64_t threads)
{
    return threads > 2 ? threads - 1 : 1;
}

bool gateway_signature(const char *secret, const char *timestamp, const char *body,
                       size_t body_length, char *out_hex, size_t out_size)
{
    size_t timestamp_length = strlen(timestamp);
    if (out_size < GATEWAY_SIGNATURE_HEX_LENGTH + 1 || body_length > HTTP_BODY_BYTES_MAX ||
        timestamp_length > GATEWAY_TIMESTAMP_DIGITS_MAX) {
        return false;
    }
    size_t message_length = timestamp_length + 1 + body_length;
    char *message = malloc(message_length + 1);
    if (message == NULL) {
        return false;
    }
    memcpy(message, timestamp, timestamp_length);
    message[timestamp_length] = '.';
    memcpy(message + timestamp_length + 1, body, body_length);
    bool ok = crypto_hmac_hex(HMAC_METHOD_SHA256, secret, strlen(secret), message, message_length,
                              out_hex, out_size);
    /* The body may hold an arsCode. */
    OPENSSL_cleanse(message, message_length);
    free(message);
    return ok;
}
