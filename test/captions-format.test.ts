/**
 * closed_captions as read from a format (domain/captions.ts) and caption text as read into cues
 * (domain/caption-cues.ts): what is refused and in which words, the line a bad file fails on, and
 * how cues move and are cut into HLS segments.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FieldMap } from '../src/domain/fields.ts';
import { parseFormat } from '../src/domain/format.ts';
import { CaptionParseError, parseCaptionText, segmentCues, shiftCues, writeSrt, writeTtml, writeVtt } from '../src/domain/caption-cues.ts';
import { parseTtml } from '../src/domain/caption-ttml.ts';
import { sidecarFileNames } from '../src/domain/captions.ts';
import { sidecarDestinations } from '../src/domain/destinations.ts';

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
    assert.equal(spec({ output: 'mp4', closed_captions: { source: 'https://x.example/a.dfxp' } }).captions[0].source, 'https://x.example/a.dfxp', 'TTML/DFXP is read');
    assert.match(error({ output: 'mp4', closed_captions: { source: 'https://x.example/a.mp4' } }), /must be an SRT, WebVTT, SCC or TTML\/DFXP caption file/);
    assert.match(error({ output: 'mp4', closed_captions: { source: 'javascript:alert(1)' } }), /must be an http\(s\), ftp, sftp, s3 or file URL/);
    assert.match(error({ output: 'mp4', closed_captions: { language: 'en' } }), /^closed_captions: source is missing/);
    assert.deepEqual(spec({ output: 'mp4', closed_captions: { extract: 'yes', language: 'en' } }).captions.map((c: any) => [c.source, c.sidecar]), [[null, null]], 'extract yes: the source\'s own captions as a track');
    assert.match(error({ output: 'mp4', closed_captions: { extract: 'stl' } }), /extract "stl" is not yes, no, or a sidecar format: srt, vtt, scc or dfxp/);
    assert.match(error({ output: 'mp4', closed_captions: { source: 'https://x.example/a.srt', language: 'xx' } }), /language "xx" is not a language code/);
    assert.match(error({ output: 'mp4', closed_captions: { source: 'https://x.example/a.srt', copy: 'yes' } }), /copy is a block of its own/);
    assert.deepEqual([spec({ output: 'mp4', closed_captions: { copy: 'no' } }).embeddedCaptions, spec({ output: 'mp4' }).embeddedCaptions], ['drop', null]);
    assert.match(error({ output: 'mp4', closed_captions: [{ source: 'https://x.example/a.srt', default: 'yes' }, { source: 'https://x.example/b.srt', default: 'yes' }] }), /default is yes for more than one track/);
    assert.match(error({ output: 'mp4', closed_captions: { source: 'https://x.example/a.srt', time_offset: 'soon' } }), /^closed_captions: time_offset "soon" is not a number of seconds/);
    assert.match(error({ output: 'advanced_hls', pack_files: 'yes', stream: { size: '0x360' }, closed_captions: { source: 'https://x.example/a.srt' } }), /closed_captions cannot be packed yet/);
  });
});

describe('caption sidecars (extract srt|vtt|scc|dfxp)', () => {
  test('each extract value is a sidecar of that format, from source or from the video; none is a track', () => {
    const s = spec({
      output: 'mpegts',
      closed_captions: [
        { extract: 'srt' }, { extract: 'scc' }, { extract: 'webvtt', language: 'fr' },
        { source: 'https://x.example/a.scc', extract: 'dfxp' }, { source: 'https://x.example/b.srt', extract: 'srt', time_offset: '1' },
      ],
    });
    assert.deepEqual(s.captions.map((c: any) => [c.source, c.sidecar, c.isDefault]), [
      [null, 'srt', false], [null, 'scc', false], [null, 'vtt', false], ['https://x.example/a.scc', 'dfxp', false], ['https://x.example/b.srt', 'srt', false],
    ], 'mpegts carries no subtitles, but sidecars go beside it');
    assert.deepEqual(sidecarFileNames(s.captions), ['closed_captions.srt', 'closed_captions.scc', 'closed_captions.vtt', 'closed_captions.dfxp', 'closed_captions_2.srt']);
    assert.match(error({ output: 'mp4', closed_captions: { source: 'https://x.example/a.srt', extract: 'scc' } }), /extract scc writes the source video's own CEA-608 captions; a caption file cannot become SCC/);
    assert.match(error({ output: 'mp4', closed_captions: { extract: 'srt', burn: 'yes' } }), /extract srt makes a sidecar file, which has no burn/);
    assert.match(error({ output: 'mp4', closed_captions: { extract: 'vtt', mux_type: 'mov_text', label: 'x' } }), /which has no mux_type, label;/);
    assert.match(error({ output: 'mp4', closed_captions: { source: 'https://x.example/a.srt', mux_type: 'sidecar' } }), /mux_type sidecar: a sidecar file is asked for with extract srt, vtt, scc or dfxp/);
  });

  test('beside the main file at each destination, named after it', () => {
    const files = ['closed_captions.srt', 'closed_captions_2.srt', 'gray.mp4'];
    assert.deepEqual(sidecarDestinations('mp4', files, 's3://b/out/video.mp4?x=1').map((d) => [d.index, d.url]), [[0, 's3://b/out/video.srt?x=1'], [1, 's3://b/out/video_2.srt?x=1']]);
    assert.deepEqual(sidecarDestinations('mp4', files, 'ftp://h/out/').map((d) => d.url), ['ftp://h/out/gray.srt', 'ftp://h/out/gray_2.srt']);
    const hls = ['stream_0/index.m3u8', 'closed_captions.vtt', 'master.m3u8'];
    assert.deepEqual(sidecarDestinations('advanced_hls', hls, 'https://h/hls/video.m3u8').map((d) => d.url), ['https://h/hls/video.vtt']);
    assert.deepEqual(sidecarDestinations('mp4', ['gray.mp4'], 'https://h/v.mp4'), []);
  });
});

describe('TTML/DFXP', () => {
  const ttml = (body: string, params = ''): string => `<?xml version="1.0" encoding="UTF-8"?>\n<tt xmlns="http://www.w3.org/ns/ttml" xmlns:ttp="http://www.w3.org/ns/ttml#parameter" xmlns:tts="http://www.w3.org/ns/ttml#styling" ${params}>\n<head><styling><style xml:id="s1" tts:color="white"/></styling></head>\n<body>\n${body}\n</body>\n</tt>\n`;
  const ttmlError = (text: string): { line: number; message: string } => {
    try {
      parseTtml(text);
    } catch (err) {
      assert.ok(err instanceof CaptionParseError, String(err));
      return { line: err.line, message: err.message };
    }
    return assert.fail('parsed');
  };

  test('clock times, frames, ticks and offsets; nested spans, line breaks and entities as text', () => {
    const cues = parseTtml(ttml([
      '<div begin="1s">',
      '  <p begin="00:00:00.500" end="00:00:01:12">Hello &amp; <span tts:fontStyle="italic">good <span>day</span></span><br/>  second   line &#233;</p>',
      '  <p begin="40f" dur="25f">a &lt;b&gt;</p>',
      '  <p begin="3000000t" end="4s">ticks</p>',
      '</div>',
      '<div><p begin="10.5s" end="11500ms">after</p><p><span begin="20s" end="21s">one</span> <span begin="21s" end="22.5s">two</span></p></div>',
    ].join('\n'), 'ttp:frameRate="25" ttp:tickRate="1000000"'));
    assert.deepEqual(cues, [
      { start: 1.5, end: 1 + 1 + 12 / 25, text: 'Hello &amp; good day\nsecond line \u00e9' },
      { start: 1 + 40 / 25, end: 1 + 40 / 25 + 1, text: 'a &lt;b>' },
      { start: 4, end: 5, text: 'ticks' },
      { start: 10.5, end: 11.5, text: 'after' },
      { start: 20, end: 21, text: 'one' },
      { start: 21, end: 22.5, text: 'two' },
    ]);
    // EBU-TT writes every element with a prefix; NTSC rates come as a multiplier.
    const prefixed = parseTtml('<tt:tt xmlns:tt="http://www.w3.org/ns/ttml" xmlns:ttp="http://www.w3.org/ns/ttml#parameter" ttp:frameRate="30" ttp:frameRateMultiplier="1000 1001"><tt:body><tt:div><tt:p begin="00:00:01:15" end="00:00:02:00">x</tt:p></tt:div></tt:body></tt:tt>');
    assert.equal(prefixed.length, 1);
    assert.ok(Math.abs(prefixed[0]!.start - (1 + 15 / (30000 / 1001))) < 1e-9);
  });

  test('written back as DFXP and SRT, the same cues come out', () => {
    const cues = [{ start: 0.5, end: 1.25, text: 'a &amp; b\n<i>c</i> &lt; d' }, { start: 2, end: 3, text: 'e' }];
    assert.deepEqual(parseTtml(writeTtml(cues, 'en')), [{ start: 0.5, end: 1.25, text: 'a &amp; b\nc &lt; d' }, cues[1]]);
    assert.deepEqual(parseCaptionText(writeSrt(cues), 'srt'), [{ start: 0.5, end: 1.25, text: 'a & b\n<i>c</i> < d' }, cues[1]]);
  });

  test('a file that does not parse: the line and the element', () => {
    const bad = ttmlError(ttml('<div>\n<p begin="00:00:01.000" end="00:00:02.000">ok</p>\n<p begin="1.5x" end="2s">bad</p>\n</div>'));
    assert.equal(bad.line, 7);
    assert.match(bad.message, /^line 7: <p begin="1\.5x">: not a TTML time/);
    assert.match(ttmlError(ttml('<div>\n<p begin="1s">no end</p></div>')).message, /^line 6: <p> has no end/);
    assert.match(ttmlError(ttml('<div><p begin="3s" end="2s">x</p></div>')).message, /ends before it begins/);
    assert.match(ttmlError('<?xml version="1.0"?>\n<tt><body><div><p begin="1s" end="2s">x</div></body></tt>').message, /^line 2: not well-formed XML/);
    assert.match(ttmlError('<?xml version="1.0"?>\n<!DOCTYPE tt [<!ENTITY a "aaaa">]>\n<tt/>').message, /^line 2: <!DOCTYPE> is not allowed/);
    assert.match(ttmlError('<html><body/></html>').message, /the root element must be <tt>, found <html>/);
    assert.match(ttmlError(ttml('<div></div>')).message, /holds no timed <p>/);
    assert.match(ttmlError(ttml(`${'<div>'.repeat(80)}<p begin="1s" end="2s">x</p>${'</div>'.repeat(80)}`)).message, /nested more than 64 deep/);
    assert.match(ttmlError(ttml('<div><p begin="1s" end="2s">x</p></div>', 'ttp:timeBase="clock"')).message, /wall-clock times/);
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
