/*
 * cashctl.c - the operator command line of cashd (SPEC 6). It works on the same database as the
 * server, through the same store, domain and auth code: no second copy of a rule.
 *
 * This file parses the command line, loads the settings and runs one command; the commands that
 * create records live in cashctl_commands.c.
 * Output: what a command creates goes to stdout, one id per line (or one JSON value with --json).
 * Errors: one line "cashctl: <message>" on stderr; exit 2 for a usage error, 1 for a failure.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "auth/auth.h"
#include "cashctl.h"
#include "common/ids.h"
#include "common/limits.h"
#include "common/timeutil.h"
#include "domain/query.h"

#define CLI_SECRET_BYTES_MAX 256
#define CLI_SALT_BYTES_DEFAULT 32

static const char cli_alphanumeric[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

static const char cli_usage_text[] =
    "usage: cashctl [--db URL] [--data-key-file PATH] [--json] COMMAND ...\n"
    "\n"
    "  init                                             create or migrate the schema\n"
    "  account create [--status S] [--verified personal|business|none]\n"
    "  account set ACCOUNT_ID [--status S] [--verified T] [--auto-recharge on|off]\n"
    "  member add ACCOUNT_ID --email E --phone P [--role R] [--status S]\n"
    "  member set MEMBER_ID [--role R] [--status S]\n"
    "  member totp MEMBER_ID                            enrol an app; prints its otpauth URI\n"
    "  apikey create MEMBER_ID [--scopes cash:read,cash:write]\n"
    "  apikey revoke API_KEY\n"
    "  balance credit ACCOUNT_ID AMOUNT [--memo TEXT]\n"
    "  bank set ACCOUNT_ID --bank-code C --number N --holder NAME\n"
    "  withdraw list [--status S] [--account ACCOUNT_ID]\n"
    "  withdraw confirm WITHDRAW_ID --operator NAME     one operator's approval\n"
    "  withdraw reject WITHDRAW_ID --memo TEXT [--operator NAME]   refunds the total\n"
    "  withdraw show WITHDRAW_ID                        the withdrawal and its history\n"
    "  withdraw stuck [--seconds N]                     processing longer than N seconds\n"
    "  ledger verify                                    exit 0 only if every invariant holds\n"
    "  sign --key K --secret S [--method HMAC-SHA256|HMAC-MD5] [--date D] [--salt S]\n"
    "\n"
    "Account statuses: ACTIVE INACTIVE DELETED. Member roles: OWNER DEVELOPER MEMBER.\n"
    "Member statuses: UNVERIFIED ACTIVE INACTIVE DELETED.\n"
    "The database is --db, else CASHD_DB, else sqlite:cashd.db; the data key file is\n"
    "--data-key-file, else CASHD_DATA_KEY_FILE, else cashd.key beside the SQLite file.\n";

struct cli_command {
    const char *name;     /* "account create" */
    size_t word_count;    /* words of the name plus positionals */
    const char *allowed;  /* "|status|verified|": the options it takes */
    const char *required; /* "|email|phone|": the options it needs */
    int (*run)(struct cli *cli);
};

/* Prints "cashctl: <message>" on stderr and returns exit_code. */
int cli_fail(int exit_code, const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    fputs("cashctl: ", stderr);
    vfprintf(stderr, format, arguments);
    fputc('\n', stderr);
    va_end(arguments);
    return exit_code;
}

/* A store failure as one line: the caller names what was not found. */
int cli_fail_store(cash_result result, const char *missing_what, const char *missing_id)
{
    if (result == CASH_NOT_FOUND && missing_what != NULL) {
        return cli_fail(CLI_EXIT_FAILURE, "no %s %s", missing_what, missing_id);
    }
    if (result == CASH_INTERNAL_ERROR) {
        return cli_fail(CLI_EXIT_FAILURE, "%s (has `cashctl init` been run on this database?)",
                        result_message(result));
    }
    return cli_fail(CLI_EXIT_FAILURE, "%s", result_message(result));
}

/* The value of --name, or NULL. */
const char *cli_option(const struct cli *cli, const char *name)
{
    for (size_t i = 0; i < cli->option_count; i++) {
        if (strcmp(cli->options[i].name, name) == 0) {
            return cli->options[i].value;
        }
    }
    return NULL;
}

/* True if "|name|" occurs in list. */
static bool cli_name_listed(const char *list, const char *name)
{
    size_t name_length = strlen(name);
    const char *at = strstr(list, name);
    while (at != NULL) {
        if (at > list && at[-1] == '|' && at[name_length] == '|') {
            return true;
        }
        at = strstr(at + 1, name);
    }
    return false;
}

/* Prints value (stolen) as one line of JSON. */
int cli_print_json(json_t *value)
{
    if (value == NULL) {
        return cli_fail(CLI_EXIT_FAILURE, "out of memory");
    }
    char *text = json_dumps(value, JSON_ENCODE_ANY);
    json_decref(value);
    if (text == NULL) {
        return cli_fail(CLI_EXIT_FAILURE, "out of memory");
    }
    puts(text);
    free(text);
    return CLI_EXIT_OK;
}

/* ---- argument checks ---- */

bool cli_is_account_id(const char *text)
{
    return strlen(text) == ACCOUNT_ID_LENGTH && id_is_digits(text, ACCOUNT_ID_LENGTH);
}

/* True for exactly 16 letters and digits. */
bool cli_is_api_key(const char *text)
{
    size_t length = strlen(text);
    return length == AUTH_API_KEY_LENGTH && strspn(text, cli_alphanumeric) == length;
}

/* ---- resources ---- */

int cli_open_store(struct cli *cli)
{
    char why[CLI_WHY_BYTES_MAX] = "";
    cash_result result = store_open(cli->config.db_url, &cli->store, why, sizeof why);
    if (result != CASH_OK) {
        cli->store = NULL;
        /* Not the URL itself: a PostgreSQL URL may carry a password. */
        return cli_fail(CLI_EXIT_FAILURE, "cannot open the database: %s",
                        why[0] != '\0' ? why : result_message(result));
    }
    return CLI_EXIT_OK;
}

/* Loads the configured data key into cli->keyring; prints why not. */
int cli_load_keyring(struct cli *cli)
{
    char why[CLI_WHY_BYTES_MAX] = "";
    if (!keyring_load(cli->config.data_key_file, &cli->keyring, why, sizeof why)) {
        return cli_fail(CLI_EXIT_FAILURE, "cannot load the data key %s: %s",
                        cli->config.data_key_file, why);
    }
    return CLI_EXIT_OK;
}

/* ---- init ---- */

static int cli_run_init(struct cli *cli)
{
    char why[CLI_WHY_BYTES_MAX] = "";
    bool created = false;
    if (!keyring_create_if_missing(cli->config.data_key_file, &created, why, sizeof why)) {
        return cli_fail(CLI_EXIT_FAILURE, "cannot create the data key %s: %s",
                        cli->config.data_key_file, why);
    }
    int exit_code = cli_load_keyring(cli); /* an unusable existing key is reported now */
    if (exit_code != CLI_EXIT_OK) {
        return exit_code;
    }
    exit_code = cli_open_store(cli);
    if (exit_code != CLI_EXIT_OK) {
        return exit_code;
    }
    int version = 0;
    cash_result result = store_migrate(cli->store, &version);
    if (result != CASH_OK) {
        return cli_fail(CLI_EXIT_FAILURE, "cannot migrate the schema: %s", result_message(result));
    }
    if (!cli->json) {
        return CLI_EXIT_OK;
    }
    return cli_print_json(json_pack("{s:i, s:s, s:b}", "schemaVersion", version, "dataKeyFile",
                                    cli->config.data_key_file, "dataKeyCreated", created));
}

/* ---- ledger ---- */

struct cli_ledger_report {
    bool json;
    json_t *problems;
};

static void cli_ledger_problem(void *context, const char *problem)
{
    struct cli_ledger_report *report = context;
    if (report->json) {
        json_array_append_new(report->problems, json_string(problem)); /* steals */
    } else {
        printf("%s\n", problem);
    }
}

static int cli_run_ledger_verify(struct cli *cli)
{
    struct cli_ledger_report report = {.json = cli->json, .problems = json_array()};
    size_t problem_count = 0;
    int exit_code = cli_open_store(cli);
    if (exit_code != CLI_EXIT_OK || report.problems == NULL) {
        json_decref(report.problems);
        return exit_code != CLI_EXIT_OK ? exit_code : cli_fail(CLI_EXIT_FAILURE, "out of memory");
    }
    cash_result result =
        store_ledger_verify(cli->store, cli_ledger_problem, &report, &problem_count);
    if (result != CASH_OK) {
        json_decref(report.problems);
        return cli_fail_store(result, NULL, NULL);
    }
    if (cli->json) {
        exit_code = cli_print_json(json_pack("{s:b, s:I, s:o}", "ok", problem_count == 0,
                                             "problemCount", (json_int_t)problem_count,
                                             "problems", report.problems)); /* steals */
    } else {
        json_decref(report.problems);
        if (problem_count == 0) {
            puts("ledger ok");
        }
    }
    if (problem_count > 0) {
        return cli_fail(CLI_EXIT_FAILURE, "ledger verify found %zu problem%s", problem_count,
                        problem_count == 1 ? "" : "s");
    }
    return exit_code;
}

/* ---- sign ---- */

/* A salt the header can carry: 12..64 printable bytes without spaces or commas. */
static bool cli_salt_valid(const char *salt)
{
    size_t length = strlen(salt);
    if (length < AUTH_SALT_BYTES_MIN || length > AUTH_SALT_BYTES_MAX) {
        return false;
    }
    for (size_t i = 0; i < length; i++) {
        if (salt[i] <= ' ' || salt[i] >= 0x7f || salt[i] == ',') {
            return false;
        }
    }
    return true;
}

static int cli_run_sign(struct cli *cli)
{
    const char *key = cli_option(cli, "key");
    const char *secret = cli_option(cli, "secret");
    const char *method_text = cli_option(cli, "method");
    const char *date = cli_option(cli, "date");
    const char *salt = cli_option(cli, "salt");
    enum hmac_method method = HMAC_METHOD_SHA256;
    char date_now[ISO8601_BYTES_MAX];
    char salt_random[CLI_SALT_BYTES_DEFAULT + 1];
    char header[AUTH_HEADER_BYTES_MAX + 1];
    int64_t date_ms = 0;
    if (method_text != NULL && strcmp(method_text, "HMAC-MD5") == 0) {
        method = HMAC_METHOD_MD5;
    } else if (method_text != NULL && strcmp(method_text, "HMAC-SHA256") != 0) {
        return cli_fail(CLI_EXIT_USAGE, "bad --method '%s' (HMAC-SHA256, HMAC-MD5)", method_text);
    }
    if (!cli_is_api_key(key)) {
        return cli_fail(CLI_EXIT_USAGE, "bad --key (16 letters and digits)");
    }
    if (secret[0] == '\0' || strlen(secret) > CLI_SECRET_BYTES_MAX) {
        return cli_fail(CLI_EXIT_USAGE, "bad --secret (1 to %d bytes)", CLI_SECRET_BYTES_MAX);
    }
    if (date != NULL && !iso8601_parse(date, strlen(date), &date_ms)) {
        return cli_fail(CLI_EXIT_USAGE, "bad --date '%s' (ISO 8601 with a zone)", date);
    }
    if (salt != NULL && !cli_salt_valid(salt)) {
        return cli_fail(CLI_EXIT_USAGE, "bad --salt (%d to %d bytes, no spaces or commas)",
                        AUTH_SALT_BYTES_MIN, AUTH_SALT_BYTES_MAX);
    }
    iso8601_format(time_now_ms(), date_now);
    if (salt == NULL && !crypto_random_text(cli_alphanumeric, CLI_SALT_BYTES_DEFAULT, salt_random)) {
        return cli_fail(CLI_EXIT_FAILURE, "the random source failed");
    }
    cash_result result = auth_sign(method, key, secret, date != NULL ? date : date_now,
                                   salt != NULL ? salt : salt_random, header, sizeof header);
    if (result != CASH_OK) {
        return cli_fail(CLI_EXIT_FAILURE, "cannot sign: %s", result_message(result));
    }
    if (cli->json) {
        return cli_print_json(json_pack("{s:s}", "authorization", header));
    }
    puts(header);
    return CLI_EXIT_OK;
}

/* ---- command line ---- */

static const struct cli_command cli_commands[] = {
    {"init", 1, "||", "||", cli_run_init},
    {"account create", 2, "|status|verified|", "||", cli_run_account_create},
    {"account set", 3, "|status|verified|auto-recharge|", "||", cli_run_account_set},
    {"member add", 3, "|email|phone|role|status|", "|email|phone|", cli_run_member_add},
    {"member set", 3, "|role|status|", "||", cli_run_member_set},
    {"member totp", 3, "||", "||", cli_run_member_totp},
    {"apikey create", 3, "|scopes|", "||", cli_run_api_key_create},
    {"apikey revoke", 3, "||", "||", cli_run_api_key_revoke},
    {"balance credit", 4, "|memo|", "||", cli_run_balance_credit},
    {"bank set", 3, "|bank-code|number|holder|", "|bank-code|number|holder|", cli_run_bank_set},
    {"withdraw list", 2, "|status|account|", "||", cli_run_withdraw_list},
    {"withdraw confirm", 3, "|operator|", "|operator|", cli_run_withdraw_confirm},
    {"withdraw reject", 3, "|memo|operator|", "|memo|", cli_run_withdraw_reject},
    {"withdraw show", 3, "||", "||", cli_run_withdraw_show},
    {"withdraw stuck", 2, "|seconds|", "||", cli_run_withdraw_stuck},
    {"ledger verify", 2, "||", "||", cli_run_ledger_verify},
    {"sign", 1, "|key|secret|method|date|salt|", "|key|secret|", cli_run_sign},
};

/* True if the command's name is the first words of the command line. */
static bool cli_command_matches(const struct cli_command *command, const struct cli *cli)
{
    char name[64] = "";
    if (cli->word_count == 0) {
        return false;
    }
    snprintf(name, sizeof name, "%s", cli->words[0]);
    if (strchr(command->name, ' ') != NULL && cli->word_count > 1) {
        snprintf(name, sizeof name, "%s %s", cli->words[0], cli->words[1]);
    }
    return strcmp(name, command->name) == 0;
}

/* Splits argv into global options, command options and words; exit code. */
static int cli_parse(struct cli *cli, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *argument = argv[i];
        if (strncmp(argument, "--", 2) != 0 || argument[2] == '\0') {
            if (cli->word_count == CLI_WORDS_MAX) {
                return cli_fail(CLI_EXIT_USAGE, "too many arguments");
            }
            cli->words[cli->word_count++] = argument;
            continue;
        }
        char *name = argv[i] + 2;
        if (strcmp(name, "json") == 0 || strcmp(name, "help") == 0) {
            cli->json = cli->json || strcmp(name, "json") == 0;
            cli->help = cli->help || strcmp(name, "help") == 0;
            continue;
        }
        char *equals = strchr(name, '=');
        const char *value = NULL;
        if (equals != NULL) {
            *equals = '\0'; /* "--name=value": argv is ours to split */
            value = equals + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            return cli_fail(CLI_EXIT_USAGE, "option --%s needs a value", name);
        }
        if (strcmp(name, "db") == 0 || strcmp(name, "data-key-file") == 0) {
            const char **slot = (strcmp(name, "db") == 0) ? &cli->db_flag : &cli->key_file_flag;
            *slot = value;
            continue;
        }
        if (cli_option(cli, name) != NULL || cli->option_count == CLI_OPTIONS_MAX) {
            return cli_fail(CLI_EXIT_USAGE, "option --%s given twice or too many options", name);
        }
        cli->options[cli->option_count++] = (struct cli_option){.name = name, .value = value};
    }
    return CLI_EXIT_OK;
}

/* Checks the options and positionals of the matched command; exit code. */
static int cli_check_arguments(const struct cli *cli, const struct cli_command *command)
{
    for (size_t i = 0; i < cli->option_count; i++) {
        if (!cli_name_listed(command->allowed, cli->options[i].name)) {
            return cli_fail(CLI_EXIT_USAGE, "%s takes no option --%s", command->name,
                            cli->options[i].name);
        }
    }
    if (cli->word_count < command->word_count) {
        return cli_fail(CLI_EXIT_USAGE, "%s: missing argument (see cashctl --help)",
                        command->name);
    }
    if (cli->word_count > command->word_count) {
        return cli_fail(CLI_EXIT_USAGE, "%s: unexpected argument '%s'", command->name,
                        cli->words[command->word_count]);
    }
    const char *required = command->required + 1;
    while (*required != '\0') {
        char name[32] = "";
        size_t length = strcspn(required, "|");
        snprintf(name, sizeof name, "%.*s", (int)length, required);
        if (length > 0 && cli_option(cli, name) == NULL) {
            return cli_fail(CLI_EXIT_USAGE, "%s needs --%s", command->name, name);
        }
        required += length + 1;
    }
    return CLI_EXIT_OK;
}

/* The settings, through the server's own configuration code: flags become the environment. */
static int cli_configure(struct cli *cli)
{
    char why[CLI_WHY_BYTES_MAX] = "";
    char program[] = "cashctl";
    char *config_argv[] = {program, NULL};
    if (cli->db_flag != NULL && setenv("CASHD_DB", cli->db_flag, 1) != 0) {
        return cli_fail(CLI_EXIT_FAILURE, "cannot set CASHD_DB");
    }
    if (cli->key_file_flag != NULL && setenv("CASHD_DATA_KEY_FILE", cli->key_file_flag, 1) != 0) {
        return cli_fail(CLI_EXIT_FAILURE, "cannot set CASHD_DATA_KEY_FILE");
    }
    config_defaults(&cli->config);
    if (config_load(&cli->config, 1, config_argv, why, sizeof why) != CONFIG_OK) {
        return cli_fail(CLI_EXIT_USAGE, "bad configuration: %s", why);
    }
    return CLI_EXIT_OK;
}

static const struct cli_command *cli_find_command(const struct cli *cli)
{
    for (size_t i = 0; i < sizeof cli_commands / sizeof cli_commands[0]; i++) {
        if (cli_command_matches(&cli_commands[i], cli)) {
            return &cli_commands[i];
        }
    }
    return NULL;
}

/* cashctl: see cli_usage_text. Exit 0 on success, 1 on a failure, 2 on a usage error. */
int main(int argc, char **argv)
{
    static struct cli cli;
    int exit_code = cli_parse(&cli, argc, argv);
    if (exit_code != CLI_EXIT_OK) {
        return exit_code;
    }
    if (cli.help || (cli.word_count == 1 && strcmp(cli.words[0], "help") == 0)) {
        fputs(cli_usage_text, stdout);
        return CLI_EXIT_OK;
    }
    if (cli.word_count == 0) {
        return cli_fail(CLI_EXIT_USAGE, "missing command (see cashctl --help)");
    }
    const struct cli_command *command = cli_find_command(&cli);
    if (command == NULL) {
        return cli_fail(CLI_EXIT_USAGE, "unknown command '%s%s%s' (see cashctl --help)",
                        cli.words[0], cli.word_count > 1 ? " " : "",
                        cli.word_count > 1 ? cli.words[1] : "");
    }
    exit_code = cli_check_arguments(&cli, command);
    if (exit_code == CLI_EXIT_OK) {
        exit_code = cli_configure(&cli);
    }
    if (exit_code == CLI_EXIT_OK) {
        exit_code = command->run(&cli);
    }
    if (cli.store != NULL) {
        store_close(cli.store);
    }
    keyring_wipe(&cli.keyring);
    if (fflush(stdout) != 0 && exit_code == CLI_EXIT_OK) {
        exit_code = cli_fail(CLI_EXIT_FAILURE, "cannot write the output");
    }
    return exit_code;
}
