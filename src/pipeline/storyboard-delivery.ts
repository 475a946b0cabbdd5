/** Delivering a thumbnail storyboard (use_vtt): which file goes to which URL, with the VTT written for it. */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { StoryboardSpec } from '../domain/format.ts';
import { retargetVtt, storyboardUploads } from '../domain/storyboard.ts';

export { storyboardOf } from '../domain/storyboard.ts';

/**
 * The files to send to destination row `index` as [local file, URL] pairs. The VTT is rewritten
 * for that destination into a file of its own beside the original (`.dest-N.vtt`), removed by
 * the caller's usual clean-up of the task's folder.
 */
export async function storyboardSends(board: StoryboardSpec, destUrls: string[], index: number, files: string[]): Promise<[string, string][]> {
  const sends: [string, string][] = [];
  for (const u of storyboardUploads(board, destUrls, index, files)) {
    if (!u.retarget) {
      sends.push([u.file, u.url]);
      continue;
    }
    const copy = path.join(path.dirname(u.file), `.${path.basename(u.file, '.vtt')}.dest-${index}.vtt`);
    await fs.writeFile(copy, retargetVtt(await fs.readFile(u.file, 'utf8'), u.retarget));
    sends.push([copy, u.url]);
  }
  return sends;
}
