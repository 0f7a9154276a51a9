// The admin page in headless Chromium, used the way an operator uses it:
// sign in, watch jobs appear, create one through the form (an invalid rule
// first), run it, read its log, pause it, look at the history charts and the
// scheduler, delete it; act on several jobs at once, copy a job, turn to a
// page by its number, and find no action the API would refuse on a row it
// cannot schedule or a date job that has fired; watch a running run's time go
// by, keep the runs of a job deleted and created again apart, follow a run's
// link to its log, download a log, clean history up, and fit a 191-character
// id; then a read-only token, a withdrawn token, and the dark scheme. One
// screenshot per view goes to RUQI_SCREENSHOT_DIR.
//
//   node ui.spec.mjs http://127.0.0.1:8200
//
// Environment: RUQI_ADMIN_TOKEN and RUQI_READ_TOKEN (the server's tokens),
// RUQI_DATABASE_FILE (the server's SQLite file, edited with the sqlite3 tool
// as a hand edit would), RUQI_SCREENSHOT_DIR (default ./browser-screenshots).
// Exits 0 when every step passed; otherwise names the failed step, saves
// failure.png, exits 1. Run by crates/ruqi-server/tests/browser.rs, which
// starts the server.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';

import { apiClient, eventually as waitFor, launchChromium, sqliteOf } from './helpers.mjs';

const base = process.argv[2]?.replace(/\/+$/, '');
const adminToken = process.env.RUQI_ADMIN_TOKEN;
const readToken = process.env.RUQI_READ_TOKEN;
const databaseFile = process.env.RUQI_DATABASE_FILE;
const shots = process.env.RUQI_SCREENSHOT_DIR || 'browser-screenshots';
if (!base || !adminToken || !readToken || !databaseFile) {
  console.error('usage: RUQI_ADMIN_TOKEN=… RUQI_READ_TOKEN=… RUQI_DATABASE_FILE=… node ui.spec.mjs <base-url>');
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

/** Longest any one wait may take. */
const TIMEOUT = 15_000;
const api = apiClient(base, adminToken);
const sql = sqliteOf(databaseFile);
/** Polls `check` until it answers something truthy, for up to TIMEOUT ms. */
const eventually = (what, check) => waitFor(what, check, { timeout: TIMEOUT });
const JOB = 'browser-job';
const BERLIN_DAILY = 'at 02:20 every day (Europe/Berlin)';

const browser = await launchChromium();

/** Uncaught errors and console errors of every page: the page must have none. */
const problems = [];
// The API's refusals the journey provokes on purpose (a wrong token, an
// invalid rule, a pause of a job deleted meanwhile); Chromium logs each failed request.
const EXPECTED_FAILURES = /Failed to load resource: the server responded with a status of (401|404|422)/;

async function openPage({ colorScheme = 'light', timezoneId = 'America/New_York' } = {}) {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    colorScheme,
    timezoneId,
    locale: 'en-US',
  });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !EXPECTED_FAILURES.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  return page;
}

/** A full-page picture of the view as it rests: notices dismissed, scrolled to the top. */
async function screenshot(page, name) {
  // In one go: a notice may leave on its own meanwhile.
  await page.evaluate(() => {
    for (const dismiss of document.querySelectorAll('.toast button[aria-label="Dismiss"]')) dismiss.click();
  });
  await page.locator('.toast').first().waitFor({ state: 'detached' });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.evaluate(() => document.fonts.ready);
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

async function assertNoHorizontalScroll(page, view) {
  const overflow = await page.evaluate(() => {
    const found = [];
    const root = document.documentElement;
    if (root.scrollWidth > root.clientWidth) found.push(`the page is ${root.scrollWidth}px wide`);
    for (const el of document.querySelectorAll('.table-wrap, .card, pre')) {
      const style = getComputedStyle(el);
      if (el.scrollWidth > el.clientWidth + 1 && style.overflowX !== 'visible') {
        found.push(`${el.className} scrolls: ${el.scrollWidth}px in ${el.clientWidth}px`);
      }
    }
    return found;
  });
  assert.deepEqual(overflow, [], `${view} scrolls sideways at 1280 px`);
}

async function signIn(page, token) {
  const dialog = page.getByRole('dialog', { name: 'Sign in to ruqi' });
  await dialog.waitFor();
  await page.getByLabel('Token', { exact: true }).fill(token);
  await page.getByRole('button', { name: 'Continue' }).click();
  await dialog.waitFor({ state: 'hidden' });
}

async function nav(page, name) {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
  await page.getByRole('heading', { level: 1, name, exact: true }).waitFor();
}

const jobRow = (page, jobId) => page.locator(`tr[data-job-id="${jobId}"]`);
const runRow = (page, executionId) => page.locator(`tr[data-execution-id="${executionId}"]`);

/** Runs `jobId` now through the API; answers the execution id. */
async function runNow(jobId) {
  const started = await api('POST', `jobs/${encodeURIComponent(jobId)}/run`);
  assert.equal(started.status, 202, JSON.stringify(started.body));
  return started.body.execution_id;
}

/** Runs `jobId` now and waits for the run to end; answers the execution. */
async function runToEnd(jobId) {
  const id = await runNow(jobId);
  return eventually(`run ${id} of ${jobId} ends`, async () => {
    // The row may be written a moment after the 202.
    const { status, body: run } = await api('GET', `executions/${id}`);
    return status === 200 && run.status !== 'running' && run;
  });
}

/** The seconds a "running 12 s" text says. */
const secondsRunning = (text) => Number(text.match(/running (\d+) s/)?.[1] ?? NaN);

let current = null;
let passed = 0;
async function step(name, run) {
  try {
    await run();
    passed += 1;
    console.log(`ok ${passed} - ${name}`);
  } catch (error) {
    console.log(`not ok ${passed + 1} - ${name}\n${error.stack || error}`);
    if (current) await current.screenshot({ path: join(shots, 'failure.png'), fullPage: true }).catch(() => {});
    await browser.close();
    process.exit(1);
  }
}

// ---- an operator with the admin token --------------------------------------

const page = await openPage();
current = page;

await step('/ leads to the page, which asks for a token and refuses a wrong one', async () => {
  await page.goto(`${base}/`);
  assert.match(page.url(), /\/api\/ui\/$/);
  await page.getByRole('dialog', { name: 'Sign in to ruqi' }).waitFor();
  await page.getByLabel('Token', { exact: true }).fill('not-the-token');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.locator('#token-error').filter({ hasText: 'not valid' }).waitFor();
  await signIn(page, adminToken);
  await page.getByRole('heading', { level: 1, name: 'Jobs' }).waitFor();
  await page.getByText('No jobs yet').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('ruqi.token')), adminToken);
  await page.locator('#live[data-state="live"]').waitFor();
});

await step('jobs created elsewhere appear, with their runs, without a reload', async () => {
  const fixtures = [
    {
      job_id: 'nightly-report',
      job_name: 'reports',
      description: 'Mails the daily report',
      func: 'log',
      args: { report: 'daily', to: 'ops@example.com' },
      trigger: 'cron',
      rule: '0 20 2 * * *',
      timezone: 'Europe/Berlin',
    },
    {
      job_id: 'ping-local',
      job_name: 'hooks',
      description: 'Pings a port nobody listens on',
      func: 'http',
      args: { url: 'http://127.0.0.1:9/health', timeout_s: 2 },
      trigger: 'interval',
      rule: '1h',
    },
    { job_id: 'weekday-digest', job_name: 'reports', func: 'log', args: 'digest', trigger: 'cron', rule: '0 9 * * 1-5', timezone: 'America/New_York', is_paused: true },
    { job_id: 'cache-warmup', job_name: 'ops', func: 'log', args: 'warm', trigger: 'interval', rule: '15m' },
  ];
  for (const job of fixtures) {
    const created = await api('POST', 'jobs', job);
    assert.equal(created.status, 201, JSON.stringify(created.body));
  }
  for (const job of fixtures) await jobRow(page, job.job_id).waitFor();
  for (const jobId of ['nightly-report', 'ping-local', 'cache-warmup']) {
    assert.equal((await api('POST', `jobs/${jobId}/run`)).status, 202);
  }
  await jobRow(page, 'nightly-report').locator('.last-status .badge.success').waitFor();
  await jobRow(page, 'ping-local').locator('.last-status .badge.failed').waitFor();
  await jobRow(page, 'weekday-digest').locator('.badge.paused').waitFor();
  // Success rate and mean duration per row, from one statistics request.
  await jobRow(page, 'nightly-report').locator('.job-stats', { hasText: '100 %' }).waitFor();
  await jobRow(page, 'ping-local').locator('.job-stats', { hasText: '0 %' }).waitFor();
  // The last-status filter is the API's: one failed job, counted by the server.
  await page.getByLabel('Last status', { exact: true }).selectOption('failed');
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('table.jobs tbody tr')];
    return rows.length === 1 && rows[0].dataset.jobId === 'ping-local';
  });
  assert.equal((await api('GET', 'jobs?last_status=failed')).body.total, 1);
  await page.getByLabel('Last status', { exact: true }).selectOption('');
  await jobRow(page, 'nightly-report').waitFor();
});

await step('the form shows the function and previews the rule while it is typed', async () => {
  await page.getByRole('link', { name: 'New job' }).click();
  await page.getByRole('heading', { level: 1, name: 'New job' }).waitFor();
  await page.getByLabel('Job id', { exact: true }).fill(JOB);
  await page.getByLabel('Group (job_name)', { exact: true }).fill('browser');
  await page.getByLabel('Description', { exact: true }).fill('Made by the browser test');
  await page.getByLabel('Function', { exact: true }).selectOption('log');
  await page.getByText('Writes its args to the execution').waitFor();
  await page.getByLabel('Arguments (JSON)', { exact: true }).fill('"hello from the browser"');
  await page.getByLabel('Trigger', { exact: true }).selectOption('cron');
  await page.getByLabel('Rule', { exact: true }).fill('20 2 * * *');
  await page.getByLabel('Time zone', { exact: true }).fill('Europe/Berlin');
  await page.locator('.preview .desc').filter({ hasText: BERLIN_DAILY }).waitFor();
  assert.equal(await page.locator('.preview ol.fires li').count(), 5);
});

await step("an invalid rule is refused and the API's error shows beside the field", async () => {
  await page.getByLabel('Rule', { exact: true }).fill('0 25 * * *');
  const [answer] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/jobs') && r.request().method() === 'POST'),
    page.getByRole('button', { name: 'Create job' }).click(),
  ]);
  assert.equal(answer.status(), 422);
  assert.equal((await answer.json()).field, 'rule');
  await page.locator('#error-rule').filter({ hasText: 'hour field: 25 is out of range 0-23' }).waitFor();
  await page.locator('.form-alert').filter({ hasText: 'The server refused a field' }).waitFor();
  assert.equal(await page.getByLabel('Rule', { exact: true }).getAttribute('aria-invalid'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'f-rule', 'focus goes to the refused field');
  assert.match(page.url(), /#\/new$/);
  assert.equal((await api('GET', `jobs/${JOB}`)).status, 404, 'nothing was written');
  await assertNoHorizontalScroll(page, 'the form');
  await screenshot(page, 'form-field-error');
});

await step('the corrected job is created, shows its next 10 fires, and is listed', async () => {
  await page.getByLabel('Rule', { exact: true }).fill('20 2 * * *');
  await page.locator('.preview .desc').filter({ hasText: BERLIN_DAILY }).waitFor();
  await page.getByRole('button', { name: 'Create job' }).click();
  await page.getByRole('heading', { level: 1, name: JOB }).waitFor();
  assert.match(page.url(), new RegExp(`#/jobs/${JOB}`));
  await page.locator('ol.fires li').nth(9).waitFor();
  assert.equal(await page.locator('ol.fires li').count(), 10);
  await nav(page, 'Jobs');
  const row = jobRow(page, JOB);
  await row.waitFor();
  await row.locator('.rule .desc').filter({ hasText: BERLIN_DAILY }).waitFor();
  assert.equal((await row.locator('td.func').textContent()).trim(), 'log');
  await assertNoHorizontalScroll(page, 'the jobs list');
  await screenshot(page, 'jobs');
});

await step('run it now: the run succeeds and its log shows', async () => {
  await jobRow(page, JOB).getByRole('link', { name: JOB }).click();
  await page.getByRole('heading', { level: 1, name: JOB }).waitFor();
  await page.getByText('No runs yet').waitFor();
  await page.getByRole('toolbar', { name: 'Job actions' }).getByRole('button', { name: 'Run now' }).click();
  await page.getByText(`Run of ${JOB} started`).waitFor();
  const log = page.locator('#run-log');
  await log.locator('.log-head .badge.success').waitFor();
  await log.locator('pre.log').filter({ hasText: 'hello from the browser' }).waitFor();
  await log.locator('.log-foot').filter({ hasText: 'finished' }).waitFor();
  const run = page.locator('table.runs tbody tr').first();
  await run.locator('.badge.success').waitFor();
  assert.match(await run.textContent(), /manual/);
  // The job itself follows without a reload: no longer running, its last status the run's.
  await page.locator('.detail-head .badge.running').waitFor({ state: 'detached' });
  await page.locator('#schedule-title + dl .badge.success').waitFor();
  await assertNoHorizontalScroll(page, 'the job page');
  await screenshot(page, 'job-detail');
});

await step('run it once with other arguments: the run gets them, the job keeps its own', async () => {
  await page.getByRole('toolbar', { name: 'Job actions' }).getByRole('button', { name: 'Run with arguments…' }).click();
  const dialog = page.getByRole('dialog', { name: `Run ${JOB} with arguments` });
  await dialog.waitFor();
  const input = dialog.getByLabel('Arguments (JSON)', { exact: true });
  assert.equal(JSON.parse(await input.inputValue()), 'hello from the browser', "the job's arguments to start from");
  await input.fill('"hello once');
  await dialog.getByRole('button', { name: 'Run', exact: true }).click();
  await dialog.getByRole('alert').filter({ hasText: 'not valid JSON' }).waitFor();
  assert.equal(await input.getAttribute('aria-invalid'), 'true');
  await input.fill('"hello once, with other arguments"');
  await dialog.getByRole('button', { name: 'Run', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });
  await page.getByText(`Run of ${JOB} started with the arguments given`).waitFor();
  await page.locator('#run-log pre.log').filter({ hasText: 'hello once, with other arguments' }).waitFor();
  // The run says it was given other arguments, and which: in its row and above its log.
  await page.locator('table.runs tbody tr[aria-selected="true"] .sub', { hasText: 'other arguments' }).waitFor();
  await page.locator('#run-log .given-args summary').click();
  await page.locator('#run-log .given-args pre').filter({ hasText: '"hello once, with other arguments"' }).waitFor();
  const runs = await eventually('the run with other arguments ended', async () => {
    const list = await api('GET', `jobs/${JOB}/executions`);
    const given = list.body.items.find((run) => run.args !== undefined);
    return given && given.status !== 'running' && list.body;
  });
  const given = runs.items.find((run) => run.args !== undefined);
  assert.equal(given.args, 'hello once, with other arguments');
  assert.equal(given.status, 'success');
  assert.equal(given.trigger_source, 'manual');
  assert.equal((await api('GET', `jobs/${JOB}`)).body.args, 'hello from the browser', 'the job keeps its arguments');
});

await step('pause it from the keyboard', async () => {
  const pause = page.getByRole('toolbar', { name: 'Job actions' }).getByRole('button', { name: 'Pause', exact: true });
  await pause.focus();
  await page.keyboard.press('Enter');
  await page.locator('.detail-head .badge.paused').waitFor();
  await page.getByRole('toolbar', { name: 'Job actions' }).getByRole('button', { name: 'Resume' }).waitFor();
  await page.getByText('Nothing fires until the job is resumed.').waitFor();
  const job = await api('GET', `jobs/${JOB}`);
  assert.equal(job.body.is_paused, true);
  assert.equal(job.body.next_run_time, null);
});

await step('edit it: the form holds its values, and a change is saved', async () => {
  await page.getByRole('toolbar', { name: 'Job actions' }).getByRole('link', { name: 'Edit' }).click();
  await page.getByRole('heading', { level: 1, name: `Edit ${JOB}` }).waitFor();
  assert.equal(await page.getByLabel('Rule', { exact: true }).inputValue(), '20 2 * * *');
  assert.equal(await page.getByLabel('Time zone', { exact: true }).inputValue(), 'Europe/Berlin');
  assert.equal(await page.getByLabel('Paused (no fires until resumed)', { exact: true }).isChecked(), true);
  assert.equal(await page.getByLabel('Job id', { exact: true }).getAttribute('readonly'), '');
  await page.getByLabel('Description', { exact: true }).fill('Edited in the browser');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await page.getByRole('heading', { level: 1, name: JOB }).waitFor();
  await page.locator('dl.fields dd', { hasText: 'Edited in the browser' }).waitFor();
  const job = await api('GET', `jobs/${JOB}`);
  assert.equal(job.body.description, 'Edited in the browser');
  assert.equal(job.body.is_paused, true, 'still paused');
  assert.equal(job.body.args, 'hello from the browser', 'untouched fields keep their values');
});

await step('executions: filters and the charts of runs per hour and durations', async () => {
  await nav(page, 'Executions');
  await page.locator('svg.chart').nth(1).waitFor();
  assert.equal(await page.locator('svg.chart').count(), 2);
  assert.ok((await page.locator('svg.chart rect.fill-success').count()) >= 1, 'a success bar');
  assert.ok((await page.locator('svg.chart circle.fill-avg').count()) >= 1, 'a mean duration');
  // The charts' numbers are the server's counts of every run, not of a page.
  const total = (await api('GET', 'executions?limit=1')).body.total;
  const said = await page.locator('[data-stat="runs"]').textContent();
  assert.ok(said.startsWith(`${total} run`), `${said} (the API counts ${total})`);
  const bars = await page.locator('svg.chart rect title').allTextContents();
  const barRuns = bars.map((t) => Number(t.match(/: (\d+) /)[1])).reduce((a, n) => a + n, 0);
  assert.equal(barRuns, total, 'the bars add up to every run');
  // A job id prefix goes to the server.
  await page.getByLabel('Job id starts with', { exact: true }).fill('PING');
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('table.executions tbody tr')];
    return rows.length >= 1 && rows.every((row) => row.textContent.includes('ping-local'));
  });
  assert.match(page.url(), /job_id=PING/);
  await page.getByRole('button', { name: 'Clear' }).click();
  await page.locator('table.executions tbody tr', { hasText: JOB }).locator('.badge.success').first().waitFor();
  await page.getByLabel('Status', { exact: true }).selectOption('failed');
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('table.executions tbody tr')];
    return rows.length === 1 && rows[0].textContent.includes('ping-local');
  });
  assert.match(page.url(), /status=failed/);
  await page.getByRole('button', { name: 'Clear' }).click();
  await page.locator('table.executions tbody tr', { hasText: JOB }).first().waitFor();
  await assertNoHorizontalScroll(page, 'the executions');
  await screenshot(page, 'executions');
});

await step('scheduler: this node with its heartbeat, job counts and next wake-up', async () => {
  await nav(page, 'Scheduler');
  const node = page.locator('table.nodes tbody tr').first();
  await node.filter({ hasText: 'this process' }).waitFor();
  await node.locator('.heartbeat').waitFor();
  await page.locator('.stat', { hasText: 'Jobs held' }).locator('.value').filter({ hasText: /^5$/ }).waitFor();
  await page.locator('.stat', { hasText: 'Paused' }).locator('.value').filter({ hasText: /^2$/ }).waitFor();
  await assertNoHorizontalScroll(page, 'the scheduler');
  await screenshot(page, 'scheduler');
});

await step('delete asks first: Escape keeps the job, confirming deletes it', async () => {
  await page.goto(`${base}/api/ui/#/jobs/${JOB}`);
  await page.getByRole('heading', { level: 1, name: JOB }).waitFor();
  const deleteButton = page.getByRole('toolbar', { name: 'Job actions' }).getByRole('button', { name: 'Delete' });
  const dialog = page.getByRole('dialog', { name: `Delete ${JOB}?` });
  await deleteButton.click();
  await dialog.waitFor();
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  assert.equal((await api('GET', `jobs/${JOB}`)).status, 200, 'Escape deleted nothing');
  await deleteButton.click();
  await dialog.getByRole('button', { name: 'Delete job' }).click();
  await page.getByRole('heading', { level: 1, name: 'Jobs' }).waitFor();
  await page.getByText(`${JOB} deleted.`).waitFor();
  await jobRow(page, 'nightly-report').waitFor();
  assert.equal(await jobRow(page, JOB).count(), 0);
  assert.equal((await api('GET', `jobs/${JOB}`)).status, 404);
});

await step('the keyboard reaches everything: a skip link first, then a visible focus', async () => {
  // A fresh load starts the tab order at the top; the token stays in the tab's session.
  await page.reload();
  await jobRow(page, 'nightly-report').waitFor();
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'skip-link');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'main');
  await page.keyboard.press('Tab');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, 'none', 'the focused control shows it');
});

// ---- several jobs at once, copies, pages, and only actions that can succeed --

const bulkBar = (page) => page.locator('.bulk-bar');
const bulkButton = (page, name) =>
  page.getByRole('toolbar', { name: 'Act on the selected jobs' }).getByRole('button', { name: new RegExp(`^${name}`) });
const pick = (page, jobId) => page.getByRole('checkbox', { name: `Select ${jobId}`, exact: true });
const pickAll = (page) => page.getByRole('checkbox', { name: 'Select every job on this page' });
const shownJobIds = (page) => page.locator('table.jobs tbody tr').evaluateAll((rows) => rows.map((row) => row.dataset.jobId));
const BULK = ['bulk-1', 'bulk-2', 'bulk-3', 'bulk-4'];

await step('select several jobs and pause them: each is paused, and the one the API refuses is named', async () => {
  for (const jobId of BULK) {
    const created = await api('POST', 'jobs', { job_id: jobId, job_name: 'bulk', func: 'log', args: jobId, trigger: 'interval', rule: '1h' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
  }
  await page.goto(`${base}/api/ui/#/jobs?job_name=bulk`);
  await page.waitForFunction(() => document.querySelectorAll('table.jobs tbody tr').length === 4);
  assert.equal(await bulkBar(page).isVisible(), false, 'no bar without a selection');
  // One from the keyboard, then the rest of the page from the header's box.
  await pick(page, 'bulk-1').focus();
  await page.keyboard.press('Space');
  await bulkBar(page).filter({ hasText: '1 job selected' }).waitFor();
  await pickAll(page).check();
  await bulkBar(page).filter({ hasText: '4 jobs selected' }).waitFor();
  for (const jobId of BULK) assert.equal(await pick(page, jobId).isChecked(), true, `${jobId} is selected`);
  assert.equal(await bulkButton(page, 'Pause').textContent(), 'Pause (4)');
  assert.equal(await bulkButton(page, 'Resume').isDisabled(), true, 'nothing selected is paused');
  // bulk-4 is deleted elsewhere while this page, its list answers held back, still shows it.
  const held = [];
  await page.route(/\/api\/jobs\?/, (route) => held.push(route));
  assert.equal((await api('DELETE', 'jobs/bulk-4')).status, 204);
  await bulkButton(page, 'Pause').click();
  const summary = page.locator('.toast.error', { hasText: 'Paused 3 jobs; 1 failed:' });
  await summary.waitFor();
  assert.match(await summary.textContent(), /bulk-4 — no job with job_id "bulk-4"/);
  await page.unroute(/\/api\/jobs\?/);
  for (const route of held) await route.continue().catch(() => {});
  for (const jobId of BULK.slice(0, 3)) {
    await jobRow(page, jobId).locator('.next .badge.paused').waitFor();
    assert.equal((await api('GET', `jobs/${jobId}`)).body.is_paused, true, `${jobId} is paused in the API`);
  }
  await jobRow(page, 'bulk-4').waitFor({ state: 'detached' });
  await bulkBar(page).filter({ hasText: '3 jobs selected' }).waitFor();
  assert.equal(await bulkButton(page, 'Pause').isDisabled(), true, 'every selected job is paused');
  assert.equal(await bulkButton(page, 'Resume').textContent(), 'Resume (3)');
  await page.locator('.toast.error').getByRole('button', { name: 'Dismiss' }).click();
});

await step('the selection outlives live updates, acts only where it applies, and goes with the filter', async () => {
  // Resumed by an edit elsewhere: the row follows, still selected, and Pause applies to it again.
  await pick(page, 'bulk-3').focus();
  assert.equal((await api('PATCH', 'jobs/bulk-2', { is_paused: false })).status, 200);
  await jobRow(page, 'bulk-2').locator('.next time').waitFor();
  assert.equal(await pick(page, 'bulk-2').isChecked(), true, 'still selected after the row changed');
  const focused = await page.evaluate(() => document.activeElement.getAttribute('aria-label'));
  assert.equal(focused, 'Select bulk-3', 'the keyboard stays where it was while rows are redrawn');
  await bulkBar(page).filter({ hasText: '3 jobs selected' }).waitFor();
  assert.equal(await bulkButton(page, 'Pause').textContent(), 'Pause (1)');
  assert.equal(await bulkButton(page, 'Resume').textContent(), 'Resume (2)');
  // Resume from the keyboard: only the two paused ones are sent.
  await bulkButton(page, 'Resume').focus();
  await page.keyboard.press('Enter');
  await page.locator('.toast.success', { hasText: 'Resumed 2 jobs; 1 selected job skipped' }).waitFor();
  for (const jobId of BULK.slice(0, 3)) {
    await eventually(`${jobId} resumed`, async () => (await api('GET', `jobs/${jobId}`)).body.is_paused === false);
  }
  await bulkButton(page, 'Pause').filter({ hasText: 'Pause (3)' }).waitFor();
  await bulkButton(page, 'Run now').click();
  await page.locator('.toast.success', { hasText: 'Started 3 runs' }).waitFor();
  for (const jobId of BULK.slice(0, 3)) {
    await jobRow(page, jobId).locator('.last-status .badge.success').waitFor();
    assert.equal((await api('GET', `executions?job_id=${jobId}`)).body.total, 1, `one run of ${jobId}`);
  }
  // Another filter is another list: the selection is dropped.
  await page.getByLabel('Search', { exact: true }).fill('bulk-1');
  await page.waitForFunction(() => document.querySelectorAll('table.jobs tbody tr').length === 1);
  await bulkBar(page).waitFor({ state: 'hidden' });
  assert.equal(await pick(page, 'bulk-1').isChecked(), false);
  await page.getByLabel('Search', { exact: true }).fill('');
  await page.waitForFunction(() => document.querySelectorAll('table.jobs tbody tr').length === 3);
});

await step('rows that cannot be scheduled and date jobs that have fired offer no Run now, Pause or Resume', async () => {
  const edge = [
    { job_id: 'bulk-broken', job_name: 'bulk', func: 'log', args: 'broken', trigger: 'interval', rule: '1h' },
    { job_id: 'bulk-once', job_name: 'bulk', func: 'log', args: 'once', trigger: 'date', rule: 'now' },
  ];
  for (const job of edge) assert.equal((await api('POST', 'jobs', job)).status, 201);
  // A hand edit no validation saw.
  sql("UPDATE job_info SET rule = '5 parsecs' WHERE job_id = 'bulk-broken'");
  await eventually('the row is refused', async () => (await api('GET', 'jobs/bulk-broken')).body.last_error?.startsWith('cannot be scheduled'));
  await eventually('the date job has fired', async () => {
    const job = (await api('GET', 'jobs/bulk-once')).body;
    return job.last_status === 'success' && job.next_run_time === null && !job.is_running;
  });
  // What the page leaves out, the API refuses or cannot make fire again.
  assert.equal((await api('POST', 'jobs/bulk-broken/run')).status, 409);
  assert.equal((await api('POST', 'jobs/bulk-broken/pause')).status, 409);
  await jobRow(page, 'bulk-broken').locator('.badge.invalid').waitFor();
  await jobRow(page, 'bulk-once').locator('.next', { hasText: 'no more fires' }).waitFor();
  for (const jobId of ['bulk-broken', 'bulk-once']) {
    assert.equal(await jobRow(page, jobId).getByRole('button', { name: /^(Run|Pause|Resume)/ }).count(), 0, `${jobId} offers none`);
  }
  await jobRow(page, 'bulk-broken').getByRole('link', { name: /^Edit bulk-broken/ }).waitFor();
  await jobRow(page, 'bulk-once').getByRole('link', { name: /^Copy bulk-once/ }).waitFor();
  await jobRow(page, 'bulk-1').getByRole('button', { name: 'Run now bulk-1' }).waitFor();
  // Selected, they make no bulk action but Delete apply.
  await pick(page, 'bulk-broken').check();
  await pick(page, 'bulk-once').check();
  await bulkBar(page).filter({ hasText: '2 jobs selected' }).waitFor();
  for (const name of ['Pause', 'Resume', 'Run now']) assert.equal(await bulkButton(page, name).isDisabled(), true, `${name} is off`);
  assert.equal(await bulkButton(page, 'Delete').textContent(), 'Delete (2)');
  // The same on their pages; Edit, Copy and Delete stay.
  for (const jobId of ['bulk-broken', 'bulk-once']) {
    await page.goto(`${base}/api/ui/#/jobs/${jobId}`);
    const toolbar = page.getByRole('toolbar', { name: 'Job actions' });
    await toolbar.getByRole('link', { name: 'Edit' }).waitFor();
    for (const name of ['Run now', 'Pause', 'Resume']) {
      assert.equal(await toolbar.getByRole('button', { name, exact: true }).count(), 0, `${jobId}: no ${name}`);
    }
    await toolbar.getByRole('link', { name: 'Copy' }).waitFor();
    await toolbar.getByRole('button', { name: 'Delete' }).waitFor();
  }
  await page.locator('.detail-head .why-not', { hasText: 'it will not fire again' }).waitFor();
});

await step('copy a job: the form holds its values, survives a reload, and creates the copy', async () => {
  await page.goto(`${base}/api/ui/#/jobs/nightly-report`);
  await page.getByRole('toolbar', { name: 'Job actions' }).getByRole('link', { name: 'Copy' }).click();
  await page.getByRole('heading', { level: 1, name: 'Copy of nightly-report' }).waitFor();
  assert.match(page.url(), /#\/new\?copy=nightly-report$/);
  await page.reload();
  await page.getByRole('heading', { level: 1, name: 'Copy of nightly-report' }).waitFor();
  const field = (label) => page.getByLabel(label, { exact: true });
  assert.equal(await field('Job id').inputValue(), 'nightly-report-copy');
  assert.equal(await field('Job id').getAttribute('readonly'), null, 'the id is the user’s to change');
  assert.equal(await field('Group (job_name)').inputValue(), 'reports');
  assert.equal(await field('Description').inputValue(), 'Mails the daily report');
  assert.equal(await field('Function').inputValue(), 'log');
  assert.deepEqual(JSON.parse(await field('Arguments (JSON)').inputValue()), { report: 'daily', to: 'ops@example.com' });
  assert.equal(await field('Trigger').inputValue(), 'cron');
  assert.equal(await field('Rule').inputValue(), '0 20 2 * * *');
  assert.equal(await field('Time zone').inputValue(), 'Europe/Berlin');
  assert.equal((await api('GET', 'jobs/nightly-report-copy')).status, 404, 'nothing saved before Create');
  await field('Job id').fill('nightly-report-2');
  await page.getByRole('button', { name: 'Create job' }).click();
  await page.getByRole('heading', { level: 1, name: 'nightly-report-2' }).waitFor();
  const [source, copy] = await Promise.all([api('GET', 'jobs/nightly-report'), api('GET', 'jobs/nightly-report-2')]);
  assert.equal(copy.status, 200);
  for (const key of ['job_name', 'description', 'func', 'args', 'trigger', 'rule', 'timezone', 'is_paused', 'overlap', 'max_instances', 'misfire_grace_s', 'misfire_policy', 'timeout_s', 'max_retries', 'retry_backoff', 'retry_delay', 'child_jobs', 'alert_url', 'start_at', 'end_at']) {
    assert.deepEqual(copy.body[key], source.body[key], `the copy's ${key}`);
  }
  assert.equal((await api('DELETE', 'jobs/nightly-report-2')).status, 204);
});

await step('jobs list: page numbers, the last page, and a page typed in', async () => {
  for (let i = 1; i <= 20; i += 1) {
    const jobId = `page-${String(i).padStart(2, '0')}`;
    assert.equal((await api('POST', 'jobs', { job_id: jobId, job_name: 'pages', func: 'log', trigger: 'interval', rule: '1h' })).status, 201);
  }
  await page.goto(`${base}/api/ui/#/jobs?job_name=pages&limit=2`);
  const pagerNav = page.getByRole('navigation', { name: 'Pages of jobs' });
  const numbers = () => pagerNav.locator('.pages').evaluate((el) => el.textContent.replace(/\s+/g, ''));
  await pagerNav.getByRole('button', { name: 'Page 10, the last' }).waitFor();
  assert.equal(await numbers(), '123…10');
  // A selection stays with its page.
  await pick(page, 'page-01').check();
  await bulkBar(page).filter({ hasText: '1 job selected' }).waitFor();
  await pagerNav.getByRole('button', { name: 'Page 10, the last' }).click();
  await page.waitForFunction(() => [...document.querySelectorAll('table.jobs tbody tr')].map((r) => r.dataset.jobId).join() === 'page-19,page-20');
  assert.match(page.url(), /offset=18/);
  await bulkBar(page).waitFor({ state: 'hidden' });
  await pagerNav.locator('[aria-current="page"]', { hasText: '10' }).waitFor();
  await pagerNav.getByLabel('Go to page').fill('5');
  await pagerNav.getByLabel('Go to page').press('Enter');
  await page.waitForFunction(() => [...document.querySelectorAll('table.jobs tbody tr')].map((r) => r.dataset.jobId).join() === 'page-09,page-10');
  assert.equal(await numbers(), '1234567…10', 'page 2 rather than a gap of one page');
  assert.deepEqual(await shownJobIds(page), ['page-09', 'page-10']);
  await pick(page, 'page-09').check();
  await pagerNav.getByRole('button', { name: 'Next →' }).click();
  await page.waitForFunction(() => [...document.querySelectorAll('table.jobs tbody tr')].map((r) => r.dataset.jobId).join() === 'page-11,page-12');
  await bulkBar(page).waitFor({ state: 'hidden' });
  assert.equal(await pick(page, 'page-11').isChecked(), false, 'the next page starts with nothing selected');
});

await step('executions: page numbers, and no last page where the total is only a lower bound', async () => {
  for (let i = 0; i < 5; i += 1) assert.equal((await api('POST', 'jobs/page-01/run')).status, 202);
  await eventually('five runs of page-01', async () => (await api('GET', 'executions?job_id=page-01')).body.total === 5);
  await page.goto(`${base}/api/ui/#/executions?job_id=page-01&limit=2`);
  const pagerNav = page.getByRole('navigation', { name: 'Pages of runs' });
  await pagerNav.getByRole('button', { name: 'Page 3, the last' }).click();
  await page.waitForFunction(() => document.querySelectorAll('table.executions tbody tr').length === 1);
  await pagerNav.getByText('5–5 of 5').waitFor();
  // More than 10,000 runs: the API counts no further, so the page offers no last number.
  sql(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10050)
    INSERT INTO job_execution (id, job_id, scheduled_for, started_at, finished_at, duration_ms, status, attempt, node, trigger_source)
    SELECT printf('seeded-%05d', i), 'seeded-history', at, at, at, 0, 'success', 1, 'seeded', 'schedule'
    FROM (SELECT i, strftime('%Y-%m-%dT%H:%M:%S', 'now', printf('-%d seconds', i % 3000)) || '.000+00:00' AS at FROM n)`);
  const seeded = (await api('GET', 'executions?job_id_prefix=seeded-history&limit=100')).body;
  assert.equal(seeded.total_exact, false, 'the API gives a lower bound');
  await page.goto(`${base}/api/ui/#/executions?job_id=seeded-history&limit=10`);
  await pagerNav.getByText(/^1–10 of [\d,]+\+$/).waitFor();
  assert.equal(await pagerNav.getByRole('button', { name: /the last/ }).count(), 0, 'no last page offered');
  assert.equal(await pagerNav.locator('.pages').evaluate((el) => el.textContent.replace(/\s+/g, '')), '123…');
  await pagerNav.getByLabel('Go to page').fill('90');
  await pagerNav.getByRole('button', { name: 'Go', exact: true }).click();
  await pagerNav.getByText(/^891–900 of [\d,]+\+$/).waitFor();
  assert.match(page.url(), /offset=890/);
  await pagerNav.locator('[aria-current="page"]', { hasText: '90' }).waitFor();
  await assertNoHorizontalScroll(page, 'the executions with page numbers');
  await screenshot(page, 'executions-pages');
});

await step('delete the selected jobs after confirming, naming how many', async () => {
  await page.goto(`${base}/api/ui/#/jobs?job_name=bulk`);
  await page.waitForFunction(() => document.querySelectorAll('table.jobs tbody tr').length === 5);
  await pickAll(page).check();
  await bulkBar(page).filter({ hasText: '5 jobs selected' }).waitFor();
  await assertNoHorizontalScroll(page, 'the jobs list with a selection');
  await screenshot(page, 'jobs-selected');
  const dialog = page.getByRole('dialog', { name: 'Delete 5 jobs?' });
  await bulkButton(page, 'Delete').click();
  await dialog.waitFor();
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  assert.equal((await api('GET', 'jobs/bulk-1')).status, 200, 'Escape deleted nothing');
  await bulkButton(page, 'Delete').click();
  await dialog.getByRole('button', { name: 'Delete 5 jobs' }).click();
  await page.locator('.toast.success', { hasText: 'Deleted 5 jobs' }).waitFor();
  await page.getByText('No jobs match these filters').waitFor();
  await bulkBar(page).waitFor({ state: 'hidden' });
  assert.equal((await api('GET', 'jobs?job_name=bulk')).body.total, 0);
  for (let i = 1; i <= 20; i += 1) await api('DELETE', `jobs/page-${String(i).padStart(2, '0')}`);
});

// A port that takes connections and never answers: a run calling it keeps
// running. Neither it nor its connections keep the script from ending.
const silent = createServer((socket) => socket.unref());
await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
silent.unref();
const SLOW = 'slow-call';
/** Long enough to reach the 10 s to 100 s decade of the duration chart. */
const SLOW_TIMEOUT_S = 10.5;
let slowRun = null;

await step('a running run shows how long it has been running, ticking', async () => {
  const created = await api('POST', 'jobs', {
    job_id: SLOW,
    job_name: 'slow',
    func: 'http',
    args: { url: `http://127.0.0.1:${silent.address().port}/never`, timeout_s: SLOW_TIMEOUT_S },
    trigger: 'interval',
    rule: '1h',
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  slowRun = await runNow(SLOW);
  await nav(page, 'Executions');
  const elapsed = runRow(page, slowRun).locator('.elapsed');
  await elapsed.waitFor();
  const first = secondsRunning(await elapsed.textContent());
  assert.ok(first >= 0, `an elapsed time, not ${await elapsed.textContent()}`);
  await eventually('the elapsed time in the history goes on', async () => secondsRunning(await elapsed.textContent()) > first);
  // The job page: the run's row and its log's head both count on.
  await page.goto(`${base}/api/ui/#/jobs/${SLOW}`);
  const row = runRow(page, slowRun).locator('.elapsed');
  const head = page.locator('#run-log .log-head .elapsed');
  await row.waitFor();
  await head.waitFor();
  const then = secondsRunning(await row.textContent());
  await eventually('the elapsed time on the job page goes on', async () => {
    const [inRow, inHead] = [secondsRunning(await row.textContent()), secondsRunning(await head.textContent())];
    return inRow > then && inHead > then;
  });
  assert.equal((await api('GET', `executions/${slowRun}`)).body.status, 'running');
});

await step('runs of an earlier job with the same id stay apart until asked for', async () => {
  const REBORN = 'reborn';
  const first = { job_id: REBORN, job_name: 'history', func: 'http', args: { url: 'http://127.0.0.1:9/gone', timeout_s: 2 }, trigger: 'interval', rule: '1h' };
  assert.equal((await api('POST', 'jobs', first)).status, 201);
  for (let i = 0; i < 2; i++) assert.equal((await runToEnd(REBORN)).status, 'failed');
  assert.equal((await api('DELETE', `jobs/${REBORN}`)).status, 204);
  const second = { job_id: REBORN, job_name: 'history', func: 'log', args: 'born again', trigger: 'interval', rule: '1h' };
  assert.equal((await api('POST', 'jobs', second)).status, 201);
  assert.equal((await runToEnd(REBORN)).status, 'success');
  assert.equal((await api('GET', `jobs/${REBORN}/executions`)).body.total, 3, 'the API keeps all three');

  await page.goto(`${base}/api/ui/#/jobs/${REBORN}`);
  await page.getByRole('heading', { level: 1, name: REBORN }).waitFor();
  const rows = page.locator('table.runs tbody tr');
  await rows.first().locator('.badge.success').waitFor();
  await page.locator('#runs-title').filter({ hasText: '1 run' }).waitFor();
  assert.equal(await rows.count(), 1, 'only the new job\'s run');
  assert.equal(await page.locator('table.runs .badge.failed').count(), 0);
  // Its success rate is its own: 100 %, not the 33 % of all three.
  await page.locator('dl.fields > div', { hasText: 'Success rate' }).locator('dd').filter({ hasText: '100 %' }).waitFor();
  await page.locator('#run-log pre.log').filter({ hasText: 'born again' }).waitFor();
  await page.getByRole('button', { name: '2 runs of an earlier job with this id' }).click();
  await page.waitForFunction(() => document.querySelectorAll('table.runs tbody tr').length === 3);
  const earlier = page.locator('table.runs tbody tr.earlier');
  assert.equal(await earlier.count(), 2);
  for (const row of await earlier.all()) {
    assert.match(await row.textContent(), /earlier job/);
    await row.locator('.badge.failed').waitFor();
  }
  await page.getByRole('button', { name: 'Hide them' }).click();
  await page.waitForFunction(() => document.querySelectorAll('table.runs tbody tr').length === 1);
});

await step('a run link from the executions lands on its log, also after a reload', async () => {
  await nav(page, 'Executions');
  const runs = (await api('GET', 'jobs/reborn/executions')).body.items;
  const target = runs.find((run) => run.status === 'failed');
  await runRow(page, target.id).getByRole('link', { name: /^Log of run/ }).click();
  await page.getByRole('heading', { level: 1, name: 'reborn' }).waitFor();
  const landed = async (how) => {
    assert.ok(page.url().endsWith(`#/jobs/reborn/runs/${target.id}`), `${how}: ${page.url()}`);
    const log = page.locator('#run-log');
    await log.locator('.log-head h2').filter({ hasText: target.id.slice(-8) }).waitFor();
    // A run of the earlier job: said so, and the earlier runs are listed.
    await log.locator('.log-head .badge', { hasText: 'earlier job' }).waitFor();
    await runRow(page, target.id).and(page.locator('[aria-selected="true"]')).waitFor();
    // Scrolled down to it: its top near the top of the window, or all of it shown at the page's end.
    await eventually(`${how}: the log is in view`, async () => {
      const box = await log.boundingBox();
      const { scrolled, height } = await page.evaluate(() => ({ scrolled: window.scrollY, height: window.innerHeight }));
      return box && scrolled > 300 && box.y >= 0 && (box.y < 120 || box.y + box.height <= height);
    });
  };
  await landed('from the executions');
  await page.reload();
  await landed('after a reload');
});

await step("download a run's log: a file named after the job and the run, holding the API's log", async () => {
  const newest = (await api('GET', 'jobs/reborn/executions?limit=1')).body.items[0];
  await runRow(page, newest.id).getByRole('button', { name: /^Show the log/ }).click();
  const log = page.locator('#run-log');
  await log.locator('pre.log').filter({ hasText: 'born again' }).waitFor();
  await log.locator('.log-foot').filter({ hasText: 'finished' }).waitFor();
  const [download] = await Promise.all([page.waitForEvent('download'), log.getByRole('button', { name: 'Download log' }).click()]);
  assert.equal(download.suggestedFilename(), `reborn-${newest.id}.log`);
  const saved = await readFile(await download.path(), 'utf8');
  const lines = (await api('GET', `executions/${newest.id}/log`)).body.lines;
  assert.ok(lines.length >= 1);
  assert.equal(saved, lines.map((line) => `${line}\n`).join(''));
  assert.match(saved, /born again/);
});

await step('clean up a group\'s history, keeping the newest run of each job: asked, counted, confirmed by the API', async () => {
  await nav(page, 'Executions');
  await page.getByLabel('Group', { exact: true }).fill('history');
  await page.waitForFunction(() => document.querySelectorAll('table.executions tbody tr').length === 3);
  await page.getByRole('button', { name: 'Clean up…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Clean up run history' });
  await dialog.waitFor();
  assert.equal(await dialog.getByLabel('Runs of', { exact: true }).inputValue(), 'group', 'the group filtered on is offered');
  assert.equal(await dialog.getByLabel('Group', { exact: true }).inputValue(), 'history');
  await dialog.getByRole('button', { name: 'Review…' }).click();
  await dialog.locator('#cleanup-error-older_than_days').filter({ hasText: 'Give an age' }).waitFor();
  await dialog.getByLabel('Keep the newest runs of each job', { exact: true }).fill('1');
  await screenshot(page, 'cleanup-dialog');
  await dialog.getByRole('button', { name: 'Review…' }).click();
  const confirm = page.getByRole('dialog', { name: 'Delete 2 runs?' });
  await confirm.waitFor();
  assert.match(await confirm.textContent(), /group history.*except the newest 1 of each job/);
  assert.equal((await api('GET', 'executions?job_name=history')).body.total, 3, 'nothing deleted before the confirmation');
  await confirm.getByRole('button', { name: 'Delete 2 runs' }).click();
  await page.getByText('Deleted 2 runs.').waitFor();
  await page.waitForFunction(() => document.querySelectorAll('table.executions tbody tr').length === 1);
  await page.locator('[data-stat="runs"]').filter({ hasText: /^1 run;/ }).waitFor();
  const left = (await api('GET', 'executions?job_name=history')).body;
  assert.equal(left.total, 1);
  assert.equal(left.items[0].status, 'success', 'the newest run stays');
  assert.ok((await api('GET', `executions/${slowRun}`)).status === 200, 'another group keeps its runs');
});

await step('a 191-character id wraps: the job page does not scroll sideways, and fire times keep apart', async () => {
  const longId = `a-very-long-job-id-${'0123456789'.repeat(18)}`.slice(0, 191);
  assert.equal(longId.length, 191);
  // Yearly in another zone than the browser's: both times per fire, each with its year.
  const created = await api('POST', 'jobs', { job_id: longId, func: 'log', args: 'long', trigger: 'cron', rule: '0 30 9 1 1 *', timezone: 'Asia/Kolkata' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  await runToEnd(longId);
  await page.goto(`${base}/api/ui/#/jobs/${longId}`);
  await page.getByRole('heading', { level: 1, name: longId }).waitFor();
  await page.locator('ol.fires.two-zones li').nth(9).waitFor();
  await page.locator('#run-log pre.log').filter({ hasText: 'long' }).waitFor();
  await assertNoHorizontalScroll(page, 'a job page with a 191-character id');
  const gaps = await page.locator('ol.fires li').evaluateAll((items) =>
    items.map((li) => li.querySelector('.zone').getBoundingClientRect().left - li.querySelector('time').getBoundingClientRect().right),
  );
  assert.ok(gaps.every((gap) => gap >= 6), `space between a fire's two times: ${gaps}`);
  await screenshot(page, 'job-long-id');
});

await step('the charts keep every label, bar and dot inside their picture', async () => {
  const slow = await eventually('the slow run times out', async () => {
    const run = (await api('GET', `executions/${slowRun}`)).body;
    return run.status !== 'running' && run;
  });
  assert.ok(slow.duration_ms >= 10_000, `a run of ${slow.duration_ms} ms`);
  await nav(page, 'Executions');
  await page.locator('svg.chart').nth(1).locator('circle').first().waitFor();
  await runRow(page, slowRun).locator('.badge.failed').waitFor();
  const outside = await page.locator('svg.chart').evaluateAll((charts) =>
    charts.flatMap((chart) => {
      const [, , width, height] = chart.getAttribute('viewBox').split(' ').map(Number);
      return [...chart.querySelectorAll('text, rect, circle')]
        .map((el) => ({ el, box: el.getBBox() }))
        .filter(({ box }) => box.x < 0 || box.y < 0 || box.x + box.width > width || box.y + box.height > height)
        .map(({ el, box }) => `${el.tagName} "${el.textContent}" at ${Math.round(box.x)},${Math.round(box.y)} ${Math.round(box.width)}×${Math.round(box.height)} in ${width}×${height}`);
    }),
  );
  assert.deepEqual(outside, []);
  await page.locator('svg.chart').nth(1).locator('text', { hasText: /^100s$/ }).waitFor();
  await screenshot(page, 'executions-history');
});

// ---- an operator with the read-only token ----------------------------------

const reader = await openPage();
current = reader;

await step('a read-only token sees everything and no write action', async () => {
  await reader.goto(`${base}/api/ui/`);
  await signIn(reader, readToken);
  await jobRow(reader, 'nightly-report').waitFor();
  await reader.locator('#scope-badge').filter({ hasText: 'read-only' }).waitFor();
  assert.equal(await reader.getByRole('link', { name: 'New job' }).count(), 0);
  assert.equal(await reader.getByRole('button', { name: /^(Run|Pause|Resume)/ }).count(), 0);
  assert.equal(await reader.getByRole('checkbox').count(), 0, 'nothing to select');
  await jobRow(reader, 'nightly-report').getByRole('link', { name: 'nightly-report' }).click();
  await reader.getByRole('heading', { level: 1, name: 'nightly-report' }).waitFor();
  await reader.locator('#run-log pre.log').filter({ hasText: 'ops@example.com' }).waitFor();
  for (const name of ['Run now', 'Pause', 'Cancel runs', 'Edit', 'Delete']) {
    assert.equal(await reader.getByRole('button', { name, exact: true }).count(), 0, `${name} is hidden`);
    assert.equal(await reader.getByRole('link', { name, exact: true }).count(), 0, `${name} is hidden`);
  }
  await reader.goto(`${base}/api/ui/#/new`);
  await reader.getByText('This token is read-only').waitFor();
  assert.equal(await reader.locator('form[aria-labelledby="form-title"]').count(), 0);
});

await step('a 401 from the API brings the token prompt back', async () => {
  await reader.evaluate(() => sessionStorage.setItem('ruqi.token', 'a-withdrawn-token'));
  await reader.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Executions' }).click();
  const dialog = reader.getByRole('dialog', { name: 'Sign in to ruqi' });
  await dialog.waitFor();
  await reader.locator('#token-error').filter({ hasText: 'refused' }).waitFor();
  await signIn(reader, readToken);
  await reader.getByRole('heading', { level: 1, name: 'Executions' }).waitFor();
  await reader.locator('table.executions tbody tr').first().waitFor();
});

// ---- the dark scheme ---------------------------------------------------------

const dark = await openPage({ colorScheme: 'dark', timezoneId: 'Asia/Tokyo' });
current = dark;

await step('the page follows a dark system preference', async () => {
  await dark.goto(`${base}/api/ui/#/jobs`);
  await signIn(dark, adminToken);
  await jobRow(dark, 'ping-local').locator('.badge.failed').waitFor();
  const background = await dark.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const [r, g, b] = background.match(/\d+/g).map(Number);
  assert.ok(r + g + b < 120, `a dark background, not ${background}`);
  await assertNoHorizontalScroll(dark, 'the dark jobs list');
  await screenshot(dark, 'jobs-dark');
});

await step('no page error and no console error on the way', async () => {
  assert.deepEqual(problems, []);
});

await browser.close();
console.log(`${passed} passed, 0 failed`);
