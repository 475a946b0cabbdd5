import fs from 'node:fs/promises';
import * as repo from '../../store/repo.ts';
import { MediaStatus, TaskStatus } from '../../domain/status.ts';
import { mediaDirs } from '../../domain/layout.ts';
import { FIGURES_DONE, type MediaRunContext } from './context.ts';

/** The media's final status from its tasks': Finished when all finished (its scratch folder then removed), else Error naming the first failure. */
export async function finish(run: MediaRunContext): Promise<void> {
  // The tracker writes nothing after this: the figures below are the last.
  await run.progress.stop();
  const tasks = await repo.getTasks(run.db, run.mediaId);
  const failed = tasks.filter((t) => t.status === TaskStatus.Error);
  if (failed.length > 0) {
    const first = failed[0]!;
    const description = `${failed.length} of ${tasks.length} output(s) failed; task ${first.id} (${first.output}): ${first.description ?? 'error'}`;
    // Progress stays where the run got to: 100 is for Finished only.
    await run.setStatus(MediaStatus.Error, { finished_at: Date.now(), time_left: 0, time_left_current: 0, description });
  } else {
    await run.setStatus(MediaStatus.Finished, { finished_at: Date.now(), ...FIGURES_DONE });
    // The sources are not needed any more; a later restart downloads them again.
    await fs.rm(mediaDirs(run.config.dataDir, run.mediaId).scratch, { recursive: true, force: true }).catch((err: unknown) => run.log.warn({ err }, 'removing the scratch folder failed'));
  }
}
