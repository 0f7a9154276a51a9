//! The `args` of an `xxl` job: which executors, which handler, with what,
//! routed how.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// What an `xxl` job's `args` hold.
///
/// ```
/// use ruqi_xxl::{BlockStrategy, Route, XxlArgs};
///
/// let args: XxlArgs = serde_json::from_value(serde_json::json!({
///     "app": "billing", "handler": "close_day", "params": "2026-12-01", "route": "ROUND"
/// })).unwrap();
/// assert_eq!(args.route, Route::Round);
/// assert_eq!(args.block_strategy, BlockStrategy::SerialExecution);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct XxlArgs {
    /// The executors' app name: what they register as (`xxl.job.executor.appname`, pyxxl's
    /// `executor_app_name`).
    #[schemars(length(min = 1, max = 191), extend("pattern" = "\\S"))]
    pub app: String,
    /// The handler the executor runs (`@XxlJob("name")`, pyxxl's `@app.register(name=…)`).
    #[schemars(length(min = 1), extend("pattern" = "\\S"))]
    pub handler: String,
    /// The text handed to the handler (`executorParams`).
    #[serde(default)]
    pub params: Option<String>,
    /// How the executor is chosen among the app's live ones (default `FIRST`).
    #[serde(default)]
    pub route: Route,
    /// What the executor does when the job is still running there (default `SERIAL_EXECUTION`).
    #[serde(default)]
    pub block_strategy: BlockStrategy,
    /// Which shard of a SHARDING_BROADCAST fire this run is. The center sets it on each run
    /// a broadcast fire becomes (one per live executor, recorded on its row); a job's row
    /// leaves it out, or names the one shard it sends.
    #[serde(default)]
    pub shard: Option<Shard>,
}

/// One shard of a SHARDING_BROADCAST fire: what the executor receives as `broadcastIndex`
/// and `broadcastTotal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    /// From 0, below `total`; the shard goes to the live executor at this place.
    pub index: u32,
    /// How many shards the fire has: one per live executor when it came due.
    #[schemars(range(min = 1))]
    pub total: u32,
}

impl Shard {
    /// The shard of a run that is not split: the only one.
    pub const WHOLE: Shard = Shard { index: 0, total: 1 };
}

/// XXL-JOB's routing strategies: which live executor of the app a run goes to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Route {
    /// The first address, in order.
    #[default]
    First,
    /// The last address.
    Last,
    /// Each address in turn, per job.
    Round,
    /// Any address, at random.
    Random,
    /// The address XXL-JOB's hash ring gives the job's number: the same one while the set of
    /// executors stays the same.
    ConsistentHash,
    /// The address this job was sent to least often.
    LeastFrequentlyUsed,
    /// The address this job was sent to longest ago.
    LeastRecentlyUsed,
    /// The first address that answers a heartbeat (`/beat`).
    Failover,
    /// The first address where the job is idle (`/idleBeat`).
    Busyover,
    /// Every address, each with its shard number (`broadcastIndex` of `broadcastTotal`).
    ShardingBroadcast,
}

impl Route {
    const ALL: [Route; 10] = [
        Self::First,
        Self::Last,
        Self::Round,
        Self::Random,
        Self::ConsistentHash,
        Self::LeastFrequentlyUsed,
        Self::LeastRecentlyUsed,
        Self::Failover,
        Self::Busyover,
        Self::ShardingBroadcast,
    ];

    /// The name as written in `args` and shown by xxl-job.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::First => "FIRST",
            Self::Last => "LAST",
            Self::Round => "ROUND",
            Self::Random => "RANDOM",
            Self::ConsistentHash => "CONSISTENT_HASH",
            Self::LeastFrequentlyUsed => "LEAST_FREQUENTLY_USED",
            Self::LeastRecentlyUsed => "LEAST_RECENTLY_USED",
            Self::Failover => "FAILOVER",
            Self::Busyover => "BUSYOVER",
            Self::ShardingBroadcast => "SHARDING_BROADCAST",
        }
    }
}

/// XXL-JOB's block strategies, applied by the executor when a run of the job arrives while
/// another is still going there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BlockStrategy {
    /// Queue it behind the running one.
    #[default]
    SerialExecution,
    /// Refuse it.
    DiscardLater,
    /// Stop the running one and start it.
    CoverEarly,
}

impl BlockStrategy {
    const ALL: [BlockStrategy; 3] = [Self::SerialExecution, Self::DiscardLater, Self::CoverEarly];

    /// The name as sent in `executorBlockStrategy`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SerialExecution => "SERIAL_EXECUTION",
            Self::DiscardLater => "DISCARD_LATER",
            Self::CoverEarly => "COVER_EARLY",
        }
    }
}

/// A plain `enum` of names: a derived schema would list each documented
/// variant in a `oneOf`, whose errors say far less.
fn names_schema(names: impl IntoIterator<Item = &'static str>) -> Schema {
    let names: Vec<&str> = names.into_iter().collect();
    json_schema!({ "type": "string", "enum": names })
}

impl JsonSchema for Route {
    fn schema_name() -> Cow<'static, str> {
        "XxlRoute".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        names_schema(Self::ALL.iter().map(|r| r.as_str()))
    }
}

impl JsonSchema for BlockStrategy {
    fn schema_name() -> Cow<'static, str> {
        "XxlBlockStrategy".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        names_schema(Self::ALL.iter().map(|b| b.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back() {
        for route in Route::ALL {
            let read: Route = serde_json::from_value(route.as_str().into()).unwrap();
            assert_eq!(read, route);
        }
        for strategy in BlockStrategy::ALL {
            let read: BlockStrategy = serde_json::from_value(strategy.as_str().into()).unwrap();
            assert_eq!(read, strategy);
        }
    }
}
