/*
 * bench_util.c - the clock, latency records, the keys file, request signing and address
 * resolution of bench.h. Signing is written here from the vendor's rule (SPEC 1), not taken from
 * cashd: a benchmark client must not share the server's mistakes.
 */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "bench.h"

/* CLOCK_MONOTONIC in nanoseconds (bench.h). */
int64_t bench_now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * BENCH_NS_PER_SECOND + now.tv_nsec;
}

/* Sleeps until the monotonic clock reaches deadline_ns, through signals (bench.h). */
void bench_sleep_until(int64_t deadline_ns)
{
    struct timespec at = {
        .tv_sec = (time_t)(deadline_ns / BENCH_NS_PER_SECOND),
        .tv_nsec = (long)(deadline_ns % BENCH_NS_PER_SECOND),
    };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == EINTR) {
    }
}

/* ---- latencies ---- */

static bool latencies_reserve(struct bench_latencies *latencies, size_t more)
{
    if (latencies->count + more <= latencies->capacity) {
        return true;
    }
    if (latencies->count + more > BENCH_LATENCIES_MAX) {
        return false;
    }
    size_t capacity = latencies->capacity == 0 ? 4096 : latencies->capacity;
    while (capacity < latencies->count + more) {
        capacity *= 2;
    }
    uint32_t *grown = realloc(latencies->micros, capacity * sizeof(*grown));
    if (grown == NULL) {
        return false;
    }
    latencies->micros = grown;
    latencies->capacity = capacity;
    return true;
}

/* Appends one latency in microseconds; false when out of memory or full (bench.h). */
bool bench_latencies_add(struct bench_latencies *latencies, int64_t latency_ns)
{
    if (!latencies_reserve(latencies, 1)) {
        return false;
    }
    int64_t micros = latency_ns < 0 ? 0 : latency_ns / 1000;
    latencies->micros[latencies->count++] = micros > UINT32_MAX ? UINT32_MAX : (uint32_t)micros;
    return true;
}

/* Appends every record of from to into; false when out of memory (bench.h). */
bool bench_latencies_merge(struct bench_latencies *into, const struct bench_latencies *from)
{
    if (from->count == 0) {
        return true;
    }
    if (!latencies_reserve(into, from->count)) {
        return false;
    }
    memcpy(into->micros + into->count, from->micros, from->count * sizeof(*from->micros));
    into->count += from->count;
    return true;
}

static int latencies_compare(const void *a, const void *b)
{
    uint32_t left = *(const uint32_t *)a;
    uint32_t right = *(const uint32_t *)b;
    return (left > right) - (left < right);
}

/* Sorts the records so that quantiles can be read (bench.h). */
void bench_latencies_sort(struct bench_latencies *latencies)
{
    if (latencies->count > 1) {
        qsort(latencies->micros, latencies->count, sizeof(*latencies->micros), latencies_compare);
    }
}

/* The nearest-rank quantile of sorted records in milliseconds; 0 if none (bench.h). */
double bench_latencies_quantile_ms(const struct bench_latencies *latencies, double fraction)
{
    if (latencies->count == 0) {
        return 0.0;
    }
    /* Nearest rank: the smallest record with at least fraction of the records at or below it. */
    double exact = fraction * (double)latencies->count;
    size_t rank = (size_t)exact;
    if ((double)rank < exact) {
        rank++;
    }
    if (rank == 0) {
        rank = 1;
    }
    if (rank > latencies->count) {
        rank = latencies->count;
    }
    return (double)latencies->micros[rank - 1] / 1000.0;
}

/* Releases the records and empties latencies (bench.h). */
void bench_latencies_free(struct bench_latencies *latencies)
{
    free(latencies->micros);
    memset(latencies, 0, sizeof(*latencies));
}

/* ---- keys ---- */

static bool key_mac_init(struct bench_key *key)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL) {
        return false;
    }
    key->mac = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac); /* the context holds its own reference */
    if (key->mac == NULL) {
        return false;
    }
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    return EVP_MAC_init(key->mac, (const unsigned char *)key->api_secret, strlen(key->api_secret),
                        params) == 1;
}

static bool key_line_parse(const char *line, struct bench_key *key)
{
    char account_id[64];
    char member_id[64];
    char api_key[64];
    char api_secret[128];
    memset(key, 0, sizeof(*key));
    int fields = sscanf(line, "%63s %63s %63s %127s", account_id, member_id, api_key, api_secret);
    size_t secret_length = fields == 4 ? strlen(api_secret) : 0;
    bool ok = fields == 4 && strlen(account_id) == BENCH_ACCOUNT_ID_LENGTH &&
              strlen(member_id) == BENCH_ACCOUNT_ID_LENGTH &&
              strlen(api_key) == BENCH_API_KEY_LENGTH &&
              secret_length <= BENCH_API_SECRET_BYTES_MAX;
    if (ok) {
        memcpy(key->account_id, account_id, sizeof(key->account_id));
        memcpy(key->member_id, member_id, sizeof(key->member_id));
        memcpy(key->api_key, api_key, sizeof(key->api_key));
        memcpy(key->api_secret, api_secret, secret_length + 1);
    }
    OPENSSL_cleanse(api_secret, sizeof(api_secret));
    return ok && key_mac_init(key);
}

/* Appends one parsed line to *keys, growing it; false when out of memory or malformed. */
static bool keys_append(struct bench_key **keys, size_t *count, size_t *capacity, const char *line)
{
    if (*count == *capacity) {
        size_t grown_capacity = *capacity == 0 ? 64 : *capacity * 2;
        struct bench_key *grown = realloc(*keys, grown_capacity * sizeof(*grown));
        if (grown == NULL) {
            return false;
        }
        *keys = grown;
        *capacity = grown_capacity;
    }
    if (!key_line_parse(line, &(*keys)[*count])) {
        EVP_MAC_CTX_free((*keys)[*count].mac);
        return false;
    }
    (*count)++;
    return true;
}

/* Reads a keys file into a new array owned by the caller; false with why (bench.h). */
bool bench_keys_load(const char *path, struct bench_key **keys_out, size_t *count_out, char *why,
                     size_t why_size)
{
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        snprintf(why, why_size, "cannot open %s: %s", path, strerror(errno));
        return false;
    }
    struct bench_key *keys = NULL;
    size_t count = 0;
    size_t capacity = 0;
    char line[512];
    size_t line_number = 0;
    bool ok = true;
    while (ok && fgets(line, sizeof(line), file) != NULL) {
        line_number++;
        if (line[0] == '#' || line[0] == '\n') {
            continue;
        }
        ok = keys_append(&keys, &count, &capacity, line);
        if (!ok) {
            snprintf(why, why_size, "%s:%zu: expected \"accountId memberId apiKey apiSecret\"",
                     path, line_number);
        }
    }
    OPENSSL_cleanse(line, sizeof(line));
    fclose(file);
    if (ok && count == 0) {
        snprintf(why, why_size, "%s holds no key", path);
        ok = false;
    }
    if (!ok) {
        bench_keys_free(keys, count);
        return false;
    }
    *keys_out = keys;
    *count_out = count;
    return true;
}

/* Frees keys and their MAC contexts, wiping the secrets (bench.h). */
void bench_keys_free(struct bench_key *keys, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        EVP_MAC_CTX_free(keys[i].mac);
        free(keys[i].factors);
        OPENSSL_cleanse(keys[i].api_secret, sizeof(keys[i].api_secret));
    }
    free(keys);
}

/* ---- signing ---- */

static const char bench_alphanumeric[] = "abcdefghijklmnopqrstuvwxyz0123456789";

/* A signer with a random salt prefix for thread_index; false if RAND fails (bench.h). */
bool bench_signer_init(struct bench_signer *signer, unsigned thread_index)
{
    unsigned char random[8];
    memset(signer, 0, sizeof(*signer));
    if (RAND_bytes(random, sizeof(random)) != 1) {
        return false;
    }
    for (size_t i = 0; i < sizeof(random); i++) {
        signer->salt_prefix[i] = bench_alphanumeric[random[i] % (sizeof(bench_alphanumeric) - 1)];
    }
    snprintf(signer->salt_prefix + sizeof(random), sizeof(signer->salt_prefix) - sizeof(random),
             "%02x", thread_index & 0xffu);
    signer->date_ms = -1;
    return true;
}

/* The current UTC time as ISO 8601 with milliseconds, formatted once per millisecond. */
static const char *signer_date(struct bench_signer *signer)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    if (now_ms != signer->date_ms) {
        struct tm parts;
        time_t seconds = (time_t)(now_ms / 1000);
        gmtime_r(&seconds, &parts);
        char whole[24];
        strftime(whole, sizeof(whole), "%Y-%m-%dT%H:%M:%S", &parts);
        snprintf(signer->date, sizeof(signer->date), "%s.%03dZ", whole, (int)(now_ms % 1000));
        signer->date_ms = now_ms;
    }
    return signer->date;
}

/* A fresh Authorization header value in out; its length, 0 on failure (bench.h). */
size_t bench_sign(struct bench_signer *signer, struct bench_key *key, char *out, size_t out_size)
{
    char salt[48];
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t mac_length = 0;
    const char *date = signer_date(signer);
    int salt_length =
        snprintf(salt, sizeof(salt), "%s%012" PRIx64, signer->salt_prefix, signer->salt_counter++);
    /* A key is re-initialised with its cached secret: no key schedule per request. */
    if (salt_length <= 0 || EVP_MAC_init(key->mac, NULL, 0, NULL) != 1 ||
        EVP_MAC_update(key->mac, (const unsigned char *)date, strlen(date)) != 1 ||
        EVP_MAC_update(key->mac, (const unsigned char *)salt, (size_t)salt_length) != 1 ||
        EVP_MAC_final(key->mac, mac, &mac_length, sizeof(mac)) != 1) {
        return 0;
    }
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < mac_length; i++) {
        hex[2 * i] = digits[mac[i] >> 4];
        hex[2 * i + 1] = digits[mac[i] & 0x0f];
    }
    hex[2 * mac_length] = '\0';
    int length = snprintf(out, out_size, "HMAC-SHA256 apiKey=%s, date=%s, salt=%s, signature=%s",
                          key->api_key, date, salt, hex);
    if (length <= 0 || (size_t)length >= out_size) {
        return 0;
    }
    return (size_t)length;
}

/* ---- addresses ---- */

/* Resolves "HOST:PORT" into out; false with why (bench.h). */
bool bench_target_parse(const char *text, struct bench_target *out, char *why, size_t why_size)
{
    memset(out, 0, sizeof(*out));
    const char *colon = strrchr(text, ':');
    if (colon == NULL || colon == text || colon[1] == '\0' ||
        (size_t)(colon - text) >= sizeof(out->host)) {
        snprintf(why, why_size, "expected HOST:PORT, got \"%s\"", text);
        return false;
    }
    char host[BENCH_HOST_BYTES_MAX];
    snprintf(host, sizeof(host), "%.*s", (int)(colon - text), text);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *found = NULL;
    int rc = getaddrinfo(host, colon + 1, &hints, &found);
    if (rc != 0 || found == NULL) {
        snprintf(why, why_size, "cannot resolve %s: %s", text, gai_strerror(rc));
        return false;
    }
    memcpy(&out->address, found->ai_addr, found->ai_addrlen);
    out->address_length = found->ai_addrlen;
    freeaddrinfo(found);
    snprintf(out->host, sizeof(out->host), "%s", text);
    return true;
}
