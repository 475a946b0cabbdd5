// The dashboard's router: one page shell, a view per path, history navigation without reloads.
import { errorBox, replace } from './ui.js';
import { overviewView } from './overview.js';
import { mediaListView } from './media-list.js';
import { mediaView } from './media.js';
import { addView } from './add.js';
import { presetsView } from './presets.js';
import { streaming, subscribe } from './live.js';

const ROUTES = [
  [/^\/dashboard\/?$/, overviewView, 'Queue'],
  [/^\/dashboard\/media\/?$/, mediaListView, 'Media'],
  [/^\/dashboard\/media\/(\d+)$/, mediaView, 'Media'],
  [/^\/dashboard\/add\/?$/, addView, 'Add media'],
  [/^\/dashboard\/presets\/?$/, presetsView, 'Presets'],
];

let current = null;

/** Refreshes a view asks for by events come at most this often. */
const MIN_REFRESH_GAP_MS = 500;

/**
 * Each view gets a context whose `live(fn, { onMedia, everyMs })` runs fn now and again whenever
 * the view is stale: when the event stream (live.js) brings a batch of changed media for which
 * `onMedia(media)` answers true (a view that can show the change itself answers false), after a
 * reconnect or resync, and every `everyMs` while no stream is open. Never more often than
 * MIN_REFRESH_GAP_MS, never while the tab is hidden (it catches up when shown), and not after
 * another view replaced this one.
 */
function context() {
  const ctx = {
    alive: true,
    timers: new Set(),
    cleanups: [],
    live(fn, { onMedia = () => true, everyMs = 1000 } = {}) {
      let running = false;
      let again = false;
      let stale = false;
      let pending = null;
      let lastStart = 0;
      const run = async () => {
        if (!ctx.alive) return;
        if (document.hidden) {
          stale = true;
          return;
        }
        if (running) {
          again = true;
          return;
        }
        running = true;
        lastStart = Date.now();
        try {
          await fn();
        } catch (err) {
          console.error(err);
        } finally {
          running = false;
        }
        if (again) {
          again = false;
          request();
        }
      };
      const request = () => {
        if (pending || !ctx.alive) return;
        pending = setTimeout(() => {
          ctx.timers.delete(pending);
          pending = null;
          void run();
        }, Math.max(0, lastStart + MIN_REFRESH_GAP_MS - Date.now()));
        ctx.timers.add(pending);
      };
      ctx.onLeave(subscribe((kind, media) => {
        if (!ctx.alive) return;
        if (kind !== 'media' || onMedia(media)) request();
      }));
      const shown = () => {
        if (!document.hidden && stale) {
          stale = false;
          request();
        }
      };
      document.addEventListener('visibilitychange', shown);
      ctx.onLeave(() => document.removeEventListener('visibilitychange', shown));
      const poll = () => {
        const t = setTimeout(() => {
          ctx.timers.delete(t);
          if (!ctx.alive) return;
          if (!streaming()) request();
          poll();
        }, everyMs);
        ctx.timers.add(t);
      };
      return run().then(poll);
    },
    onLeave(fn) {
      ctx.cleanups.push(fn);
    },
    go: navigate,
  };
  return ctx;
}

async function render() {
  if (current) {
    current.alive = false;
    for (const t of current.timers) clearTimeout(t);
    for (const fn of current.cleanups) fn();
  }
  const main = document.getElementById('main');
  const path = location.pathname;
  const route = ROUTES.find(([re]) => re.test(path));
  for (const a of document.querySelectorAll('nav a')) {
    const here = a.getAttribute('href') === path || (path.startsWith('/dashboard/media/') && a.getAttribute('href') === '/dashboard/media');
    if (here) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const ctx = (current = context());
  main.setAttribute('aria-busy', 'true');
  try {
    if (!route) {
      replace(main, errorBox('No such page.'));
      return;
    }
    document.title = `${route[2]} · Encodery`;
    await route[1](main, path.match(route[0]).slice(1), ctx);
  } catch (err) {
    replace(main, errorBox(err));
  } finally {
    main.setAttribute('aria-busy', 'false');
  }
}

export function navigate(href, { replaceState = false } = {}) {
  if (replaceState) history.replaceState(null, '', href);
  else history.pushState(null, '', href);
  void render().then(() => document.getElementById('main')?.focus({ preventScroll: false }));
}

// Links inside the dashboard navigate in place; downloads and other links behave as usual.
document.addEventListener('click', (e) => {
  const a = e.target instanceof Element ? e.target.closest('a[href]') : null;
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey || a.target) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith('/dashboard') || a.hasAttribute('download')) return;
  if (url.pathname.startsWith('/dashboard/static/') || url.pathname.startsWith('/dashboard/vendor/')) return;
  e.preventDefault();
  navigate(url.pathname + url.search);
});

window.addEventListener('popstate', () => void render());
void render();
