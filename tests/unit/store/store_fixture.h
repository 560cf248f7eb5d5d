/*
 * store_fixture.h - what the store tests share: a fresh database, ids, an account with a member,
 * a bank account and confirmed verifications, and raw SQL on the same database (through a
 * connection of its own) for what the store never does itself. Include after <cmocka.h>.
 *
 * The backend is CASHD_TEST_DB: "sqlite" (default: a fresh file in a fresh directory under
 * $CASHD_TEST_TMP or /tmp) or "postgresql" (a fresh database, dropped afterwards, on the server
 * of CASHD_TEST_PG_URL, or of the URL in the file CASHD_TEST_PG_URL_FILE names; CTest runs the
 * store tests on both, cmake/postgres.cmake).
 */
#ifndef CASH_TEST_STORE_FIXTURE_H
#define CASH_TEST_STORE_FIXTURE_H

#include <errno.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"

/* 2025-11-24T16:00:00.000Z; tests run on a fixed clock. */
#define FIXTURE_NOW_MS         1764000000000LL
#define FIXTURE_WINDOW_MS      (VERIFICATION_WINDOW_SECONDS * 1000LL)
#define FIXTURE_PATH_BYTES_MAX 512

struct fixture {
    char dir[FIXTURE_PATH_BYTES_MAX];
    char path[FIXTURE_PATH_BYTES_MAX + 16]; /* SQLite: the file */
    char url[FIXTURE_PATH_BYTES_MAX + 32];
    bool pg; /* PostgreSQL: url names a database of its own */
    char pg_admin_url[FIXTURE_PATH_BYTES_MAX];
    char pg_database[64];
    struct store *store;
};

static atomic_ullong fixture_id_counter;

/* A fresh 32-digit id that sorts after every earlier one of the same test program. */
static inline void fixture_id(char out[WITHDRAW_ID_LENGTH + 1])
{
    unsigned long long n = atomic_fetch_add(&fixture_id_counter, 1) + 1;
    snprintf(out, WITHDRAW_ID_LENGTH + 1, "%013lld%019llu", FIXTURE_NOW_MS, n);
}

static inline void fixture_mkdir_p(const char *path)
{
    char buffer[FIXTURE_PATH_BYTES_MAX];
    snprintf(buffer, sizeof(buffer), "%s", path);
    for (char *c = buffer + 1; *c != '\0'; c++) {
        if (*c == '/') {
            *c = '\0';
            mkdir(buffer, 0700);
            *c = '/';
        }
    }
    mkdir(buffer, 0700);
}

/* Whether the tests run on PostgreSQL (CASHD_TEST_DB=postgresql). */
static inline bool fixture_backend_pg(void)
{
    const char *backend = getenv("CASHD_TEST_DB");
    return backend != NULL && strcmp(backend, "postgresql") == 0;
}

/* The URL of a PostgreSQL superuser: CASHD_TEST_PG_URL, or the first line of the file named by
 * CASHD_TEST_PG_URL_FILE (written by tests/pg/start). */
static inline void fixture_pg_admin_url(char *out, size_t out_size)
{
    const char *url = getenv("CASHD_TEST_PG_URL");
    if (url != NULL && url[0] != '\0') {
        snprintf(out, out_size, "%s", url);
        return;
    }
    const char *file = getenv("CASHD_TEST_PG_URL_FILE");
    if (file == NULL) {
        fail_msg("CASHD_TEST_DB=postgresql needs CASHD_TEST_PG_URL or CASHD_TEST_PG_URL_FILE");
    }
    FILE *handle = fopen(file, "r");
    if (handle == NULL || fgets(out, (int)out_size, handle) == NULL) {
        fail_msg("cannot read the PostgreSQL URL from %s", file);
    }
    fclose(handle);
    out[strcspn(out, "\r\n")] = '\0';
}

/* admin_url with its database (the URL's path) replaced by database. */
static inline void fixture_pg_url_with(const char *admin_url, const char *database, char *out,
                                       size_t out_size)
{
    const char *authority = strstr(admin_url, "://");
    assert_non_null(authority);
    const char *path = strchr(authority + 3, '/');
    const char *query = strchr(authority + 3, '?');
    if (path == NULL || (query != NULL && query < path)) {
        path = query != NULL ? query : admin_url + strlen(admin_url);
    }
    const char *rest = query != NULL ? query : "";
    int written =
        snprintf(out, out_size, "%.*s/%s%s", (int)(path - admin_url), admin_url, database, rest);
    assert_true(written > 0 && (size_t)written < out_size);
}

/* Runs one statement on the server as its superuser (CREATE and DROP DATABASE). */
static inline void fixture_pg_admin(const struct fixture *f, const char *sql)
{
    PGconn *pg = PQconnectdb(f->pg_admin_url);
    assert_int_equal(PQstatus(pg), CONNECTION_OK);
    PGresult *res = PQexec(pg, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        fprintf(stderr, "fixture: %s: %s", sql, PQerrorMessage(pg));
    }
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    PQfinish(pg);
}

/* A new, empty PostgreSQL database for the fixture; f->url names it. */
static inline void fixture_pg_create(struct fixture *f)
{
    char sql[128];
    f->pg = true;
    fixture_pg_admin_url(f->pg_admin_url, sizeof(f->pg_admin_url));
    snprintf(f->pg_database, sizeof(f->pg_database), "cashd_unit_%ld_%llu", (long)getpid(),
             (unsigned long long)atomic_fetch_add(&fixture_id_counter, 1));
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", f->pg_database);
    fixture_pg_admin(f, sql);
    fixture_pg_url_with(f->pg_admin_url, f->pg_database, f->url, sizeof(f->url));
}

/* Opens and migrates a store on a new database; asserts every step. */
static inline struct fixture *fixture_new(void)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    char why[256] = "";
    int version = 0;
    if (fixture_backend_pg()) {
        fixture_pg_create(f);
        if (store_open(f->url, &f->store, why, sizeof(why)) != CASH_OK) {
            fail_msg("store_open: %s", why);
        }
        assert_int_equal(store_migrate(f->store, &version), CASH_OK);
        assert_true(version >= 1);
        return f;
    }
    const char *base = getenv("CASHD_TEST_TMP");
    if (base == NULL || base[0] == '\0') {
        base = "/tmp";
    }
    fixture_mkdir_p(base);
    snprintf(f->dir, sizeof(f->dir), "%s/store-XXXXXX", base);
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/cash.db", f->dir);
    snprintf(f->url, sizeof(f->url), "sqlite:%s", f->path);
    assert_int_equal(store_open(f->url, &f->store, why, sizeof(why)), CASH_OK);
    assert_int_equal(store_migrate(f->store, &version), CASH_OK);
    assert_true(version >= 1);
    return f;
}

static inline void fixture_free(struct fixture *f)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    store_close(f->store);
    if (f->pg) {
        char sql[128];
        snprintf(sql, sizeof(sql), "DROP DATABASE %s", f->pg_database);
        fixture_pg_admin(f, sql);
        free(f);
        return;
    }
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        char file[FIXTURE_PATH_BYTES_MAX + 32];
        snprintf(file, sizeof(file), "%s%s", f->path, suffixes[i]);
        unlink(file);
    }
    rmdir(f->dir);
    free(f);
}

/* A connection of its own to the fixture's database, as another process would have. */
struct fixture_conn {
    sqlite3 *db;
    PGconn *pg;
};

static inline struct fixture_conn fixture_conn_open(const struct fixture *f)
{
    struct fixture_conn conn = {.db = NULL, .pg = NULL};
    if (f->pg) {
        conn.pg = PQconnectdb(f->url);
        assert_int_equal(PQstatus(conn.pg), CONNECTION_OK);
        return conn;
    }
    assert_int_equal(sqlite3_open(f->path, &conn.db), SQLITE_OK);
    sqlite3_busy_timeout(conn.db, DB_TIMEOUT_MS);
    return conn;
}

/* Runs SQL without rows on the connection; true if it worked. */
static inline bool fixture_conn_exec(struct fixture_conn *conn, const char *sql)
{
    if (conn->pg != NULL) {
        PGresult *res = PQexec(conn->pg, sql);
        bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        if (!ok) {
            fprintf(stderr, "fixture_sql: %s", PQerrorMessage(conn->pg));
        }
        PQclear(res);
        return ok;
    }
    char *error = NULL;
    int rc = sqlite3_exec(conn->db, sql, NULL, NULL, &error);
    if (rc != SQLITE_OK) {
        fprintf(stderr, "fixture_sql: %s\n", error != NULL ? error : "?");
    }
    sqlite3_free(error);
    return rc == SQLITE_OK;
}

static inline void fixture_conn_close(struct fixture_conn *conn)
{
    if (conn->pg != NULL) {
        PQfinish(conn->pg);
    }
    if (conn->db != NULL) {
        sqlite3_close(conn->db);
    }
    conn->pg = NULL;
    conn->db = NULL;
}

/* BEGIN of a transaction that writes at once: SQLite takes its write lock with IMMEDIATE. */
static inline const char *fixture_begin_write(const struct fixture *f)
{
    return f->pg ? "BEGIN" : "BEGIN IMMEDIATE";
}

/* Runs SQL on the database through a connection of its own, as another process would. */
static inline void fixture_sql(const struct fixture *f, const char *sql)
{
    if (f->pg) {
        struct fixture_conn conn = fixture_conn_open(f);
        bool ok = fixture_conn_exec(&conn, sql);
        fixture_conn_close(&conn);
        assert_true(ok);
        return;
    }
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, DB_TIMEOUT_MS);
    char *error = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &error);
    if (rc != SQLITE_OK) {
        fprintf(stderr, "fixture_sql: %s\n", error != NULL ? error : "?");
    }
    sqlite3_free(error);
    sqlite3_close(db);
    assert_int_equal(rc, SQLITE_OK);
}

/* The first column of the first row of a query, as an integer. */
static inline int64_t fixture_sql_int(const struct fixture *f, const char *sql)
{
    if (f->pg) {
        struct fixture_conn conn = fixture_conn_open(f);
        PGresult *res = PQexec(conn.pg, sql);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            fprintf(stderr, "fixture_sql_int: %s", PQerrorMessage(conn.pg));
        }
        assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
        assert_true(PQntuples(res) >= 1 && PQgetisnull(res, 0, 0) == 0);
        int64_t value = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
        fixture_conn_close(&conn);
        return value;
    }
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, DB_TIMEOUT_MS);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    int64_t value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return value;
}

static inline void fixture_account(struct fixture *f, const char *account_id)
{
    struct account account;
    memset(&account, 0, sizeof(account));
    snprintf(account.account_id, sizeof(account.account_id), "%s", account_id);
    account.status = ACCOUNT_ACTIVE;
    account.verified = VERIFIED_PERSONAL;
    account.created_ms = FIXTURE_NOW_MS - 86400000LL;
    account.updated_ms = account.created_ms;
    assert_int_equal(store_account_create(f->store, &account), CASH_OK);
}

static inline void fixture_member(struct fixture *f, const char *member_id, const char *account_id)
{
    struct member member;
    memset(&member, 0, sizeof(member));
    snprintf(member.member_id, sizeof(member.member_id), "%s", member_id);
    snprintf(member.account_id, sizeof(member.account_id), "%s", account_id);
    snprintf(member.email, sizeof(member.email), "%s@example.com", member_id);
    snprintf(member.phone, sizeof(member.phone), "01012345678");
    member.role = ROLE_OWNER;
    member.status = MEMBER_ACTIVE;
    member.created_ms = FIXTURE_NOW_MS - 86400000LL;
    assert_int_equal(store_member_create(f->store, &member), CASH_OK);
}

static inline void fixture_bank_value(struct bank_account *bank, const char *account_id,
                                      const char *bank_code, const char *last4, const char *holder,
                                      int64_t now_ms)
{
    memset(bank, 0, sizeof(*bank));
    snprintf(bank->account_id, sizeof(bank->account_id), "%s", account_id);
    snprintf(bank->bank_code, sizeof(bank->bank_code), "%s", bank_code);
    snprintf(bank->sealed_number, sizeof(bank->sealed_number), "0badc0de:sealed-%s", last4);
    snprintf(bank->masked_number, sizeof(bank->masked_number), "******%s", last4);
    snprintf(bank->holder_name, sizeof(bank->holder_name), "%s", holder);
    bank->created_ms = now_ms;
    bank->updated_ms = now_ms;
}

static inline void fixture_bank(struct fixture *f, const char *account_id)
{
    struct bank_account bank;
    fixture_bank_value(&bank, account_id, "004", "7890", "홍길동", FIXTURE_NOW_MS - 60000);
    assert_int_equal(store_bank_account_set(f->store, &bank, NULL, NULL), CASH_OK);
}

/* A verification as it would be stored; status and confirmed_ms as given. */
static inline void fixture_verification_value(struct verification *v, const char *member_id,
                                              const char *account_id,
                                              enum verification_status status, int64_t created_ms,
                                              int64_t confirmed_ms)
{
    memset(v, 0, sizeof(*v));
    fixture_id(v->verification_id);
    snprintf(v->member_id, sizeof(v->member_id), "%s", member_id);
    snprintf(v->account_id, sizeof(v->account_id), "%s", account_id);
    v->method = VERIFICATION_EMAIL_OTP;
    v->status = status;
    memset(v->code_hash, 'a', 64);
    v->created_ms = created_ms;
    v->confirmed_ms = confirmed_ms;
}

/* A verification confirmed at confirmed_ms; its id in id_out (may be NULL). */
static inline void fixture_confirmed(struct fixture *f, const char *member_id,
                                     const char *account_id, int64_t confirmed_ms,
                                     char id_out[VERIFICATION_ID_LENGTH + 1])
{
    struct verification v;
    fixture_verification_value(&v, member_id, account_id, VERIFICATION_CONFIRMED,
                               confirmed_ms - 20000, confirmed_ms);
    assert_int_equal(store_verification_create(f->store, &v), CASH_OK);
    if (id_out != NULL) {
        memcpy(id_out, v.verification_id, VERIFICATION_ID_LENGTH + 1);
    }
}

static inline int64_t fixture_uses(struct fixture *f, const char *verification_id)
{
    struct verification v;
    assert_int_equal(store_verification_get(f->store, verification_id, &v), CASH_OK);
    return v.uses;
}

static inline int64_t fixture_balance(struct fixture *f, const char *account_id)
{
    struct account account;
    assert_int_equal(store_account_get(f->store, account_id, &account), CASH_OK);
    return account.balance_won;
}

static inline void fixture_credit(struct fixture *f, const char *account_id, int64_t amount_won)
{
    char history_id[HISTORY_ID_LENGTH + 1];
    struct history_entry entry;
    fixture_id(history_id);
    assert_int_equal(store_balance_credit(f->store, account_id, amount_won, "test", history_id,
                                          FIXTURE_NOW_MS, &entry),
                     CASH_OK);
}

/* A second factor of member_id with the fixture's clock and window. */
static inline struct second_factor fixture_factor(const char *member_id, int64_t uses_max)
{
    struct second_factor factor = {
        .member_id = member_id,
        .verification_id = NULL,
        .now_ms = FIXTURE_NOW_MS,
        .window_ms = FIXTURE_WINDOW_MS,
        .uses_max = uses_max,
        .confirmed_ms = 0,
    };
    return factor;
}

/* A withdrawal request of total_won with the default fee rule (5% + 500). */
static inline void fixture_withdraw_request(struct withdraw_create *request,
                                            struct second_factor *factor, const char *account_id,
                                            const char *member_id, int64_t total_won)
{
    memset(request, 0, sizeof(*request));
    struct withdrawal *w = &request->withdrawal;
    fixture_id(w->withdraw_id);
    snprintf(w->account_id, sizeof(w->account_id), "%s", account_id);
    snprintf(w->member_id, sizeof(w->member_id), "%s", member_id);
    w->total_amount_won = total_won;
    w->fee_won = (total_won * 500 + 9999) / 10000 + 500;
    w->amount_won = total_won - w->fee_won;
    w->created_ms = FIXTURE_NOW_MS;
    w->updated_ms = FIXTURE_NOW_MS;
    fixture_id(request->history_id);
    request->day_start_ms = FIXTURE_NOW_MS - 3600000LL;
    request->daily_limit_won = 100000000;
    request->factor = factor;
}

/* Every field of two withdrawals but the id (two requests made the same row). */
static inline void fixture_assert_same_withdrawal(const struct withdrawal *a,
                                                  const struct withdrawal *b)
{
    assert_string_equal(a->account_id, b->account_id);
    assert_string_equal(a->member_id, b->member_id);
    assert_string_equal(a->bank_code, b->bank_code);
    assert_string_equal(a->sealed_number, b->sealed_number);
    assert_string_equal(a->masked_number, b->masked_number);
    assert_string_equal(a->holder_name, b->holder_name);
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->is_processing, b->is_processing);
    assert_int_equal(a->confirmed_count, b->confirmed_count);
    assert_string_equal(a->memo, b->memo);
    assert_string_equal(a->transaction_id, b->transaction_id);
    assert_int_equal(a->transaction_ms, b->transaction_ms);
    assert_int_equal(a->amount_won, b->amount_won);
    assert_int_equal(a->fee_won, b->fee_won);
    assert_int_equal(a->total_amount_won, b->total_amount_won);
    assert_int_equal(a->confirmed_ms, b->confirmed_ms);
    assert_int_equal(a->created_ms, b->created_ms);
    assert_int_equal(a->updated_ms, b->updated_ms);
}

/*
 * A store_request renderer for the withdrawal writes: "<result>:<withdrawId>", 200 for CASH_OK
 * and 400 otherwise. request->render_context, when set, is an int counting the calls.
 */
static inline bool fixture_render_withdrawal(struct store_request *request, cash_result result,
                                             const void *row, struct store_answer *answer)
{
    const struct withdrawal *w = row;
    char text[64];
    snprintf(text, sizeof(text), "%d:%s", (int)result, w->withdraw_id);
    if (request->render_context != NULL) {
        (*(int *)request->render_context)++;
    }
    answer->status = result == CASH_OK ? 200 : 400;
    answer->body = strdup(text);
    return answer->body != NULL;
}

struct fixture_problems {
    size_t count;
    char first[256];
    char all[4096];
};

static inline void fixture_problem(void *context, const char *problem)
{
    struct fixture_problems *problems = context;
    if (problems->count == 0) {
        snprintf(problems->first, sizeof(problems->first), "%s", problem);
    }
    size_t used = strlen(problems->all);
    snprintf(problems->all + used, sizeof(problems->all) - used, "%s\n", problem);
    problems->count++;
}

/* Runs ledger_verify; the number of problems it found, their text in *problems. */
static inline size_t fixture_verify(struct fixture *f, struct fixture_problems *problems)
{
    size_t count = 0;
    memset(problems, 0, sizeof(*problems));
    assert_int_equal(store_ledger_verify(f->store, fixture_problem, problems, &count), CASH_OK);
    assert_int_equal(count, problems->count);
    if (count > 0) {
        fprintf(stderr, "ledger_verify:\n%s", problems->all);
    }
    return count;
}

#endif
