/*
 * The HTTP layer on a real socket: a server on 127.0.0.1, port 0, with a handler that echoes what
 * it was given. Checks the query parameters, the headers, the body limit, the 414 answer, the
 * response headers, keep-alive after a full request, and that stopping finishes a request in
 * flight. Also the listen-address parser.
 */
#define _GNU_SOURCE /* strcasestr */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "http/http.h"
#include "http/http_address.h"

#define ECHO_BYTES_MAX         4096
#define REPLY_HEADER_BYTES_MAX 4096
#define REPLY_BODY_BYTES_MAX   8192
#define CLIENT_TIMEOUT_SECONDS 20

/* ---- the handler under the server ---- */

struct echo_context {
    sem_t slow_entered;
    sem_t slow_release;
};

static void echo_append(char *out, size_t *used, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static void echo_append(char *out, size_t *used, const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    int written = vsnprintf(out + *used, ECHO_BYTES_MAX - *used, format, arguments);
    va_end(arguments);
    assert_true(written >= 0 && (size_t)written < ECHO_BYTES_MAX - *used);
    *used += (size_t)written;
}

static unsigned long body_sum(const struct http_request *request)
{
    unsigned long sum = 0;
    for (size_t i = 0; i < request->body_length; i++) {
        sum += (unsigned char)request->body[i];
    }
    return sum;
}

static void echo_handler(void *context, const struct http_request *request,
                         struct http_response *response)
{
    struct echo_context *echo = context;
    char text[ECHO_BYTES_MAX];
    size_t used = 0;
    if (strcmp(request->path, "/null") == 0) {
        response->status = 200; /* and no body: the layer must answer 500 itself */
        return;
    }
    if (strcmp(request->path, "/slow") == 0) {
        sem_post(&echo->slow_entered);
        sem_wait(&echo->slow_release);
    }
    if (strcmp(request->path, "/allow") == 0) {
        snprintf(response->allow, sizeof(response->allow), "GET, POST");
        snprintf(response->retry_after, sizeof(response->retry_after), "3");
    }
    echo_append(text, &used, "method=%s path=%s params=", request->method, request->path);
    for (size_t i = 0; i < request->param_count; i++) {
        echo_append(text, &used, "[%s|%s]", request->params[i].key, request->params[i].value);
    }
    echo_append(text, &used, " overflow=%d body=%zu:%lu:%s large=%d", request->params_overflow,
                request->body_length, body_sum(request), request->body == NULL ? "null" : "set",
                request->body_too_large);
    echo_append(text, &used, " auth=%s type=%s vid=%s idem=%s",
                request->authorization ? request->authorization : "-",
                request->content_type ? request->content_type : "-",
                request->verification_id ? request->verification_id : "-",
                request->idempotency_key ? request->idempotency_key : "-");
    response->status = 200;
    response->body = strdup(text);
    response->body_length = strlen(text);
}

/* ---- a raw HTTP/1.1 client ---- */

struct reply {
    unsigned status;
    char headers[REPLY_HEADER_BYTES_MAX];
    char body[REPLY_BODY_BYTES_MAX];
    size_t body_length;
};

static int client_connect(unsigned port)
{
    struct sockaddr_in address;
    struct timeval timeout = {CLIENT_TIMEOUT_SECONDS, 0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    memset(&address, 0, sizeof(address));
    address.sin_family = AF_INET;
    address.sin_port = htons((uint16_t)port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&address, sizeof(address)), 0);
    return fd;
}

static void client_send(int fd, const char *data, size_t length)
{
    size_t sent = 0;
    while (sent < length) {
        ssize_t n = send(fd, data + sent, length - sent, MSG_NOSIGNAL);
        assert_true(n > 0);
        sent += (size_t)n;
    }
}

/* Reads one response with a Content-Length body; false if the connection ended first. */
static bool client_read_reply(int fd, struct reply *out)
{
    char buffer[REPLY_HEADER_BYTES_MAX + REPLY_BODY_BYTES_MAX];
    size_t used = 0;
    char *end = NULL;
    memset(out, 0, sizeof(*out));
    while (end == NULL) {
        ssize_t n = recv(fd, buffer + used, sizeof(buffer) - 1 - used, 0);
        if (n <= 0) {
            return false;
        }
        used += (size_t)n;
        buffer[used] = '\0';
        end = strstr(buffer, "\r\n\r\n");
    }
    size_t header_length = (size_t)(end - buffer) + 4;
    assert_true(header_length < sizeof(out->headers));
    memcpy(out->headers, buffer, header_length);
    out->headers[header_length] = '\0';
    assert_int_equal(sscanf(out->headers, "HTTP/1.1 %u", &out->status), 1);
    const char *length_header = strcasestr(out->headers, "\r\nContent-Length:");
    assert_non_null(length_header);
    size_t content_length = strtoul(length_header + 17, NULL, 10);
    assert_true(content_length < sizeof(out->body));
    while (used - header_length < content_length) {
        ssize_t n = recv(fd, buffer + used, sizeof(buffer) - 1 - used, 0);
        if (n <= 0) {
            return false;
        }
        used += (size_t)n;
    }
    memcpy(out->body, buffer + header_length, content_length);
    out->body[content_length] = '\0';
    out->body_length = content_length;
    return true;
}

/* The value of a response header, or NULL (names compared without case). */
static const char *reply_header(const struct reply *reply, const char *name, char *out,
                                size_t out_size)
{
    char needle[128];
    snprintf(needle, sizeof(needle), "\r\n%s:", name);
    const char *found = strcasestr(reply->headers, needle);
    if (found == NULL) {
        return NULL;
    }
    found += strlen(needle);
    while (*found == ' ') {
        found++;
    }
    size_t length = strcspn(found, "\r");
    snprintf(out, out_size, "%.*s", (int)length, found);
    return out;
}

static void exchange(unsigned port, const char *request, struct reply *reply)
{
    int fd = client_connect(port);
    client_send(fd, request, strlen(request));
    assert_true(client_read_reply(fd, reply));
    close(fd);
}

/* ---- fixtures ---- */

struct fixture {
    struct echo_context echo;
    struct http_server *server;
    unsigned port;
};

static int server_up(void **state)
{
    struct fixture *fixture = calloc(1, sizeof(*fixture));
    char why[256] = "";
    assert_non_null(fixture);
    sem_init(&fixture->echo.slow_entered, 0, 0);
    sem_init(&fixture->echo.slow_release, 0, 0);
    struct http_server_options options = {"127.0.0.1:0", 2, echo_handler, &fixture->echo};
    fixture->server = http_server_start(&options, why, sizeof(why));
    if (fixture->server == NULL) {
        fail_msg("cannot start: %s", why);
    }
    fixture->port = http_server_port(fixture->server);
    *state = fixture;
    return 0;
}

static int server_down(void **state)
{
    struct fixture *fixture = *state;
    http_server_stop(fixture->server);
    sem_destroy(&fixture->echo.slow_entered);
    sem_destroy(&fixture->echo.slow_release);
    free(fixture);
    return 0;
}

/* ---- tests ---- */

static void test_port_and_address(void **state)
{
    struct fixture *fixture = *state;
    char expected[64];
    assert_true(fixture->port > 0 && fixture->port <= 65535);
    snprintf(expected, sizeof(expected), "127.0.0.1:%u", fixture->port);
    assert_string_equal(http_server_address(fixture->server), expected);
}

static void test_query_parameters(void **state)
{
    struct fixture *fixture = *state;
    struct reply reply;
    exchange(fixture->port,
             "GET /cash/v1/withdraw?a=1&b&c=x+y&d=%41%2F&a=2&e= HTTP/1.1\r\nHost: x\r\n\r\n",
             &reply);
    assert_int_equal(reply.status, 200);
    assert_non_null(strstr(reply.body, "method=GET path=/cash/v1/withdraw "
                                       "params=[a|1][b|][c|x y][d|A/][a|2][e|] overflow=0"));
    assert_non_null(strstr(reply.body, "body=0:0:null large=0"));
}

static void test_query_overflow(void **state)
{
    struct fixture *fixture = *state;
    char request[2048];
    size_t used = (size_t)snprintf(request, sizeof(request), "GET /p?");
    for (int i = 0; i <= HTTP_QUERY_PARAMS_MAX; i++) {
        used +=
            (size_t)snprintf(request + used, sizeof(request) - used, "%sk%d=v", i ? "&" : "", i);
    }
    snprintf(request + used, sizeof(request) - used, " HTTP/1.1\r\nHost: x\r\n\r\n");
    struct reply reply;
    exchange(fixture->port, request, &reply);
    assert_int_equal(reply.status, 200);
    assert_non_null(strstr(reply.body, "overflow=1"));
    assert_non_null(strstr(reply.body, "[k31|v]"));
    assert_null(strstr(reply.body, "[k32|v]"));
}

static void test_request_headers(void **state)
{
    struct fixture *fixture = *state;
    struct reply reply;
    exchange(fixture->port,
             "POST /h HTTP/1.1\r\nHost: x\r\nauthorization: HMAC-SHA256 apiKey=K\r\n"
             "Content-Type: application/json\r\nX-VERIFICATION-ID: 123\r\n"
             "Idempotency-Key: abc\r\nContent-Length: 2\r\n\r\n{}",
             &reply);
    assert_int_equal(reply.status, 200);
    assert_non_null(strstr(reply.body, "method=POST path=/h"));
    assert_non_null(strstr(reply.body, "body=2:248:set large=0"));
    assert_non_null(strstr(reply.body, "auth=HMAC-SHA256 apiKey=K type=application/json "
                                       "vid=123 idem=abc"));
}

static void test_response_headers(void **state)
{
    struct fixture *fixture = *state;
    struct reply reply;
    char value[256];
    exchange(fixture->port, "GET /allow HTTP/1.1\r\nHost: x\r\n\r\n", &reply);
    assert_int_equal(reply.status, 200);
    assert_string_equal(reply_header(&reply, "Content-Type", value, sizeof(value)),
                        "application/json; charset=utf-8");
    assert_string_equal(reply_header(&reply, "Cache-Control", value, sizeof(value)), "no-store");
    assert_string_equal(reply_header(&reply, "X-Content-Type-Options", value, sizeof(value)),
                        "nosniff");
    assert_string_equal(reply_header(&reply, "Allow", value, sizeof(value)), "GET, POST");
    assert_string_equal(reply_header(&reply, "Retry-After", value, sizeof(value)), "3");
    exchange(fixture->port, "GET /plain HTTP/1.1\r\nHost: x\r\n\r\n", &reply);
    assert_null(reply_header(&reply, "Allow", value, sizeof(value)));
    assert_null(reply_header(&reply, "Retry-After", value, sizeof(value)));
}

static void test_handler_without_body(void **state)
{
    struct fixture *fixture = *state;
    struct reply reply;
    exchange(fixture->port, "GET /null HTTP/1.1\r\nHost: x\r\n\r\n", &reply);
    assert_int_equal(reply.status, 500);
    assert_string_equal(reply.body, "{\"errorCode\":\"InternalError\",\"errorMessage\":"
                                    "\"an internal error occurred\"}");
}

static void test_uri_too_long(void **state)
{
    struct fixture *fixture = *state;
    char request[HTTP_URL_BYTES_MAX + 128];
    size_t used = (size_t)snprintf(request, sizeof(request), "GET /");
    memset(request + used, 'a', HTTP_URL_BYTES_MAX);
    used += HTTP_URL_BYTES_MAX;
    snprintf(request + used, sizeof(request) - used, " HTTP/1.1\r\nHost: x\r\n\r\n");
    struct reply reply;
    exchange(fixture->port, request, &reply);
    assert_int_equal(reply.status, 414);
    assert_non_null(strstr(reply.body, "\"errorCode\":\"URITooLong\""));
    /* Exactly HTTP_URL_BYTES_MAX is still fine. */
    used = (size_t)snprintf(request, sizeof(request), "GET /");
    memset(request + used, 'a', HTTP_URL_BYTES_MAX - 1);
    used += HTTP_URL_BYTES_MAX - 1;
    snprintf(request + used, sizeof(request) - used, " HTTP/1.1\r\nHost: x\r\n\r\n");
    exchange(fixture->port, request, &reply);
    assert_int_equal(reply.status, 200);
}

static void test_headers_too_large(void **state)
{
    struct fixture *fixture = *state;
    struct reply reply;
    char request[HTTP_HEADER_BYTES_MAX + 256];
    /* "X-Big: " + value + CRLF and "Host: x" + CRLF: one byte over the limit, then at it. */
    size_t value_length = HTTP_HEADER_BYTES_MAX - (5 + 2 + 2) - (5 + 2 + 2) + 1;
    size_t used =
        (size_t)snprintf(request, sizeof(request), "GET /h HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(request + used, 'b', value_length);
    used += value_length;
    snprintf(request + used, sizeof(request) - used, "\r\n\r\n");
    exchange(fixture->port, request, &reply);
    assert_int_equal(reply.status, 431);
    assert_non_null(strstr(reply.body, "\"errorCode\":\"HeadersTooLarge\""));
    used = (size_t)snprintf(request, sizeof(request), "GET /h HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(request + used, 'b', value_length - 1);
    used += value_length - 1;
    snprintf(request + used, sizeof(request) - used, "\r\n\r\n");
    exchange(fixture->port, request, &reply);
    assert_int_equal(reply.status, 200);
}

static void send_body_request(int fd, size_t body_length, char fill)
{
    char head[256];
    char *body = malloc(body_length);
    assert_non_null(body);
    memset(body, fill, body_length);
    int length = snprintf(head, sizeof(head),
                          "POST /body HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          "Content-Length: %zu\r\n\r\n",
                          body_length);
    client_send(fd, head, (size_t)length);
    client_send(fd, body, body_length);
    free(body);
}

static void test_body_limit_and_keep_alive(void **state)
{
    struct fixture *fixture = *state;
    struct reply reply;
    char expected[128];
    char value[64];
    int fd = client_connect(fixture->port);
    /* Exactly the limit: kept whole. */
    send_body_request(fd, HTTP_BODY_BYTES_MAX, 'x');
    assert_true(client_read_reply(fd, &reply));
    snprintf(expected, sizeof(expected), "body=%d:%lu:set large=0", HTTP_BODY_BYTES_MAX,
             (unsigned long)HTTP_BODY_BYTES_MAX * 'x');
    assert_non_null(strstr(reply.body, expected));
    assert_null(reply_header(&reply, "Connection", value, sizeof(value)));
    /* One byte more: dropped and flagged, and the connection still serves the next request. */
    send_body_request(fd, HTTP_BODY_BYTES_MAX + 1, 'y');
    assert_true(client_read_reply(fd, &reply));
    assert_non_null(strstr(reply.body, "body=0:0:null large=1"));
    /* Far more, in a chunked body. */
    const char *chunked = "POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    client_send(fd, chunked, strlen(chunked));
    char chunk[8192 + 16];
    int head = snprintf(chunk, sizeof(chunk), "2000\r\n");
    memset(chunk + head, 'z', 8192);
    memcpy(chunk + head + 8192, "\r\n", 2);
    for (int i = 0; i < 4; i++) {
        client_send(fd, chunk, (size_t)head + 8192 + 2);
    }
    client_send(fd, "0\r\n\r\n", 5);
    assert_true(client_read_reply(fd, &reply));
    assert_non_null(strstr(reply.body, "path=/chunked"));
    assert_non_null(strstr(reply.body, "large=1"));
    /* And the same connection answers once more. */
    client_send(fd, "GET /again HTTP/1.1\r\nHost: x\r\n\r\n", 33);
    assert_true(client_read_reply(fd, &reply));
    assert_non_null(strstr(reply.body, "path=/again"));
    close(fd);
}

struct stopper {
    struct http_server *server;
};

static void *stop_server(void *argument)
{
    struct stopper *stopper = argument;
    http_server_stop(stopper->server);
    return NULL;
}

static void test_stop_finishes_request_in_flight(void **state)
{
    struct fixture *fixture = *state;
    struct reply reply;
    pthread_t thread;
    struct stopper stopper = {fixture->server};
    int fd = client_connect(fixture->port);
    client_send(fd, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n", 32);
    sem_wait(&fixture->echo.slow_entered);
    assert_int_equal(pthread_create(&thread, NULL, stop_server, &stopper), 0);
    fixture->server = NULL; /* the stopper owns it now */
    /* Give the stop a moment to begin; the answer must arrive whichever comes first. */
    struct timespec pause = {0, 200 * 1000 * 1000};
    nanosleep(&pause, NULL);
    sem_post(&fixture->echo.slow_release);
    bool answered = client_read_reply(fd, &reply);
    close(fd);
    assert_int_equal(pthread_join(thread, NULL), 0);
    assert_true(answered);
    assert_int_equal(reply.status, 200);
    assert_non_null(strstr(reply.body, "path=/slow"));
}

static void test_listen_failures(void **state)
{
    char why[256] = "";
    (void)state;
    struct http_server_options options = {"127.0.0.1:99999", 1, echo_handler, NULL};
    assert_null(http_server_start(&options, why, sizeof(why)));
    assert_non_null(strstr(why, "port"));
    options.listen = "nonsense";
    assert_null(http_server_start(&options, why, sizeof(why)));
    assert_non_null(strstr(why, "nonsense"));
}

static void test_address_parse(void **state)
{
    char host[HTTP_HOST_BYTES_MAX + 1];
    char why[256];
    unsigned port = 1;
    (void)state;
    assert_true(http_address_parse("127.0.0.1:8080", host, &port, why, sizeof(why)));
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8080);
    assert_true(http_address_parse("[::1]:0", host, &port, why, sizeof(why)));
    assert_string_equal(host, "::1");
    assert_int_equal(port, 0);
    assert_true(http_address_parse("localhost:65535", host, &port, why, sizeof(why)));
    assert_string_equal(host, "localhost");
    assert_int_equal(port, 65535);
    const char *bad[] = {"",      ":80",      "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536",
                         "h:-1",  "h:8x",     "::1:80",    "[::1]80",    "[::1]",
                         "[]:80", "h:123456", "[::1:80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (http_address_parse(bad[i], host, &port, why, sizeof(why))) {
            fail_msg("accepted %s", bad[i]);
        }
        assert_non_null(strstr(why, "listen address"));
    }
}

static void test_ipv6_loopback(void **state)
{
    char why[256] = "";
    (void)state;
    struct echo_context echo;
    struct http_server_options options = {"[::1]:0", 1, echo_handler, &echo};
    struct http_server *server = http_server_start(&options, why, sizeof(why));
    if (server == NULL) {
        skip(); /* no IPv6 on this host */
    }
    char expected[64];
    snprintf(expected, sizeof(expected), "[::1]:%u", http_server_port(server));
    assert_string_equal(http_server_address(server), expected);
    http_server_stop(server);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_port_and_address, server_up, server_down),
        cmocka_unit_test_setup_teardown(test_query_parameters, server_up, server_down),
        cmocka_unit_test_setup_teardown(test_query_overflow, server_up, server_down),
        cmocka_unit_test_setup_teardown(test_request_headers, server_up, server_down),
        cmocka_unit_test_setup_teardown(test_response_headers, server_up, server_down),
        cmocka_unit_test_setup_teardown(test_handler_without_body, server_up, server_down),
        cmocka_unit_test_setup_teardown(test_uri_too_long, server_up, server_down),
        cmocka_unit_test_setup_teardown(test_headers_too_large, server_up, server_down),
        cmocka_unit_test_setup_teardown(test_body_limit_and_keep_alive, server_up, server_down),
        cmocka_unit_test_setup_teardown(test_stop_finishes_request_in_flight, server_up,
                                        server_down),
        cmocka_unit_test(test_listen_failures),
        cmocka_unit_test(test_address_parse),
        cmocka_unit_test(test_ipv6_loopback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
