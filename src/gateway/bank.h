/*
 * bank.h - the bank gateway (a firm-banking relay) the payout worker calls (SPEC 4; the protocol
 * is docs/bank-gateway.md): a signed POST that asks for a transfer, with the withdrawId as its
 * idempotency key, and a signed GET that asks what became of one. HTTP only: the caller builds
 * and reads the JSON.
 */
#ifndef CASH_BANK_GATEWAY_H
#define CASH_BANK_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"

/* The gateway's answer. */
struct bank_reply {
    long http_status;                       /* 0 when no answer came (why says what happened) */
    char body[GATEWAY_REPLY_BYTES_MAX + 1]; /* NUL-terminated; an answer longer than this fails */
    size_t body_length;
    char why[160]; /* a one-line reason when no usable answer came */
};

/* Where and how to reach the gateway. */
struct bank_gateway {
    const char *base_url; /* CASHD_BANK_URL, without the trailing "/transfers" */
    const char *secret;   /* CASHD_BANK_SECRET */
    int64_t timeout_ms;
};

/*
 * POST {base_url}/transfers with the JSON body, headers Content-Type, Idempotency-Key
 * (transfer_id), X-Cashd-Timestamp and X-Cashd-Signature (gateway.h, over the body). True when an
 * HTTP answer came (any status; reply filled); false on a timeout, a refused connection or an
 * answer too long (reply->why).
 */
bool bank_transfer_send(const struct bank_gateway *gateway, const char *transfer_id,
                        const char *body, size_t body_length, int64_t now_seconds,
                        struct bank_reply *reply);

/*
 * GET {base_url}/transfers/{transfer_id}, signed over the transfer_id as the body. As
 * bank_transfer_send.
 */
bool bank_transfer_query(const struct bank_gateway *gateway, const char *transfer_id,
                         int64_t now_seconds, struct bank_reply *reply);

#endif
