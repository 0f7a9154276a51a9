//! MySQL / MariaDB: column types and a `BEFORE UPDATE` trigger.

use super::any_changed;

/// Timestamps with microseconds (a plain `TIMESTAMP` keeps whole seconds and ends in 2038).
pub(crate) const TIMESTAMP_TYPE: &str = "DATETIME(6)";
/// The current time with microseconds.
pub(crate) const NOW: &str = "CURRENT_TIMESTAMP(6)";
/// Up to 16 MiB of text.
pub(crate) const LONG_TEXT_TYPE: &str = "MEDIUMTEXT";

pub(crate) fn create_version_trigger() -> Vec<String> {
    let changed = any_changed(|c| format!("NOT (NEW.`{c}` <=> OLD.`{c}`)"));
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
