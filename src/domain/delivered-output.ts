import type { MediaProbe } from './media-probe.ts';

/** What the pipeline learned about a delivered output, for `notify_upload_extended`. */
export interface DeliveredOutput {
  probe: MediaProbe;
  /** The file's own name, for its container (`mp4`, `webm`, ...). */
  fileName: string;
  bytes: number;
}
