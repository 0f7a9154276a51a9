// Times, durations and sizes as people read them. Instants are shown in the
// browser's zone, and in the job's zone when that reads differently.

export const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

const formatters = new Map();

function formatter(zone, options) {
  const key = `${zone}|${JSON.stringify(options)}`;
  let found = formatters.get(key);
  if (!found) {
    try {
      found = new Intl.DateTimeFormat(undefined, { ...options, timeZone: zone });
    } catch {
      // A zone this browser does not know: UTC, and the zone is named anyway.
      found = new Intl.DateTimeFormat(undefined, { ...options, timeZone: 'UTC' });
    }
    formatters.set(key, found);
  }
  return found;
}

const FULL = {
  weekday: 'short',
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
};

/** "Tue, May 5, 02:20:00" in `zone`, with the year when it is not this one. */
export function dateTime(iso, zone = browserZone, { zoneName = false } = {}) {
  if (!iso) return '';
  const date = new Date(iso);
  const options = { ...FULL };
  if (date.getFullYear() !== new Date().getFullYear()) options.year = 'numeric';
  if (zoneName) options.timeZoneName = 'short';
  return formatter(zone, options).format(date);
}

/** Whether `iso` reads the same on the wall clocks of both zones. */
export function sameWallClock(iso, zoneA, zoneB) {
  if (zoneA === zoneB) return true;
  return dateTime(iso, zoneA) === dateTime(iso, zoneB);
}

const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const UNITS = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['week', 7 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
  ['second', 1],
];

/** "in 5 minutes", "3 hours ago", "now". */
export function relative(iso, now = Date.now()) {
  if (!iso) return '';
  const seconds = (new Date(iso).getTime() - now) / 1000;
  const size = Math.abs(seconds);
  if (size < 1) return 'now';
  for (const [unit, length] of UNITS) {
    if (size >= length || unit === 'second') {
      return relativeFormat.format(Math.trunc(seconds / length), unit);
    }
  }
  return '';
}

/** 850 ms, 1.2 s, 3 min 05 s, 1 h 02 min. */
export function duration(ms) {
  if (ms === null || ms === undefined) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${String(Math.floor(seconds % 60)).padStart(2, '0')} s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${String(minutes % 60).padStart(2, '0')} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** How long a run has been going: whole seconds ("42 s") under a minute, then as `duration`. */
export function elapsed(ms) {
  const clamped = Math.max(0, ms);
  return clamped < 60000 ? `${Math.floor(clamped / 1000)} s` : duration(clamped);
}

/** The tail of a UUID v7: its head is a timestamp and alike for runs close together. */
export function shortId(id) {
  return id && id.length > 12 ? `…${id.slice(-8)}` : id || '';
}

/** `iso` as the value of an `<input type="datetime-local">` in the browser's zone. */
export function toLocalInput(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  const pad = (n) => String(n).padStart(2, '0');
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

/** The value of an `<input type="datetime-local">` (browser's zone) as RFC 3339, or null. */
export function fromLocalInput(value) {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

export const plural = (n, one, many = `${one}s`) => `${n.toLocaleString()} ${n === 1 ? one : many}`;

// A page's total as the API gives it: exact, or (`total_exact` false) the
// number its count stopped at, which more rows match.
export const pageTotal = (page) => (page.total_exact === false ? `${page.total.toLocaleString()}+` : page.total.toLocaleString());
export const pageRuns = (page) => (page.total_exact === false ? `at least ${plural(page.total, 'run')}` : plural(page.total, 'run'));
// Whether rows follow the page that ends at `last`.
export const morePages = (page, last) => page.total_exact === false || last < page.total;
