// Previews of kept outputs: images shown, files played natively, HLS with hls.js and DASH with
// dash.js (served by this app), each loaded only when a page needs it.
import { list } from './api.js';
import { h, replace, text } from './ui.js';

const loaded = new Map();
function script(src) {
  if (!loaded.has(src)) {
    loaded.set(src, new Promise((resolve, reject) => {
      document.head.append(h('script', { src, onload: resolve, onerror: () => reject(new Error(`could not load ${src}`)) }));
    }));
  }
  return loaded.get(src);
}

const kind = (path) => {
  const ext = path.split('?')[0].split('.').pop().toLowerCase();
  if (['jpg', 'jpeg', 'png', 'gif', 'webp'].includes(ext)) return 'image';
  if (['mp4', 'm4v', 'webm', 'mov'].includes(ext)) return 'video';
  if (['mp3', 'm4a', 'ogg', 'oga', 'opus', 'wav', 'flac'].includes(ext)) return 'audio';
  if (ext === 'm3u8') return 'hls';
  if (ext === 'mpd') return 'dash';
  return null;
};

/**
 * A preview of a kept output. HLS and DASH get pickers under the picture: the rendition (Auto, or
 * one rung, each with its quality figures from `quality`, the task's quality_report) and, when the
 * stream has them, the audio and subtitle tracks.
 */
export function preview(path, label, { quality } = {}) {
  switch (kind(path)) {
    case 'image':
      return h('img', { src: path, alt: label });
    case 'video':
      return h('video', { src: path, controls: true, preload: 'metadata', playsinline: true, 'aria-label': label });
    case 'audio':
      return h('audio', { src: path, controls: true, preload: 'metadata', 'aria-label': label });
    case 'hls': {
      const video = h('video', { controls: true, playsinline: true, 'aria-label': label, 'data-stream': 'hls' });
      const controls = streamControls(label);
      void script('/dashboard/vendor/hls.min.js').then(() => {
        const Hls = window.Hls;
        if (Hls?.isSupported()) hlsPlayer(Hls, video, path, controls, quality);
        else if (video.canPlayType('application/vnd.apple.mpegurl')) video.src = path;
      });
      return h('div', { class: 'player' }, video, controls.el);
    }
    case 'dash': {
      const video = h('video', { controls: true, playsinline: true, 'aria-label': label, 'data-stream': 'dash' });
      const controls = streamControls(label);
      void script('/dashboard/vendor/dash.all.min.js').then(() => dashPlayer(window.dashjs, video, path, controls, quality));
      return h('div', { class: 'player' }, video, controls.el);
    }
    default:
      return null;
  }
}

/** A rung as people read it: its picture height and bitrate, then its quality figures. */
function rungLabel({ width, height, bitrate }, figures) {
  const parts = [height ? `${height}p` : width ? `${width} wide` : 'audio only'];
  if (bitrate) parts.push(`${Math.round(bitrate / 1000)} kb/s`);
  if (figures) parts.push(...qualityParts(figures));
  return parts.join(' · ');
}

function qualityParts(v) {
  return [text(v.psnr) && `PSNR ${text(v.psnr)} dB`, text(v.ssim) && `SSIM ${text(v.ssim)}`].filter(Boolean);
}

const AUTO = 'auto';

const trackLabel = (t, i) => [t.name || t.label, t.lang].filter(Boolean).join(' · ') || `Track ${i + 1}`;

/**
 * The pickers under a stream's picture; each is hidden until the stream has something to pick.
 * `set*` fills one with [value, label] options; `on*` gets the chosen value.
 */
function streamControls(label) {
  let n = 0;
  const picker = (name, onChange) => {
    const id = `pick-${name.toLowerCase()}-${Math.random().toString(36).slice(2, 10)}-${++n}`;
    const select = h('select', { id, 'aria-label': `${name} of ${label}`, onchange: () => onChange?.(select.value) });
    const el = h('div', { class: 'picker', hidden: true }, h('label', { for: id }, name), ' ', select);
    return {
      el,
      select,
      fill(options, chosen) {
        replace(select, options.map(([value, text]) => h('option', { value: String(value), selected: String(value) === String(chosen) }, text)));
        el.hidden = options.length === 0;
      },
      set onChange(fn) {
        onChange = fn;
      },
    };
  };
  const rendition = picker('Rendition');
  const audio = picker('Audio');
  const subtitles = picker('Subtitles');
  const playing = h('p', { class: 'muted playing', 'aria-live': 'polite' });
  const rungs = h('tbody');
  const table = h('table', { class: 'rungs', hidden: true },
    h('caption', {}, 'Renditions'),
    h('thead', {}, h('tr', {}, ['Rendition', 'Bitrate', 'PSNR', 'SSIM'].map((c) => h('th', { scope: 'col' }, c)))),
    rungs);
  return {
    el: h('div', { class: 'stream-controls' }, h('div', { class: 'pickers' }, rendition.el, audio.el, subtitles.el), playing, table),
    rendition,
    audio,
    subtitles,
    /** Each rung's figures in a table beside the picker (the option texts carry them too). */
    showRungs(all) {
      replace(rungs, all.map(({ rung, figures }) => h('tr', {},
        h('th', { scope: 'row' }, rung.height ? `${rung.height}p` : '—'),
        h('td', {}, rung.bitrate ? `${Math.round(rung.bitrate / 1000)} kb/s` : '—'),
        h('td', {}, figures && text(figures.psnr) ? `${text(figures.psnr)} dB` : '—'),
        h('td', {}, figures && text(figures.ssim) ? text(figures.ssim) : '—'))));
      table.hidden = all.length === 0;
    },
    playing(rung, auto) {
      playing.textContent = rung ? `Playing ${rungLabel(rung)}${auto ? ' (Auto)' : ''}` : '';
    },
  };
}

/**
 * The quality report's figures of each rung: HLS variants are matched by the folder their
 * playlist is in (the variant's name is its sub_path), DASH ones by representation id (FFmpeg
 * numbers them in the report's order).
 */
function figuresFor(quality, match) {
  const variants = list(quality?.variant);
  return (rung) => variants.find((v, k) => match(rung, text(v.name), k));
}

function hlsPlayer(Hls, video, path, controls, quality) {
  const hls = new Hls();
  const figures = figuresFor(quality, (level, name) => [level.uri, level.url].flat().some((u) => typeof u === 'string' && (u.startsWith(`${name}/`) || u.includes(`/${name}/`))));
  const rungs = () => hls.levels.map((l) => ({ rung: { width: l.width, height: l.height, bitrate: l.bitrate }, figures: figures(l) }));
  const fill = () => {
    const all = rungs();
    controls.rendition.fill(all.length > 0 ? [[AUTO, 'Auto'], ...all.map((r, i) => [i, rungLabel(r.rung, r.figures)])] : [], hls.autoLevelEnabled ? AUTO : hls.currentLevel);
    controls.showRungs(all);
    controls.audio.fill(hls.audioTracks.map((t, i) => [i, trackLabel(t, i)]), hls.audioTrack);
    controls.subtitles.fill(hls.subtitleTracks.length > 0 ? [[-1, 'Off'], ...hls.subtitleTracks.map((t, i) => [i, trackLabel(t, i)])] : [], hls.subtitleTrack);
  };
  controls.rendition.onChange = (v) => {
    // currentLevel switches at once (the buffer is flushed); -1 hands the choice back to hls.js.
    hls.currentLevel = v === AUTO ? -1 : Number(v);
  };
  controls.audio.onChange = (v) => (hls.audioTrack = Number(v));
  controls.subtitles.onChange = (v) => (hls.subtitleTrack = Number(v));
  hls.on(Hls.Events.MANIFEST_PARSED, fill);
  hls.on(Hls.Events.AUDIO_TRACKS_UPDATED, fill);
  hls.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, fill);
  hls.on(Hls.Events.LEVEL_SWITCHED, (_e, { level }) => {
    const l = hls.levels[level];
    controls.playing(l && { width: l.width, height: l.height, bitrate: l.bitrate }, hls.autoLevelEnabled);
  });
  hls.loadSource(path);
  hls.attachMedia(video);
}

function dashPlayer(dashjs, video, path, controls, quality) {
  const player = dashjs.MediaPlayer().create();
  const figures = figuresFor(quality, (rep, _name, k) => rep.id === String(k));
  const rungs = () => player.getRepresentationsByType('video').map((r) => ({ id: r.id, rung: { width: r.width, height: r.height, bitrate: r.bandwidth }, figures: figures(r) }));
  let auto = true;
  const fill = () => {
    const all = rungs();
    const current = player.getCurrentRepresentationForType('video');
    controls.rendition.fill(all.length > 0 ? [[AUTO, 'Auto'], ...all.map((r) => [r.id, rungLabel(r.rung, r.figures)])] : [], auto || !current ? AUTO : current.id);
    controls.showRungs(all);
    const audio = player.getTracksFor('audio');
    const currentAudio = player.getCurrentTrackFor('audio');
    controls.audio.fill(audio.map((t, i) => [i, trackLabel({ label: t.labels?.[0]?.text, lang: t.lang }, i)]), Math.max(0, audio.indexOf(currentAudio)));
    const texts = player.getTracksFor('text');
    controls.subtitles.fill(texts.length > 0 ? [[-1, 'Off'], ...texts.map((t, i) => [i, trackLabel({ label: t.labels?.[0]?.text, lang: t.lang }, i)])] : [], -1);
  };
  controls.rendition.onChange = (v) => {
    auto = v === AUTO;
    player.updateSettings({ streaming: { abr: { autoSwitchBitrate: { video: auto } } } });
    // Replacing the buffered segments makes the picked rung show at once, not after the buffer.
    if (!auto) player.setRepresentationForTypeById('video', v, true);
  };
  controls.audio.onChange = (v) => {
    const track = player.getTracksFor('audio')[Number(v)];
    if (track) player.setCurrentTrack(track);
  };
  controls.subtitles.onChange = (v) => {
    player.enableText(Number(v) >= 0);
    player.setTextTrack(Number(v));
  };
  player.on(dashjs.MediaPlayer.events.STREAM_INITIALIZED, fill);
  player.on(dashjs.MediaPlayer.events.QUALITY_CHANGE_RENDERED, (e) => {
    if (e.mediaType !== 'video') return;
    const r = e.newRepresentation;
    controls.playing(r && { width: r.width, height: r.height, bitrate: r.bandwidth }, auto);
  });
  player.initialize(video, path, false);
}
