import type { WireObject } from '../api/wire/render.ts';
import { interleave } from '../api/wire/render.ts';
import type { FieldMap } from '../domain/fields.ts';
import type { DestinationRow, MediaRow, TaskRow } from '../store/repo.ts';
import { TaskStatus } from '../domain/status.ts';
import { redactUrl } from '../transfer/redact.ts';

/** The `notify` result document (reference 6.3), with `taskid` in each format as recorded. */
export function resultPayload(media: MediaRow, tasks: TaskRow[], destinations: Map<number, DestinationRow[]>): WireObject {
  const options = JSON.parse(media.options) as FieldMap;
  const sources = (JSON.parse(media.sources) as string[]).map(redactUrl);
  return {
    mediaid: String(media.id),
    source: sources,
    status: media.status,
    meta: options.meta,
    description: media.status === 'Error' ? (media.description ?? '') : undefined,
    format: tasks.map((t) => {
      const dests = destinations.get(t.id) ?? [];
      return {
        taskid: String(t.id),
        output: t.output,
        dests: interleave(['destination', 'destination_status'], dests.map((d) => [redactUrl(d.url), d.status])),
        status: t.status,
        description: t.status === TaskStatus.Error ? (t.description ?? 'error') : undefined,
        suggestion: t.status === TaskStatus.Error ? suggestionFor(t.description ?? '') : undefined,
      };
    }),
  };
}

/** The AddMediaBenchmark "ready to process" notification: undocumented upstream, kept minimal. */
export function readyPayload(media: MediaRow): WireObject {
  return {
    mediaid: String(media.id),
    source: (JSON.parse(media.sources) as string[]).map(redactUrl),
    status: media.status,
  };
}

function suggestionFor(description: string): string {
  if (/download|source/i.test(description)) return 'Check that the source URL is reachable and points to a media file.';
  if (/sav|destination|upload/i.test(description)) return 'Check that the destination URL is writable, then restart the task.';
  return 'Check the format settings against the source, then restart the task.';
}
