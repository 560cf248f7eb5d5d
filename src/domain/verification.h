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
enum verification_status verification_effective_status(const struct verification *v,
                                                        int64_t now_ms, int64_t window_ms,
                                                        int64_t uses_max);

/* May a code be tried now? CASH_OK, CASH_VERIFICATION_EXPIRED, CASH_TOO_MANY_ATTEMPTS (locked) or
 * CASH_INVALID_STATUS (already confirmed, or failed). */
cash_result verification_check_attempt(const struct verification *v, int64_t now_ms,
                                       int64_t window_ms);

/* May it authorise one more cash-writing request of member_id now? */
bool verification_usable(const struct verification *v, const char *member_id, int64_t now_ms,
                         int64_t window_ms, int64_t uses_max);

/* Wrong codes still allowed. */
int64_t verification_attempts_left(const struct verification *v);

#endif
