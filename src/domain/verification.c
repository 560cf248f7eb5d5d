#include "domain/verification.h"

#include <string.h>

#include "common/limits.h"

static bool verification_pending_expired(const struct verification *v, int64_t now_ms,
                                         int64_t window_ms)
{
    return now_ms - v->created_ms > window_ms;
}

static bool verification_confirmed_spent(const struct verification *v, int64_t now_ms,
                                         int64_t window_ms, int64_t uses_max)
{
    return now_ms - v->confirmed_ms > window_ms || v->uses >= uses_max;
}

/* SPEC 5: EXPIRED is what the clock makes of PENDING and CONFIRMED; it is never stored. */
enum verification_status verification_effective_status(const struct verification *v, int64_t now_ms,
                                                       int64_t window_ms, int64_t uses_max)
{
    if (v->status == VERIFICATION_PENDING && verification_pending_expired(v, now_ms, window_ms)) {
        return VERIFICATION_EXPIRED;
    }
    if (v->status == VERIFICATION_CONFIRMED &&
        verification_confirmed_spent(v, now_ms, window_ms, uses_max)) {
        return VERIFICATION_EXPIRED;
    }
    return v->status;
}

/* SPEC 5: a code may be tried while PENDING, within the window, before the attempts run out. */
cash_result verification_check_attempt(const struct verification *v, int64_t now_ms,
                                       int64_t window_ms)
{
    if (v->status == VERIFICATION_LOCKED) {
        return CASH_TOO_MANY_ATTEMPTS;
    }
    if (v->status != VERIFICATION_PENDING) {
        return CASH_INVALID_STATUS;
    }
    if (verification_pending_expired(v, now_ms, window_ms)) {
        return CASH_VERIFICATION_EXPIRED;
    }
    if (v->attempts >= VERIFICATION_ATTEMPTS_MAX) {
        return CASH_TOO_MANY_ATTEMPTS;
    }
    return CASH_OK;
}

/* SPEC 5: confirmed, of this member, within the window after confirmation, uses left. */
bool verification_usable(const struct verification *v, const char *member_id, int64_t now_ms,
                         int64_t window_ms, int64_t uses_max)
{
    if (v->status != VERIFICATION_CONFIRMED || v->confirmed_ms <= 0 || member_id == NULL) {
        return false;
    }
    if (strncmp(v->member_id, member_id, sizeof(v->member_id)) != 0) {
        return false;
    }
    return !verification_confirmed_spent(v, now_ms, window_ms, uses_max);
}

/* VERIFICATION_ATTEMPTS_MAX minus the wrong codes so far, never below 0. */
int64_t verification_attempts_left(const struct verification *v)
{
    int64_t left = VERIFICATION_ATTEMPTS_MAX - v->attempts;
    return left > 0 ? left : 0;
}

unsigned verification_code_digits(enum verification_method method)
{
    return method == VERIFICATION_ARS ? ARS_CODE_DIGITS : VERIFICATION_CODE_DIGITS;
}

bool verification_confirmed_by_code(enum verification_method method)
{
    return method == VERIFICATION_EMAIL_OTP || method == VERIFICATION_TOTP;
}

static const char *const verification_call_status_names[] = {
    [CALL_NONE] = "",
    [CALL_REQUESTED] = "REQUESTED",
    [CALL_ANSWERED] = "ANSWERED",
    [CALL_WRONG_DIGITS] = "WRONG_DIGITS",
    [CALL_NO_ANSWER] = "NO_ANSWER",
    [CALL_FAILED] = "FAILED",
};

_Static_assert(sizeof(verification_call_status_names) / sizeof(verification_call_status_names[0]) ==
                   VERIFICATION_CALL_STATUS_COUNT,
               "every call status has a name");

const char *verification_call_status_name(enum verification_call_status value)
{
    if ((unsigned)value >= VERIFICATION_CALL_STATUS_COUNT) {
        return "";
    }
    return verification_call_status_names[value];
}

bool verification_call_status_parse(const char *text, enum verification_call_status *out)
{
    for (unsigned i = 0; i < VERIFICATION_CALL_STATUS_COUNT; i++) {
        if (strcmp(text, verification_call_status_names[i]) == 0) {
            *out = (enum verification_call_status)i;
            return true;
        }
    }
    return false;
}

/* docs/ars-gateway.md: one call is one attempt; only the right digits confirm. */
cash_result verification_call_apply(const struct verification *v,
                                    enum verification_call_status reported, bool digits_correct,
                                    int64_t now_ms, int64_t window_ms, struct verification *after)
{
    if (v->method != VERIFICATION_ARS) {
        return CASH_NOT_FOUND;
    }
    if (reported != CALL_ANSWERED && reported != CALL_NO_ANSWER && reported != CALL_FAILED) {
        return CASH_INVALID_STATUS;
    }
    if (v->status != VERIFICATION_PENDING) {
        return CASH_INVALID_STATUS;
    }
    if (verification_pending_expired(v, now_ms, window_ms)) {
        return CASH_VERIFICATION_EXPIRED;
    }
    *after = *v;
    if (reported == CALL_ANSWERED && digits_correct) {
        after->status = VERIFICATION_CONFIRMED;
        after->confirmed_ms = now_ms;
        after->call_status = CALL_ANSWERED;
        return CASH_OK;
    }
    after->status = VERIFICATION_FAILED;
    after->call_status = reported == CALL_ANSWERED ? CALL_WRONG_DIGITS : reported;
    if (reported == CALL_ANSWERED) {
        after->attempts += 1;
    }
    return CASH_OK;
}
