/*
 * store_audit.h - what `cashctl ledger verify` reads and how it reports (SPEC 3), the same for
 * every backend: the queries (portable SQL) and the problem counter. Each backend runs the queries
 * in one consistent read and checks the rows.
 */
#ifndef CASH_STORE_AUDIT_H
#define CASH_STORE_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"

extern const char STORE_AUDIT_SQL_ACCOUNTS[];
extern const char STORE_AUDIT_SQL_CHAIN[];
extern const char STORE_AUDIT_SQL_WITHDRAWALS[];
extern const char STORE_AUDIT_SQL_LIVE[];
extern const char STORE_AUDIT_SQL_ORPHANS[];

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
void audit_problem(struct audit *audit, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

#endif
