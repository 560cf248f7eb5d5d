/*
 * test_store_race.c - SPEC 3: the balance never goes below zero whatever the concurrency.
 * 16 threads race withdrawals on one account whose balance allows exactly K of them, through two
 * stores opened on the same file (as cashd and another process would), while readers and
 * ledger_verify watch: exactly K succeed, the rest are NOT_ENOUGH_BALANCE, the balance is exact,
 * and every snapshot any reader saw was consistent.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store_fixture.h"

#define ACCOUNT_A       "25112400000001"
#define MEMBER_A        "25112410000001"
#define RACE_THREADS    16
#define RACE_PER_THREAD 8
#define RACE_ALLOWED    37 /* K */
#define RACE_TOTAL_WON  1000
#define RACE_READERS    4

struct race {
    struct store *stores[2];
    atomic_int succeeded;
    atomic_int not_enough;
    atomic_int unexpected;
    atomic_int writers_done;
    /* readers */
    atomic_int reads;
    atomic_int read_errors;
    atomic_int inconsistent;
    atomic_int verify_runs;
};

struct writer_arg {
    struct race *race;
    int index;
};

static void *race_writer(void *pointer)
{
    struct writer_arg *arg = pointer;
    struct race *race = arg->race;
    struct store *store = race->stores[arg->index % 2];
    for (int i = 0; i < RACE_PER_THREAD; i++) {
        struct second_factor factor = fixture_factor(MEMBER_A, RACE_THREADS * RACE_PER_THREAD);
        struct withdraw_create request;
        struct withdrawal out;
        fixture_withdraw_request(&request, &factor, ACCOUNT_A, MEMBER_A, RACE_TOTAL_WON);
        cash_result result = store_withdraw_create(store, &request, &out, NULL);
        if (result == CASH_OK) {
            atomic_fetch_add(&race->succeeded, 1);
        } else if (result == CASH_NOT_ENOUGH_BALANCE) {
            atomic_fetch_add(&race->not_enough, 1);
        } else {
            fprintf(stderr, "race: unexpected result %d\n", (int)result);
            atomic_fetch_add(&race->unexpected, 1);
        }
    }
    atomic_fetch_add(&race->writers_done, 1);
    return NULL;
}

static void race_report(void *context, const char *problem)
{
    (void)context;
    fprintf(stderr, "race: ledger_verify during the race: %s\n", problem);
}

/* Reads while the writers run: the balance only falls, never below zero; the ledger holds. */
static void *race_reader(void *pointer)
{
    struct race *race = pointer;
    int64_t last_balance = INT64_MAX;
    while (atomic_load(&race->writers_done) < RACE_THREADS) {
        struct account account;
        cash_result result = store_account_get(race->stores[0], ACCOUNT_A, &account);
        if (result != CASH_OK) {
            atomic_fetch_add(&race->read_errors, 1);
            continue;
        }
        if (account.balance_won < 0 || account.balance_won > last_balance) {
            atomic_fetch_add(&race->inconsistent, 1);
        }
        last_balance = account.balance_won;
        struct history_entry entries[5];
        size_t count = 0;
        struct history_query query = {.limit = 5};
        snprintf(query.account_id, sizeof(query.account_id), "%s", ACCOUNT_A);
        if (store_history_list(race->stores[1], &query, entries, &count) != CASH_OK) {
            atomic_fetch_add(&race->read_errors, 1);
        } else if (count > 0 && entries[0].new_balance_won < 0) {
            atomic_fetch_add(&race->inconsistent, 1);
        }
        size_t problems = 0;
        if (store_ledger_verify(race->stores[0], race_report, NULL, &problems) != CASH_OK) {
            atomic_fetch_add(&race->read_errors, 1);
        } else if (problems != 0) {
            atomic_fetch_add(&race->inconsistent, 1);
        }
        atomic_fetch_add(&race->verify_runs, 1);
        atomic_fetch_add(&race->reads, 1);
    }
    return NULL;
}

static void test_race_for_the_last_won(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    fixture_account(f, ACCOUNT_A);
    fixture_member(f, MEMBER_A, ACCOUNT_A);
    fixture_bank(f, ACCOUNT_A);
    fixture_credit(f, ACCOUNT_A, RACE_ALLOWED * RACE_TOTAL_WON + RACE_TOTAL_WON - 1);
    char verification_id[VERIFICATION_ID_LENGTH + 1];
    fixture_confirmed(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS - 1000, verification_id);

    struct race race;
    memset(&race, 0, sizeof(race));
    race.stores[0] = f->store;
    char why[256];
    assert_int_equal(store_open(f->url, &race.stores[1], why, sizeof(why)), CASH_OK);

    pthread_t writers[RACE_THREADS], readers[RACE_READERS];
    struct writer_arg args[RACE_THREADS];
    for (int i = 0; i < RACE_READERS; i++) {
        assert_int_equal(pthread_create(&readers[i], NULL, race_reader, &race), 0);
    }
    for (int i = 0; i < RACE_THREADS; i++) {
        args[i].race = &race;
        args[i].index = i;
        assert_int_equal(pthread_create(&writers[i], NULL, race_writer, &args[i]), 0);
    }
    for (int i = 0; i < RACE_THREADS; i++) {
        pthread_join(writers[i], NULL);
    }
    for (int i = 0; i < RACE_READERS; i++) {
        pthread_join(readers[i], NULL);
    }
    store_close(race.stores[1]);

    assert_int_equal(atomic_load(&race.unexpected), 0);
    assert_int_equal(atomic_load(&race.succeeded), RACE_ALLOWED);
    assert_int_equal(atomic_load(&race.not_enough), RACE_THREADS * RACE_PER_THREAD - RACE_ALLOWED);
    assert_int_equal(fixture_balance(f, ACCOUNT_A), RACE_TOTAL_WON - 1);
    assert_int_equal(fixture_uses(f, verification_id), RACE_ALLOWED);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM withdrawals"), RACE_ALLOWED);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM balance_history"), RACE_ALLOWED + 1);
    assert_int_equal(atomic_load(&race.read_errors), 0);
    assert_int_equal(atomic_load(&race.inconsistent), 0);
    assert_true(atomic_load(&race.verify_runs) >= RACE_READERS);
    struct fixture_problems problems;
    assert_int_equal(fixture_verify(f, &problems), 0);
    fixture_free(f);
}

/* Many threads reading at once share the pool of reader connections. */
struct pool_arg {
    struct store *store;
    atomic_int *errors;
};

static void *pool_reader(void *pointer)
{
    struct pool_arg *arg = pointer;
    for (int i = 0; i < 50; i++) {
        struct account account;
        struct withdrawal rows[3];
        size_t count = 0;
        char next_key[WITHDRAW_ID_LENGTH + 1];
        struct withdraw_query query;
        memset(&query, 0, sizeof(query));
        snprintf(query.account_id, sizeof(query.account_id), "%s", ACCOUNT_A);
        query.limit = 3;
        if (store_account_get(arg->store, ACCOUNT_A, &account) != CASH_OK ||
            account.balance_won != 5000 ||
            store_withdraw_list(arg->store, &query, rows, &count, next_key) != CASH_OK ||
            count != 0) {
            atomic_fetch_add(arg->errors, 1);
        }
    }
    return NULL;
}

static void test_reader_pool(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    fixture_account(f, ACCOUNT_A);
    fixture_credit(f, ACCOUNT_A, 5000);
    enum { POOL_THREADS = 3 * DB_READERS_MAX };
    pthread_t threads[POOL_THREADS];
    atomic_int errors = 0;
    struct pool_arg arg = {.store = f->store, .errors = &errors};
    for (int i = 0; i < POOL_THREADS; i++) {
        assert_int_equal(pthread_create(&threads[i], NULL, pool_reader, &arg), 0);
    }
    for (int i = 0; i < POOL_THREADS; i++) {
        pthread_join(threads[i], NULL);
    }
    assert_int_equal(atomic_load(&errors), 0);
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_race_for_the_last_won),
        cmocka_unit_test(test_reader_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
