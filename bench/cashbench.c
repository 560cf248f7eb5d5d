/*
 * cashbench - a load generator for cashd that behaves as real clients do: keep-alive
 * connections, every request freshly signed (a new date and a never-used salt), writes
 * authorised by a second factor confirmed through the API beforehand.
 *
 *   cashbench setup --url HOST:PORT --keys FILE --cashd-log FILE --out FILE [--verifications N]
 *       creates N EMAIL_OTP verifications per key, reads their codes from cashd's log
 *       (CASHD_MAIL=console), confirms them, and writes "apiKey verificationId" lines to FILE.
 *   cashbench run --url HOST:PORT --scenario NAME [options]
 *       drives one scenario and prints one line of figures (key=value).
 *
 * Scenarios: balance (GET /cash/v1/balance), withdraw (POST /cash/v1/withdraw, each request on
 * the next key of the keys file), list (GET /cash/v1/withdraw?limit=20), history
 * (GET /cash/v1/balance/history?limit=20), static (GET --path without authentication: to compare
 * the engine itself with wrk on nginx).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cashbench.h"

static const struct scenario scenarios[] = {
    {"balance", "GET", "/cash/v1/balance", true, false},
    {"withdraw", "POST", "/cash/v1/withdraw", true, true},
    {"list", "GET", "/cash/v1/withdraw?limit=20", true, false},
    {"history", "GET", "/cash/v1/balance/history?limit=20", true, false},
    {"static", "GET", "/", false, false},
};

static const char usage_text[] =
    "usage: cashbench run --url HOST:PORT --scenario balance|withdraw|list|history|static\n"
    "                     [--keys FILE] [--factors FILE] [--factor-uses N] [--connections N]\n"
    "                     [--threads N] [--duration SECONDS] [--warmup SECONDS] [--rate PER_S]\n"
    "                     [--path PATH] [--amount WON] [--label TEXT]\n"
    "       cashbench setup --url HOST:PORT --keys FILE --cashd-log FILE --out FILE\n"
    "                     [--verifications N] [--connections N]\n"
    "Prints one line: label=... throughput=<2xx answers/s> p50_ms=... p90_ms=... p99_ms=...\n";

/* Prints "cashbench: <message>" on stderr; returns exit status 1. */
int bench_fail(const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    fputs("cashbench: ", stderr);
    vfprintf(stderr, format, arguments);
    fputc('\n', stderr);
    va_end(arguments);
    return 1;
}

/* The scenario called name, or NULL (cashbench.h). */
const struct scenario *bench_scenario_find(const char *name)
{
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
        if (strcmp(scenarios[i].name, name) == 0) {
            return &scenarios[i];
        }
    }
    return NULL;
}

/* A bounded decimal number; false for anything else. */
static bool parse_number(const char *text, double minimum, double maximum, double *out)
{
    char *end = NULL;
    errno = 0;
    double value = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || value < minimum || value > maximum) {
        return false;
    }
    *out = value;
    return true;
}

struct option_spec {
    const char *name;
    bool numeric;
    double minimum;
    double maximum;
};

static const struct option_spec option_specs[] = {
    {"url", false, 0, 0},
    {"scenario", false, 0, 0},
    {"keys", false, 0, 0},
    {"factors", false, 0, 0},
    {"factor-uses", true, 1, 1e9},
    {"connections", true, 1, BENCH_CONNECTIONS_MAX},
    {"threads", true, 1, BENCH_THREADS_MAX},
    {"duration", true, 0.1, 3600},
    {"warmup", true, 0, 600},
    {"rate", true, 0, 1e7},
    {"path", false, 0, 0},
    {"amount", true, 1, 1e12},
    {"label", false, 0, 0},
    {"cashd-log", false, 0, 0},
    {"out", false, 0, 0},
    {"verifications", true, 1, 100000},
};

#define OPTION_COUNT (sizeof(option_specs) / sizeof(option_specs[0]))

/* Finds --name in the table; NULL if unknown. */
static const struct option_spec *option_find(const char *name, size_t *index_out)
{
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        if (strcmp(option_specs[i].name, name) == 0) {
            *index_out = i;
            return &option_specs[i];
        }
    }
    return NULL;
}

/* Reads "--name value" pairs after the command word into options; false (reported) if bad. */
static bool options_parse(int argc, char **argv, struct bench_options *options)
{
    memset(options, 0, sizeof(*options));
    for (int i = 2; i < argc; i += 2) {
        size_t index = 0;
        const struct option_spec *spec =
            strncmp(argv[i], "--", 2) == 0 ? option_find(argv[i] + 2, &index) : NULL;
        if (spec == NULL || i + 1 >= argc) {
            bench_fail("unknown option or missing value: %s", argv[i]);
            return false;
        }
        options->text[index] = argv[i + 1];
        if (spec->numeric &&
            !parse_number(argv[i + 1], spec->minimum, spec->maximum, &options->number[index])) {
            bench_fail("--%s must be a number in %g..%g", spec->name, spec->minimum, spec->maximum);
            return false;
        }
    }
    return true;
}

/* The text of --name as given, or NULL (cashbench.h). */
const char *bench_option_text(const struct bench_options *options, const char *name)
{
    size_t index = 0;
    return option_find(name, &index) != NULL ? options->text[index] : NULL;
}

/* The checked value of the numeric option --name, or fallback (cashbench.h). */
double bench_option_number(const struct bench_options *options, const char *name, double fallback)
{
    size_t index = 0;
    if (option_find(name, &index) == NULL || options->text[index] == NULL) {
        return fallback;
    }
    return options->number[index];
}

/* Dispatches to `run` or `setup`; exit 2 for a bad command line. */
int main(int argc, char **argv)
{
    struct bench_options options;
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!options_parse(argc, argv, &options)) {
        fputs(usage_text, stderr);
        return 2;
    }
    if (strcmp(argv[1], "run") == 0) {
        return bench_command_run(&options);
    }
    if (strcmp(argv[1], "setup") == 0) {
        return bench_command_setup(&options);
    }
    fputs(usage_text, stderr);
    return 2;
}
