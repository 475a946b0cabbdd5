import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseFormat, type OutputSpec } from '../src/domain/format.ts';
import type { FieldMap } from '../src/domain/fields.ts';
import {
  Monotonic, NOT_DONE_CEILING, encodeLeft, expectedBytes, groupLeft, groupWork, measuredPace, paceFrom, taskProgress, untilStart, weightedProgress,
  type GroupState,
} from '../src/domain/progress-model.ts';
import { PHASE_WEIGHTS } from '../src/domain/status.ts';

function spec(fields: FieldMap): OutputSpec {
  const parsed = parseFormat(fields);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.spec;
}

const HD = { video: { width: 1920, height: 1080, fps: 30 } };
const work = (fields: FieldMap, seconds = 60) => groupWork([spec(fields)], HD, seconds).total;

describe('expected work of an FFmpeg process', () => {
  it('grows with the encoded length, the output pixels and the codec cost', () => {
    assert.ok(work({ output: 'mp4', size: '1920x1080' }) > 3 * work({ output: 'mp4', size: '640x360' }));
    assert.ok(work({ output: 'mp4', size: '640x360' }, 60) > 1.9 * work({ output: 'mp4', size: '640x360' }, 30));
    assert.ok(work({ output: 'mp4', size: '1280x720', video_codec: 'libx265' }) > 3 * work({ output: 'mp4', size: '1280x720' }));
    assert.ok(work({ output: 'mp4', size: '1280x720', turbo: 'yes' }) < work({ output: 'mp4', size: '1280x720' }));
    assert.ok(work({ output: 'mp4', size: '1280x720', two_pass: 'yes' }) > 1.3 * work({ output: 'mp4', size: '1280x720' }));
  });

  it('a still taken at one moment costs a start-up whatever the length; a GIF costs by its size and frame rate', () => {
    assert.equal(work({ output: 'thumbnail', time: '5' }, 10), work({ output: 'thumbnail', time: '5' }, 600));
    assert.ok(work({ output: 'thumbnail', time: '5' }) < work({ output: 'mp4', size: '320x180' }) / 20);
    assert.ok(work({ output: 'gif', size: '960x540' }) > 1.5 * work({ output: 'gif', size: '480x270' }));
    assert.ok(work({ output: 'gif', size: '480x270', interval: '5' }) > work({ output: 'gif', size: '480x270' }));
  });

  it('a shared process decodes once: less than its formats alone, and its shares add up to it', () => {
    const ladder = spec({ output: 'advanced_hls', stream: [{ size: '1280x720', bitrate: '2800k' }, { size: '640x360', bitrate: '800k' }] });
    const mp4 = spec({ output: 'mp4', size: '1920x1080' });
    const shared = groupWork([ladder, mp4], HD, 60);
    const alone = groupWork([ladder], HD, 60).total + groupWork([mp4], HD, 60).total;
    assert.ok(shared.total < alone);
    assert.ok(Math.abs(shared.shares.reduce((a, b) => a + b, 0) - shared.total) < 1e-9);
    assert.ok(shared.shares[1]! > shared.shares[0]!, 'the 1080p MP4 is more work than a 720p+360p ladder');
  });

  it('expects the bytes a bit rate asks for, and something for constant quality', () => {
    const fixed = expectedBytes(spec({ output: 'mp4', size: '640x360', bitrate: '1000k', audio_bitrate: '128k' }), HD, 10);
    assert.equal(fixed, ((1_000_000 + 128_000) * 10) / 8);
    assert.ok(expectedBytes(spec({ output: 'mp4' }), HD, 10) > 1e6);
  });
});

describe('how far along', () => {
  it("a task's progress covers its download, encode and delivery by the phase weights", () => {
    assert.equal(taskProgress(0, 0, 0), 0);
    assert.equal(taskProgress(1, 0, 0), PHASE_WEIGHTS.download);
    assert.equal(taskProgress(1, 0.5, 0), PHASE_WEIGHTS.download + PHASE_WEIGHTS.encode / 2);
    assert.ok(Math.abs(taskProgress(1, 1, 1) - 1) < 1e-12);
    assert.equal(taskProgress(Number.NaN, 2, -1), PHASE_WEIGHTS.encode);
  });

  it("a media's progress is its tasks' weighted by work; one task reads as that task", () => {
    assert.equal(weightedProgress([{ weight: 7, progress: 0.42 }]), 0.42);
    assert.equal(weightedProgress([{ weight: 3, progress: 1 }, { weight: 1, progress: 0 }]), 0.75);
    assert.equal(weightedProgress([{ weight: 0, progress: 1 }, { weight: 0, progress: 0 }]), 0.5, 'no weights known yet: equal');
    assert.equal(weightedProgress([]), 0);
    const tasks = [{ weight: 10, progress: 0.9 }, { weight: 1, progress: 0.05 }, { weight: 2, progress: 0.05 }];
    const p = weightedProgress(tasks);
    assert.ok(p >= 0.05 && p <= 0.9);
  });

  it('a shown figure never goes back and stays below 100 until the run writes it', () => {
    const m = new Monotonic();
    assert.equal(m.offer(0.3), 0.3);
    assert.equal(m.offer(0.2), 0.3);
    assert.equal(m.offer(1), NOT_DONE_CEILING);
    assert.ok(NOT_DONE_CEILING * 100 < 99.95, 'rounds to 99.9 on the wire, never 100.0');
    assert.equal(new Monotonic(1).offer(1), 1, 'a status step may reach 100');
  });
});

describe('time left', () => {
  const g = (work: number, state: GroupState['state'], fraction = 0, elapsedSec = 0): GroupState => ({ work, state, fraction, elapsedSec });

  it('learns the pace from what ran, ignoring a process too young or too early to tell', () => {
    assert.equal(measuredPace([], 1.5), 1.5);
    assert.equal(measuredPace([g(10, 'done', 1, 20)], 1), 2);
    assert.equal(measuredPace([g(10, 'running', 0.5, 10)], 1), 2);
    assert.equal(measuredPace([g(10, 'running', 0.01, 30)], 1), 1, 'a GIF reports nothing until its palette is made');
    assert.equal(measuredPace([g(10, 'running', 0.5, 0.5)], 1), 1);
  });

  it('a waiting process takes its work at the pace; a running one counts down, trusting its own pace as it goes', () => {
    assert.equal(groupLeft(g(10, 'waiting'), 2), 20);
    assert.equal(groupLeft(g(10, 'done', 1, 5), 2), 0);
    // Silent (fraction 0): the expected time, less what it ran, down to a floor.
    assert.equal(groupLeft(g(10, 'running', 0, 5), 2), 15);
    assert.equal(groupLeft(g(10, 'running', 0, 50), 2), 1);
    // Past a quarter, its own pace alone: half done in 30 s, 30 s to go, whatever the model said.
    assert.equal(groupLeft(g(10, 'running', 0.5, 30), 1), 30);
    // A process silent for a while (a GIF's palette) is timed from its first report, not its start.
    assert.ok(Math.abs(groupLeft({ ...g(10, 'running', 0.6, 8), paceFrom: { elapsedSec: 6, fraction: 0.2 } }, 1) - 2) < 1e-9);
    // Early on, between the two.
    const early = groupLeft(g(10, 'running', 0.1, 4), 1);
    assert.ok(early > 9 * 0.6 && early < 36, String(early));
  });

  it('times a process from its report nearest before half its running time, never before its first', () => {
    const reports = [{ elapsedSec: 5, fraction: 0 }, { elapsedSec: 6, fraction: 0.01 }, { elapsedSec: 20, fraction: 0.2 }, { elapsedSec: 40, fraction: 0.5 }];
    assert.deepEqual(paceFrom(reports, 8), { elapsedSec: 6, fraction: 0.01 });
    assert.deepEqual(paceFrom(reports, 41), { elapsedSec: 20, fraction: 0.2 });
    assert.deepEqual(paceFrom(reports, 90), { elapsedSec: 40, fraction: 0.5 });
    assert.equal(paceFrom([{ elapsedSec: 3, fraction: 0 }], 10), null);
  });

  it('counts the thumbnail and GIF still waiting behind a ladder encode', () => {
    const groups = [g(100, 'running', 0.5, 50), g(1, 'waiting'), g(20, 'waiting')];
    const pace = measuredPace(groups, 1);
    assert.equal(pace, 1);
    assert.equal(encodeLeft(groups, pace), 50 + 1 + 20);
    assert.equal(untilStart(groups, 2, pace), 51);
    assert.equal(untilStart(groups, 0, pace), 0);
  });
});
