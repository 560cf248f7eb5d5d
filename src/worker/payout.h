/*
 * payout.h - the payout worker (SPEC 4; docs/bank-gateway.md): a thread inside cashd, started
 * when CASHD_BANK_URL is set, that claims CONFIRMED withdrawals one at a time (store.h: several
 * workers in several processes never hold one at once), sends each to the bank gateway with its
 * withdrawId as the idempotency key, and records COMPLETED or FAILED (with the refund). A claim
 * taken over from a worker that died is first looked up at the gateway, never sent blindly.
 */
#ifndef CASH_WORKER_PAYOUT_H
#define CASH_WORKER_PAYOUT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"
#include "common/crypto.h"
#include "store/store.h"

struct payout;

/*
 * Starts the worker thread on config->bank_url. config, store and keyring are borrowed and must
 * outlive payout_stop. NULL with a reason in why if it cannot start.
 */
struct payout *payout_start(const struct config *config, struct store *store,
                            const struct keyring *keyring, char *why, size_t why_size);

/*
 * Stops the worker (it finishes the gateway request in flight, then leaves its claim to be
 * taken over once the lease runs out) and frees it. NULL is allowed.
 */
void payout_stop(struct payout *payout);

#endif
