/*
 * http.h - the HTTP layer on libmicrohttpd. It knows nothing about money: it reads a request
 * (method, path, decoded query parameters, the few headers cashd uses, a body up to
 * HTTP_BODY_BYTES_MAX), hands it to one handler, and sends back the handler's status, JSON text and
 * headers. Connections idle longer than HTTP_CONNECTION_TIMEOUT_SECONDS are closed.
 */
#ifndef CASH_HTTP_H
#define CASH_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "common/limits.h"

/* One decoded query parameter, NUL-terminated; owned by the HTTP layer for the request's life. */
struct http_param {
    const char *key;
    const char *value;
};

struct http_request {
    const char *method;
    const char *path; /* decoded path, without the query string */
    struct http_param params[HTTP_QUERY_PARAMS_MAX];
    size_t param_count;
    bool params_overflow;          /* more than HTTP_QUERY_PARAMS_MAX parameters were sent */
    const char *authorization;     /* header values, NULL when absent */
    const char *content_type;
    const char *verification_id;   /* X-Verification-Id */
    const char *idempotency_key;   /* Idempotency-Key */
    const char *gateway_timestamp; /* X-Cashd-Timestamp: a gateway's signed callback */
    const char *gateway_signature; /* X-Cashd-Signature */
    const char *body;              /* NUL-terminated copy; NULL when there is no body */
    size_t body_length;
    bool body_too_large;           /* more than HTTP_BODY_BYTES_MAX arrived: the body is dropped */
};

#define HTTP_EXTRA_HEADER_BYTES_MAX 128

/* Filled by the handler. body is malloc'd JSON text that the HTTP layer frees after sending. */
struct http_response {
    unsigned status;
    char *body;
    size_t body_length;
    char allow[HTTP_EXTRA_HEADER_BYTES_MAX];       /* "Allow" header for 405, "" for none */
    char retry_after[HTTP_EXTRA_HEADER_BYTES_MAX]; /* "Retry-After" header, "" for none */
    bool idempotent_replayed; /* "Idempotent-Replayed: true": a kept answer sent again */
};

typedef void (*http_handler)(void *context, const struct http_request *request,
                             struct http_response *response);

struct http_server;

struct http_server_options {
    const char *listen; /* "HOST:PORT"; port 0 picks a free port */
    unsigned threads;   /* thread pool size */
    http_handler handler;
    void *handler_context;
};

/* Starts listening and serving on background threads. NULL with a reason in why on failure. */
struct http_server *http_server_start(const struct http_server_options *options, char *why,
                                      size_t why_size);
/* The port actually bound (useful with port 0). */
unsigned http_server_port(const struct http_server *server);
/* The address actually bound, "HOST:PORT" or "[HOST]:PORT" with numeric host and the real port;
 * static storage inside server, valid until http_server_stop. */
const char *http_server_address(const struct http_server *server);
/* Stops accepting, finishes the requests in flight, and frees the server. */
void http_server_stop(struct http_server *server);

#endif
