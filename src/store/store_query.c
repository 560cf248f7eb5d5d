/*
 * store_query.c - list-query pieces shared by the backends (store_query.h).
 */
#include "store/store_query.h"

const char *store_withdraw_column(enum withdraw_field field, bool *is_text_out)
{
    switch (field) {
    case WITHDRAW_FIELD_WITHDRAW_ID:
        *is_text_out = true;
        return "withdraw_id";
    case WITHDRAW_FIELD_STATUS:
        *is_text_out = true;
        return "status";
    case WITHDRAW_FIELD_AMOUNT:
        *is_text_out = false;
        return "amount";
    case WITHDRAW_FIELD_FEE:
        *is_text_out = false;
        return "fee";
    case WITHDRAW_FIELD_TOTAL_AMOUNT:
        *is_text_out = false;
        return "total_amount";
    case WITHDRAW_FIELD_DATE_CREATED:
        *is_text_out = false;
        return "created_ms";
    case WITHDRAW_FIELD_DATE_UPDATED:
        *is_text_out = false;
        return "updated_ms";
    case WITHDRAW_FIELD_BANK_CODE:
        *is_text_out = true;
        return "bank_code";
    case WITHDRAW_FIELD_HOLDER_NAME:
        *is_text_out = true;
        return "holder_name";
    }
    return NULL;
}

bool store_like_pattern(const char *text, char *out, size_t out_size)
{
    size_t at = 0;
    if (out_size < 3) {
        return false;
    }
    out[at++] = '%';
    for (const char *c = text; *c != '\0'; c++) {
        if (at + 4 > out_size) {
            return false;
        }
        if (*c == '%' || *c == '_' || *c == '\\') {
            out[at++] = '\\';
        }
        out[at++] = *c;
    }
    out[at++] = '%';
    out[at] = '\0';
    return true;
}
