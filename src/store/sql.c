/*
 * sql.c - the catalogue of the store's statements (sql.h), one text for both drivers.
 */
#include "store/sql.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "store/db.h"
#include "store/store_internal.h" /* WITHDRAW_COLUMNS */

static const struct sql_statement catalogue[SQL_COUNT] = {
    /* ---- request.c ---- */
    /* SPEC 1: an expired row for the same key and signature is taken over; a live one is left
     * alone (no row changed: a replay). */
    [SQL_REPLAY_INSERT] = {
        "INSERT INTO used_signatures (api_key, signature, expires_ms) VALUES ($1, $2, $3)"
        " ON CONFLICT (api_key, signature) DO UPDATE SET expires_ms = excluded.expires_ms"
        " WHERE used_signatures.expires_ms <= $4"},
    [SQL_REPLAY_PRUNE] = {"DELETE FROM used_signatures WHERE expires_ms <= $1"},
    [SQL_KEY_GET] = {
        "SELECT fingerprint, answer_status, sealed_answer, expires_ms FROM idempotency_keys"
        " WHERE api_key = $1 AND idempotency_key = $2"},
    [SQL_KEY_DELETE] = {"DELETE FROM idempotency_keys WHERE api_key = $1 AND idempotency_key = $2"},
    /* Of two transactions keeping one key at once, the second's INSERT waits for the first (on
     * PostgreSQL; SQLite's one writer runs them one after the other): if that committed, the
     * second changes no row. */
    [SQL_KEY_INSERT] = {
        "INSERT INTO idempotency_keys (api_key, idempotency_key, fingerprint, answer_status,"
        " sealed_answer, created_ms, expires_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT (api_key, idempotency_key) DO NOTHING"},
    [SQL_KEY_PRUNE] = {"DELETE FROM idempotency_keys WHERE expires_ms <= $1"},

    /* ---- account.c ---- */
    [SQL_ACCOUNT_INSERT] = {
        "INSERT INTO accounts (account_id, status, verified, balance, point, auto_recharge,"
        " minimum_cash, recharge_to, recharge_try_count, created_ms, updated_ms)"
        " VALUES ($1, $2, $3, 0, 0, $4, $5, $6, $7, $8, $9)"},
    [SQL_ACCOUNT_GET] = {
        "SELECT account_id, status, verified, balance, point, auto_recharge, minimum_cash,"
        " recharge_to, recharge_try_count, created_ms, updated_ms FROM accounts"
        " WHERE account_id = $1"},
    /* A NULL parameter leaves its column as it is. */
    [SQL_ACCOUNT_UPDATE] = {
        "UPDATE accounts SET status = COALESCE($1, status), verified = COALESCE($2, verified),"
        " auto_recharge = COALESCE($3, auto_recharge), updated_ms = $4 WHERE account_id = $5",
        .types = "tti"},
    [SQL_ACCOUNT_EXISTS] = {"SELECT 1 FROM accounts WHERE account_id = $1"},
    [SQL_MEMBER_INSERT] = {
        "INSERT INTO members (member_id, account_id, email, phone, role, status, created_ms)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)"},
    [SQL_MEMBER_GET] = {
        "SELECT member_id, account_id, email, phone, role, status, created_ms FROM members"
        " WHERE member_id = $1"},
    [SQL_MEMBER_UPDATE] = {
        "UPDATE members SET role = COALESCE($1, role), status = COALESCE($2, status)"
        " WHERE member_id = $3"},
    [SQL_MEMBER_EXISTS] = {"SELECT 1 FROM members WHERE member_id = $1"},
    [SQL_API_KEY_INSERT] = {
        "INSERT INTO api_keys (api_key, sealed_secret, member_id, scopes, revoked, created_ms)"
        " VALUES ($1, $2, $3, $4, $5, $6)"},
    [SQL_API_KEY_GET] = {
        "SELECT k.api_key, k.sealed_secret, k.member_id, m.account_id, k.scopes, k.revoked,"
        " m.role, m.status, a.status, a.verified, m.email, m.phone"
        " FROM api_keys k JOIN members m ON m.member_id = k.member_id"
        " JOIN accounts a ON a.account_id = m.account_id WHERE k.api_key = $1"},
    [SQL_API_KEY_REVOKE] = {"UPDATE api_keys SET revoked = 1 WHERE api_key = $1"},

    /* ---- bank.c ---- */
    [SQL_BANK_GET] = {
        "SELECT account_id, bank_code, sealed_number, masked_number, holder_name, created_ms,"
        " updated_ms, operator_verified FROM bank_accounts WHERE account_id = $1"},
    /* Replacing keeps the first registration's created_ms: dateUpdated tells the change.
     * operator_verified (SPEC 5 cooling-off): 1 when the operator set it (no factor), which
     * exempts it from the cooling-off; 0 when the member did through the API. */
    [SQL_BANK_UPSERT] = {
        "INSERT INTO bank_accounts (account_id, bank_code, sealed_number, masked_number,"
        " holder_name, created_ms, updated_ms, operator_verified)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT (account_id) DO UPDATE SET bank_code = excluded.bank_code,"
        " sealed_number = excluded.sealed_number, masked_number = excluded.masked_number,"
        " holder_name = excluded.holder_name, updated_ms = excluded.updated_ms,"
        " operator_verified = excluded.operator_verified"},
    [SQL_BANK_DELETE] = {"DELETE FROM bank_accounts WHERE account_id = $1"},

    /* ---- verification.c: the abuse limits, TOTP enrolments ---- */
    /* A member's guard is read and rewritten under this lock, so that two wrong codes at once
     * count two. FOR NO KEY UPDATE: the member row itself is not changed. */
    [SQL_MEMBER_LOCK] = {"SELECT 1 FROM members WHERE member_id = $1",
                         .lock = SQL_LOCK_NO_KEY_UPDATE},
    [SQL_GUARD_GET] = {"SELECT failures, locked_until_ms FROM member_guards WHERE member_id = $1"},
    [SQL_GUARD_PUT] = {
        "INSERT INTO member_guards (member_id, failures, locked_until_ms, updated_ms)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (member_id) DO UPDATE SET"
        " failures = excluded.failures, locked_until_ms = excluded.locked_until_ms,"
        " updated_ms = excluded.updated_ms"},
    /* The limit-th newest creation inside the window ($3 = limit - 1): if there is one, the
     * limit is reached. */
    [SQL_RATE_MEMBER] = {
        "SELECT created_ms FROM verifications WHERE member_id = $1 AND created_ms > $2"
        " ORDER BY created_ms DESC LIMIT 1 OFFSET $3"},
    [SQL_RATE_ACCOUNT] = {
        "SELECT created_ms FROM verifications WHERE account_id = $1 AND created_ms > $2"
        " ORDER BY created_ms DESC LIMIT 1 OFFSET $3"},
    /* Re-enrolment keeps last_step: a code of a step already used stays used. */
    [SQL_TOTP_PUT] = {
        "INSERT INTO totp_enrolments (member_id, sealed_secret, last_step, created_ms)"
        " VALUES ($1, $2, 0, $3) ON CONFLICT (member_id) DO UPDATE SET"
        " sealed_secret = excluded.sealed_secret, created_ms = excluded.created_ms"},
    [SQL_TOTP_GET] = {
        "SELECT member_id, sealed_secret, last_step, created_ms FROM totp_enrolments"
        " WHERE member_id = $1"},
    /* A step is accepted once, whoever asks: the newest row version decides. */
    [SQL_TOTP_ACCEPT] = {
        "UPDATE totp_enrolments SET last_step = $1 WHERE member_id = $2 AND last_step < $1"},

    /* ---- verification.c ---- */
#define VERIFICATION_COLUMNS                                                                       \
    "verification_id, member_id, account_id, method, status, code_hash, attempts, uses,"           \
    " created_ms, confirmed_ms, call_status"
    [SQL_VERIFICATION_INSERT] = {
        "INSERT INTO verifications (" VERIFICATION_COLUMNS ")"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"},
    [SQL_VERIFICATION_GET] = {
        "SELECT " VERIFICATION_COLUMNS " FROM verifications WHERE verification_id = $1"},
    /* An attempt, a try, a call's report and a named second factor read the row under this
     * lock, so that two processes can neither both spend the last use nor both count one wrong
     * code: the second waits for the first to commit and then sees its result. */
    [SQL_VERIFICATION_LOCK] = {
        "SELECT " VERIFICATION_COLUMNS " FROM verifications WHERE verification_id = $1",
        .lock = SQL_LOCK_UPDATE},
    [SQL_VERIFICATION_MEMBER_EXISTS] = {
        "SELECT 1 FROM members WHERE member_id = $1 AND account_id = $2"},
    [SQL_VERIFICATION_CONFIRM] = {
        "UPDATE verifications SET status = 'CONFIRMED', confirmed_ms = $1"
        " WHERE verification_id = $2 AND status = 'PENDING'"},
    [SQL_VERIFICATION_WRONG] = {
        "UPDATE verifications SET attempts = attempts + 1,"
        " status = CASE WHEN attempts + 1 >= $1 THEN 'LOCKED' ELSE status END"
        " WHERE verification_id = $2 AND status = 'PENDING'"},
    [SQL_VERIFICATION_FAIL] = {
        "UPDATE verifications SET status = 'FAILED'"
        " WHERE verification_id = $1 AND status = 'PENDING'"},
    /* A report of the phone gateway: the columns verification_call_apply() may change. */
    [SQL_VERIFICATION_CALL] = {
        "UPDATE verifications SET status = $1, call_status = $2, attempts = $3, confirmed_ms = $4"
        " WHERE verification_id = $5 AND status = 'PENDING'"},
    /* Candidates for "the oldest usable", locked: the first to run out of time comes first. */
    [SQL_FACTOR_CANDIDATES] = {
        "SELECT " VERIFICATION_COLUMNS " FROM verifications WHERE member_id = $1"
        " AND status = 'CONFIRMED' AND confirmed_ms >= $2 AND uses < $3"
        " ORDER BY confirmed_ms, verification_id",
        .lock = SQL_LOCK_UPDATE},
    /* Conditional on the newest row version: a use already spent elsewhere matches no row. */
    [SQL_FACTOR_SPEND] = {
        "UPDATE verifications SET uses = uses + 1"
        " WHERE uses < $1 AND verification_id = $2 AND status = 'CONFIRMED'"},
#undef VERIFICATION_COLUMNS

    /* ---- ledger.c ---- */
    /* SPEC 3, the guarded change: a debit matches no row unless the balance covers it. */
    [SQL_LEDGER_UPDATE] = {
        "UPDATE accounts SET balance = balance + $2, updated_ms = $3"
        " WHERE account_id = $1 AND balance >= $4 RETURNING balance, point"},
    /* entry_seq follows the account's last entry; the account is locked, so no other transaction
     * numbers an entry meanwhile. */
    [SQL_LEDGER_INSERT] = {
        "INSERT INTO balance_history (history_id, account_id, entry_seq, type, balance_amount,"
        " point_amount, old_balance, new_balance, old_point, new_point, memo, group_id, created_ms)"
        " VALUES ($1, $2, (SELECT COALESCE(MAX(entry_seq), 0) + 1 FROM balance_history"
        " WHERE account_id = $2), $3, $4, 0, $5, $6, $7, $8, $9, $10, $11)"},

    /* ---- lifecycle.c ---- */
    [SQL_WITHDRAWAL_GET] = {"SELECT " WITHDRAW_COLUMNS " FROM withdrawals WHERE withdraw_id = $1"},
    /* FOR UPDATE, taken after the account's lock by a transaction that moves the withdrawal's
     * money, or alone by a confirmation: its events and confirmations are counted under it. */
    [SQL_WITHDRAWAL_LOCK] = {"SELECT " WITHDRAW_COLUMNS " FROM withdrawals WHERE withdraw_id = $1",
                             .lock = SQL_LOCK_UPDATE},
    /* The next seq under the withdrawal row's lock. VALUES with a scalar subquery, not
     * INSERT ... SELECT from the same table: that form makes SQLite copy the selected rows to a
     * transient table first, on every withdrawal. */
    [SQL_EVENT_INSERT] = {
        "INSERT INTO withdrawal_events (withdraw_id, seq, actor, from_status, to_status, memo,"
        " created_ms) VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM withdrawal_events"
        " WHERE withdraw_id = $1), $2, $3, $4, $5, $6)"},
    [SQL_EVENT_LIST] = {
        "SELECT seq, actor, from_status, to_status, memo, created_ms FROM withdrawal_events"
        " WHERE withdraw_id = $1 ORDER BY seq LIMIT $2"},
    [SQL_CONFIRMED_BY] = {
        "SELECT COUNT(*) FROM withdrawal_confirmations WHERE withdraw_id = $1"
        " AND operator_name = $2"},
    [SQL_CONFIRMATION_INSERT] = {
        "INSERT INTO withdrawal_confirmations (withdraw_id, operator_name, created_ms)"
        " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"},
    [SQL_CONFIRMATION_COUNT] = {
        "SELECT COUNT(*) FROM withdrawal_confirmations WHERE withdraw_id = $1"},
    /* Each transition is also guarded in the SQL: one that lost a race changes no row. */
    [SQL_CONFIRM_UPDATE] = {
        "UPDATE withdrawals SET confirmed_count = $1, status = $2, updated_ms = $3"
        " WHERE withdraw_id = $4 AND status = 'PENDING' AND is_processing = 0"},
    [SQL_REJECT_UPDATE] = {
        "UPDATE withdrawals SET status = 'REJECTED', memo = $1, updated_ms = $2"
        " WHERE withdraw_id = $3 AND status IN ('PENDING', 'CONFIRMED') AND is_processing = 0"},

    /* ---- lifecycle.c: the payout worker ---- */
    /* SPEC 4: the oldest CONFIRMED withdrawal not processing, else one whose lease ran out. */
    [SQL_CLAIM_PICK] = {
        "SELECT withdraw_id, is_processing FROM withdrawals WHERE status = 'CONFIRMED'"
        " AND (is_processing = 0 OR processing_lease_ms < $1) ORDER BY is_processing DESC,"
        " withdraw_id LIMIT 1"},
    /* The claim itself: one conditional UPDATE, so that two workers never hold one withdrawal
     * (on PostgreSQL the second waits for the first, re-checks the WHERE and changes nothing). */
    [SQL_CLAIM_TAKE] = {
        "UPDATE withdrawals SET processing_started_ms = CASE WHEN is_processing = 0 THEN $1"
        " ELSE processing_started_ms END, is_processing = 1, processing_owner = $2,"
        " processing_lease_ms = $3, updated_ms = $1 WHERE withdraw_id = $4"
        " AND status = 'CONFIRMED' AND (is_processing = 0 OR processing_lease_ms < $1)",
        .types = "itit"},
    [SQL_CLAIM_RENEW] = {
        "UPDATE withdrawals SET processing_lease_ms = $1 WHERE withdraw_id = $2"
        " AND status = 'CONFIRMED' AND is_processing = 1 AND processing_owner = $3"},
    /* Guarded by the claim's owner; the failure code is also the memo. */
    [SQL_SETTLE_UPDATE] = {
        "UPDATE withdrawals SET status = $1, is_processing = 0, transaction_id = $2,"
        " transaction_ms = $3, memo = $4, failure_code = $4, updated_ms = $5"
        " WHERE withdraw_id = $6 AND status = 'CONFIRMED' AND is_processing = 1"
        " AND processing_owner = $7"},

    /* ---- withdraw.c ---- */
    [SQL_WITHDRAW_INSERT] = {
        "INSERT INTO withdrawals (" WITHDRAW_COLUMNS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
        " $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"},
    [SQL_WITHDRAW_GET] = {"SELECT " WITHDRAW_COLUMNS " FROM withdrawals WHERE withdraw_id = $1"},
    /* The live statuses are those withdraw_status_is_live() names (tested against it), as ORs:
     * SQLite builds a temporary B-tree for an IN list of three or more values every time the
     * statement runs (about 3 us, inside the write lock); PostgreSQL plans both the same. */
    [SQL_WITHDRAW_DAY_TOTAL] = {
        "SELECT COALESCE(SUM(total_amount), 0) FROM withdrawals WHERE account_id = $1"
        " AND created_ms >= $2"
        " AND (status = 'PENDING' OR status = 'CONFIRMED' OR status = 'COMPLETED')"},
    [SQL_WITHDRAW_CANCEL] = {
        "UPDATE withdrawals SET status = 'CANCELED', updated_ms = $1 WHERE withdraw_id = $2"
        " AND account_id = $3 AND status IN ('PENDING', 'CONFIRMED') AND is_processing = 0"
        " RETURNING " WITHDRAW_COLUMNS},
    /* The whole request as one statement where the driver has server-side functions (struct
     * db_driver: withdraw_create_one). */
    [SQL_WITHDRAW_FUNCTION_CALL] = {
        "SELECT outcome, factor_confirmed_ms, bank_code_copied, sealed_number_copied,"
        " masked_number_copied, holder_name_copied FROM " SQL_WITHDRAW_FUNCTION_NAME "($1, $2,"
        " $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
        .types = "ttiittiiitttiiiitiii",
        .requires_caps = DB_CAP_PROCEDURES},

    /* ---- audit.c ---- */
    /* Each account: the ledger sums to the balance and its last entry ends at the balance. */
    [SQL_AUDIT_ACCOUNTS] = {
        "SELECT a.account_id, a.balance, a.point,"
        " (SELECT COALESCE(SUM(h.balance_amount), 0) FROM balance_history h"
        "  WHERE h.account_id = a.account_id),"
        " (SELECT COALESCE(SUM(h.point_amount), 0) FROM balance_history h"
        "  WHERE h.account_id = a.account_id),"
        " (SELECT h.new_balance FROM balance_history h WHERE h.account_id = a.account_id"
        "  ORDER BY h.entry_seq DESC LIMIT 1)"
        " FROM accounts a ORDER BY a.account_id",
        .stream = true},
    /* Each account's entries in commit order: old to new values chain. */
    [SQL_AUDIT_CHAIN] = {
        "SELECT account_id, entry_seq, history_id, type, balance_amount, point_amount, old_balance,"
        " new_balance, old_point, new_point FROM balance_history ORDER BY account_id, entry_seq",
        .stream = true},
    /* Each withdrawal: its debit and refund entries. */
    [SQL_AUDIT_WITHDRAWALS] = {
        "SELECT w.withdraw_id, w.status, w.amount, w.fee, w.total_amount,"
        " (SELECT COUNT(*) FROM balance_history h WHERE h.group_id = w.withdraw_id"
        "  AND h.type = 'WITHDRAW'),"
        " (SELECT COUNT(*) FROM balance_history h WHERE h.group_id = w.withdraw_id"
        "  AND h.type = 'WITHDRAW' AND h.account_id = w.account_id"
        "  AND h.balance_amount = -w.total_amount),"
        " (SELECT COUNT(*) FROM balance_history h WHERE h.group_id = w.withdraw_id"
        "  AND h.type = 'WITHDRAW_REFUND'),"
        " (SELECT COUNT(*) FROM balance_history h WHERE h.group_id = w.withdraw_id"
        "  AND h.type = 'WITHDRAW_REFUND' AND h.account_id = w.account_id"
        "  AND h.balance_amount = w.total_amount)"
        " FROM withdrawals w ORDER BY w.withdraw_id",
        .stream = true},
    /* Withdrawal entries without their withdrawal. */
    [SQL_AUDIT_ORPHANS] = {
        "SELECT h.history_id, h.type, h.group_id FROM balance_history h"
        " WHERE h.type IN ('WITHDRAW', 'WITHDRAW_REFUND')"
        " AND NOT EXISTS (SELECT 1 FROM withdrawals w WHERE w.withdraw_id = h.group_id)"
        " ORDER BY h.history_id",
        .stream = true},
    /* SPEC 4: balance = credits - totals of live withdrawals (those withdraw_status_is_live()
     * names). */
    [SQL_AUDIT_LIVE] = {
        "SELECT a.account_id, a.balance,"
        " (SELECT COALESCE(SUM(h.balance_amount), 0) FROM balance_history h"
        "  WHERE h.account_id = a.account_id AND h.type = 'RECHARGE'),"
        " (SELECT COALESCE(SUM(w.total_amount), 0) FROM withdrawals w"
        "  WHERE w.account_id = a.account_id AND w.status IN ('PENDING', 'CONFIRMED', 'COMPLETED'))"
        " FROM accounts a ORDER BY a.account_id",
        .stream = true},

    /* Every transaction that changes an account's money, bank account or daily total takes this
     * lock first (after the second factor), so that they follow one another per account. FOR NO
     * KEY UPDATE: the lock an UPDATE of the balance takes anyway, taken first; it does not block
     * rows that merely reference the account (their foreign key takes FOR KEY SHARE). */
    [SQL_ACCOUNT_LOCK] = {"SELECT balance, point FROM accounts WHERE account_id = $1",
                          .lock = SQL_LOCK_NO_KEY_UPDATE},
};

const struct sql_statement *sql_statement_of(enum sql_id id)
{
    if ((unsigned)id >= SQL_COUNT || catalogue[id].text == NULL) {
        return NULL;
    }
    return &catalogue[id];
}

static const char *sql_lock_clause(enum sql_lock lock)
{
    switch (lock) {
    case SQL_LOCK_UPDATE:
        return " FOR UPDATE";
    case SQL_LOCK_NO_KEY_UPDATE:
        return " FOR NO KEY UPDATE";
    case SQL_LOCK_NONE:
        break;
    }
    return "";
}

bool sql_text(enum sql_id id, unsigned caps, char *out, size_t out_size)
{
    const struct sql_statement *entry = sql_statement_of(id);
    if (entry == NULL) {
        log_error("store: statement %d is not in the catalogue", (int)id);
        return false;
    }
    if ((caps & entry->requires_caps) != entry->requires_caps) {
        log_error("store: statement %d needs what this driver has not", (int)id);
        return false;
    }
    const char *text = entry->text;
    if (entry->variant_text != NULL && (caps & entry->variant_caps) == entry->variant_caps) {
        text = entry->variant_text;
    }
    const char *lock = (caps & DB_CAP_ROW_LOCKS) != 0 ? sql_lock_clause(entry->lock) : "";
    int written = snprintf(out, out_size, "%s%s", text, lock);
    if (written < 0 || (size_t)written >= out_size) {
        log_error("store: statement %d is longer than SQL_TEXT_BYTES_MAX", (int)id);
        return false;
    }
    return true;
}

int sql_param_count(const char *text)
{
    int highest = 0;
    for (const char *at = strchr(text, '$'); at != NULL; at = strchr(at + 1, '$')) {
        int number = 0;
        for (const char *digit = at + 1; *digit >= '0' && *digit <= '9'; digit++) {
            number = number * 10 + (*digit - '0');
            if (number > SQL_PARAMS_MAX) {
                return -1;
            }
        }
        if (number > highest) {
            highest = number;
        }
    }
    return highest;
}
