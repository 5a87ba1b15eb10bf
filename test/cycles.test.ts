/**
 * No import cycles (issue 9, item 4), checked by dpdm over the built JavaScript (dist/, written by
 * `npm run build` in pretest). Type-only imports vanish in the emitted JavaScript, so only cycles that
 * exist at run time count; dynamic `import()` counts too (it is still an edge between two layers).
 *
 * The entries are the outputs of exactly the files tsconfig.build.json compiles, so stale outputs of
 * deleted sources (tsc never removes them) cannot show cycles that no longer exist.
 */
import { existsSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseCircular, parseDependencyTree, type DependencyTree } from 'dpdm';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../suite/harness/paths.js';

/** The sources the build compiles, from tsconfig.build.json itself (no .d.ts). */
function buildSources(): string[] {
  const configPath = join(PROJECT_ROOT, 'tsconfig.build.json');
  const parsed = ts.getParsedCommandLineOfConfigFile(configPath, {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  });
  if (!parsed) throw new Error('tsconfig.build.json could not be read');
  return parsed.fileNames.filter((f) => /\.[cm]?tsx?$/.test(f) && !/\.d\.[cm]?ts$/.test(f)).map((f) => relative(PROJECT_ROOT, f));
}

/** dist/ path of a source: outDir dist, rootDir the project root. */
const outputOf = (source: string): string => join('dist', source.replace(/\.ts$/, '.js').replace(/\.mts$/, '.mjs').replace(/\.cts$/, '.cjs').replace(/\.tsx$/, '.js'));

/** Strongly connected components with more than one module (or a module importing itself). */
function stronglyConnected(tree: DependencyTree): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  let next = 0;
  const edges = (id: string): string[] => (tree[id] ?? []).map((d) => d.id).filter((d): d is string => d !== null && tree[d] !== undefined && tree[d] !== null);
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of edges(v)) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || edges(v).includes(v)) out.push(component.sort());
    }
  };
  for (const id of Object.keys(tree).sort()) if (tree[id] && !index.has(id)) visit(id);
  return out;
}

describe('import cycles in the built output', () => {
  it('has none (dpdm over dist/)', async () => {
    const sources = buildSources();
    expect(sources.length).toBeGreaterThan(0);
    const missing = sources.filter((s) => !existsSync(join(PROJECT_ROOT, outputOf(s))));
    expect(missing, 'not built: run `npm run build` (or `npx tsc -p tsconfig.build.json`) first').toEqual([]);
    const stale = sources.filter((s) => statSync(join(PROJECT_ROOT, s)).mtimeMs > statSync(join(PROJECT_ROOT, outputOf(s))).mtimeMs);
    expect(stale, 'dist/ is older than these sources: run `npm run build` (or `npx tsc -p tsconfig.build.json`) first').toEqual([]);

    const entries = sources.map(outputOf);
    const tree = await parseDependencyTree(entries, { cwd: PROJECT_ROOT, context: PROJECT_ROOT, transform: false, skipDynamicImports: false });
    expect(Object.keys(tree).length).toBeGreaterThanOrEqual(entries.length);
    const cycles = parseCircular(tree, false).map((c) => c.map((id) => relative(PROJECT_ROOT, join(PROJECT_ROOT, id))));
    const components = stronglyConnected(tree).map((c) => c.map((id) => relative(PROJECT_ROOT, join(PROJECT_ROOT, id))));
    const listing = [
      ...cycles.map((c, i) => `cycle ${i + 1}: ${[...c, c[0]].join(' -> ')}`),
      ...components.map((c, i) => `modules that reach each other (${i + 1}): ${c.join(', ')}`),
    ];
    expect(listing, `import cycles in dist/:\n${listing.join('\n')}`).toEqual([]);
  });
});

describe('the cycle listing', () => {
  it('finds every module of a cycle, static or dynamic, and nothing outside one', () => {
    const dep = (issuer: string, id: string | null, kind = 'StaticImport') => ({ issuer, request: id ?? 'node:fs', kind, id }) as DependencyTree[string] extends ReadonlyArray<infer D> | null ? D : never;
    const tree: DependencyTree = {
      'a.js': [dep('a.js', 'b.js'), dep('a.js', null)],
      'b.js': [dep('b.js', 'c.js', 'DynamicImport')],
      'c.js': [dep('c.js', 'a.js'), dep('c.js', 'd.js')],
      'd.js': [],
      'e.js': [dep('e.js', 'e.js')],
    };
    expect(stronglyConnected(tree)).toEqual([['a.js', 'b.js', 'c.js'], ['e.js']]);
    expect(parseCircular(tree, false).length).toBeGreaterThan(0);
  });
});
