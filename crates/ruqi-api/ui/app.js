// The admin page's shell: sign-in, the hash router, the scheduler's event
// stream shared by the views, and the clock that keeps "in 5 minutes" true.

import {
  ApiError,
  canWrite,
  followEvents,
  forgetToken,
  get,
  session,
  storeToken,
  storedToken,
  whenUnauthorized,
} from './api.js';
import { errorState, h, refreshRelativeTimes, replace } from './dom.js';
import * as executions from './executions.js';
import * as executors from './executors.js';
import * as form from './form.js';
import * as job from './job.js';
import * as jobs from './jobs.js';
import * as scheduler from './scheduler.js';

/** Routes: the hash's path, the view, and the main navigation entry it belongs to. */
const ROUTES = [
  { path: /^\/jobs\/?$/, view: jobs.render, nav: 'jobs' },
  { path: /^\/new$/, view: form.renderNew, nav: 'jobs' },
  { path: /^\/jobs\/([^/]+)\/edit$/, view: form.renderEdit, nav: 'jobs' },
  { path: /^\/jobs\/([^/]+)$/, view: job.render, nav: 'jobs' },
  { path: /^\/jobs\/([^/]+)\/runs\/([^/]+)$/, view: job.render, nav: 'jobs' },
  { path: /^\/executions\/?$/, view: executions.render, nav: 'executions' },
  { path: /^\/executors\/?$/, view: executors.render, nav: 'executors' },
  { path: /^\/scheduler\/?$/, view: scheduler.render, nav: 'scheduler' },
];

const main = document.getElementById('main');

/**
 * What a view gets: an abort signal for its requests, timers and event
 * listeners that end with it, and its place in the address bar.
 */
class View {
  constructor(path, params) {
    this.path = path;
    this.params = params;
    this.controller = new AbortController();
    this.cleanups = [];
  }

  get signal() {
    return this.controller.signal;
  }

  get alive() {
    return !this.controller.signal.aborted;
  }

  onCleanup(fn) {
    this.cleanups.push(fn);
  }

  /** Runs `fn` every `ms` while the view is shown. */
  every(ms, fn) {
    const timer = setInterval(fn, ms);
    this.onCleanup(() => clearInterval(timer));
  }

  /** Runs `fn` once after `ms`, unless the view has gone. */
  after(ms, fn) {
    const timer = setTimeout(fn, ms);
    this.onCleanup(() => clearTimeout(timer));
    return () => clearTimeout(timer);
  }

  /** `fn(event)` for every scheduler event while the view is shown. */
  onEvent(fn) {
    live.listeners.add(fn);
    this.onCleanup(() => live.listeners.delete(fn));
  }

  /** Whether events arrive; when they do not, views poll. */
  get eventsLive() {
    return live.state === 'live';
  }

  /** Writes the view's filters into the address without rendering again. */
  replaceParams(params) {
    this.params = params;
    const query = params.toString();
    history.replaceState(null, '', `#${this.path}${query ? `?${query}` : ''}`);
  }

  /** Writes another address of the same view (such as a selected run's) without rendering again. */
  replaceAddress(path, params = this.params) {
    this.path = path;
    this.replaceParams(params);
  }

  dispose() {
    this.controller.abort();
    for (const fn of this.cleanups.splice(0)) fn();
  }
}

const live = { state: 'connecting', listeners: new Set(), stop: null };

function setLiveState(state) {
  live.state = state;
  const badge = document.getElementById('live');
  badge.dataset.state = state;
  badge.textContent = { live: 'live', polling: 'polling', connecting: 'connecting…' }[state];
  badge.title = {
    live: 'Scheduler events arrive as they happen',
    polling: 'The event stream is down: the page polls',
    connecting: 'Connecting to the event stream',
  }[state];
}

function startEvents() {
  live.stop?.();
  live.stop = followEvents({
    onEvent: (event) => {
      for (const listener of live.listeners) listener(event);
    },
    onState: setLiveState,
  });
}

function stopEvents() {
  live.stop?.();
  live.stop = null;
  setLiveState('connecting');
}

// ---- sign-in ---------------------------------------------------------------

let prompting = null;

/**
 * Shows the token dialog until a token the API accepts is entered; resolves
 * with the scope it has. The dialog cannot be dismissed without one.
 */
function askForToken(reason) {
  if (prompting) return prompting;
  const dialog = document.getElementById('token-dialog');
  const formEl = document.getElementById('token-form');
  const input = document.getElementById('token-input');
  const error = document.getElementById('token-error');
  const showError = (text) => {
    error.textContent = text;
    error.hidden = !text;
    input.setAttribute('aria-invalid', text ? 'true' : 'false');
  };
  prompting = new Promise((resolve) => {
    showError(reason || '');
    input.value = '';
    const onCancel = (event) => event.preventDefault();
    const onSubmit = async (event) => {
      event.preventDefault();
      const token = input.value.trim();
      if (!token) {
        showError('Enter a token.');
        input.focus();
        return;
      }
      storeToken(token);
      try {
        const scope = await get('auth/scope');
        formEl.removeEventListener('submit', onSubmit);
        dialog.removeEventListener('cancel', onCancel);
        dialog.close();
        prompting = null;
        resolve(scope);
      } catch (failure) {
        forgetToken();
        showError(
          failure instanceof ApiError && failure.status === 401
            ? 'This token is not valid here.'
            : `The server did not answer: ${failure.message}`,
        );
        input.select();
      }
    };
    formEl.addEventListener('submit', onSubmit);
    dialog.addEventListener('cancel', onCancel);
    if (!dialog.open) dialog.showModal();
    input.focus();
  });
  return prompting;
}

function applyScope(scope) {
  session.scope = scope.scope;
  session.authEnabled = scope.auth_enabled;
  document.getElementById('scope-badge').hidden = canWrite();
  document.getElementById('sign-out').hidden = !session.authEnabled;
  document.getElementById('new-job').hidden = !canWrite();
}

async function signIn() {
  let scope;
  try {
    scope = await get('auth/scope');
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) throw error;
    scope = await askForToken(storedToken() ? 'The stored token is no longer accepted.' : '');
  }
  applyScope(scope);
  try {
    const status = await get('scheduler/status');
    session.defaultZone = status.default_timezone || 'UTC';
  } catch {
    // The zone only labels times; the views still work without it.
  }
  startEvents();
}

// A 401 in the middle of a session: the token was withdrawn or mistyped.
whenUnauthorized(async () => {
  if (prompting || !session.scope) return;
  forgetToken();
  stopEvents();
  current?.dispose();
  current = null;
  replace(main, h('p', { class: 'loading' }, 'Waiting for a token…'));
  const scope = await askForToken('The server refused the token. Enter a valid one.');
  applyScope(scope);
  startEvents();
  route();
});

document.getElementById('sign-out').addEventListener('click', async () => {
  forgetToken();
  session.scope = null;
  stopEvents();
  current?.dispose();
  current = null;
  replace(main, h('p', { class: 'loading' }, 'Signed out.'));
  const scope = await askForToken('');
  applyScope(scope);
  startEvents();
  route();
});

// ---- routing ---------------------------------------------------------------

let current = null;

function parseHash() {
  const hash = location.hash.replace(/^#/, '') || '/jobs';
  const [path, query = ''] = hash.split('?', 2);
  return { path, params: new URLSearchParams(query) };
}

async function route({ focus = false } = {}) {
  if (!session.scope) return;
  const { path, params } = parseHash();
  const found = ROUTES.map((r) => ({ ...r, match: r.path.exec(path) })).find((r) => r.match);
  for (const link of document.querySelectorAll('[data-nav]')) {
    if (found && link.dataset.nav === found.nav) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  current?.dispose();
  const view = new View(path, params);
  current = view;
  replace(main, h('p', { class: 'loading' }, 'Loading…'));
  if (focus) main.focus({ preventScroll: true });
  window.scrollTo(0, 0);
  if (!found) {
    replace(
      main,
      h(
        'div',
        { class: 'notice' },
        h('h1', {}, 'No such page'),
        h('p', {}, h('a', { href: '#/jobs' }, 'Go to the jobs')),
      ),
    );
    return;
  }
  const args = found.match.slice(1).map(decodeURIComponent);
  try {
    await found.view(main, view, ...args);
  } catch (error) {
    if (error.name === 'AbortError' || !view.alive) return;
    if (error instanceof ApiError && error.status === 401) return;
    replace(main, errorState(error, () => route()));
  }
}

window.addEventListener('hashchange', () => {
  if (!location.hash.startsWith('#/')) return;
  route({ focus: true });
});

document.getElementById('skip-link').addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});

setInterval(() => refreshRelativeTimes(main), 1000);

async function start() {
  try {
    await signIn();
  } catch (error) {
    replace(main, errorState(error, () => location.reload()));
    return;
  }
  route();
}

start();
