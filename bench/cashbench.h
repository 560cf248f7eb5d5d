/*
 * cashbench.h - what the files of the cashbench program share: the scenarios, the parsed
 * options and the two commands (cashbench.c parses, cashbench_run.c drives the load,
 * cashbench_setup.c confirms second factors through the API).
 */
#ifndef CASH_CASHBENCH_H
#define CASH_CASHBENCH_H

#include <stdbool.h>
#include <stddef.h>

#include "bench.h"

#define BENCH_OPTIONS_MAX 32

struct scenario {
    const char *name;
    const char *method;
    const char *path; /* the default; --path replaces it */
    bool signed_request;
    bool writes; /* a cash-writing request: names a verification, has a JSON body */
};

/* The options of the command line, by their index in the option table of cashbench.c. */
struct bench_options {
    const char *text[BENCH_OPTIONS_MAX];
    double number[BENCH_OPTIONS_MAX];
};

/* The value of --name as given, or NULL. */
const char *bench_option_text(const struct bench_options *options, const char *name);
/* The value of the numeric option --name (checked against its bounds), or fallback. */
double bench_option_number(const struct bench_options *options, const char *name, double fallback);

const struct scenario *bench_scenario_find(const char *name);

/* Prints "cashbench: <message>" on stderr; returns 1 (the exit status of a failure). */
int bench_fail(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* The factors file: "apiKey verificationId [usesLeft]" lines; setup writes them, every run that
 * writes takes uses from them and saves what is left, so that the next run starts there. */
struct bench_factor_file {
    struct bench_factor *entries; /* owned */
    size_t count;
};

/* Reads path; a line without usesLeft has uses_default. False (reported) if malformed. */
bool bench_factors_load(const char *path, int64_t uses_default, struct bench_factor_file *out);
/* Gives each key its factors, in file order (lines of other keys are left alone). */
bool bench_factors_attach(struct bench_factor_file *file, struct bench_key *keys, size_t key_count);
/* Writes the file back with the uses left (a new file renamed over the old one). */
bool bench_factors_save(const char *path, const struct bench_factor_file *file);
void bench_factors_free(struct bench_factor_file *file);

/* The commands; each returns the exit status. */
int bench_command_run(const struct bench_options *options);
int bench_command_setup(const struct bench_options *options);

#endif
