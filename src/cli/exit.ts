/**
 * Exit codes scripts can rely on (documented in the README, "Command-line client").
 * The reason for any non-zero code is one line on stderr.
 */
export const ExitCode = {
  /** Done; with --wait/--watch: the media finished and every destination has its output. */
  Ok: 0,
  /** A bug in the client itself (a stack trace follows on stderr). */
  Internal: 1,
  /** Bad command line, profile file or missing settings; nothing was sent. */
  Usage: 2,
  /** The server answered with an `errors` reply (wrong key, unknown media, bad format...). */
  Api: 3,
  /** The media, or one of its tasks or destinations, ended in Error. */
  MediaError: 4,
  /** The server could not be reached, timed out, or answered something that is not an API reply. */
  Connection: 5,
  /** The media was stopped (StopMedia) before every output was made. */
  MediaStopped: 6,
  /** Ctrl-C: the client stopped waiting; the media itself goes on. */
  Interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An outcome the client reports with a message on stderr and its exit code. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly code: ExitCode,
  ) {
    super(message);
  }
}

export const usageError = (message: string): CliError => new CliError(message, ExitCode.Usage);

export const interrupted = (): CliError => new CliError('interrupted; anything already sent to the server goes on there', ExitCode.Interrupted);
