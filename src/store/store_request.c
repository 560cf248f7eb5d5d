/*
 * store_request.c - the backend-neutral half of a write request's replay row and idempotency key
 * (store_request.h).
 */
#include "store/store_request.h"

#include <stdlib.h>
#include <string.h>

#include "common/limits.h"

void store_request_clear(struct store_request *request)
{
    if (request == NULL) {
        return;
    }
    free(request->answer.body);
    request->answer.body = NULL;
    request->answer.status = 0;
    request->replayed = false;
    request->replay_recorded = false;
}

bool store_request_valid(const struct store_request *request)
{
    if (request == NULL) {
        return true;
    }
    if (request->api_key == NULL || strlen(request->api_key) > AUTH_API_KEY_LENGTH) {
        return false;
    }
    if (request->signature_hex != NULL &&
        (strlen(request->signature_hex) > AUTH_SIGNATURE_HEX_MAX ||
         request->replay_expires_ms <= request->now_ms)) {
        return false;
    }
    if (request->idempotency_key == NULL) {
        return true;
    }
    size_t key_length = strlen(request->idempotency_key);
    return key_length >= 1 && key_length <= IDEMPOTENCY_KEY_BYTES_MAX &&
           request->fingerprint != NULL &&
           strlen(request->fingerprint) == IDEMPOTENCY_FINGERPRINT_HEX_LENGTH &&
           request->render != NULL && request->idempotency_expires_ms > request->now_ms;
}

cash_result store_request_kept(struct store_request *request, const struct store_kept_key *kept)
{
    if (strcmp(kept->fingerprint, request->fingerprint) != 0) {
        return CASH_IDEMPOTENCY_KEY_REUSED;
    }
    if (kept->answer_status < 100 || kept->answer_status > 599) {
        return CASH_INTERNAL_ERROR;
    }
    request->answer.body = strdup(kept->sealed_answer);
    if (request->answer.body == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    request->answer.status = (unsigned)kept->answer_status;
    request->replayed = true;
    return CASH_OK;
}

cash_result store_request_render(struct store_request *request, cash_result result, const void *row)
{
    store_request_clear(request);
    if (!request->render(request, result, row, &request->answer) || request->answer.body == NULL ||
        request->answer.status < 100 || request->answer.status > 599) {
        store_request_clear(request);
        return CASH_INTERNAL_ERROR;
    }
    return CASH_OK;
}

void store_request_settle(struct store_request *request, cash_result run_result)
{
    if (run_result != CASH_OK) {
        store_request_clear(request);
        return;
    }
    request->replay_recorded = request->signature_hex != NULL;
}
