/** `status`, `list` and `info`: the commands that only read. */
import { MediaStatus } from '../../domain/status.ts';
import { describeMedia } from '../describe.ts';
import { ExitCode, usageError } from '../exit.ts';
import { line, percent, printJson, table } from '../output.ts';
import { watchMedia } from '../watch.ts';
import { isObject } from '../client.ts';
import { exitCodeOf, list, mediaViews, problemsOf, text, type MediaView } from '../views.ts';
import { flag, idArg, exactlyOne, secondsOption, str, wholeNumberOption, type Command, type CommandContext } from '../command.ts';
import { LIST_DATE_FORMS, PER_PAGE, listDate } from '../../domain/media-list.ts';

export const status: Command = {
  usage: 'status <mediaid>... [--watch [--interval <s>]]',
  summary: 'Show a media and its tasks (GetStatus); --watch follows them with progress bars until they end',
  options: { watch: { type: 'boolean' }, interval: { type: 'string' } },
  async run(ctx) {
    if (ctx.args.length === 0) throw usageError('missing the media id');
    const ids = ctx.args.map((a) => idArg(a, 'media id'));
    const intervalMs = secondsOption(ctx.values, 'interval', 1, 0.2);
    if (flag(ctx.values, 'watch')) return finish(ctx, ids, intervalMs);
    const media = mediaViews(await ctx.client().call('GetStatus', { mediaid: ids.join(','), extended: 'yes' }));
    return report(ctx, media);
  },
};

/** Follows media to their end and reports them: the exit code says how they ended. */
export async function finish(ctx: CommandContext, ids: string[], intervalMs: number): Promise<ExitCode> {
  const media = await watchMedia(ctx.client(), ids, ctx.out, { intervalMs, json: ctx.json, signal: ctx.signal });
  if (ctx.json) {
    reportProblems(ctx, media);
    return worst(media);
  }
  line(ctx.out.stdout);
  return report(ctx, media);
}

function report(ctx: CommandContext, media: MediaView[]): ExitCode {
  if (ctx.json) printJson(ctx.out, { media });
  else media.forEach((m, i) => describeMedia(m).forEach((l, j) => line(ctx.out.stdout, i > 0 && j === 0 ? `\n${l}` : l)));
  reportProblems(ctx, media);
  return worst(media);
}

function reportProblems(ctx: CommandContext, media: MediaView[]): void {
  for (const m of media) for (const p of problemsOf(m)) line(ctx.out.stderr, `encodery: ${p}`);
}

const worst = (media: MediaView[]): ExitCode => media.map(exitCodeOf).reduce<ExitCode>((a, b) => (b > a ? b : a), ExitCode.Ok);

export const listCommand: Command = {
  usage: `list [--status <status>] [--output <output>] [--from <date>] [--to <date>] [--page <n>] [--per-page <${PER_PAGE.min}-${PER_PAGE.max}>] [--oldest-first]`,
  summary: 'List media, newest first (GetMediaList version 3)',
  options: {
    status: { type: 'string' },
    output: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    page: { type: 'string' },
    'per-page': { type: 'string' },
    'oldest-first': { type: 'boolean' },
  },
  async run(ctx) {
    if (ctx.args.length > 0) throw usageError(`list takes no arguments (got ${ctx.args.length}); filters are options, like --status Error`);
    const fields: Record<string, string> = {
      version: '3',
      sort: 'media_id',
      order: flag(ctx.values, 'oldest-first') ? 'asc' : 'desc',
      page: String(wholeNumberOption(ctx.values, 'page', 1, 1, Number.MAX_SAFE_INTEGER)),
      per_page: String(wholeNumberOption(ctx.values, 'per-page', 20, PER_PAGE.min, PER_PAGE.max)),
    };
    const wanted = str(ctx.values, 'status');
    if (wanted !== undefined) fields.status = mediaStatusArg(wanted);
    for (const [option, field] of [['output', 'output'], ['from', 'date_from'], ['to', 'date_to']] as const) {
      const v = str(ctx.values, option);
      if (v !== undefined && option !== 'output' && listDate(v, false) === null) throw usageError(`--${option} must be a date like ${LIST_DATE_FORMS} (UTC), not "${v.slice(0, 40)}"`);
      if (v !== undefined) fields[field] = v;
    }
    const reply = await ctx.client().call('GetMediaList', fields);
    const media = list(reply.media).filter(isObject).map((m) => ({
      id: text(m.id) || text(m.mediaid),
      status: text(m.status) || text(m.mediastatus),
      progress: Number.parseFloat(text(m.progress)) || 0,
      created: text(m.created) || text(m.createdate),
      finished: text(m.finished) || text(m.finishdate),
      sources: list(m.sourcefile ?? m.mediafile).map(text).filter(Boolean),
    }));
    const pages = isObject(reply.pagination) ? reply.pagination : {};
    const pagination = { page: text(pages.page), pages: text(pages.pages), total: text(pages.total), per_page: text(pages.per_page) };
    if (ctx.json) {
      printJson(ctx.out, { pagination, media });
      return ExitCode.Ok;
    }
    if (media.length === 0) {
      line(ctx.out.stdout, 'No media.');
      return ExitCode.Ok;
    }
    const rows = [['ID', 'STATUS', 'PROGRESS', 'CREATED', 'SOURCE'], ...media.map((m) => [m.id, m.status, percent(m.progress), m.created, m.sources.join(' + ')])];
    table(rows).forEach((l) => line(ctx.out.stdout, l));
    if (Number(pagination.pages) > 1) line(ctx.out.stdout, `page ${pagination.page} of ${pagination.pages} (${pagination.total} media; --page for more)`);
    return ExitCode.Ok;
  },
};

/** A media status in any letter case (`error`, `waiting for encoder`), spelled as the server does. */
function mediaStatusArg(value: string): string {
  const known = Object.values(MediaStatus);
  const found = known.find((k) => k.toLowerCase() === value.trim().toLowerCase());
  if (!found) throw usageError(`--status must be one of ${known.join(', ')}; not "${value.slice(0, 40)}"`);
  return found;
}

export const info: Command = {
  usage: 'info <mediaid>',
  summary: "Show what the media's source holds (GetMediaInfo)",
  options: {},
  async run(ctx) {
    const mediaid = idArg(exactlyOne(ctx.args, 'media id'), 'media id');
    const reply = await ctx.client().call('GetMediaInfo', { mediaid });
    // Flat scalars by the rules; anything else (a list from another server) is shown as text.
    const fields = Object.entries(reply).map(([k, v]): [string, string] => [k, list(v).map((x) => (typeof x === 'object' ? JSON.stringify(x) : text(x))).join(', ')]);
    if (ctx.json) printJson(ctx.out, reply);
    else table(fields.map(([k, v]) => [k, v])).forEach((l) => line(ctx.out.stdout, l));
    return ExitCode.Ok;
  },
};
