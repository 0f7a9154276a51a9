// The admin API as the page uses it: one fetch wrapper that sends the
// operator's token, turns error bodies into ApiError, and reports a 401; and
// the scheduler's event stream.

const TOKEN_KEY = 'ruqi.token';

/** The API this page belongs to: the page lives at `<prefix>/ui/`. */
export const apiBase = new URL('../', import.meta.url);

/** What the current token may do, learnt from `GET auth/scope`. */
export const session = {
  scope: null,
  authEnabled: true,
  /** The zone of jobs without a `timezone` of their own. */
  defaultZone: 'UTC',
};

export function canWrite() {
  return session.scope === 'admin';
}

export function storedToken() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function storeToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** An error answer of the API: its status, `code`, `message` and refused `field`. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `the server answered ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = body?.code || 'error';
    this.field = body?.field || null;
  }
}

let onUnauthorized = () => {};

/** `handler` runs whenever the API answers 401: the token is missing or no longer valid. */
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

function headers(extra = {}) {
  const all = { accept: 'application/json', ...extra };
  const token = storedToken();
  if (token) all.authorization = `Bearer ${token}`;
  return all;
}

/** `path` (relative to the API) with the query's non-empty values; an array repeats its parameter. */
function apiUrl(path, query = {}) {
  const url = new URL(path, apiBase);
  for (const [key, value] of Object.entries(query)) {
    // An array is the parameter repeated, once per value.
    for (const one of Array.isArray(value) ? value : [value]) {
      if (one !== undefined && one !== null && one !== '') url.searchParams.append(key, String(one));
    }
  }
  return url;
}

/**
 * Sends one request and answers its JSON body (null when empty). Rejects
 * with ApiError on an error status or when the server cannot be reached, and
 * with the AbortError of `signal` when the view that asked has gone.
 */
export async function request(method, path, { query, body, signal } = {}) {
  const init = { method, signal, cache: 'no-store', headers: headers() };
  // Every write says JSON, body or not: ruqi-server refuses writes that do
  // not, since a page on another site cannot send them without asking first.
  if (method !== 'GET') init.headers['content-type'] = 'application/json';
  if (body !== undefined) init.body = JSON.stringify(body);
  let response;
  try {
    response = await fetch(apiUrl(path, query), init);
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, { code: 'network', message: 'the server cannot be reached' });
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { message: text.slice(0, 300) };
    }
  }
  if (response.status === 401) onUnauthorized();
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const get = (path, query, signal) => request('GET', path, { query, signal });
export const post = (path, body, signal) => request('POST', path, { body, signal });

/** `encodeURIComponent` for one path segment such as a job id. */
export const seg = encodeURIComponent;

/**
 * Follows `GET events` (server-sent events) with the token in a header,
 * which EventSource cannot send: each JSON event goes to `onEvent`, and
 * `onState` hears 'connecting', 'live' or 'polling' (the stream is down and
 * views poll instead). It reconnects with a growing wait. Answers a function
 * that stops it.
 */
export function followEvents({ onEvent, onState }) {
  let stopped = false;
  let controller = null;
  let retryTimer = null;
  let failures = 0;

  const retry = () => {
    if (stopped) return;
    onState('polling');
    const wait = Math.min(30000, 1000 * 2 ** Math.min(failures, 5));
    failures += 1;
    retryTimer = setTimeout(connect, wait);
  };

  async function connect() {
    if (stopped) return;
    controller = new AbortController();
    onState(failures === 0 ? 'connecting' : 'polling');
    let response;
    try {
      response = await fetch(apiUrl('events'), {
        headers: headers({ accept: 'text/event-stream' }),
        signal: controller.signal,
        cache: 'no-store',
      });
    } catch {
      retry();
      return;
    }
    if (response.status === 401) {
      onState('polling');
      onUnauthorized();
      return;
    }
    if (!response.ok || !response.body) {
      retry();
      return;
    }
    failures = 0;
    onState('live');
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
          const data = block
            .split(/\r?\n/)
            .filter((line) => line.startsWith('data:'))
            .map((line) => line.slice(5).replace(/^ /, ''))
            .join('\n');
          if (!data) continue;
          try {
            onEvent(JSON.parse(data));
          } catch {
            // Not JSON: nothing a view could use.
          }
        }
      }
    } catch {
      // The connection dropped; reconnect below.
    }
    retry();
  }

  connect();
  return () => {
    stopped = true;
    clearTimeout(retryTimer);
    controller?.abort();
  };
}
