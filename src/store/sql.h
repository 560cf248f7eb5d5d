/*
 * sql.h - every SQL statement of the store, written once (sql.c), named by id; private to
 * src/store. Parameters are $1, $2, ... in both dialects, with no "::" casts (SQLite would read
 * "$1::text" as one parameter of that name): where PostgreSQL cannot infer a parameter's type,
 * the entry says it in `types`. A row lock is an attribute that a driver with row locks appends;
 * SQLite's single writer serialises without one. Where the dialects must differ, the entry holds
 * a second text for drivers with the capability it names (db.h: enum db_capability).
 */
#ifndef CASH_STORE_SQL_H
#define CASH_STORE_SQL_H

#include <stdbool.h>
#include <stddef.h>

/* The statements, grouped by the store file that runs them. */
enum sql_id {
    /* request.c: the replay cache and idempotency keys (SPEC 1) */
    SQL_REPLAY_INSERT,
    SQL_REPLAY_PRUNE,
    SQL_KEY_GET,
    SQL_KEY_DELETE,
    SQL_KEY_INSERT,
    SQL_KEY_PRUNE,
    /* account.c: accounts, members, API keys */
    SQL_ACCOUNT_INSERT,
    SQL_ACCOUNT_GET,
    SQL_ACCOUNT_UPDATE,
    SQL_ACCOUNT_EXISTS,
    SQL_ACCOUNT_LOCK,
    SQL_MEMBER_INSERT,
    SQL_MEMBER_GET,
    SQL_MEMBER_UPDATE,
    SQL_MEMBER_EXISTS,
    SQL_API_KEY_INSERT,
    SQL_API_KEY_GET,
    SQL_API_KEY_REVOKE,
    /* bank.c: the registered payout bank account (SPEC 2, 3) */
    SQL_BANK_GET,
    SQL_BANK_UPSERT,
    SQL_BANK_DELETE,
    /* verification.c: the abuse limits of the second factor, TOTP enrolments (SPEC 5) */
    SQL_MEMBER_LOCK,
    SQL_GUARD_GET,
    SQL_GUARD_PUT,
    SQL_RATE_MEMBER,
    SQL_RATE_ACCOUNT,
    SQL_TOTP_PUT,
    SQL_TOTP_GET,
    SQL_TOTP_ACCEPT,
    /* verification.c: verifications and the spending of a second factor (SPEC 5) */
    SQL_VERIFICATION_INSERT,
    SQL_VERIFICATION_GET,
    SQL_VERIFICATION_LOCK,
    SQL_VERIFICATION_MEMBER_EXISTS,
    SQL_VERIFICATION_CONFIRM,
    SQL_VERIFICATION_WRONG,
    SQL_VERIFICATION_FAIL,
    SQL_VERIFICATION_CALL,
    SQL_FACTOR_CANDIDATES,
    SQL_FACTOR_SPEND,
    /* ledger.c */
    SQL_LEDGER_UPDATE,
    SQL_LEDGER_INSERT,
    /* lifecycle.c: a withdrawal after PENDING, its confirmations and events */
    SQL_WITHDRAWAL_GET,
    SQL_WITHDRAWAL_LOCK,
    SQL_EVENT_INSERT,
    SQL_EVENT_LIST,
    SQL_CONFIRMED_BY,
    SQL_CONFIRMATION_INSERT,
    SQL_CONFIRMATION_COUNT,
    SQL_CONFIRM_UPDATE,
    SQL_REJECT_UPDATE,
    /* lifecycle.c: the payout worker's claim and the bank's answer */
    SQL_CLAIM_PICK,
    SQL_CLAIM_TAKE,
    SQL_CLAIM_RENEW,
    SQL_SETTLE_UPDATE,
    /* withdraw.c: the request, reads, the cancel */
    SQL_WITHDRAW_INSERT,
    SQL_WITHDRAW_GET,
    SQL_WITHDRAW_DAY_TOTAL,
    SQL_WITHDRAW_CANCEL,
    SQL_WITHDRAW_FUNCTION_CALL,
    /* audit.c */
    SQL_AUDIT_ACCOUNTS,
    SQL_AUDIT_CHAIN,
    SQL_AUDIT_WITHDRAWALS,
    SQL_AUDIT_ORPHANS,
    SQL_AUDIT_LIVE,
    SQL_COUNT
};

/* The row lock a driver with DB_CAP_ROW_LOCKS appends to a SELECT. */
enum sql_lock {
    SQL_LOCK_NONE,
    SQL_LOCK_UPDATE,        /* FOR UPDATE: the row will be deleted or its key changed */
    SQL_LOCK_NO_KEY_UPDATE, /* FOR NO KEY UPDATE: the row will be updated in place */
};

struct sql_statement {
    const char *text;
    enum sql_lock lock;
    /* PostgreSQL's types of $1, $2, ... where it cannot infer them: 't' text, 'i' bigint,
     * '-' inferred; NULL: all inferred. */
    const char *types;
    unsigned variant_caps;      /* a driver with all these capability bits ... */
    const char *variant_text;   /* ... runs this text instead */
    bool stream;                /* rows are read one at a time from the server (large scans) */
    unsigned requires_caps;     /* only a driver with all these capability bits runs it */
};

/* The server-side function of the one-statement withdrawal (pg_function.c installs it); a new
 * text or new parameters is a new name, so that old and new processes can share a database. */
#define SQL_WITHDRAW_FUNCTION_NAME "cashd_withdraw_create_v1"

/* The catalogue entry of id. */
const struct sql_statement *sql_statement_of(enum sql_id id);

/* The text a driver with caps runs for id, its row lock appended, into out; false (logged) if it
 * does not fit. */
bool sql_text(enum sql_id id, unsigned caps, char *out, size_t out_size);

/* The highest $n in text (0 for none); -1 past SQL_PARAMS_MAX. */
int sql_param_count(const char *text);

/* The most parameters one statement takes ($1 .. $SQL_PARAMS_MAX). */
#define SQL_PARAMS_MAX 40
/* The longest statement text, lock included. */
#define SQL_TEXT_BYTES_MAX 4096

#endif
