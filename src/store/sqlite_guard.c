/*
 * sqlite_guard.c - the abuse limits of the second factor (SPEC 5; docs/API.md "Abuse limits")
 * and enrolled authenticator apps in the SQLite backend. Everything here runs inside the
 * caller's write transaction (BEGIN IMMEDIATE), which serialises it with every other writer of
 * the database file, in this process or another: a count and the insert it allows are atomic.
 */
#include <string.h>

#include "domain/abuse.h"
#include "store/sqlite_internal.h"

static const char SQL_GUARD_GET[] =
    "SELECT failures, locked_until_ms FROM member_guards WHERE member_id = ?";
static const char SQL_GUARD_PUT[] =
    "INSERT INTO member_guards (member_id, failures, locked_until_ms, updated_ms)"
    " VALUES (?, ?, ?, ?) ON CONFLICT (member_id) DO UPDATE SET failures = excluded.failures,"
    " locked_until_ms = excluded.locked_until_ms, updated_ms = excluded.updated_ms";
/* The limit-th newest creation inside the window: if there is one, the limit is reached. */
static const char SQL_RATE_MEMBER[] =
    "SELECT created_ms FROM verifications WHERE member_id = ? AND created_ms > ?"
    " ORDER BY created_ms DESC LIMIT 1 OFFSET ?";
static const char SQL_RATE_ACCOUNT[] =
    "SELECT created_ms FROM verifications WHERE account_id = ? AND created_ms > ?"
    " ORDER BY created_ms DESC LIMIT 1 OFFSET ?";
static const char SQL_TOTP_MEMBER_EXISTS[] = "SELECT 1 FROM members WHERE member_id = ?";
/* Re-enrolment keeps last_step: a code of a step already used stays used. */
static const char SQL_TOTP_PUT[] =
    "INSERT INTO totp_enrolments (member_id, sealed_secret, last_step, created_ms)"
    " VALUES (?, ?, 0, ?) ON CONFLICT (member_id) DO UPDATE SET"
    " sealed_secret = excluded.sealed_secret, created_ms = excluded.created_ms";
static const char SQL_TOTP_GET[] =
    "SELECT member_id, sealed_secret, last_step, created_ms FROM totp_enrolments"
    " WHERE member_id = ?";
static const char SQL_TOTP_ACCEPT[] =
    "UPDATE totp_enrolments SET last_step = ? WHERE member_id = ? AND last_step < ?";

/* ---- member guards ---- */

static cash_result guard_read(struct sqlite_conn *conn, const char *member_id,
                              struct member_guard *out)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_GUARD_GET);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, member_id);
    cash_result result = sqlite_bind_check(conn, &binder, "guard get");
    if (result == CASH_OK) {
        result = sqlite_step_row(conn, stmt, "guard get");
    }
    if (result == CASH_NOT_FOUND) {
        return CASH_OK; /* never failed: no row */
    }
    if (result != CASH_OK) {
        return result;
    }
    struct sqlite_row row;
    sqlite_row_start(&row, stmt);
    out->failures = sqlite_row_int64(&row);
    out->locked_until_ms = sqlite_row_int64(&row);
    if (out->failures < 0) {
        row.ok = false;
    }
    return sqlite_row_check(&row, "guard get");
}

/* The member's lock inside the caller's transaction (sqlite_internal.h). */
cash_result sqlite_guard_check(struct sqlite_conn *conn, const char *member_id, int64_t now_ms,
                               struct verification_limits *limits, struct member_guard *guard_out)
{
    cash_result result = guard_read(conn, member_id, guard_out);
    if (result != CASH_OK) {
        return result;
    }
    if (member_guard_locked(guard_out, now_ms)) {
        limits->retry_after_ms = guard_out->locked_until_ms - now_ms;
        return CASH_TOO_MANY_ATTEMPTS;
    }
    return CASH_OK;
}

/* A right or wrong code of the member, inside the caller's transaction (sqlite_internal.h). */
cash_result sqlite_guard_record(struct sqlite_conn *conn, const char *member_id, bool failed,
                                int64_t now_ms, const struct verification_limits *limits,
                                bool *locked_out)
{
    struct member_guard guard;
    bool locked = false;
    cash_result result = guard_read(conn, member_id, &guard);
    if (result != CASH_OK) {
        return result;
    }
    if (failed) {
        locked = member_guard_fail(&guard, now_ms, limits->failures_max, limits->lock_ms);
    } else {
        member_guard_succeed(&guard);
    }
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_GUARD_PUT);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, member_id);
    sqlite_bind_int64(&binder, guard.failures);
    sqlite_bind_int64(&binder, guard.locked_until_ms);
    sqlite_bind_int64(&binder, now_ms);
    result = sqlite_bind_check(conn, &binder, "guard put");
    if (result == CASH_OK) {
        result = sqlite_step_done(conn, stmt, "guard put", NULL);
    }
    if (result == CASH_OK && locked_out != NULL) {
        *locked_out = locked;
    }
    return result;
}

/* ---- creation limits ---- */

/* CASH_TOO_MANY_REQUESTS with *free_at_ms_out when count_max creations of owner_id fall inside
 * window_ms before now_ms. */
static cash_result rate_window_check(struct sqlite_conn *conn, const char *sql,
                                     const char *owner_id, int64_t now_ms, int64_t count_max,
                                     int64_t window_ms, int64_t *free_at_ms_out)
{
    sqlite3_stmt *stmt = sqlite_stmt(conn, sql);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, owner_id);
    sqlite_bind_int64(&binder, now_ms - window_ms);
    sqlite_bind_int64(&binder, count_max - 1);
    cash_result result = sqlite_bind_check(conn, &binder, "rate window");
    if (result == CASH_OK) {
        result = sqlite_step_row(conn, stmt, "rate window");
    }
    if (result == CASH_NOT_FOUND) {
        return CASH_OK; /* fewer than count_max inside the window */
    }
    if (result != CASH_OK) {
        return result;
    }
    struct sqlite_row row;
    sqlite_row_start(&row, stmt);
    int64_t created_ms = sqlite_row_int64(&row);
    result = sqlite_row_check(&row, "rate window");
    if (result != CASH_OK) {
        return result;
    }
    /* That creation leaves the window at created_ms + window_ms: one place is free then. */
    *free_at_ms_out = created_ms + window_ms;
    return CASH_TOO_MANY_REQUESTS;
}

/* The member's, then the account's creation limit (sqlite_internal.h). */
cash_result sqlite_rate_check(struct sqlite_conn *conn, const char *member_id,
                              const char *account_id, int64_t now_ms,
                              struct verification_limits *limits)
{
    int64_t free_at_ms = now_ms;
    if (limits->member_count_max < 1 || limits->account_count_max < 1) {
        return CASH_INTERNAL_ERROR;
    }
    cash_result result =
        rate_window_check(conn, SQL_RATE_MEMBER, member_id, now_ms, limits->member_count_max,
                          limits->member_window_ms, &free_at_ms);
    if (result == CASH_OK) {
        result =
            rate_window_check(conn, SQL_RATE_ACCOUNT, account_id, now_ms, limits->account_count_max,
                              limits->account_window_ms, &free_at_ms);
    }
    if (result == CASH_TOO_MANY_REQUESTS) {
        limits->retry_after_ms = free_at_ms - now_ms;
    }
    return result;
}

/* ---- TOTP enrolments ---- */

struct totp_context {
    const char *member_id;
    const struct totp_enrolment *enrolment;
    struct totp_enrolment out;
};

static cash_result totp_put_body(struct sqlite_conn *conn, void *context_pointer)
{
    const struct totp_enrolment *enrolment = ((struct totp_context *)context_pointer)->enrolment;
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_TOTP_MEMBER_EXISTS);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, enrolment->member_id);
    cash_result result = sqlite_bind_check(conn, &binder, "totp member");
    if (result == CASH_OK) {
        result = sqlite_step_row(conn, stmt, "totp member");
    }
    if (result != CASH_OK) {
        return result;
    }
    stmt = sqlite_stmt(conn, SQL_TOTP_PUT);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, enrolment->member_id);
    sqlite_bind_text(&binder, enrolment->sealed_secret);
    sqlite_bind_int64(&binder, enrolment->created_ms);
    result = sqlite_bind_check(conn, &binder, "totp put");
    if (result != CASH_OK) {
        return result;
    }
    return sqlite_step_done(conn, stmt, "totp put", NULL);
}

/* Enrols or re-enrols a member's authenticator app (store.h). */
cash_result sqlite_totp_enrol(struct store *store, const struct totp_enrolment *enrolment)
{
    if (enrolment->sealed_secret[0] == '\0') {
        return CASH_VALIDATION_ERROR;
    }
    struct totp_context context = {.enrolment = enrolment};
    return sqlite_write_run(sqlite_store_of(store), totp_put_body, &context);
}

static cash_result totp_get_body(struct sqlite_conn *conn, void *context_pointer)
{
    struct totp_context *context = context_pointer;
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_TOTP_GET);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, context->member_id);
    cash_result result = sqlite_bind_check(conn, &binder, "totp get");
    if (result == CASH_OK) {
        result = sqlite_step_row(conn, stmt, "totp get");
    }
    if (result != CASH_OK) {
        return result;
    }
    struct sqlite_row row;
    struct totp_enrolment *out = &context->out;
    memset(out, 0, sizeof(*out));
    sqlite_row_start(&row, stmt);
    sqlite_row_text(&row, out->member_id, sizeof(out->member_id));
    sqlite_row_text(&row, out->sealed_secret, sizeof(out->sealed_secret));
    out->last_step = sqlite_row_int64(&row);
    out->created_ms = sqlite_row_int64(&row);
    return sqlite_row_check(&row, "totp get");
}

/* The member's enrolment (store.h); CASH_NOT_FOUND if none. */
cash_result sqlite_totp_get(struct store *store, const char *member_id, struct totp_enrolment *out)
{
    struct totp_context context = {.member_id = member_id};
    cash_result result = sqlite_read_run(sqlite_store_of(store), totp_get_body, &context, false);
    if (result == CASH_OK) {
        *out = context.out;
    }
    return result;
}

/* Takes step as the member's newest accepted one if it is newer (sqlite_internal.h). */
cash_result sqlite_totp_accept(struct sqlite_conn *conn, const char *member_id, int64_t step,
                               bool *accepted_out)
{
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_TOTP_ACCEPT);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_int64(&binder, step);
    sqlite_bind_text(&binder, member_id);
    sqlite_bind_int64(&binder, step);
    int64_t changes = 0;
    cash_result result = sqlite_bind_check(conn, &binder, "totp accept");
    if (result == CASH_OK) {
        result = sqlite_step_done(conn, stmt, "totp accept", &changes);
    }
    if (result == CASH_OK) {
        *accepted_out = changes == 1;
    }
    return result;
}
