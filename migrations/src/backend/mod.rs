//! SQL that differs per backend, one file each; the migrations pick one with
//! `get_database_backend()` at run time.

pub(crate) mod mysql;
pub(crate) mod postgres;
pub(crate) mod sqlite;

/// `job_info` columns whose change means the schedule or the way a job runs
/// changed. A write that changes any of them without bumping `version`
/// itself gets `version + 1` from the trigger, so every writer — ORM, admin
/// API, plain SQL — moves the version, and the schedulers' compare-and-set
/// claims can never overwrite an edit they have not seen.
pub(crate) const VERSIONED_COLUMNS: &[&str] = &[
    "job_name",
    "func",
    "args",
    "trigger",
    "rule",
    "timezone",
    "start_at",
    "end_at",
    "next_run_time",
    "is_paused",
    "run_right_now",
    "misfire_grace_s",
    "misfire_policy",
    "overlap",
    "max_instances",
    "timeout_s",
    "max_retries",
];

/// `<a> OR <b> OR …` over the versioned columns, each test built by `changed`.
pub(crate) fn any_changed(changed: impl Fn(&str) -> String) -> String {
    VERSIONED_COLUMNS
        .iter()
        .map(|c| changed(c))
        .collect::<Vec<_>>()
        .join(" OR ")
}
