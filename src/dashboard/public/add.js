// Add a media: a source URL or an uploaded file, presets (each with optional destinations; none
// means Encodery keeps the output) and outputs of its own from the format editor, and the media's
// own fields (notify, priority, …). The server checks the whole form as AddMedia would, as it is filled.
import { call, check, fields, list, upload } from './api.js';
import { announce, errorBox, h, replace } from './ui.js';
import { clearErrors, formatEditor, markError, queryEditor } from './format-editor.js';

export async function addView(main, _params, ctx) {
  const [presets, reg] = await Promise.all([call('GetPresetsList', { type: 'all' }), fields()]);
  const all = [...list(presets.user), ...list(presets.ui)];

  const urlInput = h('textarea', { id: 'source-url', name: 'source', rows: '2', inputmode: 'url', autocomplete: 'off', spellcheck: 'false', placeholder: 'https://…, s3://…, file:///…', 'aria-describedby': 'source-help' });
  const fileInput = h('input', { id: 'source-file', name: 'file', type: 'file', accept: 'video/*,audio/*,image/*' });
  const urlMode = h('input', { type: 'radio', name: 'mode', id: 'mode-url', value: 'url', checked: true });
  const fileMode = h('input', { type: 'radio', name: 'mode', id: 'mode-file', value: 'file' });
  const urlField = h('div', { class: 'field' }, h('label', { for: 'source-url' }, 'Source URL'), urlInput, h('small', { id: 'source-help' }, 'Several URLs may be given, one per line: they are joined in order.'));
  const fileField = h('div', { class: 'field', hidden: true }, h('label', { for: 'source-file' }, 'File to upload'), fileInput);
  const syncMode = () => {
    urlField.hidden = !urlMode.checked;
    fileField.hidden = !fileMode.checked;
  };
  urlMode.addEventListener('change', syncMode);
  fileMode.addEventListener('change', syncMode);

  const rows = all.map((p, i) => {
    const box = h('input', { type: 'checkbox', id: `p-${i}`, name: 'preset', value: p.name });
    const dest = h('textarea', { id: `d-${i}`, rows: '2', 'data-field': 'destination', placeholder: 'Leave empty to keep the output on this server' });
    const destField = h('div', { class: 'field dest', hidden: true }, h('label', { for: `d-${i}` }, `Destinations for ${p.name} (one per line)`), dest);
    box.addEventListener('change', () => (destField.hidden = !box.checked));
    return { p, box, dest, el: h('li', {}, h('label', { for: `p-${i}` }, box, ` ${p.name} `, h('span', { class: 'muted' }, `${p.type === 'ui' ? 'built-in' : 'yours'}, ${p.output}`)), destField) };
  });

  const custom = [];
  const customBox = h('div', { class: 'outputs' });
  const addOutput = () => {
    const editor = formatEditor(reg, { presets: all.map((p) => p.name), destinations: true, initial: { output: 'mp4' } });
    const legend = h('legend', {});
    const box = h('fieldset', { class: 'output' }, legend, editor.el);
    const item = { editor, box, legend };
    const removeButton = h('button', { type: 'button', class: 'danger' });
    removeButton.addEventListener('click', () => {
      custom.splice(custom.indexOf(item), 1);
      box.remove();
      numberOutputs();
      scheduleCheck();
    });
    box.append(removeButton);
    item.remove = removeButton;
    custom.push(item);
    customBox.append(box);
    numberOutputs();
    editor.output.focus();
  };
  const numberOutputs = () => custom.forEach((c, i) => {
    c.legend.textContent = `Output ${i + 1}`;
    c.remove.textContent = `Remove output ${i + 1}`;
  });
  const options = queryEditor(reg);

  const result = h('div', { 'aria-live': 'polite' });
  const checked = h('p', { class: 'check-result', role: 'status' });
  const submit = h('button', { type: 'submit' }, 'Add media');
  const checkButton = h('button', { type: 'button' }, 'Check');
  const form = h('form', { class: 'card add', novalidate: true },
    h('fieldset', {}, h('legend', {}, 'Source'),
      h('div', { class: 'radios' }, h('label', { for: 'mode-url' }, urlMode, ' A URL'), h('label', { for: 'mode-file' }, fileMode, ' Upload a file')),
      urlField, fileField),
    h('fieldset', {}, h('legend', {}, 'Presets (pick one or more)'), h('ul', { class: 'presets-pick' }, rows.map((r) => r.el))),
    h('fieldset', {}, h('legend', {}, 'Outputs of your own'), customBox, h('button', { type: 'button', onclick: addOutput }, 'Add an output')),
    h('fieldset', {}, h('legend', {}, 'Media settings'), options.el),
    checked,
    h('div', { class: 'actions' }, checkButton, submit),
    result,
  );

  /** The formats in the order they are sent, each with the part of the form it came from. */
  const formats = () => [
    ...rows.filter((r) => r.box.checked).map((r) => {
      const destination = r.dest.value.split('\n').map((s) => s.trim()).filter(Boolean);
      return { root: r.el, format: { output_preset: r.p.name, ...(destination.length ? { destination } : {}) } };
    }),
    ...custom.map((c) => ({ root: c.box, format: c.editor.read() })),
  ];
  const urls = () => urlInput.value.split(/\s*\n\s*/).map((s) => s.trim()).filter(Boolean);
  const queryOf = (sources, chosen) => {
    const format = chosen.map((c) => c.format);
    return { ...options.read(), ...(sources ? { source: sources.length === 1 ? sources[0] : sources } : {}), format: format.length === 1 ? format[0] : format };
  };
  /** Shows an error of the API's and marks the field it names, in the format it names. */
  const showError = (err, chosen, focus = true) => {
    const message = err instanceof Error ? err.message : String(err);
    const n = /^Format (\d+): /.exec(message);
    const root = n ? chosen[Number(n[1]) - 1]?.root : null;
    if (!(root && markError(root, message, { focus }))) markError(form, message, { focus });
    return message;
  };

  /** AddMedia's checks, run on the server with nothing added. */
  const runCheck = async ({ quiet }) => {
    clearErrors(form);
    let chosen;
    try {
      chosen = formats();
      const file = fileMode.checked ? fileInput.files?.[0] : null;
      if (quiet && (chosen.length === 0 || (fileMode.checked ? !file : urls().length === 0))) return replace(checked);
      const warnings = await check('AddMedia', queryOf(fileMode.checked ? null : urls(), chosen), file ? file.name : undefined);
      replace(checked, h('span', { class: 'ok' }, 'AddMedia would accept this.'), warnings.length > 0 ? ` Ignored: ${warnings.join('; ')}` : '');
      checked.className = 'check-result';
    } catch (err) {
      replace(checked, chosen ? showError(err, chosen, !quiet) : String(err.message ?? err));
      checked.className = 'check-result error';
    }
  };
  let timer = null;
  const scheduleCheck = () => {
    clearTimeout(timer);
    timer = setTimeout(() => void runCheck({ quiet: true }), 400);
  };
  ctx.onLeave(() => clearTimeout(timer));
  form.addEventListener('change', scheduleCheck);
  checkButton.addEventListener('click', () => void runCheck({ quiet: false }));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearTimeout(timer);
    clearErrors(form);
    let chosen;
    try {
      chosen = formats();
    } catch (err) {
      return replace(result, errorBox(err));
    }
    if (chosen.length === 0) return replace(result, errorBox('Pick at least one preset, or add an output.'));
    submit.disabled = true;
    try {
      let sources;
      if (fileMode.checked) {
        const file = fileInput.files?.[0];
        if (!file) throw new Error('Pick a file to upload.');
        replace(result, h('p', {}, `Uploading ${file.name}…`));
        sources = [await upload(file)];
      } else {
        sources = urls();
        if (sources.length === 0) throw new Error('Give a source URL.');
      }
      const r = await call('AddMedia', queryOf(sources, chosen));
      const id = r.MediaID ?? r.mediaid;
      const ignored = list(r.warnings?.warning);
      announce(`Media ${id} added${ignored.length > 0 ? `; ignored: ${ignored.join(' ')}` : ''}`, ignored.length > 0 ? 'error' : 'info');
      ctx.go(`/dashboard/media/${id}`);
    } catch (err) {
      replace(result, errorBox(showError(err, chosen)));
    } finally {
      submit.disabled = false;
    }
  });

  replace(main, h('h1', {}, 'Add media'), form);
}
