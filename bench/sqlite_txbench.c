/*
 * sqlite_txbench - the storage limit of a withdrawal on SQLite: the raw three-statement
 * transaction (guarded UPDATE ... RETURNING of the balance, the ledger INSERT, the withdrawal
 * INSERT) on cashd's own schema and settings (WAL, synchronous=FULL, foreign keys on), with
 * --batch withdrawals per durable commit: 1 is one request per transaction, 64 is what group
 * commit can reach. One writer thread, as SQLite allows one writer.
 *
 *   sqlite_txbench --db PATH --batch N --seconds S [--label TEXT]
 *
 * The database is one that `cashctl init` and `cashseed --accounts N` prepared; the ledger stays
 * consistent, so `cashctl ledger verify` passes afterwards. Prints one line of figures.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "common/ids.h"
#include "common/timeutil.h"

#define TX_ACCOUNTS_MAX 100000
#define TX_TOTAL_WON    1000
#define TX_FEE_WON      550
#define TX_BUSY_MS      10000
#define TX_BATCH_MAX    10000

static const char SQL_DEBIT[] = "UPDATE accounts SET balance = balance - ?, updated_ms = ?"
                                " WHERE account_id = ? AND balance >= ? RETURNING balance";
static const char SQL_LEDGER[] =
    "INSERT INTO balance_history (history_id, account_id, entry_seq, type, balance_amount,"
    " point_amount, old_balance, new_balance, old_point, new_point, memo, group_id, created_ms)"
    " VALUES (?, ?, ?, 'WITHDRAW', ?, 0, ?, ?, 0, 0, '', ?, ?)";
static const char SQL_WITHDRAWAL[] =
    "INSERT INTO withdrawals (withdraw_id, account_id, member_id, bank_code, sealed_number,"
    " masked_number, holder_name, status, is_processing, confirmed_count, memo, transaction_id,"
    " transaction_ms, amount, fee, total_amount, confirmed_ms, created_ms, updated_ms)"
    " VALUES (?, ?, ?, '004', 'sealed', '******7890', 'Bench Holder', 'PENDING', 0, 0, '', '', 0,"
    " ?, ?, ?, ?, ?, ?)";
static const char SQL_ACCOUNTS[] =
    "SELECT a.account_id, m.member_id,"
    " (SELECT MAX(entry_seq) FROM balance_history h WHERE h.account_id = a.account_id)"
    " FROM accounts a JOIN members m ON m.account_id = a.account_id ORDER BY a.account_id";

struct tx_account {
    char account_id[ACCOUNT_ID_LENGTH + 1];
    char member_id[MEMBER_ID_LENGTH + 1];
    int64_t entry_seq;
};

struct tx_bench {
    sqlite3 *db;
    sqlite3_stmt *debit;
    sqlite3_stmt *ledger;
    sqlite3_stmt *withdrawal;
    struct tx_account *accounts; /* owned */
    size_t account_count;
    size_t account_next;
};

__attribute__((format(printf, 1, 2))) static bool tx_fail(const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    fputs("sqlite_txbench: ", stderr);
    vfprintf(stderr, format, arguments);
    fputc('\n', stderr);
    va_end(arguments);
    return false;
}

static int64_t tx_now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
}

static bool tx_exec(struct tx_bench *bench, const char *sql)
{
    if (sqlite3_exec(bench->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        return tx_fail("%s: %s", sql, sqlite3_errmsg(bench->db));
    }
    return true;
}

static bool tx_load_accounts(struct tx_bench *bench)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(bench->db, SQL_ACCOUNTS, -1, &stmt, NULL) != SQLITE_OK) {
        return tx_fail("accounts: %s", sqlite3_errmsg(bench->db));
    }
    bench->accounts = calloc(TX_ACCOUNTS_MAX, sizeof(*bench->accounts));
    while (bench->accounts != NULL && bench->account_count < TX_ACCOUNTS_MAX &&
           sqlite3_step(stmt) == SQLITE_ROW) {
        struct tx_account *account = &bench->accounts[bench->account_count++];
        snprintf(account->account_id, sizeof(account->account_id), "%s",
                 (const char *)sqlite3_column_text(stmt, 0));
        snprintf(account->member_id, sizeof(account->member_id), "%s",
                 (const char *)sqlite3_column_text(stmt, 1));
        account->entry_seq = sqlite3_column_int64(stmt, 2);
    }
    sqlite3_finalize(stmt);
    if (bench->account_count == 0) {
        return tx_fail("no account in the database (run cashseed --accounts N first)");
    }
    return true;
}

/* cashd's connection settings (src/store/sqlite.c): WAL, durable commits, foreign keys. */
static bool tx_open(struct tx_bench *bench, const char *path)
{
    if (sqlite3_open_v2(path, &bench->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        return tx_fail("cannot open %s: %s", path, sqlite3_errmsg(bench->db));
    }
    sqlite3_busy_timeout(bench->db, TX_BUSY_MS);
    if (!tx_exec(bench, "PRAGMA foreign_keys = ON") ||
        !tx_exec(bench, "PRAGMA synchronous = FULL") ||
        !tx_exec(bench, "PRAGMA journal_mode = WAL") || !tx_load_accounts(bench)) {
        return false;
    }
    if (sqlite3_prepare_v2(bench->db, SQL_DEBIT, -1, &bench->debit, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(bench->db, SQL_LEDGER, -1, &bench->ledger, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(bench->db, SQL_WITHDRAWAL, -1, &bench->withdrawal, NULL) != SQLITE_OK) {
        return tx_fail("prepare: %s", sqlite3_errmsg(bench->db));
    }
    return true;
}

static void tx_close(struct tx_bench *bench)
{
    sqlite3_finalize(bench->debit);
    sqlite3_finalize(bench->ledger);
    sqlite3_finalize(bench->withdrawal);
    sqlite3_close(bench->db);
    free(bench->accounts);
}

/* Steps stmt to its end (after an optional row), resets it, and says whether that went well. */
static bool tx_step(struct tx_bench *bench, sqlite3_stmt *stmt, int64_t *row_value)
{
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW && row_value != NULL) {
        *row_value = sqlite3_column_int64(stmt, 0);
        rc = sqlite3_step(stmt);
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        return tx_fail("step: %s", sqlite3_errmsg(bench->db));
    }
    return true;
}

/* One withdrawal: the three statements, inside the caller's transaction. */
static bool tx_withdraw(struct tx_bench *bench)
{
    struct tx_account *account = &bench->accounts[bench->account_next];
    bench->account_next = (bench->account_next + 1) % bench->account_count;
    int64_t now_ms = time_now_ms();
    char withdraw_id[WITHDRAW_ID_LENGTH + 1];
    char history_id[HISTORY_ID_LENGTH + 1];
    int64_t new_balance = -1;
    if (!id_sortable_new(now_ms, withdraw_id) || !id_sortable_new(now_ms, history_id)) {
        return tx_fail("random source");
    }
    sqlite3_bind_int64(bench->debit, 1, TX_TOTAL_WON);
    sqlite3_bind_int64(bench->debit, 2, now_ms);
    sqlite3_bind_text(bench->debit, 3, account->account_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(bench->debit, 4, TX_TOTAL_WON);
    if (!tx_step(bench, bench->debit, &new_balance) || new_balance < 0) {
        return new_balance < 0 ? tx_fail("account %s ran out of balance", account->account_id)
                               : false;
    }
    account->entry_seq++;
    sqlite3_bind_text(bench->ledger, 1, history_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(bench->ledger, 2, account->account_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(bench->ledger, 3, account->entry_seq);
    sqlite3_bind_int64(bench->ledger, 4, -TX_TOTAL_WON);
    sqlite3_bind_int64(bench->ledger, 5, new_balance + TX_TOTAL_WON);
    sqlite3_bind_int64(bench->ledger, 6, new_balance);
    sqlite3_bind_text(bench->ledger, 7, withdraw_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(bench->ledger, 8, now_ms);
    if (!tx_step(bench, bench->ledger, NULL)) {
        return false;
    }
    int64_t values[] = {TX_TOTAL_WON - TX_FEE_WON, TX_FEE_WON, TX_TOTAL_WON,
                        now_ms - now_ms % 1000,    now_ms,     now_ms};
    sqlite3_bind_text(bench->withdrawal, 1, withdraw_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(bench->withdrawal, 2, account->account_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(bench->withdrawal, 3, account->member_id, -1, SQLITE_STATIC);
    for (int i = 0; i < 6; i++) {
        sqlite3_bind_int64(bench->withdrawal, 4 + i, values[i]);
    }
    return tx_step(bench, bench->withdrawal, NULL);
}

static int tx_compare(const void *a, const void *b)
{
    int64_t left = *(const int64_t *)a;
    int64_t right = *(const int64_t *)b;
    return (left > right) - (left < right);
}

static long tx_number(const char *text, long minimum, long maximum)
{
    char *end = NULL;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < minimum || value > maximum) {
        return -1;
    }
    return value;
}

/* Transactions of batch withdrawals until the time is up; returns false on an error. */
static bool tx_run(struct tx_bench *bench, long batch, double seconds, const char *label)
{
    size_t capacity = 1 << 16;
    size_t count = 0;
    int64_t *commit_ns = malloc(capacity * sizeof(*commit_ns));
    int64_t start_ns = tx_now_ns();
    int64_t end_ns = start_ns + (int64_t)(seconds * 1e9);
    bool ok = commit_ns != NULL;
    while (ok && tx_now_ns() < end_ns) {
        int64_t begin_ns = tx_now_ns();
        ok = tx_exec(bench, "BEGIN IMMEDIATE");
        for (long i = 0; ok && i < batch; i++) {
            ok = tx_withdraw(bench);
        }
        ok = ok && tx_exec(bench, "COMMIT");
        if (ok && count == capacity) {
            capacity *= 2;
            int64_t *grown = realloc(commit_ns, capacity * sizeof(*commit_ns));
            ok = grown != NULL;
            commit_ns = grown != NULL ? grown : commit_ns;
        }
        if (ok) {
            commit_ns[count++] = tx_now_ns() - begin_ns;
        }
    }
    double elapsed = (double)(tx_now_ns() - start_ns) / 1e9;
    if (ok && count > 0) {
        qsort(commit_ns, count, sizeof(*commit_ns), tx_compare);
        printf("label=%s batch=%ld seconds=%.3f transactions=%zu withdrawals=%zu"
               " throughput=%.1f tx_per_second=%.1f tx_p50_ms=%.3f tx_p90_ms=%.3f\n",
               label, batch, elapsed, count, count * (size_t)batch,
               (double)count * (double)batch / elapsed, (double)count / elapsed,
               (double)commit_ns[count / 2] / 1e6, (double)commit_ns[count * 9 / 10] / 1e6);
    }
    free(commit_ns);
    return ok;
}

int main(int argc, char **argv)
{
    const char *db_path = NULL;
    const char *label = "sqlite";
    long batch = 1;
    double seconds = 5.0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--db") == 0) {
            db_path = argv[i + 1];
        } else if (strcmp(argv[i], "--batch") == 0) {
            batch = tx_number(argv[i + 1], 1, TX_BATCH_MAX);
        } else if (strcmp(argv[i], "--seconds") == 0) {
            seconds = (double)tx_number(argv[i + 1], 1, 3600);
        } else if (strcmp(argv[i], "--label") == 0) {
            label = argv[i + 1];
        }
    }
    if (db_path == NULL || batch < 1 || seconds < 1 || argc % 2 == 0) {
        fputs("usage: sqlite_txbench --db PATH --batch N --seconds S [--label TEXT]\n", stderr);
        return 2;
    }
    struct tx_bench bench;
    memset(&bench, 0, sizeof(bench));
    bool ok = tx_open(&bench, db_path) && tx_run(&bench, batch, seconds, label);
    tx_close(&bench);
    return ok ? 0 : 1;
}
