// Cleaning up run history from the page: a dialog that asks which runs to
// delete (older than N days, all but the newest N of each job; of every job,
// one group or one job), counts them with a dry run of `POST
// executions/cleanup`, says so and asks again, then deletes them.

import { post } from './api.js';
import { confirmAction, h, toast } from './dom.js';
import { plural } from './format.js';

/** The scopes a clean-up can have, as the dialog offers them. */
const SCOPES = [
  ['all', 'Every job'],
  ['group', 'One group'],
  ['job', 'One job'],
];

/** `n` as the API takes it: a whole number of 0 or more, or null when empty. */
function count(text) {
  const trimmed = text.trim();
  if (!trimmed) return null;
  return /^\d+$/.test(trimmed) ? Number(trimmed) : NaN;
}

/** What the request body deletes, in words: "runs of group reports older than 30 days…". */
function describe(body) {
  const whose = body.job_id ? `runs of ${body.job_id}` : body.job_name ? `runs of the jobs in group ${body.job_name}` : 'runs of every job';
  const rules = [];
  if (body.older_than_days !== undefined) rules.push(`scheduled more than ${plural(body.older_than_days, 'day')} ago`);
  if (body.keep_last !== undefined) rules.push(`except the newest ${body.keep_last.toLocaleString()} of each job`);
  return `${whose}, ${rules.join(', ')}`;
}

/**
 * Opens the clean-up dialog. `job` fixes the scope to one job; otherwise
 * `group` preselects a group. `then(deleted)` runs after a clean-up.
 */
export function openCleanup({ job = null, group = '', then = () => {} } = {}) {
  const errors = {};
  const fieldError = (name) => {
    errors[name] = h('p', { id: `cleanup-error-${name}`, class: 'field-error', role: 'alert', hidden: true });
    return errors[name];
  };
  const days = h('input', { id: 'cleanup-days', name: 'older_than_days', type: 'number', min: 0, step: 1, inputmode: 'numeric', placeholder: 'any age', 'aria-describedby': 'cleanup-error-older_than_days' });
  const keep = h('input', { id: 'cleanup-keep', name: 'keep_last', type: 'number', min: 0, step: 1, inputmode: 'numeric', placeholder: 'none kept', 'aria-describedby': 'cleanup-error-keep_last' });
  const scope = h(
    'select',
    { id: 'cleanup-scope', name: 'scope', value: group ? 'group' : 'all' },
    SCOPES.map(([value, label]) => h('option', { value }, label)),
  );
  const target = h('input', { id: 'cleanup-target', name: 'target', type: 'text', spellcheck: 'false', maxlength: 191, value: group, 'aria-describedby': 'cleanup-error-target' });
  const targetLabel = h('label', { for: 'cleanup-target' }, 'Group');
  const targetField = h('div', { class: 'dialog-field' }, targetLabel, target, fieldError('target'));
  const showTarget = () => {
    targetField.hidden = scope.value === 'all';
    targetLabel.textContent = scope.value === 'job' ? 'Job id' : 'Group';
  };
  scope.addEventListener('change', showTarget);
  showTarget();

  const note = h('p', { class: 'dialog-note', role: 'status', hidden: true });
  const dialog = h(
    'dialog',
    { class: 'dialog', 'aria-labelledby': 'cleanup-title' },
    h(
      'form',
      { novalidate: true },
      h('h2', { id: 'cleanup-title' }, job ? `Clean up the runs of ${job}` : 'Clean up run history'),
      h(
        'p',
        { class: 'muted small' },
        'Deletes the finished runs that match every rule you give. Runs in progress always stay. You see how many first.',
      ),
      !job && [h('div', { class: 'dialog-field' }, h('label', { for: 'cleanup-scope' }, 'Runs of'), scope), targetField],
      h('div', { class: 'dialog-field' }, h('label', { for: 'cleanup-days' }, 'Older than (days)'), days, fieldError('older_than_days')),
      h('div', { class: 'dialog-field' }, h('label', { for: 'cleanup-keep' }, 'Keep the newest runs of each job'), keep, fieldError('keep_last')),
      note,
      h(
        'div',
        { class: 'dialog-actions' },
        h('button', { type: 'button', class: 'button ghost', onclick: () => dialog.close() }, 'Cancel'),
        h('button', { type: 'submit', class: 'button primary' }, 'Review…'),
      ),
    ),
  );
  const form = dialog.querySelector('form');
  const inputs = { older_than_days: days, keep_last: keep, target };
  const showError = (name, text) => {
    errors[name].textContent = text || '';
    errors[name].hidden = !text;
    inputs[name].setAttribute('aria-invalid', text ? 'true' : 'false');
    if (text) inputs[name].focus();
  };

  /** Marks what is wrong with a field; answers null, for `return fail(…)`. */
  const fail = (name, text) => {
    showError(name, text);
    return null;
  };

  /** The request body, or null after marking what is wrong. */
  const body = () => {
    for (const name of Object.keys(errors)) showError(name, '');
    note.hidden = true;
    const olderThan = count(days.value);
    const keepLast = count(keep.value);
    if (Number.isNaN(olderThan)) return fail('older_than_days', 'A whole number of days, 0 or more.');
    if (Number.isNaN(keepLast)) return fail('keep_last', 'A whole number of runs, 0 or more.');
    if (olderThan === null && keepLast === null) return fail('older_than_days', 'Give an age, a number of runs to keep, or both.');
    const request = {};
    if (olderThan !== null) request.older_than_days = olderThan;
    if (keepLast !== null) request.keep_last = keepLast;
    if (job) request.job_id = job;
    else if (scope.value !== 'all') {
      if (!target.value.trim()) return fail('target', scope.value === 'job' ? 'Which job?' : 'Which group?');
      request[scope.value === 'job' ? 'job_id' : 'job_name'] = target.value.trim();
    }
    return request;
  };

  /** An API refusal beside its field, or as a toast when it names none shown here. */
  const refused = (error) => {
    const name = error.field === 'job_id' || error.field === 'job_name' ? 'target' : error.field;
    if (errors[name] && !(name === 'target' && job)) showError(name, error.message);
    else toast(`Could not clean up: ${error.message}`, { kind: 'error' });
  };

  // A field being corrected loses its complaint.
  form.addEventListener('input', (event) => {
    const name = event.target === target ? 'target' : event.target.name;
    if (errors[name]) showError(name, '');
    if (name === 'older_than_days' || name === 'keep_last') showError(name === 'keep_last' ? 'older_than_days' : 'keep_last', '');
    note.hidden = true;
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const request = body();
    if (!request) return;
    let preview;
    try {
      preview = await post('executions/cleanup', { ...request, dry_run: true });
    } catch (error) {
      refused(error);
      return;
    }
    const what = describe(request);
    if (!preview.would_delete) {
      note.textContent = `No run matches, so nothing would be deleted: ${what}.`;
      note.hidden = false;
      return;
    }
    dialog.close();
    const runs = plural(preview.would_delete, 'run');
    const sure = await confirmAction({
      title: `Delete ${runs}?`,
      text: `This deletes ${runs}: the ${what}. It cannot be undone.`,
      confirm: `Delete ${runs}`,
    });
    if (!sure) return;
    try {
      const done = await post('executions/cleanup', request);
      toast(`Deleted ${plural(done.deleted, 'run')}.`, { kind: 'success' });
      then(done.deleted);
    } catch (error) {
      toast(`Could not clean up: ${error.message}`, { kind: 'error' });
    }
  });
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  days.focus();
}
