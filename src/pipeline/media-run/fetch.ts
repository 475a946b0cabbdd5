import fs from 'node:fs/promises';
import path from 'node:path';
import * as repo from '../../store/repo.ts';
import { MediaStatus } from '../../domain/status.ts';
import { mediaOptions } from '../../domain/media-options.ts';
import { download, localSourcePath, redactUrl, whyOutOfOrder } from '../../transfer/index.ts';
import { mediaDirs } from '../../domain/layout.ts';
import { probeMedia, type MediaProbe } from '../ffmpeg/probe.ts';
import { frontToBack } from '../ffmpeg/streamable.ts';
import { GrowingSource } from '../growing-source.ts';
import { describeProbe } from '../util.ts';
import { lacksHdrMetadata } from '../../domain/video-color.ts';
import { formatBytes, sum, type MediaRunContext } from './context.ts';
import { whyNotInstant } from './instant.ts';

/**
 * The fetched sources. `whole` settles once every source is complete: at once when fetched whole
 * first; in instant mode when the download the encode is reading ends, with the whole file's
 * probe, or the transfer's error.
 */
export interface FetchedSources {
  paths: string[];
  probes: MediaProbe[];
  whole: Promise<MediaProbe[]>;
  /** Whether each source is read in place (file://) rather than downloaded. */
  local: boolean[];
  /** sha256 of each download, taken as it streamed in (the output cache's key); absent: not taken. */
  digests: (string | undefined)[];
}

/** Bytes past the Matroska header or MP4 index the head probe also reads (the first frames, for their colour). */
const HEAD_PROBE_MARGIN = 64 * 1024;
/** Enough for an HDR source's first frame, whose side data holds its static metadata. */
const HDR_FRAME_MARGIN = 16 * 1024 * 1024;

/**
 * The fetch phase: every source local (read in place or downloaded) and probed, once per media.
 * In instant mode (instant.ts) it ends as soon as the first bytes of a source that reads front
 * to back are here and probed, and the download goes on under the encode.
 */
export async function fetchSources(run: MediaRunContext, media: repo.MediaRow): Promise<FetchedSources> {
  const urls = JSON.parse(media.sources) as string[];
  const { scratch } = mediaDirs(run.config.dataDir, run.mediaId);
  const paths = urls.map((_, i) => path.join(scratch, `source-${i}`));
  // file:// sources are read in place (checked inside the roots): copying them first would
  // only cost time and disk. Everything else is streamed into the scratch folder.
  const local: (string | null)[] = [];
  for (const url of urls) local.push(await localSourcePath(url, run.transfer));
  local.forEach((p, i) => {
    if (p) paths[i] = p;
  });
  const inPlace = local.map(Boolean);
  const digests: (string | undefined)[] = urls.map(() => undefined);
  if (media.downloaded_at && media.probe && (await allExist(paths))) {
    const probes = JSON.parse(media.probe) as MediaProbe[];
    return { paths, probes, whole: Promise.resolve(probes), local: inPlace, digests };
  }
  // Sources all read in place are probed at once, while the status and log lines below are written.
  const probing = local.every(Boolean) ? probeAll(run, paths) : null;
  probing?.catch(() => undefined); // awaited below, after the writes; a failure surfaces there
  await fs.mkdir(scratch, { recursive: true });
  await run.setStatus(MediaStatus.Downloading, { started_at: media.started_at ?? Date.now(), description: null });
  await run.progress.enterPhase('download');
  const done = urls.map(() => 0);
  const totals = urls.map((): number | null => null);
  const instantOff = local[0] ? null
    : whyNotInstant(Boolean(media.benchmark), mediaOptions(media.options), urls.length) ?? whyOutOfOrder(urls[0]!, run.transfer)
      // A cache hit skips the encode, so the key (the source's hash) must be known before it starts.
      ?? (run.outputCache ? 'the output cache looks up the whole source\'s hash before encoding' : null);
  // The downloads stop with the run, and when the run ends before an instant download does.
  const transfer = { ...run.transfer, signal: AbortSignal.any([run.signal, run.downloads.signal]) };
  const start = (i: number): GrowingSource => {
    let growing: GrowingSource | null = null;
    growing = new GrowingSource(paths[i]!, download(urls[i]!, paths[i]!, transfer, (d, t) => {
      done[i] = d;
      totals[i] = t;
      if (d > 0) run.timings.mark('source first bytes');
      growing?.grew();
      const known = totals.every((x) => x !== null);
      // A source read in place took no transfer time: the rate is measured on downloads alone.
      if (known) run.progress.downloadProgress(sum(done), sum(totals as number[]), !local.some(Boolean));
    }, { digest: run.outputCache !== null }));
    return growing;
  };
  const first = !local[0] ? start(0) : null;
  if (first && instantOff === null) {
    const early = await readAsItGrows(run, first, urls[0]!);
    if (early) return early;
  } else if (first && instantOff) {
    await run.logAll(`instant: off (${instantOff})`);
  }
  let bytes = 0;
  for (const [i, url] of urls.entries()) {
    if (local[i]) {
      const size = (await fs.stat(paths[i]!)).size;
      done[i] = size;
      totals[i] = size;
      bytes += size;
      await run.logAll(`Reading ${formatBytes(size)} in place from ${redactUrl(url)}`);
      continue;
    }
    const result = await (i === 0 && first ? first : start(i)).whole;
    run.timings.mark('source downloaded');
    digests[i] = result.sha256;
    bytes += result.bytes;
    await run.logAll(`Downloaded ${formatBytes(result.bytes)} from ${redactUrl(url)}`);
  }
  const probes = await probeAndRecord(run, paths, bytes, probing);
  return { paths, probes, whole: Promise.resolve(probes), local: inPlace, digests };
}

/**
 * The source probed from its first bytes while it downloads, when it reads front to back;
 * null (the task log saying why) when it must be fetched whole first.
 */
async function readAsItGrows(run: MediaRunContext, source: GrowingSource, url: string): Promise<FetchedSources | null> {
  const verdict = await frontToBack((position, length) => source.read(position, length));
  if (!verdict.ok) {
    await run.logAll(`instant: off (${verdict.why}); fetching the whole source first`);
    return null;
  }
  let head: MediaProbe;
  try {
    head = await probeHead(source, verdict.headBytes + HEAD_PROBE_MARGIN, run);
    // HDR static metadata missing from the stream's headers is read from its first frame, which may be larger.
    if (lacksHdrMetadata(head.video?.color)) head = await probeHead(source, verdict.headBytes + HDR_FRAME_MARGIN, run);
  } catch (err) {
    if (run.signal.aborted || source.failed.aborted) throw err;
    // What the head could not tell, the whole file will (or fails in words of its own).
    await run.logAll('instant: off (the first bytes of the source could not be probed); fetching the whole source first');
    return null;
  }
  if (!(head.durationSec > 0)) {
    await run.logAll('instant: off (the first bytes of the source state no duration); fetching the whole source first');
    return null;
  }
  run.timings.mark('head probed');
  run.instant = source;
  const whole = source.whole.then(async ({ bytes }) => {
    run.timings.mark('source downloaded');
    await run.logAll(`Downloaded ${formatBytes(bytes)} from ${redactUrl(url)}`);
    return probeAndRecord(run, [source.path], bytes);
  });
  whole.catch(() => undefined); // awaited by the run; a run that failed before then stops the download
  return { paths: [source.path], probes: [head], whole, local: [false], digests: [undefined] };
}

/** The source probed once its first `bytes` are here (or all of it, if smaller). */
async function probeHead(source: GrowingSource, bytes: number, run: MediaRunContext): Promise<MediaProbe> {
  await source.read(bytes - 1, 1);
  return probeMedia(source.path, { ffprobe: run.config.ffprobe, signal: run.signal });
}

/** Every source probed (or `probing` ones awaited), logged and recorded, so a later run need not fetch them again. */
async function probeAndRecord(run: MediaRunContext, paths: string[], bytes: number, probing: Promise<MediaProbe[]> | null = null): Promise<MediaProbe[]> {
  run.progress.downloadProgress(bytes, bytes, false);
  const probes = await (probing ?? probeAll(run, paths));
  await run.logAll(`Source: ${probes.map(describeProbe).join('; ')}`);
  await repo.updateMedia(run.db, run.mediaId, { downloaded_at: Date.now(), probe: JSON.stringify(probes), source_bytes: bytes });
  run.timings.mark('source probed');
  return probes;
}

/** The sources probed one after another. */
async function probeAll(run: MediaRunContext, paths: string[]): Promise<MediaProbe[]> {
  const probes: MediaProbe[] = [];
  for (const p of paths) probes.push(await probeMedia(p, { ffprobe: run.config.ffprobe, signal: run.signal }));
  return probes;
}

async function allExist(paths: string[]): Promise<boolean> {
  for (const p of paths) if (!(await fs.stat(p).catch(() => null))) return false;
  return true;
}
