/*
 * store_audit.c - the ledger-verify queries and problem reporting shared by the backends.
 */
#include "store/store_audit.h"

#include <stdarg.h>
#include <stdio.h>

#define AUDIT_PROBLEM_BYTES_MAX 256

/* Each account: the ledger sums to the balance and its last entry ends at the balance. */
const char STORE_AUDIT_SQL_ACCOUNTS[] =
    "SELECT a.account_id, a.balance, a.point,"
    " (SELECT COALESCE(SUM(h.balance_amount), 0) FROM balance_history h"
    "  WHERE h.account_id = a.account_id),"
    " (SELECT COALESCE(SUM(h.point_amount), 0) FROM balance_history h"
    "  WHERE h.account_id = a.account_id),"
    " (SELECT h.new_balance FROM balance_history h WHERE h.account_id = a.account_id"
    "  ORDER BY h.entry_seq DESC LIMIT 1)"
    " FROM accounts a ORDER BY a.account_id";
/* Each account's entries in commit order: old to new values chain. */
const char STORE_AUDIT_SQL_CHAIN[] =
    "SELECT account_id, entry_seq, history_id, type, balance_amount, point_amount, old_balance,"
    " new_balance, old_point, new_point FROM balance_history ORDER BY account_id, entry_seq";
/* Each withdrawal: its debit and refund entries. */
const char STORE_AUDIT_SQL_WITHDRAWALS[] =
    "SELECT w.withdraw_id, w.status, w.amount, w.fee, w.total_amount,"
    " (SELECT COUNT(*) FROM balance_history h WHERE h.group_id = w.withdraw_id"
    "  AND h.type = 'WITHDRAW'),"
    " (SELECT COUNT(*) FROM balance_history h WHERE h.group_id = w.withdraw_id"
    "  AND h.type = 'WITHDRAW' AND h.account_id = w.account_id"
    "  AND h.balance_amount = -w.total_amount),"
    " (SELECT COUNT(*) FROM balance_history h WHERE h.group_id = w.withdraw_id"
    "  AND h.type = 'WITHDRAW_REFUND'),"
    " (SELECT COUNT(*) FROM balance_history h WHERE h.group_id = w.withdraw_id"
    "  AND h.type = 'WITHDRAW_REFUND' AND h.account_id = w.account_id"
    "  AND h.balance_amount = w.total_amount)"
    " FROM withdrawals w ORDER BY w.withdraw_id";
/* SPEC 4 (issue: ledger verify over the lifecycle): balance = credits - totals of live withdrawals.
 * The live statuses are those withdraw_status_is_live() names. */
const char STORE_AUDIT_SQL_LIVE[] =
    "SELECT a.account_id, a.balance,"
    " (SELECT COALESCE(SUM(h.balance_amount), 0) FROM balance_history h"
    "  WHERE h.account_id = a.account_id AND h.type = 'RECHARGE'),"
    " (SELECT COALESCE(SUM(w.total_amount), 0) FROM withdrawals w"
    "  WHERE w.account_id = a.account_id AND w.status IN ('PENDING', 'CONFIRMED', 'COMPLETED'))"
    " FROM accounts a ORDER BY a.account_id";
/* Withdrawal entries without their withdrawal. */
const char STORE_AUDIT_SQL_ORPHANS[] =
    "SELECT h.history_id, h.type, h.group_id FROM balance_history h"
    " WHERE h.type IN ('WITHDRAW', 'WITHDRAW_REFUND')"
    " AND NOT EXISTS (SELECT 1 FROM withdrawals w WHERE w.withdraw_id = h.group_id)"
    " ORDER BY h.history_id";

void audit_problem(struct audit *audit, const char *format, ...)
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
