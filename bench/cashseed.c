/*
 * cashseed - writes benchmark data straight into a SQLite database that `cashctl init` created,
 * in big transactions: accounts ready to withdraw (member OWNER, API key with both scopes and its
 * secret sealed under the data key, a registered bank account, a recharge), and optionally one
 * account with a long history (withdrawals, each with its ledger debit) for the list and history
 * scenarios. The ledger it writes is consistent: `cashctl ledger verify` passes afterwards.
 *
 *   cashseed --db PATH [--data-key-file FILE] [--accounts N --keys-out FILE]
 *            [--hot-out FILE] [--big-rows N --big-out FILE] [--balance WON]
 *
 * Keys files have one line per account: "accountId memberId apiKey apiSecret" (cashbench reads
 * them). It writes rows the way the SQLite store writes them (src/store/schema.c,
 * version 1) and refuses a database of another schema version.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <sqlite3.h>

#include "common/crypto.h"
#include "common/ids.h"
#include "common/timeutil.h"
#include "domain/bank.h"
#include "domain/money.h"

#define SEED_SCHEMA_VERSION_MIN   1
#define SEED_SCHEMA_VERSION_KNOWN 2 /* the newest version whose columns this file knows */
#define SEED_ROWS_PER_TRANSACTION 200000
#define SEED_BALANCE_WON_DEFAULT  1000000000LL /* one billion won per account */
#define SEED_BIG_TOTAL_WON        1000
#define SEED_BIG_AGE_MS           (40LL * 86400 * 1000) /* the history ends 5 days ago */
#define SEED_BIG_SPAN_MS          (35LL * 86400 * 1000)
#define SEED_ID_ATTEMPTS_MAX      20
#define SEED_CACHE_KIB            262144
#define SEED_BANK_NUMBER          "1234567890"
#define SEED_PROGRESS_ROWS        1000000

static const char SQL_ACCOUNT[] =
    "INSERT INTO accounts (account_id, status, verified, balance, point, auto_recharge,"
    " minimum_cash, recharge_to, recharge_try_count, created_ms, updated_ms)"
    " VALUES (?, 'ACTIVE', 'personal', ?, 0, 0, 0, 0, 0, ?, ?)";
static const char SQL_MEMBER[] =
    "INSERT INTO members (member_id, account_id, email, phone, role, status, created_ms)"
    " VALUES (?, ?, ?, '01000000000', 'OWNER', 'ACTIVE', ?)";
static const char SQL_API_KEY[] =
    "INSERT INTO api_keys (api_key, sealed_secret, member_id, scopes, revoked, created_ms)"
    " VALUES (?, ?, ?, 3, 0, ?)";
static const char SQL_BANK[] =
    "INSERT INTO bank_accounts (account_id, bank_code, sealed_number, masked_number, holder_name,"
    " created_ms, updated_ms) VALUES (?, '004', ?, ?, 'Bench Holder', ?, ?)";
/* Version 2 and later: set by the operator, as `cashctl bank set` does (no cooling-off). */
static const char SQL_BANK_OPERATOR[] =
    "INSERT INTO bank_accounts (account_id, bank_code, sealed_number, masked_number, holder_name,"
    " created_ms, updated_ms, operator_verified) VALUES (?, '004', ?, ?, 'Bench Holder', ?, ?, 1)";
static const char SQL_HISTORY[] =
    "INSERT INTO balance_history (history_id, account_id, entry_seq, type, balance_amount,"
    " point_amount, old_balance, new_balance, old_point, new_point, memo, group_id, created_ms)"
    " VALUES (?, ?, ?, ?, ?, 0, ?, ?, 0, 0, '', ?, ?)";
static const char SQL_WITHDRAWAL[] =
    "INSERT INTO withdrawals (withdraw_id, account_id, member_id, bank_code, sealed_number,"
    " masked_number, holder_name, status, is_processing, confirmed_count, memo, transaction_id,"
    " transaction_ms, amount, fee, total_amount, confirmed_ms, created_ms, updated_ms)"
    " VALUES (?, ?, ?, '004', ?, ?, 'Bench Holder', 'COMPLETED', 0, 1, '', ?, ?, ?, ?, ?, ?, ?,"
    " ?)";

static const char SQL_ACCOUNT_BALANCE[] = "UPDATE accounts SET balance = ? WHERE account_id = ?";

enum seed_statement {
    SEED_ACCOUNT,
    SEED_ACCOUNT_BALANCE,
    SEED_MEMBER,
    SEED_API_KEY,
    SEED_BANK,
    SEED_HISTORY,
    SEED_WITHDRAWAL,
    SEED_STATEMENT_COUNT
};

struct seed {
    sqlite3 *db;
    struct keyring keyring;
    sqlite3_stmt *statements[SEED_STATEMENT_COUNT];
    int64_t schema_version;
    bool in_transaction;
    int64_t now_ms;
    size_t rows_in_transaction;
};

/* One seeded account, as the keys file and the big history need it. */
struct seed_account {
    char account_id[ACCOUNT_ID_LENGTH + 1];
    char member_id[MEMBER_ID_LENGTH + 1];
    char api_key[AUTH_API_KEY_LENGTH + 1];
    char api_secret[AUTH_API_SECRET_LENGTH + 1];
    char sealed_number[SEALED_BYTES_MAX + 1];
    char masked_number[MASKED_NUMBER_BYTES_MAX + 1];
    int64_t balance_won;
    int64_t entry_seq; /* of its newest ledger entry */
};

/* Prints "cashseed: <message>" on stderr; returns false, for the callers' convenience. */
__attribute__((format(printf, 1, 2))) static bool seed_fail(const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    fputs("cashseed: ", stderr);
    vfprintf(stderr, format, arguments);
    fputc('\n', stderr);
    va_end(arguments);
    return false;
}

static double seed_seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* ---- statements ---- */

static bool seed_exec(struct seed *seed, const char *sql)
{
    char *message = NULL;
    if (sqlite3_exec(seed->db, sql, NULL, NULL, &message) != SQLITE_OK) {
        seed_fail("%s: %s", sql, message != NULL ? message : sqlite3_errmsg(seed->db));
        sqlite3_free(message);
        return false;
    }
    return true;
}

/*
 * Binds the values of format ('t' text, 'i' int64) in order and steps the statement once.
 * Returns the SQLite result (SQLITE_DONE on success); the statement is reset either way.
 */
static int seed_insert(struct seed *seed, enum seed_statement which, const char *format, ...)
{
    sqlite3_stmt *stmt = seed->statements[which];
    va_list arguments;
    va_start(arguments, format);
    int rc = SQLITE_OK;
    for (int i = 0; format[i] != '\0' && rc == SQLITE_OK; i++) {
        if (format[i] == 't') {
            rc = sqlite3_bind_text(stmt, i + 1, va_arg(arguments, const char *), -1,
                                   SQLITE_STATIC); /* the caller's text outlives the step */
        } else {
            rc = sqlite3_bind_int64(stmt, i + 1, va_arg(arguments, int64_t));
        }
    }
    va_end(arguments);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(stmt);
    }
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    if (rc == SQLITE_DONE) {
        seed->rows_in_transaction++;
    }
    return rc;
}

static bool seed_insert_ok(struct seed *seed, int rc, const char *what)
{
    if (rc != SQLITE_DONE) {
        seed_fail("insert %s: %s", what, sqlite3_errmsg(seed->db));
        return false;
    }
    return true;
}

/* Commits and begins again once the transaction is big enough. */
static bool seed_maybe_commit(struct seed *seed)
{
    if (seed->rows_in_transaction < SEED_ROWS_PER_TRANSACTION) {
        return true;
    }
    seed->rows_in_transaction = 0;
    return seed_exec(seed, "COMMIT") && seed_exec(seed, "BEGIN");
}

/* ---- opening ---- */

/*
 * Versions SEED_SCHEMA_VERSION_MIN..SEED_SCHEMA_VERSION_KNOWN are written as the store writes
 * them. A newer one is tried with a warning (its new columns must have defaults); the smoke test
 * and `cashctl ledger verify` then tell whether that still holds.
 */
static bool seed_schema_check(struct seed *seed)
{
    sqlite3_stmt *stmt = NULL;
    int64_t version = -1;
    if (sqlite3_prepare_v2(seed->db, "SELECT MAX(version) FROM schema_version", -1, &stmt, NULL) ==
            SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
        version = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_finalize(stmt);
    if (version < SEED_SCHEMA_VERSION_MIN) {
        return seed_fail("the database has no cashd schema (run `cashctl init` on it first)");
    }
    if (version > SEED_SCHEMA_VERSION_KNOWN) {
        fprintf(stderr,
                "cashseed: warning: schema version %" PRId64 " is newer than %d, the newest this"
                " program knows; its new columns get their defaults\n",
                version, SEED_SCHEMA_VERSION_KNOWN);
    }
    seed->schema_version = version;
    return true;
}

static bool seed_prepare(struct seed *seed)
{
    const char *const texts[SEED_STATEMENT_COUNT] = {
        SQL_ACCOUNT,
        SQL_ACCOUNT_BALANCE,
        SQL_MEMBER,
        SQL_API_KEY,
        seed->schema_version >= 2 ? SQL_BANK_OPERATOR : SQL_BANK,
        SQL_HISTORY,
        SQL_WITHDRAWAL,
    };
    for (size_t i = 0; i < SEED_STATEMENT_COUNT; i++) {
        if (sqlite3_prepare_v2(seed->db, texts[i], -1, &seed->statements[i], NULL) != SQLITE_OK) {
            seed_fail("prepare: %s", sqlite3_errmsg(seed->db));
            return false;
        }
    }
    return true;
}

/*
 * Opens the database for bulk writing: no other connection may use it meanwhile. The rollback
 * journal replaces the WAL for the duration (a WAL would hold a copy of every page written) and
 * commits are not synced; seed_close() puts WAL back and syncs.
 */
static bool seed_open(struct seed *seed, const char *db_path, const char *key_path)
{
    char why[256];
    if (!keyring_load(key_path, &seed->keyring, why, sizeof(why))) {
        seed_fail("%s", why);
        return false;
    }
    if (sqlite3_open_v2(db_path, &seed->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        seed_fail("cannot open %s: %s", db_path, sqlite3_errmsg(seed->db));
        return false;
    }
    char pragmas[160];
    snprintf(pragmas, sizeof(pragmas),
             "PRAGMA journal_mode = DELETE; PRAGMA synchronous = OFF; PRAGMA cache_size = -%d;"
             " PRAGMA temp_store = MEMORY",
             SEED_CACHE_KIB);
    seed->now_ms = time_now_ms();
    if (!seed_schema_check(seed) || !seed_exec(seed, pragmas) || !seed_prepare(seed) ||
        !seed_exec(seed, "BEGIN")) {
        return false;
    }
    seed->in_transaction = true;
    return true;
}

static bool seed_close(struct seed *seed, bool commit)
{
    bool ok = true;
    if (seed->db != NULL) {
        if (seed->in_transaction) {
            ok = commit ? seed_exec(seed, "COMMIT") : seed_exec(seed, "ROLLBACK");
            seed->in_transaction = false;
        }
        for (size_t i = 0; i < SEED_STATEMENT_COUNT; i++) {
            sqlite3_finalize(seed->statements[i]);
        }
        ok = ok && seed_exec(seed, "PRAGMA synchronous = FULL") &&
             seed_exec(seed, "PRAGMA journal_mode = WAL");
        if (sqlite3_close(seed->db) != SQLITE_OK) {
            ok = false;
        }
        seed->db = NULL;
    }
    keyring_wipe(&seed->keyring);
    return ok;
}

/* ---- accounts ---- */

/* Inserts the account row under a fresh random id, drawing again on the rare collision. */
static bool seed_account_row(struct seed *seed, struct seed_account *account, int64_t created_ms)
{
    for (int attempt = 0; attempt < SEED_ID_ATTEMPTS_MAX; attempt++) {
        if (!id_account_new(seed->now_ms, account->account_id)) {
            return false;
        }
        int rc = seed_insert(seed, SEED_ACCOUNT, "tiii", account->account_id, account->balance_won,
                             created_ms, created_ms);
        if (rc == SQLITE_DONE) {
            return true;
        }
        if (rc != SQLITE_CONSTRAINT) {
            return seed_insert_ok(seed, rc, "account");
        }
    }
    return seed_insert_ok(seed, SQLITE_CONSTRAINT, "account");
}

static bool seed_member_row(struct seed *seed, struct seed_account *account, int64_t created_ms)
{
    char email[64];
    for (int attempt = 0; attempt < SEED_ID_ATTEMPTS_MAX; attempt++) {
        if (!id_member_new(seed->now_ms, account->member_id)) {
            return false;
        }
        snprintf(email, sizeof(email), "bench-%s@example.com", account->member_id);
        int rc = seed_insert(seed, SEED_MEMBER, "ttti", account->member_id, account->account_id,
                             email, created_ms);
        if (rc == SQLITE_DONE) {
            return true;
        }
        if (rc != SQLITE_CONSTRAINT) {
            return seed_insert_ok(seed, rc, "member");
        }
    }
    return seed_insert_ok(seed, SQLITE_CONSTRAINT, "member");
}

/* The API key, its secret sealed as cashctl seals it (crypto_seal under the data key). */
static bool seed_api_key_row(struct seed *seed, struct seed_account *account, int64_t created_ms)
{
    char sealed[SEALED_BYTES_MAX + 1];
    if (!id_api_key_new(account->api_key) || !id_api_secret_new(account->api_secret) ||
        !crypto_seal(&seed->keyring, account->api_secret, strlen(account->api_secret), sealed,
                     sizeof(sealed))) {
        return seed_fail("cannot make an API key (random source or seal)");
    }
    return seed_insert_ok(seed,
                          seed_insert(seed, SEED_API_KEY, "ttti", account->api_key, sealed,
                                      account->member_id, created_ms),
                          "api key");
}

static bool seed_bank_row(struct seed *seed, struct seed_account *account, int64_t created_ms)
{
    if (!crypto_seal(&seed->keyring, SEED_BANK_NUMBER, strlen(SEED_BANK_NUMBER),
                     account->sealed_number, sizeof(account->sealed_number))) {
        return seed_fail("cannot seal the bank account number");
    }
    bank_number_mask(SEED_BANK_NUMBER, account->masked_number);
    return seed_insert_ok(seed,
                          seed_insert(seed, SEED_BANK, "tttii", account->account_id,
                                      account->sealed_number, account->masked_number, created_ms,
                                      created_ms),
                          "bank account");
}

/* One ledger entry of account, chained on the one before (SPEC 3). */
static bool seed_history_row(struct seed *seed, struct seed_account *account, const char *type,
                             int64_t amount_won, const char *group_id, int64_t created_ms)
{
    char history_id[HISTORY_ID_LENGTH + 1];
    if (!id_sortable_new(created_ms, history_id)) {
        return false;
    }
    int64_t old_balance = account->balance_won - amount_won;
    account->entry_seq++;
    return seed_insert_ok(seed,
                          seed_insert(seed, SEED_HISTORY, "ttitiiiti", history_id,
                                      account->account_id, account->entry_seq, type, amount_won,
                                      old_balance, account->balance_won, group_id, created_ms),
                          "ledger entry");
}

/*
 * A whole account ready to withdraw: its balance comes from one RECHARGE entry created at
 * created_ms (the account's balance column is written with the final balance).
 */
static bool seed_account(struct seed *seed, int64_t balance_won, int64_t created_ms,
                         struct seed_account *out)
{
    memset(out, 0, sizeof(*out));
    out->balance_won = balance_won;
    return seed_account_row(seed, out, created_ms) && seed_member_row(seed, out, created_ms) &&
           seed_api_key_row(seed, out, created_ms) && seed_bank_row(seed, out, created_ms) &&
           seed_history_row(seed, out, "RECHARGE", balance_won, "", created_ms) &&
           seed_maybe_commit(seed);
}

static void seed_key_line(FILE *out, const struct seed_account *account)
{
    fprintf(out, "%s %s %s %s\n", account->account_id, account->member_id, account->api_key,
            account->api_secret);
}

/* count accounts, one keys-file line each. */
static bool seed_accounts(struct seed *seed, size_t count, int64_t balance_won, FILE *keys_out)
{
    struct seed_account account;
    for (size_t i = 0; i < count; i++) {
        if (!seed_account(seed, balance_won, seed->now_ms, &account)) {
            return false;
        }
        seed_key_line(keys_out, &account);
        OPENSSL_cleanse(account.api_secret, sizeof(account.api_secret));
    }
    return true;
}

/* ---- the long history ---- */

/* One COMPLETED withdrawal of SEED_BIG_TOTAL_WON and its ledger debit, at created_ms. */
static bool seed_big_row(struct seed *seed, struct seed_account *account, int64_t fee_won,
                         int64_t created_ms, size_t row)
{
    char withdraw_id[WITHDRAW_ID_LENGTH + 1];
    char transaction_id[32];
    if (!id_sortable_new(created_ms, withdraw_id)) {
        return false;
    }
    snprintf(transaction_id, sizeof(transaction_id), "BT%zu", row);
    account->balance_won -= SEED_BIG_TOTAL_WON;
    int rc = seed_insert(seed, SEED_WITHDRAWAL, "ttttttiiiiiii", withdraw_id, account->account_id,
                         account->member_id, account->sealed_number, account->masked_number,
                         transaction_id, created_ms + 1000, SEED_BIG_TOTAL_WON - fee_won, fee_won,
                         (int64_t)SEED_BIG_TOTAL_WON, created_ms - created_ms % 1000, created_ms,
                         created_ms + 1000);
    return seed_insert_ok(seed, rc, "withdrawal") &&
           seed_history_row(seed, account, "WITHDRAW", -SEED_BIG_TOTAL_WON, withdraw_id,
                            created_ms) &&
           seed_maybe_commit(seed);
}

/*
 * The account with rows withdrawals spread over 35 days ending 5 days ago (so that none counts
 * towards today's limit), and balance_won left after them.
 */
static bool seed_big(struct seed *seed, size_t rows, int64_t balance_won, FILE *keys_out)
{
    struct money_rules rules = {.fee_rate_bp = 500, .fee_fixed_won = 500};
    int64_t fee_won = money_fee_won(&rules, SEED_BIG_TOTAL_WON);
    int64_t start_ms = seed->now_ms - SEED_BIG_AGE_MS;
    int64_t step_ms = SEED_BIG_SPAN_MS / (int64_t)(rows > 0 ? rows : 1);
    struct seed_account account;
    struct timespec started;
    clock_gettime(CLOCK_MONOTONIC, &started);
    if (step_ms < 1 || !seed_account(seed, balance_won + (int64_t)rows * SEED_BIG_TOTAL_WON,
                                     start_ms - 1000, &account)) {
        return step_ms >= 1 ? false : seed_fail("too many rows for the time span");
    }
    for (size_t row = 0; row < rows; row++) {
        if (!seed_big_row(seed, &account, fee_won, start_ms + (int64_t)row * step_ms, row)) {
            return false;
        }
        if ((row + 1) % SEED_PROGRESS_ROWS == 0) {
            fprintf(stderr, "cashseed: %zu withdrawals, %.1f s\n", row + 1,
                    seed_seconds_since(&started));
        }
    }
    if (account.balance_won != balance_won) {
        return seed_fail("internal: the long history does not end at the balance");
    }
    /* The account row was written with the balance before the withdrawals. */
    if (!seed_insert_ok(
            seed,
            seed_insert(seed, SEED_ACCOUNT_BALANCE, "it", account.balance_won, account.account_id),
            "balance")) {
        return false;
    }
    seed_key_line(keys_out, &account);
    OPENSSL_cleanse(account.api_secret, sizeof(account.api_secret));
    return true;
}

/* ---- the command line ---- */

struct seed_options {
    const char *db_path;
    const char *key_path;
    size_t accounts;
    const char *keys_out;
    const char *hot_out;
    size_t big_rows;
    const char *big_out;
    int64_t balance_won;
};

static bool seed_number(const char *text, long long maximum, long long *out)
{
    char *end = NULL;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < 0 || value > maximum) {
        return false;
    }
    *out = value;
    return true;
}

static bool seed_option(struct seed_options *options, const char *name, const char *value)
{
    long long number = 0;
    if (strcmp(name, "--db") == 0) {
        options->db_path = value;
    } else if (strcmp(name, "--data-key-file") == 0) {
        options->key_path = value;
    } else if (strcmp(name, "--keys-out") == 0) {
        options->keys_out = value;
    } else if (strcmp(name, "--hot-out") == 0) {
        options->hot_out = value;
    } else if (strcmp(name, "--big-out") == 0) {
        options->big_out = value;
    } else if (strcmp(name, "--accounts") == 0 && seed_number(value, 10000000, &number)) {
        options->accounts = (size_t)number;
    } else if (strcmp(name, "--big-rows") == 0 && seed_number(value, 1000000000, &number)) {
        options->big_rows = (size_t)number;
    } else if (strcmp(name, "--balance") == 0 && seed_number(value, 1000000000000, &number)) {
        options->balance_won = number;
    } else {
        return false;
    }
    return true;
}

static bool seed_options_parse(int argc, char **argv, struct seed_options *options,
                               char *key_path_buffer, size_t key_path_size)
{
    memset(options, 0, sizeof(*options));
    options->balance_won = SEED_BALANCE_WON_DEFAULT;
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc || !seed_option(options, argv[i], argv[i + 1])) {
            seed_fail("bad option %s", argv[i]);
            return false;
        }
    }
    if (options->db_path == NULL || (options->accounts > 0 && options->keys_out == NULL) ||
        (options->big_rows > 0 && options->big_out == NULL)) {
        seed_fail("usage: cashseed --db PATH [--data-key-file FILE] [--accounts N --keys-out FILE]"
                  " [--hot-out FILE] [--big-rows N --big-out FILE] [--balance WON]");
        return false;
    }
    if (options->key_path == NULL) {
        /* As cashd and cashctl: cashd.key beside the SQLite file. */
        const char *slash = strrchr(options->db_path, '/');
        int directory = slash == NULL ? 0 : (int)(slash - options->db_path + 1);
        snprintf(key_path_buffer, key_path_size, "%.*scashd.key", directory, options->db_path);
        options->key_path = key_path_buffer;
    }
    return true;
}

/* Opens a keys file for writing (mode 0600: it holds secrets); NULL path gives NULL quietly. */
static FILE *seed_keys_open(const char *path, bool *failed)
{
    if (path == NULL) {
        return NULL;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *file = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (file == NULL) {
        if (fd >= 0) {
            close(fd);
        }
        seed_fail("cannot write %s: %s", path, strerror(errno));
        *failed = true;
    }
    return file;
}

static bool seed_run(struct seed *seed, const struct seed_options *options, FILE *keys, FILE *hot,
                     FILE *big)
{
    struct timespec started;
    clock_gettime(CLOCK_MONOTONIC, &started);
    if (keys != NULL && !seed_accounts(seed, options->accounts, options->balance_won, keys)) {
        return false;
    }
    if (hot != NULL && !seed_accounts(seed, 1, options->balance_won * 100, hot)) {
        return false;
    }
    double accounts_seconds = seed_seconds_since(&started);
    clock_gettime(CLOCK_MONOTONIC, &started);
    if (big != NULL && !seed_big(seed, options->big_rows, options->balance_won, big)) {
        return false;
    }
    double big_seconds = seed_seconds_since(&started);
    printf("cashseed: accounts=%zu accounts_seconds=%.2f big_rows=%zu big_seconds=%.2f"
           " big_rows_per_second=%.0f\n",
           options->accounts + (hot != NULL ? 1 : 0), accounts_seconds, options->big_rows,
           big_seconds, big_seconds > 0 ? (double)options->big_rows / big_seconds : 0.0);
    return true;
}

int main(int argc, char **argv)
{
    struct seed_options options;
    char key_path[1024];
    if (!seed_options_parse(argc, argv, &options, key_path, sizeof(key_path))) {
        return 2;
    }
    bool failed = false;
    FILE *keys = seed_keys_open(options.accounts > 0 ? options.keys_out : NULL, &failed);
    FILE *hot = seed_keys_open(options.hot_out, &failed);
    FILE *big = seed_keys_open(options.big_rows > 0 ? options.big_out : NULL, &failed);
    struct seed seed;
    memset(&seed, 0, sizeof(seed));
    bool ok = !failed && seed_open(&seed, options.db_path, options.key_path) &&
              seed_run(&seed, &options, keys, hot, big);
    ok = seed_close(&seed, ok) && ok;
    FILE *files[] = {keys, hot, big};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        if (files[i] != NULL && fclose(files[i]) != 0) {
            ok = false;
        }
    }
    return ok ? 0 : 1;
}
