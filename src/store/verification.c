/*
 * verification.c - verifications, the spending of a second factor, the abuse limits (docs/API.md
 * "Abuse limits") and enrolled authenticator apps (SPEC 5), written once over the driver seam.
 * The rules are domain/verification.h and domain/abuse.h; this file applies them inside
 * transactions to rows read under their lock (SQL_VERIFICATION_LOCK: FOR UPDATE where the driver
 * has row locks, a plain read where SQLite's one writer serialises), so that two processes can
 * neither both spend the last use nor both count the same wrong code: the second waits for the
 * first to commit and then sees its result. Likewise for the abuse limits:
 * - a member's guard (consecutive wrong codes, lock) is read and rewritten under the member's
 *   row lock (member_lock), so that two wrong codes at once count two;
 * - the creation limits are counted under the account's row lock (account_lock), taken by
 *   store_verification_open before it counts, so that two processes cannot both take the last
 *   place;
 * - a TOTP step is accepted by a conditional UPDATE (last_step < step): once, whoever asks.
 *
 * Locks are taken in the store's one order: the verification row, then the member's row
 * (member_lock) or the account's (account_lock), then (in a withdrawal) the withdrawal's row.
 */
#include <string.h>

#include "common/log.h"
#include "domain/abuse.h"
#include "domain/names.h"
#include "domain/verification.h"
#include "store/store_internal.h"

/* ---- abuse limits and TOTP enrolments ---- */
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

/* The member's lock (CASH_TOO_MANY_ATTEMPTS, limits->retry_after_ms until it ends) and
 * *guard_out as stored (zeros when none). */
static cash_result guard_check(struct db_tx *tx, const char *member_id, int64_t now_ms,
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

/* A right (failed false) or wrong code of the member, under the member's lock; *locked_out (may
 * be NULL) true if it locked the member. */
static cash_result guard_record(struct db_tx *tx, const char *member_id, bool failed,
                                int64_t now_ms, const struct verification_limits *limits,
                                bool *locked_out)
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

/* The member's, then the account's creation limit (CASH_TOO_MANY_REQUESTS, limits->retry_after_ms
 * until a place is free), under the account's lock (account_lock), so that two processes cannot
 * both take the last place. */
static cash_result guard_rate_check(struct db_tx *tx, const char *member_id, const char *account_id,
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

/* step becomes the member's newest accepted TOTP step if it is newer than the stored one;
 * *accepted_out false when it is not (a code used already) or there is no enrolment. */
static cash_result totp_accept(struct db_tx *tx, const char *member_id, int64_t step,
                               bool *accepted_out)
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

/* ---- verifications ---- */
static cash_result verification_row_read(struct db_stmt *stmt, void *out_pointer)
{
    struct verification *out = out_pointer;
    struct db_row row;
    db_row_start_clear(&row, stmt, out, sizeof(*out));
    db_row_text(&row, out->verification_id, sizeof(out->verification_id));
    db_row_text(&row, out->member_id, sizeof(out->member_id));
    db_row_text(&row, out->account_id, sizeof(out->account_id));
    db_row_verification_method(&row, &out->method);
    db_row_verification_status(&row, &out->status);
    db_row_text(&row, out->code_hash, sizeof(out->code_hash));
    out->attempts = db_row_int64(&row);
    out->uses = db_row_int64(&row);
    out->created_ms = db_row_int64(&row);
    out->confirmed_ms = db_row_int64(&row);
    if (!verification_call_status_parse(db_row_text_view(&row), &out->call_status)) {
        row.ok = false;
    }
    return db_row_check(&row, "verification get");
}

/* One verification by id, read with statement id (SQL_VERIFICATION_GET or the locking
 * SQL_VERIFICATION_LOCK); CASH_NOT_FOUND if there is none. */
static cash_result verification_read(struct db_tx *tx, enum sql_id id, const char *verification_id,
                                     struct verification *out)
{
    return db_read_key(tx, id, verification_id, verification_row_read, out);
}

/* One UPDATE of a verification by id taking (number, id), on a row read under its lock: it must
 * change that row (what names it in the log otherwise). */
static cash_result verification_update(struct db_tx *tx, enum sql_id id, int64_t number,
                                       const char *verification_id, const char *what)
{
    struct db_stmt *stmt = db_statement(tx, id);
    db_bind_int64(stmt, number);
    db_bind_text(stmt, verification_id);
    cash_result result = db_exec_one(stmt, CASH_NOT_FOUND);
    if (result == CASH_NOT_FOUND) {
        log_error("store: %s: the locked row did not change", what);
        result = CASH_INTERNAL_ERROR;
    }
    return result;
}

/* A code on a PENDING row read under its lock: a right one confirms it at now_ms, a wrong one
 * counts an attempt (the VERIFICATION_ATTEMPTS_MAX-th locks it). */
static cash_result verification_record(struct db_tx *tx, const char *verification_id, bool correct,
                                       int64_t now_ms)
{
    if (correct) {
        return verification_update(tx, SQL_VERIFICATION_CONFIRM, now_ms, verification_id,
                                   "a right verification code");
    }
    return verification_update(tx, SQL_VERIFICATION_WRONG, VERIFICATION_ATTEMPTS_MAX,
                               verification_id, "a wrong verification code");
}

/* Locks the member of a stored verification for the transaction where the driver has row locks
 * (guard_record needs it held, so that the read and the write of the guard are one step across
 * processes); its absence breaks a foreign key. */
static cash_result member_lock(struct db_tx *tx, const char *member_id)
{
    cash_result result = db_step_key(tx, SQL_MEMBER_LOCK, member_id, NULL);
    return result == CASH_NOT_FOUND ? CASH_INTERNAL_ERROR : result;
}

/* ---- create, get, fail ---- */
struct verification_context {
    const char *verification_id;
    const struct verification *v;
    bool code_correct;
    int64_t now_ms;
    int64_t window_ms;
    cash_result outcome; /* the answer of an attempt or a try, committed either way */
    struct verification out;
    struct verification_limits *limits; /* open: the abuse limits */
    struct verification_try *attempt;
    struct verification_call *call;
};

static bool verification_insertable(const struct verification *v)
{
    return v->status != VERIFICATION_EXPIRED && v->attempts >= 0 && v->uses >= 0;
}

/* CASH_NOT_FOUND unless the member exists in the account, then the INSERT. */
static cash_result verification_insert(struct db_tx *tx, const struct verification *v)
{
    struct db_stmt *stmt = db_statement(tx, SQL_VERIFICATION_MEMBER_EXISTS);
    db_bind_text(stmt, v->member_id);
    db_bind_text(stmt, v->account_id);
    cash_result result = db_step(stmt);
    if (result != CASH_OK) {
        return result;
    }
    stmt = db_statement(tx, SQL_VERIFICATION_INSERT);
    db_bind_text(stmt, v->verification_id);
    db_bind_text(stmt, v->member_id);
    db_bind_text(stmt, v->account_id);
    db_bind_text(stmt, verification_method_name(v->method));
    db_bind_text(stmt, verification_status_name(v->status));
    db_bind_text(stmt, v->code_hash);
    db_bind_int64(stmt, v->attempts);
    db_bind_int64(stmt, v->uses);
    db_bind_int64(stmt, v->created_ms);
    db_bind_int64(stmt, v->confirmed_ms);
    db_bind_text(stmt, verification_call_status_name(v->call_status));
    return db_exec(stmt, NULL);
}

static cash_result verification_create_body(struct db_tx *tx, void *context_pointer)
{
    return verification_insert(tx, ((struct verification_context *)context_pointer)->v);
}

/* Stores a new verification (store.h): CASH_NOT_FOUND unless its member exists in its account,
 * CASH_CONFLICT for a used id, CASH_VALIDATION_ERROR for the derived status EXPIRED. */
cash_result store_verification_create(struct store *store, const struct verification *v)
{
    if (!verification_insertable(v)) {
        return CASH_VALIDATION_ERROR;
    }
    struct verification_context context = {.v = v};
    return db_run(store, DB_WRITE, verification_create_body, &context);
}

/* Reads one verification as stored (store.h); CASH_NOT_FOUND if there is none. */
cash_result store_verification_get(struct store *store, const char *verification_id,
                                   struct verification *out)
{
    return db_get(store, SQL_VERIFICATION_GET, verification_id, verification_row_read, out,
                  sizeof(*out));
}

static cash_result verification_fail_body(struct db_tx *tx, void *context_pointer)
{
    struct verification_context *context = context_pointer;
    struct db_stmt *stmt = db_statement(tx, SQL_VERIFICATION_FAIL);
    db_bind_text(stmt, context->verification_id);
    cash_result result = db_exec_one(stmt, CASH_NOT_FOUND);
    if (result != CASH_NOT_FOUND) {
        return result;
    }
    struct verification v;
    result = verification_read(tx, SQL_VERIFICATION_GET, context->verification_id, &v);
    return result == CASH_OK ? CASH_INVALID_STATUS : result;
}

/* Marks a PENDING verification FAILED (store.h); CASH_INVALID_STATUS for any other status,
 * CASH_NOT_FOUND if there is none. */
cash_result store_verification_fail(struct store *store, const char *verification_id)
{
    struct verification_context context = {.verification_id = verification_id};
    return db_run(store, DB_WRITE, verification_fail_body, &context);
}

/* ---- an attempt at the code ---- */
static cash_result verification_attempt_body(struct db_tx *tx, void *context_pointer)
{
    struct verification_context *context = context_pointer;
    struct verification before;
    cash_result result =
        verification_read(tx, SQL_VERIFICATION_LOCK, context->verification_id, &before);
    if (result == CASH_OK) {
        result = verification_check_attempt(&before, context->now_ms, context->window_ms);
    }
    if (result == CASH_OK) {
        result = verification_record(tx, context->verification_id, context->code_correct,
                                     context->now_ms);
    }
    if (result == CASH_OK) {
        result =
            verification_read(tx, SQL_VERIFICATION_GET, context->verification_id, &context->out);
    }
    if (result != CASH_OK) {
        return result; /* nothing recorded: roll back */
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

/* One attempt at the code in one transaction on the locked row (store.h); a wrong code is
 * committed and answered CASH_INVALID_VERIFICATION_CODE or CASH_TOO_MANY_ATTEMPTS. */
cash_result store_verification_attempt(struct store *store, const char *verification_id,
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
    cash_result result = db_run(store, DB_WRITE, verification_attempt_body, &context);
    if (result != CASH_OK) {
        return result;
    }
    *out = context.out;
    return context.outcome;
}

/* ---- spending a second factor ---- */
static bool factor_usable(const struct verification *v, const struct second_factor *factor)
{
    return verification_usable(v, factor->member_id, factor->now_ms, factor->window_ms,
                               factor->uses_max);
}

/* The oldest usable verification of the member, locked with every candidate, into *out. */
static cash_result factor_find_oldest(struct db_tx *tx, const struct second_factor *factor,
                                      struct verification *out)
{
    struct db_stmt *stmt = db_statement(tx, SQL_FACTOR_CANDIDATES);
    db_bind_text(stmt, factor->member_id);
    db_bind_int64(stmt, factor->now_ms - factor->window_ms);
    db_bind_int64(stmt, factor->uses_max);
    cash_result result = db_step(stmt);
    for (; result == CASH_OK; result = db_step(stmt)) {
        result = verification_row_read(stmt, out);
        if (result != CASH_OK) {
            return result;
        }
        /* The SQL narrows the search; the domain rule decides (same rule as a named one). */
        if (factor_usable(out, factor)) {
            return CASH_OK;
        }
    }
    return result == CASH_NOT_FOUND ? CASH_SECOND_FACTOR_REQUIRED : result;
}

/* The named verification, locked, if it is usable by this member now. */
static cash_result factor_find_named(struct db_tx *tx, const struct second_factor *factor,
                                     struct verification *out)
{
    cash_result result = verification_read(tx, SQL_VERIFICATION_LOCK, factor->verification_id, out);
    if (result == CASH_NOT_FOUND || (result == CASH_OK && !factor_usable(out, factor))) {
        result = CASH_SECOND_FACTOR_REQUIRED;
    }
    return result;
}

/* SPEC 5: finds and spends one use of the second factor in the caller's transaction
 * (store_internal.h), the verification row locked first. */
cash_result factor_spend(struct db_tx *tx, const struct second_factor *factor,
                         int64_t *confirmed_ms_out)
{
    struct verification v;
    cash_result result = CASH_OK;
    if (factor->member_id == NULL || factor->uses_max < 1 || factor->window_ms < 0) {
        return CASH_SECOND_FACTOR_REQUIRED;
    }
    if (factor->verification_id != NULL) {
        result = factor_find_named(tx, factor, &v);
    } else {
        result = factor_find_oldest(tx, factor, &v);
    }
    if (result != CASH_OK) {
        return result;
    }
    /* v's id is bound by reference for this one statement, which runs before v goes out of
     * scope; no driver reads a bound value after its statement ran. Read usable under the row's
     * lock (or by the one writer): nothing can have spent it meanwhile. */
    result = verification_update(tx, SQL_FACTOR_SPEND, factor->uses_max, v.verification_id,
                                 "spending a usable verification");
    if (result == CASH_OK) {
        *confirmed_ms_out = v.confirmed_ms;
    }
    return result;
}

/* ---- within the abuse limits (SPEC 5) ---- */
static cash_result verification_open_body(struct db_tx *tx, void *context_pointer)
{
    struct verification_context *context = context_pointer;
    const struct verification *v = context->v;
    struct member_guard guard;
    /* The account's lock first: the counts below and the insert are then one step. */
    cash_result result = account_lock(tx, v->account_id, NULL, NULL);
    if (result == CASH_OK) {
        result = guard_check(tx, v->member_id, v->created_ms, context->limits, &guard);
    }
    if (result == CASH_OK) {
        result = guard_rate_check(tx, v->member_id, v->account_id, v->created_ms, context->limits);
    }
    if (result != CASH_OK) {
        return result;
    }
    return verification_insert(tx, v);
}

/* Creates a verification within the abuse limits, in one transaction (store.h). */
cash_result store_verification_open(struct store *store, const struct verification *v,
                                    struct verification_limits *limits,
                                    struct store_request *request)
{
    if (!store_request_valid(request) || !verification_insertable(v)) {
        return CASH_VALIDATION_ERROR;
    }
    struct verification_context context = {.v = v, .limits = limits};
    return request_run(store, request, verification_open_body, &context, NULL, v);
}

/* With a refusal for too many attempts: when a new verification may be asked for - at least a
 * second from now, the end of the member's lock, the end of a creation limit. */
static cash_result verification_retry_after(struct db_tx *tx, const struct verification *v,
                                            const struct member_guard *guard, int64_t now_ms,
                                            struct verification_limits *limits)
{
    int64_t wait_ms = 1000;
    if (member_guard_locked(guard, now_ms) && guard->locked_until_ms - now_ms > wait_ms) {
        wait_ms = guard->locked_until_ms - now_ms;
    }
    struct verification_limits probe = *limits;
    cash_result result = guard_rate_check(tx, v->member_id, v->account_id, now_ms, &probe);
    if (result == CASH_TOO_MANY_REQUESTS && probe.retry_after_ms > wait_ms) {
        wait_ms = probe.retry_after_ms;
    } else if (result != CASH_OK && result != CASH_TOO_MANY_REQUESTS) {
        return result;
    }
    limits->retry_after_ms = wait_ms;
    return CASH_TOO_MANY_ATTEMPTS;
}

/* TOTP: a right code counts only for a step newer than the member's last accepted one. */
static cash_result verification_code_counts(struct db_tx *tx, const struct verification *v,
                                            struct verification_try *attempt, bool *correct_out)
{
    *correct_out = attempt->code_correct;
    if (!attempt->code_correct || v->method != VERIFICATION_TOTP) {
        return CASH_OK;
    }
    bool accepted = false;
    cash_result result = totp_accept(tx, v->member_id, attempt->totp_step, &accepted);
    if (result == CASH_OK && !accepted) {
        *correct_out = false;
        attempt->code_reused = true;
    }
    return result;
}

/* The verification's row, then its member's row, locked; the member's guard as it stands. */
static cash_result verification_try_lock(struct db_tx *tx, struct verification_try *attempt,
                                         struct verification *before, struct member_guard *guard)
{
    cash_result result =
        verification_read(tx, SQL_VERIFICATION_LOCK, attempt->verification_id, before);
    if (result == CASH_OK) {
        result = member_lock(tx, before->member_id);
    }
    if (result == CASH_OK) {
        result = guard_check(tx, before->member_id, attempt->now_ms, attempt->limits, guard);
    }
    return result;
}

/* Records the try: the verification's row, then the member's guard; *locked_out if it locked. */
static cash_result verification_try_record(struct db_tx *tx, const struct verification *before,
                                           bool correct, const struct verification_try *attempt,
                                           bool *locked_out)
{
    cash_result result = verification_record(tx, before->verification_id, correct, attempt->now_ms);
    if (result == CASH_OK) {
        result = guard_record(tx, before->member_id, !correct, attempt->now_ms, attempt->limits,
                              locked_out);
    }
    return result;
}

static cash_result verification_try_body(struct db_tx *tx, void *context_pointer)
{
    struct verification_context *context = context_pointer;
    struct verification_try *attempt = context->attempt;
    struct verification before;
    struct member_guard guard;
    bool correct = false;
    bool locked = false;
    attempt->code_reused = false; /* a run again starts from the inputs */
    cash_result result = verification_try_lock(tx, attempt, &before, &guard);
    if (result == CASH_OK) {
        result = verification_check_attempt(&before, attempt->now_ms, attempt->window_ms);
        if (result == CASH_TOO_MANY_ATTEMPTS) {
            result =
                verification_retry_after(tx, &before, &guard, attempt->now_ms, attempt->limits);
        }
    }
    if (result == CASH_OK) {
        result = verification_code_counts(tx, &before, attempt, &correct);
    }
    if (result == CASH_OK) {
        result = verification_try_record(tx, &before, correct, attempt, &locked);
    }
    if (result == CASH_OK) {
        result =
            verification_read(tx, SQL_VERIFICATION_GET, attempt->verification_id, &attempt->out);
    }
    if (result != CASH_OK) {
        return result; /* nothing recorded: roll back */
    }
    context->outcome = correct ? CASH_OK : CASH_INVALID_VERIFICATION_CODE;
    if (!correct && (attempt->out.status == VERIFICATION_LOCKED || locked)) {
        guard.locked_until_ms = locked ? attempt->now_ms + attempt->limits->lock_ms : 0;
        context->outcome =
            verification_retry_after(tx, &attempt->out, &guard, attempt->now_ms, attempt->limits);
        if (context->outcome != CASH_TOO_MANY_ATTEMPTS) {
            return context->outcome;
        }
    }
    return CASH_OK; /* commit: a wrong code counts */
}

/* One try at a code within the abuse limits, in one transaction (store.h). */
cash_result store_verification_try(struct store *store, struct verification_try *attempt,
                                   struct store_request *request)
{
    if (!store_request_valid(request)) {
        return CASH_VALIDATION_ERROR;
    }
    if (attempt->limits == NULL || attempt->limits->failures_max < 1) {
        return CASH_INTERNAL_ERROR;
    }
    struct verification_context context = {.attempt = attempt, .outcome = CASH_INTERNAL_ERROR};
    attempt->code_reused = false;
    cash_result result = request_run(store, request, verification_try_body, &context,
                                     &context.outcome, &attempt->out);
    return request_fresh(request, result) ? context.outcome : result;
}

/* ---- the phone gateway's report ---- */
/* Writes what verification_call_apply() decided; the row is locked and PENDING. */
static cash_result verification_call_write(struct db_tx *tx, const struct verification *after,
                                           const char *verification_id)
{
    struct db_stmt *stmt = db_statement(tx, SQL_VERIFICATION_CALL);
    db_bind_text(stmt, verification_status_name(after->status));
    db_bind_text(stmt, verification_call_status_name(after->call_status));
    db_bind_int64(stmt, after->attempts);
    db_bind_int64(stmt, after->confirmed_ms);
    db_bind_text(stmt, verification_id);
    /* The row's lock rules out another writer in between. */
    return db_exec_one(stmt, CASH_INTERNAL_ERROR);
}

/* Digits typed right or wrong count for the member's guard, under the member's lock. */
static cash_result verification_call_guard(struct db_tx *tx, const struct verification_call *call,
                                           const struct verification *before,
                                           enum verification_call_status outcome)
{
    if (outcome == CALL_NO_ANSWER || outcome == CALL_FAILED) {
        return CASH_OK; /* no digits: nothing to count */
    }
    cash_result result = member_lock(tx, before->member_id);
    if (result != CASH_OK) {
        return result;
    }
    return guard_record(tx, before->member_id, outcome == CALL_WRONG_DIGITS, call->now_ms,
                        call->limits, NULL);
}

static cash_result verification_call_body(struct db_tx *tx, void *context_pointer)
{
    struct verification_call *call = ((struct verification_context *)context_pointer)->call;
    struct verification before;
    struct verification after;
    cash_result result =
        verification_read(tx, SQL_VERIFICATION_LOCK, call->verification_id, &before);
    if (result == CASH_OK) {
        result = verification_call_apply(&before, call->reported, call->digits_correct,
                                         call->now_ms, call->window_ms, &after);
    }
    if (result == CASH_OK) {
        result = verification_call_write(tx, &after, call->verification_id);
    }
    if (result == CASH_OK) {
        result = verification_call_guard(tx, call, &before, after.call_status);
    }
    if (result == CASH_OK) {
        result = verification_read(tx, SQL_VERIFICATION_GET, call->verification_id, &call->out);
    }
    return result;
}

/* Applies the phone gateway's report in one transaction (store.h). */
cash_result store_verification_call_result(struct store *store, struct verification_call *call)
{
    if (call->limits == NULL || call->limits->failures_max < 1) {
        return CASH_INTERNAL_ERROR;
    }
    struct verification_context context = {.call = call};
    return db_run(store, DB_WRITE, verification_call_body, &context);
}
