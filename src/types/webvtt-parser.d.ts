/** The part of webvtt-parser (CommonJS, no bundled types) Encodery and its tests read. */
declare module 'webvtt-parser' {
  interface VttCue {
    id: string;
    startTime: number;
    endTime: number;
    text: string;
  }
  interface VttTree {
    cues: VttCue[];
    errors: { message: string; line: number }[];
  }
  class WebVTTParser {
    parse(input: string, mode?: 'metadata' | 'chapters' | 'subtitles'): VttTree;
  }
  const webvtt: { WebVTTParser: typeof WebVTTParser };
  export default webvtt;
}
