// The page's one stream of server-sent events (/dashboard/api/events): each changed media of the
// signed-in user, as it changes. Views subscribe through their context (app.js `ctx.live`); while
// the stream is not open they poll instead, so a proxy that refuses event streams costs freshness,
// not function.
const listeners = new Set();
let source = null;
let open = false;
let retryTimer = null;

/** Whether updates arrive by events now (false: the views poll). */
export const streaming = () => open;

function emit(kind, media = []) {
  for (const fn of listeners) fn(kind, media);
}

function connect() {
  if (source || typeof EventSource !== 'function') return;
  source = new EventSource('/dashboard/api/events');
  source.addEventListener('open', () => {
    open = true;
    document.documentElement.dataset.live = 'events';
    // Whatever happened while closed was polled or comes in the catch-up; views re-read once.
    emit('open');
  });
  source.addEventListener('error', () => {
    const wasOpen = open;
    open = false;
    document.documentElement.dataset.live = 'polling';
    if (wasOpen) emit('closed');
    // CLOSED: the browser gave up (an error status, no stream); try again later, poll meanwhile.
    if (source?.readyState === EventSource.CLOSED) {
      source = null;
      clearTimeout(retryTimer);
      retryTimer = setTimeout(connect, 30_000);
    }
  });
  source.addEventListener('media', (e) => {
    let media;
    try {
      media = JSON.parse(e.data);
    } catch {
      return;
    }
    if (Array.isArray(media) && media.length > 0) emit('media', media);
  });
  source.addEventListener('resync', () => emit('resync'));
}

/** Calls fn(kind, media) for 'open', 'closed', 'resync' and each 'media' batch; returns the unsubscribe. */
export function subscribe(fn) {
  listeners.add(fn);
  connect();
  return () => listeners.delete(fn);
}
