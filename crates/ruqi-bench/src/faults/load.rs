//! The load of a fault run: 300 jobs written without the ORM's hooks (the
//! nodes learn of them through the change feed, as of any plain SQL
//! insert), and the slow HTTP endpoint a tenth of them call.
//!
//! | jobs | trigger, rule | function |
//! |---:|---|---|
//! | 100 | `interval` `1s` | `log` |
//! | 100 | `cron` `* * * * * *` | `log` |
//! | 70 | `interval` `2s` | `log` |
//! | 30 | `interval` `1s` | `http` to [`SlowEndpoint`], which answers after 700 ms |
//!
//! Every other column keeps its default: `misfire_grace_s` 5, `misfire_policy`
//! `skip`, `overlap` `skip`, no timeout, no retries. Each job has a `start_at`
//! a few seconds ahead, so its first fire is known from the row alone (an
//! interval job fires at `start_at` and every period after; the cron jobs'
//! `start_at` is a whole second, their first fire): the interval jobs'
//! `start_at` are spread over their period, the cron jobs all fire on the
//! whole second.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::Data;
use poem::{EndpointExt, Route, Server, get, handler};
use ruqi::entity::job_info;
use sea_orm::ActiveValue::Set;
use sea_orm::{DatabaseConnection, EntityTrait};

/// How long the slow endpoint takes to answer.
pub(crate) const SLOW_ANSWER: Duration = Duration::from_millis(700);

/// The `job_name` of every job of the load.
pub(crate) const JOB_NAME: &str = "faults";

/// One group of jobs alike.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JobGroup {
    /// Prefix of their ids (`<prefix>-<nnn>`).
    pub(crate) prefix: &'static str,
    /// How many.
    pub(crate) count: usize,
    /// `interval` or `cron`.
    pub(crate) trigger: &'static str,
    /// The rule.
    pub(crate) rule: &'static str,
    /// Whether they call the slow endpoint (`http`) rather than `log`.
    pub(crate) slow: bool,
    /// Milliseconds their first fires are spread over (0: all at once).
    pub(crate) spread_ms: i64,
}

/// The load, group by group.
pub(crate) const GROUPS: [JobGroup; 4] = [
    JobGroup {
        prefix: "every1s",
        count: 100,
        trigger: "interval",
        rule: "1s",
        slow: false,
        spread_ms: 1000,
    },
    JobGroup {
        prefix: "cron1s",
        count: 100,
        trigger: "cron",
        rule: "* * * * * *",
        slow: false,
        spread_ms: 0,
    },
    JobGroup {
        prefix: "every2s",
        count: 70,
        trigger: "interval",
        rule: "2s",
        slow: false,
        spread_ms: 2000,
    },
    JobGroup {
        prefix: "slow1s",
        count: 30,
        trigger: "interval",
        rule: "1s",
        slow: true,
        spread_ms: 1000,
    },
];

/// Jobs in the load.
pub(crate) fn job_count() -> usize {
    GROUPS.iter().map(|g| g.count).sum()
}

/// The jobs' rows, as a plain SQL `INSERT` would write them, first fires
/// from the whole second after `not_before` on.
pub(crate) fn job_rows(not_before: DateTime<Utc>, slow_url: &str) -> Vec<job_info::ActiveModel> {
    let second = TimeDelta::seconds(1);
    let base = not_before.duration_trunc(second).unwrap_or(not_before) + second;
    let slow_args = serde_json::json!({ "url": slow_url, "timeout_s": 10 }).to_string();
    GROUPS
        .iter()
        .flat_map(|group| {
            let slow_args = slow_args.clone();
            (0..group.count).map(move |i| {
                let index = i64::try_from(i).unwrap_or(0);
                let count = i64::try_from(group.count).unwrap_or(1).max(1);
                let start_at = base + TimeDelta::milliseconds(index * group.spread_ms / count);
                let (func, args) = if group.slow {
                    ("http", Some(slow_args.clone()))
                } else {
                    ("log", None)
                };
                job_info::ActiveModel {
                    job_name: Set(Some(JOB_NAME.to_owned())),
                    args: Set(args),
                    start_at: Set(Some(start_at)),
                    ..job_info::ActiveModel::new_job(
                        format!("{}-{i:03}", group.prefix),
                        func,
                        group.trigger,
                        group.rule,
                    )
                }
            })
        })
        .collect()
}

/// Writes the load in one statement, first fires from the whole second after `not_before` on.
pub(crate) async fn insert_jobs(db: &DatabaseConnection, not_before: DateTime<Utc>, slow_url: &str) -> Result<()> {
    let rows = job_rows(not_before, slow_url);
    // `insert_many` runs no ActiveModel hook: the nodes hear of the rows
    // from the change feed, as of any insert by plain SQL.
    job_info::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await
        .context("inserting the jobs")?;
    Ok(())
}

/// A loopback HTTP endpoint that answers `GET /slow` with `200 ok` after
/// [`SLOW_ANSWER`], for jobs whose runs take that long. It runs on the
/// harness's runtime until dropped.
#[derive(Debug)]
pub(crate) struct SlowEndpoint {
    url: String,
    requests: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

#[handler]
async fn answer_slowly(Data(requests): Data<&Arc<AtomicUsize>>) -> &'static str {
    requests.fetch_add(1, Ordering::Relaxed);
    tokio::time::sleep(SLOW_ANSWER).await;
    "ok"
}

impl SlowEndpoint {
    /// Listens on a free loopback port.
    pub(crate) async fn start() -> Result<SlowEndpoint> {
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .context("starting the slow endpoint")?;
        let addr = acceptor
            .local_addr()
            .first()
            .and_then(|addr| addr.as_socket_addr().copied())
            .context("the slow endpoint has no address")?;
        let requests = Arc::new(AtomicUsize::new(0));
        let app = Route::new().at("/slow", get(answer_slowly)).data(requests.clone());
        let task = tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor).run(app).await;
        });
        Ok(SlowEndpoint {
            url: format!("http://{addr}/slow"),
            requests,
            task,
        })
    }

    /// Its URL.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Requests received so far.
    pub(crate) fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }
}

impl Drop for SlowEndpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_hundred_jobs_with_their_first_fires_ahead() {
        let now: DateTime<Utc> = "2026-12-02T10:00:00.400Z".parse().unwrap();
        let rows = job_rows(now, "http://127.0.0.1:9/slow");
        assert_eq!(rows.len(), 300);
        assert_eq!(job_count(), 300);
        let start = |row: &job_info::ActiveModel| row.start_at.clone().unwrap().unwrap();
        let first: DateTime<Utc> = "2026-12-02T10:00:01Z".parse().unwrap();
        assert!(
            rows.iter()
                .all(|r| start(r) >= first && start(r) < first + TimeDelta::seconds(2))
        );
        let cron: Vec<_> = rows.iter().filter(|r| r.trigger.clone().unwrap() == "cron").collect();
        assert_eq!(cron.len(), 100);
        assert!(cron.iter().all(|r| start(r) == first));
        let slow: Vec<_> = rows.iter().filter(|r| r.func.clone().unwrap() == "http").collect();
        assert_eq!(slow.len(), 30);
        assert!(slow[0].args.clone().unwrap().unwrap().contains("127.0.0.1:9/slow"));
        // Every other policy column is left to the table's defaults.
        assert!(
            rows.iter()
                .all(|r| r.misfire_grace_s.is_not_set() && r.overlap.is_not_set())
        );
    }
}
