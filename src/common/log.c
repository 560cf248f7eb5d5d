#include "common/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/timeutil.h"

#define LOG_LINE_BYTES_MAX 2048

static atomic_int log_level_minimum = LOG_INFO;

static const char *const log_level_names[] = {
    [LOG_DEBUG] = "DEBUG",
    [LOG_INFO] = "INFO",
    [LOG_WARN] = "WARN",
    [LOG_ERROR] = "ERROR",
};

/* Events below level are dropped; safe to call while other threads log. */
void log_set_level(enum log_level level)
{
    atomic_store(&log_level_minimum, (int)level);
}

/* Control characters would let a logged value forge a line of its own: they become '?'. */
static void log_neutralize(char *text, size_t length)
{
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)text[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            text[i] = '?';
        }
    }
}

/*
 * Writes one line with one write(2), so that lines from many threads never interleave.
 * A line longer than LOG_LINE_BYTES_MAX is cut and ends with "...".
 */
void log_write(enum log_level level, const char *format, ...)
{
    char line[LOG_LINE_BYTES_MAX];
    char date[ISO8601_BYTES_MAX];
    if ((int)level < atomic_load(&log_level_minimum) || (unsigned)level > LOG_ERROR) {
        return;
    }
    iso8601_format(time_now_ms(), date);
    int prefix = snprintf(line, sizeof(line), "%s %s ", date, log_level_names[level]);
    if (prefix < 0) {
        return;
    }
    va_list arguments;
    va_start(arguments, format);
    int message = vsnprintf(line + prefix, sizeof(line) - (size_t)prefix, format, arguments);
    va_end(arguments);
    if (message < 0) {
        return;
    }
    size_t length = (size_t)prefix + (size_t)message;
    if (length > sizeof(line) - 2) {
        length = sizeof(line) - 2;
        memcpy(line + length - 3, "...", 3);
    }
    log_neutralize(line + prefix, length - (size_t)prefix);
    line[length] = '\n';
    ssize_t written = write(STDERR_FILENO, line, length + 1);
    (void)written; /* nowhere left to report a failed log write */
}
