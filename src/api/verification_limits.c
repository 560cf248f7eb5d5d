/*
 * verification_limits.c - the abuse limits of the second factor as the handlers hand them to the
 * store (SPEC 5; docs/API.md "Abuse limits"), and the Retry-After of their refusals.
 */
#include "api/api_internal.h"

#include <stdio.h>

#include "domain/abuse.h"

void api_verification_limits(const struct api *api, struct verification_limits *out)
{
    const struct config *config = api->config;
    out->member_count_max = config->verification_member_limit;
    out->member_window_ms = config->verification_member_window_seconds * 1000;
    out->account_count_max = config->verification_account_limit;
    out->account_window_ms = config->verification_account_window_seconds * 1000;
    out->failures_max = config->member_failures_max;
    out->lock_ms = config->member_lock_seconds * 1000;
    out->retry_after_ms = 0;
}

/* Every 429 tells when to come back (RFC 6585, RFC 9110 Retry-After in seconds). */
void api_error_retry(const struct api_call *call, struct http_response *response,
                     cash_result result, const char *why, const struct verification_limits *limits)
{
    api_error(response, result, why);
    if (result != CASH_TOO_MANY_REQUESTS && result != CASH_TOO_MANY_ATTEMPTS) {
        return;
    }
    int64_t wait_ms = limits != NULL ? limits->retry_after_ms : 0;
    snprintf(response->retry_after, sizeof(response->retry_after), "%lld",
             (long long)abuse_retry_after_seconds(call->now_ms + wait_ms, call->now_ms));
}
