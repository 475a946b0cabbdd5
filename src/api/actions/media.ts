/**
 * The media actions, one module per concern (media/): adding (add.ts), changing an added media
 * (lifecycle.ts), the checks a query passes (validate.ts), presets inside formats
 * (preset-lookup.ts) and the URL rules (locations.ts).
 */
export { addMedia, addMediaBenchmark, checkAddMedia, processMedia } from './media/add.ts';
export { cancelMedia, restartMedia, restartMediaErrors, restartMediaTask, stopMedia, updateMedia } from './media/lifecycle.ts';
export { MAX_FORMATS, WARNING_PREFIX, checkFields, formatMap } from './media/validate.ts';
export { checkPresetRoom, findPreset, presetNameIn, presetOfRow, resolveFormat, type PresetScope } from './media/preset-lookup.ts';
