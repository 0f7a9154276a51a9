// The XXL-JOB executors registered with this server, like xxl-job-admin's
// executor management: one card per app name with its live addresses and
// their first and last beat, and the `xxl` jobs that dispatch to it. An app
// that jobs name but no executor serves is shown too, since its runs fail.
// Executors join and leave through the executor API themselves; an admin
// gives an app the addresses of executors that do not register by hand.

import { apiBase, canWrite, get } from './api.js';
import { emptyState, errorState, h, replace, replaceKeepingFocus, statusBadge } from './dom.js';
import { dateTime, plural, relative } from './format.js';
import { nextRunCell, ruleCell } from './jobs.js';
import { editManualAddresses } from './manual_addresses.js';

/** How often the live addresses are read while the tab is shown: one `GET executors`. */
const REFRESH_MS = 10000;
/** How often the jobs are read again, for changes made through other nodes (this node's arrive as events). */
const JOBS_REFRESH_MS = 60000;
/** The `xxl` jobs matched to apps: the largest page the API serves. */
const JOBS_LIMIT = 1000;
/**
 * A last beat older than this is shown as late: executors beat every 10 s
 * (pyxxl) or 30 s (Java) and leave the list 90 s after their last beat.
 */
const LATE_BEAT_MS = 45000;
const JOB_EVENTS = new Set(['job_added', 'job_modified', 'job_removed', 'job_invalid']);

/**
 * How to point an executor at this server, for pyxxl and for Java's
 * xxl-job-core: the executor API is at `<origin>/xxl-job-admin/api/` unless
 * `--xxl-prefix` moved it, and an executor's admin address is that without `/api/`.
 */
function connectHelp() {
  const admin = new URL('/xxl-job-admin', apiBase).href;
  return [
    h(
      'p',
      {},
      'pyxxl: ',
      h('code', {}, `xxl_admin_baseurl="${admin}/api/"`),
      ' · Java: ',
      h('code', {}, `xxl.job.admin.addresses=${admin}`),
    ),
    h(
      'p',
      { class: 'small' },
      'With ',
      h('code', {}, '--xxl-access-token'),
      ' the executors send the same token; ',
      h('code', {}, '--xxl-prefix'),
      ' moves the executor API. The admin API lists the live ones at ',
      h('code', {}, `GET ${new URL('executors', apiBase).href}`),
      '.',
    ),
  ];
}

/** A beat as "12 seconds ago", its exact time in the tooltip; a last beat with its dot, amber when `late`. */
function beat(iso, now, { last = false, late = false } = {}) {
  return h(
    'time',
    { datetime: iso, class: last ? `heartbeat ${late ? 'stale' : ''}` : null, title: dateTime(iso, undefined, { zoneName: true }) },
    h('span', { 'data-relative': iso }, relative(iso, now)),
    late && ' (late)',
  );
}

/** `args.app` of an `xxl` job: the app it dispatches to, or null. */
function appOf(job) {
  const app = job.args && typeof job.args === 'object' ? job.args.app : null;
  return typeof app === 'string' && app ? app : null;
}

export async function render(main, view) {
  document.title = 'Executors · ruqi';
  const summary = h('p', { class: 'sub', 'aria-live': 'polite' }, 'XXL-JOB executors registered with this server.');
  const content = h('div', {}, h('p', { class: 'loading' }, 'Loading the executors…'));
  const giveByHand =
    canWrite() &&
    h(
      'button',
      { type: 'button', class: 'button', onclick: () => editManualAddresses(null, [], { then: loadExecutors }) },
      'Addresses by hand…',
    );
  replace(main, h('div', { class: 'view-head' }, h('div', {}, h('h1', {}, 'Executors'), summary), giveByHand), content);

  /** The latest answers: live apps, `xxl` jobs, and how many `xxl` jobs there are. */
  let apps = null;
  let jobs = null;
  let jobsTotal = 0;
  /** What was last drawn, so that a refresh that changes nothing leaves the page alone. */
  let drawn = '';
  /** When the jobs are read again without an event. */
  let jobsDue = Date.now() + JOBS_REFRESH_MS;

  async function loadExecutors() {
    try {
      apps = await get('executors', {}, view.signal);
    } catch (error) {
      if (error.name === 'AbortError') return;
      // Nothing stale is drawn meanwhile: the next refresh reads them again.
      apps = null;
      fail(error);
      return;
    }
    draw();
  }

  async function loadJobs() {
    try {
      const page = await get('jobs', { func: 'xxl', limit: JOBS_LIMIT }, view.signal);
      jobs = page.items;
      jobsTotal = page.total;
    } catch (error) {
      if (error.name === 'AbortError') return;
      jobs = null;
      jobsDue = 0;
      fail(error);
      return;
    }
    draw();
  }

  function fail(error) {
    if (!view.alive) return;
    drawn = '';
    replace(content, errorState(error, loadAll));
  }

  function loadAll() {
    return Promise.all([loadExecutors(), loadJobs()]);
  }

  function draw() {
    if (!view.alive || apps === null || jobs === null) return;
    const now = Date.now();
    const byApp = new Map();
    for (const app of apps) byApp.set(app.app, { app: app.app, addresses: app.addresses, manual: app.manual_addresses ?? [], jobs: [] });
    for (const job of jobs) {
      const name = appOf(job);
      if (!name) continue;
      if (!byApp.has(name)) byApp.set(name, { app: name, addresses: [], manual: [], jobs: [] });
      byApp.get(name).jobs.push(job);
    }
    const shown = [...byApp.values()].sort((a, b) => a.app.localeCompare(b.app));
    const late = (address) => now - new Date(address.last_beat_at).getTime() > LATE_BEAT_MS;
    // Relative times are kept current by the page's clock; this is what else a refresh could change.
    const key = JSON.stringify([shown, shown.map((app) => app.addresses.map(late)), jobsTotal]);
    if (key === drawn) return;
    drawn = key;

    const live = shown.reduce((sum, app) => sum + app.addresses.length, 0);
    const unserved = shown.filter((app) => app.jobs.length && !app.addresses.length && !app.manual.length).length;
    summary.textContent = shown.length
      ? `${plural(shown.length, 'app')} · ${plural(live, 'live executor')}${unserved ? ` · ${unserved} without one` : ''}`
      : 'XXL-JOB executors registered with this server.';
    if (!shown.length) {
      replace(
        content,
        h(
          'section',
          { class: 'card', 'aria-label': 'Executors' },
          emptyState(
            'No executor has registered',
            'Point an XXL-JOB executor at this server and it registers itself; its app name and addresses show here.',
            h('div', { class: 'connect' }, connectHelp()),
          ),
        ),
      );
      return;
    }
    replaceKeepingFocus(
      content,
      jobsTotal > jobs.length &&
        h(
          'div',
          { class: 'notice warn', role: 'status' },
          h('p', {}, `Only the first ${plural(jobs.length, 'xxl job')} of ${jobsTotal.toLocaleString()} are matched to their apps here.`),
        ),
      shown.map((app, i) => appCard(app, `app-${i}`, now, late)),
      h(
        'details',
        { class: 'card connect-more' },
        h('summary', {}, 'Point another executor at this server'),
        connectHelp(),
      ),
    );
  }

  function appCard(app, id, now, late) {
    return h(
      'section',
      { class: 'card executor-app', 'aria-labelledby': `${id}-title`, 'data-app': app.app },
      h(
        'div',
        { class: 'card-head' },
        h(
          'h2',
          { id: `${id}-title` },
          h('span', { class: 'mono' }, app.app),
          ' ',
          h('span', { class: 'count' }, plural(app.addresses.length, 'live address', 'live addresses')),
        ),
      ),
      app.addresses.length
        ? h(
            'div',
            { class: 'table-wrap', role: 'region', 'aria-label': `Addresses of ${app.app}`, tabindex: '0', 'data-focus-key': `addresses:${app.app}` },
            h(
              'table',
              { class: 'data executors' },
              h('thead', {}, h('tr', {}, ['Address', 'First beat', 'Last beat'].map((name) => h('th', { scope: 'col' }, name)))),
              h(
                'tbody',
                {},
                app.addresses.map((address) =>
                  h(
                    'tr',
                    { 'data-address': address.address },
                    h('td', { class: 'id mono' }, address.address),
                    h('td', { class: 'first-beat' }, beat(address.first_beat_at, now)),
                    h('td', { class: 'last-beat' }, beat(address.last_beat_at, now, { last: true, late: late(address) })),
                  ),
                ),
              ),
            ),
          )
        : !app.manual.length && h('p', { class: 'notice warn' }, 'No live executor — runs of these jobs fail until one registers.'),
      manualSection(app),
      h('h3', { class: 'app-jobs-title' }, app.jobs.length ? `${plural(app.jobs.length, 'job dispatches', 'jobs dispatch')} to it` : 'Jobs'),
      app.jobs.length
        ? h(
            'div',
            { class: 'table-wrap', role: 'region', 'aria-label': `Jobs dispatching to ${app.app}`, tabindex: '0', 'data-focus-key': `jobs:${app.app}` },
            h(
              'table',
              { class: 'data xxl-jobs' },
              h('thead', {}, h('tr', {}, ['Job', 'Schedule', 'Next run', 'Last'].map((name) => h('th', { scope: 'col' }, name)))),
              h(
                'tbody',
                {},
                app.jobs.map((job) =>
                  h(
                    'tr',
                    { 'data-job-id': job.job_id },
                    h(
                      'td',
                      { class: 'id' },
                      h('a', { href: `#/jobs/${encodeURIComponent(job.job_id)}`, 'data-focus-key': `link:${job.job_id}` }, job.job_id),
                      job.job_name && h('span', { class: 'sub' }, job.job_name),
                    ),
                    h('td', { class: 'schedule' }, ruleCell(job)),
                    h('td', { class: 'next' }, nextRunCell(job)),
                    h('td', { class: 'last-status' }, statusBadge(job.last_status)),
                  ),
                ),
              ),
            ),
          )
        : h('p', { class: 'muted small' }, 'No job dispatches to this app: an ', h('code', {}, 'xxl'), ' job names it in ', h('code', {}, 'args.app'), '.'),
    );
  }

  /** The addresses given by hand, which runs go to instead of the live ones, and the button that edits them. */
  function manualSection(app) {
    const edit =
      canWrite() &&
      h(
        'button',
        {
          type: 'button',
          class: 'button small',
          'aria-label': `Addresses by hand for ${app.app}`,
          onclick: () => editManualAddresses(app.app, app.manual, { then: loadExecutors }),
        },
        app.manual.length ? 'Edit addresses by hand…' : 'Addresses by hand…',
      );
    if (!app.manual.length) return edit && h('p', { class: 'manual-addresses' }, edit);
    return h(
      'div',
      { class: 'manual-addresses' },
      h('h3', {}, `Given by hand: runs go to ${app.manual.length === 1 ? 'this address' : 'these addresses'}`),
      h('ul', { class: 'plain' }, app.manual.map((address) => h('li', { class: 'mono', 'data-manual-address': address }, address))),
      edit,
    );
  }

  // The addresses every REFRESH_MS while the tab is shown; a hidden tab reads
  // nothing and catches up when it is shown again. The jobs follow this
  // node's job events, a beat later so that a burst costs one read.
  let missed = false;
  const refresh = () => {
    if (document.hidden) {
      missed = true;
      return;
    }
    missed = false;
    loadExecutors();
    if (Date.now() >= jobsDue) {
      jobsDue = Date.now() + JOBS_REFRESH_MS;
      loadJobs();
    }
  };
  const onVisible = () => {
    if (!document.hidden && missed) refresh();
  };
  document.addEventListener('visibilitychange', onVisible);
  view.onCleanup(() => document.removeEventListener('visibilitychange', onVisible));
  let pendingJobs = null;
  view.onCleanup(() => clearTimeout(pendingJobs));
  view.onEvent((event) => {
    if (!JOB_EVENTS.has(event.event)) return;
    clearTimeout(pendingJobs);
    pendingJobs = setTimeout(loadJobs, 300);
  });
  view.every(REFRESH_MS, refresh);

  await loadAll();
}
