// Creating and editing a job: a function picker that shows what the function
// takes, a preview of the rule's next fires as it is typed, and the API's
// refusals shown beside the field they name.

import { ApiError, canWrite, get, post, request, seg, session } from './api.js';
import { h, replace, toast } from './dom.js';
import { browserZone, dateTime, fromLocalInput, sameWallClock, toLocalInput } from './format.js';

const PRESETS = {
  cron: [
    ['*/5 * * * *', 'every 5 minutes'],
    ['0 * * * *', 'hourly'],
    ['20 2 * * *', 'daily at 02:20'],
    ['0 9 * * 1-5', 'weekdays at 09:00'],
    ['0 0 1 * *', 'monthly'],
  ],
  interval: [
    ['30s', '30 seconds'],
    ['5m', '5 minutes'],
    ['1h', '1 hour'],
    ['1d', '1 day'],
  ],
  date: [['now', 'now']],
};

const RULE_HINTS = {
  cron:
    'Minute hour day month weekday (5 fields), seconds first with 6, a year with 7; @daily, @hourly…; L, W and # work too.',
  interval: 'A period: 500ms, 10s, 5m, 1h30m, 1d, 1w. The first fire is one period after the job is created.',
  date: 'One fire: 2026-12-16 18:03:17 in the job\'s time zone, an RFC 3339 instant, or now.',
};

const DEFAULTS = {
  misfire_grace_s: 5,
  misfire_policy: 'skip',
  overlap: 'skip',
  max_instances: 1,
  max_retries: 0,
  retry_backoff: 'exponential',
  retry_delay: '10s',
};

/** The create form; `#/new?copy=<id>` fills it with that job's values. */
export async function renderNew(main, view) {
  const copyOf = view.params.get('copy');
  if (!copyOf) return renderForm(main, view, null);
  let source;
  try {
    source = await get(`jobs/${seg(copyOf)}`, {}, view.signal);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
    replace(
      main,
      h(
        'div',
        { class: 'notice warn', role: 'status' },
        h('h1', {}, 'Nothing to copy'),
        h('p', {}, 'There is no job ', h('code', {}, copyOf), ' (any more).'),
        h('p', {}, h('a', { href: '#/new' }, 'Start from an empty form')),
      ),
    );
    return undefined;
  }
  return renderForm(main, view, null, source);
}

export async function renderEdit(main, view, jobId) {
  const job = await get(`jobs/${seg(jobId)}`, {}, view.signal);
  return renderForm(main, view, job);
}

/** Text whose `backticked` parts are code, as function and schema descriptions write them. */
function withCode(text) {
  if (!text) return '';
  return text.split('`').map((part, i) => (i % 2 ? h('code', {}, part) : part));
}

/** The JSON Schema at `ref` (`#/$defs/Name`) inside `root`. */
function resolve(schema, root) {
  if (!schema?.$ref?.startsWith('#/')) return schema;
  return schema.$ref
    .slice(2)
    .split('/')
    .reduce((node, key) => node?.[key], root) || schema;
}

function typeOf(schema, root) {
  const s = resolve(schema, root);
  if (!s) return 'any';
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (s.const !== undefined) return JSON.stringify(s.const);
  const variants = s.anyOf || s.oneOf;
  if (variants) return variants.map((v) => typeOf(v, root)).join(' | ');
  const type = Array.isArray(s.type) ? s.type.filter((t) => t !== 'null').join(' | ') : s.type;
  if (type === 'array' && s.items) return `${typeOf(s.items, root)}[]`;
  return type || 'any JSON';
}

/** What a function's args look like: a table of properties per accepted shape. */
function schemaSummary(schema) {
  if (!schema) return h('p', { class: 'muted small' }, 'Takes any JSON, or nothing.');
  const root = schema;
  const shapes = (resolve(schema, root).anyOf || resolve(schema, root).oneOf || [schema]).map((s) => resolve(s, root));
  const parts = shapes.map((shape, i) => {
    const takes = [
      shapes.length > 1 ? h('strong', {}, `Form ${i + 1}: `) : 'Takes ',
      typeOf(shape, root) === 'any JSON' ? 'any JSON' : h('code', {}, typeOf(shape, root)),
      '.',
      shape.description && [' ', withCode(shape.description)],
    ];
    const label = h('p', { class: 'small' }, takes);
    if (!shape.properties) return label;
    const required = new Set(shape.required || []);
    return [
      label,
      h(
        'table',
        { class: 'schema-table' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Field'), h('th', {}, 'Type'), h('th', {}, 'What'))),
        h(
          'tbody',
          {},
          Object.entries(shape.properties).map(([name, prop]) =>
            h(
              'tr',
              {},
              h('td', {}, h('code', {}, name), required.has(name) && h('span', { class: 'req' }, ' required')),
              h('td', { class: 'small' }, typeOf(prop, root)),
              h('td', { class: 'small muted' }, withCode(resolve(prop, root)?.description)),
            ),
          ),
        ),
      ),
    ];
  });
  return [
    parts,
    h(
      'details',
      { class: 'small' },
      h('summary', {}, 'JSON Schema'),
      h('pre', { class: 'json' }, JSON.stringify(schema, null, 2)),
    ),
  ];
}

/** Args holding the required fields of the schema's first object shape, with empty values. */
function exampleArgs(schema) {
  if (!schema) return null;
  const shapes = (schema.anyOf || schema.oneOf || [schema]).map((s) => resolve(s, schema));
  const shape = shapes.find((s) => s.properties);
  if (!shape) return null;
  const names = shape.required?.length ? shape.required : Object.keys(shape.properties);
  const empty = { string: '', integer: 0, number: 0, boolean: false, array: [], object: {} };
  return Object.fromEntries(
    names.map((name) => {
      const type = typeOf(shape.properties[name], schema).split(' | ')[0];
      return [name, type in empty ? empty[type] : null];
    }),
  );
}

/** The id a copy of `jobId` is offered: `<id>-copy`, within the 191 characters a job id may have. */
function copyId(jobId) {
  return `${jobId.slice(0, 191 - '-copy'.length)}-copy`;
}

/** The form editing `job`, or creating a job (filled with `copy`'s values when given). */
async function renderForm(main, view, job, copy = null) {
  const editing = Boolean(job);
  // Where the fields' values come from: the job edited, the job copied, or nothing.
  const source = job || copy;
  const heading = editing ? `Edit ${job.job_id}` : copy ? `Copy of ${copy.job_id}` : 'New job';
  document.title = `${heading} · ruqi`;
  if (!canWrite()) {
    replace(
      main,
      h(
        'div',
        { class: 'notice warn', role: 'status' },
        h('h1', {}, heading),
        h('p', {}, 'This token is read-only: it can look at jobs but not create or change them.'),
      ),
    );
    return;
  }
  const functions = await get('functions', {}, view.signal);
  const value = (name) => (source ? source[name] : DEFAULTS[name]);

  const errors = new Map();
  const controls = new Map();

  /** A labelled control with its hint and the place its error goes. */
  const formField = (name, label, control, { hint = null, wide = false, inline = false } = {}) => {
    control.id = `f-${name}`;
    control.name = name;
    const hintId = `hint-${name}`;
    const errorId = `error-${name}`;
    control.setAttribute('aria-describedby', `${hint ? hintId : ''} ${errorId}`.trim());
    const error = h('p', { class: 'field-error', id: errorId, hidden: true });
    errors.set(name, error);
    controls.set(name, control);
    const hintEl = hint && h('p', { class: 'hint', id: hintId }, hint);
    const labelEl = h('label', { for: control.id }, label);
    return h(
      'div',
      { class: `form-field ${wide ? 'wide' : ''} ${inline ? 'inline' : ''}`, 'data-field': name },
      inline ? [control, labelEl] : [labelEl, control],
      error,
      hintEl,
    );
  };

  const text = (name, attrs = {}) => h('input', { type: 'text', value: value(name) ?? '', autocomplete: 'off', spellcheck: 'false', ...attrs });
  const number = (name, attrs = {}) => h('input', { type: 'number', step: '1', value: value(name) ?? '', ...attrs });
  const choice = (name, options) =>
    h('select', { value: value(name) }, options.map((option) => h('option', { value: option }, option)));

  const funcSelect = h(
    'select',
    { required: true, value: source?.func || '' },
    !editing && h('option', { value: '' }, 'Choose a function…'),
    functions.map((f) => h('option', { value: f.name }, f.name)),
    source && !functions.some((f) => f.name === source.func) && h('option', { value: source.func }, `${source.func} (not registered)`),
  );
  const argsInput = h('textarea', {
    rows: 6,
    spellcheck: 'false',
    placeholder: 'JSON, e.g. {"url": "https://example.com/hook"} or "a string"',
    value: source && source.args !== null ? JSON.stringify(source.args, null, 2) : '',
  });
  const triggerSelect = h(
    'select',
    { value: source?.trigger || 'cron' },
    ['cron', 'interval', 'date'].map((t) => h('option', { value: t }, t)),
  );
  const ruleInput = text('rule', { value: source?.rule || '', required: true, class: 'mono', placeholder: '20 2 * * *' });
  const zoneInput = text('timezone', { list: 'zones', placeholder: `${session.defaultZone} (scheduler default)` });
  const zoneList = h(
    'datalist',
    { id: 'zones' },
    (Intl.supportedValuesOf ? Intl.supportedValuesOf('timeZone') : []).map((zone) => h('option', { value: zone })),
  );
  const presets = h('div', { class: 'presets', role: 'group', 'aria-label': 'Common rules' });
  const ruleHint = h('span');
  const alertBox = h('div', { class: 'form-alert', role: 'alert' });

  const funcInfo = h('div', {});
  const previewBox = h('div', { class: 'preview', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Type a rule to see when it fires.'));

  // The preview and the function's arguments sit beside the fields, or below
  // them on a narrow screen, before the button that saves.
  const side = h(
    'aside',
    { class: 'side' },
    h('section', { class: 'card', 'aria-labelledby': 'preview-title' }, h('h2', { id: 'preview-title' }, 'When it fires'), previewBox),
    h('section', { class: 'card', 'aria-labelledby': 'func-title' }, h('h2', { id: 'func-title' }, 'What the function takes'), funcInfo),
  );

  const formEl = h(
    'form',
    { class: 'form-layout', novalidate: true, 'aria-labelledby': 'form-title' },
    h(
      'section',
      { class: 'card form-main', 'aria-label': 'Job' },
      alertBox,
      h(
        'div',
        { class: 'form-grid' },
        formField(
          'job_id',
          'Job id',
          text('job_id', {
            readonly: editing,
            value: copy ? copyId(copy.job_id) : value('job_id') ?? '',
            placeholder: editing ? '' : 'left empty: a generated UUID',
            maxlength: 191,
          }),
          {
            hint: editing
              ? 'A job id cannot change.'
              : copy
                ? 'Offered as the copied id with -copy; change it as you like. Letters, digits, dashes; at most 191 characters.'
                : 'Letters, digits, dashes; at most 191 characters.',
          },
        ),
        formField('job_name', 'Group (job_name)', text('job_name', { placeholder: 'e.g. reports' })),
        formField('description', 'Description', h('textarea', { rows: 2, value: value('description') ?? '' }), { wide: true }),
        formField('func', 'Function', funcSelect, { hint: 'What the job runs; its arguments are under “What the function takes”.' }),
        formField('trigger', 'Trigger', triggerSelect),
        formField('args', 'Arguments (JSON)', argsInput, { wide: true }),
        formField('rule', 'Rule', ruleInput, { wide: true, hint: ruleHint }),
        h('div', { class: 'wide' }, presets),
        formField('timezone', 'Time zone', zoneInput, { hint: 'IANA name such as Europe/Berlin; the rule is read in it.' }),
        zoneList,
        formField('is_paused', 'Paused (no fires until resumed)', h('input', { type: 'checkbox', checked: Boolean(source?.is_paused) }), {
          inline: true,
        }),
        formField('start_at', 'Not before', h('input', { type: 'datetime-local', step: '1', value: toLocalInput(source?.start_at) }), {
          hint: `In your time zone (${browserZone}).`,
        }),
        formField('end_at', 'Not after', h('input', { type: 'datetime-local', step: '1', value: toLocalInput(source?.end_at) }), {
          hint: `In your time zone (${browserZone}).`,
        }),
      ),
      h(
        'details',
        { class: 'advanced', open: Boolean(source) && hasPolicy(source) },
        h('summary', {}, 'Runs, retries and alerts'),
        h(
          'div',
          { class: 'form-grid' },
          formField('overlap', 'When still running', choice('overlap', ['skip', 'queue', 'replace', 'allow']), {
            hint: 'skip the fire, queue it, replace the running one, or allow up to max instances.',
          }),
          formField('max_instances', 'Max instances', number('max_instances', { min: 1 })),
          formField('misfire_grace_s', 'Misfire grace (s)', number('misfire_grace_s', { min: 0 }), {
            hint: 'How late a fire may still run.',
          }),
          formField('misfire_policy', 'Later than that', choice('misfire_policy', ['skip', 'run_once'])),
          formField('timeout_s', 'Timeout (s)', number('timeout_s', { min: 1, placeholder: 'no limit' })),
          formField('max_retries', 'Retries', number('max_retries', { min: 0 })),
          formField('retry_backoff', 'Backoff', choice('retry_backoff', ['exponential', 'fixed'])),
          formField('retry_delay', 'First retry after', text('retry_delay', { placeholder: '10s' })),
          formField('child_jobs', 'Child jobs', text('child_jobs', { placeholder: 'job ids, comma-separated' }), {
            hint: 'Run when a run of this job succeeds.',
          }),
          formField('alert_url', 'Alert webhook', text('alert_url', { type: 'url', placeholder: 'https://…' }), {
            hint: 'Failures, timeouts and missed fires are POSTed here.',
          }),
        ),
      ),
    ),
    side,
    h(
      'div',
      { class: 'form-actions' },
      h('button', { type: 'submit', class: 'button primary' }, editing ? 'Save changes' : 'Create job'),
      h('a', { class: 'button ghost', href: source ? `#/jobs/${encodeURIComponent(source.job_id)}` : '#/jobs' }, 'Cancel'),
    ),
  );

  replace(
    main,
    h(
      'div',
      { class: 'breadcrumbs' },
      h('a', { href: '#/jobs' }, 'Jobs'),
      source && [' / ', h('a', { href: `#/jobs/${encodeURIComponent(source.job_id)}` }, source.job_id)],
      copy && ' / copy',
    ),
    h(
      'div',
      { class: 'view-head' },
      h(
        'div',
        {},
        h('h1', { id: 'form-title' }, heading),
        copy && h('p', { class: 'sub' }, `Every value is ${copy.job_id}'s; nothing is saved until you create the job.`),
      ),
    ),
    formEl,
  );

  // ---- field errors ---------------------------------------------------------

  const setError = (name, message) => {
    const error = errors.get(name);
    const control = controls.get(name);
    if (!error) return false;
    error.textContent = message || '';
    error.hidden = !message;
    control?.setAttribute('aria-invalid', message ? 'true' : 'false');
    return true;
  };
  const clearErrors = () => {
    for (const name of errors.keys()) setError(name, '');
    replace(alertBox);
  };

  // ---- function ------------------------------------------------------------------

  const showFunction = () => {
    const chosen = functions.find((f) => f.name === funcSelect.value);
    if (!chosen) {
      replace(funcInfo, h('p', { class: 'muted' }, 'Choose a function to see what it does and which arguments it takes.'));
      return;
    }
    const example = exampleArgs(chosen.args_schema);
    replace(
      funcInfo,
      h('p', {}, h('code', {}, chosen.name), chosen.blocking && h('span', { class: 'muted small' }, ' (runs on the blocking pool)')),
      h('p', { class: chosen.description ? '' : 'muted' }, chosen.description ? withCode(chosen.description) : 'No description.'),
      h('h3', {}, 'Arguments'),
      schemaSummary(chosen.args_schema),
      example &&
        !argsInput.value.trim() &&
        h(
          'button',
          {
            type: 'button',
            class: 'button small',
            onclick: (event) => {
              argsInput.value = JSON.stringify(example, null, 2);
              event.target.remove();
              argsInput.focus();
            },
          },
          'Fill in the fields',
        ),
    );
  };
  funcSelect.addEventListener('change', () => {
    setError('func', '');
    showFunction();
  });
  showFunction();

  // ---- args --------------------------------------------------------------------------

  const parseArgs = () => {
    const raw = argsInput.value.trim();
    if (!raw) return { ok: true, value: undefined };
    try {
      return { ok: true, value: JSON.parse(raw) };
    } catch (error) {
      return { ok: false, message: `not valid JSON (${error.message}); a text needs "quotes"` };
    }
  };
  argsInput.addEventListener('input', () => {
    const parsed = parseArgs();
    setError('args', parsed.ok ? '' : parsed.message);
  });

  // ---- rule preview ----------------------------------------------------------------

  const showPresets = () => {
    ruleHint.textContent = RULE_HINTS[triggerSelect.value];
    ruleInput.placeholder = PRESETS[triggerSelect.value][0][0];
    replace(
      presets,
      PRESETS[triggerSelect.value].map(([rule, label]) =>
        h(
          'button',
          {
            type: 'button',
            class: 'button small',
            title: rule,
            onclick: () => {
              ruleInput.value = rule;
              schedulePreview(0);
              ruleInput.focus();
            },
          },
          label,
        ),
      ),
    );
  };

  let previewTimer = null;
  let previewSeq = 0;
  const schedulePreview = (delay = 250) => {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(preview, delay);
  };
  view.onCleanup(() => clearTimeout(previewTimer));

  async function preview() {
    const rule = ruleInput.value.trim();
    const zone = zoneInput.value.trim() || session.defaultZone;
    const seq = ++previewSeq;
    if (!rule) {
      replace(previewBox, h('p', { class: 'muted' }, 'Type a rule to see when it fires.'));
      setError('rule', '');
      return;
    }
    let result;
    try {
      result = await get('preview', { trigger: triggerSelect.value, rule, timezone: zoneInput.value.trim(), n: 5 }, view.signal);
    } catch (error) {
      if (error.name === 'AbortError' || seq !== previewSeq) return;
      const name = error instanceof ApiError && error.field && errors.has(error.field) ? error.field : 'rule';
      for (const other of ['rule', 'timezone', 'trigger']) if (other !== name) setError(other, '');
      setError(name, error.message);
      replace(previewBox, h('p', { class: 'muted' }, 'No preview: the rule is not valid yet.'));
      return;
    }
    if (seq !== previewSeq) return;
    for (const name of ['rule', 'timezone', 'trigger']) setError(name, '');
    const differs = result.next_run_times.some((at) => !sameWallClock(at, browserZone, zone));
    replace(
      previewBox,
      result.description && h('p', { class: 'desc' }, result.description),
      result.next_run_times.length === 0
        ? h('p', { class: 'muted' }, 'It never fires after now.')
        : [
            differs && h('p', { class: 'muted small' }, `Your time (${browserZone}), then the job's (${zone}).`),
            h(
              'ol',
              { class: differs ? 'fires two-zones' : 'fires', 'aria-label': 'Next fire times' },
              result.next_run_times.map((at) =>
                h('li', {}, h('time', { datetime: at }, dateTime(at)), differs && h('span', { class: 'zone' }, dateTime(at, zone))),
              ),
            ),
          ],
    );
  }

  ruleInput.addEventListener('input', () => schedulePreview());
  zoneInput.addEventListener('input', () => schedulePreview());
  triggerSelect.addEventListener('change', () => {
    showPresets();
    schedulePreview(0);
  });
  showPresets();
  if (ruleInput.value) schedulePreview(0);

  // ---- submit ----------------------------------------------------------------------------

  const trimmed = (name) => controls.get(name).value.trim();
  const optionalNumber = (name) => {
    const control = controls.get(name);
    return control.value === '' ? undefined : Number(control.value);
  };

  function collect() {
    const args = parseArgs();
    if (!args.ok) {
      setError('args', args.message);
      return null;
    }
    const body = {
      job_name: trimmed('job_name') || undefined,
      description: controls.get('description').value.trim() || undefined,
      func: funcSelect.value,
      args: args.value,
      trigger: triggerSelect.value,
      rule: trimmed('rule'),
      timezone: trimmed('timezone') || undefined,
      start_at: fromLocalInput(controls.get('start_at').value) || undefined,
      end_at: fromLocalInput(controls.get('end_at').value) || undefined,
      is_paused: controls.get('is_paused').checked,
      misfire_grace_s: optionalNumber('misfire_grace_s'),
      misfire_policy: controls.get('misfire_policy').value,
      overlap: controls.get('overlap').value,
      max_instances: optionalNumber('max_instances'),
      timeout_s: optionalNumber('timeout_s'),
      max_retries: optionalNumber('max_retries'),
      retry_backoff: controls.get('retry_backoff').value,
      retry_delay: trimmed('retry_delay') || undefined,
      child_jobs: trimmed('child_jobs') || undefined,
      alert_url: trimmed('alert_url') || undefined,
    };
    if (!editing && trimmed('job_id')) body.job_id = trimmed('job_id');
    let missing = false;
    if (!body.func) missing = setError('func', 'Choose the function the job runs.');
    if (!body.rule) missing = setError('rule', 'A rule is required.') || missing;
    return missing ? null : body;
  }

  const focusFirstError = () => {
    const first = [...errors.entries()].find(([, el]) => !el.hidden);
    if (!first) return;
    const control = controls.get(first[0]);
    control.closest('details')?.setAttribute('open', '');
    control.focus();
  };

  let saving = false;
  formEl.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (saving) return;
    clearErrors();
    const body = collect();
    if (!body) {
      focusFirstError();
      return;
    }
    saving = true;
    const submit = formEl.querySelector('button[type="submit"]');
    submit.disabled = true;
    try {
      const saved = editing
        ? await request('PUT', `jobs/${seg(job.job_id)}`, { body })
        : await post('jobs', body);
      toast(`${saved.job_id} ${editing ? 'saved' : 'created'}.`, { kind: 'success' });
      location.hash = `#/jobs/${encodeURIComponent(saved.job_id)}`;
    } catch (error) {
      if (error.name === 'AbortError') return;
      const name = error.field ? error.field.split('/')[0] : null;
      const placed = name && setError(name, error.message);
      if (['rule', 'timezone', 'trigger'].includes(name)) {
        // A preview still on its way would show fires of a rule just refused.
        clearTimeout(previewTimer);
        previewSeq += 1;
        replace(previewBox, h('p', { class: 'muted' }, 'No preview: the rule is not valid yet.'));
      }
      replace(
        alertBox,
        h(
          'div',
          { class: 'notice error' },
          h('p', {}, h('strong', {}, placed ? 'The server refused a field. ' : 'Not saved. '), placed ? `See ${name} below.` : error.message),
        ),
      );
      if (placed) focusFirstError();
    } finally {
      saving = false;
      submit.disabled = false;
    }
  });
}

function hasPolicy(job) {
  return Object.entries(DEFAULTS).some(([name, value]) => job[name] !== value) || job.timeout_s || job.child_jobs || job.alert_url;
}
