import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkFfmpeg } from '../src/pipeline/ffmpeg/version.ts';

let dir = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'encodery-version-'));
  const fake = async (name: string, firstLine: string): Promise<void> => {
    await writeFile(join(dir, name), `#!/bin/sh\necho '${firstLine}'\necho 'built with gcc'\n`);
    await chmod(join(dir, name), 0o755);
  };
  await fake('old-ffmpeg', 'ffmpeg version 4.4.2-0ubuntu0.22.04.1 Copyright (c) 2000-2021 the FFmpeg developers');
  await fake('git-ffmpeg', 'ffmpeg version N-113000-g1234abcd Copyright (c) 2000-2024 the FFmpeg developers');
  await fake('not-ffmpeg', 'hello from something else');
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('checkFfmpeg – the installed FFmpeg passes and reports its version', async () => {
  const r = await checkFfmpeg({ ffmpeg: 'ffmpeg', ffprobe: 'ffprobe' });
  assert.ok(r.ok, r.ok ? '' : r.message);
  assert.match(r.version, /^\d+\.\d+/);
});

test('checkFfmpeg – a missing binary gives one line saying how to fix it', async () => {
  const r = await checkFfmpeg({ ffmpeg: join(dir, 'ffmpeg'), ffprobe: 'ffprobe' });
  assert.deepEqual(r, {
    ok: false,
    message: `FFmpeg 5.0 or newer is required but "${join(dir, 'ffmpeg')}" was not found. Install it (Debian/Ubuntu: sudo apt-get install ffmpeg) or point ENCODERY_FFMPEG and ENCODERY_FFPROBE at your binaries.`,
  });
  const probe = await checkFfmpeg({ ffmpeg: 'ffmpeg', ffprobe: 'no-such-ffprobe-binary' });
  assert.ok(!probe.ok && probe.message.includes('"no-such-ffprobe-binary" was not found'));
  assert.ok(!probe.ok && !probe.message.includes('\n'));
});

test('checkFfmpeg – FFmpeg 4 is refused, a git build is accepted', async () => {
  const old = await checkFfmpeg({ ffmpeg: join(dir, 'old-ffmpeg'), ffprobe: 'ffprobe' });
  assert.ok(!old.ok);
  assert.match(old.message, /^FFmpeg 5\.0 or newer is required but ".*old-ffmpeg" is version 4\.4\.2-0ubuntu0\.22\.04\.1\. Upgrade it/);
  const git = await checkFfmpeg({ ffmpeg: join(dir, 'git-ffmpeg'), ffprobe: 'ffprobe' });
  assert.deepEqual(git, { ok: true, version: 'N-113000-g1234abcd' });
  const other = await checkFfmpeg({ ffmpeg: join(dir, 'not-ffmpeg'), ffprobe: 'ffprobe' });
  assert.ok(!other.ok && /does not look like ffmpeg/.test(other.message));
});
