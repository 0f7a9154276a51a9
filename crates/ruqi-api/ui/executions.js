// Run history of every job: filters by status, job id prefix, group, error
// text and time range, all applied by the API; runs per minute, hour or day
// by status and their durations as charts, counted by the database over
// every matching run; and the runs as a list, each linked to its log. An
// admin cleans old history up from here.

import { canWrite, get } from './api.js';
import { BUCKET, durationChart, runsChart } from './chart.js';
import { openCleanup } from './cleanup.js';
import { emptyState, errorState, h, instant, refreshElapsed, replace, replaceKeepingFocus, runningFor, statusBadge } from './dom.js';
import { duration, fromLocalInput, pageRuns, plural, shortId, toLocalInput } from './format.js';
import { triggerCell } from './jobs.js';
import { pager } from './pager.js';

const STATUSES = ['success', 'failed', 'timeout', 'cancelled', 'missed', 'lost', 'running'];
const RANGES = [
  ['1h', 'Last hour', BUCKET.HOUR],
  ['24h', 'Last 24 hours', 24 * BUCKET.HOUR],
  ['7d', 'Last 7 days', 7 * BUCKET.DAY],
  ['30d', 'Last 30 days', 30 * BUCKET.DAY],
  ['custom', 'From – to', null],
];
const PAGE = 50;
const PAGE_SIZES = [25, 50, 100];
/** The largest page the API serves; the address may ask for any size up to it. */
const MAX_PAGE_SIZE = 1000;
/** How long after a run's event the view reads again, so that a burst costs one read. */
const EVENT_DELAY_MS = 1000;
/** The least time between two reads while events keep coming. */
const REFRESH_MS = 5000;
/** How often the view reads while the event stream is down. */
const POLL_MS = 10000;

/** The width inside `el`'s padding, in CSS pixels. */
function contentWidth(el) {
  const style = getComputedStyle(el);
  const width = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return Math.max(280, Math.floor(width));
}

export async function render(main, view) {
  document.title = 'Executions · ruqi';
  const params = view.params;
  const filters = {
    status: params.get('status') || '',
    job_id: params.get('job_id') || '',
    job_name: params.get('job_name') || '',
    error: params.get('error') || '',
    range: params.get('range') || '24h',
    from: params.get('from') || '',
    to: params.get('to') || '',
  };
  let offset = Number(params.get('offset')) || 0;
  const asked = Math.trunc(Number(params.get('limit')));
  let limit = asked >= 1 && asked <= MAX_PAGE_SIZE ? asked : PAGE;

  const jobIdList = h('datalist', { id: 'job-ids' });
  const groupList = h('datalist', { id: 'job-groups' });
  /** Completions of what is typed in the job or group box, from the API. */
  const suggestTimers = {};
  const suggest = (field, prefix, list) => {
    clearTimeout(suggestTimers[field]);
    suggestTimers[field] = setTimeout(async () => {
      const found = await get('suggestions', { field, prefix: prefix.trim(), limit: 20 }, view.signal).catch(() => null);
      if (found && view.alive) replace(list, found.items.map((value) => h('option', { value })));
    }, 200);
  };
  view.onCleanup(() => Object.values(suggestTimers).forEach(clearTimeout));
  suggest('job_id', filters.job_id, jobIdList);
  suggest('job_name', filters.job_name, groupList);

  const charts = h('div', { class: 'charts' });
  const results = h('div', {}, h('p', { class: 'loading' }, 'Loading runs…'));
  const summary = h('p', { class: 'sub', 'aria-live': 'polite' });
  const customFields = h(
    'div',
    { class: 'quick', hidden: filters.range !== 'custom' },
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'filter-from' }, 'From'),
      h('input', { id: 'filter-from', name: 'from', type: 'datetime-local', value: toLocalInput(filters.from) }),
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'filter-to' }, 'To'),
      h('input', { id: 'filter-to', name: 'to', type: 'datetime-local', value: toLocalInput(filters.to) }),
    ),
  );
  const filterForm = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Filter runs' },
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'filter-status' }, 'Status'),
      h(
        'select',
        { id: 'filter-status', name: 'status', value: filters.status },
        h('option', { value: '' }, 'any'),
        STATUSES.map((status) => h('option', { value: status }, status)),
      ),
    ),
    h(
      'div',
      { class: 'field grow' },
      h('label', { for: 'filter-job' }, 'Job id starts with'),
      h('input', { id: 'filter-job', name: 'job_id', type: 'search', list: 'job-ids', placeholder: 'any job', maxlength: 191, value: filters.job_id }),
      jobIdList,
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'filter-group' }, 'Group'),
      h('input', { id: 'filter-group', name: 'job_name', type: 'search', list: 'job-groups', placeholder: 'any', size: 12, value: filters.job_name }),
      groupList,
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'filter-error' }, 'Error contains'),
      h('input', { id: 'filter-error', name: 'error', type: 'search', placeholder: 'any', size: 14, maxlength: 1000, value: filters.error }),
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'filter-range' }, 'Time'),
      h(
        'select',
        { id: 'filter-range', name: 'range', value: filters.range },
        RANGES.map(([value, label]) => h('option', { value }, label)),
      ),
    ),
    customFields,
    h('button', { type: 'reset', class: 'button ghost' }, 'Clear'),
  );

  replace(
    main,
    h(
      'div',
      { class: 'view-head' },
      h('div', {}, h('h1', {}, 'Executions'), summary),
      canWrite() &&
        h(
          'div',
          { class: 'actions' },
          h(
            'button',
            { type: 'button', class: 'button', onclick: () => openCleanup({ group: filters.job_name.trim(), then: loadAll }) },
            'Clean up…',
          ),
        ),
    ),
    filterForm,
    charts,
    h('section', { class: 'card', 'aria-label': 'Runs' }, results),
  );

  /** The instants the filters cover, exactly as typed, for the query and the charts' axis. */
  const timeWindow = () => {
    const now = Date.now();
    if (filters.range === 'custom') {
      const from = filters.from ? new Date(filters.from).getTime() : now - 24 * BUCKET.HOUR;
      const to = filters.to ? new Date(filters.to).getTime() : now;
      return { from, to };
    }
    const length = RANGES.find(([value]) => value === filters.range)?.[2] || 24 * BUCKET.HOUR;
    return { from: now - length, to: now };
  };

  const query = () => {
    const { from, to } = timeWindow();
    return {
      status: filters.status,
      job_id_prefix: filters.job_id.trim(),
      job_name: filters.job_name.trim(),
      error: filters.error.trim(),
      from: new Date(from).toISOString(),
      to: filters.range === 'custom' && filters.to ? new Date(to).toISOString() : undefined,
    };
  };

  const syncParams = () => {
    const next = new URLSearchParams();
    for (const [key, value] of Object.entries(filters)) {
      if (!value || (key === 'range' && value === '24h')) continue;
      if ((key === 'from' || key === 'to') && filters.range !== 'custom') continue;
      next.set(key, value);
    }
    if (offset) next.set('offset', offset);
    if (limit !== PAGE) next.set('limit', limit);
    view.replaceParams(next);
  };

  let typing = null;
  filterForm.addEventListener('input', (event) => {
    const { name, value } = event.target;
    if (!(name in filters)) return;
    filters[name] = name === 'from' || name === 'to' ? fromLocalInput(value) || '' : value;
    customFields.hidden = filters.range !== 'custom';
    offset = 0;
    syncParams();
    if (name === 'job_id') suggest('job_id', value, jobIdList);
    if (name === 'job_name') suggest('job_name', value, groupList);
    clearTimeout(typing);
    typing = setTimeout(loadAll, event.target.type === 'search' ? 300 : 0);
  });
  filterForm.addEventListener('submit', (event) => event.preventDefault());
  filterForm.addEventListener('reset', (event) => {
    event.preventDefault();
    Object.assign(filters, { status: '', job_id: '', job_name: '', error: '', range: '24h', from: '', to: '' });
    for (const el of filterForm.elements) if (el.name in filters) el.value = filters[el.name];
    customFields.hidden = true;
    offset = 0;
    syncParams();
    loadAll();
  });

  async function loadTable() {
    let page;
    try {
      page = await get('executions', { ...query(), offset, limit }, view.signal);
    } catch (error) {
      if (error.name === 'AbortError') return;
      replace(results, errorState(error, loadTable));
      return;
    }
    if (!view.alive) return;
    summary.textContent = `${pageRuns(page)} in this range`;
    if (page.items.length === 0 && offset > 0) {
      // Past the last page (a page number typed, or runs deleted meanwhile).
      replace(
        results,
        emptyState(
          'No runs on this page',
          'The runs that match end on an earlier page.',
          h('button', { type: 'button', class: 'button', onclick: () => turnTo(0) }, 'First page'),
        ),
      );
      return;
    }
    if (page.items.length === 0) {
      replace(
        results,
        emptyState(
          'No runs match',
          filters.status || filters.job_id || filters.job_name || filters.error
            ? 'Nothing with these filters in this time range.'
            : 'Nothing ran in this time range.',
        ),
      );
      return;
    }
    const rows = page.items.map((run) =>
      h(
        'tr',
        { 'data-execution-id': run.id },
        h('td', {}, statusBadge(run.status)),
        h('td', { class: 'id' }, h('a', { href: `#/jobs/${encodeURIComponent(run.job_id)}` }, run.job_id), run.job_name && h('span', { class: 'sub' }, run.job_name)),
        h('td', {}, instant(run.scheduled_for)),
        h('td', { class: 'num' }, run.duration_ms === null ? (run.status === 'running' ? runningFor(run.started_at) : '—') : duration(run.duration_ms)),
        h('td', {}, triggerCell(run)),
        h('td', { class: 'small' }, run.node || '—'),
        h('td', { class: 'error' }, run.error || ''),
        h(
          'td',
          { class: 'actions' },
          h(
            'a',
            {
              class: 'button small',
              href: `#/jobs/${encodeURIComponent(run.job_id)}/runs/${encodeURIComponent(run.id)}`,
              'aria-label': `Log of run ${shortId(run.id)} of ${run.job_id}`,
            },
            'Log',
          ),
        ),
      ),
    );
    replaceKeepingFocus(
      results,
      h(
        'div',
        { class: 'table-wrap', role: 'region', 'aria-label': 'Runs', tabindex: '0', 'data-focus-key': 'runs-table' },
        h(
          'table',
          { class: 'data executions' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['Status', 'Job', 'Scheduled for', 'Duration', 'Source', 'Node', 'Error'].map((name) => h('th', { scope: 'col' }, name)),
              h('th', { scope: 'col', class: 'actions' }, h('span', { class: 'muted' }, 'Log')),
            ),
          ),
          h('tbody', {}, rows),
        ),
      ),
      pager({
        id: 'runs',
        label: 'Pages of runs',
        offset,
        limit,
        shown: page.items.length,
        total: page.total,
        // A lower bound past 10,000 runs: no last page is offered then.
        exact: page.total_exact !== false,
        sizes: PAGE_SIZES,
        go: turnTo,
        resize: (size) => {
          limit = size;
          turnTo(0);
        },
        labels: ['← Newer', 'Older →'],
      }),
    );
  }

  /** Turns to the page of runs starting at `to`. */
  function turnTo(to) {
    offset = to;
    syncParams();
    loadTable();
  }

  let chartData = null;

  async function loadCharts() {
    const { from, to } = timeWindow();
    let stats;
    try {
      const utcOffset = -new Date(from).getTimezoneOffset();
      stats = await get('executions/stats', { ...query(), utc_offset_minutes: utcOffset }, view.signal);
    } catch (error) {
      if (error.name === 'AbortError') return;
      replace(charts, errorState(error, loadCharts));
      return;
    }
    if (!view.alive) return;
    chartData = { stats, from, to };
    drawCharts();
  }

  function drawCharts() {
    if (!chartData || !view.alive) return;
    const { stats, from, to } = chartData;
    const bucketMs = stats.bucket_seconds * 1000;
    const per = stats.bucket;
    const buckets = stats.buckets.map((b) => ({ ...b, start: new Date(b.start).getTime() }));
    const axisFrom = Math.min(from, buckets[0]?.start ?? from);
    const axisTo = Math.max(to, buckets.length ? buckets.at(-1).start + bucketMs : to);
    const counted = STATUSES.filter((status) => stats.counts[status]);
    const spoken = counted.map((status) => `${stats.counts[status].toLocaleString()} ${status}`).join(', ') || 'no runs';
    const rate = stats.success_rate === null ? 'no run ended' : `${(stats.success_rate * 100).toFixed(1)} % of ended runs succeeded`;
    const runsCard = h('section', { class: 'card', 'aria-labelledby': 'chart-runs-title' }, h('h2', { id: 'chart-runs-title' }, `Runs per ${per}`));
    const durationsCard = h(
      'section',
      { class: 'card', 'aria-labelledby': 'chart-durations-title' },
      h('h2', { id: 'chart-durations-title' }, `Run durations per ${per}`),
    );
    replace(charts, runsCard, durationsCard);
    const width = contentWidth(runsCard);
    runsCard.append(
      runsChart({
        buckets,
        bucketMs,
        from: axisFrom,
        to: axisTo,
        statuses: STATUSES,
        width,
        label: `Runs per ${per} by status: ${spoken}.`,
      }),
      h(
        'div',
        { class: 'legend', 'aria-hidden': 'true' },
        counted.map((status) => h('span', { class: `key-${status}` }, `${status} ${stats.counts[status].toLocaleString()}`)),
      ),
      h('p', { class: 'muted small', 'data-stat': 'runs' }, `${plural(stats.total, 'run')}; ${rate}.`),
    );
    const d = stats.durations;
    const points = [];
    for (const b of buckets) {
      if (b.avg_duration_ms === null) continue;
      const at = b.start + bucketMs / 2;
      const when = new Date(b.start).toLocaleString();
      points.push({ at, ms: b.avg_duration_ms, kind: 'avg', title: `${when}: mean ${duration(Math.round(b.avg_duration_ms))}` });
      points.push({ at, ms: b.max_duration_ms, kind: 'max', title: `${when}: longest ${duration(b.max_duration_ms)}` });
    }
    durationsCard.append(
      ...(points.length
        ? [
            durationChart({
              points,
              from: axisFrom,
              to: axisTo,
              width,
              label: `Mean and longest duration per ${per} of ${plural(d.count, 'run')}: median ${duration(d.p50_ms)}, 90th percentile ${duration(d.p90_ms)}, 99th ${duration(d.p99_ms)}.`,
            }),
            h('div', { class: 'legend', 'aria-hidden': 'true' }, h('span', { class: 'key-avg' }, 'mean'), h('span', { class: 'key-max' }, 'longest')),
            h(
              'p',
              { class: 'muted small', 'data-stat': 'durations' },
              `${plural(d.count, 'run')} with a duration: median ${duration(d.p50_ms)} · p90 ${duration(d.p90_ms)} · p99 ${duration(d.p99_ms)} · longest ${duration(d.max_ms)}`,
            ),
          ]
        : [emptyState('No durations', 'No run in this range has finished.')]),
    );
  }

  function loadAll() {
    loadTable();
    loadCharts();
  }

  // News of a run the filters may show: read the view again a beat later,
  // and while runs keep coming at most every REFRESH_MS, so that a busy
  // scheduler costs one page and one count every few seconds. Older pages
  // keep their rows (new runs would only shift them); a hidden tab reads
  // once when it is shown again.
  let refreshTimer = null;
  let lastRefresh = 0;
  let missed = false;
  const refresh = () => {
    refreshTimer = null;
    if (document.hidden) {
      missed = true;
      return;
    }
    missed = false;
    lastRefresh = Date.now();
    if (offset === 0) loadTable();
    loadCharts();
  };
  const refreshSoon = () => {
    if (refreshTimer) return;
    refreshTimer = setTimeout(refresh, Math.max(EVENT_DELAY_MS, lastRefresh + REFRESH_MS - Date.now()));
  };
  const onVisible = () => {
    if (!document.hidden && missed) refreshSoon();
  };
  document.addEventListener('visibilitychange', onVisible);
  view.onCleanup(() => {
    clearTimeout(refreshTimer);
    document.removeEventListener('visibilitychange', onVisible);
  });
  view.onEvent((event) => {
    if (!event.execution_id) return;
    const prefix = filters.job_id.trim().toLowerCase();
    if (prefix && !String(event.job_id || '').toLowerCase().startsWith(prefix)) return;
    refreshSoon();
  });
  view.every(POLL_MS, () => {
    if (!view.eventsLive) refreshSoon();
  });
  // A running run's elapsed time, once a second.
  view.every(1000, () => refreshElapsed(results));
  let resizing = null;
  const onResize = () => {
    clearTimeout(resizing);
    resizing = setTimeout(drawCharts, 200);
  };
  addEventListener('resize', onResize);
  view.onCleanup(() => {
    removeEventListener('resize', onResize);
    clearTimeout(resizing);
  });

  await Promise.all([loadTable(), loadCharts()]);
}
