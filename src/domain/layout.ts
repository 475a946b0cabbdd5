import path from 'node:path';

/**
 * Where a media's files live under the data dir: `scratch/<id>` holds its downloaded sources,
 * `outputs/<id>/<task id>` what each task made. Both the pipeline and the actions that delete or
 * restart media rely on this one layout.
 */
export function mediaDirs(dataDir: string, mediaId: number) {
  const scratch = path.join(dataDir, 'scratch', String(mediaId));
  const outputs = path.join(dataDir, 'outputs', String(mediaId));
  return { scratch, outputs, task: (taskId: number) => path.join(outputs, String(taskId)) };
}
