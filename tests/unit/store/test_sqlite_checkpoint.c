/*
 * test_sqlite_checkpoint.c - checkpoints of the SQLite backend (src/store/sqlite.c): the WAL is
 * copied into the database after a batch by its leader, not inside a COMMIT. What must hold:
 *   - a short WAL is left alone (no checkpoint below DB_CHECKPOINT_FRAMES);
 *   - a longer one is checkpointed by the store itself, and under steady writes the WAL stops
 *     growing: it starts over, so its file stays near DB_CHECKPOINT_CATCH_UP_FRAMES frames where,
 *     without checkpoints, it would hold every frame written;
 *   - a checkpoint that lags is caught up whole, so that the WAL starts over;
 *   - every write is there after the store is closed and opened again.
 * SQLite only (cmake/postgres.cmake leaves test_sqlite_*.c out of its PostgreSQL runs).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "store/sqlite_internal.h"
#include "store_fixture.h"

#define BALLAST_ROWS_PER_WRITE 100 /* rows of about one page each, so ~100 frames per commit */
#define BALLAST_WRITES         100 /* ~10,000 frames in all: 2.5 times the catch-up threshold */
#define WAL_FRAME_BYTES(page)  ((page) + 24)

static cash_result ballast_body(struct db_tx *tx, void *context)
{
    (void)context;
    char sql[160];
    snprintf(sql, sizeof(sql),
             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)"
             " INSERT INTO ballast SELECT randomblob(3000) FROM n",
             BALLAST_ROWS_PER_WRITE);
    return db_exec_simple(tx, sql);
}

static uint64_t checkpoints(struct fixture *f)
{
    struct sqlite_group_stats stats;
    assert_int_equal(db_control(f->store, DB_CONTROL_GROUP_STATS, &stats), 0);
    return stats.checkpoints;
}

static long long wal_bytes(const struct fixture *f)
{
    char wal[sizeof(f->path) + 8];
    snprintf(wal, sizeof(wal), "%s-wal", f->path);
    struct stat info;
    return stat(wal, &info) == 0 ? (long long)info.st_size : 0;
}

static void test_short_wal_left_alone(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    fixture_sql(f, "CREATE TABLE ballast (b BLOB)");
    assert_int_equal(db_run(f->store, DB_WRITE, ballast_body, NULL), CASH_OK);
    assert_int_equal(checkpoints(f), 0);
    fixture_free(f);
}

static void test_wal_checkpointed_and_bounded(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    fixture_sql(f, "CREATE TABLE ballast (b BLOB)");
    long long page = fixture_sql_int(f, "PRAGMA page_size");
    long long largest = 0;
    for (int i = 0; i < BALLAST_WRITES; i++) {
        assert_int_equal(db_run(f->store, DB_WRITE, ballast_body, NULL), CASH_OK);
        long long bytes = wal_bytes(f);
        largest = bytes > largest ? bytes : largest;
    }
    /* ~10,000 frames were written; at most the catch-up threshold plus two writes' frames
     * (the one that crossed it and the one whose transaction started the WAL over) stay. */
    long long bound =
        (DB_CHECKPOINT_CATCH_UP_FRAMES + 3LL * BALLAST_ROWS_PER_WRITE) * WAL_FRAME_BYTES(page);
    assert_true(checkpoints(f) >= 2);
    assert_true(largest > DB_CHECKPOINT_FRAMES * page);
    assert_true(largest <= bound);

    char why[256] = "";
    store_close(f->store);
    assert_int_equal(store_open(f->url, &f->store, why, sizeof(why)), CASH_OK);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM ballast"),
                     BALLAST_WRITES * BALLAST_ROWS_PER_WRITE);
    fixture_free(f);
}

/*
 * A checkpoint that lags (here: held off while the WAL grows past the catch-up threshold, as
 * passive ones fall behind under steady writes) is caught up by the next batch's leader: the WAL
 * is copied whole, and the transaction after it starts the WAL over. (That the writer is held
 * meanwhile, so that no batch slips in between, shows only under concurrent writes: bench/.)
 */
static void test_lagging_checkpoint_caught_up(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    struct sqlite_store *store = sqlite_store_of(f->store);
    fixture_sql(f, "CREATE TABLE ballast (b BLOB)");
    pthread_mutex_lock(&store->checkpoint_mutex);
    while (atomic_load(&store->wal_frames) < DB_CHECKPOINT_CATCH_UP_FRAMES) {
        assert_int_equal(db_run(f->store, DB_WRITE, ballast_body, NULL), CASH_OK);
    }
    pthread_mutex_unlock(&store->checkpoint_mutex);
    assert_int_equal(checkpoints(f), 0);

    assert_int_equal(db_run(f->store, DB_WRITE, ballast_body, NULL), CASH_OK);
    assert_int_equal(checkpoints(f), 1);
    assert_int_equal(atomic_load(&store->wal_frames_copied), atomic_load(&store->wal_frames));
    assert_int_equal(db_run(f->store, DB_WRITE, ballast_body, NULL), CASH_OK);
    assert_true(atomic_load(&store->wal_frames) < DB_CHECKPOINT_FRAMES); /* started over */
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_wal_left_alone),
        cmocka_unit_test(test_wal_checkpointed_and_bounded),
        cmocka_unit_test(test_lagging_checkpoint_caught_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
