//! Several schedulers on one database: the node registry, heartbeats, and
//! what happens to the runs of a node that died.
//!
//! Every node holds every job and races the others for each fire with a
//! compare-and-set, so a dead node's future fires need no hand-over: the
//! others simply win them. What a dead node leaves behind are runs it had
//! started; once its heartbeat is older than
//! [`SchedulerConfig::dead_after`](super::SchedulerConfig::dead_after) one
//! live node marks them `lost`, and the job's misfire policy decides whether
//! the lost fire runs again.

use std::sync::Arc;

use super::state::RunRequest;
use super::{Inner, duration_to_chrono};
use crate::events::SchedulerEvent;
use crate::execution::TriggerSource;
use crate::job::MisfirePolicy;
use crate::store::{LostRun, NodeInfo};

impl Inner {
    /// This process as the node registry shows it.
    pub(super) fn node_info(&self) -> NodeInfo {
        let now = self.clock.now();
        NodeInfo {
            node: self.config.node_name.clone(),
            host: host_name(),
            pid: Some(i64::from(std::process::id())),
            started_at: self.started_at,
            heartbeat_at: now,
        }
    }

    /// Heartbeats and looks for dead nodes twice per heartbeat interval until shutdown.
    pub(super) async fn keep_heartbeat(self: Arc<Self>) {
        let me = self.node_info();
        let mut tick = tokio::time::interval(self.config.heartbeat_interval / 2);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = self.shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            match self.store.heartbeat(&me).await {
                Ok(nodes) => *self.nodes.lock().unwrap_or_else(|p| p.into_inner()) = nodes,
                Err(error) => tracing::warn!(node = %me.node, %error, "heartbeat failed"),
            }
            match self.store.cancel_requests(&me.node).await {
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
            match self
                .store
                .reap_dead_nodes(self.config.dead_after(), self.clock.now())
                .await
            {
                // Started apart, so that the runs' writes never hold up the next heartbeat.
                Ok(lost) if !lost.is_empty() => {
                    let reaper = self.clone();
                    self.tasks.spawn(async move { reaper.rerun_lost(lost).await });
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "looking for dead nodes failed"),
            }
        }
    }

    /// A lost run runs again (trigger source `retry`) when its instant is
    /// still within the misfire grace, or beyond it under `run_once`; under
    /// `skip` a late lost run stays lost.
    pub(super) async fn rerun_lost(self: Arc<Self>, lost: Vec<LostRun>) {
        for run in lost {
            let alert_url = self
                .compiled(&run.job_id)
                .ok()
                .and_then(|j| j.alert_url.as_deref().map(str::to_owned));
            self.emit(
                SchedulerEvent::Lost {
                    job_id: run.job_id.clone(),
                    execution_id: run.execution_id.clone(),
                    scheduled_for: run.scheduled_for,
                    node: run.node.clone(),
                },
                alert_url.as_deref(),
            );
            let Ok(job) = self.compiled(&run.job_id) else {
                tracing::info!(job_id = %run.job_id, execution_id = %run.execution_id, "lost run of a job that no longer exists");
                continue;
            };
            let late = self.clock.now() - run.scheduled_for > duration_to_chrono(job.policy.misfire_grace);
            if late && job.policy.misfire_policy == MisfirePolicy::Skip {
                tracing::warn!(
                    job_id = %run.job_id,
                    execution_id = %run.execution_id,
                    node = %run.node,
                    "run lost with its node; past misfire_grace_s, not run again (misfire_policy = skip)"
                );
                continue;
            }
            tracing::warn!(
                job_id = %run.job_id,
                execution_id = %run.execution_id,
                node = %run.node,
                "run lost with its node; running it again"
            );
            let req = RunRequest {
                source: TriggerSource::Retry,
                attempt: run.attempt.saturating_add(1),
                ..RunRequest::new(run.scheduled_for, TriggerSource::Retry)
            };
            self.clone().start_run(job, req).await;
        }
    }
}

pub(super) fn host_name() -> Option<String> {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .filter(|h| !h.is_empty())
}
