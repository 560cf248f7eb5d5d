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
    int64_t threads;                           /* CASHD_THREADS; HTTP_THREADS_DEFAULT */
    int64_t log_level;                         /* CASHD_LOG_LEVEL: debug, info, warn, error */
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
