// The jobs list: search and filters kept in the address, pages, rows that
// follow the scheduler's events (running, last status, next run), and a
// selection of rows to act on at once.

import { cannotBeScheduled, offeredActions, pauseOrResume, runNow, whyNoActions } from './actions.js';
import { canWrite, get, session } from './api.js';
import { JobSelection } from './bulk.js';
import { emptyState, errorState, h, instant, replace, replaceKeepingFocus, statusBadge } from './dom.js';
import { duration, plural } from './format.js';
import { pager } from './pager.js';

const PAGE_SIZES = [25, 50, 100];
/** The largest page the API serves; the address may ask for any size up to it. */
const MAX_PAGE_SIZE = 1000;
const LAST_STATUSES = [
  ['success', 'success'],
  ['failed', 'failed'],
  ['timeout', 'timeout'],
  ['cancelled', 'cancelled'],
  ['missed', 'missed'],
  ['lost', 'lost'],
  ['running', 'running'],
  ['never', 'never ran'],
];
const ORDERS = [
  ['job_id', 'Job id'],
  ['next_run_time', 'Next run'],
  ['updated_at', 'Recently changed'],
  ['created_at', 'Newest'],
  ['job_name', 'Group'],
];
const RUN_EVENTS = new Set(['submitted', 'succeeded', 'failed', 'timed_out', 'cancelled', 'missed', 'skipped_overlap', 'lost']);

/** The zone a job's rule is read in. */
export function jobZone(job) {
  return job.timezone || session.defaultZone;
}

/** The trigger, rule and its description, as one cell. */
export function ruleCell(job) {
  return h(
    'div',
    { class: 'rule' },
    h('span', { class: 'trigger' }, job.trigger),
    h('code', {}, job.rule),
    job.rule_description && h('span', { class: 'desc' }, job.rule_description),
  );
}

/** Why a job has no next run, or when it has one. */
export function nextRunCell(job) {
  if (cannotBeScheduled(job)) {
    return h('span', { class: 'badge invalid', title: job.last_error }, 'cannot be scheduled');
  }
  if (job.is_paused) return h('span', { class: 'badge paused' }, 'paused');
  if (!job.next_run_time) return h('span', { class: 'muted' }, 'no more fires');
  return instant(job.next_run_time, jobZone(job));
}

/** Why a run ran: its trigger source, its attempt, and whether it was given other arguments than its job's. */
export function triggerCell(run) {
  return [
    run.trigger_source,
    run.attempt > 1 && h('span', { class: 'sub' }, `attempt ${run.attempt}`),
    run.args !== undefined && h('span', { class: 'sub', title: JSON.stringify(run.args) }, 'other arguments'),
  ];
}

/** A job's success rate and mean duration, from `GET executions/stats/jobs`. */
export function jobStatsCell(stats) {
  if (stats.success_rate === null) return h('span', { class: 'muted small' }, stats.total ? 'none ended' : 'no runs');
  const percent = `${(stats.success_rate * 100).toFixed(stats.success_rate === 1 || stats.success_rate === 0 ? 0 : 1)} %`;
  const ended = stats.counts.success + stats.counts.failed + stats.counts.timeout + stats.counts.cancelled + stats.counts.lost;
  return h(
    'span',
    { title: `${plural(stats.counts.success, 'success', 'successes')} of ${plural(ended, 'ended run')}` },
    percent,
    stats.avg_duration_ms !== null && h('span', { class: 'sub' }, `avg ${duration(Math.round(stats.avg_duration_ms))}`),
  );
}

export function runningIndicator(count) {
  if (!count) return h('span', { class: 'muted small' }, 'idle');
  return h('span', { class: 'badge running' }, count > 1 ? `running ×${count}` : 'running');
}

export async function render(main, view) {
  const params = view.params;
  const filters = {
    text: params.get('text') || '',
    job_name: params.get('job_name') || '',
    func: params.get('func') || '',
    paused: params.get('paused') || '',
    last_status: params.get('last_status') || '',
    order: params.get('order') || 'job_id',
  };
  let offset = Number(params.get('offset')) || 0;
  const asked = Math.trunc(Number(params.get('limit')));
  let limit = asked >= 1 && asked <= MAX_PAGE_SIZE ? asked : 25;
  document.title = 'Jobs · ruqi';

  const functions = await get('functions', {}, view.signal).catch(() => []);
  const selection = canWrite() ? new JobSelection({ onDone: () => load() }) : null;

  const summary = h('p', { class: 'sub', 'aria-live': 'polite' }, '');
  const results = h('div', {}, h('p', { class: 'loading' }, 'Loading jobs…'));
  const groupList = h('datalist', { id: 'job-groups' });

  const input = (name, label, attrs = {}) =>
    h(
      'div',
      { class: `field ${attrs.grow ? 'grow' : ''}` },
      h('label', { for: `filter-${name}` }, label),
      h('input', { id: `filter-${name}`, name, value: filters[name], ...attrs, grow: null }),
    );
  const select = (name, label, options) =>
    h(
      'div',
      { class: 'field' },
      h('label', { for: `filter-${name}` }, label),
      h(
        'select',
        { id: `filter-${name}`, name, value: filters[name] },
        options.map(([value, text]) => h('option', { value }, text)),
      ),
    );

  const filterForm = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Filter jobs' },
    input('text', 'Search', { type: 'search', placeholder: 'id, group, description or function', grow: true }),
    input('job_name', 'Group', { list: 'job-groups', placeholder: 'any', size: 12 }),
    groupList,
    select('func', 'Function', [['', 'any'], ...functions.map((f) => [f.name, f.name])]),
    select('paused', 'State', [
      ['', 'any'],
      ['false', 'active'],
      ['true', 'paused'],
    ]),
    select('last_status', 'Last status', [['', 'any'], ...LAST_STATUSES]),
    select('order', 'Order', ORDERS),
    h('button', { type: 'reset', class: 'button ghost' }, 'Clear'),
  );

  replace(
    main,
    h(
      'section',
      { 'aria-labelledby': 'jobs-title' },
      h('div', { class: 'view-head' }, h('div', {}, h('h1', { id: 'jobs-title' }, 'Jobs'), summary)),
      filterForm,
      h('div', { class: 'card' }, selection?.element, results),
    ),
  );

  const syncParams = () => {
    const next = new URLSearchParams();
    for (const [key, value] of Object.entries(filters)) {
      if (value && !(key === 'order' && value === 'job_id')) next.set(key, value);
    }
    if (offset) next.set('offset', offset);
    if (limit !== 25) next.set('limit', limit);
    view.replaceParams(next);
  };

  let typing = null;
  filterForm.addEventListener('input', (event) => {
    const { name, value } = event.target;
    if (!(name in filters)) return;
    filters[name] = value;
    offset = 0;
    syncParams();
    if (name === 'job_name') suggestGroups(value);
    clearTimeout(typing);
    typing = setTimeout(load, event.target.tagName === 'INPUT' ? 250 : 0);
  });
  filterForm.addEventListener('submit', (event) => event.preventDefault());
  filterForm.addEventListener('reset', (event) => {
    event.preventDefault();
    for (const key of Object.keys(filters)) filters[key] = key === 'order' ? 'job_id' : '';
    for (const el of filterForm.elements) if (el.name in filters) el.value = filters[el.name];
    offset = 0;
    syncParams();
    load();
  });

  /** A page of jobs, every filter applied by the API. */
  function fetchPage() {
    const query = {
      text: filters.text.trim(),
      job_name: filters.job_name.trim(),
      func: filters.func,
      paused: filters.paused,
      last_status: filters.last_status,
      order: filters.order,
    };
    return get('jobs', { ...query, offset, limit }, view.signal);
  }

  /** Groups starting with what is typed, from the whole schedule. */
  let suggesting = null;
  function suggestGroups(prefix) {
    clearTimeout(suggesting);
    suggesting = setTimeout(async () => {
      const found = await get('suggestions', { field: 'job_name', prefix: prefix.trim(), limit: 20 }, view.signal).catch(() => null);
      if (found && view.alive) replace(groupList, found.items.map((name) => h('option', { value: name })));
    }, 200);
  }
  view.onCleanup(() => clearTimeout(suggesting));
  suggestGroups(filters.job_name);

  /** Each shown job's success rate and mean duration, from one request. */
  async function fillJobStats(items) {
    if (!items.length) return;
    let stats;
    try {
      stats = await get('executions/stats/jobs', { job_id: items.map((job) => job.job_id), since_created: true }, view.signal);
    } catch {
      return;
    }
    if (!view.alive) return;
    for (const item of stats.items) {
      const row = results.querySelector(`tr[data-job-id="${CSS.escape(item.job_id)}"]`);
      const cell = row?.querySelector('.job-stats');
      if (cell) replace(cell, jobStatsCell(item));
    }
  }

  let loading = null;
  async function load() {
    const mine = Symbol('load');
    loading = mine;
    let page;
    try {
      page = await fetchPage();
    } catch (error) {
      if (error.name === 'AbortError' || loading !== mine) return;
      replace(results, errorState(error, load));
      return;
    }
    if (loading !== mine || !view.alive) return;
    if (page.items.length === 0 && offset > 0 && page.total > 0) {
      offset = Math.max(0, Math.floor((page.total - 1) / limit) * limit);
      syncParams();
      load();
      return;
    }
    const running = page.items.filter((job) => job.is_running).length;
    summary.textContent = `${plural(page.total, 'job')}${running ? ` · ${running} running on this page` : ''}`;
    showPage(page);
    fillJobStats(page.items);
  }

  /** Turns to the page starting at `to`. */
  function turn(to) {
    offset = to;
    syncParams();
    load();
  }

  function showPage(page) {
    const filtered = Object.entries(filters).some(([key, value]) => value && key !== 'order');
    // The selection belongs to this page of these filters: another page starts it afresh.
    selection?.sync(page.items, JSON.stringify({ filters, offset, limit }));
    if (page.items.length === 0) {
      replace(
        results,
        filtered
          ? emptyState(
              'No jobs match these filters',
              'Try another search, or clear the filters.',
              h('button', { type: 'button', class: 'button', onclick: () => filterForm.reset() }, 'Clear filters'),
            )
          : emptyState(
              'No jobs yet',
              'A job runs a registered function on a cron rule, an interval or once at a date.',
              canWrite() && h('a', { class: 'button primary', href: '#/new' }, 'Create the first job'),
            ),
      );
      return;
    }
    const write = canWrite();
    const rows = page.items.map((job) =>
      h(
        'tr',
        { 'data-job-id': job.job_id },
        selection && h('td', { class: 'pick' }, selection.rowBox(job)),
        h(
          'td',
          { class: 'id' },
          h('a', { href: `#/jobs/${encodeURIComponent(job.job_id)}`, 'data-focus-key': `link:${job.job_id}` }, job.job_id),
          job.description && h('span', { class: 'sub' }, job.description),
        ),
        h('td', { class: 'group' }, job.job_name || h('span', { class: 'muted' }, '—')),
        h('td', { class: 'func' }, h('code', {}, job.func)),
        h('td', { class: 'schedule' }, ruleCell(job)),
        h('td', { class: 'next' }, nextRunCell(job)),
        h('td', { class: 'last-status' }, statusBadge(job.last_status)),
        h('td', { class: 'job-stats num' }, h('span', { class: 'muted small' }, '…')),
        h('td', { class: 'running-cell' }, runningIndicator(job.running || (job.is_running ? 1 : 0))),
        write && h('td', { class: 'actions' }, rowActions(job)),
      ),
    );
    const pages = pager({
      id: 'jobs',
      label: 'Pages of jobs',
      offset,
      limit,
      shown: page.items.length,
      total: page.total,
      sizes: PAGE_SIZES,
      go: turn,
      resize: (size) => {
        limit = size;
        turn(0);
      },
    });
    replaceKeepingFocus(
      results,
      h(
        'div',
        // Scrolls sideways when the window is narrow: the keyboard can reach it.
        { class: 'table-wrap', role: 'region', 'aria-label': 'Jobs', tabindex: '0', 'data-focus-key': 'jobs-table' },
        h(
          'table',
          { class: 'data jobs' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              selection && h('th', { scope: 'col', class: 'pick' }, selection.headerBox()),
              h('th', { scope: 'col' }, 'Job'),
              h('th', { scope: 'col' }, 'Group'),
              h('th', { scope: 'col' }, 'Function'),
              h('th', { scope: 'col' }, 'Schedule'),
              h('th', { scope: 'col' }, 'Next run'),
              h('th', { scope: 'col' }, 'Last'),
              h('th', { scope: 'col', title: 'Share of ended runs that succeeded, and their mean duration' }, 'Success · avg'),
              h('th', { scope: 'col' }, 'Running'),
              write && h('th', { scope: 'col', class: 'actions' }, h('span', { class: 'muted' }, 'Actions')),
            ),
          ),
          h('tbody', {}, rows),
        ),
      ),
      pages,
    );
  }

  /** The row's Run now and Pause or Resume, where they can succeed; otherwise what to do instead. */
  function rowActions(job) {
    const offered = offeredActions(job);
    const why = whyNoActions(job);
    const broken = cannotBeScheduled(job);
    const jobHref = `#/jobs/${encodeURIComponent(job.job_id)}`;
    return [
      offered.run &&
        h(
          'button',
          {
            type: 'button',
            class: 'button small',
            'aria-label': `Run now ${job.job_id}`,
            'data-focus-key': `run:${job.job_id}`,
            onclick: () => runNow(job.job_id, { then: load }),
          },
          'Run now',
        ),
      (offered.pause || offered.resume) &&
        h(
          'button',
          {
            type: 'button',
            class: 'button small',
            'aria-label': `${job.is_paused ? 'Resume' : 'Pause'} ${job.job_id}`,
            'data-focus-key': `pause:${job.job_id}`,
            onclick: () => pauseOrResume(job, { then: load }),
          },
          job.is_paused ? 'Resume' : 'Pause',
        ),
      // Instead: the way on, named by why nothing else is offered.
      broken && h('a', { class: 'button small', href: `${jobHref}/edit`, title: why, 'aria-label': `Edit ${job.job_id}: ${why}` }, 'Edit'),
      !broken &&
        why &&
        h('a', { class: 'button small', href: `#/new?copy=${encodeURIComponent(job.job_id)}`, title: why, 'aria-label': `Copy ${job.job_id}: ${why}` }, 'Copy'),
    ];
  }

  // A run starting shows at once; everything else is read again, a beat later
  // so that a burst of events costs one request.
  let pending = null;
  const reloadSoon = () => {
    clearTimeout(pending);
    pending = setTimeout(load, 300);
  };
  view.onCleanup(() => clearTimeout(pending));
  view.onEvent((event) => {
    const row = results.querySelector(`tr[data-job-id="${CSS.escape(event.job_id || '')}"]`);
    if (event.event === 'submitted' && row) {
      replace(row.querySelector('.running-cell'), runningIndicator(1));
    }
    if (row || event.event === 'job_added' || event.event === 'job_removed' || !RUN_EVENTS.has(event.event)) {
      reloadSoon();
    }
  });
  // Without events, poll. With them, still look while a run is in progress
  // (it may run on another node, whose events this stream does not carry)
  // and now and then for changes made through other nodes.
  let ticks = 0;
  view.every(2000, () => {
    ticks += 1;
    const running = results.querySelector('.running-cell .badge.running');
    if ((!view.eventsLive && ticks % 3 === 0) || running || ticks % 15 === 0) load();
  });

  await load();
}
