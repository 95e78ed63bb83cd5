// trueup's import graph, read with the TypeScript compiler's pre-processor (imports, exports-from
// and dynamic imports, type-only ones included), and the cycles in it.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

/** file → the files it imports; all paths relative to `root`, only files under `folders`. */
export type ImportGraph = Map<string, string[]>;

export function importGraph(root: string, folders: readonly string[]): ImportGraph {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (path.endsWith('.ts') && !path.endsWith('.d.ts')) files.push(path);
    }
  };
  for (const folder of folders) if (existsSync(join(root, folder))) walk(join(root, folder));
  const inScope = (path: string) => folders.some((f) => relative(join(root, f), path).split('/')[0] !== '..');
  const graph: ImportGraph = new Map();
  for (const file of files) {
    const targets = new Set<string>();
    for (const ref of ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles) {
      if (!ref.fileName.startsWith('.')) continue;
      const target = resolveModule(resolve(dirname(file), ref.fileName));
      if (target && inScope(target)) targets.add(relative(root, target));
    }
    graph.set(relative(root, file), [...targets].sort());
  }
  return graph;
}

function resolveModule(spec: string): string | undefined {
  const candidates = [spec.replace(/\.js$/, '.ts'), `${spec}.ts`, join(spec, 'index.ts')];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile());
}

/**
 * One cycle per strongly connected component of more than one file (or a file importing itself),
 * each as the list of files around it, starting and ending at its first file in sort order.
 */
export function importCycles(graph: ImportGraph): string[][] {
  const cycles: string[][] = [];
  for (const component of stronglyConnected(graph)) {
    const members = new Set(component);
    const start = [...component].sort()[0]!;
    if (component.length === 1 && !(graph.get(start) ?? []).includes(start)) continue;
    cycles.push(shortestCycle(graph, start, members));
  }
  return cycles.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

// Tarjan's algorithm, iterative so a deep graph cannot overflow the stack.
function stronglyConnected(graph: ImportGraph): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  for (const root of graph.keys()) {
    if (index.has(root)) continue;
    const work: { node: string; edge: number }[] = [{ node: root, edge: 0 }];
    index.set(root, next);
    low.set(root, next++);
    stack.push(root);
    onStack.add(root);
    while (work.length) {
      const frame = work.at(-1)!;
      const edges = graph.get(frame.node) ?? [];
      if (frame.edge < edges.length) {
        const to = edges[frame.edge++]!;
        if (!index.has(to)) {
          index.set(to, next);
          low.set(to, next++);
          stack.push(to);
          onStack.add(to);
          work.push({ node: to, edge: 0 });
        } else if (onStack.has(to)) low.set(frame.node, Math.min(low.get(frame.node)!, index.get(to)!));
        continue;
      }
      work.pop();
      const parent = work.at(-1);
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        for (let n = stack.pop()!; ; n = stack.pop()!) {
          onStack.delete(n);
          component.push(n);
          if (n === frame.node) break;
        }
        out.push(component);
      }
    }
  }
  return out;
}

// Breadth-first from `start` back to itself, inside its component.
function shortestCycle(graph: ImportGraph, start: string, members: Set<string>): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const node = queue.shift()!;
    for (const to of graph.get(node) ?? []) {
      if (to === start) {
        const path: string[] = [];
        for (let n: string | undefined = node; n !== undefined && n !== start; n = previous.get(n))
          path.unshift(n);
        return [start, ...path, start];
      }
      if (members.has(to) && !previous.has(to)) {
        previous.set(to, node);
        queue.push(to);
      }
    }
  }
  return [start, start];
}
