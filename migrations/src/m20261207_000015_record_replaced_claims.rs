//! A trigger on `job_info` writes the row of a claimed run whose claim is
//! being replaced before that run has a row of its own.
//!
//! The claim columns of migration 14 stand for a claimed run until its
//! node writes the run's `job_execution` row. When a later claim of the
//! same job names a new run in their place, the run they named must not
//! vanish: if its row does not exist yet (its node died before writing it,
//! or has not written it yet), the row is written as `running`, with the
//! claim's node and instant. Its node writes the same row again (a start is
//! written only where there is no row) and finishes it; a reaper that takes
//! the node for dead marks it `lost`.
//!
//! Until this migration each claim transaction read the claim columns of
//! the rows it was about to claim and wrote the missing rows itself: one
//! more statement, and a look-up per row, in every batch of claims, though
//! the columns are almost always empty when a job is claimed again (a run's
//! end clears them). The trigger does the same work in the statement that
//! replaces the columns, and only for the rows whose columns name a run:
//! its condition reads the old and new claim alone.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::backend;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// The trigger's name on every backend (and the PostgreSQL function's).
const TRIGGER: &str = "ruqi_job_info_replaced_claim";

/// The claim columns name a run (all of them set) and the write replaces
/// them with another run; in the SQL of every backend.
const REPLACED: &str = "OLD.claim_id IS NOT NULL AND OLD.claim_for IS NOT NULL \
                        AND NEW.claim_id IS NOT NULL AND NEW.claim_id <> OLD.claim_id";

/// The `job_execution` columns the row gets, and their values from `OLD`:
/// the run started, as far as anyone knows, at the instant it was claimed
/// for, as its first attempt of a scheduled fire.
const COLUMNS: &str = "id, job_id, job_name, scheduled_for, started_at, status, attempt, node, trigger_source";
const VALUES: &str = "OLD.claim_id, OLD.job_id, OLD.job_name, OLD.claim_for, OLD.claim_for, 'running', 1, \
                      COALESCE(OLD.claim_node, ''), 'schedule'";

fn create(db: DatabaseBackend) -> Vec<String> {
    let mut statements = drop(db);
    match db {
        DatabaseBackend::Postgres => statements.extend([
            format!(
                "CREATE OR REPLACE FUNCTION {TRIGGER}() RETURNS trigger AS $$
BEGIN
    INSERT INTO job_execution ({COLUMNS}) VALUES ({VALUES}) ON CONFLICT (id) DO NOTHING;
    RETURN NULL;
END
$$ LANGUAGE plpgsql"
            ),
            format!(
                "CREATE TRIGGER {TRIGGER} AFTER UPDATE OF claim_id ON job_info \
                 FOR EACH ROW WHEN ({REPLACED}) EXECUTE FUNCTION {TRIGGER}()"
            ),
        ]),
        // MySQL's trigger has no `WHEN`; `INSERT IGNORE` rather than a read of
        // the id first, which would lock the gap where new runs' rows go.
        DatabaseBackend::MySql => statements.push(format!(
            "CREATE TRIGGER {TRIGGER} AFTER UPDATE ON job_info FOR EACH ROW
BEGIN
    IF {REPLACED} THEN
        INSERT IGNORE INTO job_execution ({COLUMNS}) VALUES ({VALUES});
    END IF;
END"
        )),
        _ => statements.push(format!(
            "CREATE TRIGGER {TRIGGER} AFTER UPDATE OF claim_id ON job_info FOR EACH ROW WHEN {REPLACED}
BEGIN
    INSERT INTO job_execution ({COLUMNS}) SELECT {VALUES}
     WHERE NOT EXISTS (SELECT 1 FROM job_execution WHERE id = OLD.claim_id);
END"
        )),
    }
    statements
}

fn drop(db: DatabaseBackend) -> Vec<String> {
    match db {
        DatabaseBackend::Postgres => vec![
            format!("DROP TRIGGER IF EXISTS {TRIGGER} ON job_info"),
            format!("DROP FUNCTION IF EXISTS {TRIGGER}()"),
        ],
        _ => vec![format!("DROP TRIGGER IF EXISTS {TRIGGER}")],
    }
}

// async_trait expands the hidden `SchemaManager<'_>` lifetime itself.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        backend::run(manager, create(manager.get_database_backend())).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        backend::run(manager, drop(manager.get_database_backend())).await
    }
}
