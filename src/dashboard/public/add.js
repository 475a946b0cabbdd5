// Add a media: a source URL or an uploaded file, one or more presets (each with optional
// destinations; none means Encodery keeps the output), and a notify URL.
import { call, list, upload } from './api.js';
import { announce, errorBox, h, replace } from './ui.js';

export async function addView(main, _params, ctx) {
  const presets = await call('GetPresetsList', { type: 'all' });
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
    const dest = h('textarea', { id: `d-${i}`, rows: '2', placeholder: 'Leave empty to keep the output on this server' });
    const destField = h('div', { class: 'field dest', hidden: true }, h('label', { for: `d-${i}` }, `Destinations for ${p.name} (one per line)`), dest);
    box.addEventListener('change', () => (destField.hidden = !box.checked));
    return { p, box, dest, el: h('li', {}, h('label', { for: `p-${i}` }, box, ` ${p.name} `, h('span', { class: 'muted' }, `${p.type === 'ui' ? 'built-in' : 'yours'}, ${p.output}`)), destField) };
  });

  const notify = h('input', { id: 'notify', name: 'notify', inputmode: 'url', placeholder: 'https://… or mailto:…' });
  const result = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit' }, 'Add media');
  const form = h('form', { class: 'card add', novalidate: true },
    h('fieldset', {}, h('legend', {}, 'Source'),
      h('div', { class: 'radios' }, h('label', { for: 'mode-url' }, urlMode, ' A URL'), h('label', { for: 'mode-file' }, fileMode, ' Upload a file')),
      urlField, fileField),
    h('fieldset', {}, h('legend', {}, 'Presets (pick one or more)'), h('ul', { class: 'presets-pick' }, rows.map((r) => r.el))),
    h('div', { class: 'field' }, h('label', { for: 'notify' }, 'Notify URL (optional)'), notify),
    submit,
    result,
  );

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const chosen = rows.filter((r) => r.box.checked);
    if (chosen.length === 0) return replace(result, errorBox('Pick at least one preset.'));
    submit.disabled = true;
    try {
      let sources;
      if (fileMode.checked) {
        const file = fileInput.files?.[0];
        if (!file) throw new Error('Pick a file to upload.');
        replace(result, h('p', {}, `Uploading ${file.name}…`));
        sources = [await upload(file)];
      } else {
        sources = urlInput.value.split(/\s*\n\s*/).map((s) => s.trim()).filter(Boolean);
        if (sources.length === 0) throw new Error('Give a source URL.');
      }
      const format = chosen.map((r) => {
        const destination = r.dest.value.split('\n').map((s) => s.trim()).filter(Boolean);
        return { output_preset: r.p.name, ...(destination.length ? { destination } : {}) };
      });
      const query = { source: sources.length === 1 ? sources[0] : sources, format: format.length === 1 ? format[0] : format };
      if (notify.value.trim()) query.notify = notify.value.trim();
      const r = await call('AddMedia', query);
      const id = r.MediaID ?? r.mediaid;
      const ignored = list(r.warnings?.warning);
      announce(`Media ${id} added${ignored.length > 0 ? `; ignored: ${ignored.join(' ')}` : ''}`, ignored.length > 0 ? 'error' : 'info');
      ctx.go(`/dashboard/media/${id}`);
    } catch (err) {
      replace(result, errorBox(err));
    } finally {
      submit.disabled = false;
    }
  });

  replace(main, h('h1', {}, 'Add media'), form);
}
