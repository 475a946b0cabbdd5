/**
 * The Content-Type of a file Encodery writes or serves, by its extension: what S3 and Azure
 * store with an upload and what /download answers with. Without it S3 stores
 * binary/octet-stream, and browsers download a playlist or a video instead of playing it.
 */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.mp4': 'video/mp4',
  '.m4v': 'video/x-m4v',
  '.mov': 'video/quicktime',
  '.webm': 'video/webm',
  '.mkv': 'video/x-matroska',
  '.ts': 'video/mp2t',
  '.m4s': 'video/iso.segment',
  '.flv': 'video/x-flv',
  '.ogv': 'video/ogg',
  '.3gp': 'video/3gpp',
  '.mpg': 'video/mpeg',
  '.mp3': 'audio/mpeg',
  '.m4a': 'audio/mp4',
  '.aac': 'audio/aac',
  '.ogg': 'audio/ogg',
  '.oga': 'audio/ogg',
  '.wav': 'audio/wav',
  '.flac': 'audio/flac',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.mpd': 'application/dash+xml',
  '.vtt': 'text/vtt',
  '.srt': 'application/x-subrip',
  // Caption sidecars: TTML's registered media type, and the one SCC files are usually served as.
  '.dfxp': 'application/ttml+xml',
  '.scc': 'text/x-scc',
  '.json': 'application/json',
  '.xml': 'application/xml',
  '.tar': 'application/x-tar',
  '.zip': 'application/zip',
  // An HLS AES-128 key: raw bytes, named so that nothing takes it for a document.
  '.key': 'application/octet-stream',
};

export const UNKNOWN_CONTENT_TYPE = 'application/octet-stream';

/** The type of a file or object name (a path or key; only its last extension counts), or null when the extension is not known. */
export function contentTypeOf(name: string): string | null {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? (CONTENT_TYPES[base.slice(dot).toLowerCase()] ?? null) : null;
}
