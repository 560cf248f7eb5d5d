#include "http/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/crypto.h>

#include "common/log.h"
#include "common/result.h"
#include "http/http_address.h"

/*
 * Each connection has one memory pool for the request line, the headers and the response
 * headers: room for the longest URL and HTTP_HEADER_BYTES_MAX of headers, plus the response's
 * headers and libmicrohttpd's bookkeeping. Headers over HTTP_HEADER_BYTES_MAX that still fit
 * get a JSON 431 from this layer; a request that does not fit at all is refused by libmicrohttpd
 * itself (414 or 431, with its own text).
 */
#define HTTP_RESPONSE_HEADER_BYTES 8192
#define HTTP_CONNECTION_MEMORY_BYTES                                                               \
    ((size_t)HTTP_URL_BYTES_MAX + HTTP_HEADER_BYTES_MAX + HTTP_RESPONSE_HEADER_BYTES)
#define HTTP_METHOD_BYTES_MAX      15
#define HTTP_LOG_MESSAGE_BYTES_MAX 512
#define HTTP_LOG_PATH_BYTES_MAX    256 /* of a path in the access log */
#define HTTP_ERROR_BODY_BYTES_MAX  256
#define HTTP_CONTENT_TYPE_JSON     "application/json; charset=utf-8"

static char http_empty_body[] = ""; /* never written: libmicrohttpd only reads it */

_Static_assert(HTTP_BODY_BYTES_MAX > 0, "a body limit");
_Static_assert(HTTP_QUERY_PARAMS_MAX > 0, "a parameter limit");

struct http_server {
    struct MHD_Daemon *daemon;
    http_handler handler;
    void *handler_context;
    pthread_mutex_t lock;
    pthread_cond_t idle;       /* signalled when requests_in_flight drops to 0 */
    size_t requests_in_flight; /* under lock */
    bool stopping;             /* under lock: http_server_stop has begun */
    unsigned port;
    char address[HTTP_ADDRESS_BYTES_MAX];
};

/* One request, from its request line until libmicrohttpd reports it completed. */
struct http_exchange {
    struct http_server *server;
    int64_t started_ms; /* monotonic clock */
    bool uri_too_long;
    bool uri_has_nul; /* "%00" in the request target */
    bool headers_too_large;
    bool framing_ambiguous; /* more than one Content-Length, or one beside Transfer-Encoding */
    bool late;              /* arrived after http_server_stop began: the handler never runs */
    bool started;           /* the access handler has seen the headers */
    char method[HTTP_METHOD_BYTES_MAX + 1];
    char *path;      /* owned copy, for the access log */
    unsigned status; /* 0 until a response is queued */
    char *body;      /* owned; HTTP_BODY_BYTES_MAX + 1 bytes once data arrives */
    size_t body_length;
    bool body_too_large;
    char *param_texts[2 * HTTP_QUERY_PARAMS_MAX]; /* owned copies of keys and values */
    size_t param_text_count;
};

static int64_t http_monotonic_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* ---- per-request state ---- */

static void http_exchange_free(struct http_exchange *exchange)
{
    if (exchange->body != NULL) {
        /* Bodies carry account numbers and verification codes. */
        OPENSSL_cleanse(exchange->body, exchange->body_length);
        free(exchange->body);
    }
    for (size_t i = 0; i < exchange->param_text_count; i++) {
        free(exchange->param_texts[i]);
    }
    free(exchange->path);
    free(exchange);
}

/* Keeps at most HTTP_BODY_BYTES_MAX bytes; past that the body is dropped but still drained.
 * False only when out of memory. */
static bool http_body_append(struct http_exchange *exchange, const char *data, size_t size)
{
    if (exchange->body_too_large) {
        return true;
    }
    if (size > HTTP_BODY_BYTES_MAX - exchange->body_length) {
        exchange->body_too_large = true;
        if (exchange->body != NULL) {
            OPENSSL_cleanse(exchange->body, exchange->body_length);
            free(exchange->body);
            exchange->body = NULL;
            exchange->body_length = 0;
        }
        return true;
    }
    if (exchange->body == NULL) {
        exchange->body = malloc(HTTP_BODY_BYTES_MAX + 1);
        if (exchange->body == NULL) {
            return false;
        }
    }
    memcpy(exchange->body + exchange->body_length, data, size);
    exchange->body_length += size;
    return true;
}

struct http_param_collector {
    struct http_exchange *exchange;
    struct http_request *request;
    bool out_of_memory;
};

/* MHD_KeyValueIterator: copies one query parameter; a parameter without '=' has the value "". */
static enum MHD_Result http_param_collect(void *context, enum MHD_ValueKind kind, const char *key,
                                          const char *value)
{
    struct http_param_collector *collector = context;
    struct http_request *request = collector->request;
    struct http_exchange *exchange = collector->exchange;
    (void)kind;
    if (request->param_count == HTTP_QUERY_PARAMS_MAX) {
        request->params_overflow = true;
        return MHD_NO;
    }
    char *key_copy = strdup(key);
    char *value_copy = strdup(value == NULL ? "" : value);
    if (key_copy == NULL || value_copy == NULL) {
        free(key_copy);
        free(value_copy);
        collector->out_of_memory = true;
        return MHD_NO;
    }
    exchange->param_texts[exchange->param_text_count++] = key_copy;
    exchange->param_texts[exchange->param_text_count++] = value_copy;
    request->params[request->param_count].key = key_copy;
    request->params[request->param_count].value = value_copy;
    request->param_count++;
    return MHD_YES;
}

/* True if the raw request target holds "%00": decoded, the path or a parameter would end at the
 * NUL and name something else than what was sent ("/cash/v1/balance%00/x", "limit=1%00x"). */
static bool http_uri_has_nul(const char *uri)
{
    for (const char *at = strchr(uri, '%'); at != NULL; at = strchr(at + 1, '%')) {
        if (at[1] == '0' && at[2] == '0') {
            return true;
        }
    }
    return false;
}

/*
 * True if the client asks leave to send a body over HTTP_BODY_BYTES_MAX ("Expect: 100-continue"
 * with a larger Content-Length, which libmicrohttpd has already checked is a number). Such a body
 * is refused before it is sent; any other too large body is read and dropped, so that the
 * connection stays usable.
 */
static bool http_declared_too_large(struct MHD_Connection *connection)
{
    const char *expect =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
    const char *declared =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (expect == NULL || strcasecmp(expect, "100-continue") != 0 || declared == NULL) {
        return false;
    }
    errno = 0;
    unsigned long long length = strtoull(declared, NULL, 10);
    return errno == ERANGE || length > HTTP_BODY_BYTES_MAX;
}

/* ---- responses ---- */

/* An error answered by this layer itself, from the result table alone (no client text in it). */
static void http_error_response(struct http_response *response, cash_result result)
{
    char text[HTTP_ERROR_BODY_BYTES_MAX];
    int length = snprintf(text, sizeof(text), "{\"errorCode\":\"%s\",\"errorMessage\":\"%s\"}",
                          result_error_code(result), result_message(result));
    response->status = result_http_status(result);
    response->body = NULL;
    response->body_length = 0;
    if (length > 0 && (size_t)length < sizeof(text)) {
        response->body = strdup(text);
        response->body_length = response->body == NULL ? 0 : (size_t)length;
    }
}

static bool http_add_headers(struct MHD_Response *reply, const struct http_response *response)
{
    if (MHD_add_response_header(reply, MHD_HTTP_HEADER_CONTENT_TYPE, HTTP_CONTENT_TYPE_JSON) !=
            MHD_YES ||
        MHD_add_response_header(reply, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES ||
        MHD_add_response_header(reply, "X-Content-Type-Options", "nosniff") != MHD_YES) {
        return false;
    }
    if (response->allow[0] != '\0' &&
        MHD_add_response_header(reply, MHD_HTTP_HEADER_ALLOW, response->allow) != MHD_YES) {
        return false;
    }
    if (response->retry_after[0] != '\0' &&
        MHD_add_response_header(reply, MHD_HTTP_HEADER_RETRY_AFTER, response->retry_after) !=
            MHD_YES) {
        return false;
    }
    if (response->idempotent_replayed &&
        MHD_add_response_header(reply, "Idempotent-Replayed", "true") != MHD_YES) {
        return false;
    }
    return true;
}

static bool http_server_stopping(struct http_server *server)
{
    pthread_mutex_lock(&server->lock);
    bool stopping = server->stopping;
    pthread_mutex_unlock(&server->lock);
    return stopping;
}

/* Queues response; takes ownership of response->body whatever happens. */
static enum MHD_Result http_send(struct MHD_Connection *connection, struct http_exchange *exchange,
                                 struct http_response *response)
{
    struct MHD_Response *reply = NULL;
    enum MHD_Result queued = MHD_NO;
    response->allow[sizeof(response->allow) - 1] = '\0';
    response->retry_after[sizeof(response->retry_after) - 1] = '\0';
    if (response->body == NULL) {
        reply = MHD_create_response_from_buffer(0, http_empty_body, MHD_RESPMEM_PERSISTENT);
    } else {
        /* MHD_RESPMEM_MUST_FREE: the reply owns the body from here and free()s it. */
        reply = MHD_create_response_from_buffer(response->body_length, response->body,
                                                MHD_RESPMEM_MUST_FREE);
        if (reply == NULL) {
            free(response->body);
        }
    }
    response->body = NULL;
    if (reply == NULL) {
        return MHD_NO;
    }
    bool added = http_add_headers(reply, response);
    if (added && http_server_stopping(exchange->server)) {
        /* A keep-alive client sends its next request elsewhere, not to a server going away. */
        added = MHD_add_response_header(reply, MHD_HTTP_HEADER_CONNECTION, "close") == MHD_YES;
    }
    if (added) {
        queued = MHD_queue_response(connection, response->status, reply);
    }
    MHD_destroy_response(reply);
    if (queued == MHD_YES) {
        exchange->status = response->status;
    }
    return queued;
}

static void http_request_fill(struct MHD_Connection *connection, struct http_exchange *exchange,
                              struct http_request *request)
{
    request->authorization =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    request->content_type =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    request->verification_id =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "X-Verification-Id");
    request->idempotency_key =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Idempotency-Key");
    request->gateway_timestamp =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "X-Cashd-Timestamp");
    request->gateway_signature =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "X-Cashd-Signature");
    request->body_too_large = exchange->body_too_large;
    if (exchange->body != NULL && !exchange->body_too_large) {
        exchange->body[exchange->body_length] = '\0';
        request->body = exchange->body;
        request->body_length = exchange->body_length;
    }
}

/* The whole request has arrived: hand it to the handler and queue its answer. */
static enum MHD_Result http_respond(struct MHD_Connection *connection,
                                    struct http_exchange *exchange, const char *url,
                                    const char *method)
{
    struct http_request request;
    struct http_response response;
    memset(&request, 0, sizeof(request));
    memset(&response, 0, sizeof(response));
    if (exchange->uri_too_long || exchange->headers_too_large) {
        http_error_response(&response,
                            exchange->uri_too_long ? CASH_URI_TOO_LONG : CASH_HEADERS_TOO_LARGE);
        return http_send(connection, exchange, &response);
    }
    if (exchange->uri_has_nul || exchange->framing_ambiguous) {
        /* A request two parsers could read two ways is refused, not guessed at. */
        http_error_response(&response, CASH_VALIDATION_ERROR);
        return http_send(connection, exchange, &response);
    }
    if (exchange->late) {
        /* Not run at all: it could otherwise commit while the server closes its connection,
         * and its client would never learn that it did. */
        http_error_response(&response, CASH_SERVICE_UNAVAILABLE);
        return http_send(connection, exchange, &response);
    }
    struct http_param_collector collector = {exchange, &request, false};
    MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, http_param_collect, &collector);
    if (collector.out_of_memory) {
        http_error_response(&response, CASH_INTERNAL_ERROR);
        return http_send(connection, exchange, &response);
    }
    request.method = method;
    request.path = url;
    http_request_fill(connection, exchange, &request);
    exchange->server->handler(exchange->server->handler_context, &request, &response);
    if (response.status < 100 || response.status > 599 || response.body == NULL) {
        log_error("the handler gave no answer to %s %.*s", exchange->method,
                  HTTP_LOG_PATH_BYTES_MAX, exchange->path);
        free(response.body);
        memset(&response, 0, sizeof(response));
        http_error_response(&response, CASH_INTERNAL_ERROR);
    }
    return http_send(connection, exchange, &response);
}

/* ---- libmicrohttpd callbacks ---- */

/* MHD_OPTION_URI_LOG_CALLBACK: the first sight of a request; its return value becomes the
 * request's context. Counts the request as in flight until http_on_completed, unless it comes
 * after http_server_stop began (late). */
static void *http_on_uri(void *context, const char *uri, struct MHD_Connection *connection)
{
    struct http_server *server = context;
    (void)connection;
    struct http_exchange *exchange = calloc(1, sizeof(*exchange));
    if (exchange == NULL) {
        return NULL;
    }
    exchange->server = server;
    exchange->started_ms = http_monotonic_ms();
    exchange->uri_too_long = strlen(uri) > HTTP_URL_BYTES_MAX;
    exchange->uri_has_nul = http_uri_has_nul(uri);
    pthread_mutex_lock(&server->lock);
    exchange->late = server->stopping;
    if (!exchange->late) {
        server->requests_in_flight++; /* a late request is not waited for: it does nothing */
    }
    pthread_mutex_unlock(&server->lock);
    return exchange;
}

/* What http_header_measure finds in the headers. */
struct http_header_tally {
    size_t bytes;
    unsigned content_lengths;
    unsigned transfer_encodings;
};

/* MHD_KeyValueIterator: adds the bytes of one "Name: value\r\n" header line, and counts the
 * headers that frame the body. */
static enum MHD_Result http_header_measure(void *context, enum MHD_ValueKind kind, const char *key,
                                           const char *value)
{
    struct http_header_tally *tally = context;
    (void)kind;
    tally->bytes += strlen(key) + (value == NULL ? 0 : strlen(value)) + 4;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        tally->content_lengths++;
    }
    if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        tally->transfer_encodings++;
    }
    return MHD_YES;
}

static bool http_exchange_start(struct MHD_Connection *connection, struct http_exchange *exchange,
                                const char *url, const char *method)
{
    struct http_header_tally tally = {0, 0, 0};
    MHD_get_connection_values(connection, MHD_HEADER_KIND, http_header_measure, &tally);
    exchange->headers_too_large = tally.bytes > HTTP_HEADER_BYTES_MAX;
    /* RFC 9112 6.3: such a request may be read differently by a proxy in front (smuggling). */
    exchange->framing_ambiguous =
        tally.content_lengths > 1 || (tally.content_lengths > 0 && tally.transfer_encodings > 0);
    exchange->body_too_large = http_declared_too_large(connection);
    exchange->started = true;
    snprintf(exchange->method, sizeof(exchange->method), "%s", method);
    exchange->path = strdup(url);
    return exchange->path != NULL;
}

/*
 * MHD_AccessHandlerCallback, the usual pattern: the first call only notes the request (queuing a
 * response there would close the connection), the next ones receive the body, and the last one
 * (no more data) answers.
 */
static enum MHD_Result http_on_request(void *context, struct MHD_Connection *connection,
                                       const char *url, const char *method, const char *version,
                                       const char *upload_data, size_t *upload_data_size,
                                       void **request_context)
{
    struct http_exchange *exchange = *request_context;
    (void)context;
    (void)version;
    if (exchange == NULL) {
        return MHD_NO; /* out of memory at the request line: close the connection */
    }
    if (!exchange->started) {
        if (!http_exchange_start(connection, exchange, url, method)) {
            return MHD_NO;
        }
        /* Refused before any body is read: libmicrohttpd then sends no "100 Continue", reads no
         * body, and closes the connection after the answer. */
        if (exchange->body_too_large || exchange->framing_ambiguous) {
            return http_respond(connection, exchange, url, method);
        }
        return MHD_YES;
    }
    if (exchange->status != 0) {
        *upload_data_size = 0; /* answered already: the rest of the body is dropped */
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        bool kept = http_body_append(exchange, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return kept ? MHD_YES : MHD_NO;
    }
    return http_respond(connection, exchange, url, method);
}

/* MHD_OPTION_NOTIFY_COMPLETED: writes the access log line and frees the request's state. */
static void http_on_completed(void *context, struct MHD_Connection *connection,
                              void **request_context, enum MHD_RequestTerminationCode reason)
{
    struct http_server *server = context;
    struct http_exchange *exchange = *request_context;
    (void)connection;
    if (exchange == NULL) {
        return;
    }
    *request_context = NULL;
    if (exchange->started) {
        int64_t elapsed_ms = http_monotonic_ms() - exchange->started_ms;
        log_info("%s %.*s %u %" PRId64 "ms%s", exchange->method, HTTP_LOG_PATH_BYTES_MAX,
                 exchange->path == NULL ? "-" : exchange->path, exchange->status, elapsed_ms,
                 reason == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection ended early)");
    }
    bool late = exchange->late;
    http_exchange_free(exchange);
    if (late) {
        return;
    }
    pthread_mutex_lock(&server->lock);
    server->requests_in_flight--;
    if (server->requests_in_flight == 0) {
        pthread_cond_broadcast(&server->idle);
    }
    pthread_mutex_unlock(&server->lock);
}

/* MHD_OPTION_EXTERNAL_LOGGER: libmicrohttpd's own errors go to the log, one line each. */
__attribute__((format(printf, 2, 0))) static void
http_on_mhd_error(void *context, const char *format, va_list arguments)
{
    char message[HTTP_LOG_MESSAGE_BYTES_MAX];
    (void)context;
    int length = vsnprintf(message, sizeof(message), format, arguments);
    if (length < 0) {
        return;
    }
    size_t end = strlen(message);
    while (end > 0 && (message[end - 1] == '\n' || message[end - 1] == '\r')) {
        message[--end] = '\0';
    }
    /* A client closing an idle keep-alive connection is routine, not a warning. */
    if (strstr(message, "closed by remote side") != NULL) {
        log_debug("http: %s", message);
        return;
    }
    log_warn("http: %s", message);
}

/* ---- start and stop ---- */

static bool http_sync_init(struct http_server *server)
{
    pthread_condattr_t attributes;
    if (pthread_mutex_init(&server->lock, NULL) != 0) {
        return false;
    }
    if (pthread_condattr_init(&attributes) != 0) {
        goto out_destroy_lock;
    }
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    int made = pthread_cond_init(&server->idle, &attributes);
    pthread_condattr_destroy(&attributes);
    if (made != 0) {
        goto out_destroy_lock;
    }
    return true;
out_destroy_lock:
    pthread_mutex_destroy(&server->lock);
    return false;
}

static void http_sync_deinit(struct http_server *server)
{
    pthread_cond_destroy(&server->idle);
    pthread_mutex_destroy(&server->lock);
}

/* Resolves the host and port of options->listen to one socket address (the first one). */
static struct addrinfo *http_resolve(const char *listen, char *why, size_t why_size)
{
    char host[HTTP_HOST_BYTES_MAX + 1];
    char port_text[8];
    unsigned port = 0;
    struct addrinfo hints;
    struct addrinfo *found = NULL;
    if (!http_address_parse(listen, host, &port, why, why_size)) {
        return NULL;
    }
    snprintf(port_text, sizeof(port_text), "%u", port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int failed = getaddrinfo(host, port_text, &hints, &found);
    if (failed != 0) {
        snprintf(why, why_size, "listen address %s: %s", listen, gai_strerror(failed));
        return NULL;
    }
    return found;
}

static uint16_t http_address_port(const struct addrinfo *address)
{
    if (address->ai_family == AF_INET6) {
        const struct sockaddr_in6 *ipv6 = (const void *)address->ai_addr;
        return ntohs(ipv6->sin6_port);
    }
    const struct sockaddr_in *ipv4 = (const void *)address->ai_addr;
    return ntohs(ipv4->sin_port);
}

static struct MHD_Daemon *http_daemon_start(struct http_server *server,
                                            const struct addrinfo *address, unsigned threads)
{
    /*
     * poll(), not epoll: with epoll, libmicrohttpd 0.9.75 misses a client that sends part of a
     * request and hangs up at once; the connection then stays open (CLOSE_WAIT) until the idle
     * timeout, holding a connection slot and the shutdown drain (test_shutdown.py).
     */
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC | MHD_USE_POLL;
    if (address->ai_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    /* One thread is the polling thread itself: libmicrohttpd takes a pool of 2 or more only. */
    struct MHD_OptionItem pool[] = {
        {MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    /* The port argument only names the port in libmicrohttpd's messages: SOCK_ADDR binds. */
    uint16_t port = http_address_port(address);
    /* The logger comes first so that errors about the other options reach it. */
    return MHD_start_daemon(
        flags, port, NULL, NULL, http_on_request, server, MHD_OPTION_EXTERNAL_LOGGER,
        http_on_mhd_error, server, MHD_OPTION_SOCK_ADDR, address->ai_addr, MHD_OPTION_ARRAY,
        threads > 1 ? pool : pool + 1, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)HTTP_CONNECTION_TIMEOUT_SECONDS, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)HTTP_CONNECTIONS_MAX, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)HTTP_CONNECTION_MEMORY_BYTES, MHD_OPTION_URI_LOG_CALLBACK, http_on_uri, server,
        MHD_OPTION_NOTIFY_COMPLETED, http_on_completed, server, MHD_OPTION_END);
}

/* "HOST:PORT" or "[HOST]:PORT" from the resolved address and the port actually bound. */
static void http_address_format(struct http_server *server, const struct addrinfo *address)
{
    char host[NI_MAXHOST];
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(server->daemon, MHD_DAEMON_INFO_BIND_PORT);
    server->port = info == NULL ? 0 : info->port;
    if (getnameinfo(address->ai_addr, address->ai_addrlen, host, sizeof(host), NULL, 0,
                    NI_NUMERICHOST) != 0) {
        snprintf(host, sizeof(host), "?");
    }
    if (address->ai_family == AF_INET6) {
        snprintf(server->address, sizeof(server->address), "[%.45s]:%u", host, server->port);
    } else {
        snprintf(server->address, sizeof(server->address), "%.45s:%u", host, server->port);
    }
}

struct http_server *http_server_start(const struct http_server_options *options, char *why,
                                      size_t why_size)
{
    struct addrinfo *address = NULL;
    struct http_server *server = calloc(1, sizeof(*server));
    if (server == NULL) {
        snprintf(why, why_size, "out of memory");
        return NULL;
    }
    server->handler = options->handler;
    server->handler_context = options->handler_context;
    if (!http_sync_init(server)) {
        snprintf(why, why_size, "cannot create the HTTP server's lock");
        goto out_free_server;
    }
    address = http_resolve(options->listen, why, why_size);
    if (address == NULL) {
        goto out_deinit_sync;
    }
    server->daemon = http_daemon_start(server, address, options->threads);
    if (server->daemon == NULL) {
        snprintf(why, why_size, "cannot listen on %s (the reason is logged above)",
                 options->listen);
        goto out_free_address;
    }
    http_address_format(server, address);
    freeaddrinfo(address);
    return server;
out_free_address:
    freeaddrinfo(address);
out_deinit_sync:
    http_sync_deinit(server);
out_free_server:
    free(server);
    return NULL;
}

unsigned http_server_port(const struct http_server *server)
{
    return server->port;
}

const char *http_server_address(const struct http_server *server)
{
    return server->address;
}

/* Waits until no request is in flight, or HTTP_CONNECTION_TIMEOUT_SECONDS have passed: a request
 * still running by then is one whose client stalls, and it would be timed out anyway. */
static void http_drain(struct http_server *server)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += HTTP_CONNECTION_TIMEOUT_SECONDS;
    pthread_mutex_lock(&server->lock);
    while (server->requests_in_flight > 0) {
        int waited = pthread_cond_timedwait(&server->idle, &server->lock, &deadline);
        if (waited == ETIMEDOUT) {
            log_warn("http: %zu requests still in flight at shutdown", server->requests_in_flight);
            break;
        }
    }
    pthread_mutex_unlock(&server->lock);
}

void http_server_stop(struct http_server *server)
{
    if (server == NULL) {
        return;
    }
    /* Stop accepting first, let the requests in flight finish, then stop the threads. A request
     * that arrives on an open connection from now on is answered 503 without running. */
    pthread_mutex_lock(&server->lock);
    server->stopping = true;
    pthread_mutex_unlock(&server->lock);
    MHD_socket listen_socket = MHD_quiesce_daemon(server->daemon);
    http_drain(server);
    MHD_stop_daemon(server->daemon);
    if (listen_socket != MHD_INVALID_SOCKET) {
        close(listen_socket); /* a quiesced daemon leaves its listening socket to us */
    }
    http_sync_deinit(server);
    free(server);
}
