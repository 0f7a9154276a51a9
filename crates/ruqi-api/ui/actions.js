// Which actions on a job can succeed: the list, the bulk bar and the job page
// offer only these. The API refuses run, pause and resume (409) on a row it
// cannot schedule; on a job with no fire left, pausing or resuming changes
// nothing that will ever fire, and running it again is a copy's job.

/** Whether the scheduler refused the row (`last_error` says why). */
export function cannotBeScheduled(job) {
  return Boolean(job.last_error?.startsWith('cannot be scheduled'));
}

/** Whether the job will never fire again: a date that has fired, or bounds that have ended. */
export function hasEnded(job) {
  if (job.is_paused || job.next_run_time) return false;
  if (job.trigger === 'date') return true;
  return Boolean(job.end_at) && Date.parse(job.end_at) <= Date.now();
}

/** The schedule actions that apply to `job`: `{ run, pause, resume }`, each true or false. */
export function offeredActions(job) {
  const schedulable = !cannotBeScheduled(job);
  const live = schedulable && !hasEnded(job);
  return {
    run: live,
    pause: live && !job.is_paused,
    resume: schedulable && job.is_paused,
  };
}

/** Why `job` offers no run, pause or resume, in a few words; null when it offers some. */
export function whyNoActions(job) {
  if (cannotBeScheduled(job)) return 'No run, pause or resume until Edit fixes the row.';
  if (hasEnded(job)) return 'No run, pause or resume: it will not fire again. Copy makes a new job of it.';
  return null;
}
