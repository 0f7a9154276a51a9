//! Execution statistics against a count by hand: a few thousand runs of
//! many jobs, statuses, durations and errors, spread over three days with
//! instants a microsecond either side of bucket edges; every bucket, status,
//! total, mean and percentile the database counts equals the same numbers
//! counted in Rust over every row. Plus the per-job summaries, the filters
//! they share with the history list, the job-id and group completions, and
//! the jobs list's last-status filter.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{job, t};
use ruqi::entity::{job_execution, job_info};
use ruqi::query::{
    Bucket, Counting, ExecutionFilter, ExecutionStats, JobFilter, JobOrder, MAX_BUCKETS, PERCENTILES, Page,
    StatsOptions, StatusCounts, Suggest, execution_stats, job_stats, list_executions, list_jobs, suggest,
};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

const RUNS: usize = 3_000;
const STATUSES: [&str; 7] = [
    "success", "success", "success", "failed", "timeout", "missed", "running",
];
const JOBS: [&str; 6] = ["mon-disk", "mon-cpu", "MON-net", "report", "backup_1", "backup%1"];

/// A small deterministic generator, so a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

/// `RUNS` executions over three days from `t(0)`; every tenth lands a
/// microsecond before or on a whole minute.
fn history() -> Vec<job_execution::Model> {
    let mut rng = Lcg(7);
    (0..RUNS)
        .map(|i| {
            let job_id = JOBS[rng.next(JOBS.len() as u64) as usize];
            let status = STATUSES[rng.next(STATUSES.len() as u64) as usize];
            let second = rng.next(3 * 86_400) as i64;
            let scheduled_for = match i % 10 {
                0 => t(second - second % 60) - Duration::microseconds(1),
                1 => t(second - second % 60),
                _ => t(second) + Duration::microseconds(rng.next(1_000_000) as i64),
            };
            let timed = !matches!(status, "missed" | "running") && rng.next(20) != 0;
            let error = match status {
                "failed" => Some(format!("Connection TIMEOUT after {} tries", rng.next(5))),
                "timeout" => Some("ran past 30 s".to_owned()),
                _ => None,
            };
            job_execution::Model {
                id: format!("{i:08}"),
                job_id: job_id.to_owned(),
                job_name: (!job_id.starts_with("backup")).then(|| {
                    if job_id.to_lowercase().starts_with("mon") {
                        "monitoring".to_owned()
                    } else {
                        "reports".to_owned()
                    }
                }),
                scheduled_for,
                started_at: (status != "missed").then_some(scheduled_for),
                finished_at: None,
                duration_ms: timed.then(|| rng.next(120_000) as i64),
                status: status.to_owned(),
                attempt: 1,
                output: None,
                error,
                node: None,
                trigger_source: "schedule".to_owned(),
                cancel_requested_at: None,
                args: None,
            }
        })
        .collect()
}

async fn seed(db: &DatabaseConnection) -> Vec<job_execution::Model> {
    let rows = history();
    for chunk in rows.chunks(500) {
        job_execution::Entity::insert_many(chunk.iter().cloned().map(job_execution::ActiveModel::from))
            .exec(db)
            .await
            .unwrap();
    }
    rows
}

/// The statistics of `rows` matching `keep`, counted in Rust.
struct Expected {
    counts: StatusCounts,
    buckets: BTreeMap<DateTime<Utc>, (StatusCounts, u64, i64)>,
    durations: Vec<i64>,
}

fn count_by_hand(
    rows: &[job_execution::Model],
    keep: impl Fn(&job_execution::Model) -> bool,
    bucket: Bucket,
    utc_offset_minutes: i64,
) -> Expected {
    let width = bucket.seconds();
    let offset = utc_offset_minutes * 60;
    let mut expected = Expected {
        counts: StatusCounts::default(),
        buckets: BTreeMap::new(),
        durations: Vec::new(),
    };
    for row in rows.iter().filter(|r| keep(r)) {
        let seconds = row.scheduled_for.timestamp();
        let start = Utc
            .timestamp_opt((seconds + offset).div_euclid(width) * width - offset, 0)
            .unwrap();
        let slot = expected.buckets.entry(start).or_default();
        slot.0.add(&row.status, 1);
        expected.counts.add(&row.status, 1);
        if let Some(d) = row.duration_ms {
            slot.1 += 1;
            slot.2 += d;
            expected.durations.push(d);
        }
    }
    expected.durations.sort_unstable();
    expected
}

/// Asserts that `stats` says what `expected` counted, bucket by bucket.
fn assert_matches(stats: &ExecutionStats, expected: &Expected, what: &str) {
    assert_eq!(stats.counts, expected.counts, "{what}: totals");
    assert!(
        stats
            .buckets
            .windows(2)
            .all(|w| w[1].start - w[0].start == Duration::seconds(stats.bucket.seconds())),
        "{what}: buckets follow one another"
    );
    for b in &stats.buckets {
        let (counts, timed, sum) = expected.buckets.get(&b.start).copied().unwrap_or_default();
        assert_eq!(b.counts, counts, "{what}: bucket {}", b.start);
        assert_eq!(b.durations.count, timed, "{what}: timed runs in bucket {}", b.start);
        assert_eq!(b.durations.sum_ms, sum, "{what}: durations in bucket {}", b.start);
    }
    let covered: u64 = stats.buckets.iter().map(|b| b.counts.total()).sum();
    assert_eq!(covered, expected.counts.total(), "{what}: every run is in a bucket");
    let n = expected.durations.len();
    assert_eq!(stats.durations.count, n as u64, "{what}: timed runs");
    assert_eq!(stats.durations.sum_ms, expected.durations.iter().sum::<i64>(), "{what}");
    assert_eq!(stats.durations.min_ms, expected.durations.first().copied(), "{what}");
    assert_eq!(stats.durations.max_ms, expected.durations.last().copied(), "{what}");
    let percentiles: Vec<(u8, i64)> = if n == 0 {
        Vec::new()
    } else {
        PERCENTILES
            .iter()
            .map(|p| {
                let rank = (usize::from(*p) * n).div_ceil(100).max(1);
                (*p, expected.durations[rank - 1])
            })
            .collect()
    };
    assert_eq!(stats.percentiles, percentiles, "{what}: percentiles");
}

async fn stats(db: &DatabaseConnection, filter: &ExecutionFilter, options: StatsOptions) -> ExecutionStats {
    execution_stats(db, filter, options).await.unwrap()
}

async fn stats_equal_a_count_by_hand(db: DatabaseConnection) {
    let rows = seed(&db).await;

    // Everything: three days, drawn in hours.
    let all = stats(&db, &ExecutionFilter::default(), StatsOptions::default()).await;
    assert_eq!(all.bucket, Bucket::Hour);
    assert_eq!(all.counts.total(), RUNS as u64);
    assert_eq!(all.from, rows.iter().map(|r| r.scheduled_for).min());
    assert_matches(&all, &count_by_hand(&rows, |_| true, Bucket::Hour, 0), "all");

    // Ten minutes, typed to the minute: minute buckets, no widening.
    let (from, to) = (t(5 * 3600 + 60), t(5 * 3600 + 11 * 60));
    let filter = ExecutionFilter {
        from: Some(from),
        to: Some(to),
        ..ExecutionFilter::default()
    };
    let ten = stats(&db, &filter, StatsOptions::default()).await;
    assert_eq!(ten.bucket, Bucket::Minute);
    assert_eq!(ten.buckets.len(), 10);
    assert_eq!((ten.from, ten.to), (Some(from), Some(to)));
    let in_range = |r: &job_execution::Model| r.scheduled_for >= from && r.scheduled_for < to;
    assert_matches(&ten, &count_by_hand(&rows, in_range, Bucket::Minute, 0), "ten minutes");
    let listed = list_executions(&db, &filter, Page::first(1), Counting::Exact)
        .await
        .unwrap()
        .total;
    assert_eq!(ten.counts.total(), listed, "the list counts what the statistics count");

    // Minutes over a day, begun mid-minute: 1,441 buckets are more than one
    // statement counts, and each of them counts its own.
    let (from, to) = (t(30), t(24 * 3600 + 30));
    let filter = ExecutionFilter {
        from: Some(from),
        to: Some(to),
        ..ExecutionFilter::default()
    };
    let options = StatsOptions {
        bucket: Some(Bucket::Minute),
        utc_offset_minutes: 0,
    };
    let minutes = stats(&db, &filter, options).await;
    assert_eq!(minutes.buckets.len(), 1_441);
    let in_range = |r: &job_execution::Model| r.scheduled_for >= from && r.scheduled_for < to;
    assert_matches(
        &minutes,
        &count_by_hand(&rows, in_range, Bucket::Minute, 0),
        "minutes over a day",
    );

    // Days of UTC+5:30, and of UTC−8.
    for offset in [330, -480] {
        let options = StatsOptions {
            bucket: Some(Bucket::Day),
            utc_offset_minutes: offset,
        };
        let days = stats(&db, &ExecutionFilter::default(), options).await;
        assert_eq!(
            days.buckets.len(),
            4,
            "three days of UTC cross four days of UTC{offset:+} min"
        );
        assert_matches(
            &days,
            &count_by_hand(&rows, |_| true, Bucket::Day, offset.into()),
            "days",
        );
    }

    // Filters shared with the list: a job-id prefix in any case, a status,
    // an error text in any case, a group.
    let filter = ExecutionFilter {
        job_id_prefix: Some("Mon-".into()),
        status: Some("success".into()),
        ..ExecutionFilter::default()
    };
    let mon = stats(&db, &filter, StatsOptions::default()).await;
    let keep = |r: &job_execution::Model| r.job_id.to_lowercase().starts_with("mon-") && r.status == "success";
    assert_matches(&mon, &count_by_hand(&rows, keep, mon.bucket, 0), "mon- successes");
    assert_eq!(
        mon.counts.total(),
        list_executions(&db, &filter, Page::first(1), Counting::Exact)
            .await
            .unwrap()
            .total
    );
    assert!(mon.counts.success > 0);

    let filter = ExecutionFilter {
        error: Some("timeout".into()),
        ..ExecutionFilter::default()
    };
    let timeouts = stats(&db, &filter, StatsOptions::default()).await;
    let keep = |r: &job_execution::Model| r.error.as_deref().is_some_and(|e| e.to_lowercase().contains("timeout"));
    assert_matches(&timeouts, &count_by_hand(&rows, keep, timeouts.bucket, 0), "error text");
    assert_eq!(
        timeouts.counts.total(),
        timeouts.counts.failed,
        "only failures say TIMEOUT"
    );
    assert!(timeouts.counts.failed > 0);

    // `%` and `_` in a prefix are plain characters.
    let filter = ExecutionFilter {
        job_id_prefix: Some("backup%".into()),
        ..ExecutionFilter::default()
    };
    let literal = stats(&db, &filter, StatsOptions::default()).await;
    let keep = |r: &job_execution::Model| r.job_id == "backup%1";
    assert_matches(
        &literal,
        &count_by_hand(&rows, keep, literal.bucket, 0),
        "literal prefix",
    );

    let filter = ExecutionFilter {
        job_name: Some("reports".into()),
        from: Some(t(86_400)),
        ..ExecutionFilter::default()
    };
    let reports = stats(&db, &filter, StatsOptions::default()).await;
    let keep = |r: &job_execution::Model| r.job_name.as_deref() == Some("reports") && r.scheduled_for >= t(86_400);
    assert_matches(
        &reports,
        &count_by_hand(&rows, keep, reports.bucket, 0),
        "a group from day two",
    );
}

async fn per_job_summaries_equal_a_count_by_hand(db: DatabaseConnection) {
    let rows = seed(&db).await;
    let ids: Vec<String> = ["report", "mon-cpu", "never-ran", "report"].map(String::from).to_vec();
    let filter = ExecutionFilter {
        to: Some(t(2 * 86_400)),
        ..ExecutionFilter::default()
    };
    let summaries = job_stats(&db, &ids, &filter).await.unwrap();
    let listed: Vec<&str> = summaries.iter().map(|s| s.job_id.as_str()).collect();
    assert_eq!(
        listed,
        ["report", "mon-cpu", "never-ran"],
        "in the order asked, each once"
    );
    for summary in &summaries {
        let expected = count_by_hand(
            &rows,
            |r| r.job_id == summary.job_id && r.scheduled_for < t(2 * 86_400),
            Bucket::Day,
            0,
        );
        assert_eq!(summary.counts, expected.counts, "{}", summary.job_id);
        assert_eq!(summary.durations.count, expected.durations.len() as u64);
        assert_eq!(summary.durations.sum_ms, expected.durations.iter().sum::<i64>());
        assert_eq!(summary.durations.max_ms, expected.durations.last().copied());
    }
    assert_eq!(summaries[2].counts.total(), 0);
    assert_eq!(summaries[2].counts.success_rate(), None);
    let report = &summaries[0].counts;
    let rate = report.success as f64 / (report.success + report.failed + report.timeout) as f64;
    assert_eq!(report.success_rate(), Some(rate));
    assert!(job_stats(&db, &[], &filter).await.unwrap().is_empty());
}

async fn too_many_buckets_are_refused_naming_the_bucket(db: DatabaseConnection) {
    seed(&db).await;
    let options = StatsOptions {
        bucket: Some(Bucket::Minute),
        utc_offset_minutes: 0,
    };
    let refused = execution_stats(&db, &ExecutionFilter::default(), options)
        .await
        .unwrap_err();
    match refused {
        ruqi::Error::Invalid(error) => {
            assert_eq!(error.field, "bucket");
            assert!(
                error.reason.contains(&format!("at most {MAX_BUCKETS}")),
                "{}",
                error.reason
            );
        }
        other => panic!("{other}"),
    }
    // An empty range or no rows: no buckets, zero counts.
    let filter = ExecutionFilter {
        job_id: Some("nobody".into()),
        ..ExecutionFilter::default()
    };
    let none = stats(&db, &filter, StatsOptions::default()).await;
    assert!(none.buckets.is_empty());
    assert_eq!((none.counts.total(), none.from), (0, None));
    let filter = ExecutionFilter {
        from: Some(t(60)),
        to: Some(t(60)),
        ..ExecutionFilter::default()
    };
    assert!(stats(&db, &filter, StatsOptions::default()).await.buckets.is_empty());
}

/// Ranks that land exactly on a whole number take that rank, not the next:
/// of 1..=100 ms the 90th percentile is 90 ms; of 1..=10 it is 9 ms. Equal
/// durations share their ranks: of 5, 5, 5, 5, 7, 7, 9, 9, 9, 9 ms the
/// median (rank 5) is 7 ms.
async fn percentiles_take_the_nearest_rank(db: DatabaseConnection) {
    const TIES: [i64; 10] = [9, 5, 7, 5, 9, 5, 9, 7, 5, 9];
    let rows: Vec<job_execution::ActiveModel> = (1..=120)
        .map(|i: i64| {
            let (job_id, ms) = match i {
                1..=100 => ("hundred", i),
                101..=110 => ("ten", i - 100),
                _ => ("ties", TIES[(i - 111) as usize]),
            };
            // Shuffled in time, so the order of the rows is not that of their durations.
            let model = job_execution::Model {
                id: format!("p{i:04}"),
                job_id: job_id.to_owned(),
                job_name: None,
                scheduled_for: t((i * 7919) % 1000),
                started_at: None,
                finished_at: None,
                duration_ms: Some(ms),
                status: "success".to_owned(),
                attempt: 1,
                output: None,
                error: None,
                node: None,
                trigger_source: "schedule".to_owned(),
                cancel_requested_at: None,
                args: None,
            };
            model.into()
        })
        .collect();
    job_execution::Entity::insert_many(rows).exec(&db).await.unwrap();
    for (job_id, expected) in [
        ("hundred", [(50, 50), (90, 90), (95, 95), (99, 99)]),
        ("ten", [(50, 5), (90, 9), (95, 10), (99, 10)]),
        ("ties", [(50, 7), (90, 9), (95, 9), (99, 9)]),
    ] {
        let filter = ExecutionFilter {
            job_id: Some(job_id.into()),
            ..ExecutionFilter::default()
        };
        let found = stats(&db, &filter, StatsOptions::default()).await;
        assert_eq!(found.percentiles, expected, "{job_id}");
    }
}

async fn completions_and_the_last_status_filter(db: DatabaseConnection) {
    let jobs = [
        ("mon-disk", Some("monitoring"), Some("failed")),
        ("mon-cpu", Some("monitoring"), Some("success")),
        ("MON-net", Some("Mon team"), Some("failed")),
        ("report", Some("reports"), None),
        ("mon_x", None, Some("missed")),
    ];
    for (job_id, group, last_status) in jobs {
        let mut row: job_info::ActiveModel = job(job_id, "noop", "interval", "1h");
        row.job_name = Set(group.map(str::to_owned));
        row.insert(&db).await.unwrap();
        // The outcome as a scheduler records it, past the write hooks.
        job_info::Entity::update_many()
            .col_expr(
                job_info::Column::LastStatus,
                Expr::value(last_status.map(str::to_owned)),
            )
            .filter(job_info::Column::JobId.eq(job_id))
            .exec(&db)
            .await
            .unwrap();
    }
    let ids = suggest(&db, Suggest::JobId, "mon-", 10).await.unwrap();
    let mut expected = vec!["MON-net", "mon-cpu", "mon-disk"];
    expected.sort_unstable();
    let mut found = ids.clone();
    found.sort_unstable();
    assert_eq!(found, expected, "any case, `-` literal, `mon_x` left out");
    assert_eq!(suggest(&db, Suggest::JobId, "mon-", 2).await.unwrap().len(), 2);
    let mut groups = suggest(&db, Suggest::JobName, "MON", 10).await.unwrap();
    groups.sort_unstable();
    assert_eq!(groups, ["Mon team", "monitoring"], "each group once");
    assert_eq!(suggest(&db, Suggest::JobName, "", 10).await.unwrap().len(), 3);

    let with = |status: &str| JobFilter {
        last_status: Some(status.to_owned()),
        ..JobFilter::default()
    };
    let ids_of = |page: ruqi::query::Paged<ruqi::query::JobView>| {
        page.items.into_iter().map(|v| v.job.job_id).collect::<Vec<_>>()
    };
    let failed = list_jobs(&db, &with("failed"), JobOrder::JobId, Page::default())
        .await
        .unwrap();
    assert_eq!(failed.total, 2);
    let mut failed = ids_of(failed);
    failed.sort_unstable();
    assert_eq!(failed, ["MON-net", "mon-disk"]);
    let never = list_jobs(&db, &with(""), JobOrder::JobId, Page::default())
        .await
        .unwrap();
    assert_eq!(ids_of(never), ["report"]);
}

backend_tests!(
    stats_equal_a_count_by_hand,
    per_job_summaries_equal_a_count_by_hand,
    too_many_buckets_are_refused_naming_the_bucket,
    percentiles_take_the_nearest_rank,
    completions_and_the_last_status_filter,
);
