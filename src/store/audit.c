/*
 * audit.c - store_ledger_verify (SPEC 3: `cashctl ledger verify`), written once over the driver
 * seam. Reads everything in one snapshot, so that it sees one consistent state while cashd
 * processes keep writing, row by row (the statements are `stream`: a large ledger is never held
 * in memory), and reports each broken invariant as one line naming ids and amounts (never a
 * sealed number, a secret or a code).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "domain/withdraw_state.h"
#include "store/store_internal.h"

#define AUDIT_PROBLEM_BYTES_MAX 256

struct audit {
    void (*report)(void *context, const char *problem);
    void *report_context;
    size_t problems;
    /* the chain walk */
    char account_id[ACCOUNT_ID_LENGTH + 1];
    int64_t seq;
    int64_t balance;
    int64_t point;
};

/* Counts one problem and hands its text to the report callback. */
static void audit_problem(struct audit *audit, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static void audit_problem(struct audit *audit, const char *format, ...)
{
    char problem[AUDIT_PROBLEM_BYTES_MAX];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(problem, sizeof(problem), format, arguments);
    va_end(arguments);
    audit->problems++;
    if (audit->report != NULL) {
        audit->report(audit->report_context, problem);
    }
}

/* Checks the current row of a query, reporting what it finds. */
typedef void (*audit_row_check)(struct audit *audit, struct db_stmt *stmt);

/* Runs one query of the catalogue and checks each row. */
static cash_result audit_query(struct db_tx *tx, struct audit *audit, enum sql_id id,
                               audit_row_check check)
{
    struct db_stmt *stmt = db_statement(tx, id);
    for (;;) {
        cash_result result = db_step(stmt);
        if (result != CASH_OK) {
            return result == CASH_NOT_FOUND ? CASH_OK : result;
        }
        check(audit, stmt);
    }
}

static void audit_account(struct audit *audit, struct db_stmt *stmt)
{
    char account_id[ACCOUNT_ID_LENGTH + 1];
    struct db_row row;
    db_row_start(&row, stmt);
    db_row_text(&row, account_id, sizeof(account_id));
    int64_t balance = db_row_int64(&row);
    int64_t point = db_row_int64(&row);
    int64_t balance_sum = db_row_int64(&row);
    int64_t point_sum = db_row_int64(&row);
    bool has_entries = !db_row_is_null(&row);
    int64_t last_balance = has_entries ? db_row_int64(&row) : 0;
    if (!row.ok) {
        audit_problem(audit, "account %s: a stored value is out of range", account_id);
        return;
    }
    if (balance < 0 || point < 0) {
        audit_problem(audit, "account %s: negative balance %" PRId64 " or point %" PRId64,
                      account_id, balance, point);
    }
    if (balance_sum != balance) {
        audit_problem(audit, "account %s: balance %" PRId64 " but its ledger sums to %" PRId64,
                      account_id, balance, balance_sum);
    }
    if (point_sum != point) {
        audit_problem(audit, "account %s: point %" PRId64 " but its ledger sums to %" PRId64,
                      account_id, point, point_sum);
    }
    if (last_balance != balance) {
        audit_problem(audit, "account %s: balance %" PRId64 " but its last entry ends at %" PRId64,
                      account_id, balance, last_balance);
    }
}

static void audit_chain_entry(struct audit *audit, const char *history_id, int64_t seq,
                              const int64_t values[6])
{
    const int64_t amount = values[0], point_amount = values[1];
    const int64_t old_balance = values[2], new_balance = values[3];
    const int64_t old_point = values[4], new_point = values[5];
    if (seq != audit->seq + 1) {
        audit_problem(audit, "account %s: entry %s has sequence %" PRId64 ", expected %" PRId64,
                      audit->account_id, history_id, seq, audit->seq + 1);
    }
    if (old_balance != audit->balance || old_point != audit->point) {
        audit_problem(audit,
                      "account %s: entry %s starts at %" PRId64 "/%" PRId64
                      " but the entry before ends at %" PRId64 "/%" PRId64,
                      audit->account_id, history_id, old_balance, old_point, audit->balance,
                      audit->point);
    }
    if (new_balance != old_balance + amount || new_point != old_point + point_amount) {
        audit_problem(audit, "account %s: entry %s: old value plus change is not the new value",
                      audit->account_id, history_id);
    }
    if (new_balance < 0 || new_point < 0) {
        audit_problem(audit, "account %s: entry %s leaves a negative balance", audit->account_id,
                      history_id);
    }
    audit->seq = seq;
    audit->balance = new_balance;
    audit->point = new_point;
}

static void audit_chain(struct audit *audit, struct db_stmt *stmt)
{
    char account_id[ACCOUNT_ID_LENGTH + 1];
    char history_id[HISTORY_ID_LENGTH + 1];
    enum history_type type = HISTORY_RECHARGE;
    int64_t values[6];
    struct db_row row;
    db_row_start(&row, stmt);
    db_row_text(&row, account_id, sizeof(account_id));
    int64_t seq = db_row_int64(&row);
    db_row_text(&row, history_id, sizeof(history_id));
    db_row_history_type(&row, &type);
    for (size_t i = 0; i < 6; i++) {
        values[i] = db_row_int64(&row);
    }
    if (!row.ok) {
        audit_problem(audit, "ledger entry %s: a stored value is out of range", history_id);
        return;
    }
    if (strcmp(account_id, audit->account_id) != 0) {
        /* A new account: its chain starts from zero. */
        memcpy(audit->account_id, account_id, sizeof(audit->account_id));
        audit->seq = 0;
        audit->balance = 0;
        audit->point = 0;
    }
    if (type == HISTORY_RECHARGE && values[0] <= 0) {
        audit_problem(audit, "ledger entry %s: a recharge of %" PRId64, history_id, values[0]);
    }
    if (type == HISTORY_WITHDRAW && values[0] >= 0) {
        audit_problem(audit, "ledger entry %s: a withdrawal debit of %" PRId64, history_id,
                      values[0]);
    }
    audit_chain_entry(audit, history_id, seq, values);
}

static void audit_withdraw_entries(struct audit *audit, const char *withdraw_id,
                                   enum withdraw_status status, const int64_t counts[4])
{
    if (counts[0] != 1 || counts[1] != 1) {
        audit_problem(audit,
                      "withdrawal %s: %" PRId64 " debit entries (%" PRId64
                      " of -totalAmount), expected exactly one",
                      withdraw_id, counts[0], counts[1]);
    }
    int64_t refunds_expected = withdraw_status_is_refunded(status) ? 1 : 0;
    if (counts[2] != refunds_expected || counts[3] != refunds_expected) {
        audit_problem(audit,
                      "withdrawal %s: %" PRId64 " refund entries (%" PRId64
                      " of +totalAmount), expected %" PRId64,
                      withdraw_id, counts[2], counts[3], refunds_expected);
    }
}

static void audit_withdrawal(struct audit *audit, struct db_stmt *stmt)
{
    char withdraw_id[WITHDRAW_ID_LENGTH + 1];
    enum withdraw_status status = WITHDRAW_PENDING;
    int64_t counts[4];
    struct db_row row;
    db_row_start(&row, stmt);
    db_row_text(&row, withdraw_id, sizeof(withdraw_id));
    db_row_withdraw_status(&row, &status);
    int64_t amount = db_row_int64(&row);
    int64_t fee = db_row_int64(&row);
    int64_t total = db_row_int64(&row);
    for (size_t i = 0; i < 4; i++) {
        counts[i] = db_row_int64(&row);
    }
    if (!row.ok) {
        audit_problem(audit, "withdrawal %s: a stored value is out of range", withdraw_id);
        return;
    }
    if (amount < 1 || fee < 0 || amount + fee != total) {
        audit_problem(audit,
                      "withdrawal %s: amount %" PRId64 " + fee %" PRId64
                      " is not totalAmount %" PRId64,
                      withdraw_id, amount, fee, total);
    }
    audit_withdraw_entries(audit, withdraw_id, status, counts);
}

static void audit_orphan(struct audit *audit, struct db_stmt *stmt)
{
    char history_id[HISTORY_ID_LENGTH + 1];
    char type[32];
    char group_id[WITHDRAW_ID_LENGTH + 1];
    struct db_row row;
    db_row_start(&row, stmt);
    db_row_text(&row, history_id, sizeof(history_id));
    db_row_text(&row, type, sizeof(type));
    db_row_text(&row, group_id, sizeof(group_id));
    audit_problem(audit, "ledger entry %s (%s) names withdrawal \"%s\", which does not exist",
                  history_id, type, group_id);
}

static void audit_live(struct audit *audit, struct db_stmt *stmt)
{
    char account_id[ACCOUNT_ID_LENGTH + 1];
    struct db_row row;
    db_row_start(&row, stmt);
    db_row_text(&row, account_id, sizeof(account_id));
    int64_t balance = db_row_int64(&row);
    int64_t credits = db_row_int64(&row);
    int64_t live = db_row_int64(&row);
    if (!row.ok) {
        audit_problem(audit, "account %s: a stored value is out of range", account_id);
    } else if (balance != credits - live) {
        audit_problem(audit,
                      "account %s: balance %" PRId64 " but credits %" PRId64
                      " minus live withdrawals %" PRId64 " make %" PRId64,
                      account_id, balance, credits, live, credits - live);
    }
}

static cash_result audit_body(struct db_tx *tx, void *context_pointer)
{
    struct audit *audit = context_pointer;
    cash_result result = CASH_OK;
    if (db_tx_can(tx, DB_CAP_STATEMENT_TIMEOUT)) {
        /* A whole ledger may take longer than a request's statement timeout. */
        result = db_exec_simple(tx, "SET LOCAL statement_timeout = 0");
    }
    static const struct {
        enum sql_id id;
        audit_row_check check;
    } queries[] = {{SQL_AUDIT_ACCOUNTS, audit_account},
                   {SQL_AUDIT_CHAIN, audit_chain},
                   {SQL_AUDIT_WITHDRAWALS, audit_withdrawal},
                   {SQL_AUDIT_ORPHANS, audit_orphan},
                   {SQL_AUDIT_LIVE, audit_live}};
    for (size_t i = 0; result == CASH_OK && i < sizeof(queries) / sizeof(queries[0]); i++) {
        result = audit_query(tx, audit, queries[i].id, queries[i].check);
    }
    return result;
}

/* Checks every ledger invariant of store.h in one read transaction; report (may be NULL) is
 * called once per problem. CASH_OK when the check ran, whatever it found: *problems_out counts. */
cash_result store_ledger_verify(struct store *store,
                                void (*report)(void *context, const char *problem), void *context,
                                size_t *problems_out)
{
    struct audit audit = {.report = report, .report_context = context};
    return db_run_out(store, DB_SNAPSHOT, audit_body, &audit, problems_out, &audit.problems,
                      sizeof(*problems_out));
}
