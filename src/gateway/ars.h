/*
 * ars.h - asking the ARS phone gateway to call a member (SPEC 5; the protocol is
 * docs/ars-gateway.md): one signed HTTP POST with libcurl.
 */
#ifndef CASH_ARS_H
#define CASH_ARS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

/*
 * POSTs body (a JSON object, body_length bytes) to config->ars_url with Content-Type
 * application/json, X-Cashd-Timestamp (now_seconds) and X-Cashd-Signature (gateway.h) under
 * config->ars_secret, within config->ars_timeout_seconds, following no redirect. True when the
 * gateway answered 2xx (it took the call); false with a one-line reason in why otherwise.
 */
bool ars_call_request(const struct config *config, const char *body, size_t body_length,
                      int64_t now_seconds, char *why, size_t why_size);

#endif
