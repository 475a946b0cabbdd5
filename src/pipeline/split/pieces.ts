/**
 * Split-and-stitch through ENCODERY_STORAGE_URL, so that the workers sharing a media's chunks need
 * not share a data dir: the worker holding the media puts the source in the storage once, a chunk
 * worker brings it into its own scratch space (once per media), encodes its chunk there and puts
 * the piece back, and the holder fetches each piece as soon as its chunk ends, ready to join.
 * Everything lives under `<storage>/media/<id>/split/`, so removing the media removes it too.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { download, redactUrl, statObject, upload, removeTree } from '../../transfer/index.ts';
import { mediaDirs } from '../../domain/layout.ts';
import { ffmpegUrl } from '../ffmpeg/args.ts';
import { literalPath } from '../ffmpeg/inputs.ts';
import type { SharedStorage } from '../../storage/shared-storage.ts';
import { describeError } from '../../domain/errors.ts';
import type { ChunkPlace, PieceStore, SplitUnit, UnitFigures } from '../../domain/split-unit.ts';
import { parseFigures } from '../quality/split.ts';

/** Beside a piece in the storage: what its chunk's run measured (quality/split.ts), for a run that resumes. */
const FIGURES = '.figures';

/** The media holder's side, for one split task. */
export class SplitPieces implements PieceStore {
  readonly #storage: SharedStorage;
  readonly #folder: string;
  readonly #source: string;
  #stored: Promise<{ url: string; size: number }> | undefined;

  /** `name` tells split tasks apart (task id and what is encoded); `source` is the local file the chunks read. */
  constructor(storage: SharedStorage, mediaId: number, name: string, source: string) {
    this.#storage = storage;
    this.#folder = `${storage.mediaUrl(mediaId)}split/${encodeURIComponent(name)}/`;
    this.#source = source;
  }

  #urlOf(file: string): string {
    return this.#folder + encodeURIComponent(path.basename(file));
  }

  /** The source in the storage, sent once per task (not again when a resumed run finds it there). */
  #storeSource(signal: AbortSignal): Promise<{ url: string; size: number }> {
    return (this.#stored ??= (async () => {
      const url = this.#folder + 'source';
      const { size } = await fs.stat(this.#source);
      const ctx = this.#storage.context(signal);
      if ((await statObject(url, ctx))?.size !== size) await upload(this.#source, url, ctx);
      return { url, size };
    })().catch((err: unknown) => {
      this.#stored = undefined;
      throw new Error(`Could not put the source in the shared storage ${this.#storage.shown} for the chunk workers: ${describeError(err)}`, { cause: err });
    }));
  }

  /** The chunk's command and where its files are, for a worker with its own data dir. */
  async prepare(unit: SplitUnit, signal: AbortSignal): Promise<{ args: string[]; place: ChunkPlace }> {
    const sourceArg = literalPath(unit.source);
    const pieceArg = ffmpegUrl(unit.file);
    if (!unit.args.includes(sourceArg) || !unit.args.includes(pieceArg)) throw new Error(`internal: the command of ${unit.describe} does not name its files`);
    const source = await this.#storeSource(signal);
    return { args: unit.args, place: { source: { ...source, arg: sourceArg }, piece: { url: this.#urlOf(unit.file), arg: pieceArg } } };
  }

  /** Brings a finished chunk's piece to where the join reads it. */
  async fetch(unit: SplitUnit, signal: AbortSignal): Promise<void> {
    try {
      await download(this.#urlOf(unit.file), unit.file, this.#storage.context(signal));
    } catch (err) {
      if (signal.aborted) throw err;
      throw new Error(`Could not fetch the piece of ${unit.describe} from the shared storage ${this.#storage.shown}: ${describeError(err)}`, { cause: err });
    }
  }

  /**
   * A resumed run: a piece an earlier run's chunk put in the storage is fetched, not encoded
   * again, with what that chunk's run measured (put beside it before the piece; null: none).
   */
  async kept(unit: SplitUnit, signal: AbortSignal): Promise<{ figures: UnitFigures | null } | null> {
    const found = await statObject(this.#urlOf(unit.file), this.#storage.context(signal)).catch(() => null);
    if (!found || found.size === 0) return null;
    await this.fetch(unit, signal);
    const local = `${unit.file}${FIGURES}`;
    try {
      await download(this.#urlOf(unit.file) + FIGURES, local, this.#storage.context(signal));
      return { figures: parseFigures(await fs.readFile(local, 'utf8')) };
    } catch (err) {
      if (signal.aborted) throw err;
      return { figures: null };
    } finally {
      await fs.rm(local, { force: true });
    }
  }

  /** Best effort, once the task is joined (or has failed). */
  async remove(log: Logger): Promise<void> {
    await removeTree(this.#folder, this.#storage.context()).catch((err: unknown) => log.warn({ storage: this.#storage.shown, reason: describeError(err) }, 'could not remove split pieces from the shared storage'));
  }
}

/** How long a chunk worker keeps a media's source after its last chunk, for the next chunk of that media. */
const SOURCE_KEEP_MS = 120_000;

/** A chunk worker's side: sources brought down from the storage, kept while chunks of their media keep coming. */
export class ChunkSources {
  readonly #storage: SharedStorage;
  readonly #dataDir: string;
  readonly #log: Logger;
  readonly #cached = new Map<string, { file: Promise<string>; users: number; timer?: NodeJS.Timeout }>();

  constructor(storage: SharedStorage, dataDir: string, log: Logger) {
    this.#storage = storage;
    this.#dataDir = dataDir;
    this.#log = log;
  }

  /**
   * The chunk's source in this worker's scratch space, and its command pointed at it and at a
   * local piece; `putPiece` sends the piece to the storage. `release` must be called after.
   */
  async take(mediaId: number, place: ChunkPlace, signal: AbortSignal): Promise<{ args(args: string[]): string[]; putPiece(signal: AbortSignal, figures?: UnitFigures): Promise<void>; release(): Promise<void> }> {
    // Only the media's own folder of the storage: a job naming anything else is refused.
    const folder = `${this.#storage.mediaUrl(mediaId)}split/`;
    if (![place.source.url, place.piece.url].every((u) => u.startsWith(folder) && !u.slice(folder.length).split('/').includes('..'))) {
      throw new Error(`the chunk names files outside ${redactUrl(folder)}`);
    }
    const scratch = mediaDirs(this.#dataDir, mediaId).scratch;
    const key = place.source.url;
    let entry = this.#cached.get(key);
    if (!entry) {
      // Named per process: two workers sharing a data dir each keep (and remove) their own copy.
      const file = path.join(scratch, `chunk-source-${process.pid}-${crypto.createHash('sha256').update(key).digest('hex').slice(0, 12)}`);
      // Not tied to this chunk's signal: other chunks of the media may be waiting for the same copy.
      entry = { users: 0, file: this.#fetchSource(place, file) };
      this.#cached.set(key, entry);
      entry.file.catch(() => this.#cached.delete(key));
    }
    clearTimeout(entry.timer);
    entry.users++;
    const held = entry;
    const release = async (): Promise<void> => {
      if (--held.users > 0) return;
      held.timer = setTimeout(() => {
        this.#cached.delete(key);
        void held.file.then((f) => fs.rm(f, { force: true })).catch(() => undefined);
      }, SOURCE_KEEP_MS);
      held.timer.unref();
    };
    signal.throwIfAborted();
    let source: string;
    try {
      source = await held.file;
    } catch (err) {
      await release();
      throw err;
    }
    const dir = path.join(scratch, `chunk-${crypto.randomUUID()}`);
    await fs.mkdir(dir, { recursive: true });
    const piece = path.join(dir, decodeURIComponent(place.piece.url.slice(place.piece.url.lastIndexOf('/') + 1)));
    return {
      args: (args) => args.map((a) => (a === place.source.arg ? literalPath(source) : a === place.piece.arg ? ffmpegUrl(piece) : a)),
      putPiece: async (sig, figures) => {
        try {
          // The figures first: whoever finds the piece finds them too.
          if (figures) {
            await fs.writeFile(`${piece}${FIGURES}`, JSON.stringify(figures));
            await upload(`${piece}${FIGURES}`, place.piece.url + FIGURES, this.#storage.context(sig));
          }
          await upload(piece, place.piece.url, this.#storage.context(sig));
        } catch (err) {
          if (sig.aborted) throw err;
          throw new Error(`Could not put the chunk in the shared storage ${this.#storage.shown}: ${describeError(err)}`, { cause: err });
        }
      },
      release: async () => {
        await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
        await release();
      },
    };
  }

  async #fetchSource(place: ChunkPlace, file: string): Promise<string> {
    const st = await fs.stat(file).catch(() => null);
    if (st?.size === place.source.size) return file;
    await fs.mkdir(path.dirname(file), { recursive: true });
    // Written aside and renamed: a chunk never reads a half-fetched source.
    const part = `${file}.${crypto.randomUUID().slice(0, 8)}.part`;
    try {
      await download(place.source.url, part, this.#storage.context());
      await fs.rename(part, file);
    } catch (err) {
      await fs.rm(part, { force: true }).catch(() => undefined);
      throw new Error(`Could not fetch the source from the shared storage ${this.#storage.shown}: ${describeError(err)}`, { cause: err });
    }
    this.#log.info({ source: redactUrl(place.source.url) }, 'chunk source fetched from the shared storage');
    return file;
  }

  /** On shutdown: the sources kept for coming chunks go. */
  async close(): Promise<void> {
    for (const [key, entry] of this.#cached) {
      clearTimeout(entry.timer);
      this.#cached.delete(key);
      await entry.file.then((f) => fs.rm(f, { force: true })).catch(() => undefined);
    }
  }
}
