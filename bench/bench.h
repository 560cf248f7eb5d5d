/*
 * bench.h - what the programs of bench/ share: the monotonic clock, latency records, request
 * signing as a real client does it, and the keep-alive HTTP load engine (epoll + http_parser).
 *
 * The engine runs in the calling thread: one epoll set, many keep-alive connections, each with at
 * most one request in flight (no pipelining, as an HTTP/1.1 client library would). A source says
 * what to send next and hears every answer; the engine measures.
 */
#ifndef CASH_BENCH_H
#define CASH_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/evp.h>

#define BENCH_REQUEST_BYTES_MAX       2048
#define BENCH_BODY_BYTES_MAX          (256 * 1024) /* an answer kept whole (set-up only) */
#define BENCH_READ_BYTES              (64 * 1024)
#define BENCH_CONNECTIONS_MAX         4096
#define BENCH_THREADS_MAX             16
#define BENCH_LATENCIES_MAX           (256u * 1024 * 1024)
#define BENCH_HOST_BYTES_MAX          256
#define BENCH_EVENTS_PER_WAIT         256
#define BENCH_STATUS_CLASSES          6 /* index status / 100; 0 = no answer (connection lost) */
#define BENCH_ACCOUNT_ID_LENGTH       14
#define BENCH_API_KEY_LENGTH          16
#define BENCH_API_SECRET_BYTES_MAX    64
#define BENCH_VERIFICATION_ID_LENGTH  32
#define BENCH_AUTHORIZATION_BYTES_MAX 256

#define BENCH_NS_PER_SECOND 1000000000LL
#define BENCH_NS_PER_MS     1000000LL

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t bench_now_ns(void);
/* Sleeps until the monotonic clock reaches deadline_ns. */
void bench_sleep_until(int64_t deadline_ns);

/* ---- latencies: every answer's, in microseconds; percentiles are exact ---- */

struct bench_latencies {
    uint32_t *micros; /* owned */
    size_t count;
    size_t capacity;
};

/* Appends one latency; false when out of memory or past BENCH_LATENCIES_MAX. */
bool bench_latencies_add(struct bench_latencies *latencies, int64_t latency_ns);
/* Appends every latency of from to into; false when out of memory. */
bool bench_latencies_merge(struct bench_latencies *into, const struct bench_latencies *from);
/* Sorts the records so that percentiles can be read. */
void bench_latencies_sort(struct bench_latencies *latencies);
/* The fraction-quantile (0..1) in milliseconds of sorted records (nearest rank); 0 if none. */
double bench_latencies_quantile_ms(const struct bench_latencies *latencies, double fraction);
void bench_latencies_free(struct bench_latencies *latencies);

/* ---- signing (SPEC 1): HMAC-SHA256(secret, date + salt), hex, as the official SDKs do ---- */

/* A confirmed verification and how many writes it still allows, as far as this client knows. */
struct bench_factor {
    char api_key[BENCH_API_KEY_LENGTH + 1];
    char verification_id[BENCH_VERIFICATION_ID_LENGTH + 1];
    int64_t uses_left;
};

/* One API key of the data set, read from a keys file "accountId memberId apiKey apiSecret". */
struct bench_key {
    char account_id[BENCH_ACCOUNT_ID_LENGTH + 1];
    char member_id[BENCH_ACCOUNT_ID_LENGTH + 1];
    char api_key[BENCH_API_KEY_LENGTH + 1];
    char api_secret[BENCH_API_SECRET_BYTES_MAX + 1];
    EVP_MAC_CTX *mac; /* owned; keyed once with the secret, re-initialised per request */
    /* The verifications that its writes name in X-Verification-Id, used in order. The array
     * is owned; the factors are borrowed from the factors file (each used by one thread only). */
    struct bench_factor **factors;
    size_t factor_count;
    size_t factor_next;
};

/*
 * Reads a keys file into a new array (*keys_out, owned by the caller, released with
 * bench_keys_free); false with a reason in why for a missing file or a malformed line.
 */
bool bench_keys_load(const char *path, struct bench_key **keys_out, size_t *count_out, char *why,
                     size_t why_size);
void bench_keys_free(struct bench_key *keys, size_t count);

/* The state of one signing thread: the cached date text and the salt counter. */
struct bench_signer {
    char salt_prefix[16]; /* random per run and thread, so that salts never repeat */
    uint64_t salt_counter;
    int64_t date_ms;
    char date[40];
};

/* Prepares a signer; thread_index goes into every salt. False if the random source fails. */
bool bench_signer_init(struct bench_signer *signer, unsigned thread_index);
/*
 * Writes a fresh Authorization header value for key (a new date and a never-used salt) into out;
 * returns its length, or 0 if it does not fit or the MAC fails.
 */
size_t bench_sign(struct bench_signer *signer, struct bench_key *key, char *out, size_t out_size);

/* ---- the HTTP engine ---- */

struct bench_target {
    struct sockaddr_storage address;
    socklen_t address_length;
    char host[BENCH_HOST_BYTES_MAX]; /* for the Host header */
};

/* Resolves "HOST:PORT" (numeric or a name). False with a reason in why. */
bool bench_target_parse(const char *text, struct bench_target *out, char *why, size_t why_size);

struct bench_answer {
    uint64_t tag;     /* what the source gave with the request */
    int status;       /* 0 when the connection was lost before an answer */
    const char *body; /* NULL unless the loop keeps bodies */
    size_t body_length;
    int64_t latency_ns;
};

/*
 * What to send. next writes one complete request into out and returns its length, with a tag of
 * the source's choosing; 0 means no more work (the connection goes idle for good). done hears
 * every answer (may be NULL).
 */
struct bench_source {
    size_t (*next)(void *context, char *out, size_t out_size, uint64_t *tag_out);
    void (*done)(void *context, const struct bench_answer *answer);
    void *context;
};

struct bench_loop_options {
    const struct bench_target *target;
    size_t connections;
    int64_t record_from_ns; /* answers to requests started earlier are not counted (warm-up) */
    int64_t end_ns;         /* 0: run until the source has no more work */
    double rate_per_second; /* 0: closed loop; else requests are scheduled at this rate */
    bool keep_bodies;
};

struct bench_loop_stats {
    uint64_t status_counts[BENCH_STATUS_CLASSES];
    uint64_t reconnects;
    uint64_t requests_sent;
    struct bench_latencies latencies; /* of 2xx answers */
};

struct bench_loop;

/* Opens the connections (blocking connects); NULL with a reason in why. */
struct bench_loop *bench_loop_open(const struct bench_loop_options *options, char *why,
                                   size_t why_size);
/* Sets (or moves) the measuring window after the connections are open. */
void bench_loop_schedule(struct bench_loop *loop, int64_t record_from_ns, int64_t end_ns);
/*
 * Drives the load until options->end_ns (or until the source runs dry and nothing is in flight).
 * In rate mode each request's latency counts from the moment it was scheduled, so that a slow
 * server cannot hide its queue (no coordinated omission). False only for a fatal error (why).
 */
bool bench_loop_run(struct bench_loop *loop, const struct bench_source *source,
                    struct bench_loop_stats *stats, char *why, size_t why_size);
/* Closes the connections and frees the loop. */
void bench_loop_free(struct bench_loop *loop);

/* Releases the latencies of stats. */
void bench_loop_stats_deinit(struct bench_loop_stats *stats);

#endif
