import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { Writable } from 'node:stream';
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseReply } from '../src/cli/client.ts';
import { runCli } from '../src/cli/index.ts';
import { CliError, ExitCode } from '../src/cli/exit.ts';
import { mediaViews, problemsOf, exitCodeOf } from '../src/cli/views.ts';
import { watchMedia } from '../src/cli/watch.ts';
import { ffprobe, makeClip, startReceiver, startTestServer, tempDir, USER, waitFor, type TestServer } from './helpers.ts';

const MAIN = path.join(import.meta.dirname, '..', 'src', 'main.ts');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The real CLI in a child process, with no ENCODERY_* setting and a home of its own. */
function cli(args: string[], env: Record<string, string> = {}, home?: string, started?: (child: ChildProcess) => void): Promise<Run> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ENCODERY_') && k !== 'XDG_CONFIG_HOME' && k !== 'HOME'));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
      env: { ...base, HOME: home ?? '/nonexistent', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started?.(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * The same CLI code in this process (no tsx start-up per call), for the many short checks of
 * argument and profile handling; `env` is all it sees of an environment.
 */
async function cliHere(args: string[], env: Record<string, string>, tty = false): Promise<Run> {
  const collect = () => {
    let text = '';
    const stream = new Writable({ write: (chunk: Buffer, _enc, done) => ((text += chunk.toString()), done()) });
    return { stream, text: () => text };
  };
  const stdout = collect();
  if (tty) Object.assign(stdout.stream, { isTTY: true, columns: 100 });
  const stderr = collect();
  const [name = '', ...rest] = args;
  const code = await runCli(name, rest, env, { stdout: stdout.stream, stderr: stderr.stream });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

describe('encodery command-line client against a live server', () => {
  let t: TestServer;
  let env: Record<string, string>;
  let clip: string;
  let finishedId: string;

  /**
   * The CLI in this process, for the commands whose process wrapper (exit code, streams, signals)
   * the child-process runs of this suite already cover: each exit code is seen from a real process
   * at least once (0, 2, 3, 4, 5, 130).
   */
  const here = (args: string[]) => cliHere(args, { ...env, HOME: '/nonexistent' });

  before(async () => {
    t = await startTestServer();
    await fs.mkdir(t.filesDir, { recursive: true });
    clip = await makeClip(path.join(t.filesDir, 'clip.mp4'), { seconds: 2 });
    env = { ENCODERY_URL: t.server.url, ENCODERY_USERID: USER.id, ENCODERY_USERKEY: USER.key };
  });
  after(() => t.close());

  it('add --wait follows the media to Finished, exits 0, the output is the asked video and --notify is called', async () => {
    const out = path.join(t.filesDir, 'small.mp4');
    const hook = await startReceiver();
    const r = await cli(['add', clip, '--format', '{"output":"mp4","size":"160x120"}', '--dest', out, '--notify', `${hook.url}/done`, '--wait', '--interval', '0.2'], env);
    assert.equal(r.code, 0, r.stderr);
    await waitFor(async () => hook.received.length > 0, 10_000).finally(() => hook.close());
    assert.equal(hook.received[0]!.url, '/done');
    const id = /Added media (\d+)/.exec(r.stdout)?.[1];
    assert.ok(id, r.stdout);
    finishedId = id;
    assert.match(r.stdout, new RegExp(`media ${id}  Finished  100\\.0%`));
    assert.match(r.stdout, /-> file:\/\/\S+small\.mp4  Saved/);
    assert.equal(r.stderr, '');
    assert.doesNotMatch(r.stdout, /\x1b\[/, 'no terminal escapes when stdout is not a terminal');
    const probe = await ffprobe(out);
    const video = probe.streams.find((s) => s.codec_type === 'video');
    assert.equal(video?.codec_name, 'h264');
    assert.equal(`${video?.width}x${video?.height}`, '160x120');
    assert.ok(Math.abs(Number(probe.format.duration) - 2) < 0.2, probe.format.duration);
  });

  it('add of a source that is not a video exits 4 with the reason on stderr', async () => {
    const broken = path.join(t.filesDir, 'broken.mp4');
    await fs.writeFile(broken, 'this is not a video at all '.repeat(100));
    const r = await cli(['add', `file://${broken}`, '--preset', 'mp4_360p', '--dest', path.join(t.filesDir, 'never.mp4'), '--wait', '--interval', '0.2'], env);
    assert.equal(r.code, ExitCode.MediaError, r.stdout + r.stderr);
    assert.match(r.stdout, /Error/);
    assert.match(r.stderr, /^encodery: media \d+ ended in Error: \S.+/m);
  });

  it('on a terminal, add --wait draws a progress bar for the media and per task, each redrawn to its end: full, Finished', async () => {
    const r = await cliHere(['add', clip, '--format', '[{"output":"mp4","size":"160x120"},{"output":"webm","size":"160x120"}]', '--wait', '--interval', '0.2'], env, true);
    assert.equal(r.code, 0, r.stderr);
    const id = /Added media (\d+)/.exec(r.stdout)?.[1];
    // The last drawing of each bar (redrawn in place with cursor moves) shows it full.
    for (const output of ['mp4', 'webm']) {
      const drawn = [...r.stdout.matchAll(new RegExp(`media ${id} task \\d+ ${output}\\s*\\|([█░]+)\\|\\s*([\\d.]+)% (\\w+)`, 'g'))];
      assert.ok(drawn.length > 0, r.stdout);
      const [, bar, pct, status] = drawn.at(-1)!;
      assert.deepEqual([bar!.includes('░'), pct, status], [false, '100.0', 'Finished']);
    }
    // The media's own bar, above its tasks', was drawn while it ran and ends as it ended.
    const media = [...r.stdout.matchAll(new RegExp(`media ${id}\\s+\\|([█░]+)\\|\\s*([\\d.]+)% ([\\w ]+?)(?:  |\\s*$|\\n|\\x1b)`, 'gm'))];
    assert.ok(media.length > 1, r.stdout);
    const [, bar, pct, status] = media.at(-1)!;
    assert.deepEqual([bar!.includes('░'), pct, status], [false, '100.0', 'Finished']);
    assert.ok(media.some(([, , , s]) => s !== 'Finished'), 'drawn before it ended too');
    assert.doesNotMatch(r.stdout, new RegExp(`media ${id}  (Processing|Saving|Downloading)`), 'no stale media line left above the bars');
    // Kept outputs (no destination) are listed with their download links.
    assert.equal([...r.stdout.matchAll(/link http:\/\/\S+\/download\//g)].length, 2, r.stdout);
  });

  it('each --dest goes to the format before it: the MP4 is delivered, the thumbnail kept on the server', async () => {
    const out = path.join(t.filesDir, 'split-dest.mp4');
    const r = await here(['add', clip, '--format', '{"output":"mp4","size":"160x120"}', '--dest', out, '--format', '{"output":"thumbnail","width":"64"}', '--wait', '--interval', '0.2', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { media: { tasks: { output: string; destinations: { url: string; status: string }[]; links: string[] }[] }[] };
    const [mp4, thumb] = doc.media[0]!.tasks;
    assert.equal(mp4!.output, 'mp4');
    assert.deepEqual(mp4!.destinations.map((d) => d.status), ['Saved']);
    assert.deepEqual(mp4!.links, []);
    const video = (await ffprobe(out)).streams.find((s) => s.codec_type === 'video');
    assert.equal(`${video?.width}x${video?.height}`, '160x120');
    assert.equal(thumb!.output, 'thumbnail');
    assert.deepEqual(thumb!.destinations, []);
    assert.equal(thumb!.links.length, 1);
    const picture = await fetch(thumb!.links[0]!);
    assert.equal(picture.status, 200);
    assert.equal(picture.headers.get('content-type'), 'image/jpeg');
  });

  it('status shows the media with its tasks and destinations, as text and as JSON', async () => {
    const text = await here(['status', finishedId]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^media ${finishedId}  Finished  100\\.0%`));
    assert.match(text.stdout, /task \d+  mp4  Finished  100\.0%/);
    assert.match(text.stdout, /source  file:\/\/\S+clip\.mp4/);

    const json = await here(['status', finishedId, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const doc = JSON.parse(json.stdout) as { media: { id: string; status: string; progress: number; tasks: { output: string; status: string; destinations: { url: string; status: string }[] }[] }[] };
    assert.equal(doc.media.length, 1);
    assert.equal(doc.media[0]!.id, finishedId);
    assert.equal(doc.media[0]!.progress, 100);
    assert.equal(doc.media[0]!.tasks[0]!.status, 'Finished');
    assert.deepEqual(doc.media[0]!.tasks[0]!.destinations.map((d) => d.status), ['Saved']);
    assert.ok(!json.stdout.includes(USER.key));
  });

  it('status --watch --json writes one JSON document per line until the media ends', async () => {
    const r = await here(['status', finishedId, '--watch', '--json', '--interval', '0.2']);
    assert.equal(r.code, 0, r.stderr);
    const docs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { media: { status: string }[] });
    assert.equal(docs.at(-1)!.media[0]!.status, 'Finished');
  });

  it('list filters by status, as a table and as JSON', async () => {
    const finished = await here(['list', '--status', 'Finished', '--json']);
    assert.equal(finished.code, 0, finished.stderr);
    const ids = (JSON.parse(finished.stdout) as { media: { id: string; status: string }[] }).media.map((m) => m.id);
    assert.ok(ids.includes(finishedId), finished.stdout);
    const errors = await here(['list', '--status', 'error', '--json']);
    const errorList = (JSON.parse(errors.stdout) as { media: { id: string; status: string }[] }).media;
    assert.ok(errorList.length >= 1 && errorList.every((m) => m.status === 'Error'), errors.stdout);
    assert.ok(!errorList.some((m) => m.id === finishedId));

    const table = await here(['list']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ID\s+STATUS\s+PROGRESS\s+CREATED\s+SOURCE$/m);
    assert.match(table.stdout, new RegExp(`^${finishedId}\\s+Finished\\s+100\\.0%`, 'm'));
  });

  it('info shows the probe of the source', async () => {
    const json = await here(['info', finishedId, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const doc = JSON.parse(json.stdout) as Record<string, string>;
    assert.equal(doc.video_codec, 'h264');
    assert.equal(doc.size, '320x240');
    assert.ok(Math.abs(Number(doc.duration) - 2) < 0.1, doc.duration);
    const text = await here(['info', finishedId]);
    assert.match(text.stdout, /^audio_codec\s+aac$/m);
  });

  it('presets save, get, list and delete; add --preset encodes with a saved preset', async () => {
    const saved = await here(['presets', 'save', 'tiny', '--format', '{"output":"mp4","size":"128x96"}']);
    assert.equal(saved.code, 0, saved.stderr);
    assert.equal(saved.stdout.trim(), 'Saved preset tiny');

    const got = await here(['presets', 'get', 'tiny', '--json']);
    assert.equal(got.code, 0, got.stderr);
    const preset = JSON.parse(got.stdout) as { name: string; type: string; format: { size: string; output: string } };
    assert.deepEqual([preset.name, preset.type, preset.format.output, preset.format.size], ['tiny', 'user', 'mp4', '128x96']);

    const listed = await here(['presets', 'list', '--json']);
    const all = (JSON.parse(listed.stdout) as { presets: { name: string; type: string }[] }).presets;
    assert.deepEqual(all.find((p) => p.name === 'tiny'), { name: 'tiny', type: 'user', output: 'mp4' });
    assert.ok(all.some((p) => p.name === 'mp4_720p' && p.type === 'ui'));

    const out = path.join(t.filesDir, 'tiny.mp4');
    const added = await here(['add', clip, '--preset', 'tiny', '--dest', out, '--wait', '--interval', '0.2']);
    assert.equal(added.code, 0, added.stderr);
    const video = (await ffprobe(out)).streams.find((s) => s.codec_type === 'video');
    assert.equal(`${video?.width}x${video?.height}`, '128x96');

    const deleted = await here(['presets', 'delete', 'tiny']);
    assert.equal(deleted.code, 0, deleted.stderr);
    const gone = await here(['presets', 'get', 'tiny']);
    assert.equal(gone.code, ExitCode.Api);
    assert.match(gone.stderr, /Preset "tiny" not found/);
  });

  it('cancel deletes a media; afterwards status exits 3 with "not found"', async () => {
    const added = await here(['add', clip, '--preset', 'mp4_360p', '--json']);
    assert.equal(added.code, 0, added.stderr);
    const { mediaid } = JSON.parse(added.stdout) as { mediaid: string };
    assert.match(mediaid, /^\d+$/);
    const cancelled = await here(['cancel', mediaid]);
    assert.equal(cancelled.code, 0, cancelled.stderr);
    assert.equal(cancelled.stdout.trim(), `media ${mediaid}: Deleted`);
    const status = await here(['status', mediaid]);
    assert.equal(status.code, ExitCode.Api);
    assert.match(status.stderr, new RegExp(`Media ${mediaid} not found`));
  });

  it('stop and restart --errors of a finished media exit 3 with the server\'s reason', async () => {
    const stop = await here(['stop', finishedId]);
    assert.equal(stop.code, ExitCode.Api);
    assert.match(stop.stderr, /already ended/);
    const restart = await here(['restart', finishedId, '--errors']);
    assert.equal(restart.code, ExitCode.Api);
    assert.match(restart.stderr, /no failed tasks/);
  });

  it('a wrong key exits 3 with the server\'s message and the key is never shown', async () => {
    const r = await cli(['list', '--userkey', 'wrong-secret-xyz'], env);
    assert.equal(r.code, ExitCode.Api);
    assert.equal(r.stderr.trim(), 'encodery list: Wrong user id or key!');
    assert.ok(!(r.stdout + r.stderr).includes('wrong-secret-xyz'));
  });

  it('a server that cannot be reached, or is not an API, exits 5', async () => {
    const closed = await cli(['list', '--url', 'http://127.0.0.1:1/'], env);
    assert.equal(closed.code, ExitCode.Connection);
    assert.match(closed.stderr, /cannot reach http:\/\/127\.0\.0\.1:1\/: .*ECONNREFUSED/);
    const other = await startReceiver(() => 200);
    try {
      const r = await cli(['list', '--url', other.url], env);
      assert.equal(r.code, ExitCode.Connection);
      assert.match(r.stderr, /did not answer with JSON/);
      // It spoke the public API: one form field json= holding {"query":{...}}.
      const body = new URLSearchParams(other.received[0]!.body.toString());
      assert.deepEqual([...body.keys()], ['json']);
      const query = (JSON.parse(body.get('json')!) as { query: Record<string, string> }).query;
      assert.equal(query.action, 'GetMediaList');
      assert.equal(query.userid, USER.id);
    } finally {
      await other.close();
    }
  });

  it('Ctrl-C while following a media ends the client with 130 and a reason', async () => {
    // A server answering 502 keeps --watch retrying (an outage), so the client is mid-wait.
    const flaky = await startReceiver(() => 502);
    try {
      let child: ChildProcess | undefined;
      const run = cli(['status', '1', '--watch', '--interval', '0.2', '--url', flaky.url], env, undefined, (c) => (child = c));
      await waitFor(async () => flaky.received.length >= 2);
      child!.kill('SIGINT');
      const r = await run;
      assert.equal(r.code, ExitCode.Interrupted, r.stderr);
      assert.match(r.stderr, /^encodery status: interrupted/m);
    } finally {
      await flaky.close();
    }
  });

  it('usage errors exit 2 and send nothing', async () => {
    const cases: [string[], RegExp][] = [
      [['add'], /missing the source/],
      [['add', clip], /--preset <name> or --format/],
      [['add', clip, '--format', '{not json'], /not valid JSON/],
      [['add', clip, '--dest', 'x.mp4', '--preset', 'a'], /--dest x\.mp4 comes before any --preset or --format/],
      [['add', clip, '--format', '[{"output":"mp4"},{"output":"webm"}]', '--dest', 'x.mp4'], /follows a --format list of several formats/],
      [['add', clip, '--format', '{"output":"mp4","destination":"file:///a.mp4"}', '--dest', 'x.mp4'], /names its own "destination"/],
      [['list', '--per-page', '2'], /--per-page must be a whole number from 5 to 100, not "2"/],
      [['list', '--page', '0'], /--page must be a whole number at least 1/],
      [['list', '--from', 'yesterday'], /--from must be a date like 2026-01-31 or 2026-01-31 23:59:59 \(UTC\), not "yesterday"/],
      [['status', 'abc'], /positive whole number/],
      [['list', '--bogus'], /Unknown option '--bogus'/],
      [['list', '--status', 'done'], /--status must be one of New, Downloading, .*Stopped/],
      [['presets', 'rename', 'x'], /unknown presets command/],
    ];
    for (const [args, message] of cases) {
      const r = await cliHere(args, { ...env, ENCODERY_URL: 'http://127.0.0.1:1/' });
      assert.equal(r.code, ExitCode.Usage, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    const none = await cli(['list'], {});
    assert.equal(none.code, ExitCode.Usage);
    assert.match(none.stderr, /no userid or userkey/);
  });

  it('profile file, environment and flags: flags beat --profile, which beats the environment, which beats the default profile', async () => {
    const home = await tempDir('encodery-cli-home-');
    try {
      const config = path.join(home, 'xdg', 'encodery', 'config.json');
      await fs.mkdir(path.dirname(config), { recursive: true });
      await fs.writeFile(config, JSON.stringify({
        default: 'bad',
        profiles: {
          bad: { url: t.server.url, userid: USER.id, userkey: 'not-the-key' },
          good: { url: t.server.url, userid: USER.id, userkey: USER.key },
        },
      }));
      const xdg = { HOME: home, XDG_CONFIG_HOME: path.join(home, 'xdg') };
      await fs.chmod(config, 0o644);
      const loose = await cliHere(['list', '--profile', 'good'], xdg);
      assert.equal(loose.code, ExitCode.Ok, loose.stderr);
      assert.match(loose.stderr, /can be read by other users; chmod 600 it/);
      await fs.chmod(config, 0o600);
      assert.equal((await cliHere(['list', '--profile', 'good'], xdg)).stderr, '');
      const code = async (args: string[], extra: Record<string, string> = {}) => (await cliHere(['list', ...args], { ...xdg, ...extra })).code;
      assert.equal(await code([]), ExitCode.Api, 'the default profile (wrong key) is used');
      assert.equal(await code([], { ENCODERY_USERKEY: USER.key }), ExitCode.Ok, 'the environment beats the default profile');
      assert.equal(await code([], { ENCODERY_PROFILE: 'good' }), ExitCode.Ok, 'ENCODERY_PROFILE picks a profile');
      assert.equal(await code(['--profile', 'good'], { ENCODERY_USERKEY: 'not-the-key' }), ExitCode.Ok, '--profile beats the environment');
      assert.equal(await code(['--profile', 'good', '--userkey', 'not-the-key']), ExitCode.Api, 'a flag beats --profile');
      assert.equal(await code(['--profile', 'good'], { ENCODERY_URL: 'http://127.0.0.1:1/' }), ExitCode.Ok, "--profile's url beats ENCODERY_URL");
      assert.equal(await code(['--profile', 'nope']), ExitCode.Usage);

      // Without XDG_CONFIG_HOME: ~/.config/encodery/config.json.
      await fs.mkdir(path.join(home, '.config', 'encodery'), { recursive: true });
      await fs.copyFile(config, path.join(home, '.config', 'encodery', 'config.json'));
      assert.equal((await cli(['list', '--profile', 'good'], {}, home)).code, ExitCode.Ok);

      // A malformed file is named with what is wrong, without echoing its values.
      const bad = path.join(home, 'bad.json');
      await fs.writeFile(bad, JSON.stringify({ profiles: { x: { userkey: 'SECRET-IN-FILE', extra: 1 } } }));
      const r = await cliHere(['list', '--config', bad], { HOME: home });
      assert.equal(r.code, ExitCode.Usage);
      assert.match(r.stderr, /does not have the expected shape/);
      assert.ok(!r.stderr.includes('SECRET-IN-FILE'));
    } finally {
      await fs.rm(home, { recursive: true, force: true });
    }
  });
});

describe('encodery without a server: version and mistyped commands', () => {
  it('--version prints the package version and exits 0', async () => {
    const { version } = JSON.parse(await fs.readFile(path.join(import.meta.dirname, '..', 'package.json'), 'utf8')) as { version: string };
    const r = await cli(['--version']);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, `encodery ${version}\n`, '']);
  });

  it('a mistyped command exits 2 with one line naming the closest command, not the whole help', async () => {
    const r = await cli(['lst']);
    assert.equal(r.code, ExitCode.Usage);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'encodery: unknown command lst; did you mean list? (encodery help lists the commands)\n');
    const far = await cli(['frobnicate']);
    assert.equal(far.code, ExitCode.Usage);
    assert.doesNotMatch(far.stderr, /did you mean/);
  });
});

describe('encodery client reads replies the way encoding.com sends them', () => {
  const reply = (doc: unknown) => parseReply(200, JSON.stringify(doc), 'http://x/');

  it('one job, one format, one destination read as lists of one', () => {
    const [m] = mediaViews(reply({ response: { job: { id: '7', status: 'Finished', progress: '100.0', time_left: '0', sourcefile: 'http://a/b.mp4', notifyurl: [], format: { id: '9', status: 'Finished', output: 'mp4', destination: 'file:///o.mp4', destination_status: 'Saved' } } } }));
    assert.equal(m!.id, '7');
    assert.deepEqual(m!.sources, ['http://a/b.mp4']);
    assert.deepEqual(m!.tasks.map((t) => [t.id, t.output, t.destinations]), [['9', 'mp4', [{ url: 'file:///o.mp4', status: 'Saved' }]]]);
    assert.equal(exitCodeOf(m!), ExitCode.Ok);
  });

  it('several jobs, formats and destinations (with nulls) read as lists, and failures are named', () => {
    const views = mediaViews(reply({ response: { job: [
      { id: '1', status: 'Finished', format: [
        { id: '2', status: 'Finished', output: ['mp4'], destination: [null, 'ftp://h/a.mp4', 'ftp://h/b.mp4'], destination_status: [null, 'Saved', 'Error (refused)'] },
        { id: '3', status: 'Error', output: 'webm', description: 'encoder failed' },
      ] },
      { id: '4', status: 'Processing', progress: '50.0', format: [] },
    ] } }));
    assert.equal(views.length, 2);
    assert.deepEqual(views[0]!.tasks[0]!.destinations, [{ url: 'ftp://h/a.mp4', status: 'Saved' }, { url: 'ftp://h/b.mp4', status: 'Error (refused)' }]);
    assert.deepEqual(problemsOf(views[0]!), ['task 2 (mp4) could not save to ftp://h/b.mp4: Error (refused)', 'task 3 (webm) ended in Error: encoder failed']);
    assert.equal(exitCodeOf(views[0]!), ExitCode.MediaError);
    assert.equal(exitCodeOf(views[1]!), ExitCode.Ok);
    assert.deepEqual(views[1]!.tasks, []);
  });

  it('errors: one string, a list joined by ", ", a message beside them; HTTP and shape failures are connection errors', () => {
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        assert.ok(err instanceof CliError);
        return [err.code, err.message];
      }
      return null;
    };
    assert.deepEqual(code(() => reply({ response: { errors: { error: 'Wrong user id or key!' } } })), [ExitCode.Api, 'Wrong user id or key!']);
    assert.deepEqual(code(() => reply({ response: { message: '', errors: { error: ['a', 'b'] } } })), [ExitCode.Api, 'a, b']);
    assert.equal(code(() => reply({ response: [] }))?.[0], ExitCode.Connection);
    assert.equal(code(() => parseReply(502, 'Bad Gateway', 'http://x/'))?.[0], ExitCode.Connection);
    assert.equal(code(() => mediaViews(reply({ response: { message: 'odd' } })))?.[0], ExitCode.Connection);
  });
});

describe('encodery status --watch without a terminal', () => {
  const job = (status: string, progress: string, tasks: [string, string][]) => ({
    job: { id: '5', status, progress, time_left: '3', format: tasks.map(([s, p], i) => ({ id: String(10 + i), output: 'mp4', status: s, progress: p, time_left: '2' })) },
  });
  const capture = () => {
    let text = '';
    const stream = new Writable({ write: (chunk: Buffer, _enc, done) => ((text += chunk.toString()), done()) });
    return { out: { stdout: stream, stderr: stream }, text: () => text };
  };

  it('prints a line per status change and per tenth of progress (media and task), and rides out a short outage', async () => {
    const script: (Record<string, unknown> | CliError)[] = [
      job('Downloading', '0.0', [['New', '0.0']]),
      job('Processing', '10.0', [['Processing', '3.0']]),
      job('Processing', '11.0', [['Processing', '5.0']]),
      new CliError('cannot reach http://x/: ECONNREFUSED', ExitCode.Connection),
      job('Processing', '40.0', [['Processing', '42.0']]),
      job('Finished', '100.0', [['Finished', '100.0']]),
    ];
    const client = {
      call: async () => {
        const next = script.shift();
        if (!next) throw new Error('polled after the media ended');
        if (next instanceof CliError) throw next;
        return next;
      },
    };
    const { out, text } = capture();
    const media = await watchMedia(client, ['5'], out, { intervalMs: 1, json: false });
    assert.equal(media[0]!.status, 'Finished');
    assert.equal(script.length, 0);
    assert.deepEqual(text().trimEnd().split('\n'), [
      'media 5  Downloading  0.0%  time left 3s',
      '  task 10  mp4  New  0.0%  time left 2s',
      'media 5  Processing  10.0%  time left 3s',
      '  task 10  mp4  Processing  3.0%  time left 2s',
      'media 5  Processing  40.0%  time left 3s',
      '  task 10  mp4  Processing  42.0%  time left 2s',
      'media 5  Finished  100.0%',
      '  task 10  mp4  Finished  100.0%',
    ]);
  });

  it('on a terminal, bars of outputs with long and short names start in the same column', async () => {
    const reply = { job: { id: '5', status: 'Processing', progress: '50.0', format: [['101', 'mp4'], ['102', 'advanced_hls'], ['103', 'thumbnail']].map(([id, output]) => ({ id, output, status: 'Finished', progress: '100.0' })) } };
    const final = { job: { ...reply.job, status: 'Finished', progress: '100.0' } };
    const script = [reply, final];
    const { out, text } = capture();
    Object.assign(out.stdout, { isTTY: true, columns: 120 });
    await watchMedia({ call: async () => script.shift()! }, ['5'], out, { intervalMs: 1, json: false });
    // The last drawing of each bar, after cursor moves and line clears are taken out.
    const plain = text().replace(/\x1b\[[0-9;]*[A-Za-z]/g, '\n');
    const columns = ['mp4', 'advanced_hls', 'thumbnail'].map((output) => {
      const drawn = [...plain.matchAll(new RegExp(`^(media 5 task \\d+ ${output}\\s*)\\|`, 'gm'))];
      assert.ok(drawn.length > 0, plain);
      return drawn.at(-1)![1]!.length;
    });
    assert.equal(new Set(columns).size, 1, `bars start at columns ${columns.join(', ')}`);
  });

  it('gives up with the connection error when the server stays away', async () => {
    const client = { call: async () => Promise.reject(new CliError('cannot reach http://x/: ECONNREFUSED', ExitCode.Connection)) };
    const { out } = capture();
    await assert.rejects(watchMedia(client, ['5'], out, { intervalMs: 5, json: false, outageMs: 50 }), (err: unknown) => err instanceof CliError && err.code === ExitCode.Connection);
  });
});
