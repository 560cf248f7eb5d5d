/*
 * test_sqlite_group.c - group commit of the SQLite backend (src/store/sqlite.c): many callers'
 * writes share one transaction, each in its own savepoint. What must hold:
 *   - every write answered CASH_OK is durable (the store is closed and the file opened again);
 *   - a refused write left nothing, and took nothing of the others' with it;
 *   - when the batch's transaction is lost (COMMIT fails, or SQLite rolls it back under the
 *     batch), no write of the batch committed and none of them answers CASH_OK;
 *   - the database busy past DB_TIMEOUT_MS answers CASH_SERVICE_UNAVAILABLE to the whole batch;
 *   - a write alone in its batch (no savepoint) answers as it would in a batch;
 *   - batches really form: a gate (a write that waits inside its transaction until the others
 *     are queued) makes them form deterministically, whatever the machine's timing.
 * SQLite only: it reads the backend's counters (sqlite_internal.h), so cmake/postgres.cmake leaves
 * test_sqlite_*.c out of its PostgreSQL runs.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "store/sqlite_internal.h"
#include "store_fixture.h"

#define GROUP_THREADS    16
#define GROUP_ACCOUNTS   4
#define GROUP_PER_THREAD 12
#define GROUP_TOTAL_WON  1000
#define GROUP_ALLOWED    20 /* withdrawals each account's balance allows; 24 are tried on each */
#define GROUP_SHARED     (GROUP_PER_THREAD / 4) /* signatures all threads try; one of each wins */

static const char *const group_accounts[GROUP_ACCOUNTS] = {"25112400000001", "25112400000002",
                                                           "25112400000003", "25112400000004"};
static const char *const group_members[GROUP_ACCOUNTS] = {"25112410000001", "25112410000002",
                                                          "25112410000003", "25112410000004"};
#define GROUP_ACCOUNT_MISSING "25112400000099"

static struct sqlite_group_stats group_stats(struct fixture *f)
{
    struct sqlite_group_stats stats;
    assert_int_equal(db_control(f->store, DB_CONTROL_GROUP_STATS, &stats), 0);
    return stats;
}

/* Closes the store and opens the file again, as a restarted process would. */
static void group_reopen(struct fixture *f)
{
    char why[256] = "";
    store_close(f->store);
    f->store = NULL;
    assert_int_equal(store_open(f->url, &f->store, why, sizeof(why)), CASH_OK);
}

/* Accounts ready to withdraw GROUP_ALLOWED times GROUP_TOTAL_WON (and a bit less than once more).
 */
static void group_accounts_make(struct fixture *f)
{
    for (size_t i = 0; i < GROUP_ACCOUNTS; i++) {
        fixture_account(f, group_accounts[i]);
        fixture_member(f, group_members[i], group_accounts[i]);
        fixture_bank(f, group_accounts[i]);
        fixture_credit(f, group_accounts[i], GROUP_ALLOWED * GROUP_TOTAL_WON + GROUP_TOTAL_WON - 1);
        fixture_confirmed(f, group_members[i], group_accounts[i], FIXTURE_NOW_MS - 1000, NULL);
    }
}

static void sleep_ms(long ms)
{
    struct timespec pause = {.tv_sec = 0, .tv_nsec = ms * 1000000L};
    nanosleep(&pause, NULL);
}

/*
 * ---- the gate: a write that holds its batch open until `wait_for` calls are queued ----
 * The calls behind it must queue without taking the writer connection's mutex, which the gate's
 * batch holds: every store write does (a DB_WRITE run only queues).
 */

struct gate {
    struct store *store;
    size_t wait_for;
    atomic_bool running;
    cash_result result;
};

static cash_result gate_body(struct db_tx *tx, void *context)
{
    (void)tx;
    struct gate *gate = context;
    atomic_store(&gate->running, true);
    struct sqlite_group_stats stats;
    db_control(gate->store, DB_CONTROL_GROUP_STATS, &stats);
    while (stats.queued < gate->wait_for) {
        sleep_ms(1);
        db_control(gate->store, DB_CONTROL_GROUP_STATS, &stats);
    }
    return CASH_OK;
}

static void *gate_thread(void *pointer)
{
    struct gate *gate = pointer;
    gate->result = db_run(gate->store, DB_WRITE, gate_body, gate);
    return NULL;
}

/* Starts the gate and returns once it runs: the calls made after it queue for the next batch. */
static pthread_t gate_open(struct gate *gate, struct fixture *f, size_t wait_for)
{
    pthread_t thread;
    gate->store = f->store;
    gate->wait_for = wait_for;
    atomic_store(&gate->running, false);
    gate->result = CASH_INTERNAL_ERROR;
    assert_int_equal(pthread_create(&thread, NULL, gate_thread, gate), 0);
    while (!atomic_load(&gate->running)) {
        sleep_ms(1);
    }
    return thread;
}

/* ---- many writers through the public store API ---- */

struct writers {
    struct store *store;
    atomic_int withdrawn[GROUP_ACCOUNTS];
    atomic_int not_enough;
    atomic_int remembered;
    atomic_int duplicated;
    atomic_int missing;
    atomic_int credited; /* of group_accounts[1] */
    atomic_int unexpected;
};

struct writer_arg {
    struct writers *writers;
    int index;
};

static void writer_unexpected(struct writers *writers, const char *what, cash_result result)
{
    fprintf(stderr, "group: %s: unexpected result %d\n", what, (int)result);
    atomic_fetch_add(&writers->unexpected, 1);
}

static void writer_withdraw(struct writers *writers, size_t account)
{
    struct second_factor factor =
        fixture_factor(group_members[account], GROUP_THREADS * GROUP_PER_THREAD);
    struct withdraw_create request;
    struct withdrawal out;
    fixture_withdraw_request(&request, &factor, group_accounts[account], group_members[account],
                             GROUP_TOTAL_WON);
    cash_result result = store_withdraw_create(writers->store, &request, &out, NULL);
    if (result == CASH_OK) {
        atomic_fetch_add(&writers->withdrawn[account], 1);
    } else if (result == CASH_NOT_ENOUGH_BALANCE) {
        atomic_fetch_add(&writers->not_enough, 1);
    } else {
        writer_unexpected(writers, "withdraw", result);
    }
}

static void writer_remember(struct writers *writers, const char *signature)
{
    cash_result result = store_replay_remember(writers->store, "GROUPKEY00000001", signature,
                                               FIXTURE_NOW_MS, FIXTURE_NOW_MS + 60000);
    if (result == CASH_OK) {
        atomic_fetch_add(&writers->remembered, 1);
    } else if (result == CASH_DUPLICATED_SIGNATURE) {
        atomic_fetch_add(&writers->duplicated, 1);
    } else {
        writer_unexpected(writers, "replay", result);
    }
}

static void writer_credit_missing(struct writers *writers)
{
    char history_id[HISTORY_ID_LENGTH + 1];
    struct history_entry entry;
    fixture_id(history_id);
    cash_result result = store_balance_credit(writers->store, GROUP_ACCOUNT_MISSING, 500, "lost",
                                              history_id, FIXTURE_NOW_MS, &entry);
    if (result == CASH_NOT_FOUND) {
        atomic_fetch_add(&writers->missing, 1);
    } else {
        writer_unexpected(writers, "credit of a missing account", result);
    }
}

/* One write of kind `step` by writer `index`: a withdrawal (some refused for the balance), a
 * signature of its own, a signature every writer tries, or a credit of a missing account. */
static void writer_step(struct writers *writers, int index, int step)
{
    char signature[64];
    switch (step % 4) {
    case 0:
    case 1:
        writer_withdraw(writers, (size_t)(index + step) % GROUP_ACCOUNTS);
        break;
    case 2:
        snprintf(signature, sizeof(signature), "own-%02d-%02d", index, step);
        writer_remember(writers, signature);
        snprintf(signature, sizeof(signature), "shared-%02d", step / 4);
        writer_remember(writers, signature);
        break;
    default:
        writer_credit_missing(writers);
        break;
    }
}

static void *writer_thread(void *pointer)
{
    struct writer_arg *arg = pointer;
    for (int step = 0; step < GROUP_PER_THREAD; step++) {
        writer_step(arg->writers, arg->index, step);
    }
    return NULL;
}

static void writers_run(struct writers *writers)
{
    pthread_t threads[GROUP_THREADS];
    struct writer_arg args[GROUP_THREADS];
    for (int i = 0; i < GROUP_THREADS; i++) {
        args[i].writers = writers;
        args[i].index = i;
        assert_int_equal(pthread_create(&threads[i], NULL, writer_thread, &args[i]), 0);
    }
    for (int i = 0; i < GROUP_THREADS; i++) {
        pthread_join(threads[i], NULL);
    }
}

/* What the writers were told, checked against the file after a reopen. */
static void writers_check_durable(struct fixture *f, struct writers *writers)
{
    int withdrawn_total = 0;
    for (size_t i = 0; i < GROUP_ACCOUNTS; i++) {
        int withdrawn = atomic_load(&writers->withdrawn[i]);
        assert_true(withdrawn <= GROUP_ALLOWED);
        int credited = i == 1 ? atomic_load(&writers->credited) : 0;
        assert_int_equal(fixture_balance(f, group_accounts[i]),
                         (GROUP_ALLOWED - withdrawn + credited) * GROUP_TOTAL_WON +
                             GROUP_TOTAL_WON - 1);
        withdrawn_total += withdrawn;
    }
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM withdrawals"), withdrawn_total);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM balance_history"),
                     withdrawn_total + GROUP_ACCOUNTS + atomic_load(&writers->credited));
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM used_signatures"),
                     atomic_load(&writers->remembered));
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM accounts"), GROUP_ACCOUNTS);
    struct fixture_problems problems;
    assert_int_equal(fixture_verify(f, &problems), 0);
}

static void test_many_writers(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    group_accounts_make(f);
    struct writers writers;
    memset(&writers, 0, sizeof(writers));
    writers.store = f->store;
    struct sqlite_group_stats before = group_stats(f);
    writers_run(&writers);
    struct sqlite_group_stats after = group_stats(f);

    assert_int_equal(atomic_load(&writers.unexpected), 0);
    /* Half the steps withdraw: 24 tries on each account, which allows exactly 20. */
    for (size_t i = 0; i < GROUP_ACCOUNTS; i++) {
        assert_int_equal(atomic_load(&writers.withdrawn[i]), GROUP_ALLOWED);
    }
    assert_int_equal(atomic_load(&writers.not_enough),
                     GROUP_THREADS * GROUP_PER_THREAD / 2 - GROUP_ACCOUNTS * GROUP_ALLOWED);
    /* Every own signature is new; of each shared one exactly one writer wins. */
    assert_int_equal(atomic_load(&writers.remembered), GROUP_THREADS * GROUP_SHARED + GROUP_SHARED);
    assert_int_equal(atomic_load(&writers.duplicated), (GROUP_THREADS - 1) * GROUP_SHARED);
    assert_int_equal(atomic_load(&writers.missing), GROUP_THREADS * GROUP_PER_THREAD / 4);
    assert_true(after.jobs - before.jobs >= (uint64_t)GROUP_THREADS * GROUP_PER_THREAD * 5 / 4);
    assert_int_equal(after.queued, 0);
    assert_false(after.leading);

    group_reopen(f);
    writers_check_durable(f, &writers);
    fixture_free(f);
}

/* ---- a batch that is sure to form ---- */

struct one_write {
    struct writers *writers;
    int index;
};

static void *one_withdrawal_thread(void *pointer)
{
    struct one_write *write = pointer;
    writer_withdraw(write->writers, 0);
    return NULL;
}

/* Credits: even indexes the second account (kept), odd ones a missing account (refused). */
static void *one_credit_thread(void *pointer)
{
    struct one_write *write = pointer;
    if (write->index % 2 == 1) {
        writer_credit_missing(write->writers);
        return NULL;
    }
    char history_id[HISTORY_ID_LENGTH + 1];
    struct history_entry entry;
    fixture_id(history_id);
    cash_result result =
        store_balance_credit(write->writers->store, group_accounts[1], GROUP_TOTAL_WON, "kept",
                             history_id, FIXTURE_NOW_MS, &entry);
    if (result == CASH_OK) {
        atomic_fetch_add(&write->writers->credited, 1);
    } else {
        writer_unexpected(write->writers, "credit", result);
    }
    return NULL;
}

/*
 * One account that allows 3 more withdrawals; behind the gate 12 withdrawals on it and 4 credits
 * (2 of them of a missing account) queue up and run as one batch: 3 withdrawals and 2 credits
 * commit, 9 withdrawals and 2 credits are refused inside the batch without undoing the others.
 */
static void test_batch_forms(void **state)
{
    (void)state;
    enum { WITHDRAWALS = 12, CREDITS = 4, QUEUED = WITHDRAWALS + CREDITS };
    struct fixture *f = fixture_new();
    group_accounts_make(f);
    struct writers writers;
    memset(&writers, 0, sizeof(writers));
    writers.store = f->store;
    for (int i = 0; i < GROUP_ALLOWED - 3; i++) {
        writer_withdraw(&writers, 0);
    }
    assert_int_equal(atomic_load(&writers.withdrawn[0]), GROUP_ALLOWED - 3);

    struct sqlite_group_stats before = group_stats(f);
    struct gate gate;
    pthread_t gate_id = gate_open(&gate, f, QUEUED);
    pthread_t threads[QUEUED];
    struct one_write writes[QUEUED];
    for (int i = 0; i < QUEUED; i++) {
        writes[i].writers = &writers;
        writes[i].index = i;
        void *(*run)(void *) = i < WITHDRAWALS ? one_withdrawal_thread : one_credit_thread;
        assert_int_equal(pthread_create(&threads[i], NULL, run, &writes[i]), 0);
    }
    for (int i = 0; i < QUEUED; i++) {
        pthread_join(threads[i], NULL);
    }
    pthread_join(gate_id, NULL);
    assert_int_equal(gate.result, CASH_OK);
    struct sqlite_group_stats after = group_stats(f);

    assert_int_equal(atomic_load(&writers.unexpected), 0);
    assert_int_equal(atomic_load(&writers.withdrawn[0]), GROUP_ALLOWED);
    assert_int_equal(atomic_load(&writers.not_enough), WITHDRAWALS - 3);
    assert_int_equal(atomic_load(&writers.credited), CREDITS / 2);
    assert_int_equal(atomic_load(&writers.missing), CREDITS / 2);
    /* The gate's batch, then one batch of everything queued behind it. */
    assert_true(after.batch_jobs_max >= QUEUED);
    assert_true(after.batches - before.batches < after.jobs - before.jobs);

    group_reopen(f);
    writers_check_durable(f, &writers);
    fixture_free(f);
}

/* ---- raw bodies: a refused body, a failed COMMIT, a transaction lost under the batch ---- */

enum raw_kind {
    RAW_KEEP,        /* inserts its row, CASH_OK */
    RAW_REFUSE,      /* inserts its row, then refuses: the row must go */
    RAW_DEFERRED_FK, /* inserts a row whose deferred foreign key fails at COMMIT */
    RAW_LOSE,        /* ends the transaction under the batch, as SQLite does after SQLITE_FULL */
};

struct raw_job {
    struct store *store;
    int id;
    enum raw_kind kind;
    cash_result result;
};

static cash_result raw_body(struct db_tx *tx, void *context)
{
    struct raw_job *job = context;
    char sql[160];
    if (job->kind == RAW_DEFERRED_FK) {
        snprintf(sql, sizeof(sql), "INSERT INTO group_child (id, parent) VALUES (%d, 999)",
                 job->id);
    } else {
        snprintf(sql, sizeof(sql), "INSERT INTO group_rows (id) VALUES (%d)", job->id);
    }
    cash_result result = db_exec_simple(tx, sql);
    if (result != CASH_OK) {
        return result;
    }
    switch (job->kind) {
    case RAW_REFUSE:
        return CASH_NOT_ENOUGH_BALANCE;
    case RAW_LOSE:
        (void)db_exec_simple(tx, "ROLLBACK");
        return CASH_OK; /* what a body that missed the loss would say */
    default:
        return CASH_OK;
    }
}

static void *raw_thread(void *pointer)
{
    struct raw_job *job = pointer;
    job->result = db_run(job->store, DB_WRITE, raw_body, job);
    return NULL;
}

static struct fixture *raw_fixture(void)
{
    struct fixture *f = fixture_new();
    fixture_sql(f, "CREATE TABLE group_rows (id INTEGER PRIMARY KEY)");
    fixture_sql(f, "CREATE TABLE group_parent (id INTEGER PRIMARY KEY)");
    fixture_sql(f, "CREATE TABLE group_child (id INTEGER PRIMARY KEY, parent INTEGER"
                   " REFERENCES group_parent (id) DEFERRABLE INITIALLY DEFERRED)");
    return f;
}

/* Runs jobs [0, count) as one batch behind the gate. */
static void raw_batch(struct fixture *f, struct raw_job *jobs, size_t count)
{
    pthread_t threads[GROUP_THREADS];
    assert_true(count <= GROUP_THREADS);
    struct sqlite_group_stats before = group_stats(f);
    struct gate gate;
    pthread_t gate_id = gate_open(&gate, f, count);
    for (size_t i = 0; i < count; i++) {
        jobs[i].store = f->store;
        assert_int_equal(pthread_create(&threads[i], NULL, raw_thread, &jobs[i]), 0);
    }
    for (size_t i = 0; i < count; i++) {
        pthread_join(threads[i], NULL);
    }
    pthread_join(gate_id, NULL);
    assert_int_equal(gate.result, CASH_OK);
    struct sqlite_group_stats after = group_stats(f);
    assert_true(after.batch_jobs_max >= count);
    assert_int_equal(after.jobs - before.jobs, count + 1);
}

static void test_refused_body_undoes_only_itself(void **state)
{
    (void)state;
    struct fixture *f = raw_fixture();
    struct raw_job jobs[GROUP_THREADS];
    for (int i = 0; i < GROUP_THREADS; i++) {
        jobs[i] = (struct raw_job){.id = i + 1, .kind = i % 3 == 0 ? RAW_REFUSE : RAW_KEEP};
    }
    raw_batch(f, jobs, GROUP_THREADS);
    int kept = 0;
    for (int i = 0; i < GROUP_THREADS; i++) {
        assert_int_equal(jobs[i].result, i % 3 == 0 ? CASH_NOT_ENOUGH_BALANCE : CASH_OK);
        kept += i % 3 == 0 ? 0 : 1;
    }
    group_reopen(f);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM group_rows"), kept);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM group_rows WHERE id % 3 = 1"), 0);
    fixture_free(f);
}

/* A batch that does not commit answers a failure to every job, those whose body said CASH_OK
 * too, and leaves nothing of any of them; the next write works. */
static void raw_check_lost(struct fixture *f, struct raw_job *jobs, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        assert_int_equal(jobs[i].result, CASH_INTERNAL_ERROR);
    }
    group_reopen(f);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM group_rows"), 0);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM group_child"), 0);
    struct raw_job after = {.store = f->store, .id = 1000, .kind = RAW_KEEP};
    raw_thread(&after);
    assert_int_equal(after.result, CASH_OK);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM group_rows"), 1);
}

/* Eight jobs in one batch, all kept but one refused and one `lost` at lost_at, which makes the
 * batch's transaction fail: nothing of the batch stays, and no job answers CASH_OK. */
static void lost_batch_check(enum raw_kind lost, int lost_at, int refused_at)
{
    enum { COUNT = 8 };
    struct fixture *f = raw_fixture();
    struct raw_job jobs[COUNT];
    for (int i = 0; i < COUNT; i++) {
        jobs[i] = (struct raw_job){.id = i + 1, .kind = RAW_KEEP};
    }
    jobs[lost_at].kind = lost;
    jobs[refused_at].kind = RAW_REFUSE;
    raw_batch(f, jobs, COUNT);
    raw_check_lost(f, jobs, COUNT);
    fixture_free(f);
}

static void test_commit_failure_fails_all(void **state)
{
    (void)state;
    lost_batch_check(RAW_DEFERRED_FK, 3, 5); /* passes its savepoint, fails the batch's COMMIT */
}

static void test_transaction_lost_fails_all(void **state)
{
    (void)state;
    lost_batch_check(RAW_LOSE, 4, 6);
}

/* A job alone in its batch runs without a savepoint: the same answers. */
static void test_alone_job(void **state)
{
    (void)state;
    struct fixture *f = raw_fixture();
    static const struct {
        enum raw_kind kind;
        cash_result result;
    } cases[] = {
        {RAW_KEEP, CASH_OK},
        {RAW_REFUSE, CASH_NOT_ENOUGH_BALANCE},
        {RAW_DEFERRED_FK, CASH_INTERNAL_ERROR},
        {RAW_LOSE, CASH_INTERNAL_ERROR},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sqlite_group_stats before = group_stats(f);
        struct raw_job job = {
            .store = f->store, .id = (int)i + 1, .kind = cases[i].kind};
        raw_thread(&job);
        assert_int_equal(job.result, cases[i].result);
        struct sqlite_group_stats after = group_stats(f);
        assert_int_equal(after.batches - before.batches, 1);
        assert_int_equal(after.jobs - before.jobs, 1);
    }
    group_reopen(f);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM group_rows"), 1);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM group_rows WHERE id = 1"), 1);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM group_child"), 0);
    fixture_free(f);
}

/* ---- another process holds the write lock past DB_TIMEOUT_MS ---- */

static void test_busy_fails_the_batch(void **state)
{
    (void)state;
    enum { COUNT = 4 };
    struct fixture *f = raw_fixture();
    struct fixture_conn other = fixture_conn_open(f);
    assert_true(fixture_conn_exec(&other, "BEGIN IMMEDIATE"));
    assert_true(fixture_conn_exec(&other, "INSERT INTO group_parent (id) VALUES (1)"));
    struct raw_job jobs[COUNT];
    pthread_t threads[COUNT];
    for (int i = 0; i < COUNT; i++) {
        jobs[i] =
            (struct raw_job){.store = f->store, .id = i + 1, .kind = RAW_KEEP};
        assert_int_equal(pthread_create(&threads[i], NULL, raw_thread, &jobs[i]), 0);
    }
    for (int i = 0; i < COUNT; i++) {
        pthread_join(threads[i], NULL);
    }
    assert_true(fixture_conn_exec(&other, "ROLLBACK"));
    fixture_conn_close(&other);
    for (int i = 0; i < COUNT; i++) {
        assert_int_equal(jobs[i].result, CASH_SERVICE_UNAVAILABLE);
    }
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM group_rows"), 0);
    struct raw_job after = {.store = f->store, .id = 1000, .kind = RAW_KEEP};
    raw_thread(&after);
    assert_int_equal(after.result, CASH_OK);
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_writers),
        cmocka_unit_test(test_batch_forms),
        cmocka_unit_test(test_refused_body_undoes_only_itself),
        cmocka_unit_test(test_commit_failure_fails_all),
        cmocka_unit_test(test_transaction_lost_fails_all),
        cmocka_unit_test(test_alone_job),
        cmocka_unit_test(test_busy_fails_the_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
