/**
 * Issue 18: a media's stored options are read in one place (domain/media-options.ts), and the
 * final statuses are spelled in one place (domain/status.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mediaOptions } from '../src/domain/media-options.ts';
import { FINAL_MEDIA_STATUSES, FINAL_TASK_STATUSES, MediaStatus, TaskStatus, isFinalMedia, isFinalTask } from '../src/domain/status.ts';
import { MEDIA_TRANSITIONS } from '../src/domain/lifecycle.ts';

test('mediaOptions – the stored JSON object; nothing stored or unreadable asks for nothing', () => {
  assert.deepEqual(mediaOptions('{"priority":"5","notify":"https://example.com/n"}'), { priority: '5', notify: 'https://example.com/n' });
  for (const stored of [null, undefined, '', 'not json', '[1,2]', '"text"', 'null', '7']) assert.deepEqual(mediaOptions(stored), {}, String(stored));
});

test('final statuses – a media ends in Finished, Error or Stopped, a task in Finished or Error, and an ended media only restarts', () => {
  assert.deepEqual(Object.values(MediaStatus).filter(isFinalMedia), ['Finished', 'Error', 'Stopped']);
  assert.deepEqual(Object.values(TaskStatus).filter(isFinalTask), ['Finished', 'Error']);
  for (const s of FINAL_MEDIA_STATUSES) assert.deepEqual(MEDIA_TRANSITIONS[s], [MediaStatus.New], s);
  assert.deepEqual([...FINAL_TASK_STATUSES], ['Finished', 'Error']);
});
