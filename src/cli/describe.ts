/** Human-readable text for media and tasks, shared by `status`, `add --wait` and `--watch`. */
import { duration, percent } from './output.ts';
import { isFinal, type MediaView, type TaskView } from './views.ts';
import { isFinalTask } from '../domain/status.ts';

const left = (sec: number | null, status: string): string => (sec !== null && sec > 0 && !isFinal(status) ? `  time left ${duration(sec)}` : '');

export function mediaHeadline(m: MediaView): string {
  return `media ${m.id}  ${m.status}  ${percent(m.progress)}${left(m.timeLeft, m.status)}`;
}

export function taskHeadline(t: TaskView): string {
  const speed = t.speed !== null && t.speed > 0 ? `  ${t.speed.toFixed(2)}x` : '';
  const running = !isFinalTask(t.status);
  return `task ${t.id}  ${t.output}  ${t.status}  ${percent(t.progress)}${running ? left(t.timeLeft, t.status) : ''}${speed}`;
}

/** The full picture of one media: its sources, then each task with its destinations. */
export function describeMedia(m: MediaView): string[] {
  const lines = [mediaHeadline(m)];
  for (const s of m.sources) lines.push(`  source  ${s}`);
  if (m.description && m.status === 'Error') lines.push(`  error   ${m.description}`);
  for (const t of m.tasks) {
    lines.push(`  ${taskHeadline(t)}`);
    for (const d of t.destinations) lines.push(`    -> ${d.url}  ${d.status}`);
    for (const link of t.links) lines.push(`    link ${link}`);
    if (t.description) lines.push(`    error  ${t.description}`);
  }
  return lines;
}
