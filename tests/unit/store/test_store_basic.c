/*
 * test_store_basic.c - store_open's schemes, migrations, accounts, members, API keys, the replay
 * cache, the manual recharge with its history, and the bank account, on a real SQLite file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store_fixture.h"

#define ACCOUNT_A "25112400000001"
#define ACCOUNT_B "25112400000002"
#define MEMBER_A  "25112410000001"
#define MEMBER_B  "25112410000002"

static void test_open_schemes(void **state)
{
    (void)state;
    struct store *store = NULL;
    char why[256] = "";
    assert_int_equal(store_open("mysql://localhost/cash", &store, why, sizeof(why)),
                     CASH_VALIDATION_ERROR);
    assert_non_null(strstr(why, "unknown database URL scheme"));
    /* PostgreSQL URLs go to libpq: a malformed one, then servers that are not there. */
    assert_int_equal(store_open("postgresql://[::1/cash", &store, why, sizeof(why)),
                     CASH_VALIDATION_ERROR);
    assert_non_null(strstr(why, "PostgreSQL URL is not valid"));
    why[0] = '\0';
    assert_int_equal(
        store_open("postgresql://127.0.0.1:1/cash?connect_timeout=5", &store, why, sizeof(why)),
        CASH_SERVICE_UNAVAILABLE);
    assert_non_null(strstr(why, "cannot connect to PostgreSQL"));
    why[0] = '\0';
    assert_int_equal(
        store_open("postgres://u@127.0.0.1:1/db?connect_timeout=5", &store, why, sizeof(why)),
        CASH_SERVICE_UNAVAILABLE);
    assert_non_null(strstr(why, "cannot connect to PostgreSQL"));
    assert_int_equal(store_open("sqlite:", &store, why, sizeof(why)), CASH_VALIDATION_ERROR);
    assert_int_equal(store_open("", &store, why, sizeof(why)), CASH_VALIDATION_ERROR);
    assert_int_equal(
        store_open("sqlite:/nonexistent-dir-for-cashd/x/cash.db", &store, why, sizeof(why)),
        CASH_INTERNAL_ERROR);
    assert_non_null(strstr(why, "cannot open"));
    assert_null(store);
}

static void test_migrate_idempotent(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    int version = 0;
    assert_int_equal(store_migrate(f->store, &version), CASH_OK);
    assert_int_equal(version, 5);
    assert_int_equal(store_migrate(f->store, &version), CASH_OK);
    assert_int_equal(version, 5);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM schema_version"), 5);

    /* Reopened, as a second process would: still one version, data kept. */
    fixture_account(f, ACCOUNT_A);
    store_close(f->store);
    char why[256] = "";
    assert_int_equal(store_open(f->url, &f->store, why, sizeof(why)), CASH_OK);
    assert_int_equal(store_migrate(f->store, &version), CASH_OK);
    assert_int_equal(version, 5);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM schema_version"), 5);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM accounts"), 1);

    /* A database from a newer program is refused, not half-used. */
    fixture_sql(f, "INSERT INTO schema_version (version, applied_ms) VALUES (99, 0)");
    assert_int_equal(store_migrate(f->store, &version), CASH_INTERNAL_ERROR);
    fixture_free(f);
}

/* PostgreSQL: the durability check reads the settings a session really runs with. */
static void durability_check_pg(struct fixture *f)
{
    char why[256] = "";
    char sql[256];
    assert_int_equal(store_durability_check(f->store, why, sizeof(why)), CASH_OK);
    snprintf(sql, sizeof(sql), "ALTER DATABASE %s SET synchronous_commit = off", f->pg_database);
    fixture_sql(f, sql);
    store_close(f->store); /* new sessions take the database's setting */
    assert_int_equal(store_open(f->url, &f->store, why, sizeof(why)), CASH_OK);
    assert_int_equal(store_durability_check(f->store, why, sizeof(why)), CASH_VALIDATION_ERROR);
    assert_non_null(strstr(why, "synchronous_commit=off"));
    snprintf(sql, sizeof(sql), "ALTER DATABASE %s SET synchronous_commit = local", f->pg_database);
    fixture_sql(f, sql);
    store_close(f->store);
    assert_int_equal(store_open(f->url, &f->store, why, sizeof(why)), CASH_OK);
    assert_int_equal(store_durability_check(f->store, why, sizeof(why)), CASH_OK);
}

/* SQLite commits durably in WAL mode (synchronous FULL); PostgreSQL is checked for it. */
static void test_wal_mode(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    if (f->pg) {
        durability_check_pg(f);
        fixture_free(f);
        return;
    }
    char why[256] = "";
    assert_int_equal(store_durability_check(f->store, why, sizeof(why)), CASH_OK);
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "wal");
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    fixture_free(f);
}

static void test_account_crud(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    struct account account;
    assert_int_equal(store_account_get(f->store, ACCOUNT_A, &account), CASH_NOT_FOUND);
    fixture_account(f, ACCOUNT_A);
    assert_int_equal(store_account_get(f->store, ACCOUNT_A, &account), CASH_OK);
    assert_string_equal(account.account_id, ACCOUNT_A);
    assert_int_equal(account.status, ACCOUNT_ACTIVE);
    assert_int_equal(account.verified, VERIFIED_PERSONAL);
    assert_int_equal(account.balance_won, 0);
    assert_int_equal(account.point_won, 0);
    assert_false(account.auto_recharge);
    assert_int_equal(account.created_ms, FIXTURE_NOW_MS - 86400000LL);

    /* The same id again, and an account that would start with money without a ledger entry. */
    assert_int_equal(store_account_create(f->store, &account), CASH_CONFLICT);
    struct account rich = account;
    snprintf(rich.account_id, sizeof(rich.account_id), "%s", ACCOUNT_B);
    rich.balance_won = 1000;
    assert_int_equal(store_account_create(f->store, &rich), CASH_VALIDATION_ERROR);
    assert_int_equal(store_account_get(f->store, ACCOUNT_B, &account), CASH_NOT_FOUND);

    struct account_update update = {.has_status = true,
                                    .status = ACCOUNT_INACTIVE,
                                    .has_auto_recharge = true,
                                    .auto_recharge = true,
                                    .now_ms = FIXTURE_NOW_MS};
    assert_int_equal(store_account_update(f->store, ACCOUNT_A, &update), CASH_OK);
    assert_int_equal(store_account_get(f->store, ACCOUNT_A, &account), CASH_OK);
    assert_int_equal(account.status, ACCOUNT_INACTIVE);
    assert_int_equal(account.verified, VERIFIED_PERSONAL); /* not flagged: unchanged */
    assert_true(account.auto_recharge);
    assert_int_equal(account.updated_ms, FIXTURE_NOW_MS);

    struct account_update verify = {.has_verified = true, .verified = VERIFIED_BUSINESS};
    assert_int_equal(store_account_update(f->store, ACCOUNT_A, &verify), CASH_OK);
    assert_int_equal(store_account_get(f->store, ACCOUNT_A, &account), CASH_OK);
    assert_int_equal(account.verified, VERIFIED_BUSINESS);
    assert_int_equal(account.status, ACCOUNT_INACTIVE);
    assert_true(account.auto_recharge);
    assert_int_equal(store_account_update(f->store, ACCOUNT_B, &verify), CASH_NOT_FOUND);
    fixture_free(f);
}

static void test_member_crud(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    struct member member;
    memset(&member, 0, sizeof(member));
    snprintf(member.member_id, sizeof(member.member_id), "%s", MEMBER_A);
    snprintf(member.account_id, sizeof(member.account_id), "%s", ACCOUNT_A);
    snprintf(member.email, sizeof(member.email), "owner@example.com");
    member.role = ROLE_DEVELOPER;
    member.status = MEMBER_UNVERIFIED;
    assert_int_equal(store_member_create(f->store, &member), CASH_NOT_FOUND);
    fixture_account(f, ACCOUNT_A);
    assert_int_equal(store_member_create(f->store, &member), CASH_OK);
    assert_int_equal(store_member_create(f->store, &member), CASH_CONFLICT);

    struct member got;
    assert_int_equal(store_member_get(f->store, MEMBER_A, &got), CASH_OK);
    assert_string_equal(got.account_id, ACCOUNT_A);
    assert_string_equal(got.email, "owner@example.com");
    assert_string_equal(got.phone, "");
    assert_int_equal(got.role, ROLE_DEVELOPER);
    assert_int_equal(got.status, MEMBER_UNVERIFIED);

    struct member_update update = {.has_role = true, .role = ROLE_OWNER};
    assert_int_equal(store_member_update(f->store, MEMBER_A, &update), CASH_OK);
    struct member_update activate = {.has_status = true, .status = MEMBER_ACTIVE};
    assert_int_equal(store_member_update(f->store, MEMBER_A, &activate), CASH_OK);
    assert_int_equal(store_member_get(f->store, MEMBER_A, &got), CASH_OK);
    assert_int_equal(got.role, ROLE_OWNER);
    assert_int_equal(got.status, MEMBER_ACTIVE);
    assert_int_equal(store_member_update(f->store, MEMBER_B, &update), CASH_NOT_FOUND);
    assert_int_equal(store_member_get(f->store, MEMBER_B, &got), CASH_NOT_FOUND);
    fixture_free(f);
}

static void test_api_key(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    struct api_key key;
    memset(&key, 0, sizeof(key));
    snprintf(key.api_key, sizeof(key.api_key), "NCSAYU7YDBXYORXC");
    snprintf(key.sealed_secret, sizeof(key.sealed_secret), "0badc0de:c2VhbGVk");
    snprintf(key.member_id, sizeof(key.member_id), "%s", MEMBER_A);
    key.scopes = SCOPE_CASH_READ | SCOPE_CASH_WRITE;
    assert_int_equal(store_api_key_create(f->store, &key, FIXTURE_NOW_MS), CASH_NOT_FOUND);
    fixture_account(f, ACCOUNT_A);
    fixture_member(f, MEMBER_A, ACCOUNT_A);
    assert_int_equal(store_api_key_create(f->store, &key, FIXTURE_NOW_MS), CASH_OK);
    assert_int_equal(store_api_key_create(f->store, &key, FIXTURE_NOW_MS), CASH_CONFLICT);

    struct api_key got;
    assert_int_equal(store_api_key_get(f->store, "NCSAYU7YDBXYORXC", &got), CASH_OK);
    assert_string_equal(got.sealed_secret, "0badc0de:c2VhbGVk");
    assert_string_equal(got.member_id, MEMBER_A);
    assert_string_equal(got.account_id, ACCOUNT_A);
    assert_int_equal(got.scopes, SCOPE_CASH_READ | SCOPE_CASH_WRITE);
    assert_false(got.revoked);
    assert_int_equal(got.role, ROLE_OWNER);
    assert_int_equal(got.member_status, MEMBER_ACTIVE);
    assert_int_equal(got.account_status, ACCOUNT_ACTIVE);
    assert_int_equal(got.account_verified, VERIFIED_PERSONAL);
    assert_string_equal(got.member_email, MEMBER_A "@example.com");
    assert_string_equal(got.member_phone, "01012345678");

    /* The join follows later changes of the member and the account. */
    struct member_update demote = {.has_role = true, .role = ROLE_MEMBER};
    assert_int_equal(store_member_update(f->store, MEMBER_A, &demote), CASH_OK);
    struct account_update suspend = {.has_status = true, .status = ACCOUNT_INACTIVE};
    assert_int_equal(store_account_update(f->store, ACCOUNT_A, &suspend), CASH_OK);
    assert_int_equal(store_api_key_revoke(f->store, "NCSAYU7YDBXYORXC"), CASH_OK);
    assert_int_equal(store_api_key_get(f->store, "NCSAYU7YDBXYORXC", &got), CASH_OK);
    assert_true(got.revoked);
    assert_int_equal(got.role, ROLE_MEMBER);
    assert_int_equal(got.account_status, ACCOUNT_INACTIVE);
    assert_int_equal(store_api_key_revoke(f->store, "NCSAYU7YDBXYORXC"), CASH_OK);
    assert_int_equal(store_api_key_revoke(f->store, "AAAAAAAAAAAAAAAA"), CASH_NOT_FOUND);
    assert_int_equal(store_api_key_get(f->store, "AAAAAAAAAAAAAAAA", &got), CASH_NOT_FOUND);
    fixture_free(f);
}

static void test_replay(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    const int64_t now = FIXTURE_NOW_MS;
    const int64_t keep = AUTH_REPLAY_KEEP_SECONDS * 1000LL;
    const char *key = "NCSAYU7YDBXYORXC";
    const char *signature = "5a1f0c3e9d";
    assert_int_equal(store_replay_remember(f->store, key, signature, now, now + keep), CASH_OK);
    assert_int_equal(store_replay_remember(f->store, key, signature, now + 1000, now + keep),
                     CASH_DUPLICATED_SIGNATURE);
    assert_int_equal(
        store_replay_remember(f->store, key, signature, now + keep - 1, now + 2 * keep),
        CASH_DUPLICATED_SIGNATURE);
    /* Another signature, or the same one under another key, is new. */
    assert_int_equal(store_replay_remember(f->store, key, "5a1f0c3e9e", now, now + keep), CASH_OK);
    assert_int_equal(
        store_replay_remember(f->store, "BBBBBBBBBBBBBBBB", signature, now, now + keep), CASH_OK);
    /* Once expired, the row is taken over and remembered anew. */
    assert_int_equal(store_replay_remember(f->store, key, signature, now + keep, now + 2 * keep),
                     CASH_OK);
    assert_int_equal(
        store_replay_remember(f->store, key, signature, now + keep + 1, now + 2 * keep),
        CASH_DUPLICATED_SIGNATURE);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM used_signatures"), 3);
    fixture_free(f);
}

static void test_replay_prunes_expired(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    fixture_sql(f, "INSERT INTO used_signatures (api_key, signature, expires_ms) VALUES"
                   " ('AAAAAAAAAAAAAAAA', 'aa', 1000), ('AAAAAAAAAAAAAAAA', 'bb', 2000),"
                   " ('AAAAAAAAAAAAAAAA', 'cc', 9999999999999)");
    /* A fresh store prunes on its first call. */
    store_close(f->store);
    char why[256];
    assert_int_equal(store_open(f->url, &f->store, why, sizeof(why)), CASH_OK);
    assert_int_equal(store_replay_remember(f->store, "AAAAAAAAAAAAAAAA", "dd", FIXTURE_NOW_MS,
                                           FIXTURE_NOW_MS + 1000),
                     CASH_OK);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM used_signatures"), 2);
    assert_int_equal(fixture_sql_int(f, "SELECT COUNT(*) FROM used_signatures"
                                        " WHERE signature IN ('aa', 'bb')"),
                     0);
    fixture_free(f);
}

static void history_check(struct fixture *f, char ids[4][HISTORY_ID_LENGTH + 1]);

static void test_credit_and_history(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    char ids[4][HISTORY_ID_LENGTH + 1];
    struct history_entry entry;
    for (size_t i = 0; i < 4; i++) {
        fixture_id(ids[i]);
    }
    assert_int_equal(
        store_balance_credit(f->store, ACCOUNT_A, 1000, "", ids[0], FIXTURE_NOW_MS, &entry),
        CASH_NOT_FOUND);
    fixture_account(f, ACCOUNT_A);
    fixture_account(f, ACCOUNT_B);
    assert_int_equal(
        store_balance_credit(f->store, ACCOUNT_A, 0, "", ids[0], FIXTURE_NOW_MS, &entry),
        CASH_VALIDATION_ERROR);
    assert_int_equal(
        store_balance_credit(f->store, ACCOUNT_A, -5, "", ids[0], FIXTURE_NOW_MS, &entry),
        CASH_VALIDATION_ERROR);
    assert_int_equal(store_balance_credit(f->store, ACCOUNT_A, 1000, "first", ids[0],
                                          FIXTURE_NOW_MS - 2000, &entry),
                     CASH_OK);
    assert_string_equal(entry.history_id, ids[0]);
    assert_int_equal(entry.type, HISTORY_RECHARGE);
    assert_int_equal(entry.balance_amount_won, 1000);
    assert_int_equal(entry.old_balance_won, 0);
    assert_int_equal(entry.new_balance_won, 1000);
    assert_string_equal(entry.memo, "first");
    assert_string_equal(entry.group_id, "");
    assert_int_equal(store_balance_credit(f->store, ACCOUNT_A, 2500, NULL, ids[1],
                                          FIXTURE_NOW_MS - 1000, &entry),
                     CASH_OK);
    assert_int_equal(entry.old_balance_won, 1000);
    assert_int_equal(entry.new_balance_won, 3500);
    /* A used history id changes nothing. */
    assert_int_equal(
        store_balance_credit(f->store, ACCOUNT_A, 7, NULL, ids[1], FIXTURE_NOW_MS, &entry),
        CASH_CONFLICT);
    assert_int_equal(
        store_balance_credit(f->store, ACCOUNT_B, 40, NULL, ids[2], FIXTURE_NOW_MS, &entry),
        CASH_OK);
    assert_int_equal(fixture_balance(f, ACCOUNT_A), 3500);
    assert_int_equal(fixture_balance(f, ACCOUNT_B), 40);
    history_check(f, ids);
    fixture_free(f);
}

/* The history written by test_credit_and_history: two entries of A (ids[0], ids[1]), one of B. */
static void history_check(struct fixture *f, char ids[4][HISTORY_ID_LENGTH + 1])
{
    struct history_entry list[LIST_LIMIT_MAX];
    size_t count = 0;
    struct history_query query = {.limit = 20};
    snprintf(query.account_id, sizeof(query.account_id), "%s", ACCOUNT_A);
    assert_int_equal(store_history_list(f->store, &query, list, &count), CASH_OK);
    assert_int_equal(count, 2);
    assert_string_equal(list[0].history_id, ids[1]); /* newest first */
    assert_string_equal(list[1].history_id, ids[0]);
    assert_string_equal(list[0].account_id, ACCOUNT_A);
    assert_int_equal(list[0].new_balance_won, 3500);

    query.offset = 1;
    query.limit = 1;
    assert_int_equal(store_history_list(f->store, &query, list, &count), CASH_OK);
    assert_int_equal(count, 1);
    assert_string_equal(list[0].history_id, ids[0]);

    struct history_query dated = {.limit = 20, .start_ms = FIXTURE_NOW_MS - 1500};
    snprintf(dated.account_id, sizeof(dated.account_id), "%s", ACCOUNT_A);
    assert_int_equal(store_history_list(f->store, &dated, list, &count), CASH_OK);
    assert_int_equal(count, 1);
    assert_string_equal(list[0].history_id, ids[1]);
    dated.start_ms = 0;
    dated.end_ms = FIXTURE_NOW_MS - 1500;
    assert_int_equal(store_history_list(f->store, &dated, list, &count), CASH_OK);
    assert_int_equal(count, 1);
    assert_string_equal(list[0].history_id, ids[0]);
    dated.end_ms = 0;
    dated.has_type = true;
    dated.type = HISTORY_WITHDRAW;
    assert_int_equal(store_history_list(f->store, &dated, list, &count), CASH_OK);
    assert_int_equal(count, 0);
    dated.type = HISTORY_RECHARGE;
    assert_int_equal(store_history_list(f->store, &dated, list, &count), CASH_OK);
    assert_int_equal(count, 2);

    query.limit = 0;
    assert_int_equal(store_history_list(f->store, &query, list, &count), CASH_VALIDATION_ERROR);
    query.limit = 5;
    query.offset = -1;
    assert_int_equal(store_history_list(f->store, &query, list, &count), CASH_VALIDATION_ERROR);

    struct fixture_problems problems;
    assert_int_equal(fixture_verify(f, &problems), 0);
}

static void test_bank_account(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    struct bank_account bank, got;
    fixture_account(f, ACCOUNT_A);
    fixture_member(f, MEMBER_A, ACCOUNT_A);
    assert_int_equal(store_bank_account_get(f->store, ACCOUNT_A, &got), CASH_NOT_FOUND);

    /* Without a factor (the operator). */
    fixture_bank_value(&bank, ACCOUNT_A, "004", "7890", "홍길동", FIXTURE_NOW_MS - 5000);
    assert_int_equal(store_bank_account_set(f->store, &bank, NULL, NULL), CASH_OK);
    assert_int_equal(store_bank_account_get(f->store, ACCOUNT_A, &got), CASH_OK);
    assert_string_equal(got.bank_code, "004");
    assert_string_equal(got.sealed_number, "0badc0de:sealed-7890");
    assert_string_equal(got.masked_number, "******7890");
    assert_string_equal(got.holder_name, "홍길동");
    assert_int_equal(got.created_ms, FIXTURE_NOW_MS - 5000);

    /* With a factor: none usable, then one. */
    struct second_factor factor = fixture_factor(MEMBER_A, 1);
    fixture_bank_value(&bank, ACCOUNT_A, "088", "1234", "김철수", FIXTURE_NOW_MS);
    assert_int_equal(store_bank_account_set(f->store, &bank, &factor, NULL),
                     CASH_SECOND_FACTOR_REQUIRED);
    assert_int_equal(store_bank_account_get(f->store, ACCOUNT_A, &got), CASH_OK);
    assert_string_equal(got.bank_code, "004");
    char verification_id[VERIFICATION_ID_LENGTH + 1];
    fixture_confirmed(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS - 10500, verification_id);
    assert_int_equal(store_bank_account_set(f->store, &bank, &factor, NULL), CASH_OK);
    assert_int_equal(factor.confirmed_ms, FIXTURE_NOW_MS - 10500);
    assert_int_equal(fixture_uses(f, verification_id), 1);
    assert_int_equal(store_bank_account_get(f->store, ACCOUNT_A, &got), CASH_OK);
    assert_string_equal(got.bank_code, "088");
    assert_string_equal(got.masked_number, "******1234");
    assert_string_equal(got.holder_name, "김철수");
    assert_int_equal(got.created_ms, FIXTURE_NOW_MS - 5000); /* the first registration */
    assert_int_equal(got.updated_ms, FIXTURE_NOW_MS);

    /* The only verification is spent: the delete needs another one and changes nothing. */
    assert_int_equal(store_bank_account_delete(f->store, ACCOUNT_A, &factor, NULL),
                     CASH_SECOND_FACTOR_REQUIRED);
    assert_int_equal(store_bank_account_get(f->store, ACCOUNT_A, &got), CASH_OK);
    char second_id[VERIFICATION_ID_LENGTH + 1];
    fixture_confirmed(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS - 1000, second_id);
    assert_int_equal(store_bank_account_delete(f->store, ACCOUNT_A, &factor, NULL), CASH_OK);
    assert_int_equal(fixture_uses(f, second_id), 1);
    assert_int_equal(store_bank_account_get(f->store, ACCOUNT_A, &got), CASH_NOT_FOUND);

    /* Nothing registered: CASH_NOT_FOUND and the factor is not spent. */
    char third_id[VERIFICATION_ID_LENGTH + 1];
    fixture_confirmed(f, MEMBER_A, ACCOUNT_A, FIXTURE_NOW_MS - 1000, third_id);
    assert_int_equal(store_bank_account_delete(f->store, ACCOUNT_A, &factor, NULL), CASH_NOT_FOUND);
    assert_int_equal(fixture_uses(f, third_id), 0);
    assert_int_equal(store_bank_account_delete(f->store, ACCOUNT_A, NULL, NULL), CASH_NOT_FOUND);

    /* An account that does not exist; the factor is not spent either. */
    fixture_bank_value(&bank, ACCOUNT_B, "004", "7890", "홍길동", FIXTURE_NOW_MS);
    assert_int_equal(store_bank_account_set(f->store, &bank, &factor, NULL), CASH_NOT_FOUND);
    assert_int_equal(fixture_uses(f, third_id), 0);
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_schemes),
        cmocka_unit_test(test_migrate_idempotent),
        cmocka_unit_test(test_wal_mode),
        cmocka_unit_test(test_account_crud),
        cmocka_unit_test(test_member_crud),
        cmocka_unit_test(test_api_key),
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_replay_prunes_expired),
        cmocka_unit_test(test_credit_and_history),
        cmocka_unit_test(test_bank_account),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
