// Charts drawn as inline SVG: runs per time bucket stacked by status, and run
// durations (mean and longest per bucket) over time. Colours come from the stylesheet (fill-<status>), so
// both follow the light or dark scheme. Every label, bar and dot stays inside
// the picture: the left margin fits the widest value label, time labels at
// either end are pulled in, and bars and dots are kept within the plot.

const NS = 'http://www.w3.org/2000/svg';
const MINUTE = 60 * 1000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const MARGIN = { top: 12, right: 12, bottom: 24, left: 44 };
const HEIGHT = 210;
/** The labels' font, as the stylesheet sets it (`.chart text`), for measuring them. */
const LABEL_FONT = '11px system-ui, sans-serif';

let measuring = null;

/** The width of `text` as a label, in CSS pixels (rounded up, with a pixel to spare). */
function labelWidth(text) {
  measuring ??= document.createElement('canvas').getContext('2d');
  if (!measuring) return text.length * 7;
  measuring.font = LABEL_FONT;
  return Math.ceil(measuring.measureText(text).width) + 1;
}

/** The left margin that fits every value label beside the plot. */
function leftMargin(labels) {
  return Math.max(MARGIN.left, 6 + Math.max(0, ...labels.map(labelWidth)) + 4);
}

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

/** The time ticks and their labels; a label that would stick out of `width` at either end is pulled in. */
function timeAxis(group, from, to, x, plotBottom, width) {
  const { ticks, step } = timeTicks(from, to);
  for (const at of ticks) {
    const label = tickLabel(at, step);
    const half = labelWidth(label) / 2;
    const anchor = x(at) + half > width ? 'end' : x(at) - half < 0 ? 'start' : 'middle';
    const labelX = anchor === 'end' ? width - 1 : anchor === 'start' ? 1 : x(at);
    group.append(
      s('line', { class: 'grid-line', x1: x(at), x2: x(at), y1: MARGIN.top, y2: plotBottom }),
      s('text', { x: labelX, y: plotBottom + 16, 'text-anchor': anchor }, label),
    );
  }
}

/** "100ms", "10s", "17min", "2.8h": a power of ten of milliseconds, short enough for the axis. */
function durationLabel(ms) {
  if (ms < 1000) return `${ms}ms`;
  const seconds = ms / 1000;
  if (seconds < 1000) return `${seconds}s`;
  const round = (n) => (n < 10 ? n.toFixed(1).replace(/\.0$/, '') : Math.round(n).toLocaleString());
  if (seconds < 3600) return `${round(seconds / 60)}min`;
  if (seconds < 48 * 3600) return `${round(seconds / 3600)}h`;
  return `${round(seconds / 86400)}d`;
}

/**
 * Stacked bars of runs per bucket: `buckets` are `{start, counts: {status: n}}`
 * of `bucketMs` each, from `from` to `to`; `statuses` gives the stacking order.
 */
export function runsChart({ buckets, bucketMs, from, to, statuses, width, label }) {
  const chart = svg(width, label);
  const totals = buckets.map((b) => Object.values(b.counts).reduce((a, n) => a + n, 0));
  // Whole-number gridlines: a step of 1, 2 or 5 × 10^k, four or five of them.
  const step = niceCeiling(Math.max(1, ...totals) / 4);
  const top = Math.max(4, Math.ceil(Math.max(1, ...totals) / step) * step);
  const values = [];
  for (let value = 0; value <= top; value += step) values.push(value);
  const left = leftMargin(values.map((value) => value.toLocaleString()));
  const plotRight = width - MARGIN.right;
  const plotWidth = plotRight - left;
  const plotBottom = HEIGHT - MARGIN.bottom;
  const plotHeight = plotBottom - MARGIN.top;
  const x = (at) => left + ((at - from) / (to - from)) * plotWidth;
  const y = (n) => plotBottom - (n / top) * plotHeight;

  const grid = s('g', {});
  for (const value of values) {
    grid.append(
      s('line', { class: 'grid-line', x1: left, x2: plotRight, y1: y(value), y2: y(value) }),
      s('text', { x: left - 6, y: y(value) + 4, 'text-anchor': 'end' }, value.toLocaleString()),
    );
  }
  timeAxis(grid, from, to, x, plotBottom, width);
  chart.append(grid);

  const bars = s('g', {});
  buckets.forEach((bucket, i) => {
    if (!totals[i]) return;
    // The bucket's span within the plot: the current one may reach past the range's end.
    const barLeft = Math.max(left, x(bucket.start) + 0.5);
    const barWidth = Math.max(1, Math.min(plotRight, x(bucket.start + bucketMs) - 0.5) - barLeft);
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
            x: barLeft,
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
  chart.append(bars, s('line', { class: 'axis', x1: left, x2: plotRight, y1: plotBottom, y2: plotBottom }));
  return chart;
}

/**
 * Durations over time on a logarithmic scale: `points` are `{at, ms, kind,
 * title}`, drawn with the `fill-<kind>` colour.
 */
export function durationChart({ points, from, to, width, label }) {
  const chart = svg(width, label);
  const values = points.map((p) => Math.max(1, p.ms));
  const low = Math.floor(Math.log10(Math.min(...values, 10)));
  const high = Math.max(low + 1, Math.ceil(Math.log10(Math.max(...values, 10))));
  const powers = [];
  for (let power = low; power <= high; power++) powers.push(10 ** power);
  const left = leftMargin(powers.map(durationLabel));
  const plotRight = width - MARGIN.right;
  const plotWidth = plotRight - left;
  const plotBottom = HEIGHT - MARGIN.bottom;
  const plotHeight = plotBottom - MARGIN.top;
  const x = (at) => left + ((at - from) / (to - from)) * plotWidth;
  const y = (ms) => plotBottom - ((Math.log10(Math.max(1, ms)) - low) / (high - low)) * plotHeight;

  const grid = s('g', {});
  for (const ms of powers) {
    grid.append(
      s('line', { class: 'grid-line', x1: left, x2: plotRight, y1: y(ms), y2: y(ms) }),
      s('text', { x: left - 6, y: y(ms) + 4, 'text-anchor': 'end' }, durationLabel(ms)),
    );
  }
  timeAxis(grid, from, to, x, plotBottom, width);
  chart.append(grid);

  const radius = 3.2;
  const dots = s('g', {});
  for (const point of points) {
    // A bucket's middle may lie past the range's end (the current hour): its dot stays on the plot.
    const cx = Math.min(plotRight - radius, Math.max(left + radius, x(point.at)));
    dots.append(
      s(
        'circle',
        { class: `fill-${point.kind}`, cx, cy: y(point.ms), r: radius, 'fill-opacity': 0.8 },
        s('title', {}, point.title),
      ),
    );
  }
  chart.append(dots, s('line', { class: 'axis', x1: left, x2: plotRight, y1: plotBottom, y2: plotBottom }));
  return chart;
}

export const BUCKET = { MINUTE, HOUR, DAY };
