/** The part of m3u8-parser (videojs, no bundled types) the tests read. */
declare module 'm3u8-parser' {
  export class Parser {
    push(chunk: string): void;
    end(): void;
    manifest: M3u8Manifest;
  }
}

interface M3u8Manifest {
  playlistType?: string;
  targetDuration?: number;
  endList?: boolean;
  mediaSequence?: number;
  independentSegments?: boolean;
  segments: { uri: string; duration: number }[];
  playlists?: {
    uri: string;
    attributes: {
      BANDWIDTH?: number;
      'AVERAGE-BANDWIDTH'?: string | number;
      RESOLUTION?: { width: number; height: number };
      CODECS?: string;
      AUDIO?: string;
      SUBTITLES?: string;
    };
  }[];
  mediaGroups?: {
    AUDIO?: Record<string, Record<string, { uri?: string; default?: boolean }>>;
    SUBTITLES?: Record<string, Record<string, { uri?: string; language?: string; default?: boolean; autoselect?: boolean }>>;
  };
}
