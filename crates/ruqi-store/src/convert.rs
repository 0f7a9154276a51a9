//! `job_info::Model` ⇄ [`JobRecord`]: the one place the two shapes meet.

use ruqi_core::JobRecord;

use crate::entity::job_info;

impl From<job_info::Model> for JobRecord {
    fn from(m: job_info::Model) -> Self {
        JobRecord {
            job_id: m.job_id,
            job_name: m.job_name,
            description: m.description,
            func: m.func,
            args: m.args,
            trigger: m.trigger,
            rule: m.rule,
            timezone: m.timezone,
            start_at: m.start_at,
            end_at: m.end_at,
            next_run_time: m.next_run_time,
            is_paused: m.is_paused,
            is_running: m.is_running,
            run_right_now: m.run_right_now,
            misfire_grace_s: m.misfire_grace_s,
            misfire_policy: m.misfire_policy,
            overlap: m.overlap,
            max_instances: m.max_instances,
            timeout_s: m.timeout_s,
            max_retries: m.max_retries,
            retry_backoff: m.retry_backoff,
            retry_delay: m.retry_delay,
            child_jobs: m.child_jobs,
            alert_url: m.alert_url,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
            last_status: m.last_status,
            last_error: m.last_error,
            schedule_hash: m.schedule_hash,
        }
    }
}

impl From<JobRecord> for job_info::Model {
    fn from(r: JobRecord) -> Self {
        job_info::Model {
            job_id: r.job_id,
            job_name: r.job_name,
            description: r.description,
            func: r.func,
            args: r.args,
            trigger: r.trigger,
            rule: r.rule,
            timezone: r.timezone,
            start_at: r.start_at,
            end_at: r.end_at,
            next_run_time: r.next_run_time,
            is_paused: r.is_paused,
            is_running: r.is_running,
            run_right_now: r.run_right_now,
            misfire_grace_s: r.misfire_grace_s,
            misfire_policy: r.misfire_policy,
            overlap: r.overlap,
            max_instances: r.max_instances,
            timeout_s: r.timeout_s,
            max_retries: r.max_retries,
            retry_backoff: r.retry_backoff,
            retry_delay: r.retry_delay,
            child_jobs: r.child_jobs,
            alert_url: r.alert_url,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
            last_status: r.last_status,
            last_error: r.last_error,
            schedule_hash: r.schedule_hash,
            claim_id: None,
            claim_node: None,
            claim_for: None,
        }
    }
}
