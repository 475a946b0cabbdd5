import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { FieldMap } from '../domain/fields.ts';
import { keepsLayout } from '../domain/destinations.ts';
import { probeMedia } from './ffmpeg/probe.ts';
import type { DeliveredOutput } from '../domain/delivered-output.ts';

/**
 * Probes each task's output at most once per run, and only when the media asked for
 * `notify_upload` with `notify_upload_extended=yes`. The probe runs while the output is still
 * on disk: once every destination has it, the output is discarded.
 */
export class DeliveredOutputs {
  readonly #probes = new Map<number, Promise<DeliveredOutput | null>>();
  readonly #wanted: boolean;

  constructor(
    options: FieldMap,
    private readonly opts: { ffprobe: string; signal: AbortSignal; log: Logger; note(taskId: number, message: string): Promise<void> },
  ) {
    this.#wanted = text(options.notify_upload) !== '' && ['yes', '1', 'true'].includes(text(options.notify_upload_extended).toLowerCase());
  }

  of(taskId: number, output: string, files: string[]): Promise<DeliveredOutput | null> {
    if (!this.#wanted || files.length === 0) return Promise.resolve(null);
    let p = this.#probes.get(taskId);
    if (!p) {
      p = this.#probe(taskId, output, files[0]!);
      this.#probes.set(taskId, p);
    }
    return p;
  }

  async #probe(taskId: number, output: string, file: string): Promise<DeliveredOutput | null> {
    // encoding.com: notify_upload_extended "does not work for multi-bitrate outputs"; a ladder
    // has no one set of output parameters to give.
    if (keepsLayout(output)) {
      await this.opts.note(taskId, `notify_upload_extended: no output_params for ${output}, a multi-bitrate output`);
      return null;
    }
    try {
      const [probe, stat] = await Promise.all([probeMedia(file, { ffprobe: this.opts.ffprobe, signal: this.opts.signal, role: 'ownOutput' }), fs.stat(file)]);
      return { probe, fileName: path.basename(file), bytes: stat.size };
    } catch (err) {
      if (this.opts.signal.aborted) throw err;
      this.opts.log.warn({ err, taskId }, 'probing the output for notify_upload_extended failed');
      await this.opts.note(taskId, 'notify_upload_extended: the output could not be probed; output_params left out');
      return null;
    }
  }
}

function text(v: FieldMap[string] | undefined): string {
  const s = Array.isArray(v) ? v[0] : v;
  return typeof s === 'string' ? s.trim() : '';
}
