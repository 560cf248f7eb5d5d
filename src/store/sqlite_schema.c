/*
 * sqlite_schema.c - store_migrate for the SQLite backend: applies the versions of schema.c.
 *
 * Each version is a list of statements applied in one transaction together with its row in
 * schema_version, so a version is either wholly there or not at all, and running the migration
 * again (or from two processes at once: BEGIN IMMEDIATE serialises them) changes nothing.
 */
#include <stdio.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "store/schema.h"
#include "store/sqlite_internal.h"

static const char SQL_VERSION_TABLE[] = "CREATE TABLE IF NOT EXISTS schema_version ("
                                        " version INTEGER PRIMARY KEY,"
                                        " applied_ms BIGINT NOT NULL)";
static const char SQL_VERSION_MAX[] = "SELECT COALESCE(MAX(version), 0) FROM schema_version";
static const char SQL_VERSION_INSERT[] =
    "INSERT INTO schema_version (version, applied_ms) VALUES (?, ?)";

struct migrate_context {
    const struct schema_migration *migration; /* NULL: only create schema_version */
    int version;                              /* out: the newest version after the step */
};

static cash_result schema_version_read(struct sqlite_conn *conn, int *version_out)
{
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_VERSION_MAX);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    cash_result result = sqlite_step_row(conn, stmt, "schema version");
    if (result != CASH_OK) {
        return result == CASH_NOT_FOUND ? CASH_INTERNAL_ERROR : result;
    }
    struct sqlite_row row;
    sqlite_row_start(&row, stmt);
    int64_t version = sqlite_row_int64(&row);
    if (version < 0 || version > 1000000) {
        row.ok = false;
    }
    *version_out = (int)version;
    result = sqlite_row_check(&row, "schema version");
    /* Done with: a statement left running would lock the schema against DROP INDEX. */
    sqlite3_reset(stmt);
    return result;
}

static cash_result schema_apply(struct sqlite_conn *conn, const struct schema_migration *migration)
{
    for (size_t i = 0; migration->statements[i] != NULL; i++) {
        cash_result result = sqlite_exec(conn, migration->statements[i], "migration");
        if (result != CASH_OK) {
            log_error("store: migration to version %d failed at statement %zu", migration->version,
                      i + 1);
            return result;
        }
    }
    sqlite3_stmt *stmt = sqlite_stmt(conn, SQL_VERSION_INSERT);
    if (stmt == NULL) {
        return CASH_INTERNAL_ERROR;
    }
    struct sqlite_binder binder;
    sqlite_bind_start(&binder, stmt);
    sqlite_bind_int64(&binder, migration->version);
    sqlite_bind_int64(&binder, time_now_ms());
    cash_result result = sqlite_bind_check(conn, &binder, "schema version insert");
    if (result != CASH_OK) {
        return result;
    }
    return sqlite_step_done(conn, stmt, "schema version insert", NULL);
}

static cash_result migrate_step(struct sqlite_conn *conn, void *context_pointer)
{
    struct migrate_context *context = context_pointer;
    cash_result result = sqlite_exec(conn, SQL_VERSION_TABLE, "schema_version table");
    if (result != CASH_OK) {
        return result;
    }
    int version = 0;
    result = schema_version_read(conn, &version);
    if (result != CASH_OK) {
        return result;
    }
    if (context->migration != NULL && version < context->migration->version) {
        /* Versions apply in order: the one before must be there already. */
        if (version != context->migration->version - 1) {
            log_error("store: schema version %d cannot migrate to %d", version,
                      context->migration->version);
            return CASH_INTERNAL_ERROR;
        }
        result = schema_apply(conn, context->migration);
        if (result != CASH_OK) {
            return result;
        }
        version = context->migration->version;
    }
    context->version = version;
    return CASH_OK;
}

/* Creates or migrates the schema (store.h); one transaction per version. */
cash_result sqlite_migrate(struct store *base, int *version_out)
{
    struct sqlite_store *store = sqlite_store_of(base);
    struct migrate_context context = {.migration = NULL, .version = 0};
    cash_result result = sqlite_write_run(store, migrate_step, &context);
    for (size_t i = 0; result == CASH_OK && i < schema_migration_count; i++) {
        context.migration = &schema_migrations[i];
        result = sqlite_write_run(store, migrate_step, &context);
    }
    if (result != CASH_OK) {
        return result;
    }
    int newest = schema_migrations[schema_migration_count - 1].version;
    if (context.version != newest) {
        log_error("store: the database has schema version %d; this program knows up to %d",
                  context.version, newest);
        return CASH_INTERNAL_ERROR;
    }
    *version_out = context.version;
    return CASH_OK;
}
