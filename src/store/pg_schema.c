/*
 * pg_schema.c - store_migrate for the PostgreSQL backend: applies the versions of schema.c, the
 * same text as on SQLite, so that `cashctl init` means the same on both. Each
 * version is applied in one transaction together with its row in schema_version (PostgreSQL's
 * DDL is transactional). Two processes migrating at once: the second blocks on the first's
 * uncommitted tables, then fails with a duplicate (23505, 42P07) once it commits; that step is
 * run again and finds the version in place. No advisory lock, no LOCK TABLE: CockroachDB has
 * neither. After the versions, pg_function_install (pg_function.c) puts the backend's
 * server-side function in place.
 */
#include <stdio.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "store/pg_internal.h"
#include "store/schema.h"

static const char SQL_VERSION_TABLE[] = "CREATE TABLE IF NOT EXISTS schema_version ("
                                        " version INTEGER PRIMARY KEY,"
                                        " applied_ms BIGINT NOT NULL)";
static const char SQL_VERSION_MAX[] = "SELECT COALESCE(MAX(version), 0) FROM schema_version";
static const char SQL_VERSION_INSERT[] =
    "INSERT INTO schema_version (version, applied_ms) VALUES ($1, $2)";

struct migrate_context {
    const struct schema_migration *migration; /* NULL: only create schema_version */
    int version;                              /* out: the newest version after the step */
};

/* Migrations run rarely and change the tables under them: their SQL is never prepared. */
static cash_result schema_version_read(struct pg_conn *conn, int *version_out)
{
    cash_result result = CASH_OK;
    PGresult *res = pg_exec_dynamic(conn, SQL_VERSION_MAX, NULL, "schema version", &result);
    if (res == NULL) {
        return result;
    }
    struct pg_row row;
    pg_row_start(&row, res, 0);
    int64_t version = pg_row_int64(&row);
    if (version < 0 || version > 1000000) {
        row.ok = false;
    }
    *version_out = (int)version;
    result = pg_row_check(&row, "schema version");
    PQclear(res);
    return result;
}

static cash_result schema_apply(struct pg_conn *conn, const struct schema_migration *migration)
{
    for (size_t i = 0; migration->statements[i] != NULL; i++) {
        cash_result result = pg_exec_simple(conn, migration->statements[i], "migration");
        if (result != CASH_OK) {
            if (result != CASH_CONFLICT) {
                log_error("store: migration to version %d failed at statement %zu",
                          migration->version, i + 1);
            }
            return result;
        }
    }
    struct pg_params params;
    pg_params_start(&params);
    pg_param_int64(&params, migration->version);
    pg_param_int64(&params, time_now_ms());
    cash_result result = CASH_OK;
    PGresult *res =
        pg_exec_dynamic(conn, SQL_VERSION_INSERT, &params, "schema version insert", &result);
    PQclear(res);
    return result;
}

static cash_result migrate_step(struct pg_conn *conn, void *context_pointer)
{
    struct migrate_context *context = context_pointer;
    cash_result result = pg_exec_simple(conn, SQL_VERSION_TABLE, "schema_version table");
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

/* One step in its own transaction, run again while another process's migration got there first. */
static cash_result migrate_run(struct pg_store *store, struct migrate_context *context)
{
    cash_result result = CASH_CONFLICT;
    for (int attempt = 0; attempt < DB_TRANSACTION_ATTEMPTS_MAX && result == CASH_CONFLICT;
         attempt++) {
        result = pg_run(store, PG_WRITE, migrate_step, context);
        if (result == CASH_CONFLICT) {
            log_info("store: another process migrated the schema meanwhile; checking again");
        }
    }
    return result;
}

/*
 * Creates or migrates the schema (store.h); one transaction per version. Then the server-side
 * function of pg_function.c, which is not part of the versions (their text is shared with
 * SQLite), is put in place as this program has it.
 */
cash_result pg_migrate(struct store *base, int *version_out)
{
    struct pg_store *store = pg_store_of(base);
    struct migrate_context context = {.migration = NULL, .version = 0};
    cash_result result = migrate_run(store, &context);
    for (size_t i = 0; result == CASH_OK && i < schema_migration_count; i++) {
        context.migration = &schema_migrations[i];
        result = migrate_run(store, &context);
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
    result = pg_function_install(store);
    if (result != CASH_OK) {
        return result;
    }
    *version_out = context.version;
    return CASH_OK;
}
