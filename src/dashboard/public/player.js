// Previews of kept outputs: images shown, files played natively, HLS with hls.js and DASH with
// dash.js (served by this app), each loaded only when a page needs it.
import { h } from './ui.js';

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

export function preview(path, label) {
  switch (kind(path)) {
    case 'image':
      return h('img', { src: path, alt: label });
    case 'video':
      return h('video', { src: path, controls: true, preload: 'metadata', playsinline: true, 'aria-label': label });
    case 'audio':
      return h('audio', { src: path, controls: true, preload: 'metadata', 'aria-label': label });
    case 'hls': {
      const video = h('video', { controls: true, playsinline: true, 'aria-label': label, 'data-stream': 'hls' });
      void script('/dashboard/vendor/hls.min.js').then(() => {
        const Hls = window.Hls;
        if (Hls?.isSupported()) {
          const hls = new Hls();
          hls.loadSource(path);
          hls.attachMedia(video);
        } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
          video.src = path;
        }
      });
      return video;
    }
    case 'dash': {
      const video = h('video', { controls: true, playsinline: true, 'aria-label': label, 'data-stream': 'dash' });
      void script('/dashboard/vendor/dash.all.min.js').then(() => {
        const player = window.dashjs.MediaPlayer().create();
        player.initialize(video, path, false);
      });
      return video;
    }
    default:
      return null;
  }
}
