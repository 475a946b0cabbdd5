/**
 * Section 5: memory while moving a big file. A 1 GiB source served over HTTP, remuxed (smart
 * pass-through: the source already meets the format), and delivered to S3 (a real s3rver,
 * multipart) and to SFTP (a real SSH server). The server runs as its own process; its peak RSS
 * (VmHWM at the end) minus its RSS just before AddMedia must stay under 150 MB.
 */
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import S3rver from 's3rver';
import { SSH_PASSWORD, SSH_USER, startSsh } from '../test/remote-servers.ts';
import { call, endWatcher, exec, startServer } from './lib.ts';

const TARGET_BYTES = 1024 ** 3;
const LIMIT_MB = 150;

export async function memorySection(dataDir: string): Promise<void> {
  const files = path.join(dataDir, 'memory');
  await fs.mkdir(files, { recursive: true });
  const source = path.join(files, 'big.mp4');
  await makeBigSource(source);
  const size = (await fs.stat(source)).size;

  const http_ = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': size });
    createReadStream(source).pipe(res);
  });
  await new Promise<void>((resolve) => http_.listen(0, '127.0.0.1', resolve));
  const s3 = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: path.join(files, 's3'), configureBuckets: [{ name: 'bench' }] });
  const { port: s3Port } = await s3.run();
  const ssh = await startSsh();
  const watcher = await endWatcher();

  const serverDir = path.join(files, 'server');
  const port = 30000 + Math.floor(Math.random() * 20000);
  // s3rver's built-in account; s3:// takes its keys from the usual AWS variables.
  const server = await startServer(serverDir, port, {
    ENCODERY_S3_ENDPOINT: `http://127.0.0.1:${s3Port}`,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    ENCODERY_MAX_SOURCE_BYTES: String(4 * 1024 ** 3),
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    console.log(`memory: a ${(size / 1024 ** 3).toFixed(2)} GiB source over HTTP, remuxed, delivered to S3 (s3rver) and SFTP`);
    const before = await rssKb(server.pid!, 'VmRSS');
    const t0 = performance.now();
    const sourceBitrate = Number((await exec('ffprobe', ['-v', 'error', '-show_entries', 'format=bit_rate', '-of', 'csv=p=0', source])).stdout.trim());
    const sftp = `sftp://${SSH_USER}:${encodeURIComponent(SSH_PASSWORD)}@127.0.0.1:${ssh.port}/out/big.mp4`;
    const added = await call(base, {
      action: 'AddMedia',
      source: `http://127.0.0.1:${(http_.address() as AddressInfo).port}/big.mp4`,
      notify: watcher.notify,
      notify_format: 'json',
      // A bitrate above the source's: the source already meets the format and is remuxed.
      format: { output: 'mp4', bitrate: `${Math.ceil((sourceBitrate * 1.2) / 1000)}k`, destination: ['s3://bench/out/big.mp4', sftp] },
    });
    const status = await watcher.ended(added.MediaID);
    const seconds = (performance.now() - t0) / 1000;
    const peak = await rssKb(server.pid!, 'VmHWM');
    const s = await call(base, { action: 'GetStatus', mediaid: added.MediaID, extended: 'yes', include_task_status: 'yes' });
    if (status !== 'Finished') throw new Error(`bench memory: the media ended ${status}: ${s.job?.description ?? JSON.stringify(s).slice(0, 500)}`);
    const log = JSON.stringify(s);
    if (!log.includes('remuxed without re-encoding')) throw new Error('bench memory: the source was encoded, not remuxed');
    const s3Size = (await fs.stat(path.join(files, 's3', 'bench', 'out', 'big.mp4._S3rver_object'))).size;
    const sftpSize = (await fs.stat(path.join(ssh.root, 'out', 'big.mp4'))).size;
    if (s3Size !== sftpSize || sftpSize < size * 0.9) throw new Error(`bench memory: delivered ${s3Size} bytes to S3 and ${sftpSize} to SFTP from a ${size}-byte source`);
    const growth = (peak - before) / 1024;
    console.log(`  AddMedia to Finished in ${seconds.toFixed(1)} s; ${sftpSize} bytes delivered to each of S3 and SFTP`);
    console.log(`  server RSS before ${(before / 1024).toFixed(1)} MiB, peak ${(peak / 1024).toFixed(1)} MiB: grew ${growth.toFixed(1)} MiB (target < ${LIMIT_MB} MB)`);
  } finally {
    server.kill('SIGTERM');
    watcher.close();
    http_.close();
    await s3.close();
    await ssh.close();
  }
}

/** A 10 s high-rate 1080p clip repeated without re-encoding until it passes 1 GiB. */
async function makeBigSource(file: string): Promise<void> {
  process.stdout.write('making a 1 GiB source… ');
  const clip = `${file}.clip.mp4`;
  await exec('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=30:duration=10',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=10',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-qp', '4', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-ac', '2', clip,
  ]);
  const loops = Math.ceil(TARGET_BYTES / (await fs.stat(clip)).size);
  await exec('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-stream_loop', String(loops - 1), '-i', clip, '-c', 'copy', file]);
  await fs.rm(clip);
  process.stdout.write('done\n');
}

async function rssKb(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
  const kb = new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1];
  if (!kb) throw new Error(`no ${field} for process ${pid}`);
  return Number(kb);
}
