import fs from 'node:fs/promises';
import path from 'node:path';
import * as repo from '../../store/repo.ts';
import { MediaStatus } from '../../domain/status.ts';
import { download, localSourcePath, redactUrl } from '../../transfer/index.ts';
import { mediaDirs } from '../../domain/layout.ts';
import { probeMedia, type MediaProbe } from '../ffmpeg/probe.ts';
import { describeProbe } from '../util.ts';
import { formatBytes, sum, type MediaRunContext } from './context.ts';

/** The sources as fetched: where each is, its probe, and whether it is read in place. */
export interface FetchedSources {
  paths: string[];
  probes: MediaProbe[];
  local: boolean[];
  /** sha256 of each download, taken as it streamed in (the output cache's key); absent: not taken. */
  digests: (string | undefined)[];
}

/** The fetch phase: every source local (read in place or downloaded) and probed, once per media. */
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
    return { paths, probes: JSON.parse(media.probe) as MediaProbe[], local: inPlace, digests };
  }
  await fs.mkdir(scratch, { recursive: true });
  await run.setStatus(MediaStatus.Downloading, { started_at: media.started_at ?? Date.now(), description: null });
  await run.progress.enterPhase('download');
  const done = urls.map(() => 0);
  const totals = urls.map((): number | null => null);
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
    const result = await download(url, paths[i]!, run.transfer, (d, t) => {
      done[i] = d;
      totals[i] = t;
      const known = totals.every((x) => x !== null);
      // A source read in place took no transfer time: the rate is measured on downloads alone.
      if (known) run.progress.downloadProgress(sum(done), sum(totals as number[]), !local.some(Boolean));
    }, { digest: run.outputCache !== null });
    digests[i] = result.sha256;
    bytes += result.bytes;
    await run.logAll(`Downloaded ${formatBytes(result.bytes)} from ${redactUrl(url)}`);
  }
  run.progress.downloadProgress(bytes, bytes, false);
  const probes: MediaProbe[] = [];
  for (const p of paths) probes.push(await probeMedia(p, { ffprobe: run.config.ffprobe, signal: run.signal }));
  await run.logAll(`Source: ${probes.map(describeProbe).join('; ')}`);
  await repo.updateMedia(run.db, run.mediaId, { downloaded_at: Date.now(), probe: JSON.stringify(probes), source_bytes: bytes });
  return { paths, probes, local: inPlace, digests };
}

async function allExist(paths: string[]): Promise<boolean> {
  for (const p of paths) if (!(await fs.stat(p).catch(() => null))) return false;
  return true;
}
