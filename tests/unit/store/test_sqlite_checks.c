/*
 * test_sqlite_checks.c - the SQLite migration writes every CHECK (column IN (...)) of three values
 * or more as ORs (src/store/sqlite_checks.c), so that SQLite builds no temporary B-tree per row
 * written. What must hold:
 *   - after store_migrate, no table's SQL holds such an IN list, and the database is sound;
 *   - every rewritten check still refuses what it refused (one bad value per check);
 *   - a database still in the IN form (as older programs left it) is rewritten when migrated,
 *     its rows kept;
 *   - a connection that may not rewrite its schema (SQLITE_DBCONFIG_DEFENSIVE) keeps the IN form
 *     and migrates all the same.
 * SQLite only (cmake/postgres.cmake leaves test_sqlite_*.c out of its PostgreSQL runs).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "store/sqlite_internal.h"
#include "store_fixture.h"

#define ACCOUNT "25112500000001"
#define MEMBER  "25112510000001"

/* Tables whose SQL still holds an IN list of three quoted values or more. */
#define SQL_IN_LISTS                                                                               \
    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'"                                      \
    " AND sql GLOB '* IN (''*'', ''*'', ''*'')*'"

/* Puts the withdrawals table's status check back in its IN form, as versions 1 to 5 wrote it. */
static void checks_revert(struct fixture *f)
{
    struct fixture_conn conn = fixture_conn_open(f);
    assert_true(fixture_conn_exec(&conn, "BEGIN"));
    int64_t version = 0;
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_prepare_v2(conn.db, "PRAGMA schema_version", -1, &stmt, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    version = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    assert_true(fixture_conn_exec(&conn, "PRAGMA writable_schema = ON"));
    assert_true(fixture_conn_exec(
        &conn, "UPDATE sqlite_master SET sql = replace(sql, '(status = ''PENDING'' OR status ="
               " ''CONFIRMED'' OR status = ''COMPLETED'' OR status = ''FAILED'' OR status ="
               " ''REJECTED'' OR status = ''CANCELED'')', 'status IN (''PENDING'', ''CONFIRMED'',"
               " ''COMPLETED'', ''FAILED'', ''REJECTED'', ''CANCELED'')') WHERE name ="
               " 'withdrawals'"));
    char bump[64];
    snprintf(bump, sizeof(bump), "PRAGMA schema_version = %lld", (long long)version + 1);
    assert_true(fixture_conn_exec(&conn, bump));
    assert_true(fixture_conn_exec(&conn, "PRAGMA writable_schema = OFF"));
    assert_true(fixture_conn_exec(&conn, "COMMIT"));
    fixture_conn_close(&conn);
    assert_int_equal(fixture_sql_int(f, SQL_IN_LISTS), 1);
}

/* Runs sql on a connection of its own and tells whether SQLite took it. */
static bool sql_accepted(const struct fixture *f, const char *sql)
{
    struct fixture_conn conn = fixture_conn_open(f);
    bool ok = fixture_conn_exec(&conn, sql);
    fixture_conn_close(&conn);
    return ok;
}

static void test_migrated_without_in_lists(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    assert_int_equal(fixture_sql_int(f, SQL_IN_LISTS), 0);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM sqlite_master WHERE name ="
                                        " 'withdrawals' AND sql LIKE '%status = ''CANCELED''%'"),
                     1);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM pragma_integrity_check"
                                        " WHERE integrity_check = 'ok'"),
                     1);
    fixture_free(f);
}

/* One bad value per rewritten check is refused; the good ones are taken. */
static void test_checks_still_refuse(void **state)
{
    (void)state;
    static const char *const refused[] = {
        "UPDATE accounts SET status = 'SLEEPING'",
        "UPDATE accounts SET verified = 'maybe'",
        "UPDATE members SET role = 'ADMIN'",
        "UPDATE members SET status = 'GONE'",
        "UPDATE verifications SET method = 'SMS'",
        "UPDATE verifications SET status = 'USED'",
        "UPDATE verifications SET call_status = 'BUSY'",
        "UPDATE withdrawals SET status = 'LOST'",
        "UPDATE balance_history SET type = 'GIFT'",
        "UPDATE withdrawal_events SET from_status = 'NEW'",
        "UPDATE withdrawal_events SET to_status = 'DONE'",
    };
    struct fixture *f = fixture_new();
    fixture_account(f, ACCOUNT);
    fixture_member(f, MEMBER, ACCOUNT);
    fixture_bank(f, ACCOUNT);
    fixture_credit(f, ACCOUNT, 10000);
    fixture_confirmed(f, MEMBER, ACCOUNT, FIXTURE_NOW_MS - 1000, NULL);
    /* A withdrawal through the store: its rows (withdrawal, ledger entry, event) pass the checks,
     * and give the UPDATEs below a row of every table to refuse. */
    struct second_factor factor = fixture_factor(MEMBER, 1);
    struct withdraw_create request;
    struct withdrawal out;
    fixture_withdraw_request(&request, &factor, ACCOUNT, MEMBER, 2000);
    assert_int_equal(store_withdraw_create(f->store, &request, &out, NULL), CASH_OK);
    for (size_t i = 0; i < 4; i++) {
        static const char *const tables[] = {"balance_history", "verifications", "withdrawals",
                                             "withdrawal_events"};
        char count[96];
        snprintf(count, sizeof(count), "SELECT COUNT(*) FROM %s", tables[i]);
        assert_true(fixture_sql_int(f, count) >= 1);
    }
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        assert_false(sql_accepted(f, refused[i]));
    }
    assert_true(sql_accepted(f, "UPDATE withdrawal_events SET to_status = 'CANCELED'"));
    assert_true(sql_accepted(f, "UPDATE accounts SET status = 'INACTIVE'"));
    fixture_free(f);
}

/* A database left in the IN form by an older program is rewritten when migrated, rows kept. */
static void test_old_form_rewritten(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    fixture_account(f, ACCOUNT);
    checks_revert(f);
    int version = 0;
    assert_int_equal(store_migrate(f->store, &version), CASH_OK);
    assert_int_equal(fixture_sql_int(f, SQL_IN_LISTS), 0);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM accounts"), 1);
    fixture_free(f);
}

/* Refused by SQLite: the migration goes on, and the checks keep their IN form. */
static void test_refused_rewrite_keeps_in_form(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    checks_revert(f);
    sqlite3 *writer = NULL;
    assert_int_equal(db_control(f->store, DB_CONTROL_SQLITE_WRITER, &writer), 0);
    assert_int_equal(sqlite3_db_config(writer, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL), SQLITE_OK);
    int version = 0;
    assert_int_equal(store_migrate(f->store, &version), CASH_OK);
    assert_int_equal(fixture_sql_int(f, SQL_IN_LISTS), 1);
    assert_int_equal(version, 5);
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrated_without_in_lists),
        cmocka_unit_test(test_checks_still_refuse),
        cmocka_unit_test(test_old_form_rewritten),
        cmocka_unit_test(test_refused_rewrite_keeps_in_form),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
