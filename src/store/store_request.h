/*
 * store_request.h - what every backend does the same with a struct store_request (store.h): the
 * checks, the decision on a kept key, the answer's rendering and the outs after the transaction.
 * Each backend only runs the statements: the replay row's INSERT, the kept key's SELECT, its
 * DELETE once expired, its INSERT ... ON CONFLICT DO NOTHING, and the prune of expired keys.
 */
#ifndef CASH_STORE_REQUEST_H
#define CASH_STORE_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/* Does the write-function call with request (may be NULL) carry sane values? */
bool store_request_valid(const struct store_request *request);

/* A key kept by an earlier request, as a backend read it. */
struct store_kept_key {
    const char *fingerprint;
    int64_t answer_status;
    const char *sealed_answer; /* borrowed from the backend's row */
    int64_t expires_ms;
};

/*
 * The decision on a kept key that is still live (kept->expires_ms > now_ms): the same fingerprint
 * replays (CASH_OK, request->replayed, request->answer copied), another is
 * CASH_IDEMPOTENCY_KEY_REUSED. CASH_INTERNAL_ERROR when the copy fails.
 */
cash_result store_request_kept(struct store_request *request, const struct store_kept_key *kept);

/* Renders the answer to keep (request->answer) for result and row; CASH_INTERNAL_ERROR if the
 * renderer could not. */
cash_result store_request_render(struct store_request *request, cash_result result,
                                 const void *row);

/* After the run: run_result CASH_OK means it committed (replay row and key kept), anything else
 * that nothing of it did, so no answer is left. */
void store_request_settle(struct store_request *request, cash_result run_result);

#endif
