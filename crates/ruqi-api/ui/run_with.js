// "Run with arguments…": one run of a job now, given other arguments than
// the job's own (the job keeps them). The API checks them against the
// function's schema; its refusal shows in the dialog, which stays open.

import { ApiError, post, seg } from './api.js';
import { h, toast } from './dom.js';

/** The JSON in `text`, or the reason it is not JSON. */
function parseJson(text) {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, message: `not valid JSON: ${error.message}` };
  }
}

/**
 * Opens the dialog for `job`, filled with its arguments. `then` runs with the
 * new execution id (or null when the overlap policy started none) once the
 * API has taken the run.
 */
export function runWithArgs(job, { then = () => {} } = {}) {
  const errorId = 'run-args-error';
  const input = h('textarea', {
    id: 'run-args-input',
    rows: 10,
    spellcheck: 'false',
    'aria-describedby': `run-args-hint ${errorId}`,
    value: JSON.stringify(job.args, null, 2),
  });
  const error = h('p', { id: errorId, class: 'field-error', role: 'alert', hidden: true });
  const runButton = h('button', { type: 'submit', class: 'button primary' }, 'Run');
  const cancel = h('button', { type: 'button', class: 'button ghost' }, 'Cancel');
  const form = h(
    'form',
    { novalidate: true },
    h('h2', { id: 'run-args-title' }, `Run ${job.job_id} with arguments`),
    h(
      'p',
      { id: 'run-args-hint', class: 'muted' },
      'One run now (and its retries) with these arguments; the job keeps its own. ',
      'They are checked against the function’s argument schema first.',
    ),
    h('label', { for: 'run-args-input' }, 'Arguments (JSON)'),
    input,
    error,
    h('div', { class: 'dialog-actions' }, cancel, runButton),
  );
  const dialog = h('dialog', { class: 'dialog wide-dialog', 'aria-labelledby': 'run-args-title' }, form);

  const showError = (message) => {
    error.textContent = message;
    error.hidden = !message;
    input.setAttribute('aria-invalid', message ? 'true' : 'false');
  };
  const close = () => {
    if (dialog.open) dialog.close();
    dialog.remove();
  };
  input.addEventListener('input', () => {
    const parsed = parseJson(input.value);
    showError(parsed.ok ? '' : parsed.message);
  });
  cancel.addEventListener('click', close);
  dialog.addEventListener('close', () => dialog.remove());
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const parsed = parseJson(input.value);
    if (!parsed.ok) {
      showError(parsed.message);
      input.focus();
      return;
    }
    runButton.disabled = true;
    try {
      const started = await post(`jobs/${seg(job.job_id)}/run`, { args: parsed.value });
      close();
      if (started.execution_id) {
        const href = `#/jobs/${encodeURIComponent(job.job_id)}/runs/${encodeURIComponent(started.execution_id)}`;
        toast(`Run of ${job.job_id} started with the arguments given.`, {
          kind: 'success',
          action: h('a', { href }, 'View run'),
        });
      } else {
        toast(started.message);
      }
      then(started.execution_id);
    } catch (failure) {
      runButton.disabled = false;
      if (!(failure instanceof ApiError)) throw failure;
      const where = failure.field ? `${failure.field}: ` : '';
      showError(`${where}${failure.message}`);
      input.focus();
    }
  });
  document.body.append(dialog);
  dialog.showModal();
  input.focus();
}
