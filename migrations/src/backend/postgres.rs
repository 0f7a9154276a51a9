//! PostgreSQL: a `BEFORE UPDATE` trigger function bumps `version`.

use super::any_changed;

pub(crate) fn create_version_trigger() -> Vec<String> {
    let changed = any_changed(|c| format!("NEW.\"{c}\" IS DISTINCT FROM OLD.\"{c}\""));
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
