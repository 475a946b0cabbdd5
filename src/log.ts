import { createRequire } from 'node:module';
import pino, { type DestinationStream, type Logger } from 'pino';
import { ConfigError } from './config.ts';
import { errorRef, isUserFacing } from './domain/errors.ts';
import { redactText } from './transfer/redact.ts';

/** How deep a logged object is searched for URLs; deeper values are logged as they are. */
const MAX_DEPTH = 4;

function redactValue(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return value.includes('://') ? redactText(value) : value;
  if (depth >= MAX_DEPTH || value === null || typeof value !== 'object' || value instanceof Error) return value;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = redactValue(v, depth + 1);
  return out;
}

function redactedError(err: unknown): unknown {
  // Callers also log `{ err: err.message }`: a string (or anything else) is redacted as it is.
  if (typeof err !== 'object' || err === null) return redactValue(err, 0);
  const shown = pino.stdSerializers.err(err as Error) as unknown as Record<string, unknown>;
  // The reference a user was given for this error ("Internal error (ref …)") finds it here.
  if (!isUserFacing(err)) shown.ref = errorRef(err);
  return redactValue(shown, 0);
}

export type LogFormat = 'auto' | 'pretty' | 'json';

/** Whether pino-pretty can be loaded (it is what pino itself uses for readable lines). */
function prettyAvailable(): boolean {
  try {
    createRequire(import.meta.url).resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

/** `auto` reads a terminal as a person watching (pretty lines) and anything else as a collector (JSON). */
export function usePretty(format: LogFormat, stdoutIsTTY = process.stdout.isTTY === true): boolean {
  if (format === 'json') return false;
  if (format === 'pretty') {
    if (!prettyAvailable()) throw new ConfigError('ENCODERY_LOG_FORMAT (--log-format) pretty needs the pino-pretty package: run npm install, or use json');
    return true;
  }
  return stdoutIsTTY && prettyAvailable();
}

/**
 * The server's logger: userkeys masked by name, and every URL in a line (message, fields,
 * errors and their causes) with its credentials redacted, whatever field it is in. Lines go
 * out as JSON, or through pino-pretty (pino's transport, in a worker thread) for a terminal;
 * redaction happens before either.
 */
export function createLogger(level: string, destination?: DestinationStream, format: LogFormat = 'json'): Logger {
  const options: pino.LoggerOptions = {
    level,
    redact: ['*.userkey', 'userkey', '*.key'],
    serializers: { err: redactedError },
    formatters: { log: (object) => redactValue(object, 0) as Record<string, unknown> },
    hooks: {
      logMethod(args, method) {
        method.apply(this, args.map((a) => (typeof a === 'string' && a.includes('://') ? redactText(a) : a)) as Parameters<typeof method>);
      },
    },
  };
  if (destination) return pino(options, destination);
  if (usePretty(format)) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: process.stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } });
  }
  return pino(options);
}
