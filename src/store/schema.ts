import type { Generated } from 'kysely';
import type { DestinationStatus, MediaStatus, TaskStatus } from '../domain/status.ts';

/** Row shapes of the store's tables. Times are epoch milliseconds (UTC); JSON columns hold text. */
export interface MediaTable {
  id: Generated<number>;
  user_id: string;
  /** Written only through store/lifecycle.ts. */
  status: MediaStatus;
  prev_status: MediaStatus | null;
  /** JSON string[]: the source URLs as submitted. */
  sources: string;
  /** JSON FieldMap: the top-level request fields other than source/format (notify, meta, ...). */
  options: string;
  notify_url: string | null;
  benchmark: number;
  deleted: number;
  description: string | null;
  version: string;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  downloaded_at: number | null;
  uploaded_at: number | null;
  progress: Generated<number>;
  progress_current: Generated<number>;
  time_left: Generated<number>;
  time_left_current: Generated<number>;
  /** JSON MediaProbe[] of the downloaded sources, null until probed. */
  probe: string | null;
  source_bytes: number | null;
  /** A QC child media: the media and output task whose output it checks (null otherwise). */
  parent_media_id: number | null;
  parent_task_id: number | null;
  /** The cluster worker running the media (queue/lease.ts), null when none; its hold ends at lease_until (epoch ms). */
  worker_id: Generated<string | null>;
  lease_until: Generated<number | null>;
}

export interface TaskTable {
  id: Generated<number>;
  media_id: number;
  position: number;
  output: string;
  /** JSON FieldMap: the format fields as given (without destinations), echoed in GetStatus. */
  format: string;
  /** Written only through store/lifecycle.ts. */
  status: TaskStatus;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  /** The task's whole run (download, encode, delivery), 0..100; its status step in progress_current. */
  progress: Generated<number>;
  time_left: Generated<number>;
  progress_current: Generated<number>;
  time_left_current: Generated<number>;
  converted_size: number | null;
  description: string | null;
  command: string | null;
  cpu_sec: number | null;
  speed: number | null;
  /** JSON string[]: files kept in the data dir for this task, relative to it. */
  outputs: string | null;
  download_token: string | null;
  /** JSON QcReport of a QC child's task (pipeline/qc/report.ts); null otherwise. */
  qc_report: string | null;
  /** JSON QualitySummary (domain/quality.ts) of an encoded video output; null: none. */
  quality: string | null;
  /** The output cache key (pipeline/cache/) the task's output came from or went to; null: none. */
  cache_key: string | null;
  /** `hit`: the output came from the output cache; `restarted`: a restart asked for a fresh encode; null: neither. */
  cache_state: 'hit' | 'restarted' | null;
}

export interface DestinationTable {
  id: Generated<number>;
  task_id: number;
  position: number;
  url: string;
  /** Written only through store/lifecycle.ts. */
  status: DestinationStatus;
}

export interface TaskLogTable {
  id: Generated<number>;
  task_id: number;
  at: number;
  message: string;
}

export interface NotificationTable {
  id: Generated<number>;
  media_id: number;
  kind: string;
  url: string;
  format: string;
  body_format: string;
  document: string;
  /** `pending` (next attempt at `next_at`), `delivered` or `failed` (retries used up). */
  state: string;
  next_at: number;
  /** notify_upload only: the task and destination it reports on. */
  task_id: number | null;
  destination_id: number | null;
  /** The node sending it now, and until when its claim holds (null: nobody is sending it). */
  claimed_by: string | null;
  claimed_until: number | null;
}

/** One POST of a notification, whatever its outcome. */
export interface NotificationAttemptTable {
  id: Generated<number>;
  notification_id: number;
  at: number;
  /** null when no HTTP reply came (refused, timeout, DNS). */
  http_status: number | null;
  /** null on a 2xx reply; otherwise what went wrong, without credentials. */
  error: string | null;
  duration_ms: number;
}

/** A user's saved preset (SavePreset, save_preset); built-in `ui` presets are in code. */
export interface PresetTable {
  id: Generated<number>;
  user_id: string;
  /** Unique per user. */
  name: string;
  output: string;
  /** JSON FieldMap: the preset's format fields, `output` among them. */
  format: string;
  created_at: number;
  updated_at: number;
}

/** One write that changed what a media shows (appended by triggers; migration 0009). */
export interface MediaChangeTable {
  /** Increases with every change: the cursor live readers follow. */
  seq: Generated<number>;
  media_id: number;
  /** The database's clock, epoch ms: old rows are pruned by it. */
  at: number;
}

/** AddMedia's idempotency_key: which media a user's key added, and a hash of the request that did. */
export interface IdempotencyKeyTable {
  user_id: string;
  key: string;
  request_hash: string;
  media_id: number;
  created_at: number;
}

/** One published output cache entry (pipeline/cache/): its files are all in `folder` before the row exists. */
export interface OutputCacheTable {
  key: string;
  user_id: string;
  /** Where the files are, relative to the cache's base (the data dir's cache folder or the shared storage's). */
  folder: string;
  bytes: number;
  /** JSON CachedOutput: the files and the facts the encode wrote (size, quality report). */
  entry: string;
  created_at: number;
  /** Last hit or publication, epoch ms: the least recently used entry is evicted first. */
  used_at: number;
  /** A node copying the entry out holds it until this time (epoch ms): eviction leaves it alone. */
  reading_until: Generated<number>;
}

export interface Database {
  output_cache: OutputCacheTable;
  idempotency_key: IdempotencyKeyTable;
  media: MediaTable;
  task: TaskTable;
  destination: DestinationTable;
  task_log: TaskLogTable;
  notification: NotificationTable;
  notification_attempt: NotificationAttemptTable;
  preset: PresetTable;
  media_change: MediaChangeTable;
}
