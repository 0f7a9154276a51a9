//! The `job_info` ActiveModel hooks: every write through sea-orm is validated
//! before it reaches the database and announced to the scheduler after.

use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use ruqi_core::job::{check_child_cycle, compile, first_fire, no_fire_left, parse_child_jobs, planned_next_run_time};
use ruqi_core::{ChangeExpectation, FieldError, JobRecord, Scheduler, ValidationContext};
use sea_orm::ActiveValue::{self, NotSet, Set, Unchanged};
use sea_orm::entity::prelude::*;

use sea_orm::{DatabaseTransaction, QuerySelect, SqliteTransactionMode, TransactionOptions, TransactionTrait};

use super::job_info::{ActiveModel, Column, Entity, Model};
use crate::error::refused_write;

#[async_trait::async_trait]
impl ActiveModelBehavior for ActiveModel {
    /// Contract: validates the row as it will be after the write (rule, zone,
    /// bounds, function, args, policy), fills the defaults of a new row and
    /// plans `next_run_time`; an invalid write fails with a `DbErr` naming the
    /// field and nothing is written.
    async fn before_save<C>(self, db: &C, insert: bool) -> Result<Self, DbErr>
    where
        C: ConnectionTrait,
    {
        prepare_write(self, db, insert).await
    }

    /// Contract: returns the row as stored (with the `version` the database
    /// trigger gave it) and announces it to this process's scheduler, which
    /// re-reads it once its transaction commits (and never, if it rolls back).
    async fn after_save<C>(model: Model, db: &C, _insert: bool) -> Result<Model, DbErr>
    where
        C: ConnectionTrait,
    {
        // PostgreSQL's RETURNING includes what the BEFORE trigger wrote; SQLite's
        // RETURNING predates its AFTER trigger, so read the row back there (and
        // on MySQL, where RETURNING may be on for MariaDB).
        let model = if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            model
        } else {
            Entity::find_by_id(model.job_id.clone()).one(db).await?.unwrap_or(model)
        };
        if let Some(scheduler) = Scheduler::global() {
            scheduler.notify_changed(&model.job_id, ChangeExpectation::Version(model.version));
        }
        Ok(model)
    }

    /// Contract: announces the deletion; the job stops firing once it commits,
    /// and a run in progress finishes and is recorded.
    async fn after_delete<C>(self, _db: &C) -> Result<Self, DbErr>
    where
        C: ConnectionTrait,
    {
        if let (Some(scheduler), Some(job_id)) = (Scheduler::global(), value_of(&self.job_id)) {
            scheduler.notify_changed(&job_id, ChangeExpectation::Deleted);
        }
        Ok(self)
    }
}

fn value_of<T: Clone + Into<sea_orm::Value>>(v: &ActiveValue<T>) -> Option<T> {
    match v {
        Set(x) | Unchanged(x) => Some(x.clone()),
        NotSet => None,
    }
}

/// What the user wrote: `Set` values on an update; `Set` and `Unchanged`
/// values on an insert (a model converted into an ActiveModel and inserted).
fn written<T: Clone + Into<sea_orm::Value>>(v: &ActiveValue<T>, insert: bool) -> Option<T> {
    match v {
        Set(x) => Some(x.clone()),
        Unchanged(x) if insert => Some(x.clone()),
        _ => None,
    }
}

/// Whether the write sets `next_run_time` itself (to move the next fire).
fn written_next_run_time(am: &ActiveModel) -> bool {
    matches!(am.next_run_time, Set(_))
}

fn now() -> DateTime<Utc> {
    Scheduler::global().map_or_else(Utc::now, |s| s.clock().now())
}

/// Whether the write sets a non-empty `child_jobs`: only such a write can
/// close a cycle.
fn links_children(am: &ActiveModel, insert: bool) -> bool {
    matches!(written(&am.child_jobs, insert), Some(Some(children)) if !children.trim().is_empty())
}

/// Begins a transaction for writes of `job_info` rows through the
/// ActiveModel (commit it after the write). The hooks check that `child_jobs`
/// closes no cycle; inside such a transaction they first take a lock that
/// serialises changes of the child graph, so two writers linking `a → b` and
/// `b → a` at once cannot both pass the check. On SQLite the transaction
/// takes the database's write lock at its start (`BEGIN IMMEDIATE`), so a
/// write never fails half-way because another connection wrote meanwhile.
///
/// ```
/// # async fn run() -> Result<(), sea_orm::DbErr> {
/// use ruqi_store::entity::job_info;
/// use sea_orm::{ActiveModelTrait, Database};
///
/// let db = Database::connect("sqlite::memory:").await?;
/// ruqi_migration::migrate(&db).await?;
/// let txn = job_info::begin_write(&db).await?;
/// job_info::ActiveModel::new_job("nightly", "send_report", "cron", "0 20 2 * * *").insert(&txn).await?;
/// txn.commit().await?;
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
/// ```
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let options = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    db.begin_with_options(options).await
}

/// Every child named must exist, and the links may not close a cycle.
async fn check_children<C: ConnectionTrait>(db: &C, job_id: &str, children: &[Arc<str>]) -> Result<(), DbErr> {
    if children.is_empty() {
        return Ok(());
    }
    let wanted: Vec<&str> = children.iter().map(|c| c.as_ref()).collect();
    let found: HashSet<String> = Entity::find()
        .select_only()
        .column(Column::JobId)
        .filter(Column::JobId.is_in(wanted.iter().copied()))
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    if let Some(missing) = wanted.iter().find(|c| !found.contains(**c)) {
        return Err(refused_write(FieldError::new(
            "child_jobs",
            wanted.join(","),
            format!("no job with job_id {missing:?}"),
        )));
    }
    let links: HashMap<String, Vec<String>> = Entity::find()
        .select_only()
        .column(Column::JobId)
        .column(Column::ChildJobs)
        .filter(Column::ChildJobs.is_not_null())
        .into_tuple::<(String, Option<String>)>()
        .all(db)
        .await?
        .into_iter()
        .map(|(id, text)| {
            let children = parse_child_jobs(&id, text.as_deref()).unwrap_or_default();
            (id, children.iter().map(|c| c.to_string()).collect())
        })
        .collect();
    check_child_cycle(job_id, children, |id| links.get(id).cloned().unwrap_or_default()).map_err(refused_write)
}

async fn prepare_write<C: ConnectionTrait>(mut am: ActiveModel, db: &C, insert: bool) -> Result<ActiveModel, DbErr> {
    // First, before anything is read: links written by the lock's previous
    // holder must be in what the cycle check reads.
    if links_children(&am, insert) {
        crate::backend::lock_child_graph(db).await?;
    }
    let now = now();
    let before: Option<JobRecord> = if insert {
        None
    } else {
        let job_id = value_of(&am.job_id)
            .ok_or_else(|| refused_write(FieldError::new("job_id", "", "an update needs the job_id")))?;
        let found = Entity::find_by_id(job_id.clone()).one(db).await?;
        Some(
            found
                .ok_or_else(|| DbErr::RecordNotFound(format!("no job with job_id {job_id:?}")))?
                .into(),
        )
    };
    let mut row = before.clone().unwrap_or_else(|| {
        let mut fresh = JobRecord::new(String::new(), String::new(), String::new(), String::new());
        fresh.created_at = now;
        fresh
    });
    macro_rules! take {
        ($($field:ident),+) => { $( if let Some(v) = written(&am.$field, insert) { row.$field = v; } )+ };
    }
    take!(
        job_id,
        job_name,
        description,
        func,
        args,
        trigger,
        rule,
        timezone,
        start_at,
        end_at,
        next_run_time,
        is_paused,
        run_right_now,
        misfire_grace_s,
        misfire_policy,
        overlap,
        max_instances,
        timeout_s,
        max_retries,
        retry_backoff,
        retry_delay,
        child_jobs,
        alert_url
    );
    // A group is named or left out (NULL); a blank name would be a group of
    // its own that no list can tell from "none". Only what is written now is
    // checked: a row typed in plain SQL keeps running as it is.
    if let Some(Some(name)) = written(&am.job_name, insert)
        && name.trim().is_empty()
    {
        return Err(refused_write(FieldError::new(
            "job_name",
            name,
            "must not be blank: leave it out or null for no group",
        )));
    }
    if insert {
        take!(created_at);
        if row.job_id.is_empty() {
            row.job_id = uuid::Uuid::new_v4().to_string();
        }
    }
    let scheduler = Scheduler::global();
    let ctx = scheduler.map_or_else(ValidationContext::default, Scheduler::validation_context);
    let job = compile(row, ctx).map_err(refused_write)?;
    check_children(db, &job.record.job_id, &job.children).await?;
    // A row edited by a writer that does not plan (plain SQL) since its
    // `next_run_time` was planned: that plan is stale, whatever this write
    // changes, and writing the hash below would vouch for it.
    let stale = before
        .as_ref()
        .is_some_and(|b| b.schedule_hash.is_some_and(|stored| stored != b.plan_basis()));
    let planned = if stale && !job.record.is_paused && !written_next_run_time(&am) {
        first_fire(&job, now)
    } else {
        planned_next_run_time(before.as_ref(), &job, now)
    };
    if insert && planned.is_none() && !job.record.is_paused {
        return Err(refused_write(no_fire_left(&job)));
    }
    let row = job.record;
    // What `planned` was planned from, so a scheduler starting later can tell
    // whether the row was edited without planning since.
    let basis = Some(row.plan_basis());
    match before {
        None => {
            let mut model: Model = row.into();
            model.next_run_time = planned;
            model.version = 1;
            model.is_running = false;
            model.run_right_now = model.run_right_now && !model.is_paused;
            model.last_status = None;
            model.last_error = None;
            model.updated_at = now;
            model.schedule_hash = basis;
            am = ActiveModel::from(model).reset_all();
        }
        Some(before) => {
            // Columns the scheduler owns are never written through the ORM; a
            // stale copy of them in the ActiveModel must not undo a claim.
            am.version = NotSet;
            am.is_running = NotSet;
            am.last_status = NotSet;
            am.last_error = NotSet;
            am.created_at = NotSet;
            am.claim_id = NotSet;
            am.claim_node = NotSet;
            am.claim_for = NotSet;
            am.next_run_time = if planned == before.next_run_time {
                NotSet
            } else {
                Set(planned)
            };
            am.updated_at = Set(now);
            am.schedule_hash = Set(basis);
        }
    }
    Ok(am)
}
