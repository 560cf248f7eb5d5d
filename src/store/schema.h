/*
 * schema.h - the versioned schema of cashd, one text for both backends (SPEC 7: migrations are
 * versioned and run by `cashctl init`). The SQL stays within what SQLite and PostgreSQL (and the
 * PostgreSQL-compatible distributed engines) both accept, so version N means the same everywhere;
 * each backend applies a version in one transaction with its row in schema_version.
 */
#ifndef CASH_STORE_SCHEMA_H
#define CASH_STORE_SCHEMA_H

#include <stddef.h>

struct schema_migration {
    int version;
    const char *const *statements; /* NULL-ended */
};

/* Every version in order, oldest first; append new ones at the end, never edit a shipped one. */
extern const struct schema_migration schema_migrations[];
extern const size_t schema_migration_count;

#endif
