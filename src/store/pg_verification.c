/*
 * pg_verification.c - verifications and the spending of a second factor (SPEC 5) in the
 * PostgreSQL backend. The rules are domain/verification.h; this file applies them to rows
 * locked FOR UPDATE, so that two processes can neither both spend the last use nor both count
 * the same wrong code: the second waits for the first to commit and then sees its result.
 */
#include <string.h>

#include "common/log.h"
#include "domain/abuse.h"
#include "domain/names.h"
#include "domain/verification.h"
#include "store/pg_internal.h"
#include "store/store_internal.h"

#define VERIFICATION_COLUMNS                                                                       \
    "verification_id, member_id, account_id, method, status, code_hash, attempts, uses,"           \
    " created_ms, confirmed_ms, call_status"

static const char SQL_VERIFICATION_INSERT[] =
    "INSERT INTO verifications (" VERIFICATION_COLUMNS ")"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
static const char SQL_VERIFICATION_GET[] =
    "SELECT " VERIFICATION_COLUMNS " FROM verifications WHERE verification_id = $1";
static const char SQL_VERIFICATION_LOCK[] =
    "SELECT " VERIFICATION_COLUMNS " FROM verifications WHERE verification_id = $1 FOR UPDATE";
static const char SQL_VERIFICATION_MEMBER_EXISTS[] =
    "SELECT 1 FROM members WHERE member_id = $1 AND account_id = $2";
static const char SQL_VERIFICATION_CONFIRM[] =
    "UPDATE verifications SET status = 'CONFIRMED', confirmed_ms = $1"
    " WHERE verification_id = $2 AND status = 'PENDING'";
static const char SQL_VERIFICATION_WRONG[] =
    "UPDATE verifications SET attempts = attempts + 1,"
    " status = CASE WHEN attempts + 1 >= $1 THEN 'LOCKED' ELSE status END"
    " WHERE verification_id = $2 AND status = 'PENDING'";
static const char SQL_VERIFICATION_FAIL[] = "UPDATE verifications SET status = 'FAILED'"
                                            " WHERE verification_id = $1 AND status = 'PENDING'";
/* Candidates for "the oldest usable", locked: the first to run out of time comes first. */
static const char SQL_FACTOR_CANDIDATES[] =
    "SELECT " VERIFICATION_COLUMNS " FROM verifications WHERE member_id = $1"
    " AND status = 'CONFIRMED' AND confirmed_ms >= $2 AND uses < $3"
    " ORDER BY confirmed_ms, verification_id FOR UPDATE";
/* A report of the phone gateway: the columns verification_call_apply() may change. */
static const char SQL_VERIFICATION_CALL[] =
    "UPDATE verifications SET status = $1, call_status = $2, attempts = $3, confirmed_ms = $4"
    " WHERE verification_id = $5 AND status = 'PENDING'";
/* Conditional on the newest row version: a use already spent elsewhere matches no row. */
static const char SQL_FACTOR_SPEND[] = "UPDATE verifications SET uses = uses + 1"
                                       " WHERE uses < $1 AND verification_id = $2"
                                       " AND status = 'CONFIRMED'";

static void verification_row_read(const PGresult *res, int index, struct verification *out,
                                  struct pg_row *row)
{
    memset(out, 0, sizeof(*out)); /* no stale bytes after the strings */
    pg_row_start(row, res, index);
    pg_row_text(row, out->verification_id, sizeof(out->verification_id));
    pg_row_text(row, out->member_id, sizeof(out->member_id));
    pg_row_text(row, out->account_id, sizeof(out->account_id));
    pg_row_verification_method(row, &out->method);
    pg_row_verification_status(row, &out->status);
    pg_row_text(row, out->code_hash, sizeof(out->code_hash));
    out->attempts = pg_row_int64(row);
    out->uses = pg_row_int64(row);
    out->created_ms = pg_row_int64(row);
    out->confirmed_ms = pg_row_int64(row);
    if (!verification_call_status_parse(pg_row_text_view(row), &out->call_status)) {
        row->ok = false;
    }
}

/* One verification by id with sql (plain or locking); CASH_NOT_FOUND if there is none. */
static cash_result verification_read(struct pg_conn *conn, const char *sql,
                                     const char *verification_id, struct verification *out)
{
    struct pg_params params;
    pg_params_start(&params);
    pg_param_text(&params, verification_id);
    cash_result result = CASH_OK;
    PGresult *res = pg_exec(conn, sql, &params, "verification get", &result);
    if (res == NULL) {
        return result;
    }
    if (PQntuples(res) == 0) {
        result = CASH_NOT_FOUND;
    } else {
        struct pg_row row;
        verification_row_read(res, 0, out, &row);
        result = pg_row_check(&row, "verification get");
    }
    PQclear(res);
    return result;
}

/* One UPDATE of a verification by id with an optional leading number; *changes_out rows. */
static cash_result verification_update(struct pg_conn *conn, const char *sql, bool has_number,
                                       int64_t number, const char *verification_id,
                                       int64_t *changes_out)
{
    struct pg_params params;
    pg_params_start(&params);
    if (has_number) {
        pg_param_int64(&params, number);
    }
    pg_param_text(&params, verification_id);
    cash_result result = CASH_OK;
    PGresult *res = pg_exec(conn, sql, &params, "verification update", &result);
    if (res == NULL) {
        return result;
    }
    *changes_out = pg_changes(res);
    PQclear(res);
    return CASH_OK;
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
    struct verification_limits *limits; /* open: the abuse limits */
    struct verification_try *attempt;
    struct verification_call *call;
};

static cash_result verification_insert(struct pg_conn *conn, void *context_pointer)
{
    const struct verification *v = ((struct verification_context *)context_pointer)->v;
    struct pg_params params;
    pg_params_start(&params);
    pg_param_text(&params, v->member_id);
    pg_param_text(&params, v->account_id);
    cash_result result = CASH_OK;
    PGresult *res =
        pg_exec(conn, SQL_VERIFICATION_MEMBER_EXISTS, &params, "verification member", &result);
    if (res == NULL) {
        return result;
    }
    result = PQntuples(res) > 0 ? CASH_OK : CASH_NOT_FOUND;
    PQclear(res);
    if (result != CASH_OK) {
        return result;
    }
    pg_params_start(&params);
    pg_param_text(&params, v->verification_id);
    pg_param_text(&params, v->member_id);
    pg_param_text(&params, v->account_id);
    pg_param_text(&params, verification_method_name(v->method));
    pg_param_text(&params, verification_status_name(v->status));
    pg_param_text(&params, v->code_hash);
    pg_param_int64(&params, v->attempts);
    pg_param_int64(&params, v->uses);
    pg_param_int64(&params, v->created_ms);
    pg_param_int64(&params, v->confirmed_ms);
    pg_param_text(&params, verification_call_status_name(v->call_status));
    res = pg_exec(conn, SQL_VERIFICATION_INSERT, &params, "verification insert", &result);
    PQclear(res);
    return result;
}

/*
 * Stores a new verification: CASH_NOT_FOUND unless its member exists in its account,
 * CASH_CONFLICT for a used id, CASH_VALIDATION_ERROR for the derived status EXPIRED.
 */
cash_result pg_verification_create(struct store *store, const struct verification *v)
{
    if (v->status == VERIFICATION_EXPIRED || v->attempts < 0 || v->uses < 0) {
        return CASH_VALIDATION_ERROR;
    }
    struct verification_context context = {.v = v};
    return pg_run(pg_store_of(store), PG_WRITE, verification_insert, &context);
}

static cash_result verification_get_body(struct pg_conn *conn, void *context_pointer)
{
    struct verification_context *context = context_pointer;
    return verification_read(conn, SQL_VERIFICATION_GET, context->verification_id, &context->out);
}

/* Reads one verification as stored; CASH_NOT_FOUND if there is none. */
cash_result pg_verification_get(struct store *store, const char *verification_id,
                                struct verification *out)
{
    struct verification_context context = {.verification_id = verification_id};
    cash_result result = pg_run(pg_store_of(store), PG_READ, verification_get_body, &context);
    if (result == CASH_OK) {
        *out = context.out;
    }
    return result;
}

static cash_result verification_fail_body(struct pg_conn *conn, void *context_pointer)
{
    struct verification_context *context = context_pointer;
    int64_t changes = 0;
    cash_result result = verification_update(conn, SQL_VERIFICATION_FAIL, false, 0,
                                             context->verification_id, &changes);
    if (result != CASH_OK || changes == 1) {
        return result;
    }
    result = verification_read(conn, SQL_VERIFICATION_GET, context->verification_id, &context->out);
    return result == CASH_OK ? CASH_INVALID_STATUS : result;
}

/* Marks a PENDING verification FAILED; CASH_INVALID_STATUS for any other status. */
cash_result pg_verification_fail(struct store *store, const char *verification_id)
{
    struct verification_context context = {.verification_id = verification_id};
    return pg_run(pg_store_of(store), PG_WRITE, verification_fail_body, &context);
}

/* ---- an attempt at the code ---- */

static cash_result verification_attempt_record(struct pg_conn *conn,
                                               struct verification_context *context)
{
    int64_t changes = 0;
    cash_result result = CASH_OK;
    if (context->code_correct) {
        result = verification_update(conn, SQL_VERIFICATION_CONFIRM, true, context->now_ms,
                                     context->verification_id, &changes);
    } else {
        result = verification_update(conn, SQL_VERIFICATION_WRONG, true, VERIFICATION_ATTEMPTS_MAX,
                                     context->verification_id, &changes);
    }
    if (result == CASH_OK && changes != 1) {
        log_error("store: verification attempt: the locked PENDING row did not change");
        result = CASH_INTERNAL_ERROR;
    }
    return result;
}

static cash_result verification_attempt_body(struct pg_conn *conn, void *context_pointer)
{
    struct verification_context *context = context_pointer;
    struct verification before;
    cash_result result =
        verification_read(conn, SQL_VERIFICATION_LOCK, context->verification_id, &before);
    if (result != CASH_OK) {
        return result;
    }
    result = verification_check_attempt(&before, context->now_ms, context->window_ms);
    if (result != CASH_OK) {
        return result; /* nothing to record: roll back */
    }
    result = verification_attempt_record(conn, context);
    if (result == CASH_OK) {
        result =
            verification_read(conn, SQL_VERIFICATION_GET, context->verification_id, &context->out);
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

/* One attempt at the code in one transaction on the locked row; a wrong code is committed. */
cash_result pg_verification_attempt(struct store *store, const char *verification_id,
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
    cash_result result = pg_run(pg_store_of(store), PG_WRITE, verification_attempt_body, &context);
    if (result != CASH_OK) {
        return result;
    }
    *out = context.out;
    return context.outcome;
}

/* ---- spending a second factor ---- */

/* The oldest usable verification of the member, locked, into *out. */
static cash_result factor_find_oldest(struct pg_conn *conn, const struct second_factor *factor,
                                      struct verification *out)
{
    struct pg_params params;
    pg_params_start(&params);
    pg_param_text(&params, factor->member_id);
    pg_param_int64(&params, factor->now_ms - factor->window_ms);
    pg_param_int64(&params, factor->uses_max);
    cash_result result = CASH_OK;
    PGresult *res = pg_exec(conn, SQL_FACTOR_CANDIDATES, &params, "factor candidates", &result);
    if (res == NULL) {
        return result;
    }
    result = CASH_SECOND_FACTOR_REQUIRED;
    int rows = PQntuples(res);
    for (int i = 0; i < rows && result == CASH_SECOND_FACTOR_REQUIRED; i++) {
        struct pg_row row;
        verification_row_read(res, i, out, &row);
        result = pg_row_check(&row, "factor candidates");
        /* The SQL narrows the search; the domain rule decides (same rule as a named one). */
        if (result == CASH_OK && !verification_usable(out, factor->member_id, factor->now_ms,
                                                      factor->window_ms, factor->uses_max)) {
            result = CASH_SECOND_FACTOR_REQUIRED;
        }
    }
    PQclear(res);
    return result;
}

/* The named verification, locked, if it is usable by this member now. */
static cash_result factor_find_named(struct pg_conn *conn, const struct second_factor *factor,
                                     struct verification *out)
{
    cash_result result =
        verification_read(conn, SQL_VERIFICATION_LOCK, factor->verification_id, out);
    if (result == CASH_NOT_FOUND ||
        (result == CASH_OK && !verification_usable(out, factor->member_id, factor->now_ms,
                                                   factor->window_ms, factor->uses_max))) {
        result = CASH_SECOND_FACTOR_REQUIRED;
    }
    return result;
}

/* Finds and spends one use of the second factor in the caller's transaction. */
cash_result pg_factor_spend(struct pg_conn *conn, const struct second_factor *factor,
                            int64_t *confirmed_ms_out)
{
    struct verification v;
    cash_result result = CASH_OK;
    if (factor->member_id == NULL || factor->uses_max < 1 || factor->window_ms < 0) {
        return CASH_SECOND_FACTOR_REQUIRED;
    }
    if (factor->verification_id != NULL) {
        result = factor_find_named(conn, factor, &v);
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
        /* The row is locked and was usable: nothing else can have spent it. */
        log_error("store: spending a locked, usable verification changed %lld rows",
                  (long long)changes);
        result = CASH_INTERNAL_ERROR;
    }
    if (result == CASH_OK) {
        *confirmed_ms_out = v.confirmed_ms;
    }
    return result;
}

/* ---- within the abuse limits (SPEC 5) ---- */

static cash_result verification_open_body(struct pg_conn *conn, void *context_pointer)
{
    struct verification_context *context = context_pointer;
    const struct verification *v = context->v;
    struct member_guard guard;
    int64_t balance = 0;
    int64_t point = 0;
    /* The account's lock first: the counts below and the insert are then one step. */
    cash_result result = pg_account_lock(conn, v->account_id, &balance, &point);
    if (result == CASH_OK) {
        result = guard_check(&conn->tx, v->member_id, v->created_ms, context->limits, &guard);
    }
    if (result == CASH_OK) {
        result = guard_rate_check(&conn->tx, v->member_id, v->account_id, v->created_ms, context->limits);
    }
    if (result != CASH_OK) {
        return result;
    }
    return verification_insert(conn, context);
}

/* Creates a verification within the abuse limits, in one transaction (store.h). */
cash_result pg_verification_open(struct store *store, const struct verification *v,
                                 struct verification_limits *limits, struct store_request *request)
{
    if (v->status == VERIFICATION_EXPIRED || v->attempts < 0 || v->uses < 0) {
        return CASH_VALIDATION_ERROR;
    }
    struct verification_context context = {.v = v, .limits = limits};
    const struct pg_request_work work = {
        .body = verification_open_body,
        .context = &context,
        .row = v,
    };
    return pg_request_run(pg_store_of(store), request, &work);
}

/*
 * With a refusal for too many attempts: when a new verification may be asked for - at least a
 * second from now, the end of the member's lock, the end of a creation limit.
 */
static cash_result verification_retry_after(struct pg_conn *conn, const struct verification *v,
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
static cash_result verification_code_counts(struct pg_conn *conn, const struct verification *v,
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
static cash_result verification_try_record(struct pg_conn *conn, const struct verification *before,
                                           bool correct, const struct verification_try *attempt,
                                           bool *locked_out)
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
        log_error("store: verification try: the locked PENDING row did not change");
        result = CASH_INTERNAL_ERROR;
    }
    if (result == CASH_OK) {
        result = guard_record(&conn->tx, before->member_id, !correct, attempt->now_ms,
                                 attempt->limits, locked_out);
    }
    return result;
}

/* The verification's row, then its member's row, locked; the member's guard as it stands. */
static cash_result verification_try_lock(struct pg_conn *conn, struct verification_try *attempt,
                                         struct verification *before, struct member_guard *guard)
{
    cash_result result =
        verification_read(conn, SQL_VERIFICATION_LOCK, attempt->verification_id, before);
    if (result == CASH_OK) {
        result = member_lock(&conn->tx, before->member_id);
        result = result == CASH_NOT_FOUND ? CASH_INTERNAL_ERROR : result;
    }
    if (result == CASH_OK) {
        result = guard_check(&conn->tx, before->member_id, attempt->now_ms, attempt->limits, guard);
    }
    return result;
}

static cash_result verification_try_body(struct pg_conn *conn, void *context_pointer)
{
    struct verification_context *context = context_pointer;
    struct verification_try *attempt = context->attempt;
    struct verification before;
    struct member_guard guard;
    bool correct = false;
    bool locked = false;
    attempt->code_reused = false; /* a run again starts from the inputs */
    cash_result result = verification_try_lock(conn, attempt, &before, &guard);
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
        result =
            verification_read(conn, SQL_VERIFICATION_GET, attempt->verification_id, &attempt->out);
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
cash_result pg_verification_try(struct store *store, struct verification_try *attempt,
                                struct store_request *request)
{
    if (attempt->limits == NULL || attempt->limits->failures_max < 1) {
        return CASH_INTERNAL_ERROR;
    }
    struct verification_context context = {.attempt = attempt, .outcome = CASH_INTERNAL_ERROR};
    attempt->code_reused = false;
    const struct pg_request_work work = {
        .body = verification_try_body,
        .context = &context,
        .outcome = &context.outcome,
        .row = &attempt->out,
    };
    cash_result result = pg_request_run(pg_store_of(store), request, &work);
    if (result != CASH_OK || (request != NULL && request->replayed)) {
        return result;
    }
    return context.outcome;
}

/* Writes what verification_call_apply() decided; the row is locked and PENDING. */
static cash_result verification_call_write(struct pg_conn *conn, const struct verification *after,
                                           const char *verification_id)
{
    struct pg_params params;
    pg_params_start(&params);
    pg_param_text(&params, verification_status_name(after->status));
    pg_param_text(&params, verification_call_status_name(after->call_status));
    pg_param_int64(&params, after->attempts);
    pg_param_int64(&params, after->confirmed_ms);
    pg_param_text(&params, verification_id);
    cash_result result = CASH_OK;
    PGresult *res = pg_exec(conn, SQL_VERIFICATION_CALL, &params, "verification call", &result);
    if (res == NULL) {
        return result;
    }
    if (pg_changes(res) != 1) {
        result = CASH_INTERNAL_ERROR; /* the row lock rules out another writer in between */
    }
    PQclear(res);
    return result;
}

static cash_result verification_call_body(struct pg_conn *conn, void *context_pointer)
{
    struct verification_call *call = ((struct verification_context *)context_pointer)->call;
    struct verification before;
    struct verification after;
    cash_result result =
        verification_read(conn, SQL_VERIFICATION_LOCK, call->verification_id, &before);
    if (result == CASH_OK) {
        result = verification_call_apply(&before, call->reported, call->digits_correct,
                                         call->now_ms, call->window_ms, &after);
    }
    if (result == CASH_OK) {
        result = verification_call_write(conn, &after, call->verification_id);
    }
    if (result == CASH_OK && after.call_status != CALL_NO_ANSWER &&
        after.call_status != CALL_FAILED) {
        result = member_lock(&conn->tx, before.member_id);
        result = result == CASH_NOT_FOUND ? CASH_INTERNAL_ERROR : result;
        if (result == CASH_OK) {
            result = guard_record(&conn->tx, before.member_id, after.call_status == CALL_WRONG_DIGITS,
                                     call->now_ms, call->limits, NULL);
        }
    }
    if (result == CASH_OK) {
        result = verification_read(conn, SQL_VERIFICATION_GET, call->verification_id, &call->out);
    }
    return result;
}

/* Applies the phone gateway's report in one transaction (store.h). */
cash_result pg_verification_call_result(struct store *store, struct verification_call *call)
{
    if (call->limits == NULL || call->limits->failures_max < 1) {
        return CASH_INTERNAL_ERROR;
    }
    struct verification_context context = {.call = call};
    return pg_run(pg_store_of(store), PG_WRITE, verification_call_body, &context);
}
