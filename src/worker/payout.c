/*
 * payout.c - the payout worker (payout.h). One thread; each withdrawal it claims goes through:
 *
 *   ask first?  --yes-->  GET /transfers/{id}: COMPLETED | FAILED -> settle; NOT_FOUND -> send;
 *       |                                      anything else -> wait (backoff), ask again
 *       no
 *       v
 *   POST /transfers: COMPLETED | FAILED -> settle; anything else (timeout, 5xx, 202, a lost
 *                    answer) -> wait (backoff), then ask first
 *
 * so that once a transfer may have reached the gateway, it is only ever looked up or sent again
 * under the same idempotency key: the gateway never pays twice. The claim is renewed before each
 * request; a worker that lost its claim stops working on that withdrawal.
 */
#include "worker/payout.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "common/ids.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "gateway/bank.h"

#define PAYOUT_BACKOFF_MS_MIN   200
#define PAYOUT_BACKOFF_MS_MAX   5000
#define PAYOUT_BODY_BYTES_MAX   1024
#define PAYOUT_NUMBER_BYTES_MAX 64
#define PAYOUT_SECRET_BYTES_MIN 16

struct payout {
    const struct config *config;
    struct store *store;
    const struct keyring *keyring;
    struct bank_gateway gateway;
    char owner[PAYOUT_OWNER_BYTES_MAX + 1];
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    bool stopping; /* guarded by mutex */
};

enum bank_answer_kind { ANSWER_COMPLETED, ANSWER_FAILED, ANSWER_NOT_FOUND, ANSWER_RETRY };

struct bank_answer {
    enum bank_answer_kind kind;
    char transaction_id[64 + 1];
    int64_t transaction_ms;
    char failure_code[PAYOUT_FAILURE_CODE_BYTES_MAX + 1];
};

/* Waits up to wait_ms unless stopping; true if the worker is stopping. */
static bool payout_wait(struct payout *payout, int64_t wait_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(wait_ms / 1000);
    until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec += 1;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&payout->mutex);
    while (!payout->stopping) {
        if (pthread_cond_timedwait(&payout->cond, &payout->mutex, &until) != 0) {
            break; /* timed out */
        }
    }
    bool stopping = payout->stopping;
    pthread_mutex_unlock(&payout->mutex);
    return stopping;
}

static bool failure_code_valid(const char *code)
{
    size_t length = strnlen(code, PAYOUT_FAILURE_CODE_BYTES_MAX + 1);
    if (length == 0 || length > PAYOUT_FAILURE_CODE_BYTES_MAX) {
        return false;
    }
    for (size_t i = 0; i < length; i++) {
        if (!((code[i] >= 'A' && code[i] <= 'Z') || (code[i] >= '0' && code[i] <= '9') ||
              code[i] == '_')) {
            return false;
        }
    }
    return true;
}

/* Reads {"status": ..., "transactionId", "transactionDate" | "failureCode"}; RETRY if unusable. */
static void answer_parse_json(const struct bank_reply *reply, struct bank_answer *answer)
{
    answer->kind = ANSWER_RETRY;
    json_t *root = json_loadb(reply->body, reply->body_length, JSON_REJECT_DUPLICATES, NULL);
    const char *status = json_string_value(json_object_get(root, "status"));
    const char *transaction_id = json_string_value(json_object_get(root, "transactionId"));
    const char *date = json_string_value(json_object_get(root, "transactionDate"));
    const char *code = json_string_value(json_object_get(root, "failureCode"));
    if (status != NULL && strcmp(status, "COMPLETED") == 0 && transaction_id != NULL &&
        date != NULL && strlen(transaction_id) >= 1 && strlen(transaction_id) <= 64 &&
        iso8601_parse(date, strlen(date), &answer->transaction_ms) && answer->transaction_ms > 0) {
        snprintf(answer->transaction_id, sizeof(answer->transaction_id), "%s", transaction_id);
        answer->kind = ANSWER_COMPLETED;
    } else if (status != NULL && strcmp(status, "FAILED") == 0 && code != NULL &&
               failure_code_valid(code)) {
        snprintf(answer->failure_code, sizeof(answer->failure_code), "%s", code);
        answer->kind = ANSWER_FAILED;
    } else if (status != NULL && strcmp(status, "NOT_FOUND") == 0) {
        answer->kind = ANSWER_NOT_FOUND;
    }
    json_decref(root);
}

static void answer_parse(const struct bank_reply *reply, bool query, struct bank_answer *answer)
{
    memset(answer, 0, sizeof(*answer));
    answer->kind = ANSWER_RETRY;
    if (query && reply->http_status == 404) {
        answer->kind = ANSWER_NOT_FOUND;
        return;
    }
    if (reply->http_status == 200 || reply->http_status == 201) {
        answer_parse_json(reply, answer);
        if (answer->kind == ANSWER_NOT_FOUND && !query) {
            answer->kind = ANSWER_RETRY; /* a POST never answers "not found" */
        }
    }
}

/* The POST body with the account number unsealed; false if it cannot be built. */
static bool payout_body(const struct payout *payout, const struct withdrawal *w, char *body,
                        size_t body_size)
{
    char number[PAYOUT_NUMBER_BYTES_MAX];
    bool ok = false;
    if (!crypto_open(payout->keyring, w->sealed_number, number, sizeof(number))) {
        return false;
    }
    json_t *root =
        json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "transferId", w->withdraw_id, "bankCode",
                  w->bank_code, "accountNumber", number, "holderName", w->holder_name, "amount",
                  (json_int_t)w->amount_won, "currency", "KRW");
    if (root != NULL) {
        size_t needed = json_dumpb(root, body, body_size - 1, JSON_COMPACT);
        ok = needed > 0 && needed < body_size;
        body[ok ? needed : 0] = '\0';
    }
    json_decref(root);
    OPENSSL_cleanse(number, sizeof(number));
    return ok;
}

/* One request to the gateway: a query (ask_first) or the transfer itself. */
static void payout_ask(struct payout *payout, const struct withdrawal *w, bool ask_first,
                       struct bank_answer *answer)
{
    static _Thread_local struct bank_reply reply;
    char body[PAYOUT_BODY_BYTES_MAX];
    int64_t now_seconds = time_now_ms() / 1000;
    bool answered = false;
    memset(answer, 0, sizeof(*answer));
    answer->kind = ANSWER_RETRY;
    if (ask_first) {
        answered = bank_transfer_query(&payout->gateway, w->withdraw_id, now_seconds, &reply);
    } else if (payout_body(payout, w, body, sizeof(body))) {
        answered = bank_transfer_send(&payout->gateway, w->withdraw_id, body, strlen(body),
                                      now_seconds, &reply);
        OPENSSL_cleanse(body, sizeof(body));
    } else {
        log_error("payout: withdrawal %s: cannot build the transfer (account number)",
                  w->withdraw_id);
        return;
    }
    if (!answered) {
        log_warn("payout: withdrawal %s: %s", w->withdraw_id, reply.why);
        return;
    }
    answer_parse(&reply, ask_first, answer);
    if (answer->kind == ANSWER_RETRY) {
        log_warn("payout: withdrawal %s: the bank gateway answered HTTP %ld without an outcome",
                 w->withdraw_id, reply.http_status);
    }
}

/* Records a final answer; false if the claim was lost meanwhile. */
static bool payout_settle(struct payout *payout, const struct withdrawal *w,
                          const struct bank_answer *answer)
{
    char history_id[HISTORY_ID_LENGTH + 1];
    int64_t now_ms = time_now_ms();
    if (!id_sortable_new(now_ms, history_id)) {
        return false;
    }
    const struct withdraw_outcome outcome = {
        .withdraw_id = w->withdraw_id,
        .owner = payout->owner,
        .completed = answer->kind == ANSWER_COMPLETED,
        .transaction_id = answer->transaction_id,
        .transaction_ms = answer->transaction_ms,
        .failure_code = answer->failure_code,
        .history_id = history_id,
        .now_ms = now_ms,
    };
    struct withdrawal out;
    cash_result result = store_withdraw_settle(payout->store, &outcome, &out);
    if (result != CASH_OK) {
        log_error("payout: withdrawal %s: cannot record the outcome: %s", w->withdraw_id,
                  result_message(result));
        return false;
    }
    log_info("payout: withdrawal %s %s", w->withdraw_id,
             answer->kind == ANSWER_COMPLETED ? "COMPLETED" : "FAILED");
    return true;
}

/* Works on one claimed withdrawal until it is settled, the claim is lost, or the worker stops. */
static void payout_process(struct payout *payout, const struct withdrawal *w, bool ask_first)
{
    int64_t backoff_ms = PAYOUT_BACKOFF_MS_MIN;
    const int64_t lease_ms = payout->config->payout_lease_seconds * 1000;
    for (;;) {
        cash_result renewed = store_withdraw_claim_renew(payout->store, w->withdraw_id,
                                                         payout->owner, time_now_ms(), lease_ms);
        if (renewed == CASH_INVALID_STATUS) {
            log_warn("payout: withdrawal %s: the claim was lost", w->withdraw_id);
            return;
        }
        struct bank_answer answer;
        if (renewed == CASH_OK) {
            payout_ask(payout, w, ask_first, &answer);
        } else {
            answer.kind = ANSWER_RETRY; /* the database is busy: try again later */
        }
        if (answer.kind == ANSWER_COMPLETED || answer.kind == ANSWER_FAILED) {
            if (payout_settle(payout, w, &answer)) {
                return;
            }
            ask_first = true; /* not recorded: the gateway will tell again */
        } else if (answer.kind == ANSWER_NOT_FOUND) {
            ask_first = false; /* never reached the gateway: send it now */
            continue;
        } else {
            ask_first = true; /* it may have reached the gateway: only ask from now on */
        }
        if (payout_wait(payout, backoff_ms)) {
            return;
        }
        backoff_ms =
            backoff_ms * 2 > PAYOUT_BACKOFF_MS_MAX ? PAYOUT_BACKOFF_MS_MAX : backoff_ms * 2;
    }
}

static void *payout_main(void *pointer)
{
    struct payout *payout = pointer;
    log_info("payout worker %s started", payout->owner);
    for (;;) {
        struct withdraw_claim claim = {
            .owner = payout->owner,
            .now_ms = time_now_ms(),
            .lease_ms = payout->config->payout_lease_seconds * 1000,
        };
        struct withdrawal w;
        cash_result result = store_withdraw_claim(payout->store, &claim, &w);
        if (result == CASH_OK) {
            log_info("payout: claimed withdrawal %s%s", w.withdraw_id,
                     claim.was_in_flight ? " (in flight before: asking the gateway first)" : "");
            payout_process(payout, &w, claim.was_in_flight);
            continue;
        }
        if (payout_wait(payout, payout->config->payout_poll_ms)) {
            break;
        }
    }
    log_info("payout worker %s stopped", payout->owner);
    return NULL;
}

/* Starts the worker (payout.h). */
struct payout *payout_start(const struct config *config, struct store *store,
                            const struct keyring *keyring, char *why, size_t why_size)
{
    char suffix[9] = "";
    if (strncmp(config->bank_url, "http://", 7) != 0 &&
        strncmp(config->bank_url, "https://", 8) != 0) {
        snprintf(why, why_size, "CASHD_BANK_URL must be an http(s) URL (or empty: no payout)");
        return NULL;
    }
    if (strlen(config->bank_secret) < PAYOUT_SECRET_BYTES_MIN) {
        snprintf(why, why_size, "CASHD_BANK_SECRET must have at least %d bytes with a bank URL",
                 PAYOUT_SECRET_BYTES_MIN);
        return NULL;
    }
    struct payout *payout = calloc(1, sizeof(*payout));
    if (payout == NULL || !crypto_random_text("abcdefghijklmnopqrstuvwxyz0123456789", 8, suffix)) {
        snprintf(why, why_size, "cannot start the payout worker");
        free(payout);
        return NULL;
    }
    payout->config = config;
    payout->store = store;
    payout->keyring = keyring;
    payout->gateway = (struct bank_gateway){.base_url = config->bank_url,
                                            .secret = config->bank_secret,
                                            .timeout_ms = config->bank_timeout_seconds * 1000};
    snprintf(payout->owner, sizeof(payout->owner), "%ld-%s", (long)getpid(), suffix);
    pthread_mutex_init(&payout->mutex, NULL);
    pthread_cond_init(&payout->cond, NULL);
    if (pthread_create(&payout->thread, NULL, payout_main, payout) != 0) {
        snprintf(why, why_size, "cannot start the payout worker thread");
        pthread_cond_destroy(&payout->cond);
        pthread_mutex_destroy(&payout->mutex);
        free(payout);
        return NULL;
    }
    return payout;
}

/* Stops and frees the worker (payout.h). */
void payout_stop(struct payout *payout)
{
    if (payout == NULL) {
        return;
    }
    pthread_mutex_lock(&payout->mutex);
    payout->stopping = true;
    pthread_cond_broadcast(&payout->cond);
    pthread_mutex_unlock(&payout->mutex);
    pthread_join(payout->thread, NULL);
    pthread_cond_destroy(&payout->cond);
    pthread_mutex_destroy(&payout->mutex);
    free(payout);
}
