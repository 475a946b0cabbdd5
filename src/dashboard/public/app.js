// The dashboard's router: one page shell, a view per path, history navigation without reloads.
import { errorBox, replace } from './ui.js';
import { overviewView } from './overview.js';
import { mediaListView } from './media-list.js';
import { mediaView } from './media.js';
import { addView } from './add.js';
import { presetsView } from './presets.js';

const ROUTES = [
  [/^\/dashboard\/?$/, overviewView, 'Queue'],
  [/^\/dashboard\/media\/?$/, mediaListView, 'Media'],
  [/^\/dashboard\/media\/(\d+)$/, mediaView, 'Media'],
  [/^\/dashboard\/add\/?$/, addView, 'Add media'],
  [/^\/dashboard\/presets\/?$/, presetsView, 'Presets'],
];

let current = null;

/**
 * Each view gets a context whose `live(fn)` repeats fn about once a second while the view is
 * shown (never more often), and stops when another view replaces it.
 */
function context() {
  const ctx = {
    alive: true,
    timers: new Set(),
    cleanups: [],
    live(fn, everyMs = 1000) {
      const tick = async () => {
        if (!ctx.alive) return;
        const started = Date.now();
        try {
          // A tab nobody looks at asks nothing; it catches up when shown again.
          if (!document.hidden) await fn();
        } catch (err) {
          console.error(err);
        }
        if (!ctx.alive) return;
        const t = setTimeout(tick, Math.max(everyMs - (Date.now() - started), 250));
        ctx.timers.add(t);
      };
      return tick();
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
