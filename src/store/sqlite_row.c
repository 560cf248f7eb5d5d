/*
 * sqlite_row.c - reading columns of the SQLite backend's rows into the plain structs of
 * domain/types.h. Enums are stored as their wire names (domain/names.h); a value that does not
 * parse, a NULL where text is due or text too long for its buffer marks the row bad, and the
 * caller answers CASH_INTERNAL_ERROR rather than hand on a wrong value.
 */
#include <string.h>

#include "common/log.h"
#include "domain/names.h"
#include "store/sqlite_internal.h"

bool sqlite_copy_text(char *out, size_t out_size, const char *text)
{
    size_t length = strlen(text);
    if (length >= out_size) {
        if (out_size > 0) {
            out[0] = '\0';
        }
        return false;
    }
    memcpy(out, text, length + 1);
    return true;
}

void sqlite_row_start(struct sqlite_row *row, sqlite3_stmt *stmt)
{
    row->stmt = stmt;
    row->index = 0;
    row->ok = true;
}

const char *sqlite_row_text_view(struct sqlite_row *row)
{
    int column = row->index++;
    /* The type first: after a conversion by sqlite3_column_text() it is undefined. */
    if (sqlite3_column_type(row->stmt, column) != SQLITE_TEXT) {
        row->ok = false;
        return "";
    }
    const unsigned char *text = sqlite3_column_text(row->stmt, column);
    if (text == NULL) {
        row->ok = false; /* out of memory */
        return "";
    }
    return (const char *)text;
}

void sqlite_row_text(struct sqlite_row *row, char *out, size_t out_size)
{
    int column = row->index;
    if (sqlite3_column_type(row->stmt, column) == SQLITE_NULL) {
        row->index++;
        out[0] = '\0';
        return;
    }
    const char *text = sqlite_row_text_view(row);
    if (!sqlite_copy_text(out, out_size, text)) {
        row->ok = false;
    }
}

int64_t sqlite_row_int64(struct sqlite_row *row)
{
    int column = row->index++;
    if (sqlite3_column_type(row->stmt, column) != SQLITE_INTEGER) {
        row->ok = false;
        return 0;
    }
    return sqlite3_column_int64(row->stmt, column);
}

bool sqlite_row_bool(struct sqlite_row *row)
{
    int64_t value = sqlite_row_int64(row);
    if (value != 0 && value != 1) {
        row->ok = false;
    }
    return value == 1;
}

void sqlite_row_account_status(struct sqlite_row *row, enum account_status *out)
{
    if (!account_status_parse(sqlite_row_text_view(row), out)) {
        row->ok = false;
    }
}

void sqlite_row_account_verified(struct sqlite_row *row, enum account_verified *out)
{
    if (!account_verified_parse(sqlite_row_text_view(row), out)) {
        row->ok = false;
    }
}

void sqlite_row_member_role(struct sqlite_row *row, enum member_role *out)
{
    if (!member_role_parse(sqlite_row_text_view(row), out)) {
        row->ok = false;
    }
}

void sqlite_row_member_status(struct sqlite_row *row, enum member_status *out)
{
    if (!member_status_parse(sqlite_row_text_view(row), out)) {
        row->ok = false;
    }
}

void sqlite_row_withdraw_status(struct sqlite_row *row, enum withdraw_status *out)
{
    if (!withdraw_status_parse(sqlite_row_text_view(row), out)) {
        row->ok = false;
    }
}

void sqlite_row_history_type(struct sqlite_row *row, enum history_type *out)
{
    if (!history_type_parse(sqlite_row_text_view(row), out)) {
        row->ok = false;
    }
}

void sqlite_row_verification_method(struct sqlite_row *row, enum verification_method *out)
{
    if (!verification_method_parse(sqlite_row_text_view(row), out)) {
        row->ok = false;
    }
}

/* Stored statuses only: EXPIRED is derived from the clock and never stored (types.h). */
void sqlite_row_verification_status(struct sqlite_row *row, enum verification_status *out)
{
    static const enum verification_status stored[] = {
        VERIFICATION_PENDING,
        VERIFICATION_CONFIRMED,
        VERIFICATION_LOCKED,
        VERIFICATION_FAILED,
    };
    const char *text = sqlite_row_text_view(row);
    for (size_t i = 0; i < sizeof(stored) / sizeof(stored[0]); i++) {
        if (strcmp(text, verification_status_name(stored[i])) == 0) {
            *out = stored[i];
            return;
        }
    }
    row->ok = false;
}

cash_result sqlite_row_check(const struct sqlite_row *row, const char *what)
{
    if (!row->ok) {
        log_error("store: %s: a stored row holds a value out of range", what);
        return CASH_INTERNAL_ERROR;
    }
    return CASH_OK;
}
