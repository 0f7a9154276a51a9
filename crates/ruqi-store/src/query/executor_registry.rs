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
use crate::entity::xxl_app;
use crate::entity::xxl_executor::{ActiveModel, Column, Entity};

/// How long an address stays live after its last beat: three beats of a
/// Java executor (XXL-JOB's own dead timeout).
pub const EXECUTOR_LIVE_FOR: Duration = Duration::from_secs(90);

/// The longest app name stored.
pub const MAX_APP_LEN: usize = 191;

/// The longest address stored (after [`normalize_executor_address`]).
pub const MAX_ADDRESS_LEN: usize = 255;

/// The most addresses one app may be given by hand.
pub const MAX_MANUAL_ADDRESSES: usize = 100;

/// An app's live executors, and the addresses given by hand for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExecutorApp {
    /// The app name the executors registered under.
    pub app: String,
    /// Its live addresses, in order.
    pub addresses: Vec<LiveExecutor>,
    /// The addresses given by hand ([`set_manual_addresses`]), in order; when there are any,
    /// runs of the app go to them and not to the registered ones.
    pub manual_addresses: Vec<String>,
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
    let registered_as = address.trim().to_owned();
    let (app, address) = checked(app, address)?;
    let stale_before = now - live_for();
    let row = ActiveModel {
        app: Set(app),
        address: Set(address),
        first_beat_at: Set(now),
        last_beat_at: Set(now),
        registered_as: Set(Some(registered_as)),
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
        .update_column(Column::RegisteredAs)
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
                manual_addresses: Vec::new(),
            }),
        }
    }
    for manual in xxl_app::Entity::find().all(db).await? {
        let addresses = manual.addresses.lines().map(str::to_owned).collect();
        match apps.binary_search_by(|a| a.app.as_str().cmp(&manual.app)) {
            Ok(at) => apps[at].manual_addresses = addresses,
            Err(at) => apps.insert(
                at,
                ExecutorApp {
                    app: manual.app,
                    addresses: Vec::new(),
                    manual_addresses: addresses,
                },
            ),
        }
    }
    Ok(apps)
}

/// Gives `app` its executor addresses by hand, for executors that do not register (xxl-job's
/// manual registration): runs of the app go to them, in order, instead of to the registered
/// ones. An empty list takes them away again. Returns the addresses as stored (normalised, each
/// once). Every ruqi node reads the same list.
///
/// Each address must be an `http://` or `https://` URL of at most [`MAX_ADDRESS_LEN`]
/// characters, at most [`MAX_MANUAL_ADDRESSES`] of them; a refusal names the field
/// (`app`, `addresses/<i>`) and writes nothing.
///
/// ```
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use ruqi_store::query::{dispatch_addresses, set_manual_addresses};
///
/// let db = sea_orm::Database::connect("sqlite::memory:").await?;
/// ruqi_store::migrate(&db).await?;
/// let now = chrono::Utc::now();
/// let given = ["http://10.0.0.8:9999/".to_owned(), "http://10.0.0.7:9999".to_owned()];
/// set_manual_addresses(&db, "billing", &given, now).await?;
/// assert_eq!(dispatch_addresses(&db, "billing", now).await?, ["http://10.0.0.8:9999", "http://10.0.0.7:9999"]);
/// assert!(set_manual_addresses(&db, "billing", &["ftp://x".to_owned()], now).await.is_err());
/// set_manual_addresses(&db, "billing", &[], now).await?;
/// assert!(dispatch_addresses(&db, "billing", now).await?.is_empty());
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
/// ```
pub async fn set_manual_addresses<C: ConnectionTrait>(
    db: &C,
    app: &str,
    addresses: &[String],
    now: DateTime<Utc>,
) -> Result<Vec<String>, Error> {
    let app = checked_app(app)?;
    if addresses.len() > MAX_MANUAL_ADDRESSES {
        return Err(FieldError::new(
            "addresses",
            format!("{} addresses", addresses.len()),
            format!("holds more than {MAX_MANUAL_ADDRESSES} addresses"),
        )
        .into());
    }
    let mut kept: Vec<String> = Vec::with_capacity(addresses.len());
    for (i, given) in addresses.iter().enumerate() {
        let address = checked_url(&format!("addresses/{i}"), given)?;
        if !kept.contains(&address) {
            kept.push(address);
        }
    }
    if kept.is_empty() {
        xxl_app::Entity::delete_by_id(app).exec(db).await?;
        return Ok(kept);
    }
    let row = xxl_app::ActiveModel {
        app: Set(app),
        addresses: Set(kept.join("\n")),
        updated_at: Set(now),
    };
    xxl_app::Entity::insert(row)
        .on_conflict(
            OnConflict::column(xxl_app::Column::App)
                .update_columns([xxl_app::Column::Addresses, xxl_app::Column::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(kept)
}

/// How each of `addresses` (of `app`) was last registered: the executor's
/// own spelling (`http://ip:port/` from the Java executor), or the address
/// itself when it was given by hand or registered before the spelling was
/// kept. xxl-job builds its consistent-hash ring from these.
pub async fn registered_forms<C: ConnectionTrait>(
    db: &C,
    app: &str,
    addresses: &[String],
) -> Result<Vec<String>, Error> {
    let rows = Entity::find()
        .filter(Column::App.eq(app.trim()))
        .filter(Column::Address.is_in(addresses.iter().map(String::as_str)))
        .all(db)
        .await?;
    Ok(addresses
        .iter()
        .map(|address| {
            rows.iter()
                .find(|row| row.address == *address)
                .and_then(|row| row.registered_as.clone())
                .unwrap_or_else(|| address.clone())
        })
        .collect())
}

/// Where runs of `app` go at `now`: the addresses given by hand when there are any, else the
/// live registered ones; both in order.
pub async fn dispatch_addresses<C: ConnectionTrait>(
    db: &C,
    app: &str,
    now: DateTime<Utc>,
) -> Result<Vec<String>, Error> {
    let manual = xxl_app::Entity::find_by_id(app.trim()).one(db).await?;
    match manual {
        Some(row) => Ok(row.addresses.lines().map(str::to_owned).collect()),
        None => live_addresses(db, app, now).await,
    }
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
    let app = checked_app(app)?;
    let address = normalize_executor_address(address);
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
    Ok((app, address))
}

/// The trimmed app name, or the refusal naming `app`.
fn checked_app(app: &str) -> Result<String, Error> {
    let app = app.trim();
    if app.is_empty() {
        return Err(FieldError::new("app", app, "must not be blank").into());
    }
    if app.chars().count() > MAX_APP_LEN {
        return Err(FieldError::new("app", app, format!("is longer than {MAX_APP_LEN} characters")).into());
    }
    Ok(app.to_owned())
}

/// A normalised `http(s)://` address given by hand, or the refusal naming `field`.
fn checked_url(field: &str, given: &str) -> Result<String, Error> {
    let address = normalize_executor_address(given);
    let host = address.split_once("://").map_or("", |(_, rest)| rest);
    let reason = if !(address.starts_with("http://") || address.starts_with("https://")) {
        Some("is not an http:// or https:// URL".to_owned())
    } else if address.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("holds a space or a control character".to_owned())
    } else if address.chars().count() > MAX_ADDRESS_LEN {
        Some(format!("is longer than {MAX_ADDRESS_LEN} characters"))
    } else if host.is_empty() || host.starts_with('/') {
        Some("names no host".to_owned())
    } else {
        None
    };
    match reason {
        Some(reason) => Err(FieldError::new(field, given, reason).into()),
        None => Ok(address),
    }
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

    #[test]
    fn manual_addresses_must_be_http_urls() {
        assert_eq!(
            checked_url("a", " http://10.0.0.1:9999/ ").ok().as_deref(),
            Some("http://10.0.0.1:9999")
        );
        assert!(checked_url("a", "https://executor.internal").is_ok());
        for refused in [
            "10.0.0.1:9999",
            "ftp://x",
            "http://",
            "http:///x",
            "http://a b",
            "http://a\tb",
            "",
        ] {
            assert!(checked_url("a", refused).is_err(), "{refused:?}");
        }
    }
}
