/*
 * guard.c - the abuse limits of the second factor (SPEC 5; docs/API.md "Abuse limits") and
 * enrolled authenticator apps, written once over the driver seam. The rules are domain/abuse.h;
 * this file reads and writes their rows inside the caller's transaction. Each rule holds across
 * processes by a lock taken before its read (a plain SELECT where SQLite's one writer serialises):
 * - a member's guard (consecutive wrong codes, lock) is read and rewritten under the member's
 *   row lock (member_lock), so that two wrong codes at once count two;
 * - the creation limits are counted under the account's row lock (account_lock), taken by
 *   store_verification_open before it counts, so that two processes cannot both take the last
 *   place;
 * - a TOTP step is accepted by a conditional UPDATE (last_step < step): once, whoever asks.
 */
#include <string.h>

#include "domain/abuse.h"
#include "store/store_internal.h"

/* Locks the member's row for the transaction (store_internal.h); CASH_NOT_FOUND if none. */
cash_result member_lock(struct db_tx *tx, const char *member_id)
{
    return db_step_key(tx, SQL_MEMBER_LOCK, member_id, NULL);
}

/* ---- member guards ---- */

/* The member's guard as stored; zeros when the member never failed (no row). */
static cash_result guard_read(struct db_tx *tx, const char *member_id, struct member_guard *out)
{
    struct db_stmt *stmt = NULL;
    memset(out, 0, sizeof(*out));
    cash_result result = db_step_key(tx, SQL_GUARD_GET, member_id, &stmt);
    if (result != CASH_OK) {
        return result == CASH_NOT_FOUND ? CASH_OK : result;
    }
    struct db_row row;
    db_row_start(&row, stmt);
    out->failures = db_row_int64(&row);
    out->locked_until_ms = db_row_int64(&row);
    if (out->failures < 0) {
        row.ok = false;
    }
    return db_row_check(&row, "guard get");
}

/* The member's lock inside the caller's transaction (store_internal.h). */
cash_result guard_check(struct db_tx *tx, const char *member_id, int64_t now_ms,
                        struct verification_limits *limits, struct member_guard *guard_out)
{
    cash_result result = guard_read(tx, member_id, guard_out);
    if (result != CASH_OK) {
        return result;
    }
    if (member_guard_locked(guard_out, now_ms)) {
        limits->retry_after_ms = guard_out->locked_until_ms - now_ms;
        return CASH_TOO_MANY_ATTEMPTS;
    }
    return CASH_OK;
}

/* A right or wrong code of the member, under the member's lock (store_internal.h). */
cash_result guard_record(struct db_tx *tx, const char *member_id, bool failed, int64_t now_ms,
                         const struct verification_limits *limits, bool *locked_out)
{
    struct member_guard guard;
    bool locked = false;
    cash_result result = guard_read(tx, member_id, &guard);
    if (result != CASH_OK) {
        return result;
    }
    if (failed) {
        locked = member_guard_fail(&guard, now_ms, limits->failures_max, limits->lock_ms);
    } else {
        member_guard_succeed(&guard);
    }
    struct db_stmt *stmt = db_statement(tx, SQL_GUARD_PUT);
    db_bind_text(stmt, member_id);
    db_bind_int64(stmt, guard.failures);
    db_bind_int64(stmt, guard.locked_until_ms);
    db_bind_int64(stmt, now_ms);
    result = db_exec(stmt, NULL);
    if (result == CASH_OK && locked_out != NULL) {
        *locked_out = locked;
    }
    return result;
}

/* ---- creation limits ---- */

/* CASH_TOO_MANY_REQUESTS with *free_at_ms_out when count_max creations of owner_id (statement
 * id) fall inside window_ms before now_ms. */
static cash_result rate_window_check(struct db_tx *tx, enum sql_id id, const char *owner_id,
                                     int64_t now_ms, int64_t count_max, int64_t window_ms,
                                     int64_t *free_at_ms_out)
{
    struct db_stmt *stmt = db_statement(tx, id);
    db_bind_text(stmt, owner_id);
    db_bind_int64(stmt, now_ms - window_ms);
    db_bind_int64(stmt, count_max - 1);
    cash_result result = db_step(stmt);
    if (result != CASH_OK) {
        return result == CASH_NOT_FOUND ? CASH_OK : result; /* fewer than count_max */
    }
    struct db_row row;
    db_row_start(&row, stmt);
    int64_t created_ms = db_row_int64(&row);
    result = db_row_check(&row, "rate window");
    if (result != CASH_OK) {
        return result;
    }
    /* That creation leaves the window at created_ms + window_ms: one place is free then. */
    *free_at_ms_out = created_ms + window_ms;
    return CASH_TOO_MANY_REQUESTS;
}

/* The member's, then the account's creation limit, under the account's lock (store_internal.h). */
cash_result guard_rate_check(struct db_tx *tx, const char *member_id, const char *account_id,
                             int64_t now_ms, struct verification_limits *limits)
{
    int64_t free_at_ms = now_ms;
    if (limits->member_count_max < 1 || limits->account_count_max < 1) {
        return CASH_INTERNAL_ERROR;
    }
    cash_result result =
        rate_window_check(tx, SQL_RATE_MEMBER, member_id, now_ms, limits->member_count_max,
                          limits->member_window_ms, &free_at_ms);
    if (result == CASH_OK) {
        result =
            rate_window_check(tx, SQL_RATE_ACCOUNT, account_id, now_ms, limits->account_count_max,
                              limits->account_window_ms, &free_at_ms);
    }
    if (result == CASH_TOO_MANY_REQUESTS) {
        limits->retry_after_ms = free_at_ms - now_ms;
    }
    return result;
}

/* ---- TOTP enrolments ---- */

static cash_result totp_put_body(struct db_tx *tx, void *context_pointer)
{
    const struct totp_enrolment *enrolment = *(const struct totp_enrolment *const *)context_pointer;
    cash_result result = db_step_key(tx, SQL_MEMBER_EXISTS, enrolment->member_id, NULL);
    if (result != CASH_OK) {
        return result;
    }
    struct db_stmt *stmt = db_statement(tx, SQL_TOTP_PUT);
    db_bind_text(stmt, enrolment->member_id);
    db_bind_text(stmt, enrolment->sealed_secret);
    db_bind_int64(stmt, enrolment->created_ms);
    return db_exec(stmt, NULL);
}

/* Enrols or re-enrols a member's authenticator app (store.h); CASH_NOT_FOUND without the member. */
cash_result store_totp_enrol(struct store *store, const struct totp_enrolment *enrolment)
{
    if (enrolment->sealed_secret[0] == '\0') {
        return CASH_VALIDATION_ERROR;
    }
    return db_run(store, DB_WRITE, totp_put_body, &enrolment);
}

static cash_result totp_row_read(struct db_stmt *stmt, void *out_pointer)
{
    struct totp_enrolment *out = out_pointer;
    struct db_row row;
    db_row_start_clear(&row, stmt, out, sizeof(*out));
    db_row_text(&row, out->member_id, sizeof(out->member_id));
    db_row_text(&row, out->sealed_secret, sizeof(out->sealed_secret));
    out->last_step = db_row_int64(&row);
    out->created_ms = db_row_int64(&row);
    return db_row_check(&row, "totp get");
}

/* The member's enrolment (store.h); CASH_NOT_FOUND if none. */
cash_result store_totp_get(struct store *store, const char *member_id, struct totp_enrolment *out)
{
    return db_get(store, SQL_TOTP_GET, member_id, totp_row_read, out, sizeof(*out));
}

/* Takes step as the member's newest accepted one if it is newer (store_internal.h). */
cash_result totp_accept(struct db_tx *tx, const char *member_id, int64_t step, bool *accepted_out)
{
    struct db_stmt *stmt = db_statement(tx, SQL_TOTP_ACCEPT);
    db_bind_int64(stmt, step);
    db_bind_text(stmt, member_id);
    int64_t changes = 0;
    cash_result result = db_exec(stmt, &changes);
    if (result == CASH_OK) {
        *accepted_out = changes == 1;
    }
    return result;
}
