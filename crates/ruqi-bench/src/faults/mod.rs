//! The fault-injection suite's instruments: database servers of its own that
//! it may stop and crash ([`instance`], one file per backend).
//!
//! The `faults` scenario (`scenario/faults.rs`) drives them.

mod instance;
mod mariadb;
mod postgres;

pub(crate) use instance::{Instance, Outage, Restart};
