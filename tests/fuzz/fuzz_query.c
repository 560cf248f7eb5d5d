/*
 * fuzz_query.c - the list filters (src/domain/query.c) from a raw query string, split on '&' and
 * '=' as the HTTP layer hands them over (decoded, NUL-terminated; a part without '=' has the
 * value ""). The same parameters go to withdraw_query_parse, history_query_parse and the integer
 * parser of GET /withdraw/quote.
 *
 * Properties: every refusal is a ValidationError with a reason; an accepted query has a limit of
 * 1..LIST_LIMIT_MAX, at most LIST_CONDITIONS_MAX conditions whose texts are terminated, a start key
 * that is "" or 32 digits, and a history offset within HISTORY_OFFSET_MAX.
 */
#include "fuzz_common.h"

#include "api/api_internal.h"
#include "domain/query.h"

/* Past HTTP_QUERY_PARAMS_MAX on purpose: the parsers refuse more than that themselves. */
#define FUZZ_PARAMS_MAX (HTTP_QUERY_PARAMS_MAX + 8)

struct fuzz_params {
    struct query_param params[FUZZ_PARAMS_MAX];
    size_t count;
};

/* Splits text in place: "a=1&b&c=" gives (a,1) (b,"") (c,""). */
static void fuzz_split(char *text, size_t length, struct fuzz_params *out)
{
    size_t start = 0;
    out->count = 0;
    while (start <= length && out->count < FUZZ_PARAMS_MAX) {
        char *part = text + start;
        char *end = memchr(part, '&', length - start);
        size_t part_length = end == NULL ? length - start : (size_t)(end - part);
        part[part_length] = '\0';
        char *equals = memchr(part, '=', part_length);
        if (equals != NULL) {
            *equals = '\0';
        }
        out->params[out->count].key = part;
        out->params[out->count].value = equals == NULL ? "" : equals + 1;
        out->count++;
        start += part_length + 1;
    }
}

static void fuzz_check_refusal(cash_result result, const char *why, size_t why_size)
{
    FUZZ_CHECK(result == CASH_VALIDATION_ERROR);
    fuzz_check_why(why, why_size, 1);
}

static void fuzz_withdraw_query(const struct fuzz_params *params)
{
    struct withdraw_query query;
    char why[API_WHY_BYTES_MAX] = "";
    cash_result result = withdraw_query_parse(params->params, params->count, &query, why,
                                              sizeof(why));
    if (result != CASH_OK) {
        fuzz_check_refusal(result, why, sizeof(why));
        return;
    }
    FUZZ_CHECK(params->count <= HTTP_QUERY_PARAMS_MAX);
    FUZZ_CHECK(query.limit >= 1 && query.limit <= LIST_LIMIT_MAX);
    FUZZ_CHECK(query.condition_count <= LIST_CONDITIONS_MAX);
    size_t key_length = strnlen(query.start_key, sizeof(query.start_key));
    FUZZ_CHECK(key_length == 0 || (key_length == WITHDRAW_ID_LENGTH &&
                                   strspn(query.start_key, "0123456789") == key_length));
    for (size_t i = 0; i < query.condition_count; i++) {
        const struct withdraw_condition *condition = &query.conditions[i];
        FUZZ_CHECK(strnlen(condition->text, sizeof(condition->text)) < sizeof(condition->text));
        FUZZ_CHECK(condition->op >= QUERY_EQ && condition->op <= QUERY_LIKE);
        if (!condition->is_text) {
            FUZZ_CHECK(condition->number >= 0);
        }
    }
}

static void fuzz_history_query(const struct fuzz_params *params)
{
    struct history_query query;
    char why[API_WHY_BYTES_MAX] = "";
    cash_result result = history_query_parse(params->params, params->count, &query, why,
                                             sizeof(why));
    if (result != CASH_OK) {
        fuzz_check_refusal(result, why, sizeof(why));
        return;
    }
    FUZZ_CHECK(query.limit >= 1 && query.limit <= LIST_LIMIT_MAX);
    FUZZ_CHECK(query.offset >= 0 && query.offset <= HISTORY_OFFSET_MAX);
    FUZZ_CHECK(query.start_ms >= 0 && query.end_ms >= 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_copy_string(data, size);
    struct fuzz_params params;
    fuzz_split(text, size, &params);
    fuzz_withdraw_query(&params);
    fuzz_history_query(&params);
    for (size_t i = 0; i < params.count; i++) {
        int64_t number = 0;
        if (api_parse_integer(params.params[i].value, &number)) {
            FUZZ_CHECK(number > -1000000000000000000LL && number < 1000000000000000000LL);
        }
    }
    free(text);
    return 0;
}
