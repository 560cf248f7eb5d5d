/*
 * bench_loop.c - the keep-alive HTTP load engine of bench.h: one epoll set per thread, answers
 * parsed by http_parser (the parser wrk uses), one request in flight per connection.
 *
 * Closed loop: a connection sends its next request as soon as the answer is in. Rate mode:
 * requests are scheduled every 1/rate seconds; an idle connection takes the next due slot, and
 * the latency counts from the slot, so that queueing in front of a slow server is measured
 * rather than hidden (what wrk2 calls coordinated omission).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <http_parser.h>

#include "bench.h"

struct bench_conn {
    struct bench_loop *loop;
    int fd;
    http_parser parser;
    char request[BENCH_REQUEST_BYTES_MAX];
    size_t request_length;
    size_t request_sent;
    uint64_t tag;
    int64_t started_ns; /* sent, or scheduled in rate mode */
    bool busy;          /* a request is in flight */
    bool complete;      /* the parser saw the whole answer */
    bool want_write;    /* EPOLLOUT is registered */
    bool dry;           /* the source has no more work for it */
    char *body;         /* owned, BENCH_BODY_BYTES_MAX, only when bodies are kept */
    size_t body_length;
};

struct bench_loop {
    struct bench_loop_options options;
    int epoll_fd;
    struct bench_conn *conns; /* owned */
    size_t conn_count;
    struct bench_conn **idle; /* owned: rate mode, connections waiting for a slot */
    size_t idle_count;
    size_t busy_count;
    int64_t next_slot_ns;
    int64_t slot_interval_ns;
    http_parser_settings settings;
    const struct bench_source *source; /* borrowed during bench_loop_run */
    struct bench_loop_stats *stats;    /* borrowed during bench_loop_run */
    bool failed;
    char why[256];
    char read_buffer[BENCH_READ_BYTES];
};

/* ---- http_parser callbacks ---- */

static int conn_on_body(http_parser *parser, const char *at, size_t length)
{
    struct bench_conn *conn = parser->data;
    if (conn->body == NULL) {
        return 0;
    }
    size_t room = BENCH_BODY_BYTES_MAX - 1 - conn->body_length;
    size_t kept = length < room ? length : room;
    memcpy(conn->body + conn->body_length, at, kept);
    conn->body_length += kept;
    conn->body[conn->body_length] = '\0';
    return 0;
}

static int conn_on_message_complete(http_parser *parser)
{
    struct bench_conn *conn = parser->data;
    conn->complete = true;
    return 0;
}

/* ---- connections ---- */

static void loop_fail(struct bench_loop *loop, const char *what, int error)
{
    if (!loop->failed) {
        snprintf(loop->why, sizeof(loop->why), "%s: %s", what, strerror(error));
        loop->failed = true;
    }
}

static bool conn_connect(struct bench_conn *conn)
{
    struct bench_loop *loop = conn->loop;
    const struct bench_target *target = loop->options.target;
    conn->fd = socket(target->address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (conn->fd < 0) {
        loop_fail(loop, "socket", errno);
        return false;
    }
    int one = 1;
    if (connect(conn->fd, (const struct sockaddr *)&target->address, target->address_length) != 0 ||
        setsockopt(conn->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
        fcntl(conn->fd, F_SETFL, fcntl(conn->fd, F_GETFL) | O_NONBLOCK) != 0) {
        loop_fail(loop, "connect", errno);
        goto out_close;
    }
    struct epoll_event event = {.events = EPOLLIN, .data.ptr = conn};
    if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, conn->fd, &event) != 0) {
        loop_fail(loop, "epoll_ctl", errno);
        goto out_close;
    }
    http_parser_init(&conn->parser, HTTP_RESPONSE);
    conn->parser.data = conn;
    conn->want_write = false;
    return true;

out_close:
    close(conn->fd);
    conn->fd = -1;
    return false;
}

static void conn_close(struct bench_conn *conn)
{
    if (conn->fd >= 0) {
        close(conn->fd); /* also leaves the epoll set */
        conn->fd = -1;
    }
}

static void conn_want_write(struct bench_conn *conn, bool want)
{
    if (conn->want_write == want) {
        return;
    }
    struct epoll_event event = {.events = EPOLLIN | (want ? EPOLLOUT : 0u), .data.ptr = conn};
    if (epoll_ctl(conn->loop->epoll_fd, EPOLL_CTL_MOD, conn->fd, &event) != 0) {
        loop_fail(conn->loop, "epoll_ctl", errno);
        return;
    }
    conn->want_write = want;
}

static void conn_lost(struct bench_conn *conn);

/* Writes what is left of the request; waits for EPOLLOUT when the socket is full. */
static void conn_flush(struct bench_conn *conn)
{
    while (conn->request_sent < conn->request_length) {
        ssize_t written = write(conn->fd, conn->request + conn->request_sent,
                                conn->request_length - conn->request_sent);
        if (written > 0) {
            conn->request_sent += (size_t)written;
        } else if (written < 0 && errno == EINTR) {
            continue;
        } else if (written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            conn_want_write(conn, true);
            return;
        } else {
            conn_lost(conn);
            return;
        }
    }
    conn_want_write(conn, false);
}

/* Asks the source for the next request and sends it; started_ns is when its latency starts. */
static void conn_send(struct bench_conn *conn, int64_t started_ns)
{
    struct bench_loop *loop = conn->loop;
    size_t length =
        loop->source->next(loop->source->context, conn->request, sizeof(conn->request), &conn->tag);
    if (length == 0 || length > sizeof(conn->request)) {
        conn->dry = true;
        return;
    }
    conn->request_length = length;
    conn->request_sent = 0;
    conn->started_ns = started_ns;
    conn->busy = true;
    conn->complete = false;
    conn->body_length = 0;
    if (conn->body != NULL) {
        conn->body[0] = '\0';
    }
    loop->busy_count++;
    loop->stats->requests_sent++;
    conn_flush(conn);
}

/* The connection is free again: in a closed loop it sends at once, in rate mode it waits. */
static void conn_ready(struct bench_conn *conn, int64_t now_ns)
{
    struct bench_loop *loop = conn->loop;
    if (loop->failed || conn->dry) {
        return;
    }
    if (loop->options.end_ns != 0 && now_ns >= loop->options.end_ns) {
        return;
    }
    if (loop->options.rate_per_second > 0) {
        loop->idle[loop->idle_count++] = conn;
        return;
    }
    conn_send(conn, now_ns);
}

static void conn_record(struct bench_conn *conn, int status, int64_t now_ns)
{
    struct bench_loop *loop = conn->loop;
    int64_t latency_ns = now_ns - conn->started_ns;
    bool counted = conn->started_ns >= loop->options.record_from_ns &&
                   (loop->options.end_ns == 0 || now_ns <= loop->options.end_ns);
    if (counted) {
        int status_class = status / 100;
        if (status_class < 0 || status_class >= BENCH_STATUS_CLASSES) {
            status_class = 0;
        }
        loop->stats->status_counts[status_class]++;
        if (status_class == 2 && !bench_latencies_add(&loop->stats->latencies, latency_ns)) {
            loop_fail(loop, "latency records", ENOMEM);
        }
    }
    if (loop->source->done != NULL) {
        struct bench_answer answer = {
            .tag = conn->tag,
            .status = status,
            .body = conn->body,
            .body_length = conn->body_length,
            .latency_ns = latency_ns,
        };
        loop->source->done(loop->source->context, &answer);
    }
    conn->busy = false;
    loop->busy_count--;
}

/* The connection broke: the request in flight (if any) has no answer; a new one replaces it. */
static void conn_lost(struct bench_conn *conn)
{
    int64_t now_ns = bench_now_ns();
    conn_close(conn);
    if (conn->busy) {
        conn_record(conn, 0, now_ns);
    }
    conn->loop->stats->reconnects++;
    if (conn_connect(conn)) {
        conn_ready(conn, now_ns);
    }
}

static void conn_answered(struct bench_conn *conn)
{
    int64_t now_ns = bench_now_ns();
    bool keep_alive = http_should_keep_alive(&conn->parser) != 0;
    conn_record(conn, (int)conn->parser.status_code, now_ns);
    if (!keep_alive) {
        conn_close(conn);
        conn->loop->stats->reconnects++;
        if (!conn_connect(conn)) {
            return;
        }
    } else {
        http_parser_init(&conn->parser, HTTP_RESPONSE);
        conn->parser.data = conn;
    }
    conn_ready(conn, now_ns);
}

static void conn_readable(struct bench_conn *conn)
{
    struct bench_loop *loop = conn->loop;
    for (;;) {
        ssize_t got = read(conn->fd, loop->read_buffer, sizeof(loop->read_buffer));
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        if (got <= 0 || !conn->busy) {
            conn_lost(conn); /* closed, failed, or an answer nobody asked for */
            return;
        }
        size_t parsed =
            http_parser_execute(&conn->parser, &loop->settings, loop->read_buffer, (size_t)got);
        if (conn->parser.http_errno != HPE_OK || parsed != (size_t)got) {
            conn_lost(conn);
            return;
        }
        if (conn->complete) {
            conn_answered(conn);
            return;
        }
    }
}

/* ---- the loop ---- */

/* Opens the connections of a new loop (owned by the caller); NULL with why (bench.h). */
struct bench_loop *bench_loop_open(const struct bench_loop_options *options, char *why,
                                   size_t why_size)
{
    if (options->connections == 0 || options->connections > BENCH_CONNECTIONS_MAX) {
        snprintf(why, why_size, "connections must be 1..%d", BENCH_CONNECTIONS_MAX);
        return NULL;
    }
    struct bench_loop *loop = calloc(1, sizeof(*loop));
    if (loop == NULL) {
        snprintf(why, why_size, "out of memory");
        return NULL;
    }
    loop->options = *options;
    loop->settings.on_body = conn_on_body;
    loop->settings.on_message_complete = conn_on_message_complete;
    loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    loop->conns = calloc(options->connections, sizeof(*loop->conns));
    loop->idle = calloc(options->connections, sizeof(*loop->idle));
    if (loop->epoll_fd < 0 || loop->conns == NULL || loop->idle == NULL) {
        snprintf(why, why_size, "out of memory or file descriptors");
        goto out_free;
    }
    for (size_t i = 0; i < options->connections; i++) {
        struct bench_conn *conn = &loop->conns[i];
        conn->loop = loop;
        conn->fd = -1;
        loop->conn_count++;
        if (options->keep_bodies) {
            conn->body = malloc(BENCH_BODY_BYTES_MAX);
            if (conn->body == NULL) {
                loop_fail(loop, "body buffer", ENOMEM);
                break;
            }
        }
        if (!conn_connect(conn)) {
            break;
        }
    }
    if (loop->failed) {
        snprintf(why, why_size, "%s", loop->why);
        goto out_free;
    }
    return loop;

out_free:
    bench_loop_free(loop);
    return NULL;
}

/* Closes the connections and frees the loop; NULL is allowed (bench.h). */
void bench_loop_free(struct bench_loop *loop)
{
    if (loop == NULL) {
        return;
    }
    for (size_t i = 0; i < loop->conn_count; i++) {
        conn_close(&loop->conns[i]);
        free(loop->conns[i].body);
    }
    if (loop->epoll_fd >= 0) {
        close(loop->epoll_fd);
    }
    free(loop->conns);
    free(loop->idle);
    free(loop);
}

/*
 * Sets the measuring window: answers to requests started before record_from_ns, or
 * arriving after end_ns, are not counted (bench.h).
 */
void bench_loop_schedule(struct bench_loop *loop, int64_t record_from_ns, int64_t end_ns)
{
    loop->options.record_from_ns = record_from_ns;
    loop->options.end_ns = end_ns;
}

/* Rate mode: gives every due slot to an idle connection. */
static void loop_dispatch_slots(struct bench_loop *loop, int64_t now_ns)
{
    int64_t end_ns = loop->options.end_ns;
    while (loop->idle_count > 0 && loop->next_slot_ns <= now_ns &&
           (end_ns == 0 || loop->next_slot_ns < end_ns) && !loop->failed) {
        struct bench_conn *conn = loop->idle[--loop->idle_count];
        conn_send(conn, loop->next_slot_ns);
        loop->next_slot_ns += loop->slot_interval_ns;
    }
}

/* How long epoll may sleep: until the end, or the next slot if a connection could take it. */
static bool loop_timeout(const struct bench_loop *loop, int64_t now_ns, struct timespec *out)
{
    int64_t deadline_ns = loop->options.end_ns;
    if (loop->options.rate_per_second > 0 && loop->idle_count > 0 &&
        (deadline_ns == 0 || loop->next_slot_ns < deadline_ns)) {
        deadline_ns = loop->next_slot_ns;
    }
    if (deadline_ns == 0) {
        return false;
    }
    int64_t wait_ns = deadline_ns > now_ns ? deadline_ns - now_ns : 0;
    out->tv_sec = (time_t)(wait_ns / BENCH_NS_PER_SECOND);
    out->tv_nsec = (long)(wait_ns % BENCH_NS_PER_SECOND);
    return true;
}

static void loop_start(struct bench_loop *loop)
{
    int64_t now_ns = bench_now_ns();
    if (loop->options.rate_per_second > 0) {
        loop->slot_interval_ns =
            (int64_t)((double)BENCH_NS_PER_SECOND / loop->options.rate_per_second);
        if (loop->slot_interval_ns < 1) {
            loop->slot_interval_ns = 1;
        }
        loop->next_slot_ns = now_ns;
    }
    for (size_t i = 0; i < loop->conn_count && !loop->failed; i++) {
        conn_ready(&loop->conns[i], now_ns);
    }
}

static bool loop_finished(const struct bench_loop *loop, int64_t now_ns)
{
    if (loop->failed) {
        return true;
    }
    if (loop->options.end_ns != 0) {
        return now_ns >= loop->options.end_ns;
    }
    return loop->busy_count == 0 && loop->idle_count == 0;
}

/* Drives the load until the window ends or the source runs dry; false with why (bench.h). */
bool bench_loop_run(struct bench_loop *loop, const struct bench_source *source,
                    struct bench_loop_stats *stats, char *why, size_t why_size)
{
    struct epoll_event events[BENCH_EVENTS_PER_WAIT];
    loop->source = source;
    loop->stats = stats;
    loop_start(loop);
    for (;;) {
        int64_t now_ns = bench_now_ns();
        loop_dispatch_slots(loop, now_ns);
        if (loop_finished(loop, now_ns)) {
            break;
        }
        struct timespec timeout;
        bool timed = loop_timeout(loop, now_ns, &timeout);
        int ready = epoll_pwait2(loop->epoll_fd, events, BENCH_EVENTS_PER_WAIT,
                                 timed ? &timeout : NULL, NULL);
        if (ready < 0 && errno != EINTR) {
            loop_fail(loop, "epoll_pwait2", errno);
        }
        for (int i = 0; i < ready && !loop->failed; i++) {
            struct bench_conn *conn = events[i].data.ptr;
            if (conn->fd < 0) {
                continue;
            }
            if ((events[i].events & EPOLLOUT) != 0 && conn->busy) {
                conn_flush(conn);
            }
            if ((events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) {
                conn_readable(conn);
            }
        }
    }
    loop->source = NULL;
    loop->stats = NULL;
    if (loop->failed) {
        snprintf(why, why_size, "%s", loop->why);
        return false;
    }
    return true;
}

/* Releases the latency records of stats (bench.h). */
void bench_loop_stats_deinit(struct bench_loop_stats *stats)
{
    bench_latencies_free(&stats->latencies);
}
