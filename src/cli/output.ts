/** Where the CLI writes, passed in so that tests and main.ts choose the streams. */
export interface Output {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream;
}

export const line = (stream: NodeJS.WritableStream, text = ''): void => {
  stream.write(`${text}\n`);
};

export const printJson = (out: Output, value: unknown): void => line(out.stdout, JSON.stringify(value, null, 2));

/** `42s`, `3m05s`, `1h02m`. */
export function duration(sec: number): string {
  const s = Math.max(0, Math.round(sec));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export const percent = (p: number | null): string => (p === null ? '—' : `${p.toFixed(1)}%`);

/** Rows as aligned columns (two spaces between), the last column left ragged. */
export function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd());
}
