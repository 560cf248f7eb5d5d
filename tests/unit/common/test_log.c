#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/timeutil.h"

static char captured[1 << 18];

/* Runs body with stderr sent to a temporary file, then reads what was written. */
static void capture(void (*body)(void))
{
    FILE *file = tmpfile();
    assert_non_null(file);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(file), STDERR_FILENO) >= 0);
    body();
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    rewind(file);
    size_t length = fread(captured, 1, sizeof(captured) - 1, file);
    captured[length] = '\0';
    fclose(file);
}

static void write_levels(void)
{
    log_set_level(LOG_WARN);
    log_debug("debug %d", 1);
    log_info("info %d", 2);
    log_warn("warn %d", 3);
    log_error("error %s", "four");
    log_set_level(LOG_INFO);
}

static void test_level_filter_and_format(void **state)
{
    (void)state;
    int64_t before = time_now_ms();
    capture(write_levels);
    assert_null(strstr(captured, "debug 1"));
    assert_null(strstr(captured, "info 2"));
    const char *warn = strstr(captured, " WARN warn 3\n");
    const char *error = strstr(captured, " ERROR error four\n");
    assert_non_null(warn);
    assert_non_null(error);
    /* each line starts with the UTC time in milliseconds */
    assert_ptr_equal(warn, captured + 24);
    int64_t stamp = 0;
    assert_true(iso8601_parse(captured, 24, &stamp));
    assert_true(stamp >= before - 1000 && stamp <= time_now_ms() + 1000);
    assert_int_equal(captured[23], 'Z');
}

static void write_hostile(void)
{
    log_info("user said %s", "ok\nFAKE ERROR line\r");
    char long_text[5000];
    memset(long_text, 'x', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    log_info("%s", long_text);
}

static void test_one_line_per_event(void **state)
{
    (void)state;
    capture(write_hostile);
    size_t lines = 0;
    for (const char *c = captured; *c != '\0'; c++) {
        lines += *c == '\n' ? 1 : 0;
    }
    assert_int_equal(lines, 2);
    assert_non_null(strstr(captured, "user said ok?FAKE ERROR line?\n"));
    assert_non_null(strstr(captured, "xxx...\n"));
}

static void *log_many(void *argument)
{
    (void)argument;
    for (int i = 0; i < 200; i++) {
        log_info("thread line %d %s", i, "abcdefghijklmnopqrstuvwxyz0123456789");
    }
    return NULL;
}

static void write_threads(void)
{
    pthread_t threads[4];
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(pthread_create(&threads[i], NULL, log_many, NULL), 0);
    }
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    }
}

static void test_threads_never_interleave(void **state)
{
    (void)state;
    capture(write_threads);
    size_t lines = 0;
    char *save = NULL;
    for (char *line = strtok_r(captured, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        lines += 1;
        assert_non_null(strstr(line, " INFO thread line "));
        size_t length = strlen(line);
        assert_true(length > 36);
        assert_string_equal(line + length - 36, "abcdefghijklmnopqrstuvwxyz0123456789");
    }
    assert_int_equal(lines, 800);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_filter_and_format),
        cmocka_unit_test(test_one_line_per_event),
        cmocka_unit_test(test_threads_never_interleave),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
