#include "domain/names.h"

#include <stdio.h>
#include <string.h>

#include "common/limits.h"

#define COUNT_OF(array) (sizeof(array) / sizeof((array)[0]))

static const char *const account_status_names[] = {
    [ACCOUNT_ACTIVE] = "ACTIVE",
    [ACCOUNT_INACTIVE] = "INACTIVE",
    [ACCOUNT_DELETED] = "DELETED",
};

static const char *const account_verified_names[] = {
    [VERIFIED_NONE] = "none",
    [VERIFIED_PERSONAL] = "personal",
    [VERIFIED_BUSINESS] = "business",
};

static const char *const member_role_names[] = {
    [ROLE_OWNER] = "OWNER",
    [ROLE_DEVELOPER] = "DEVELOPER",
    [ROLE_MEMBER] = "MEMBER",
};

static const char *const member_status_names[] = {
    [MEMBER_UNVERIFIED] = "UNVERIFIED",
    [MEMBER_ACTIVE] = "ACTIVE",
    [MEMBER_INACTIVE] = "INACTIVE",
    [MEMBER_DELETED] = "DELETED",
};

static const char *const withdraw_status_names[] = {
    [WITHDRAW_PENDING] = "PENDING",     [WITHDRAW_CONFIRMED] = "CONFIRMED",
    [WITHDRAW_COMPLETED] = "COMPLETED", [WITHDRAW_FAILED] = "FAILED",
    [WITHDRAW_REJECTED] = "REJECTED",   [WITHDRAW_CANCELED] = "CANCELED",
};
_Static_assert(COUNT_OF(withdraw_status_names) == WITHDRAW_STATUS_COUNT, "a name per status");

static const char *const history_type_names[] = {
    [HISTORY_RECHARGE] = "RECHARGE",
    [HISTORY_WITHDRAW] = "WITHDRAW",
    [HISTORY_WITHDRAW_REFUND] = "WITHDRAW_REFUND",
};
_Static_assert(COUNT_OF(history_type_names) == HISTORY_TYPE_COUNT, "a name per type");

static const char *const verification_method_names[] = {
    [VERIFICATION_EMAIL_OTP] = "EMAIL_OTP",
    [VERIFICATION_ARS] = "ARS",
    [VERIFICATION_TOTP] = "TOTP",
};
_Static_assert(COUNT_OF(verification_method_names) == VERIFICATION_METHOD_COUNT,
               "a name per method");

static const char *const verification_status_names[] = {
    [VERIFICATION_PENDING] = "PENDING", [VERIFICATION_CONFIRMED] = "CONFIRMED",
    [VERIFICATION_LOCKED] = "LOCKED",   [VERIFICATION_FAILED] = "FAILED",
    [VERIFICATION_EXPIRED] = "EXPIRED",
};

/* SCOPE_* bit i is named scope_names[i]. */
static const char *const scope_names[] = {"cash:read", "cash:write"};
_Static_assert(SCOPE_CASH_READ == 1u << 0 && SCOPE_CASH_WRITE == 1u << 1, "scope bits in order");

/* The name at index value, or "UNKNOWN" for a value outside the table. */
static const char *name_of(const char *const *names, size_t count, unsigned value)
{
    if (value >= count || names[value] == NULL) {
        return "UNKNOWN";
    }
    return names[value];
}

/* The index of text in names, or -1. */
static int index_of(const char *const *names, size_t count, const char *text)
{
    if (text == NULL) {
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        if (names[i] != NULL && strcmp(names[i], text) == 0) {
            return (int)i;
        }
    }
    return -1;
}

#define NAMES_FUNCTIONS(prefix, type, table)                                                       \
    const char *prefix##_name(type value)                                                          \
    {                                                                                              \
        return name_of(table, COUNT_OF(table), (unsigned)value);                                   \
    }                                                                                              \
    bool prefix##_parse(const char *text, type *out)                                               \
    {                                                                                              \
        int index = index_of(table, COUNT_OF(table), text);                                        \
        if (index < 0) {                                                                           \
            return false;                                                                          \
        }                                                                                          \
        *out = (type)index;                                                                        \
        return true;                                                                               \
    }

/* <enum>_name() and <enum>_parse() for each table above (contracts in names.h). */
NAMES_FUNCTIONS(account_status, enum account_status, account_status_names)
NAMES_FUNCTIONS(account_verified, enum account_verified, account_verified_names)
NAMES_FUNCTIONS(member_role, enum member_role, member_role_names)
NAMES_FUNCTIONS(member_status, enum member_status, member_status_names)
NAMES_FUNCTIONS(withdraw_status, enum withdraw_status, withdraw_status_names)
NAMES_FUNCTIONS(history_type, enum history_type, history_type_names)
NAMES_FUNCTIONS(verification_method, enum verification_method, verification_method_names)

#undef NAMES_FUNCTIONS

/* Static text; EXPIRED is only ever derived (verification.h). */
const char *verification_status_name(enum verification_status value)
{
    return name_of(verification_status_names, COUNT_OF(verification_status_names), (unsigned)value);
}

/* Refuses empty text, empty items ("cash:read,,"), unknown names and text over SCOPES_BYTES_MAX. */
bool scopes_parse(const char *text, unsigned *out)
{
    unsigned scopes = 0;
    if (text == NULL || text[0] == '\0' || strlen(text) > SCOPES_BYTES_MAX) {
        return false;
    }
    const char *item = text;
    for (;;) {
        const char *comma = strchr(item, ',');
        size_t item_length = comma != NULL ? (size_t)(comma - item) : strlen(item);
        bool known = false;
        for (size_t i = 0; i < COUNT_OF(scope_names); i++) {
            if (strlen(scope_names[i]) == item_length &&
                memcmp(scope_names[i], item, item_length) == 0) {
                scopes |= 1u << i;
                known = true;
            }
        }
        if (!known) {
            return false;
        }
        if (comma == NULL) {
            break;
        }
        item = comma + 1;
    }
    *out = scopes;
    return true;
}

/* Writes the names of the set bits, comma-separated, in bit order ("" for none). */
void scopes_format(unsigned scopes, char *out, unsigned long out_size)
{
    size_t used = 0;
    if (out_size == 0) {
        return;
    }
    out[0] = '\0';
    for (size_t i = 0; i < COUNT_OF(scope_names); i++) {
        if ((scopes & (1u << i)) == 0) {
            continue;
        }
        int written =
            snprintf(out + used, out_size - used, "%s%s", used > 0 ? "," : "", scope_names[i]);
        if (written < 0 || (size_t)written >= out_size - used) {
            return;
        }
        used += (size_t)written;
    }
}
