/** AddMedia reading from FTP and delivering to FTP and SFTP, one destination failing, through the API. */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { asList, ffprobe, makeClip, startTestServer, tempDir, untilFinal, USER, type TestServer } from './helpers.ts';
import { FTP_PASSWORD, FTP_USER, SSH_PASSWORD, SSH_USER, enc, sha256, startFtp, startSsh, type FtpServer, type SshServer } from './remote-servers.ts';

let t: TestServer;
let ftp: FtpServer;
let ssh: SshServer;
let work: string;

before(async () => {
  work = await tempDir();
  [t, ftp, ssh] = await Promise.all([startTestServer(), startFtp(), startSsh()]);
  await fs.mkdir(path.join(ftp.root, 'in'), { recursive: true });
  await makeClip(path.join(ftp.root, 'in', 'clip one.mp4'), { seconds: 1, size: '160x120' });
});

after(async () => {
  await Promise.all([t?.close(), ftp?.close(), ssh?.close()]);
  await fs.rm(work, { recursive: true, force: true });
});

test('FTP source → FTP and SFTP destinations plus one refused login: per-destination statuses, bytes delivered, no password shown', async () => {
  const ftpAuth = `${FTP_USER}:${enc(FTP_PASSWORD)}`;
  const sshAuth = `${SSH_USER}:${enc(SSH_PASSWORD)}`;
  const wrong = 'Not-The-Pass-42';
  const destinations = [
    `ftp://${ftpAuth}@127.0.0.1:${ftp.port}/out/?passive=yes`,
    `sftp://${sshAuth}@127.0.0.1:${ssh.port}/delivered/one/a.mp4`,
    `sftp://${SSH_USER}:${wrong}@127.0.0.1:${ssh.port}/never/b.mp4`,
  ];
  const added = await t.call('json', {
    action: 'AddMedia',
    source: `ftp://${ftpAuth}@127.0.0.1:${ftp.port}/in/clip%20one.mp4`,
    format: { output: 'mp4', size: '160x120', destination: destinations },
  });
  assert.equal(added.message, 'Added', JSON.stringify(added));
  const { final } = await untilFinal(t, added.MediaID as string);
  const format = asList(final.format)[0];
  assert.equal(format!.status, 'Finished', JSON.stringify(final));
  const statuses = asList(format!.destination_status);
  assert.equal(statuses.length, 3);
  assert.equal(statuses[0], 'Saved');
  assert.equal(statuses[1], 'Saved');
  assert.match(statuses[2]!, new RegExp(`^Error \\(.*the SFTP server refused the login for user ${SSH_USER}@127\\.0\\.0\\.1`));

  const [ftpFile, ...others] = await fs.readdir(path.join(ftp.root, 'out'));
  assert.equal(others.length, 0);
  const viaFtp = path.join(ftp.root, 'out', ftpFile!);
  const viaSftp = path.join(ssh.root, 'delivered', 'one', 'a.mp4');
  assert.equal(await sha256(viaFtp), await sha256(viaSftp));
  const probe = await ffprobe(viaSftp);
  assert.deepEqual(probe.streams.map((s) => [s.codec_name, s.width ?? null]), [['h264', 160], ['aac', null]]);
  await assert.rejects(fs.stat(path.join(ssh.root, 'never')), /ENOENT/);

  for (const format of ['json', 'xml'] as const) {
    const status = await t.raw(
      `${format}=${encodeURIComponent(
        format === 'json'
          ? JSON.stringify({ query: { userid: USER.id, userkey: USER.key, action: 'GetStatus', mediaid: added.MediaID, extended: 'yes', include_task_status: 'yes' } })
          : `<query><userid>${USER.id}</userid><userkey>${USER.key}</userkey><action>GetStatus</action><mediaid>${added.MediaID}</mediaid><extended>yes</extended><include_task_status>yes</include_task_status></query>`,
      )}`,
    );
    assert.match(status.text, /Saved to/, 'the task log is included');
    for (const secret of [FTP_PASSWORD, enc(FTP_PASSWORD), SSH_PASSWORD, enc(SSH_PASSWORD), wrong]) {
      assert.ok(!status.text.includes(secret), `${format} GetStatus shows a password`);
    }
    assert.match(status.text, /ftp:\/\/\*\*\*:\*\*\*@127\.0\.0\.1/);
    assert.match(status.text, /sftp:\/\/\*\*\*:\*\*\*@127\.0\.0\.1/);
  }
});
