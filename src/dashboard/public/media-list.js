// Media list: filters and paging kept in the URL, rows with live progress and time left.
import { call, durations, list, outputs } from './api.js';
import { FINAL, STATUSES, date, text, duration, errorBox, h, progressBar, replace, statusBadge } from './ui.js';

const PER_PAGE = 20;

export async function mediaListView(main, _params, ctx) {
  const params = new URLSearchParams(location.search);
  const field = (name, label, input) => h('div', { class: 'field' }, h('label', { for: `f-${name}` }, label), input);
  const status = h('select', { id: 'f-status', name: 'status' }, h('option', { value: '' }, 'Any'), STATUSES.map((s) => h('option', { value: s, selected: params.get('status') === s }, s)));
  const output = h('select', { id: 'f-output', name: 'output' }, h('option', { value: '' }, 'Any'), (await outputs()).map((s) => h('option', { value: s, selected: params.get('output') === s }, s)));
  const from = h('input', { id: 'f-from', name: 'from', type: 'date', value: params.get('from') ?? '' });
  const to = h('input', { id: 'f-to', name: 'to', type: 'date', value: params.get('to') ?? '' });
  const source = h('input', { id: 'f-source', name: 'source', type: 'search', value: params.get('source') ?? '', placeholder: 'part of the source URL' });
  const form = h('form', { class: 'filters card', role: 'search', 'aria-label': 'Filter media' },
    field('status', 'Status', status), field('output', 'Output', output), field('from', 'Created from', from), field('to', 'Created to', to), field('source', 'Source contains', source),
    h('div', { class: 'field' }, h('button', { type: 'submit' }, 'Apply filters')),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) q.set(k, String(v));
    ctx.go(`/dashboard/media${q.size ? `?${q}` : ''}`);
  });

  const page = Math.max(1, Number(params.get('page')) || 1);
  const body = h('tbody');
  const info = h('p', { class: 'muted', role: 'status' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  replace(
    main,
    h('h1', {}, 'Media'),
    form,
    h('div', { class: 'table-wrap' },
      h('table', { class: 'media-list' },
        h('caption', { class: 'sr-only' }, 'Your media'),
        h('thead', {}, h('tr', {}, ['Media', 'Source', 'Outputs', 'Duration', 'Status', 'Progress', 'Time left', 'Created'].map((c) => h('th', { scope: 'col' }, c)))),
        body,
      ),
    ),
    info,
    pager,
  );

  // format_params names a field so that each media's tasks (output and status) come with it.
  const query = { version: '3', page: String(page), per_page: String(PER_PAGE), sort: 'created', order: 'desc', format_params: 'output' };
  for (const k of ['status', 'output', 'source']) if (params.get(k)) query[k] = params.get(k);
  if (params.get('from')) query.date_from = params.get('from');
  if (params.get('to')) query.date_to = params.get('to');

  const rows = new Map();
  let shownIds = null;
  await ctx.live(async () => {
    let reply;
    try {
      reply = await call('GetMediaList', query);
    } catch (err) {
      replace(body, h('tr', {}, h('td', { colspan: '8' }, errorBox(err))));
      return;
    }
    const media = list(reply.media);
    const p = reply.pagination ?? {};
    info.textContent = `${p.total ?? media.length} media${Number(p.pages) > 1 ? `, page ${p.page} of ${p.pages}` : ''}`;
    const ids = media.map((m) => m.id).join(',');
    if (ids !== shownIds) {
      shownIds = ids;
      rows.clear();
      replace(body, media.length === 0 ? h('tr', {}, h('td', { colspan: '8' }, 'No media match.')) : media.map((m) => {
        const r = { bar: progressBar(`Progress of media ${m.id}`), status: h('td'), left: h('td'), length: h('td', { class: 'duration' }, '—'), src: list(m.sourcefile).join(', ') };
        rows.set(m.id, r);
        return h('tr', { 'data-id': m.id },
          h('td', {}, h('a', { href: `/dashboard/media/${m.id}` }, `#${m.id}`)),
          h('td', { class: 'src' }, r.src),
          h('td', { class: 'outputs' }, [...new Set(list(m.format).map((f) => text(f.output)))].join(', ') || '—'),
          r.length,
          r.status,
          h('td', {}, r.bar),
          r.left,
          h('td', {}, date(m.created)),
        );
      }));
      renderPager(pager, Number(p.page) || page, Number(p.pages) || 1, params);
    }
    // Durations are known once a source is probed, and never change after.
    const unknown = media.filter((m) => !rows.get(m.id).known).map((m) => m.id);
    const seconds = await durations(unknown).catch(() => ({}));
    for (const [mid, s] of Object.entries(seconds)) {
      const r = rows.get(mid);
      if (!r) continue;
      r.known = true;
      r.length.textContent = clock(s);
    }
    // Time left comes from the extended status of the media still moving.
    const moving = media.filter((m) => !FINAL.includes(m.status)).map((m) => m.id);
    const left = new Map();
    if (moving.length > 0) {
      const st = await call('GetStatus', { mediaid: moving.join(','), extended: 'yes' }).catch(() => null);
      for (const j of list(st?.job)) left.set(j.id, j);
    }
    for (const m of media) {
      const live = left.get(m.id);
      const tasks = list(m.format);
      showFigures(rows.get(m.id), live?.status ?? m.status, live?.progress ?? m.progress, live?.time_left, { failed: tasks.filter((t) => text(t.status) === 'Error').length, of: tasks.length });
    }
  }, {
    // A pushed change of a row on this page is shown in place; anything else (a new media, one
    // deleted, one leaving the status filter) changes which rows match, so the page is read again.
    onMedia: (changed) => {
      let reread = false;
      for (const m of changed) {
        const r = rows.get(m.id);
        if (!r) reread ||= page === 1 && !m.deleted;
        else if (m.deleted || (query.status && query.status !== m.status)) reread = true;
        else showFigures(r, m.status, m.progress, m.time_left, { failed: m.failed, of: m.of });
      }
      return reread;
    },
  });
}

function showFigures(r, status, progress, timeLeft, failures) {
  replace(r.status, statusBadge(status));
  r.bar.update(progress, failures);
  r.left.textContent = FINAL.includes(status) ? '—' : duration(timeLeft);
}

/** A source's length as video people write it: m:ss, or h:mm:ss. */
function clock(seconds) {
  const s = Math.round(Number(seconds) || 0);
  const mm = String(Math.floor((s % 3600) / 60));
  const ss = String(s % 60).padStart(2, '0');
  return s >= 3600 ? `${Math.floor(s / 3600)}:${mm.padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

function renderPager(pager, page, pages, params) {
  const link = (n, label) => {
    const q = new URLSearchParams(params);
    q.set('page', String(n));
    return h('a', { href: `/dashboard/media?${q}`, 'aria-current': n === page ? 'page' : undefined }, label);
  };
  replace(pager,
    page > 1 ? link(page - 1, '‹ Previous') : null,
    h('span', {}, ` Page ${page} of ${pages} `),
    page < pages ? link(page + 1, 'Next ›') : null,
  );
}
