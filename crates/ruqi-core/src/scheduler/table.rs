//! The map of job entries, with the counts the scheduler's status reports
//! kept up to date on every change, so that reading them costs the same with
//! ten jobs or a million (`GET /health` and the metrics read them often).

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use foldhash::HashMap;

use super::state::JobEntry;

/// How many entries are in each state, as [`Scheduler::status`](super::Scheduler::status) reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Tally {
    /// Entries with a row (not retired).
    pub(super) jobs: usize,
    /// Of those, paused.
    pub(super) paused: usize,
    /// Of those, not paused and waiting for a fire.
    pub(super) scheduled: usize,
    /// Runs in progress, retired entries' included.
    pub(super) running: usize,
}

impl Tally {
    /// What one entry adds to the counts.
    fn of(entry: &JobEntry) -> Self {
        let running = entry.activity().running.len();
        if entry.retired {
            return Self {
                running,
                ..Self::default()
            };
        }
        let paused = entry.job.is_paused;
        Self {
            jobs: 1,
            paused: usize::from(paused),
            scheduled: usize::from(!paused && entry.next.is_some()),
            running,
        }
    }

    fn add(&mut self, other: Self) {
        self.jobs += other.jobs;
        self.paused += other.paused;
        self.scheduled += other.scheduled;
        self.running += other.running;
    }

    fn subtract(&mut self, other: Self) {
        self.jobs -= other.jobs;
        self.paused -= other.paused;
        self.scheduled -= other.scheduled;
        self.running -= other.running;
    }
}

/// The job entries by id. Every change goes through [`JobTable::insert`],
/// [`JobTable::remove`] or the guard [`JobTable::get_mut`] returns, which
/// keep the [`Tally`] in step.
#[derive(Default)]
pub(super) struct JobTable {
    entries: HashMap<Arc<str>, JobEntry>,
    tally: Tally,
}

impl JobTable {
    /// The entry of `job_id`.
    pub(super) fn get(&self, job_id: &str) -> Option<&JobEntry> {
        self.entries.get(job_id)
    }

    /// The id as the table holds it, and its entry.
    pub(super) fn get_key_value(&self, job_id: &str) -> Option<(&Arc<str>, &JobEntry)> {
        self.entries.get_key_value(job_id)
    }

    /// Every entry.
    pub(super) fn values(&self) -> impl Iterator<Item = &JobEntry> {
        self.entries.values()
    }

    /// Every entry with its id.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &JobEntry)> {
        self.entries.iter()
    }

    /// The number of entries, retired ones included.
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The entry of `job_id`, to change; the counts follow when the guard is dropped.
    pub(super) fn get_mut(&mut self, job_id: &str) -> Option<EntryMut<'_>> {
        let entry = self.entries.get_mut(job_id)?;
        let before = Tally::of(entry);
        Some(EntryMut {
            entry,
            tally: &mut self.tally,
            before,
        })
    }

    /// Moves `job_id`'s entry to a new timer generation (which no count
    /// depends on); false if there is no such entry.
    pub(super) fn set_generation(&mut self, job_id: &str, generation: u64) -> bool {
        match self.entries.get_mut(job_id) {
            Some(entry) => {
                entry.generation = generation;
                true
            }
            None => false,
        }
    }

    /// Puts `entry` under `job_id`, returning the one it replaces.
    pub(super) fn insert(&mut self, job_id: Arc<str>, entry: JobEntry) -> Option<JobEntry> {
        self.tally.add(Tally::of(&entry));
        let replaced = self.entries.insert(job_id, entry);
        if let Some(old) = &replaced {
            self.tally.subtract(Tally::of(old));
        }
        replaced
    }

    /// Takes `job_id`'s entry out.
    pub(super) fn remove(&mut self, job_id: &str) -> Option<JobEntry> {
        let removed = self.entries.remove(job_id)?;
        self.tally.subtract(Tally::of(&removed));
        Some(removed)
    }

    /// The counts over every entry.
    pub(super) fn tally(&self) -> Tally {
        debug_assert_eq!(self.tally, self.recount(), "the kept counts drifted from the entries");
        self.tally
    }

    /// The counts walked entry by entry (what [`JobTable::tally`] keeps).
    fn recount(&self) -> Tally {
        let mut tally = Tally::default();
        for entry in self.entries.values() {
            tally.add(Tally::of(entry));
        }
        tally
    }
}

/// An entry being changed: derefs to the entry, and brings the table's
/// counts up to date with it when dropped.
pub(super) struct EntryMut<'a> {
    entry: &'a mut JobEntry,
    tally: &'a mut Tally,
    before: Tally,
}

impl Deref for EntryMut<'_> {
    type Target = JobEntry;

    fn deref(&self) -> &JobEntry {
        self.entry
    }
}

impl DerefMut for EntryMut<'_> {
    fn deref_mut(&mut self) -> &mut JobEntry {
        self.entry
    }
}

impl Drop for EntryMut<'_> {
    fn drop(&mut self) {
        self.tally.subtract(self.before);
        self.tally.add(Tally::of(self.entry));
    }
}
