// The actions on a job, which the list, the bulk bar and the job page share,
// and which of them can succeed: the list, the bulk bar and the job page
// offer only these. The API refuses run, pause and resume (409) on a row it
// cannot schedule; on a job with no fire left, pausing or resuming changes
// nothing that will ever fire, and running it again is a copy's job.

import { post, request, seg } from './api.js';
import { confirmAction, h, toast } from './dom.js';
import { plural } from './format.js';

const jobPath = (jobId) => `jobs/${seg(jobId)}`;
const jobHref = (jobId) => `#/jobs/${encodeURIComponent(jobId)}`;

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

/** Says that `what` failed, and why. */
export function failed(what, error) {
  toast(`${what}: ${error.message}`, { kind: 'error' });
}

/** Starts a run now; `then` runs afterwards with the new execution id (or null). */
export async function runNow(jobId, { then = () => {} } = {}) {
  try {
    const started = await post(`${jobPath(jobId)}/run`);
    if (started.execution_id) {
      toast(`Run of ${jobId} started.`, {
        kind: 'success',
        action: h('a', { href: `${jobHref(jobId)}/runs/${encodeURIComponent(started.execution_id)}` }, 'View run'),
      });
    } else {
      toast(started.message);
    }
    then(started.execution_id);
  } catch (error) {
    failed(`Could not run ${jobId}`, error);
  }
}

/** Pauses a running schedule or resumes a paused one; `then` runs afterwards. */
export async function pauseOrResume(job, { then = () => {} } = {}) {
  const action = job.is_paused ? 'resume' : 'pause';
  try {
    await post(`${jobPath(job.job_id)}/${action}`);
    toast(`${job.job_id} ${job.is_paused ? 'resumed' : 'paused'}.`, { kind: 'success' });
    then();
  } catch (error) {
    failed(`Could not ${action} ${job.job_id}`, error);
  }
}

/** Asks every run of `job` in progress to stop. */
export async function cancelRuns(job, then) {
  try {
    const outcome = await post(`${jobPath(job.job_id)}/cancel`);
    const total = outcome.cancelled + outcome.requested_elsewhere;
    toast(total ? `Asked ${plural(total, 'run')} to stop.` : 'Nothing was running.', { kind: 'success' });
    then();
  } catch (error) {
    failed('Could not cancel', error);
  }
}

/** Deletes `job` after asking, then shows the list. */
export async function deleteJob(job) {
  const sure = await confirmAction({
    title: `Delete ${job.job_id}?`,
    text: 'It stops firing at once. A run in progress finishes and is recorded; its history is kept.',
    confirm: 'Delete job',
  });
  if (!sure) return;
  try {
    await request('DELETE', jobPath(job.job_id));
    toast(`${job.job_id} deleted.`, { kind: 'success' });
    location.hash = '#/jobs';
  } catch (error) {
    failed('Could not delete', error);
  }
}
