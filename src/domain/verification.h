/*
 * verification.h - the rules of the second factor (SPEC 5), pure: a verification is confirmed
 * within the window after its creation, allows VERIFICATION_ATTEMPTS_MAX wrong codes then locks,
 * and once confirmed authorises at most uses_max cash-writing requests within the window.
 */
#ifndef CASH_VERIFICATION_H
#define CASH_VERIFICATION_H

#include <stdbool.h>
#include <stdint.h>

#include "common/result.h"
#include "domain/types.h"

/* The status a client sees: PENDING past the window is EXPIRED; so is CONFIRMED past its window
 * after confirmation or with every use spent. */
enum verification_status verification_effective_status(const struct verification *v, int64_t now_ms,
                                                       int64_t window_ms, int64_t uses_max);

/* May a code be tried now? CASH_OK, CASH_VERIFICATION_EXPIRED, CASH_TOO_MANY_ATTEMPTS (locked) or
 * CASH_INVALID_STATUS (already confirmed, or failed). */
cash_result verification_check_attempt(const struct verification *v, int64_t now_ms,
                                       int64_t window_ms);

/* May it authorise one more cash-writing request of member_id now? */
bool verification_usable(const struct verification *v, const char *member_id, int64_t now_ms,
                         int64_t window_ms, int64_t uses_max);

/* Wrong codes still allowed. */
int64_t verification_attempts_left(const struct verification *v);

/* Digits of the code a method asks for: the arsCode has ARS_CODE_DIGITS, the others
 * VERIFICATION_CODE_DIGITS. */
unsigned verification_code_digits(enum verification_method method);

/* True for the methods confirmed with POST .../confirm (EMAIL_OTP, TOTP); an ARS verification
 * is confirmed by the phone gateway's callback. */
bool verification_confirmed_by_code(enum verification_method method);

/* Wire and database names of the call statuses: "" for CALL_NONE, then REQUESTED, ANSWERED,
 * WRONG_DIGITS, NO_ANSWER, FAILED. parse refuses anything else. */
const char *verification_call_status_name(enum verification_call_status value);
bool verification_call_status_parse(const char *text, enum verification_call_status *out);

/*
 * ARS (docs/ars-gateway.md): applies the phone gateway's report to a verification. reported is
 * CALL_ANSWERED (digits_correct: the digits typed were the arsCode), CALL_NO_ANSWER or
 * CALL_FAILED. CASH_NOT_FOUND for another method, CASH_INVALID_STATUS unless PENDING (or for
 * another report), CASH_VERIFICATION_EXPIRED past window_ms after creation. On CASH_OK *after is v
 * with the report applied: CONFIRMED at now_ms for the right digits, else FAILED (a wrong answer
 * also counts an attempt).
 */
cash_result verification_call_apply(const struct verification *v,
                                    enum verification_call_status reported, bool digits_correct,
                                    int64_t now_ms, int64_t window_ms, struct verification *after);

#endif
