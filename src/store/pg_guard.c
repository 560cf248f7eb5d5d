/*
 * pg_guard.c - the abuse limits of the second factor (SPEC 5; docs/API.md "Abuse limits") and
 * enrolled authenticator apps in the PostgreSQL backend; the rules are domain/abuse.h, as in
 * sqlite_guard.c. SQLite serialises every writer; here each rule takes the row lock that makes
 * its read and its write one step across processes:
 * - a member's guard (consecutive wrong codes, lock) is read and rewritten under the member's
 *   row lock (pg_member_lock), so that two wrong codes at once count two;
 * - the creation limits are counted under the account's row lock (pg_account_lock), taken by
 *   store_verification_open before it counts, so that two processes cannot both take the last
 *   place;
 * - a TOTP step is accepted by a conditional UPDATE (last_step < step): once, whoever asks.
 */
#include <string.h>

#include "domain/abuse.h"
#include "store/pg_internal.h"

static const char SQL_MEMBER_LOCK[] =
    "SELECT 1 FROM members WHERE member_id = $1 FOR NO KEY UPDATE";
static const char SQL_GUARD_GET[] =
    "SELECT failures, locked_until_ms FROM member_guards WHERE member_id = $1";
static const char SQL_GUARD_PUT[] =
    "INSERT INTO member_guards (member_id, failures, locked_until_ms, updated_ms)"
    " VALUES ($1, $2, $3, $4) ON CONFLICT (member_id) DO UPDATE SET"
    " failures = excluded.failures, locked_until_ms = excluded.locked_until_ms,"
    " updated_ms = excluded.updated_ms";
/* The limit-th newest creation inside the window: if there is one, the limit is reached. */
static const char SQL_RATE_MEMBER[] =
    "SELECT created_ms FROM verifications WHERE member_id = $1 AND created_ms > $2"
    " ORDER BY created_ms DESC LIMIT 1 OFFSET $3";
static const char SQL_RATE_ACCOUNT[] =
    "SELECT created_ms FROM verifications WHERE account_id = $1 AND created_ms > $2"
    " ORDER BY created_ms DESC LIMIT 1 OFFSET $3";
static const char SQL_TOTP_MEMBER_EXISTS[] = "SELECT 1 FROM members WHERE member_id = $1";
/* Re-enrolment keeps last_step: a code of a step already used stays used. */
static const char SQL_TOTP_PUT[] =
    "INSERT INTO totp_enrolments (member_id, sealed_secret, last_step, created_ms)"
    " VALUES ($1, $2, 0, $3) ON CONFLICT (member_id) DO UPDATE SET"
    " sealed_secret = excluded.sealed_secret, created_ms = excluded.created_ms";
static const char SQL_TOTP_GET[] =
    "SELECT member_id, sealed_secret, last_step, created_ms FROM totp_enrolments"
    " WHERE member_id = $1";
static const char SQL_TOTP_ACCEPT[] =
    "UPDATE totp_enrolments SET last_step = $1 WHERE member_id = $2 AND last_step < $1";

/* Runs a static statement with one text parameter; the result or NULL (*result_out set). */
static PGresult *exec_with_id(struct pg_conn *conn, const char *sql, const char *id,
                              const char *what, cash_result *result_out)
{
    struct pg_params params;
    pg_params_start(&params);
    pg_param_text(&params, id);
    return pg_exec(conn, sql, &params, what, result_out);
}

/* Locks the member's row for the transaction (pg_internal.h); CASH_NOT_FOUND if none. */
cash_result pg_member_lock(struct pg_conn *conn, const char *member_id)
{
    cash_result result = CASH_OK;
    PGresult *res = exec_with_id(conn, SQL_MEMBER_LOCK, member_id, "member lock", &result);
    if (res == NULL) {
        return result;
    }
    result = PQntuples(res) == 1 ? CASH_OK : CASH_NOT_FOUND;
    PQclear(res);
    return result;
}

/* ---- member guards ---- */

static cash_result guard_read(struct pg_conn *conn, const char *member_id, struct member_guard *out)
{
    memset(out, 0, sizeof(*out));
    cash_result result = CASH_OK;
    PGresult *res = exec_with_id(conn, SQL_GUARD_GET, member_id, "guard get", &result);
    if (res == NULL) {
        return result;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        return CASH_OK; /* never failed: no row */
    }
    struct pg_row row;
    pg_row_start(&row, res, 0);
    out->failures = pg_row_int64(&row);
    out->locked_until_ms = pg_row_int64(&row);
    if (out->failures < 0) {
        row.ok = false;
    }
    result = pg_row_check(&row, "guard get");
    PQclear(res);
    return result;
}

/* The member's lock inside the caller's transaction (as sqlite_guard_check). */
cash_result pg_guard_check(struct pg_conn *conn, const char *member_id, int64_t now_ms,
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

/*
 * A right or wrong code of the member inside the caller's transaction (as sqlite_guard_record);
 * the caller holds the member's row lock (pg_member_lock), so the read and the write are one step.
 */
cash_result pg_guard_record(struct pg_conn *conn, const char *member_id, bool failed,
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
    struct pg_params params;
    pg_params_start(&params);
    pg_param_text(&params, member_id);
    pg_param_int64(&params, guard.failures);
    pg_param_int64(&params, guard.locked_until_ms);
    pg_param_int64(&params, now_ms);
    PGresult *res = pg_exec(conn, SQL_GUARD_PUT, &params, "guard put", &result);
    PQclear(res);
    if (result == CASH_OK && locked_out != NULL) {
        *locked_out = locked;
    }
    return result;
}

/* ---- creation limits ---- */

/* CASH_TOO_MANY_REQUESTS with *free_at_ms_out when count_max creations of owner_id fall inside
 * window_ms before now_ms. */
static cash_result rate_window_check(struct pg_conn *conn, const char *sql, const char *owner_id,
                                     int64_t now_ms, int64_t count_max, int64_t window_ms,
                                     int64_t *free_at_ms_out)
{
    struct pg_params params;
    pg_params_start(&params);
    pg_param_text(&params, owner_id);
    pg_param_int64(&params, now_ms - window_ms);
    pg_param_int64(&params, count_max - 1);
    cash_result result = CASH_OK;
    PGresult *res = pg_exec(conn, sql, &params, "rate window", &result);
    if (res == NULL) {
        return result;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        return CASH_OK; /* fewer than count_max inside the window */
    }
    struct pg_row row;
    pg_row_start(&row, res, 0);
    int64_t created_ms = pg_row_int64(&row);
    result = pg_row_check(&row, "rate window");
    PQclear(res);
    if (result != CASH_OK) {
        return result;
    }
    /* That creation leaves the window at created_ms + window_ms: one place is free then. */
    *free_at_ms_out = created_ms + window_ms;
    return CASH_TOO_MANY_REQUESTS;
}

/* The member's, then the account's creation limit (as sqlite_rate_check). */
cash_result pg_rate_check(struct pg_conn *conn, const char *member_id, const char *account_id,
                          int64_t now_ms, struct verification_limits *limits)
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

static cash_result totp_put_body(struct pg_conn *conn, void *context_pointer)
{
    const struct totp_enrolment *enrolment = ((struct totp_context *)context_pointer)->enrolment;
    cash_result result = CASH_OK;
    PGresult *res =
        exec_with_id(conn, SQL_TOTP_MEMBER_EXISTS, enrolment->member_id, "totp member", &result);
    if (res == NULL) {
        return result;
    }
    result = PQntuples(res) > 0 ? CASH_OK : CASH_NOT_FOUND;
    PQclear(res);
    if (result != CASH_OK) {
        return result;
    }
    struct pg_params params;
    pg_params_start(&params);
    pg_param_text(&params, enrolment->member_id);
    pg_param_text(&params, enrolment->sealed_secret);
    pg_param_int64(&params, enrolment->created_ms);
    res = pg_exec(conn, SQL_TOTP_PUT, &params, "totp put", &result);
    PQclear(res);
    return result;
}

/* Enrols or re-enrols a member's authenticator app (store.h). */
cash_result pg_totp_enrol(struct store *store, const struct totp_enrolment *enrolment)
{
    if (enrolment->sealed_secret[0] == '\0') {
        return CASH_VALIDATION_ERROR;
    }
    struct totp_context context = {.enrolment = enrolment};
    return pg_run(pg_store_of(store), PG_WRITE, totp_put_body, &context);
}

static cash_result totp_get_body(struct pg_conn *conn, void *context_pointer)
{
    struct totp_context *context = context_pointer;
    cash_result result = CASH_OK;
    PGresult *res = exec_with_id(conn, SQL_TOTP_GET, context->member_id, "totp get", &result);
    if (res == NULL) {
        return result;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        return CASH_NOT_FOUND;
    }
    struct pg_row row;
    struct totp_enrolment *out = &context->out;
    memset(out, 0, sizeof(*out));
    pg_row_start(&row, res, 0);
    pg_row_text(&row, out->member_id, sizeof(out->member_id));
    pg_row_text(&row, out->sealed_secret, sizeof(out->sealed_secret));
    out->last_step = pg_row_int64(&row);
    out->created_ms = pg_row_int64(&row);
    result = pg_row_check(&row, "totp get");
    PQclear(res);
    return result;
}

/* The member's enrolment (store.h); CASH_NOT_FOUND if none. */
cash_result pg_totp_get(struct store *store, const char *member_id, struct totp_enrolment *out)
{
    struct totp_context context = {.member_id = member_id};
    cash_result result = pg_run(pg_store_of(store), PG_READ, totp_get_body, &context);
    if (result == CASH_OK) {
        *out = context.out;
    }
    return result;
}

/* Takes step as the member's newest accepted one if it is newer: *accepted_out says whether. */
cash_result pg_totp_accept(struct pg_conn *conn, const char *member_id, int64_t step,
                           bool *accepted_out)
{
    struct pg_params params;
    pg_params_start(&params);
    pg_param_int64(&params, step);
    pg_param_text(&params, member_id);
    cash_result result = CASH_OK;
    PGresult *res = pg_exec(conn, SQL_TOTP_ACCEPT, &params, "totp accept", &result);
    if (res == NULL) {
        return result;
    }
    *accepted_out = pg_changes(res) == 1;
    PQclear(res);
    return CASH_OK;
}
