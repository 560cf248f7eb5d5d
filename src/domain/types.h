/*
 * types.h - the plain structs that cross layers: accounts, members, API keys, bank accounts,
 * withdrawals, ledger entries and verifications. Fixed-size buffers: a struct owns all its text.
 * Money is whole won in int64_t (SPEC 3); times are milliseconds since the Unix epoch, UTC.
 */
#ifndef CASH_TYPES_H
#define CASH_TYPES_H

#include <stdbool.h>
#include <stdint.h>

#include "common/limits.h"

enum account_status { ACCOUNT_ACTIVE, ACCOUNT_INACTIVE, ACCOUNT_DELETED };
enum account_verified { VERIFIED_NONE, VERIFIED_PERSONAL, VERIFIED_BUSINESS };
enum member_role { ROLE_OWNER, ROLE_DEVELOPER, ROLE_MEMBER };
enum member_status { MEMBER_UNVERIFIED, MEMBER_ACTIVE, MEMBER_INACTIVE, MEMBER_DELETED };

/* SPEC 4 */
enum withdraw_status {
    WITHDRAW_PENDING,
    WITHDRAW_CONFIRMED,
    WITHDRAW_COMPLETED,
    WITHDRAW_FAILED,
    WITHDRAW_REJECTED,
    WITHDRAW_CANCELED,
};
#define WITHDRAW_STATUS_COUNT 6

/* Ledger entry types (SPEC 3: every balance change has one) */
enum history_type {
    HISTORY_RECHARGE,        /* a credit to the balance (cashctl balance credit) */
    HISTORY_WITHDRAW,        /* the debit of a withdrawal's totalAmount */
    HISTORY_WITHDRAW_REFUND, /* a withdrawal's totalAmount returned (canceled, rejected, failed) */
};
#define HISTORY_TYPE_COUNT 3

enum verification_method { VERIFICATION_EMAIL_OTP, VERIFICATION_ARS, VERIFICATION_TOTP };
#define VERIFICATION_METHOD_COUNT 3

/* Stored state; EXPIRED is derived from the clock, never stored. */
enum verification_status {
    VERIFICATION_PENDING,
    VERIFICATION_CONFIRMED,
    VERIFICATION_LOCKED,
    VERIFICATION_FAILED, /* delivery failed: can never be confirmed */
    VERIFICATION_EXPIRED,
};

/*
 * ARS (SPEC 5, docs/ars-gateway.md): what became of the phone call. Stored beside the status;
 * CALL_NONE for the other methods.
 */
enum verification_call_status {
    CALL_NONE,
    CALL_REQUESTED,    /* the gateway was asked to call; no result yet */
    CALL_ANSWERED,     /* answered and the right digits typed: CONFIRMED */
    CALL_WRONG_DIGITS, /* answered, other digits typed: FAILED */
    CALL_NO_ANSWER,    /* not answered, busy or declined: FAILED */
    CALL_FAILED,       /* the call could not be placed: FAILED */
};
#define VERIFICATION_CALL_STATUS_COUNT 6

/* API key scopes, as a bit set */
enum {
    SCOPE_CASH_READ = 1u << 0,
    SCOPE_CASH_WRITE = 1u << 1,
};

struct account {
    char account_id[ACCOUNT_ID_LENGTH + 1];
    enum account_status status;
    enum account_verified verified;
    int64_t balance_won;
    int64_t point_won;
    bool auto_recharge;
    int64_t minimum_cash_won;
    int64_t recharge_to_won;
    int64_t recharge_try_count;
    int64_t created_ms;
    int64_t updated_ms;
};

struct member {
    char member_id[MEMBER_ID_LENGTH + 1];
    char account_id[ACCOUNT_ID_LENGTH + 1];
    char email[EMAIL_BYTES_MAX + 1];
    char phone[PHONE_BYTES_MAX + 1];
    enum member_role role;
    enum member_status status;
    int64_t created_ms;
};

/* An API key with what authentication needs to know about its member and account. */
struct api_key {
    char api_key[AUTH_API_KEY_LENGTH + 1];
    char sealed_secret[SEALED_BYTES_MAX + 1]; /* the secret, AES-256-GCM sealed (crypto.h) */
    char member_id[MEMBER_ID_LENGTH + 1];
    char account_id[ACCOUNT_ID_LENGTH + 1];
    unsigned scopes; /* SCOPE_* bits */
    bool revoked;
    enum member_role role;
    enum member_status member_status;
    enum account_status account_status;
    enum account_verified account_verified;
    char member_email[EMAIL_BYTES_MAX + 1];
    char member_phone[PHONE_BYTES_MAX + 1];
};

/* A registered payout bank account; the number is only ever held sealed or masked. */
struct bank_account {
    char account_id[ACCOUNT_ID_LENGTH + 1];
    char bank_code[BANK_CODE_BYTES_MAX + 1];
    char sealed_number[SEALED_BYTES_MAX + 1];
    char masked_number[MASKED_NUMBER_BYTES_MAX + 1];
    char holder_name[HOLDER_NAME_BYTES_MAX + 1];
    int64_t created_ms;
    int64_t updated_ms;
    bool operator_verified; /* set by the operator (cashctl bank set): no cooling-off */
};

struct withdrawal {
    char withdraw_id[WITHDRAW_ID_LENGTH + 1];
    char account_id[ACCOUNT_ID_LENGTH + 1];
    char member_id[MEMBER_ID_LENGTH + 1];
    /* the bank account as it was at request time (SPEC 3) */
    char bank_code[BANK_CODE_BYTES_MAX + 1];
    char sealed_number[SEALED_BYTES_MAX + 1];
    char masked_number[MASKED_NUMBER_BYTES_MAX + 1];
    char holder_name[HOLDER_NAME_BYTES_MAX + 1];
    enum withdraw_status status;
    bool is_processing;
    int64_t confirmed_count;
    char memo[MEMO_BYTES_MAX + 1];           /* "" is null */
    char transaction_id[64 + 1];             /* "" is null; the bank's id */
    int64_t transaction_ms;                  /* 0 is null */
    int64_t amount_won;                      /* net: reaches the bank account */
    int64_t fee_won;
    int64_t total_amount_won;                /* debited from the balance */
    int64_t confirmed_ms;                    /* second factor confirmation, whole seconds */
    int64_t created_ms;
    int64_t updated_ms;
};

struct history_entry {
    char history_id[HISTORY_ID_LENGTH + 1];
    char account_id[ACCOUNT_ID_LENGTH + 1];
    enum history_type type;
    int64_t balance_amount_won; /* signed change of balance */
    int64_t point_amount_won;   /* signed change of point */
    int64_t old_balance_won;
    int64_t new_balance_won;
    int64_t old_point_won;
    int64_t new_point_won;
    char memo[MEMO_BYTES_MAX + 1];
    char group_id[WITHDRAW_ID_LENGTH + 1]; /* the withdrawal that caused it, "" if none */
    int64_t created_ms;
};

struct verification {
    char verification_id[VERIFICATION_ID_LENGTH + 1];
    char member_id[MEMBER_ID_LENGTH + 1];
    char account_id[ACCOUNT_ID_LENGTH + 1];
    enum verification_method method;
    enum verification_status status; /* as stored; see verification_effective_status() */
    char code_hash[64 + 1];          /* hex HMAC-SHA256 of the code (crypto.h) */
    int64_t attempts;                /* wrong codes so far */
    int64_t uses;                    /* successful cash-writing requests authorised */
    int64_t created_ms;
    int64_t confirmed_ms; /* 0 until confirmed */
    enum verification_call_status call_status; /* ARS only; CALL_NONE otherwise */
};

#endif
