/** What the README's generated tables share: the markers around each and the command that rewrites them. */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

export const README = fileURLToPath(new URL('../README.md', import.meta.url));

/** The README with the text between `start` and `end` replaced by `table`; throws when the markers are missing. */
export function withTable(readme: string, start: string, end: string, table: string): string {
  const from = readme.indexOf(start);
  const to = readme.indexOf(end);
  if (from < 0 || to < from) throw new Error(`README.md has no ${start} … ${end} markers`);
  return `${readme.slice(0, from + start.length)}\n${table}\n${readme.slice(to)}`;
}

/** `npm run …:table`: rewrites the README when the table changed, and says which happened. */
export function rewriteReadme(what: string, rewrite: (readme: string) => string): void {
  const before = fs.readFileSync(README, 'utf8');
  const after = rewrite(before);
  if (after !== before) fs.writeFileSync(README, after);
  console.log(after === before ? `README.md ${what} is up to date` : `README.md ${what} rewritten`);
}

/** Whether the module at `url` is the script node was started with. */
export function isMain(url: string): boolean {
  return Boolean(process.argv[1]) && fileURLToPath(url) === fs.realpathSync(process.argv[1]!);
}
