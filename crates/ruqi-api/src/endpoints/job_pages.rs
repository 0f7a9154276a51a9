//! Pages of the job list kept, as the bytes answered, while nothing they
//! show can have changed.
//!
//! Every client of the admin API — the admin page first — asks for the
//! first page of jobs again and again, and between two asks the table has
//! mostly not moved. A page is kept with three marks taken before it was
//! read: the scheduler's view revision (it moves after any change of the
//! live state laid over the rows: a fire, a run starting or ending, a job
//! applied or dropped), the scheduler's table revision (writes announced
//! by hooks and changes read from the feed), and the newest entry of the
//! change log, which any writer's change of a schedule — plain SQL
//! included — moves when it commits. The log's mark is read from the
//! database on every ask, so a row typed in by hand shows on the next ask
//! as before.
//!
//! What none of the marks follows is the end of a run on another node
//! sharing the database (its `last_status`, `last_error`, `is_running`
//! written without a new version) and a hand-written `UPDATE` of only those
//! columns: a kept page is therefore answered for at most [`KEEP_FOR`].

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use ruqi::Scheduler;
use ruqi::query::{JobFilter, JobOrder, Page};
use sea_orm::{DatabaseConnection, DbErr};

/// The longest a kept page is answered.
pub(crate) const KEEP_FOR: Duration = Duration::from_secs(1);

/// At most this many pages are kept (filters and offsets are endless).
const KEPT_PAGES: usize = 32;

/// Larger answers are not kept (a page of 1,000 jobs with large arguments).
const LARGEST_KEPT: usize = 512 * 1024;

/// Which page, as whom.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PageKey {
    pub(crate) filter: JobFilter,
    pub(crate) order: JobOrder,
    pub(crate) offset: u64,
    pub(crate) limit: u64,
    /// Whether secret arguments are redacted.
    pub(crate) redacted: bool,
}

impl PageKey {
    pub(crate) fn new(filter: JobFilter, order: JobOrder, page: Page, redacted: bool) -> Self {
        Self {
            filter,
            order,
            offset: page.offset,
            limit: page.limit,
            redacted,
        }
    }
}

/// What a page was read at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Marks {
    view: u64,
    table: u64,
    log: i64,
}

impl Marks {
    /// The marks now, taken before anything of the page is read; `None`
    /// without a running scheduler (nothing then says when memory changes).
    pub(crate) async fn now(db: &DatabaseConnection) -> Result<Option<Self>, DbErr> {
        let Some(scheduler) = Scheduler::global() else {
            return Ok(None);
        };
        // The scheduler's marks first: a change they follow that lands
        // while the log is read moves them past what is kept.
        let view = scheduler.view_revision();
        let table = scheduler.table_revision();
        let log = ruqi::query::schedule_mark(db).await?;
        Ok(Some(Self { view, table, log }))
    }
}

struct Kept {
    marks: Marks,
    read_at: Instant,
    body: Vec<u8>,
}

/// The kept pages of one admin API.
#[derive(Default)]
pub(crate) struct JobPages {
    kept: Mutex<HashMap<PageKey, Kept>>,
}

impl JobPages {
    /// The answer kept for `key`, if it was read at `marks` less than [`KEEP_FOR`] ago.
    pub(crate) fn get(&self, key: &PageKey, marks: Marks) -> Option<Vec<u8>> {
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        kept.get(key)
            .filter(|page| page.marks == marks && page.read_at.elapsed() < KEEP_FOR)
            .map(|page| page.body.clone())
    }

    /// Keeps `body`, the answer for `key` read at `marks` (taken before it
    /// was read, at `read_at`).
    pub(crate) fn keep(&self, key: PageKey, marks: Marks, read_at: Instant, body: &[u8]) {
        if body.len() > LARGEST_KEPT {
            return;
        }
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() >= KEPT_PAGES && !kept.contains_key(&key) {
            kept.retain(|_, page| page.marks == marks && page.read_at.elapsed() < KEEP_FOR);
            if kept.len() >= KEPT_PAGES {
                kept.clear();
            }
        }
        kept.insert(
            key,
            Kept {
                marks,
                read_at,
                body: body.to_vec(),
            },
        );
    }
}
