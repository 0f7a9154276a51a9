// The admin page checked by axe-core and measured on a phone: every view (the
// jobs list, a job with a selected run and its log, the new-job and edit
// forms, the executions with their charts, the executors registered, the
// scheduler, and the token, delete and run-with-arguments dialogs) in the
// light and the dark scheme, at 1280×800 and at 390×844 as a touch phone.
// Fails listing every serious or critical axe-core violation (rule, impact,
// elements, what is wrong), and when the page scrolls sideways; on the phone
// also when a job's id, next run, last status or actions lie outside its card,
// an executor's address or beats lie outside its app's card, the sticky header
// is taller than 64 px, the rule preview comes after the Create button, a hint
// points "on the right" at what is not there, or text in a list of fields overlaps.
// One screenshot per view, width and scheme goes to RUQI_SCREENSHOT_DIR.
//
//   node a11y.spec.mjs http://127.0.0.1:8200
//
// Environment as for ui.spec.mjs: RUQI_ADMIN_TOKEN, RUQI_READ_TOKEN,
// RUQI_DATABASE_FILE (edited with the sqlite3 tool for a row no validation
// saw), RUQI_SCREENSHOT_DIR (default ./browser-screenshots-a11y). Run by
// crates/ruqi-server/tests/browser.rs, which starts the server.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

import { apiClient, eventually as waitFor, launchChromium, sqliteOf, xxlJobArgs, xxlRegistry } from './helpers.mjs';

const base = process.argv[2]?.replace(/\/+$/, '');
const adminToken = process.env.RUQI_ADMIN_TOKEN;
const databaseFile = process.env.RUQI_DATABASE_FILE;
const shots = process.env.RUQI_SCREENSHOT_DIR || 'browser-screenshots-a11y';
if (!base || !adminToken || !databaseFile) {
  console.error('usage: RUQI_ADMIN_TOKEN=… RUQI_DATABASE_FILE=… node a11y.spec.mjs <base-url>');
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

/** Longest any one wait may take. */
const TIMEOUT = 20_000;
const api = apiClient(base, adminToken);
const sql = sqliteOf(databaseFile);
const registry = xxlRegistry(base);
/** Polls `check` until it answers something truthy, for up to TIMEOUT ms. */
const eventually = (what, check) => waitFor(what, check, { timeout: TIMEOUT });
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
/** The impacts that fail the test. */
const FAILING = new Set(['serious', 'critical']);
/** The tallest the sticky header may be on a phone: 64 of its 844 px. */
const PHONE_HEADER_MAX = 64;

const SIZES = {
  desktop: { viewport: { width: 1280, height: 800 } },
  phone: {
    viewport: { width: 390, height: 844 },
    screen: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
  },
};

const browser = await launchChromium();

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

// ---- what is measured ----------------------------------------------------------

/** Every serious or critical violation found, with the view it was found in. */
const violations = [];

/** Runs axe-core on the page as it is and keeps its serious and critical violations. */
async function audit(page, where) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: AXE });
  const found = await page.evaluate(async (failing) => {
    const result = await window.axe.run(document, {
      resultTypes: ['violations'],
      // Off by default as experimental; a name that does not hold the visible words fails voice control.
      rules: { 'label-content-name-mismatch': { enabled: true } },
    });
    return result.violations
      .map((rule) => ({
        id: rule.id,
        help: rule.help,
        nodes: rule.nodes
          .filter((node) => failing.includes(node.impact))
          .map((node) => ({ impact: node.impact, target: node.target.join(' '), summary: node.failureSummary })),
      }))
      .filter((rule) => rule.nodes.length);
  }, [...FAILING]);
  for (const rule of found) violations.push({ where, ...rule });
}

/** A full-page picture of the view as it rests, scrolled to the top. */
async function screenshot(page, name) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.evaluate(() => document.fonts.ready);
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

async function assertNoHorizontalScroll(page, where) {
  const widths = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  assert.ok(widths[0] <= widths[1], `${where}: the page scrolls sideways (${widths[0]} px in ${widths[1]} px)`);
}

/** The sticky header leaves the phone's screen to the page: one slim line whose links and buttons neither overlap nor spill. */
async function assertSlimHeader(page, where) {
  const header = await page.locator('header.topbar').evaluate((bar) => {
    const width = document.documentElement.clientWidth;
    const items = [...bar.querySelectorAll('a, button, .live, .scope-badge')]
      .map((el) => ({ el, box: el.getBoundingClientRect() }))
      .filter(({ box }) => box.width > 1 && box.height > 1);
    const clashes = [];
    const meet = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;
    for (const [i, { el, box }] of items.entries()) {
      const name = el.textContent.trim() || el.className;
      const range = document.createRange();
      range.selectNodeContents(el);
      const text = range.getBoundingClientRect();
      if (box.left < 0 || box.right > width) clashes.push(`${name} is off the screen`);
      if (text.width > 1 && (text.left < box.left - 1 || text.right > box.right + 1)) clashes.push(`${name} spills out of its box`);
      for (const other of items.slice(i + 1)) {
        if (!el.contains(other.el) && meet(box, other.box)) clashes.push(`${name} overlaps ${other.el.textContent.trim() || other.el.className}`);
      }
    }
    return { height: bar.getBoundingClientRect().height, clashes };
  });
  assert.ok(header.height <= PHONE_HEADER_MAX, `${where}: the sticky header is ${header.height} px tall`);
  assert.deepEqual(header.clashes, [], `${where}: the header's links and buttons collide`);
}

/**
 * No two labels or values of a list of fields overlap, and each stays in its
 * card: measured on their text (a range around their contents), which spills
 * out of a box too narrow for it.
 */
async function assertFieldsApart(page, where) {
  const clashes = await page.evaluate(() => {
    const found = [];
    const extent = (el) => {
      const range = document.createRange();
      range.selectNodeContents(el);
      return range.getBoundingClientRect();
    };
    const meet = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;
    for (const list of document.querySelectorAll('dl.fields')) {
      const card = list.closest('.card').getBoundingClientRect();
      const parts = [...list.querySelectorAll('dt, dd')].map((el) => ({ el, box: extent(el) }));
      for (const [i, a] of parts.entries()) {
        const name = `${a.el.tagName.toLowerCase()} "${a.el.textContent.trim().slice(0, 30)}"`;
        if (a.box.left < card.left || a.box.right > card.right) found.push(`${name} leaves its card`);
        for (const b of parts.slice(i + 1)) {
          if (meet(a.box, b.box)) found.push(`${name} overlaps "${b.el.textContent.trim().slice(0, 30)}"`);
        }
      }
    }
    return found;
  });
  assert.deepEqual(clashes, [], `${where}: text overlaps`);
}

/** Each job's id, next run, last status and actions lie in its card, in sight, without scrolling inside it. */
async function assertJobsFit(page, where) {
  const problems = await page.evaluate(() => {
    const found = [];
    const extent = (el) => {
      const range = document.createRange();
      range.selectNodeContents(el);
      return range.getBoundingClientRect();
    };
    const width = document.documentElement.clientWidth;
    for (const wrap of document.querySelectorAll('.table-wrap')) {
      if (wrap.scrollWidth > wrap.clientWidth + 1) found.push(`the list scrolls inside its card: ${wrap.scrollWidth} px in ${wrap.clientWidth} px`);
    }
    for (const row of document.querySelectorAll('table.jobs tbody tr')) {
      const card = row.closest('.card').getBoundingClientRect();
      const left = Math.max(0, card.left);
      const right = Math.min(width, card.right);
      for (const part of ['td.id a', 'td.next', 'td.last-status', 'td.actions']) {
        const el = row.querySelector(part);
        if (!el) {
          if (part !== 'td.actions') found.push(`${row.dataset.jobId}: no ${part}`);
          continue;
        }
        const box = extent(el);
        if (box.width === 0 || box.left < left - 1 || box.right > right + 1) {
          found.push(`${row.dataset.jobId}: ${part} at ${Math.round(box.left)}–${Math.round(box.right)} px, the card ${Math.round(left)}–${Math.round(right)} px`);
        }
      }
    }
    return found;
  });
  assert.deepEqual(problems, [], `${where}: the jobs do not fit`);
}

/** Each cell of an app's addresses and jobs lies in the app's card, which does not scroll inside. */
async function assertExecutorsFit(page, where) {
  const problems = await page.evaluate(() => {
    const found = [];
    const width = document.documentElement.clientWidth;
    for (const card of document.querySelectorAll('section.executor-app')) {
      const box = card.getBoundingClientRect();
      const left = Math.max(0, box.left);
      const right = Math.min(width, box.right);
      for (const wrap of card.querySelectorAll('.table-wrap')) {
        if (wrap.scrollWidth > wrap.clientWidth + 1) found.push(`${card.dataset.app}: a list scrolls inside its card`);
      }
      for (const cell of card.querySelectorAll('td')) {
        const range = document.createRange();
        range.selectNodeContents(cell);
        const text = range.getBoundingClientRect();
        if (text.width === 0 || text.left < left - 1 || text.right > right + 1) {
          found.push(`${card.dataset.app}: "${cell.textContent.trim().slice(0, 30)}" at ${Math.round(text.left)}–${Math.round(text.right)} px, the card ${Math.round(left)}–${Math.round(right)} px`);
        }
      }
    }
    return found;
  });
  assert.deepEqual(problems, [], `${where}: the executors do not fit`);
}

/** The rule's preview comes before the button that creates the job, and no hint sends the reader the wrong way. */
async function assertPreviewInReach(page, where) {
  const layout = await page.evaluate(() => {
    const box = (el) => el.getBoundingClientRect();
    const preview = document.querySelector('.preview').closest('.card');
    const form = document.querySelector('section[aria-label="Job"]');
    const submit = document.querySelector('button[type="submit"].primary');
    return {
      previewTop: box(preview).top,
      previewLeft: box(preview).left,
      previewRight: box(preview).right,
      submitTop: box(submit).top,
      formRight: box(form).right,
      width: document.documentElement.clientWidth,
      onTheRight: [...document.querySelectorAll('main *')].filter((el) => !el.children.length && /on the right/i.test(el.textContent)).map((el) => el.textContent.trim()),
    };
  });
  assert.ok(layout.previewTop < layout.submitTop, `${where}: the rule preview comes after the Create button`);
  assert.ok(layout.previewLeft >= 0 && layout.previewRight <= layout.width, `${where}: the rule preview is not on the screen`);
  if (layout.previewLeft < layout.formRight) {
    assert.deepEqual(layout.onTheRight, [], `${where}: a hint says "on the right", which is below`);
  }
}

// ---- what is shown ----------------------------------------------------------------

const REPORT = 'a11y-report';
const FAILING_JOB = 'a11y-failing';
const PAUSED = 'a11y-paused';
const BROKEN = 'a11y-broken';
const EXECUTOR_APP = 'a11y-executor';
const EXECUTORS = ['http://127.0.0.1:9991', 'http://127.0.0.1:9992'];
/** An app that an `xxl` job names and no executor serves. */
const UNSERVED_APP = 'a11y-unserved';
let reportRun = null;
/** The `xxl` function, when this server has it. */
let xxl = null;

await step('seed jobs: one with a run, one failing, one paused, one that cannot be scheduled', async () => {
  const fixtures = [
    {
      job_id: REPORT,
      job_name: 'reports',
      description: 'Mails the daily report to the operations team',
      func: 'log',
      args: { report: 'daily', to: 'ops@example.com' },
      trigger: 'cron',
      rule: '0 20 2 * * *',
      timezone: 'Europe/Berlin',
    },
    { job_id: FAILING_JOB, job_name: 'hooks', func: 'http', args: { url: 'http://127.0.0.1:9/health', timeout_s: 2 }, trigger: 'interval', rule: '1h' },
    { job_id: PAUSED, job_name: 'reports', func: 'log', args: 'digest', trigger: 'cron', rule: '0 9 * * 1-5', timezone: 'America/New_York', is_paused: true },
    { job_id: BROKEN, job_name: 'ops', func: 'log', args: 'broken', trigger: 'interval', rule: '1h' },
  ];
  for (const job of fixtures) {
    const created = await api('POST', 'jobs', job);
    assert.equal(created.status, 201, JSON.stringify(created.body));
  }
  reportRun = (await api('POST', `jobs/${REPORT}/run`)).body.execution_id;
  assert.ok(reportRun, 'a run of the report started');
  assert.equal((await api('POST', `jobs/${FAILING_JOB}/run`)).status, 202);
  sql(`UPDATE job_info SET rule = '5 parsecs' WHERE job_id = '${BROKEN}'`);
  await eventually('the report ran', async () => (await api('GET', `jobs/${REPORT}`)).body.last_status === 'success');
  await eventually('the failing job failed', async () => (await api('GET', `jobs/${FAILING_JOB}`)).body.last_status === 'failed');
  await eventually('the hand-edited row is refused', async () =>
    (await api('GET', `jobs/${BROKEN}`)).body.last_error?.startsWith('cannot be scheduled'),
  );
});

await step('seed executors: two of one app, and jobs dispatching to it and to an app with none', async () => {
  for (const address of EXECUTORS) assert.equal(await registry('registry', EXECUTOR_APP, address), 200);
  xxl = (await api('GET', 'functions')).body.find((f) => f.name === 'xxl') || null;
  // Without the `xxl` function no job dispatches to an executor: the apps show without jobs.
  if (!xxl) return;
  for (const [jobId, app] of [
    ['a11y-xxl-invoices', EXECUTOR_APP],
    ['a11y-xxl-report', UNSERVED_APP],
  ]) {
    const created = await api('POST', 'jobs', { job_id: jobId, func: 'xxl', args: xxlJobArgs(xxl.args_schema, app), trigger: 'cron', rule: '0 30 1 * * *' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
  }
});

for (const colorScheme of ['light', 'dark']) {
  for (const [size, device] of Object.entries(SIZES)) {
    const phone = size === 'phone';
    const at = (view) => `${view} (${size}, ${colorScheme})`;
    const shot = (view) => `a11y-${view}-${size}-${colorScheme}`;
    // The page's policy allows only its own scripts; axe-core is added by the test.
    const context = await browser.newContext({ ...device, colorScheme, timezoneId: 'America/New_York', locale: 'en-US', bypassCSP: true });
    context.setDefaultTimeout(TIMEOUT);
    const page = await context.newPage();
    current = page;
    const toolbar = page.getByRole('toolbar', { name: 'Job actions' });
    const nav = async (name) => {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
      await page.getByRole('heading', { level: 1, name, exact: true }).waitFor();
    };
    const layoutChecks = async (view) => {
      await assertNoHorizontalScroll(page, at(view));
      if (phone) await assertSlimHeader(page, at(view));
    };

    await step(`${size}, ${colorScheme}: the token dialog`, async () => {
      await page.goto(`${base}/api/ui/#/jobs`);
      const dialog = page.getByRole('dialog', { name: 'Sign in to ruqi' });
      await dialog.waitFor();
      await audit(page, at('token dialog'));
      await screenshot(page, shot('token-dialog'));
      await page.getByLabel('Token', { exact: true }).fill(adminToken);
      await page.getByRole('button', { name: 'Continue' }).click();
      await dialog.waitFor({ state: 'hidden' });
    });

    await step(`${size}, ${colorScheme}: the jobs list`, async () => {
      for (const jobId of [REPORT, FAILING_JOB, PAUSED, BROKEN]) await page.locator(`tr[data-job-id="${jobId}"]`).waitFor();
      await page.locator(`tr[data-job-id="${REPORT}"] .last-status .badge.success`).waitFor();
      await page.locator(`tr[data-job-id="${FAILING_JOB}"] .last-status .badge.failed`).waitFor();
      await page.locator(`tr[data-job-id="${REPORT}"] .job-stats`, { hasText: '100 %' }).waitFor();
      await page.getByRole('button', { name: new RegExp(`^Run now.*${REPORT}`) }).waitFor();
      await audit(page, at('jobs list'));
      await layoutChecks('jobs list');
      if (phone) await assertJobsFit(page, at('jobs list'));
      await screenshot(page, shot('jobs'));
    });

    await step(`${size}, ${colorScheme}: a job with a selected run and its log`, async () => {
      await page.goto(`${base}/api/ui/#/jobs/${REPORT}?run=${reportRun}`);
      await page.getByRole('heading', { level: 1, name: REPORT }).waitFor();
      await page.locator('#run-log pre.log').filter({ hasText: 'ops@example.com' }).waitFor();
      await page.locator('#run-log .log-foot').filter({ hasText: 'finished' }).waitFor();
      await page.locator(`table.runs tr[data-execution-id="${reportRun}"][aria-selected="true"]`).waitFor();
      await page.locator('#schedule-title + dl .badge.success').waitFor();
      await page.locator('ol.fires li').nth(9).waitFor();
      await audit(page, at('job page'));
      await layoutChecks('job page');
      await assertFieldsApart(page, at('job page'));
      await screenshot(page, shot('job'));
    });

    await step(`${size}, ${colorScheme}: the run-with-arguments dialog`, async () => {
      await toolbar.getByRole('button', { name: 'Run with arguments…' }).click();
      const dialog = page.getByRole('dialog', { name: `Run ${REPORT} with arguments` });
      await dialog.waitFor();
      await dialog.getByLabel('Arguments (JSON)', { exact: true }).fill('"not closed');
      await dialog.getByRole('alert').filter({ hasText: 'not valid JSON' }).waitFor();
      await audit(page, at('run-with-arguments dialog'));
      await screenshot(page, shot('run-with-dialog'));
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await dialog.waitFor({ state: 'detached' });
    });

    await step(`${size}, ${colorScheme}: the delete confirmation`, async () => {
      await toolbar.getByRole('button', { name: 'Delete' }).click();
      const dialog = page.getByRole('dialog', { name: `Delete ${REPORT}?` });
      await dialog.waitFor();
      await audit(page, at('delete dialog'));
      await screenshot(page, shot('delete-dialog'));
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
      assert.equal((await api('GET', `jobs/${REPORT}`)).status, 200, 'Escape deleted nothing');
    });

    await step(`${size}, ${colorScheme}: the new-job form with a rule previewed`, async () => {
      await page.goto(`${base}/api/ui/#/new`);
      await page.getByRole('heading', { level: 1, name: 'New job' }).waitFor();
      await page.getByLabel('Function', { exact: true }).selectOption('log');
      await page.getByText('Writes its args to the execution').waitFor();
      await page.getByLabel('Rule', { exact: true }).fill('20 2 * * *');
      await page.getByLabel('Time zone', { exact: true }).fill('Europe/Berlin');
      await page.locator('.preview .desc').filter({ hasText: 'at 02:20 every day (Europe/Berlin)' }).waitFor();
      await audit(page, at('new-job form'));
      await layoutChecks('new-job form');
      await assertPreviewInReach(page, at('new-job form'));
      await screenshot(page, shot('new-job'));
    });

    await step(`${size}, ${colorScheme}: the edit form`, async () => {
      await page.goto(`${base}/api/ui/#/jobs/${REPORT}/edit`);
      await page.getByRole('heading', { level: 1, name: `Edit ${REPORT}` }).waitFor();
      await page.locator('.preview .desc').filter({ hasText: '(Europe/Berlin)' }).waitFor();
      assert.equal(await page.getByLabel('Rule', { exact: true }).inputValue(), '0 20 2 * * *');
      await audit(page, at('edit form'));
      await layoutChecks('edit form');
      await assertPreviewInReach(page, at('edit form'));
      await screenshot(page, shot('edit'));
    });

    await step(`${size}, ${colorScheme}: the executions with their charts`, async () => {
      await nav('Executions');
      await page.locator('svg.chart').nth(1).waitFor();
      await page.locator('svg.chart rect.fill-success').first().waitFor();
      await page.locator('table.executions tbody tr', { hasText: FAILING_JOB }).locator('.badge.failed').waitFor();
      await page.locator('table.executions tbody tr', { hasText: REPORT }).locator('.badge.success').waitFor();
      await audit(page, at('executions'));
      await layoutChecks('executions');
      await screenshot(page, shot('executions'));
    });

    await step(`${size}, ${colorScheme}: the executors`, async () => {
      // A beat, as executors send one every 10 to 30 s: the passes before this one may outlast the 90 s an address stays live.
      for (const address of EXECUTORS) assert.equal(await registry('registry', EXECUTOR_APP, address), 200);
      await nav('Executors');
      const card = page.locator(`section.executor-app[data-app="${EXECUTOR_APP}"]`);
      for (const address of EXECUTORS) await card.locator(`tr[data-address="${address}"] td.last-beat time`).waitFor();
      if (xxl) {
        await card.getByRole('link', { name: 'a11y-xxl-invoices', exact: true }).waitFor();
        await page.locator(`section.executor-app[data-app="${UNSERVED_APP}"] .notice.warn`).waitFor();
      }
      await audit(page, at('executors'));
      await layoutChecks('executors');
      if (phone) await assertExecutorsFit(page, at('executors'));
      await screenshot(page, shot('executors'));
    });

    await step(`${size}, ${colorScheme}: the addresses-by-hand dialog`, async () => {
      await page.locator(`section.executor-app[data-app="${EXECUTOR_APP}"]`).getByRole('button', { name: `Addresses by hand for ${EXECUTOR_APP}` }).click();
      const dialog = page.getByRole('dialog', { name: `Executor addresses of ${EXECUTOR_APP}` });
      await dialog.getByLabel('Addresses').fill('not-a-url');
      await dialog.getByRole('button', { name: 'Save' }).click();
      await dialog.getByRole('alert').filter({ hasText: 'Line 1 (not-a-url)' }).waitFor();
      await audit(page, at('addresses-by-hand dialog'));
      await screenshot(page, shot('manual-addresses-dialog'));
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await dialog.waitFor({ state: 'detached' });
    });

    await step(`${size}, ${colorScheme}: the scheduler`, async () => {
      await nav('Scheduler');
      await page.locator('table.nodes tbody tr').filter({ hasText: 'this process' }).waitFor();
      await page.locator('.stat', { hasText: 'Jobs held' }).locator('.value').filter({ hasText: /^\d+$/ }).waitFor();
      await audit(page, at('scheduler'));
      await layoutChecks('scheduler');
      await assertFieldsApart(page, at('scheduler'));
      await screenshot(page, shot('scheduler'));
    });

    await context.close();
  }
}

await step('no serious or critical axe-core violation in any view', async () => {
  const report = violations
    .map(({ where, id, help, nodes }) =>
      [`${where}: ${id} (${help})`, ...nodes.map((node) => `  [${node.impact}] ${node.target}\n    ${node.summary.replaceAll('\n', '\n    ')}`)].join('\n'),
    )
    .join('\n');
  assert.equal(violations.length, 0, `${violations.length} violations:\n${report}`);
});

await browser.close();
console.log(`${passed} passed, 0 failed`);
