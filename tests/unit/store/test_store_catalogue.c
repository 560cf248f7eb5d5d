/*
 * test_store_catalogue.c - every statement of the catalogue (src/store/sql.c) prepares on the
 * backend under test (CASHD_TEST_DB: SQLite, and again on PostgreSQL), after the migrations: a
 * typo or a dialect slip fails here, not in production. Also the seam's own rules: parameters
 * only as $1..$n without gaps, and a wrong number of bound parameters refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store/db.h"
#include "store_fixture.h"

static void test_every_statement_prepares(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    enum sql_id failed = SQL_COUNT;
    cash_result result = db_prepare_all(f->store, &failed);
    if (result != CASH_OK) {
        print_error("statement %d did not prepare: %s\n", (int)failed,
                    sql_statement_of(failed) != NULL ? sql_statement_of(failed)->text : "?");
    }
    assert_int_equal(result, CASH_OK);
    assert_int_equal(failed, SQL_COUNT);
    fixture_free(f);
}

static void test_every_id_has_a_text(void **state)
{
    (void)state;
    for (int id = 0; id < SQL_COUNT; id++) {
        const struct sql_statement *entry = sql_statement_of((enum sql_id)id);
        assert_non_null(entry);
        assert_non_null(entry->text);
        char text[SQL_TEXT_BYTES_MAX];
        assert_true(sql_text((enum sql_id)id, ~0u, text, sizeof(text))); /* every capability */
        assert_null(strstr(text, "::")); /* no casts: SQLite would read "$1::text" as a name */
        assert_null(strchr(text, '?'));  /* one placeholder spelling: $n */
    }
    assert_null(sql_statement_of(SQL_COUNT));
}

/* A row lock is appended only for a driver that has row locks. */
static void test_lock_is_an_attribute(void **state)
{
    (void)state;
    char with[SQL_TEXT_BYTES_MAX];
    char without[SQL_TEXT_BYTES_MAX];
    assert_true(sql_text(SQL_ACCOUNT_LOCK, DB_CAP_ROW_LOCKS, with, sizeof(with)));
    assert_true(sql_text(SQL_ACCOUNT_LOCK, 0, without, sizeof(without)));
    assert_non_null(strstr(with, " FOR NO KEY UPDATE"));
    assert_null(strstr(without, " FOR "));
    assert_int_equal(strlen(with), strlen(without) + strlen(" FOR NO KEY UPDATE"));
}

/* $2 before $1, and $1 twice (CAST: PostgreSQL infers no type for a bare parameter). */
#define TWO_PARAMETERS                                                                             \
    "SELECT CAST($2 AS BIGINT) - CAST($1 AS BIGINT), CAST($1 AS BIGINT) + CAST($1 AS BIGINT)"

struct text_run {
    const char *text;
    int binds;
    cash_result result;
};

static cash_result text_body(struct db_tx *tx, void *pointer)
{
    struct text_run *run = pointer;
    struct db_stmt *stmt = db_statement_text(tx, run->text);
    if (stmt == NULL) {
        run->result = CASH_INTERNAL_ERROR;
        return CASH_OK;
    }
    for (int i = 0; i < run->binds; i++) {
        db_bind_int64(stmt, 40 + i);
    }
    run->result = db_step(stmt);
    return CASH_OK;
}

static cash_result text_try(struct fixture *f, const char *text, int binds)
{
    struct text_run run = {.text = text, .binds = binds, .result = CASH_INTERNAL_ERROR};
    assert_int_equal(db_run(f->store, DB_READ, text_body, &run), CASH_OK);
    return run.result;
}

/* Each bind goes to its number, whatever the order the numbers appear in. */
static void test_parameters_by_number(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    assert_int_equal(text_try(f, TWO_PARAMETERS, 2), CASH_OK);
    /* the wrong counts are refused before anything runs */
    assert_int_equal(text_try(f, TWO_PARAMETERS, 1), CASH_INTERNAL_ERROR);
    assert_int_equal(text_try(f, TWO_PARAMETERS, 3), CASH_INTERNAL_ERROR);
    fixture_free(f);
}

struct value_run {
    int64_t difference;
    int64_t doubled;
};

static cash_result value_body(struct db_tx *tx, void *pointer)
{
    struct value_run *run = pointer;
    struct db_stmt *stmt = db_statement_text(tx, TWO_PARAMETERS);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    db_bind_int64(stmt, 5);
    db_bind_int64(stmt, 12);
    cash_result result = db_step(stmt);
    if (result != CASH_OK) {
        return result;
    }
    struct db_row row;
    db_row_start(&row, stmt);
    run->difference = db_row_int64(&row);
    run->doubled = db_row_int64(&row);
    db_row_skip(&row); /* past the last column: a bad value */
    return row.ok ? CASH_INTERNAL_ERROR : CASH_OK;
}

static void test_parameter_values(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    struct value_run run = {0, 0};
    assert_int_equal(db_run(f->store, DB_READ, value_body, &run), CASH_OK);
    assert_int_equal(run.difference, 7);
    assert_int_equal(run.doubled, 10);
    fixture_free(f);
}

/* Gaps and other names are refused at prepare time (SQLite); PostgreSQL refuses them itself. */
static void test_parameter_names(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    assert_int_equal(text_try(f, "SELECT $1 + $3", 3), CASH_INTERNAL_ERROR);
    if (!fixture_backend_pg()) {
        assert_int_equal(text_try(f, "SELECT ?", 1), CASH_INTERNAL_ERROR);
        assert_int_equal(text_try(f, "SELECT :name", 1), CASH_INTERNAL_ERROR);
    }
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_statement_prepares),
        cmocka_unit_test(test_every_id_has_a_text),
        cmocka_unit_test(test_lock_is_an_attribute),
        cmocka_unit_test(test_parameters_by_number),
        cmocka_unit_test(test_parameter_values),
        cmocka_unit_test(test_parameter_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
