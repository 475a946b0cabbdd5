/**
 * Section 10: the cost of tone-mapping. The same 1080p picture as two 10-bit HEVC sources, one
 * tagged BT.709 (SDR) and one BT.2020/PQ (HDR10), each encoded through the server to one
 * three-rung H.264 advanced_hls ladder (1080p, 720p, 360p, turbo). The HDR source is tone-mapped
 * once in the shared decode (zscale + tonemap); the SDR one is not. Reported: the median
 * AddMedia-to-Finished wall time of each and the extra wall time of the tone-map, in seconds and %.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { call, endWatcher, exec, median, startServer } from './lib.ts';

const RUNS = Number(process.env.BENCH_HDR_RUNS ?? 3);
const SECONDS = Number(process.env.BENCH_HDR_SECONDS ?? 6);

export async function hdrSection(dataDir: string): Promise<void> {
  const files = path.join(dataDir, 'files');
  await fs.mkdir(files, { recursive: true });
  const sources = { sdr: path.join(files, 'hdr-bench-sdr.mkv'), hdr: path.join(files, 'hdr-bench-pq.mkv') };
  process.stdout.write(`making two ${SECONDS} s 1080p 10-bit HEVC clips (BT.709 and PQ)… `);
  const tags = {
    sdr: { x265: 'colorprim=bt709:transfer=bt709:colormatrix=bt709', trc: 'bt709', prim: 'bt709', space: 'bt709', vf: 'format=yuv420p10le' },
    hdr: {
      x265: 'colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc:hdr10=1:master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1):max-cll=1000,400',
      trc: 'smpte2084', prim: 'bt2020', space: 'bt2020nc',
      vf: 'zscale=tin=bt709:min=bt709:pin=bt709:t=smpte2084:m=bt2020nc:p=bt2020:npl=100,format=yuv420p10le',
    },
  };
  for (const kind of ['sdr', 'hdr'] as const) {
    const t = tags[kind];
    await exec('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=1920x1080:rate=30:duration=${SECONDS}`,
      '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${SECONDS}`, '-vf', t.vf,
      '-c:v', 'libx265', '-preset', 'ultrafast', '-crf', '20', '-x265-params', `log-level=error:${t.x265}`,
      '-color_primaries', t.prim, '-color_trc', t.trc, '-colorspace', t.space, '-c:a', 'aac', sources[kind],
    ]);
  }
  process.stdout.write('done\n');
  console.log(`tone-mapping: a ${SECONDS} s 1080p source to a 3-rung H.264 advanced_hls ladder (turbo), PQ (tone-mapped) against BT.709 (not)`);
  console.log(`  load average before: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (${os.cpus().length} cores)`);

  const port = 30000 + Math.floor(Math.random() * 20000);
  const server = await startServer(path.join(dataDir, 'hdr-server'), port, { ENCODERY_FILE_ROOTS: files });
  const base = `http://127.0.0.1:${port}`;
  const watcher = await endWatcher();
  const runOne = async (kind: 'sdr' | 'hdr', run: number): Promise<number> => {
    const out = path.join(files, `hdr-bench-${kind}-${run}`);
    const t0 = performance.now();
    const added = await call(base, {
      action: 'AddMedia', source: `file://${sources[kind]}`, notify: watcher.notify, notify_format: 'json',
      format: {
        output: 'advanced_hls', turbo: 'yes', segment_duration: '2',
        stream: [{ size: '0x1080', bitrate: '5000k' }, { size: '0x720', bitrate: '2800k' }, { size: '0x360', bitrate: '700k' }],
        destination: `file://${out}/video.m3u8`,
      },
    });
    const status = await watcher.ended(added.MediaID);
    const wall = (performance.now() - t0) / 1000;
    if (status !== 'Finished') throw new Error(`bench media ended ${status}`);
    await fs.rm(out, { recursive: true, force: true });
    return wall;
  };
  try {
    const walls = { sdr: [] as number[], hdr: [] as number[] };
    for (let run = 0; run < RUNS; run++) {
      for (const kind of run % 2 === 0 ? (['hdr', 'sdr'] as const) : (['sdr', 'hdr'] as const)) walls[kind].push(await runOne(kind, run));
      console.log(`  run ${run + 1}: PQ ${walls.hdr.at(-1)!.toFixed(2)} s, BT.709 ${walls.sdr.at(-1)!.toFixed(2)} s`);
    }
    const hdr = median(walls.hdr);
    const sdr = median(walls.sdr);
    console.log(`  load average after: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    console.log(`tone-mapping extra wall time, median of ${RUNS}: ${(hdr - sdr).toFixed(2)} s (${(((hdr / sdr) - 1) * 100).toFixed(1)} %; PQ ${hdr.toFixed(2)} s, BT.709 ${sdr.toFixed(2)} s)`);
  } finally {
    watcher.close();
    server.kill('SIGTERM');
  }
}
