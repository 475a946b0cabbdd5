/**
 * The import graph of a source tree, read with the TypeScript parser (not patterns: an import
 * spans lines, and strings and comments may look like one): every `import … from`, `export …
 * from`, side-effect `import '…'`, `import('…')` call and `import('…')` type, with its relative
 * specifier resolved to a file of the tree. Package and `node:` imports are left out.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export interface ImportEdge {
  /** Both relative to the tree's root, with `/` separators. */
  from: string;
  to: string;
  /** Erased at compile time: `import type`, `export type`, or `import('…')` in a type. */
  typeOnly: boolean;
}

function sourceFiles(root: string): string[] {
  return (fs.readdirSync(root, { recursive: true, encoding: 'utf8' }) as string[])
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => f.split(path.sep).join('/'))
    .sort();
}

function specifiersOf(file: string, text: string): { specifier: string; typeOnly: boolean }[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found: { specifier: string; typeOnly: boolean }[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const named = clause?.namedBindings;
      const allNamedAreTypes = !!named && ts.isNamedImports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly);
      const typeOnly = !!clause && (clause.isTypeOnly || (!clause.name && allNamedAreTypes));
      found.push({ specifier: node.moduleSpecifier.text, typeOnly });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const named = node.exportClause;
      const allNamedAreTypes = !!named && ts.isNamedExports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly);
      found.push({ specifier: node.moduleSpecifier.text, typeOnly: node.isTypeOnly || allNamedAreTypes });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0];
      // A computed specifier cannot be checked: it is reported as one, so that it is noticed.
      found.push({ specifier: arg && ts.isStringLiteralLike(arg) ? arg.text : '<computed>', typeOnly: false });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      found.push({ specifier: node.argument.literal.text, typeOnly: true });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Every relative import of the tree at `root`; `unresolved` lists those naming no file of it. */
export function importGraph(root: string): { files: string[]; edges: ImportEdge[]; unresolved: { from: string; specifier: string }[] } {
  const files = sourceFiles(root);
  const known = new Set(files);
  const edges: ImportEdge[] = [];
  const unresolved: { from: string; specifier: string }[] = [];
  for (const from of files) {
    for (const { specifier, typeOnly } of specifiersOf(from, fs.readFileSync(path.join(root, from), 'utf8'))) {
      if (!specifier.startsWith('.') && specifier !== '<computed>') continue;
      const to = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier));
      if (known.has(to)) edges.push({ from, to, typeOnly });
      else unresolved.push({ from, specifier });
    }
  }
  return { files, edges, unresolved };
}

export interface LayerRule {
  /** Files under this folder of the tree (`api/`) … */
  from: string;
  /** … may not import files under these, */
  mayNotImport?: string[];
  /** … or may import only files under these. */
  mayImportOnly?: string[];
  why: string;
}

/** Each import that breaks a rule, as `from -> to (why)`. */
export function forbiddenImports(edges: ImportEdge[], rules: LayerRule[]): string[] {
  const broken: string[] = [];
  for (const e of edges) {
    for (const r of rules) {
      if (!e.from.startsWith(r.from)) continue;
      const bad = (r.mayNotImport ?? []).some((p) => e.to.startsWith(p)) || (!!r.mayImportOnly && !r.mayImportOnly.some((p) => e.to.startsWith(p)));
      if (bad) broken.push(`${e.from} -> ${e.to} (${r.why})`);
    }
  }
  return broken;
}

/** The import cycles, each as its files in order (the first repeated at the end); one per strongly connected group. */
export function importCycles(edges: ImportEdge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const e of edges) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  // Tarjan's strongly connected components; a group of two or more files, or a file importing itself, is a cycle.
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  const connect = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1 || (next.get(v) ?? []).includes(v)) groups.push(group);
    }
  };
  for (const v of [...next.keys()].sort()) if (!index.has(v)) connect(v);
  return groups.map((group) => cycleThrough(group, next));
}

/** One cycle inside a strongly connected group, to show: a shortest path from its first file back to it. */
function cycleThrough(group: string[], next: Map<string, string[]>): string[] {
  const members = new Set(group);
  const start = [...group].sort()[0]!;
  const cameFrom = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of next.get(v) ?? []) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let at = v; at !== start; at = cameFrom.get(at)!) path.splice(1, 0, at);
        return [...path, start];
      }
      if (!cameFrom.has(w)) {
        cameFrom.set(w, v);
        queue.push(w);
      }
    }
  }
  return [...group, group[0]!];
}
