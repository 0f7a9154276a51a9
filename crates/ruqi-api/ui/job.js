// One job: every field, its next ten fire times, its runs (those of an
// earlier job under the same id only when asked for), and the log of the
// selected run, followed live while it runs, to download as a file.

import { cancelRuns, cannotBeScheduled, deleteJob, failed, offeredActions, pauseOrResume, runNow, whyNoActions } from './actions.js';
import { ApiError, canWrite, get, post, seg } from './api.js';
import { openCleanup } from './cleanup.js';
import { emptyState, errorState, h, instant, refreshElapsed, replace, runningFor, statusBadge, toast } from './dom.js';
import { downloadLog } from './download.js';
import { browserZone, dateTime, duration, morePages, pageRuns, pageTotal, plural, sameWallClock, shortId } from './format.js';
import { jobStatsCell, jobZone, nextRunCell, ruleCell, runningIndicator, triggerCell } from './jobs.js';
import { runWithArgs } from './run_with.js';

const RUNS_PER_PAGE = 15;
/** The events that end a run. */
const RUN_ENDED = new Set(['succeeded', 'failed', 'timed_out', 'cancelled', 'lost']);
/** How often a running log is read while no event says it changed. */
const TAIL_INTERVAL_MS = 1000;
/** How long a run's row may be missing before its log says so: its start is written in a batch. */
const UNRECORDED_WAIT_MS = 5000;

const jobPath = (jobId) => `jobs/${seg(jobId)}`;
const jobHref = (jobId) => `#/jobs/${encodeURIComponent(jobId)}`;
/** The address of a job's page with one run selected and its log in view. */
const runAddress = (jobId, executionId) => `/jobs/${encodeURIComponent(jobId)}/runs/${encodeURIComponent(executionId)}`;
/** Whether `run` was scheduled before `job` was created: a run of an earlier job with its id. */
const earlierThan = (job, run) => Boolean(job) && new Date(run.scheduled_for) < new Date(job.created_at);

function field(label, value, { wide = false } = {}) {
  const shown = value === null || value === undefined || value === '' ? h('span', { class: 'muted' }, '—') : value;
  return h('div', { class: wide ? 'wide' : '' }, h('dt', {}, label), h('dd', {}, shown));
}

function plainInstant(iso, zone) {
  if (!iso) return null;
  return instant(iso, zone);
}

function headChips(job) {
  const chips = [];
  if (cannotBeScheduled(job)) chips.push(h('span', { class: 'badge invalid' }, 'cannot be scheduled'));
  else if (job.is_paused) chips.push(h('span', { class: 'badge paused' }, 'paused'));
  else if (job.next_run_time) chips.push(h('span', { class: 'badge active' }, 'active'));
  else chips.push(h('span', { class: 'badge' }, 'no more fires'));
  if (job.running || job.is_running) chips.push(runningIndicator(job.running || 1));
  if (job.job_name) chips.push(h('span', { class: 'badge' }, job.job_name));
  return chips;
}

/** The job page; `runId` (from `#/jobs/<id>/runs/<execution_id>`) selects a run and scrolls to its log. */
export async function render(main, view, jobId, runId = null) {
  document.title = `${jobId} · ruqi`;
  let job = null;
  try {
    job = await get(jobPath(jobId), {}, view.signal);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
  }
  const write = canWrite();
  let runsOffset = 0;
  let selected = runId || view.params.get('run');
  /** Whether the page was opened on a run: its log is brought into view once laid out. */
  const landing = Boolean(selected);
  const showLanding = () => {
    if (landing && view.alive) logCard.scrollIntoView({ block: 'start' });
  };
  /** Whether the list shows the runs of an earlier job with this id too. */
  let showEarlier = false;

  const title = h('h1', {}, jobId);
  const chips = h('div', { class: 'chips' });
  const actions = h('div', { class: 'actions', role: 'toolbar', 'aria-label': 'Job actions' });
  const scheduleCard = h('section', { class: 'card', 'aria-labelledby': 'schedule-title' });
  const firesCard = h('section', { class: 'card', 'aria-labelledby': 'fires-title' });
  const fieldsCard = h('section', { class: 'card', 'aria-labelledby': 'fields-title' });
  const runsCard = h('section', { class: 'card', 'aria-labelledby': 'runs-title' });
  const logCard = h('section', { class: 'card', id: 'run-log', 'aria-labelledby': 'log-title' });
  /** The job's success rate and mean duration over its history, kept across redraws. */
  const statsHolder = h('span', { class: 'muted small' }, '…');

  replace(
    main,
    h('div', { class: 'breadcrumbs' }, h('a', { href: '#/jobs' }, 'Jobs'), ' / ', jobId),
    h('div', { class: 'detail-head' }, h('div', {}, title, chips), actions),
    job
      ? [h('div', { class: 'grid two' }, scheduleCard, firesCard), fieldsCard]
      : h(
          'div',
          { class: 'notice warn', role: 'status' },
          h('h2', {}, 'This job does not exist (any more)'),
          h('p', {}, 'Runs recorded before it was deleted are kept and listed below.'),
        ),
    runsCard,
    logCard,
  );

  function showJob() {
    const offered = offeredActions(job);
    const why = whyNoActions(job);
    replace(chips, headChips(job), write && why && h('span', { class: 'muted small why-not' }, why));
    replace(
      actions,
      write && [
        offered.run &&
          h('button', { type: 'button', class: 'button primary', onclick: () => runNow(job.job_id, { then: ranNow }) }, 'Run now'),
        offered.run &&
          h(
            'button',
            { type: 'button', class: 'button', onclick: () => runWithArgs(job, { then: ranNow }) },
            'Run with arguments…',
          ),
        (offered.pause || offered.resume) &&
          h(
            'button',
            { type: 'button', class: 'button', onclick: () => pauseOrResume(job, { then: refreshAll }) },
            job.is_paused ? 'Resume' : 'Pause',
          ),
        h(
          'button',
          {
            type: 'button',
            class: 'button',
            disabled: !(job.running || job.is_running),
            title: 'Stop every run of this job in progress',
            onclick: () => cancelRuns(job, refreshAll),
          },
          'Cancel runs',
        ),
        h('a', { class: 'button', href: `${jobHref(job.job_id)}/edit` }, 'Edit'),
        h(
          'a',
          { class: 'button', href: `#/new?copy=${encodeURIComponent(job.job_id)}`, title: 'A new job with these values, saved only when you create it' },
          'Copy',
        ),
        h('button', { type: 'button', class: 'button danger', onclick: () => deleteJob(job) }, 'Delete'),
      ],
    );
    const zone = jobZone(job);
    replace(
      scheduleCard,
      h('h2', { id: 'schedule-title' }, 'Schedule'),
      h(
        'dl',
        { class: 'fields two' },
        field('Rule', ruleCell(job), { wide: true }),
        field('Next run', nextRunCell(job)),
        field('Time zone', job.timezone ? job.timezone : `${zone} (scheduler default)`),
        field('Not before (start_at)', plainInstant(job.start_at, zone)),
        field('Not after (end_at)', plainInstant(job.end_at, zone)),
        field('Last status', statusBadge(job.last_status)),
        field('Success rate · avg duration', statsHolder),
        field('Held by this node', job.scheduled ? 'yes, on its timer' : 'no'),
        job.last_error && field('Last error', h('span', { class: 'last-error' }, job.last_error), { wide: true }),
      ),
    );
    replace(
      fieldsCard,
      h('h2', { id: 'fields-title' }, 'Details'),
      h(
        'dl',
        { class: 'fields' },
        field('Description', job.description, { wide: true }),
        field('Function', h('code', {}, job.func)),
        field('Group (job_name)', job.job_name),
        field('Child jobs', job.child_jobs && job.child_jobs.split(',').map((child, i) => [
          i ? ', ' : '',
          h('a', { href: jobHref(child.trim()) }, child.trim()),
        ])),
        field('Arguments', h('pre', { class: 'json' }, JSON.stringify(job.args, null, 2)), { wide: true }),
        field('Misfire grace', `${job.misfire_grace_s} s`),
        field('Misfire policy', job.misfire_policy),
        field('Overlap', job.overlap === 'allow' ? `allow (up to ${job.max_instances})` : job.overlap),
        field('Timeout', job.timeout_s ? `${job.timeout_s} s` : 'none'),
        field('Retries', job.max_retries ? `${job.max_retries}, ${job.retry_backoff} from ${job.retry_delay}` : 'none'),
        field('Max instances', String(job.max_instances)),
        field('Alert webhook', job.alert_url || 'the scheduler default'),
        field('Run requested (run_right_now)', job.run_right_now ? 'yes, waiting' : 'no'),
        field('Runs here now', String(job.running)),
        field('Version', String(job.version)),
        field('Created', plainInstant(job.created_at, zone)),
        field('Updated', plainInstant(job.updated_at, zone)),
      ),
    );
  }

  async function refreshJob() {
    if (!job) return;
    try {
      job = await get(jobPath(jobId), {}, view.signal);
      showJob();
    } catch (error) {
      if (error.name === 'AbortError') return;
      if (error.status === 404) {
        toast(`${jobId} was deleted.`);
        location.hash = '#/jobs';
      }
    }
  }

  async function refreshStats() {
    if (!job) return;
    try {
      // Since its creation: runs of an earlier job with this id are not its own.
      const stats = await get('executions/stats/jobs', { job_id: [jobId], from: job.created_at }, view.signal);
      if (!view.alive || !stats.items[0]) return;
      statsHolder.className = '';
      replace(statsHolder, jobStatsCell(stats.items[0]));
    } catch {
      // Kept as it was: the next refresh tries again.
    }
  }

  async function refreshFires() {
    if (!job) return;
    const zone = jobZone(job);
    const heading = h('h2', { id: 'fires-title' }, 'Next 10 fire times');
    if (cannotBeScheduled(job)) {
      // The API refuses the preview (409) as it refuses every schedule action.
      replace(firesCard, heading, emptyState('Cannot be scheduled', 'Edit the job to fix it; until then it never fires.'));
      return;
    }
    let fires;
    try {
      fires = await get(`${jobPath(jobId)}/next-run-times`, { n: 10 }, view.signal);
    } catch (error) {
      if (error.name === 'AbortError') return;
      replace(firesCard, heading, h('p', { class: 'muted' }, error.message));
      return;
    }
    if (fires.next_run_times.length === 0) {
      replace(
        firesCard,
        heading,
        emptyState(job.is_paused ? 'Paused' : 'No more fires', job.is_paused ? 'Nothing fires until the job is resumed.' : 'Its schedule has ended.'),
      );
      return;
    }
    const differs = fires.next_run_times.some((at) => !sameWallClock(at, browserZone, zone));
    replace(
      firesCard,
      heading,
      differs && h('p', { class: 'muted small' }, `Your time (${browserZone}), then the job's (${zone}).`),
      h(
        'ol',
        { class: differs ? 'fires two-zones' : 'fires' },
        fires.next_run_times.map((at) =>
          h(
            'li',
            {},
            h('time', { datetime: at }, dateTime(at, browserZone)),
            differs && h('span', { class: 'zone' }, dateTime(at, zone)),
          ),
        ),
      ),
    );
  }

  // ---- runs ---------------------------------------------------------------

  /** The latest read of the runs: an answer to an older one is stale and dropped. */
  let runsRead = 0;

  async function refreshRuns() {
    const read = ++runsRead;
    let page;
    let earlier = null;
    try {
      // Only this job's runs, unless asked: an earlier job with its id may have left some.
      const since = job && !showEarlier ? job.created_at : undefined;
      const runs = get(`${jobPath(jobId)}/executions`, { offset: runsOffset, limit: RUNS_PER_PAGE, from: since }, view.signal);
      const before = job ? get(`${jobPath(jobId)}/executions`, { to: job.created_at, limit: 1 }, view.signal) : null;
      [page, earlier] = await Promise.all([runs, before]);
    } catch (error) {
      if (error.name === 'AbortError' || read !== runsRead) return;
      if (!job && error.status === 404) {
        replace(
          main,
          h(
            'div',
            { class: 'notice', role: 'status' },
            h('h1', {}, 'No such job'),
            h('p', {}, 'There is no job ', h('code', {}, jobId), ', and no run of one was recorded.'),
            h('p', {}, h('a', { href: '#/jobs' }, 'Back to the jobs')),
          ),
        );
        return;
      }
      replace(runsCard, h('h2', { id: 'runs-title' }, 'Runs'), errorState(error, refreshRuns));
      return;
    }
    if (!view.alive || read !== runsRead) return;
    if (!selected && page.items.length && runsOffset === 0) select(page.items[0].id, { focus: false });
    showRuns(page, earlier?.total || 0);
  }

  /** The line under the runs that shows or hides the `count` runs of an earlier job with this id. */
  function earlierRunsLine(count) {
    if (!count) return null;
    const toggle = (show) => () => {
      showEarlier = show;
      runsOffset = 0;
      refreshRuns();
    };
    return h(
      'p',
      { class: 'earlier-runs muted small' },
      showEarlier
        ? [
            'Runs marked "earlier job" are of a job with this id deleted before this one was created. ',
            h('button', { type: 'button', class: 'button link', onclick: toggle(false) }, 'Hide them'),
          ]
        : h('button', { type: 'button', class: 'button link', onclick: toggle(true) }, `${plural(count, 'run')} of an earlier job with this id`),
    );
  }

  function showRuns(page, earlierCount) {
    const heading = h(
      'div',
      { class: 'card-head' },
      h('h2', { id: 'runs-title' }, 'Runs', h('span', { class: 'count' }, pageRuns(page))),
      write && h('button', { type: 'button', class: 'button small', onclick: () => openCleanup({ job: jobId, then: refreshAll }) }, 'Clean up…'),
    );
    if (page.items.length === 0) {
      replace(
        runsCard,
        heading,
        emptyState('No runs yet', write ? 'Run it now, or wait for its next fire.' : 'It has not fired yet.'),
        earlierRunsLine(earlierCount),
      );
      replace(logCard);
      logCard.hidden = true;
      return;
    }
    const longest = Math.max(...page.items.map((run) => run.duration_ms || 0));
    // Bars compare runs: with one run, or none that took a millisecond, they say nothing.
    const bars = page.items.length > 1 && longest > 0;
    const zone = job ? jobZone(job) : browserZone;
    const rows = page.items.map((run) =>
      h(
        'tr',
        {
          'data-execution-id': run.id,
          class: earlierThan(job, run) ? 'earlier' : null,
          'aria-selected': run.id === selected ? 'true' : 'false',
          onclick: (event) => {
            if (event.target.closest('a, button')) return;
            select(run.id, { focus: false });
          },
        },
        h('td', {}, statusBadge(run.status), earlierThan(job, run) && h('span', { class: 'sub' }, 'earlier job')),
        h('td', {}, instant(run.scheduled_for, zone)),
        h(
          'td',
          { class: 'num' },
          run.duration_ms === null ? (run.status === 'running' ? runningFor(run.started_at) : '—') : duration(run.duration_ms),
          bars &&
            run.duration_ms !== null &&
            h('span', { class: 'duration-bar', 'aria-hidden': 'true' }, h('span', { style: { width: `${(100 * run.duration_ms) / longest}%` } })),
        ),
        h('td', {}, triggerCell(run)),
        h('td', { class: 'small' }, run.node || '—'),
        h('td', { class: 'error' }, run.error || ''),
        h(
          'td',
          { class: 'actions' },
          h(
            'button',
            {
              type: 'button',
              class: 'button small',
              'aria-label': `Show the log of the run scheduled for ${dateTime(run.scheduled_for)}`,
              'aria-controls': 'run-log',
              onclick: () => select(run.id, { focus: true }),
            },
            'Log',
          ),
        ),
      ),
    );
    const last = runsOffset + page.items.length;
    replace(
      runsCard,
      heading,
      h(
        'div',
        { class: 'table-wrap', role: 'region', 'aria-label': 'Runs', tabindex: '0' },
        h(
          'table',
          { class: 'data runs' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['Status', 'Scheduled for', 'Duration', 'Source', 'Node', 'Error'].map((name) => h('th', { scope: 'col' }, name)),
              h('th', { scope: 'col', class: 'actions' }, h('span', { class: 'muted' }, 'Log')),
            ),
          ),
          h('tbody', {}, rows),
        ),
      ),
      (page.total > RUNS_PER_PAGE || page.total_exact === false) &&
        h(
          'nav',
          { class: 'pager', 'aria-label': 'Pages of runs' },
          h('span', { class: 'num' }, `${runsOffset + 1}–${last} of ${pageTotal(page)}`),
          h(
            'button',
            {
              type: 'button',
              class: 'button small',
              disabled: runsOffset === 0,
              onclick: () => {
                runsOffset = Math.max(0, runsOffset - RUNS_PER_PAGE);
                refreshRuns();
              },
            },
            '← Newer',
          ),
          h(
            'button',
            {
              type: 'button',
              class: 'button small',
              disabled: !morePages(page, last),
              onclick: () => {
                runsOffset += RUNS_PER_PAGE;
                refreshRuns();
              },
            },
            'Older →',
          ),
        ),
      earlierRunsLine(earlierCount),
    );
  }

  // ---- the selected run's log ----------------------------------------------

  let tail = null;

  function select(executionId, { focus }) {
    selected = executionId;
    const params = new URLSearchParams(view.params);
    params.delete('run');
    view.replaceAddress(runAddress(jobId, executionId), params);
    for (const row of runsCard.querySelectorAll('tr[data-execution-id]')) {
      row.setAttribute('aria-selected', row.dataset.executionId === executionId ? 'true' : 'false');
    }
    tail?.stop();
    tail = followLog(executionId);
    if (focus) {
      logCard.scrollIntoView({ block: 'nearest' });
      logCard.querySelector('h2')?.focus();
    }
  }

  /** Shows a run and its log, reading new lines until the run has ended. */
  function followLog(executionId) {
    const controller = new AbortController();
    const signal = AbortSignal.any([controller.signal, view.signal]);
    let wake = null;
    let lineCount = 0;
    const header = h('div', { class: 'log-head' });
    const errorLine = h('p', { class: 'last-error', hidden: true });
    const pre = h('pre', { class: 'log', tabindex: '0', 'aria-label': 'Run log', 'aria-live': 'off' });
    const foot = h('div', { class: 'log-foot' });
    logCard.hidden = false;
    replace(logCard, header, errorLine, pre, foot);

    const showRun = (run) => {
      const earlier = earlierThan(job, run);
      if (earlier && !showEarlier) {
        // A run of an earlier job with this id, linked to: list those runs too.
        showEarlier = true;
        refreshRuns().then(showLanding);
      }
      replace(
        header,
        h('h2', { id: 'log-title', tabindex: '-1' }, 'Log of run ', h('span', { class: 'mono', title: run.id }, shortId(run.id))),
        statusBadge(run.status),
        earlier && h('span', { class: 'badge' }, 'earlier job'),
        run.status === 'running' && run.started_at && runningFor(run.started_at),
        h(
          'span',
          { class: 'muted small' },
          [
            run.started_at ? `started ${dateTime(run.started_at)}` : `scheduled for ${dateTime(run.scheduled_for)}`,
            run.duration_ms !== null ? `took ${duration(run.duration_ms)}` : null,
            `${run.trigger_source}${run.attempt > 1 ? `, attempt ${run.attempt}` : ''}`,
            run.node && `on ${run.node}`,
          ]
            .filter(Boolean)
            .join(' · '),
        ),
        h(
          'div',
          { class: 'actions' },
          run.started_at &&
            h(
              'button',
              {
                type: 'button',
                class: 'button small',
                title: `Save the log as ${jobId}-${run.id}.log`,
                onclick: () => downloadLog(run, view.signal).catch((error) => failed('Could not download the log', error)),
              },
              'Download log',
            ),
          write &&
            run.status === 'running' &&
            h(
              'button',
              {
                type: 'button',
                class: 'button danger small',
                onclick: async () => {
                  try {
                    await post(`executions/${seg(run.id)}/cancel`);
                    toast('Asked the run to stop.', { kind: 'success' });
                    wake?.();
                  } catch (error) {
                    failed('Could not cancel the run', error);
                  }
                },
              },
              'Cancel this run',
            ),
        ),
      );
      if (run.args !== undefined) {
        header.append(
          h(
            'details',
            { class: 'given-args' },
            h('summary', {}, 'Given other arguments than the job’s'),
            h('pre', { class: 'json' }, JSON.stringify(run.args, null, 2)),
          ),
        );
      }
      errorLine.hidden = !run.error;
      errorLine.textContent = run.error || '';
    };

    const appendLines = (lines, from) => {
      const atBottom = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 24;
      if (lineCount === 0 && lines.length) pre.replaceChildren();
      const fragment = document.createDocumentFragment();
      lines.forEach((line, i) => {
        fragment.append(h('span', { class: 'line-no' }, String(from + i + 1)), `${line}\n`);
      });
      pre.append(fragment);
      lineCount = from + lines.length;
      if (atBottom) pre.scrollTop = pre.scrollHeight;
    };

    const waitForNews = () =>
      new Promise((resolve) => {
        const timer = setTimeout(resolve, TAIL_INTERVAL_MS);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
        signal.addEventListener('abort', wake, { once: true });
      });

    /**
     * The run's row (null once the log is no longer followed). A run started
     * a moment ago may not have one yet (its start is written in the
     * background, in a batch), so a missing row is looked for again, on news
     * or every second, for a few seconds.
     */
    const readRun = async () => {
      const giveUp = Date.now() + UNRECORDED_WAIT_MS;
      for (;;) {
        try {
          return await get(`executions/${seg(executionId)}`, {}, signal);
        } catch (error) {
          if (!(error instanceof ApiError) || error.status !== 404 || Date.now() > giveUp) throw error;
          pre.textContent = 'Waiting for the run to be recorded…';
          await waitForNews();
          if (signal.aborted) return null;
        }
      }
    };

    (async () => {
      try {
        let run = await readRun();
        if (!run) return;
        showRun(run);
        if (!run.started_at) {
          pre.textContent = run.status === 'missed' ? 'This fire did not run, so it has no log.' : 'No log.';
          foot.textContent = '';
          return;
        }
        const sawRunning = run.status === 'running';
        pre.textContent = sawRunning ? 'Waiting for output…' : 'This run wrote nothing.';
        let next = 0;
        for (;;) {
          const log = await get(`executions/${seg(executionId)}/log`, { from_line: next }, signal);
          if (log.lines.length) appendLines(log.lines, log.from_line);
          next = log.next_line;
          replace(
            foot,
            h('span', {}, plural(lineCount, 'line')),
            log.finished ? h('span', {}, 'finished') : h('span', { class: 'badge running' }, 'following'),
            log.truncated && h('span', { class: 'last-error' }, 'cut at 64 KiB'),
          );
          if (log.finished) break;
          await waitForNews();
          if (signal.aborted) return;
        }
        run = await get(`executions/${seg(executionId)}`, {}, signal);
        showRun(run);
        if (lineCount === 0) pre.textContent = 'This run wrote nothing.';
        if (sawRunning) refreshAll();
      } catch (error) {
        if (error.name === 'AbortError') return;
        replace(foot, h('span', { class: 'last-error' }, `Could not read the log: ${error.message}`));
      }
    })();

    return {
      executionId,
      poke: () => wake?.(),
      stop: () => controller.abort(),
    };
  }

  function ranNow(executionId) {
    runsOffset = 0;
    if (executionId) select(executionId, { focus: false });
    refreshAll();
  }

  function refreshAll() {
    refreshJob().then(refreshFires);
    refreshRuns();
    refreshStats();
  }

  let pending = null;
  view.onCleanup(() => clearTimeout(pending));
  view.onEvent((event) => {
    if (event.job_id !== jobId) return;
    if (tail && event.execution_id === tail.executionId) tail.poke();
    clearTimeout(pending);
    // A run that ended shows at once; other news waits a beat so that a burst costs one read.
    pending = setTimeout(refreshAll, RUN_ENDED.has(event.event) ? 0 : 200);
  });
  // Without events, poll; while a run is in progress, look every 2 s too: it
  // may run on another node, whose events this stream does not carry.
  let ticks = 0;
  view.every(2000, () => {
    ticks += 1;
    const running = job && (job.running || job.is_running);
    if ((!view.eventsLive && ticks % 3 === 0) || running) refreshAll();
  });

  // A running run's elapsed time, once a second.
  view.every(1000, () => refreshElapsed(main));

  if (job) showJob();
  else replace(actions);
  if (selected) select(selected, { focus: false });
  else logCard.hidden = true;
  await Promise.all([refreshFires(), refreshRuns(), refreshStats()]);
  showLanding();
}
