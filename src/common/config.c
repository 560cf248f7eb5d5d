#include "common/config.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define CONFIG_USAGE_BYTES_MAX      8192
#define CONFIG_KEY_FILE_NAME        "cashd.key"
#define CONFIG_SQLITE_PREFIX        "sqlite:"
#define CONFIG_ARS_SECRET_BYTES_MIN 16

enum config_kind { CONFIG_KIND_TEXT, CONFIG_KIND_NUMBER, CONFIG_KIND_LOG_LEVEL };

/* One setting: its flag, its environment variable, where it lives, its range and its default. */
struct config_setting {
    const char *flag; /* without the leading "--" */
    const char *env;
    enum config_kind kind;
    size_t offset; /* into struct config */
    int64_t min;   /* numbers only */
    int64_t max;
    const char *default_text; /* parsed like any other value by config_defaults */
    const char *help;
    const char *usage_default; /* shown by --help instead of default_text when not NULL */
};

#define TEXT(flag, env, field, default_text, help)                                                 \
    {                                                                                              \
        flag, env, CONFIG_KIND_TEXT, offsetof(struct config, field), 0, 0, default_text, help,     \
            NULL                                                                                   \
    }
#define NUMBER(flag, env, field, min, max, default_text, help)                                     \
    {                                                                                              \
        flag, env, CONFIG_KIND_NUMBER, offsetof(struct config, field), min, max, default_text,     \
            help, NULL                                                                             \
    }
#define STRINGIFY(value)   #value
#define NUMBER_TEXT(value) STRINGIFY(value)

/* SPEC 7: every setting has a default, a flag and an environment variable. */
static const struct config_setting config_settings[] = {
    TEXT("db", "CASHD_DB", db_url, "sqlite:cashd.db", "database: sqlite:PATH or postgresql://..."),
    TEXT("listen", "CASHD_LISTEN", listen, "127.0.0.1:8080", "address and port to serve HTTP on"),
    {"data-key-file", "CASHD_DATA_KEY_FILE", CONFIG_KIND_TEXT,
     offsetof(struct config, data_key_file), 0, 0, "", "file holding the data key",
     "cashd.key beside the SQLite file"},
    TEXT("mail", "CASHD_MAIL", mail, "console", "email delivery: console or smtp://host:port"),
    TEXT("mail-from", "CASHD_MAIL_FROM", mail_from, "cashd@localhost",
         "sender address of verification emails"),
    TEXT("ars-url", "CASHD_ARS_URL", ars_url, "console", "phone gateway: console or its URL"),
    TEXT("ars-secret", "CASHD_ARS_SECRET", ars_secret, "",
         "secret that signs phone gateway callbacks"),
    TEXT("bank-url", "CASHD_BANK_URL", bank_url, "",
         "bank gateway URL (empty: no automatic payout)"),
    TEXT("bank-secret", "CASHD_BANK_SECRET", bank_secret, "", "secret for the bank gateway"),
    NUMBER("fee-rate-bp", "CASHD_FEE_RATE_BP", fee_rate_bp, 0, 10000, "500",
           "fee rate in basis points of the total"),
    NUMBER("fee-fixed", "CASHD_FEE_FIXED", fee_fixed_won, 0, AMOUNT_WON_ABSOLUTE_MAX, "500",
           "fixed fee in won"),
    NUMBER("min-withdraw", "CASHD_MIN_WITHDRAW", withdraw_min_won, 1, AMOUNT_WON_ABSOLUTE_MAX,
           "1000", "smallest total of one withdrawal, won"),
    NUMBER("max-withdraw", "CASHD_MAX_WITHDRAW", withdraw_max_won, 1, AMOUNT_WON_ABSOLUTE_MAX,
           "50000000", "largest total of one withdrawal, won"),
    NUMBER("daily-limit", "CASHD_DAILY_LIMIT", daily_limit_won, 1, AMOUNT_WON_ABSOLUTE_MAX,
           "100000000", "largest total per account per Asia/Seoul day, won"),
    NUMBER("dual-confirm-at", "CASHD_DUAL_CONFIRM_AT", dual_confirm_at_won, 0,
           AMOUNT_WON_ABSOLUTE_MAX, "10000000", "totals from this amount need two operators"),
    NUMBER("verification-max-uses", "CASHD_VERIFICATION_MAX_USES", verification_max_uses, 1, 100,
           "1", "cash-writing requests one verification authorises"),
    NUMBER("verification-window-seconds", "CASHD_VERIFICATION_WINDOW_SECONDS",
           verification_window_seconds, 1, 86400, "300",
           "seconds to confirm a verification, and to use it once confirmed"),
    TEXT("mail-user", "CASHD_MAIL_USER", mail_user, "",
         "SMTP AUTH user (empty: no AUTH); prefer the environment"),
    TEXT("mail-password", "CASHD_MAIL_PASSWORD", mail_password, "",
         "SMTP AUTH password; prefer the environment"),
    TEXT("mail-ca-file", "CASHD_MAIL_CA_FILE", mail_ca_file, "",
         "CA certificates (PEM) that sign the SMTP server's (empty: the system's)"),
    NUMBER("mail-timeout-seconds", "CASHD_MAIL_TIMEOUT_SECONDS", mail_timeout_seconds, 1, 120, "10",
           "longest wait for one email's delivery"),
    NUMBER("ars-timeout-seconds", "CASHD_ARS_TIMEOUT_SECONDS", ars_timeout_seconds, 1, 120, "10",
           "longest wait for the phone gateway to take a call request"),
    NUMBER("bank-timeout-seconds", "CASHD_BANK_TIMEOUT_SECONDS", bank_timeout_seconds, 1, 120,
           "10", "longest wait for one answer of the bank gateway"),
    NUMBER("payout-lease-seconds", "CASHD_PAYOUT_LEASE_SECONDS", payout_lease_seconds, 1, 86400,
           "60", "a payout worker's claim on a withdrawal lasts this long unless renewed"),
    NUMBER("payout-poll-ms", "CASHD_PAYOUT_POLL_MS", payout_poll_ms, 10, 600000, "1000",
           "how often an idle payout worker looks for CONFIRMED withdrawals"),
    NUMBER("payout-overdue-seconds", "CASHD_PAYOUT_OVERDUE_SECONDS", payout_overdue_seconds, 1,
           31536000, "3600", "a withdrawal processing longer than this is overdue (stuck)"),
    NUMBER("verification-member-limit", "CASHD_VERIFICATION_MEMBER_LIMIT",
           verification_member_limit, 1, 100000, "5",
           "verifications one member may ask for per member window"),
    NUMBER("verification-member-window-seconds", "CASHD_VERIFICATION_MEMBER_WINDOW_SECONDS",
           verification_member_window_seconds, 1, 31 * 86400, "3600", "the member window, seconds"),
    NUMBER("verification-account-limit", "CASHD_VERIFICATION_ACCOUNT_LIMIT",
           verification_account_limit, 1, 1000000, "50",
           "verifications one account's members may ask for per account window"),
    NUMBER("verification-account-window-seconds", "CASHD_VERIFICATION_ACCOUNT_WINDOW_SECONDS",
           verification_account_window_seconds, 1, 31 * 86400, "86400",
           "the account window, seconds"),
    NUMBER("member-failures-max", "CASHD_MEMBER_FAILURES_MAX", member_failures_max, 1, 1000, "20",
           "consecutive wrong codes that lock a member out"),
    NUMBER("member-lock-seconds", "CASHD_MEMBER_LOCK_SECONDS", member_lock_seconds, 1, 7 * 86400,
           "900", "how long that lock lasts"),
    NUMBER("bank-cooling-off-hours", "CASHD_BANK_COOLING_OFF_HOURS", bank_cooling_off_hours, 0,
           8760, "24", "no withdrawal this long after a bank account change by API (0: none)"),
    NUMBER("threads", "CASHD_THREADS", threads, 1, 64, NUMBER_TEXT(HTTP_THREADS_DEFAULT),
           "HTTP worker threads"),
    {"log-level", "CASHD_LOG_LEVEL", CONFIG_KIND_LOG_LEVEL, offsetof(struct config, log_level), 0,
     0, "info", "debug, info, warn or error", NULL},
    NUMBER("db-pool", "CASHD_DB_POOL", db_pool, 1, DB_POOL_MAX, NUMBER_TEXT(DB_POOL_DEFAULT),
           "most PostgreSQL connections this process opens"),
    NUMBER("unsafe-allow-data-loss", "CASHD_UNSAFE_ALLOW_DATA_LOSS", unsafe_allow_data_loss, 0, 1,
           "0", "1: start even on a database set to lose committed transactions"),
};

#define CONFIG_SETTING_COUNT (sizeof(config_settings) / sizeof(config_settings[0]))

#undef TEXT
#undef NUMBER
#undef NUMBER_TEXT
#undef STRINGIFY

static const char *const config_log_level_names[] = {
    [LOG_DEBUG] = "debug",
    [LOG_INFO] = "info",
    [LOG_WARN] = "warn",
    [LOG_ERROR] = "error",
};

/* Bounded whole-number parser: the whole text, decimal, no overflow, within min..max. */
static bool config_parse_number(const char *text, int64_t min, int64_t max, int64_t *out)
{
    char *end = NULL;
    if (text[0] < '0' || text[0] > '9') {
        return false; /* no sign, no space: strtoll would take both */
    }
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < min || value > max) {
        return false;
    }
    *out = (int64_t)value;
    return true;
}

static bool config_parse_log_level(const char *text, int64_t *out)
{
    for (size_t i = 0; i < sizeof(config_log_level_names) / sizeof(config_log_level_names[0]);
         i++) {
        if (strcmp(text, config_log_level_names[i]) == 0) {
            *out = (int64_t)i;
            return true;
        }
    }
    return false;
}

/* Stores value into the setting's field; source names the flag or variable in why. */
static bool config_apply(struct config *config, const struct config_setting *setting,
                         const char *value, const char *source, char *why, size_t why_size)
{
    char *field = (char *)config + setting->offset;
    switch (setting->kind) {
    case CONFIG_KIND_TEXT:
        if (strlen(value) >= CONFIG_TEXT_BYTES_MAX) {
            snprintf(why, why_size, "%s: longer than %d bytes", source, CONFIG_TEXT_BYTES_MAX - 1);
            return false;
        }
        memcpy(field, value, strlen(value) + 1);
        return true;
    case CONFIG_KIND_NUMBER:
        if (!config_parse_number(value, setting->min, setting->max, (int64_t *)(void *)field)) {
            snprintf(why, why_size, "%s: must be a whole number from %lld to %lld", source,
                     (long long)setting->min, (long long)setting->max);
            return false;
        }
        return true;
    case CONFIG_KIND_LOG_LEVEL:
        if (!config_parse_log_level(value, (int64_t *)(void *)field)) {
            snprintf(why, why_size, "%s: must be debug, info, warn or error", source);
            return false;
        }
        return true;
    }
    assert(false);
    return false;
}

/* SPEC 7: the key file lives beside the SQLite file unless it is named. */
static void config_derive_key_file(struct config *config)
{
    const char *slash = NULL;
    size_t prefix_length = strlen(CONFIG_SQLITE_PREFIX);
    if (strncmp(config->db_url, CONFIG_SQLITE_PREFIX, prefix_length) == 0) {
        slash = strrchr(config->db_url + prefix_length, '/');
    }
    if (slash == NULL) {
        snprintf(config->data_key_file, sizeof(config->data_key_file), "%s", CONFIG_KEY_FILE_NAME);
        return;
    }
    const char *directory = config->db_url + prefix_length;
    int directory_length = (int)(slash - directory + 1);
    int written = snprintf(config->data_key_file, sizeof(config->data_key_file), "%.*s%s",
                           directory_length, directory, CONFIG_KEY_FILE_NAME);
    if (written < 0 || (size_t)written >= sizeof(config->data_key_file)) {
        /* The directory leaves no room for the name: fall back to the working directory. */
        snprintf(config->data_key_file, sizeof(config->data_key_file), "%s", CONFIG_KEY_FILE_NAME);
    }
}

/* Every field from its table row's default; data_key_file derived from the default database. */
void config_defaults(struct config *config)
{
    char why[256];
    memset(config, 0, sizeof(*config));
    for (size_t i = 0; i < CONFIG_SETTING_COUNT; i++) {
        bool ok = config_apply(config, &config_settings[i], config_settings[i].default_text,
                               config_settings[i].flag, why, sizeof(why));
        assert(ok); /* every default is in range */
        (void)ok;
    }
    config_derive_key_file(config);
}

static const struct config_setting *config_find_flag(const char *name, size_t name_length)
{
    for (size_t i = 0; i < CONFIG_SETTING_COUNT; i++) {
        if (strlen(config_settings[i].flag) == name_length &&
            memcmp(config_settings[i].flag, name, name_length) == 0) {
            return &config_settings[i];
        }
    }
    return NULL;
}

/* Applies every environment variable that is set; *key_file_named if CASHD_DATA_KEY_FILE was. */
static bool config_load_env(struct config *config, bool *key_file_named, char *why, size_t why_size)
{
    for (size_t i = 0; i < CONFIG_SETTING_COUNT; i++) {
        const struct config_setting *setting = &config_settings[i];
        const char *value = getenv(setting->env);
        if (value == NULL) {
            continue;
        }
        if (!config_apply(config, setting, value, setting->env, why, why_size)) {
            return false;
        }
        if (setting->offset == offsetof(struct config, data_key_file)) {
            *key_file_named = true;
        }
    }
    return true;
}

/* Applies the flags of argv[1..]; CONFIG_HELP as soon as --help is seen. */
static enum config_outcome config_load_flags(struct config *config, int argc, char **argv,
                                             bool *key_file_named, char *why, size_t why_size)
{
    for (int i = 1; i < argc; i++) {
        const char *argument = argv[i];
        if (strcmp(argument, "--help") == 0 || strcmp(argument, "-h") == 0) {
            return CONFIG_HELP;
        }
        if (strncmp(argument, "--", 2) != 0) {
            snprintf(why, why_size, "unexpected argument %.64s (see --help)", argument);
            return CONFIG_ERROR;
        }
        const char *name = argument + 2;
        const char *equals = strchr(name, '=');
        size_t name_length = equals != NULL ? (size_t)(equals - name) : strlen(name);
        const struct config_setting *setting = config_find_flag(name, name_length);
        if (setting == NULL) {
            snprintf(why, why_size, "unknown flag --%.*s (see --help)", (int)name_length, name);
            return CONFIG_ERROR;
        }
        const char *value = equals != NULL ? equals + 1 : NULL;
        if (value == NULL && i + 1 < argc) {
            i += 1;
            value = argv[i];
        }
        if (value == NULL) {
            snprintf(why, why_size, "--%s needs a value", setting->flag);
            return CONFIG_ERROR;
        }
        char source[64];
        snprintf(source, sizeof(source), "--%s", setting->flag);
        if (!config_apply(config, setting, value, source, why, why_size)) {
            return CONFIG_ERROR;
        }
        if (setting->offset == offsetof(struct config, data_key_file)) {
            *key_file_named = true;
        }
    }
    return CONFIG_OK;
}

static bool config_text_starts(const char *text, const char *prefix)
{
    return strncmp(text, prefix, strlen(prefix)) == 0;
}

/*
 * SPEC 5, 7: mail goes to the console or an smtp:// or smtps:// server; the phone gateway is the
 * console, an http:// or https:// URL, or "" (ARS off); a gateway URL needs a secret of at least
 * CONFIG_ARS_SECRET_BYTES_MIN bytes to sign with.
 */
static bool config_check_delivery(const struct config *config, char *why, size_t why_size)
{
    if (strcmp(config->mail, "console") != 0 && !config_text_starts(config->mail, "smtp://") &&
        !config_text_starts(config->mail, "smtps://")) {
        snprintf(why, why_size,
                 "CASHD_MAIL must be console, smtp://HOST:PORT or smtps://HOST:PORT");
        return false;
    }
    bool ars_url = config_text_starts(config->ars_url, "http://") ||
                   config_text_starts(config->ars_url, "https://");
    if (config->ars_url[0] != '\0' && strcmp(config->ars_url, "console") != 0 && !ars_url) {
        snprintf(why, why_size, "CASHD_ARS_URL must be console, empty (no ARS) or an http(s) URL");
        return false;
    }
    if (ars_url && strlen(config->ars_secret) < CONFIG_ARS_SECRET_BYTES_MIN) {
        snprintf(why, why_size, "CASHD_ARS_SECRET must have at least %d bytes with a gateway URL",
                 CONFIG_ARS_SECRET_BYTES_MIN);
        return false;
    }
    return true;
}

/* The environment, then the flags, then the checks across settings (maximum >= minimum,
 * delivery) and the key file derived from a sqlite db_url unless one was named. */
enum config_outcome config_load(struct config *config, int argc, char **argv, char *why,
                                size_t why_size)
{
    bool key_file_named = false;
    if (!config_load_env(config, &key_file_named, why, why_size)) {
        return CONFIG_ERROR;
    }
    enum config_outcome outcome =
        config_load_flags(config, argc, argv, &key_file_named, why, why_size);
    if (outcome != CONFIG_OK) {
        return outcome;
    }
    if (config->withdraw_max_won < config->withdraw_min_won) {
        snprintf(why, why_size,
                 "the maximum withdrawal (%lld) is below the minimum withdrawal (%lld)",
                 (long long)config->withdraw_max_won, (long long)config->withdraw_min_won);
        return CONFIG_ERROR;
    }
    if (!config_check_delivery(config, why, why_size)) {
        return CONFIG_ERROR;
    }
    if (config->data_key_file[0] == '\0' || !key_file_named) {
        config_derive_key_file(config);
    }
    return CONFIG_OK;
}

static char config_usage_text[CONFIG_USAGE_BYTES_MAX];
static pthread_once_t config_usage_once = PTHREAD_ONCE_INIT;

static void config_usage_build(void)
{
    size_t used = 0;
    int written = snprintf(config_usage_text, sizeof(config_usage_text),
                           "usage: cashd [--flag VALUE | --flag=VALUE]...\n\n"
                           "Flags win over environment variables.\n\n");
    assert(written > 0);
    used = (size_t)written;
    for (size_t i = 0; i < CONFIG_SETTING_COUNT && used < sizeof(config_usage_text); i++) {
        const struct config_setting *setting = &config_settings[i];
        const char *shown = setting->usage_default != NULL     ? setting->usage_default
                            : setting->default_text[0] != '\0' ? setting->default_text
                                                               : "(none)";
        written = snprintf(config_usage_text + used, sizeof(config_usage_text) - used,
                           "  --%-28s %s\n  %-30s env %s, default %s\n", setting->flag,
                           setting->help, "", setting->env, shown);
        assert(written > 0);
        used += (size_t)written;
    }
    if (used < sizeof(config_usage_text)) {
        snprintf(config_usage_text + used, sizeof(config_usage_text) - used, "  --%-28s %s\n",
                 "help", "print this text");
    }
}

/* Built once from the table, so that --help never forgets a setting; static storage. */
const char *config_usage(void)
{
    pthread_once(&config_usage_once, config_usage_build);
    return config_usage_text;
}
