/**
 * `npm run chaos`: a bounded fault run. An Encodery server (embedded: SQLite, in-process queue)
 * is SIGKILLed 20 times while it works: 10 times at chosen points (right after a media turns
 * Downloading, Processing, Saving or Finished, or a destination Saved: ENCODERY_TEST_CRASH_AT)
 * and 10 times at random moments. Media with two formats, three destinations and every notify
 * kind are added as it goes; after the last restart the run waits for every media to end and
 * prints what finished, what was lost or stuck, which notifications are missing and which came
 * twice (telling a notification written twice from one POSTed again after a kill mid-POST,
 * which at-least-once delivery allows). Exit status 1 when a media did not finish, a
 * notification is missing or one was written twice.
 *
 * CHAOS_ROUNDS (default 20, half chosen and half random) and CHAOS_MEDIA_PER_ROUND (default 2)
 * make it shorter or longer; CHAOS_SEED makes the random points repeatable.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { USER, makeClip, serveFiles, startReceiver, tempDir, waitFor } from '../test/helpers.ts';
import { spawnEncodery, stopProcesses, type Proc } from '../test/cluster-processes.ts';

const ROUNDS = Number(process.env.CHAOS_ROUNDS ?? 20);
const MEDIA_PER_ROUND = Number(process.env.CHAOS_MEDIA_PER_ROUND ?? 2);
const CHOSEN = ['media-downloading', 'media-processing', 'media-saving', 'destination-saved', 'media-finished'] as const;
/** How long a round waits for its chosen point before killing the server itself. */
const CHOSEN_WAIT_MS = 60_000;
/** Random kills land this long after the server is up and the round's media are added. */
const RANDOM_KILL_MS: [number, number] = [200, 5000];
const SETTLE_MS = 300_000;

// A small seeded generator (mulberry32): the random points of a run can be replayed.
let seed = Number(process.env.CHAOS_SEED ?? Date.now() % 2 ** 31);
const firstSeed = seed;
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
}

interface Expected {
  destinations: string[];
}

async function main(): Promise<number> {
  const started = Date.now();
  const dataDir = await tempDir('encodery-chaos-');
  const files = path.join(dataDir, 'files');
  const sourcesDir = path.join(dataDir, 'origin');
  await fs.mkdir(files, { recursive: true });
  await fs.mkdir(sourcesDir, { recursive: true });
  // Small sources from lavfi: the run is about crashes, not about encoding speed.
  await makeClip(path.join(sourcesDir, 'a.mp4'), { seconds: 3, size: '320x240' });
  await makeClip(path.join(sourcesDir, 'b.mp4'), { seconds: 4, size: '320x180' });
  const origin = await serveFiles(sourcesDir);
  const receiver = await startReceiver();
  const port = 20000 + Math.floor(random() * 20000);
  const env = {
    ENCODERY_DATA_DIR: dataDir,
    ENCODERY_USERS: `${USER.id}:${USER.key}`,
    ENCODERY_ALLOW_PRIVATE_NETWORK: 'true',
    ENCODERY_LOG_LEVEL: 'error',
    ENCODERY_WORKERS: '2',
    ENCODERY_NOTIFY_RETRY_DELAYS_MS: '200,500,1000',
    // A sender killed mid-POST holds its claim for twice this: kept short so the next start resends soon.
    ENCODERY_NOTIFY_TIMEOUT_SECONDS: '2',
  };
  const call = async (query: Record<string, unknown>): Promise<any> => {
    const body = 'json=' + encodeURIComponent(JSON.stringify({ query: { userid: USER.id, userkey: USER.key, ...query } }));
    const res = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' }, signal: AbortSignal.timeout(10_000) });
    return ((await res.json()) as { response: any }).response;
  };
  const expected = new Map<string, Expected>();
  let mediaNumber = 0;
  const addMedia = async (): Promise<void> => {
    const n = mediaNumber++;
    const source = n % 2 ? `${origin.url}/b.mp4` : `file://${path.join(sourcesDir, 'a.mp4')}`;
    const dest = (name: string) => `file://${path.join(files, `m${n}-${name}`)}`;
    const formats = [
      { output: 'mp4', size: '160x120', destination: [dest('small-1.mp4'), dest('small-2.mp4')] },
      { output: 'mp3', destination: [dest('audio.mp3')] },
    ];
    const r = await call({
      action: 'AddMedia', source, format: formats, notify_format: 'json',
      notify: `${receiver.url}/notify`, notify_upload: `${receiver.url}/notify_upload`, notify_encoding_errors: `${receiver.url}/notify_encoding_errors`,
    });
    // A request the dying server did not answer was not accepted: the client would send it again.
    if (r?.MediaID) expected.set(String(r.MediaID), { destinations: formats.flatMap((f) => f.destination) });
  };

  const kills: { round: number; how: string; hit: boolean }[] = [];
  let server: Proc | undefined;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const chosen = round % 2 === 0 ? CHOSEN[(round / 2) % CHOSEN.length]! : null;
      server = await spawnEncodery(['--port', String(port)], chosen ? { ...env, ENCODERY_TEST_CRASH_AT: chosen } : env, /listening on/);
      const exited = new Promise<NodeJS.Signals | null>((r) => server!.child.once('exit', (_code, signal) => r(signal)));
      // At once: a chosen point such as media-downloading comes right after the first one is taken.
      await Promise.all(Array.from({ length: MEDIA_PER_ROUND }, () => addMedia().catch(() => undefined)));
      let timer: NodeJS.Timeout | undefined;
      if (chosen) {
        const outcome = await Promise.race([exited, new Promise<'not reached'>((r) => (timer = setTimeout(() => r('not reached'), CHOSEN_WAIT_MS)))]);
        clearTimeout(timer);
        kills.push({ round, how: chosen, hit: outcome === 'SIGKILL' });
      } else {
        const after = RANDOM_KILL_MS[0] + random() * (RANDOM_KILL_MS[1] - RANDOM_KILL_MS[0]);
        await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, after)))]);
        clearTimeout(timer);
        kills.push({ round, how: `random ${(after / 1000).toFixed(1)} s`, hit: server.child.exitCode === null && server.child.signalCode === null });
      }
      if (server.child.exitCode === null && server.child.signalCode === null) {
        server.child.kill('SIGKILL');
        await exited;
      }
      process.stdout.write(`round ${round + 1}/${ROUNDS}: killed ${kills.at(-1)!.hit ? '' : '(point not reached) '}${kills.at(-1)!.how}\n`);
    }

    server = await spawnEncodery(['--port', String(port)], env, /listening on/);
    const finals = new Map<string, string>();
    await waitFor(async () => {
      for (const id of expected.keys()) {
        if (finals.has(id)) continue;
        const s = await call({ action: 'GetStatus', mediaid: id });
        const status = s.job?.status ?? s.status ?? 'lost';
        if (['Finished', 'Error', 'Stopped'].includes(status) || s.errors) finals.set(id, s.errors ? 'lost' : status);
      }
      return finals.size === expected.size || undefined;
    }, SETTLE_MS, 500).catch(() => undefined);

    const want = new Map<string, number>();
    for (const [id, e] of expected) {
      want.set(`notify ${id}`, 1);
      for (const d of e.destinations) want.set(`notify_upload ${id} ${d}`, 1);
      if (finals.get(id) === 'Error') want.set(`notify_encoding_errors ${id}`, 1);
    }
    const got = new Map<string, number>();
    const tally = () => {
      got.clear();
      for (const r of receiver.received) {
        const doc = JSON.parse(new URLSearchParams(r.body.toString()).get('json') ?? '{}').result ?? {};
        const kind = r.url.slice(1);
        const key = kind === 'notify_upload' ? `${kind} ${doc.mediaid} ${doc.destination}` : `${kind} ${doc.mediaid}`;
        got.set(key, (got.get(key) ?? 0) + 1);
      }
    };
    // Notifications of the last media are still on their way when it turns Finished.
    await waitFor(async () => (tally(), [...want.keys()].every((k) => got.has(k))) || undefined, 60_000, 250).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 2000));
    tally();

    // Which duplicates are one notification row POSTed again (a kill between the POST and
    // recording its attempt: delivery is at least once) and which are rows written twice.
    await stopProcesses([server]);
    const store = new SQLite(path.join(dataDir, 'encodery.sqlite'), { readonly: true });
    const rows = new Map<string, number>();
    for (const r of store.prepare(`select n.media_id as media, n.kind as kind, d.url as url, count(*) as n from notification n left join destination d on d.id = n.destination_id group by 1, 2, 3`).all() as { media: number; kind: string; url: string | null; n: number }[]) {
      rows.set(r.kind === 'notify_upload' ? `${r.kind} ${r.media} ${r.url}` : `${r.kind} ${r.media}`, r.n);
    }
    store.close();
    const finished = [...finals.values()].filter((s) => s === 'Finished').length;
    const notFinished = [...expected.keys()].filter((id) => finals.get(id) !== 'Finished').map((id) => `${id}: ${finals.get(id) ?? 'stuck'}`);
    const missing = [...want.keys()].filter((k) => !got.has(k));
    const duplicates = [...got.entries()].filter(([, n]) => n > 1).map(([k, n]) => `${k} ×${n}`);
    const writtenTwice = [...rows.entries()].filter(([, n]) => n > 1).map(([k, n]) => `${k}: ${n} rows`);
    const unexpected = [...got.keys()].filter((k) => !want.has(k));
    const hits = kills.filter((k) => k.hit).length;
    const lines = [
      '',
      `chaos: ${kills.length} kills (${kills.filter((k) => !k.how.startsWith('random')).length} at chosen points, ${kills.filter((k) => k.how.startsWith('random')).length} random; ${hits} landed while the server ran), seed ${firstSeed}, ${((Date.now() - started) / 1000).toFixed(0)} s`,
      `media accepted:             ${expected.size}`,
      `media finished:             ${finished}`,
      `media lost or stuck:        ${notFinished.length}${notFinished.length ? ` (${notFinished.join(', ')})` : ''}`,
      `notifications expected:     ${want.size}`,
      `notifications missing:      ${missing.length}${missing.length ? ` (${missing.slice(0, 10).join('; ')})` : ''}`,
      `duplicates:                 ${duplicates.length}${duplicates.length ? ` (${duplicates.slice(0, 10).join('; ')})` : ''}`,
      `  of them written twice:    ${writtenTwice.length}${writtenTwice.length ? ` (${writtenTwice.slice(0, 10).join('; ')})` : duplicates.length ? ' (the rest: one notification POSTed again after a kill mid-POST)' : ''}`,
      `for media never accepted:   ${unexpected.length}`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
    return notFinished.length === 0 && missing.length === 0 && writtenTwice.length === 0 ? 0 : 1;
  } finally {
    if (server) await stopProcesses([server]);
    await receiver.close();
    await origin.close();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
