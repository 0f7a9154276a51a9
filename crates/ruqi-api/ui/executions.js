// Run history of every job: filters by status, job and time range; runs per
// hour (or day) by status and run durations as charts; and the runs as a list.

import { get } from './api.js';
import { BUCKET, durationChart, runsChart } from './chart.js';
import { emptyState, errorState, h, instant, replace, statusBadge } from './dom.js';
import { duration, fromLocalInput, plural, shortId, toLocalInput } from './format.js';

const STATUSES = ['success', 'failed', 'timeout', 'cancelled', 'missed', 'lost', 'running'];
const RANGES = [
  ['1h', 'Last hour', BUCKET.HOUR],
  ['24h', 'Last 24 hours', 24 * BUCKET.HOUR],
  ['7d', 'Last 7 days', 7 * BUCKET.DAY],
  ['30d', 'Last 30 days', 30 * BUCKET.DAY],
  ['custom', 'From – to', null],
];
const PAGE = 50;
/** Runs read at most for the charts. */
const CHART_CAP = 3000;

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
    range: params.get('range') || '24h',
    from: params.get('from') || '',
    to: params.get('to') || '',
  };
  let offset = Number(params.get('offset')) || 0;

  const jobIds = await get('jobs', { limit: 1000 }, view.signal)
    .then((page) => page.items.map((job) => job.job_id))
    .catch(() => []);

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
      h('label', { for: 'filter-job' }, 'Job'),
      h('input', { id: 'filter-job', name: 'job_id', type: 'search', list: 'job-ids', placeholder: 'any job', value: filters.job_id }),
      h('datalist', { id: 'job-ids' }, jobIds.map((id) => h('option', { value: id }))),
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
    h('div', { class: 'view-head' }, h('div', {}, h('h1', {}, 'Executions'), summary)),
    filterForm,
    charts,
    h('section', { class: 'card', 'aria-label': 'Runs' }, results),
  );

  /** The instants the filters cover, for the query and the charts' axis. */
  const timeWindow = () => {
    const now = Date.now();
    if (filters.range === 'custom') {
      const from = filters.from ? new Date(filters.from).getTime() : now - 24 * BUCKET.HOUR;
      const to = filters.to ? new Date(filters.to).getTime() : now;
      return { from: Math.min(from, to - BUCKET.HOUR), to };
    }
    const length = RANGES.find(([value]) => value === filters.range)?.[2] || 24 * BUCKET.HOUR;
    return { from: now - length, to: now };
  };

  const query = () => {
    const { from, to } = timeWindow();
    return {
      status: filters.status,
      job_id: filters.job_id.trim(),
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
    clearTimeout(typing);
    typing = setTimeout(loadAll, event.target.type === 'search' ? 300 : 0);
  });
  filterForm.addEventListener('submit', (event) => event.preventDefault());
  filterForm.addEventListener('reset', (event) => {
    event.preventDefault();
    Object.assign(filters, { status: '', job_id: '', range: '24h', from: '', to: '' });
    for (const el of filterForm.elements) if (el.name in filters) el.value = filters[el.name];
    customFields.hidden = true;
    offset = 0;
    syncParams();
    loadAll();
  });

  async function loadTable() {
    let page;
    try {
      page = await get('executions', { ...query(), offset, limit: PAGE }, view.signal);
    } catch (error) {
      if (error.name === 'AbortError') return;
      replace(results, errorState(error, loadTable));
      return;
    }
    if (!view.alive) return;
    summary.textContent = `${plural(page.total, 'run')} in this range`;
    if (page.items.length === 0) {
      replace(
        results,
        emptyState(
          'No runs match',
          filters.status || filters.job_id ? 'Nothing with these filters in this time range.' : 'Nothing ran in this time range.',
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
        h('td', { class: 'num' }, run.duration_ms === null ? (run.status === 'running' ? 'running…' : '—') : duration(run.duration_ms)),
        h('td', {}, run.trigger_source, run.attempt > 1 && h('span', { class: 'sub' }, `attempt ${run.attempt}`)),
        h('td', { class: 'small' }, run.node || '—'),
        h('td', { class: 'error' }, run.error || ''),
        h(
          'td',
          { class: 'actions' },
          h(
            'a',
            {
              class: 'button small',
              href: `#/jobs/${encodeURIComponent(run.job_id)}?run=${encodeURIComponent(run.id)}`,
              'aria-label': `Log of run ${shortId(run.id)} of ${run.job_id}`,
            },
            'Log',
          ),
        ),
      ),
    );
    const last = offset + page.items.length;
    const turn = (by) => () => {
      offset = Math.max(0, offset + by);
      syncParams();
      loadTable();
    };
    replace(
      results,
      h(
        'div',
        { class: 'table-wrap' },
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
      h(
        'nav',
        { class: 'pager', 'aria-label': 'Pages of runs' },
        h('span', { class: 'num' }, `${offset + 1}–${last} of ${page.total}`),
        h('button', { type: 'button', class: 'button small', disabled: offset === 0, onclick: turn(-PAGE) }, '← Newer'),
        h('button', { type: 'button', class: 'button small', disabled: last >= page.total, onclick: turn(PAGE) }, 'Older →'),
      ),
    );
  }

  let chartData = null;

  async function loadCharts() {
    const { from, to } = timeWindow();
    const runs = [];
    let total = Infinity;
    try {
      while (runs.length < total && runs.length < CHART_CAP) {
        const page = await get('executions', { ...query(), offset: runs.length, limit: 1000 }, view.signal);
        total = page.total;
        runs.push(...page.items);
        if (page.items.length === 0) break;
      }
    } catch (error) {
      if (error.name === 'AbortError') return;
      replace(charts, errorState(error, loadCharts));
      return;
    }
    if (!view.alive) return;
    chartData = { runs, total, from, to };
    drawCharts();
  }

  function drawCharts() {
    if (!chartData || !view.alive) return;
    const { runs, total, from, to } = chartData;
    const bucketMs = to - from > 8 * BUCKET.DAY ? BUCKET.DAY : BUCKET.HOUR;
    const per = bucketMs === BUCKET.DAY ? 'day' : 'hour';
    const bucketStart = (at) => {
      const date = new Date(at);
      if (bucketMs === BUCKET.DAY) date.setHours(0, 0, 0, 0);
      else date.setMinutes(0, 0, 0);
      return date.getTime();
    };
    const buckets = new Map();
    for (let at = bucketStart(from); at <= to; at += bucketMs) buckets.set(bucketStart(at), { start: bucketStart(at), counts: {} });
    const byStatus = {};
    const points = [];
    for (const run of runs) {
      const at = new Date(run.scheduled_for).getTime();
      const bucket = buckets.get(bucketStart(at));
      if (bucket) bucket.counts[run.status] = (bucket.counts[run.status] || 0) + 1;
      byStatus[run.status] = (byStatus[run.status] || 0) + 1;
      if (run.duration_ms !== null && run.started_at) points.push({ at, ms: run.duration_ms, status: run.status, job_id: run.job_id });
    }
    const counted = STATUSES.filter((status) => byStatus[status]);
    const spoken = counted.map((status) => `${byStatus[status]} ${status}`).join(', ') || 'no runs';
    const capped = total > runs.length ? `The charts show the newest ${runs.length.toLocaleString()} of ${total.toLocaleString()} runs.` : '';
    const runsCard = h('section', { class: 'card', 'aria-labelledby': 'chart-runs-title' }, h('h2', { id: 'chart-runs-title' }, `Runs per ${per}`));
    const durationsCard = h(
      'section',
      { class: 'card', 'aria-labelledby': 'chart-durations-title' },
      h('h2', { id: 'chart-durations-title' }, 'Run durations'),
    );
    replace(charts, runsCard, durationsCard);
    const width = contentWidth(runsCard);
    runsCard.append(
      runsChart({
        buckets: [...buckets.values()],
        bucketMs,
        from: bucketStart(from),
        to,
        statuses: STATUSES,
        width,
        label: `Runs per ${per} by status: ${spoken}.`,
      }),
      h(
        'div',
        { class: 'legend', 'aria-hidden': 'true' },
        counted.map((status) => h('span', { class: `key-${status}` }, `${status} ${byStatus[status]}`)),
      ),
    );
    if (capped) runsCard.append(h('p', { class: 'muted small' }, capped));
    durationsCard.append(
      points.length
        ? durationChart({
            points,
            from: bucketStart(from),
            to,
            width,
            label: `${plural(points.length, 'run')} with a duration, from ${duration(Math.min(...points.map((p) => p.ms)))} to ${duration(Math.max(...points.map((p) => p.ms)))}.`,
          })
        : emptyState('No durations', 'No run in this range has finished.'),
    );
  }

  function loadAll() {
    loadTable();
    loadCharts();
  }

  let pending = null;
  view.onCleanup(() => clearTimeout(pending));
  view.onEvent((event) => {
    if (!event.execution_id) return;
    clearTimeout(pending);
    pending = setTimeout(loadAll, 1000);
  });
  view.every(10000, () => {
    if (!view.eventsLive) loadAll();
  });
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
