/** `presets [list|get|save|delete]` (GetPresetsList, GetPreset, SavePreset, DeletePreset). */
import { isObject } from '../client.ts';
import { ExitCode, usageError } from '../exit.ts';
import { line, printJson, table } from '../output.ts';
import { list, text } from '../views.ts';
import { exactlyOne, formatsArg, str, strs, type Command, type CommandContext } from '../command.ts';

export const presets: Command = {
  usage: 'presets [list [--type all|user|ui]] | get <name> | save <name> --format <json|@file> | delete <name>',
  summary: 'List, show, save or delete presets',
  options: { type: { type: 'string' }, format: { type: 'string', multiple: true } },
  async run(ctx) {
    const [sub = 'list', ...rest] = ctx.args;
    const inner = { ...ctx, args: rest };
    switch (sub) {
      case 'list':
        return listPresets(inner);
      case 'get':
        return getPreset(inner);
      case 'save':
        return savePreset(inner);
      case 'delete':
        return deletePreset(inner);
      default:
        throw usageError(`unknown presets command "${sub}"; use list, get, save or delete`);
    }
  },
};

async function listPresets(ctx: CommandContext): Promise<ExitCode> {
  if (ctx.args.length > 0) throw usageError(`presets list takes no arguments (got ${ctx.args.length})`);
  const type = str(ctx.values, 'type') ?? 'all';
  const reply = await ctx.client().call('GetPresetsList', { type });
  const rows = [...list(reply.user), ...list(reply.ui)].filter(isObject).map((p) => ({ name: text(p.name), type: text(p.type), output: list(p.output).map(text)[0] ?? '' }));
  if (ctx.json) printJson(ctx.out, { presets: rows });
  else if (rows.length === 0) line(ctx.out.stdout, 'No presets.');
  else table([['NAME', 'TYPE', 'OUTPUT'], ...rows.map((r) => [r.name, r.type, r.output])]).forEach((l) => line(ctx.out.stdout, l));
  return ExitCode.Ok;
}

async function getPreset(ctx: CommandContext): Promise<ExitCode> {
  const name = exactlyOne(ctx.args, 'preset name');
  const reply = await ctx.client().call('GetPreset', { name, type: str(ctx.values, 'type') ?? 'all' });
  if (ctx.json) {
    printJson(ctx.out, reply);
    return ExitCode.Ok;
  }
  line(ctx.out.stdout, `${text(reply.name) || name}  (${text(reply.type)}, ${list(reply.output).map(text)[0] ?? ''})`);
  // The format as JSON, ready to edit and give back to `presets save --format @file`.
  line(ctx.out.stdout, JSON.stringify(isObject(reply.format) ? reply.format : {}, null, 2));
  return ExitCode.Ok;
}

async function savePreset(ctx: CommandContext): Promise<ExitCode> {
  const name = exactlyOne(ctx.args, 'preset name');
  const formats = formatsArg(strs(ctx.values, 'format'), 'format');
  if (formats.length === 0) throw usageError('give the preset as --format <json> or --format @file.json');
  const reply = await ctx.client().call('SavePreset', { name, format: formats.length === 1 ? formats[0] : formats });
  // SavedPreset: a string for one, a list for several (reference 2.13).
  const saved = list(reply.SavedPreset).map(text).filter(Boolean);
  if (ctx.json) printJson(ctx.out, { message: text(reply.message), saved });
  else line(ctx.out.stdout, `Saved preset${saved.length > 1 ? 's' : ''} ${(saved.length > 0 ? saved : [name]).join(', ')}`);
  return ExitCode.Ok;
}

async function deletePreset(ctx: CommandContext): Promise<ExitCode> {
  const name = exactlyOne(ctx.args, 'preset name');
  const reply = await ctx.client().call('DeletePreset', { name });
  if (ctx.json) printJson(ctx.out, { name, message: text(reply.message) });
  else line(ctx.out.stdout, `Deleted preset ${name}`);
  return ExitCode.Ok;
}
