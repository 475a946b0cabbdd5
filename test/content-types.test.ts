// Issue 18: one content-type table, used by S3 and Azure uploads and by /download.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { contentTypeOf } from '../src/domain/content-types.ts';
import type { AudioContainer, VideoContainer } from '../src/domain/format/container.ts';
import type { ImageFormat } from '../src/domain/format/still.ts';
import { DASH_MANIFEST } from '../src/domain/format/dash.ts';
import { containerExtension } from '../src/pipeline/plan/codecs.ts';
import { HLS_MASTER, HLS_MEDIA_PLAYLIST } from '../src/pipeline/plan/hls-master.ts';
import { HLS_IFRAME_PLAYLIST } from '../src/pipeline/plan/hls-iframes.ts';

// Typed over every container and picture format: a new one does not compile until it is here.
const CONTAINERS: Record<VideoContainer | AudioContainer, string> = {
  mp4: 'video/mp4',
  webm: 'video/webm',
  mov: 'video/quicktime',
  mkv: 'video/x-matroska',
  mpegts: 'video/mp2t',
  mp3: 'audio/mpeg',
  m4a: 'audio/mp4',
  ogg: 'audio/ogg',
  wav: 'audio/wav',
  flac: 'audio/flac',
};
const PICTURES: Record<ImageFormat, string> = { jpg: 'image/jpeg', png: 'image/png', gif: 'image/gif', webp: 'image/webp' };

test('contentTypeOf – every file an output writes has the type players and browsers expect', () => {
  for (const [container, type] of Object.entries(CONTAINERS) as [VideoContainer | AudioContainer, string][]) {
    assert.equal(contentTypeOf(`out/clip.${containerExtension(container)}`), type, container);
  }
  for (const [format, type] of Object.entries(PICTURES)) assert.equal(contentTypeOf(`thumbs/clip_0001.${format}`), type, format);
  const segmented: Record<string, string> = {
    [HLS_MASTER]: 'application/vnd.apple.mpegurl',
    [`stream_0/${HLS_MEDIA_PLAYLIST}`]: 'application/vnd.apple.mpegurl',
    [`stream_0/${HLS_IFRAME_PLAYLIST}`]: 'application/vnd.apple.mpegurl',
    'stream_0/seg_00001.ts': 'video/mp2t',
    'stream_0/seg_00001.m4s': 'video/iso.segment',
    'stream_0/init.mp4': 'video/mp4',
    [DASH_MANIFEST]: 'application/dash+xml',
    'video_0/init.m4s': 'video/iso.segment',
    'clip.key': 'application/octet-stream',
    'storyboard.vtt': 'text/vtt',
    'captions.srt': 'application/x-subrip',
    'closed_captions.dfxp': 'application/ttml+xml',
    'closed_captions.scc': 'text/x-scc',
    'hls.tar': 'application/x-tar',
    'hls.zip': 'application/zip',
  };
  for (const [file, type] of Object.entries(segmented)) assert.equal(contentTypeOf(file), type, file);
});

test('contentTypeOf – the extension decides whatever its case; a folder\'s dot, a bare name or an unknown extension gives none', () => {
  assert.equal(contentTypeOf('s3-key/Out/CLIP.MP4'), 'video/mp4');
  assert.equal(contentTypeOf('HLS/Master.M3U8'), 'application/vnd.apple.mpegurl');
  assert.equal(contentTypeOf('v1.2/manifest'), null);
  assert.equal(contentTypeOf('.m3u8'), null);
  assert.equal(contentTypeOf('clip.mxf'), null);
  assert.equal(contentTypeOf('clip'), null);
});
