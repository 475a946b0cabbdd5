// Presets: the built-in ones and the user's own; create, edit (in the format editor, as JSON or
// as XML), delete. The server checks the preset as SavePreset would while it is edited.
import { call, check, fields as registry, list } from './api.js';
import { announce, confirmAction, errorBox, h, replace } from './ui.js';
import { clearErrors, formatEditor, markError } from './format-editor.js';

export async function presetsView(main, _params, ctx) {
  const table = h('tbody');
  const editor = h('section', { class: 'card', 'aria-labelledby': 'h-edit' });
  replace(
    main,
    h('h1', {}, 'Presets'),
    h('p', {}, h('button', { type: 'button', onclick: () => openEditor(editor, null, reload) }, 'New preset')),
    editor,
    h('div', { class: 'table-wrap' },
      h('table', { class: 'presets-table' },
        h('caption', { class: 'sr-only' }, 'Presets'),
        h('thead', {}, h('tr', {}, ['Name', 'Kind', 'Output', 'Fields', 'Actions'].map((c) => h('th', { scope: 'col' }, c)))),
        table,
      ),
    ),
  );
  editor.hidden = true;

  async function reload() {
    const r = await call('GetPresetsList', { type: 'all' });
    const own = list(r.user);
    const builtIn = list(r.ui);
    replace(table, [...own, ...builtIn].map((p) => {
      const fields = Object.entries(p.format ?? {}).filter(([k]) => k !== 'output').map(([k, v]) => `${k}=${summary(v)}`).join(', ');
      const mine = p.type !== 'ui';
      return h('tr', {},
        h('th', { scope: 'row' }, p.name),
        h('td', {}, mine ? 'yours' : 'built-in'),
        h('td', {}, p.output),
        h('td', { class: 'src' }, fields),
        h('td', { class: 'actions-cell' }, h('div', { class: 'row-actions' },
          mine
            ? [
                h('button', { type: 'button', onclick: () => openEditor(editor, p, reload) }, h('span', { class: 'sr-only' }, `${p.name}: `), 'Edit'),
                h('button', { type: 'button', class: 'danger', onclick: () => remove(p.name) }, h('span', { class: 'sr-only' }, `${p.name}: `), 'Delete'),
              ]
            : h('button', { type: 'button', onclick: () => openEditor(editor, { ...p, name: `${p.name}_copy` }, reload) }, h('span', { class: 'sr-only' }, `${p.name}: `), 'Copy'),
        )),
      );
    }));
  }

  async function remove(name) {
    if (!(await confirmAction(`Delete preset ${name}? This cannot be undone.`, 'Delete preset'))) return;
    try {
      await call('DeletePreset', { name });
      announce(`Preset ${name} deleted`);
      await reload();
    } catch (err) {
      announce(`Deleting ${name} failed: ${err.message}`, 'error');
    }
  }

  await reload();
}

/** A nested value in one short phrase (the editor shows it whole). */
function summary(v) {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return `${v.length} entries (${v.map((x) => (x && typeof x === 'object' ? x.sub_path ?? x.size ?? '…' : x)).join(', ')})`;
  return `{${Object.keys(v ?? {}).join(', ')}}`;
}

async function openEditor(editor, preset, reload) {
  const reg = await registry();
  editor.hidden = false;
  let fields = { output: preset?.output ?? 'mp4', ...(preset?.format ?? {}) };
  const name = h('input', { id: 'pe-name', 'data-field': 'name', required: true, value: preset?.name ?? '', pattern: '[A-Za-z0-9_.\\-]+' });
  const modes = ['fields', 'json', 'xml'];
  let mode = 'fields';
  const modeRadios = modes.map((m) => h('label', { for: `pe-mode-${m}` }, h('input', { type: 'radio', name: 'pe-mode', id: `pe-mode-${m}`, value: m, checked: m === mode }), ` ${m === 'fields' ? 'Form' : m.toUpperCase()}`));
  const body = h('div');
  const error = h('div', { 'aria-live': 'polite' });
  const checked = h('p', { class: 'check-result', role: 'status' });

  const formEditor = formatEditor(reg);
  const text = h('textarea', { id: 'pe-text', rows: '12', spellcheck: 'false' });

  /** The editor's current content as a field map, whatever the mode. */
  const read = () => {
    if (mode === 'fields') return formEditor.read();
    if (mode === 'json') {
      const v = JSON.parse(text.value || '{}');
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('The JSON must be an object of format fields.');
      return v;
    }
    const doc = new DOMParser().parseFromString(text.value, 'application/xml');
    if (doc.querySelector('parsererror')) throw new Error('The XML is not well-formed.');
    return xmlToFields(doc.documentElement);
  };
  const show = () => {
    if (mode === 'fields') {
      formEditor.set(fields);
      replace(body, formEditor.el);
    } else {
      text.value = mode === 'json' ? JSON.stringify(fields, null, 2) : fieldsToXml('format', fields, '');
      replace(body, h('label', { for: 'pe-text' }, mode === 'json' ? 'Format as JSON' : 'Format as XML'), text);
    }
  };
  for (const label of modeRadios) {
    label.querySelector('input').addEventListener('change', (e) => {
      try {
        fields = read();
        mode = e.target.value;
        replace(error);
        show();
      } catch (err) {
        e.target.checked = false;
        editor.querySelector(`#pe-mode-${mode}`).checked = true;
        replace(error, errorBox(err));
      }
    });
  }

  const form = h('form', {},
    h('h2', { id: 'h-edit' }, preset?.type === 'user' ? `Edit preset ${preset.name}` : 'New preset'),
    h('div', { class: 'field' }, h('label', { for: 'pe-name' }, 'Name'), name),
    h('fieldset', {}, h('legend', {}, 'Edit as'), h('div', { class: 'radios' }, modeRadios)),
    body,
    checked,
    error,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save preset'), h('button', { type: 'button', onclick: () => (editor.hidden = true) }, 'Close')),
  );
  /** SavePreset's checks on the server, nothing saved; the field an error names is marked. */
  let timer = null;
  form.addEventListener('change', () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      if (editor.hidden || !form.isConnected) return;
      clearErrors(form);
      try {
        const warnings = await check('SavePreset', { name: name.value.trim(), format: read() });
        replace(checked, h('span', { class: 'ok' }, 'SavePreset would accept this.'), warnings.length > 0 ? ` Ignored: ${warnings.join('; ')}` : '');
        checked.className = 'check-result';
      } catch (err) {
        markError(form, err.message, { focus: false });
        replace(checked, err.message);
        checked.className = 'check-result error';
      }
    }, 400);
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearTimeout(timer);
    clearErrors(form);
    try {
      const format = read();
      const r = await call('SavePreset', { name: name.value.trim(), format });
      const ignored = list(r.warnings?.warning);
      announce(`Preset ${list(r.SavedPreset).join(', ')} saved${ignored.length > 0 ? `; ignored: ${ignored.join(' ')}` : ''}`, ignored.length > 0 ? 'error' : 'info');
      editor.hidden = true;
      await reload();
    } catch (err) {
      markError(form, err.message);
      replace(error, errorBox(err));
    }
  });
  replace(editor, form);
  show();
  name.focus();
}

/** `<format><output>mp4</output>…</format>` → fields; repeated elements become lists. */
function xmlToFields(el) {
  const out = {};
  for (const c of el.children) {
    const v = c.children.length > 0 ? xmlToFields(c) : c.textContent.trim();
    out[c.tagName] = c.tagName in out ? [].concat(out[c.tagName], [v]) : v;
  }
  return out;
}

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

function fieldsToXml(name, value, indent) {
  if (Array.isArray(value)) return value.map((v) => fieldsToXml(name, v, indent)).join('');
  if (value && typeof value === 'object') {
    return `${indent}<${name}>\n${Object.entries(value).map(([k, v]) => fieldsToXml(k, v, `${indent}  `)).join('')}${indent}</${name}>\n`;
  }
  return `${indent}<${name}>${esc(value ?? '')}</${name}>\n`;
}
