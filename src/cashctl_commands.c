/*
 * cashctl_commands.c - the operator commands that create or change records (SPEC 6): accounts,
 * members, API keys, manual recharges, bank accounts, and the withdrawal listing. Each command
 * validates every argument with the domain's own rules before it touches the store.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "cashctl.h"
#include "common/ids.h"
#include "common/limits.h"
#include "common/timeutil.h"
#include "common/totp.h"
#include "domain/bank.h"
#include "domain/names.h"
#include "domain/query.h"
#include "domain/types.h"
#include "domain/withdraw_state.h"

#define CLI_AMOUNT_DIGITS_MAX 13 /* AMOUNT_WON_ABSOLUTE_MAX has 13 digits */
#define CLI_PHONE_DIGITS_MIN  4

_Static_assert(AMOUNT_WON_ABSOLUTE_MAX < 10000000000000LL, "an amount fits in 13 digits");

/* ---- argument checks ---- */

/* Roughly an address: local@domain.tld, printable ASCII without spaces, quotes or brackets. */
static bool cli_email_valid(const char *text)
{
    size_t length = strlen(text);
    if (length < 3 || length > EMAIL_BYTES_MAX) {
        return false;
    }
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c <= ' ' || c >= 0x7f || strchr("\"(),:;<>[\\]", c) != NULL) {
            return false;
        }
    }
    const char *at = strchr(text, '@');
    if (at == NULL || at == text || strchr(at + 1, '@') != NULL) {
        return false;
    }
    const char *dot = strrchr(at + 1, '.');
    return dot != NULL && dot > at + 1 && dot[1] != '\0';
}

/* Digits with single hyphens between them, optionally after a leading '+'. */
static bool cli_phone_valid(const char *text)
{
    size_t length = strlen(text);
    size_t start = (text[0] == '+') ? 1 : 0;
    size_t digits = 0;
    if (length == 0 || length > PHONE_BYTES_MAX) {
        return false;
    }
    for (size_t i = start; i < length; i++) {
        bool is_digit = text[i] >= '0' && text[i] <= '9';
        bool is_hyphen_between_digits =
            text[i] == '-' && i > start && text[i - 1] != '-' && i + 1 < length;
        if (!is_digit && !is_hyphen_between_digits) {
            return false;
        }
        digits += is_digit ? 1 : 0;
    }
    return digits >= CLI_PHONE_DIGITS_MIN;
}

/* A bounded decimal parse: 1..AMOUNT_WON_ABSOLUTE_MAX, digits only. */
static bool cli_amount_parse(const char *text, int64_t *out)
{
    size_t length = strlen(text);
    if (length == 0 || length > CLI_AMOUNT_DIGITS_MAX || !id_is_digits(text, length)) {
        return false;
    }
    errno = 0;
    long long value = strtoll(text, NULL, 10);
    if (errno != 0 || value < 1 || value > AMOUNT_WON_ABSOLUTE_MAX) {
        return false;
    }
    *out = (int64_t)value;
    return true;
}

static bool cli_on_off_parse(const char *text, bool *out)
{
    if (strcmp(text, "on") == 0 || strcmp(text, "off") == 0) {
        *out = strcmp(text, "on") == 0;
        return true;
    }
    return false;
}

/* ---- accounts ---- */

static json_t *cli_account_json(const struct account *account)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:i, s:o, s:o}", "accountId", account->account_id,
                     "status", account_status_name(account->status), "verified",
                     account_verified_name(account->verified), "balance",
                     (json_int_t)account->balance_won, "point", (json_int_t)account->point_won,
                     "autoRecharge", account->auto_recharge ? 1 : 0, "dateCreated",
                     wire_json_date_or_null(account->created_ms), "dateUpdated",
                     wire_json_date_or_null(account->updated_ms));
}

/* Reads --status, --verified and --auto-recharge into update; exit code. */
static int cli_account_options(const struct cli *cli, struct account_update *update)
{
    const char *status = cli_option(cli, "status");
    const char *verified = cli_option(cli, "verified");
    const char *auto_recharge = cli_option(cli, "auto-recharge");
    if (status != NULL) {
        update->has_status = true;
        if (!account_status_parse(status, &update->status)) {
            return cli_fail(CLI_EXIT_USAGE, "bad account status '%s' (ACTIVE, INACTIVE, DELETED)",
                            status);
        }
    }
    if (verified != NULL) {
        update->has_verified = true;
        if (!account_verified_parse(verified, &update->verified)) {
            return cli_fail(CLI_EXIT_USAGE, "bad --verified '%s' (personal, business, none)",
                            verified);
        }
    }
    if (auto_recharge != NULL) {
        update->has_auto_recharge = true;
        if (!cli_on_off_parse(auto_recharge, &update->auto_recharge)) {
            return cli_fail(CLI_EXIT_USAGE, "bad --auto-recharge '%s' (on, off)", auto_recharge);
        }
    }
    return CLI_EXIT_OK;
}

/* cashctl account create [--status S] [--verified T]: prints the new accountId. */
int cli_run_account_create(struct cli *cli)
{
    struct account_update options = {.status = ACCOUNT_ACTIVE, .verified = VERIFIED_NONE};
    int exit_code = cli_account_options(cli, &options);
    if (exit_code != CLI_EXIT_OK) {
        return exit_code;
    }
    struct account account = {.status = options.status, .verified = options.verified};
    account.created_ms = time_now_ms();
    account.updated_ms = account.created_ms;
    if (!id_account_new(account.created_ms, account.account_id)) {
        return cli_fail(CLI_EXIT_FAILURE, "the random source failed");
    }
    exit_code = cli_open_store(cli);
    if (exit_code != CLI_EXIT_OK) {
        return exit_code;
    }
    cash_result result = store_account_create(cli->store, &account);
    if (result != CASH_OK) {
        return cli_fail_store(result, NULL, NULL);
    }
    if (cli->json) {
        return cli_print_json(cli_account_json(&account));
    }
    puts(account.account_id);
    return CLI_EXIT_OK;
}

/* cashctl account set ACCOUNT_ID [--status S] [--verified T] [--auto-recharge on|off]. */
int cli_run_account_set(struct cli *cli)
{
    const char *account_id = cli->words[2];
    struct account_update update = {.now_ms = time_now_ms()};
    if (!cli_is_account_id(account_id)) {
        return cli_fail(CLI_EXIT_USAGE, "bad account id '%s' (14 digits)", account_id);
    }
    int exit_code = cli_account_options(cli, &update);
    if (exit_code != CLI_EXIT_OK) {
        return exit_code;
    }
    if (!update.has_status && !update.has_verified && !update.has_auto_recharge) {
        return cli_fail(CLI_EXIT_USAGE,
                        "account set needs --status, --verified or --auto-recharge");
    }
    exit_code = cli_open_store(cli);
    if (exit_code != CLI_EXIT_OK) {
        return exit_code;
    }
    cash_result result = store_account_update(cli->store, account_id, &update);
    if (result != CASH_OK) {
        return cli_fail_store(result, "account", account_id);
    }
    if (!cli->json) {
        return CLI_EXIT_OK;
    }
    struct account account;
    result = store_account_get(cli->store, account_id, &account);
    if (result != CASH_OK) {
        return cli_fail_store(result, "account", account_id);
    }
    return cli_print_json(cli_account_json(&account));
}

/* ---- members ---- */

static json_t *cli_member_json(const struct member *member)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "memberId", member->member_id,
                     "accountId", member->account_id, "email", member->email, "phone",
                     member->phone, "role", member_role_name(member->role), "status",
                     member_status_name(member->status), "dateCreated",
                     wire_json_date_or_null(member->created_ms));
}

/* Reads --role and --status into update; exit code. */
static int cli_member_options(const struct cli *cli, struct member_update *update)
{
    const char *role = cli_option(cli, "role");
    const char *status = cli_option(cli, "status");
    if (role != NULL) {
        update->has_role = true;
        if (!member_role_parse(role, &update->role)) {
            return cli_fail(CLI_EXIT_USAGE, "bad role '%s' (OWNER, DEVELOPER, MEMBER)", role);
        }
    }
    if (status != NULL) {
        update->has_status = true;
        if (!member_status_parse(status, &update->status)) {
            return cli_fail(CLI_EXIT_USAGE,
                            "bad member status '%s' (UNVERIFIED, ACTIVE, INACTIVE, DELETED)",
                            status);
        }
    }
    return CLI_EXIT_OK;
}

/* cashctl member add ACCOUNT_ID --email E --phone P [--role R] [--status S]: the memberId. */
int cli_run_member_add(struct cli *cli)
{
    const char *account_id = cli->words[2];
    const char *email = cli_option(cli, "email");
    const char *phone = cli_option(cli, "phone");
    struct member_update options = {.role = ROLE_OWNER, .status = MEMBER_ACTIVE};
    if (!cli_is_account_id(account_id)) {
        return cli_fail(CLI_EXIT_USAGE, "bad account id '%s' (14 digits)", account_id);
    }
    if (!cli_email_valid(email)) {
        return cli_fail(CLI_EXIT_USAGE, "bad --email '%s'", email);
    }
    if (!cli_phone_valid(phone)) {
        return cli_fail(CLI_EXIT_USAGE, "bad --phone '%s' (digits, '+' and '-')", phone);
    }
    int exit_code = cli_member_options(cli, &options);
    if (exit_code != CLI_EXIT_OK) {
        return exit_code;
    }
    struct member member = {.role = options.role, .status = options.status};
    member.created_ms = time_now_ms();
    snprintf(member.account_id, sizeof member.account_id, "%s", account_id);
    snprintf(member.email, sizeof member.email, "%s", email);
    snprintf(member.phone, sizeof member.phone, "%s", phone);
    if (!id_member_new(member.created_ms, member.member_id)) {
        return cli_fail(CLI_EXIT_FAILURE, "the random source failed");
    }
    exit_code = cli_open_store(cli);
    if (exit_code != CLI_EXIT_OK) {
        return exit_code;
    }
    cash_result result = store_member_create(cli->store, &member);
    if (result != CASH_OK) {
        return cli_fail_store(result, "account", account_id);
    }
    if (cli->json) {
        return cli_print_json(cli_member_json(&member));
    }
    puts(member.member_id);
    return CLI_EXIT_OK;
}

/* cashctl member set MEMBER_ID [--role R] [--status S]. */
int cli_run_member_set(struct cli *cli)
{
    const char *member_id = cli->words[2];
    struct member_update update = {.has_role = false};
    if (strlen(member_id) != MEMBER_ID_LENGTH || !id_is_digits(member_id, MEMBER_ID_LENGTH)) {
        return cli_fail(CLI_EXIT_USAGE, "bad member id '%s' (14 digits)", member_id);
    }
    int exit_code = cli_member_options(cli, &update);
    if (exit_code != CLI_EXIT_OK) {
        return exit_code;
    }
    if (!update.has_role && !update.has_status) {
        return cli_fail(CLI_EXIT_USAGE, "member set needs --role or --status");
    }
    exit_code = cli_open_store(cli);
    if (exit_code != CLI_EXIT_OK) {
        return exit_code;
    }
    cash_result result = store_member_update(cli->store, member_id, &update);
    if (result != CASH_OK) {
        return cli_fail_store(result, "member", member_id);
    }
    if (!cli->json) {
        return CLI_EXIT_OK;
    }
    struct member member;
    result = store_member_get(cli->store, member_id, &member);
    if (result != CASH_OK) {
        return cli_fail_store(result, "member", member_id);
    }
    return cli_print_json(cli_member_json(&member));
}

/* ---- authenticator apps (SPEC 5: TOTP) ---- */

#define CLI_TOTP_ISSUER        "cashd"
#define CLI_TOTP_URI_BYTES_MAX 1024

/* otpauth://totp/cashd:EMAIL?secret=...: what authenticator apps read (Key Uri Format). */
static bool cli_totp_uri(const char *email, const char *secret_base32, char *out, size_t out_size)
{
    char *label = curl_easy_escape(NULL, email, 0); /* curl_free()d below */
    if (label == NULL) {
        return false;
    }
    int written = snprintf(out, out_size,
                           "otpauth://totp/%s:%s?secret=%s&issuer=%s&algorithm=SHA1&digits=%d"
                           "&period=%d",
                           CLI_TOTP_ISSUER, label, secret_base32, CLI_TOTP_ISSUER, TOTP_DIGITS,
                           TOTP_PERIOD_SECONDS);
    curl_free(label);
    return written > 0 && (size_t)written < out_size;
}

/* A new secret: sealed (base64 inside) for the store, base32 for the app; exit code. */
static int cli_totp_secret(const struct cli *cli, struct totp_enrolment *enrolment,
                           char *base32_out, size_t base32_size)
{
    unsigned char secret[TOTP_SECRET_BYTES];
    char base64[TOTP_SECRET_BYTES * 2];
    int exit_code = CLI_EXIT_OK;
    if (!crypto_random(secret, sizeof secret)) {
        exit_code = cli_fail(CLI_EXIT_FAILURE, "the random source failed");
        goto out_wipe;
    }
    size_t length = base64_encode(secret, sizeof secret, base64, sizeof base64);
    if (length == 0 || base32_encode(secret, sizeof secret, base32_out, base32_size) == 0 ||
        !crypto_seal(&cli->keyring, base64, length, enrolment->sealed_secret,
                     sizeof enrolment->sealed_secret)) {
        exit_code = cli_fail(CLI_EXIT_FAILURE, "cannot seal the TOTP secret");
    }
out_wipe:
    OPENSSL_cleanse(secret, sizeof secret);
    OPENSSL_cleanse(base64, sizeof base64);
    return exit_code;
}

/* cashctl member totp MEMBER_ID: enrols a new authenticator app (replacing one enrolled before)
 * and prints its otpauth:// URI once; the secret is stored sealed only. */
int cli_run_member_totp(struct cli *cli)
{
    const char *member_id = cli->words[2];
    struct member member;
    struct totp_enrolment enrolment = {.last_step = 0};
    char base32[TOTP_SECRET_BYTES * 2];
    char uri[CLI_TOTP_URI_BYTES_MAX] = "";
    if (strlen(member_id) != MEMBER_ID_LENGTH || !id_is_digits(member_id, MEMBER_ID_LENGTH)) {
        return cli_fail(CLI_EXIT_USAGE, "bad member id '%s' (14 digits)", member_id);
    }
    int exit_code = cli_load_keyring(cli);
    if (exit_code == CLI_EXIT_OK) {
        exit_code = cli_open_store(cli);
    }
    if (exit_code != CLI_EXIT_OK) {
        return exit_code;
    }
    cash_result result = store_member_get(cli->store, member_id, &member);
    if (result != CASH_OK) {
        return cli_fail_store(result, "member", member_id);
    }
    exit_code = cli_totp_secret(cli, &enrolment, base32, sizeof base32);
    if (exit_code == CLI_EXIT_OK && !cli_totp_uri(member.email, base32, uri, sizeof uri)) {
        exit_code = cli_fail(CLI_EXIT_FAILURE, "cannot write the otpauth URI");
    }
    if (exit_code == CLI_EXIT_OK) {
        snprintf(enrolment.member_id, sizeof enrolment.member_id, "%s", member_id);
        enrolment.created_ms = time_now_ms();
        result = store_totp_enrol(cli->store, &enrolment);
        exit_code = result == CASH_OK ? CLI_EXIT_OK : cli_fail_store(result, "member", member_id);
    }
    if (exit_code == CLI_EXIT_OK && cli->json) {
        exit_code =
            cli_print_json(json_pack("{s:s, s:s}", "memberId", member_id, "otpauthUri", uri));
    } else if (exit_code == CLI_EXIT_OK) {
        puts(uri);
    }
    OPENSSL_cleanse(base32, sizeof base32);
    OPENSSL_cleanse(uri, sizeof uri);
    return exit_code;
}

/* ---- API keys ---- */

/* Fills key for member with a fresh key and sealed secret; the plain secret goes to secret_out. */
static int cli_api_key_fill(const struct cli *cli, const struct member *member, unsigned scopes,
                            struct api_key *key, char secret_out[AUTH_API_SECRET_LENGTH + 1])
{
    if (!id_api_key_new(key->api_key) || !id_api_secret_new(secret_out)) {
        return cli_fail(CLI_EXIT_FAILURE, "the random source failed");
    }
    if (!crypto_seal(&cli->keyring, secret_out, strlen(secret_out), key->sealed_secret,
                     sizeof key->sealed_secret)) {
        return cli_fail(CLI_EXIT_FAILURE, "cannot seal the API secret");
    }
    snprintf(key->member_id, sizeof key->member_id, "%s", member->member_id);
    snprintf(key->account_id, sizeof key->account_id, "%s", member->account_id);
    key->scopes = scopes;
    key->revoked = false;
    key->role = member->role;
    key->member_status = member->status;
    return CLI_EXIT_OK;
}

/* cashctl apikey create MEMBER_ID [--scopes S]: prints "apiKey apiSecret"; the secret is
 * stored sealed and wiped from memory. */
int cli_run_api_key_create(struct cli *cli)
{
    const char *member_id = cli->words[2];
    const char *scopes_text = cli_option(cli, "scopes");
    unsigned scopes = SCOPE_CASH_READ | SCOPE_CASH_WRITE;
    if (scopes_text != NULL && !scopes_parse(scopes_text, &scopes)) {
        return cli_fail(CLI_EXIT_USAGE, "bad --scopes '%s' (cash:read,cash:write)", scopes_text);
    }
    if (strlen(member_id) != MEMBER_ID_LENGTH || !id_is_digits(member_id, MEMBER_ID_LENGTH)) {
        return cli_fail(CLI_EXIT_USAGE, "bad member id '%s' (14 digits)", member_id);
    }
    int exit_code = cli_load_keyring(cli);
    if (exit_code == CLI_EXIT_OK) {
        exit_code = cli_open_store(cli);
    }
    if (exit_code != CLI_EXIT_OK) {
        return exit_code;
    }
    struct member member;
    cash_result result = store_member_get(cli->store, member_id, &member);
    if (result != CASH_OK) {
        return cli_fail_store(result, "member", member_id);
    }
    struct api_key key = {.revoked = false};
    char secret[AUTH_API_SECRET_LENGTH + 1] = "";
    char scopes_out[SCOPES_BYTES_MAX] = "";
    exit_code = cli_api_key_fill(cli, &member, scopes, &key, secret);
    if (exit_code != CLI_EXIT_OK) {
        goto out_wipe_secret;
    }
    result = store_api_key_create(cli->store, &key, time_now_ms());
    if (result != CASH_OK) {
        exit_code = cli_fail_store(result, "member", member_id);
        goto out_wipe_secret;
    }
    scopes_format(scopes, scopes_out, sizeof scopes_out);
    if (cli->json) {
        exit_code = cli_print_json(json_pack("{s:s, s:s, s:s, s:s, s:s}", "apiKey", key.api_key,
                                             "apiSecret", secret, "memberId", member.member_id,
                                             "accountId", member.account_id, "scopes", scopes_out));
    } else {
        printf("%s %s\n", key.api_key, secret);
    }
out_wipe_secret:
    OPENSSL_cleanse(secret, sizeof secret);
    return exit_code;
}

/* cashctl apikey revoke API_KEY. */
int cli_run_api_key_revoke(struct cli *cli)
{
    const char *api_key = cli->words[2];
    if (!cli_is_api_key(api_key)) {
        return cli_fail(CLI_EXIT_USAGE, "bad API key '%s' (16 letters and digits)", api_key);
    }
    int exit_code = cli_open_store(cli);
    if (exit_code != CLI_EXIT_OK) {
        return exit_code;
    }
    cash_result result = store_api_key_revoke(cli->store, api_key);
    if (result != CASH_OK) {
        return cli_fail_store(result, "API key", api_key);
    }
    if (cli->json) {
        return cli_print_json(json_pack("{s:s, s:b}", "apiKey", api_key, "revoked", true));
    }
    return CLI_EXIT_OK;
}

/* ---- balance ---- */

/* cashctl balance credit ACCOUNT_ID AMOUNT [--memo M]: a manual recharge with its ledger
 * entry; prints the historyId. */
int cli_run_balance_credit(struct cli *cli)
{
    const char *account_id = cli->words[2];
    const char *memo = cli_option(cli, "memo");
    int64_t amount_won = 0;
    if (!cli_is_account_id(account_id)) {
        return cli_fail(CLI_EXIT_USAGE, "bad account id '%s' (14 digits)", account_id);
    }
    if (!cli_amount_parse(cli->words[3], &amount_won)) {
        return cli_fail(CLI_EXIT_USAGE, "bad amount '%s' (whole won, 1 to %lld)", cli->words[3],
                        (long long)AMOUNT_WON_ABSOLUTE_MAX);
    }
    if (memo == NULL) {
        memo = "";
    }
    if (strlen(memo) > MEMO_BYTES_MAX || !text_is_clean_utf8(memo, strlen(memo))) {
        return cli_fail(CLI_EXIT_USAGE, "bad --memo (at most %d bytes of UTF-8 text)",
                        MEMO_BYTES_MAX);
    }
    int64_t now_ms = time_now_ms();
    char history_id[HISTORY_ID_LENGTH + 1];
    if (!id_sortable_new(now_ms, history_id)) {
        return cli_fail(CLI_EXIT_FAILURE, "the random source failed");
    }
    int exit_code = cli_open_store(cli);
    if (exit_code != CLI_EXIT_OK) {
        return exit_code;
    }
    struct history_entry entry;
    cash_result result =
        store_balance_credit(cli->store, account_id, amount_won, memo, history_id, now_ms, &entry);
    if (result != CASH_OK) {
        return cli_fail_store(result, "account", account_id);
    }
    if (cli->json) {
        return cli_print_json(wire_history_json(&entry));
    }
    puts(entry.history_id);
    return CLI_EXIT_OK;
}

/* ---- bank account ---- */

/* Validates the options into bank (number sealed and masked); exit code. */
static int cli_bank_fill(const struct cli *cli, struct bank_account *bank)
{
    char why[CLI_WHY_BYTES_MAX] = "";
    char digits[ACCOUNT_NUMBER_DIGITS_MAX + 1] = "";
    const char *code = cli_option(cli, "bank-code");
    const char *holder = cli_option(cli, "holder");
    int exit_code = CLI_EXIT_OK;
    if (bank_code_check(code, why, sizeof why) != CASH_OK) {
        return cli_fail(CLI_EXIT_USAGE, "bad --bank-code: %s", why);
    }
    if (bank_holder_check(holder, why, sizeof why) != CASH_OK) {
        return cli_fail(CLI_EXIT_USAGE, "bad --holder: %s", why);
    }
    if (bank_number_normalize(cli_option(cli, "number"), digits, why, sizeof why) != CASH_OK) {
        exit_code = cli_fail(CLI_EXIT_USAGE, "bad --number: %s", why);
        goto out_wipe_digits;
    }
    if (!crypto_seal(&cli->keyring, digits, strlen(digits), bank->sealed_number,
                     sizeof bank->sealed_number)) {
        exit_code = cli_fail(CLI_EXIT_FAILURE, "cannot seal the account number");
        goto out_wipe_digits;
    }
    bank_number_mask(digits, bank->masked_number);
    snprintf(bank->bank_code, sizeof bank->bank_code, "%s", code);
    snprintf(bank->holder_name, sizeof bank->holder_name, "%s", holder);
out_wipe_digits:
    OPENSSL_cleanse(digits, sizeof digits);
    return exit_code;
}

/* cashctl bank set ACCOUNT_ID --bank-code C --number N --holder NAME: the number is stored
 * sealed and shown masked. */
int cli_run_bank_set(struct cli *cli)
{
    const char *account_id = cli->words[2];
    struct bank_account bank = {.created_ms = 0};
    if (!cli_is_account_id(account_id)) {
        return cli_fail(CLI_EXIT_USAGE, "bad account id '%s' (14 digits)", account_id);
    }
    int exit_code = cli_load_keyring(cli);
    if (exit_code == CLI_EXIT_OK) {
        exit_code = cli_bank_fill(cli, &bank);
    }
    if (exit_code == CLI_EXIT_OK) {
        exit_code = cli_open_store(cli);
    }
    if (exit_code != CLI_EXIT_OK) {
        return exit_code;
    }
    struct account account;
    cash_result result = store_account_get(cli->store, account_id, &account);
    if (result != CASH_OK) {
        return cli_fail_store(result, "account", account_id);
    }
    snprintf(bank.account_id, sizeof bank.account_id, "%s", account_id);
    bank.created_ms = time_now_ms();
    bank.updated_ms = bank.created_ms;
    result =
        store_bank_account_set(cli->store, &bank, NULL, NULL); /* the operator needs no factor */
    if (result == CASH_OK) {
        result = store_bank_account_get(cli->store, account_id, &bank);
    }
    if (result != CASH_OK) {
        return cli_fail_store(result, "account", account_id);
    }
    if (!cli->json) {
        return CLI_EXIT_OK;
    }
    return cli_print_json(wire_bank_account_json(&bank));
}

/* ---- withdrawals ---- */

/* Parses --status and --account through the API's own query parser; exit code. */
static int cli_withdraw_query(const struct cli *cli, struct withdraw_query *query)
{
    struct query_param params[1];
    size_t param_count = 0;
    const char *status = cli_option(cli, "status");
    const char *account_id = cli_option(cli, "account");
    char why[CLI_WHY_BYTES_MAX] = "";
    if (status != NULL) {
        params[param_count++] = (struct query_param){.key = "status", .value = status};
    }
    if (withdraw_query_parse(params, param_count, query, why, sizeof why) != CASH_OK) {
        return cli_fail(CLI_EXIT_USAGE, "bad --status '%s': %s", status != NULL ? status : "", why);
    }
    if (account_id != NULL && !cli_is_account_id(account_id)) {
        return cli_fail(CLI_EXIT_USAGE, "bad --account '%s' (14 digits)", account_id);
    }
    snprintf(query->account_id, sizeof query->account_id, "%s",
             account_id != NULL ? account_id : "");
    query->limit = LIST_LIMIT_MAX;
    query->start_key[0] = '\0';
    return CLI_EXIT_OK;
}

/* cashctl withdraw list [--status S] [--account A]: every matching withdrawId, newest first,
 * paging through the store. */
int cli_run_withdraw_list(struct cli *cli)
{
    static struct withdrawal page[LIST_LIMIT_MAX];
    struct withdraw_query query;
    int exit_code = cli_withdraw_query(cli, &query);
    if (exit_code == CLI_EXIT_OK) {
        exit_code = cli_open_store(cli);
    }
    if (exit_code != CLI_EXIT_OK) {
        return exit_code;
    }
    json_t *list = json_array();
    bool more = true;
    while (more && list != NULL) {
        size_t count = 0;
        cash_result result = store_withdraw_list(cli->store, &query, page, &count, query.start_key);
        if (result != CASH_OK) {
            json_decref(list);
            return cli_fail_store(result, NULL, NULL);
        }
        for (size_t i = 0; i < count; i++) {
            if (cli->json) {
                json_array_append_new(list, wire_withdrawal_json(&page[i])); /* steals */
            } else {
                puts(page[i].withdraw_id);
            }
        }
        more = query.start_key[0] != '\0';
    }
    if (cli->json) {
        return cli_print_json(list);
    }
    json_decref(list);
    return CLI_EXIT_OK;
}

/* ---- the life of a withdrawal (SPEC 4, 6) ---- */

#define CLI_EVENTS_MAX 256

/* True for a withdrawId: 32 digits. */
static bool cli_is_withdraw_id(const char *text)
{
    size_t length = strnlen(text, WITHDRAW_ID_LENGTH + 1);
    return length == WITHDRAW_ID_LENGTH && id_is_digits(text, length);
}

/* Prints the withdrawal after a change: its JSON with --json, else "withdrawId STATUS count". */
static int cli_print_withdrawal(const struct cli *cli, const struct withdrawal *withdrawal)
{
    if (cli->json) {
        return cli_print_json(wire_withdrawal_json(withdrawal));
    }
    printf("%s %s %lld\n", withdrawal->withdraw_id, withdraw_status_name(withdrawal->status),
           (long long)withdrawal->confirmed_count);
    return CLI_EXIT_OK;
}

/* A store failure of a lifecycle command, naming the withdrawal and, for a refused move, why. */
static int cli_fail_lifecycle(cash_result result, const char *withdraw_id, const char *what)
{
    if (result == CASH_INVALID_STATUS) {
        return cli_fail(CLI_EXIT_FAILURE,
                        "withdrawal %s cannot be %s in its current status (see withdraw show)",
                        withdraw_id, what);
    }
    return cli_fail_store(result, "withdrawal", withdraw_id);
}

/*
 * cashctl withdraw confirm WITHDRAW_ID --operator NAME: one operator's confirmation; from
 * CASHD_DUAL_CONFIRM_AT won two distinct operators make it CONFIRMED.
 */
int cli_run_withdraw_confirm(struct cli *cli)
{
    const char *withdraw_id = cli->words[2];
    const char *operator_name = cli_option(cli, "operator");
    if (!cli_is_withdraw_id(withdraw_id)) {
        return cli_fail(CLI_EXIT_USAGE, "bad withdrawal id '%s' (32 digits)", withdraw_id);
    }
    if (!withdraw_operator_name_valid(operator_name)) {
        return cli_fail(CLI_EXIT_USAGE, "bad --operator (1 to %d letters, digits and . _ @ -)",
                        OPERATOR_NAME_BYTES_MAX);
    }
    int exit_code = cli_open_store(cli);
    if (exit_code != CLI_EXIT_OK) {
        return exit_code;
    }
    const struct withdraw_confirm request = {
        .withdraw_id = withdraw_id,
        .operator_name = operator_name,
        .dual_confirm_at_won = cli->config.dual_confirm_at_won,
        .now_ms = time_now_ms(),
    };
    struct withdrawal withdrawal;
    cash_result result = store_withdraw_confirm(cli->store, &request, &withdrawal);
    if (result != CASH_OK) {
        return cli_fail_lifecycle(result, withdraw_id, "confirmed");
    }
    return cli_print_withdrawal(cli, &withdrawal);
}

/*
 * cashctl withdraw reject WITHDRAW_ID --memo TEXT [--operator NAME]: REJECTED with the whole
 * totalAmount refunded, while PENDING or CONFIRMED and not being paid out.
 */
int cli_run_withdraw_reject(struct cli *cli)
{
    const char *withdraw_id = cli->words[2];
    const char *memo = cli_option(cli, "memo");
    const char *operator_name = cli_option(cli, "operator");
    if (!cli_is_withdraw_id(withdraw_id)) {
        return cli_fail(CLI_EXIT_USAGE, "bad withdrawal id '%s' (32 digits)", withdraw_id);
    }
    if (!withdraw_memo_valid(memo)) {
        return cli_fail(CLI_EXIT_USAGE,
                        "bad --memo (1 to %d bytes of UTF-8, no control characters, not blank)",
                        MEMO_BYTES_MAX);
    }
    if (operator_name != NULL && !withdraw_operator_name_valid(operator_name)) {
        return cli_fail(CLI_EXIT_USAGE, "bad --operator (1 to %d letters, digits and . _ @ -)",
                        OPERATOR_NAME_BYTES_MAX);
    }
    int exit_code = cli_open_store(cli);
    if (exit_code != CLI_EXIT_OK) {
        return exit_code;
    }
    struct withdraw_reject request = {
        .withdraw_id = withdraw_id,
        .operator_name = operator_name != NULL ? operator_name : "",
        .memo = memo,
        .now_ms = time_now_ms(),
    };
    char history_id[HISTORY_ID_LENGTH + 1];
    if (!id_sortable_new(request.now_ms, history_id)) {
        return cli_fail(CLI_EXIT_FAILURE, "the random source failed");
    }
    request.history_id = history_id;
    struct withdrawal withdrawal;
    cash_result result = store_withdraw_reject(cli->store, &request, &withdrawal);
    if (result != CASH_OK) {
        return cli_fail_lifecycle(result, withdraw_id, "rejected");
    }
    return cli_print_withdrawal(cli, &withdrawal);
}

static json_t *cli_event_json(const struct withdraw_event *event)
{
    char date[ISO8601_BYTES_MAX];
    iso8601_format(event->created_ms, date);
    return json_pack("{s:I, s:s, s:s?, s:s, s:s?, s:s}", "seq", (json_int_t)event->seq, "actor",
                     event->actor, "from",
                     event->has_from ? withdraw_status_name(event->from) : NULL, "to",
                     withdraw_status_name(event->to), "memo",
                     event->memo[0] != '\0' ? event->memo : NULL, "dateCreated", date);
}

static void cli_show_text(const struct withdrawal *w, const struct withdraw_event *events,
                          size_t count)
{
    char date[ISO8601_BYTES_MAX];
    printf("%s %s confirmedCount=%lld processing=%s total=%lld fee=%lld amount=%lld account=%s\n",
           w->withdraw_id, withdraw_status_name(w->status), (long long)w->confirmed_count,
           w->is_processing ? "yes" : "no", (long long)w->total_amount_won, (long long)w->fee_won,
           (long long)w->amount_won, w->account_id);
    for (size_t i = 0; i < count; i++) {
        const struct withdraw_event *event = &events[i];
        iso8601_format(event->created_ms, date);
        printf("%lld %s %s %s -> %s %s\n", (long long)event->seq, date, event->actor,
               event->has_from ? withdraw_status_name(event->from) : "-",
               withdraw_status_name(event->to), event->memo);
    }
}

/* cashctl withdraw show WITHDRAW_ID: the withdrawal and its event history, oldest first. */
int cli_run_withdraw_show(struct cli *cli)
{
    static struct withdraw_event events[CLI_EVENTS_MAX];
    const char *withdraw_id = cli->words[2];
    if (!cli_is_withdraw_id(withdraw_id)) {
        return cli_fail(CLI_EXIT_USAGE, "bad withdrawal id '%s' (32 digits)", withdraw_id);
    }
    int exit_code = cli_open_store(cli);
    if (exit_code != CLI_EXIT_OK) {
        return exit_code;
    }
    struct withdrawal withdrawal;
    size_t count = 0;
    cash_result result = store_withdraw_get(cli->store, NULL, withdraw_id, &withdrawal);
    if (result == CASH_OK) {
        result = store_withdraw_events(cli->store, withdraw_id, events, CLI_EVENTS_MAX, &count);
    }
    if (result != CASH_OK) {
        return cli_fail_store(result, "withdrawal", withdraw_id);
    }
    if (!cli->json) {
        cli_show_text(&withdrawal, events, count);
        return CLI_EXIT_OK;
    }
    json_t *list = json_array();
    for (size_t i = 0; list != NULL && i < count; i++) {
        json_array_append_new(list, cli_event_json(&events[i])); /* steals */
    }
    return cli_print_json(json_pack("{s:o, s:o?}", "withdrawal", wire_withdrawal_json(&withdrawal),
                                    "events", list)); /* both stolen */
}

#define CLI_OVERDUE_SECONDS_MAX 31536000 /* a year, as CASHD_PAYOUT_OVERDUE_SECONDS */

/*
 * cashctl withdraw stuck [--seconds N]: every withdrawal of every account processing for longer
 * than N seconds (default CASHD_PAYOUT_OVERDUE_SECONDS), newest first: one withdrawId per line,
 * or their JSON with --json.
 */
int cli_run_withdraw_stuck(struct cli *cli)
{
    static struct withdrawal page[LIST_LIMIT_MAX];
    const char *seconds_text = cli_option(cli, "seconds");
    int64_t seconds = cli->config.payout_overdue_seconds;
    if (seconds_text != NULL &&
        (!cli_amount_parse(seconds_text, &seconds) || seconds > CLI_OVERDUE_SECONDS_MAX)) {
        return cli_fail(CLI_EXIT_USAGE, "bad --seconds '%s' (1 to %d)", seconds_text,
                        CLI_OVERDUE_SECONDS_MAX);
    }
    int exit_code = cli_open_store(cli);
    if (exit_code != CLI_EXIT_OK) {
        return exit_code;
    }
    struct withdraw_query query = {.limit = LIST_LIMIT_MAX, .overdue = true};
    query.processing_started_before_ms = time_now_ms() - seconds * 1000;
    json_t *list = json_array();
    bool more = true;
    while (more && list != NULL) {
        size_t count = 0;
        cash_result result = store_withdraw_list(cli->store, &query, page, &count, query.start_key);
        if (result != CASH_OK) {
            json_decref(list);
            return cli_fail_store(result, NULL, NULL);
        }
        for (size_t i = 0; i < count; i++) {
            if (cli->json) {
                json_array_append_new(list, wire_withdrawal_json(&page[i])); /* steals */
            } else {
                puts(page[i].withdraw_id);
            }
        }
        more = query.start_key[0] != '\0';
    }
    if (cli->json) {
        return cli_print_json(list);
    }
    json_decref(list);
    return CLI_EXIT_OK;
}
