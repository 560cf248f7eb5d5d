/*
 * cashbench_setup.c - `cashbench setup`: the second factor of SPEC 5 done through the API, as a
 * user would, before a write scenario runs. For every key it creates EMAIL_OTP verifications,
 * reads each code from cashd's log (CASHD_MAIL=console writes
 * "verification <id> code <code> for <email> (console delivery)"), confirms it, and writes
 * "apiKey verificationId" lines that `cashbench run --factors` reads.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "cashbench.h"

#define SETUP_CONNECTIONS_DEFAULT 8
#define SETUP_CODE_WAIT_NS        (60 * BENCH_NS_PER_SECOND)
#define SETUP_CODE_POLL_NS        (50 * BENCH_NS_PER_MS)
#define SETUP_CODE_DIGITS         6

enum setup_phase { SETUP_CREATE, SETUP_CONFIRM };

struct setup_item {
    size_t key_index;
    char verification_id[BENCH_VERIFICATION_ID_LENGTH + 1]; /* "" until created */
    char code[SETUP_CODE_DIGITS + 1];                       /* "" until read from the log */
    bool confirmed;
};

struct setup_state {
    struct bench_key *keys;   /* borrowed */
    struct setup_item *items; /* owned */
    size_t item_count;
    size_t item_next;
    enum setup_phase phase;
    struct bench_signer signer;
    const char *host;
    size_t failures;
    int first_failure_status;
    char first_failure_body[256];
};

/* ---- requests and answers ---- */

static size_t setup_next(void *context, char *out, size_t out_size, uint64_t *tag_out)
{
    struct setup_state *state = context;
    while (state->item_next < state->item_count) {
        size_t index = state->item_next++;
        struct setup_item *item = &state->items[index];
        if (state->phase == SETUP_CONFIRM && item->code[0] == '\0') {
            continue;
        }
        char authorization[BENCH_AUTHORIZATION_BYTES_MAX];
        char path[96];
        char body[64];
        if (bench_sign(&state->signer, &state->keys[item->key_index], authorization,
                       sizeof(authorization)) == 0) {
            return 0;
        }
        if (state->phase == SETUP_CREATE) {
            snprintf(path, sizeof(path), "/cash/v1/verifications");
            snprintf(body, sizeof(body), "{\"method\":\"EMAIL_OTP\"}");
        } else {
            snprintf(path, sizeof(path), "/cash/v1/verifications/%s/confirm",
                     item->verification_id);
            snprintf(body, sizeof(body), "{\"code\":\"%s\"}", item->code);
        }
        *tag_out = index;
        int length = snprintf(out, out_size,
                              "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\n"
                              "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                              path, state->host, authorization, strlen(body), body);
        OPENSSL_cleanse(body, sizeof(body)); /* a code */
        return length > 0 && (size_t)length < out_size ? (size_t)length : 0;
    }
    return 0;
}

/* The verificationId of a 200 answer to a create; false if there is none. */
static bool setup_read_id(const char *body, char out[BENCH_VERIFICATION_ID_LENGTH + 1])
{
    json_error_t error;
    json_t *answer = json_loads(body, 0, &error);
    const char *id = json_string_value(json_object_get(answer, "verificationId"));
    bool ok = id != NULL && strlen(id) == BENCH_VERIFICATION_ID_LENGTH;
    if (ok) {
        memcpy(out, id, BENCH_VERIFICATION_ID_LENGTH + 1);
    }
    json_decref(answer);
    return ok;
}

static void setup_done(void *context, const struct bench_answer *answer)
{
    struct setup_state *state = context;
    struct setup_item *item = &state->items[answer->tag];
    bool ok = answer->status == 200 && answer->body != NULL;
    if (ok && state->phase == SETUP_CREATE) {
        ok = setup_read_id(answer->body, item->verification_id);
    }
    if (ok && state->phase == SETUP_CONFIRM) {
        item->confirmed = strstr(answer->body, "\"CONFIRMED\"") != NULL;
        ok = item->confirmed;
    }
    if (!ok) {
        if (state->failures == 0) {
            state->first_failure_status = answer->status;
            snprintf(state->first_failure_body, sizeof(state->first_failure_body), "%.*s",
                     (int)(answer->body_length < 200 ? answer->body_length : 200),
                     answer->body != NULL ? answer->body : "");
        }
        state->failures++;
    }
}

/* Runs one phase over all items; false (reported) if the engine fails or an answer is wrong. */
static bool setup_phase_run(struct setup_state *state, enum setup_phase phase,
                            const struct bench_target *target, size_t connections)
{
    char why[256];
    struct bench_loop_options options = {
        .target = target,
        .connections = connections,
        .keep_bodies = true,
    };
    struct bench_loop_stats stats = {.reconnects = 0};
    state->phase = phase;
    state->item_next = 0;
    struct bench_loop *loop = bench_loop_open(&options, why, sizeof(why));
    if (loop == NULL) {
        bench_fail("%s", why);
        return false;
    }
    struct bench_source source = {.next = setup_next, .done = setup_done, .context = state};
    bool ok = bench_loop_run(loop, &source, &stats, why, sizeof(why));
    bench_loop_free(loop);
    bench_loop_stats_deinit(&stats);
    if (!ok) {
        bench_fail("%s", why);
        return false;
    }
    if (state->failures > 0) {
        bench_fail("%zu %s requests failed; the first answered %d: %s", state->failures,
                   phase == SETUP_CREATE ? "create" : "confirm", state->first_failure_status,
                   state->first_failure_body);
        return false;
    }
    return true;
}

/* ---- codes from the log ---- */

static int item_pointer_compare(const void *a, const void *b)
{
    const struct setup_item *left = *(const struct setup_item *const *)a;
    const struct setup_item *right = *(const struct setup_item *const *)b;
    return strcmp(left->verification_id, right->verification_id);
}

/* Applies one log line: the code of a verification we wait for. Returns 1 if it was new. */
static size_t setup_log_line(const char *line, struct setup_item **sorted, size_t count)
{
    const char *at = strstr(line, "verification ");
    if (at == NULL || strstr(line, "(console delivery)") == NULL) {
        return 0;
    }
    struct setup_item probe;
    char code[SETUP_CODE_DIGITS + 1];
    if (sscanf(at, "verification %32[0-9] code %6[0-9] for ", probe.verification_id, code) != 2) {
        return 0;
    }
    struct setup_item *probe_pointer = &probe;
    struct setup_item **found =
        bsearch(&probe_pointer, sorted, count, sizeof(*sorted), item_pointer_compare);
    size_t fresh = 0;
    if (found != NULL && (*found)->code[0] == '\0') {
        memcpy((*found)->code, code, sizeof(code));
        fresh = 1;
    }
    OPENSSL_cleanse(code, sizeof(code));
    return fresh;
}

/* Reads the whole lines of the log from *offset on; returns how many codes were new. */
static size_t setup_log_scan(FILE *log, long *offset, struct setup_item **sorted, size_t count)
{
    char *line = NULL;
    size_t line_size = 0;
    size_t fresh = 0;
    clearerr(log);
    if (fseek(log, *offset, SEEK_SET) != 0) {
        return 0;
    }
    for (;;) {
        ssize_t length = getline(&line, &line_size, log);
        if (length <= 0 || line[length - 1] != '\n') {
            break; /* the end, or a line still being written: read it next time */
        }
        *offset += (long)length;
        fresh += setup_log_line(line, sorted, count);
    }
    if (line != NULL) {
        OPENSSL_cleanse(line, line_size);
    }
    free(line);
    return fresh;
}

/* Waits until the log holds the code of every created verification. */
static bool setup_read_codes(struct setup_state *state, const char *log_path)
{
    struct setup_item **sorted = calloc(state->item_count, sizeof(*sorted));
    FILE *log = fopen(log_path, "r");
    bool ok = false;
    if (sorted == NULL || log == NULL) {
        bench_fail("cannot read %s: %s", log_path, log == NULL ? strerror(errno) : "no memory");
        goto out_close;
    }
    for (size_t i = 0; i < state->item_count; i++) {
        sorted[i] = &state->items[i];
    }
    qsort(sorted, state->item_count, sizeof(*sorted), item_pointer_compare);
    long offset = 0;
    size_t found = 0;
    int64_t deadline_ns = bench_now_ns() + SETUP_CODE_WAIT_NS;
    for (;;) {
        found += setup_log_scan(log, &offset, sorted, state->item_count);
        if (found == state->item_count || bench_now_ns() > deadline_ns) {
            break;
        }
        bench_sleep_until(bench_now_ns() + SETUP_CODE_POLL_NS);
    }
    ok = found == state->item_count;
    if (!ok) {
        bench_fail("%zu of %zu codes are not in %s (is CASHD_MAIL=console and the log level info?)",
                   state->item_count - found, state->item_count, log_path);
    }
out_close:
    if (log != NULL) {
        fclose(log);
    }
    free(sorted);
    return ok;
}

/* ---- the command ---- */

static bool setup_write(const struct setup_state *state, const char *path)
{
    FILE *out = fopen(path, "w");
    if (out == NULL) {
        bench_fail("cannot write %s: %s", path, strerror(errno));
        return false;
    }
    for (size_t i = 0; i < state->item_count; i++) {
        const struct setup_item *item = &state->items[i];
        fprintf(out, "%s %s\n", state->keys[item->key_index].api_key, item->verification_id);
    }
    if (fclose(out) != 0) {
        bench_fail("cannot write %s", path);
        return false;
    }
    return true;
}

/* Creates, reads and confirms the verifications of state->items. */
static bool setup_all(struct setup_state *state, const struct bench_options *options,
                      const struct bench_target *target)
{
    size_t connections =
        (size_t)bench_option_number(options, "connections", SETUP_CONNECTIONS_DEFAULT);
    if (connections > state->item_count) {
        connections = state->item_count;
    }
    return setup_phase_run(state, SETUP_CREATE, target, connections) &&
           setup_read_codes(state, bench_option_text(options, "cashd-log")) &&
           setup_phase_run(state, SETUP_CONFIRM, target, connections) &&
           setup_write(state, bench_option_text(options, "out"));
}

/*
 * `cashbench setup`: creates, reads and confirms the verifications and writes the factors
 * file; exit 0 or 1 (cashbench.h).
 */
int bench_command_setup(const struct bench_options *options)
{
    const char *url = bench_option_text(options, "url");
    const char *keys_path = bench_option_text(options, "keys");
    char why[256];
    if (url == NULL || keys_path == NULL || bench_option_text(options, "cashd-log") == NULL ||
        bench_option_text(options, "out") == NULL) {
        return bench_fail("setup needs --url, --keys, --cashd-log and --out");
    }
    struct bench_target target;
    struct setup_state state;
    memset(&state, 0, sizeof(state));
    size_t key_count = 0;
    if (!bench_target_parse(url, &target, why, sizeof(why)) ||
        !bench_keys_load(keys_path, &state.keys, &key_count, why, sizeof(why))) {
        return bench_fail("%s", why);
    }
    size_t per_key = (size_t)bench_option_number(options, "verifications", 1);
    int status = 1;
    int64_t started_ns = bench_now_ns();
    state.host = target.host;
    state.item_count = key_count * per_key;
    state.items = calloc(state.item_count, sizeof(*state.items));
    if (state.items == NULL || !bench_signer_init(&state.signer, 0)) {
        bench_fail("out of memory or no random source");
        goto out_free;
    }
    for (size_t i = 0; i < state.item_count; i++) {
        state.items[i].key_index = i / per_key;
    }
    if (setup_all(&state, options, &target)) {
        printf("setup: %zu verifications confirmed for %zu keys in %.2f s\n", state.item_count,
               key_count, (double)(bench_now_ns() - started_ns) / 1e9);
        status = 0;
    }
out_free:
    if (state.items != NULL) {
        OPENSSL_cleanse(state.items, state.item_count * sizeof(*state.items));
    }
    free(state.items);
    bench_keys_free(state.keys, key_count);
    return status;
}

/* ---- the factors file ---- */

/* Reads a factors file into out (owned by the caller); false, reported, if malformed. */
bool bench_factors_load(const char *path, int64_t uses_default, struct bench_factor_file *out)
{
    FILE *file = fopen(path, "r");
    char line[256];
    size_t capacity = 0;
    bool ok = true;
    memset(out, 0, sizeof(*out));
    if (file == NULL) {
        bench_fail("cannot open %s: %s", path, strerror(errno));
        return false;
    }
    while (ok && fgets(line, sizeof(line), file) != NULL) {
        struct bench_factor factor = {.uses_left = uses_default};
        char api_key[64];
        char id[64];
        int fields = sscanf(line, "%63s %63s %" SCNd64, api_key, id, &factor.uses_left);
        ok = fields >= 2 && strlen(api_key) == BENCH_API_KEY_LENGTH &&
             strlen(id) == BENCH_VERIFICATION_ID_LENGTH && factor.uses_left >= 0;
        if (ok && out->count == capacity) {
            capacity = capacity == 0 ? 256 : capacity * 2;
            struct bench_factor *grown = realloc(out->entries, capacity * sizeof(*grown));
            ok = grown != NULL;
            out->entries = grown != NULL ? grown : out->entries;
        }
        if (ok) {
            memcpy(factor.api_key, api_key, sizeof(factor.api_key));
            memcpy(factor.verification_id, id, sizeof(factor.verification_id));
            out->entries[out->count++] = factor;
        }
    }
    fclose(file);
    if (!ok) {
        bench_fail("%s: expected \"apiKey verificationId [usesLeft]\" lines", path);
        bench_factors_free(out);
    }
    return ok;
}

/* Appends factor to key's list; false when out of memory. */
static bool key_factor_add(struct bench_key *key, struct bench_factor *factor)
{
    void *grown = realloc(key->factors, (key->factor_count + 1) * sizeof(*key->factors));
    if (grown == NULL) {
        return false;
    }
    key->factors = grown;
    key->factors[key->factor_count++] = factor;
    return true;
}

/* Points each key at its factors in file order; false when out of memory. */
bool bench_factors_attach(struct bench_factor_file *file, struct bench_key *keys, size_t key_count)
{
    for (size_t f = 0; f < file->count; f++) {
        for (size_t i = 0; i < key_count; i++) {
            if (strcmp(keys[i].api_key, file->entries[f].api_key) == 0) {
                if (!key_factor_add(&keys[i], &file->entries[f])) {
                    bench_fail("out of memory");
                    return false;
                }
                break;
            }
        }
    }
    return true;
}

/* Writes the factors with their uses left, atomically (a new file renamed over path). */
bool bench_factors_save(const char *path, const struct bench_factor_file *file)
{
    char temporary[4096];
    snprintf(temporary, sizeof(temporary), "%s.new", path);
    FILE *out = fopen(temporary, "w");
    if (out == NULL) {
        bench_fail("cannot write %s: %s", temporary, strerror(errno));
        return false;
    }
    for (size_t f = 0; f < file->count; f++) {
        const struct bench_factor *factor = &file->entries[f];
        fprintf(out, "%s %s %" PRId64 "\n", factor->api_key, factor->verification_id,
                factor->uses_left);
    }
    if (fclose(out) != 0 || rename(temporary, path) != 0) {
        bench_fail("cannot replace %s: %s", path, strerror(errno));
        return false;
    }
    return true;
}

/* Releases the entries of file. */
void bench_factors_free(struct bench_factor_file *file)
{
    free(file->entries);
    memset(file, 0, sizeof(*file));
}
