import fs from 'node:fs/promises';
import path from 'node:path';
import * as repo from '../../store/repo.ts';
import type { FieldMap } from '../../domain/fields.ts';
import { parseFormat } from '../../domain/format.ts';
import { mediaOptions } from '../../domain/media-options.ts';
import { cacheabilityOf, outputCacheKey, shortKey, type CacheKeyParts } from '../../domain/output-cache.ts';
import { TaskStatus } from '../../domain/status.ts';
import { describeError } from '../../domain/errors.ts';
import { mediaDirs } from '../../domain/layout.ts';
import { ffmpegBuild, sha256OfLocalSource, sha256OfFile } from '../cache/digest.ts';
import type { CachedOutput, OutputCache } from '../cache/index.ts';
import { needsEncode, outputBaseName } from './encode.ts';
import { formatBytes, type MediaRunContext } from './context.ts';
import type { FetchedSources } from './fetch.ts';

/** A task whose output may come from, or go to, the output cache, with its key. */
export interface CacheCandidate {
  taskId: number;
  key: string;
  /** Restarted: encoded afresh (the cached output may be why it was restarted), and the fresh output replaces the entry. */
  fresh: boolean;
}

/**
 * Before encoding: each format still to encode whose output is in the cache gets it from there
 * (Saving, as if just encoded; the task log says `Cache hit`). Returns the cacheable tasks that
 * were not hits, whose fresh outputs keepInCache stores.
 */
export async function deliverFromCache(run: MediaRunContext, media: repo.MediaRow, fetched: FetchedSources): Promise<CacheCandidate[]> {
  const cache = run.outputCache;
  if (!cache || media.benchmark) return [];
  const tasks = (await repo.getTasks(run.db, run.mediaId)).filter(needsEncode);
  if (tasks.length === 0) return [];
  const options = mediaOptions(media.options);
  const candidates: CacheCandidate[] = [];
  let parts: Omit<CacheKeyParts, 'spec'> | null = null;
  for (const t of tasks) {
    const format = JSON.parse(t.format) as FieldMap;
    const parsed = parseFormat(format, { heAac: 'lc' });
    if (!parsed.ok) continue; // the encode phase fails it, with its reason
    const able = cacheabilityOf(parsed.spec, format, options);
    if (!able.cacheable) {
      await repo.appendLog(run.db, [t.id], `Output cache: not used (${able.reason})`);
      continue;
    }
    parts ??= await keyParts(run, media, fetched, options);
    const key = outputCacheKey({ ...parts, spec: parsed.spec });
    const fresh = t.cache_state === 'restarted';
    if (fresh) await repo.appendLog(run.db, [t.id], `Output cache: restarted, encoding afresh (key ${shortKey(key)})`);
    else if (await restoreFromCache(run, cache, t, key)) continue;
    candidates.push({ taskId: t.id, key, fresh });
  }
  return candidates;
}

/** The task's output from the cache into its folder, the task then in Saving as if just encoded. False: not there (or unreadable), to encode. */
async function restoreFromCache(run: MediaRunContext, cache: OutputCache, t: repo.TaskRow, key: string): Promise<boolean> {
  // A task that was a hit before (its output since lost with a worker) is no hit until found again.
  if (t.cache_state === 'hit') await repo.updateTask(run.db, t.id, { cache_key: null, cache_state: null });
  const dir = await run.freshTaskDir(t.id);
  const restored = await cache.restore(key, dir, run.signal);
  if ('miss' in restored) return false;
  if ('broken' in restored) {
    await repo.appendLog(run.db, [t.id], `Output cache: the entry for key ${shortKey(key)} could not be read (${restored.broken}); encoding`);
    await run.freshTaskDir(t.id);
    return false;
  }
  const entry = restored.hit;
  const size = entry.files.reduce((n, f) => n + f.bytes, 0);
  const outputs = entry.files.map((f) => path.relative(run.config.dataDir, path.join(dir, ...f.relative.split('/'))));
  await run.setTaskStatus(t.id, TaskStatus.Saving, {
    started_at: Date.now(), command: null, cpu_sec: 0, speed: null, converted_size: size, outputs: JSON.stringify(outputs), quality: entry.quality,
    cache_key: key, cache_state: 'hit',
  });
  await repo.appendLog(run.db, [t.id], `Cache hit (key ${shortKey(key)}): ${entry.files.length} file(s), ${formatBytes(size)} from the output cache in ${cache.shown}; nothing encoded`);
  return true;
}

/**
 * After encoding: each cacheable task that encoded (Saving with its outputs) goes into the cache
 * with the facts its encode recorded. A failure here never fails the media: it is only not cached.
 */
export async function keepInCache(run: MediaRunContext, candidates: CacheCandidate[]): Promise<void> {
  const cache = run.outputCache;
  if (!cache || candidates.length === 0 || run.userId === null) return;
  const rows = new Map((await repo.getTasks(run.db, run.mediaId)).map((t) => [t.id, t]));
  for (const c of candidates) {
    const t = rows.get(c.taskId);
    if (!t || t.status !== TaskStatus.Saving || !t.outputs) continue;
    const taskDir = mediaDirs(run.config.dataDir, run.mediaId).task(t.id);
    const recorded = JSON.parse(t.outputs) as string[];
    const files: CachedOutput['files'] = [];
    for (const f of recorded) {
      const local = path.join(run.config.dataDir, f);
      const stat = await fs.stat(local).catch(() => null);
      if (!stat) break;
      files.push({ relative: path.relative(taskDir, local).split(path.sep).join('/'), bytes: stat.size });
    }
    // An output not wholly in the task folder (a worker took the media over midway) is not kept.
    if (files.length === 0 || files.length !== recorded.length || files.some((f) => f.relative.startsWith('..'))) continue;
    try {
      const outcome = await cache.keep(c.key, run.userId, taskDir, { output: t.output, files, quality: t.quality }, c.fresh, run.signal);
      const line = {
        kept: `Output cache: kept as key ${shortKey(c.key)} in ${cache.shown}`,
        exists: `Output cache: key ${shortKey(c.key)} was stored meanwhile by another encode`,
        'too-large': `Output cache: not kept, larger than the whole cache (ENCODERY_CACHE_MAX_BYTES)`,
        'in-use': `Output cache: the entry for key ${shortKey(c.key)} is being read; it is replaced another time`,
      }[outcome];
      await repo.appendLog(run.db, [t.id], line);
      if (outcome === 'kept') await repo.updateTask(run.db, t.id, { cache_key: c.key });
    } catch (err) {
      if (run.signal.aborted) throw err;
      run.log.warn({ err, taskId: t.id }, 'storing an output in the output cache failed');
      await repo.appendLog(run.db, [t.id], `Output cache: not kept (${describeError(err)})`);
    }
  }
}

/** What every format's key of this media shares: the owner, the source bytes, the build and settings. */
async function keyParts(run: MediaRunContext, media: repo.MediaRow, fetched: FetchedSources, options: FieldMap): Promise<Omit<CacheKeyParts, 'spec'>> {
  const sources: string[] = [];
  for (const [i, p] of fetched.paths.entries()) {
    const digest = fetched.digests[i] ?? (fetched.local[i] ? await sha256OfLocalSource(p, run.signal) : await sha256OfFile(p, run.signal));
    sources.push(digest);
  }
  const config = run.config;
  return {
    userId: media.user_id,
    sources,
    baseName: outputBaseName(media.sources),
    options,
    ffmpegBuild: await ffmpegBuild(config.ffmpeg),
    settings: {
      ffmpegThreads: config.ffmpegThreads, splitAboveSeconds: config.splitAboveSeconds, splitChunkSeconds: config.splitChunkSeconds,
      qualityReport: config.qualityReport,
    },
  };
}
