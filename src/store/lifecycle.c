/*
 * lifecycle.c - the life of a withdrawal after PENDING (SPEC 4, 6), written once over the driver
 * seam: operator confirmations, rejections with their refund, the event history, the payout
 * worker's claims and the bank's answer, and the event writer that withdraw.c shares.
 *
 * Locks, where the driver has them, always in this order so that no two transactions wait on
 * each other in a circle: the account row (account_lock, taken by everything that moves money),
 * then the withdrawal row (SQL_WITHDRAWAL_LOCK, or the UPDATE itself). A confirmation moves no
 * money and takes only the withdrawal row. SQLite's one writer serialises without them. Every
 * transition is also a conditional UPDATE (WHERE status ... AND is_processing = 0) that must
 * change one row, so that a transition that lost a race changes nothing and answers
 * CASH_INVALID_STATUS. Events are numbered under the withdrawal row's lock.
 *
 * A payout claim is one conditional UPDATE (status CONFIRMED and either not processing or
 * processing under a lease that ran out) that must change one row. Two workers that picked the
 * same row: on PostgreSQL the second UPDATE waits for the first, re-reads the row, finds it no
 * longer claimable and changes nothing; on SQLite the writers follow one another and the second
 * finds the same. The claim is then tried again with another pick. The settlement is guarded by
 * the claim's owner, so a worker that lost its claim can never record an outcome and a FAILED
 * refund is written at most once. A FAILED settlement moves money, so it takes the account's lock
 * before the withdrawal's (withdrawal_lock_with_account), as every money move does.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "domain/names.h"
#include "domain/withdraw_state.h"
#include "store/store_internal.h"

/* ---- shared inside a transaction (store_internal.h) ---- */
/* A withdrawal, unlocked, inside the caller's transaction; CASH_NOT_FOUND if none. */
static cash_result withdrawal_read(struct db_tx *tx, const char *withdraw_id,
                                   struct withdrawal *out)
{
    return db_read_key(tx, SQL_WITHDRAWAL_GET, withdraw_id, withdraw_row_read, out);
}

/* A withdrawal, its row locked (FOR UPDATE) for the rest of the transaction where the driver has
 * row locks: a transaction that moves the withdrawal's money takes its account's lock before it
 * (withdrawal_lock_with_account). */
static cash_result withdrawal_lock(struct db_tx *tx, const char *withdraw_id,
                                   struct withdrawal *out)
{
    return db_read_key(tx, SQL_WITHDRAWAL_LOCK, withdraw_id, withdraw_row_read, out);
}

/* The locks of a transaction that moves a withdrawal's money, in their one order: reads the
 * withdrawal to find its account, locks the account (account_lock), then locks the withdrawal row
 * and reads it again as it is now. CASH_NOT_FOUND if there is no such withdrawal. */
static cash_result withdrawal_lock_with_account(struct db_tx *tx, const char *withdraw_id,
                                                struct withdrawal *out)
{
    cash_result result = withdrawal_read(tx, withdraw_id, out);
    if (result != CASH_OK) {
        return result;
    }
    result = account_lock(tx, out->account_id, NULL, NULL);
    if (result == CASH_OK) {
        result = withdrawal_lock(tx, withdraw_id, out); /* as it is after the account's lock */
    }
    /* A withdrawal never loses its account, nor its row once read. */
    return result == CASH_NOT_FOUND ? CASH_INTERNAL_ERROR : result;
}

/* Appends one event, numbered after the last (store_internal.h). */
cash_result event_insert(struct db_tx *tx, const char *withdraw_id, const char *actor_kind,
                         const char *actor_name, const enum withdraw_status *from,
                         enum withdraw_status to, const char *memo, int64_t now_ms)
{
    char actor[WITHDRAW_ACTOR_BYTES_MAX + 1];
    snprintf(actor, sizeof(actor), "%s:%s", actor_kind, actor_name);
    struct db_stmt *stmt = db_statement(tx, SQL_EVENT_INSERT);
    db_bind_text(stmt, withdraw_id);
    db_bind_text(stmt, actor);
    db_bind_text(stmt, from != NULL ? withdraw_status_name(*from) : "");
    db_bind_text(stmt, withdraw_status_name(to));
    db_bind_text(stmt, memo);
    db_bind_int64(stmt, now_ms);
    return db_exec(stmt, NULL);
}

/* ---- helpers ---- */
/* One COUNT(*) of a statement bound with one or two texts (second may be NULL). */
static cash_result life_count(struct db_tx *tx, enum sql_id id, const char *first,
                              const char *second, int64_t *count_out)
{
    struct db_stmt *stmt = db_statement(tx, id);
    db_bind_text(stmt, first);
    if (second != NULL) {
        db_bind_text(stmt, second);
    }
    return db_step_int64(stmt, "lifecycle count", count_out);
}

/* The actor name of an operator: "-" for a rejection that names none. */
static const char *operator_actor(const char *operator_name)
{
    return operator_name[0] != '\0' ? operator_name : "-";
}

/* ---- confirm ---- */
/* A confirmation's, a rejection's or a settlement's input, and the withdrawal it leaves. */
struct withdrawal_call {
    const void *request;
    struct withdrawal out;
};

static cash_result confirm_update(struct db_tx *tx, const struct withdraw_confirm *request,
                                  const struct withdraw_confirm_outcome *outcome)
{
    struct db_stmt *stmt = db_statement(tx, SQL_CONFIRM_UPDATE);
    db_bind_int64(stmt, outcome->confirmed_count);
    db_bind_text(stmt, withdraw_status_name(outcome->status));
    db_bind_int64(stmt, request->now_ms);
    db_bind_text(stmt, request->withdraw_id);
    return db_exec_one(stmt, CASH_INVALID_STATUS); /* lost a race */
}

/* Records this operator's confirmation, counts them (domain's rule), moves the withdrawal. */
static cash_result confirm_record(struct db_tx *tx, const struct withdraw_confirm *request,
                                  const struct withdrawal *before)
{
    struct db_stmt *stmt = db_statement(tx, SQL_CONFIRMATION_INSERT);
    db_bind_text(stmt, before->withdraw_id);
    db_bind_text(stmt, request->operator_name);
    db_bind_int64(stmt, request->now_ms);
    cash_result result = db_exec(stmt, NULL);
    int64_t count = 0;
    if (result == CASH_OK) {
        result = life_count(tx, SQL_CONFIRMATION_COUNT, before->withdraw_id, NULL, &count);
    }
    if (result != CASH_OK) {
        return result;
    }
    const struct withdraw_confirm_outcome outcome =
        withdraw_confirm_counted(count, before->total_amount_won, request->dual_confirm_at_won);
    result = confirm_update(tx, request, &outcome);
    if (result != CASH_OK) {
        return result;
    }
    char memo[64];
    snprintf(memo, sizeof memo, "confirmation %" PRId64 " of %" PRId64, outcome.confirmed_count,
             outcome.required);
    const enum withdraw_status from = WITHDRAW_PENDING;
    return event_insert(tx, before->withdraw_id, "operator", operator_actor(request->operator_name),
                        &from, outcome.status, memo, request->now_ms);
}

static cash_result confirm_body(struct db_tx *tx, void *context_pointer)
{
    struct withdrawal_call *context = context_pointer;
    const struct withdraw_confirm *request = context->request;
    struct withdrawal before;
    cash_result result = withdrawal_lock(tx, request->withdraw_id, &before);
    if (result != CASH_OK) {
        return result;
    }
    int64_t already = 0;
    result =
        life_count(tx, SQL_CONFIRMED_BY, request->withdraw_id, request->operator_name, &already);
    if (result != CASH_OK) {
        return result;
    }
    enum withdraw_confirm_action action = withdraw_confirm_decide(&before, already > 0);
    if (action == WITHDRAW_CONFIRM_REPEAT) {
        context->out = before; /* SPEC 4: the same operator twice counts once */
        return CASH_OK;
    }
    if (action == WITHDRAW_CONFIRM_REFUSED) {
        return CASH_INVALID_STATUS;
    }
    result = confirm_record(tx, request, &before);
    if (result == CASH_OK) {
        result = withdrawal_read(tx, request->withdraw_id, &context->out);
    }
    return result;
}

/* An operator confirms a withdrawal (store.h): CASH_VALIDATION_ERROR for a name that is not
 * withdraw_operator_name_valid(); *out is the withdrawal afterwards. */
cash_result store_withdraw_confirm(struct store *store, const struct withdraw_confirm *request,
                                   struct withdrawal *out)
{
    if (!withdraw_operator_name_valid(request->operator_name)) {
        return CASH_VALIDATION_ERROR;
    }
    struct withdrawal_call context = {.request = request};
    return db_run_out(store, DB_WRITE, confirm_body, &context, out, &context.out, sizeof(*out));
}

/* ---- reject ---- */
static cash_result reject_update(struct db_tx *tx, const struct withdraw_reject *request)
{
    struct db_stmt *stmt = db_statement(tx, SQL_REJECT_UPDATE);
    db_bind_text(stmt, request->memo);
    db_bind_int64(stmt, request->now_ms);
    db_bind_text(stmt, request->withdraw_id);
    return db_exec_one(stmt, CASH_INVALID_STATUS); /* lost a race */
}

/* SPEC 3, 4: the whole totalAmount back (domain's refund), and the event. */
static cash_result reject_refund(struct db_tx *tx, const struct withdraw_reject *request,
                                 const struct withdrawal *before)
{
    cash_result result = ledger_refund(tx, before, withdraw_refund_won(before, WITHDRAW_REJECTED),
                                       request->history_id, request->now_ms);
    if (result != CASH_OK) {
        return result;
    }
    return event_insert(tx, before->withdraw_id, "operator", operator_actor(request->operator_name),
                        &before->status, WITHDRAW_REJECTED, request->memo, request->now_ms);
}

static cash_result reject_body(struct db_tx *tx, void *context_pointer)
{
    struct withdrawal_call *context = context_pointer;
    const struct withdraw_reject *request = context->request;
    struct withdrawal before;
    cash_result result = withdrawal_lock_with_account(tx, request->withdraw_id, &before);
    if (result != CASH_OK) {
        return result;
    }
    if (!withdraw_transition_allowed(before.status, WITHDRAW_REJECTED, before.is_processing)) {
        return CASH_INVALID_STATUS;
    }
    result = reject_update(tx, request);
    if (result == CASH_OK) {
        result = reject_refund(tx, request, &before);
    }
    if (result == CASH_OK) {
        result = withdrawal_read(tx, request->withdraw_id, &context->out);
    }
    if (result == CASH_OK) {
        assert(context->out.status == WITHDRAW_REJECTED);
    }
    return result;
}

/* An operator rejects a withdrawal with a refund (store.h): CASH_VALIDATION_ERROR for a memo that
 * is not withdraw_memo_valid() or a name (when given) that is not withdraw_operator_name_valid();
 * *out is the withdrawal afterwards. */
cash_result store_withdraw_reject(struct store *store, const struct withdraw_reject *request,
                                  struct withdrawal *out)
{
    const char *name = request->operator_name;
    if (!withdraw_memo_valid(request->memo) || name == NULL ||
        (name[0] != '\0' && !withdraw_operator_name_valid(name))) {
        return CASH_VALIDATION_ERROR;
    }
    struct withdrawal_call context = {.request = request};
    return db_run_out(store, DB_WRITE, reject_body, &context, out, &context.out, sizeof(*out));
}

/* ---- events ---- */
struct events_context {
    const char *withdraw_id;
    struct withdraw_event *out;
    size_t out_max;
    size_t count;
};

static cash_result events_row(struct db_stmt *stmt, void *out)
{
    struct withdraw_event *event = out;
    struct db_row row;
    db_row_start_clear(&row, stmt, event, sizeof(*event));
    event->seq = db_row_int64(&row);
    db_row_text(&row, event->actor, sizeof(event->actor));
    const char *from = db_row_text_view(&row);
    event->has_from = from[0] != '\0';
    if (event->has_from && !withdraw_status_parse(from, &event->from)) {
        row.ok = false;
    }
    db_row_withdraw_status(&row, &event->to);
    db_row_text(&row, event->memo, sizeof(event->memo));
    event->created_ms = db_row_int64(&row);
    return db_row_check(&row, "event list");
}

static cash_result events_body(struct db_tx *tx, void *context_pointer)
{
    struct events_context *context = context_pointer;
    context->count = 0;
    struct withdrawal withdrawal;
    cash_result result = withdrawal_read(tx, context->withdraw_id, &withdrawal);
    if (result != CASH_OK) {
        return result;
    }
    struct db_stmt *stmt = db_statement(tx, SQL_EVENT_LIST);
    db_bind_text(stmt, context->withdraw_id);
    db_bind_int64(stmt, (int64_t)context->out_max);
    return db_read_rows(stmt, events_row, context->out, sizeof(*context->out), context->out_max,
                        &context->count);
}

/* A withdrawal's event history, oldest first, read in one snapshot (store.h). */
cash_result store_withdraw_events(struct store *store, const char *withdraw_id,
                                  struct withdraw_event *out, size_t out_max, size_t *count_out)
{
    struct events_context context = {.withdraw_id = withdraw_id, .out = out, .out_max = out_max};
    return db_run_out(store, DB_SNAPSHOT, events_body, &context, count_out, &context.count,
                      sizeof(*count_out));
}

/* ---- the payout worker (SPEC 4) ---- */
/* Claims lost to another worker before this call answers CASH_NOT_FOUND. */
#define CLAIM_TRIES_MAX 5
/* The longest bank transaction id (SPEC 4; the column's limit). */
#define TRANSACTION_ID_BYTES_MAX 64

static bool owner_valid(const char *owner)
{
    if (owner == NULL) {
        return false;
    }
    size_t length = strnlen(owner, PAYOUT_OWNER_BYTES_MAX + 1);
    return length >= 1 && length <= PAYOUT_OWNER_BYTES_MAX;
}

/* ---- claim ---- */
struct claim_context {
    struct withdraw_claim *claim;
    struct withdrawal out;
};

/* The oldest claimable withdrawal: one not processing first, else one whose lease ran out. */
static cash_result claim_pick(struct db_tx *tx, int64_t now_ms,
                              char withdraw_id[WITHDRAW_ID_LENGTH + 1], bool *in_flight)
{
    struct db_stmt *stmt = db_statement(tx, SQL_CLAIM_PICK);
    db_bind_int64(stmt, now_ms);
    cash_result result = db_step(stmt);
    if (result != CASH_OK) {
        return result;
    }
    struct db_row row;
    db_row_start(&row, stmt);
    db_row_text(&row, withdraw_id, WITHDRAW_ID_LENGTH + 1);
    *in_flight = db_row_bool(&row);
    return db_row_check(&row, "claim pick");
}

/* The conditional UPDATE: CASH_INVALID_STATUS if another worker took it meanwhile. */
static cash_result claim_take(struct db_tx *tx, const struct withdraw_claim *claim,
                              const char *withdraw_id)
{
    struct db_stmt *stmt = db_statement(tx, SQL_CLAIM_TAKE);
    db_bind_int64(stmt, claim->now_ms);
    db_bind_text(stmt, claim->owner);
    db_bind_int64(stmt, claim->now_ms + claim->lease_ms);
    db_bind_text(stmt, withdraw_id);
    return db_exec_one(stmt, CASH_INVALID_STATUS);
}

static cash_result claim_body(struct db_tx *tx, void *context_pointer)
{
    struct claim_context *context = context_pointer;
    struct withdraw_claim *claim = context->claim;
    char withdraw_id[WITHDRAW_ID_LENGTH + 1];
    bool in_flight = false;
    cash_result result = claim_pick(tx, claim->now_ms, withdraw_id, &in_flight);
    if (result != CASH_OK) {
        return result; /* CASH_NOT_FOUND: nothing to claim */
    }
    result = claim_take(tx, claim, withdraw_id);
    if (result != CASH_OK) {
        return result;
    }
    const enum withdraw_status from = WITHDRAW_CONFIRMED;
    result = event_insert(tx, withdraw_id, "worker", claim->owner, &from, WITHDRAW_CONFIRMED,
                          in_flight ? "payout claimed again after a lost claim" : "payout claimed",
                          claim->now_ms);
    if (result == CASH_OK) {
        result = withdrawal_read(tx, withdraw_id, &context->out);
    }
    claim->was_in_flight = in_flight;
    return result;
}

/* Claims one withdrawal for the payout (store.h): CASH_VALIDATION_ERROR for an owner out of
 * 1..PAYOUT_OWNER_BYTES_MAX bytes or a lease below 1 ms; CASH_NOT_FOUND when nothing is
 * claimable, or when other workers took CLAIM_TRIES_MAX picks in a row before this one could. */
cash_result store_withdraw_claim(struct store *store, struct withdraw_claim *claim,
                                 struct withdrawal *out)
{
    if (!owner_valid(claim->owner) || claim->lease_ms < 1) {
        return CASH_VALIDATION_ERROR;
    }
    struct claim_context context = {.claim = claim};
    cash_result result = CASH_INVALID_STATUS;
    for (int i = 0; i < CLAIM_TRIES_MAX && result == CASH_INVALID_STATUS; i++) {
        result = db_run(store, DB_WRITE, claim_body, &context);
    }
    if (result == CASH_OK) {
        assert(context.out.is_processing && context.out.status == WITHDRAW_CONFIRMED);
        *out = context.out;
    }
    return result == CASH_INVALID_STATUS ? CASH_NOT_FOUND : result;
}

/* ---- renew ---- */
struct renew_context {
    const char *withdraw_id;
    const char *owner;
    int64_t lease_until_ms;
};

static cash_result renew_body(struct db_tx *tx, void *context_pointer)
{
    struct renew_context *context = context_pointer;
    struct db_stmt *stmt = db_statement(tx, SQL_CLAIM_RENEW);
    db_bind_int64(stmt, context->lease_until_ms);
    db_bind_text(stmt, context->withdraw_id);
    db_bind_text(stmt, context->owner);
    return db_exec_one(stmt, CASH_INVALID_STATUS);
}

/* Extends a claim to now_ms + lease_ms (store.h): CASH_VALIDATION_ERROR as for a claim;
 * CASH_INVALID_STATUS if owner no longer holds it. */
cash_result store_withdraw_claim_renew(struct store *store, const char *withdraw_id,
                                       const char *owner, int64_t now_ms, int64_t lease_ms)
{
    if (!owner_valid(owner) || lease_ms < 1) {
        return CASH_VALIDATION_ERROR;
    }
    struct renew_context context = {
        .withdraw_id = withdraw_id, .owner = owner, .lease_until_ms = now_ms + lease_ms};
    return db_run(store, DB_WRITE_ONE, renew_body, &context);
}

/* ---- settle ---- */
/* The UPDATE guarded by the claim's owner: CASH_INVALID_STATUS if it no longer holds it. */
static cash_result settle_update(struct db_tx *tx, const struct withdraw_outcome *outcome,
                                 enum withdraw_status to)
{
    struct db_stmt *stmt = db_statement(tx, SQL_SETTLE_UPDATE);
    db_bind_text(stmt, withdraw_status_name(to));
    db_bind_text(stmt, outcome->completed ? outcome->transaction_id : "");
    db_bind_int64(stmt, outcome->completed ? outcome->transaction_ms : 0);
    db_bind_text(stmt, outcome->completed ? "" : outcome->failure_code);
    db_bind_int64(stmt, outcome->now_ms);
    db_bind_text(stmt, outcome->withdraw_id);
    db_bind_text(stmt, outcome->owner);
    return db_exec_one(stmt, CASH_INVALID_STATUS);
}

static cash_result settle_body(struct db_tx *tx, void *context_pointer)
{
    struct withdrawal_call *context = context_pointer;
    const struct withdraw_outcome *outcome = context->request;
    const enum withdraw_status to = outcome->completed ? WITHDRAW_COMPLETED : WITHDRAW_FAILED;
    struct withdrawal before;
    /* Only a FAILED one moves money; a COMPLETED one is locked by its UPDATE alone. */
    cash_result result = outcome->completed
                             ? withdrawal_read(tx, outcome->withdraw_id, &before)
                             : withdrawal_lock_with_account(tx, outcome->withdraw_id, &before);
    if (result != CASH_OK) {
        return result;
    }
    if (!withdraw_transition_allowed(before.status, to, before.is_processing) ||
        !before.is_processing) {
        return CASH_INVALID_STATUS;
    }
    result = settle_update(tx, outcome, to);
    if (result == CASH_OK) {
        /* SPEC 3, 4: the refund domain's rule gives (the whole totalAmount of a FAILED one). */
        result = ledger_refund(tx, &before, withdraw_refund_won(&before, to), outcome->history_id,
                               outcome->now_ms);
    }
    if (result == CASH_OK) {
        result = event_insert(tx, before.withdraw_id, "worker", outcome->owner, &before.status, to,
                              outcome->completed ? outcome->transaction_id : outcome->failure_code,
                              outcome->now_ms);
    }
    if (result == CASH_OK) {
        result = withdrawal_read(tx, outcome->withdraw_id, &context->out);
    }
    return result;
}

/* True if the outcome carries what its kind needs, within the columns' limits. */
static bool outcome_valid(const struct withdraw_outcome *outcome)
{
    if (!owner_valid(outcome->owner) || outcome->withdraw_id == NULL) {
        return false;
    }
    if (outcome->completed) {
        size_t length = outcome->transaction_id != NULL
                            ? strnlen(outcome->transaction_id, TRANSACTION_ID_BYTES_MAX + 1)
                            : 0;
        return length >= 1 && length <= TRANSACTION_ID_BYTES_MAX && outcome->transaction_ms > 0;
    }
    size_t length = outcome->failure_code != NULL
                        ? strnlen(outcome->failure_code, PAYOUT_FAILURE_CODE_BYTES_MAX + 1)
                        : 0;
    return length >= 1 && length <= PAYOUT_FAILURE_CODE_BYTES_MAX && outcome->history_id != NULL;
}

/* Records the bank's answer (store.h): CASH_VALIDATION_ERROR for an outcome that lacks what its
 * kind needs (outcome_valid); *out is the withdrawal afterwards. */
cash_result store_withdraw_settle(struct store *store, const struct withdraw_outcome *outcome,
                                  struct withdrawal *out)
{
    if (!outcome_valid(outcome)) {
        return CASH_VALIDATION_ERROR;
    }
    struct withdrawal_call context = {.request = outcome};
    return db_run_out(store, DB_WRITE, settle_body, &context, out, &context.out, sizeof(*out));
}
