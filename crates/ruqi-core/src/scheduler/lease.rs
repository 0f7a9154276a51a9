//! This node's lease in the node registry: heartbeats, self-fencing, and
//! when a peer may be taken for dead.
//!
//! A node renews its lease by writing its heartbeat, stamped with the
//! database's clock, twice per
//! [`heartbeat_interval`](super::SchedulerConfig::heartbeat_interval) (four
//! times while renewals fail). Two rules keep a fire from running twice
//! whatever the database or the network does:
//!
//! - **A peer is dead only on evidence that survives an outage of the
//!   database itself.** A node takes a peer for dead when the peer's last
//!   heartbeat is [`dead_after`](super::SchedulerConfig::dead_after) old *and*
//!   its own heartbeats went through without a break for at least as long.
//!   After a database restart every heartbeat is old, but every node's run
//!   of good heartbeats starts again too, so a live peer has `dead_after`
//!   to renew before anyone may judge it. A node never judges itself.
//! - **A node that cannot renew its lease fences itself.** Once its last
//!   renewal that went through was *sent*
//!   [`fence_after`](super::SchedulerConfig::fence_after) ago, it starts no
//!   run and cancels the runs it has going, one interval before the earliest
//!   moment a peer could take it for dead. So a run marked `lost` and run
//!   again elsewhere cannot still be running here (a blocking function that
//!   ignores its cancellation token is the exception: it is told to stop but
//!   cannot be stopped from outside). When renewals go through again, the
//!   node carries on; if a peer did take it for dead meanwhile, the fires it
//!   had claimed but not started are not started any more (their rows are
//!   the peer's to settle).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::time::Instant;

use super::{Inner, duration_to_chrono};
use crate::store::{Heartbeat, NodeInfo};

/// This node's lease, as far as it knows.
pub(super) struct Lease {
    state: Mutex<LeaseState>,
    /// Whether the lease is held (runs may start); waited on while fenced.
    held: watch::Sender<bool>,
}

#[derive(Debug)]
struct LeaseState {
    /// When the last renewal that went through was sent.
    renewed_at: Instant,
    /// The database's time of the first renewal of the current unbroken
    /// run of renewals.
    healthy_since: Option<DateTime<Utc>>,
    /// The database's time of the last renewal that went through.
    last_renewal: Option<DateTime<Utc>>,
    /// The last renewal failed.
    failing: bool,
    /// The lease ran out: nothing starts until it is renewed.
    fenced: bool,
    /// How many times a peer took this node for dead.
    epoch: u64,
}

impl Lease {
    /// A lease just renewed (the node has registered).
    pub(super) fn new() -> Self {
        Self {
            state: Mutex::new(LeaseState {
                renewed_at: Instant::now(),
                healthy_since: None,
                last_renewal: None,
                failing: false,
                fenced: false,
                epoch: 0,
            }),
            held: watch::channel(true).0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, LeaseState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many times a peer has taken this node for dead: a fire claimed
    /// under one epoch is not started under another.
    pub(super) fn epoch(&self) -> u64 {
        self.lock().epoch
    }

    /// Whether the lease is held now: not fenced, and renewed within `fence_after`.
    pub(super) fn is_held(&self, fence_after: Duration) -> bool {
        let state = self.lock();
        !state.fenced && state.renewed_at.elapsed() < fence_after
    }

    /// Waits until the lease is held again (returns at once if it is).
    pub(super) async fn held_again(&self) {
        let mut held = self.held.subscribe();
        // The sender lives as long as the scheduler, which outlives this wait.
        let _ = held.wait_for(|held| *held).await;
    }
}

impl Inner {
    /// Renews this node's lease, picks up requests to cancel its runs, and
    /// looks for dead peers: twice per heartbeat interval, four times while
    /// renewals fail, until shutdown.
    pub(super) async fn keep_lease(self: Arc<Self>) {
        let me = self.node_info();
        let interval = self.config.heartbeat_interval;
        loop {
            let renewed = self.renew_lease(&me).await;
            if renewed {
                self.take_cancel_requests().await;
                self.reap_dead_peers().await;
            }
            let pause = if renewed { interval / 2 } else { interval / 4 };
            tokio::select! {
                () = self.shutdown.cancelled() => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Runs `work` while renewing the lease as [`keep_lease`](Self::keep_lease)
    /// does (without looking for dead peers): for the first load of the
    /// schedule, before the timer and `keep_lease` start.
    pub(super) async fn keep_lease_during<T>(&self, work: impl Future<Output = T>) -> T {
        let me = self.node_info();
        let interval = self.config.heartbeat_interval;
        let mut pause = interval / 2;
        tokio::pin!(work);
        loop {
            tokio::select! {
                out = &mut work => return out,
                () = tokio::time::sleep(pause) => {
                    pause = if self.renew_lease(&me).await { interval / 2 } else { interval / 4 };
                }
            }
        }
    }

    /// One heartbeat; whether it went through. One that takes longer than
    /// the lease's fence period counts as failed.
    async fn renew_lease(&self, me: &NodeInfo) -> bool {
        let sent = Instant::now();
        match tokio::time::timeout(self.config.fence_after(), self.store.heartbeat(me)).await {
            Ok(Ok(beat)) => {
                self.lease_renewed(sent, beat);
                true
            }
            Ok(Err(error)) => {
                self.renewal_failed(&error.to_string());
                false
            }
            Err(_) => {
                self.renewal_failed("no answer within the fence period");
                false
            }
        }
    }

    fn renewal_failed(&self, error: &str) {
        let mut state = self.lease.lock();
        if !state.failing {
            tracing::warn!(node = %self.config.node_name, error, "renewing this node's lease failed; retrying");
        }
        state.failing = true;
    }

    pub(super) fn lease_renewed(&self, sent: Instant, beat: Heartbeat) {
        let me = self.config.node_name.as_str();
        let written = beat.nodes.iter().find(|n| n.node == me).map(|n| n.heartbeat_at);
        let (was_fenced, recovered) = {
            let mut state = self.lease.lock();
            let unbroken = !state.failing
                && !state.fenced
                && !beat.rejoined
                && sent.saturating_duration_since(state.renewed_at) <= self.config.dead_after();
            if !unbroken || state.healthy_since.is_none() {
                state.healthy_since = written;
            }
            state.last_renewal = written;
            state.renewed_at = state.renewed_at.max(sent);
            let recovered = state.failing;
            state.failing = false;
            let was_fenced = std::mem::replace(&mut state.fenced, false);
            if beat.rejoined {
                state.epoch += 1;
            }
            (was_fenced, recovered)
        };
        if beat.rejoined {
            let stopped = self.cancel_all_runs("stopped: a peer took this node for dead and marked its runs lost");
            tracing::warn!(
                node = me,
                stopped,
                "a peer had taken this node for dead; rejoined the registry"
            );
        }
        if was_fenced {
            tracing::warn!(node = me, "lease renewed again; starting runs again");
        } else if recovered {
            tracing::info!(node = me, "lease renewed again");
        }
        self.lease.held.send_replace(true);
        *self.nodes.lock().unwrap_or_else(|p| p.into_inner()) = beat.nodes;
    }

    /// Whether this node may take peers for dead: its own renewals have gone
    /// through without a break for at least `dead_after`, by the database's clock.
    fn may_judge_peers(&self) -> bool {
        let state = self.lease.lock();
        match (state.healthy_since, state.last_renewal) {
            (Some(since), Some(last)) => last - since >= duration_to_chrono(self.config.dead_after()),
            _ => false,
        }
    }

    /// Cancels this node's runs that a peer asked to cancel.
    async fn take_cancel_requests(&self) {
        match self.store.cancel_requests(&self.config.node_name).await {
            Ok(ids) => {
                let state = self.lock();
                for id in ids {
                    if let Some(run) = state.run(&id) {
                        run.cancel("cancelled by request (through another node)");
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "reading cancellation requests failed"),
        }
    }

    /// Takes the peers whose lease ran out for dead (see the module doc) and
    /// runs their lost runs again as their misfire policy says.
    async fn reap_dead_peers(self: &Arc<Self>) {
        if !self.may_judge_peers() {
            return;
        }
        match self
            .store
            .reap_dead_nodes(&self.config.node_name, self.config.dead_after(), self.clock.now())
            .await
        {
            // Started apart, so that the runs' writes never hold up the next renewal.
            Ok(lost) if !lost.is_empty() => {
                let reaper = self.clone();
                self.tasks.spawn(async move { reaper.rerun_lost(lost).await });
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "looking for dead nodes failed"),
        }
    }

    /// Fences this node when its lease runs out, until shutdown.
    pub(super) async fn guard_lease(self: Arc<Self>) {
        let fence_after = self.config.fence_after();
        loop {
            let deadline = self.lease.lock().renewed_at + fence_after;
            tokio::select! {
                () = self.shutdown.cancelled() => return,
                () = tokio::time::sleep_until(deadline) => {}
            }
            let expired = {
                let mut state = self.lease.lock();
                let expired = !state.fenced && state.renewed_at + fence_after <= Instant::now();
                state.fenced |= expired;
                expired
            };
            if !expired {
                continue;
            }
            self.lease.held.send_replace(false);
            let reason = format!(
                "stopped: this node could not renew its lease for {:.1}s (its heartbeats did not reach the \
                 database), so a peer may take the run over",
                fence_after.as_secs_f64()
            );
            let stopped = self.cancel_all_runs(&reason);
            tracing::warn!(
                node = %self.config.node_name,
                stopped,
                "lease not renewed in time: fenced (no run starts, running ones cancelled) until it is"
            );
            tokio::select! {
                () = self.shutdown.cancelled() => return,
                () = self.lease.held_again() => {}
            }
        }
    }

    /// Cancels every run in progress in this process; returns how many.
    pub(super) fn cancel_all_runs(&self, reason: &str) -> usize {
        let state = self.lock();
        let mut stopped = 0;
        for entry in state.jobs.values() {
            for run in &entry.activity().running {
                run.cancel(reason);
                stopped += 1;
            }
        }
        stopped
    }
}
