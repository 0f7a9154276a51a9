// The Executors view in headless Chromium: with nothing registered it says
// how to point an XXL-JOB executor at this server; two executors of one app
// registering through the executor API show with their beats, and the `xxl`
// jobs dispatching to the app link to their pages; an executor leaving is
// gone at the next refresh, which reads `GET /executors` and nothing else; a
// hidden tab reads nothing and catches up once shown; an app is given its
// executors' addresses by hand (a refused line named, nothing written) and
// they are taken back. The page's clock is
// Playwright's, so that a refresh comes when the script says, not 10 s later.
// One screenshot per state goes to RUQI_SCREENSHOT_DIR.
//
//   node executors.spec.mjs http://127.0.0.1:8200
//
// Environment as for ui.spec.mjs: RUQI_ADMIN_TOKEN, RUQI_SCREENSHOT_DIR
// (default ./browser-screenshots-executors). Run by
// crates/ruqi-server/tests/browser.rs, which starts the server.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { apiClient, eventually as waitFor, launchChromium, xxlJobArgs, xxlRegistry } from './helpers.mjs';

const base = process.argv[2]?.replace(/\/+$/, '');
const adminToken = process.env.RUQI_ADMIN_TOKEN;
const shots = process.env.RUQI_SCREENSHOT_DIR || 'browser-screenshots-executors';
if (!base || !adminToken) {
  console.error('usage: RUQI_ADMIN_TOKEN=… node executors.spec.mjs <base-url>');
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

/** Longest any one wait may take. */
const TIMEOUT = 15_000;
const api = apiClient(base, adminToken);
/** Polls `check` until it answers something truthy, for up to TIMEOUT ms. */
const eventually = (what, check) => waitFor(what, check, { timeout: TIMEOUT });
const registry = xxlRegistry(base);
/** How often the view reads the executors (executors.js). */
const REFRESH_MS = 10_000;
const origin = new URL(base).origin;
const APP = 'billing-executor';
const FIRST = 'http://127.0.0.1:9991';
const SECOND = 'http://127.0.0.1:9992';
const JOB = 'xxl-invoices';
const UNSERVED_APP = 'reports-executor';
const UNSERVED_JOB = 'xxl-monthly-report';

const browser = await launchChromium();

/** Uncaught errors and console errors of the page: it must have none. */
const problems = [];
// The page's first request, sent before a token is entered, is refused; Chromium logs it.
const EXPECTED_FAILURES = /Failed to load resource: the server responded with a status of 401/;
const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, timezoneId: 'America/New_York', locale: 'en-US' });
context.setDefaultTimeout(TIMEOUT);
// Every GET the page sends to the API, by path, counted as it is sent.
await context.addInitScript(() => {
  const send = window.fetch;
  window.apiReads = [];
  window.fetch = (input, init) => {
    if (!init?.method || init.method === 'GET') window.apiReads.push(new URL(String(input), location.href).pathname.replace(/^.*\/api\//, ''));
    return send(input, init);
  };
});
await context.clock.install();
const page = await context.newPage();
page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
page.on('console', (message) => {
  if (message.type() === 'error' && !EXPECTED_FAILURES.test(message.text())) problems.push(`console: ${message.text()}`);
});
/** How many times the page has read `path` of the API. */
const reads = (path) => page.evaluate((wanted) => window.apiReads.filter((read) => read === wanted).length, path);
/** Tells the page its tab is hidden (`true`) or shown again, as the browser does. */
const setHidden = (hidden) =>
  page.evaluate((value) => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => value });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
const appCard = (app) => page.locator(`section.executor-app[data-app="${app}"]`);
const addressRow = (address) => appCard(APP).locator(`tr[data-address="${address}"]`);

/** A full-page picture of the view as it rests, scrolled to the top. */
async function screenshot(name) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.evaluate(() => document.fonts.ready);
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

let passed = 0;
async function step(name, run) {
  try {
    await run();
    passed += 1;
    console.log(`ok ${passed} - ${name}`);
  } catch (error) {
    console.log(`not ok ${passed + 1} - ${name}\n${error.stack || error}`);
    await page.screenshot({ path: join(shots, 'failure.png'), fullPage: true }).catch(() => {});
    await browser.close();
    process.exit(1);
  }
}

// Whether this server has the `xxl` function that dispatches runs to executors.
const functions = await api('GET', 'functions');
assert.equal(functions.status, 200);
const xxl = functions.body.find((f) => f.name === 'xxl');

await step('with nothing registered, the view says how to point an executor at this server', async () => {
  await page.goto(`${base}/api/ui/#/jobs`);
  const dialog = page.getByRole('dialog', { name: 'Sign in to ruqi' });
  await dialog.waitFor();
  await page.getByLabel('Token', { exact: true }).fill(adminToken);
  await page.getByRole('button', { name: 'Continue' }).click();
  await dialog.waitFor({ state: 'hidden' });
  const link = page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Executors', exact: true });
  await link.click();
  await page.getByRole('heading', { level: 1, name: 'Executors', exact: true }).waitFor();
  assert.equal(await link.getAttribute('aria-current'), 'page');
  const empty = page.locator('.empty', { hasText: 'No executor has registered' });
  await empty.waitFor();
  await empty.locator('code', { hasText: `xxl_admin_baseurl="${origin}/xxl-job-admin/api/"` }).waitFor();
  await empty.locator('code', { hasText: `xxl.job.admin.addresses=${origin}/xxl-job-admin` }).waitFor();
  await empty.locator('code', { hasText: `GET ${origin}/api/executors` }).waitFor();
  assert.equal(await page.title(), 'Executors · ruqi');
  await screenshot('executors-empty');
});

await step('two executors of one app show with their beats, and the jobs dispatching to it link to their pages', async () => {
  assert.equal(await registry('registry', APP, FIRST), 200);
  assert.equal(await registry('registry', APP, `${SECOND}/`), 200);
  if (xxl) {
    for (const [jobId, app] of [
      [JOB, APP],
      [UNSERVED_JOB, UNSERVED_APP],
    ]) {
      const created = await api('POST', 'jobs', { job_id: jobId, func: 'xxl', args: xxlJobArgs(xxl.args_schema, app), trigger: 'cron', rule: '0 30 1 * * *' });
      assert.equal(created.status, 201, JSON.stringify(created.body));
    }
  }
  await eventually('both executors are live', async () => (await api('GET', 'executors')).body[0]?.addresses.length === 2);
  // The next refresh: no reload.
  await page.clock.runFor(REFRESH_MS);
  await addressRow(FIRST).waitFor();
  // The address as it is stored: without the trailing `/`.
  await addressRow(SECOND).waitFor();
  await appCard(APP).getByRole('heading', { level: 2, name: `${APP} 2 live addresses` }).waitFor();
  await page.locator('.view-head .sub', { hasText: '2 live executors' }).waitFor();
  for (const cell of ['td.first-beat time', 'td.last-beat time']) {
    const beat = addressRow(FIRST).locator(cell);
    assert.match(await beat.innerText(), /^(now|\d+ seconds? ago)$/);
    assert.match(await beat.getAttribute('title'), /\d{2}:\d{2}:\d{2} [A-Z]{2,4}$/, `${cell} holds its exact time`);
  }
  await page.getByRole('region', { name: `Addresses of ${APP}` }).waitFor();
  if (xxl) {
    await appCard(APP).getByRole('heading', { level: 3, name: '1 job dispatches to it' }).waitFor();
    const unserved = appCard(UNSERVED_APP);
    await unserved.getByText('No live executor — runs of these jobs fail until one registers.').waitFor();
    await unserved.getByRole('link', { name: UNSERVED_JOB, exact: true }).waitFor();
    await page.locator('.view-head .sub', { hasText: '1 without one' }).waitFor();
    await screenshot('executors');
    await appCard(APP).getByRole('link', { name: JOB, exact: true }).click();
    await page.getByRole('heading', { level: 1, name: JOB }).waitFor();
    assert.match(page.url(), new RegExp(`#/jobs/${JOB}$`));
    await page.goBack();
    await addressRow(FIRST).waitFor();
  } else {
    // No `xxl` function on this server yet: no job can dispatch to an app, so
    // the links to jobs are not checked; the app says none does.
    await appCard(APP).getByText('No job dispatches to this app').waitFor();
    await screenshot('executors');
  }
});

await step('an executor that leaves is gone at the next refresh, which reads GET /executors and nothing else', async () => {
  // From here on the page's time moves only when the script moves it.
  await page.clock.pauseAt((await page.evaluate(() => Date.now())) + 1000);
  const before = { executors: await reads('executors'), jobs: await reads('jobs') };
  assert.equal(await registry('registryRemove', APP, SECOND), 200);
  await addressRow(SECOND).waitFor();
  await page.clock.runFor(REFRESH_MS);
  await addressRow(SECOND).waitFor({ state: 'detached' });
  await addressRow(FIRST).waitFor();
  await appCard(APP).getByRole('heading', { level: 2, name: `${APP} 1 live address` }).waitFor();
  assert.deepEqual({ executors: await reads('executors'), jobs: await reads('jobs') }, { executors: before.executors + 1, jobs: before.jobs });
});

await step('a hidden tab reads nothing, and catches up once shown', async () => {
  await setHidden(true);
  const before = await reads('executors');
  assert.equal(await registry('registryRemove', APP, FIRST), 200);
  await page.clock.runFor(3 * REFRESH_MS);
  assert.equal(await reads('executors'), before, 'no read while the tab is hidden');
  await addressRow(FIRST).waitFor();
  await setHidden(false);
  assert.equal(await reads('executors'), before + 1, 'one read as the tab is shown');
  if (xxl) {
    // Its job still names it: the app stays, without an executor.
    await appCard(APP).getByText('No live executor — runs of these jobs fail until one registers.').waitFor();
  } else {
    await page.locator('.empty', { hasText: 'No executor has registered' }).waitFor();
  }
  await addressRow(FIRST).waitFor({ state: 'detached' });
  await screenshot('executors-left');
});

await step('an app whose executors do not register is given its addresses by hand, and they are taken back', async () => {
  const MANUAL_APP = 'by-hand-executor';
  await page.getByRole('button', { name: 'Addresses by hand…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Give an app its executor addresses' });
  await dialog.getByLabel('App name').fill(MANUAL_APP);
  await dialog.getByLabel('Addresses').fill('http://127.0.0.1:9993\n10.0.0.1:9999');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await dialog.getByRole('alert').filter({ hasText: 'Line 2 (10.0.0.1:9999): ' }).waitFor();
  // Chromium logs the refusal it was sent on purpose: that one, and only that one, is expected.
  const refusal = await eventually('Chromium logged the 422', () => {
    const at = problems.findIndex((problem) => problem.includes('status of 422'));
    return at === -1 ? null : { at };
  });
  problems.splice(refusal.at, 1);
  assert.equal((await api('GET', 'executors')).body.some((app) => app.app === MANUAL_APP), false, 'a refused list writes nothing');
  await dialog.getByLabel('Addresses').fill('http://127.0.0.1:9993/\n\nhttp://127.0.0.1:9994');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await dialog.waitFor({ state: 'detached' });
  const card = appCard(MANUAL_APP);
  await card.locator('[data-manual-address="http://127.0.0.1:9993"]').waitFor();
  await card.locator('[data-manual-address="http://127.0.0.1:9994"]').waitFor();
  assert.deepEqual(
    (await api('GET', 'executors')).body.find((app) => app.app === MANUAL_APP)?.manual_addresses,
    ['http://127.0.0.1:9993', 'http://127.0.0.1:9994'],
  );
  await screenshot('executors-by-hand');

  await card.getByRole('button', { name: `Addresses by hand for ${MANUAL_APP}` }).click();
  const edit = page.getByRole('dialog', { name: `Executor addresses of ${MANUAL_APP}` });
  await edit.getByLabel('Addresses').fill('');
  await edit.getByRole('button', { name: 'Save' }).click();
  await edit.waitFor({ state: 'detached' });
  await card.waitFor({ state: 'detached' });
  assert.equal((await api('GET', 'executors')).body.some((app) => app.app === MANUAL_APP), false);
});

await step('no page error and no console error on the way', async () => {
  assert.deepEqual(problems, []);
});

await browser.close();
console.log(`${passed} passed, 0 failed`);
