/*
 * sqlite_checks.c - what the SQLite driver does once the schema's versions are in place
 * (schema.c: store_migrate): the CHECK constraints' IN lists rewritten as ORs.
 */
#include <stdio.h>

#include "common/log.h"
#include "store/sqlite_internal.h"

/*
 * CHECK (column IN ('a', 'b', 'c')): SQLite evaluates an IN list of three values or more by
 * building a temporary B-tree each time a statement checks it, about 3 us per row written, and a
 * withdrawal writes four such checks inside the write lock (callgrind: 754k instructions per
 * withdrawal with them, 593k with the checks below). The same condition as ORs costs nothing.
 * Shipped versions keep their text and SQLite cannot alter a CHECK, but SQLite documents rewriting
 * a table's SQL in sqlite_master under writable_schema for changes that leave the stored data as
 * it is; an equivalent condition does (every stored row satisfies it already). So after the
 * versions the migration rewrites these checks, in one transaction, where the IN text is still
 * there. PostgreSQL keeps the IN form: it has no such cost.
 */
struct check_rewrite {
    const char *table;
    const char *in_list; /* as the versions wrote it */
    const char *ors;     /* the same condition */
};

static const struct check_rewrite check_rewrites[] = {
    {"accounts", "status IN ('ACTIVE', 'INACTIVE', 'DELETED')",
     "(status = 'ACTIVE' OR status = 'INACTIVE' OR status = 'DELETED')"},
    {"accounts", "verified IN ('none', 'personal', 'business')",
     "(verified = 'none' OR verified = 'personal' OR verified = 'business')"},
    {"members", "role IN ('OWNER', 'DEVELOPER', 'MEMBER')",
     "(role = 'OWNER' OR role = 'DEVELOPER' OR role = 'MEMBER')"},
    {"members", "status IN ('UNVERIFIED', 'ACTIVE', 'INACTIVE', 'DELETED')",
     "(status = 'UNVERIFIED' OR status = 'ACTIVE' OR status = 'INACTIVE' OR status = 'DELETED')"},
    {"verifications", "method IN ('EMAIL_OTP', 'ARS', 'TOTP')",
     "(method = 'EMAIL_OTP' OR method = 'ARS' OR method = 'TOTP')"},
    {"verifications", "status IN ('PENDING', 'CONFIRMED', 'LOCKED', 'FAILED')",
     "(status = 'PENDING' OR status = 'CONFIRMED' OR status = 'LOCKED' OR status = 'FAILED')"},
    {"verifications",
     "call_status IN ('', 'REQUESTED', 'ANSWERED', 'WRONG_DIGITS', 'NO_ANSWER', 'FAILED')",
     "(call_status = '' OR call_status = 'REQUESTED' OR call_status = 'ANSWERED'"
     " OR call_status = 'WRONG_DIGITS' OR call_status = 'NO_ANSWER' OR call_status = 'FAILED')"},
    {"withdrawals",
     "status IN ('PENDING', 'CONFIRMED', 'COMPLETED', 'FAILED', 'REJECTED', 'CANCELED')",
     "(status = 'PENDING' OR status = 'CONFIRMED' OR status = 'COMPLETED' OR status = 'FAILED'"
     " OR status = 'REJECTED' OR status = 'CANCELED')"},
    {"balance_history", "type IN ('RECHARGE', 'WITHDRAW', 'WITHDRAW_REFUND')",
     "(type = 'RECHARGE' OR type = 'WITHDRAW' OR type = 'WITHDRAW_REFUND')"},
    {"withdrawal_events",
     "from_status IN ('', 'PENDING', 'CONFIRMED', 'COMPLETED', 'FAILED', 'REJECTED', 'CANCELED')",
     "(from_status = '' OR from_status = 'PENDING' OR from_status = 'CONFIRMED'"
     " OR from_status = 'COMPLETED' OR from_status = 'FAILED' OR from_status = 'REJECTED'"
     " OR from_status = 'CANCELED')"},
    {"withdrawal_events",
     "to_status IN ('PENDING', 'CONFIRMED', 'COMPLETED', 'FAILED', 'REJECTED', 'CANCELED')",
     "(to_status = 'PENDING' OR to_status = 'CONFIRMED' OR to_status = 'COMPLETED'"
     " OR to_status = 'FAILED' OR to_status = 'REJECTED' OR to_status = 'CANCELED')"},
};

static const char SQL_CHECK_REWRITE[] =
    "UPDATE sqlite_master SET sql = replace(sql, ?1, ?2)"
    " WHERE type = 'table' AND name = ?3 AND instr(sql, ?1) > 0";

/* A rewrite SQLite refused (SQLITE_DBCONFIG_DEFENSIVE, say): logged, CASH_CONFLICT. The checks
 * then keep their IN form, which is slower and means the same. */
static cash_result checks_refused(sqlite3 *db)
{
    log_warn("store: CHECK constraints keep their IN form: %s", sqlite3_errmsg(db));
    return CASH_CONFLICT;
}

/* Rewrites every check of check_rewrites still in its IN form, then moves the schema cookie on
 * so that every connection reads the new text. */
static cash_result checks_rewrite(sqlite3 *db)
{
    sqlite3_stmt *update = NULL;
    if (sqlite3_prepare_v2(db, SQL_CHECK_REWRITE, -1, &update, NULL) != SQLITE_OK) {
        return checks_refused(db);
    }
    int changed = 0;
    for (size_t i = 0; i < sizeof(check_rewrites) / sizeof(check_rewrites[0]); i++) {
        const struct check_rewrite *rewrite = &check_rewrites[i];
        sqlite3_reset(update);
        if (sqlite3_bind_text(update, 1, rewrite->in_list, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_text(update, 2, rewrite->ors, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_text(update, 3, rewrite->table, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_step(update) != SQLITE_DONE) {
            cash_result refused = checks_refused(db);
            sqlite3_finalize(update);
            return refused;
        }
        changed += sqlite3_changes(db);
    }
    sqlite3_finalize(update);
    if (changed == 0) {
        return CASH_OK;
    }
    sqlite3_stmt *cookie = NULL;
    int version = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA schema_version", -1, &cookie, NULL) == SQLITE_OK &&
        sqlite3_step(cookie) == SQLITE_ROW) {
        version = sqlite3_column_int(cookie, 0);
    }
    sqlite3_finalize(cookie);
    char bump[64];
    snprintf(bump, sizeof(bump), "PRAGMA schema_version = %d", version + 1);
    if (version < 0 || sqlite3_exec(db, bump, NULL, NULL, NULL) != SQLITE_OK) {
        return checks_refused(db);
    }
    log_debug("store: %d CHECK constraints rewritten without IN lists", changed);
    return CASH_OK;
}

/* The rewrite's transaction, with writable_schema on only inside it. Anything but CASH_OK rolls
 * it back whole. */
static cash_result checks_rewrite_step(struct db_tx *tx, void *context)
{
    (void)context;
    struct sqlite_conn *conn = (struct sqlite_conn *)tx; /* the writer: its first member */
    if (sqlite3_exec(conn->db, "PRAGMA writable_schema = ON", NULL, NULL, NULL) != SQLITE_OK) {
        return checks_refused(conn->db);
    }
    cash_result result = checks_rewrite(conn->db);
    if (sqlite3_exec(conn->db, "PRAGMA writable_schema = OFF", NULL, NULL, NULL) != SQLITE_OK) {
        log_error("store: writable_schema could not be turned off: %s", sqlite3_errmsg(conn->db));
        result = CASH_INTERNAL_ERROR;
    }
    return result;
}

/* After the versions (struct db_driver: migrated): the CHECK rewrite; a refusal (CASH_CONFLICT,
 * logged) leaves the checks in their IN form, which means the same. */
cash_result sqlite_migrated(struct store *store)
{
    cash_result result = sqlite_write_run(sqlite_store_of(store), checks_rewrite_step, NULL);
    return result == CASH_CONFLICT ? CASH_OK : result;
}
