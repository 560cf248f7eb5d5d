/*
 * migrate.c - store_migrate written once over the driver seam: applies the versions of schema.c,
 * the same text on both drivers, so that `cashctl init` means the same on both.
 *
 * Each version is applied in one transaction together with its row in schema_version, so a
 * version is either wholly there or not at all, and running the migration again changes nothing.
 * Two processes migrating at once: on SQLite the one writer serialises them; on PostgreSQL the
 * second blocks on the first's uncommitted tables, then fails with a duplicate (CASH_CONFLICT)
 * once it commits, and that step is run again and finds the version in place (no advisory lock,
 * no LOCK TABLE: CockroachDB has neither). After the versions the driver does what it does once
 * the schema is in place (struct db_driver: migrated).
 *
 * Migrations run rarely and change the tables under them: their SQL is never prepared.
 */
#include "common/log.h"
#include "common/timeutil.h"
#include "store/schema.h"
#include "store/store_internal.h"

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

static cash_result schema_version_read(struct db_tx *tx, int *version_out)
{
    /* Read to its end: a statement left running would lock the schema against DROP INDEX. */
    int64_t version = 0;
    cash_result result =
        db_step_int64(db_statement_text(tx, SQL_VERSION_MAX), "schema version", &version);
    if (result == CASH_OK && (version < 0 || version > 1000000)) {
        log_error("store: schema version %lld is out of range", (long long)version);
        result = CASH_INTERNAL_ERROR;
    }
    *version_out = (int)version;
    return result;
}

static cash_result schema_apply(struct db_tx *tx, const struct schema_migration *migration)
{
    for (size_t i = 0; migration->statements[i] != NULL; i++) {
        cash_result result = db_exec_simple(tx, migration->statements[i]);
        if (result != CASH_OK) {
            if (result != CASH_CONFLICT) {
                log_error("store: migration to version %d failed at statement %zu",
                          migration->version, i + 1);
            }
            return result;
        }
    }
    struct db_stmt *stmt = db_statement_text(tx, SQL_VERSION_INSERT);
    db_bind_int64(stmt, migration->version);
    db_bind_int64(stmt, time_now_ms());
    return db_exec(stmt, NULL);
}

static cash_result migrate_step(struct db_tx *tx, void *context_pointer)
{
    struct migrate_context *context = context_pointer;
    cash_result result = db_exec_simple(tx, SQL_VERSION_TABLE);
    if (result != CASH_OK) {
        return result;
    }
    int version = 0;
    result = schema_version_read(tx, &version);
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
        result = schema_apply(tx, context->migration);
        if (result != CASH_OK) {
            return result;
        }
        version = context->migration->version;
    }
    context->version = version;
    return CASH_OK;
}

/* One step in its own transaction, run again while another process's migration got there first. */
static cash_result migrate_run(struct store *store, struct migrate_context *context)
{
    cash_result result = CASH_CONFLICT;
    for (int attempt = 0; attempt < DB_TRANSACTION_ATTEMPTS_MAX && result == CASH_CONFLICT;
         attempt++) {
        result = db_run(store, DB_WRITE, migrate_step, context);
        if (result == CASH_CONFLICT) {
            log_info("store: another process migrated the schema meanwhile; checking again");
        }
    }
    return result;
}

/* Creates or migrates the schema (store.h); one transaction per version, then the driver's own. */
cash_result store_migrate(struct store *store, int *version_out)
{
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
    result = store->driver->migrated(store);
    if (result != CASH_OK) {
        return result;
    }
    *version_out = context.version;
    return CASH_OK;
}
