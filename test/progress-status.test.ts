import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { asList, ffprobe, makeClip, startTestServer, type TestServer } from './helpers.ts';

interface Sample {
  status: string;
  progress: number;
  progressCurrent: number;
  timeLeft: number;
  tasks: { id: string; output: string; status: string; progress: number; progressCurrent: number }[];
}

/** Extended GetStatus every `everyMs` until the media ends: every reply, in order. */
async function sampleUntilFinal(t: TestServer, mediaId: string, everyMs: number): Promise<Sample[]> {
  const samples: Sample[] = [];
  const until = Date.now() + 120_000;
  for (;;) {
    const job = ((await t.call('json', { action: 'GetStatus', mediaid: mediaId, extended: 'yes' })) as { job: any }).job;
    samples.push({
      status: job.status,
      progress: Number(job.progress),
      progressCurrent: Number(job.progress_current),
      timeLeft: Number(job.time_left),
      tasks: asList<any>(job.format).map((f) => ({
        id: f.id, output: f.output, status: f.status, progress: Number(f.progress), progressCurrent: Number(f.progress_current),
      })),
    });
    if (['Finished', 'Error', 'Stopped'].includes(job.status)) return samples;
    if (Date.now() > until) throw new Error(`media ${mediaId} did not end in time: ${JSON.stringify(samples.at(-1))}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

describe('GetStatus progress and time left, sampled while a real media runs', () => {
  let t: TestServer;
  let clip: string;

  before(async () => {
    t = await startTestServer();
    await fs.mkdir(t.filesDir, { recursive: true });
    clip = await makeClip(path.join(t.filesDir, 'clip.mp4'), { seconds: 5, size: '640x360' });
  });
  after(() => t.close());

  it('an MP4, a thumbnail and a GIF: media progress never goes back, reads 100 only when Finished, and lies among its tasks', async () => {
    const out = (name: string) => `file://${path.join(t.filesDir, name)}`;
    const added = (await t.call('json', {
      action: 'AddMedia',
      source: `file://${clip}`,
      format: [
        { output: 'mp4', size: '640x360', video_codec: 'libx264', destination: out('progress.mp4') },
        { output: 'thumbnail', time: '2', destination: out('progress.jpg') },
        { output: 'gif', size: '160x120', destination: out('progress.gif') },
      ],
    })) as { MediaID: string };
    const samples = await sampleUntilFinal(t, added.MediaID, 120);
    const final = samples.at(-1)!;
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    assert.equal(final.progress, 100);
    assert.ok(samples.length >= 5, `only ${samples.length} samples: the encode was too quick to watch`);

    for (const [i, s] of samples.entries()) {
      const where = `sample ${i} ${JSON.stringify(s)}`;
      if (i > 0) assert.ok(s.progress >= samples[i - 1]!.progress, `media progress went back: ${JSON.stringify(samples[i - 1])} then ${where}`);
      if (s.status !== 'Finished') assert.ok(s.progress < 100, `100 before Finished: ${where}`);
      assert.ok(s.progressCurrent >= 0 && s.progressCurrent <= 100, where);
      assert.ok(s.timeLeft >= 0, where);
      for (const task of s.tasks) {
        if (task.status !== 'Finished') assert.ok(task.progress < 100, `a task at 100 before it finished: ${where}`);
        const before = samples[i - 1]?.tasks.find((x) => x.id === task.id);
        if (before) assert.ok(task.progress >= before.progress, `task ${task.id} progress went back: ${where}`);
      }
      // The media's progress is its tasks' weighted by their work: never outside them (one decimal each on the wire).
      if (s.status === 'Processing') {
        const figures = s.tasks.map((x) => x.progress);
        assert.ok(s.progress >= Math.min(...figures) - 0.1 && s.progress <= Math.max(...figures) + 0.1, `media outside its tasks: ${where}`);
      }
    }
    // The encode was seen under way, not only its ends.
    assert.ok(samples.some((s) => s.status === 'Processing' && s.progress > 5 && s.progress < 95), JSON.stringify(samples.map((s) => [s.status, s.progress])));

    // Real outputs, each the one asked for.
    const mp4 = await ffprobe(path.join(t.filesDir, 'progress.mp4'));
    assert.equal(mp4.streams.find((s) => s.codec_type === 'video')?.codec_name, 'h264');
    assert.ok(Math.abs(Number(mp4.format.duration) - 5) < 0.2, mp4.format.duration);
    const gif = await ffprobe(path.join(t.filesDir, 'progress.gif'));
    assert.equal(gif.streams[0]?.codec_name, 'gif');
    assert.equal((await ffprobe(path.join(t.filesDir, 'progress.jpg'))).streams[0]?.codec_name, 'mjpeg');
  });

  it('a media that ends in Error keeps the progress it got to: 100 is for Finished only', async () => {
    const added = (await t.call('json', {
      action: 'AddMedia',
      source: `file://${clip}`,
      format: [
        { output: 'thumbnail', time: '1', destination: `file://${path.join(t.filesDir, 'err.jpg')}` },
        { output: 'mp4', start: '100', destination: `file://${path.join(t.filesDir, 'err.mp4')}` },
      ],
    })) as { MediaID: string };
    const samples = await sampleUntilFinal(t, added.MediaID, 120);
    const final = samples.at(-1)!;
    assert.equal(final.status, 'Error', JSON.stringify(final));
    assert.ok(final.progress > 0 && final.progress < 100, JSON.stringify(final));
    assert.equal(final.timeLeft, 0);
    for (const [i, s] of samples.entries()) if (i > 0) assert.ok(s.progress >= samples[i - 1]!.progress, JSON.stringify(samples));
    assert.deepEqual(final.tasks.map((x) => x.status), ['Finished', 'Error']);
  });

  it('a media with one task reads exactly like its task while it encodes', async () => {
    const added = (await t.call('json', {
      action: 'AddMedia',
      source: `file://${clip}`,
      format: { output: 'webm', size: '320x240', destination: `file://${path.join(t.filesDir, 'one.webm')}` },
    })) as { MediaID: string };
    const samples = await sampleUntilFinal(t, added.MediaID, 120);
    assert.equal(samples.at(-1)!.status, 'Finished');
    const encoding = samples.filter((s) => s.status === 'Processing');
    assert.ok(encoding.length > 0, JSON.stringify(samples));
    // (A task is Finished a moment before its media.)
    for (const s of samples) if (s.tasks[0]!.status !== 'Finished') assert.equal(s.progress, s.tasks[0]!.progress, JSON.stringify(s));
    // The current step of the media (its encode) is the task's current step.
    const compared = encoding.filter((s) => s.tasks[0]!.status === 'Processing' && s.tasks[0]!.progressCurrent > 0);
    for (const s of compared) assert.equal(s.progressCurrent, s.tasks[0]!.progressCurrent, JSON.stringify(s));
    const webm = await ffprobe(path.join(t.filesDir, 'one.webm'));
    assert.equal(webm.streams.find((x) => x.codec_type === 'video')?.codec_name, 'vp9');
  });
});
