import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { z } from 'zod';
import { redactError } from './redis.ts';

/**
 * How the workers of a cluster learn that work they run is no longer wanted: one Redis pub/sub
 * channel per installation. A media's run is aborted when the API cancels, stops, updates or
 * restarts it (queue/bullmq.ts); a chunk's when the media running it gives it up (queue/bull-chunks.ts).
 * Each worker cancels its BullMQ job with the message's reason, which aborts the job's signal and
 * so its FFmpeg. A message is only a hint: the senders repeat it until the store says the work
 * has stopped, so one missed while a subscriber reconnects costs a retry, not a runaway encode.
 */

export const AbortMessage = z.discriminatedUnion('kind', [
  /** The media job `media-<mediaId>`, for this reason (an AbortReason). */
  z.object({ kind: z.literal('media'), mediaId: z.number().int().positive(), reason: z.string() }),
  /** One chunk job of the `chunks` queue. */
  z.object({ kind: z.literal('chunk'), jobId: z.string().min(1) }),
]);
export type AbortMessage = z.infer<typeof AbortMessage>;

const channelName = (prefix: string): string => `${prefix}:encodery:abort`;

/** Sends an abort to every worker of the installation; resolves with how many processes listen. */
export function publishAbort(redis: Redis, prefix: string, message: AbortMessage): Promise<number> {
  return redis.publish(channelName(prefix), JSON.stringify(message));
}

/**
 * A worker's ear on the channel. `start` resolves once subscribed: a worker starts it before it
 * takes any job, so no abort of a job it takes is missed. Messages that do not parse are ignored
 * (the channel is shared with other versions and other kinds of worker).
 */
export class AbortListener {
  readonly #subscriber: Redis;
  readonly #prefix: string;
  #closing: Promise<void> | undefined;

  constructor(connection: RedisOptions, prefix: string, log: Logger, onAbort: (message: AbortMessage) => void) {
    this.#prefix = prefix;
    this.#subscriber = new Redis({ ...connection, lazyConnect: true });
    this.#subscriber.on('error', (err) => log.error({ err: redactError(err) }, 'abort channel error'));
    this.#subscriber.on('message', (_channel: string, text: string) => {
      const message = parseMessage(text);
      if (message) onAbort(message);
    });
  }

  async start(): Promise<void> {
    await this.#subscriber.subscribe(channelName(this.#prefix));
  }

  close(): Promise<void> {
    return (this.#closing ??= this.#subscriber.quit().then(() => undefined, () => undefined));
  }
}

function parseMessage(text: string): AbortMessage | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = AbortMessage.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}
