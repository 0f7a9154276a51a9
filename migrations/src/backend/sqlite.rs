//! SQLite: an `AFTER UPDATE` trigger (SQLite triggers cannot assign to `NEW`)
//! that writes the bumped `version` with a second, non-recursive update.

use super::any_changed;

/// The current time in the text form sqlx writes for a UTC timestamp.
/// SQLite compares timestamps as text, so what triggers and defaults write
/// must use the same form for `ORDER BY updated_at` to be right.
pub(crate) const NOW: &str = "(strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))";

pub(crate) fn create_version_trigger() -> Vec<String> {
    let changed = any_changed(|c| format!("NEW.\"{c}\" IS NOT OLD.\"{c}\""));
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
