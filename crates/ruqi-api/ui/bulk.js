// Acting on several jobs of the list at once: the selection (kept while the
// rows update, dropped with the page), the bar with its count and actions,
// and the requests, one per job through the ordinary endpoints, a few at a
// time, ending in one summary that names each failure.

import { post, request, seg } from './api.js';
import { confirmAction, h, replace, toast } from './dom.js';
import { plural } from './format.js';
import { offeredActions } from './actions.js';

/** Requests a bulk action keeps in flight at once. */
const IN_FLIGHT = 4;
/** Failures a summary names one by one; the rest are counted. */
const NAMED = 8;

/** The bulk actions: which selected jobs each applies to, its request, and its words. */
const BULK_ACTIONS = [
  {
    name: 'pause',
    label: 'Pause',
    doing: 'Pausing',
    done: (n) => `Paused ${plural(n, 'job')}`,
    applies: (job) => offeredActions(job).pause,
    skipped: 'already paused, ended or not schedulable',
    send: (jobId) => post(`jobs/${seg(jobId)}/pause`),
  },
  {
    name: 'resume',
    label: 'Resume',
    doing: 'Resuming',
    done: (n) => `Resumed ${plural(n, 'job')}`,
    applies: (job) => offeredActions(job).resume,
    skipped: 'not paused, or not schedulable',
    send: (jobId) => post(`jobs/${seg(jobId)}/resume`),
  },
  {
    name: 'run',
    label: 'Run now',
    doing: 'Starting runs:',
    done: (n) => `Started ${plural(n, 'run')}`,
    applies: (job) => offeredActions(job).run,
    skipped: 'ended or not schedulable',
    send: (jobId) => post(`jobs/${seg(jobId)}/run`),
    // Accepted, yet the overlap policy skipped or queued it: the API says which.
    notDone: (answer) => (answer?.started === false ? answer.message : null),
    notDoneWord: 'not started',
  },
  {
    name: 'delete',
    label: 'Delete',
    doing: 'Deleting',
    done: (n) => `Deleted ${plural(n, 'job')}`,
    applies: () => true,
    send: (jobId) => request('DELETE', `jobs/${seg(jobId)}`),
    danger: true,
  },
];

/**
 * Calls `work(item)` for each item with at most `limit` calls in flight;
 * answers `{ item, value }` or `{ item, error }` per item, in their order.
 */
export async function eachLimited(items, limit, work, onProgress = () => {}) {
  const outcomes = new Array(items.length);
  let next = 0;
  let finished = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next;
      next += 1;
      try {
        outcomes[i] = { item: items[i], value: await work(items[i]) };
      } catch (error) {
        outcomes[i] = { item: items[i], error };
      }
      finished += 1;
      onProgress(finished);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return outcomes;
}

/** One line per job that did not go as asked: "nightly-x — <the API's message>". */
function named(outcomes, why) {
  const lines = outcomes.slice(0, NAMED).map((o) => h('span', { class: 'toast-line' }, ` ${o.item.job_id} — ${why(o)}`));
  if (outcomes.length > NAMED) lines.push(h('span', { class: 'toast-line' }, ` and ${outcomes.length - NAMED} more`));
  return lines;
}

/** The summary of a bulk action: what was done, then each failure with the API's reason. */
export function bulkSummary(action, outcomes, skipped) {
  const failed = outcomes.filter((o) => o.error);
  const notDone = outcomes.filter((o) => !o.error && action.notDone?.(o.value));
  const done = outcomes.length - failed.length - notDone.length;
  const parts = [];
  const sentence = [];
  if (done || outcomes.length === failed.length + notDone.length) sentence.push(action.done(done));
  if (skipped) sentence.push(`${plural(skipped, 'selected job')} skipped (${action.skipped})`);
  parts.push(sentence.join('; '));
  if (notDone.length) {
    parts.push(`; ${notDone.length} ${action.notDoneWord}:`, named(notDone, (o) => action.notDone(o.value)));
  }
  if (failed.length) parts.push(`; ${failed.length} failed:`, named(failed, (o) => o.error.message));
  return { message: parts, failed: failed.length + notDone.length };
}

/**
 * The jobs selected on the shown page of the list, and the bar acting on
 * them. `sync` follows each render of the page; `onDone` runs after an action.
 */
export class JobSelection {
  constructor({ onDone }) {
    /** Selected job id → the job as last shown. */
    this.jobs = new Map();
    this.pageKey = null;
    this.pageJobs = [];
    this.busy = false;
    this.onDone = onDone;
    this.header = null;
    this.count = h('strong', { class: 'count', id: 'bulk-count' });
    this.status = h('span', { class: 'muted small', role: 'status' });
    this.buttons = new Map(
      BULK_ACTIONS.map((action) => [
        action.name,
        h('button', { type: 'button', class: `button small${action.danger ? ' danger' : ''}`, onclick: () => this.act(action) }, action.label),
      ]),
    );
    this.element = h(
      'div',
      { class: 'bulk-bar', tabindex: '-1', hidden: true },
      this.count,
      h('div', { class: 'actions', role: 'toolbar', 'aria-label': 'Act on the selected jobs', 'aria-describedby': 'bulk-count' }, [
        ...this.buttons.values(),
      ]),
      h('button', { type: 'button', class: 'button ghost small', onclick: () => this.clear() }, 'Clear selection'),
      this.status,
    );
  }

  /**
   * Follows a render of the list: a new page (`key`: its filters, offset and
   * size) drops the selection; the same page keeps it for the jobs still shown.
   */
  sync(items, key) {
    if (key !== this.pageKey) this.jobs.clear();
    this.pageKey = key;
    this.pageJobs = items;
    const shown = new Map(items.map((job) => [job.job_id, job]));
    for (const jobId of [...this.jobs.keys()]) {
      if (shown.has(jobId)) this.jobs.set(jobId, shown.get(jobId));
      else this.jobs.delete(jobId);
    }
    this.refresh();
  }

  clear() {
    this.jobs.clear();
    for (const box of document.querySelectorAll('input.pick')) box.checked = false;
    this.refresh();
  }

  /** The checkbox of one row. */
  rowBox(job) {
    return h('input', {
      type: 'checkbox',
      class: 'pick',
      checked: this.jobs.has(job.job_id),
      'aria-label': `Select ${job.job_id}`,
      'data-focus-key': `pick:${job.job_id}`,
      onchange: (event) => {
        if (event.target.checked) this.jobs.set(job.job_id, job);
        else this.jobs.delete(job.job_id);
        this.refresh();
      },
    });
  }

  /** The header's checkbox: every job of the page, or none. */
  headerBox() {
    this.header = h('input', {
      type: 'checkbox',
      'aria-label': 'Select every job on this page',
      'data-focus-key': 'pick:all',
      onchange: (event) => {
        for (const job of this.pageJobs) {
          if (event.target.checked) this.jobs.set(job.job_id, job);
          else this.jobs.delete(job.job_id);
        }
        for (const box of document.querySelectorAll('input.pick')) box.checked = event.target.checked;
        this.refresh();
      },
    });
    this.refresh();
    return this.header;
  }

  /** Shows the count, which actions apply, and the header box's state. */
  refresh() {
    const selected = [...this.jobs.values()];
    this.element.hidden = selected.length === 0 && !this.busy;
    this.count.textContent = `${plural(selected.length, 'job')} selected`;
    for (const action of BULK_ACTIONS) {
      const button = this.buttons.get(action.name);
      const applies = selected.filter(action.applies).length;
      button.disabled = this.busy || applies === 0;
      button.textContent = applies ? `${action.label} (${applies})` : action.label;
      button.title = applies < selected.length && action.skipped ? `Not for ${selected.length - applies}: ${action.skipped}` : '';
    }
    if (this.header) {
      const onPage = this.pageJobs.filter((job) => this.jobs.has(job.job_id)).length;
      this.header.checked = onPage > 0 && onPage === this.pageJobs.length;
      this.header.indeterminate = onPage > 0 && onPage < this.pageJobs.length;
    }
  }

  async act(action) {
    const selected = [...this.jobs.values()];
    const targets = selected.filter(action.applies);
    if (!targets.length || this.busy) return;
    if (action.danger) {
      const sure = await confirmAction({
        title: `Delete ${plural(targets.length, 'job')}?`,
        text: `${targets.map((job) => job.job_id).join(', ')}: they stop firing at once. Runs in progress finish and are recorded; their history is kept.`,
        confirm: `Delete ${plural(targets.length, 'job')}`,
      });
      if (!sure) return;
    }
    this.busy = true;
    this.refresh();
    const progress = (finished) => {
      this.status.textContent = `${action.doing} ${finished} of ${targets.length}…`;
    };
    progress(0);
    const outcomes = await eachLimited(targets, IN_FLIGHT, (job) => action.send(job.job_id), progress);
    this.busy = false;
    replace(this.status);
    if (action.name === 'delete') {
      for (const o of outcomes) if (!o.error || o.error.status === 404) this.jobs.delete(o.item.job_id);
    }
    const summary = bulkSummary(action, outcomes, selected.length - targets.length);
    toast(summary.message, { kind: summary.failed ? 'error' : 'success', timeout: summary.failed ? 0 : 6000 });
    this.refresh();
    // The keyboard stays in the bar, or goes back to the page when the bar has gone.
    const again = this.buttons.get(action.name);
    if (!again.disabled) again.focus();
    else if (!this.element.hidden) this.element.focus();
    else document.getElementById('main')?.focus({ preventScroll: true });
    this.onDone();
  }
}
