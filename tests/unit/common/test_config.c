#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/log.h"

static const char *const config_env_names[] = {
    "CASHD_DB",
    "CASHD_LISTEN",
    "CASHD_DATA_KEY_FILE",
    "CASHD_MAIL",
    "CASHD_MAIL_FROM",
    "CASHD_ARS_URL",
    "CASHD_ARS_SECRET",
    "CASHD_BANK_URL",
    "CASHD_BANK_SECRET",
    "CASHD_FEE_RATE_BP",
    "CASHD_FEE_FIXED",
    "CASHD_MIN_WITHDRAW",
    "CASHD_MAX_WITHDRAW",
    "CASHD_DAILY_LIMIT",
    "CASHD_DUAL_CONFIRM_AT",
    "CASHD_VERIFICATION_MAX_USES",
    "CASHD_VERIFICATION_WINDOW_SECONDS",
    "CASHD_THREADS",
    "CASHD_LOG_LEVEL",
};
#define ENV_COUNT (sizeof(config_env_names) / sizeof(config_env_names[0]))

static int clear_env(void **state)
{
    (void)state;
    for (size_t i = 0; i < ENV_COUNT; i++) {
        unsetenv(config_env_names[i]);
    }
    return 0;
}

/* Loads defaults, then the environment, then the given flags. */
static enum config_outcome load(struct config *config, int argc, const char **flags, char *why,
                                size_t why_size)
{
    char *argv[32];
    argv[0] = (char *)(uintptr_t) "cashd";
    for (int i = 0; i < argc; i++) {
        argv[i + 1] = (char *)(uintptr_t)flags[i];
    }
    argv[argc + 1] = NULL;
    config_defaults(config);
    return config_load(config, argc + 1, argv, why, why_size);
}

static void test_defaults(void **state)
{
    (void)state;
    struct config config;
    char why[256] = "";
    assert_int_equal(load(&config, 0, NULL, why, sizeof(why)), CONFIG_OK);
    assert_string_equal(config.db_url, "sqlite:cashd.db");
    assert_string_equal(config.listen, "127.0.0.1:8080");
    assert_string_equal(config.data_key_file, "cashd.key");
    assert_string_equal(config.mail, "console");
    assert_string_equal(config.ars_url, "console");
    assert_string_equal(config.bank_url, "");
    assert_int_equal(config.fee_rate_bp, 500);
    assert_int_equal(config.fee_fixed_won, 500);
    assert_int_equal(config.withdraw_min_won, 1000);
    assert_int_equal(config.withdraw_max_won, 50000000);
    assert_int_equal(config.daily_limit_won, 100000000);
    assert_int_equal(config.dual_confirm_at_won, 10000000);
    assert_int_equal(config.verification_max_uses, 1);
    assert_int_equal(config.verification_window_seconds, 300);
    assert_int_equal(config.threads, HTTP_THREADS_DEFAULT);
    assert_int_equal(config.log_level, LOG_INFO);
}

static void test_environment(void **state)
{
    (void)state;
    struct config config;
    char why[256] = "";
    setenv("CASHD_DB", "postgresql://cash@localhost/cash", 1);
    setenv("CASHD_LISTEN", "0.0.0.0:9000", 1);
    setenv("CASHD_MAIL", "smtp://mail:25", 1);
    setenv("CASHD_BANK_URL", "http://bank:8000", 1);
    setenv("CASHD_FEE_RATE_BP", "0", 1);
    setenv("CASHD_FEE_FIXED", "1000000000000", 1);
    setenv("CASHD_MIN_WITHDRAW", "1", 1);
    setenv("CASHD_MAX_WITHDRAW", "1000000000000", 1);
    setenv("CASHD_DAILY_LIMIT", "7", 1);
    setenv("CASHD_DUAL_CONFIRM_AT", "0", 1);
    setenv("CASHD_VERIFICATION_MAX_USES", "100", 1);
    setenv("CASHD_VERIFICATION_WINDOW_SECONDS", "86400", 1);
    setenv("CASHD_THREADS", "64", 1);
    setenv("CASHD_LOG_LEVEL", "debug", 1);
    assert_int_equal(load(&config, 0, NULL, why, sizeof(why)), CONFIG_OK);
    assert_string_equal(config.db_url, "postgresql://cash@localhost/cash");
    assert_string_equal(config.listen, "0.0.0.0:9000");
    assert_string_equal(config.mail, "smtp://mail:25");
    assert_string_equal(config.bank_url, "http://bank:8000");
    /* not SQLite: the key file is looked for in the working directory */
    assert_string_equal(config.data_key_file, "cashd.key");
    assert_int_equal(config.fee_rate_bp, 0);
    assert_int_equal(config.fee_fixed_won, 1000000000000LL);
    assert_int_equal(config.withdraw_min_won, 1);
    assert_int_equal(config.withdraw_max_won, 1000000000000LL);
    assert_int_equal(config.daily_limit_won, 7);
    assert_int_equal(config.dual_confirm_at_won, 0);
    assert_int_equal(config.verification_max_uses, 100);
    assert_int_equal(config.verification_window_seconds, 86400);
    assert_int_equal(config.threads, 64);
    assert_int_equal(config.log_level, LOG_DEBUG);
}

static void test_flags_override_environment(void **state)
{
    (void)state;
    struct config config;
    char why[256] = "";
    setenv("CASHD_DB", "sqlite:/env/cash.db", 1);
    setenv("CASHD_FEE_RATE_BP", "100", 1);
    setenv("CASHD_LOG_LEVEL", "error", 1);
    setenv("CASHD_ARS_SECRET", "from-env", 1);
    const char *flags[] = {"--db",
                           "sqlite:/flag/dir/cash.db",
                           "--fee-rate-bp=250",
                           "--log-level",
                           "warn",
                           "--threads=3",
                           "--mail-from",
                           "cash@example.com",
                           "--bank-secret=b=c"};
    assert_int_equal(load(&config, 9, flags, why, sizeof(why)), CONFIG_OK);
    assert_string_equal(config.db_url, "sqlite:/flag/dir/cash.db");
    assert_string_equal(config.data_key_file, "/flag/dir/cashd.key");
    assert_int_equal(config.fee_rate_bp, 250);
    assert_int_equal(config.log_level, LOG_WARN);
    assert_int_equal(config.threads, 3);
    assert_string_equal(config.mail_from, "cash@example.com");
    assert_string_equal(config.ars_secret, "from-env");
    assert_string_equal(config.bank_secret, "b=c");
}

static void test_data_key_file(void **state)
{
    (void)state;
    struct config config;
    char why[256] = "";
    const char *relative[] = {"--db", "sqlite:data/cash.db"};
    assert_int_equal(load(&config, 2, relative, why, sizeof(why)), CONFIG_OK);
    assert_string_equal(config.data_key_file, "data/cashd.key");
    const char *root[] = {"--db=sqlite:/cash.db"};
    assert_int_equal(load(&config, 1, root, why, sizeof(why)), CONFIG_OK);
    assert_string_equal(config.data_key_file, "/cashd.key");
    const char *bare[] = {"--db=sqlite:cash.db"};
    assert_int_equal(load(&config, 1, bare, why, sizeof(why)), CONFIG_OK);
    assert_string_equal(config.data_key_file, "cashd.key");
    /* a named key file is kept, from the environment or a flag */
    setenv("CASHD_DATA_KEY_FILE", "/etc/cashd/env.key", 1);
    assert_int_equal(load(&config, 2, relative, why, sizeof(why)), CONFIG_OK);
    assert_string_equal(config.data_key_file, "/etc/cashd/env.key");
    const char *named[] = {"--db", "sqlite:data/cash.db", "--data-key-file", "/k/flag.key"};
    assert_int_equal(load(&config, 4, named, why, sizeof(why)), CONFIG_OK);
    assert_string_equal(config.data_key_file, "/k/flag.key");
}

static void expect_error(int argc, const char **flags, const char *reason_part)
{
    struct config config;
    char why[256] = "";
    assert_int_equal(load(&config, argc, flags, why, sizeof(why)), CONFIG_ERROR);
    if (strstr(why, reason_part) == NULL) {
        fail_msg("reason \"%s\" lacks \"%s\"", why, reason_part);
    }
}

static void test_bad_numbers(void **state)
{
    (void)state;
    const char *cases[][2] = {
        {"--fee-rate-bp", "10001"},
        {"--fee-rate-bp", "-1"},
        {"--fee-rate-bp", "5%"},
        {"--fee-rate-bp", ""},
        {"--fee-rate-bp", " 5"},
        {"--fee-rate-bp", "+5"},
        {"--fee-rate-bp", "5.0"},
        {"--fee-rate-bp", "0x10"},
        {"--fee-fixed", "1000000000001"},
        {"--min-withdraw", "0"},
        {"--max-withdraw", "1000000000001"},
        {"--max-withdraw", "99999999999999999999999"},
        {"--daily-limit", "0"},
        {"--dual-confirm-at", "-5"},
        {"--verification-max-uses", "0"},
        {"--verification-max-uses", "101"},
        {"--verification-window-seconds", "0"},
        {"--verification-window-seconds", "86401"},
        {"--threads", "0"},
        {"--threads", "65"},
        {"--log-level", "verbose"},
        {"--log-level", "INFO"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        expect_error(2, cases[i], cases[i][0]);
    }
    /* the maximum must not be below the minimum */
    const char *crossed[] = {"--min-withdraw", "5000", "--max-withdraw", "4999"};
    expect_error(4, crossed, "minimum");
    /* environment values are checked the same way, and named */
    setenv("CASHD_THREADS", "many", 1);
    expect_error(0, NULL, "CASHD_THREADS");
    setenv("CASHD_THREADS", "", 1);
    expect_error(0, NULL, "CASHD_THREADS");
    unsetenv("CASHD_THREADS");
}

static void test_bad_flags(void **state)
{
    (void)state;
    const char *unknown[] = {"--colour", "red"};
    expect_error(2, unknown, "--colour");
    const char *positional[] = {"serve"};
    expect_error(1, positional, "serve");
    const char *missing_value[] = {"--db"};
    expect_error(1, missing_value, "--db");
    const char *single_dash[] = {"-db", "x"};
    expect_error(2, single_dash, "-db");
    char long_value[CONFIG_TEXT_BYTES_MAX + 8];
    memset(long_value, 'x', sizeof(long_value) - 1);
    long_value[sizeof(long_value) - 1] = '\0';
    const char *too_long[] = {"--listen", long_value};
    expect_error(2, too_long, "--listen");
}

static void test_help(void **state)
{
    (void)state;
    struct config config;
    char why[256] = "";
    const char *help[] = {"--threads", "4", "--help"};
    assert_int_equal(load(&config, 3, help, why, sizeof(why)), CONFIG_HELP);
    const char *usage = config_usage();
    const char *expected[] = {
        "--db",
        "CASHD_DB",
        "sqlite:cashd.db",
        "--listen",
        "127.0.0.1:8080",
        "--data-key-file",
        "CASHD_DATA_KEY_FILE",
        "--mail",
        "--mail-from",
        "--ars-url",
        "--ars-secret",
        "--bank-url",
        "--bank-secret",
        "--fee-rate-bp",
        "CASHD_FEE_RATE_BP",
        "--fee-fixed",
        "--min-withdraw",
        "--max-withdraw",
        "50000000",
        "--daily-limit",
        "100000000",
        "--dual-confirm-at",
        "CASHD_DUAL_CONFIRM_AT",
        "--verification-max-uses",
        "--verification-window-seconds",
        "CASHD_VERIFICATION_WINDOW_SECONDS",
        "--threads",
        "CASHD_THREADS",
        "--log-level",
        "CASHD_LOG_LEVEL",
        "--help",
    };
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        if (strstr(usage, expected[i]) == NULL) {
            fail_msg("usage lacks %s", expected[i]);
        }
    }
    for (size_t i = 0; i < ENV_COUNT; i++) {
        if (strstr(usage, config_env_names[i]) == NULL) {
            fail_msg("usage lacks %s", config_env_names[i]);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, clear_env),
        cmocka_unit_test_setup(test_environment, clear_env),
        cmocka_unit_test_setup(test_flags_override_environment, clear_env),
        cmocka_unit_test_setup(test_data_key_file, clear_env),
        cmocka_unit_test_setup(test_bad_numbers, clear_env),
        cmocka_unit_test_setup(test_bad_flags, clear_env),
        cmocka_unit_test_setup(test_help, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
