//! PostgreSQL: a `BEFORE UPDATE` trigger function bumps `version`.

use super::any_changed;

pub(crate) fn create_version_trigger(columns: &[&str]) -> Vec<String> {
    let changed = any_changed(columns, |c| format!("NEW.\"{c}\" IS DISTINCT FROM OLD.\"{c}\""));
    vec![
        format!(
            "CREATE OR REPLACE FUNCTION ruqi_job_info_bump_version() RETURNS trigger AS $$
BEGIN
    IF NEW.version = OLD.version AND ({changed}) THEN
        NEW.version := OLD.version + 1;
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql"
        ),
        "DROP TRIGGER IF EXISTS ruqi_job_info_version ON job_info".to_owned(),
        "CREATE TRIGGER ruqi_job_info_version BEFORE UPDATE ON job_info \
         FOR EACH ROW EXECUTE FUNCTION ruqi_job_info_bump_version()"
            .to_owned(),
    ]
}

pub(crate) fn drop_version_trigger() -> Vec<String> {
    vec![
        "DROP TRIGGER IF EXISTS ruqi_job_info_version ON job_info".to_owned(),
        "DROP FUNCTION IF EXISTS ruqi_job_info_bump_version()".to_owned(),
    ]
}

/// Logs every schedule change of a `job_info` row to `job_change` and wakes
/// the listening schedulers. The notification carries no payload, so
/// PostgreSQL folds a bulk change into one notification per transaction;
/// the readers take the rows from the log.
pub(crate) fn create_change_triggers() -> Vec<String> {
    vec![
        format!(
            "CREATE OR REPLACE FUNCTION ruqi_job_info_log_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO job_change (job_id, version) VALUES (OLD.job_id, NULL);
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO job_change (job_id, version) VALUES (NEW.job_id, NEW.version);
    ELSIF NEW.job_id IS DISTINCT FROM OLD.job_id THEN
        INSERT INTO job_change (job_id, version) VALUES (OLD.job_id, NULL);
        INSERT INTO job_change (job_id, version) VALUES (NEW.job_id, NEW.version);
    ELSIF NEW.version IS DISTINCT FROM OLD.version THEN
        INSERT INTO job_change (job_id, version) VALUES (NEW.job_id, NEW.version);
    ELSE
        RETURN NULL;
    END IF;
    PERFORM pg_notify('{channel}', '');
    RETURN NULL;
END
$$ LANGUAGE plpgsql",
            channel = crate::CHANGE_CHANNEL
        ),
        "DROP TRIGGER IF EXISTS ruqi_job_info_change ON job_info".to_owned(),
        "CREATE TRIGGER ruqi_job_info_change AFTER INSERT OR UPDATE OR DELETE ON job_info \
         FOR EACH ROW EXECUTE FUNCTION ruqi_job_info_log_change()"
            .to_owned(),
    ]
}

pub(crate) fn drop_change_triggers() -> Vec<String> {
    vec![
        "DROP TRIGGER IF EXISTS ruqi_job_info_change ON job_info".to_owned(),
        "DROP FUNCTION IF EXISTS ruqi_job_info_log_change()".to_owned(),
    ]
}
