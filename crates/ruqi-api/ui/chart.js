// Charts drawn as inline SVG: runs per time bucket stacked by status, and run
// durations (mean and longest per bucket) over time. Colours come from the stylesheet (fill-<status>), so
// both follow the light or dark scheme.

import { duration } from './format.js';

const NS = 'http://www.w3.org/2000/svg';
const MINUTE = 60 * 1000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const MARGIN = { top: 10, right: 12, bottom: 24, left: 44 };
const HEIGHT = 210;

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function svg(width, label) {
  return s('svg', {
    class: 'chart',
    viewBox: `0 0 ${width} ${HEIGHT}`,
    width,
    height: HEIGHT,
    role: 'img',
    'aria-label': label,
    preserveAspectRatio: 'xMinYMin meet',
  });
}

/** The smallest whole 1, 2 or 5 times a power of ten that is at least `value`. */
function niceCeiling(value) {
  if (value <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((m) => m * power).find((n) => n >= value);
}

const TICK_STEPS = [MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY];

/** Round instants (local minutes, hours or midnights) between `from` and `to`, at most about eight. */
function timeTicks(from, to) {
  const step = TICK_STEPS.find((candidate) => (to - from) / candidate <= 8) || TICK_STEPS.at(-1);
  const start = new Date(from);
  if (step < HOUR) {
    start.setSeconds(0, 0);
    const minutes = step / MINUTE;
    start.setMinutes(Math.ceil(start.getMinutes() / minutes) * minutes);
  } else if (step < DAY) {
    start.setMinutes(0, 0, 0);
    const hours = step / HOUR;
    start.setHours(Math.ceil(start.getHours() / hours) * hours);
  } else {
    start.setHours(0, 0, 0, 0);
  }
  const ticks = [];
  for (let at = start.getTime(); at <= to; at += step) {
    if (at >= from) ticks.push(at);
  }
  return { ticks, step };
}

const hourLabel = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const dayLabel = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });

function tickLabel(at, step) {
  const date = new Date(at);
  if (step >= DAY || (date.getHours() === 0 && date.getMinutes() === 0)) return dayLabel.format(date);
  return hourLabel.format(date);
}

function timeAxis(group, from, to, x, plotBottom) {
  const { ticks, step } = timeTicks(from, to);
  for (const at of ticks) {
    group.append(
      s('line', { class: 'grid-line', x1: x(at), x2: x(at), y1: MARGIN.top, y2: plotBottom }),
      s('text', { x: x(at), y: plotBottom + 16, 'text-anchor': 'middle' }, tickLabel(at, step)),
    );
  }
}

/**
 * Stacked bars of runs per bucket: `buckets` are `{start, counts: {status: n}}`
 * of `bucketMs` each, from `from` to `to`; `statuses` gives the stacking order.
 */
export function runsChart({ buckets, bucketMs, from, to, statuses, width, label }) {
  const chart = svg(width, label);
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const plotBottom = HEIGHT - MARGIN.bottom;
  const plotHeight = plotBottom - MARGIN.top;
  const x = (at) => MARGIN.left + ((at - from) / (to - from)) * plotWidth;
  const totals = buckets.map((b) => Object.values(b.counts).reduce((a, n) => a + n, 0));
  // Whole-number gridlines: a step of 1, 2 or 5 × 10^k, four or five of them.
  const step = niceCeiling(Math.max(1, ...totals) / 4);
  const top = Math.max(4, Math.ceil(Math.max(1, ...totals) / step) * step);
  const y = (n) => plotBottom - (n / top) * plotHeight;

  const grid = s('g', {});
  for (let value = 0; value <= top; value += step) {
    grid.append(
      s('line', { class: 'grid-line', x1: MARGIN.left, x2: width - MARGIN.right, y1: y(value), y2: y(value) }),
      s('text', { x: MARGIN.left - 6, y: y(value) + 4, 'text-anchor': 'end' }, value.toLocaleString()),
    );
  }
  timeAxis(grid, from, to, x, plotBottom);
  chart.append(grid);

  const barWidth = Math.max(1, (bucketMs / (to - from)) * plotWidth - 1);
  const bars = s('g', {});
  buckets.forEach((bucket, i) => {
    if (!totals[i]) return;
    let base = 0;
    const when = new Date(bucket.start).toLocaleString();
    for (const status of statuses) {
      const n = bucket.counts[status] || 0;
      if (!n) continue;
      bars.append(
        s(
          'rect',
          {
            class: `fill-${status}`,
            x: x(bucket.start) + 0.5,
            y: y(base + n),
            width: barWidth,
            height: Math.max(1, y(base) - y(base + n)),
          },
          s('title', {}, `${when}: ${n} ${status}`),
        ),
      );
      base += n;
    }
  });
  chart.append(bars, s('line', { class: 'axis', x1: MARGIN.left, x2: width - MARGIN.right, y1: plotBottom, y2: plotBottom }));
  return chart;
}

/**
 * Durations over time on a logarithmic scale: `points` are `{at, ms, kind,
 * title}`, drawn with the `fill-<kind>` colour.
 */
export function durationChart({ points, from, to, width, label }) {
  const chart = svg(width, label);
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const plotBottom = HEIGHT - MARGIN.bottom;
  const plotHeight = plotBottom - MARGIN.top;
  const x = (at) => MARGIN.left + ((at - from) / (to - from)) * plotWidth;
  const values = points.map((p) => Math.max(1, p.ms));
  const low = Math.floor(Math.log10(Math.min(...values, 10)));
  const high = Math.max(low + 1, Math.ceil(Math.log10(Math.max(...values, 10))));
  const y = (ms) => plotBottom - ((Math.log10(Math.max(1, ms)) - low) / (high - low)) * plotHeight;

  const grid = s('g', {});
  for (let power = low; power <= high; power++) {
    const ms = 10 ** power;
    grid.append(
      s('line', { class: 'grid-line', x1: MARGIN.left, x2: width - MARGIN.right, y1: y(ms), y2: y(ms) }),
      s('text', { x: MARGIN.left - 6, y: y(ms) + 4, 'text-anchor': 'end' }, duration(ms).replace(' ', '')),
    );
  }
  timeAxis(grid, from, to, x, plotBottom);
  chart.append(grid);

  const dots = s('g', {});
  for (const point of points) {
    dots.append(
      s(
        'circle',
        { class: `fill-${point.kind}`, cx: x(point.at), cy: y(point.ms), r: 3.2, 'fill-opacity': 0.8 },
        s('title', {}, point.title),
      ),
    );
  }
  chart.append(dots, s('line', { class: 'axis', x1: MARGIN.left, x2: width - MARGIN.right, y1: plotBottom, y2: plotBottom }));
  return chart;
}

export const BUCKET = { MINUTE, HOUR, DAY };
