/**
 * The `encodery` command-line client: every command is a client of the public JSON API, run
 * against a server given by flags, the environment or a profile file (settings.ts).
 */
import { parseArgs } from 'node:util';
import { ApiClient } from './client.ts';
import { str, type Command, type OptionSpec, type OptionToken, type Values } from './command.ts';
import { add, cancel, restart, stop } from './commands/media.ts';
import { presets } from './commands/presets.ts';
import { info, listCommand, status } from './commands/status.ts';
import { CliError, ExitCode } from './exit.ts';
import { line, type Output } from './output.ts';
import { resolveConnection, type ConnectionFlags } from './settings.ts';

export const CLIENT_COMMANDS: Record<string, Command> = {
  add,
  status,
  list: listCommand,
  cancel,
  stop,
  restart,
  presets,
  info,
};

const GLOBAL_OPTIONS: OptionSpec = {
  url: { type: 'string' },
  userid: { type: 'string' },
  userkey: { type: 'string' },
  profile: { type: 'string' },
  config: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

export const CLIENT_USAGE = `Client commands (talk to an Encodery server through its encoding.com JSON API):
${Object.values(CLIENT_COMMANDS)
  .map((c) => `  encodery ${c.usage}\n      ${c.summary}`)
  .join('\n')}

Options for every client command:
  --url <url>          server (ENCODERY_URL, default http://127.0.0.1:8080)
  --userid <id>        API user id (ENCODERY_USERID)
  --userkey <key>      API user key (ENCODERY_USERKEY; prefer it or a profile: flags show in ps)
  --profile <name>     a profile of the profile file (ENCODERY_PROFILE)
  --config <file>      the profile file (ENCODERY_CONFIG; default $XDG_CONFIG_HOME/encodery/config.json
                       or ~/.config/encodery/config.json)
  --json               machine-readable output on stdout
Exit codes: 0 ok (with --wait/--watch: finished and saved), 2 usage, 3 API error,
  4 media/task/destination ended in Error, 5 server unreachable or not an API reply, 6 media stopped,
  130 interrupted (Ctrl-C; the media goes on).
`;

export async function runCli(name: string, argv: string[], env: NodeJS.ProcessEnv, out: Output, signal?: AbortSignal): Promise<ExitCode> {
  const command = CLIENT_COMMANDS[name];
  if (!command) throw new Error(`not a client command: ${name}`);
  try {
    let parsed: { values: Values; positionals: string[]; tokens: OptionToken[] };
    try {
      const all = parseArgs({ args: argv, options: { ...GLOBAL_OPTIONS, ...command.options }, allowPositionals: true, strict: true, tokens: true });
      parsed = { values: all.values as Values, positionals: all.positionals, tokens: all.tokens.filter((t) => t.kind === 'option').map((t) => ({ name: t.name, value: t.value })) };
    } catch (err) {
      throw new CliError(`${(err as Error).message.replace(/\. To specify a positional argument.*$/s, '')}\nusage: encodery ${command.usage}`, ExitCode.Usage);
    }
    const { values, positionals, tokens } = parsed;
    if (values.help === true) {
      line(out.stdout, `usage: encodery ${command.usage}\n${command.summary}\n\n${CLIENT_USAGE}`);
      return ExitCode.Ok;
    }
    let client: ApiClient | undefined;
    return await command.run({
      args: positionals,
      values,
      options: tokens,
      json: values.json === true,
      out,
      signal,
      client: () => (client ??= new ApiClient(resolveConnection(pick(values), env, (m) => line(out.stderr, `encodery ${name}: warning: ${m}`)), { signal })),
    });
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    line(out.stderr, `encodery ${name}: ${err.message}`);
    return err.code;
  }
}

function pick(values: Values): ConnectionFlags {
  return { url: str(values, 'url'), userid: str(values, 'userid'), userkey: str(values, 'userkey'), profile: str(values, 'profile'), config: str(values, 'config') };
}
