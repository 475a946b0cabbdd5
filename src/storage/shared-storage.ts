import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { ConfigError, type Config } from '../config.ts';
import type { Db } from '../store/db.ts';
import * as repo from '../store/repo.ts';
import type { Lifecycle } from '../store/lifecycle.ts';
import { TaskStatus } from '../domain/status.ts';
import { mediaDirs } from '../domain/layout.ts';
import { checkStorageUrl, download, openObject, redactUrl, removeTree, statObject, transferContext, upload } from '../transfer/index.ts';
import type { TransferContext } from '../transfer/types.ts';
import { mapLimit } from '../map-limit.ts';
import { describeError } from '../domain/errors.ts';

/** Files of one task copied to or from the storage at once. */
const FILE_CONCURRENCY = 4;

/**
 * ENCODERY_STORAGE_URL: the folder every node reaches, so that no node needs another's disk.
 * A task's files live at `<storage>/media/<media id>/task/<task id>/<path in the task folder>`:
 * kept outputs (served by any API node) and encoded outputs awaiting delivery (so that a
 * worker taking over a media in Saving delivers them instead of encoding again).
 */
export class SharedStorage {
  readonly #base: string;
  readonly #config: Config;

  private constructor(base: string, config: Config) {
    this.#base = base;
    this.#config = config;
  }

  /** Null when the setting is unset: everything stays in the data dir. Throws on a URL that cannot hold it. */
  static from(config: Config): SharedStorage | null {
    if (!config.storageUrl) return null;
    const storage = new SharedStorage(config.storageUrl, config);
    const problem = checkStorageUrl(config.storageUrl, storage.context());
    if (problem) throw new ConfigError(`ENCODERY_STORAGE_URL (--storage-url) ${redactUrl(config.storageUrl)}: ${problem}`);
    const folder = storage.#localFolder();
    if (folder) fs.mkdirSync(folder, { recursive: true });
    return storage;
  }

  /** For logs and replies: the URL without its credentials. */
  get shown(): string {
    return redactUrl(this.#base);
  }

  #localFolder(): string | null {
    return this.#base.startsWith('file:') ? fileURLToPath(this.#base) : null;
  }

  /** The storage is configuration, not user input: its folder is the only file root, and its host is trusted. */
  context(signal?: AbortSignal): TransferContext {
    const folder = this.#localFolder();
    return transferContext(this.#config, { roots: { own: folder ? [folder] : [], shared: [], denied: [] }, configured: true, ...(signal ? { signal } : {}) });
  }

  mediaUrl(mediaId: number): string {
    return `${this.#base}media/${mediaId}/`;
  }

  taskUrl(mediaId: number, taskId: number): string {
    return `${this.mediaUrl(mediaId)}task/${taskId}/`;
  }

  /** `relative` uses `/` between folders (HLS variants); each part is escaped on its own. */
  objectUrl(mediaId: number, taskId: number, relative: string): string {
    return this.taskUrl(mediaId, taskId) + relative.split('/').map(encodeURIComponent).join('/');
  }

  /** A file of an output cache entry (pipeline/cache/): `<storage>/cache/<folder>/<relative>`; no `relative`: the entry's folder. */
  cacheUrl(folder: string, relative = ''): string {
    const escape = (p: string): string => p.split('/').map(encodeURIComponent).join('/');
    return `${this.#base}cache/${escape(folder)}/${relative ? escape(relative) : ''}`;
  }

  /** The task's recorded outputs: local path and path inside the task folder. */
  filesOf(task: repo.TaskRow): { local: string; relative: string }[] {
    const folder = mediaDirs('', task.media_id).task(task.id);
    return (JSON.parse(task.outputs ?? '[]') as string[]).map((f) => ({
      local: path.join(this.#config.dataDir, f),
      relative: path.relative(folder, f).split(path.sep).join('/'),
    }));
  }

  /** Whether every recorded output of the task is in the storage. */
  async hasOutputs(task: repo.TaskRow): Promise<boolean> {
    const files = this.filesOf(task);
    if (files.length === 0) return false;
    for (const f of files) if (!(await statObject(this.objectUrl(task.media_id, task.id, f.relative), this.context()))) return false;
    return true;
  }

  /** Copies the task's local outputs up; a file already there with the same size is not sent again. Returns how many were sent. */
  async putTask(task: repo.TaskRow, signal?: AbortSignal): Promise<number> {
    const ctx = this.context(signal);
    let sent = 0;
    await mapLimit(this.filesOf(task), FILE_CONCURRENCY, async (f) => {
      const url = this.objectUrl(task.media_id, task.id, f.relative);
      const size = (await fs.promises.stat(f.local)).size;
      if ((await statObject(url, ctx))?.size === size) return;
      await upload(f.local, url, ctx);
      sent++;
    });
    return sent;
  }

  /** Brings the task's outputs missing from the data dir down from the storage. False when the storage lacks one. */
  async fetchTask(task: repo.TaskRow, signal?: AbortSignal): Promise<{ complete: boolean; fetched: number }> {
    const ctx = this.context(signal);
    const missing: { local: string; relative: string }[] = [];
    for (const f of this.filesOf(task)) if (!(await fs.promises.stat(f.local).catch(() => null))) missing.push(f);
    if (missing.length === 0) return { complete: true, fetched: 0 };
    for (const f of missing) if (!(await statObject(this.objectUrl(task.media_id, task.id, f.relative), ctx))) return { complete: false, fetched: 0 };
    await mapLimit(missing, FILE_CONCURRENCY, async (f) => {
      await fs.promises.mkdir(path.dirname(f.local), { recursive: true });
      await download(this.objectUrl(task.media_id, task.id, f.relative), f.local, ctx);
    });
    return { complete: true, fetched: missing.length };
  }

  /** Best effort: a failure is logged, never thrown (the media's own outcome does not depend on it). */
  async removeMedia(mediaId: number, log: Logger): Promise<void> {
    await this.#remove(this.mediaUrl(mediaId), log, { mediaId });
  }

  async removeTask(mediaId: number, taskId: number, log: Logger): Promise<void> {
    await this.#remove(this.taskUrl(mediaId, taskId), log, { mediaId, taskId });
  }

  async #remove(url: string, log: Logger, where: Record<string, number>): Promise<void> {
    try {
      const count = await removeTree(url, this.context());
      if (count > 0) log.debug({ ...where, count }, 'removed from the shared storage');
    } catch (err) {
      log.warn({ ...where, storage: this.shown, reason: describeError(err) }, 'could not remove files from the shared storage');
    }
  }
}

// --- the pipeline's three calls -------------------------------------------------------------

/**
 * Before delivery starts: the encoded outputs of tasks still to deliver go to the storage, so
 * that a worker taking the media over (this one died) delivers them without encoding again.
 */
export async function putOutputs(storage: SharedStorage | null, db: Db, tasks: repo.TaskRow[], signal: AbortSignal): Promise<void> {
  if (!storage) return;
  for (const task of tasks) {
    if (!task.outputs) continue;
    let sent: number;
    try {
      sent = await storage.putTask(task, signal);
    } catch (err) {
      if (signal.aborted) throw err;
      throw new Error(`Could not store the encoded output of task ${task.id} in the shared storage: ${describeError(err)}`, { cause: err });
    }
    if (sent > 0) await repo.appendLog(db, [task.id], `Stored ${sent} file(s) in the shared storage ${storage.shown}`);
  }
}

/**
 * On taking up a media: a task in Saving whose outputs this node lacks gets them from the
 * storage; when the storage lacks them too (its worker died before storing them), it is
 * encoded again. Returns the tasks as they now are.
 */
export async function ensureLocal(storage: SharedStorage | null, db: Db, lifecycle: Lifecycle, tasks: repo.TaskRow[], signal: AbortSignal): Promise<repo.TaskRow[]> {
  if (!storage) return tasks;
  const out: repo.TaskRow[] = [];
  for (const task of tasks) {
    if (task.status !== TaskStatus.Saving || !task.outputs) {
      out.push(task);
      continue;
    }
    let result: { complete: boolean; fetched: number };
    try {
      result = await storage.fetchTask(task, signal);
    } catch (err) {
      if (signal.aborted) throw err;
      throw new Error(`Could not fetch the encoded output of task ${task.id} from the shared storage: ${describeError(err)}`, { cause: err });
    }
    const { complete, fetched } = result;
    if (complete) {
      if (fetched > 0) await repo.appendLog(db, [task.id], `Fetched ${fetched} encoded file(s) from the shared storage ${storage.shown}`);
      out.push(task);
      continue;
    }
    const patch = { outputs: null, converted_size: null, progress: 0 };
    await lifecycle.task(task.id, TaskStatus.New, { patch, log: 'The encoded output is neither on this worker nor in the shared storage: encoding it again' });
    out.push({ ...task, ...patch, status: TaskStatus.New });
  }
  return out;
}

/**
 * A kept output for the download route: a stream from the storage, or null when the task has
 * no such file (there, or no storage is set).
 */
export async function openForDownload(storage: SharedStorage | null, task: repo.TaskRow, relative: string): Promise<{ stream: Readable; size: number | null } | null> {
  if (!storage) return null;
  const url = storage.objectUrl(task.media_id, task.id, relative);
  const found = await statObject(url, storage.context());
  if (!found) return null;
  const opened = await openObject(url, storage.context());
  return { stream: opened.stream, size: opened.size ?? found.size };
}
