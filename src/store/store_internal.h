/*
 * store_internal.h - what the store's files, written once over the driver seam (db.h), share
 * inside a transaction; private to src/store.
 */
#ifndef CASH_STORE_INTERNAL_H
#define CASH_STORE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "store/db.h"
#include "store/store.h"

/* account.c: locks the account row for the rest of the transaction, where the driver has row
 * locks, and reads its balance and point (the outs may both be NULL); CASH_NOT_FOUND if there is
 * no such account. Every transaction that changes an account's money, bank account or daily
 * total takes it first (after the second factor), so that they follow one another per account. */
cash_result account_lock(struct db_tx *tx, const char *account_id, int64_t *balance_out,
                         int64_t *point_out);

/*
 * ledger.c: one balance change and its ledger entry (SPEC 3), inside the caller's write
 * transaction: takes the account's lock (account_lock), applies the guarded UPDATE and inserts
 * the history row. CASH_NOT_FOUND (no account), CASH_NOT_ENOUGH_BALANCE (a debit larger than the
 * balance), CASH_VALIDATION_ERROR (a credit that would overflow the balance, or text that does
 * not fit); *out is the entry written.
 */
struct ledger_change {
    const char *account_id;
    enum history_type type;
    int64_t balance_amount_won; /* signed, not 0 */
    const char *memo;           /* "" for none */
    const char *group_id;       /* "" for none */
    const char *history_id;
    int64_t now_ms;
};

cash_result ledger_apply(struct db_tx *tx, const struct ledger_change *change,
                         struct history_entry *out);
/* ledger.c: SPEC 3, 4: refund_won (domain's withdraw_refund_won) back to withdrawal's account as
 * a HISTORY_WITHDRAW_REFUND entry grouped under it, by ledger_apply; nothing for 0. A withdrawal
 * never loses its account: none is CASH_INTERNAL_ERROR. */
cash_result ledger_refund(struct db_tx *tx, const struct withdrawal *withdrawal, int64_t refund_won,
                          const char *history_id, int64_t now_ms);

/* verification.c: SPEC 5, finds and spends one use of the second factor inside the caller's
 * transaction, the verification row locked first (before any account or member lock), so that
 * across processes a use is spent once; CASH_SECOND_FACTOR_REQUIRED when none is usable.
 * *confirmed_ms_out: when the spent verification was confirmed. */
cash_result factor_spend(struct db_tx *tx, const struct second_factor *factor,
                         int64_t *confirmed_ms_out);

/* bank.c: the registered bank account inside the caller's transaction; CASH_NOT_FOUND if none. */
cash_result bank_read(struct db_tx *tx, const char *account_id, struct bank_account *out);

/*
 * request.c, what every write does the same with its struct store_request (store.h):
 * - store_request_valid: does the call with request (may be NULL) carry sane values?
 * - store_request_settle: after the run; run_result CASH_OK means it committed (replay row and
 *   key kept), anything else that nothing of it did, so no answer is left.
 * - request_fresh: result is CASH_OK and no kept answer was replayed: the write's outs are
 *   its own to fill.
 */
bool store_request_valid(const struct store_request *request);
void store_request_settle(struct store_request *request, cash_result run_result);
bool request_fresh(const struct store_request *request, cash_result result);

/*
 * request.c: a write of the API with its struct store_request (store.h), in one DB_WRITE run: the
 * replay row, the kept key's decision, body with context, then the key kept with the answer
 * rendered from *outcome (NULL: CASH_OK) and row, which body must have written when it returns
 * CASH_OK. With request NULL, only body. With request->replayed the caller must not read body's
 * outputs.
 */
cash_result request_run(struct store *store, struct store_request *request, db_body body,
                        void *context, const cash_result *outcome, const void *row);

/* The columns of a withdrawal, in the order withdraw_row_read() reads them; withdraw_id first. */
#define WITHDRAW_COLUMNS                                                                           \
    "withdraw_id, account_id, member_id, bank_code, sealed_number, masked_number, holder_name,"    \
    " status, is_processing, confirmed_count, memo, transaction_id, transaction_ms, amount, fee,"  \
    " total_amount, confirmed_ms, created_ms, updated_ms"

/* lifecycle.c: appends an event to a withdrawal's history in the caller's write transaction,
 * numbered after its last one (the caller holds the withdrawal row's lock, or its UPDATE took
 * it). from NULL: the creation. The actor is "KIND:NAME": "operator:NAME", "account:ID",
 * "member:ID" or "worker:OWNER". Every text is borrowed for the call. */
cash_result event_insert(struct db_tx *tx, const char *withdraw_id, const char *actor_kind,
                         const char *actor_name, const enum withdraw_status *from,
                         enum withdraw_status to, const char *memo, int64_t now_ms);

/* withdraw.c: reads stmt's current row of WITHDRAW_COLUMNS into a struct withdrawal at out
 * (a db_row_reader): CASH_OK, or CASH_INTERNAL_ERROR for a value out of range. */
cash_result withdraw_row_read(struct db_stmt *stmt, void *out);

#endif
