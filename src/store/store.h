/*
 * store.h - the one storage interface of cashd (ARCHITECTURE: store). Callers use the store_*
 * functions below and never learn which database answers.
 *
 * How it is built (docs/postgres.md, "The driver"):
 * - Each feature is written once, in a file of its own: account.c, request.c (the replay cache
 *   and idempotency keys), bank.c, verification.c (with the abuse limits and TOTP), ledger.c,
 *   withdraw.c (with the list), lifecycle.c (with the payout worker's side), audit.c, schema.c.
 *   They order the checks inside a transaction; the rules themselves (amounts, limits, the next
 *   ledger entry, refunds, confirmations) are domain/'s.
 * - They reach a database through a seam of a dozen verbs (db.h), with every statement in one
 *   catalogue (sql.c), and share what runs inside a transaction through store_internal.h.
 * - Two drivers implement the seam: SQLite (sqlite*.c: one writer with group commit, checkpoints
 *   outside the commit, a pool of readers) and PostgreSQL (pg*.c: a pool, READ COMMITTED with row
 *   locks, the one-statement withdrawal). store_open() chooses one, in this one place.
 *
 * Rules every function keeps:
 * - A balance change, its ledger entry, the row that caused it and its event are written in one
 *   transaction inside one store function; an error rolls all of it back (nothing half-written).
 * - The balance never goes below zero whatever the concurrency (guarded debit).
 * - Results: CASH_OK; CASH_NOT_FOUND for a missing row; the business codes named per function;
 *   CASH_SERVICE_UNAVAILABLE when the database stayed busy past DB_TIMEOUT_MS; CASH_INTERNAL_ERROR
 *   for anything else (logged by the driver, without secrets).
 * - All out-structs are written only on CASH_OK.
 * - Functions are safe to call from many threads at once on one struct store.
 */
#ifndef CASH_STORE_H
#define CASH_STORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/result.h"
#include "domain/query.h"
#include "domain/types.h"

struct store;

/* Fields of an account or member to change; a field is changed only when its has_ flag is set. */
struct account_update {
    bool has_status;
    enum account_status status;
    bool has_verified;
    enum account_verified verified;
    bool has_auto_recharge;
    bool auto_recharge;
    int64_t now_ms;
};

struct member_update {
    bool has_role;
    enum member_role role;
    bool has_status;
    enum member_status status;
};

/*
 * SPEC 5: the second factor a cash-writing request spends. Inside the request's transaction the
 * store takes the named verification (or, with verification_id NULL, the member's oldest usable
 * one): it must belong to member_id, be CONFIRMED, confirmed no longer than window_ms ago, and
 * have fewer than uses_max uses. Its use count grows by one only if the request commits.
 * No usable verification: CASH_SECOND_FACTOR_REQUIRED.
 */
struct second_factor {
    const char *member_id;
    const char *verification_id; /* NULL: the oldest usable one */
    int64_t now_ms;
    int64_t window_ms;
    int64_t uses_max;
    int64_t confirmed_ms; /* out: when the spent verification was confirmed */
};

/*
 * A new withdrawal (SPEC 3). The caller fills withdrawal.withdraw_id, account_id, member_id,
 * amount_won, fee_won, total_amount_won, created_ms (= updated_ms) and history_id; the store
 * copies the registered bank account into the withdrawal, sets status PENDING, confirmed_ms from
 * the second factor (whole seconds), debits total_amount_won and writes a HISTORY_WITHDRAW entry.
 * Checks, in this order: the second factor (CASH_SECOND_FACTOR_REQUIRED), a registered bank
 * account (CASH_BANK_ACCOUNT_NOT_REGISTERED), the daily limit over live withdrawals created since
 * day_start_ms (CASH_DAILY_LIMIT_EXCEEDED), the balance (CASH_NOT_ENOUGH_BALANCE).
 */
struct withdraw_create {
    struct withdrawal withdrawal;
    char history_id[HISTORY_ID_LENGTH + 1];
    int64_t day_start_ms;
    int64_t daily_limit_won;
    struct second_factor *factor; /* required */
    /* SPEC 5: a bank account changed by API less than this long before created_ms refuses the
     * withdrawal (CASH_BANK_ACCOUNT_COOLING_OFF, checked after the bank account is found); one
     * the operator set is exempt. 0 turns the check off. */
    int64_t bank_cooling_off_ms;
};

/*
 * SPEC 5 abuse limits, applied inside the transaction that acts, so that they hold across
 * processes (docs/API.md "Abuse limits"). retry_after_ms is an out-field: with
 * CASH_TOO_MANY_REQUESTS or CASH_TOO_MANY_ATTEMPTS, how long the caller should wait.
 */
struct verification_limits {
    int64_t member_count_max; /* verifications created per member within member_window_ms */
    int64_t member_window_ms;
    int64_t account_count_max; /* ... per account within account_window_ms */
    int64_t account_window_ms;
    int64_t failures_max;   /* consecutive wrong codes of a member before a lock */
    int64_t lock_ms;        /* the length of that lock */
    int64_t retry_after_ms; /* out */
};

/* One try at a verification's code (store_verification_try). */
struct verification_try {
    const char *verification_id;
    bool code_correct;
    int64_t totp_step; /* TOTP with code_correct: the step the code belongs to (used once) */
    int64_t now_ms;
    int64_t window_ms;
    struct verification_limits *limits; /* required */
    bool code_reused;        /* out: a TOTP code of a step already used (counted as wrong) */
    struct verification out; /* out: the row after the try (CASH_OK and wrong-code results) */
};

/* The phone gateway's report on an ARS call (store_verification_call_result). */
struct verification_call {
    const char *verification_id;
    enum verification_call_status reported; /* CALL_ANSWERED, CALL_NO_ANSWER or CALL_FAILED */
    bool digits_correct;                    /* CALL_ANSWERED: the arsCode was typed */
    int64_t now_ms;
    int64_t window_ms;
    struct verification_limits *limits; /* required: wrong digits count as a failure */
    struct verification out;            /* out: the row after the report (CASH_OK) */
};

/* A member's enrolled authenticator app (SPEC 5, TOTP). */
struct totp_enrolment {
    char member_id[MEMBER_ID_LENGTH + 1];
    char sealed_secret[SEALED_BYTES_MAX + 1]; /* crypto_seal of the base64 of the secret */
    int64_t last_step;                        /* the newest step accepted, 0 for none */
    int64_t created_ms;
};

/*
 * What a write of the API commits together with its effect, in the effect's transaction
 * (SPEC 1; docs/API.md "Idempotency-Key"). Write functions take it as `request`, NULL when no API
 * request is behind the write (the operator CLI, the payout worker).
 *
 * - The signature's replay row (signature_hex not NULL): a live one already remembered is
 *   CASH_DUPLICATED_SIGNATURE, and nothing else is done.
 * - The idempotency key (idempotency_key not NULL), scoped to api_key. Kept and live with the same
 *   fingerprint: nothing else is done, the result is CASH_OK, replayed is true and answer holds the
 *   kept answer (the function's out structs are not written). Kept with another fingerprint:
 *   CASH_IDEMPOTENCY_KEY_REUSED. Taken by a transaction that committed while this one ran:
 *   CASH_IDEMPOTENCY_KEY_IN_USE (nothing written). Otherwise, if the function's transaction
 *   commits, render() is called inside it with the result the function is about to return and
 *   its row (named per function), and the answer it writes is kept with the key until
 *   idempotency_expires_ms. A transaction that rolls back keeps nothing: the request may be sent
 *   again with its key.
 * The rows: withdraw_create and withdraw_cancel the withdrawal, bank_account_set the bank account,
 * bank_account_delete none (NULL), verification_open the verification, verification_try
 * attempt->out.
 * After the call, replay_recorded says whether the replay row was committed; answer is owned by
 * the caller (store_request_clear).
 */
struct store_answer {
    unsigned status;
    char *body; /* malloc'd text, NULL for none */
};

struct store_request {
    const char *api_key;
    const char *signature_hex; /* NULL: no replay row */
    int64_t replay_expires_ms;
    const char *idempotency_key; /* NULL: none */
    const char *fingerprint;     /* IDEMPOTENCY_FINGERPRINT_HEX_LENGTH hex digits */
    int64_t idempotency_expires_ms;
    int64_t now_ms;
    /* Writes the answer to keep (body malloc'd); false if it could not (the write rolls back). */
    bool (*render)(struct store_request *request, cash_result result, const void *row,
                   struct store_answer *answer);
    void *render_context;
    bool replay_recorded;       /* out */
    bool replayed;              /* out */
    struct store_answer answer; /* out */
};

/* Frees request's answer and clears its outs; request may be NULL. */
void store_request_clear(struct store_request *request);

/* Forgets a kept idempotency key of api_key, so that the request may be sent again (a delivery
 * that failed after its verification committed). CASH_OK also when none was kept. */
cash_result store_idempotency_forget(struct store *store, const char *api_key,
                                     const char *idempotency_key);

/* SPEC 4: who moved a withdrawal ("operator:NAME", "account:ID", "member:ID"). */
#define WITHDRAW_ACTOR_BYTES_MAX (OPERATOR_NAME_BYTES_MAX + 16)

/*
 * One row of a withdrawal's event history: a transition (from -> to) or, for a confirmation that
 * does not yet reach the number needed, PENDING -> PENDING with the count in the memo. The
 * creation has has_from false.
 */
struct withdraw_event {
    int64_t seq; /* 1, 2, ... per withdrawal */
    char actor[WITHDRAW_ACTOR_BYTES_MAX + 1];
    bool has_from;
    enum withdraw_status from;
    enum withdraw_status to;
    char memo[MEMO_BYTES_MAX + 1];
    int64_t created_ms;
};

/* An operator's confirmation (SPEC 4, 6: store_withdraw_confirm). */
struct withdraw_confirm {
    const char *withdraw_id;
    const char *operator_name;   /* withdraw_operator_name_valid() */
    int64_t dual_confirm_at_won; /* totals from this amount need two distinct operators */
    int64_t now_ms;
};

/* An operator's rejection (SPEC 4, 6: store_withdraw_reject). */
struct withdraw_reject {
    const char *withdraw_id;
    const char *operator_name; /* "" when not named */
    const char *memo;          /* withdraw_memo_valid() */
    const char *history_id;    /* the refund's ledger entry */
    int64_t now_ms;
};

/* The payout worker's claim on one CONFIRMED withdrawal (SPEC 4: store_withdraw_claim). */
#define PAYOUT_OWNER_BYTES_MAX        64
#define PAYOUT_FAILURE_CODE_BYTES_MAX 40

struct withdraw_claim {
    const char *owner; /* the worker, unique per process: 1..PAYOUT_OWNER_BYTES_MAX bytes */
    int64_t now_ms;
    int64_t lease_ms;   /* the claim holds until now_ms + lease_ms unless renewed */
    bool was_in_flight; /* out: taken over from a worker whose lease ran out (it may have sent
                           the transfer): ask the gateway before sending anything */
};

/* What the bank answered for a claimed withdrawal (store_withdraw_settle). */
struct withdraw_outcome {
    const char *withdraw_id;
    const char *owner;          /* must still hold the claim */
    bool completed;             /* true: COMPLETED; false: FAILED with a refund */
    const char *transaction_id; /* COMPLETED: the bank's id (1..64 bytes) */
    int64_t transaction_ms;     /* COMPLETED: the bank's date */
    const char *failure_code;   /* FAILED: 1..PAYOUT_FAILURE_CODE_BYTES_MAX bytes, kept as memo */
    const char *history_id;     /* FAILED: the refund's ledger entry */
    int64_t now_ms;
};

struct db_driver; /* db.h */

struct store {
    const struct db_driver *driver; /* the seam the logic written once runs on (db.h) */
    atomic_uint_fast64_t replay_calls; /* store_replay_remember calls, for pruning now and then */
};

/* Opens the store named by url: "sqlite:PATH" (the embedded default). On success *out is owned by
 * the caller and released with store_close(). CASH_VALIDATION_ERROR for an unknown scheme. */
cash_result store_open(const char *url, struct store **out, char *why, size_t why_size);

/* What store_open_options() may tune; a field left 0 takes its default. */
struct store_options {
    int64_t pool_size; /* PostgreSQL: most connections this process opens (DB_POOL_DEFAULT) */
};

/* store_open() with options (options may be NULL): also "postgresql://..." or "postgres://..."
 * (libpq URLs). CASH_SERVICE_UNAVAILABLE when the database server cannot be reached. */
cash_result store_open_options(const char *url, const struct store_options *options,
                               struct store **out, char *why, size_t why_size);
void store_close(struct store *store);

/* Creates or migrates the schema to the newest version; *version_out is that version. */
cash_result store_migrate(struct store *store, int *version_out);

/* Accounts. account_create: CASH_CONFLICT if the id exists. account_update: CASH_NOT_FOUND. */
cash_result store_account_create(struct store *store, const struct account *account);
cash_result store_account_get(struct store *store, const char *account_id, struct account *out);
cash_result store_account_update(struct store *store, const char *account_id,
                                 const struct account_update *update);

/* Members. member_create: CASH_NOT_FOUND if the account does not exist. */
cash_result store_member_create(struct store *store, const struct member *member);
cash_result store_member_get(struct store *store, const char *member_id, struct member *out);
cash_result store_member_update(struct store *store, const char *member_id,
                                const struct member_update *update);

/* API keys. api_key_get fills the member and account fields of struct api_key (a join). */
cash_result store_api_key_create(struct store *store, const struct api_key *key, int64_t now_ms);
cash_result store_api_key_get(struct store *store, const char *api_key, struct api_key *out);
cash_result store_api_key_revoke(struct store *store, const char *api_key);

/* SPEC 1: remembers a used signature until expires_ms, durably. CASH_DUPLICATED_SIGNATURE if the
 * same (api_key, signature) is remembered and not expired. Prunes expired rows now and then. */
cash_result store_replay_remember(struct store *store, const char *api_key,
                                  const char *signature_hex, int64_t now_ms, int64_t expires_ms);

/* A manual recharge: balance += amount_won (> 0) with a HISTORY_RECHARGE entry, in one transaction.
 */
cash_result store_balance_credit(struct store *store, const char *account_id, int64_t amount_won,
                                 const char *memo, const char *history_id, int64_t now_ms,
                                 struct history_entry *out);
/* Ledger entries newest first; out has room for query->limit entries. */
cash_result store_history_list(struct store *store, const struct history_query *query,
                               struct history_entry *out, size_t *count_out);

/* Registers or replaces the account's bank account. factor may be NULL only for the operator CLI;
 * when given it is spent in the same transaction. */
cash_result store_bank_account_set(struct store *store, const struct bank_account *bank,
                                   struct second_factor *factor, struct store_request *request);
cash_result store_bank_account_get(struct store *store, const char *account_id,
                                   struct bank_account *out);
/* CASH_NOT_FOUND if none is registered (and then the factor is not spent). The row given to
 * request->render is NULL. */
cash_result store_bank_account_delete(struct store *store, const char *account_id,
                                      struct second_factor *factor, struct store_request *request);

/* Verifications (SPEC 5). */
cash_result store_verification_create(struct store *store, const struct verification *v);
cash_result store_verification_get(struct store *store, const char *verification_id,
                                   struct verification *out);
/*
 * Records one confirmation attempt in one transaction, re-checking the state inside it:
 * CASH_VERIFICATION_EXPIRED past window_ms after creation, CASH_TOO_MANY_ATTEMPTS when locked,
 * CASH_INVALID_STATUS when not PENDING. A correct code confirms it (confirmed_ms = now_ms);
 * a wrong one counts an attempt, locks it at VERIFICATION_ATTEMPTS_MAX, and returns
 * CASH_INVALID_VERIFICATION_CODE (or CASH_TOO_MANY_ATTEMPTS on the locking attempt). *out holds
 * the row after the attempt for CASH_OK and for both wrong-code results.
 */
cash_result store_verification_attempt(struct store *store, const char *verification_id,
                                       bool code_correct, int64_t now_ms, int64_t window_ms,
                                       struct verification *out);
/* Marks a verification whose delivery failed as FAILED: it can never be confirmed. */
cash_result store_verification_fail(struct store *store, const char *verification_id);

/*
 * store_verification_create() within the abuse limits, in one transaction: CASH_TOO_MANY_ATTEMPTS
 * while the member is locked out, then CASH_TOO_MANY_REQUESTS when member_count_max
 * verifications of the member were created in the last member_window_ms, or account_count_max of
 * the account in account_window_ms (limits->retry_after_ms: until the lock ends or the oldest of
 * those leaves its window). Two processes cannot both take the last place. Failed deliveries count.
 */
cash_result store_verification_open(struct store *store, const struct verification *v,
                                    struct verification_limits *limits,
                                    struct store_request *request);
/*
 * One try at a code in one transaction, like store_verification_attempt, and also:
 * CASH_TOO_MANY_ATTEMPTS (nothing recorded) while the member is locked out; a wrong code counts
 * a consecutive failure of the member and the failures_max-th locks the member for lock_ms; a
 * right one clears the count. TOTP: a right code is accepted only for a step newer than the
 * member's last accepted one, which it becomes; an older one is a wrong code (code_reused).
 * With CASH_TOO_MANY_ATTEMPTS, limits->retry_after_ms says when a new verification may be asked
 * for (at least 1 s). attempt->out as store_verification_attempt's *out.
 */
cash_result store_verification_try(struct store *store, struct verification_try *attempt,
                                   struct store_request *request);
/*
 * Applies the phone gateway's report to an ARS verification in one transaction
 * (domain/verification.h: verification_call_apply): CASH_NOT_FOUND (none, or not ARS),
 * CASH_INVALID_STATUS (no longer PENDING), CASH_VERIFICATION_EXPIRED. Wrong digits count a
 * failure of the member, as a wrong code does.
 */
cash_result store_verification_call_result(struct store *store, struct verification_call *call);

/* Enrols (or re-enrols) the member's authenticator app; keeps the newest accepted step.
 * CASH_NOT_FOUND for an unknown member. */
cash_result store_totp_enrol(struct store *store, const struct totp_enrolment *enrolment);
/* The member's enrolment; CASH_NOT_FOUND if the member has none. */
cash_result store_totp_get(struct store *store, const char *member_id, struct totp_enrolment *out);

/* Withdrawals. */
cash_result store_withdraw_create(struct store *store, struct withdraw_create *create,
                                  struct withdrawal *out, struct store_request *request);
/* account_id NULL means any account (operator); otherwise another account's row is CASH_NOT_FOUND.
 */
cash_result store_withdraw_get(struct store *store, const char *account_id, const char *withdraw_id,
                               struct withdrawal *out);
/* Newest first (withdrawId descending); out has room for query->limit rows. next_key_out is the
 * withdrawId that starts the next page (the query's start_key for it), or "" on the last page. */
cash_result store_withdraw_list(struct store *store, const struct withdraw_query *query,
                                struct withdrawal *out, size_t *count_out,
                                char next_key_out[WITHDRAW_ID_LENGTH + 1]);
/*
 * The account cancels its own withdrawal: PENDING or CONFIRMED and not processing, else
 * CASH_INVALID_STATUS. Status CANCELED and the whole totalAmount credited back with a
 * HISTORY_WITHDRAW_REFUND entry (history_id), in one transaction.
 */
cash_result store_withdraw_cancel(struct store *store, const char *account_id,
                                  const char *withdraw_id, const char *history_id, int64_t now_ms,
                                  struct withdrawal *out, struct store_request *request);

/*
 * SPEC 4, 6: an operator confirms a PENDING withdrawal, in one transaction. confirmedCount counts
 * distinct operators (the same one twice counts once: the second time changes nothing and
 * answers CASH_OK); when it reaches withdraw_confirmations_required() the status becomes
 * CONFIRMED. A CONFIRMED withdrawal this operator confirmed answers CASH_OK unchanged; any other
 * status CASH_INVALID_STATUS; CASH_NOT_FOUND. Each change writes an event.
 */
cash_result store_withdraw_confirm(struct store *store, const struct withdraw_confirm *request,
                                   struct withdrawal *out);
/*
 * SPEC 4, 6: an operator rejects a PENDING or CONFIRMED withdrawal with no payout in flight:
 * REJECTED with the memo, the whole totalAmount refunded (HISTORY_WITHDRAW_REFUND) and an event,
 * in one transaction; else CASH_INVALID_STATUS (nothing written); CASH_NOT_FOUND.
 */
cash_result store_withdraw_reject(struct store *store, const struct withdraw_reject *request,
                                  struct withdrawal *out);
/* A withdrawal's event history, oldest first: at most out_max events in out, *count_out of them.
 * CASH_NOT_FOUND if there is no such withdrawal. */
cash_result store_withdraw_events(struct store *store, const char *withdraw_id,
                                  struct withdraw_event *out, size_t out_max, size_t *count_out);

/*
 * SPEC 4, the payout worker: claims one withdrawal atomically (a conditional UPDATE), the oldest
 * CONFIRMED one not processing, else one processing whose claim's lease ran out (then
 * claim->was_in_flight). It becomes isProcessing with claim->owner until now + lease_ms, with an
 * event. Several workers in several processes never hold one withdrawal at once.
 * CASH_NOT_FOUND when there is nothing to claim.
 */
cash_result store_withdraw_claim(struct store *store, struct withdraw_claim *claim,
                                 struct withdrawal *out);
/* Extends the lease of a claim owner still holds; CASH_INVALID_STATUS if it no longer does. */
cash_result store_withdraw_claim_renew(struct store *store, const char *withdraw_id,
                                       const char *owner, int64_t now_ms, int64_t lease_ms);
/*
 * Records the bank's answer for a withdrawal owner holds: COMPLETED with the bank's
 * transactionId and date, or FAILED with the failure code as memo and the whole totalAmount
 * refunded; isProcessing false, an event, one transaction. CASH_INVALID_STATUS (nothing written)
 * if it is not CONFIRMED and processing under owner's claim.
 */
cash_result store_withdraw_settle(struct store *store, const struct withdraw_outcome *outcome,
                                  struct withdrawal *out);

/*
 * SPEC 3: checks every invariant - each account's ledger sums to its balance and chains old to new
 * values, no balance is negative, each withdrawal has exactly one debit entry of -totalAmount and
 * each CANCELED/REJECTED/FAILED one exactly one refund of +totalAmount, amount + fee = total.
 * Calls report() once per problem found; *problems_out is their number.
 */
cash_result store_ledger_verify(struct store *store,
                                void (*report)(void *context, const char *problem), void *context,
                                size_t *problems_out);

/*
 * SPEC 7: CASH_OK when a committed transaction survives a crash of the machine; otherwise
 * CASH_VALIDATION_ERROR with the setting that loses data in why (SQLite: synchronous below FULL;
 * PostgreSQL: fsync off, or synchronous_commit other than on, remote_apply, remote_write or
 * local). cashd refuses to start on such a database unless told it may lose data.
 */
cash_result store_durability_check(struct store *store, char *why, size_t why_size);

/* The drivers' constructors, used by store_open() only. */
cash_result store_sqlite_open(const char *path, struct store **out, char *why, size_t why_size);
cash_result store_pg_open(const char *url, const struct store_options *options, struct store **out,
                          char *why, size_t why_size);

#endif
