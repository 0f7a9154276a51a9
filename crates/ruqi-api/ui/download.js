// Saving a run's log as a text file. A plain link cannot send the token, so
// the page reads the log through the API and hands it to the browser as a
// Blob behind an object URL.

import { get, seg } from './api.js';
import { h } from './dom.js';

/** How long an object URL outlives the click that saves it. */
const URL_LIFETIME_MS = 10000;

/** `<job_id>-<execution_id>.log`, with what a file name cannot hold replaced by `_`. */
export function logFileName(jobId, executionId) {
  return `${jobId}-${executionId}.log`.replace(/[\\/:*?"<>|\u0000-\u001f]/g, '_');
}

/** Reads the whole log of `run` (as far as it goes now) and saves it as `<job_id>-<execution_id>.log`. */
export async function downloadLog(run, signal) {
  const log = await get(`executions/${seg(run.id)}/log`, { from_line: 0 }, signal);
  const text = log.lines.map((line) => `${line}\n`).join('');
  const url = URL.createObjectURL(new Blob([text], { type: 'text/plain;charset=utf-8' }));
  const link = h('a', { href: url, download: logFileName(run.job_id, run.id), hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), URL_LIFETIME_MS);
}
