// Queue overview: counts by status, what is being processed now, throughput.
import { overview } from './api.js';
import { STATUSES, duration, h, progressBar, replace, statusBadge } from './ui.js';

export async function overviewView(main, _params, ctx) {
  const counts = h('dl', { class: 'counts' });
  const active = h('div');
  const throughput = h('div');
  replace(
    main,
    h('h1', {}, 'Queue'),
    h('section', { 'aria-labelledby': 'h-counts', class: 'card' }, h('h2', { id: 'h-counts' }, 'Media by status'), counts),
    h('section', { 'aria-labelledby': 'h-active', class: 'card' }, h('h2', { id: 'h-active' }, 'Processing now'), active),
    h('section', { 'aria-labelledby': 'h-tp', class: 'card' }, h('h2', { id: 'h-tp' }, 'Throughput'), throughput),
  );
  const bars = new Map();
  await ctx.live(async () => {
    const o = await overview();
    const known = STATUSES.filter((s) => o.counts[s] !== undefined);
    const others = Object.keys(o.counts).filter((s) => !STATUSES.includes(s));
    replace(counts, [...known, ...others].length === 0 ? h('p', {}, 'No media yet.') : [...known, ...others].map((s) => h('div', {}, h('dt', {}, statusBadge(s)), h('dd', {}, String(o.counts[s])))));

    if (o.active.length === 0) {
      bars.clear();
      replace(active, h('p', {}, 'Nothing is being processed.'));
    } else {
      const ids = o.active.map((m) => m.id).join(',');
      if (active.dataset.ids !== ids) {
        bars.clear();
        active.dataset.ids = ids;
        replace(
          active,
          h('ul', { class: 'rows' }, o.active.map((m) => {
            const bar = progressBar(`Progress of media ${m.id}`);
            const left = h('span', { class: 'left' });
            const status = h('span');
            bars.set(m.id, { bar, left, status });
            return h('li', {}, h('a', { href: `/dashboard/media/${m.id}` }, `#${m.id}`), ' ', status, ' ', h('span', { class: 'src' }, m.source), bar, left);
          })),
        );
      }
      for (const m of o.active) {
        const r = bars.get(m.id);
        r.bar.update(m.progress);
        replace(r.status, statusBadge(m.status));
        r.left.textContent = `time left ${duration(m.time_left)}`;
      }
    }

    const max = Math.max(1, ...o.hourly.map((x) => x.media));
    replace(
      throughput,
      h('dl', { class: 'counts' },
        h('div', {}, h('dt', {}, 'Finished in the last hour'), h('dd', {}, `${o.lastHour.media} media`)),
        h('div', {}, h('dt', {}, 'Video processed in the last hour'), h('dd', {}, `${o.lastHour.minutes} min`)),
        h('div', {}, h('dt', {}, 'Finished in the last 24 h'), h('dd', {}, `${o.last24h.media} media (${o.last24h.perHour.toFixed(2)} per hour over ${o.last24h.hours >= 23.95 ? '24 h' : duration(o.last24h.hours * 3600)})`)),
        h('div', {}, h('dt', {}, 'Video processed in the last 24 h'), h('dd', {}, `${o.last24h.minutes} min`)),
      ),
      h('table', { class: 'hourly' },
        h('caption', {}, 'Media finished per hour, last 24 hours'),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Hour'), h('th', { scope: 'col' }, 'Media'), h('th', { scope: 'col' }, 'Minutes of video'))),
        h('tbody', {}, o.hourly.filter((x) => x.media > 0 || x.hoursAgo < 6).map((x) =>
          h('tr', {},
            h('th', { scope: 'row' }, x.hoursAgo === 0 ? 'this hour' : `${x.hoursAgo} h ago`),
            h('td', {}, h('span', { class: 'hbar', style: { '--w': `${(x.media / max) * 100}%` } }), ` ${x.media}`),
            h('td', {}, String(x.minutes)),
          ),
        )),
      ),
    );
  });
}
