/*
 * schema.c - the tables of cashd, version by version, and store_migrate, which applies them
 * (SPEC 7: migrations are versioned and run by `cashctl init`). Times are ms since the epoch,
 * money whole won, enums their wire names (domain/names.h). The SQL stays within what SQLite and
 * PostgreSQL (and the PostgreSQL-compatible distributed engines) both accept, so version N means
 * the same on both drivers.
 *
 * Each version is applied in one transaction together with its row in schema_version, so a
 * version is either wholly there or not at all, and running the migration again changes nothing.
 * Two processes migrating at once: on SQLite the one writer serialises them; on PostgreSQL the
 * second blocks on the first's uncommitted tables, then fails with a duplicate (CASH_CONFLICT)
 * once it commits, and that step is run again and finds the version in place (no advisory lock,
 * no LOCK TABLE: CockroachDB has neither). After the versions the driver does what it does once
 * the schema is in place (struct db_driver: migrated).
 *
 * Migrations run rarely and change the tables under them: their SQL is never prepared.
 */
#include <stddef.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "store/store_internal.h"

struct schema_migration {
    int version;
    const char *const *statements; /* NULL-ended */
};

static const char *const schema_v1[] = {
    "CREATE TABLE accounts ("
    " account_id TEXT PRIMARY KEY,"
    " status TEXT NOT NULL CHECK (status IN ('ACTIVE', 'INACTIVE', 'DELETED')),"
    " verified TEXT NOT NULL CHECK (verified IN ('none', 'personal', 'business')),"
    " balance BIGINT NOT NULL CHECK (balance >= 0),"
    " point BIGINT NOT NULL CHECK (point >= 0),"
    " auto_recharge INTEGER NOT NULL CHECK (auto_recharge IN (0, 1)),"
    " minimum_cash BIGINT NOT NULL CHECK (minimum_cash >= 0),"
    " recharge_to BIGINT NOT NULL CHECK (recharge_to >= 0),"
    " recharge_try_count BIGINT NOT NULL CHECK (recharge_try_count >= 0),"
    " created_ms BIGINT NOT NULL,"
    " updated_ms BIGINT NOT NULL)",

    "CREATE TABLE members ("
    " member_id TEXT PRIMARY KEY,"
    " account_id TEXT NOT NULL REFERENCES accounts (account_id),"
    " email TEXT NOT NULL,"
    " phone TEXT NOT NULL,"
    " role TEXT NOT NULL CHECK (role IN ('OWNER', 'DEVELOPER', 'MEMBER')),"
    " status TEXT NOT NULL CHECK (status IN ('UNVERIFIED', 'ACTIVE', 'INACTIVE', 'DELETED')),"
    " created_ms BIGINT NOT NULL)",
    "CREATE INDEX members_account ON members (account_id)",

    "CREATE TABLE api_keys ("
    " api_key TEXT PRIMARY KEY,"
    " sealed_secret TEXT NOT NULL,"
    " member_id TEXT NOT NULL REFERENCES members (member_id),"
    " scopes INTEGER NOT NULL CHECK (scopes >= 0),"
    " revoked INTEGER NOT NULL CHECK (revoked IN (0, 1)),"
    " created_ms BIGINT NOT NULL)",
    "CREATE INDEX api_keys_member ON api_keys (member_id)",

    /* SPEC 1: used signatures, remembered across restarts and processes. */
    "CREATE TABLE used_signatures ("
    " api_key TEXT NOT NULL,"
    " signature TEXT NOT NULL,"
    " expires_ms BIGINT NOT NULL,"
    " PRIMARY KEY (api_key, signature))",
    "CREATE INDEX used_signatures_expires ON used_signatures (expires_ms)",

    "CREATE TABLE bank_accounts ("
    " account_id TEXT PRIMARY KEY REFERENCES accounts (account_id),"
    " bank_code TEXT NOT NULL,"
    " sealed_number TEXT NOT NULL,"
    " masked_number TEXT NOT NULL,"
    " holder_name TEXT NOT NULL,"
    " created_ms BIGINT NOT NULL,"
    " updated_ms BIGINT NOT NULL)",

    /* SPEC 5: status is the stored one; EXPIRED is derived from the clock. */
    "CREATE TABLE verifications ("
    " verification_id TEXT PRIMARY KEY,"
    " member_id TEXT NOT NULL REFERENCES members (member_id),"
    " account_id TEXT NOT NULL REFERENCES accounts (account_id),"
    " method TEXT NOT NULL CHECK (method IN ('EMAIL_OTP', 'ARS', 'TOTP')),"
    " status TEXT NOT NULL CHECK (status IN ('PENDING', 'CONFIRMED', 'LOCKED', 'FAILED')),"
    " code_hash TEXT NOT NULL,"
    " attempts BIGINT NOT NULL CHECK (attempts >= 0),"
    " uses BIGINT NOT NULL CHECK (uses >= 0),"
    " created_ms BIGINT NOT NULL,"
    " confirmed_ms BIGINT NOT NULL)",
    "CREATE INDEX verifications_member ON verifications (member_id, status, confirmed_ms)",

    /* SPEC 3, 4: the bank account is copied at request time. */
    "CREATE TABLE withdrawals ("
    " withdraw_id TEXT PRIMARY KEY,"
    " account_id TEXT NOT NULL REFERENCES accounts (account_id),"
    " member_id TEXT NOT NULL,"
    " bank_code TEXT NOT NULL,"
    " sealed_number TEXT NOT NULL,"
    " masked_number TEXT NOT NULL,"
    " holder_name TEXT NOT NULL,"
    " status TEXT NOT NULL CHECK (status IN ('PENDING', 'CONFIRMED', 'COMPLETED', 'FAILED',"
    " 'REJECTED', 'CANCELED')),"
    " is_processing INTEGER NOT NULL CHECK (is_processing IN (0, 1)),"
    " confirmed_count BIGINT NOT NULL CHECK (confirmed_count >= 0),"
    " memo TEXT NOT NULL,"
    " transaction_id TEXT NOT NULL,"
    " transaction_ms BIGINT NOT NULL,"
    " amount BIGINT NOT NULL CHECK (amount >= 1),"
    " fee BIGINT NOT NULL CHECK (fee >= 0),"
    " total_amount BIGINT NOT NULL,"
    " confirmed_ms BIGINT NOT NULL,"
    " created_ms BIGINT NOT NULL,"
    " updated_ms BIGINT NOT NULL,"
    " CHECK (amount + fee = total_amount))",
    "CREATE INDEX withdrawals_account ON withdrawals (account_id, withdraw_id)",
    "CREATE INDEX withdrawals_account_created ON withdrawals (account_id, created_ms)",

    /* SPEC 3: the ledger. entry_seq numbers an account's entries in commit order (1, 2, ...),
     * which is the order in which old and new balances chain; ids come from the callers' clocks
     * and may commit out of order. */
    "CREATE TABLE balance_history ("
    " history_id TEXT PRIMARY KEY,"
    " account_id TEXT NOT NULL REFERENCES accounts (account_id),"
    " entry_seq BIGINT NOT NULL CHECK (entry_seq >= 1),"
    " type TEXT NOT NULL CHECK (type IN ('RECHARGE', 'WITHDRAW', 'WITHDRAW_REFUND')),"
    " balance_amount BIGINT NOT NULL,"
    " point_amount BIGINT NOT NULL,"
    " old_balance BIGINT NOT NULL,"
    " new_balance BIGINT NOT NULL CHECK (new_balance >= 0),"
    " old_point BIGINT NOT NULL,"
    " new_point BIGINT NOT NULL CHECK (new_point >= 0),"
    " memo TEXT NOT NULL,"
    " group_id TEXT NOT NULL,"
    " created_ms BIGINT NOT NULL,"
    " CHECK (new_balance = old_balance + balance_amount),"
    " CHECK (new_point = old_point + point_amount))",
    "CREATE UNIQUE INDEX balance_history_account_seq ON balance_history (account_id, entry_seq)",
    "CREATE INDEX balance_history_account ON balance_history (account_id, history_id)",
    "CREATE INDEX balance_history_account_created ON balance_history (account_id, created_ms)",
    "CREATE INDEX balance_history_group ON balance_history (group_id)",
    NULL,
};

/* Version 2, SPEC 5: the ARS call's outcome beside a verification's status; indexes for the
 * creation limits; bank accounts the operator set (no cooling-off); enrolled authenticator apps
 * with the newest step accepted; members' consecutive wrong codes and locks. */
static const char *const schema_v2[] = {
    "ALTER TABLE verifications ADD COLUMN call_status TEXT NOT NULL DEFAULT ''"
    " CHECK (call_status IN ('', 'REQUESTED', 'ANSWERED', 'WRONG_DIGITS', 'NO_ANSWER', 'FAILED'))",
    "CREATE INDEX verifications_member_created ON verifications (member_id, created_ms)",
    "CREATE INDEX verifications_account_created ON verifications (account_id, created_ms)",

    "ALTER TABLE bank_accounts ADD COLUMN operator_verified INTEGER NOT NULL DEFAULT 0"
    " CHECK (operator_verified IN (0, 1))",

    "CREATE TABLE totp_enrolments ("
    " member_id TEXT PRIMARY KEY REFERENCES members (member_id),"
    " sealed_secret TEXT NOT NULL,"
    " last_step BIGINT NOT NULL CHECK (last_step >= 0),"
    " created_ms BIGINT NOT NULL)",

    "CREATE TABLE member_guards ("
    " member_id TEXT PRIMARY KEY REFERENCES members (member_id),"
    " failures BIGINT NOT NULL CHECK (failures >= 0),"
    " locked_until_ms BIGINT NOT NULL,"
    " updated_ms BIGINT NOT NULL)",
    NULL,
};

/*
 * Version 3, SPEC 4: the life of a withdrawal after PENDING. Every transition (and every
 * confirmation) is one row of withdrawal_events; withdrawal_confirmations holds each operator
 * once per withdrawal, so that confirmedCount counts distinct operators. The payout worker's
 * claim (who holds it, since when it is processing, until when the claim holds unless renewed)
 * and a FAILED withdrawal's failure code sit on the withdrawal.
 * No foreign key to withdrawals: only the store writes these rows, under the withdrawal's lock,
 * and an auditor may remove a withdrawal by hand to see `ledger verify` complain.
 */
static const char *const schema_v3[] = {
    "CREATE TABLE withdrawal_events ("
    " withdraw_id TEXT NOT NULL,"
    " seq BIGINT NOT NULL CHECK (seq >= 1),"
    " actor TEXT NOT NULL,"
    " from_status TEXT NOT NULL CHECK (from_status IN ('', 'PENDING', 'CONFIRMED', 'COMPLETED',"
    " 'FAILED', 'REJECTED', 'CANCELED')),"
    " to_status TEXT NOT NULL CHECK (to_status IN ('PENDING', 'CONFIRMED', 'COMPLETED', 'FAILED',"
    " 'REJECTED', 'CANCELED')),"
    " memo TEXT NOT NULL,"
    " created_ms BIGINT NOT NULL,"
    " PRIMARY KEY (withdraw_id, seq))",

    "CREATE TABLE withdrawal_confirmations ("
    " withdraw_id TEXT NOT NULL,"
    " operator_name TEXT NOT NULL,"
    " created_ms BIGINT NOT NULL,"
    " PRIMARY KEY (withdraw_id, operator_name))",

    "ALTER TABLE withdrawals ADD COLUMN processing_owner TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE withdrawals ADD COLUMN processing_started_ms BIGINT NOT NULL DEFAULT 0",
    "ALTER TABLE withdrawals ADD COLUMN processing_lease_ms BIGINT NOT NULL DEFAULT 0",
    "ALTER TABLE withdrawals ADD COLUMN failure_code TEXT NOT NULL DEFAULT ''",
    "CREATE INDEX withdrawals_status ON withdrawals (status, is_processing, processing_lease_ms)",
    NULL,
};

/* Version 4: Idempotency-Key (docs/API.md). A key is scoped to the API key that sent it and kept
 * with the request's fingerprint and its answer (status and body sealed under the data key) from
 * the commit of the request's effect until expires_ms. */
static const char *const schema_v4[] = {
    "CREATE TABLE idempotency_keys ("
    " api_key TEXT NOT NULL,"
    " idempotency_key TEXT NOT NULL,"
    " fingerprint TEXT NOT NULL,"
    " answer_status INTEGER NOT NULL CHECK (answer_status BETWEEN 100 AND 599),"
    " sealed_answer TEXT NOT NULL,"
    " created_ms BIGINT NOT NULL,"
    " expires_ms BIGINT NOT NULL,"
    " PRIMARY KEY (api_key, idempotency_key))",
    "CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_ms)",
    NULL,
};

/* Version 5, SPEC 3: the daily limit sums an account's live withdrawals since the day start for
 * every new one. This index holds all that sum reads, so it runs on the index alone instead of
 * visiting each withdrawal's row; its prefix serves what withdrawals_account_created served. */
static const char *const schema_v5[] = {
    "CREATE INDEX withdrawals_account_day ON withdrawals"
    " (account_id, created_ms, status, total_amount)",
    "DROP INDEX withdrawals_account_created",
    NULL,
};

/* Append new versions at the end; never edit one that has shipped. */
static const struct schema_migration schema_migrations[] = {
    {1, schema_v1}, {2, schema_v2}, {3, schema_v3}, {4, schema_v4}, {5, schema_v5},
};

static const size_t schema_migration_count =
    sizeof(schema_migrations) / sizeof(schema_migrations[0]);

/* ---- applying them ---- */
static const char SQL_VERSION_TABLE[] = "CREATE TABLE IF NOT EXISTS schema_version ("
                                        " version INTEGER PRIMARY KEY,"
                                        " applied_ms BIGINT NOT NULL)";
static const char SQL_VERSION_MAX[] = "SELECT COALESCE(MAX(version), 0) FROM schema_version";
static const char SQL_VERSION_INSERT[] =
    "INSERT INTO schema_version (version, applied_ms) VALUES ($1, $2)";

struct migrate_context {
    const struct schema_migration *migration; /* NULL: only create schema_version */
    int version;                              /* out: the newest version after the step */
};

static cash_result schema_version_read(struct db_tx *tx, int *version_out)
{
    /* Read to its end: a statement left running would lock the schema against DROP INDEX. */
    int64_t version = 0;
    cash_result result =
        db_step_int64(db_statement_text(tx, SQL_VERSION_MAX), "schema version", &version);
    if (result == CASH_OK && (version < 0 || version > 1000000)) {
        log_error("store: schema version %lld is out of range", (long long)version);
        result = CASH_INTERNAL_ERROR;
    }
    *version_out = (int)version;
    return result;
}

static cash_result schema_apply(struct db_tx *tx, const struct schema_migration *migration)
{
    for (size_t i = 0; migration->statements[i] != NULL; i++) {
        cash_result result = db_exec_simple(tx, migration->statements[i]);
        if (result != CASH_OK) {
            if (result != CASH_CONFLICT) {
                log_error("store: migration to version %d failed at statement %zu",
                          migration->version, i + 1);
            }
            return result;
        }
    }
    struct db_stmt *stmt = db_statement_text(tx, SQL_VERSION_INSERT);
    db_bind_int64(stmt, migration->version);
    db_bind_int64(stmt, time_now_ms());
    return db_exec(stmt, NULL);
}

static cash_result migrate_step(struct db_tx *tx, void *context_pointer)
{
    struct migrate_context *context = context_pointer;
    cash_result result = db_exec_simple(tx, SQL_VERSION_TABLE);
    if (result != CASH_OK) {
        return result;
    }
    int version = 0;
    result = schema_version_read(tx, &version);
    if (result != CASH_OK) {
        return result;
    }
    if (context->migration != NULL && version < context->migration->version) {
        /* Versions apply in order: the one before must be there already. */
        if (version != context->migration->version - 1) {
            log_error("store: schema version %d cannot migrate to %d", version,
                      context->migration->version);
            return CASH_INTERNAL_ERROR;
        }
        result = schema_apply(tx, context->migration);
        if (result != CASH_OK) {
            return result;
        }
        version = context->migration->version;
    }
    context->version = version;
    return CASH_OK;
}

/* One step in its own transaction, run again while another process's migration got there first. */
static cash_result migrate_run(struct store *store, struct migrate_context *context)
{
    cash_result result = CASH_CONFLICT;
    for (int attempt = 0; attempt < DB_TRANSACTION_ATTEMPTS_MAX && result == CASH_CONFLICT;
         attempt++) {
        result = db_run(store, DB_WRITE, migrate_step, context);
        if (result == CASH_CONFLICT) {
            log_info("store: another process migrated the schema meanwhile; checking again");
        }
    }
    return result;
}

/* Creates or migrates the schema (store.h); one transaction per version, then the driver's own. */
cash_result store_migrate(struct store *store, int *version_out)
{
    struct migrate_context context = {.migration = NULL, .version = 0};
    cash_result result = migrate_run(store, &context);
    for (size_t i = 0; result == CASH_OK && i < schema_migration_count; i++) {
        context.migration = &schema_migrations[i];
        result = migrate_run(store, &context);
    }
    if (result != CASH_OK) {
        return result;
    }
    int newest = schema_migrations[schema_migration_count - 1].version;
    if (context.version != newest) {
        log_error("store: the database has schema version %d; this program knows up to %d",
                  context.version, newest);
        return CASH_INTERNAL_ERROR;
    }
    result = store->driver->migrated(store);
    if (result != CASH_OK) {
        return result;
    }
    *version_out = context.version;
    return CASH_OK;
}
