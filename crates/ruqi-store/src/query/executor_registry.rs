//! The registry of XXL-JOB executors: each executor beats every 10 to 30
//! seconds with its app name and address; an address is live for
//! [`EXECUTOR_LIVE_FOR`] after its last beat, and leaves at once when the
//! executor says so at shutdown. One statement per operation, so that every
//! ruqi node (and every executor beating to several of them) can write at
//! once.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use ruqi_core::FieldError;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

use crate::Error;
use crate::entity::xxl_executor::{ActiveModel, Column, Entity};

/// How long an address stays live after its last beat: three beats of a
/// Java executor (XXL-JOB's own dead timeout).
pub const EXECUTOR_LIVE_FOR: Duration = Duration::from_secs(90);

/// The longest app name stored.
pub const MAX_APP_LEN: usize = 191;

/// The longest address stored (after [`normalize_executor_address`]).
pub const MAX_ADDRESS_LEN: usize = 255;

/// An app's live executors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExecutorApp {
    /// The app name the executors registered under.
    pub app: String,
    /// Its live addresses, in order.
    pub addresses: Vec<LiveExecutor>,
}

/// One live executor address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveExecutor {
    /// Its base URL, without a trailing `/`.
    pub address: String,
    /// Its first beat since it was last removed or went stale.
    pub first_beat_at: DateTime<Utc>,
    /// Its latest beat.
    pub last_beat_at: DateTime<Utc>,
}

/// The address as stored: trimmed, and without one trailing `/` (the Java
/// executor registers `http://ip:port/`, pyxxl `http://ip:port`).
///
/// ```
/// use ruqi_store::query::normalize_executor_address;
/// assert_eq!(normalize_executor_address(" http://10.0.0.7:9999/ "), "http://10.0.0.7:9999");
/// assert_eq!(normalize_executor_address("http://10.0.0.7:9999"), "http://10.0.0.7:9999");
/// ```
pub fn normalize_executor_address(address: &str) -> String {
    let address = address.trim();
    address.strip_suffix('/').unwrap_or(address).to_owned()
}

/// Records a beat of `address` for `app` at `now`: inserts the row, or
/// moves its last beat forward (never back: a late beat from a slow node
/// keeps the newer one). A row that had gone stale starts a new first beat.
/// The address is normalised ([`normalize_executor_address`]).
///
/// A blank or too long app name or address is refused with
/// [`Error::Invalid`] naming `app` or `address`, and nothing is written.
///
/// ```
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use ruqi_store::query::{beat_executor, live_executors};
///
/// let db = sea_orm::Database::connect("sqlite::memory:").await?;
/// ruqi_store::migrate(&db).await?;
/// let now = chrono::Utc::now();
/// beat_executor(&db, "billing", "http://10.0.0.7:9999/", now).await?;
/// let live = live_executors(&db, now).await?;
/// assert_eq!(live[0].app, "billing");
/// assert_eq!(live[0].addresses[0].address, "http://10.0.0.7:9999");
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
/// ```
pub async fn beat_executor<C: ConnectionTrait>(
    db: &C,
    app: &str,
    address: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let (app, address) = checked(app, address)?;
    let stale_before = now - live_for();
    let row = ActiveModel {
        app: Set(app),
        address: Set(address),
        first_beat_at: Set(now),
        last_beat_at: Set(now),
    };
    // Both expressions read the row as it was: MySQL assigns left to right,
    // so `first_beat_at` comes first.
    let upsert = OnConflict::columns([Column::App, Column::Address])
        .value(
            Column::FirstBeatAt,
            Expr::case(Expr::col((Entity, Column::LastBeatAt)).lt(stale_before), now)
                .finally(Expr::col((Entity, Column::FirstBeatAt))),
        )
        .value(
            Column::LastBeatAt,
            Expr::case(Expr::col((Entity, Column::LastBeatAt)).lt(now), now)
                .finally(Expr::col((Entity, Column::LastBeatAt))),
        )
        .to_owned();
    Entity::insert(row)
        .on_conflict(upsert)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Takes `address` of `app` out of the registry at once; returns whether it
/// was there. Removing an address that is not there changes nothing.
pub async fn remove_executor<C: ConnectionTrait>(db: &C, app: &str, address: &str) -> Result<bool, Error> {
    let (app, address) = checked(app, address)?;
    let done = Entity::delete_many()
        .filter(Column::App.eq(app))
        .filter(Column::Address.eq(address))
        .exec(db)
        .await?;
    Ok(done.rows_affected > 0)
}

/// Every app with its live addresses at `now` (a beat within
/// [`EXECUTOR_LIVE_FOR`]), apps and addresses in order.
pub async fn live_executors<C: ConnectionTrait>(db: &C, now: DateTime<Utc>) -> Result<Vec<ExecutorApp>, Error> {
    let rows = Entity::find()
        .filter(Column::LastBeatAt.gte(now - live_for()))
        .order_by_asc(Column::App)
        .order_by_asc(Column::Address)
        .all(db)
        .await?;
    let mut apps: Vec<ExecutorApp> = Vec::new();
    for row in rows {
        let executor = LiveExecutor {
            address: row.address,
            first_beat_at: row.first_beat_at,
            last_beat_at: row.last_beat_at,
        };
        match apps.last_mut() {
            Some(last) if last.app == row.app => last.addresses.push(executor),
            _ => apps.push(ExecutorApp {
                app: row.app,
                addresses: vec![executor],
            }),
        }
    }
    Ok(apps)
}

/// The live addresses of `app` at `now`, in order: where a run for it
/// may be sent.
pub async fn live_addresses<C: ConnectionTrait>(db: &C, app: &str, now: DateTime<Utc>) -> Result<Vec<String>, Error> {
    let rows = Entity::find()
        .filter(Column::App.eq(app.trim()))
        .filter(Column::LastBeatAt.gte(now - live_for()))
        .order_by_asc(Column::Address)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|row| row.address).collect())
}

fn live_for() -> TimeDelta {
    TimeDelta::from_std(EXECUTOR_LIVE_FOR).unwrap_or(TimeDelta::MAX)
}

/// The app name and normalised address, or the refusal naming the field.
fn checked(app: &str, address: &str) -> Result<(String, String), Error> {
    let app = app.trim();
    let address = normalize_executor_address(address);
    if app.is_empty() {
        return Err(FieldError::new("app", app, "must not be blank").into());
    }
    if app.chars().count() > MAX_APP_LEN {
        return Err(FieldError::new("app", app, format!("is longer than {MAX_APP_LEN} characters")).into());
    }
    if address.is_empty() {
        return Err(FieldError::new("address", &address, "must not be blank").into());
    }
    if address.chars().count() > MAX_ADDRESS_LEN {
        return Err(FieldError::new(
            "address",
            &address,
            format!("is longer than {MAX_ADDRESS_LEN} characters"),
        )
        .into());
    }
    Ok((app.to_owned(), address))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_trailing_slash_goes() {
        assert_eq!(normalize_executor_address("http://a:1/"), "http://a:1");
        assert_eq!(normalize_executor_address("http://a:1"), "http://a:1");
        assert_eq!(normalize_executor_address("http://a:1//"), "http://a:1/");
    }

    #[test]
    fn blank_and_long_values_are_refused() {
        assert!(checked(" ", "http://a:1").is_err());
        assert!(checked("app", " / ").is_err());
        assert!(checked(&"a".repeat(192), "http://a:1").is_err());
        assert!(checked("app", &format!("http://{}", "a".repeat(250))).is_err());
        assert!(checked(&"a".repeat(191), "http://a:1").is_ok());
    }
}
