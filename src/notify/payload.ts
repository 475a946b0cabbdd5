import type { WireObject } from '../api/wire/render.ts';
import { interleave, wireDecimal, wireQuality } from '../api/wire/render.ts';
import { parseQuality } from '../domain/quality.ts';
import type { DeliveredOutput } from '../domain/delivered-output.ts';
import type { DestinationRow, MediaRow, TaskRow } from '../store/repo.ts';
import { TaskStatus } from '../domain/status.ts';
import { redactFields, redactText, redactUrl } from '../transfer/redact.ts';
import { qcReportWire } from '../api/wire/render.ts';
import type { QcReport } from '../domain/qc.ts';
import { mediaOptions } from '../domain/media-options.ts';

/** The `notify` result document (reference 6.3), with `taskid` in each format as recorded. */
export function resultPayload(media: MediaRow, tasks: TaskRow[], destinations: Map<number, DestinationRow[]>): WireObject {
  const options = mediaOptions(media.options);
  const sources = (JSON.parse(media.sources) as string[]).map(redactUrl);
  return {
    mediaid: String(media.id),
    source: sources,
    status: media.status,
    meta: options.meta === undefined ? undefined : redactFields(options.meta),
    description: media.status === 'Error' ? redactText(media.description ?? '') : undefined,
    format: tasks.map((t) => {
      const dests = destinations.get(t.id) ?? [];
      return {
        taskid: String(t.id),
        output: t.output,
        dests: interleave(['destination', 'destination_status'], dests.map((d) => [redactUrl(d.url), d.status])),
        status: t.status,
        description: t.status === TaskStatus.Error ? redactText(t.description ?? 'error') : undefined,
        suggestion: t.status === TaskStatus.Error ? suggestionFor(t.description ?? '') : undefined,
        quality_report: wireQuality(parseQuality(t.quality)),
      };
    }),
  };
}

/** The `notify_upload` document (reference 6.3): one task, one destination, its status now. */
export function uploadPayload(mediaId: number, taskId: number, destination: DestinationRow, output: DeliveredOutput | null): WireObject {
  return {
    mediaid: String(mediaId),
    taskid: String(taskId),
    destination: redactUrl(destination.url),
    status: destination.status,
    output_params: output ? outputParams(output) : undefined,
  };
}

/**
 * `output_params` in the units GetMediaInfo uses (kbit/s as `128k`, seconds as decimals,
 * `WxH`); a value the probe does not know is left out rather than sent empty.
 */
export function outputParams({ probe, fileName, bytes }: DeliveredOutput): WireObject {
  const v = probe.video;
  const a = probe.audio[0];
  const ext = /\.([A-Za-z0-9]+)$/.exec(fileName)?.[1]?.toLowerCase();
  return {
    format: ext ?? probe.formatName.split(',')[0],
    bitrate: kbps(probe.bitrate),
    duration: probe.durationSec > 0 ? wireDecimal(probe.durationSec) : undefined,
    audio_bitrate: kbps(a?.bitrate),
    audio_codec: a?.codec,
    audio_duration: a?.durationSec != null ? wireDecimal(a.durationSec) : undefined,
    audio_sample_rate: a ? String(a.sampleRate) : undefined,
    audio_channels: a ? String(a.channels) : undefined,
    video_bitrate: kbps(v?.bitrate),
    video_codec: v?.codec,
    video_duration: v?.durationSec != null ? wireDecimal(v.durationSec) : undefined,
    size: v ? `${v.width}x${v.height}` : undefined,
    display_aspect_ratio: v?.displayAspectRatio,
    frame_rate: v && v.fps > 0 ? wireDecimal(v.fps) : undefined,
    filesize: String(bytes),
  };
}

const kbps = (bits: number | null | undefined): string | undefined => (bits ? `${Math.round(bits / 1000)}k` : undefined);

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

/**
 * `qc_start_notify` and `qc_notify` (their payload is undocumented upstream): the QC child's id
 * and status, the media and task it checks, and at the end its report.
 */
export function qcPayload(child: MediaRow, task: TaskRow | null): WireObject {
  return {
    mediaid: String(child.id),
    parent_mediaid: child.parent_media_id !== null ? String(child.parent_media_id) : undefined,
    parent_taskid: child.parent_task_id !== null ? String(child.parent_task_id) : undefined,
    status: child.status,
    description: child.status === 'Error' ? redactText(child.description ?? '') : undefined,
    qc_report: task?.qc_report ? qcReportWire(JSON.parse(task.qc_report) as QcReport) : undefined,
  };
}
