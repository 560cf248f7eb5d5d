/*
 * cashctl.h - what the two files of the operator command line share (SPEC 6): the parsed command
 * line, the resources a command opens, and the helpers that print results and errors.
 * cashctl.c parses and dispatches; cashctl_commands.c holds the commands that create records.
 */
#ifndef CASH_CASHCTL_H
#define CASH_CASHCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/config.h"
#include "common/crypto.h"
#include "common/result.h"
#include "store/store.h"
#include "wire/wire.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAILURE 1
#define CLI_EXIT_USAGE 2

#define CLI_WORDS_MAX 6
#define CLI_OPTIONS_MAX 8
#define CLI_WHY_BYTES_MAX 512

struct cli_option {
    const char *name; /* without the leading "--" */
    const char *value;
};

/* One invocation: parsed arguments, then the resources a command opened (released by main). */
struct cli {
    bool json;
    const char *db_flag;
    const char *key_file_flag;
    const char *words[CLI_WORDS_MAX]; /* the command, its subcommand and its positionals */
    size_t word_count;
    struct cli_option options[CLI_OPTIONS_MAX];
    size_t option_count;
    struct config config;
    struct store *store;    /* owned; closed by main */
    struct keyring keyring; /* wiped by main */
    bool help;              /* --help anywhere */
};

/* Prints "cashctl: <message>" on stderr; returns exit_code. */
int cli_fail(int exit_code, const char *format, ...) __attribute__((format(printf, 2, 3)));
/* A store failure as one line; CASH_NOT_FOUND names missing_what and missing_id when given. */
int cli_fail_store(cash_result result, const char *missing_what, const char *missing_id);
/* The value of --name, or NULL; borrowed from argv. */
const char *cli_option(const struct cli *cli, const char *name);
/* Prints value (stolen) as one line of JSON; exit code. */
int cli_print_json(json_t *value);
/* True for 14 digits. */
bool cli_is_account_id(const char *text);
/* True for 16 letters and digits. */
bool cli_is_api_key(const char *text);
/* Opens cli->store from the configured URL; exit code (the message is printed). */
int cli_open_store(struct cli *cli);
/* Loads cli->keyring from the configured key file; exit code (the message is printed). */
int cli_load_keyring(struct cli *cli);

/* The commands of cashctl_commands.c: each validates its arguments, acts, prints; exit code. */
int cli_run_account_create(struct cli *cli);
int cli_run_account_set(struct cli *cli);
int cli_run_member_add(struct cli *cli);
int cli_run_member_set(struct cli *cli);
int cli_run_member_totp(struct cli *cli);
int cli_run_api_key_create(struct cli *cli);
int cli_run_api_key_revoke(struct cli *cli);
int cli_run_balance_credit(struct cli *cli);
int cli_run_bank_set(struct cli *cli);
int cli_run_withdraw_list(struct cli *cli);
int cli_run_withdraw_confirm(struct cli *cli);
int cli_run_withdraw_reject(struct cli *cli);
int cli_run_withdraw_show(struct cli *cli);
int cli_run_withdraw_stuck(struct cli *cli);

#endif
