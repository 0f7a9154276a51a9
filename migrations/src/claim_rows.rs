//! The triggers that write the `job_execution` row of a claimed run when the
//! `job_info` claim columns naming it (migration 14) are about to be lost
//! before the run has a row of its own: replaced by a later claim
//! (migration 15) or deleted with the job (migration 17).

use sea_orm_migration::sea_orm::DatabaseBackend;

/// The `job_execution` columns the row gets, and their values from `OLD`:
/// the run started, as far as anyone knows, at the instant it was claimed
/// for, as its first attempt of a scheduled fire.
const COLUMNS: &str = "id, job_id, job_name, scheduled_for, started_at, status, attempt, node, trigger_source";
const VALUES: &str = "OLD.claim_id, OLD.job_id, OLD.job_name, OLD.claim_for, OLD.claim_for, 'running', 1, \
                      COALESCE(OLD.claim_node, ''), 'schedule'";

/// One such trigger on `job_info`.
pub(crate) struct ClaimRowTrigger {
    /// The trigger's name on every backend (and the PostgreSQL function's).
    pub(crate) name: &'static str,
    /// The event on PostgreSQL and SQLite (`UPDATE OF claim_id`, `DELETE`).
    pub(crate) event: &'static str,
    /// The event on MySQL, which names no columns (`UPDATE`, `DELETE`).
    pub(crate) mysql_event: &'static str,
    /// When the row is written, over `OLD` and `NEW`, in the SQL of every backend.
    pub(crate) condition: &'static str,
}

impl ClaimRowTrigger {
    /// Creates the trigger (replacing one of the same name). A row the run
    /// already has is left as it is.
    pub(crate) fn create(&self, db: DatabaseBackend) -> Vec<String> {
        let Self {
            name,
            event,
            mysql_event,
            condition,
        } = self;
        let mut statements = self.drop(db);
        match db {
            DatabaseBackend::Postgres => statements.extend([
                format!(
                    "CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$
BEGIN
    INSERT INTO job_execution ({COLUMNS}) VALUES ({VALUES}) ON CONFLICT (id) DO NOTHING;
    RETURN NULL;
END
$$ LANGUAGE plpgsql"
                ),
                format!(
                    "CREATE TRIGGER {name} AFTER {event} ON job_info \
                     FOR EACH ROW WHEN ({condition}) EXECUTE FUNCTION {name}()"
                ),
            ]),
            // MySQL's trigger has no `WHEN`; `INSERT IGNORE` rather than a read of
            // the id first, which would lock the gap where new runs' rows go.
            DatabaseBackend::MySql => statements.push(format!(
                "CREATE TRIGGER {name} AFTER {mysql_event} ON job_info FOR EACH ROW
BEGIN
    IF {condition} THEN
        INSERT IGNORE INTO job_execution ({COLUMNS}) VALUES ({VALUES});
    END IF;
END"
            )),
            _ => statements.push(format!(
                "CREATE TRIGGER {name} AFTER {event} ON job_info FOR EACH ROW WHEN {condition}
BEGIN
    INSERT INTO job_execution ({COLUMNS}) SELECT {VALUES}
     WHERE NOT EXISTS (SELECT 1 FROM job_execution WHERE id = OLD.claim_id);
END"
            )),
        }
        statements
    }

    /// Drops the trigger (and its PostgreSQL function).
    pub(crate) fn drop(&self, db: DatabaseBackend) -> Vec<String> {
        let name = self.name;
        match db {
            DatabaseBackend::Postgres => vec![
                format!("DROP TRIGGER IF EXISTS {name} ON job_info"),
                format!("DROP FUNCTION IF EXISTS {name}()"),
            ],
            _ => vec![format!("DROP TRIGGER IF EXISTS {name}")],
        }
    }
}
