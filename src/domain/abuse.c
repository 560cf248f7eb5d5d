#include "domain/abuse.h"

#include <assert.h>

/* SPEC 5: a lock lasts until its end, exclusive. */
bool member_guard_locked(const struct member_guard *guard, int64_t now_ms)
{
    return guard->locked_until_ms > now_ms;
}

/* SPEC 5: failures_max consecutive wrong codes lock the member for lock_ms. */
bool member_guard_fail(struct member_guard *guard, int64_t now_ms, int64_t failures_max,
                       int64_t lock_ms)
{
    assert(failures_max >= 1 && lock_ms >= 0);
    guard->failures += 1;
    if (guard->failures < failures_max) {
        return false;
    }
    guard->failures = 0;
    guard->locked_until_ms = now_ms + lock_ms;
    return true;
}

void member_guard_succeed(struct member_guard *guard)
{
    guard->failures = 0;
}

/* RFC 9110 Retry-After is whole seconds: round up, so that a client waiting that long is let in. */
int64_t abuse_retry_after_seconds(int64_t until_ms, int64_t now_ms)
{
    int64_t wait_ms = until_ms - now_ms;
    if (wait_ms <= 1000) {
        return 1;
    }
    return (wait_ms + 999) / 1000;
}

/* SPEC 5: a payout account swapped through the API waits cooling_off_ms before money leaves. */
bool bank_cooling_off_active(const struct bank_account *bank, int64_t cooling_off_ms,
                             int64_t now_ms, int64_t *until_ms_out)
{
    if (cooling_off_ms <= 0 || bank->operator_verified) {
        return false;
    }
    int64_t until_ms = bank->updated_ms + cooling_off_ms;
    if (now_ms >= until_ms) {
        return false;
    }
    *until_ms_out = until_ms;
    return true;
}
