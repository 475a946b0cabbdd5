// Small DOM helpers. Text always goes in as text nodes: nothing from the API is parsed as HTML.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    // Through the CSSOM: the page's CSP refuses style attributes.
    else if (k === 'style') for (const [p, x] of Object.entries(v)) el.style.setProperty(p, x);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A labelled progress bar with its figure beside it; `update` moves both. */
export function progressBar(label) {
  const bar = h('progress', { max: '100', value: '0', 'aria-label': label });
  const text = h('span', { class: 'pct' }, '0 %');
  const wrap = h('span', { class: 'progress' }, bar, text);
  /** `failed`: how many of `of` tasks failed: a media that ended partly failed is not shown as a plain full bar. */
  wrap.update = (pct, { failed = 0, of = 0 } = {}) => {
    const v = Math.max(0, Math.min(100, Number(pct) || 0));
    const label = failed > 0 ? `${Math.round(v)} %, ${failed} of ${of} failed` : `${Math.round(v)} %`;
    bar.value = v;
    bar.classList.toggle('partial', failed > 0);
    bar.setAttribute('aria-valuetext', label);
    text.textContent = label;
  };
  return wrap;
}

export function duration(seconds) {
  const s = Math.round(Number(seconds) || 0);
  if (s <= 0) return '—';
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

const SIZE_UNITS = ['bytes', 'KB', 'MB', 'GB', 'TB'];

/** A byte count as people read it (decimal units, as file managers and encoding.com show them). */
export function humanSize(bytes) {
  let n = Number(bytes);
  if (!Number.isFinite(n) || n < 0) return '—';
  let unit = 0;
  while (n >= 1000 && unit < SIZE_UNITS.length - 1) {
    n /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${n} bytes` : `${n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)} ${SIZE_UNITS[unit]}`;
}

/** A wire value as text: the JSON replies send an empty string as `[]` (reference 7.8). */
export const text = (x) => (Array.isArray(x) ? x.join(', ') : x === undefined || x === null ? '' : String(x));

export const date = (d) => (!d || d.startsWith('0000') ? '—' : `${d} UTC`);

export const FINAL = ['Finished', 'Error', 'Stopped'];
export const STATUSES = ['New', 'Downloading', 'Ready to process', 'Waiting for encoder', 'Processing', 'Saving', 'Finished', 'Error', 'Stopped'];

export function statusBadge(status) {
  return h('span', { class: `badge s-${String(status).toLowerCase().replace(/[^a-z]+/g, '-')}` }, status);
}

/** Tells screen readers (and the sighted, in the page) what just happened. */
export function announce(text, kind = 'info') {
  const line = document.getElementById('status-line');
  if (line) line.textContent = text;
  // The status line above is what screen readers announce; the toast is for the eyes only. It
  // takes its own room in the page, next to the control used (else atop the view), so it never
  // lies over a button the way a floating toast does.
  const toast = document.getElementById('toast') ?? h('div', { id: 'toast', 'aria-hidden': 'true' });
  const used = document.activeElement;
  const main = document.getElementById('main');
  if (used instanceof Element && used !== main && main?.contains(used)) (used.closest('.actions, .table-wrap') ?? used).after(toast);
  else main?.prepend(toast);
  toast.className = kind;
  toast.textContent = text;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (toast.textContent = ''), 6000);
}

let dialogs = 0;

/**
 * Asks before an action that cannot be undone, in a modal dialog; resolves true only when the
 * user picks `confirmLabel` (Escape and "Keep" resolve false).
 */
export function confirmAction(question, confirmLabel) {
  return new Promise((resolve) => {
    const questionId = `confirm-${++dialogs}`;
    const keep = h('button', { type: 'submit', value: 'keep', autofocus: true }, 'Keep');
    const proceed = h('button', { type: 'submit', value: 'confirm', class: 'danger' }, confirmLabel);
    const dialog = h('dialog', { 'aria-labelledby': questionId },
      h('form', { method: 'dialog' }, h('p', { id: questionId }, question), h('div', { class: 'actions' }, keep, proceed)));
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(dialog.returnValue === 'confirm');
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

export function errorBox(err) {
  return h('p', { class: 'error', role: 'alert' }, err instanceof Error ? err.message : String(err));
}

/** A same-origin path for a kept output's link, so previews stay within the page's own origin. */
export function localLink(url) {
  try {
    const u = new URL(url, location.href);
    return u.pathname.startsWith('/download/') ? u.pathname : null;
  } catch {
    return null;
  }
}
