/*
 * config.h - every setting of cashd (SPEC 7): a default that works on a laptop, an environment
 * variable, and a command-line flag. Flags win over the environment.
 */
#ifndef CASH_CONFIG_H
#define CASH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"

#define CONFIG_TEXT_BYTES_MAX 1024

struct config {
    char db_url[CONFIG_TEXT_BYTES_MAX];        /* CASHD_DB, --db; "sqlite:cashd.db" */
    char listen[CONFIG_TEXT_BYTES_MAX];        /* CASHD_LISTEN, --listen; "127.0.0.1:8080" */
    char data_key_file[CONFIG_TEXT_BYTES_MAX]; /* CASHD_DATA_KEY_FILE; "cashd.key" beside the SQLite file */
    char mail[CONFIG_TEXT_BYTES_MAX];          /* CASHD_MAIL; "console" */
    char mail_from[CONFIG_TEXT_BYTES_MAX];     /* CASHD_MAIL_FROM */
    char ars_url[CONFIG_TEXT_BYTES_MAX];       /* CASHD_ARS_URL; "console" */
    char ars_secret[CONFIG_TEXT_BYTES_MAX];    /* CASHD_ARS_SECRET */
    char bank_url[CONFIG_TEXT_BYTES_MAX];      /* CASHD_BANK_URL; "" = no automatic payout */
    char bank_secret[CONFIG_TEXT_BYTES_MAX];   /* CASHD_BANK_SECRET */
    int64_t fee_rate_bp;                       /* CASHD_FEE_RATE_BP; 500 */
    int64_t fee_fixed_won;                     /* CASHD_FEE_FIXED; 500 */
    int64_t withdraw_min_won;                  /* CASHD_MIN_WITHDRAW; 1,000 */
    int64_t withdraw_max_won;                  /* CASHD_MAX_WITHDRAW; 50,000,000 */
    int64_t daily_limit_won;                   /* CASHD_DAILY_LIMIT; 100,000,000 */
    int64_t dual_confirm_at_won;               /* CASHD_DUAL_CONFIRM_AT; 10,000,000 */
    int64_t verification_max_uses;             /* CASHD_VERIFICATION_MAX_USES; 1 */
    int64_t verification_window_seconds;       /* CASHD_VERIFICATION_WINDOW_SECONDS; 300 */
    /* Second factor delivery and abuse limits (SPEC 5, docs/API.md "Abuse limits") */
    char mail_user[CONFIG_TEXT_BYTES_MAX];     /* CASHD_MAIL_USER; "" = no SMTP AUTH */
    char mail_password[CONFIG_TEXT_BYTES_MAX]; /* CASHD_MAIL_PASSWORD */
    char mail_ca_file[CONFIG_TEXT_BYTES_MAX];  /* CASHD_MAIL_CA_FILE; "" = the system's CAs */
    int64_t mail_timeout_seconds;              /* CASHD_MAIL_TIMEOUT_SECONDS; 10 */
    int64_t ars_timeout_seconds;               /* CASHD_ARS_TIMEOUT_SECONDS; 10 */
    int64_t verification_member_limit;         /* CASHD_VERIFICATION_MEMBER_LIMIT; 5 */
    int64_t verification_member_window_seconds;  /* ...MEMBER_WINDOW_SECONDS; 3600 */
    int64_t verification_account_limit;        /* CASHD_VERIFICATION_ACCOUNT_LIMIT; 50 */
    int64_t verification_account_window_seconds; /* ...ACCOUNT_WINDOW_SECONDS; 86400 */
    int64_t member_failures_max;               /* CASHD_MEMBER_FAILURES_MAX; 20 */
    int64_t member_lock_seconds;               /* CASHD_MEMBER_LOCK_SECONDS; 900 */
    int64_t bank_cooling_off_hours;            /* CASHD_BANK_COOLING_OFF_HOURS; 24, 0 = none */
    int64_t threads;                           /* CASHD_THREADS; HTTP_THREADS_DEFAULT */
    int64_t log_level;                         /* CASHD_LOG_LEVEL: debug, info, warn, error */
    int64_t db_pool;                           /* CASHD_DB_POOL; DB_POOL_DEFAULT connections */
    int64_t unsafe_allow_data_loss;            /* CASHD_UNSAFE_ALLOW_DATA_LOSS; 0 (SPEC 7) */
    int64_t bank_timeout_seconds;              /* CASHD_BANK_TIMEOUT_SECONDS; 10 */
    int64_t payout_lease_seconds;              /* CASHD_PAYOUT_LEASE_SECONDS; 60 */
    int64_t payout_poll_ms;                    /* CASHD_PAYOUT_POLL_MS; 1000 */
    int64_t payout_overdue_seconds;            /* CASHD_PAYOUT_OVERDUE_SECONDS; 3600 */
};

/* Fills config with the defaults. */
void config_defaults(struct config *config);

enum config_outcome { CONFIG_OK, CONFIG_HELP, CONFIG_ERROR };

/*
 * Applies the environment, then argv (flags "--name VALUE" or "--name=VALUE"; see config_usage).
 * CONFIG_HELP if --help was given; CONFIG_ERROR with a one-line reason in why for an unknown
 * flag or a value out of range. Derives data_key_file from a sqlite db_url when it is not set.
 */
enum config_outcome config_load(struct config *config, int argc, char **argv, char *why,
                                size_t why_size);

/* The text of `cashd --help`. */
const char *config_usage(void);

#endif
