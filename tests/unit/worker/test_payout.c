/*
 * test_payout.c - the payout worker's start and stop (worker/payout.h) without a bank gateway:
 * the bank URL and secret it refuses, and a worker started on an empty queue that stops at once.
 * Paying out through a gateway is the black-box suite's (tests/blackbox, a fake bank).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "common/crypto.h"
#include "store/store.h"
#include "worker/payout.h"

#define TEST_PATH_BYTES_MAX 512
#define TEST_SECRET         "bank-secret-of-32-bytes-or-more!"

static void config_with_bank(struct config *config, const char *url, const char *secret)
{
    config_defaults(config);
    snprintf(config->bank_url, sizeof(config->bank_url), "%s", url);
    snprintf(config->bank_secret, sizeof(config->bank_secret), "%s", secret);
    config->payout_poll_ms = 10;
}

static void test_refuses_a_url_that_is_not_http(void **state)
{
    (void)state;
    static struct config config; /* static: the config is several KiB */
    struct keyring keyring = {.key_id = ""};
    char why[256] = "";
    config_with_bank(&config, "ftp://bank.example", TEST_SECRET);
    assert_null(payout_start(&config, NULL, &keyring, why, sizeof(why)));
    assert_non_null(strstr(why, "CASHD_BANK_URL"));
}

static void test_refuses_a_short_secret(void **state)
{
    (void)state;
    static struct config config;
    struct keyring keyring = {.key_id = ""};
    char why[256] = "";
    config_with_bank(&config, "http://127.0.0.1:9", "short");
    assert_null(payout_start(&config, NULL, &keyring, why, sizeof(why)));
    assert_non_null(strstr(why, "CASHD_BANK_SECRET"));
}

static void test_starts_and_stops_on_an_empty_queue(void **state)
{
    (void)state;
    static struct config config;
    struct keyring keyring = {.key_id = ""};
    char dir[TEST_PATH_BYTES_MAX];
    char path[TEST_PATH_BYTES_MAX + 16];
    char url[TEST_PATH_BYTES_MAX + 32];
    char why[256] = "";
    struct store *store = NULL;
    int version = 0;
    const char *base = getenv("CASHD_TEST_TMP");
    if (base == NULL || base[0] == '\0') {
        base = "/tmp";
    }
    mkdir(base, 0700);
    snprintf(dir, sizeof(dir), "%s/worker-XXXXXX", base);
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/cash.db", dir);
    snprintf(url, sizeof(url), "sqlite:%s", path);
    assert_int_equal(store_open(url, &store, why, sizeof(why)), CASH_OK);
    assert_int_equal(store_migrate(store, &version), CASH_OK);

    /* Nothing is CONFIRMED: the worker only polls, and never calls the (absent) gateway. */
    config_with_bank(&config, "http://127.0.0.1:9", TEST_SECRET);
    struct payout *payout = payout_start(&config, store, &keyring, why, sizeof(why));
    assert_non_null(payout);
    usleep(50 * 1000);
    payout_stop(payout);
    payout_stop(NULL); /* allowed */

    store_close(store);
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        char file[sizeof(path) + 8];
        snprintf(file, sizeof(file), "%s%s", path, suffixes[i]);
        unlink(file);
    }
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refuses_a_url_that_is_not_http),
        cmocka_unit_test(test_refuses_a_short_secret),
        cmocka_unit_test(test_starts_and_stops_on_an_empty_queue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
