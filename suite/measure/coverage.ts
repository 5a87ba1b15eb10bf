/**
 * `run --coverage`: which lines of the JavaScript/TypeScript implementations a conformance run exercised.
 * Every role that can run as a process does (no in-process fast path), with NODE_V8_COVERAGE pointing at
 * a private temp dir; afterwards c8 turns the V8 data into a text summary and an HTML report, mapped back
 * to the TypeScript sources through the source maps in dist/. Only the implementations' code counts:
 * fixtures/, and the directory of each subject's manifest (a JavaScript subject of the user's); the
 * suite, the tests and node_modules are left out. Non-Node subjects ignore the variable.
 */
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { CaseOptions } from '../harness/context.js';
import { PROJECT_ROOT } from '../harness/paths.js';

export interface CoverageSession {
  /** For RunConfig.caseOptions: process mode, NODE_V8_COVERAGE in every subject's environment. */
  caseOptions: CaseOptions;
  /** Runs c8 over what the subjects wrote; undefined when no JavaScript subject ran as a process. */
  report(outDir: string): Promise<CoverageReport | undefined>;
  /** Removes the raw V8 data. */
  cleanup(): Promise<void>;
}

export interface CoverageReport {
  /** What to print: a line per implementation directory, then c8's text table. */
  text: string;
  /** Directory of the HTML report (index.html inside). */
  htmlDir: string;
  /** The text summary as written to disk. */
  summaryFile: string;
}

/** Source globs the report is restricted to, relative to the package root (compiled and source form). */
export const COVERAGE_INCLUDE = ['dist/fixtures/**', 'fixtures/**'];

export interface CoverageOptions {
  /** Directories outside the package whose code counts too (the directories of subject manifests). */
  roots?: string[];
}

export async function startCoverage(options: CoverageOptions = {}): Promise<CoverageSession> {
  const roots = [...new Set((options.roots ?? []).map((r) => resolve(r)))].filter((r) => relative(PROJECT_ROOT, r).startsWith('..') || isAbsolute(relative(PROJECT_ROOT, r)));
  const dir = await mkdtemp(join(os.tmpdir(), `uds-conformance-v8-${process.pid}-`));
  const removeNow = (): void => rmSync(dir, { recursive: true, force: true });
  process.on('exit', removeNow);
  return {
    caseOptions: { forceProcess: true, env: { NODE_V8_COVERAGE: dir } },
    async report(outDir) {
      const files = (await readdir(dir)).filter((f) => f.endsWith('.json'));
      if (files.length === 0) return undefined;
      const htmlDir = join(outDir, 'coverage');
      await rm(htmlDir, { recursive: true, force: true });
      await mkdir(htmlDir, { recursive: true });
      const c8 = createRequire(import.meta.url).resolve('c8/bin/c8.js');
      const args = [c8, 'report', '--temp-directory', dir, '--reports-dir', htmlDir, '--exclude-node-modules=false', '--clean=false'];
      for (const r of ['text', 'html', 'json-summary']) args.push('--reporter', r);
      for (const g of COVERAGE_INCLUDE) args.push('--include', g);
      for (const r of roots) args.push('--include', `${r}/**`);
      if (roots.length) args.push('--allowExternal');
      for (const g of ['suite/**', 'dist/suite/**', 'test/**', '**/node_modules/**']) args.push('--exclude', g);
      // execa is imported here, at the one run that asks for --coverage: loading it costs every other run about 0.1 s of CPU.
      const { execa } = await import('execa');
      const c = await execa(process.execPath, args, { cwd: PROJECT_ROOT, reject: false, timeout: 120_000, env: { ...process.env, NODE_V8_COVERAGE: undefined }, extendEnv: false });
      if (c.exitCode !== 0) throw new Error(`c8 report failed (exit ${c.exitCode}): ${c.stderr || c.stdout}`);
      const perImplementation = await summarizeByDirectory(join(htmlDir, 'coverage-summary.json'), roots);
      const text = `Coverage of the JavaScript implementations (c8; lines this run exercised):\n${perImplementation}\n${c.stdout.trimEnd()}\n`;
      const summaryFile = join(htmlDir, 'summary.txt');
      await writeFile(summaryFile, text);
      return { text, htmlDir, summaryFile };
    },
    async cleanup() {
      process.off('exit', removeNow);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

interface Totals {
  lines: { total: number; covered: number };
  branches: { total: number; covered: number };
  functions: { total: number; covered: number };
}

/** One line per implementation directory (fixtures/<name>), from c8's coverage-summary.json. */
async function summarizeByDirectory(file: string, roots: string[]): Promise<string> {
  let summary: Record<string, Totals>;
  try {
    summary = JSON.parse(await readFile(file, 'utf8')) as Record<string, Totals>;
  } catch {
    return '  (no per-file summary)';
  }
  const groups = new Map<string, Totals>();
  for (const [path, t] of Object.entries(summary)) {
    if (path === 'total') continue;
    const rel = relative(PROJECT_ROOT, path).split('/');
    const root = roots.find((r) => path.startsWith(`${r}/`));
    const key = root ?? rel.slice(0, rel[0] === 'fixtures' ? 2 : rel.length - 1).join('/');
    const g = groups.get(key) ?? { lines: { total: 0, covered: 0 }, branches: { total: 0, covered: 0 }, functions: { total: 0, covered: 0 } };
    for (const k of ['lines', 'branches', 'functions'] as const) {
      g[k].total += t[k].total;
      g[k].covered += t[k].covered;
    }
    groups.set(key, g);
  }
  const pct = (x: { total: number; covered: number }): string => (x.total ? `${((100 * x.covered) / x.total).toFixed(1)}%` : 'n/a');
  const width = Math.max(0, ...[...groups.keys()].map((k) => k.length));
  return [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, g]) => `  ${k.padEnd(width)}  lines ${pct(g.lines)} (${g.lines.covered}/${g.lines.total})  branches ${pct(g.branches)}  functions ${pct(g.functions)}`)
    .join('\n');
}
