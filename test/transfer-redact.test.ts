import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkUrl, redactUrl, TransferError } from '../src/transfer/index.ts';
import { redactText } from '../src/transfer/redact.ts';

test('redactUrl masks userinfo and secret query values, keeping the rest as written', () => {
  assert.equal(redactUrl('http://KEY:SEC%2Fret@bucket.s3.amazonaws.com/a.mp4?acl=public-read'), 'http://***:***@bucket.s3.amazonaws.com/a.mp4?acl=public-read');
  assert.equal(redactUrl('https://ACCOUNTKEY@acct.blob.core.windows.net/c/v.mp4'), 'https://***@acct.blob.core.windows.net/c/v.mp4');
  assert.equal(
    redactUrl('https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4&X-Amz-Credential=AK%2F1&X-Amz-Signature=abc#t'),
    'https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4&X-Amz-Credential=***&X-Amz-Signature=***#t',
  );
  assert.equal(
    redactUrl('https://a.blob.core.windows.net/c/p?sv=2020&sig=Zm9v%3D&se=x'),
    'https://a.blob.core.windows.net/c/p?sv=2020&sig=***&se=x',
  );
  assert.equal(redactUrl('http://s1.clouddrive.com/v1/x?auth-token=T&Token=U&key=K&password=P&secret=S'), 'http://s1.clouddrive.com/v1/x?auth-token=***&Token=***&key=***&password=***&secret=***');
  assert.equal(redactUrl('ftp://u:p@host/x?passive=yes'), 'ftp://***:***@host/x?passive=yes');
  assert.equal(redactUrl('https://Key:Secret:Api1.execute-api.us-east-1.amazonaws.com/prod/'), 'https://***:***:Api1.execute-api.us-east-1.amazonaws.com/prod/');
  assert.equal(redactUrl('http://host:8080/plain?keyframe=2'), 'http://host:8080/plain?keyframe=2');
});

test('redactUrl tolerates input that is not a URL', () => {
  assert.equal(redactUrl(''), '');
  assert.equal(redactUrl('not a url?token=abc&x=1'), 'not a url?token=***&x=1');
  assert.equal(redactUrl('http://us er:pw@bad host/%zz?sig=%zz'), 'http://***:***@bad host/%zz?sig=***');
  assert.equal(redactUrl('mailto:ops@example.com'), 'mailto:ops@example.com');
});

test('checkUrl accepts file and http(s), names unsupported schemes, never echoes secrets', () => {
  assert.equal(checkUrl('http://example.com/v.mp4', 'source'), null);
  assert.equal(checkUrl('https://u:p@example.com/v.mp4?sig=1', 'destination'), null);
  assert.equal(checkUrl('file:///media/in/v.mp4', 'source'), null);
  assert.equal(checkUrl('ftp://user:pw@example.com/v.mp4', 'source'), null);
  assert.equal(checkUrl('fasp://user:pw@example.com/v.mp4', 'source'), 'Unsupported URL scheme "fasp:" in source "fasp://***:***@example.com/v.mp4"');
  assert.equal(checkUrl('s3://bucket/key', 'destination'), null);
  assert.equal(checkUrl('sftp://a:b@h/x', 'destination'), null);
  assert.equal(checkUrl('not a url token=x', 'source'), 'Invalid source URL "not a url token=x"');
  assert.match(checkUrl('file://otherhost/x.mp4', 'source')!, /must not name a host/);
  assert.match(checkUrl('file:///media/out/', 'destination')!, /must name a file/);
  const bad = checkUrl('gopher://u:hunter2@h/?secret=zzz', 'source')!;
  assert.doesNotMatch(bad, /hunter2|zzz/);
});

test('causes kept on a TransferError are redacted too (loggers print them)', () => {
  const raw = Object.assign(new Error('bad url http://u:pw@h/x?sig=SIG in request'), { code: 'E_X' });
  const err = new TransferError('Download error: unexpected failure (E_X)', { cause: raw });
  const cause = err.cause as Error & { code: string };
  assert.equal(cause.message, 'bad url http://***:***@h/x?sig=*** in request');
  assert.equal(cause.code, 'E_X');
  assert.doesNotMatch(cause.stack ?? '', /pw|SIG/);
  assert.equal(redactText('see https://k@a.blob.core.windows.net/c and ftp://u:p@h/'), 'see https://***@a.blob.core.windows.net/c and ftp://***:***@h/');
});
