/*
 * pg_function.c - the PostgreSQL driver's one server-side function: a withdrawal request as
 * one statement, so one round trip and one autocommitted transaction (docs/postgres.md "One
 * round trip"; struct db_driver: withdraw_create_one). It does what the statements of withdraw.c
 * do, in the same order and with the same locks: the replay row, the second factor (locked, one use
 * spent), the account lock, the bank account, the cooling-off, the daily limit over live
 * withdrawals, the balance, then the guarded debit with its ledger entry and withdrawal row, and
 * the creation event. A refusal is raised with SQLSTATE CW001 and caught by the function's own
 * exception block, which rolls back everything the function wrote (a subtransaction) and returns
 * the refusal's errorCode (common/result.h); any other error (a used withdraw or history id, 40001,
 * 40P01) leaves the statement as it would leave a multi-statement transaction.
 *
 * The function is VOLATILE (the default): each statement in it takes a snapshot of its own, as
 * the statements of a READ COMMITTED transaction do, so the daily total summed under the
 * account's lock counts every withdrawal committed before it.
 *
 * The function is not part of the schema versions of schema.c (their text is shared with
 * SQLite): store_migrate installs it after them, on every run, unless the very same text is in
 * place already. Its name carries a version: a change of its text or of its parameters is a new
 * name, so that processes of the old and the new program can serve one database side by side
 * during an upgrade. An engine that refuses the function (no PL/pgSQL, or not these parts of
 * it) keeps the multi-statement transaction for every withdrawal.
 */
#include <stdatomic.h>
#include <string.h>

#include "common/log.h"
#include "store/pg_internal.h"

#define WITHDRAW_FUNCTION_NAME SQL_WITHDRAW_FUNCTION_NAME
/* The argument types, as to_regprocedure() names the function. */
#define WITHDRAW_FUNCTION_TYPES                                                                    \
    "(text, text, bigint, bigint, text, text, bigint, bigint, bigint, text, text, text, bigint,"   \
    " bigint, bigint, bigint, text, bigint, bigint, bigint)"

/*
 * The body, kept apart so that the installed text (pg_proc.prosrc) can be compared with it.
 * The names of parameters and variables differ from every column name (PL/pgSQL would refuse
 * the ambiguity). The rules of domain/verification.h (verification_usable) and of
 * domain/abuse.h (bank_cooling_off_active) are written out in SQL here, as the multi-statement
 * path applies them in C; so is the arithmetic of domain/money.h (money_daily_limit_exceeded:
 * the DailyLimitExceeded test), domain/ledger.h (ledger_step_compute: NotEnoughBalance and the
 * guarded debit; ledger_step_matches: the check of what the debit returned) and
 * domain/withdraw_state.h (withdraw_build: the row inserted, confirmed_ms cut to whole
 * seconds). tests/unit/store/test_store_pg_fast.c holds the two paths to the same answers.
 */
#define WITHDRAW_FUNCTION_BODY                                                                     \
    "\n"                                                                                           \
    "DECLARE\n"                                                                                    \
    "    named record;\n"                                                                          \
    "    candidate record;\n"                                                                      \
    "    spent_id text;\n"                                                                         \
    "    bank record;\n"                                                                           \
    "    locked_balance bigint;\n"                                                                 \
    "    day_total numeric;\n"                                                                     \
    "    debit_old_balance bigint;\n"                                                              \
    "    debit_new_balance bigint;\n"                                                              \
    "    entry_count bigint;\n"                                                                    \
    "    withdrawal_count bigint;\n"                                                               \
    "BEGIN\n"                                                                                      \
    "    outcome := 'OK';\n"                                                                       \
    "    -- SPEC 1: the signature's replay row; a live one is a replay.\n"                         \
    "    IF replay_signature IS NOT NULL THEN\n"                                                   \
    "        INSERT INTO used_signatures AS used (api_key, signature, expires_ms)\n"               \
    "        VALUES (replay_api_key, replay_signature, replay_expires_ms)\n"                       \
    "        ON CONFLICT (api_key, signature) DO UPDATE SET expires_ms = excluded.expires_ms\n"    \
    "        WHERE used.expires_ms <= replay_now_ms;\n"                                            \
    "        IF NOT FOUND THEN\n"                                                                  \
    "            RAISE SQLSTATE 'CW001' USING MESSAGE = 'DuplicatedSignature';\n"                  \
    "        END IF;\n"                                                                            \
    "    END IF;\n"                                                                                \
    "\n"                                                                                           \
    "    -- SPEC 5: the named verification, or the member's oldest usable one, locked.\n"          \
    "    IF factor_member_id IS NULL OR factor_uses_max < 1 OR factor_window_ms < 0 THEN\n"        \
    "        RAISE SQLSTATE 'CW001' USING MESSAGE = 'SecondFactorRequired';\n"                     \
    "    END IF;\n"                                                                                \
    "    IF factor_verification_id IS NOT NULL THEN\n"                                             \
    "        SELECT v.verification_id, v.member_id, v.status, v.uses, v.confirmed_ms INTO named\n" \
    "        FROM verifications v WHERE v.verification_id = factor_verification_id FOR UPDATE;\n"  \
    "        IF FOUND AND named.status = 'CONFIRMED' AND named.confirmed_ms > 0\n"                 \
    "           AND named.member_id = factor_member_id\n"                                          \
    "           AND factor_now_ms - named.confirmed_ms <= factor_window_ms\n"                      \
    "           AND named.uses < factor_uses_max THEN\n"                                           \
    "            spent_id := named.verification_id;\n"                                             \
    "            factor_confirmed_ms := named.confirmed_ms;\n"                                     \
    "        END IF;\n"                                                                            \
    "    ELSE\n"                                                                                   \
    "        -- Every candidate is locked; the first to run out of time that is usable wins.\n"    \
    "        FOR candidate IN SELECT v.verification_id, v.confirmed_ms FROM verifications v\n"     \
    "            WHERE v.member_id = factor_member_id AND v.status = 'CONFIRMED'\n"                \
    "            AND v.confirmed_ms >= factor_now_ms - factor_window_ms\n"                         \
    "            AND v.uses < factor_uses_max\n"                                                   \
    "            ORDER BY v.confirmed_ms, v.verification_id FOR UPDATE\n"                          \
    "        LOOP\n"                                                                               \
    "            IF spent_id IS NULL AND candidate.confirmed_ms > 0 THEN\n"                        \
    "                spent_id := candidate.verification_id;\n"                                     \
    "                factor_confirmed_ms := candidate.confirmed_ms;\n"                             \
    "            END IF;\n"                                                                        \
    "        END LOOP;\n"                                                                          \
    "    END IF;\n"                                                                                \
    "    IF spent_id IS NULL THEN\n"                                                               \
    "        RAISE SQLSTATE 'CW001' USING MESSAGE = 'SecondFactorRequired';\n"                     \
    "    END IF;\n"                                                                                \
    "    UPDATE verifications SET uses = uses + 1\n"                                               \
    "    WHERE uses < factor_uses_max AND verification_id = spent_id AND status = 'CONFIRMED';\n"  \
    "    IF NOT FOUND THEN\n"                                                                      \
    "        RAISE EXCEPTION 'spending a locked, usable verification changed no row';\n"           \
    "    END IF;\n"                                                                                \
    "\n"                                                                                           \
    "    -- The account's lock: its money transactions follow one another from here on.\n"         \
    "    -- No account: no bank account either, refused next.\n"                                   \
    "    SELECT a.balance INTO locked_balance FROM accounts a\n"                                   \
    "    WHERE a.account_id = request_account_id FOR NO KEY UPDATE;\n"                             \
    "    SELECT b.bank_code, b.sealed_number, b.masked_number, b.holder_name, b.updated_ms,\n"     \
    "           b.operator_verified INTO bank\n"                                                   \
    "    FROM bank_accounts b WHERE b.account_id = request_account_id;\n"                          \
    "    IF NOT FOUND THEN\n"                                                                      \
    "        RAISE SQLSTATE 'CW001' USING MESSAGE = 'BankAccountNotRegistered';\n"                 \
    "    END IF;\n"                                                                                \
    "    -- SPEC 5: an account set through the API waits; the operator's does not.\n"              \
    "    IF request_cooling_off_ms > 0 AND bank.operator_verified = 0\n"                           \
    "       AND request_created_ms < bank.updated_ms + request_cooling_off_ms THEN\n"              \
    "        RAISE SQLSTATE 'CW001' USING MESSAGE = 'BankAccountCoolingOff';\n"                    \
    "    END IF;\n"                                                                                \
    "    -- SPEC 3: live withdrawals since the day began, plus this one, within the limit.\n"      \
    "    SELECT COALESCE(SUM(w.total_amount), 0) INTO day_total FROM withdrawals w\n"              \
    "    WHERE w.account_id = request_account_id AND w.created_ms >= request_day_start_ms\n"       \
    "    AND w.status IN ('PENDING', 'CONFIRMED', 'COMPLETED');\n"                                 \
    "    IF request_total > request_daily_limit\n"                                                 \
    "       OR day_total > request_daily_limit - request_total THEN\n"                             \
    "        RAISE SQLSTATE 'CW001' USING MESSAGE = 'DailyLimitExceeded';\n"                       \
    "    END IF;\n"                                                                                \
    "    IF locked_balance < request_total THEN\n"                                                 \
    "        RAISE SQLSTATE 'CW001' USING MESSAGE = 'NotEnoughBalance';\n"                         \
    "    END IF;\n"                                                                                \
    "\n"                                                                                           \
    "    -- The guarded debit, its ledger entry and the withdrawal, or none of them.\n"            \
    "    WITH debit AS (\n"                                                                        \
    "        UPDATE accounts SET balance = balance - request_total,\n"                             \
    "            updated_ms = request_created_ms\n"                                                \
    "        WHERE account_id = request_account_id AND balance >= request_total\n"                 \
    "        RETURNING balance + request_total AS old_balance, balance AS new_balance, point),\n"  \
    "    entry AS (\n"                                                                             \
    "        INSERT INTO balance_history (history_id, account_id, entry_seq, type,\n"              \
    "            balance_amount, point_amount, old_balance, new_balance, old_point, new_point,\n"  \
    "            memo, group_id, created_ms)\n"                                                    \
    "        SELECT request_history_id, request_account_id,\n"                                     \
    "            (SELECT COALESCE(MAX(h.entry_seq), 0) + 1 FROM balance_history h\n"               \
    "             WHERE h.account_id = request_account_id),\n"                                     \
    "            'WITHDRAW', -request_total, 0, d.old_balance, d.new_balance, d.point, d.point,\n" \
    "            '', request_withdraw_id, request_created_ms\n"                                    \
    "        FROM debit d RETURNING history_id),\n"                                                \
    "    inserted AS (\n"                                                                          \
    "        INSERT INTO withdrawals (withdraw_id, account_id, member_id, bank_code,\n"            \
    "            sealed_number, masked_number, holder_name, status, is_processing,\n"              \
    "            confirmed_count, memo, transaction_id, transaction_ms, amount, fee,\n"            \
    "            total_amount, confirmed_ms, created_ms, updated_ms)\n"                            \
    "        SELECT request_withdraw_id, request_account_id, request_member_id, bank.bank_code,\n" \
    "            bank.sealed_number, bank.masked_number, bank.holder_name, 'PENDING', 0, 0, '',\n" \
    "            '', 0, request_amount, request_fee, request_total,\n"                             \
    "            factor_confirmed_ms - factor_confirmed_ms % 1000, request_created_ms,\n"          \
    "            request_created_ms\n"                                                             \
    "        FROM debit RETURNING withdraw_id)\n"                                                  \
    "    SELECT d.old_balance, d.new_balance, (SELECT COUNT(*) FROM entry),\n"                     \
    "        (SELECT COUNT(*) FROM inserted)\n"                                                    \
    "    INTO debit_old_balance, debit_new_balance, entry_count, withdrawal_count\n"               \
    "    FROM debit d;\n"                                                                          \
    "    IF NOT FOUND THEN\n"                                                                      \
    "        RAISE SQLSTATE 'CW001' USING MESSAGE = 'NotEnoughBalance';\n"                         \
    "    END IF;\n"                                                                                \
    "    IF debit_old_balance <> locked_balance\n"                                                 \
    "       OR debit_new_balance <> debit_old_balance - request_total\n"                           \
    "       OR debit_new_balance < 0 OR entry_count <> 1 OR withdrawal_count <> 1 THEN\n"          \
    "        RAISE EXCEPTION 'the balance changed under the account''s lock';\n"                   \
    "    END IF;\n"                                                                                \
    "\n"                                                                                           \
    "    INSERT INTO withdrawal_events (withdraw_id, seq, actor, from_status, to_status, memo,\n"  \
    "        created_ms)\n"                                                                        \
    "    SELECT request_withdraw_id, COALESCE(MAX(e.seq), 0) + 1,\n"                               \
    "        'member:' || request_member_id, '', 'PENDING', '', request_created_ms\n"              \
    "    FROM withdrawal_events e WHERE e.withdraw_id = request_withdraw_id;\n"                    \
    "\n"                                                                                           \
    "    bank_code_copied := bank.bank_code;\n"                                                    \
    "    sealed_number_copied := bank.sealed_number;\n"                                            \
    "    masked_number_copied := bank.masked_number;\n"                                            \
    "    holder_name_copied := bank.holder_name;\n"                                                \
    "EXCEPTION WHEN SQLSTATE 'CW001' THEN\n"                                                       \
    "    -- A refusal: what the block wrote is rolled back; the answer is its errorCode.\n"        \
    "    outcome := SQLERRM;\n"                                                                    \
    "    factor_confirmed_ms := NULL;\n"                                                           \
    "END\n"

static const char SQL_WITHDRAW_FUNCTION_CREATE[] =
    "CREATE OR REPLACE FUNCTION " WITHDRAW_FUNCTION_NAME "(\n"
    "    replay_api_key text, replay_signature text, replay_now_ms bigint,\n"
    "    replay_expires_ms bigint,\n"
    "    factor_member_id text, factor_verification_id text, factor_now_ms bigint,\n"
    "    factor_window_ms bigint, factor_uses_max bigint,\n"
    "    request_withdraw_id text, request_account_id text, request_member_id text,\n"
    "    request_amount bigint, request_fee bigint, request_total bigint,\n"
    "    request_created_ms bigint, request_history_id text, request_day_start_ms bigint,\n"
    "    request_daily_limit bigint, request_cooling_off_ms bigint,\n"
    "    OUT outcome text, OUT factor_confirmed_ms bigint, OUT bank_code_copied text,\n"
    "    OUT sealed_number_copied text, OUT masked_number_copied text,\n"
    "    OUT holder_name_copied text)\n"
    "LANGUAGE plpgsql AS $cashd$" WITHDRAW_FUNCTION_BODY "$cashd$";

/* Installers of several processes follow one another on the newest schema_version row's lock;
 * the second then finds the first's function in place and leaves it (two CREATE OR REPLACE of
 * one function at once fail with "tuple concurrently updated"). */
static const char SQL_INSTALL_LOCK[] =
    "SELECT version FROM schema_version ORDER BY version DESC LIMIT 1 FOR UPDATE";
static const char SQL_INSTALLED[] = "SELECT COUNT(*) FROM pg_catalog.pg_proc"
                                    " WHERE oid = to_regprocedure($1) AND prosrc = $2";

/* The refusals the function answers with, by errorCode. */
static const cash_result withdraw_function_outcomes[] = {
    CASH_OK,
    CASH_DUPLICATED_SIGNATURE,
    CASH_SECOND_FACTOR_REQUIRED,
    CASH_BANK_ACCOUNT_NOT_REGISTERED,
    CASH_BANK_ACCOUNT_COOLING_OFF,
    CASH_DAILY_LIMIT_EXCEEDED,
    CASH_NOT_ENOUGH_BALANCE,
};

/* ---- installing ---- */
static cash_result function_install_body(struct db_tx *tx, void *context)
{
    (void)context;
    int64_t version = 0;
    int64_t installed = 0;
    struct db_stmt *stmt = db_statement_text(tx, SQL_INSTALL_LOCK);
    cash_result result = db_step_int64(stmt, "function install", &version);
    if (result != CASH_OK) {
        return result;
    }
    stmt = db_statement_text(tx, SQL_INSTALLED);
    db_bind_text(stmt, WITHDRAW_FUNCTION_NAME WITHDRAW_FUNCTION_TYPES);
    db_bind_text(stmt, WITHDRAW_FUNCTION_BODY);
    result = db_step_int64(stmt, "function install", &installed);
    if (result != CASH_OK || installed == 1) {
        return result;
    }
    return db_exec_simple(tx, SQL_WITHDRAW_FUNCTION_CREATE);
}

/* Installs the one-statement withdrawal after the migrations (pg_internal.h). */
cash_result pg_function_install(struct store *store)
{
    cash_result result = db_run(store, DB_WRITE, function_install_body, NULL);
    atomic_store(&pg_store_of(store)->withdraw_function, result == CASH_OK);
    if (result == CASH_SERVICE_UNAVAILABLE) {
        return result; /* the server is away: so is everything else */
    }
    if (result != CASH_OK) {
        log_warn("store: the server refused the function " WITHDRAW_FUNCTION_NAME
                 ": withdrawals run as transactions of several statements");
    }
    return CASH_OK;
}

/* ---- calling ---- */
static void withdraw_function_bind(struct db_stmt *stmt, const struct withdraw_create *create,
                                   const struct store_request *request)
{
    const struct second_factor *factor = create->factor;
    const struct withdrawal *w = &create->withdrawal;
    bool replay = request != NULL && request->signature_hex != NULL;
    db_bind_text(stmt, replay ? request->api_key : NULL);
    db_bind_text(stmt, replay ? request->signature_hex : NULL);
    db_bind_int64(stmt, replay ? request->now_ms : 0);
    db_bind_int64(stmt, replay ? request->replay_expires_ms : 0);
    db_bind_text(stmt, factor->member_id); /* NULL: refused as no factor */
    db_bind_text(stmt, factor->verification_id);
    db_bind_int64(stmt, factor->now_ms);
    db_bind_int64(stmt, factor->window_ms);
    db_bind_int64(stmt, factor->uses_max);
    db_bind_text(stmt, w->withdraw_id);
    db_bind_text(stmt, w->account_id);
    db_bind_text(stmt, w->member_id);
    db_bind_int64(stmt, w->amount_won);
    db_bind_int64(stmt, w->fee_won);
    db_bind_int64(stmt, w->total_amount_won);
    db_bind_int64(stmt, w->created_ms);
    db_bind_text(stmt, create->history_id);
    db_bind_int64(stmt, create->day_start_ms);
    db_bind_int64(stmt, create->daily_limit_won);
    db_bind_int64(stmt, create->bank_cooling_off_ms);
}

/* The result the function's outcome names; CASH_INTERNAL_ERROR for a name it never answers. */
static cash_result withdraw_function_outcome(const char *outcome)
{
    size_t count = sizeof(withdraw_function_outcomes) / sizeof(withdraw_function_outcomes[0]);
    for (size_t i = 0; i < count; i++) {
        if (strcmp(result_error_code(withdraw_function_outcomes[i]), outcome) == 0) {
            return withdraw_function_outcomes[i];
        }
    }
    log_error("store: " WITHDRAW_FUNCTION_NAME " answered an unknown outcome");
    return CASH_INTERNAL_ERROR;
}

/* The rest of a committed withdrawal's row: when the factor was confirmed, the bank account. */
static cash_result withdraw_function_row(struct db_row *row, struct bank_account *bank_out,
                                         int64_t *confirmed_ms_out)
{
    memset(bank_out, 0, sizeof(*bank_out));
    int64_t confirmed_ms = db_row_int64(row);
    db_row_text(row, bank_out->bank_code, sizeof(bank_out->bank_code));
    db_row_text(row, bank_out->sealed_number, sizeof(bank_out->sealed_number));
    db_row_text(row, bank_out->masked_number, sizeof(bank_out->masked_number));
    db_row_text(row, bank_out->holder_name, sizeof(bank_out->holder_name));
    if (confirmed_ms <= 0) {
        row->ok = false;
    }
    cash_result result = db_row_check(row, WITHDRAW_FUNCTION_NAME);
    if (result == CASH_OK) {
        *confirmed_ms_out = confirmed_ms;
    }
    return result;
}

struct withdraw_one {
    const struct withdraw_create *create;
    const struct store_request *request;
    struct bank_account bank;
    int64_t confirmed_ms;
};

/* A withdrawal request as the one statement (SQL_WITHDRAW_FUNCTION_CALL). */
static cash_result withdraw_one_body(struct db_tx *tx, void *pointer)
{
    struct withdraw_one *call = pointer;
    struct db_stmt *stmt = db_statement(tx, SQL_WITHDRAW_FUNCTION_CALL);
    withdraw_function_bind(stmt, call->create, call->request);
    cash_result result = db_step(stmt);
    if (result != CASH_OK) {
        if (result == CASH_NOT_FOUND) {
            log_error("store: " WITHDRAW_FUNCTION_NAME " answered no outcome");
            result = CASH_INTERNAL_ERROR;
        }
        return result;
    }
    struct db_row row;
    db_row_start(&row, stmt);
    const char *outcome = db_row_text_view(&row);
    result = row.ok ? withdraw_function_outcome(outcome) : CASH_INTERNAL_ERROR;
    if (result == CASH_OK) {
        result = withdraw_function_row(&row, &call->bank, &call->confirmed_ms);
    }
    return result;
}

/* The driver's one-statement withdrawal (db.h: withdraw_create_one): taken while the function is
 * in place; run again on 40001/40P01 only, as one statement; the request's outs settled as
 * request_run settles them. */
cash_result pg_withdraw_create_one(struct store *base, struct withdraw_create *create,
                                   struct store_request *request, struct bank_account *bank_out,
                                   int64_t *confirmed_ms_out, bool *taken)
{
    struct pg_store *store = pg_store_of(base);
    *taken = atomic_load(&store->withdraw_function);
    if (!*taken) {
        return CASH_OK;
    }
    struct withdraw_one call = {.create = create, .request = request};
    store_request_clear(request);
    cash_result result = db_run(base, DB_WRITE_ONE, withdraw_one_body, &call);
    if (request != NULL) {
        store_request_settle(request, result);
    }
    if (result == CASH_OK) {
        *bank_out = call.bank;
        *confirmed_ms_out = call.confirmed_ms;
    }
    return result;
}
