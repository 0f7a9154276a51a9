//! SQLite: an `AFTER UPDATE` trigger (SQLite triggers cannot assign to `NEW`)
//! that writes the bumped `version` with a second, non-recursive update.

use super::any_changed;

/// The current time in the text form sqlx writes for a UTC timestamp.
/// SQLite compares timestamps as text, so what triggers and defaults write
/// must use the same form for `ORDER BY updated_at` to be right.
pub(crate) const NOW: &str = "(strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))";

pub(crate) fn create_version_trigger(columns: &[&str]) -> Vec<String> {
    let changed = any_changed(columns, |c| format!("NEW.\"{c}\" IS NOT OLD.\"{c}\""));
    vec![
        "DROP TRIGGER IF EXISTS ruqi_job_info_version".to_owned(),
        format!(
            "CREATE TRIGGER ruqi_job_info_version AFTER UPDATE ON job_info FOR EACH ROW
WHEN NEW.version = OLD.version AND ({changed})
BEGIN
    UPDATE job_info
       SET version = OLD.version + 1,
           updated_at = {NOW}
     WHERE job_id = NEW.job_id;
END"
        ),
    ]
}

pub(crate) fn drop_version_trigger() -> Vec<String> {
    vec!["DROP TRIGGER IF EXISTS ruqi_job_info_version".to_owned()]
}

/// Logs every schedule change of a `job_info` row to `job_change`. An update
/// that changes a versioned column without bumping `version` is logged when
/// the trigger above bumps it (its inner `UPDATE` fires this trigger).
pub(crate) fn create_change_triggers() -> Vec<String> {
    let mut statements = drop_change_triggers();
    statements.extend([
        "CREATE TRIGGER ruqi_job_info_insert_change AFTER INSERT ON job_info FOR EACH ROW
BEGIN
    INSERT INTO job_change (job_id, version) VALUES (NEW.job_id, NEW.version);
END"
        .to_owned(),
        "CREATE TRIGGER ruqi_job_info_update_change AFTER UPDATE ON job_info FOR EACH ROW
WHEN NEW.version IS NOT OLD.version OR NEW.job_id IS NOT OLD.job_id
BEGIN
    INSERT INTO job_change (job_id, version) SELECT OLD.job_id, NULL WHERE NEW.job_id IS NOT OLD.job_id;
    INSERT INTO job_change (job_id, version) VALUES (NEW.job_id, NEW.version);
END"
        .to_owned(),
        "CREATE TRIGGER ruqi_job_info_delete_change AFTER DELETE ON job_info FOR EACH ROW
BEGIN
    INSERT INTO job_change (job_id, version) VALUES (OLD.job_id, NULL);
END"
        .to_owned(),
    ]);
    statements
}

pub(crate) fn drop_change_triggers() -> Vec<String> {
    super::drop_per_operation_change_triggers()
}
