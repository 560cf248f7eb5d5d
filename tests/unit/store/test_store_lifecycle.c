/*
 * test_store_lifecycle.c - the life of a withdrawal after PENDING in the store (SPEC 4, 6):
 * operator confirmations counting distinct operators, the two-operator threshold, rejection with
 * its one refund, the event history, every status pair refused or allowed exactly as
 * withdraw_transition_allowed() says (table-driven, with nothing written on a refusal), and races:
 * confirm vs cancel, reject vs cancel, the same operator confirming twice at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>

#include "domain/names.h"
#include "domain/withdraw_state.h"
#include "store_fixture.h"

#define ACCOUNT_A   "25112400000001"
#define MEMBER_A    "25112410000001"
#define USES_MANY   100000
#define TOTAL_WON   30000
#define DUAL_NEVER  1000000000LL /* one operator suffices */
#define RACE_ROUNDS 12

static struct fixture *setup(int64_t balance_won)
{
    struct fixture *f = fixture_new();
    fixture_account(f, ACCOUNT_A);
    fixture_member(f, MEMBER_A, ACCOUNT_A);
    fixture_bank(f, ACCOUNT_A);
    fixture_credit(f, ACCOUNT_A, balance_won);
    fixture_confirmed(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS - 1000, NULL);
    return f;
}

static void withdraw_new(struct fixture *f, struct withdrawal *out)
{
    struct second_factor factor = fixture_factor(MEMBER_A, USES_MANY);
    struct withdraw_create request;
    fixture_withdraw_request(&request, &factor, ACCOUNT_A, MEMBER_A, TOTAL_WON);
    assert_int_equal(store_withdraw_create(f->store, &request, out, NULL), CASH_OK);
}

static cash_result confirm(struct store *store, const char *withdraw_id, const char *name,
                           int64_t dual_at, struct withdrawal *out)
{
    const struct withdraw_confirm request = {
        .withdraw_id = withdraw_id,
        .operator_name = name,
        .dual_confirm_at_won = dual_at,
        .now_ms = FIXTURE_NOW_MS + 5000,
    };
    return store_withdraw_confirm(store, &request, out);
}

static cash_result reject(struct store *store, const char *withdraw_id, const char *memo,
                          struct withdrawal *out)
{
    char history_id[HISTORY_ID_LENGTH + 1];
    fixture_id(history_id);
    const struct withdraw_reject request = {
        .withdraw_id = withdraw_id,
        .operator_name = "lee",
        .memo = memo,
        .history_id = history_id,
        .now_ms = FIXTURE_NOW_MS + 6000,
    };
    return store_withdraw_reject(store, &request, out);
}

static cash_result cancel(struct store *store, const char *withdraw_id, struct withdrawal *out)
{
    char history_id[HISTORY_ID_LENGTH + 1];
    fixture_id(history_id);
    return store_withdraw_cancel(store, ACCOUNT_A, withdraw_id, history_id, FIXTURE_NOW_MS + 7000,
                                 out, NULL);
}

static int64_t refunds_of(struct fixture *f, const char *withdraw_id)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT COUNT(*) FROM balance_history WHERE type = 'WITHDRAW_REFUND'"
             " AND group_id = '%s'",
             withdraw_id);
    return fixture_sql_int(f, sql);
}

static void assert_clean(struct fixture *f)
{
    struct fixture_problems problems;
    assert_int_equal(fixture_verify(f, &problems), 0);
}

static void test_single_confirmation(void **state)
{
    (void)state;
    struct fixture *f = setup(100000);
    struct withdrawal w, out;
    withdraw_new(f, &w);
    assert_int_equal(confirm(f->store, w.withdraw_id, "kim", DUAL_NEVER, &out), CASH_OK);
    assert_int_equal(out.status, WITHDRAW_CONFIRMED);
    assert_int_equal(out.confirmed_count, 1);
    assert_int_equal(out.updated_ms, FIXTURE_NOW_MS + 5000);
    assert_int_equal(fixture_balance(f, ACCOUNT_A), 100000 - TOTAL_WON);

    struct withdraw_event events[8];
    size_t count = 0;
    assert_int_equal(store_withdraw_events(f->store, w.withdraw_id, events, 8, &count), CASH_OK);
    assert_int_equal(count, 2);
    assert_int_equal(events[0].seq, 1);
    assert_false(events[0].has_from);
    assert_int_equal(events[0].to, WITHDRAW_PENDING);
    assert_string_equal(events[0].actor, "member:" MEMBER_A);
    assert_int_equal(events[1].seq, 2);
    assert_true(events[1].has_from);
    assert_int_equal(events[1].from, WITHDRAW_PENDING);
    assert_int_equal(events[1].to, WITHDRAW_CONFIRMED);
    assert_string_equal(events[1].actor, "operator:kim");
    assert_string_equal(events[1].memo, "confirmation 1 of 1");
    assert_int_equal(events[1].created_ms, FIXTURE_NOW_MS + 5000);

    /* out_max bounds the answer; an unknown withdrawal is not found */
    assert_int_equal(store_withdraw_events(f->store, w.withdraw_id, events, 1, &count), CASH_OK);
    assert_int_equal(count, 1);
    assert_int_equal(
        store_withdraw_events(f->store, "99999999999999999999999999999999", events, 8, &count),
        CASH_NOT_FOUND);
    assert_int_equal(confirm(f->store, "99999999999999999999999999999999", "kim", DUAL_NEVER, &out),
                     CASH_NOT_FOUND);
    assert_clean(f);
    fixture_free(f);
}

/* SPEC 4: from the threshold up, two distinct operators; the same one twice counts once. */
static void test_dual_confirmation(void **state)
{
    (void)state;
    struct fixture *f = setup(100000);
    struct withdrawal w, out;
    withdraw_new(f, &w);
    assert_int_equal(confirm(f->store, w.withdraw_id, "kim", TOTAL_WON, &out), CASH_OK);
    assert_int_equal(out.status, WITHDRAW_PENDING);
    assert_int_equal(out.confirmed_count, 1);
    assert_int_equal(confirm(f->store, w.withdraw_id, "kim", TOTAL_WON, &out), CASH_OK);
    assert_int_equal(out.status, WITHDRAW_PENDING);
    assert_int_equal(out.confirmed_count, 1);
    assert_int_equal(confirm(f->store, w.withdraw_id, "lee", TOTAL_WON, &out), CASH_OK);
    assert_int_equal(out.status, WITHDRAW_CONFIRMED);
    assert_int_equal(out.confirmed_count, 2);
    /* a repeat by one who confirmed changes nothing; a newcomer is too late */
    assert_int_equal(confirm(f->store, w.withdraw_id, "lee", TOTAL_WON, &out), CASH_OK);
    assert_int_equal(out.confirmed_count, 2);
    assert_int_equal(confirm(f->store, w.withdraw_id, "park", TOTAL_WON, &out),
                     CASH_INVALID_STATUS);
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT COUNT(*) FROM withdrawal_confirmations WHERE withdraw_id = '%s'",
             w.withdraw_id);
    assert_int_equal(fixture_sql_int(f, sql), 2);
    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM withdrawal_events WHERE withdraw_id = '%s'",
             w.withdraw_id);
    assert_int_equal(fixture_sql_int(f, sql), 3); /* created, kim, lee */
    /* bad operator names are refused before the store is touched */
    assert_int_equal(confirm(f->store, w.withdraw_id, "", TOTAL_WON, &out), CASH_VALIDATION_ERROR);
    assert_int_equal(confirm(f->store, w.withdraw_id, "a b", TOTAL_WON, &out),
                     CASH_VALIDATION_ERROR);
    assert_clean(f);
    fixture_free(f);
}

static void test_reject_refunds_once(void **state)
{
    (void)state;
    struct fixture *f = setup(100000);
    struct withdrawal w, out;
    withdraw_new(f, &w);
    assert_int_equal(reject(f->store, w.withdraw_id, "", &out), CASH_VALIDATION_ERROR);
    assert_int_equal(reject(f->store, w.withdraw_id, "   ", &out), CASH_VALIDATION_ERROR);
    assert_int_equal(reject(f->store, w.withdraw_id, "line\nbreak", &out), CASH_VALIDATION_ERROR);
    assert_int_equal(reject(f->store, w.withdraw_id, "holder name does not match", &out), CASH_OK);
    assert_int_equal(out.status, WITHDRAW_REJECTED);
    assert_string_equal(out.memo, "holder name does not match");
    assert_int_equal(out.updated_ms, FIXTURE_NOW_MS + 6000);
    assert_int_equal(fixture_balance(f, ACCOUNT_A), 100000);
    assert_int_equal(refunds_of(f, w.withdraw_id), 1);
    assert_int_equal(reject(f->store, w.withdraw_id, "again", &out), CASH_INVALID_STATUS);
    assert_int_equal(cancel(f->store, w.withdraw_id, &out), CASH_INVALID_STATUS);
    assert_int_equal(confirm(f->store, w.withdraw_id, "kim", DUAL_NEVER, &out),
                     CASH_INVALID_STATUS);
    assert_int_equal(refunds_of(f, w.withdraw_id), 1);
    assert_int_equal(fixture_balance(f, ACCOUNT_A), 100000);

    struct withdraw_event events[8];
    size_t count = 0;
    assert_int_equal(store_withdraw_events(f->store, w.withdraw_id, events, 8, &count), CASH_OK);
    assert_int_equal(count, 2);
    assert_int_equal(events[1].from, WITHDRAW_PENDING);
    assert_int_equal(events[1].to, WITHDRAW_REJECTED);
    assert_string_equal(events[1].actor, "operator:lee");
    assert_string_equal(events[1].memo, "holder name does not match");

    /* a CONFIRMED one may be rejected too; the account's cancel writes its event */
    withdraw_new(f, &w);
    assert_int_equal(confirm(f->store, w.withdraw_id, "kim", DUAL_NEVER, &out), CASH_OK);
    assert_int_equal(reject(f->store, w.withdraw_id, "risk review", &out), CASH_OK);
    withdraw_new(f, &w);
    assert_int_equal(cancel(f->store, w.withdraw_id, &out), CASH_OK);
    assert_int_equal(store_withdraw_events(f->store, w.withdraw_id, events, 8, &count), CASH_OK);
    assert_int_equal(count, 2);
    assert_int_equal(events[1].to, WITHDRAW_CANCELED);
    assert_string_equal(events[1].actor, "account:" ACCOUNT_A);
    assert_int_equal(fixture_balance(f, ACCOUNT_A), 100000);
    assert_clean(f);
    fixture_free(f);
}

/* What a refused transition must leave as it was. */
static void state_of(struct fixture *f, const char *withdraw_id, int64_t out[4])
{
    char sql[256];
    out[0] = fixture_balance(f, ACCOUNT_A);
    out[1] = fixture_sql_int(f, "SELECT COUNT(*) FROM balance_history");
    out[2] = fixture_sql_int(f, "SELECT COUNT(*) FROM withdrawal_events");
    snprintf(sql, sizeof(sql),
             "SELECT updated_ms * 10 + confirmed_count FROM withdrawals WHERE withdraw_id = '%s'",
             withdraw_id);
    out[3] = fixture_sql_int(f, sql);
}

enum move { MOVE_CONFIRM, MOVE_REJECT, MOVE_CANCEL };
static const enum withdraw_status move_target[] = {WITHDRAW_CONFIRMED, WITHDRAW_REJECTED,
                                                   WITHDRAW_CANCELED};

static cash_result move_run(struct fixture *f, enum move move, const char *withdraw_id,
                            struct withdrawal *out)
{
    switch (move) {
    case MOVE_CONFIRM:
        return confirm(f->store, withdraw_id, "kim", DUAL_NEVER, out);
    case MOVE_REJECT:
        return reject(f->store, withdraw_id, "no", out);
    case MOVE_CANCEL:
        return cancel(f->store, withdraw_id, out);
    }
    return CASH_INTERNAL_ERROR;
}

/* Every stored status x processing x store operation: allowed exactly as the domain says. */
static void test_every_status_pair(void **state)
{
    (void)state;
    struct fixture *f = setup(10000000);
    for (int from = 0; from < WITHDRAW_STATUS_COUNT; from++) {
        for (int processing = 0; processing < 2; processing++) {
            for (int move = MOVE_CONFIRM; move <= MOVE_CANCEL; move++) {
                struct withdrawal w, out;
                withdraw_new(f, &w);
                char sql[256];
                snprintf(sql, sizeof(sql),
                         "UPDATE withdrawals SET status = '%s', is_processing = %d"
                         " WHERE withdraw_id = '%s'",
                         withdraw_status_name((enum withdraw_status)from), processing,
                         w.withdraw_id);
                fixture_sql(f, sql);
                enum withdraw_status to = move_target[move];
                bool allowed =
                    withdraw_transition_allowed((enum withdraw_status)from, to, processing != 0);
                int64_t before[4], after[4];
                state_of(f, w.withdraw_id, before);
                cash_result result = move_run(f, (enum move)move, w.withdraw_id, &out);
                if (allowed) {
                    if (result != CASH_OK) {
                        fail_msg("%s -> %s (processing %d): refused with %d",
                                 withdraw_status_name((enum withdraw_status)from),
                                 withdraw_status_name(to), processing, (int)result);
                    }
                    assert_int_equal(out.status, to);
                    assert_int_equal(refunds_of(f, w.withdraw_id), move == MOVE_CONFIRM ? 0 : 1);
                    continue;
                }
                if (result != CASH_INVALID_STATUS) {
                    fail_msg("%s -> %s (processing %d): got %d, expected InvalidStatus",
                             withdraw_status_name((enum withdraw_status)from),
                             withdraw_status_name(to), processing, (int)result);
                }
                state_of(f, w.withdraw_id, after);
                assert_memory_equal(before, after, sizeof(before));
            }
        }
    }
    fixture_free(f);
}

/* ---- races ---- */

enum racer_kind { RACER_CONFIRM, RACER_CONFIRM_SAME, RACER_REJECT, RACER_CANCEL, RACER_CLAIM };

struct racer {
    struct store *store;
    const char *withdraw_id;
    enum racer_kind kind;
    pthread_barrier_t *barrier;
    cash_result result;
};

static void *racer_run(void *pointer)
{
    struct racer *racer = pointer;
    struct withdrawal out;
    pthread_barrier_wait(racer->barrier);
    switch (racer->kind) {
    case RACER_CONFIRM:
    case RACER_CONFIRM_SAME:
        racer->result = confirm(racer->store, racer->withdraw_id, "kim", DUAL_NEVER, &out);
        break;
    case RACER_REJECT:
        racer->result = reject(racer->store, racer->withdraw_id, "race", &out);
        break;
    case RACER_CANCEL:
        racer->result = cancel(racer->store, racer->withdraw_id, &out);
        break;
    case RACER_CLAIM: {
        struct withdraw_claim claim = {
            .owner = "racer", .now_ms = FIXTURE_NOW_MS + 8000, .lease_ms = 60000};
        racer->result = store_withdraw_claim(racer->store, &claim, &out);
        break;
    }
    }
    return NULL;
}

/* Runs two racers on one withdrawal, each on a store of its own (two pools, as two processes). */
static void race_pair(struct store *stores[2], const char *withdraw_id, enum racer_kind a,
                      enum racer_kind b, cash_result results[2])
{
    pthread_barrier_t barrier;
    assert_int_equal(pthread_barrier_init(&barrier, NULL, 2), 0);
    struct racer racers[2] = {
        {.store = stores[0], .withdraw_id = withdraw_id, .kind = a, .barrier = &barrier},
        {.store = stores[1], .withdraw_id = withdraw_id, .kind = b, .barrier = &barrier},
    };
    pthread_t threads[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_create(&threads[i], NULL, racer_run, &racers[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(threads[i], NULL);
        results[i] = racers[i].result;
    }
    pthread_barrier_destroy(&barrier);
}

static void test_races(void **state)
{
    (void)state;
    struct fixture *f = setup(10000000);
    struct store *second = NULL;
    char why[256] = "";
    if (store_open(f->url, &second, why, sizeof(why)) != CASH_OK) {
        fail_msg("store_open: %s", why);
    }
    struct store *stores[2] = {f->store, second};
    for (int round = 0; round < RACE_ROUNDS; round++) {
        struct withdrawal w, out;
        cash_result results[2];
        char sql[256];

        /* confirm vs cancel: the cancel always wins in the end (it may follow the confirm) */
        withdraw_new(f, &w);
        race_pair(stores, w.withdraw_id, RACER_CONFIRM, RACER_CANCEL, results);
        assert_true(results[0] == CASH_OK || results[0] == CASH_INVALID_STATUS);
        assert_int_equal(results[1], CASH_OK);
        assert_int_equal(store_withdraw_get(f->store, NULL, w.withdraw_id, &out), CASH_OK);
        assert_int_equal(out.status, WITHDRAW_CANCELED);
        assert_int_equal(out.confirmed_count, results[0] == CASH_OK ? 1 : 0);
        assert_int_equal(refunds_of(f, w.withdraw_id), 1);

        /* reject vs cancel: exactly one wins, one refund */
        withdraw_new(f, &w);
        race_pair(stores, w.withdraw_id, RACER_REJECT, RACER_CANCEL, results);
        assert_true((results[0] == CASH_OK) != (results[1] == CASH_OK));
        assert_int_equal(results[0] == CASH_OK ? results[1] : results[0], CASH_INVALID_STATUS);
        assert_int_equal(refunds_of(f, w.withdraw_id), 1);

        /* the same operator twice at once: both succeed, one confirmation counted */
        withdraw_new(f, &w);
        race_pair(stores, w.withdraw_id, RACER_CONFIRM_SAME, RACER_CONFIRM_SAME, results);
        assert_int_equal(results[0], CASH_OK);
        assert_int_equal(results[1], CASH_OK);
        assert_int_equal(store_withdraw_get(f->store, NULL, w.withdraw_id, &out), CASH_OK);
        assert_int_equal(out.status, WITHDRAW_CONFIRMED);
        assert_int_equal(out.confirmed_count, 1);
        snprintf(sql, sizeof(sql),
                 "SELECT COUNT(*) FROM withdrawal_events WHERE withdraw_id = '%s'", w.withdraw_id);
        assert_int_equal(fixture_sql_int(f, sql), 2);
    }
    store_close(second);
    assert_clean(f);
    fixture_free(f);
}

/* ledger verify over the lifecycle: balance = credits - live totals; a refund per refunded one. */
static void test_ledger_verify_lifecycle(void **state)
{
    (void)state;
    struct fixture *f = setup(100000);
    struct withdrawal w, out;
    withdraw_new(f, &w);
    assert_int_equal(reject(f->store, w.withdraw_id, "no", &out), CASH_OK);
    assert_clean(f);
    char sql[256];
    snprintf(sql, sizeof(sql),
             "UPDATE withdrawals SET status = 'COMPLETED' WHERE withdraw_id = '%s'", w.withdraw_id);
    fixture_sql(f, sql);
    struct fixture_problems problems;
    assert_int_equal(fixture_verify(f, &problems), 2);
    assert_non_null(strstr(problems.all, "minus live withdrawals"));
    assert_non_null(strstr(problems.all, "refund entries"));
    fixture_free(f);
}

/* ---- the payout worker's claim and settlement ---- */

static cash_result claim_one(struct store *store, const char *owner, int64_t now_ms,
                             struct withdrawal *out, bool *in_flight)
{
    struct withdraw_claim claim = {.owner = owner, .now_ms = now_ms, .lease_ms = 60000};
    cash_result result = store_withdraw_claim(store, &claim, out);
    if (in_flight != NULL) {
        *in_flight = claim.was_in_flight;
    }
    return result;
}

static cash_result settle(struct store *store, const char *withdraw_id, const char *owner,
                          bool completed, struct withdrawal *out)
{
    char history_id[HISTORY_ID_LENGTH + 1];
    fixture_id(history_id);
    const struct withdraw_outcome outcome = {
        .withdraw_id = withdraw_id,
        .owner = owner,
        .completed = completed,
        .transaction_id = "TX-1",
        .transaction_ms = FIXTURE_NOW_MS + 9000,
        .failure_code = "ACCOUNT_CLOSED",
        .history_id = history_id,
        .now_ms = FIXTURE_NOW_MS + 9000,
    };
    return store_withdraw_settle(store, &outcome, out);
}

static void test_claim_and_settle(void **state)
{
    (void)state;
    struct fixture *f = setup(100000);
    struct withdrawal pending, first, second, out;
    bool in_flight = true;
    withdraw_new(f, &pending);
    assert_int_equal(claim_one(f->store, "w1", FIXTURE_NOW_MS, &out, NULL), CASH_NOT_FOUND);
    withdraw_new(f, &first);
    withdraw_new(f, &second);
    assert_int_equal(confirm(f->store, first.withdraw_id, "kim", DUAL_NEVER, &out), CASH_OK);
    assert_int_equal(confirm(f->store, second.withdraw_id, "kim", DUAL_NEVER, &out), CASH_OK);

    assert_int_equal(claim_one(f->store, "w1", FIXTURE_NOW_MS + 8000, &out, &in_flight), CASH_OK);
    assert_string_equal(out.withdraw_id, first.withdraw_id);
    assert_true(out.is_processing);
    assert_false(in_flight);
    /* while processing: no reject, no cancel, no second claim */
    assert_int_equal(reject(f->store, first.withdraw_id, "late", &out), CASH_INVALID_STATUS);
    assert_int_equal(cancel(f->store, first.withdraw_id, &out), CASH_INVALID_STATUS);
    assert_int_equal(claim_one(f->store, "w2", FIXTURE_NOW_MS + 8000, &out, NULL), CASH_OK);
    assert_string_equal(out.withdraw_id, second.withdraw_id);
    assert_int_equal(claim_one(f->store, "w3", FIXTURE_NOW_MS + 8000, &out, NULL), CASH_NOT_FOUND);

    /* only the owner settles; COMPLETED keeps the money out */
    assert_int_equal(settle(f->store, first.withdraw_id, "w2", true, &out), CASH_INVALID_STATUS);
    assert_int_equal(settle(f->store, first.withdraw_id, "w1", true, &out), CASH_OK);
    assert_int_equal(out.status, WITHDRAW_COMPLETED);
    assert_false(out.is_processing);
    assert_string_equal(out.transaction_id, "TX-1");
    assert_int_equal(out.transaction_ms, FIXTURE_NOW_MS + 9000);
    assert_int_equal(settle(f->store, first.withdraw_id, "w1", false, &out), CASH_INVALID_STATUS);
    assert_int_equal(refunds_of(f, first.withdraw_id), 0);

    /* a lease that ran out is taken over, flagged in flight; the old owner cannot settle */
    assert_int_equal(claim_one(f->store, "w3", FIXTURE_NOW_MS + 8000 + 60001, &out, &in_flight),
                     CASH_OK);
    assert_string_equal(out.withdraw_id, second.withdraw_id);
    assert_true(in_flight);
    assert_int_equal(store_withdraw_claim_renew(f->store, second.withdraw_id, "w2",
                                                FIXTURE_NOW_MS + 70000, 60000),
                     CASH_INVALID_STATUS);
    assert_int_equal(store_withdraw_claim_renew(f->store, second.withdraw_id, "w3",
                                                FIXTURE_NOW_MS + 70000, 60000),
                     CASH_OK);
    assert_int_equal(settle(f->store, second.withdraw_id, "w2", false, &out), CASH_INVALID_STATUS);
    assert_int_equal(settle(f->store, second.withdraw_id, "w3", false, &out), CASH_OK);
    assert_int_equal(out.status, WITHDRAW_FAILED);
    assert_string_equal(out.memo, "ACCOUNT_CLOSED");
    assert_int_equal(refunds_of(f, second.withdraw_id), 1);
    assert_int_equal(settle(f->store, second.withdraw_id, "w3", false, &out), CASH_INVALID_STATUS);
    assert_int_equal(refunds_of(f, second.withdraw_id), 1);
    assert_int_equal(fixture_balance(f, ACCOUNT_A), 100000 - 2 * TOTAL_WON);
    assert_clean(f);
    fixture_free(f);
}

struct claimer {
    struct store *store;
    char owner[16];
    pthread_barrier_t *barrier;
    int claimed;
    char ids[RACE_ROUNDS][WITHDRAW_ID_LENGTH + 1];
};

static void *claimer_run(void *pointer)
{
    struct claimer *claimer = pointer;
    pthread_barrier_wait(claimer->barrier);
    struct withdrawal out;
    while (claimer->claimed < RACE_ROUNDS &&
           claim_one(claimer->store, claimer->owner, FIXTURE_NOW_MS + 8000, &out, NULL) ==
               CASH_OK) {
        memcpy(claimer->ids[claimer->claimed], out.withdraw_id, WITHDRAW_ID_LENGTH + 1);
        claimer->claimed++;
    }
    return NULL;
}

/* Two workers on two stores claim together: every withdrawal claimed exactly once. */
static void test_two_workers(void **state)
{
    (void)state;
    struct fixture *f = setup(10000000);
    struct store *second = NULL;
    char why[256] = "";
    if (store_open(f->url, &second, why, sizeof(why)) != CASH_OK) {
        fail_msg("store_open: %s", why);
    }
    for (int i = 0; i < RACE_ROUNDS; i++) {
        struct withdrawal w, out;
        withdraw_new(f, &w);
        assert_int_equal(confirm(f->store, w.withdraw_id, "kim", DUAL_NEVER, &out), CASH_OK);
    }
    pthread_barrier_t barrier;
    assert_int_equal(pthread_barrier_init(&barrier, NULL, 2), 0);
    struct claimer claimers[2] = {{.store = f->store, .owner = "w1", .barrier = &barrier},
                                  {.store = second, .owner = "w2", .barrier = &barrier}};
    pthread_t threads[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_create(&threads[i], NULL, claimer_run, &claimers[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(threads[i], NULL);
    }
    pthread_barrier_destroy(&barrier);
    assert_int_equal(claimers[0].claimed + claimers[1].claimed, RACE_ROUNDS);
    for (int a = 0; a < claimers[0].claimed; a++) {
        for (int b = 0; b < claimers[1].claimed; b++) {
            assert_string_not_equal(claimers[0].ids[a], claimers[1].ids[b]);
        }
    }
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM withdrawals WHERE is_processing = 1"),
                     RACE_ROUNDS);
    store_close(second);
    fixture_free(f);
}

/* Stuck withdrawals: processing since before a moment, every account or one. */
static void test_overdue_list(void **state)
{
    (void)state;
    struct fixture *f = setup(100000);
    struct withdrawal pending, claimed, out;
    withdraw_new(f, &pending);
    withdraw_new(f, &claimed);
    assert_int_equal(confirm(f->store, claimed.withdraw_id, "kim", DUAL_NEVER, &out), CASH_OK);
    assert_int_equal(claim_one(f->store, "w1", FIXTURE_NOW_MS + 8000, &out, NULL), CASH_OK);
    struct withdrawal rows[4];
    size_t count = 0;
    char next_key[WITHDRAW_ID_LENGTH + 1];
    struct withdraw_query query = {.limit = 4, .overdue = true};
    query.processing_started_before_ms = FIXTURE_NOW_MS + 8000;
    assert_int_equal(store_withdraw_list(f->store, &query, rows, &count, next_key), CASH_OK);
    assert_int_equal(count, 1);
    assert_string_equal(rows[0].withdraw_id, claimed.withdraw_id);
    snprintf(query.account_id, sizeof(query.account_id), "%s", ACCOUNT_A);
    assert_int_equal(store_withdraw_list(f->store, &query, rows, &count, next_key), CASH_OK);
    assert_int_equal(count, 1);
    query.processing_started_before_ms = FIXTURE_NOW_MS + 7999;
    assert_int_equal(store_withdraw_list(f->store, &query, rows, &count, next_key), CASH_OK);
    assert_int_equal(count, 0);
    /* a renewal does not hide it: processing started at the claim */
    assert_int_equal(store_withdraw_claim_renew(f->store, claimed.withdraw_id, "w1",
                                                FIXTURE_NOW_MS + 20000, 60000),
                     CASH_OK);
    query.processing_started_before_ms = FIXTURE_NOW_MS + 8000;
    assert_int_equal(store_withdraw_list(f->store, &query, rows, &count, next_key), CASH_OK);
    assert_int_equal(count, 1);
    /* settled: no longer stuck */
    assert_int_equal(settle(f->store, claimed.withdraw_id, "w1", true, &out), CASH_OK);
    assert_int_equal(store_withdraw_list(f->store, &query, rows, &count, next_key), CASH_OK);
    assert_int_equal(count, 0);
    query.overdue = false;
    assert_int_equal(store_withdraw_list(f->store, &query, rows, &count, next_key), CASH_OK);
    assert_int_equal(count, 2);
    fixture_free(f);
}

/* An operator's reject against the worker's claim, on two stores: exactly one wins; a rejected
 * one is refunded once and never paid, a claimed one cannot be rejected any more. */
static void test_reject_races_the_claim(void **state)
{
    (void)state;
    struct fixture *f = setup(10000000);
    struct store *second = NULL;
    char why[256] = "";
    if (store_open(f->url, &second, why, sizeof(why)) != CASH_OK) {
        fail_msg("store_open: %s", why);
    }
    struct store *stores[2] = {f->store, second};
    int claims_won = 0;
    for (int round = 0; round < RACE_ROUNDS; round++) {
        struct withdrawal w, out;
        cash_result results[2];
        withdraw_new(f, &w);
        assert_int_equal(confirm(f->store, w.withdraw_id, "kim", DUAL_NEVER, &out), CASH_OK);
        race_pair(stores, w.withdraw_id, RACER_REJECT, RACER_CLAIM, results);
        assert_int_equal(store_withdraw_get(f->store, NULL, w.withdraw_id, &out), CASH_OK);
        if (results[0] == CASH_OK) {
            assert_int_equal(results[1], CASH_NOT_FOUND); /* nothing left to claim */
            assert_int_equal(out.status, WITHDRAW_REJECTED);
            assert_false(out.is_processing);
            assert_int_equal(refunds_of(f, w.withdraw_id), 1);
        } else {
            claims_won++;
            assert_int_equal(results[0], CASH_INVALID_STATUS);
            assert_int_equal(results[1], CASH_OK);
            assert_int_equal(out.status, WITHDRAW_CONFIRMED);
            assert_true(out.is_processing);
            assert_int_equal(refunds_of(f, w.withdraw_id), 0);
            assert_int_equal(settle(f->store, w.withdraw_id, "racer", true, &out), CASH_OK);
        }
    }
    print_message("reject vs claim: the claim won %d of %d rounds\n", claims_won, RACE_ROUNDS);
    store_close(second);
    assert_clean(f);
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_confirmation),
        cmocka_unit_test(test_dual_confirmation),
        cmocka_unit_test(test_reject_refunds_once),
        cmocka_unit_test(test_every_status_pair),
        cmocka_unit_test(test_races),
        cmocka_unit_test(test_ledger_verify_lifecycle),
        cmocka_unit_test(test_claim_and_settle),
        cmocka_unit_test(test_two_workers),
        cmocka_unit_test(test_reject_races_the_claim),
        cmocka_unit_test(test_overdue_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
