//! MySQL / MariaDB: column types and a `BEFORE UPDATE` trigger.

use super::any_changed;

/// Timestamps with microseconds (a plain `TIMESTAMP` keeps whole seconds and ends in 2038).
pub(crate) const TIMESTAMP_TYPE: &str = "DATETIME(6)";
/// The current time with microseconds.
pub(crate) const NOW: &str = "CURRENT_TIMESTAMP(6)";
/// Up to 16 MiB of text.
pub(crate) const LONG_TEXT_TYPE: &str = "MEDIUMTEXT";

pub(crate) fn create_version_trigger(columns: &[&str]) -> Vec<String> {
    let changed = any_changed(columns, |c| format!("NOT (NEW.`{c}` <=> OLD.`{c}`)"));
    vec![
        "DROP TRIGGER IF EXISTS ruqi_job_info_version".to_owned(),
        format!(
            "CREATE TRIGGER ruqi_job_info_version BEFORE UPDATE ON job_info FOR EACH ROW
BEGIN
    IF NEW.version = OLD.version AND ({changed}) THEN
        SET NEW.version = OLD.version + 1;
        SET NEW.updated_at = {NOW};
    END IF;
END"
        ),
    ]
}

pub(crate) fn drop_version_trigger() -> Vec<String> {
    vec!["DROP TRIGGER IF EXISTS ruqi_job_info_version".to_owned()]
}

/// Logs every schedule change of a `job_info` row to `job_change` (after the
/// `BEFORE UPDATE` trigger above has bumped `version`).
pub(crate) fn create_change_triggers() -> Vec<String> {
    let mut statements = drop_change_triggers();
    statements.extend([
        "CREATE TRIGGER ruqi_job_info_insert_change AFTER INSERT ON job_info FOR EACH ROW
    INSERT INTO job_change (job_id, version) VALUES (NEW.job_id, NEW.version)"
            .to_owned(),
        "CREATE TRIGGER ruqi_job_info_update_change AFTER UPDATE ON job_info FOR EACH ROW
BEGIN
    IF NOT (BINARY NEW.job_id <=> BINARY OLD.job_id) THEN
        INSERT INTO job_change (job_id, version) VALUES (OLD.job_id, NULL);
        INSERT INTO job_change (job_id, version) VALUES (NEW.job_id, NEW.version);
    ELSEIF NOT (NEW.version <=> OLD.version) THEN
        INSERT INTO job_change (job_id, version) VALUES (NEW.job_id, NEW.version);
    END IF;
END"
        .to_owned(),
        "CREATE TRIGGER ruqi_job_info_delete_change AFTER DELETE ON job_info FOR EACH ROW
    INSERT INTO job_change (job_id, version) VALUES (OLD.job_id, NULL)"
            .to_owned(),
    ]);
    statements
}

pub(crate) fn drop_change_triggers() -> Vec<String> {
    super::drop_per_operation_change_triggers()
}
