// Issue 17: the subsample layout of Common Encryption, and the pssh boxes, byte for byte where
// the specifications fix them (ISO/IEC 23001-7; W3C "cenc" initData; PlayReady header 4.0).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nalSubsamples } from '../src/pipeline/drm/cenc.ts';
import { playReadyHeader, playReadyKid, psshBase64 } from '../src/pipeline/drm/pssh.ts';

function nal(type: number, bodyBytes: number): Buffer {
  const unit = Buffer.concat([Buffer.from([type]), Buffer.alloc(bodyBytes, 0xab)]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(unit.length);
  return Buffer.concat([length, unit]);
}

test('H.264 subsamples: parameter sets and SEI clear, slices protected after their header in whole AES blocks', () => {
  const sample = Buffer.concat([nal(0x67, 20), nal(0x68, 4), nal(0x06, 30), nal(0x65, 100), nal(0x41, 15)]);
  // SPS 4+21, PPS 4+5, SEI 4+31, IDR slice 4+1+(100 % 16 = 4) clear then 96 protected; the last slice (15 bytes, under a block) stays clear.
  assert.deepEqual(nalSubsamples(sample, 4, 1), [{ clear: 25 + 9 + 35 + 9, protect: 96 }, { clear: 4 + 16, protect: 0 }]);
  const total = nalSubsamples(sample, 4, 1).reduce((n, p) => n + p.clear + p.protect, 0);
  assert.equal(total, sample.length, 'the ranges cover the sample exactly');
});

test('clear runs longer than 65535 bytes are split, as senc stores clear counts in 16 bits', () => {
  const sample = Buffer.concat([nal(0x06, 70_000), nal(0x65, 32)]);
  const parts = nalSubsamples(sample, 4, 1);
  assert.deepEqual(parts, [{ clear: 0xffff, protect: 0 }, { clear: 4 + 70_001 + 4 + 1 - 0xffff, protect: 32 }]);
});

test('a NAL unit running past its sample is refused rather than encrypted wrongly', () => {
  const broken = nal(0x65, 40).subarray(0, 30);
  assert.throws(() => nalSubsamples(broken, 4, 1), /NAL unit past its end/);
});

test('pssh: W3C common lists the key ids (version 1), Widevine carries them in its protobuf, PlayReady in a WRMHEADER', () => {
  const kid = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
  const common = Buffer.from(psshBase64('clearkey', [kid]), 'base64');
  assert.equal(common.toString('hex'), `00000034${Buffer.from('pssh').toString('hex')}01000000${'1077efecc0b24d02ace33c1e52e2fb4b'}00000001${kid.toString('hex')}00000000`);
  const widevine = Buffer.from(psshBase64('widevine', [kid]), 'base64');
  assert.equal(widevine.subarray(12, 28).toString('hex'), 'edef8ba979d64acea3c827dcd51d21ed');
  assert.equal(widevine.subarray(32).toString('hex'), `08011210${kid.toString('hex')}`);
  // PlayReady's GUID byte order: the first three fields little-endian.
  assert.equal(Buffer.from(playReadyKid(kid), 'base64').toString('hex'), '67452301ab89efcd0123456789abcdef');
  assert.match(playReadyHeader([kid]), /version="4\.0\.0\.0".*<KID>Z0UjAauJ780BI0VniavN7w==<\/KID>/);
  assert.match(playReadyHeader([kid, kid]), /version="4\.3\.0\.0".*<KIDS><KID ALGID="AESCTR" VALUE=/);
});
