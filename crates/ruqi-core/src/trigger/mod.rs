//! Placeholder: replaced by the trigger module.
#![allow(missing_docs)]
use crate::FieldError;
use chrono::{DateTime, Utc};
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TriggerKind { Cron, Interval, Date }
impl TriggerKind { pub fn as_str(&self) -> &'static str { match self { Self::Cron => "cron", Self::Interval => "interval", Self::Date => "date" } } }
impl std::str::FromStr for TriggerKind { type Err = FieldError; fn from_str(s: &str) -> Result<Self, FieldError> { match s.trim().to_ascii_lowercase().as_str() { "cron" => Ok(Self::Cron), "interval" => Ok(Self::Interval), "date" => Ok(Self::Date), _ => Err(FieldError::new("trigger", s, "expected cron, interval or date")) } } }
impl std::fmt::Display for TriggerKind { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) } }
pub fn parse_timezone(name: &str) -> Result<chrono_tz::Tz, FieldError> { name.parse().map_err(|_| FieldError::new("timezone", name, "not an IANA time zone name")) }
pub fn parse_interval(rule: &str) -> Result<chrono::Duration, FieldError> { let s = rule.trim().trim_end_matches('s'); s.parse::<i64>().map(chrono::Duration::seconds).map_err(|_| FieldError::new("rule", rule, "bad interval")) }
#[derive(Debug, Clone)]
pub struct Schedule { kind: TriggerKind, tz: chrono_tz::Tz, period: chrono::Duration, anchor: DateTime<Utc> }
impl Schedule {
    pub fn parse(kind: TriggerKind, rule: &str, timezone: chrono_tz::Tz, start_at: Option<DateTime<Utc>>, _end_at: Option<DateTime<Utc>>, anchor: DateTime<Utc>) -> Result<Schedule, FieldError> {
        let period = parse_interval(rule)?; Ok(Self { kind, tz: timezone, period, anchor: start_at.unwrap_or(anchor) }) }
    pub fn kind(&self) -> TriggerKind { self.kind }
    pub fn timezone(&self) -> chrono_tz::Tz { self.tz }
    pub fn next_fire_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> { let mut t = self.anchor + self.period; while t <= after { t += self.period; } Some(t) }
    pub fn preview(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> { let mut v = vec![]; let mut a = after; for _ in 0..n { if let Some(t) = self.next_fire_after(a) { v.push(t); a = t; } } v }
    pub fn describe(&self) -> String { format!("every {}s", self.period.num_seconds()) }
}
