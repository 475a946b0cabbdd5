/** The part of mpd-parser (videojs, no bundled types) the tests read. */
declare module 'mpd-parser' {
  export function parse(manifest: string, options?: { manifestUri?: string }): MpdManifest;
}

interface MpdSegment {
  uri: string;
  resolvedUri: string;
  duration: number;
  number: number;
  map?: { uri: string; resolvedUri: string };
}

interface MpdPlaylist {
  attributes: {
    NAME?: string;
    BANDWIDTH?: number;
    CODECS?: string;
    RESOLUTION?: { width: number; height: number };
    'FRAME-RATE'?: number;
  };
  targetDuration?: number;
  endList?: boolean;
  segments: MpdSegment[];
}

interface MpdManifest {
  duration?: number;
  endList?: boolean;
  playlists: MpdPlaylist[];
  mediaGroups: {
    AUDIO?: Record<string, Record<string, { playlists: MpdPlaylist[] }>>;
    SUBTITLES?: Record<string, Record<string, { language?: string; playlists: MpdPlaylist[] }>>;
  };
}
