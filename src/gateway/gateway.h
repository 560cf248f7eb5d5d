/*
 * gateway.h - the side services cashd reaches over the network for the second factor (SPEC 5):
 * an SMTP server for email codes (mail.h) and the ARS phone gateway (ars.h), both through libcurl,
 * and the number of deliveries that may be waited for at once.
 *
 * Why a limit: a request that sends a code waits for its own delivery (bounded by the mail and
 * ARS timeouts) on the HTTP worker thread that serves it, and libmicrohttpd serves every
 * connection of a worker on that one thread. Deliveries may therefore hold at most all workers
 * but one: the last one keeps accepting and answering everything else, and a delivery that finds
 * no free place is refused at once (503 ServiceUnavailable, Retry-After) instead of queueing.
 */
#ifndef CASH_GATEWAY_H
#define CASH_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gateway;

/*
 * A new gateway allowing deliveries_max deliveries at once (at least 1). Initialises libcurl
 * once per process (call it before starting threads). NULL if out of memory or libcurl fails.
 * Released with gateway_free.
 */
struct gateway *gateway_new(int64_t deliveries_max);
void gateway_free(struct gateway *gateway);

/* Takes a place for one delivery: false when all are taken (the caller answers 503). */
bool gateway_delivery_begin(struct gateway *gateway);
/* Gives the place back; once per successful gateway_delivery_begin. */
void gateway_delivery_end(struct gateway *gateway);

/* How many deliveries an HTTP server of `threads` workers may wait for: threads - 1, at least 1. */
int64_t gateway_deliveries_for_threads(int64_t threads);

/*
 * docs/ars-gateway.md: the signature of a gateway message - lower-case hex of
 * HMAC-SHA256(secret, timestamp + "." + body), timestamp the decimal Unix seconds exactly as sent
 * in X-Cashd-Timestamp. out_hex needs GATEWAY_SIGNATURE_HEX_LENGTH + 1 bytes. False if out of
 * memory or the library fails.
 */
bool gateway_signature(const char *secret, const char *timestamp, const char *body,
                       size_t body_length, char *out_hex, size_t out_size);

#endif
