/*
 * abuse.h - the pure rules that make the second factor hard to abuse (SPEC 5; docs/API.md
 * "Abuse limits"): a member locked out after too many consecutive wrong codes, how long a client
 * is told to wait (Retry-After), and the cooling-off after a bank account changes. The store
 * applies them inside its transactions, so that they hold across processes.
 */
#ifndef CASH_ABUSE_H
#define CASH_ABUSE_H

#include <stdbool.h>
#include <stdint.h>

#include "domain/types.h"

/* A member's consecutive wrong codes (of any verification) and the lock they led to. */
struct member_guard {
    int64_t failures;        /* consecutive wrong codes since the last right one or lock */
    int64_t locked_until_ms; /* 0, or the end of the lock */
};

/* True while the member is locked out: no verification may be created or confirmed. */
bool member_guard_locked(const struct member_guard *guard, int64_t now_ms);

/*
 * One more wrong code. At failures_max consecutive ones the member is locked for lock_ms and the
 * count starts again from 0. Returns true if this failure locked the member.
 */
bool member_guard_fail(struct member_guard *guard, int64_t now_ms, int64_t failures_max,
                       int64_t lock_ms);

/* A right code: the count of consecutive failures starts again (a running lock stays). */
void member_guard_succeed(struct member_guard *guard);

/* Whole seconds from now_ms until until_ms, rounded up and at least 1: a Retry-After value. */
int64_t abuse_retry_after_seconds(int64_t until_ms, int64_t now_ms);

/*
 * The cooling-off after a bank account change: true when a withdrawal at now_ms must wait, with
 * *until_ms_out the first moment it may go. Never for an account the operator set
 * (operator_verified) or with cooling_off_ms 0.
 */
bool bank_cooling_off_active(const struct bank_account *bank, int64_t cooling_off_ms,
                             int64_t now_ms, int64_t *until_ms_out);

#endif
