// The pages of a list: where this page stands, Previous and Next, page
// numbers (the first, a window around the current one and, when the total is
// exact, the last), a "go to page" box and the page size. Shared by the jobs
// and the executions lists.

import { h } from './dom.js';

/** Page numbers shown either side of the current one. */
const WINDOW = 2;

/**
 * The page numbers to show, with `null` for a gap: `[1, null, 4, 5, 6, 7, 8, null, 40]`.
 * Without an exact total the last page is unknown: a gap ends the list instead.
 */
export function pageNumbers(current, known, exact) {
  const numbers = new Set([1, current]);
  for (let n = current - WINDOW; n <= current + WINDOW; n += 1) {
    if (n >= 1 && n <= known) numbers.add(n);
  }
  if (exact) numbers.add(known);
  const sorted = [...numbers].filter((n) => n >= 1).sort((a, b) => a - b);
  const shown = [];
  for (const n of sorted) {
    const previous = shown.at(-1);
    // A gap of one page is that page, not an ellipsis.
    if (previous !== undefined && n - previous === 2) shown.push(previous + 1);
    else if (previous !== undefined && n - previous > 2) shown.push(null);
    shown.push(n);
  }
  // Pages past the known ones may exist.
  if (!exact) shown.push(null);
  return shown;
}

/**
 * A `nav.pager` for a page of a list. `offset`, `limit`, `shown` (rows on this
 * page), `total` and `exact` (false: `total` is only a lower bound, as on
 * executions lists) describe the page; `go(offset)` and `resize(limit)` turn
 * it. `id` keeps the controls' ids unique; `labels` names Previous and Next.
 */
export function pager({ id, label, offset, limit, shown, total, exact = true, sizes = [], go, resize, labels = ['← Previous', 'Next →'] }) {
  const current = Math.floor(offset / limit) + 1;
  const last = offset + shown;
  // Pages the total proves exist; with an inexact total there may be more.
  const known = Math.max(current, Math.ceil(total / limit));
  const more = exact ? last < total : true;
  const toPage = (n) => go(Math.max(0, (n - 1) * limit));
  const numbers = pageNumbers(current, known, exact).map((n) =>
    n === null
      ? h('span', { class: 'gap', 'aria-hidden': 'true' }, '…')
      : h(
          'button',
          {
            type: 'button',
            class: `button small page${n === current ? ' current' : ''}`,
            'aria-label': `Page ${n}${exact && n === known ? ', the last' : ''}`,
            'aria-current': n === current ? 'page' : null,
            'data-focus-key': `${id}-page-${n}`,
            onclick: () => n !== current && toPage(n),
          },
          String(n),
        ),
  );
  const goInput = h('input', {
    id: `${id}-go`,
    type: 'number',
    min: '1',
    max: exact ? String(known) : null,
    step: '1',
    inputmode: 'numeric',
    class: 'go-page',
    placeholder: String(current),
    'data-focus-key': `${id}-go`,
  });
  const goForm = h(
    'form',
    {
      class: 'go-to',
      onsubmit: (event) => {
        event.preventDefault();
        const wanted = Math.trunc(Number(goInput.value));
        if (!wanted || wanted < 1) {
          goInput.select();
          return;
        }
        toPage(exact ? Math.min(wanted, known) : wanted);
      },
    },
    h('label', { for: `${id}-go`, class: 'small' }, 'Go to page'),
    goInput,
    h('button', { type: 'submit', class: 'button small', 'data-focus-key': `${id}-go-button` }, 'Go'),
  );
  return h(
    'nav',
    { class: 'pager', 'aria-label': label },
    h('span', { class: 'num' }, `${(shown ? offset + 1 : offset).toLocaleString()}–${last.toLocaleString()} of ${total.toLocaleString()}${exact ? '' : '+'}`),
    h(
      'button',
      { type: 'button', class: 'button small', disabled: offset === 0, 'data-focus-key': `${id}-previous`, onclick: () => go(Math.max(0, offset - limit)) },
      labels[0],
    ),
    h('span', { class: 'pages', role: 'group', 'aria-label': 'Page numbers' }, numbers),
    h('button', { type: 'button', class: 'button small', disabled: !more, 'data-focus-key': `${id}-next`, onclick: () => go(offset + limit) }, labels[1]),
    goForm,
    sizes.length > 0 && [
      h('label', { for: `${id}-size`, class: 'small' }, 'Per page'),
      h(
        'select',
        { id: `${id}-size`, value: String(limit), 'data-focus-key': `${id}-size`, onchange: (event) => resize(Number(event.target.value)) },
        (sizes.includes(limit) ? sizes : [...sizes, limit].sort((a, b) => a - b)).map((n) => h('option', { value: String(n) }, String(n))),
      ),
    ],
  );
}
