/*
 * test_store_busy.c - another process holding a lock the store needs (SQLite: the database's
 * write lock; PostgreSQL: the account's row): a write waits for it (busy_timeout;
 * statement_timeout), and answers CASH_SERVICE_UNAVAILABLE, changing nothing, when it is held
 * past DB_TIMEOUT_MS; reads go on meanwhile (WAL; MVCC).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "store_fixture.h"

#define ACCOUNT_A "25112400000001"

/* A connection of its own holding the write lock until released: an uncommitted UPDATE. */
static struct fixture_conn lock_take(const struct fixture *f)
{
    struct fixture_conn conn = fixture_conn_open(f);
    assert_true(fixture_conn_exec(&conn, fixture_begin_write(f)));
    assert_true(fixture_conn_exec(&conn, "UPDATE accounts SET recharge_try_count = 7"
                                         " WHERE account_id = '" ACCOUNT_A "'"));
    return conn;
}

static void test_busy_past_timeout(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    fixture_account(f, ACCOUNT_A);
    fixture_credit(f, ACCOUNT_A, 1000);
    struct fixture_conn db = lock_take(f);

    /* Reads are not blocked by a writer. */
    struct account account;
    assert_int_equal(store_account_get(f->store, ACCOUNT_A, &account), CASH_OK);
    assert_int_equal(account.balance_won, 1000);

    char history_id[HISTORY_ID_LENGTH + 1];
    struct history_entry entry;
    fixture_id(history_id);
    assert_int_equal(
        store_balance_credit(f->store, ACCOUNT_A, 500, NULL, history_id, FIXTURE_NOW_MS, &entry),
        CASH_SERVICE_UNAVAILABLE);
    assert_true(fixture_conn_exec(&db, "ROLLBACK"));
    fixture_conn_close(&db);

    assert_int_equal(fixture_balance(f, ACCOUNT_A), 1000);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM balance_history"), 1);
    /* The store is usable again at once. */
    assert_int_equal(
        store_balance_credit(f->store, ACCOUNT_A, 500, NULL, history_id, FIXTURE_NOW_MS, &entry),
        CASH_OK);
    assert_int_equal(fixture_balance(f, ACCOUNT_A), 1500);
    fixture_free(f);
}

struct holder {
    struct fixture_conn db;
    int release_after_ms;
};

static void *lock_release_later(void *pointer)
{
    struct holder *holder = pointer;
    struct timespec pause = {.tv_sec = 0, .tv_nsec = holder->release_after_ms * 1000000L};
    nanosleep(&pause, NULL);
    fixture_conn_exec(&holder->db, "COMMIT");
    return NULL;
}

static void test_busy_waits_for_lock(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    fixture_account(f, ACCOUNT_A);
    struct holder holder = {.db = lock_take(f), .release_after_ms = 300};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, lock_release_later, &holder), 0);
    char history_id[HISTORY_ID_LENGTH + 1];
    struct history_entry entry;
    fixture_id(history_id);
    assert_int_equal(
        store_balance_credit(f->store, ACCOUNT_A, 700, NULL, history_id, FIXTURE_NOW_MS, &entry),
        CASH_OK);
    pthread_join(thread, NULL);
    fixture_conn_close(&holder.db);
    struct account account;
    assert_int_equal(store_account_get(f->store, ACCOUNT_A, &account), CASH_OK);
    assert_int_equal(account.balance_won, 700);
    assert_int_equal(account.recharge_try_count, 7); /* the other writer's change is kept */
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_busy_past_timeout),
        cmocka_unit_test(test_busy_waits_for_lock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
