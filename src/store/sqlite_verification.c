/*
 * sqlite_verification.c - verifications and the spending of a second factor (SPEC 5) in the
 * SQLite backend. The rules themselves are domain/verification.h; this file only applies them
 * inside transactions, so that two requests cannot both spend the last use.
 */
#include <string.h>

#include "common/log.h"
#include "domain/abuse.h"
#include "domain/names.h"
#include "domain/verification.h"
#include "store/sqlite_internal.h"
#include "store/store_internal.h"

#define VERIFICATION_COLUMNS                                                                       \
    "verification_id, member_id, account_id, method, status, code_hash, attempts, uses,"           \
    " created_ms, confirmed_ms, call_status"

static const char SQL_VERIFICATION_INSERT[] =
    "INSERT INTO verifications (" VERIFICATION_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_VERIFICATION_GET[] =
    "SELECT " VERIFICATION_COLUMNS " FROM verifications WHERE verification_id = ?";
static const char SQL_VERIFICATION_MEMBER_EXISTS[] =
    "SELECT 1 FROM members WHERE member_id = ? AND account_id = ?";
static const char SQL_VERIFICATION_CONFIRM[] =
    "UPDATE verifications SET status = 'CONFIRMED', confirmed_ms = ?"
    " WHERE verification_id = ? AND status = 'PENDING'";
static const char SQL_VERIFICATION_WRONG[] =
    "UPDATE verifications SET attempts = attempts + 1,"
    " status = CASE WHEN attempts + 1 >= ? THEN 'LOCKED' ELSE status END"
    " WHERE verification_id = ? AND status = 'PENDING'";
static const char SQL_VERIFICATION_FAIL[] = "UPDATE verifications SET status = 'FAILED'"
                                            " WHERE verification_id = ? AND status = 'PENDING'";
/* Candidates for "the oldest usable": the first to run out of time comes first. */
static const char SQL_FACTOR_CANDIDATES[] =
    "SELECT " VERIFICATION_COLUMNS " FROM verifications WHERE member_id = ?"
    " AND status = 'CONFIRMED' AND confirmed_ms >= ? AND uses < ?"
    " ORDER BY confirmed_ms, verification_id";
/* A report of the phone gateway: the columns verification_call_apply() may change. */
static const char SQL_VERIFICATION_CALL[] =
    "UPDATE verifications SET status = ?, call_status = ?, attempts = ?, confirmed_ms = ?"
    " WHERE verification_id = ? AND status = 'PENDING'";
static const char SQL_FACTOR_SPEND[] = "UPDATE verifications SET uses = uses + 1"
                                       " WHERE uses < ? AND verification_id = ?"
                                       " AND status = 'CONFIRMED'";

static void verification_row_read(sqlite3_stmt *stmt, struct verification *out,
                                  struct sqlite_row *row)
{
    memset(out, 0, sizeof(*out)); /* no stale bytes after the strings */
    sqlite_row_start(row, stmt);
    sqlite_row_text(row, out->verification_id, sizeof(out->verification_id));
    sqlite_row_text(row, out->member_id, sizeof(out->member_id));
    sqlite_row_text(row, out->account_id, sizeof(out->account_id));
    sqlite_row_verification_method(row, &out->method);
    sqlite_row_verification_status(row, &out->status);
    sqlite_row_text(row, out->code_hash, sizeof(out->code_hash));
    out->attempts = sqlite_row_int64(row);
    out->uses = sqlite_row_int64(row);
    out->created_ms = sqlite_row_int64(row);
    out->confirmed_ms = sqlite_row_int64(row);
    if (!verification_call_status_parse(sqlite_row_text_view(row), &out->call_status)) {
        row->ok = false;
    }
}

static cash_result verification_read(struct sqlite_conn *conn, const char *verification_id,
                                     struct verification *out)
{
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_VERIFICATION_GET);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, verification_id);
    cash_result result = sqlite_bind_check(conn, &binder, "verification get");
    if (result == CASH_OK) {
        result = sqlite_step_row(conn, stmt, "verification get");
    }
    if (result != CASH_OK) {
        return result;
    }
    struct sqlite_row row;
    verification_row_read(stmt, out, &row);
    return sqlite_row_check(&row, "verification get");
}

/* One UPDATE of a verification by id with an optional leading number; *changes_out rows. */
static cash_result verification_update(struct sqlite_conn *conn, const char *sql, bool has_number,
                                       int64_t number, const char *verification_id,
                                       int64_t *changes_out)
{
    sqlite3_stmt *stmt = sqlite_stmt(conn, sql);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    if (has_number) {
        sqlite_bind_int64(&binder, number);
    }
    sqlite_bind_text(&binder, verification_id);
    cash_result result = sqlite_bind_check(conn, &binder, "verification update");
    if (result != CASH_OK) {
        return result;
    }
    return sqlite_step_done(conn, stmt, "verification update", changes_out);
}

/* ---- create, get, fail ---- */

struct verification_context {
    const char *verification_id;
    const struct verification *v;
    bool code_correct;
    int64_t now_ms;
    int64_t window_ms;
    cash_result outcome; /* the answer of an attempt, committed either way */
    struct verification out;
    struct verification_limits *limits; /* open, try and call: the abuse limits */
    struct verification_try *attempt;
    struct verification_call *call;
};

static cash_result verification_insert(struct sqlite_conn *conn, void *context_pointer)
{
    const struct verification *v = ((struct verification_context *)context_pointer)->v;
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_VERIFICATION_MEMBER_EXISTS);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, v->member_id);
    sqlite_bind_text(&binder, v->account_id);
    cash_result result = sqlite_bind_check(conn, &binder, "verification member");
    if (result == CASH_OK) {
        result = sqlite_step_row(conn, stmt, "verification member");
    }
    if (result != CASH_OK) {
        return result;
    }
    stmt = sqlite_stmt(conn, SQL_VERIFICATION_INSERT);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, v->verification_id);
    sqlite_bind_text(&binder, v->member_id);
    sqlite_bind_text(&binder, v->account_id);
    sqlite_bind_text(&binder, verification_method_name(v->method));
    sqlite_bind_text(&binder, verification_status_name(v->status));
    sqlite_bind_text(&binder, v->code_hash);
    sqlite_bind_int64(&binder, v->attempts);
    sqlite_bind_int64(&binder, v->uses);
    sqlite_bind_int64(&binder, v->created_ms);
    sqlite_bind_int64(&binder, v->confirmed_ms);
    sqlite_bind_text(&binder, verification_call_status_name(v->call_status));
    result = sqlite_bind_check(conn, &binder, "verification insert");
    if (result != CASH_OK) {
        return result;
    }
    return sqlite_step_done(conn, stmt, "verification insert", NULL);
}

/*
 * Stores a new verification (store.h): CASH_NOT_FOUND unless its member exists in its account,
 * CASH_CONFLICT for a used id, CASH_VALIDATION_ERROR for the derived status EXPIRED.
 */
cash_result sqlite_verification_create(struct store *store, const struct verification *v)
{
    if (v->status == VERIFICATION_EXPIRED || v->attempts < 0 || v->uses < 0) {
        return CASH_VALIDATION_ERROR;
    }
    struct verification_context context = {.v = v};
    return sqlite_write_run(sqlite_store_of(store), verification_insert, &context);
}

static cash_result verification_get_body(struct sqlite_conn *conn, void *context_pointer)
{
    struct verification_context *context = context_pointer;
    return verification_read(conn, context->verification_id, &context->out);
}

/* Reads one verification as stored (store.h); CASH_NOT_FOUND if there is none. */
cash_result sqlite_verification_get(struct store *store, const char *verification_id,
                                    struct verification *out)
{
    struct verification_context context = {.verification_id = verification_id};
    cash_result result =
        sqlite_read_run(sqlite_store_of(store), verification_get_body, &context, false);
    if (result == CASH_OK) {
        *out = context.out;
    }
    return result;
}

static cash_result verification_fail_body(struct sqlite_conn *conn, void *context_pointer)
{
    struct verification_context *context = context_pointer;
    int64_t changes = 0;
    cash_result result = verification_update(conn, SQL_VERIFICATION_FAIL, false, 0,
                                             context->verification_id, &changes);
    if (result != CASH_OK || changes == 1) {
        return result;
    }
    result = verification_read(conn, context->verification_id, &context->out);
    return result == CASH_OK ? CASH_INVALID_STATUS : result;
}

/* Marks a PENDING verification FAILED (store.h); CASH_INVALID_STATUS for any other status. */
cash_result sqlite_verification_fail(struct store *store, const char *verification_id)
{
    struct verification_context context = {.verification_id = verification_id};
    return sqlite_write_run(sqlite_store_of(store), verification_fail_body, &context);
}

/* ---- an attempt at the code ---- */

static cash_result verification_attempt_body(struct sqlite_conn *conn, void *context_pointer)
{
    struct verification_context *context = context_pointer;
    struct verification before;
    cash_result result = verification_read(conn, context->verification_id, &before);
    if (result != CASH_OK) {
        return result;
    }
    result = verification_check_attempt(&before, context->now_ms, context->window_ms);
    if (result != CASH_OK) {
        return result; /* nothing to record: roll back */
    }
    int64_t changes = 0;
    if (context->code_correct) {
        result = verification_update(conn, SQL_VERIFICATION_CONFIRM, true, context->now_ms,
                                     context->verification_id, &changes);
    } else {
        result = verification_update(conn, SQL_VERIFICATION_WRONG, true, VERIFICATION_ATTEMPTS_MAX,
                                     context->verification_id, &changes);
    }
    if (result == CASH_OK && changes != 1) {
        log_error("store: verification attempt: the PENDING row did not change");
        result = CASH_INTERNAL_ERROR;
    }
    if (result == CASH_OK) {
        result = verification_read(conn, context->verification_id, &context->out);
    }
    if (result != CASH_OK) {
        return result;
    }
    if (context->code_correct) {
        context->outcome = CASH_OK;
    } else if (context->out.status == VERIFICATION_LOCKED) {
        context->outcome = CASH_TOO_MANY_ATTEMPTS;
    } else {
        context->outcome = CASH_INVALID_VERIFICATION_CODE;
    }
    return CASH_OK; /* commit: a wrong code counts */
}

/* One attempt at the code in one transaction (store.h); a wrong code is committed. */
cash_result sqlite_verification_attempt(struct store *store, const char *verification_id,
                                        bool code_correct, int64_t now_ms, int64_t window_ms,
                                        struct verification *out)
{
    struct verification_context context = {
        .verification_id = verification_id,
        .code_correct = code_correct,
        .now_ms = now_ms,
        .window_ms = window_ms,
        .outcome = CASH_INTERNAL_ERROR,
    };
    cash_result result =
        sqlite_write_run(sqlite_store_of(store), verification_attempt_body, &context);
    if (result != CASH_OK) {
        return result;
    }
    *out = context.out;
    return context.outcome;
}

/* ---- spending a second factor ---- */

/* The oldest usable verification of the member into *out; CASH_SECOND_FACTOR_REQUIRED if none. */
static cash_result factor_find_oldest(struct sqlite_conn *conn, const struct second_factor *factor,
                                      struct verification *out)
{
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_FACTOR_CANDIDATES);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, factor->member_id);
    sqlite_bind_int64(&binder, factor->now_ms - factor->window_ms);
    sqlite_bind_int64(&binder, factor->uses_max);
    cash_result result = sqlite_bind_check(conn, &binder, "factor candidates");
    while (result == CASH_OK) {
        result = sqlite_step_row(conn, stmt, "factor candidates");
        if (result != CASH_OK) {
            break;
        }
        struct sqlite_row row;
        verification_row_read(stmt, out, &row);
        result = sqlite_row_check(&row, "factor candidates");
        /* The SQL narrows the search; the domain rule decides (same rule as a named one). */
        if (result == CASH_OK && verification_usable(out, factor->member_id, factor->now_ms,
                                                     factor->window_ms, factor->uses_max)) {
            sqlite3_reset(stmt); /* *out is a copy: the row may change now */
            return CASH_OK;
        }
    }
    return result == CASH_NOT_FOUND ? CASH_SECOND_FACTOR_REQUIRED : result;
}

/* Finds and spends one use of the second factor in the caller's transaction. */
cash_result sqlite_factor_spend(struct sqlite_conn *conn, const struct second_factor *factor,
                                int64_t *confirmed_ms_out)
{
    struct verification v;
    cash_result result = CASH_OK;
    if (factor->member_id == NULL || factor->uses_max < 1 || factor->window_ms < 0) {
        return CASH_SECOND_FACTOR_REQUIRED;
    }
    if (factor->verification_id != NULL) {
        result = verification_read(conn, factor->verification_id, &v);
        if (result == CASH_NOT_FOUND ||
            (result == CASH_OK && !verification_usable(&v, factor->member_id, factor->now_ms,
                                                       factor->window_ms, factor->uses_max))) {
            result = CASH_SECOND_FACTOR_REQUIRED;
        }
    } else {
        result = factor_find_oldest(conn, factor, &v);
    }
    if (result != CASH_OK) {
        return result;
    }
    int64_t changes = 0;
    result = verification_update(conn, SQL_FACTOR_SPEND, true, factor->uses_max, v.verification_id,
                                 &changes);
    if (result == CASH_OK && changes != 1) {
        /* Only if another writer spent it in between, which the write lock rules out. */
        result = CASH_SECOND_FACTOR_REQUIRED;
    }
    if (result == CASH_OK) {
        *confirmed_ms_out = v.confirmed_ms;
    }
    return result;
}

/* ---- within the abuse limits (SPEC 5) ---- */

static cash_result verification_open_body(struct sqlite_conn *conn, void *context_pointer)
{
    struct verification_context *context = context_pointer;
    const struct verification *v = context->v;
    struct member_guard guard;
    cash_result result =
        guard_check(&conn->tx, v->member_id, v->created_ms, context->limits, &guard);
    if (result == CASH_OK) {
        result =
            guard_rate_check(&conn->tx, v->member_id, v->account_id, v->created_ms, context->limits);
    }
    if (result != CASH_OK) {
        return result;
    }
    return verification_insert(conn, context);
}

/* Creates a verification within the abuse limits, in one transaction (store.h). */
cash_result sqlite_verification_open(struct store *store, const struct verification *v,
                                     struct verification_limits *limits,
                                     struct store_request *request)
{
    if (v->status == VERIFICATION_EXPIRED || v->attempts < 0 || v->uses < 0) {
        return CASH_VALIDATION_ERROR;
    }
    struct verification_context context = {.v = v, .limits = limits};
    const struct sqlite_request_work work = {
        .body = verification_open_body,
        .context = &context,
        .row = v,
    };
    return sqlite_request_run(sqlite_store_of(store), request, &work);
}

/*
 * With a refusal for too many attempts: when a new verification may be asked for - at least a
 * second from now, the end of the member's lock, the end of a creation limit.
 */
static cash_result verification_retry_after(struct sqlite_conn *conn, const struct verification *v,
                                            const struct member_guard *guard, int64_t now_ms,
                                            struct verification_limits *limits)
{
    int64_t wait_ms = 1000;
    if (member_guard_locked(guard, now_ms) && guard->locked_until_ms - now_ms > wait_ms) {
        wait_ms = guard->locked_until_ms - now_ms;
    }
    struct verification_limits probe = *limits;
    cash_result result = guard_rate_check(&conn->tx, v->member_id, v->account_id, now_ms, &probe);
    if (result == CASH_TOO_MANY_REQUESTS && probe.retry_after_ms > wait_ms) {
        wait_ms = probe.retry_after_ms;
    } else if (result != CASH_OK && result != CASH_TOO_MANY_REQUESTS) {
        return result;
    }
    limits->retry_after_ms = wait_ms;
    return CASH_TOO_MANY_ATTEMPTS;
}

/* TOTP: a right code counts only for a step newer than the member's last accepted one. */
static cash_result verification_code_counts(struct sqlite_conn *conn, const struct verification *v,
                                            struct verification_try *attempt, bool *correct_out)
{
    *correct_out = attempt->code_correct;
    if (!attempt->code_correct || v->method != VERIFICATION_TOTP) {
        return CASH_OK;
    }
    bool accepted = false;
    cash_result result = totp_accept(&conn->tx, v->member_id, attempt->totp_step, &accepted);
    if (result == CASH_OK && !accepted) {
        *correct_out = false;
        attempt->code_reused = true;
    }
    return result;
}

/* Records the try: the verification's row, then the member's guard; *locked_out if it locked. */
static cash_result verification_try_record(struct sqlite_conn *conn,
                                           const struct verification *before, bool correct,
                                           const struct verification_try *attempt, bool *locked_out)
{
    int64_t changes = 0;
    cash_result result = CASH_OK;
    if (correct) {
        result = verification_update(conn, SQL_VERIFICATION_CONFIRM, true, attempt->now_ms,
                                     before->verification_id, &changes);
    } else {
        result = verification_update(conn, SQL_VERIFICATION_WRONG, true, VERIFICATION_ATTEMPTS_MAX,
                                     before->verification_id, &changes);
    }
    if (result == CASH_OK && changes != 1) {
        log_error("store: verification try: the PENDING row did not change");
        result = CASH_INTERNAL_ERROR;
    }
    if (result == CASH_OK) {
        result = guard_record(&conn->tx, before->member_id, !correct, attempt->now_ms,
                                     attempt->limits, locked_out);
    }
    return result;
}

static cash_result verification_try_body(struct sqlite_conn *conn, void *context_pointer)
{
    struct verification_context *context = context_pointer;
    struct verification_try *attempt = context->attempt;
    struct verification before;
    struct member_guard guard;
    bool correct = false;
    bool locked = false;
    cash_result result = verification_read(conn, attempt->verification_id, &before);
    if (result == CASH_OK) {
        result =
            guard_check(&conn->tx, before.member_id, attempt->now_ms, attempt->limits, &guard);
    }
    if (result == CASH_OK) {
        result = verification_check_attempt(&before, attempt->now_ms, attempt->window_ms);
        if (result == CASH_TOO_MANY_ATTEMPTS) {
            result =
                verification_retry_after(conn, &before, &guard, attempt->now_ms, attempt->limits);
        }
    }
    if (result == CASH_OK) {
        result = verification_code_counts(conn, &before, attempt, &correct);
    }
    if (result == CASH_OK) {
        result = verification_try_record(conn, &before, correct, attempt, &locked);
    }
    if (result == CASH_OK) {
        result = verification_read(conn, attempt->verification_id, &attempt->out);
    }
    if (result != CASH_OK) {
        return result; /* nothing recorded: roll back */
    }
    context->outcome = correct ? CASH_OK : CASH_INVALID_VERIFICATION_CODE;
    if (!correct && (attempt->out.status == VERIFICATION_LOCKED || locked)) {
        guard.locked_until_ms = locked ? attempt->now_ms + attempt->limits->lock_ms : 0;
        context->outcome =
            verification_retry_after(conn, &attempt->out, &guard, attempt->now_ms, attempt->limits);
        if (context->outcome != CASH_TOO_MANY_ATTEMPTS) {
            return context->outcome;
        }
    }
    return CASH_OK; /* commit: a wrong code counts */
}

/* One try at a code within the abuse limits, in one transaction (store.h). */
cash_result sqlite_verification_try(struct store *store, struct verification_try *attempt,
                                    struct store_request *request)
{
    if (attempt->limits == NULL || attempt->limits->failures_max < 1) {
        return CASH_INTERNAL_ERROR;
    }
    struct verification_context context = {.attempt = attempt, .outcome = CASH_INTERNAL_ERROR};
    attempt->code_reused = false;
    const struct sqlite_request_work work = {
        .body = verification_try_body,
        .context = &context,
        .outcome = &context.outcome,
        .row = &attempt->out,
    };
    cash_result result = sqlite_request_run(sqlite_store_of(store), request, &work);
    if (result != CASH_OK || (request != NULL && request->replayed)) {
        return result;
    }
    return context.outcome;
}

static cash_result verification_call_body(struct sqlite_conn *conn, void *context_pointer)
{
    struct verification_call *call = ((struct verification_context *)context_pointer)->call;
    struct verification before;
    struct verification after;
    cash_result result = verification_read(conn, call->verification_id, &before);
    if (result == CASH_OK) {
        result = verification_call_apply(&before, call->reported, call->digits_correct,
                                         call->now_ms, call->window_ms, &after);
    }
    if (result != CASH_OK) {
        return result;
    }
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_VERIFICATION_CALL);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_text(&binder, verification_status_name(after.status));
    sqlite_bind_text(&binder, verification_call_status_name(after.call_status));
    sqlite_bind_int64(&binder, after.attempts);
    sqlite_bind_int64(&binder, after.confirmed_ms);
    sqlite_bind_text(&binder, call->verification_id);
    int64_t changes = 0;
    result = sqlite_bind_check(conn, &binder, "verification call");
    if (result == CASH_OK) {
        result = sqlite_step_done(conn, stmt, "verification call", &changes);
    }
    if (result == CASH_OK && changes != 1) {
        result = CASH_INTERNAL_ERROR; /* the write lock rules out another writer in between */
    }
    if (result == CASH_OK && after.call_status != CALL_NO_ANSWER &&
        after.call_status != CALL_FAILED) {
        result = guard_record(&conn->tx, before.member_id, after.call_status == CALL_WRONG_DIGITS,
                                     call->now_ms, call->limits, NULL);
    }
    if (result == CASH_OK) {
        result = verification_read(conn, call->verification_id, &call->out);
    }
    return result;
}

/* Applies the phone gateway's report in one transaction (store.h). */
cash_result sqlite_verification_call_result(struct store *store, struct verification_call *call)
{
    if (call->limits == NULL || call->limits->failures_max < 1) {
        return CASH_INTERNAL_ERROR;
    }
    struct verification_context context = {.call = call};
    return sqlite_write_run(sqlite_store_of(store), verification_call_body, &context);
}
