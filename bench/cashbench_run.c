/*
 * cashbench_run.c - `cashbench run`: one scenario, many keep-alive connections over a few
 * threads (each with its own epoll loop, its own signer and its own copies of the keys), then
 * one line of figures on stdout.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cashbench.h"

#define RUN_DURATION_SECONDS_DEFAULT 5.0
#define RUN_CONNECTIONS_DEFAULT      16
#define RUN_AMOUNT_WON_DEFAULT       1000
#define RUN_FACTOR_USES_DEFAULT      100
#define RUN_EXIT_ANSWER_ERRORS       3

struct run_config {
    const struct scenario *scenario;
    const char *path;
    const char *label;
    struct bench_target target;
    size_t connections;
    unsigned threads;
    double duration_seconds;
    double warmup_seconds;
    double rate_per_second;
    int64_t amount_won;
    int64_t factor_uses;
};

struct run_thread {
    const struct run_config *config;
    unsigned index;
    pthread_t thread;
    pthread_barrier_t *barrier;
    struct bench_signer signer;
    struct bench_key *keys; /* owned copies: a MAC context serves one thread only */
    size_t key_count;
    size_t key_next;
    size_t connections;
    struct bench_loop_stats stats;
    int first_error_status; /* of the first non-2xx answer, for the report */
    bool ok;
    char why[256];
};

/* ---- keys per thread ---- */

/* Copies key for one thread, with the verifications j where j % threads == index when split. */
static bool key_copy(const struct bench_key *key, unsigned threads, unsigned index,
                     bool split_factors, struct bench_key *out)
{
    *out = *key;
    out->factors = NULL;
    out->factor_count = 0;
    out->factor_next = 0;
    out->mac = EVP_MAC_CTX_dup(key->mac);
    if (out->mac == NULL) {
        return false;
    }
    if (key->factor_count == 0) {
        return true;
    }
    out->factors = calloc(key->factor_count, sizeof(*out->factors));
    if (out->factors == NULL) {
        return false;
    }
    for (size_t j = 0; j < key->factor_count; j++) {
        if (!split_factors || j % threads == index) {
            out->factors[out->factor_count++] = key->factors[j];
        }
    }
    return true;
}

/*
 * Gives the thread its keys: key i goes to thread i % threads when there are enough keys;
 * otherwise every thread signs with every key and the verifications are split between them.
 */
static bool thread_keys_assign(struct run_thread *thread, const struct bench_key *keys,
                               size_t key_count)
{
    unsigned threads = thread->config->threads;
    bool split = key_count < threads;
    thread->keys = calloc(key_count, sizeof(*thread->keys));
    if (thread->keys == NULL) {
        return false;
    }
    for (size_t i = 0; i < key_count; i++) {
        if (!split && i % threads != thread->index) {
            continue;
        }
        if (!key_copy(&keys[i], threads, thread->index, split, &thread->keys[thread->key_count])) {
            return false;
        }
        thread->key_count++;
    }
    return thread->key_count > 0;
}

static void thread_keys_free(struct run_thread *thread)
{
    for (size_t i = 0; i < thread->key_count; i++) {
        EVP_MAC_CTX_free(thread->keys[i].mac);
        free(thread->keys[i].factors);
        OPENSSL_cleanse(thread->keys[i].api_secret, sizeof(thread->keys[i].api_secret));
    }
    free(thread->keys);
    thread->keys = NULL;
    thread->key_count = 0;
}

/* ---- requests ---- */

__attribute__((format(printf, 3, 4))) static size_t request_format(char *out, size_t out_size,
                                                                   const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    int length = vsnprintf(out, out_size, format, arguments);
    va_end(arguments);
    return length > 0 && (size_t)length < out_size ? (size_t)length : 0;
}

/*
 * The X-Verification-Id header line naming a verification with a use left, or "" when none is
 * left (the server then takes the member's oldest usable one, if any). A use counts as taken
 * when the request is sent, whatever the answer: the count never promises more than is left.
 */
static void factor_header(struct bench_key *key, char *out, size_t out_size)
{
    out[0] = '\0';
    while (key->factor_next < key->factor_count && key->factors[key->factor_next]->uses_left <= 0) {
        key->factor_next++;
    }
    if (key->factor_next == key->factor_count) {
        return;
    }
    struct bench_factor *factor = key->factors[key->factor_next];
    snprintf(out, out_size, "X-Verification-Id: %s\r\n", factor->verification_id);
    factor->uses_left--;
}

static size_t run_next(void *context, char *out, size_t out_size, uint64_t *tag_out)
{
    struct run_thread *thread = context;
    const struct run_config *config = thread->config;
    const char *host = config->target.host;
    *tag_out = 0;
    if (!config->scenario->signed_request) {
        return request_format(out, out_size, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", config->path,
                              host);
    }
    struct bench_key *key = &thread->keys[thread->key_next];
    thread->key_next = (thread->key_next + 1) % thread->key_count;
    char authorization[BENCH_AUTHORIZATION_BYTES_MAX];
    if (bench_sign(&thread->signer, key, authorization, sizeof(authorization)) == 0) {
        return 0;
    }
    if (!config->scenario->writes) {
        return request_format(out, out_size,
                              "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\n\r\n",
                              config->scenario->method, config->path, host, authorization);
    }
    char factor[96];
    char body[64];
    factor_header(key, factor, sizeof(factor));
    int body_length = snprintf(body, sizeof(body), "{\"amount\":%" PRId64 "}", config->amount_won);
    return request_format(out, out_size,
                          "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\n%s"
                          "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                          config->scenario->method, config->path, host, authorization, factor,
                          body_length, body);
}

static void run_done(void *context, const struct bench_answer *answer)
{
    struct run_thread *thread = context;
    if ((answer->status < 200 || answer->status > 299) && thread->first_error_status == 0) {
        thread->first_error_status = answer->status == 0 ? -1 : answer->status;
    }
}

/* ---- threads ---- */

static void *run_thread_main(void *argument)
{
    struct run_thread *thread = argument;
    const struct run_config *config = thread->config;
    struct bench_loop_options options = {
        .target = &config->target,
        .connections = thread->connections,
        .rate_per_second = config->rate_per_second / config->threads,
    };
    struct bench_loop *loop = bench_loop_open(&options, thread->why, sizeof(thread->why));
    /* Everyone waits here, failed or not, so that all threads start together. */
    pthread_barrier_wait(thread->barrier);
    if (loop == NULL) {
        return NULL;
    }
    int64_t record_from_ns = bench_now_ns() + (int64_t)(config->warmup_seconds * 1e9);
    bench_loop_schedule(loop, record_from_ns,
                        record_from_ns + (int64_t)(config->duration_seconds * 1e9));
    struct bench_source source = {.next = run_next, .done = run_done, .context = thread};
    thread->ok = bench_loop_run(loop, &source, &thread->stats, thread->why, sizeof(thread->why));
    bench_loop_free(loop);
    return NULL;
}

/* Prints the merged figures of all threads; returns the exit status. */
static int run_report(const struct run_config *config, struct run_thread *threads)
{
    struct bench_loop_stats total = {.reconnects = 0};
    int first_error_status = 0;
    for (unsigned t = 0; t < config->threads; t++) {
        for (size_t c = 0; c < BENCH_STATUS_CLASSES; c++) {
            total.status_counts[c] += threads[t].stats.status_counts[c];
        }
        total.reconnects += threads[t].stats.reconnects;
        total.requests_sent += threads[t].stats.requests_sent;
        if (first_error_status == 0) {
            first_error_status = threads[t].first_error_status;
        }
        if (!bench_latencies_merge(&total.latencies, &threads[t].stats.latencies)) {
            return bench_fail("out of memory merging latencies");
        }
    }
    bench_latencies_sort(&total.latencies);
    uint64_t ok = total.status_counts[2];
    uint64_t errors = total.status_counts[0] + total.status_counts[1] + total.status_counts[3] +
                      total.status_counts[4] + total.status_counts[5];
    printf("label=%s scenario=%s connections=%zu threads=%u rate_target=%.0f seconds=%.3f"
           " sent=%" PRIu64 " reconnects=%" PRIu64 " ok=%" PRIu64 " errors=%" PRIu64
           " s4xx=%" PRIu64 " s5xx=%" PRIu64 " lost=%" PRIu64
           " first_error=%d throughput=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
           config->label, config->scenario->name, config->connections, config->threads,
           config->rate_per_second, config->duration_seconds, total.requests_sent, total.reconnects,
           ok, errors, total.status_counts[4], total.status_counts[5], total.status_counts[0],
           first_error_status, (double)ok / config->duration_seconds,
           bench_latencies_quantile_ms(&total.latencies, 0.50),
           bench_latencies_quantile_ms(&total.latencies, 0.90),
           bench_latencies_quantile_ms(&total.latencies, 0.99),
           bench_latencies_quantile_ms(&total.latencies, 1.0));
    fflush(stdout);
    bench_loop_stats_deinit(&total);
    if (ok == 0) {
        return bench_fail("no request succeeded (first error status %d)", first_error_status);
    }
    return errors > 0 ? RUN_EXIT_ANSWER_ERRORS : 0;
}

/* Starts the threads, waits for them, reports. */
static int run_threads(const struct run_config *config, const struct bench_key *keys,
                       size_t key_count)
{
    struct run_thread threads[BENCH_THREADS_MAX];
    pthread_barrier_t barrier;
    int status = 1;
    unsigned started = 0;
    memset(threads, 0, sizeof(threads));
    pthread_barrier_init(&barrier, NULL, config->threads);
    for (unsigned t = 0; t < config->threads; t++) {
        struct run_thread *thread = &threads[t];
        thread->config = config;
        thread->index = t;
        thread->barrier = &barrier;
        thread->connections = config->connections / config->threads +
                              (t < config->connections % config->threads ? 1 : 0);
        if (!bench_signer_init(&thread->signer, t) ||
            (key_count > 0 && !thread_keys_assign(thread, keys, key_count))) {
            bench_fail("cannot prepare thread %u (random source or memory)", t);
            goto out_free;
        }
    }
    for (; started < config->threads; started++) {
        if (pthread_create(&threads[started].thread, NULL, run_thread_main, &threads[started]) !=
            0) {
            bench_fail("cannot start thread %u", started);
            abort(); /* the others would wait at the barrier forever */
        }
    }
    status = 0;
    for (unsigned t = 0; t < started; t++) {
        pthread_join(threads[t].thread, NULL);
        if (!threads[t].ok) {
            status = bench_fail("thread %u: %s", t, threads[t].why);
        }
    }
    if (status == 0) {
        status = run_report(config, threads);
    }
out_free:
    for (unsigned t = 0; t < config->threads; t++) {
        thread_keys_free(&threads[t]);
        bench_loop_stats_deinit(&threads[t].stats);
    }
    pthread_barrier_destroy(&barrier);
    return status;
}

/* Reads the options into config; false (reported) when something is missing or wrong. */
static bool run_config_read(const struct bench_options *options, struct run_config *config)
{
    char why[256];
    const char *url = bench_option_text(options, "url");
    const char *scenario = bench_option_text(options, "scenario");
    if (url == NULL || scenario == NULL) {
        bench_fail("run needs --url and --scenario");
        return false;
    }
    config->scenario = bench_scenario_find(scenario);
    if (config->scenario == NULL) {
        bench_fail("unknown scenario %s", scenario);
        return false;
    }
    if (!bench_target_parse(url, &config->target, why, sizeof(why))) {
        bench_fail("%s", why);
        return false;
    }
    const char *path = bench_option_text(options, "path");
    const char *label = bench_option_text(options, "label");
    config->path = path != NULL ? path : config->scenario->path;
    config->label = label != NULL ? label : config->scenario->name;
    config->connections =
        (size_t)bench_option_number(options, "connections", RUN_CONNECTIONS_DEFAULT);
    config->threads = (unsigned)bench_option_number(options, "threads", 1);
    config->duration_seconds =
        bench_option_number(options, "duration", RUN_DURATION_SECONDS_DEFAULT);
    config->warmup_seconds = bench_option_number(options, "warmup", 0);
    config->rate_per_second = bench_option_number(options, "rate", 0);
    config->amount_won = (int64_t)bench_option_number(options, "amount", RUN_AMOUNT_WON_DEFAULT);
    config->factor_uses =
        (int64_t)bench_option_number(options, "factor-uses", RUN_FACTOR_USES_DEFAULT);
    if (config->threads > config->connections) {
        config->threads = (unsigned)config->connections;
    }
    return true;
}

/*
 * `cashbench run`: loads keys and factors, drives the scenario, prints its line, saves the
 * factors left; exit 0, 1 (failure), 2 (usage) or 3 (some answers failed) (cashbench.h).
 */
int bench_command_run(const struct bench_options *options)
{
    struct run_config config;
    struct bench_key *keys = NULL;
    size_t key_count = 0;
    char why[256];
    memset(&config, 0, sizeof(config));
    if (!run_config_read(options, &config)) {
        return 2;
    }
    const char *keys_path = bench_option_text(options, "keys");
    if (config.scenario->signed_request) {
        if (keys_path == NULL) {
            return bench_fail("scenario %s needs --keys", config.scenario->name);
        }
        if (!bench_keys_load(keys_path, &keys, &key_count, why, sizeof(why))) {
            return bench_fail("%s", why);
        }
    }
    const char *factors_path = bench_option_text(options, "factors");
    struct bench_factor_file factors = {.count = 0};
    int status = 1;
    if (factors_path != NULL && (!bench_factors_load(factors_path, config.factor_uses, &factors) ||
                                 !bench_factors_attach(&factors, keys, key_count))) {
        goto out_free;
    }
    status = run_threads(&config, keys, key_count);
    if (factors_path != NULL && !bench_factors_save(factors_path, &factors)) {
        status = 1;
    }
out_free:
    bench_factors_free(&factors);
    bench_keys_free(keys, key_count);
    return status;
}
