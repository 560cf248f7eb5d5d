/*
 * query.h - list filters for withdrawals and ledger history, parsed from query parameters
 * (SPEC 2). Pure: no HTTP, no SQL. The store turns a parsed query into bound SQL.
 */
#ifndef CASH_QUERY_H
#define CASH_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"
#include "common/result.h"
#include "domain/types.h"

/* One decoded query parameter, borrowed from the caller. */
struct query_param {
    const char *key;
    const char *value;
};

enum query_op { QUERY_EQ, QUERY_NE, QUERY_GT, QUERY_GTE, QUERY_LT, QUERY_LTE, QUERY_LIKE };

enum withdraw_field {
    WITHDRAW_FIELD_WITHDRAW_ID,  /* text: 32 digits */
    WITHDRAW_FIELD_STATUS,       /* text: a status name */
    WITHDRAW_FIELD_AMOUNT,       /* number, won */
    WITHDRAW_FIELD_FEE,          /* number, won */
    WITHDRAW_FIELD_TOTAL_AMOUNT, /* number, won */
    WITHDRAW_FIELD_DATE_CREATED, /* number, ms since epoch (ISO 8601 in the query) */
    WITHDRAW_FIELD_DATE_UPDATED, /* number, ms since epoch */
    WITHDRAW_FIELD_BANK_CODE,    /* text */
    WITHDRAW_FIELD_HOLDER_NAME,  /* text; [like] matches a substring */
};

struct withdraw_condition {
    enum withdraw_field field;
    enum query_op op;
    bool is_text;
    int64_t number;
    char text[HOLDER_NAME_BYTES_MAX + 1];
};

struct withdraw_query {
    char account_id[ACCOUNT_ID_LENGTH + 1]; /* "" means every account (operator only) */
    struct withdraw_condition conditions[LIST_CONDITIONS_MAX];
    size_t condition_count;
    char start_key[WITHDRAW_ID_LENGTH + 1]; /* "" or the first withdrawId of the page, inclusive */
    size_t limit;                           /* 1..LIST_LIMIT_MAX */
    /* overdue=true: only withdrawals processing since before processing_started_before_ms,
     * which the caller sets from its clock and CASHD_PAYOUT_OVERDUE_SECONDS */
    bool overdue;
    int64_t processing_started_before_ms;
};

struct history_query {
    char account_id[ACCOUNT_ID_LENGTH + 1];
    int64_t offset;   /* entries to skip, newest first */
    size_t limit;     /* 1..LIST_LIMIT_MAX */
    int64_t start_ms; /* dateCreated >= start_ms; 0 for no bound */
    int64_t end_ms;   /* dateCreated <= end_ms; 0 for no bound */
    bool has_type;
    enum history_type type;
};

/*
 * Parses the query parameters of GET /cash/v1/withdraw: withdrawId, status, startDate, endDate,
 * limit, startKey, overdue (true or false), and field[op]=value for the fields above. Unknown or repeated parameters and
 * bad values give CASH_VALIDATION_ERROR with a message naming the parameter in `why`.
 * The caller sets out->account_id afterwards.
 */
cash_result withdraw_query_parse(const struct query_param *params, size_t param_count,
                                 struct withdraw_query *out, char *why, size_t why_size);

/* Parses GET /cash/v1/balance/history parameters: offset, limit, startDate, endDate, type. */
cash_result history_query_parse(const struct query_param *params, size_t param_count,
                                struct history_query *out, char *why, size_t why_size);

#endif
