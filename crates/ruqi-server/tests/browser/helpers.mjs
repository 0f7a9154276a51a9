// What the browser scripts share: Chromium started as each of them starts it,
// the admin API called directly, an XXL-JOB executor's calls to the executor
// API, SQL run on the server's SQLite file as a hand edit would, and waiting
// for a condition.

import { execFileSync } from 'node:child_process';

import { chromium } from 'playwright-core';

/** Debian's Chromium (or CHROMIUM_PATH), headless, with nothing running in the background. */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** `api(method, path, body)`: the admin API at `base` with `token`, answering `{ status, body }`. */
export function apiClient(base, token) {
  return async function api(method, path, body) {
    const response = await fetch(`${base}/api/${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  };
}

/**
 * `registry(operation, app, address)`: an XXL-JOB executor's call to the
 * executor API of the server at `base` (`registry` to beat, `registryRemove`
 * to leave), as pyxxl and xxl-job-core make it; answers the envelope's `code`.
 */
export function xxlRegistry(base) {
  return async function registry(operation, app, address) {
    const response = await fetch(`${new URL(base).origin}/xxl-job-admin/api/${operation}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ registryGroup: 'EXECUTOR', registryKey: app, registryValue: address }),
    });
    if (response.status !== 200) throw new Error(`${operation} answered ${response.status}`);
    return (await response.json()).code;
  };
}

/**
 * Arguments for an `xxl` job dispatching to `app`, for the function's
 * `args_schema`: the other fields it requires get a placeholder of their type.
 */
export function xxlJobArgs(schema, app) {
  const placeholders = { string: 'demoJobHandler', integer: 1, number: 1, boolean: false, object: {}, array: [] };
  const args = { app };
  for (const name of schema?.required || []) {
    if (name !== 'app') args[name] = placeholders[schema.properties?.[name]?.type] ?? 'demoJobHandler';
  }
  return args;
}

/** `sql(statements)`: runs SQL on `databaseFile` with the sqlite3 tool, behind the API's back; answers what it prints. */
export function sqliteOf(databaseFile) {
  return (statements) =>
    execFileSync('sqlite3', ['-cmd', '.timeout 10000', databaseFile], {
      input: statements,
      stdio: ['pipe', 'pipe', 'inherit'],
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    }).trim();
}

/** Polls `check` every `every` ms until it answers something truthy; fails naming `what` after `timeout` ms. */
export async function eventually(what, check, { timeout, every = 50 }) {
  const giveUp = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > giveUp) throw new Error(`${what}: not within ${timeout} ms`);
    await new Promise((resolve) => setTimeout(resolve, every));
  }
}
