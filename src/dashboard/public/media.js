// One media: its probe, a card per task with live progress, destinations, log, command and
// previews, and the actions. Cards are updated in place so players and open details survive.
import { call, list } from './api.js';
import { FINAL, announce, confirmAction, date, text, duration, errorBox, h, humanSize, localLink, progressBar, replace, statusBadge } from './ui.js';
import { preview } from './player.js';

export async function mediaView(main, [id], ctx) {
  const head = h('div', { class: 'card' });
  const actions = h('div', { class: 'actions', role: 'group', 'aria-label': 'Media actions' });
  const probe = h('div');
  const tasksBox = h('div', { class: 'tasks' });
  replace(
    main,
    h('h1', {}, `Media #${id}`),
    head,
    actions,
    h('section', { class: 'card', 'aria-labelledby': 'h-probe' }, h('h2', { id: 'h-probe' }, 'Source'), probe),
    h('section', { 'aria-labelledby': 'h-tasks' }, h('h2', { id: 'h-tasks' }, 'Tasks'), tasksBox),
  );

  const act = async (label, action, fields = {}) => {
    try {
      const r = await call(action, { mediaid: id, ...fields });
      announce(`${label} media ${id}: ${text(r.message) || 'done'}`);
      // A cancelled media is deleted: back to the list, where it no longer shows.
      if (action === 'CancelMedia') return ctx.go('/dashboard/media');
      await refresh();
    } catch (err) {
      announce(`${label} failed: ${err.message}`, 'error');
    }
  };
  const stop = h('button', { type: 'button', onclick: () => act('Stop', 'StopMedia') }, 'Stop');
  replace(actions,
    h('button', {
      type: 'button',
      class: 'danger',
      onclick: async () => {
        if (await confirmAction(`Cancel media #${id}? It is stopped and deleted with its outputs; this cannot be undone.`, 'Cancel and delete')) await act('Cancel', 'CancelMedia');
      },
    }, 'Cancel'),
    stop,
    h('button', { type: 'button', onclick: () => act('Restart', 'RestartMedia') }, 'Restart'),
    h('button', { type: 'button', onclick: () => act('Restart errors', 'RestartMediaErrors') }, 'Restart errors'),
  );

  const overall = progressBar(`Progress of media ${id}`);
  const fields = h('dl', { class: 'meta' });
  replace(head, overall, fields);

  const cards = new Map();
  /** The QC media checking this one's outputs: their statuses show here too. */
  let qcChildren = new Set();
  let probed = false;
  let probeTried = 0;

  const refresh = async () => {
    let job;
    try {
      const r = await call('GetStatus', { mediaid: id, extended: 'yes', include_task_status: 'yes' });
      job = list(r.job)[0] ?? r;
    } catch (err) {
      replace(main, h('h1', {}, `Media #${id}`), errorBox(err));
      ctx.alive = false;
      return;
    }
    const all = list(job.format);
    overall.update(job.progress, { failed: all.filter((t) => text(t.status) === 'Error').length, of: all.length });
    stop.disabled = FINAL.includes(job.status);
    replace(fields,
      dd('Status', statusBadge(job.status)),
      dd('Source', list(job.sourcefile).join(', ')),
      dd('Time left', FINAL.includes(job.status) ? '—' : duration(job.time_left)),
      dd('Created', date(job.created)),
      dd('Started', date(job.started)),
      dd('Finished', date(job.finished)),
      text(job.notifyurl) ? dd('Notify', text(job.notifyurl)) : null,
      text(job.description) ? dd('Reason', text(job.description)) : null,
      // Fields AddMedia ignored because Encodery does not know them.
      list(job.warnings?.warning).length > 0 ? dd('Ignored fields', h('ul', { class: 'warnings' }, list(job.warnings.warning).map((w) => h('li', {}, text(w))))) : null,
    );

    const tasks = list(job.format);
    qcChildren = new Set(tasks.flatMap((t) => list(t.qc_media).map((q) => text(q.mediaid))));
    const ids = tasks.map((t) => t.id).join(',');
    if (tasksBox.dataset.ids !== ids) {
      tasksBox.dataset.ids = ids;
      cards.clear();
      replace(tasksBox, tasks.map((t) => {
        const c = taskCard(t, () => act(`Restart task ${t.id}`, 'RestartMediaTask', { taskid: t.id }));
        cards.set(t.id, c);
        return c.el;
      }));
    }
    for (const t of tasks) cards.get(t.id).update(t);

    // The probe exists once the source is downloaded; asked again now and then until it is.
    if (!probed && Date.now() - probeTried > 4000 && !['New', 'Downloading'].includes(job.status)) {
      probeTried = Date.now();
      try {
        const info = await call('GetMediaInfo', { mediaid: id });
        probed = true;
        replace(probe, probeTable(info));
      } catch (err) {
        replace(probe, h('p', { class: 'muted' }, `No probe yet: ${err.message}`));
      }
    } else if (!probed && ['New', 'Downloading'].includes(job.status)) {
      replace(probe, h('p', { class: 'muted' }, 'The source is probed once it is downloaded.'));
    }
  };
  // Read again when this media or one of its QC media changed. The page shows one GetStatus as a
  // whole, never the pushed figures beside older task ones: the media's bar never runs ahead of its tasks'.
  await ctx.live(refresh, { onMedia: (changed) => changed.some((x) => x.id === id || qcChildren.has(x.id)) });
}

/**
 * GetMediaInfo as one table, each fact once: the wire repeats the duration three ways and per
 * stream, so a stream's duration is shown only where it differs from the file's.
 */
function probeTable(info) {
  const v = (k) => text(info[k]);
  const seconds = Number(v('duration'));
  const differs = (k) => v(k) !== '' && Math.abs(Number(v(k)) - seconds) > 0.1;
  const rows = [
    ['Duration', v('duration') ? `${v('duration_timestamp') || v('duration_hms')} (${seconds} s)` : ''],
    ['Bitrate', v('bitrate')],
    ['Video codec', v('video_codec')],
    ['Picture size', v('size')],
    ['Frame rate', v('frame_rate') && `${v('frame_rate')} fps`],
    ['Video bitrate', v('video_bitrate')],
    ['Aspect ratio', [v('display_aspect_ratio') && `display ${v('display_aspect_ratio')}`, v('pixel_aspect_ratio') && `pixel ${v('pixel_aspect_ratio')}`].filter(Boolean).join(', ')],
    ['Rotation', v('rotation') && v('rotation') !== '0' ? `${v('rotation')}°` : ''],
    ['Video duration', differs('video_duration') ? `${v('video_duration')} s` : ''],
    ['Audio codec', v('audio_codec')],
    ['Audio bitrate', v('audio_bitrate')],
    ['Sample rate', v('audio_sample_rate') && `${v('audio_sample_rate')} Hz`],
    ['Channels', v('audio_channels')],
    ['Audio duration', differs('audio_duration') ? `${v('audio_duration')} s` : ''],
  ].filter(([, value]) => value);
  return h('table', { class: 'probe' },
    h('caption', { class: 'sr-only' }, 'Source probe'),
    h('tbody', {}, rows.map(([label, value]) => h('tr', {}, h('th', { scope: 'row' }, label), h('td', {}, value)))));
}

const dd = (label, value) => h('div', {}, h('dt', {}, label), h('dd', {}, value));

function taskCard(t, restart) {
  const headingId = `task-${t.id}`;
  const bar = progressBar(`Progress of task ${t.id} (${t.output})`);
  const meta = h('dl', { class: 'meta' });
  const dests = h('tbody');
  const log = h('ol', { class: 'log' });
  const command = h('pre', { class: 'command' });
  const previews = h('div', { class: 'previews' });
  const shown = new Set();
  const el = h('article', { class: 'card task', 'aria-labelledby': headingId },
    h('h3', { id: headingId }, `Task ${t.id} · ${t.output}`),
    bar,
    meta,
    h('button', { type: 'button', onclick: restart }, `Restart task ${t.id}`),
    h('table', {}, h('caption', {}, 'Destinations'), h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Destination'), h('th', { scope: 'col' }, 'Status'))), dests),
    h('details', {}, h('summary', {}, 'State log'), log),
    h('details', {}, h('summary', {}, 'FFmpeg command'), command),
    previews,
  );
  const update = (t) => {
    bar.update(t.progress);
    replace(meta,
      dd('Status', statusBadge(t.status)),
      dd('Speed', text(t.speed) ? `${text(t.speed)}×` : '—'),
      dd('Time left', t.status === 'Processing' ? duration(t.time_left) : '—'),
      text(t.converttime) && t.converttime !== '0' ? dd('Encode time', duration(t.converttime)) : null,
      text(t.convertedsize) ? dd('Size', h('span', { title: `${text(t.convertedsize)} bytes` }, humanSize(text(t.convertedsize)))) : null,
      text(t.description) ? dd('Reason', text(t.description)) : null,
      t.quality_report ? dd('Quality', qualityLine(t.quality_report)) : null,
      list(t.qc_media).length > 0 ? dd('QC', h('span', {}, list(t.qc_media).map((q) => h('span', { class: 'qc' },
        h('a', { href: `/dashboard/media/${text(q.mediaid)}` }, `#${text(q.mediaid)}`), ' ', statusBadge(text(q.status)), ' ')))) : null,
      t.qc_report ? dd('QC result', `${text(t.qc_report.result)}${firstProblem(t.qc_report)}`) : null,
    );
    const rows = destinationsOf(t);
    replace(dests, rows.length === 0 ? h('tr', {}, h('td', { colspan: '2' }, 'Kept by Encodery (links below)')) : rows.map(([url, st]) => h('tr', {}, h('td', { class: 'src' }, url), h('td', {}, st || '—'))));
    replace(log, list(t.task_status?.state).map((s) => h('li', {}, h('time', {}, text(s.time)), ' ', text(s.message))));
    command.textContent = text(t.command) || 'Not run yet.';
    if (t.status === 'Finished') {
      for (const url of list(t.s3_destination)) {
        if (shown.has(url)) continue;
        shown.add(url);
        const local = localLink(url);
        previews.append(h('figure', {}, local ? preview(local, `Output of task ${t.id}`, { quality: t.quality_report }) : null, h('figcaption', {}, h('a', { href: url, download: '' }, url.split('/').pop()))));
      }
    }
  };
  return { el, update };
}

/** `destination` and `destination_status` come interleaved (one or several of each). */
function destinationsOf(t) {
  const urls = list(t.destination);
  const sts = list(t.destination_status);
  return urls.map((u, i) => [u, sts[i]]);
}

/** The task's quality report in one line; a figure that was not measured is left out, as on the wire. */
function qualityLine(q) {
  const parts = [
    text(q.psnr) && `PSNR ${text(q.psnr)} dB`,
    text(q.ssim) && `SSIM ${text(q.ssim)}`,
    text(q.loudness) && `${text(q.loudness)} LUFS`,
    text(q.duration_difference) && `duration ${Number(text(q.duration_difference)) >= 0 ? '+' : ''}${text(q.duration_difference)} s`,
    text(q.realtime_factor) && `${text(q.realtime_factor)}× realtime`,
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(' · ') : 'not measured';
}

/** A QC child's first failed or warning check, for the line next to its result. */
function firstProblem(report) {
  const bad = [...list(report.check), ...list(report.metric)].find((c) => text(c.result) === 'fail') ??
    [...list(report.check), ...list(report.metric)].find((c) => text(c.result) === 'warning');
  return bad ? `: ${text(bad.name)}: ${text(bad.reason)}` : '';
}
