#include "common/result.h"

struct result_row {
    unsigned http_status;
    const char *error_code;
    const char *message;
};

static const struct result_row result_rows[] = {
#define CASH_RESULT_ROW(code, status, name, text) [code] = {status, name, text},
    CASH_RESULT_TABLE(CASH_RESULT_ROW)
#undef CASH_RESULT_ROW
};

_Static_assert(sizeof(result_rows) / sizeof(result_rows[0]) == CASH_RESULT_COUNT,
               "every result has a row");

static const struct result_row *result_row_of(cash_result result)
{
    if ((unsigned)result >= CASH_RESULT_COUNT) {
        return &result_rows[CASH_INTERNAL_ERROR];
    }
    return &result_rows[result];
}

unsigned result_http_status(cash_result result)
{
    return result_row_of(result)->http_status;
}

const char *result_error_code(cash_result result)
{
    return result_row_of(result)->error_code;
}

const char *result_message(cash_result result)
{
    return result_row_of(result)->message;
}
