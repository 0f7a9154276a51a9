//! A trigger on `job_info` writes the row of a claimed run whose job is
//! deleted before that run has a row of its own.
//!
//! The claim columns of migration 14 stand for a claimed run until its node
//! writes the run's `job_execution` row; migration 15 keeps them from
//! vanishing when a later claim replaces them. A `DELETE` of the job took
//! them away as well: a node that died between claiming a fire and writing
//! its row then left a fire with no row at all, which no reaper could find.
//! The row is now written, as `running` with the claim's node and instant,
//! by the `DELETE` itself. A live node finishes it as it would have anyway
//! (`missed`: the job was deleted before the run could start); a reaper that
//! takes the node for dead marks it `lost`. A row the run already has is
//! left as it is.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::backend;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// The trigger's name on every backend (and the PostgreSQL function's).
const TRIGGER: &str = "ruqi_job_info_deleted_claim";

/// The deleted row's claim columns name a run.
const CLAIMED: &str = "OLD.claim_id IS NOT NULL AND OLD.claim_for IS NOT NULL";

/// The `job_execution` columns and their values from `OLD`, as migration 15 writes them.
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
                "CREATE TRIGGER {TRIGGER} AFTER DELETE ON job_info \
                 FOR EACH ROW WHEN ({CLAIMED}) EXECUTE FUNCTION {TRIGGER}()"
            ),
        ]),
        DatabaseBackend::MySql => statements.push(format!(
            "CREATE TRIGGER {TRIGGER} AFTER DELETE ON job_info FOR EACH ROW
BEGIN
    IF {CLAIMED} THEN
        INSERT IGNORE INTO job_execution ({COLUMNS}) VALUES ({VALUES});
    END IF;
END"
        )),
        _ => statements.push(format!(
            "CREATE TRIGGER {TRIGGER} AFTER DELETE ON job_info FOR EACH ROW WHEN {CLAIMED}
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
