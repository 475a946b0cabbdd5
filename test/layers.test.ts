/**
 * Layers that hold (issue 18): `api/`, `queue/` and `notify/` never import FFmpeg code (what runs
 * a media or a chunk is injected by server.ts), `domain/` depends on nothing else of ours, and no
 * module imports itself round a cycle, type-only imports included (they tie the files together
 * for every reader just the same).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { forbiddenImports, importCycles, importGraph, type LayerRule } from './import-graph.ts';

const SRC = path.join(import.meta.dirname, '..', 'src');

const RULES: LayerRule[] = [
  { from: 'api/', mayNotImport: ['pipeline/'], why: 'the API knows the wire; FFmpeg work is queued, not called' },
  { from: 'queue/', mayNotImport: ['pipeline/'], why: 'the queue carries work; what runs it is injected (MediaProcessor, ChunkProcessor)' },
  { from: 'notify/', mayNotImport: ['pipeline/'], why: 'callbacks report what the store recorded, not how it was made' },
  { from: 'domain/', mayImportOnly: ['domain/'], why: 'the rules depend on no other layer' },
];

test('src/: no import crosses a layer it may not, and none closes a cycle', () => {
  const graph = importGraph(SRC);
  // The scanner read the tree: every relative import named a file, and there are many of them.
  assert.deepEqual(graph.unresolved, []);
  assert.ok(graph.files.length > 100 && graph.edges.length > 500, `${graph.files.length} files, ${graph.edges.length} imports`);
  assert.deepEqual(forbiddenImports(graph.edges, RULES), []);
  assert.deepEqual(importCycles(graph.edges).map((c) => c.join(' -> ')), []);
});

test('the check finds a forbidden import and a cycle however they are written', (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'encodery-layers-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const write = (file: string, text: string): void => {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), text);
  };
  write('pipeline/run.ts', "export const run = 1;\nexport type Shape = { a: number };\n");
  write('pipeline/other.ts', 'export const other = 2;\n');
  write('pipeline/typed.ts', 'export type T = number;\n');
  write('domain/rule.ts', "import { run } from '../pipeline/run.ts';\nexport const rule = run;\n");
  write('api/multi-line.ts', "import {\n  run,\n} from '../pipeline/run.ts';\nexport const a = run;\n");
  write('api/type-only.ts', "import type { Shape } from '../pipeline/run.ts';\nexport type A = Shape;\n");
  write('api/dynamic.ts', "export const load = () => import(\n  '../pipeline/other.ts');\n");
  write('api/in-a-type.ts', "export type B = import('../pipeline/typed.ts').T;\n");
  write('queue/re-export.ts', "export { run } from '../pipeline/run.ts';\n");
  // Look-alikes the scanner must not take for imports.
  write('api/look-alike.ts', "// import { run } from '../pipeline/run.ts';\nexport const text = \"import x from '../pipeline/run.ts'\";\n");
  write('cycle/a.ts', "import { b } from './b.ts';\nexport const a = () => b;\n");
  write('cycle/b.ts', "import type { C } from './c.ts';\nexport const b = 1;\nexport type B = C;\n");
  write('cycle/c.ts', "export type { } from './a.ts';\nexport type C = string;\n");
  write('cycle/self.ts', "export * from './self.ts';\n");

  const graph = importGraph(root);
  assert.deepEqual(graph.unresolved, []);
  assert.deepEqual(forbiddenImports(graph.edges, RULES).map((line) => line.split(' (')[0]).sort(), [
    'api/dynamic.ts -> pipeline/other.ts',
    'api/in-a-type.ts -> pipeline/typed.ts',
    'api/multi-line.ts -> pipeline/run.ts',
    'api/type-only.ts -> pipeline/run.ts',
    'domain/rule.ts -> pipeline/run.ts',
    'queue/re-export.ts -> pipeline/run.ts',
  ]);
  assert.deepEqual(importCycles(graph.edges).map((c) => c.join(' -> ')).sort(), [
    'cycle/a.ts -> cycle/b.ts -> cycle/c.ts -> cycle/a.ts',
    'cycle/self.ts -> cycle/self.ts',
  ]);
  // A relative import naming no file is reported, not skipped.
  write('api/missing.ts', "import { gone } from './gone.ts';\nexport const m = gone;\n");
  assert.deepEqual(importGraph(root).unresolved, [{ from: 'api/missing.ts', specifier: './gone.ts' }]);
});
