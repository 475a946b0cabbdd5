/**
 * The shapes of the replies the tests read, by action: what `TestServer.call` returns. Both
 * wire formats parse to the same shape (7.8's rules: every value a string, one repeated element
 * a single value, several a list, so such fields are `OneOrMany`). A field the server does not
 * send is a compile error here rather than an `undefined` found at run time. Objects that echo a
 * request's own fields (a task's format, a preset's) also carry those, as `unknown`.
 *
 * The fields of a successful reply are typed as present: a test that expects success reads them
 * (and its assertions fail when they are missing); one that expects a refusal reads `errors`.
 */

export type OneOrMany<T> = T | T[];

/** Any reply can be an error, and a successful one can carry field warnings. */
export interface ReplyBase {
  errors?: { error: OneOrMany<string> };
  warnings?: { warning: OneOrMany<string> };
  message?: string;
}

export interface AddMediaReply extends ReplyBase {
  MediaID: string;
  mediaid: string;
  SavedPreset?: OneOrMany<string>;
}

export interface SavedPresetReply extends ReplyBase {
  SavedPreset?: OneOrMany<string>;
}

export interface LogLine {
  time: string;
  message: string;
}

export interface QcLink {
  mediaid: string;
  status: string;
  description?: string;
  task_status?: { state: OneOrMany<LogLine> };
}

/** A figure left out was not measured; its `*_method` says why. */
export interface QualityReportWire {
  psnr?: string;
  psnr_method: string;
  ssim?: string;
  ssim_method: string;
  loudness?: string;
  loudness_method: string;
  duration_difference?: string;
  duration_method: string;
  realtime_factor?: string;
  realtime_method: string;
  variant?: OneOrMany<{ name: string; psnr?: string; psnr_method: string; ssim?: string; ssim_method: string }>;
}

export interface QcReportWire {
  result: string;
  reference: string;
  /** An encrypted output's tracks (an Encodery addition). */
  encrypted_track?: OneOrMany<{ name: string; kind: string; scheme: string; key_id?: string; systems: string; segments: string; encrypted_segments: string }>;
  check?: OneOrMany<{ name: string; result: string; measured?: string; expected?: string; reason?: string }>;
  metric?: OneOrMany<{
    name: string; result: string; frames?: string; min?: string; max?: string; mean?: string; median?: string; harm_mean?: string;
    percentile?: OneOrMany<{ perc: string; value: string }>; reason?: string;
  }>;
}

/** One task (format) in GetStatus, with its format's own fields echoed. */
export interface StatusFormat {
  id: string;
  status: string;
  created: string;
  started: string;
  finished: string;
  output: string;
  description?: string;
  destination?: OneOrMany<string>;
  destination_status?: OneOrMany<string>;
  convertedsize?: string;
  /** Outputs kept on the server (no destination): their download links. */
  s3_destination?: OneOrMany<string>;
  task_status?: { state: OneOrMany<LogLine> };
  time_left: string;
  progress: string;
  time_left_current: string;
  progress_current: string;
  converttime: string;
  command?: string;
  cpu_time?: string;
  speed?: string;
  quality_report?: QualityReportWire;
  qc_media?: OneOrMany<QcLink>;
  qc_report?: QcReportWire;
  [echoed: string]: unknown;
}

export interface NotificationAttempt {
  time: string;
  http_status?: string;
  error?: string;
  duration_ms: string;
}

export interface StatusNotification {
  kind: string;
  url: string;
  taskid?: string;
  destination_url?: string;
  delivery: string;
  attempt?: OneOrMany<NotificationAttempt>;
}

/** One media in GetStatus: at the top of a simple reply, one `job` of an extended one. */
export interface StatusJob {
  id: string;
  userid: string;
  version: string;
  sourcefile: OneOrMany<string>;
  status: string;
  prevstatus: string;
  notifyurl: string;
  created: string;
  started: string;
  finished: string;
  downloaded: string;
  uploaded: string;
  filesize?: string;
  time_left: string;
  progress: string;
  time_left_current: string;
  progress_current: string;
  description?: string;
  parent_mediaid?: string;
  parent_taskid?: string;
  format: OneOrMany<StatusFormat>;
  notifications?: { notification: OneOrMany<StatusNotification> };
  warnings?: { warning: OneOrMany<string> };
}

/**
 * Simple: the media's fields at the top. Extended: `job`, one per media id asked for (a test that
 * asks for several reads them through `asList`).
 */
export interface GetStatusReply extends ReplyBase, Omit<StatusJob, 'warnings'> {
  job: StatusJob;
}

export interface GetTaskStatusReply extends ReplyBase {
  list?: { mediaid: string; taskid: string; status: string; progress: string; state?: OneOrMany<LogLine>; qc_media?: OneOrMany<QcLink> };
}

/** One media of GetMediaList: versions 1 and 2 use the first fields, version 3 the second. */
export interface MediaListItem {
  mediafile?: string;
  mediaid?: string;
  mediastatus?: string;
  createdate?: string;
  startdate?: string;
  finishdate?: string;
  closeddate?: string;
  id?: string;
  userid?: string;
  sourcefile?: OneOrMany<string>;
  status?: string;
  created?: string;
  started?: string;
  finished?: string;
  progress?: string;
  /** Version 3 with `format_params`: each task, with the format fields asked for. */
  format?: OneOrMany<{ id: string; output: string; status: string; [param: string]: unknown }>;
}

export interface GetMediaListReply extends ReplyBase {
  /** Always a list (go-encodingcom decodes it into a slice). */
  media: MediaListItem[];
  /** Version 3. */
  pagination?: { per_page: string; page: string; count: string; total: string; pages: string };
}

export interface PresetWire {
  name: string;
  type: string;
  output: string;
  format: Record<string, unknown>;
}

export interface GetPresetReply extends ReplyBase, Partial<PresetWire> {}

export interface GetPresetsListReply extends ReplyBase {
  user?: PresetWire[];
  ui?: PresetWire[];
}

/** A probed file's facts (GetMediaInfo's top level, and each `source` of GetMediaInfoEx). */
export interface MediaInfoFields {
  bitrate?: string;
  duration?: string;
  duration_timestamp?: string;
  duration_hms?: string;
  video_codec?: string;
  video_bitrate?: string;
  video_duration?: string;
  frame_rate?: string;
  size?: string;
  pixel_aspect_ratio?: string;
  display_aspect_ratio?: string;
  rotation?: string;
  audio_codec?: string;
  audio_bitrate?: string;
  audio_sample_rate?: string;
  audio_channels?: string;
  /** `yes`/`no`: CEA-608/708 in an H.264, HEVC or MPEG-1/2 video (Encodery's own). */
  closed_captions?: string;
  [field: string]: unknown;
}

export interface GetMediaInfoReply extends ReplyBase, MediaInfoFields {
  id: string;
  status: string;
  sourcefile: OneOrMany<string>;
  created: string;
  downloaded: string;
  filesize?: string;
  source: OneOrMany<MediaInfoFields & { url: string; format: string; filesize: string; stream: OneOrMany<{ codec_type: string; [field: string]: unknown }> }>;
}

export interface GetUserInfoReply extends ReplyBase {
  [field: string]: unknown;
}

/** Every action's reply; an action not listed (a misspelt or unknown one) gets the bare base. */
export interface Replies {
  AddMedia: AddMediaReply;
  AddMediaBenchmark: AddMediaReply;
  ProcessMedia: SavedPresetReply;
  UpdateMedia: SavedPresetReply;
  CancelMedia: ReplyBase;
  StopMedia: ReplyBase;
  RestartMedia: ReplyBase;
  RestartMediaErrors: ReplyBase;
  RestartMediaTask: ReplyBase;
  GetStatus: GetStatusReply;
  GetTaskStatus: GetTaskStatusReply;
  GetMediaList: GetMediaListReply;
  GetMediaInfo: GetMediaInfoReply;
  GetMediaInfoEx: GetMediaInfoReply;
  SavePreset: SavedPresetReply;
  GetPreset: GetPresetReply;
  GetPresetsList: GetPresetsListReply;
  DeletePreset: ReplyBase;
  GetUserInfo: GetUserInfoReply;
}

export type ReplyTo<A> = A extends keyof Replies ? Replies[A] : ReplyBase;
