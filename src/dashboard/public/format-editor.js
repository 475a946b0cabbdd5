// The format editor, generated from the server's field registry (GET /dashboard/api/fields):
// every field the chosen output takes, in the registry's groups, each with its help line.
// Refused fields are never offered; inert ones say that they change nothing, and why.
import { h, replace } from './ui.js';

let editors = 0;

/** Fields handled by the form around the editor, not as one more input. */
const OWN_INPUTS = { query: ['userid', 'userkey', 'action', 'mediaid', 'name', 'source', 'format'], format: ['output', 'destination', 'output_preset'] };

/** The fields of `place` that apply to `output` (null: any), in registry order. */
function fieldsFor(reg, place, output) {
  const own = OWN_INPUTS[place] ?? [];
  return reg.fields.filter((f) => f.in.includes(place) && !own.includes(f.name) && (!output || !f.outputs || f.outputs.includes(output)));
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Inputs for every field of `place` (`query`, `format`, `stream` or a block), grouped; `read()`
 * gives the filled ones as a field map, `set(map)` fills them and returns what it had no input for.
 */
function fieldSet(reg, place, output, prefix, { grouped = true, open = [] } = {}) {
  const inputs = new Map();
  const blocks = new Map();
  const el = h('div', { class: 'fieldset-body' });

  const input = (f) => {
    const id = `${prefix}-${f.name}`;
    const helpId = `${id}-help`;
    const help = h('small', { id: helpId, class: 'help' },
      f.state === 'inert' ? [h('span', { class: 'badge inert' }, 'no effect'), ` ${f.doc}. ${f.reason}.`] : f.doc);
    // A block of its own fields (logo, overlay, …), or a stream, whose fields sit at place `stream`.
    if (f.block === 'fields' || reg.fields.some((x) => x.in.includes(f.name))) {
      const instances = h('div', { class: 'instances' });
      const add = h('button', { type: 'button', 'aria-describedby': helpId }, `Add ${f.name}`);
      const items = [];
      const addInstance = () => {
        const n = ++editors;
        const sub = fieldSet(reg, f.name, output, `${id}-${n}`, { grouped: false });
        const box = h('fieldset', { class: 'instance' }, h('legend', {}, `${f.name} ${items.length + 1}`), sub.el);
        const item = { sub, box };
        box.append(h('button', { type: 'button', class: 'danger', onclick: () => {
          items.splice(items.indexOf(item), 1);
          box.remove();
          el.dispatchEvent(new Event('change', { bubbles: true }));
        } }, `Remove ${f.name} ${items.length + 1}`));
        items.push(item);
        instances.append(box);
        return sub;
      };
      add.addEventListener('click', () => addInstance().focus());
      blocks.set(f.name, { items, addInstance });
      return h('div', { class: 'field block', 'data-field': f.name }, h('span', { class: 'label' }, f.name), help, instances, add);
    }
    const control = f.block === 'free'
      ? h('textarea', { id, rows: '3', spellcheck: 'false', placeholder: 'JSON, or a single value', 'aria-describedby': helpId })
      : h('input', { id, type: f.secret ? 'password' : 'text', autocomplete: 'off', spellcheck: 'false', inputmode: f.url ? 'url' : undefined, 'aria-describedby': helpId });
    control.dataset.field = f.name;
    inputs.set(f.name, { control, free: f.block === 'free' });
    return h('div', { class: `field${f.state === 'inert' ? ' inert' : ''}` }, h('label', { for: id }, f.name), control, help);
  };

  const list = fieldsFor(reg, place, output);
  if (grouped) {
    const groups = new Map();
    for (const f of list) {
      if (!groups.has(f.group)) groups.set(f.group, []);
      groups.get(f.group).push(f);
    }
    for (const [group, members] of groups) {
      el.append(h('details', { class: 'group', open: open.includes(group) },
        h('summary', {}, `${group} `, h('span', { class: 'muted' }, `(${members.length} field${members.length === 1 ? '' : 's'})`)),
        members.map(input)));
    }
  } else {
    el.append(...list.map(input));
  }

  return {
    el,
    focus: () => el.querySelector('input, textarea, select, button')?.focus(),
    read() {
      const out = {};
      for (const [name, { control, free }] of inputs) {
        const v = control.value.trim();
        if (v === '') continue;
        out[name] = free && /^[[{]/.test(v) ? parseJson(name, v) : v;
      }
      for (const [name, { items }] of blocks) {
        const values = items.map((i) => i.sub.read()).filter((m) => Object.keys(m).length > 0);
        if (values.length > 0) out[name] = values.length === 1 ? values[0] : values;
      }
      return out;
    },
    set(map) {
      const rest = {};
      for (const [name, value] of Object.entries(map ?? {})) {
        const field = inputs.get(name);
        const block = blocks.get(name);
        if (field && (typeof value === 'string' || typeof value === 'number' || (field.free && value !== null))) {
          field.control.value = typeof value === 'object' ? JSON.stringify(value) : String(value);
          revealField(field.control);
        } else if (block && (isObject(value) || (Array.isArray(value) && value.every(isObject)))) {
          for (const item of [value].flat()) {
            const unknown = block.addInstance().set(item);
            if (Object.keys(unknown).length > 0) rest[name] = value;
          }
        } else {
          rest[name] = value;
        }
      }
      return rest;
    },
  };
}

function parseJson(name, text) {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${name}: the JSON is not valid.`);
  }
}

/** Opens the group a field is in, so a filled or faulty field is never hidden. */
function revealField(el) {
  for (let d = el.closest('details'); d; d = d.parentElement?.closest('details')) d.open = true;
}

/**
 * Marks the inputs of `root` whose field the error names (`Format 2: bitrate must …`), opens
 * their group and (unless a check runs while the user types elsewhere) focuses the first; false
 * when the error names none of them.
 */
export function markError(root, message, { focus = true } = {}) {
  clearErrors(root);
  const named = [...root.querySelectorAll('[data-field]')].filter((el) => new RegExp(`(^|[^a-z0-9_])${el.dataset.field}($|[^a-z0-9_])`, 'i').test(message));
  // The most specific name wins: "audio_bitrate" names that field, not "bitrate" too.
  const hits = named.filter((el) => !named.some((o) => o !== el && o.dataset.field.length > el.dataset.field.length && o.dataset.field.includes(el.dataset.field)));
  for (const el of hits) {
    const control = el.matches('input, textarea, select') ? el : el.querySelector('button');
    control?.setAttribute('aria-invalid', 'true');
    revealField(el);
  }
  const first = hits[0];
  if (focus) (first?.matches('input, textarea, select') ? first : first?.querySelector('button'))?.focus();
  return hits.length > 0;
}

export function clearErrors(root) {
  for (const el of root.querySelectorAll('[aria-invalid="true"]')) el.removeAttribute('aria-invalid');
}

/** The media's own fields (AddMedia's top level): notify URLs, priority, QC, split screen, …. */
export function queryEditor(reg) {
  return fieldSet(reg, 'query', null, `q${++editors}`, { open: ['Media'] });
}

/**
 * One output: its kind, and every field that kind takes. `presets` (optional): names offered as
 * `output_preset`; `destinations`: a box for where it goes; fields of `initial` that have no input
 * are kept as JSON, so editing a preset never loses one.
 */
export function formatEditor(reg, { initial = {}, presets = null, destinations = false, label = 'Output' } = {}) {
  const prefix = `fe${++editors}`;
  const output = h('select', { id: `${prefix}-output`, 'data-field': 'output' },
    presets ? h('option', { value: '' }, '(the preset\'s)') : null,
    reg.outputs.map((o) => h('option', { value: o }, o)));
  const preset = presets
    ? h('select', { id: `${prefix}-preset`, 'data-field': 'output_preset' }, h('option', { value: '' }, 'None'), presets.map((p) => h('option', { value: p }, p)))
    : null;
  const dest = destinations ? h('textarea', { id: `${prefix}-dest`, rows: '2', 'data-field': 'destination', placeholder: 'Leave empty to keep the output on this server' }) : null;
  const other = h('textarea', { id: `${prefix}-other`, rows: '3', spellcheck: 'false', placeholder: '{}' });
  const body = h('div');
  let fields = null;

  const draw = (values) => {
    fields = fieldSet(reg, 'format', output.value || null, prefix);
    const rest = fields.set(values);
    other.value = Object.keys(rest).length > 0 ? JSON.stringify(rest, null, 2) : '';
    replace(body, fields.el);
  };

  const read = () => {
    const own = fields.read();
    const extra = other.value.trim() ? parseJson('Other fields', other.value.trim()) : {};
    if (!isObject(extra)) throw new Error('Other fields: give a JSON object of fields.');
    const map = { ...(output.value ? { output: output.value } : {}), ...(preset?.value ? { output_preset: preset.value } : {}), ...extra, ...own };
    const where = dest ? dest.value.split('\n').map((s) => s.trim()).filter(Boolean) : [];
    if (where.length > 0) map.destination = where.length === 1 ? where[0] : where;
    return map;
  };

  const set = (map) => {
    const { output: out, output_preset: base, destination, ...rest } = map ?? {};
    output.value = typeof out === 'string' && reg.outputs.includes(out.toLowerCase()) ? out.toLowerCase() : presets ? '' : 'mp4';
    if (preset) preset.value = typeof base === 'string' ? base : '';
    if (dest) dest.value = [destination ?? []].flat().join('\n');
    draw(rest);
  };

  // Another output takes other fields: what was filled in is kept where the new one has it.
  output.addEventListener('change', () => {
    const { output: _o, output_preset: _p, destination: _d, ...values } = read();
    draw(values);
  });

  const el = h('div', { class: 'format-editor' },
    h('div', { class: 'field-row' },
      h('div', { class: 'field' }, h('label', { for: output.id }, label), output),
      preset ? h('div', { class: 'field' }, h('label', { for: preset.id }, 'Based on preset'), preset) : null),
    dest ? h('div', { class: 'field' }, h('label', { for: dest.id }, 'Destinations (one per line)'), dest) : null,
    body,
    h('details', { class: 'group' }, h('summary', {}, 'Other fields'),
      h('div', { class: 'field' }, h('label', { for: other.id }, 'Fields this form has no input for, as {"field": "value", …}'), other)),
  );
  set(initial);
  return { el, read, set, output };
}
