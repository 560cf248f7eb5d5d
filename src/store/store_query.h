/*
 * store_query.h - the parts of a withdrawal list query that every backend writes the same way:
 * which column a field is, and how a [like] value becomes a pattern. Each backend adds only its
 * own placeholders and binding.
 */
#ifndef CASH_STORE_QUERY_H
#define CASH_STORE_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#include "domain/query.h"

/* The column of a field and whether it holds text; NULL for an unknown field. */
const char *store_withdraw_column(enum withdraw_field field, bool *is_text_out);

/* "%text%" with the LIKE wildcards of text escaped by a backslash (the SQL says ESCAPE '\');
 * false if it does not fit out_size. */
bool store_like_pattern(const char *text, char *out, size_t out_size);

#endif
