/** `add`, `cancel`, `stop`, `restart`: the commands that change a media. */
import { CliError, ExitCode, usageError } from '../exit.ts';
import { line, printJson } from '../output.ts';
import { list, text } from '../views.ts';
import { isObject } from '../client.ts';
import { flag, formatsArg, idArg, exactlyOne, secondsOption, str, strs, urlOrPath, type Command, type CommandContext } from '../command.ts';
import { finish } from './status.ts';

export const add: Command = {
  usage: 'add <source>... (--preset <name> | --format <json|@file>)... [--dest <url>]... [--notify <url>] [--wait [--interval <s>]]',
  summary: 'Add a media (AddMedia); with --wait, follow it until it ends',
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
    const formats = [
      ...strs(ctx.values, 'preset').map((name) => ({ output_preset: name }) as Record<string, unknown>),
      ...formatsArg(strs(ctx.values, 'format'), 'format'),
    ];
    if (formats.length === 0) throw usageError('give at least one --preset <name> or --format <json>');
    placeDestinations(formats, strs(ctx.values, 'dest').map(urlOrPath));
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
 * --dest values go to the formats that name no destination themselves: all of them to a single
 * such format, or, as many --dest as formats, the n-th to the n-th. Anything else would write
 * several formats to one file, so it is refused.
 */
function placeDestinations(formats: Record<string, unknown>[], dests: string[]): void {
  if (dests.length === 0) return;
  const open = formats.filter((f) => f.destination === undefined);
  if (open.length === 1) open[0]!.destination = dests.length === 1 ? dests[0] : dests;
  else if (open.length === dests.length) open.forEach((f, i) => (f.destination = dests[i]));
  else throw usageError(`${dests.length} --dest for ${open.length} formats without a destination: give one --dest per format, in the same order, or put "destination" in the --format JSON`);
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
