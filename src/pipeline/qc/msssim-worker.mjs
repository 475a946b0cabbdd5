// MS-SSIM runs in a worker thread: a 1080p frame pair takes hundreds of milliseconds of pure
// computation, which on the main thread would stall the API served by the same process.
// Plain JavaScript so that it starts without the TypeScript loader; it loads the loader itself.
import { parentPort } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { msSsim } = await import('./msssim.ts');

parentPort.on('message', (m) => {
  try {
    const frame = new Uint8Array(m.frame);
    const size = m.width * m.height;
    parentPort.postMessage({ id: m.id, score: msSsim(frame.subarray(0, size), frame.subarray(size), m.width, m.height) });
  } catch (err) {
    parentPort.postMessage({ id: m.id, error: String(err instanceof Error ? err.message : err) });
  }
});
