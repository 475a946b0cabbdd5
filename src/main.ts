import { closest } from './cli/suggest.ts';
import { VERSION } from './version.ts';

async function main(argv: string[]): Promise<number> {
  if (argv[0] === '--version' || argv[0] === '-V' || argv[0] === 'version') {
    process.stdout.write(`encodery ${VERSION}\n`);
    return 0;
  }
  // Loaded after --version, which needs neither (they take a third of a second).
  const { CLIENT_COMMANDS, CLIENT_USAGE, runCli } = await import('./cli/index.ts');
  const { ConfigError, loadConfig, SETTINGS } = await import('./config.ts');
  const USAGE = `Usage: encodery serve [--flag value ...]
       encodery <client command> [options]   (encodery <command> --help for one)
       encodery --version

Settings of serve (flags override the environment):
${Object.values(SETTINGS)
  .map((s) => `  --${s.flag.padEnd(24)} ${s.env.padEnd(32)} ${s.help}${'default' in s ? ` (default ${s.default})` : ''}`)
  .join('\n')}

${CLIENT_USAGE}`;
  const [command = 'serve', ...rest] = argv[0]?.startsWith('-') ? ['serve', ...argv] : argv;
  if (Object.hasOwn(CLIENT_COMMANDS, command)) {
    // The first Ctrl-C ends a client command cleanly (progress bars put the terminal back); a
    // second one kills it as usual.
    const interrupt = new AbortController();
    process.once('SIGINT', () => interrupt.abort());
    return runCli(command, rest, process.env, { stdout: process.stdout, stderr: process.stderr }, interrupt.signal);
  }
  if (command === 'help' || rest.includes('--help') || command === '--help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (command !== 'serve') {
    const meant = closest(command, ['serve', 'help', ...Object.keys(CLIENT_COMMANDS)]);
    process.stderr.write(`encodery: unknown command ${command}${meant ? `; did you mean ${meant}?` : ''} (encodery help lists the commands)\n`);
    return 2;
  }
  // The service's modules (fastify, the store drivers, the storage SDKs) take about a second
  // to load: client commands above never pay for them.
  const { checkFfmpeg } = await import('./pipeline/ffmpeg/version.ts');
  const { startServer, startWorker } = await import('./server.ts');
  const { redactUrl } = await import('./transfer/index.ts');
  let config;
  try {
    config = loadConfig(process.env, rest);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`encodery: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  // Only processes that encode need FFmpeg: an API node never runs it (workers probe sources).
  const ffmpeg = config.role === 'api' ? null : await checkFfmpeg({ ffmpeg: config.ffmpeg, ffprobe: config.ffprobe });
  if (ffmpeg && !ffmpeg.ok) {
    process.stderr.write(`encodery: ${ffmpeg.message}\n`);
    return 1;
  }
  const onUserCreated = (user: { id: string; key: string }, file: string) =>
    process.stdout.write(`Created the first user (kept in ${file}):\n  userid  ${user.id}\n  userkey ${user.key}\n`);
  const ffmpegNote = ffmpeg?.version ? `(FFmpeg ${ffmpeg.version}) ` : '';
  let close: () => Promise<void>;
  if (config.role === 'worker') {
    const worker = await startWorker(config, { ffmpegChecked: true, ffmpegVersion: ffmpeg?.ok ? ffmpeg.version : undefined, onUserCreated });
    const tags = config.workerTags.length > 0 ? ` with tags ${config.workerTags.join(', ')}` : '';
    process.stdout.write(`Encodery ${ffmpegNote}worker taking media from the queue (${config.workers} encoding at once, ${config.downloads} more fetching sources${tags}) — data in ${config.dataDir}${storeNote(config.databaseUrl)}${config.storageUrl ? `, shared storage ${redactUrl(config.storageUrl)}` : ''}${worker.healthUrl ? `; health on ${worker.healthUrl}` : ''}\n`);
    close = worker.close;
  } else {
    const server = await startServer(config, { ffmpegChecked: true, ffmpegVersion: ffmpeg?.ok ? ffmpeg.version : undefined, onUserCreated });
    const role = config.role === 'api' ? 'API ' : '';
    process.stdout.write(`Encodery ${role}${ffmpegNote}listening on ${server.url} — data in ${config.dataDir}${storeNote(config.databaseUrl)}${config.storageUrl ? `, shared storage ${redactUrl(config.storageUrl)}` : ''}\n`);
    close = server.close;
  }
  const stop = (signal: string) => {
    process.stdout.write(
      config.redisUrl
        ? `${signal}: finishing up; media being processed here go back to the queue\n`
        : `${signal}: finishing up; unfinished media resume at the next start\n`,
    );
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    void close().then(() => process.exit(0));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  return -1;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err) => {
    // An unreachable store is a setting to fix, not a bug: one line, no stack.
    const name = (err as Error)?.name;
    process.stderr.write(`encodery: ${name === 'StoreError' || name === 'ConfigError' ? (err as Error).message : ((err as Error)?.stack ?? err)}\n`);
    process.exit(1);
  },
);

/** Where the shared store is, without the credentials its URL may carry. */
function storeNote(databaseUrl: string | null): string {
  if (!databaseUrl) return '';
  const url = new URL(databaseUrl);
  return `, store on PostgreSQL at ${url.host}${url.pathname}`;
}
