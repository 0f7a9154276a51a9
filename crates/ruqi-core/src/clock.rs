//! Where the scheduler reads the time and how it waits for a deadline.
//!
//! The engine never calls `Utc::now()` or `tokio::time::sleep` directly: it
//! asks its [`Clock`]. Production uses [`SystemClock`]; tests use
//! [`ManualClock`] and move time forward themselves, so a test of a DST
//! transition or a misfire takes milliseconds instead of hours.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use tokio::sync::{oneshot, watch};

/// A source of wall-clock time that can also wait for an instant.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;

    /// A future that completes once [`Clock::now`] has reached `deadline`.
    fn sleep_until(&self, deadline: DateTime<Utc>) -> BoxFuture<'static, ()>;
}

/// The real clock: `Utc::now()`, tokio's timer for the bulk of a wait, and
/// a thread of its own for the last few milliseconds.
///
/// tokio's timer fires on whole-millisecond ticks, and its driver parks with
/// a timeout in whole milliseconds, so a tokio sleep ends up to about 2 ms
/// after its deadline. A wait for an instant therefore sleeps on tokio until
/// 3 ms before it, and hands the rest to one process-wide thread
/// that waits on the operating system's high-resolution timer (tens of
/// microseconds late) and then wakes the task. The thread starts with the
/// first such wait and costs nothing while no wait is that close.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

/// The part of a wait, counted back from its instant, that the fine timer
/// thread covers instead of tokio's timer.
const FINE_WAIT: Duration = Duration::from_millis(3);

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, deadline: DateTime<Utc>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            // The wall clock may be stepped while we sleep (NTP); waking up
            // early and re-checking keeps a fire from running before its instant.
            loop {
                let left = deadline - Utc::now();
                let Ok(left) = left.to_std() else { return };
                if left.is_zero() {
                    return;
                }
                if left > FINE_WAIT {
                    tokio::time::sleep(left - FINE_WAIT).await;
                } else {
                    fine_sleep(left).await;
                }
            }
        })
    }
}

/// A wait handed to the fine timer thread: it is told when `at` has passed.
struct FineWait {
    at: Instant,
    done: oneshot::Sender<()>,
}

impl PartialEq for FineWait {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}

impl Eq for FineWait {}

impl PartialOrd for FineWait {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for FineWait {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.at.cmp(&other.at)
    }
}

/// Waits `left` (a few milliseconds at most) on the fine timer thread. If
/// the thread cannot be started, tokio's timer waits instead.
async fn fine_sleep(left: Duration) {
    static WAITS: OnceLock<Option<mpsc::Sender<FineWait>>> = OnceLock::new();
    let waits = WAITS.get_or_init(|| {
        let (send, receive) = mpsc::channel();
        std::thread::Builder::new()
            .name("ruqi-fine-timer".into())
            .spawn(move || run_fine_timer(&receive))
            .map_err(|error| tracing::warn!(%error, "the fine timer thread did not start; waits use tokio's timer"))
            .ok()
            .map(|_| send)
    });
    let (done, finished) = oneshot::channel();
    let wait = FineWait {
        at: Instant::now() + left,
        done,
    };
    match waits {
        Some(waits) if waits.send(wait).is_ok() => {
            let _ = finished.await;
        }
        _ => tokio::time::sleep(left).await,
    }
}

/// The fine timer thread: keeps the pending waits in deadline order and
/// sleeps on the channel until the earliest, or until a new wait arrives.
/// A wait whose future was dropped is answered into the void.
fn run_fine_timer(waits: &mpsc::Receiver<FineWait>) {
    let mut pending: BinaryHeap<Reverse<FineWait>> = BinaryHeap::new();
    loop {
        let now = Instant::now();
        while pending.peek().is_some_and(|first| first.0.at <= now) {
            if let Some(Reverse(due)) = pending.pop() {
                let _ = due.done.send(());
            }
        }
        let next = match pending.peek() {
            Some(first) => waits.recv_timeout(first.0.at - now),
            None => waits.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
        };
        match next {
            Ok(wait) => pending.push(Reverse(wait)),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// A clock that only moves when told to; for tests and simulations.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use ruqi_core::{Clock, ManualClock};
///
/// let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 8, 6, 0, 0).unwrap());
/// clock.advance(chrono::Duration::minutes(90));
/// assert_eq!(clock.now(), Utc.with_ymd_and_hms(2026, 3, 8, 7, 30, 0).unwrap());
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
    moved: watch::Sender<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        let (moved, _) = watch::channel(start);
        Self {
            now: Arc::new(Mutex::new(start)),
            moved,
        }
    }

    /// Moves the clock forward by `by` and wakes every sleeper whose deadline has come.
    pub fn advance(&self, by: chrono::Duration) {
        let now = {
            let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
            *now += by;
            *now
        };
        self.moved.send_replace(now);
    }

    /// Sets the clock to `to` (forward or backward) and wakes the sleepers.
    pub fn set(&self, to: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(|p| p.into_inner()) = to;
        self.moved.send_replace(to);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn sleep_until(&self, deadline: DateTime<Utc>) -> BoxFuture<'static, ()> {
        let mut moved = self.moved.subscribe();
        Box::pin(async move {
            loop {
                if *moved.borrow_and_update() >= deadline {
                    return;
                }
                if moved.changed().await.is_err() {
                    // The clock is gone: nothing will ever move it again.
                    std::future::pending::<()>().await;
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn system_sleeps_never_end_before_their_instant() {
        // Deadlines inside and beyond the fine timer's part of a wait, some
        // of them waited for at once, so the thread keeps several in order.
        let offsets_us = [0_i64, 200, 1_500, 2_900, 3_000, 4_500, 12_000, 40_000];
        let sleeps = offsets_us.map(|us| {
            let deadline = Utc::now() + chrono::Duration::microseconds(us);
            tokio::spawn(async move {
                SystemClock.sleep_until(deadline).await;
                (deadline, Utc::now())
            })
        });
        for sleep in sleeps {
            let (deadline, woke) = sleep.await.expect("sleep task");
            assert!(woke >= deadline, "woke at {woke}, before its deadline {deadline}");
        }
        // A wait given up before its instant does not stop the ones after it.
        // A zero timeout polls the wait once (so it reaches the thread), then
        // drops it. On a busy machine the 2 ms may pass before that poll, and
        // the wait ends at once instead: then it is tried again.
        let mut given_up_in_time = false;
        for _ in 0..20 {
            let given_up = Utc::now() + chrono::Duration::milliseconds(2);
            let outcome = tokio::time::timeout(Duration::ZERO, SystemClock.sleep_until(given_up)).await;
            if outcome.is_err() {
                given_up_in_time = true;
                break;
            }
            assert!(Utc::now() >= given_up, "a wait ended before its instant");
        }
        assert!(given_up_in_time, "a 2 ms wait ended at once, 20 times over");
        let deadline = Utc::now() + chrono::Duration::milliseconds(2);
        SystemClock.sleep_until(deadline).await;
        assert!(Utc::now() >= deadline);
    }
}
