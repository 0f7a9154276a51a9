// The scheduler of the serving process and every live node on the database:
// job counts, runs in progress, the next wake-up and each node's heartbeat.

import { canWrite, get, post } from './api.js';
import { errorState, h, instant, replace, toast } from './dom.js';
import { dateTime, plural, relative } from './format.js';

const REFRESH_MS = 2000;
/** A heartbeat older than this is shown as late (the default interval is 5 s). */
const LATE_HEARTBEAT_MS = 15000;

function stat(label, value, { small = false, title = null } = {}) {
  return h(
    'div',
    { class: 'card stat', title },
    h('div', { class: 'label' }, label),
    h('div', { class: `value ${small ? 'small-value' : ''}` }, value),
  );
}

export async function render(main, view) {
  document.title = 'Scheduler · ruqi';
  const content = h('div', {}, h('p', { class: 'loading' }, 'Loading the scheduler…'));
  replace(
    main,
    h(
      'div',
      { class: 'view-head' },
      h('div', {}, h('h1', {}, 'Scheduler'), h('p', { class: 'sub' }, 'This process and the nodes sharing its database.')),
      canWrite() &&
        h(
          'div',
          { class: 'actions' },
          h(
            'button',
            {
              type: 'button',
              class: 'button',
              title: 'Make the timer re-check its deadlines now, e.g. after the system clock changed',
              onclick: async () => {
                try {
                  await post('scheduler/wake-up');
                  toast('The scheduler re-checked its deadlines.', { kind: 'success' });
                  load();
                } catch (error) {
                  toast(`Could not wake it up: ${error.message}`, { kind: 'error' });
                }
              },
            },
            'Wake up',
          ),
        ),
    ),
    content,
  );

  async function load() {
    let status;
    try {
      status = await get('scheduler/status', {}, view.signal);
    } catch (error) {
      if (error.name === 'AbortError') return;
      replace(content, errorState(error, load));
      return;
    }
    if (!view.alive) return;
    const now = Date.now();
    const nodes = [...status.nodes].sort((a, b) => a.node.localeCompare(b.node));
    replace(
      content,
      status.shutting_down &&
        h('div', { class: 'notice warn', role: 'status' }, h('p', {}, 'This scheduler is shutting down: it fires nothing new.')),
      h(
        'div',
        { class: 'stats' },
        stat('Jobs held', status.jobs),
        stat('Scheduled', status.scheduled),
        stat('Paused', status.paused),
        stat('Invalid', status.invalid, { title: 'Rows that cannot be scheduled; their last_error says why' }),
        stat('Running here', status.running),
        stat(
          'Next wake-up',
          status.next_wakeup
            ? h('span', {}, h('span', { 'data-relative': status.next_wakeup }, relative(status.next_wakeup, now)))
            : 'nothing scheduled',
          { small: true, title: status.next_wakeup ? dateTime(status.next_wakeup, undefined, { zoneName: true }) : null },
        ),
      ),
      h(
        'div',
        { class: 'grid two' },
        h(
          'section',
          { class: 'card', 'aria-labelledby': 'nodes-title' },
          h('h2', { id: 'nodes-title' }, 'Nodes', h('span', { class: 'count' }, plural(nodes.length, 'live node'))),
          h(
            'div',
            { class: 'table-wrap', role: 'region', 'aria-label': 'Nodes', tabindex: '0' },
            h(
              'table',
              { class: 'data nodes' },
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  ['Node', 'Host', 'Process', 'Started', 'Heartbeat'].map((name) => h('th', { scope: 'col' }, name)),
                ),
              ),
              h(
                'tbody',
                {},
                nodes.map((node) => {
                  const age = now - new Date(node.heartbeat_at).getTime();
                  return h(
                    'tr',
                    { 'data-node': node.node },
                    h('td', { class: 'id' }, node.node, node.node === status.node && h('span', { class: 'sub' }, 'this process')),
                    h('td', {}, node.host || '—'),
                    h('td', { class: 'num' }, node.pid ?? '—'),
                    h('td', {}, instant(node.started_at)),
                    h(
                      'td',
                      {},
                      h(
                        'span',
                        { class: `heartbeat ${age > LATE_HEARTBEAT_MS ? 'stale' : ''}`, title: dateTime(node.heartbeat_at, undefined, { zoneName: true }) },
                        h('span', { 'data-relative': node.heartbeat_at }, relative(node.heartbeat_at, now)),
                        age > LATE_HEARTBEAT_MS && ' (late)',
                      ),
                    ),
                  );
                }),
              ),
            ),
          ),
        ),
        h(
          'section',
          { class: 'card', 'aria-labelledby': 'process-title' },
          h('h2', { id: 'process-title' }, 'This process'),
          h(
            'dl',
            { class: 'fields two' },
            h('div', {}, h('dt', {}, 'Node'), h('dd', { class: 'mono' }, status.node)),
            h('div', {}, h('dt', {}, 'Started'), h('dd', {}, instant(status.started_at))),
            h('div', {}, h('dt', {}, 'Next wake-up'), h('dd', {}, instant(status.next_wakeup))),
            h('div', {}, h('dt', {}, 'Default time zone'), h('dd', {}, status.default_timezone || 'UTC')),
            h('div', {}, h('dt', {}, 'Runs in progress'), h('dd', {}, String(status.running))),
            h('div', {}, h('dt', {}, 'Shutting down'), h('dd', {}, status.shutting_down ? 'yes' : 'no')),
          ),
        ),
      ),
    );
  }

  view.every(REFRESH_MS, load);
  await load();
}
