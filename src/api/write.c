/*
 * write.c - what a request commits with its effect (store.h: struct store_request): the
 * signature's replay row (SPEC 1) and the Idempotency-Key (docs/API.md). A write handler hands
 * api_write_request() to its store write, so both go into the effect's transaction; whatever
 * did not commit with an effect, api_write_finish() remembers on its own before the answer leaves.
 *
 * Keys in flight: a key this process is still working on answers 409 at once (a small registry);
 * one another process is working on is settled by the database (store.h).
 */
#include "api/api_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/log.h"

struct api_key_in_flight {
    bool used;
    char api_key[AUTH_API_KEY_LENGTH + 1];
    char idempotency_key[IDEMPOTENCY_KEY_BYTES_MAX + 1];
};

struct api_keys_in_flight {
    pthread_mutex_t mutex;
    struct api_key_in_flight entries[IDEMPOTENCY_IN_FLIGHT_MAX];
};

struct api_keys_in_flight *api_keys_in_flight_new(void)
{
    struct api_keys_in_flight *keys = calloc(1, sizeof(*keys));
    if (keys != NULL && pthread_mutex_init(&keys->mutex, NULL) != 0) {
        free(keys);
        keys = NULL;
    }
    return keys;
}

void api_keys_in_flight_free(struct api_keys_in_flight *keys)
{
    if (keys != NULL) {
        pthread_mutex_destroy(&keys->mutex);
    }
    free(keys);
}

/* Takes (api_key, key) for this request: CASH_IDEMPOTENCY_KEY_IN_USE if another holds it,
 * CASH_SERVICE_UNAVAILABLE if the registry is full. */
static cash_result api_key_take(struct api_keys_in_flight *keys, const char *api_key,
                                const char *idempotency_key, size_t *slot_out)
{
    cash_result result = CASH_SERVICE_UNAVAILABLE;
    pthread_mutex_lock(&keys->mutex);
    size_t free_slot = IDEMPOTENCY_IN_FLIGHT_MAX;
    for (size_t i = 0; i < IDEMPOTENCY_IN_FLIGHT_MAX; i++) {
        const struct api_key_in_flight *entry = &keys->entries[i];
        if (!entry->used) {
            free_slot = free_slot < i ? free_slot : i;
        } else if (strcmp(entry->api_key, api_key) == 0 &&
                   strcmp(entry->idempotency_key, idempotency_key) == 0) {
            result = CASH_IDEMPOTENCY_KEY_IN_USE;
            goto out_unlock;
        }
    }
    if (free_slot < IDEMPOTENCY_IN_FLIGHT_MAX) {
        struct api_key_in_flight *entry = &keys->entries[free_slot];
        entry->used = true;
        snprintf(entry->api_key, sizeof(entry->api_key), "%s", api_key);
        snprintf(entry->idempotency_key, sizeof(entry->idempotency_key), "%s", idempotency_key);
        *slot_out = free_slot;
        result = CASH_OK;
    }
out_unlock:
    pthread_mutex_unlock(&keys->mutex);
    return result;
}

static void api_key_release(struct api_keys_in_flight *keys, size_t slot)
{
    pthread_mutex_lock(&keys->mutex);
    keys->entries[slot].used = false;
    pthread_mutex_unlock(&keys->mutex);
}

void api_write_start(struct api_write *write, const struct api_key *key,
                     const struct auth_replay *replay, int64_t now_ms)
{
    memset(write, 0, sizeof(*write));
    memcpy(write->signature_hex, replay->signature_hex, sizeof(write->signature_hex));
    write->store.api_key = key->api_key;
    write->store.signature_hex = write->signature_hex;
    write->store.replay_expires_ms = replay->expires_ms;
    write->store.now_ms = now_ms;
    write->started = true;
}

bool api_idempotency_key_valid(const char *text)
{
    size_t length = strnlen(text, IDEMPOTENCY_KEY_BYTES_MAX + 1);
    if (length < 1 || length > IDEMPOTENCY_KEY_BYTES_MAX) {
        return false;
    }
    for (size_t i = 0; i < length; i++) {
        if (text[i] < 0x21 || text[i] > 0x7e) {
            return false;
        }
    }
    return true;
}

/* SHA-256 of the method, the path and the body as canonical JSON (keys sorted, compact), so
 * that the same request sent again with other spacing or key order is the same request. */
static cash_result api_fingerprint(const struct http_request *request, json_t *body,
                                   char out_hex[IDEMPOTENCY_FINGERPRINT_HEX_LENGTH + 1])
{
    char *canonical = body != NULL ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (body != NULL && canonical == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    const char *body_text = canonical != NULL ? canonical : "";
    size_t size = strlen(request->method) + strlen(request->path) + strlen(body_text) + 3;
    char *text = malloc(size);
    bool ok = false;
    if (text != NULL) {
        int length = snprintf(text, size, "%s\n%s\n%s", request->method, request->path, body_text);
        ok = length > 0 && crypto_sha256_hex(text, (size_t)length, out_hex);
    }
    free(text);
    free(canonical);
    return ok ? CASH_OK : CASH_INTERNAL_ERROR;
}

cash_result api_write_key(struct api_write *write, const struct api *api,
                          const struct http_request *request, json_t *body, char *why,
                          size_t why_size)
{
    const char *key = request->idempotency_key;
    if (key == NULL) {
        return CASH_OK;
    }
    if (!api_idempotency_key_valid(key)) {
        snprintf(why, why_size,
                 "Idempotency-Key must be 1 to %d visible ASCII characters (no spaces)",
                 IDEMPOTENCY_KEY_BYTES_MAX);
        return CASH_VALIDATION_ERROR;
    }
    cash_result result = api_fingerprint(request, body, write->fingerprint);
    if (result == CASH_OK) {
        result = api_key_take(api->keys_in_flight, write->store.api_key, key, &write->slot);
    }
    if (result == CASH_IDEMPOTENCY_KEY_IN_USE) {
        snprintf(why, why_size, "a request with this Idempotency-Key is still in progress");
    }
    if (result != CASH_OK) {
        return result;
    }
    write->holds_slot = true;
    write->store.idempotency_key = key;
    write->store.fingerprint = write->fingerprint;
    write->store.idempotency_expires_ms =
        write->store.now_ms + (int64_t)IDEMPOTENCY_KEEP_SECONDS * 1000;
    return CASH_OK;
}

/* store_request.render: the handler's answer, sealed under the data key to be kept. */
static bool api_write_render(struct store_request *request, cash_result result, const void *row,
                             struct store_answer *answer)
{
    struct api_write *write = request->render_context;
    struct http_response response;
    memset(&response, 0, sizeof(response));
    write->answer(write->call, write->answer_context, result, row, &response);
    if (response.body == NULL) {
        return false;
    }
    answer->status = response.status;
    answer->body = crypto_seal_text(write->call->api->keyring, response.body, response.body_length);
    free(response.body);
    return answer->body != NULL;
}

struct store_request *api_write_request(const struct api_call *call, api_answer answer,
                                        void *context)
{
    struct api_write *write = call->write;
    if (write == NULL || !write->started) {
        return NULL;
    }
    write->call = call;
    write->answer = answer;
    write->answer_context = context;
    write->store.render = api_write_render;
    write->store.render_context = write;
    return &write->store;
}

void api_write_forget(const struct api_call *call)
{
    const struct api_write *write = call->write;
    if (write == NULL || write->store.idempotency_key == NULL) {
        return;
    }
    if (store_idempotency_forget(call->api->store, write->store.api_key,
                                 write->store.idempotency_key) != CASH_OK) {
        log_error("an Idempotency-Key of a failed delivery could not be forgotten");
    }
}

bool api_write_replayed(const struct api_call *call)
{
    return call->write != NULL && call->write->store.replayed;
}

/* The kept answer, opened, instead of whatever the handler wrote. */
static void api_write_replay(const struct api *api, struct api_write *write,
                             struct http_response *response)
{
    char *body = crypto_open_text(api->keyring, write->store.answer.body);
    free(response->body);
    memset(response, 0, sizeof(*response));
    if (body == NULL) {
        log_error("a kept answer cannot be opened with data key %s", api->keyring->key_id);
        api_error(response, CASH_INTERNAL_ERROR, NULL);
        return;
    }
    response->status = write->store.answer.status;
    response->body = body;
    response->body_length = strlen(body);
    response->idempotent_replayed = true;
}

void api_write_finish(const struct api *api, struct api_write *write,
                      struct http_response *response)
{
    if (!write->started) {
        return;
    }
    if (write->store.replayed) {
        api_write_replay(api, write, response);
    }
    if (!write->store.replay_recorded) {
        cash_result result =
            store_replay_remember(api->store, write->store.api_key, write->store.signature_hex,
                                  write->store.now_ms, write->store.replay_expires_ms);
        if (result != CASH_OK) {
            /* Nothing of the request committed: answer why it did not count. */
            free(response->body);
            memset(response, 0, sizeof(*response));
            api_error(response, result, NULL);
        }
    }
    if (write->holds_slot) {
        api_key_release(api->keys_in_flight, write->slot);
    }
    store_request_clear(&write->store);
}
