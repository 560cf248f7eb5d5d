/*
 * wire.h - the JSON shapes of docs/API.md, built with jansson. cashd's handlers answer them and
 * cashctl --json prints them, so both show one withdrawal the same way; this layer knows no HTTP
 * server, so the operator CLI links it without one. Each function returns a new reference, or
 * NULL when out of memory.
 */
#ifndef CASH_WIRE_H
#define CASH_WIRE_H

#include <stdint.h>

#include <jansson.h>

#include "domain/types.h"

/* Sets key of object to value; returns 0, or -1 when value is NULL or out of memory. Like
 * json_object_set_new, which it calls, it steals the reference to value either way. */
int wire_json_put(json_t *object, const char *key, json_t *value);
/* ISO 8601 UTC with milliseconds; wire_json_date_or_null gives null for 0. */
json_t *wire_json_date(int64_t ms);
json_t *wire_json_date_or_null(int64_t ms);
/* A string, or null for "". */
json_t *wire_json_text_or_null(const char *text);
/* Money and counts are JSON integers (json_int_t is long long: every int64_t fits). */
json_t *wire_json_integer(int64_t value);

/* The 17 fields of a withdrawal in the seed's order (SPEC 1); NULL if out of memory. */
json_t *wire_withdrawal_json(const struct withdrawal *withdrawal);
/* One ledger entry (SPEC 2). */
json_t *wire_history_json(const struct history_entry *entry);
/* The registered bank account, its number masked. */
json_t *wire_bank_account_json(const struct bank_account *bank);
/* A verification as its owner sees it now (SPEC 5); an ARS one also has its callStatus. */
json_t *wire_verification_json(const struct verification *verification, int64_t now_ms,
                               int64_t window_ms, int64_t uses_max);

#endif
