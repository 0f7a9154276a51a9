// Building the page: elements, status badges, instants, toasts, confirmation,
// and the empty and error states every view shares.

import { browserZone, dateTime, elapsed, relative, sameWallClock } from './format.js';

/**
 * `h('a', {href: '#/jobs', class: 'x', onclick: fn}, 'text', child…)`: an
 * element with attributes, listeners (`on…`) and children (strings become
 * text; null, false and undefined are skipped; arrays are flattened).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  let value;
  for (const [key, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (key.startsWith('on') && typeof v === 'function') {
      el.addEventListener(key.slice(2), v);
    } else if (key === 'class') {
      el.className = v;
    } else if (key === 'dataset') {
      Object.assign(el.dataset, v);
    } else if (key === 'style') {
      Object.assign(el.style, v);
    } else if (key === 'value') {
      value = v;
    } else {
      el.setAttribute(key, v === true ? '' : String(v));
    }
  }
  append(el, children);
  if (value !== undefined) el.value = value;
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces the children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/**
 * `replace` that leaves the keyboard where it was: when the focus was on an
 * element with a `data-focus-key` inside `el`, its namesake among the new
 * children takes the focus, and what was typed into it.
 */
export function replaceKeepingFocus(el, ...children) {
  const active = document.activeElement;
  const key = active && el.contains(active) ? active.closest('[data-focus-key]')?.dataset.focusKey : null;
  const typed = key && active.tagName === 'INPUT' && active.type !== 'checkbox' ? active.value : null;
  replace(el, ...children);
  const again = key && el.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
  if (again) {
    if (typed !== null) again.value = typed;
    again.focus({ preventScroll: true });
  }
  return el;
}

const STATUS_LABELS = {
  success: 'success',
  failed: 'failed',
  timeout: 'timeout',
  cancelled: 'cancelled',
  missed: 'missed',
  lost: 'lost',
  running: 'running',
};

/** A coloured status badge; the colour is never the only cue (the word is there). */
export function statusBadge(status) {
  if (!status) return h('span', { class: 'muted' }, '—');
  return h('span', { class: `badge ${STATUS_LABELS[status] ? status : ''}` }, status);
}

/** "Berlin" for Europe/Berlin, "New York" for America/New_York: short enough for a table. */
function zoneLabel(zone) {
  return zone.split('/').pop().replaceAll('_', ' ');
}

/**
 * An instant as "in 5 minutes" over its wall-clock time in the browser's
 * zone; when `zone` (a job's) reads differently, both times follow, each
 * with its place. The relative part is kept current by `refreshRelativeTimes`.
 */
export function instant(iso, zone) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  const both = zone && !sameWallClock(iso, browserZone, zone);
  const lines = [h('span', { class: 'rel', 'data-relative': iso }, relative(iso))];
  if (both) {
    lines.push(
      h('span', { class: 'abs' }, `${dateTime(iso, browserZone)} ${zoneLabel(browserZone)}`),
      h('span', { class: 'abs' }, `${dateTime(iso, zone)} ${zoneLabel(zone)}`),
    );
  } else {
    lines.push(h('span', { class: 'abs' }, dateTime(iso, browserZone)));
  }
  const title = [`${dateTime(iso, browserZone, { zoneName: true })} (${browserZone}, yours)`];
  if (both) title.push(`${dateTime(iso, zone, { zoneName: true })} (${zone}, the job's)`);
  return h('time', { datetime: iso, title: title.join('\n') }, lines);
}

/** Rewrites every "in 5 minutes" on the page against the current time. */
export function refreshRelativeTimes(root = document) {
  const now = Date.now();
  for (const el of root.querySelectorAll('[data-relative]')) {
    const text = relative(el.dataset.relative, now);
    if (el.textContent !== text) el.textContent = text;
  }
}

/**
 * "running 12 s" for a run that started at `startedAt` and goes on; kept
 * current by `refreshElapsed`, which the view calls every second.
 */
export function runningFor(startedAt) {
  if (!startedAt) return h('span', { class: 'elapsed' }, 'running…');
  const since = new Date(startedAt).getTime();
  return h('span', { class: 'elapsed', 'data-elapsed-since': startedAt }, `running ${elapsed(Date.now() - since)}`);
}

/** Rewrites every "running 12 s" in `root` against the current time. */
export function refreshElapsed(root = document) {
  const now = Date.now();
  for (const el of root.querySelectorAll('[data-elapsed-since]')) {
    const text = `running ${elapsed(now - new Date(el.dataset.elapsedSince).getTime())}`;
    if (el.textContent !== text) el.textContent = text;
  }
}

/** A status message in the polite live region; `kind` is 'info', 'success' or 'error'. */
export function toast(message, { kind = 'info', action = null, timeout = 6000 } = {}) {
  const region = document.getElementById('toasts');
  const close = () => item.remove();
  const item = h(
    'div',
    // The region around it is polite; an error interrupts.
    { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : null },
    h('p', {}, message),
    action,
    h('button', { type: 'button', class: 'button ghost small', 'aria-label': 'Dismiss', onclick: close }, '×'),
  );
  region.append(item);
  if (timeout) setTimeout(close, kind === 'error' ? timeout * 2 : timeout);
  return item;
}

/**
 * Asks in a modal dialog; resolves true when confirmed. Escape and Cancel
 * resolve false. The dialog keeps focus while open.
 */
export function confirmAction({ title, text, confirm = 'Confirm', danger = true }) {
  const dialog = document.getElementById('confirm-dialog');
  const form = document.getElementById('confirm-form');
  const ok = document.getElementById('confirm-ok');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  ok.textContent = confirm;
  ok.className = danger ? 'button danger solid' : 'button primary';
  return new Promise((resolve) => {
    const finish = (answer) => {
      form.removeEventListener('submit', onSubmit);
      cancelButton.removeEventListener('click', onCancel);
      dialog.removeEventListener('cancel', onCancel);
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    const onSubmit = (event) => {
      event.preventDefault();
      finish(true);
    };
    const onCancel = (event) => {
      event.preventDefault();
      finish(false);
    };
    const cancelButton = document.getElementById('confirm-cancel');
    form.addEventListener('submit', onSubmit);
    cancelButton.addEventListener('click', onCancel);
    dialog.addEventListener('cancel', onCancel);
    dialog.showModal();
    cancelButton.focus();
  });
}

/** What a list shows when it has nothing: a headline, a sentence, and maybe a way on. */
export function emptyState(title, text, action = null) {
  return h('div', { class: 'empty' }, h('strong', {}, title), text && h('p', {}, text), action);
}

/** What a view shows when the API failed it, with a way to try again. */
export function errorState(error, retry) {
  const what = error?.status === 0 ? 'The server cannot be reached.' : error?.message || String(error);
  return h(
    'div',
    { class: 'notice error', role: 'alert' },
    h('h2', {}, error?.status === 404 ? 'Not found' : 'Something went wrong'),
    h('p', {}, what),
    retry && h('button', { type: 'button', class: 'button', onclick: retry }, 'Try again'),
  );
}
