#include "domain/query.h"

#include <stdio.h>
#include <string.h>

#include "common/ids.h"
#include "common/timeutil.h"
#include "domain/bank.h"
#include "domain/names.h"

#define COUNT_OF(array)           (sizeof(array) / sizeof((array)[0]))
#define QUERY_KEY_SHOWN_BYTES_MAX 64
#define QUERY_WON_DIGITS_MAX      13 /* AMOUNT_WON_ABSOLUTE_MAX has 13 digits */
#define QUERY_LIMIT_DIGITS_MAX    10
#define QUERY_OFFSET_DIGITS_MAX   10

#define OP_BIT(op) (1u << (op))
#define OPS_ORDERED                                                                                \
    (OP_BIT(QUERY_NE) | OP_BIT(QUERY_GT) | OP_BIT(QUERY_GTE) | OP_BIT(QUERY_LT) | OP_BIT(QUERY_LTE))

/* How the value of a condition is read. */
enum query_value_kind {
    QUERY_VALUE_WITHDRAW_ID, /* 32 digits */
    QUERY_VALUE_STATUS,      /* a withdrawal status name */
    QUERY_VALUE_WON,         /* 0..AMOUNT_WON_ABSOLUTE_MAX */
    QUERY_VALUE_DATE,        /* ISO 8601, as ms */
    QUERY_VALUE_BANK_CODE,   /* 3..16 digits */
    QUERY_VALUE_HOLDER,      /* clean UTF-8 text */
};

/* A field that takes "field[op]=value"; ops is the set of operators allowed (docs/API.md). */
struct query_field {
    const char *name;
    enum withdraw_field field;
    enum query_value_kind kind;
    unsigned ops;
};

static const struct query_field query_fields[] = {
    {"withdrawId", WITHDRAW_FIELD_WITHDRAW_ID, QUERY_VALUE_WITHDRAW_ID, OPS_ORDERED},
    {"status", WITHDRAW_FIELD_STATUS, QUERY_VALUE_STATUS, OP_BIT(QUERY_NE)},
    {"amount", WITHDRAW_FIELD_AMOUNT, QUERY_VALUE_WON, OPS_ORDERED},
    {"fee", WITHDRAW_FIELD_FEE, QUERY_VALUE_WON, OPS_ORDERED},
    {"totalAmount", WITHDRAW_FIELD_TOTAL_AMOUNT, QUERY_VALUE_WON, OPS_ORDERED},
    {"dateCreated", WITHDRAW_FIELD_DATE_CREATED, QUERY_VALUE_DATE, OPS_ORDERED},
    {"dateUpdated", WITHDRAW_FIELD_DATE_UPDATED, QUERY_VALUE_DATE, OPS_ORDERED},
    {"bankCode", WITHDRAW_FIELD_BANK_CODE, QUERY_VALUE_BANK_CODE, OP_BIT(QUERY_NE)},
    {"holderName", WITHDRAW_FIELD_HOLDER_NAME, QUERY_VALUE_HOLDER,
     OP_BIT(QUERY_NE) | OP_BIT(QUERY_LIKE)},
};

static const char *const query_op_names[] = {
    [QUERY_EQ] = "eq", [QUERY_NE] = "ne",   [QUERY_GT] = "gt",     [QUERY_GTE] = "gte",
    [QUERY_LT] = "lt", [QUERY_LTE] = "lte", [QUERY_LIKE] = "like",
};

/* The plain parameters of GET /cash/v1/withdraw. */
enum query_plain_kind { QUERY_PLAIN_CONDITION, QUERY_PLAIN_LIMIT, QUERY_PLAIN_START_KEY };

struct query_plain {
    const char *name;
    enum query_plain_kind kind;
    enum withdraw_field field; /* conditions only */
    enum query_op op;
};

static const struct query_plain query_plains[] = {
    {"withdrawId", QUERY_PLAIN_CONDITION, WITHDRAW_FIELD_WITHDRAW_ID, QUERY_EQ},
    {"status", QUERY_PLAIN_CONDITION, WITHDRAW_FIELD_STATUS, QUERY_EQ},
    {"startDate", QUERY_PLAIN_CONDITION, WITHDRAW_FIELD_DATE_CREATED, QUERY_GTE},
    {"endDate", QUERY_PLAIN_CONDITION, WITHDRAW_FIELD_DATE_CREATED, QUERY_LTE},
    {"limit", QUERY_PLAIN_LIMIT, WITHDRAW_FIELD_WITHDRAW_ID, QUERY_EQ},
    {"startKey", QUERY_PLAIN_START_KEY, WITHDRAW_FIELD_WITHDRAW_ID, QUERY_EQ},
};

/* A client's key made safe to quote in a message: printable ASCII, bounded. */
struct query_shown_key {
    char text[QUERY_KEY_SHOWN_BYTES_MAX + 4];
};

static struct query_shown_key query_show_key(const char *key)
{
    struct query_shown_key shown;
    size_t i = 0;
    for (; key[i] != '\0' && i < QUERY_KEY_SHOWN_BYTES_MAX; i++) {
        unsigned char c = (unsigned char)key[i];
        shown.text[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    if (key[i] != '\0') {
        memcpy(shown.text + i, "...", 3);
        i += 3;
    }
    shown.text[i] = '\0';
    return shown;
}

/* Bounded parser of a whole non-negative decimal number of at most digits_max digits. */
static bool query_parse_whole(const char *text, size_t digits_max, int64_t max, int64_t *out)
{
    int64_t value = 0;
    size_t length = strnlen(text, digits_max + 1);
    if (length == 0 || length > digits_max) {
        return false;
    }
    for (size_t i = 0; i < length; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return false;
        }
        value = value * 10 + (text[i] - '0');
    }
    if (value > max) {
        return false;
    }
    *out = value;
    return true;
}

static const struct query_field *query_field_find(enum withdraw_field field)
{
    for (size_t i = 0; i < COUNT_OF(query_fields); i++) {
        if (query_fields[i].field == field) {
            return &query_fields[i];
        }
    }
    return NULL;
}

/* Copies text into the condition; false if it does not fit. */
static bool query_condition_text(struct withdraw_condition *condition, const char *text)
{
    size_t length = strnlen(text, sizeof(condition->text));
    if (length >= sizeof(condition->text)) {
        return false;
    }
    memcpy(condition->text, text, length + 1);
    condition->is_text = true;
    return true;
}

/* Reads value as the kind of the field into the condition; why explains a refusal. */
static cash_result query_read_value(enum query_value_kind kind, const char *key, const char *value,
                                    struct withdraw_condition *condition, char *why,
                                    size_t why_size)
{
    const char *expected = NULL;
    enum withdraw_status status = WITHDRAW_PENDING;
    switch (kind) {
    case QUERY_VALUE_WITHDRAW_ID:
        if (!id_is_digits(value, WITHDRAW_ID_LENGTH) || !query_condition_text(condition, value)) {
            expected = "a withdrawId of 32 digits";
        }
        break;
    case QUERY_VALUE_STATUS:
        if (!withdraw_status_parse(value, &status) || !query_condition_text(condition, value)) {
            expected = "PENDING, CONFIRMED, COMPLETED, FAILED, REJECTED or CANCELED";
        }
        condition->number = (int64_t)status;
        break;
    case QUERY_VALUE_WON:
        if (!query_parse_whole(value, QUERY_WON_DIGITS_MAX, AMOUNT_WON_ABSOLUTE_MAX,
                               &condition->number)) {
            expected = "a whole number of won from 0 to 1000000000000";
        }
        break;
    case QUERY_VALUE_DATE:
        if (!iso8601_parse(value, strlen(value), &condition->number)) {
            expected = "an ISO 8601 date with a zone, such as 2026-11-24T21:00:00+09:00";
        }
        break;
    case QUERY_VALUE_BANK_CODE:
        if (bank_code_check(value, why, why_size) != CASH_OK ||
            !query_condition_text(condition, value)) {
            expected = "3 to 16 digits";
        }
        break;
    case QUERY_VALUE_HOLDER:
        if (!text_is_clean_utf8(value, strnlen(value, HOLDER_NAME_BYTES_MAX + 1)) ||
            !query_condition_text(condition, value)) {
            expected = "UTF-8 text of at most 120 bytes";
        }
        break;
    }
    if (expected != NULL) {
        snprintf(why, why_size, "query parameter %s must be %s", query_show_key(key).text,
                 expected);
        return CASH_VALIDATION_ERROR;
    }
    return CASH_OK;
}

/* Appends the condition field op value to the query. */
static cash_result query_add_condition(struct withdraw_query *out, const char *key,
                                       enum withdraw_field field, enum query_op op,
                                       const char *value, char *why, size_t why_size)
{
    const struct query_field *spec = query_field_find(field);
    if (out->condition_count >= LIST_CONDITIONS_MAX) {
        snprintf(why, why_size, "too many query conditions (at most %d)", LIST_CONDITIONS_MAX);
        return CASH_VALIDATION_ERROR;
    }
    struct withdraw_condition *condition = &out->conditions[out->condition_count];
    memset(condition, 0, sizeof(*condition));
    condition->field = field;
    condition->op = op;
    cash_result result = query_read_value(spec->kind, key, value, condition, why, why_size);
    if (result != CASH_OK) {
        return result;
    }
    out->condition_count += 1;
    return CASH_OK;
}

/* Splits "name[op]" into a field and an operator; false with why if it is not one. */
static cash_result query_parse_operator_key(const char *key, const char *bracket,
                                            const struct query_field **field_out,
                                            enum query_op *op_out, char *why, size_t why_size)
{
    size_t name_length = (size_t)(bracket - key);
    const char *op_text = bracket + 1;
    const char *close = strchr(op_text, ']');
    *field_out = NULL;
    for (size_t i = 0; i < COUNT_OF(query_fields); i++) {
        if (strlen(query_fields[i].name) == name_length &&
            memcmp(query_fields[i].name, key, name_length) == 0) {
            *field_out = &query_fields[i];
        }
    }
    if (*field_out == NULL || close == NULL || close[1] != '\0') {
        snprintf(why, why_size, "unknown query parameter %s", query_show_key(key).text);
        return CASH_VALIDATION_ERROR;
    }
    size_t op_length = (size_t)(close - op_text);
    for (size_t op = 0; op < COUNT_OF(query_op_names); op++) {
        bool named = strlen(query_op_names[op]) == op_length &&
                     memcmp(query_op_names[op], op_text, op_length) == 0;
        if (named && ((*field_out)->ops & OP_BIT(op)) != 0) {
            *op_out = (enum query_op)op;
            return CASH_OK;
        }
    }
    snprintf(why, why_size, "query parameter %s: operator [%.*s] is not allowed for %s",
             query_show_key(key).text, (int)(op_length < 8 ? op_length : 8), op_text,
             (*field_out)->name);
    return CASH_VALIDATION_ERROR;
}

/* Refuses a missing or empty value, and a key that appeared before index. */
static cash_result query_check_param(const struct query_param *params, size_t index, char *why,
                                     size_t why_size)
{
    const char *key = params[index].key;
    if (key == NULL || key[0] == '\0') {
        snprintf(why, why_size, "query parameter with an empty name");
        return CASH_VALIDATION_ERROR;
    }
    for (size_t i = 0; i < index; i++) {
        if (strcmp(params[i].key, key) == 0) {
            snprintf(why, why_size, "query parameter %s is repeated", query_show_key(key).text);
            return CASH_VALIDATION_ERROR;
        }
    }
    if (params[index].value == NULL || params[index].value[0] == '\0') {
        snprintf(why, why_size, "query parameter %s is empty", query_show_key(key).text);
        return CASH_VALIDATION_ERROR;
    }
    return CASH_OK;
}

static cash_result query_check_count(size_t param_count, char *why, size_t why_size)
{
    if (param_count > HTTP_QUERY_PARAMS_MAX) {
        snprintf(why, why_size, "too many query parameters (at most %d)", HTTP_QUERY_PARAMS_MAX);
        return CASH_VALIDATION_ERROR;
    }
    return CASH_OK;
}

static cash_result query_parse_limit(const char *key, const char *value, size_t *limit_out,
                                     char *why, size_t why_size)
{
    int64_t limit = 0;
    if (!query_parse_whole(value, QUERY_LIMIT_DIGITS_MAX, LIST_LIMIT_MAX, &limit) || limit < 1) {
        snprintf(why, why_size, "query parameter %s must be a whole number from 1 to %d", key,
                 LIST_LIMIT_MAX);
        return CASH_VALIDATION_ERROR;
    }
    *limit_out = (size_t)limit;
    return CASH_OK;
}

/* One plain parameter of the withdrawal list (withdrawId, status, startDate, ...). */
static cash_result query_withdraw_plain(const struct query_plain *plain, const char *value,
                                        struct withdraw_query *out, char *why, size_t why_size)
{
    switch (plain->kind) {
    case QUERY_PLAIN_CONDITION:
        return query_add_condition(out, plain->name, plain->field, plain->op, value, why, why_size);
    case QUERY_PLAIN_LIMIT:
        return query_parse_limit(plain->name, value, &out->limit, why, why_size);
    case QUERY_PLAIN_START_KEY:
        if (!id_is_digits(value, WITHDRAW_ID_LENGTH)) {
            snprintf(why, why_size, "query parameter startKey must be a withdrawId of 32 digits");
            return CASH_VALIDATION_ERROR;
        }
        memcpy(out->start_key, value, WITHDRAW_ID_LENGTH + 1);
        return CASH_OK;
    }
    return CASH_INTERNAL_ERROR;
}

/* One parameter of the withdrawal list: a plain one or "field[op]". */
static cash_result query_withdraw_param(const struct query_param *param, struct withdraw_query *out,
                                        char *why, size_t why_size)
{
    const char *bracket = strchr(param->key, '[');
    if (bracket != NULL) {
        const struct query_field *field = NULL;
        enum query_op op = QUERY_EQ;
        cash_result result =
            query_parse_operator_key(param->key, bracket, &field, &op, why, why_size);
        if (result != CASH_OK) {
            return result;
        }
        return query_add_condition(out, param->key, field->field, op, param->value, why, why_size);
    }
    for (size_t i = 0; i < COUNT_OF(query_plains); i++) {
        if (strcmp(query_plains[i].name, param->key) == 0) {
            return query_withdraw_plain(&query_plains[i], param->value, out, why, why_size);
        }
    }
    if (strcmp(param->key, "overdue") == 0) {
        /* issue 5: stuck withdrawals; exactly "true" or "false" */
        bool is_true = strcmp(param->value, "true") == 0;
        if (!is_true && strcmp(param->value, "false") != 0) {
            snprintf(why, why_size, "query parameter overdue must be true or false");
            return CASH_VALIDATION_ERROR;
        }
        out->overdue = is_true;
        return CASH_OK;
    }
    snprintf(why, why_size, "unknown query parameter %s", query_show_key(param->key).text);
    return CASH_VALIDATION_ERROR;
}

/* SPEC 2 and docs/API.md: GET /cash/v1/withdraw. */
cash_result withdraw_query_parse(const struct query_param *params, size_t param_count,
                                 struct withdraw_query *out, char *why, size_t why_size)
{
    memset(out, 0, sizeof(*out));
    out->limit = LIST_LIMIT_DEFAULT;
    cash_result result = query_check_count(param_count, why, why_size);
    for (size_t i = 0; result == CASH_OK && i < param_count; i++) {
        result = query_check_param(params, i, why, why_size);
        if (result == CASH_OK) {
            result = query_withdraw_param(&params[i], out, why, why_size);
        }
    }
    return result;
}

static cash_result query_history_date(const char *key, const char *value, int64_t *ms_out,
                                      char *why, size_t why_size)
{
    if (!iso8601_parse(value, strlen(value), ms_out)) {
        snprintf(why, why_size,
                 "query parameter %s must be an ISO 8601 date with a zone, such as "
                 "2026-11-24T21:00:00+09:00",
                 key);
        return CASH_VALIDATION_ERROR;
    }
    return CASH_OK;
}

/* One parameter of the ledger history. */
static cash_result query_history_param(const struct query_param *param, struct history_query *out,
                                       char *why, size_t why_size)
{
    const char *key = param->key;
    if (strcmp(key, "offset") == 0) {
        if (!query_parse_whole(param->value, QUERY_OFFSET_DIGITS_MAX, HISTORY_OFFSET_MAX,
                               &out->offset)) {
            snprintf(why, why_size, "query parameter offset must be a whole number from 0 to %lld",
                     HISTORY_OFFSET_MAX);
            return CASH_VALIDATION_ERROR;
        }
        return CASH_OK;
    }
    if (strcmp(key, "limit") == 0) {
        return query_parse_limit(key, param->value, &out->limit, why, why_size);
    }
    if (strcmp(key, "startDate") == 0) {
        return query_history_date(key, param->value, &out->start_ms, why, why_size);
    }
    if (strcmp(key, "endDate") == 0) {
        return query_history_date(key, param->value, &out->end_ms, why, why_size);
    }
    if (strcmp(key, "type") == 0) {
        if (!history_type_parse(param->value, &out->type)) {
            snprintf(why, why_size,
                     "query parameter type must be RECHARGE, WITHDRAW or WITHDRAW_REFUND");
            return CASH_VALIDATION_ERROR;
        }
        out->has_type = true;
        return CASH_OK;
    }
    snprintf(why, why_size, "unknown query parameter %s", query_show_key(key).text);
    return CASH_VALIDATION_ERROR;
}

/* SPEC 2 and docs/API.md: GET /cash/v1/balance/history. */
cash_result history_query_parse(const struct query_param *params, size_t param_count,
                                struct history_query *out, char *why, size_t why_size)
{
    memset(out, 0, sizeof(*out));
    out->limit = LIST_LIMIT_DEFAULT;
    cash_result result = query_check_count(param_count, why, why_size);
    for (size_t i = 0; result == CASH_OK && i < param_count; i++) {
        result = query_check_param(params, i, why, why_size);
        if (result == CASH_OK) {
            result = query_history_param(&params[i], out, why, why_size);
        }
    }
    return result;
}
