/**
 * closed_captions as read from a format (domain/captions.ts) and caption text as read into cues
 * (domain/caption-cues.ts): what is refused and in which words, the line a bad file fails on, and
 * how cues move and are cut into HLS segments.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FieldMap } from '../src/domain/fields.ts';
import { parseFormat } from '../src/domain/format.ts';
import { CaptionParseError, parseCaptionText, segmentCues, shiftCues, writeVtt } from '../src/domain/caption-cues.ts';

function spec(format: FieldMap): any {
  const r = parseFormat(format);
  if (!r.ok) assert.fail(r.error);
  return r.spec;
}

function error(format: FieldMap): string {
  const r = parseFormat(format);
  assert.equal(r.ok, false, 'refused');
  return r.ok ? '' : r.error;
}

function parseError(text: string, format: 'srt' | 'vtt'): { line: number; message: string } {
  try {
    parseCaptionText(text, format);
  } catch (err) {
    assert.ok(err instanceof CaptionParseError, String(err));
    return { line: err.line, message: err.message };
  }
  return assert.fail('parsed');
}

describe('closed_captions in a format', () => {
  test('tracks and burned captions, with their language as written and as ISO 639-2/B', () => {
    const s = spec({
      output: 'mkv',
      closed_captions: [
        { source: 'https://x.example/en.srt', language: 'en', label: 'English', time_offset: '-1.5' },
        { source: 'https://x.example/fr.vtt', language: 'fra', mux_type: 'ass', default: 'yes' },
        { source: 'https://x.example/de.scc', language: 'de', burn: 'yes' },
      ],
    });
    assert.deepEqual(s.captions.map((c: any) => [c.language, c.containerLanguage, c.label, c.timeOffset, c.codec, c.isDefault]), [
      ['en', 'eng', 'English', -1.5, null, false],
      ['fra', 'fre', null, 0, 'ass', true],
    ]);
    assert.deepEqual(s.editing.captions.map((c: any) => [c.source, c.mode]), [['https://x.example/de.scc', 'burn']]);
  });

  test('the first track is the default when none says; an HLS output keeps vtt_segment_duration', () => {
    const s = spec({ output: 'advanced_hls', stream: { size: '0x360' }, closed_captions: [{ source: 'file:///a.srt', vtt_segment_duration: '2.5' }, { source: 'file:///b.srt' }] });
    assert.deepEqual(s.captions.map((c: any) => [c.isDefault, c.segmentSeconds, c.language]), [[true, 2.5, 'und'], [false, null, 'und']]);
  });

  test('refusals name the field and what to do', () => {
    assert.match(error({ output: 'mpegts', closed_captions: { source: 'https://x.example/a.srt' } }), /^closed_captions: mpegts cannot carry text subtitles; burn them into the picture/);
    assert.equal(spec({ output: 'mpegts', closed_captions: { source: 'https://x.example/a.srt', burnin: 'yes' } }).editing.captions.length, 1);
    assert.match(error({ output: 'mp4', closed_captions: { source: 'https://x.example/a.srt', mux_type: 'srt' } }), /mp4 cannot carry srt subtitles; use mov_text/);
    assert.match(error({ output: 'mp4', closed_captions: { source: 'https://x.example/a.ttml' } }), /TTML\/DFXP captions cannot be read/);
    assert.match(error({ output: 'mp4', closed_captions: { source: 'https://x.example/a.mp4' } }), /must be an SRT, WebVTT or SCC caption file/);
    assert.match(error({ output: 'mp4', closed_captions: { source: 'javascript:alert(1)' } }), /must be an http\(s\), ftp, sftp, s3 or file URL/);
    assert.match(error({ output: 'mp4', closed_captions: { language: 'en' } }), /^closed_captions: source is missing/);
    assert.equal(spec({ output: 'mp4', closed_captions: { extract: 'srt', language: 'en' } }).captions[0].source, null, 'extract: the source\'s own captions');
    assert.match(error({ output: 'mp4', closed_captions: { extract: 'scc' } }), /extract "scc" is not yes, no, srt or vtt/);
    assert.match(error({ output: 'mp4', closed_captions: { source: 'https://x.example/a.srt', language: 'xx' } }), /language "xx" is not a language code/);
    assert.match(error({ output: 'mp4', closed_captions: { source: 'https://x.example/a.srt', copy: 'yes' } }), /copy is a block of its own/);
    assert.deepEqual([spec({ output: 'mp4', closed_captions: { copy: 'no' } }).embeddedCaptions, spec({ output: 'mp4' }).embeddedCaptions], ['drop', null]);
    assert.match(error({ output: 'mp4', closed_captions: [{ source: 'https://x.example/a.srt', default: 'yes' }, { source: 'https://x.example/b.srt', default: 'yes' }] }), /default is yes for more than one track/);
    assert.match(error({ output: 'mp4', closed_captions: { source: 'https://x.example/a.srt', time_offset: 'soon' } }), /^closed_captions: time_offset "soon" is not a number of seconds/);
    assert.match(error({ output: 'advanced_hls', pack_files: 'yes', stream: { size: '0x360' }, closed_captions: { source: 'https://x.example/a.srt' } }), /closed_captions cannot be packed yet/);
  });
});

describe('caption text', () => {
  test('SRT: counters optional, dot or comma milliseconds, several lines of text', () => {
    const cues = parseCaptionText('\uFEFF1\r\n00:00:01,000 --> 00:00:02,500\r\nHello\r\nthere\r\n\r\n00:01:00.25 --> 00:01:01,000 X:1\r\n<i>Second</i>\r\n', 'srt');
    assert.deepEqual(cues, [{ start: 1, end: 2.5, text: 'Hello\nthere' }, { start: 60.25, end: 61, text: '<i>Second</i>' }]);
  });

  test('SRT that does not parse: the line and what was found', () => {
    assert.deepEqual(parseError('1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:03,000 -> 00:00:04,000\nx\n', 'srt').line, 6);
    assert.match(parseError('1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:03,000 -> 00:00:04,000\nx\n', 'srt').message, /^line 6: expected a timing line/);
    assert.match(parseError('00:00:01,000 --> 00:00:0x,000\nx\n', 'srt').message, /^line 1: .* is not a valid time range/);
    assert.match(parseError('00:00:05,000 --> 00:00:04,000\nx\n', 'srt').message, /^line 1: the cue ends \(00:00:04,000\) before it starts/);
    assert.match(parseError('00:00:01,000 --> 00:00:02,000\nx\n00:00:03,000 --> 00:00:04,000\n', 'srt').message, /^line 3: a timing line inside a cue's text/);
    assert.match(parseError('\n\n', 'srt').message, /holds no cue/);
  });

  test('WebVTT through the W3C parser, its errors with their line', () => {
    assert.deepEqual(parseCaptionText('WEBVTT\n\n00:01.000 --> 00:02.000\nHi\n', 'vtt'), [{ start: 1, end: 2, text: 'Hi' }]);
    const bad = parseError('WEBVTT\n\n00:01.000 --> 00:02.000\nHi\n\n00:0x.000 --> 00:04.000\nBad\n', 'vtt');
    assert.equal(bad.line, 6);
    assert.equal(parseError('NOT VTT\n', 'vtt').line, 1);
  });

  test('cues move, are cut to the output, and are written back as WebVTT that parses to the same', () => {
    const cues = [{ start: 0.5, end: 1.5, text: 'a' }, { start: 2, end: 5, text: 'b' }, { start: 9, end: 10, text: 'c' }];
    assert.deepEqual(shiftCues(cues, -1, 3), [{ start: 0, end: 0.5, text: 'a' }, { start: 1, end: 3, text: 'b' }]);
    assert.deepEqual(parseCaptionText(writeVtt(cues), 'vtt'), cues);
    // HLS segments carry the timestamp map in the header, right under the signature (RFC 8216 3.5).
    assert.match(writeVtt(cues, ['X-TIMESTAMP-MAP=MPEGTS:126000,LOCAL:00:00:00.000']), /^WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:126000,LOCAL:00:00:00\.000\n\n00:00:00\.500 --> /);
    const segments = segmentCues(cues, 4, 10);
    assert.deepEqual(segments.map((s) => [s.start, s.duration, s.cues.map((c) => c.text).join('')]), [[0, 4, 'ab'], [4, 4, 'b'], [8, 2, 'c']]);
  });
});
