// "Addresses by hand…": gives an app the base URLs of executors that do not
// register (xxl-job's manual registration). Runs of the app then go to them,
// under each job's route, instead of to its registered executors; an empty
// list takes them back. The API checks each address; its refusal names the
// line and the dialog stays open.

import { ApiError, request, seg } from './api.js';
import { h, toast } from './dom.js';

/** The addresses typed, one per line, blank lines left out. */
function linesOf(text) {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
}

/**
 * Opens the dialog for `app` (null: the operator names a new one) with its
 * current addresses given by hand. `then` runs once they are saved.
 */
export function editManualAddresses(app, current, { then = () => {} } = {}) {
  const errorId = 'manual-addresses-error';
  const appInput = h('input', {
    id: 'manual-app-input',
    type: 'text',
    required: true,
    autocomplete: 'off',
    spellcheck: 'false',
    value: app ?? '',
    readonly: app !== null,
    'aria-describedby': errorId,
  });
  const input = h('textarea', {
    id: 'manual-addresses-input',
    rows: 6,
    spellcheck: 'false',
    placeholder: 'http://10.0.0.7:9999',
    'aria-describedby': `manual-addresses-hint ${errorId}`,
    value: current.join('\n'),
  });
  const error = h('p', { id: errorId, class: 'field-error', role: 'alert', hidden: true });
  const save = h('button', { type: 'submit', class: 'button primary' }, 'Save');
  const cancel = h('button', { type: 'button', class: 'button ghost' }, 'Cancel');
  const form = h(
    'form',
    { novalidate: true },
    h('h2', { id: 'manual-addresses-title' }, app === null ? 'Give an app its executor addresses' : `Executor addresses of ${app}`),
    h(
      'p',
      { id: 'manual-addresses-hint', class: 'muted' },
      'For executors that do not register: one base URL per line. Runs of the app go to these, under each job’s route, ',
      'instead of to its registered executors. Leave the list empty to send runs to the registered ones again.',
    ),
    h('label', { for: 'manual-app-input' }, 'App name'),
    appInput,
    h('label', { for: 'manual-addresses-input' }, 'Addresses'),
    input,
    error,
    h('div', { class: 'dialog-actions' }, cancel, save),
  );
  const dialog = h('dialog', { class: 'dialog wide-dialog', 'aria-labelledby': 'manual-addresses-title' }, form);

  const showError = (message, field) => {
    error.textContent = message;
    error.hidden = !message;
    appInput.setAttribute('aria-invalid', field === appInput ? 'true' : 'false');
    input.setAttribute('aria-invalid', field === input ? 'true' : 'false');
  };
  const close = () => {
    if (dialog.open) dialog.close();
    dialog.remove();
  };
  cancel.addEventListener('click', close);
  dialog.addEventListener('close', () => dialog.remove());
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const name = appInput.value.trim();
    if (!name) {
      showError('App name: give the app name its executors would register under.', appInput);
      appInput.focus();
      return;
    }
    const addresses = linesOf(input.value);
    save.disabled = true;
    try {
      const path = `executors/${seg(name)}/addresses`;
      if (addresses.length) {
        await request('PUT', path, { body: { addresses } });
      } else {
        await request('DELETE', path);
      }
      close();
      toast(
        addresses.length
          ? `Runs of ${name} go to the ${addresses.length === 1 ? 'address' : `${addresses.length} addresses`} given.`
          : `Runs of ${name} go to its registered executors.`,
        { kind: 'success' },
      );
      then(name);
    } catch (failure) {
      save.disabled = false;
      if (!(failure instanceof ApiError)) throw failure;
      const line = /^addresses\/(\d+)$/.exec(failure.field ?? '');
      if (line) {
        showError(`Line ${Number(line[1]) + 1} (${addresses[Number(line[1])]}): ${failure.message}`, input);
        input.focus();
      } else {
        showError(failure.field === 'app' ? `App name: ${failure.message}` : failure.message, failure.field === 'app' ? appInput : input);
        (failure.field === 'app' ? appInput : input).focus();
      }
    }
  });
  document.body.append(dialog);
  dialog.showModal();
  (app === null ? appInput : input).focus();
}
