/*
 * test_store_pg_fast.c - the two ways a withdrawal request runs on the PostgreSQL backend
 * (withdraw.c): one statement, the server-side function of pg_function.c, when no
 * Idempotency-Key comes with it (also with no request at all, as the operator's), and the
 * multi-statement transaction when one does. For every refusal, in the documented order, all
 * ways give the same result and leave every table as it was; a success writes the same rows
 * and outs; under concurrency the daily limit holds. On SQLite, which has one way, the same
 * cases hold too. PostgreSQL alone: the function is the way taken without a key, store_migrate
 * puts back a function whose text was changed, and processes migrating at once all end with it
 * in place.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_fixture.h"

#define ACCOUNT_A       "25112400000031"
#define ACCOUNT_B       "25112400000032" /* no bank account */
#define ACCOUNT_UNKNOWN "25112400000099"
#define MEMBER_A        "25112410000031"
#define MEMBER_B        "25112410000032"
#define API_KEY         "NCSPGFASTPATH001"
#define BALANCE         100000
#define TOTAL           20000
#define USES_MANY       1000
#define HOUR_MS         (60LL * 60 * 1000)
#define REPLAY_MS       (30LL * 60 * 1000)

static const char FINGERPRINT[] =
    "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

/* The ways a withdrawal request is sent, in the order each case runs them. */
enum way {
    WAY_NO_REQUEST, /* the operator's: no replay row, no key (one statement on PostgreSQL) */
    WAY_SIGNED,     /* a signed request without a key (one statement on PostgreSQL) */
    WAY_KEYED,      /* a signed request with an Idempotency-Key (statements on PostgreSQL) */
    WAY_COUNT,
};

static const char *const way_names[WAY_COUNT] = {"no request", "signed", "keyed"};

/* The request of way (NULL for WAY_NO_REQUEST) with signature. */
static struct store_request *request_for(enum way way, const char *signature,
                                         struct store_request *request)
{
    if (way == WAY_NO_REQUEST) {
        return NULL;
    }
    memset(request, 0, sizeof(*request));
    request->api_key = API_KEY;
    request->signature_hex = signature;
    request->replay_expires_ms = FIXTURE_NOW_MS + REPLAY_MS;
    request->now_ms = FIXTURE_NOW_MS;
    if (way == WAY_KEYED) {
        request->idempotency_key = signature; /* one key per request */
        request->fingerprint = FINGERPRINT;
        request->idempotency_expires_ms = FIXTURE_NOW_MS + 24 * HOUR_MS;
        request->render = fixture_render_withdrawal;
    }
    return request;
}

/* Every table a withdrawal request may write, summed up. */
static const char *const snapshot_queries[] = {
    "SELECT COALESCE(SUM(balance), 0) FROM accounts",
    "SELECT COALESCE(SUM(updated_ms % 1000000007), 0) FROM accounts",
    "SELECT COUNT(*) FROM balance_history",
    "SELECT COUNT(*) FROM withdrawals",
    "SELECT COUNT(*) FROM withdrawal_events",
    "SELECT COALESCE(SUM(uses), 0) FROM verifications",
    "SELECT COUNT(*) FROM used_signatures",
    "SELECT COALESCE(SUM(expires_ms % 1000000007), 0) FROM used_signatures",
    "SELECT COUNT(*) FROM idempotency_keys",
};

#define SNAPSHOT_VALUES (sizeof(snapshot_queries) / sizeof(snapshot_queries[0]))

struct snapshot {
    int64_t values[SNAPSHOT_VALUES];
};

static void snapshot_take(struct fixture *f, struct snapshot *out)
{
    for (size_t i = 0; i < SNAPSHOT_VALUES; i++) {
        out->values[i] = fixture_sql_int(f, snapshot_queries[i]);
    }
}

static void snapshot_same(struct fixture *f, const struct snapshot *before, const char *what)
{
    struct snapshot now;
    snapshot_take(f, &now);
    for (size_t i = 0; i < SNAPSHOT_VALUES; i++) {
        if (now.values[i] != before->values[i]) {
            print_message("%s: changed: %s\n", what, snapshot_queries[i]);
        }
        assert_int_equal(now.values[i], before->values[i]);
    }
}

/*
 * Account A: member A, a bank account the operator set a minute ago, BALANCE, one verification
 * of member A confirmed a second ago. Account B: member B with a verification, BALANCE, no bank
 * account.
 */
static struct fixture *setup(void)
{
    struct fixture *f = fixture_new();
    fixture_account(f, ACCOUNT_A);
    fixture_member(f, MEMBER_A, ACCOUNT_A);
    fixture_bank(f, ACCOUNT_A);
    fixture_credit(f, ACCOUNT_A, BALANCE);
    fixture_confirmed(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS - 1000, NULL);
    fixture_account(f, ACCOUNT_B);
    fixture_member(f, MEMBER_B, ACCOUNT_B);
    fixture_credit(f, ACCOUNT_B, BALANCE);
    fixture_confirmed(f, MEMBER_B, ACCOUNT_B, FIXTURE_NOW_MS - 1000, NULL);
    return f;
}

/* What a case sends: a request of TOTAL from account A by member A's oldest usable factor. */
struct case_request {
    struct second_factor factor;
    struct withdraw_create create;
    char verification_id[VERIFICATION_ID_LENGTH + 1];
    const char *signature; /* NULL: a new one per way */
};

static void case_request_init(struct case_request *r)
{
    memset(r, 0, sizeof(*r));
    r->factor = fixture_factor(MEMBER_A, 1);
    fixture_withdraw_request(&r->create, &r->factor, ACCOUNT_A, MEMBER_A, TOTAL);
}

/* One more withdrawal of account A that succeeds, on a factor of its own: *out. */
static void withdraw_before(struct fixture *f, struct withdrawal *out)
{
    char verification_id[VERIFICATION_ID_LENGTH + 1];
    fixture_confirmed(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS - 500, verification_id);
    struct second_factor factor = fixture_factor(MEMBER_A, USES_MANY);
    factor.verification_id = verification_id;
    struct withdraw_create create;
    fixture_withdraw_request(&create, &factor, ACCOUNT_A, MEMBER_A, TOTAL);
    assert_int_equal(store_withdraw_create(f->store, &create, out, NULL), CASH_OK);
}

/* ---- the refusals ---- */

struct refusal_case {
    const char *name;
    void (*arrange)(struct fixture *f, struct case_request *r);
    cash_result expected;
};

/* A used signature comes first, even before a factor that is not there. */
static void arrange_duplicated(struct fixture *f, struct case_request *r)
{
    assert_int_equal(store_replay_remember(f->store, API_KEY, "sig-used", FIXTURE_NOW_MS - 1000,
                                           FIXTURE_NOW_MS + REPLAY_MS),
                     CASH_OK);
    r->signature = "sig-used";
    r->factor.verification_id = "00000000000000000000000000000000";
}

/* An unknown named factor comes before the missing bank account of account B. */
static void arrange_factor_unknown(struct fixture *f, struct case_request *r)
{
    (void)f;
    r->factor.verification_id = "00000000000000000000000000000000";
    snprintf(r->create.withdrawal.account_id, sizeof(r->create.withdrawal.account_id), "%s",
             ACCOUNT_B);
}

static void arrange_factor_no_member(struct fixture *f, struct case_request *r)
{
    (void)f;
    r->factor.member_id = NULL;
}

static void arrange_factor_of_other_member(struct fixture *f, struct case_request *r)
{
    fixture_confirmed(f, MEMBER_B, ACCOUNT_B, FIXTURE_NOW_MS - 100, r->verification_id);
    r->factor.verification_id = r->verification_id;
}

static void arrange_factor_used_up(struct fixture *f, struct case_request *r)
{
    (void)r;
    fixture_sql(f, "UPDATE verifications SET uses = 1");
}

static void arrange_factor_named_used_up(struct fixture *f, struct case_request *r)
{
    fixture_confirmed(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS - 100, r->verification_id);
    r->factor.verification_id = r->verification_id;
    fixture_sql(f, "UPDATE verifications SET uses = 1");
}

static void arrange_factor_too_old(struct fixture *f, struct case_request *r)
{
    (void)f;
    r->factor.now_ms = FIXTURE_NOW_MS - 1000 + FIXTURE_WINDOW_MS + 1;
}

static void arrange_factor_pending(struct fixture *f, struct case_request *r)
{
    (void)r;
    fixture_sql(f, "UPDATE verifications SET status = 'PENDING'");
}

/* No bank account comes before the daily limit and the balance. */
static void arrange_bank_missing(struct fixture *f, struct case_request *r)
{
    (void)f;
    r->factor.member_id = MEMBER_B;
    snprintf(r->create.withdrawal.account_id, sizeof(r->create.withdrawal.account_id), "%s",
             ACCOUNT_B);
    snprintf(r->create.withdrawal.member_id, sizeof(r->create.withdrawal.member_id), "%s",
             MEMBER_B);
    r->create.daily_limit_won = 1;
}

static void arrange_account_unknown(struct fixture *f, struct case_request *r)
{
    (void)f;
    snprintf(r->create.withdrawal.account_id, sizeof(r->create.withdrawal.account_id), "%s",
             ACCOUNT_UNKNOWN);
}

/* A bank account the member changed through the API a second ago; the cooling-off comes
 * before the daily limit. */
static void arrange_cooling_off(struct fixture *f, struct case_request *r)
{
    char verification_id[VERIFICATION_ID_LENGTH + 1];
    fixture_confirmed(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS - 100, verification_id);
    struct second_factor factor = fixture_factor(MEMBER_A, 1);
    factor.verification_id = verification_id;
    struct bank_account bank;
    fixture_bank_value(&bank, ACCOUNT_A, "088", "4321", "Member", FIXTURE_NOW_MS - 1000);
    assert_int_equal(store_bank_account_set(f->store, &bank, &factor, NULL), CASH_OK);
    r->create.bank_cooling_off_ms = HOUR_MS;
    r->create.daily_limit_won = 1;
}

/* Today's live withdrawals count; the limit comes before the balance. */
static void arrange_daily_limit(struct fixture *f, struct case_request *r)
{
    struct withdrawal before;
    withdraw_before(f, &before);
    fixture_withdraw_request(&r->create, &r->factor, ACCOUNT_A, MEMBER_A, BALANCE - TOTAL + 1000);
    r->create.daily_limit_won = BALANCE;
}

static void arrange_daily_limit_alone(struct fixture *f, struct case_request *r)
{
    (void)f;
    r->create.daily_limit_won = TOTAL - 1;
}

static void arrange_not_enough_balance(struct fixture *f, struct case_request *r)
{
    (void)f;
    fixture_withdraw_request(&r->create, &r->factor, ACCOUNT_A, MEMBER_A, BALANCE + 1);
}

static void arrange_withdraw_id_used(struct fixture *f, struct case_request *r)
{
    struct withdrawal before;
    withdraw_before(f, &before);
    memcpy(r->create.withdrawal.withdraw_id, before.withdraw_id, sizeof(before.withdraw_id));
}

static void arrange_history_id_used(struct fixture *f, struct case_request *r)
{
    char history_id[HISTORY_ID_LENGTH + 1];
    struct history_entry entry;
    fixture_id(history_id);
    assert_int_equal(
        store_balance_credit(f->store, ACCOUNT_B, 1, "", history_id, FIXTURE_NOW_MS, &entry),
        CASH_OK);
    memcpy(r->create.history_id, history_id, sizeof(history_id));
}

static const struct refusal_case refusal_cases[] = {
    {"duplicated signature", arrange_duplicated, CASH_DUPLICATED_SIGNATURE},
    {"unknown named factor", arrange_factor_unknown, CASH_SECOND_FACTOR_REQUIRED},
    {"factor without member", arrange_factor_no_member, CASH_SECOND_FACTOR_REQUIRED},
    {"factor of another member", arrange_factor_of_other_member, CASH_SECOND_FACTOR_REQUIRED},
    {"factor used up", arrange_factor_used_up, CASH_SECOND_FACTOR_REQUIRED},
    {"named factor used up", arrange_factor_named_used_up, CASH_SECOND_FACTOR_REQUIRED},
    {"factor too old", arrange_factor_too_old, CASH_SECOND_FACTOR_REQUIRED},
    {"factor not confirmed", arrange_factor_pending, CASH_SECOND_FACTOR_REQUIRED},
    {"no bank account", arrange_bank_missing, CASH_BANK_ACCOUNT_NOT_REGISTERED},
    {"unknown account", arrange_account_unknown, CASH_BANK_ACCOUNT_NOT_REGISTERED},
    {"cooling-off", arrange_cooling_off, CASH_BANK_ACCOUNT_COOLING_OFF},
    {"daily limit", arrange_daily_limit, CASH_DAILY_LIMIT_EXCEEDED},
    {"daily limit below the total", arrange_daily_limit_alone, CASH_DAILY_LIMIT_EXCEEDED},
    {"not enough balance", arrange_not_enough_balance, CASH_NOT_ENOUGH_BALANCE},
    {"withdraw id used", arrange_withdraw_id_used, CASH_CONFLICT},
    {"history id used", arrange_history_id_used, CASH_CONFLICT},
};

/* Sends the case's request one way; the result, with every out as a refusal leaves it. */
static cash_result refusal_send(struct fixture *f, const struct case_request *r, enum way way)
{
    struct case_request copy = *r; /* the factor's outs are written into the copy */
    copy.create.factor = &copy.factor;
    char signature[32];
    snprintf(signature, sizeof(signature), "sig-refused-%d", (int)way);
    struct store_request storage;
    struct store_request *request =
        request_for(way, r->signature != NULL ? r->signature : signature, &storage);
    struct withdrawal out;
    memset(&out, 0x5a, sizeof(out));
    cash_result result = store_withdraw_create(f->store, &copy.create, &out, request);
    assert_int_equal((unsigned char)out.withdraw_id[0], 0x5a);
    assert_int_equal(copy.factor.confirmed_ms, 0);
    if (request != NULL) {
        assert_false(request->replay_recorded);
        assert_false(request->replayed);
        assert_null(request->answer.body);
        store_request_clear(request);
    }
    return result;
}

static void test_refusals_agree(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(refusal_cases) / sizeof(refusal_cases[0]); i++) {
        const struct refusal_case *c = &refusal_cases[i];
        struct fixture *f = setup();
        struct case_request r;
        case_request_init(&r);
        c->arrange(f, &r);
        struct snapshot before;
        snapshot_take(f, &before);
        for (int way = 0; way < WAY_COUNT; way++) {
            if (way == WAY_NO_REQUEST && c->expected == CASH_DUPLICATED_SIGNATURE) {
                continue; /* no request, no signature */
            }
            cash_result result = refusal_send(f, &r, (enum way)way);
            if (result != c->expected) {
                print_message("%s, %s: %s instead of %s\n", c->name, way_names[way],
                              result_error_code(result), result_error_code(c->expected));
            }
            assert_int_equal(result, c->expected);
            char what[96];
            snprintf(what, sizeof(what), "%s, %s", c->name, way_names[way]);
            snapshot_same(f, &before, what);
        }
        fixture_free(f);
    }
}

/* ---- successes ---- */

struct success_run {
    struct withdrawal out;
    int64_t confirmed_ms;
    int64_t balance_after;
};

/* One way of a request that must succeed, with cooling_off_ms (the operator's bank account is
 * exempt); *run_out its outs. signature: the replay row's (its row may be an expired one). */
static void success_send(struct fixture *f, enum way way, const char *signature,
                         int64_t cooling_off_ms, struct success_run *run_out)
{
    struct second_factor factor = fixture_factor(MEMBER_A, USES_MANY);
    struct withdraw_create create;
    fixture_withdraw_request(&create, &factor, ACCOUNT_A, MEMBER_A, TOTAL);
    create.bank_cooling_off_ms = cooling_off_ms;
    struct store_request storage;
    struct store_request *request = request_for(way, signature, &storage);
    int64_t events = fixture_sql_int(f, "SELECT COUNT(*) FROM withdrawal_events");
    assert_int_equal(store_withdraw_create(f->store, &create, &run_out->out, request), CASH_OK);
    if (request != NULL) {
        assert_true(request->replay_recorded);
        assert_false(request->replayed);
        assert_true((request->answer.body != NULL) == (way == WAY_KEYED));
        store_request_clear(request);
    }
    assert_string_equal(run_out->out.withdraw_id, create.withdrawal.withdraw_id);
    run_out->confirmed_ms = factor.confirmed_ms;
    run_out->balance_after = fixture_balance(f, ACCOUNT_A);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM withdrawal_events"), events + 1);
}

static void test_successes_agree(void **state)
{
    (void)state;
    struct fixture *f = setup();
    /* an expired replay row of the keyed way's signature: it counts as none */
    assert_int_equal(store_replay_remember(f->store, API_KEY, "sig-ok-2", FIXTURE_NOW_MS - HOUR_MS,
                                           FIXTURE_NOW_MS - 1),
                     CASH_OK);
    /* a newer usable verification: the oldest one (confirmed at NOW - 1000) is spent */
    char newer_id[VERIFICATION_ID_LENGTH + 1];
    fixture_confirmed(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS - 500, newer_id);
    struct success_run runs[WAY_COUNT];
    static const char *const signatures[WAY_COUNT] = {NULL, "sig-ok-1", "sig-ok-2"};
    for (int way = 0; way < WAY_COUNT; way++) {
        success_send(f, (enum way)way, signatures[way], HOUR_MS, &runs[way]);
        assert_int_equal(runs[way].balance_after, BALANCE - (way + 1) * TOTAL);
        assert_int_equal(runs[way].confirmed_ms, FIXTURE_NOW_MS - 1000);
        assert_int_equal(runs[way].out.status, WITHDRAW_PENDING);
        assert_string_equal(runs[way].out.masked_number, "******7890");
        assert_int_equal(runs[way].out.confirmed_ms, (FIXTURE_NOW_MS - 1000) / 1000 * 1000);
        fixture_assert_same_withdrawal(&runs[way].out, &runs[0].out);
    }
    /* each stored row as the out said, with its ledger entry and event */
    for (int way = 0; way < WAY_COUNT; way++) {
        struct withdrawal stored;
        assert_int_equal(
            store_withdraw_get(f->store, ACCOUNT_A, runs[way].out.withdraw_id, &stored), CASH_OK);
        fixture_assert_same_withdrawal(&stored, &runs[way].out);
        struct withdraw_event events[2];
        size_t count = 0;
        assert_int_equal(
            store_withdraw_events(f->store, runs[way].out.withdraw_id, events, 2, &count), CASH_OK);
        assert_int_equal(count, 1);
        assert_string_equal(events[0].actor, "member:" MEMBER_A);
        assert_false(events[0].has_from);
        assert_int_equal(events[0].to, WITHDRAW_PENDING);
    }
    assert_int_equal(fixture_sql_int(f, "SELECT COALESCE(SUM(uses), 0) FROM verifications"),
                     WAY_COUNT);
    assert_int_equal(fixture_uses(f, newer_id), 0);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM used_signatures"), 2);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM idempotency_keys"), 1);
    struct fixture_problems problems;
    assert_int_equal(fixture_verify(f, &problems), 0);
    fixture_free(f);
}

/* ---- the daily limit under concurrency ---- */

enum { RACERS = 8, RACE_WINNERS = 3 };

struct racer {
    struct fixture *f;
    pthread_barrier_t *start;
    char verification_id[VERIFICATION_ID_LENGTH + 1];
    char signature[32];
    cash_result result;
};

static void *racer_run(void *pointer)
{
    struct racer *racer = pointer;
    struct second_factor factor = fixture_factor(MEMBER_A, 1);
    factor.verification_id = racer->verification_id;
    struct withdraw_create create;
    fixture_withdraw_request(&create, &factor, ACCOUNT_A, MEMBER_A, TOTAL);
    create.daily_limit_won = RACE_WINNERS * TOTAL;
    struct store_request storage;
    struct store_request *request = request_for(WAY_SIGNED, racer->signature, &storage);
    struct withdrawal out;
    pthread_barrier_wait(racer->start);
    racer->result = store_withdraw_create(racer->f->store, &create, &out, request);
    store_request_clear(request);
    return NULL;
}

/*
 * Requests of one account at once, each on a factor of its own, the daily limit binding before
 * the balance: each sums the day after the account's lock is granted, and sees every withdrawal
 * committed before it (in the function, each statement takes a snapshot of its own).
 */
static void test_daily_limit_race(void **state)
{
    (void)state;
    struct fixture *f = setup();
    pthread_barrier_t start;
    assert_int_equal(pthread_barrier_init(&start, NULL, RACERS), 0);
    pthread_t threads[RACERS];
    struct racer racers[RACERS];
    for (int i = 0; i < RACERS; i++) {
        racers[i] = (struct racer){.f = f, .start = &start, .result = CASH_INTERNAL_ERROR};
        fixture_confirmed(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS - 100, racers[i].verification_id);
        snprintf(racers[i].signature, sizeof(racers[i].signature), "sig-race-%d", i);
    }
    for (int i = 0; i < RACERS; i++) {
        assert_int_equal(pthread_create(&threads[i], NULL, racer_run, &racers[i]), 0);
    }
    int won = 0;
    for (int i = 0; i < RACERS; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        if (racers[i].result == CASH_OK) {
            won++;
        } else {
            assert_int_equal(racers[i].result, CASH_DAILY_LIMIT_EXCEEDED);
        }
    }
    pthread_barrier_destroy(&start);
    assert_int_equal(won, RACE_WINNERS);
    assert_int_equal(fixture_balance(f, ACCOUNT_A), BALANCE - RACE_WINNERS * TOTAL);
    assert_int_equal(fixture_sql_int(f, "SELECT COALESCE(SUM(uses), 0) FROM verifications"),
                     RACE_WINNERS);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM used_signatures"), RACE_WINNERS);
    struct fixture_problems problems;
    assert_int_equal(fixture_verify(f, &problems), 0);
    fixture_free(f);
}

/* ---- PostgreSQL: the function itself ---- */

/* Replaces the installed function by one that refuses every request with NotEnoughBalance. */
static void function_poison(struct fixture *f)
{
    fixture_sql(f, "DO $test$ DECLARE definition text; BEGIN"
                   " SELECT pg_get_functiondef('cashd_withdraw_create_v1'::regproc)"
                   " INTO definition;"
                   " EXECUTE replace(definition, 'outcome := ''OK'';',"
                   " 'RAISE SQLSTATE ''CW001'' USING MESSAGE = ''NotEnoughBalance'';');"
                   " END $test$");
}

static cash_result withdraw_one(struct fixture *f, enum way way, const char *signature)
{
    struct second_factor factor = fixture_factor(MEMBER_A, USES_MANY);
    struct withdraw_create create;
    fixture_withdraw_request(&create, &factor, ACCOUNT_A, MEMBER_A, 1000);
    struct store_request storage;
    struct store_request *request = request_for(way, signature, &storage);
    struct withdrawal out;
    cash_result result = store_withdraw_create(f->store, &create, &out, request);
    store_request_clear(request);
    return result;
}

static void test_function_is_the_way_without_key(void **state)
{
    (void)state;
    struct fixture *f = setup();
    assert_int_equal(
        fixture_sql_int(f,
                        "SELECT COUNT(*) FROM pg_proc WHERE proname = 'cashd_withdraw_create_v1'"),
        1);
    function_poison(f);
    assert_int_equal(withdraw_one(f, WAY_NO_REQUEST, NULL), CASH_NOT_ENOUGH_BALANCE);
    assert_int_equal(withdraw_one(f, WAY_SIGNED, "sig-p1"), CASH_NOT_ENOUGH_BALANCE);
    assert_int_equal(withdraw_one(f, WAY_KEYED, "sig-p2"), CASH_OK);
    /* store_migrate finds another text and puts its own back */
    int version = 0;
    assert_int_equal(store_migrate(f->store, &version), CASH_OK);
    assert_int_equal(withdraw_one(f, WAY_SIGNED, "sig-p3"), CASH_OK);
    assert_int_equal(withdraw_one(f, WAY_NO_REQUEST, NULL), CASH_OK);
    assert_int_equal(fixture_balance(f, ACCOUNT_A), BALANCE - 3 * 1000);
    fixture_free(f);
}

struct migrate_thread {
    const char *url;
    struct store *store; /* opened and migrated, or NULL */
    cash_result result;
};

static void *migrate_thread_run(void *pointer)
{
    struct migrate_thread *thread = pointer;
    char why[256] = "";
    thread->result = store_open(thread->url, &thread->store, why, sizeof(why));
    if (thread->result == CASH_OK) {
        int version = 0;
        thread->result = store_migrate(thread->store, &version);
    }
    return NULL;
}

/*
 * Processes starting at once each migrate over a function of another text: all succeed, and
 * each then takes the function's way (a function changed afterwards answers for each of them).
 */
static void test_function_install_at_once(void **state)
{
    (void)state;
    struct fixture *f = setup();
    function_poison(f);
    enum { THREADS = 4 };
    pthread_t threads[THREADS];
    struct migrate_thread runs[THREADS];
    for (int i = 0; i < THREADS; i++) {
        runs[i] = (struct migrate_thread){.url = f->url, .result = CASH_INTERNAL_ERROR};
        assert_int_equal(pthread_create(&threads[i], NULL, migrate_thread_run, &runs[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        assert_int_equal(runs[i].result, CASH_OK);
    }
    assert_int_equal(withdraw_one(f, WAY_SIGNED, "sig-i0"), CASH_OK);
    function_poison(f);
    struct store *own = f->store;
    for (int i = 0; i < THREADS; i++) {
        char signature[32];
        snprintf(signature, sizeof(signature), "sig-i%d", i + 1);
        f->store = runs[i].store;
        assert_int_equal(withdraw_one(f, WAY_SIGNED, signature), CASH_NOT_ENOUGH_BALANCE);
        store_close(runs[i].store);
    }
    f->store = own;
    fixture_free(f);
}

int main(void)
{
    /* Every backend: the ways agree. PostgreSQL only: its server-side function. */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals_agree),
        cmocka_unit_test(test_successes_agree),
        cmocka_unit_test(test_daily_limit_race),
    };
    const struct CMUnitTest pg_tests[] = {
        cmocka_unit_test(test_function_is_the_way_without_key),
        cmocka_unit_test(test_function_install_at_once),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (fixture_backend_pg()) {
        failed += cmocka_run_group_tests(pg_tests, NULL, NULL);
    }
    return failed;
}
