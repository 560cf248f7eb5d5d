/*
 * cashd - the cash-withdrawal API server (SPEC). Loads the configuration and the data key, opens
 * the store, serves HTTP until SIGTERM or SIGINT, then finishes the requests in flight and exits.
 *
 * Exit status: 0 after a clean stop or --help, 2 for a bad command line or environment, 1 when it
 * cannot start (key file, database, listening address).
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/config.h"
#include "common/crypto.h"
#include "common/log.h"
#include "http/http.h"
#include "store/store.h"
#include "worker/payout.h"

#define CASHD_WHY_BYTES_MAX 512
#define CASHD_EXIT_USAGE    2
#define CASHD_EXIT_START    1

/* Everything cashd holds while it runs; released in reverse order by cashd_stop. */
struct cashd {
    struct config config;
    struct keyring keyring;
    bool keyring_loaded;
    struct payout *payout; /* SPEC 4: the payout worker, when CASHD_BANK_URL is set */
    struct store *store;
    struct api *api;
    struct http_server *server;
};

/*
 * SIGTERM and SIGINT are blocked in every thread (the mask is inherited by the threads started
 * later) and taken synchronously by sigwait in main. SIGPIPE is ignored: a client that goes away
 * must not end the server.
 */
static bool cashd_signals_block(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    if (pthread_sigmask(SIG_BLOCK, set, NULL) != 0) {
        return false;
    }
    return signal(SIGPIPE, SIG_IGN) != SIG_ERR;
}

static enum log_level cashd_log_level(int64_t level)
{
    if (level <= LOG_DEBUG) {
        return LOG_DEBUG;
    }
    if (level >= LOG_ERROR) {
        return LOG_ERROR;
    }
    return (enum log_level)level;
}

/*
 * SPEC 7: a database set to lose committed transactions (SQLite synchronous below FULL,
 * PostgreSQL fsync or synchronous_commit off) is refused unless the operator said
 * --unsafe-allow-data-loss=1 (CASHD_UNSAFE_ALLOW_DATA_LOSS=1); then it is only warned about.
 */
static bool cashd_durability_check(struct cashd *cashd, char *why, size_t why_size)
{
    char unsafe[CASHD_WHY_BYTES_MAX] = "";
    cash_result result = store_durability_check(cashd->store, unsafe, sizeof(unsafe));
    if (result == CASH_OK) {
        return true;
    }
    if (result != CASH_VALIDATION_ERROR) {
        snprintf(why, why_size, "cannot check the database's durability: %s",
                 result_message(result));
        return false;
    }
    if (cashd->config.unsafe_allow_data_loss == 1) {
        log_warn("%s; starting anyway (--unsafe-allow-data-loss)", unsafe);
        return true;
    }
    snprintf(why, why_size,
             "%s; fix the database, or pass --unsafe-allow-data-loss=1 to accept losing data",
             unsafe);
    return false;
}

/*
 * Opens the store and brings its schema up to date. cashctl init does the same; cashd runs the
 * migrations too because they are idempotent and cheap when there is nothing to do, and a server
 * started on an older schema must not write rows the schema does not expect.
 */
static bool cashd_store_open(struct cashd *cashd, char *why, size_t why_size)
{
    int version = 0;
    const struct store_options options = {.pool_size = cashd->config.db_pool};
    cash_result result =
        store_open_options(cashd->config.db_url, &options, &cashd->store, why, why_size);
    if (result != CASH_OK) {
        if (why[0] == '\0') {
            snprintf(why, why_size, "cannot open the database: %s", result_message(result));
        }
        return false;
    }
    result = store_migrate(cashd->store, &version);
    if (result != CASH_OK) {
        snprintf(why, why_size, "cannot migrate the database schema: %s", result_message(result));
        return false;
    }
    log_info("database schema version %d", version);
    return cashd_durability_check(cashd, why, why_size);
}

static bool cashd_start(struct cashd *cashd, char *why, size_t why_size)
{
    /* SPEC 7: refuses a missing, short, or group- or world-accessible key file. */
    if (!keyring_load(cashd->config.data_key_file, &cashd->keyring, why, why_size)) {
        return false;
    }
    cashd->keyring_loaded = true;
    if (!cashd_store_open(cashd, why, why_size)) {
        return false;
    }
    cashd->api = api_new(&cashd->config, cashd->store, &cashd->keyring);
    if (cashd->api == NULL) {
        snprintf(why, why_size, "out of memory");
        return false;
    }
    struct http_server_options options = {
        .listen = cashd->config.listen,
        .threads = (unsigned)cashd->config.threads,
        .handler = api_handle,
        .handler_context = cashd->api,
    };
    cashd->server = http_server_start(&options, why, why_size);
    if (cashd->server == NULL) {
        return false;
    }
    /* Tests started with port 0 read the real port from this line. */
    log_info("cashd listening on %s", http_server_address(cashd->server));
    if (cashd->config.bank_url[0] != '\0') {
        cashd->payout = payout_start(&cashd->config, cashd->store, &cashd->keyring, why, why_size);
        if (cashd->payout == NULL) {
            return false;
        }
    }
    return true;
}

static void cashd_stop(struct cashd *cashd)
{
    payout_stop(cashd->payout); /* finishes its gateway request in flight first */
    http_server_stop(cashd->server); /* finishes the requests in flight first */
    api_free(cashd->api);
    if (cashd->store != NULL) {
        store_close(cashd->store);
    }
    if (cashd->keyring_loaded) {
        keyring_wipe(&cashd->keyring);
    }
}

static int cashd_wait(const sigset_t *set)
{
    int received = 0;
    for (;;) {
        if (sigwait(set, &received) == 0 && (received == SIGTERM || received == SIGINT)) {
            return received;
        }
    }
}

int main(int argc, char **argv)
{
    static struct cashd cashd; /* static: the config alone is several KiB */
    char why[CASHD_WHY_BYTES_MAX] = "";
    sigset_t signals;
    if (!cashd_signals_block(&signals)) {
        fprintf(stderr, "cashd: cannot set up signal handling\n");
        return CASHD_EXIT_START;
    }
    config_defaults(&cashd.config);
    enum config_outcome outcome = config_load(&cashd.config, argc, argv, why, sizeof(why));
    if (outcome == CONFIG_HELP) {
        fputs(config_usage(), stdout);
        return 0;
    }
    if (outcome == CONFIG_ERROR) {
        fprintf(stderr, "cashd: %s\n", why);
        return CASHD_EXIT_USAGE;
    }
    log_set_level(cashd_log_level(cashd.config.log_level));
    if (!cashd_start(&cashd, why, sizeof(why))) {
        log_error("cashd cannot start: %s", why);
        cashd_stop(&cashd);
        return CASHD_EXIT_START;
    }
    int received = cashd_wait(&signals);
    log_info("cashd stopping (signal %d)", received);
    cashd_stop(&cashd);
    log_info("cashd stopped");
    return 0;
}
