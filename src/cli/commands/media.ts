/** `add`, `cancel`, `stop`, `restart`: the commands that change a media. */
import { CliError, ExitCode, usageError } from '../exit.ts';
import { line, printJson } from '../output.ts';
import { list, text } from '../views.ts';
import { isObject } from '../client.ts';
import { flag, formatsArg, idArg, exactlyOne, secondsOption, str, urlOrPath, type Command, type CommandContext, type OptionToken } from '../command.ts';
import { finish } from './status.ts';

export const add: Command = {
  usage: 'add <source>... <format> [--dest <url>]... [<format> [--dest <url>]...]... [--notify <url>] [--wait [--interval <s>]]',
  summary:
    'Add a media (AddMedia). Each <format> is --preset <name> or --format <json|@file>; each --dest goes to the format just before it, and a format with none is kept on the server. With --wait, follow the media until it ends',
  options: {
    preset: { type: 'string', multiple: true },
    format: { type: 'string', multiple: true },
    dest: { type: 'string', multiple: true },
    notify: { type: 'string' },
    wait: { type: 'boolean' },
    interval: { type: 'string' },
  },
  async run(ctx) {
    if (ctx.args.length === 0) throw usageError('missing the source: give its URL (or a path, sent as a file:// URL)');
    const formats = formatsInOrder(ctx.options);
    if (formats.length === 0) throw usageError('give at least one --preset <name> or --format <json>');
    const intervalMs = secondsOption(ctx.values, 'interval', 1, 0.2);
    const sources = ctx.args.map(urlOrPath);
    const notify = str(ctx.values, 'notify');
    const reply = await ctx.client().call('AddMedia', {
      source: sources.length === 1 ? sources[0] : sources,
      ...(notify ? { notify } : {}),
      format: formats.length === 1 ? formats[0] : formats,
    });
    // 7.8 rule 8: MediaID is the key; mediaid is read too, as clients do.
    const id = text(reply.MediaID) || text(reply.mediaid);
    if (!id) throw new CliError('the server answered AddMedia without a MediaID', ExitCode.Connection);
    // Fields the server ignored: on stderr, so that stdout (and --json) stays what scripts parse.
    const warnings = isObject(reply.warnings) ? list(reply.warnings.warning).map(text).filter(Boolean) : [];
    for (const w of warnings) line(ctx.out.stderr, `warning: ${w}`);
    if (!flag(ctx.values, 'wait')) {
      if (ctx.json) printJson(ctx.out, { mediaid: id, message: text(reply.message) });
      else line(ctx.out.stdout, `Added media ${id}`);
      return ExitCode.Ok;
    }
    if (!ctx.json) line(ctx.out.stdout, `Added media ${id}; waiting for it to end (Ctrl-C stops waiting, not the media)`);
    return finish(ctx, [id], intervalMs);
  },
};

/**
 * The formats of --preset and --format in the order typed, each --dest going to the format just
 * before it (several --dest: several destinations of that format). A format without a --dest
 * after it is kept on the server, so one command can deliver the MP4 and keep the thumbnail.
 */
function formatsInOrder(options: OptionToken[]): Record<string, unknown>[] {
  const formats: Record<string, unknown>[] = [];
  // The format the next --dest belongs to; null after a --format list, where it would be ambiguous.
  let last: { format: Record<string, unknown> | null; typed: string } | null = null;
  const dests = new Map<Record<string, unknown>, string[]>();
  for (const { name, value = '' } of options) {
    if (name === 'preset') {
      const format = { output_preset: value };
      formats.push(format);
      last = { format, typed: `--preset ${value}` };
    } else if (name === 'format') {
      const items = formatsArg([value], 'format');
      formats.push(...items);
      last = { format: items.length === 1 ? items[0]! : null, typed: '--format' };
    } else if (name === 'dest') {
      if (!last) throw usageError(`--dest ${value} comes before any --preset or --format: put each --dest after the format it is for`);
      if (!last.format) throw usageError(`--dest ${value} follows a --format list of several formats: put "destination" in each format's JSON, or give them as separate --format options`);
      if (last.format.destination !== undefined) throw usageError(`--dest ${value} follows a --format that names its own "destination": give its destinations in one place`);
      dests.set(last.format, [...(dests.get(last.format) ?? []), urlOrPath(value)]);
    }
  }
  for (const [format, urls] of dests) format.destination = urls.length === 1 ? urls[0] : urls;
  return formats;
}

function mediaAction(action: string, verb: string, summary: string): Command {
  return {
    usage: `${verb} <mediaid>`,
    summary,
    options: {},
    run: async (ctx) => simple(ctx, action, { mediaid: idArg(exactlyOne(ctx.args, 'media id'), 'media id') }),
  };
}

async function simple(ctx: CommandContext, action: string, fields: Record<string, string>): Promise<ExitCode> {
  const reply = await ctx.client().call(action, fields);
  const message = text(reply.message) || 'Done';
  if (ctx.json) printJson(ctx.out, { ...fields, message });
  else line(ctx.out.stdout, `media ${fields.mediaid}: ${message}`);
  return ExitCode.Ok;
}

export const cancel = mediaAction('CancelMedia', 'cancel', 'Cancel and delete a media (CancelMedia)');
export const stop = mediaAction('StopMedia', 'stop', 'Stop a media, keeping what is already saved (StopMedia)');

export const restart: Command = {
  usage: 'restart <mediaid> [--errors | --task <taskid>]',
  summary: 'Restart a media (RestartMedia), only its failed tasks (--errors) or one task (--task)',
  options: { errors: { type: 'boolean' }, task: { type: 'string' } },
  async run(ctx) {
    const mediaid = idArg(exactlyOne(ctx.args, 'media id'), 'media id');
    const task = str(ctx.values, 'task');
    if (task !== undefined && flag(ctx.values, 'errors')) throw usageError('give --errors or --task, not both');
    if (task !== undefined) return simple(ctx, 'RestartMediaTask', { mediaid, taskid: idArg(task, 'task id') });
    return simple(ctx, flag(ctx.values, 'errors') ? 'RestartMediaErrors' : 'RestartMedia', { mediaid });
  },
};
