import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Db } from '../../store/db.ts';
import * as index from '../../store/output-cache.ts';
import type { SharedStorage } from '../../storage/shared-storage.ts';
import { download, removeTree, upload } from '../../transfer/index.ts';
import { mapLimit } from '../../map-limit.ts';
import { describeError } from '../../domain/errors.ts';

/**
 * The output cache (ENCODERY_CACHE_MAX_BYTES): encoded outputs by key (domain/output-cache.ts),
 * their files in the data dir's `cache/` folder or in the shared storage, their index in the
 * store. An entry's files are written first and its index row after: a half-written entry is
 * never found. Its row goes before its files: a node that found the row holds a read claim on it,
 * which eviction respects, so no copy out loses its files halfway.
 */

/** How long a read claim lasts: a node that dies while copying an entry out blocks its eviction no longer. */
const READ_CLAIM_MS = 10 * 60_000;
const FILE_CONCURRENCY = 4;

/** One output in the cache: its files (paths inside the task folder) and the facts its encode recorded. */
export interface CachedOutput {
  output: string;
  files: { relative: string; bytes: number }[];
  /** The JSON QualitySummary the encode measured, or null. */
  quality: string | null;
}

/** Where entries' files live: the data dir, or the shared storage that every node of a cluster reaches. */
interface Shelf {
  readonly shown: string;
  put(folder: string, files: { local: string; relative: string }[], signal: AbortSignal): Promise<void>;
  get(folder: string, files: { local: string; relative: string }[], signal: AbortSignal): Promise<void>;
  remove(folder: string): Promise<void>;
}

function localShelf(base: string): Shelf {
  const inside = (folder: string, relative = ''): string => path.join(base, ...folder.split('/'), ...relative.split('/'));
  // A clone where the filesystem can (btrfs, XFS), a copy elsewhere; never a hard link: the entry
  // must not change if anything later touches the media's copy.
  const copy = async (from: string, to: string): Promise<void> => {
    await fs.mkdir(path.dirname(to), { recursive: true });
    await fs.copyFile(from, to, fs.constants.COPYFILE_FICLONE);
  };
  return {
    shown: 'the data dir',
    put: (folder, files, signal) => mapLimit(files, FILE_CONCURRENCY, (f) => (signal.throwIfAborted(), copy(f.local, inside(folder, f.relative)))).then(() => undefined),
    get: (folder, files, signal) => mapLimit(files, FILE_CONCURRENCY, (f) => (signal.throwIfAborted(), copy(inside(folder, f.relative), f.local))).then(() => undefined),
    remove: (folder) => fs.rm(inside(folder), { recursive: true, force: true }),
  };
}

function storageShelf(storage: SharedStorage): Shelf {
  return {
    shown: storage.shown,
    put: (folder, files, signal) => mapLimit(files, FILE_CONCURRENCY, (f) => upload(f.local, storage.cacheUrl(folder, f.relative), storage.context(signal))).then(() => undefined),
    get: (folder, files, signal) =>
      mapLimit(files, FILE_CONCURRENCY, async (f) => {
        await fs.mkdir(path.dirname(f.local), { recursive: true });
        await download(storage.cacheUrl(folder, f.relative), f.local, storage.context(signal));
      }).then(() => undefined),
    remove: async (folder) => {
      await removeTree(storage.cacheUrl(folder), storage.context());
    },
  };
}

export type Restored = { hit: CachedOutput } | { miss: true } | { broken: string };

export class OutputCache {
  readonly #db: Db;
  readonly #shelf: Shelf;
  readonly #log: Logger;

  private constructor(
    db: Db,
    shelf: Shelf,
    log: Logger,
    readonly maxBytes: number,
  ) {
    this.#db = db;
    this.#shelf = shelf;
    this.#log = log;
  }

  /** Null when the cache is off (ENCODERY_CACHE_MAX_BYTES=0). */
  static from(opts: { maxBytes: number; dataDir: string; storage: SharedStorage | null; db: Db; log: Logger }): OutputCache | null {
    if (opts.maxBytes <= 0) return null;
    const shelf = opts.storage ? storageShelf(opts.storage) : localShelf(path.join(opts.dataDir, 'cache'));
    return new OutputCache(opts.db, shelf, opts.log, opts.maxBytes);
  }

  get shown(): string {
    return this.#shelf.shown;
  }

  /**
   * Copies the entry's files into `taskDir` (which must be empty). A miss when there is no entry;
   * broken when its files could not all be read (the entry is then dropped, so no one tries it again).
   */
  async restore(key: string, taskDir: string, signal: AbortSignal): Promise<Restored> {
    const until = Date.now() + READ_CLAIM_MS;
    const row = await index.claimCacheEntry(this.#db, key, Date.now(), until);
    if (!row) return { miss: true };
    try {
      const entry = JSON.parse(row.entry) as CachedOutput;
      const files = entry.files.map((f) => ({ relative: f.relative, local: path.join(taskDir, ...f.relative.split('/')) }));
      await this.#shelf.get(row.folder, files, signal);
      for (const [i, f] of files.entries()) {
        const size = (await fs.stat(f.local)).size;
        if (size !== entry.files[i]!.bytes) throw new Error(`${f.relative} has ${size} bytes, not the ${entry.files[i]!.bytes} it was stored with`);
      }
      return { hit: entry };
    } catch (err) {
      if (signal.aborted) throw err;
      const reason = describeError(err);
      this.#log.warn({ key, reason }, 'an output cache entry could not be read; dropping it');
      if (await index.dropCacheEntry(this.#db, key, row.folder)) await this.#removeFiles(row.folder);
      return { broken: reason };
    } finally {
      await index.releaseCacheEntry(this.#db, key, until).catch((err: unknown) => this.#log.warn({ err, key }, 'releasing an output cache read claim failed'));
    }
  }

  /**
   * Stores a task's encoded files under `key` and evicts the least recently used entries beyond
   * the size bound. `replace`: a fresh encode (after a restart) replaces the entry there is.
   * `exists` when another node stored the same key first; `too-large` when the output alone is
   * larger than the whole cache; `in-use` when the entry to replace is being read.
   */
  async keep(key: string, userId: string, taskDir: string, entry: CachedOutput, replace: boolean, signal: AbortSignal): Promise<'kept' | 'exists' | 'too-large' | 'in-use'> {
    const bytes = entry.files.reduce((n, f) => n + f.bytes, 0);
    if (bytes > this.maxBytes) return 'too-large';
    if (replace) {
      const now = Date.now();
      const current = await index.getCacheEntry(this.#db, key);
      if (current) {
        if (current.reading_until >= now || !(await index.dropCacheEntry(this.#db, key, current.folder, now))) return 'in-use';
        await this.#removeFiles(current.folder);
      }
    }
    // A folder of its own for each attempt: two nodes storing one key never write into each other's.
    const folder = `${key.slice(0, 2)}/${key}-${randomUUID().slice(0, 8)}`;
    const files = entry.files.map((f) => ({ relative: f.relative, local: path.join(taskDir, ...f.relative.split('/')) }));
    try {
      await this.#shelf.put(folder, files, signal);
      const now = Date.now();
      const published = await index.publishCacheEntry(this.#db, { key, user_id: userId, folder, bytes, entry: JSON.stringify(entry), created_at: now, used_at: now });
      if (!published) {
        await this.#removeFiles(folder);
        return 'exists';
      }
    } catch (err) {
      await this.#removeFiles(folder);
      throw err;
    }
    await this.evict();
    return 'kept';
  }

  /** Unpublishes least recently used entries until the cache fits its bound, then deletes their files. */
  async evict(): Promise<void> {
    const gone = await index.evictCacheEntries(this.#db, this.maxBytes, Date.now());
    for (const row of gone) await this.#removeFiles(row.folder);
    if (gone.length > 0) this.#log.debug({ evicted: gone.length }, 'output cache entries evicted');
  }

  async #removeFiles(folder: string): Promise<void> {
    await this.#shelf.remove(folder).catch((err: unknown) => this.#log.warn({ folder, reason: describeError(err) }, 'removing output cache files failed'));
  }
}
