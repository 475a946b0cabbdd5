import fs from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { Db } from '../store/db.ts';
import { isStoreUnavailable } from '../store/faults.ts';
import * as repo from '../store/repo.ts';
import type { FieldMap } from '../domain/fields.ts';
import { parseFormat } from '../domain/format.ts';
import { parsePriority } from '../domain/priority.ts';
import { DestinationStatus, MediaStatus, TaskStatus, destinationError, isFinalMedia } from '../domain/status.ts';
import { download, localSourcePath, transferPace, upload, redactUrl } from '../transfer/index.ts';
import type { TransferContext, TransferReport } from '../transfer/types.ts';
import type { FileRootsOf } from '../domain/file-roots.ts';
import { probeMedia, type MediaProbe } from './ffmpeg/probe.ts';
import { FFMPEG_PREFIX_ARGS, runFfmpeg, withThreads } from './ffmpeg/run.ts';
import { formatCommandLine } from './ffmpeg/args.ts';
import { fittedToSource, planMedia, type EncodeGroup, type MediaTask, type PlanInput } from './plan/index.ts';
import { withPacketsForPassthrough } from './plan/passthrough.ts';
import { resolveAutoCrops } from './plan/auto-crop.ts';
import { ProgressTracker, type GroupHandle } from './progress.ts';
import { expectedBytes, groupWork, type SourceShape } from '../domain/progress-model.ts';
import type { OutputSpec } from '../domain/format.ts';
import type { EncoderSlots } from './encoder-slots.ts';
import { fetchEditingAssets } from './assets.ts';
import { resolveContentKeys } from './drm/keys.ts';
import { withSplitScreen } from './plan/stage.ts';
import type { MediaProcessor } from '../queue/types.ts';
import { describeProbe } from './util.ts';
import { mapLimit } from '../map-limit.ts';
import { describeError } from '../domain/errors.ts';
import { destinationFor, destinationForLayout, keepsLayout, layoutMain } from '../domain/destinations.ts';
import { mediaDirs } from '../domain/layout.ts';
import { storyboardOf, storyboardSends } from './storyboard-delivery.ts';
import { DeliveredOutputs } from './delivered-output.ts';
import type { DeliveredOutput } from '../domain/delivered-output.ts';
import { ensureLocal, putOutputs, type SharedStorage } from '../storage/shared-storage.ts';
import { encodeSplitTask, splitCandidates } from './split/task.ts';
import type { UnitExecutor } from '../domain/split-unit.ts';
import { qcSpecOf, runQcChild } from './qc/child.ts';
import type { Lifecycle } from '../store/lifecycle.ts';
import { VERSION } from '../version.ts';
import type { SplitPieces } from './split/pieces.ts';
import { QualityLog } from './quality/log.ts';
import { summarize } from './quality/report.ts';
import { describeQuality } from '../domain/quality.ts';

/** What the pipeline tells the rest of the system besides status changes (those notify through the lifecycle's outbox). */
export interface PipelineEvents {
  /** An encode ended: `ok` with an output made, `error` when FFmpeg or its output failed. */
  taskEncoded(seconds: number, output: string, outcome: 'ok' | 'error'): void;
  /** A source download or destination upload ended. */
  transferred(report: TransferReport): void;
}

/** The lifecycle the pipeline writes every status through; a delivered output's facts go to notify_upload. */
export type PipelineLifecycle = Lifecycle<DeliveredOutput>;

export interface PipelineDeps {
  db: Db;
  lifecycle: PipelineLifecycle;
  config: Config;
  log: Logger;
  events: PipelineEvents;
  /** ENCODERY_STORAGE_URL; null or absent: outputs stay in the data dir only. */
  storage?: SharedStorage | null;
  /** ENCODERY_WORKERS encoders shared by the media this process runs; absent: no limit here. */
  encoderSlots?: EncoderSlots;
  /** Cluster mode: split-and-stitch chunks become queue jobs any worker takes (queue/bull-chunks.ts). */
  chunkExecutor?: (mediaId: number, pieces: SplitPieces | null, priority: number) => UnitExecutor;
  /** Each user's file:// folders (domain/file-roots.ts). */
  fileRoots: FileRootsOf;
}

const DELIVERY_CONCURRENCY = 4;
/** Files of one multi-file output (HLS segments) sent at once to one destination. */
const LAYOUT_FILE_CONCURRENCY = 4;

/** Moves one media through its statuses: fetch → probe → encode → deliver → notify. */
export function createMediaProcessor(deps: PipelineDeps): MediaProcessor {
  return (mediaId, signal, resumeNote) => new MediaRun(deps, mediaId, signal, resumeNote).run();
}

class MediaRun {
  readonly #db: Db;
  readonly #log: Logger;
  readonly #lifecycle: PipelineLifecycle;
  #progress: ProgressTracker;
  /** Destinations of each task, for the delivery estimate. */
  #destinations = new Map<number, number>();
  /** The media's owner, whose file:// folders its transfers may use; none until the media is read. */
  #userId: string | null = null;
  #taskIds: number[] = [];
  /** The first source as fetched in this run, the reference for QC; null on a delivery-only run. */
  #source: { path: string; probe: MediaProbe } | null = null;
  /** The media's priority (our scale), which its split chunks take in the queue. */
  #priority = 0;

  constructor(
    private readonly deps: PipelineDeps,
    private readonly mediaId: number,
    private readonly signal: AbortSignal,
    private readonly resumeNote?: string,
  ) {
    this.#db = deps.db;
    this.#lifecycle = deps.lifecycle;
    this.#log = deps.log.child({ mediaId });
    this.#progress = new ProgressTracker(deps.db, mediaId, []);
  }

  get #storage(): SharedStorage | null {
    return this.deps.storage ?? null;
  }

  get #transfer(): TransferContext {
    const c = this.deps.config;
    const roots = this.#userId === null ? { own: [], shared: [], denied: [] } : this.deps.fileRoots(this.#userId);
    return {
      fileRoots: roots.own, sharedFileRoots: roots.shared, deniedFileRoots: roots.denied, allowPrivateNetwork: c.allowPrivateNetwork, signal: this.signal, maxSourceBytes: c.maxSourceBytes, pace: transferPace(c),
      s3Endpoint: c.s3Endpoint, s3Region: c.s3Region, azureEndpoint: c.azureEndpoint,
      remote: { sftpKeyFile: c.sftpKeyFile, sftpKeyPassphrase: c.sftpKeyPassphrase, sftpKnownHostsFile: c.sftpKnownHosts, ftpsCaFile: c.ftpsCaFile },
      debug: (message) => this.#log.debug(message),
      report: (t) => this.deps.events.transferred(t),
    };
  }

  async run(): Promise<void> {
    const media = await repo.getMedia(this.#db, this.mediaId);
    // An ended media moves again only through a restart, which sets it New before queueing it.
    if (!media || media.deleted || media.status === MediaStatus.ReadyToProcess || isFinalMedia(media.status)) return;
    this.#userId = media.user_id;
    if (media.parent_media_id !== null) return this.#interruptedQc(media);
    // In a cluster a QC child is never a queue job of its own: one left running by a worker
    // that died ends here, when its parent's job comes back.
    for (const child of await repo.qcChildrenOf(this.#db, media.user_id, media.id)) await this.#interruptedQc(child);
    const priority = parsePriority((JSON.parse(media.options || '{}') as FieldMap).priority);
    this.#priority = priority.ok ? priority.priority : 0;
    const tasks = await repo.getTasks(this.#db, this.mediaId);
    this.#taskIds = tasks.map((t) => t.id);
    this.#progress = new ProgressTracker(this.#db, this.mediaId, this.#taskIds);
    if (this.resumeNote) await this.#logAll(this.resumeNote);
    this.#progress.start();
    try {
      // Only deliveries left (a restarted failed destination, or a crash while saving): the
      // sources are not fetched again, which could take long or no longer work.
      // A worker taking over a media in Saving finds the encoded outputs in the shared storage.
      const current = await ensureLocal(this.#storage, this.#db, this.#lifecycle, tasks, this.signal);
      const deliverOnly = !media.benchmark && current.length > 0 && !current.some(needsEncode);
      if (deliverOnly) {
        await this.#deliverAll();
        await this.#finish();
        return;
      }
      const source = await this.#fetchSources(media);
      if (source.paths[0] && source.probes[0]) this.#source = { path: source.paths[0], probe: source.probes[0] };
      if (media.benchmark) {
        await this.#progress.stop();
        await this.#setStatus(MediaStatus.ReadyToProcess, { progress: 0, progress_current: 0, time_left: 0, time_left_current: 0 });
        return;
      }
      await this.#setStatus(MediaStatus.WaitingForEncoder);
      const release = await this.deps.encoderSlots?.acquire(this.#priority, this.signal);
      try {
        await this.#encodeAll(withSplitScreen(source, media.options), media.sources, media.options);
      } finally {
        release?.();
      }
      await this.#deliverAll();
      await this.#finish();
    } catch (err) {
      if (this.signal.aborted) return; // whoever interrupted us settles the status
      // Not the media's fault: the queue runs it again once the store answers.
      if (isStoreUnavailable(err)) throw err;
      // The end itself is logged once for every media, with its times (media-ends.ts).
      this.#log.warn({ err }, 'media run failed');
      await this.#setStatus(MediaStatus.Error, { description: describeError(err, this.#log), finished_at: Date.now() });
    } finally {
      await this.#progress.stop();
    }
  }

  // --- phases --------------------------------------------------------------------------------

  async #fetchSources(media: repo.MediaRow): Promise<{ paths: string[]; probes: MediaProbe[] }> {
    const urls = JSON.parse(media.sources) as string[];
    const { scratch } = mediaDirs(this.deps.config.dataDir, this.mediaId);
    const paths = urls.map((_, i) => path.join(scratch, `source-${i}`));
    // file:// sources are read in place (checked inside the roots): copying them first would
    // only cost time and disk. Everything else is streamed into the scratch folder.
    const local: (string | null)[] = [];
    for (const url of urls) local.push(await localSourcePath(url, this.#transfer));
    local.forEach((p, i) => {
      if (p) paths[i] = p;
    });
    if (media.downloaded_at && media.probe && (await allExist(paths))) {
      return { paths, probes: JSON.parse(media.probe) as MediaProbe[] };
    }
    await fs.mkdir(scratch, { recursive: true });
    await this.#setStatus(MediaStatus.Downloading, { started_at: media.started_at ?? Date.now(), description: null });
    await this.#progress.enterPhase('download');
    const done = urls.map(() => 0);
    const totals = urls.map((): number | null => null);
    let bytes = 0;
    for (const [i, url] of urls.entries()) {
      if (local[i]) {
        const size = (await fs.stat(paths[i]!)).size;
        done[i] = size;
        totals[i] = size;
        bytes += size;
        await this.#logAll(`Reading ${formatBytes(size)} in place from ${redactUrl(url)}`);
        continue;
      }
      const result = await download(url, paths[i]!, this.#transfer, (d, t) => {
        done[i] = d;
        totals[i] = t;
        const known = totals.every((x) => x !== null);
        // A source read in place took no transfer time: the rate is measured on downloads alone.
        if (known) this.#progress.downloadProgress(sum(done), sum(totals as number[]), !local.some(Boolean));
      });
      bytes += result.bytes;
      await this.#logAll(`Downloaded ${formatBytes(result.bytes)} from ${redactUrl(url)}`);
    }
    this.#progress.downloadProgress(bytes, bytes, false);
    const probes: MediaProbe[] = [];
    for (const p of paths) probes.push(await probeMedia(p, { ffprobe: this.deps.config.ffprobe, signal: this.signal }));
    await this.#logAll(`Source: ${probes.map(describeProbe).join('; ')}`);
    await repo.updateMedia(this.#db, this.mediaId, { downloaded_at: Date.now(), probe: JSON.stringify(probes), source_bytes: bytes });
    return { paths, probes };
  }

  async #encodeAll(fetched: PlanInput, sourcesJson: string, optionsJson: string): Promise<void> {
    const all = await repo.getTasks(this.#db, this.mediaId);
    const tasks = all.filter((t) => needsEncode(t));
    if (tasks.length === 0) return;
    this.#progress.encodedBefore(all.filter((t) => t.status === TaskStatus.Saving && !needsEncode(t)).map((t) => t.id));
    for (const [id, list] of await repo.getDestinations(this.#db, all.map((t) => t.id))) this.#destinations.set(id, list.length);
    for (const t of tasks) await this.#setTaskStatus(t.id, TaskStatus.WaitingForEncoder);
    await this.#setStatus(MediaStatus.Processing);
    await this.#progress.enterPhase('encode');
    const baseName = outputBaseName(sourcesJson);
    let members: MediaTask[] = [];
    for (const t of tasks) {
      try {
        // Stored formats passed AddMedia: an HE-AAC one was allowed then (ENCODERY_HE_AAC=lc) and is made as AAC-LC.
        const parsed = parseFormat(JSON.parse(t.format) as FieldMap, { heAac: 'lc' });
        if (!parsed.ok) throw new Error(parsed.error);
        for (const note of parsed.notes) await repo.appendLog(this.#db, [t.id], `Adjusted: ${note}`);
        const dir = await this.#freshTaskDir(t.id);
        members.push({ taskId: t.id, spec: parsed.spec, out: { dir, baseName } });
      } catch (err) {
        await this.#failTask(t.id, err);
      }
    }
    // Logos, overlays and fonts: a bad one fails only the tasks that use it.
    const { scratch } = mediaDirs(this.deps.config.dataDir, this.mediaId);
    const edits = await fetchEditingAssets(members, { scratch, transfer: this.#transfer, ffprobe: this.deps.config.ffprobe, ffmpeg: this.deps.config.ffmpeg, signal: this.signal });
    for (const f of edits.failed) await this.#failTask(f.taskId, f.error);
    members = members.filter((m) => !edits.failed.some((f) => f.taskId === m.taskId)).map((m) => ({ ...m, assets: edits.assets.get(m.taskId) }));
    // DRM content keys, before any encode: a key server that fails costs no encoding.
    const keyed = await resolveContentKeys(members, { scratch, transfer: this.#transfer, signal: this.signal, mediaId: this.mediaId });
    for (const f of keyed.failed) await this.#failTask(f.taskId, f.error);
    for (const n of keyed.notes) await repo.appendLog(this.#db, [n.taskId], n.message);
    members = members.filter((m) => !keyed.failed.some((f) => f.taskId === m.taskId)).map((m) => ({ ...m, keys: keyed.keys.get(m.taskId) }));
    // auto_crop: the borders are found in the source once, and become each format's crop.
    const cropped = await resolveAutoCrops(members, fetched, { ffmpeg: this.deps.config.ffmpeg, signal: this.signal });
    for (const f of cropped.failed) await this.#failTask(f.taskId, f.error);
    for (const n of cropped.notes) await repo.appendLog(this.#db, [n.taskId], n.message);
    members = cropped.tasks.filter((m) => !cropped.failed.some((f) => f.taskId === m.taskId));
    // Split-and-stitch formats (split/plan.ts) leave the shared plan and run chunk by chunk.
    const splits = await splitCandidates(members, fetched, optionsJson, this.#splitDeps);
    for (const n of splits.notes) await repo.appendLog(this.#db, [n.taskId], n.message);
    // Split tasks are planned chunk by chunk: what the shared plan would log for them is logged here.
    for (const t of splits.tasks) for (const message of fittedToSource(t.member.spec, fetched).notes) await repo.appendLog(this.#db, [t.member.taskId], message);
    members = members.filter((m) => !splits.tasks.some((t) => t.member.taskId === m.taskId));
    const source = await withPacketsForPassthrough(members.map((m) => m.spec), fetched, { ffprobe: this.deps.config.ffprobe, signal: this.signal });
    // Formats that can share a decode run as one FFmpeg process (plan/media.ts).
    const quality = this.deps.config.qualityReport;
    const plan = planMedia(members, source, { quality });
    for (const f of plan.failed) await this.#failTask(f.taskId, f.error);
    for (const n of plan.notes) await repo.appendLog(this.#db, [n.taskId], n.message);
    // Expected work of each FFmpeg process, in the order they run: the split tasks, then the groups.
    const specs = new Map<number, OutputSpec>([...members, ...splits.tasks.map((t) => t.member)].map((m) => [m.taskId, m.spec]));
    const shape: SourceShape = { video: fetched.probes[0]?.video ?? null };
    const track = (taskIds: number[], durationSec: number, after?: GroupHandle): GroupHandle => {
      const list = taskIds.map((id) => specs.get(id)!);
      const bytes = list.map((spec, i) => expectedBytes(spec, shape, durationSec) * (this.#destinations.get(taskIds[i]!) ?? 0));
      return this.#progress.addGroup(taskIds, groupWork(list, shape, durationSec), bytes, after);
    };
    const splitHandles = new Map(splits.tasks.map((t) => [t.member.taskId, track([t.member.taskId], t.durationSec)]));
    const groupHandles = plan.groups.map((g) => track(g.taskIds, g.durationSec));
    this.#splitProgress = (id, f) => splitHandles.get(id)?.progress(f);
    const rows = new Map(tasks.map((t) => [t.id, t]));
    const soloPlan = (taskId: number): EncodeGroup => {
      const single = planMedia(members.filter((m) => m.taskId === taskId), source, { quality });
      if (single.failed[0]) throw single.failed[0].error;
      return single.groups[0]!;
    };
    for (const t of splits.tasks) {
      this.signal.throwIfAborted();
      const handle = splitHandles.get(t.member.taskId)!;
      handle.started();
      await encodeSplitTask(t, fetched, this.#splitDeps);
      handle.ended(true);
    }
    for (const [i, g] of plan.groups.entries()) {
      this.signal.throwIfAborted();
      await this.#encodeGroup(g, groupHandles[i]!, rows, (taskId, after) => {
        const solo = soloPlan(taskId);
        return { group: solo, handle: track([taskId], solo.durationSec, after) };
      });
    }
  }

  /** Where a split task's progress goes; set once the encode phase has planned its processes. */
  #splitProgress: (taskId: number, fraction: number) => void = () => {};

  get #splitDeps() {
    return {
      config: this.deps.config, db: this.#db, mediaId: this.mediaId, signal: this.signal,
      setTaskStatus: (id: number, status: TaskStatus, patch?: repo.TaskPatch) => this.#setTaskStatus(id, status, patch),
      failTask: (id: number, err: unknown) => this.#failTask(id, err),
      setFraction: (id: number, f: number) => this.#splitProgress(id, f),
      taskEncoded: (sec: number, output: string) => this.deps.events.taskEncoded(sec, output, 'ok'),
      chunkExecutor: this.deps.chunkExecutor ? (pieces: SplitPieces | null) => this.deps.chunkExecutor!(this.mediaId, pieces, this.#priority) : null,
      storage: this.#storage, log: this.#log,
    };
  }

  /**
   * Runs one FFmpeg process for all of its tasks: they move to Processing and Saving together,
   * each keeps its own progress row, and each records the process's command line, CPU time and
   * speed. When a shared process fails, its tasks are encoded again one by one, so one bad
   * format does not sink the others.
   */
  async #encodeGroup(g: EncodeGroup, progress: GroupHandle, rows: Map<number, repo.TaskRow>, soloPlan: SoloPlan): Promise<void> {
    const ffmpeg = this.deps.config.ffmpeg;
    // The exact command lines run, so a user can reproduce a task by hand.
    const threads = this.deps.config.ffmpegThreads;
    const command = g.passes.map((args) => formatCommandLine(ffmpeg, [...FFMPEG_PREFIX_ARGS, ...withThreads(args, threads)])).join(' && ');
    const ids = g.taskIds;
    const shared = ids.length > 1;
    progress.started();
    for (const id of ids) {
      // A summary of an earlier encode of this task no longer describes its output.
      await this.#setTaskStatus(id, TaskStatus.Processing, { started_at: Date.now(), command, quality: null });
      await repo.appendLog(this.#db, [id], `Running: ${command}`);
      if (shared) {
        const others = ids.filter((x) => x !== id);
        await repo.appendLog(this.#db, [id], `This FFmpeg process is shared with task${others.length > 1 ? 's' : ''} ${others.join(', ')} (one decode of the source for all of them)`);
      }
    }
    let wallSec = 0;
    let cpuSec = 0;
    // The quality report's figures come out of this same run's log (quality/log.ts).
    const measured = ids.map((id) => g.quality(id));
    const qualityLog = measured.some((q) => q !== null) ? new QualityLog() : null;
    const started = performance.now();
    try {
      for (const [i, args] of g.passes.entries()) {
        const passes = g.passes.length;
        const result = await runFfmpeg(args, {
          ffmpeg,
          durationSec: g.durationSec,
          signal: this.signal,
          threads,
          ...(qualityLog ? { onStderrLine: (line: string) => qualityLog.line(line) } : {}),
          onProgress: (p) => progress.progress((i + p.fraction) / passes),
        });
        wallSec += result.wallSec;
        cpuSec += result.cpuSec;
      }
    } catch (err) {
      if (this.signal.aborted) throw err;
      progress.ended(false);
      if (!shared) {
        this.deps.events.taskEncoded((performance.now() - started) / 1000, rows.get(ids[0]!)?.output ?? 'unknown', 'error');
        await this.#failTask(ids[0]!, err);
        return;
      }
      await repo.appendLog(this.#db, ids, `The shared FFmpeg process failed (${describeError(err, this.#log)}); encoding tasks ${ids.join(', ')} one by one`);
      this.#log.warn({ err, tasks: ids }, 'shared encode failed; encoding its tasks one by one');
      let after = progress;
      for (const id of ids) {
        this.signal.throwIfAborted();
        let solo: ReturnType<SoloPlan>;
        try {
          await this.#freshTaskDir(id);
          solo = soloPlan(id, after);
        } catch (planErr) {
          await this.#failTask(id, planErr);
          continue;
        }
        after = solo.handle;
        await this.#encodeGroup(solo.group, solo.handle, rows, soloPlan);
      }
      return;
    }
    progress.ended(true);

    const speed = wallSec > 0 ? g.durationSec / wallSec : null;
    const facts = {
      encodedSec: g.durationSec, wallSec, outputs: ids.length, runs: g.passes.length,
      expectedStats: measured.reduce((n, q) => n + (q?.kind === 'encoded' ? q.encoders.filter((e) => e.slot !== null).length : 0), 0),
    };
    for (const [k, id] of ids.entries()) {
      try {
        const outputs = await g.listOutputs(id);
        if (outputs.length === 0) throw new Error('FFmpeg finished but wrote no output; the requested time range may lie outside the source.');
        let size = 0;
        for (const f of outputs) size += (await fs.stat(f)).size;
        this.#progress.taskEncoded(id, size * (this.#destinations.get(id) ?? 0));
        const relative = outputs.map((f) => path.relative(this.deps.config.dataDir, f));
        const plan = measured[k];
        const quality = plan && qualityLog
          ? await summarize(plan, qualityLog, facts, outputs.at(-1)!, { ffprobe: this.deps.config.ffprobe, signal: this.signal })
          : null;
        await this.#setTaskStatus(id, TaskStatus.Saving, {
          converted_size: size, cpu_sec: cpuSec, speed, outputs: JSON.stringify(relative),
          quality: quality ? JSON.stringify(quality) : null,
        });
        if (quality) await repo.appendLog(this.#db, [id], `Quality: ${describeQuality(quality)}`);
        const share = shared ? `; the process made ${ids.length} outputs` : '';
        await repo.appendLog(this.#db, [id], `Encoded ${outputs.length} file(s), ${formatBytes(size)} in ${wallSec.toFixed(2)} s (${speed ? speed.toFixed(2) : '?'}x realtime, ${cpuSec.toFixed(2)} CPU s${share})`);
        this.deps.events.taskEncoded(wallSec, rows.get(id)?.output ?? 'unknown', 'ok');
      } catch (err) {
        this.deps.events.taskEncoded(wallSec, rows.get(id)?.output ?? 'unknown', 'error');
        await this.#failTask(id, err);
      }
    }
  }

  /** An empty folder for a task's outputs (what an earlier or failed run left is removed). */
  async #freshTaskDir(taskId: number): Promise<string> {
    const dir = mediaDirs(this.deps.config.dataDir, this.mediaId).task(taskId);
    await fs.rm(dir, { recursive: true, force: true });
    await fs.mkdir(dir, { recursive: true });
    return dir;
  }

  async #deliverAll(): Promise<void> {
    const tasks = (await repo.getTasks(this.#db, this.mediaId)).filter((t) => t.status === TaskStatus.Saving);
    if (tasks.length === 0) return;
    await this.#setStatus(MediaStatus.Saving);
    await this.#progress.enterPhase('save');
    await putOutputs(this.#storage, this.#db, tasks, this.signal);
    const destinations = await repo.getDestinations(this.#db, tasks.map((t) => t.id));
    const jobs: { task: repo.TaskRow; dest: repo.DestinationRow; files: string[] }[] = [];
    for (const task of tasks) {
      const files = (JSON.parse(task.outputs ?? '[]') as string[]).map((f) => path.join(this.deps.config.dataDir, f));
      for (const dest of destinations.get(task.id) ?? []) if (dest.status !== DestinationStatus.Saved) jobs.push({ task, dest, files });
    }
    const sizes = new Map<string, number>();
    for (const j of jobs) for (const f of j.files) sizes.set(f, (await fs.stat(f)).size);
    const bytesByTask = new Map<number, number>();
    for (const j of jobs) bytesByTask.set(j.task.id, (bytesByTask.get(j.task.id) ?? 0) + j.files.reduce((a, f) => a + (sizes.get(f) ?? 0), 0));
    this.#progress.planSave(bytesByTask);
    /** Bytes sent of each file to each destination, by task. */
    const sent = new Map<number, Map<string, number>>();
    const media = await repo.getMedia(this.#db, this.mediaId);
    const delivered = new DeliveredOutputs(JSON.parse(media?.options ?? '{}') as FieldMap, {
      ffprobe: this.deps.config.ffprobe,
      signal: this.signal,
      log: this.#log,
      note: (taskId, message) => repo.appendLog(this.#db, [taskId], message),
    });
    // The destination's status, its log line and its notify_upload commit together: a crash
    // right after cannot lose the notification (store/lifecycle.ts).
    const done = async (task: repo.TaskRow, dest: repo.DestinationRow, files: string[], status: DestinationStatus, log: string): Promise<void> => {
      const facts = await delivered.of(task.id, task.output, files);
      await this.#lifecycle.destination(dest.id, status, { log, facts });
    };
    // Every destination of every format at once (up to DELIVERY_CONCURRENCY): one slow or
    // failing destination does not hold up the others.
    await mapLimit(jobs, DELIVERY_CONCURRENCY, async ({ task, dest, files }) => {
      const send = (file: string, i: number, url: string): Promise<void> =>
        upload(file, url, this.#transfer, (d) => {
          const own = sent.get(task.id) ?? new Map<string, number>();
          sent.set(task.id, own.set(`${dest.id}:${i}`, d));
          this.#progress.taskSent(task.id, sum([...own.values()]));
        });
      const board = storyboardOf(task.output, task.format);
      try {
        if (keepsLayout(task.output)) {
          // Master playlist last: whoever reads it finds every variant and segment in place.
          const taskDir = mediaDirs(this.deps.config.dataDir, this.mediaId).task(task.id);
          const relative = files.map((f) => path.relative(taskDir, f).split(path.sep).join('/'));
          const m = layoutMain(task.output, relative, dest.url);
          const urlOf = (i: number): string => destinationForLayout(dest.url, relative[i]!, relative[m]!);
          await mapLimit(files.map((f, i) => i).filter((i) => i !== m), LAYOUT_FILE_CONCURRENCY, (i) => send(files[i]!, i, urlOf(i)));
          await send(files[m]!, m, urlOf(m));
        } else if (board) {
          // Sprite sheets and their VTT (use_vtt): the VTT names the sheets as this destination will.
          const rows = destinations.get(task.id) ?? [];
          const sends = await storyboardSends(board, rows.map((d) => d.url), rows.findIndex((d) => d.id === dest.id), files);
          for (const [i, [file, url]] of sends.entries()) await send(file, i, url);
        } else {
          for (const [i, file] of files.entries()) await send(file, i, destinationFor(dest.url, file, i, files.length));
        }
      } catch (err) {
        if (this.signal.aborted || isStoreUnavailable(err)) throw err;
        const reason = describeError(err, this.#log);
        await done(task, dest, files, destinationError(reason), `Error saving to ${redactUrl(dest.url)}: ${reason}`);
        return;
      }
      await done(task, dest, files, DestinationStatus.Saved, `Saved to ${redactUrl(dest.url)}${files.length > 1 ? ` (${files.length} files)` : ''}`);
    });
    this.signal.throwIfAborted();
    const after = await repo.getDestinations(this.#db, tasks.map((t) => t.id));
    const options = JSON.parse(media?.options ?? '{}') as FieldMap;
    for (const task of tasks) {
      const list = after.get(task.id) ?? [];
      const saved = list.filter((d) => d.status === DestinationStatus.Saved).length;
      if (list.length > 0 && saved === 0) {
        await this.#failTask(task.id, new Error('the output could not be saved to any destination'));
        continue;
      }
      const spec = media ? qcSpecOf(task, options) : null;
      const finished = () => this.#setTaskStatus(task.id, TaskStatus.Finished, { finished_at: Date.now(), ...FIGURES_DONE });
      // The QC child starts when the task has finished, and reads the output before this
      // worker's copy is kept elsewhere or removed.
      if (spec) await finished();
      const files = (JSON.parse(task.outputs ?? '[]') as string[]).map((f) => path.join(this.deps.config.dataDir, f));
      const qc = spec && media ? await runQcChild(this.#qcDeps, media, task, spec, files, this.#source) : null;
      if (list.length === 0) await this.#keep(task);
      else if (saved === list.length) await this.#discardOutputs(task);
      // Otherwise the output stays on disk: RestartMediaTask re-delivers it to the failed
      // destinations without encoding again.
      if (!spec) await finished();
      if (qc?.fatal && qc.failParent) await this.#failTask(task.id, new Error(`${qc.reason} (QC media ${qc.childMediaId}; qc_fail_parent)`));
    }
    await repo.updateMedia(this.#db, this.mediaId, { uploaded_at: Date.now() });
  }

  async #finish(): Promise<void> {
    // The tracker writes nothing after this: the figures below are the last.
    await this.#progress.stop();
    const tasks = await repo.getTasks(this.#db, this.mediaId);
    const failed = tasks.filter((t) => t.status === TaskStatus.Error);
    if (failed.length > 0) {
      const first = failed[0]!;
      const description = `${failed.length} of ${tasks.length} output(s) failed; task ${first.id} (${first.output}): ${first.description ?? 'error'}`;
      // Progress stays where the run got to: 100 is for Finished only.
      await this.#setStatus(MediaStatus.Error, { finished_at: Date.now(), time_left: 0, time_left_current: 0, description });
    } else {
      await this.#setStatus(MediaStatus.Finished, { finished_at: Date.now(), ...FIGURES_DONE });
      // The sources are not needed any more; a later restart downloads them again.
      await fs.rm(mediaDirs(this.deps.config.dataDir, this.mediaId).scratch, { recursive: true, force: true }).catch((err: unknown) => this.#log.warn({ err }, 'removing the scratch folder failed'));
    }
  }

  // --- helpers -------------------------------------------------------------------------------

  get #qcDeps() {
    const c = this.deps.config;
    return {
      db: this.#db, lifecycle: this.#lifecycle, dataDir: c.dataDir, ffmpeg: c.ffmpeg, ffprobe: c.ffprobe, threads: c.ffmpegThreads, version: VERSION,
      log: this.#log, transfer: this.#transfer, signal: this.signal,
    };
  }

  /**
   * A QC child runs inside its parent's run; one found on its own was interrupted by a worker
   * stop (the queue hands unfinished media back after a restart). It ends in Error, saying so.
   */
  async #interruptedQc(media: repo.MediaRow): Promise<void> {
    await this.#lifecycle.giveUp(media.id, 'QC was interrupted by a worker stop; restarting the parent media runs it again');
  }

  /** A format without a destination keeps its output here, behind an unguessable link. */
  async #keep(task: repo.TaskRow): Promise<void> {
    // The API serves it from the shared storage (putOutputs stored it): no node needs this copy.
    if (this.#storage) await this.#discardOutputs(task, false);
    if (task.download_token) return;
    await repo.updateTask(this.#db, task.id, { download_token: crypto.randomBytes(24).toString('base64url') });
    await repo.appendLog(this.#db, [task.id], this.#storage ? `Kept in the shared storage ${this.#storage.shown} (no destination given)` : 'Kept on this server (no destination given)');
  }

  async #discardOutputs(task: repo.TaskRow, everywhere = true): Promise<void> {
    await fs.rm(mediaDirs(this.deps.config.dataDir, this.mediaId).task(task.id), { recursive: true, force: true });
    if (everywhere) await this.#storage?.removeTask(this.mediaId, task.id, this.#log);
  }

  async #failTask(taskId: number, err: unknown): Promise<void> {
    // An unreachable store is no fault of the task: the whole run is tried again later.
    if (isStoreUnavailable(err)) throw err;
    this.#progress.taskFailed(taskId);
    await this.#lifecycle.failTask(taskId, describeError(err, this.#log));
  }

  #setStatus(status: MediaStatus, patch: repo.MediaPatch = {}): Promise<void> {
    return this.#lifecycle.media(this.mediaId, status, { patch });
  }

  #setTaskStatus(taskId: number, status: TaskStatus, patch: repo.TaskPatch = {}): Promise<void> {
    return this.#lifecycle.task(taskId, status, { patch });
  }

  #logAll(message: string): Promise<void> {
    return repo.appendLog(this.#db, this.#taskIds, message);
  }
}

/** A task of a failed shared process planned alone, and its place in the progress, right after `after`. */
type SoloPlan = (taskId: number, after: GroupHandle) => { group: EncodeGroup; handle: GroupHandle };

const FIGURES_DONE = { progress: 100, progress_current: 100, time_left: 0, time_left_current: 0 } as const;

/** Tasks this run still has to encode: not done, not failed, not already encoded and saving. */
function needsEncode(t: repo.TaskRow): boolean {
  if (t.status === TaskStatus.Finished || t.status === TaskStatus.Error) return false;
  return !(t.status === TaskStatus.Saving && t.outputs);
}

function outputBaseName(sourcesJson: string): string {
  const first = (JSON.parse(sourcesJson) as string[])[0] ?? '';
  let name = 'output';
  try {
    name = path.posix.basename(new URL(first).pathname).replace(/\.[^.]*$/, '') || 'output';
  } catch {
    // keep the default
  }
  return name.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80) || 'output';
}

async function allExist(paths: string[]): Promise<boolean> {
  for (const p of paths) if (!(await fs.stat(p).catch(() => null))) return false;
  return true;
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}
