/*
 * names.h - the wire names of every enum (SPEC 1, 4, 5), both ways. *_name() returns static text;
 * *_parse() returns false for text that is not exactly one of the names.
 */
#ifndef CASH_NAMES_H
#define CASH_NAMES_H

#include <stdbool.h>

#include "domain/types.h"

const char *account_status_name(enum account_status value);
bool account_status_parse(const char *text, enum account_status *out);

const char *account_verified_name(enum account_verified value); /* none, personal, business */
bool account_verified_parse(const char *text, enum account_verified *out);

const char *member_role_name(enum member_role value); /* OWNER, DEVELOPER, MEMBER */
bool member_role_parse(const char *text, enum member_role *out);

const char *member_status_name(enum member_status value);
bool member_status_parse(const char *text, enum member_status *out);

const char *withdraw_status_name(enum withdraw_status value);
bool withdraw_status_parse(const char *text, enum withdraw_status *out);

const char *history_type_name(enum history_type value); /* RECHARGE, WITHDRAW, WITHDRAW_REFUND */
bool history_type_parse(const char *text, enum history_type *out);

const char *verification_method_name(enum verification_method value); /* EMAIL_OTP, ARS, TOTP */
bool verification_method_parse(const char *text, enum verification_method *out);

const char *verification_status_name(enum verification_status value);

/* "cash:read,cash:write" <-> SCOPE_* bits; parse refuses unknown or empty scopes. */
bool scopes_parse(const char *text, unsigned *out);
void scopes_format(unsigned scopes, char *out, unsigned long out_size);

#endif
