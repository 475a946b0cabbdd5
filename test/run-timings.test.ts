import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { USER, asList, ffprobe, makeClip, startTestServer, untilFinal } from './helpers.ts';
import { RUN_PHASES, RunTimings, parseTimeline, parseTimings } from '../src/pipeline/media-run/timings.ts';

test('each media run writes one Timings: line with its phases, FFmpeg\'s own wall time, and the store queries it made', async () => {
  const t = await startTestServer();
  try {
    const source = await makeClip(path.join(t.filesDir, 'clip.mp4'), { seconds: 2 });
    const out = path.join(t.filesDir, 'out.mp4');
    const added = await t.call('json', {
      action: 'AddMedia',
      source: `file://${source}`,
      format: { output: 'mp4', size: '160x120', bitrate: '300k', destination: `file://${out}` },
    }, USER);
    const { final } = await untilFinal(t, added.MediaID!);
    assert.equal(final.status, 'Finished', final.description);
    const s = await t.call('json', { action: 'GetStatus', mediaid: added.MediaID, extended: 'yes', include_task_status: 'yes' });
    const format = asList(s.job!.format)[0]!;
    const lines = asList(format.task_status!.state).map((l) => l.message);
    const timingLines = lines.filter((l) => l.startsWith('Timings:'));
    assert.equal(timingLines.length, 1, lines.join('\n'));
    const timings = parseTimings(timingLines[0]!)!;
    for (const phase of ['queue wait', 'fetch/probe', 'encoder slot', 'plan', 'encode', 'post-encode', 'deliver']) {
      assert.ok(timings.has(phase), `${phase} missing from ${timingLines[0]}`);
      assert.ok(timings.get(phase)! >= 0);
    }
    assert.deepEqual([...timings.keys()].filter((k) => k !== 'fixed cost' && k !== 'store'), RUN_PHASES.filter((p) => timings.has(p)), 'phases in the order they run');
    // FFmpeg's own wall time is the encode phase: the task's "Encoded … in X s" line says it too.
    const encoded = lines.map((l) => /^Encoded .* in (\d+\.\d+) s/.exec(l)).find(Boolean);
    assert.ok(encoded, lines.join('\n'));
    const ffmpegWall = Number(encoded[1]);
    assert.ok(ffmpegWall > 0 && ffmpegWall <= timings.get('encode')! + 0.01, `FFmpeg ${ffmpegWall} s, encode phase ${timings.get('encode')} s`);
    const others = [...timings].filter(([k]) => !['encode', 'fixed cost', 'store'].includes(k)).reduce((a, [, v]) => a + v, 0);
    assert.ok(Math.abs(timings.get('fixed cost')! - others) < 0.01, `fixed cost ${timings.get('fixed cost')} against the phases' ${others}`);
    assert.match(timingLines[0]!, /store \d+\.\d+ s \([1-9]\d* reads, [1-9]\d* writes, within the phases\)/);
    // The timeline: the points this run reached, in the order it reached them (a file:// source is read in place: no download).
    const timeline = parseTimeline(timingLines[0]!)!;
    assert.deepEqual([...timeline.keys()], ['source probed', 'encode started', 'encode ended', 'delivery started', 'delivered'], timingLines[0]);
    const at = [...timeline.values()].map((p) => p.at);
    assert.deepEqual(at, [...at].sort((a, b) => a - b), 'in order');
    assert.ok(timeline.get('encode ended')!.at - timeline.get('encode started')!.at >= ffmpegWall - 0.05, `FFmpeg's ${ffmpegWall} s lie between its points: ${timingLines[0]}`);
    // The timings came with a real output, delivered where asked.
    const probe = await ffprobe(out);
    const video = probe.streams.find((st) => st.codec_type === 'video')!;
    assert.equal(`${video.width}x${video.height}`, '160x120');
  } finally {
    await t.close();
  }
});

test('the quality report\'s duration difference of an MP4 is the delivered file\'s own duration (as ffprobe reads it) less the source\'s', async () => {
  const t = await startTestServer({ ENCODERY_QUALITY_REPORT: 'on' });
  try {
    // A trimmed part: the difference is against the part's 2.2 s, not the source's 3 s.
    const source = await makeClip(path.join(t.filesDir, 'uneven.mp4'), { seconds: 3 });
    const out = path.join(t.filesDir, 'uneven-out.mp4');
    const added = await t.call('json', {
      action: 'AddMedia',
      source: `file://${source}`,
      format: { output: 'mp4', size: '160x120', start: '0.4', duration: '2.2', destination: `file://${out}` },
    }, USER);
    const { final } = await untilFinal(t, added.MediaID!);
    assert.equal(final.status, 'Finished', final.description);
    const s = await t.call('json', { action: 'GetStatus', mediaid: added.MediaID, extended: 'yes' });
    const q = asList(s.job!.format)[0]!.quality_report!;
    assert.match(String(q.duration_method), /MP4 header \(mvhd\)/);
    const delivered = Number((await ffprobe(out)).format.duration);
    assert.equal(Number(q.duration_difference), Math.round((delivered - 2.2) * 1000) / 1000, `reported ${q.duration_difference}, delivered file ${delivered} s`);
  } finally {
    await t.close();
  }
});

test('the timeline keeps a point\'s first time, or its latest with a count, and reads back apart from the phases', async () => {
  const t = new RunTimings();
  t.add('encode', 1.5);
  t.mark('encode started');
  t.markEach('segment sent while encoding');
  await new Promise((r) => setTimeout(r, 30));
  t.mark('encode started');
  t.markEach('segment sent while encoding');
  t.markEach('segment sent while encoding');
  t.markCount('segments unsent at encode end', 0);
  const line = t.describe();
  assert.deepEqual([...parseTimings(line)!.keys()], ['encode', 'fixed cost', 'store'], line);
  const timeline = parseTimeline(line)!;
  assert.deepEqual([...timeline.keys()], ['encode started', 'segment sent while encoding', 'segments unsent at encode end'], line);
  assert.equal(timeline.get('segments unsent at encode end')!.count, 0, 'a count of none is shown too');
  assert.equal(timeline.get('encode started')!.count, 1);
  assert.equal(timeline.get('segment sent while encoding')!.count, 3);
  assert.ok(timeline.get('segment sent while encoding')!.at - timeline.get('encode started')!.at >= 0.02, line);
  assert.equal(parseTimeline(new RunTimings().describe())!.size, 0, 'no points, no timeline');
});
